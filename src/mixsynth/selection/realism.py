"""Selection for realism: a candidate is as good as its samples are hard to tell from real rows.

Held-out likelihood is the wrong compass for realism (issue 12: over ~285 models on digits its
rank correlation with a classifier's AUC was about 0, and positive inside the best family), but
it guards against memorisation. :class:`Realism` therefore scores a candidate by a **classifier
two-sample test** and keeps likelihood as a floor and a tie-breaker:

1. on each of ``k`` folds the candidate is fitted on the training rows (the fits
   :class:`~mixsynth.selection.HeldOut` makes, from the same seeds), scores the held-out rows
   (mean and median log-likelihood in the original space) and draws as many rows as the fold
   holds out, mapped back to the data's columns exactly as the synthesizer samples them
   (whitener, support transform, bounds, rounding);
2. the pooled generated rows are told from the pooled held-out rows (rows no fit saw) by a
   small :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (:data:`AUC_ROWS` rows per
   side at most, :data:`AUC_ITER` boosting iterations, one thread, :data:`AUC_FOLDS`-fold
   cross-validated ROC AUC): 0.5 is indistinguishable, lower is better;
3. **the memorisation guard**: on each fold, generated rows that are near copies of the fold's
   training rows (:func:`~mixsynth.evaluation.near_copy_threshold`, quantile
   :data:`~mixsynth.guard.NEAR_COPY_QUANTILE`) must be no more frequent than the held-out real
   rows that are, up to noise (two standard errors); a candidate that fails scores
   ``1 + excess`` and ranks after every candidate that passes.

The candidate's ``score`` is that AUC (lower is better, as for AIC / BIC).
:func:`choose_realistic` then applies the likelihood floor (out: mean held-out log-likelihood
more than :data:`LOGLIK_FLOOR` nats per column below the best) and breaks ties (AUCs within
one standard error of the lowest) by held-out log-likelihood.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from mixsynth.evaluation import column_scale, near_copy_threshold, nearest_distances
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.guard import NEAR_COPY_QUANTILE
from mixsynth.model import WhitenedMixture
from mixsynth.seeding import SeedLike, SeedPlan, as_generator, as_int, child
from mixsynth.selection.evaluators import Fold, FoldFits, Outcome, _config, _fit
from mixsynth.selection.result import Candidate, SelectionResult
from mixsynth.support import SupportTransform
from mixsynth.whitening import Whitener

__all__ = [
    "AUC_FOLDS",
    "AUC_ITER",
    "AUC_ROWS",
    "LOGLIK_FLOOR",
    "Realism",
    "RealismFold",
    "SampleSupport",
    "choose_realistic",
    "make_realism_folds",
    "two_sample_auc",
]

Array = NDArray[np.float64]

#: Rows per side of the classifier test at most (subsampled without replacement).
AUC_ROWS = 2000
#: Boosting iterations of the classifier test (a few: it ranks candidates, it is not the judge).
AUC_ITER = 30
#: Cross-validation folds of the classifier test.
AUC_FOLDS = 3
#: A candidate whose mean held-out log-likelihood is more than this many nats *per column*
#: below the best candidate's is out (on digits' 64 columns: 32 nats per row).
LOGLIK_FLOOR = 0.5
#: Guard tolerance: generated near copies may exceed the held-out rate by this many standard
#: errors (noise) before the candidate fails.
GUARD_SE = 2.0


@dataclass(frozen=True)
class SampleSupport:
    """How generated rows are mapped back to the data's columns (as the synthesizer does)."""

    transform: SupportTransform | None
    lower: Array
    upper: Array
    integer: NDArray[np.bool_]
    support: str | None
    decimals: NDArray[np.int64] | None = None


@dataclass(frozen=True)
class RealismFold:
    """A held-out fold with what sampling and the guard need besides its whitened data.

    Attributes
    ----------
    fold : Fold
        Whitened training and held-out rows (the held-out log-likelihood).
    whitener : Whitener
        Fitted on the fold's training rows (in the support transform's space).
    X_train, X_val : ndarray of shape (n_train, d), (n_val, d)
        The fold's rows in the original space.
    """

    fold: Fold
    whitener: Whitener
    X_train: Array
    X_val: Array


