"""Two-sample tests: can a classifier tell real rows from synthetic ones, and the kernel MMD."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

from mixsynth.evaluation.distances import _kept_columns, _standardised

Array = NDArray[np.float64]

#: Folds of the classifier two-sample test.
_CV_FOLDS = 5
#: Rows of each kind from which the classifier test stops early (10% of 0.8 × 2 × 100 is 16).
_EARLY_STOPPING_MIN_ROWS = 100
#: Rows per data set that enter the kernel MMD (its cost is quadratic).
_MMD_MAX_ROWS = 2000


def _classifier_test(
    T: Array, S: Array, seed: int, skipped: dict[str, str]
) -> dict[str, float | None]:
    """ROC AUC of telling real (0) from synthetic (1) rows, cross-validated."""
    m = min(len(T), len(S))
    if m < _CV_FOLDS:
        reason = f"needs at least {_CV_FOLDS} rows in real_train and in synthetic"
        skipped["classifier_auc"] = skipped["classifier_auc_std"] = reason
        return {"classifier_auc": None, "classifier_auc_std": None}
    # both are already shuffled subsets: their first m rows are a random m of each
    X = np.concatenate([T[:m], S[:m]])
    y = np.repeat([0, 1], m)
    cv = StratifiedKFold(n_splits=_CV_FOLDS, shuffle=True, random_state=seed)
    # early stopping ends the fit within a few trees when the rows are indistinguishable; it
    # holds out 10% of a fold's training rows, which needs a few of each class
    classifier = HistGradientBoostingClassifier(
        early_stopping=m >= _EARLY_STOPPING_MIN_ROWS, random_state=seed
    )
    # one OpenMP thread: each boosting step is tiny at these sizes, and OpenMP's spin-waiting
    # on a busy machine made a fit 15x slower (14 s against 0.9 s on 2400 × 64 digits)
    with threadpool_limits(limits=1, user_api="openmp"):
        auc = cross_val_score(classifier, X, y, cv=cv, scoring="roc_auc")
    return {"classifier_auc": float(np.mean(auc)), "classifier_auc_std": float(np.std(auc))}


def _mmd(T: Array, S: Array, scale: Array) -> float:
    """Unbiased MMD² with an RBF kernel, bandwidth by the median heuristic."""
    X, Y = _standardised(*_kept_columns(T, S, scale))
    dxx = euclidean_distances(X, squared=True)
    dyy = euclidean_distances(Y, squared=True)
    dxy = euclidean_distances(X, Y, squared=True)
    n, m = len(X), len(Y)
    pooled = np.concatenate([dxx[np.triu_indices(n, 1)], dyy[np.triu_indices(m, 1)], dxy.ravel()])
    sigma2 = float(np.median(pooled))
    if sigma2 <= 0:  # more than half the pairs coincide: fall back on the positive ones
        positive = pooled[pooled > 0]
        sigma2 = float(np.median(positive)) if len(positive) else 1.0
    gamma = 1.0 / (2.0 * sigma2)  # k(x, y) = exp(-|x - y|² / (2 σ²)), σ = median distance
    kxx = np.exp(-gamma * dxx)
    kyy = np.exp(-gamma * dyy)
    kxy = np.exp(-gamma * dxy)
    # the unbiased estimator leaves out the diagonals k(x_i, x_i) = 1
    xx = (kxx.sum() - n) / (n * (n - 1))
    yy = (kyy.sum() - m) / (m * (m - 1))
    return float(xx + yy - 2.0 * kxy.mean())
