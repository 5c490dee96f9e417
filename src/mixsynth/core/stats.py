"""Additive sufficient statistics, and the family-generic entry points around them.

:func:`suffstats` runs the E-step on one chunk and returns :class:`Stats`; statistics of disjoint
chunks **add up exactly** (``stats(A ∪ B) == stats(A) + stats(B)``), which is what makes chunked,
out-of-core and distributed EM give the in-memory answer. Each family computes them its own way
(:meth:`Family.statistics <mixsynth.core.families.Family.statistics>`); the Gaussian families'
fast pass is :mod:`~mixsynth.core.gaussian_pass`.

Second moments are kept about reference points ``centers`` shared by every chunk of an iteration
(the previous means): ``sxx_k = Σ r (x - c_k)(x - c_k)^T``. Shifting by a point near the answer
avoids the cancellation of the raw-moment formula ``E[xx^T] - mu mu^T``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core.families import Family, family
from mixsynth.core.params import Params

__all__ = [
    "PRUNE_LOG_RATIO",
    "Stats",
    "accumulate",
    "e_step",
    "estimate_log_prob",
    "estimate_weighted_log_prob",
    "m_step",
    "normalize_rows",
    "suffstats",
]

Array = NDArray[np.float64]

#: A responsibility below ``exp(-PRUNE_LOG_RATIO)`` (~1.6e-28) times its row's largest is set to
#: zero. A float64 sum of up to 10^12 such terms moves any statistic by less than 1e-16 of the
#: row's own terms, i.e. below rounding: the statistics are those of the exact E-step.
PRUNE_LOG_RATIO = 64.0


@dataclass(frozen=True, eq=False)
class Stats:
    """Additive sufficient statistics of a weighted chunk of rows.

    Attributes
    ----------
    n : float
        Sum of the sample weights (the row count when unweighted).
    loglik : float
        Sum over rows of ``weight * log p(x)`` under the parameters of the E-step.
    nk : ndarray of shape (K,)
        ``Σ w r_k``.
    sx : ndarray of shape (K, d)
        ``Σ w r_k x``.
    sxx : ndarray
        The family's second-order statistics. Gaussian: ``Σ w r_k (x - c_k)(x - c_k)^T``,
        (K, d, d) for full; its sum over components (d, d) for tied; its diagonal (K, d) for
        diag and spherical.
    centers : ndarray of shape (K, d)
        The reference points ``c_k``; statistics only add when they share them.
    covariance_type : str
        The name of the family (:attr:`family`) that computed them.
    extra : mapping of str to ndarray
        Further additive sums a family keeps (categorical counts, missing-value moments...),
        by name; they add like the others. Empty for the four covariance types.
    """

    n: float
    loglik: float
    nk: Array
    sx: Array
    sxx: Array
    centers: Array
    covariance_type: str
    extra: Mapping[str, Array] = field(default_factory=dict)

    @property
    def family(self) -> Family:
        """The component family whose M-step takes these statistics."""
        return family(self.covariance_type)

    def __add__(self, other: Stats) -> Stats:
        if not isinstance(other, Stats):
            return NotImplemented
        if self.covariance_type != other.covariance_type or not (
            self.centers is other.centers or np.array_equal(self.centers, other.centers)
        ):
            raise ValueError("Statistics only add when computed about the same centers.")
        if self.extra.keys() != other.extra.keys():
            raise ValueError("Statistics only add when they hold the same extra sums.")
        return Stats(
            n=self.n + other.n,
            loglik=self.loglik + other.loglik,
            nk=self.nk + other.nk,
            sx=self.sx + other.sx,
            sxx=self.sxx + other.sxx,
            centers=self.centers,
            covariance_type=self.covariance_type,
            extra={k: self.extra[k] + other.extra[k] for k in self.extra},
        )

    def __radd__(self, other: object) -> Stats:
        if other == 0:  # lets sum() start from its default 0
            return self
        return NotImplemented

    @property
    def mean_loglik(self) -> float:
        """Mean per-sample (weighted) log-likelihood."""
        return self.loglik / self.n


def suffstats(
    X: Array,
    params: Params,
    sample_weight: Array | None = None,
    packed: Array | None = None,
) -> Stats:
    """E-step on one chunk, returned as additive sufficient statistics about ``params.means``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : Params
        Parameters of the E-step; their means are the reference points of the second moments.
    sample_weight : ndarray of shape (n,), optional
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)``, reused across EM iterations when memory allows (full
        covariance; other families ignore it).
    """
    return params.family.statistics(X, params, sample_weight, packed)


def accumulate(
    X: Array,
    R: Array,
    centers: Array,
    covariance_type: str,
    *,
    packed: Array | None = None,
    exact: NDArray[np.bool_] | None = None,
    loglik: float = 0.0,
    n: float | None = None,
) -> Stats:
    """M-step statistics of a chunk from its weighted responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    R : ndarray of shape (n, K)
        Responsibilities already multiplied by the sample weights.
    centers : ndarray of shape (K, d)
        Reference points of the second moments.
    covariance_type : str
        The family's name.
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)`` (full covariance).
    exact : ndarray of bool of shape (K,), optional
        Components whose second moments must use the exact centred form; ``None`` = all of them
        (used at initialisation, when there is no precision to bound the error with).
    loglik, n : float
        Passed through into the statistics; ``n`` defaults to ``R.sum()``.
    """
    return family(covariance_type).accumulate(
        X, R, centers, packed=packed, exact=exact, loglik=loglik, n=n
    )


def m_step(stats: Stats, reg_covar: float) -> Params:
    """New parameters from the summed statistics of all chunks: the only place parameters are
    estimated (by the statistics' family).

    Raises
    ------
    ValueError
        When a covariance is not positive definite even with ``reg_covar``.
    """
    return stats.family.m_step(stats, reg_covar)


def estimate_log_prob(X: Array, params: Params, packed: Array | None = None) -> Array:
    """Log-density of every row under every component, ``log p(x | k)``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : Params
    packed : ndarray of shape (n, d(d+1)/2), optional
        ``pack_outer(X)`` when the caller has it cached (full covariance only).

    Returns
    -------
    ndarray of shape (n, K)
    """
    return params.family.log_prob(X, params, packed)


def estimate_weighted_log_prob(X: Array, params: Params, packed: Array | None = None) -> Array:
    """``log pi_k + log p(x | k)``, shape (n, K)."""
    return params.family.weighted_log_prob(X, params, packed)


def e_step(X: Array, params: Params, packed: Array | None = None) -> tuple[Array, Array]:
    """Per-row log-likelihood and log-responsibilities.

    Returns
    -------
    log_prob_norm : ndarray of shape (n,)
    log_resp : ndarray of shape (n, K)
    """
    wlp = estimate_weighted_log_prob(X, params, packed)
    log_prob_norm = logsumexp(wlp, axis=1)
    with np.errstate(under="ignore"):
        log_resp = wlp - log_prob_norm[:, None]
    return log_prob_norm, log_resp


def normalize_rows(wlp: Array) -> Array:
    """Turn weighted log-densities into responsibilities **in place**; return ``log p(x)``.

    One fused log-sum-exp: ``r = exp(l - max) / sum``, without the separate ``log_resp``
    array and second exponential of the textbook form. Responsibilities smaller than
    ``exp(-PRUNE_LOG_RATIO)`` times their row's largest are set to exactly zero (see
    :data:`PRUNE_LOG_RATIO`), which lets the M-step skip them.
    """
    top = wlp.max(axis=1)
    top[~np.isfinite(top)] = 0.0  # a row with no finite term keeps -inf below
    wlp -= top[:, None]
    keep = wlp >= -PRUNE_LOG_RATIO
    # exp only where it is kept (typically a few percent of the pairs: ~9x faster than
    # exponentiating every entry, most of which would underflow anyway), zero elsewhere
    np.exp(wlp, out=wlp, where=keep)
    np.copyto(wlp, 0.0, where=~keep)
    total = wlp.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        wlp /= total[:, None]
        return np.log(total) + top
