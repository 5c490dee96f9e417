"""Fidelity and privacy metrics of a synthetic mixed-type table, computed by our own code.

Every metric compares a synthetic table with the real one it imitates (pandas DataFrames with the
same columns; numeric columns are *continuous*, everything else *categorical*; ``NaN`` is a gap):

- **shape** per column: 1 − Kolmogorov–Smirnov statistic (continuous) or 1 − total variation
  distance of the category frequencies (categorical), over the values that are present;
- **pair trends** per pair of columns: correlation similarity 1 − |r_real − r_synth| / 2
  (two continuous columns, Pearson over rows where both are present), contingency similarity
  1 − total variation distance of the joint frequencies (two categorical columns; a continuous
  column paired with a categorical one is cut into deciles of the real values first);
- **two-sample AUC**: a HistGradientBoostingClassifier (native categorical and missing-value
  support) told to separate real rows from as many synthetic rows, out-of-fold over 5 folds;
  0.5 means indistinguishable;
- **missing rate** per column, real and synthetic, and the mean absolute gap;
- **near copies**: the Gower distance of each synthetic row to its closest training row; a row
  is a near copy when that distance is at most the 5th percentile of training rows' distances
  to their nearest *other* training row. The same rate for held-out real rows is the reference.

Gower distance: the mean over columns of |x − y| / range (continuous; range of the training
column, capped at 1) or [x ≠ y] (categorical); a gap against a value counts 1, two gaps 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = [
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

Array = NDArray[np.float64]
CONTINUOUS, CATEGORICAL = "continuous", "categorical"


def column_kinds(df: pd.DataFrame) -> dict[str, str]:
    """``continuous`` for numeric (not boolean) columns, ``categorical`` for the rest."""
    return {
        c: CONTINUOUS
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        else CATEGORICAL
        for c in df.columns
    }


def align(synthetic: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """``synthetic`` with ``real``'s columns, in order, and dtypes: continuous columns as float,
    categorical columns with ``real``'s categories (values it lacks become gaps). A column the
    synthetic table lacks is all gaps."""
    out = {}
    for col, kind in column_kinds(real).items():
        s = synthetic[col] if col in synthetic.columns else pd.Series([np.nan] * len(synthetic))
        s = s.reset_index(drop=True)
        if kind == CONTINUOUS:
            out[col] = pd.to_numeric(s, errors="coerce").astype(np.float64)
        else:
            cats = real[col].astype("category").cat.categories
            values = s.astype(object)
            values = values.where(values.isin(cats), None)  # unknown values become gaps
            out[col] = pd.Categorical(values, categories=cats,
                                      ordered=isinstance(real[col].dtype, pd.CategoricalDtype)
                                      and real[col].dtype.ordered)  # fmt: skip
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------- shape


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − the two-sample KS statistic over present values (nan if either has none)."""
    a = np.sort(pd.to_numeric(real, errors="coerce").dropna().to_numpy(np.float64))
    b = np.sort(pd.to_numeric(synthetic, errors="coerce").dropna().to_numpy(np.float64))
    if len(a) == 0 or len(b) == 0:
        return math.nan
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(1.0 - np.max(np.abs(cdf_a - cdf_b)))


def _frequencies(s: pd.Series) -> pd.Series:
    return s.dropna().astype(object).value_counts(normalize=True)


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − total variation distance of the category frequencies over present values."""
    p, q = _frequencies(real), _frequencies(synthetic)
    if p.empty or q.empty:
        return math.nan
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def shape_scores(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    """Per column: :func:`ks_complement` or :func:`tv_complement` by the column's kind."""
    kinds = column_kinds(real)
    return {
        c: ks_complement(real[c], synthetic[c]) if k == CONTINUOUS
        else tv_complement(real[c], synthetic[c])
        for c, k in kinds.items()
    }  # fmt: skip


# -------------------------------------------------------------------------- pair trends


