"""EM as a sum of per-chunk sufficient statistics.

:func:`suffstats` runs the E-step on one chunk and returns :class:`Stats`; statistics of disjoint
chunks **add up exactly** (``stats(A ∪ B) == stats(A) + stats(B)``), which is what makes chunked,
out-of-core and distributed EM give the in-memory answer.

Second moments are kept about reference points ``centers`` shared by every chunk of an iteration
(the previous means): ``sxx_k = Σ r (x - c_k)(x - c_k)^T``. Shifting by a point near the answer
avoids the cancellation of the raw-moment formula ``E[xx^T] - mu mu^T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core.kernels import (
    estimate_weighted_log_prob,
    pack_outer,
    packed_is_accurate,
    precision_norms,
    unpack_symmetric,
)
from mixsynth.core.params import Params

__all__ = ["Stats", "accumulate", "e_step", "suffstats"]

Array = NDArray[np.float64]

#: Bound on the temporaries of the exact (centred) scatter: (row, component) pairs are processed
#: in blocks of at most this many bytes of outer products.
_CENTRED_BLOCK_BYTES = 32 * 2**20
#: Above this fraction of nonzero responsibilities the scatter uses BLAS on all rows instead.
_DENSE_FRACTION = 0.25
#: Cache-sized blocks of components for the dense scatter.
_DENSE_BLOCK_BYTES = 8 * 2**20


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
        ``Σ w r_k (x - c_k)(x - c_k)^T``: (K, d, d) for full; its sum over components (d, d)
        for tied; its diagonal (K, d) for diag and spherical.
    centers : ndarray of shape (K, d)
        The reference points ``c_k``; statistics only add when they share them.
    covariance_type : str
    """

    n: float
    loglik: float
    nk: Array
    sx: Array
    sxx: Array
    centers: Array
    covariance_type: str

    def __add__(self, other: Stats) -> Stats:
        if not isinstance(other, Stats):
            return NotImplemented
        if self.covariance_type != other.covariance_type or not (
            self.centers is other.centers or np.array_equal(self.centers, other.centers)
        ):
            raise ValueError("Statistics only add when computed about the same centers.")
        return Stats(
            n=self.n + other.n,
            loglik=self.loglik + other.loglik,
            nk=self.nk + other.nk,
            sx=self.sx + other.sx,
            sxx=self.sxx + other.sxx,
            centers=self.centers,
            covariance_type=self.covariance_type,
        )

    def __radd__(self, other: object) -> Stats:
        if other == 0:  # lets sum() start from its default 0
            return self
        return NotImplemented

    @property
    def mean_loglik(self) -> float:
        """Mean per-sample (weighted) log-likelihood."""
        return self.loglik / self.n


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


