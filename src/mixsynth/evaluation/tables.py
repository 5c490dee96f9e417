"""Fidelity and privacy metrics of a synthetic mixed-type table (pandas DataFrames).

Every metric compares a synthetic table with the real one it imitates, column by column by
name. A column is *continuous* when it holds numbers (not booleans), dates or durations (as
numbers in nanoseconds), *categorical* otherwise (text, categories, booleans); ``NaN``,
``None``, ``pd.NA`` and ``NaT`` are gaps.

- **shape** per column: 1 − the two-sample Kolmogorov–Smirnov statistic (continuous) or
  1 − the total variation distance of the category frequencies (categorical), over the values
  that are present;
- **pair trends** per pair of columns: correlation similarity 1 − |r_real − r_synth| / 2
  (two continuous columns, Pearson over rows where both are present), contingency similarity
  1 − total variation distance of the joint frequencies (otherwise; a continuous column paired
  with a categorical one is cut at the deciles of its real values first);
- **two-sample AUC**: a HistGradientBoostingClassifier (native categorical and missing-value
  support) told to separate real rows from as many synthetic rows, out of fold over 5 folds;
  0.5 means indistinguishable;
- **missing rate** per column;
- **near copies**: the Gower distance of each synthetic row to its closest training row; a row
  is a near copy when that distance is at most the 5th percentile of the training rows'
  distances to their nearest *other* training row. The same rate for held-out real rows is the
  reference a fresh real sample gets.

Gower distance: the mean over columns of |x − y| / range (continuous; the range of the
training column, each term capped at 1) or [x ≠ y] (categorical); a gap against a value
counts 1, two gaps 0.

:mod:`mixsynth.evaluation.table_quality` gathers these into a report; the benchmarks
(``benchmarks/table_metrics.py``) score other generators with the same functions.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pandas loads with the first table scored
    import pandas as pd

__all__ = [
    "CATEGORICAL",
    "CONTINUOUS",
    "align",
    "classifier_auc",
    "column_kinds",
    "contingency_similarity",
    "correlation_similarity",
    "gower_dcr",
    "gower_threshold",
    "ks_complement",
    "missing_rates",
    "near_copy_rates",
    "pair_trend_scores",
    "shape_scores",
    "tv_complement",
]

Array = NDArray[np.float64]
CONTINUOUS, CATEGORICAL = "continuous", "categorical"

#: Most categories HistGradientBoosting takes as a native categorical feature (its max_bins);
#: a column with more enters the classifier as codes.
_MAX_NATIVE_CATEGORIES = 255


def _is_continuous(s: pd.Series) -> bool:
    import pandas as pd

    t = s.dtype
    return bool(
        (pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t))
        or pd.api.types.is_datetime64_any_dtype(t) or pd.api.types.is_timedelta64_dtype(t)
    )


def column_kinds(df: pd.DataFrame) -> dict[str, str]:
    """:data:`CONTINUOUS` for number (not boolean), date and duration columns,
    :data:`CATEGORICAL` for the rest."""
    return {c: CONTINUOUS if _is_continuous(df[c]) else CATEGORICAL for c in df.columns}


def _numbers(s: pd.Series) -> Array:
    """A continuous column as float64 (dates and durations in nanoseconds), gaps NaN."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(
            s.dtype):
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert(None)  # the same instants in UTC
        unit = "datetime64[ns]" if s.dtype.kind == "M" else "timedelta64[ns]"
        raw = s.to_numpy(dtype=unit)
        out = raw.view(np.int64).astype(np.float64)
        out[np.isnat(raw)] = np.nan
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def align(synthetic: pd.DataFrame, real: pd.DataFrame, *,
          keep_unknown: bool = False) -> pd.DataFrame:
    """``synthetic`` with ``real``'s columns, in order, as plain kinds.

    Continuous columns become float64 (:func:`column_kinds`), categorical ones pandas
    categoricals with ``real``'s categories. A value ``real`` lacks becomes a gap, or, with
    ``keep_unknown``, one more category after ``real``'s (so that it counts as a difference).
    A column the synthetic table lacks is all gaps.
    """
    import pandas as pd

    out = {}
    for col, kind in column_kinds(real).items():
        if col in synthetic.columns:
            s = synthetic[col].reset_index(drop=True)
        else:
            s = pd.Series([np.nan] * len(synthetic))
        if kind == CONTINUOUS:
            out[col] = pd.Series(_numbers(s))
            continue
        cats = real[col].astype("category").cat.categories
        values = s.astype(object).where(s.notna(), None)
        unknown = ~values.isin(cats) & values.notna()
        if keep_unknown and unknown.any():
            extra = sorted(set(values[unknown]), key=str)
            cats = cats.append(pd.Index(extra, dtype=object))
        else:
            values = values.where(~unknown, None)
        ordered = isinstance(real[col].dtype, pd.CategoricalDtype) and real[col].dtype.ordered
        out[col] = pd.Series(pd.Categorical(values, categories=cats, ordered=bool(ordered)))
    return pd.DataFrame(out, index=pd.RangeIndex(len(synthetic)), columns=list(real.columns))