def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 − |r_real − r_synth| / 2 for two continuous columns (nan if either r is undefined)."""

    def pearson(df: pd.DataFrame) -> float:
        xy = df.dropna().to_numpy(np.float64)
        if len(xy) < 2 or np.ptp(xy[:, 0]) == 0 or np.ptp(xy[:, 1]) == 0:
            return math.nan
        return float(np.corrcoef(xy[:, 0], xy[:, 1])[0, 1])

    r, s = pearson(real), pearson(synthetic)
    return 1.0 - abs(r - s) / 2.0 if math.isfinite(r) and math.isfinite(s) else math.nan


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 − total variation distance of the joint frequencies of two discrete columns."""

    def joint(df: pd.DataFrame) -> pd.Series:
        pairs = df.dropna().astype(object)
        return pairs.value_counts(normalize=True) if len(pairs) else pd.Series(dtype=float)

    p, q = joint(real), joint(synthetic)
    if p.empty or q.empty:
        return math.nan
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def _deciles(real: pd.Series, synthetic: pd.Series, bins: int) -> tuple[pd.Series, pd.Series]:
    """Both columns cut at the real column's quantiles (synthetic values outside go to the end
    bins)."""
    values = real.dropna().to_numpy(np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])) if len(values) else []

    def cut(s: pd.Series) -> pd.Series:
        x = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
        out = pd.Series(np.searchsorted(edges, x, side="right"), dtype=object)
        out[np.isnan(x)] = None
        return out

    return cut(real), cut(synthetic)


def pair_trend_scores(
    real: pd.DataFrame, synthetic: pd.DataFrame, *, bins: int = 10
) -> dict[tuple[str, str], float]:
    """Per pair of columns: correlation similarity (two continuous) or contingency similarity."""
    kinds = column_kinds(real)
    scores = {}
    for a, b in combinations(real.columns, 2):
        if kinds[a] == kinds[b] == CONTINUOUS:
            scores[(a, b)] = correlation_similarity(real[[a, b]], synthetic[[a, b]])
            continue
        cols_r, cols_s = [], []
        for c in (a, b):
            if kinds[c] == CONTINUOUS:
                r, s = _deciles(real[c], synthetic[c], bins)
            else:
                r, s = real[c].astype(object), synthetic[c].astype(object)
            cols_r.append(r.reset_index(drop=True))
            cols_s.append(s.reset_index(drop=True))
        scores[(a, b)] = contingency_similarity(pd.concat(cols_r, axis=1, keys=[a, b]),
                                                pd.concat(cols_s, axis=1, keys=[a, b]))
    return scores


# ----------------------------------------------------------------------- two-sample AUC