def make_realism_folds(
    X: Array,
    Xt: Array,
    whitener: Whitener,
    n_folds: int,
    seed: SeedLike | SeedPlan,
    *,
    log_jacobian: Array | None = None,
) -> list[RealismFold]:
    """The folds of :func:`~mixsynth.selection.make_folds` (same split, same whiteners), with
    each fold's whitener and original rows kept.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data in the original space.
    Xt : ndarray of shape (n_samples, n_features)
        The data after the support transform (``X`` itself without one).
    whitener : Whitener
        Its settings are used.
    n_folds : int
    seed : seed or SeedPlan
    log_jacobian : ndarray of shape (n_samples,), optional
    """
    from mixsynth.selection.evaluators import make_folds

    folds, splits = make_folds(Xt, whitener, n_folds, seed, log_jacobian=log_jacobian)
    out = []
    for fold, (train, val) in zip(folds, splits, strict=True):
        w = Whitener(whitener.n_components, whiten=whitener.whiten, scale=whitener.scale,
                     missing=whitener.missing)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # constant columns: said once, at fit
            w.fit(Xt[train])
        out.append(RealismFold(fold, w, X[train], X[val]))
    return out


def two_sample_auc(
    real: Array, synthetic: Array, seed: SeedLike, *, max_rows: int = AUC_ROWS,
    max_iter: int = AUC_ITER, n_folds: int = AUC_FOLDS,
) -> tuple[float, float]:
    """Cross-validated ROC AUC of telling ``synthetic`` (1) from ``real`` (0) rows.

    Each side is subsampled to at most ``max_rows`` rows (the same number of each); one
    OpenMP thread. Returns the AUC of the pooled out-of-fold predictions and its standard
    error (Hanley & McNeil, 1982).
    """
    rng = as_generator(seed)
    m = min(len(real), len(synthetic), max_rows)
    if m < n_folds:
        raise ValueError(f"The classifier test needs at least {n_folds} rows of each kind.")
    R = real[rng.choice(len(real), m, replace=False)]
    S = synthetic[rng.choice(len(synthetic), m, replace=False)]
    X = np.concatenate([R, S])
    y = np.repeat([0, 1], m)
    rs = int(rng.integers(2**31 - 1))
    clf = HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=False, random_state=rs)
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=rs)
    with threadpool_limits(limits=1, user_api="openmp"):
        p = cross_val_predict(clf, X, y, cv=cv, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, p))
    # Hanley & McNeil's standard error with n1 = n2 = m
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (m - 1) * (q1 - auc**2) + (m - 1) * (q2 - auc**2)) / (m * m)
    return auc, float(math.sqrt(max(var, 0.0)))