# ------------------------------------------------------------------------------- shape


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − the two-sample KS statistic over present values (NaN if either has none)."""
    a = np.sort(_finite(_numbers(real)))
    b = np.sort(_finite(_numbers(synthetic)))
    if len(a) == 0 or len(b) == 0:
        return math.nan
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(1.0 - np.max(np.abs(cdf_a - cdf_b)))


def _finite(x: Array) -> Array:
    return x[~np.isnan(x)]


def _frequencies(s: pd.Series) -> pd.Series:
    return s.dropna().astype(object).value_counts(normalize=True)


def _tv_complement(p: pd.Series, q: pd.Series) -> float:
    if p.empty or q.empty:
        return math.nan
    p, q = p.align(q, fill_value=0.0)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − the total variation distance of the category frequencies over present values
    (NaN if either has none)."""
    return _tv_complement(_frequencies(real), _frequencies(synthetic))


def shape_scores(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    """Per column of ``real``: :func:`ks_complement` or :func:`tv_complement` by its kind."""
    return {
        c: ks_complement(real[c], synthetic[c]) if k == CONTINUOUS
        else tv_complement(real[c], synthetic[c])
        for c, k in column_kinds(real).items()
    }  # fmt: skip


# -------------------------------------------------------------------------- pair trends


def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 − |r_real − r_synth| / 2 for two continuous columns (NaN if either r is undefined:
    fewer than 2 complete rows, or a constant column)."""

    def pearson(df: pd.DataFrame) -> float:
        xy = np.column_stack([_numbers(df.iloc[:, 0]), _numbers(df.iloc[:, 1])])
        xy = xy[~np.isnan(xy).any(axis=1)]
        if len(xy) < 2 or np.ptp(xy[:, 0]) == 0 or np.ptp(xy[:, 1]) == 0:
            return math.nan
        return float(np.corrcoef(xy[:, 0], xy[:, 1])[0, 1])

    r, s = pearson(real), pearson(synthetic)
    return 1.0 - abs(r - s) / 2.0 if math.isfinite(r) and math.isfinite(s) else math.nan


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 − the total variation distance of the joint frequencies of two discrete columns,
    over the rows where both are present (NaN if either table has none)."""
    import pandas as pd

    def joint(df: pd.DataFrame) -> pd.Series:
        pairs = df.dropna().astype(object)
        return pairs.value_counts(normalize=True) if len(pairs) else pd.Series(dtype=float)

    return _tv_complement(joint(real), joint(synthetic))


def _deciles(real: pd.Series, synthetic: pd.Series, bins: int) -> tuple[pd.Series, pd.Series]:
    """Both columns cut at the real column's quantiles (synthetic values outside its range go
    to the end bins)."""
    import pandas as pd

    values = _finite(_numbers(real))
    edges = (np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
             if len(values) else np.empty(0))

    def cut(s: pd.Series) -> pd.Series:
        x = _numbers(s)
        out = pd.Series(np.searchsorted(edges, x, side="right"), dtype=object)
        out[np.isnan(x)] = None
        return out

    return cut(real), cut(synthetic)


def pair_trend_scores(
    real: pd.DataFrame, synthetic: pd.DataFrame, *, bins: int = 10
) -> dict[tuple[str, str], float]:
    """Per pair of ``real``'s columns: :func:`correlation_similarity` (two continuous) or
    :func:`contingency_similarity` (a continuous column cut into ``bins`` quantile bins)."""
    import pandas as pd

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


def _classifier_frames(real: pd.DataFrame,
                       synthetic: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables aligned to ``real``'s columns with the same categories (a synthetic value
    ``real`` lacks is one more category: a telltale the classifier may use); a categorical
    column with too many categories for a native feature becomes codes."""
    import pandas as pd

    r = align(real, real)
    s = align(synthetic, real, keep_unknown=True)
    for c in r.columns:
        if not isinstance(r[c].dtype, pd.CategoricalDtype):
            continue
        cats = s[c].cat.categories  # real's, then the synthetic's extra ones
        r[c] = r[c].cat.set_categories(cats)
        if len(cats) > _MAX_NATIVE_CATEGORIES:
            for df in (r, s):
                codes = df[c].cat.codes.to_numpy().astype(np.float64)
                codes[codes < 0] = np.nan
                df[c] = codes
    return r, s


def classifier_auc(
    real: pd.DataFrame, synthetic: pd.DataFrame, *, folds: int = 5, random_state: int = 0,
    threads: int = 1,
) -> float:
    """Out-of-fold ROC AUC of a classifier separating ``real`` rows from as many
    ``synthetic`` rows (the larger table is subsampled); 0.5 means indistinguishable, NaN
    with fewer rows than ``folds``. ``threads``: OpenMP threads of the classifier (small
    tables on a busy machine are slower with more).

    Well below 0.5 is a finding too: synthetic rows that copy real ones are classified by
    their twin in the training folds, with the twin's (opposite) label.
    """
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(random_state)
    n = min(len(real), len(synthetic))
    if n < folds:
        return math.nan
    r, s = _classifier_frames(real, synthetic)
    pick = lambda df: df.iloc[np.sort(rng.choice(len(df), n, replace=False))]  # noqa: E731
    X = pd.concat([pick(r), pick(s)], ignore_index=True)
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
    """``df``'s columns as floats (continuous divided by the reference's range, categorical as
    codes of the reference's values; gaps NaN) and which columns are categorical."""
    import pandas as pd

    cols, is_cat = [], []
    for c, k in column_kinds(reference).items():
        if k == CONTINUOUS:
            ref = _finite(_numbers(reference[c]))
            span = float(np.max(ref) - np.min(ref)) if len(ref) else 0.0
            x = _numbers(df[c])
            cols.append(x / span if span > 0 else np.where(np.isnan(x), np.nan, 0.0))
        else:
            cats = pd.Index(reference[c].dropna().astype(object).unique())
            codes = cats.get_indexer(df[c].astype(object)).astype(np.float64)
            codes[codes < 0] = -1.0  # a value the reference never has: differs from all
            codes[df[c].isna().to_numpy()] = np.nan
            cols.append(codes)
        is_cat.append(k == CATEGORICAL)
    return (np.column_stack(cols) if cols else np.empty((len(df), 0)),
            np.array(is_cat, dtype=bool))


def gower_dcr(
    query: pd.DataFrame, reference: pd.DataFrame, *, exclude_self: bool = False,
    chunk: int = 256,
) -> Array:  # fmt: skip
    """Gower distance of each ``query`` row to its closest ``reference`` row.

    Parameters
    ----------
    query : DataFrame of shape (n_query, n_columns)
        With ``reference``'s columns.
    reference : DataFrame of shape (n_reference, n_columns)
        Its columns' kinds and ranges define the distance.
    exclude_self : bool, default=False
        ``query`` rows are ``reference`` rows, ``query.index`` their positions in
        ``reference``, and each row's own entry is skipped.
    chunk : int, default=256
        Query rows per block (memory: ``chunk × n_reference`` floats).

    Returns
    -------
    ndarray of shape (n_query,)
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


def _some(df: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``df`` (a random subset, in order)."""
    if len(df) <= max_rows:
        return df
    return df.iloc[np.sort(rng.choice(len(df), max_rows, replace=False))]


def gower_threshold(train: pd.DataFrame, *, quantile: float = 0.05, max_rows: int = 2000,
                    random_state: int | np.random.Generator = 0) -> float:
    """The ``quantile`` of the training rows' Gower distances to their nearest *other*
    training row (at most ``max_rows`` of them judged, against every row); NaN with fewer
    than 2 rows."""
    train = train.reset_index(drop=True)
    if len(train) < 2:
        return math.nan
    own = gower_dcr(_some(train, max_rows, np.random.default_rng(random_state)), train,
                    exclude_self=True)
    return float(np.quantile(own, quantile))


def near_copy_rates(
    train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, *,
    max_rows: int = 2000, quantile: float = 0.05, random_state: int = 0,
) -> tuple[float, float, float]:  # fmt: skip
    """``(synthetic rate, holdout rate, threshold)``: the shares of rows within
    :func:`gower_threshold` of a training row; at most ``max_rows`` rows of each table are
    judged (a random subset), against every training row."""
    rng = np.random.default_rng(random_state)
    train = train.reset_index(drop=True)
    threshold = gower_threshold(train, quantile=quantile, max_rows=max_rows, random_state=rng)
    synth_dcr = gower_dcr(_some(align(synthetic, train), max_rows, rng), train)
    hold_dcr = gower_dcr(_some(holdout.reset_index(drop=True), max_rows, rng), train)
    return float(np.mean(synth_dcr <= threshold)), float(np.mean(hold_dcr <= threshold)), threshold