def classifier_auc(
    real: pd.DataFrame, synthetic: pd.DataFrame, *, folds: int = 5, random_state: int = 0,
    threads: int = 1,
) -> float:
    """Out-of-fold ROC AUC of a classifier separating ``real`` rows from as many ``synthetic``
    rows (the larger table is subsampled); 0.5 means indistinguishable. ``threads``: OpenMP
    threads of the classifier (small tables on a busy machine are slower with more).

    Well below 0.5 is a finding too: synthetic rows that copy real ones are classified by their
    twin in the training folds, with the twin's (opposite) label.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(random_state)
    n = min(len(real), len(synthetic))
    if n < folds:
        return math.nan
    pick = lambda df: df.iloc[np.sort(rng.choice(len(df), n, replace=False))]  # noqa: E731
    X = pd.concat([pick(align(real, real)), pick(align(synthetic, real))], ignore_index=True)
    y = np.r_[np.zeros(n), np.ones(n)]
    proba = np.empty(2 * n)
    cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    # a plain loop, not cross_val_predict: no joblib, one model at a time
    with threadpool_limits(threads):
        for fit_rows, test_rows in cv.split(X, y):
            clf = HistGradientBoostingClassifier(categorical_features="from_dtype",
                                                 max_iter=100, random_state=random_state)
            clf.fit(X.iloc[fit_rows], y[fit_rows])
            proba[test_rows] = clf.predict_proba(X.iloc[test_rows])[:, 1]
    return float(roc_auc_score(y, proba))


# ---------------------------------------------------------------------- missing values


def missing_rates(df: pd.DataFrame) -> dict[str, float]:
    """Share of gaps per column."""
    return {c: float(df[c].isna().mean()) for c in df.columns}


# ------------------------------------------------------------------------- near copies


def _gower_encode(df: pd.DataFrame, reference: pd.DataFrame) -> tuple[Array, NDArray[np.bool_]]:
    """Columns as floats (continuous divided by the reference's range, categorical as codes
    of the reference's categories; gaps NaN) and which columns are categorical."""
    kinds = column_kinds(reference)
    cols, is_cat = [], []
    for c, k in kinds.items():
        if k == CONTINUOUS:
            ref = reference[c].to_numpy(np.float64)
            span = np.nanmax(ref) - np.nanmin(ref) if np.isfinite(ref).any() else 0.0
            x = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
            cols.append(x / span if span > 0 else np.where(np.isnan(x), np.nan, 0.0))
        else:
            cats = pd.Index(reference[c].dropna().astype(object).unique())
            codes = cats.get_indexer(df[c].astype(object)).astype(np.float64)
            codes[df[c].isna().to_numpy()] = np.nan
            codes[codes < 0] = -1.0  # a value the reference never has: differs from all
            cols.append(codes)
        is_cat.append(k == CATEGORICAL)
    return np.column_stack(cols) if cols else np.empty((len(df), 0)), np.array(is_cat)


def gower_dcr(
    query: pd.DataFrame, reference: pd.DataFrame, *, exclude_self: bool = False,
    chunk: int = 256,
) -> Array:  # fmt: skip
    """Gower distance of each ``query`` row to its closest ``reference`` row.

    ``exclude_self``: ``query`` rows are ``reference`` rows with the same index positions
    (``query.index`` are positions in ``reference``), and each row's own entry is skipped.
    """
    Q, is_cat = _gower_encode(query, reference)
    R, _ = _gower_encode(reference, reference)
    p = max(R.shape[1], 1)
    out = np.empty(len(Q))
    R_nan = np.isnan(R)
    for start in range(0, len(Q), chunk):
        q = Q[start:start + chunk]
        total = np.zeros((len(q), len(R)))
        for j in range(R.shape[1]):
            a, b = q[:, j][:, None], R[:, j][None, :]
            a_nan, b_nan = np.isnan(a), R_nan[:, j][None, :]
            with np.errstate(invalid="ignore"):
                d = (a != b).astype(np.float64) if is_cat[j] else np.minimum(np.abs(a - b), 1.0)
            d = np.where(a_nan | b_nan, np.where(a_nan & b_nan, 0.0, 1.0), d)
            total += d
        if exclude_self:
            rows = np.arange(len(q))
            total[rows, np.asarray(query.index[start:start + chunk])] = np.inf
        out[start:start + chunk] = total.min(axis=1) / p
    return out


def near_copy_rates(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, *,
    max_rows: int = 2000, quantile: float = 0.05, random_state: int = 0,
) -> tuple[float, float, float]:  # fmt: skip
    """``(synthetic rate, holdout rate, threshold)`` of rows within the threshold of a training
    row; at most ``max_rows`` rows of each table are judged (a random subset)."""
    rng = np.random.default_rng(random_state)

    def some(df: pd.DataFrame) -> pd.DataFrame:
        if len(df) <= max_rows:
            return df
        return df.iloc[np.sort(rng.choice(len(df), max_rows, replace=False))]

    train = train.reset_index(drop=True)
    own = gower_dcr(some(train), train, exclude_self=True)
    threshold = float(np.quantile(own, quantile)) if len(own) else math.nan
    synth_dcr = gower_dcr(some(align(synthetic, train)), train)
    hold_dcr = gower_dcr(some(holdout.reset_index(drop=True)), train)
    return float(np.mean(synth_dcr <= threshold)), float(np.mean(hold_dcr <= threshold)), threshold


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
