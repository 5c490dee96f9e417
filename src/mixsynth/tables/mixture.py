"""Fitting and selecting the mixed model on a table's blocks.

The rows the :class:`~mixsynth.core.families.categorical.Categorical` family sees are
``[standardised numeric block | one-hot block]``; this module builds them, initialises EM
(k-means on the rows with gaps as zeros, i.e. at the column mean), runs the one EM loop
(:func:`~mixsynth.core.run_em`) with statistics summed over chunks, and selects
``(K, covariance type, reg_covar)`` by held-out log-likelihood or BIC / AIC, both counting the
categorical part (the family's log-density and :meth:`n_parameters`).

The search over K is coarse: for each covariance type and ``reg_covar`` the candidates are
tried in increasing K and the sweep stops after two in a row that do not improve the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core import EMResult, Params, Stats, run_em
from mixsynth.core.families.categorical import Categorical, categorical_family

__all__ = ["MixedFit", "fit_mixed", "mixed_log_density", "select_mixed"]

Array = NDArray[np.float64]

#: Rows per chunk of the E-step (bounded memory; statistics add over chunks).
CHUNK_ROWS = 65_536
#: Candidates after the best that may fail to improve before a sweep over K stops.
PATIENCE = 2


@dataclass(frozen=True, eq=False)
class MixedFit:
    """A fitted mixed mixture: its parameters, family and EM outcome."""

    params: Params
    family: Categorical
    result: EMResult

    @property
    def n_parameters(self) -> int:
        return self.family.n_parameters(self.params.n_components,
                                        self.params.n_features + self.family.n_levels)


def rows(Z: Array, fam: Categorical, codes: NDArray[np.intp]) -> Array:
    """The family's rows: the numeric block beside the codes' one-hot block."""
    return np.hstack([Z, fam.one_hot(codes)])


def _statistics(fam: Categorical, X: Array, params: Params) -> Stats:
    total = fam.statistics(X[:CHUNK_ROWS], params)
    for i in range(CHUNK_ROWS, X.shape[0], CHUNK_ROWS):
        total = total + fam.statistics(X[i : i + CHUNK_ROWS], params)
    return total


def _init(fam: Categorical, X: Array, K: int, rng: np.random.Generator, reg: float) -> Params:
    from sklearn.cluster import KMeans

    filled = np.nan_to_num(X)
    seed = int(rng.integers(2**31 - 1))
    labels = KMeans(K, n_init=1, random_state=seed).fit(filled).labels_
    R = np.zeros((X.shape[0], K))
    R[np.arange(X.shape[0]), labels] = 1.0
    d = X.shape[1] - fam.n_levels
    # gaps start at their column's mean (0 after standardisation); EM then uses only the
    # observed values
    return fam.m_step(fam.accumulate(filled, R, np.zeros((K, d))), reg)


def fit_mixed(
    Z: Array,
    codes: NDArray[np.intp],
    levels: Sequence[int],
    *,
    n_components: int,
    covariance_type: str,
    reg_covar: float,
    tol: float,
    max_iter: int,
    n_init: int,
    rng: np.random.Generator,
) -> MixedFit:
    """The best of ``n_init`` EM runs of the mixed model on one table's blocks."""
    fam = categorical_family(covariance_type, tuple(levels))
    X = rows(Z, fam, codes)
    best: EMResult | None = None
    for _ in range(n_init):
        start = _init(fam, X, n_components, rng, reg_covar)
        result = run_em(lambda p: _statistics(fam, X, p), start, reg_covar=reg_covar, tol=tol,
                        max_iter=max_iter)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    assert best is not None
    return MixedFit(best.params, fam, best)


def mixed_log_density(fit: MixedFit, Z: Array, codes: NDArray[np.intp]) -> Array:
    """``log p(row)`` under the mixture, in model units (gaps marginalised)."""
    X = rows(Z, fit.family, codes)
    return logsumexp(fit.family.weighted_log_prob(X, fit.params), axis=1)


@dataclass(frozen=True)
class Scored:
    """One candidate and its score (higher is better)."""

    n_components: int
    covariance_type: str
    reg_covar: float
    score: float


def select_mixed(
    Z: Array,
    codes: NDArray[np.intp],
    levels: Sequence[int],
    *,
    ks: Sequence[int],
    covariance_types: Sequence[str],
    reg_covars: Sequence[float],
    criterion: str,
    cv: int,
    tol: float,
    max_iter: int,
    n_init: int,
    rng: np.random.Generator,
) -> tuple[MixedFit, list[Scored]]:
    """Select ``(K, covariance type, reg_covar)`` and fit the winner on every row.

    ``criterion``: ``"heldout"`` (mean log-likelihood of held-out rows over ``cv`` folds),
    ``"bic"`` or ``"aic"`` (scores are their negatives, so higher is better throughout).
    """
    n = Z.shape[0]
    folds = np.array_split(rng.permutation(n), cv) if criterion == "heldout" else []
    scored: list[Scored] = []
    for cov in covariance_types:
        for reg in reg_covars:
            best, misses = -np.inf, 0
            for K in sorted(ks):
                score = _score(Z, codes, levels, K, cov, reg, criterion, folds, tol,
                               max_iter, n_init, rng)
                scored.append(Scored(K, cov, float(reg), score))
                if score > best:
                    best, misses = score, 0
                else:
                    misses += 1
                    if misses >= PATIENCE:
                        break
    win = max(scored, key=lambda s: s.score)
    fit = fit_mixed(Z, codes, levels, n_components=win.n_components,
                    covariance_type=win.covariance_type, reg_covar=win.reg_covar, tol=tol,
                    max_iter=max_iter, n_init=n_init, rng=rng)
    return fit, scored


def _score(Z: Array, codes: NDArray[np.intp], levels: Sequence[int], K: int, cov: str,
           reg: float, criterion: str, folds: list[NDArray[np.intp]], tol: float,
           max_iter: int, n_init: int, rng: np.random.Generator) -> float:
    kw = {"n_components": K, "covariance_type": cov, "reg_covar": reg, "tol": tol,
          "max_iter": max_iter, "n_init": n_init, "rng": rng}
    try:
        if criterion == "heldout":
            total = 0.0
            for test in folds:
                train = np.setdiff1d(np.arange(Z.shape[0]), test)
                if len(np.unique(np.hstack([np.nan_to_num(Z[train]), codes[train]]),
                                 axis=0)) < K:
                    return -np.inf
                fit = fit_mixed(Z[train], codes[train], levels, **kw)  # type: ignore[arg-type]
                total += float(mixed_log_density(fit, Z[test], codes[test]).sum())
            return total / Z.shape[0]
        fit = fit_mixed(Z, codes, levels, **kw)  # type: ignore[arg-type]
    except ValueError:  # a collapsed component: this candidate is not viable
        return -np.inf
    loglik = float(mixed_log_density(fit, Z, codes).sum())
    penalty = np.log(Z.shape[0]) if criterion == "bic" else 2.0
    return -(-2.0 * loglik + penalty * fit.n_parameters)
