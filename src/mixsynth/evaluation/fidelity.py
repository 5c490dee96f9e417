"""Fidelity metrics: the model's log-likelihoods and the similarity of the correlations."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.evaluation.distances import _centred_columns

Array = NDArray[np.float64]


def _likelihoods(
    model: Any, T: Array, H: Array | None, skipped: dict[str, str]
) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(
        ("train_log_likelihood", "heldout_log_likelihood", "generalisation_gap",
         "heldout_log_likelihood_median")
    )
    if model is None:
        skipped["train_log_likelihood"] = "needs model"
        skipped["heldout_log_likelihood"] = "needs model and real_holdout"
        skipped["generalisation_gap"] = "needs model and real_holdout"
        skipped["heldout_log_likelihood_median"] = "needs model and real_holdout"
        return out
    train = _mean_log_likelihood(model, T)
    out["train_log_likelihood"] = train
    if H is None:
        skipped["heldout_log_likelihood"] = "needs real_holdout"
        skipped["generalisation_gap"] = "needs real_holdout"
        skipped["heldout_log_likelihood_median"] = "needs real_holdout"
        return out
    per_row = _log_likelihoods(model, H)
    heldout = float(np.mean(per_row))
    out["heldout_log_likelihood"] = heldout
    out["heldout_log_likelihood_median"] = float(np.median(per_row))
    out["generalisation_gap"] = train - heldout
    return out


def _mean_log_likelihood(model: Any, X: Array) -> float:
    return float(np.mean(_log_likelihoods(model, X)))


def _log_likelihoods(model: Any, X: Array) -> Array:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        # a model fitted on a DataFrame warns when scored on a bare array
        import pandas as pd

        return np.asarray(model.score_samples(pd.DataFrame(X, columns=names)), dtype=float)
    return np.asarray(model.score_samples(X), dtype=float)


def _pearson(X: Array) -> Array:
    """Pearson correlation matrix; pairs with a constant column get 0, without warnings."""
    Y, _, constant = _centred_columns(X)
    norms = np.sqrt(np.sum(Y**2, axis=0))
    norms[constant] = 1.0
    Y /= norms
    C = np.clip(Y.T @ Y, -1.0, 1.0)
    np.fill_diagonal(C, 1.0)
    return C


def _correlation_similarity(T: Array, S: Array) -> float:
    upper = np.triu_indices(T.shape[1], k=1)
    diff = np.abs(_pearson(T)[upper] - _pearson(S)[upper])
    return 1.0 - float(np.mean(diff)) / 2.0