@dataclass(frozen=True)
class Realism:
    """The realism criterion over ``folds``; ``Z`` (every row, whitened) is for the refit.

    Parameters
    ----------
    folds : sequence of RealismFold
    support : SampleSupport
        How generated rows are mapped back (the synthesizer's own support).
    Z : ndarray of shape (n_samples, k), optional
        Needed only by :meth:`refit`.
    max_rows : int, default=AUC_ROWS
        Rows per side of the classifier test at most.
    """

    folds: Sequence[RealismFold]
    support: SampleSupport
    Z: Array | None = None
    max_rows: int = AUC_ROWS

    criterion = "realism"

    def __post_init__(self) -> None:
        if not self.folds:
            raise ValueError("criterion='realism' needs folds.")

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    def evaluate(
        self,
        estimator: GaussianMixture,
        seed: np.random.SeedSequence,
        reference: tuple[float, ...] = (),
    ) -> Outcome:
        """Fit fold ``j`` from the ``j``-th child of ``seed`` (as :class:`HeldOut` does), draw
        rows, and score them by the classifier test under the memorisation guard."""
        t0 = time.perf_counter()
        fits = FoldFits()
        synthetic, real = [], []
        nc_syn, nc_real, n_syn, n_real = 0.0, 0.0, 0, 0
        s = self.support
        for j, rf in enumerate(self.folds):
            fold = rf.fold
            gm = fits.fit(estimator, fold, as_int(child(seed, j)))
            model = WhitenedMixture(rf.whitener, gm, s.transform, s.lower, s.upper, s.integer,
                                    s.support, decimals=s.decimals)
            rng = as_generator(child(seed, self.n_folds + j))
            S = model.sample(rf.X_val.shape[0], rng, {})[0]
            synthetic.append(S)
            real.append(rf.X_val)
            scale = column_scale(rf.X_train)
            if np.any(scale > 0) and rf.X_train.shape[0] >= 2:
                thr = near_copy_threshold(rf.X_train, scale=scale, quantile=NEAR_COPY_QUANTILE,
                                          random_state=as_int(child(seed, 2 * self.n_folds + j)))
                nc_syn += float(np.sum(nearest_distances(rf.X_train, S, scale=scale) <= thr))
                nc_real += float(np.sum(nearest_distances(rf.X_train, rf.X_val, scale=scale)
                                        <= thr))
                n_syn += S.shape[0]
                n_real += rf.X_val.shape[0]
        auc, auc_se = two_sample_auc(np.concatenate(real), np.concatenate(synthetic),
                                     child(seed, 3 * self.n_folds), max_rows=self.max_rows)
        rate = nc_syn / n_syn if n_syn else 0.0
        base = nc_real / n_real if n_real else 0.0
        se = math.sqrt(rate * (1 - rate) / max(n_syn, 1) + base * (1 - base) / max(n_real, 1))
        excess = rate - base - GUARD_SE * se
        score = auc if excess <= 0 else 1.0 + excess
        cand = Candidate(
            *_config(estimator),
            score=float(score),
            score_std=None,
            fold_scores=(),
            fit_time=time.perf_counter() - t0,
            **fits.summary(),
            auc=auc,
            auc_se=auc_se,
            near_copy_rate=rate,
            holdout_near_copy_rate=base,
        )
        return Outcome(cand, None)

    def for_tasks(self) -> Realism:
        """The folds only: the rows for the refit stay in this process."""
        return dataclasses.replace(self, Z=None)

    def refit(
        self, estimator: GaussianMixture, seed: np.random.SeedSequence, seeds: SeedPlan
    ) -> GaussianMixture:
        """The winner on every row, seeded by the plan's ``"refit"`` stream."""
        if self.Z is None:
            raise ValueError("Realism.refit needs Z, every row whitened.")
        return _fit(estimator, self.Z, seeds.int_seed("refit"))


def choose_realistic(result: SelectionResult, n_features: int) -> SelectionResult:
    """The realism choice: the likelihood floor, the guard, the lowest AUC, ties by likelihood.

    Among complete candidates whose mean held-out log-likelihood is within
    ``LOGLIK_FLOOR * n_features`` nats of the best one's and that pass the guard (score below
    1), the candidates whose AUC is within one standard error of the lowest tie, and the one
    with the highest held-out log-likelihood among them wins. When no candidate passes the
    guard, the one with the lowest score (smallest excess of near copies) wins.

    Parameters
    ----------
    result : SelectionResult
        Of a realism sweep (its candidates carry ``auc`` and ``heldout_loglik``).
    n_features : int
        Columns of the data (the floor is per column).

    Returns
    -------
    SelectionResult
        ``result`` with ``best_index`` set and a note saying how the choice was made.
    """
    cands = result.candidates
    complete = [i for i, c in enumerate(cands) if not c.abandoned and c.auc is not None]
    if not complete:
        return result
    best_ll = max(_ll(cands[i]) for i in complete)
    floor = best_ll - LOGLIK_FLOOR * n_features
    above = [i for i in complete if _ll(cands[i]) >= floor]
    passing = [i for i in above if cands[i].score < 1.0]
    notes = list(result.notes)
    if not passing:
        best = min(above, key=lambda i: cands[i].score)
        notes.append("realism: no candidate passed the memorisation guard; the one with the "
                     "fewest excess near copies was chosen")
    else:
        low = min(passing, key=lambda i: cands[i].score)
        tol = cands[low].auc_se or 0.0
        tied = [i for i in passing if cands[i].score <= cands[low].score + tol]
        best = max(tied, key=lambda i: _ll(cands[i]))
        notes.append(
            f"realism: lowest classifier AUC among {len(passing)} of {len(complete)} candidates "
            f"within {LOGLIK_FLOOR * n_features:.3g} nats of the best held-out log-likelihood "
            f"and passing the memorisation guard; {len(tied)} within one standard error "
            f"({tol:.3f}) of the lowest, the most likely of them chosen"
        )
    return dataclasses.replace(result, best_index=best, notes=tuple(notes))


def _ll(c: Candidate) -> float:
    return c.heldout_loglik if c.heldout_loglik is not None else -math.inf