def _centred_scatter(X: Array, R: Array, centers: Array, diag: bool) -> Array:
    """Exact ``Σ_n R_nk (x_n - c_k)(x_n - c_k)^T`` (or its diagonal).

    Only rows with a nonzero responsibility count, so one-hot initial responsibilities cost
    ``n d^2`` in all rather than ``K n d^2``: (row, component) pairs are gathered
    component-major, ``sqrt(r)(x - c)`` packed into outer products and summed by segments, in
    blocks that bound the temporaries.
    """
    K = centers.shape[0]
    n, d = X.shape
    active = R > 0.0
    n_active = int(np.count_nonzero(active))
    if n_active == 0:
        return np.zeros((K, d) if diag else (K, d, d))
    if n_active > _DENSE_FRACTION * n * K:
        return _centred_scatter_dense(X, R, centers, diag)
    comps, rows = np.nonzero(active.T)  # component-major: each component's rows together
    width = d if diag else d * (d + 1) // 2
    step = max(1, int(_CENTRED_BLOCK_BYTES // (8 * width)))
    packed_sums = np.zeros((K, width))
    for start in range(0, comps.size, step):
        c, r = comps[start : start + step], rows[start : start + step]
        W = (X[r] - centers[c]) * np.sqrt(R[r, c])[:, None]
        terms = W * W if diag else pack_outer(W)
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # segment starts
        packed_sums[c[first]] += np.add.reduceat(terms, first, axis=0)
    return packed_sums if diag else unpack_symmetric(packed_sums, d)


def _centred_scatter_dense(X: Array, R: Array, centers: Array, diag: bool) -> Array:
    """The same sum with BLAS, for dense responsibilities: ``W^T W`` with ``W = sqrt(r)(x - c)``
    per component, in cache-sized blocks of components."""
    K = centers.shape[0]
    n, d = X.shape
    out = np.empty((K, d) if diag else (K, d, d))
    step = max(1, int(_DENSE_BLOCK_BYTES // max(1, 8 * n * d)))
    root = np.sqrt(R)
    for start in range(0, K, step):
        sl = slice(start, min(K, start + step))
        W = (X[None, :, :] - centers[sl, None, :]) * root[:, sl].T[:, :, None]
        out[sl] = np.einsum("knd,knd->kd", W, W) if diag else np.matmul(np.swapaxes(W, 1, 2), W)
    return out


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
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)`` (full covariance).
    exact : ndarray of bool of shape (K,), optional
        Components whose second moments must use the exact centred form; ``None`` = all of them
        (used at initialisation, when there is no precision to bound the error with).
    loglik, n : float
        Passed through into the statistics; ``n`` defaults to ``R.sum()``.
    """
    K, d = centers.shape
    nk = R.sum(axis=0)
    sx = R.T @ X
    if exact is None:
        exact = np.ones(K, dtype=bool)
    fast = ~exact
    if covariance_type == "full":
        sxx = np.empty((K, d, d))
        if fast.any():
            if packed is None:
                packed = pack_outer(X)
            raw = unpack_symmetric(R[:, fast].T @ packed, d)  # Σ r x x^T, one GEMM
            c, s = centers[fast], sx[fast]
            cs = c[:, :, None] * s[:, None, :]
            sxx[fast] = raw - cs - np.swapaxes(cs, 1, 2) + nk[fast, None, None] * (
                c[:, :, None] * c[:, None, :]
            )
        if exact.any():
            sxx[exact] = _centred_scatter(X, R[:, exact], centers[exact], diag=False)
    elif covariance_type == "tied":
        # Σ_k r_nk = w_n, so Σ_k Σ_n r x x^T = X^T diag(w) X: one product for all components.
        w = R.sum(axis=1)
        cs = centers.T @ sx  # Σ_k c_k sx_k^T
        sxx = (X * w[:, None]).T @ X - cs - cs.T + (centers * nk[:, None]).T @ centers
    else:  # diag, spherical: diagonal second moments
        sxx = np.empty((K, d))
        if fast.any():
            c = centers[fast]
            sxx[fast] = R[:, fast].T @ (X * X) - 2.0 * c * sx[fast] + nk[fast, None] * c * c
        if exact.any():
            sxx[exact] = _centred_scatter(X, R[:, exact], centers[exact], diag=True)
    return Stats(
        n=float(R.sum()) if n is None else n,
        loglik=loglik,
        nk=nk,
        sx=sx,
        sxx=sxx,
        centers=centers,
        covariance_type=covariance_type,
    )


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
        Cached ``pack_outer(X)``, reused across EM iterations when memory allows.
    """
    if packed is None and params.covariance_type == "full":
        packed = pack_outer(X)  # once per chunk, for the E-step and the M-step
    log_prob_norm, log_resp = e_step(X, params, packed)
    R = np.exp(log_resp)
    if sample_weight is not None:
        R *= sample_weight[:, None]
        loglik = float(log_prob_norm @ sample_weight)
        n = float(sample_weight.sum())
    else:
        loglik = float(log_prob_norm.sum())
        n = float(X.shape[0])
    # tied needs no guard: its second moment is one product about the (centred) origin
    exact = np.zeros(params.n_components, dtype=bool)
    if params.covariance_type == "full" and np.count_nonzero(R) < _DENSE_FRACTION * R.size:
        # responsibilities are mostly exact zeros (separated components): the exact centred
        # scatter over the nonzero (row, component) pairs is both cheaper than the dense
        # R^T packed product and free of cancellation
        exact = np.ones(params.n_components, dtype=bool)
    elif params.covariance_type != "tied":
        sq_max = float(np.einsum("ij,ij->i", X, X).max(initial=0.0))
        exact = ~packed_is_accurate(sq_max, params.means, precision_norms(params))
    return accumulate(
        X, R, params.means, params.covariance_type,
        packed=packed, exact=exact, loglik=loglik, n=n,
    )
