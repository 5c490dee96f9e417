"""Fidelity and privacy metrics of a synthetic mixed-type table: the benchmarks' summary.

The metrics themselves live in the library, :mod:`mixsynth.evaluation.tables` (shape, pair
trends, the two-sample AUC, missing rates, Gower near copies; its docstring defines each), and
are re-exported here under their names; this module adds :class:`TableScores` and
:func:`score_table`, the one row of the benchmark tables each generator gets (the training
table against a held-out one, as ``mixsynth.evaluate`` does with ``real_holdout``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixsynth.evaluation.tables import (
    CATEGORICAL,
    CONTINUOUS,
    align,
    classifier_auc,
    column_kinds,
    contingency_similarity,
    correlation_similarity,
    gower_dcr,
    ks_complement,
    missing_rates,
    near_copy_rates,
    pair_trend_scores,
    shape_scores,
    tv_complement,
)

__all__ = [
    "CATEGORICAL",
    "CONTINUOUS",
    "TableScores",
    "align",
    "classifier_auc",
    "column_kinds",
    "contingency_similarity",
    "correlation_similarity",
    "gower_dcr",
    "ks_complement",
    "missing_rates",
    "near_copy_rates",
    "pair_trend_scores",
    "score_table",
    "shape_scores",
    "tv_complement",
]


# ------------------------------------------------------------------------------ summary


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


@dataclass(frozen=True)
class TableScores:
    """Every metric of one synthetic table (means over columns and pairs, and the details)."""

    shape: float
    trends: float
    auc: float
    missing_gap: float
    near_copy_rate: float
    holdout_near_copy_rate: float
    near_copy_threshold: float
    column_shape: dict[str, float] = field(default_factory=dict)
    pair_trends: dict[str, float] = field(default_factory=dict)
    missing_real: dict[str, float] = field(default_factory=dict)
    missing_synthetic: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_table(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, *,
    auc_real: pd.DataFrame | None = None, max_rows: int = 2000, random_state: int = 0,
) -> TableScores:  # fmt: skip
    """Score ``synthetic`` against ``train`` (shape, trends, missing rates, near copies) and
    against ``auc_real`` (default: ``holdout``) for the two-sample AUC."""
    synth = align(synthetic, train)
    shapes = shape_scores(train, synth)
    trends = {f"{a} × {b}": v for (a, b), v in pair_trend_scores(train, synth).items()}
    miss_r, miss_s = missing_rates(train), missing_rates(synth)
    rate, hold_rate, threshold = near_copy_rates(train, holdout, synth, max_rows=max_rows,
                                                 random_state=random_state)  # fmt: skip
    real = align(holdout if auc_real is None else auc_real, train)
    return TableScores(
        shape=_mean(list(shapes.values())),
        trends=_mean(list(trends.values())),
        auc=classifier_auc(real, synth, random_state=random_state),
        missing_gap=_mean([abs(miss_r[c] - miss_s[c]) for c in miss_r]),
        near_copy_rate=rate,
        holdout_near_copy_rate=hold_rate,
        near_copy_threshold=threshold,
        column_shape=shapes,
        pair_trends=trends,
        missing_real=miss_r,
        missing_synthetic=miss_s,
    )
