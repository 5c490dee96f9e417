"""Fitting and selecting the mixed model on a table's blocks.

The rows the :class:`~mixsynth.core.families.categorical.Categorical` family sees are
``[standardised numeric block | one-hot block]``; this module builds them, initialises EM
(k-means on the rows with gaps as zeros, i.e. at the column mean), runs the one EM loop
(:func:`~mixsynth.core.run_em`) with statistics summed over chunks, and selects
``(K, covariance type, reg_covar)`` by held-out log-likelihood or BIC / AIC, both counting the
categorical part (the family's log-density and :meth:`n_parameters`).

The values of K of each (covariance type, ``reg_covar``) group are visited by a plan (every
K, or the numeric selection's coarse-to-fine plan the synthesizer passes), held-out scores are
screened on the first folds and the short list confirmed on every fold (:func:`select_mixed`),
and a k-means start is computed once per (fold, K) and shared by the groups.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
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


def _rows(Z: Array, fam: Categorical, codes: NDArray[np.intp]) -> Array:
    """The family's rows: the numeric block beside the codes' one-hot block."""
    return np.hstack([Z, fam.one_hot(codes)])


def _statistics(fam: Categorical, X: Array, params: Params) -> Stats:
    total = fam.statistics(X[:CHUNK_ROWS], params)
    for i in range(CHUNK_ROWS, X.shape[0], CHUNK_ROWS):
        total = total + fam.statistics(X[i : i + CHUNK_ROWS], params)
    return total


def _kmeans_labels(X: Array, K: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """A k-means clustering of the rows, gaps at their column's mean (0 after
    standardisation)."""
    from sklearn.cluster import KMeans

    seed = int(rng.integers(2**31 - 1))
    return KMeans(K, n_init=1, random_state=seed).fit(np.nan_to_num(X)).labels_


def _start(fam: Categorical, X: Array, labels: NDArray[np.intp], reg: float) -> Params:
    """The M-step of hard assignments to ``labels``; EM then uses only the observed values."""
    K = int(labels.max()) + 1
    R = np.zeros((X.shape[0], K))
    R[np.arange(X.shape[0]), labels] = 1.0
    d = X.shape[1] - fam.n_levels
    return fam.m_step(fam.accumulate(np.nan_to_num(X), R, np.zeros((K, d))), reg)


def _fit_from(fam: Categorical, X: Array, starts: Sequence[NDArray[np.intp]], reg: float,
              tol: float, max_iter: int) -> MixedFit:
    """The best EM run from the k-means starts."""
    best: EMResult | None = None
    for labels in starts:
        result = run_em(lambda p: _statistics(fam, X, p), _start(fam, X, labels, reg),
                        reg_covar=reg, tol=tol, max_iter=max_iter)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    assert best is not None
    return MixedFit(best.params, fam, best)


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
    X = _rows(Z, fam, codes)
    starts = [_kmeans_labels(X, n_components, rng) for _ in range(n_init)]
    return _fit_from(fam, X, starts, reg_covar, tol, max_iter)


def mixed_log_density(fit: MixedFit, Z: Array, codes: NDArray[np.intp]) -> Array:
    """``log p(row)`` under the mixture, in model units (gaps marginalised)."""
    X = _rows(Z, fit.family, codes)
    return logsumexp(fit.family.weighted_log_prob(X, fit.params), axis=1)


@dataclass(frozen=True)
class Scored:
    """One candidate and its score (higher is better); ``folds``: how many held-out folds the
    score averages (0 for AIC / BIC)."""

    n_components: int
    covariance_type: str
    reg_covar: float
    score: float
    folds: int = 0


#: Yields batches of K, is sent ``{K: score}`` for each (``mixsynth.selection.plans.Plan``).
KPlan = Generator[list[int], Mapping[int, float], None]


def _every_k(ks: Sequence[int]) -> KPlan:
    yield list(ks)


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
    plan: Callable[[Sequence[int]], KPlan] = _every_k,
    screen_folds: int | None = None,
    shortlist: int = 1,
) -> tuple[MixedFit, list[Scored]]:
    """Select ``(K, covariance type, reg_covar)`` and fit the winner on every row.

    ``criterion``: ``"heldout"`` (mean log-likelihood of held-out rows over ``cv`` folds),
    ``"bic"`` or ``"aic"`` (scores are their negatives, so higher is better throughout).

    The values of K of each (covariance type, reg_covar) group are visited as ``plan``
    decides from the scores so far (every K by default; the synthesizer passes the numeric
    selection's coarse-to-fine plan). Held out, with ``screen_folds`` < ``cv``, the plans see
    scores on the first ``screen_folds`` folds only; then the ``shortlist`` best candidates
    are scored on every fold and the winner is the best of those (the numeric selection's
    policy, :data:`mixsynth.selection.select.SCREEN_FOLDS`). The k-means start of a (fold, K)
    is computed once and shared by the groups.
    """
    n = Z.shape[0]
    folds = np.array_split(rng.permutation(n), cv) if criterion == "heldout" else []
    screening = criterion == "heldout" and screen_folds is not None and screen_folds < cv
    first = folds[:screen_folds] if screening else folds
    run = _Runner(Z, codes, levels, criterion, tol, max_iter, n_init, rng)
    scored: dict[tuple[int, str, float], Scored] = {}
    for cov in covariance_types:
        for reg in reg_covars:
            steps = plan(sorted(ks))
            try:
                batch = next(steps)
                while True:
                    for K in batch:
                        if (K, cov, float(reg)) not in scored:
                            scored[K, cov, float(reg)] = run.score(K, cov, float(reg), first)
                    batch = steps.send({K: scored[K, cov, float(reg)].score for K in batch})
            except StopIteration:
                pass
    if screening:
        ranked = sorted(scored.values(), key=lambda c: -c.score)
        for c in ranked[:shortlist]:
            if np.isfinite(c.score):
                scored[c.n_components, c.covariance_type, c.reg_covar] = run.score(
                    c.n_components, c.covariance_type, c.reg_covar, folds)
        complete = [c for c in scored.values() if c.folds == len(folds)]
        win = max(complete or scored.values(), key=lambda c: c.score)
    else:
        win = max(scored.values(), key=lambda c: c.score)
    # the winner on every row from the every-row start of its K: by AIC / BIC, the very fit
    # that was scored (a fresh start could land elsewhere: a categorical-only table's K = 2
    # scored at log-likelihood -515 came back at -621); held out, a first fit on every row
    fit = run._fit(win.n_components, win.covariance_type, win.reg_covar, slice(None), -1)
    return fit, list(scored.values())


class _Runner:
    """Scores candidates on one table's blocks, remembering the k-means starts and the fold
    scores already computed."""

    def __init__(self, Z: Array, codes: NDArray[np.intp], levels: Sequence[int],
                 criterion: str, tol: float, max_iter: int, n_init: int,
                 rng: np.random.Generator) -> None:
        self.Z, self.codes, self.levels, self.criterion = Z, codes, levels, criterion
        self.tol, self.max_iter, self.n_init, self.rng = tol, max_iter, n_init, rng
        self.starts: dict[tuple[int, int], list[NDArray[np.intp]]] = {}
        self.fold_scores: dict[tuple[int, str, float, int], float] = {}
        self.train: dict[int, tuple[NDArray[np.intp], int]] = {}  # rows, distinct rows

    def score(self, K: int, cov: str, reg: float, folds: list[NDArray[np.intp]]) -> Scored:
        if self.criterion != "heldout":
            return Scored(K, cov, reg, self._criterion(K, cov, reg))
        total = 0.0
        for test in folds:
            key = (K, cov, reg, int(test[0]))
            if key not in self.fold_scores:
                self.fold_scores[key] = self._fold(K, cov, reg, test)
            total += self.fold_scores[key]
            if not np.isfinite(total):
                break
        rows = sum(len(t) for t in folds)
        return Scored(K, cov, reg, total / rows, len(folds))

    def _fit(self, K: int, cov: str, reg: float, rows: NDArray[np.intp] | slice,
             key: int) -> MixedFit:
        fam = categorical_family(cov, tuple(self.levels))
        X = _rows(self.Z[rows], fam, self.codes[rows])
        starts = self.starts.setdefault((key, K), [])
        while len(starts) < self.n_init:
            starts.append(_kmeans_labels(X, K, self.rng))
        return _fit_from(fam, X, starts, reg, self.tol, self.max_iter)

    def _fold(self, K: int, cov: str, reg: float, test: NDArray[np.intp]) -> float:
        Z, codes = self.Z, self.codes
        if int(test[0]) not in self.train:  # once per fold, whatever the candidate
            rows = np.setdiff1d(np.arange(Z.shape[0]), test)
            distinct = len(np.unique(np.hstack([np.nan_to_num(Z[rows]), codes[rows]]), axis=0))
            self.train[int(test[0])] = (rows, distinct)
        train, distinct = self.train[int(test[0])]
        if distinct < K:
            return -np.inf
        try:
            fit = self._fit(K, cov, reg, train, int(test[0]))
        except ValueError:  # a collapsed component: this candidate is not viable
            return -np.inf
        return float(mixed_log_density(fit, Z[test], codes[test]).sum())

    def _criterion(self, K: int, cov: str, reg: float) -> float:
        try:
            fit = self._fit(K, cov, reg, slice(None), -1)
        except ValueError:
            return -np.inf
        loglik = float(mixed_log_density(fit, self.Z, self.codes).sum())
        n = self.Z.shape[0]
        penalty = np.log(n) if self.criterion == "bic" else 2.0
        return -(-2.0 * loglik + penalty * fit.n_parameters)
