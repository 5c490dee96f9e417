"""The quality report of a synthetic mixed-type table: :class:`TableQualityReport`.

:func:`mixsynth.evaluate` comes here when ``real_train`` is a table for the mixed model (a
DataFrame with text, category, boolean, nullable, Arrow or date columns, or gaps:
:func:`mixsynth.tables.is_table`) or ``model`` was fitted on one. The metrics are those of
:mod:`mixsynth.evaluation.tables`; this module checks the tables against each other, draws the
rows each metric sees and gathers the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth.evaluation.fidelity import _likelihoods
from mixsynth.evaluation.plain import JSONReport, format_value, int_seed
from mixsynth.evaluation.tables import (
    CONTINUOUS,
    _numbers,
    align,
    classifier_auc,
    column_kinds,
    gower_dcr,
    gower_threshold,
    pair_trend_scores,
    shape_scores,
)
from mixsynth.seeding import SeedLike, spawn_seeds
from mixsynth.validation import check_finite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TableQualityReport", "is_table_input"]

#: Folds of the classifier two-sample test (fewer rows of either table: the AUC is skipped).
_FOLDS = 5


@dataclass(frozen=True)
class TableQualityReport(JSONReport):
    """Quality of a synthetic mixed-type table against the real table it imitates.

    Columns are matched by name. A metric that could not be computed is ``None``, and
    ``skipped`` says why. "Rows" below means the rows that entered the metric: at most
    ``max_rows`` per table, drawn at random with ``random_state`` (see
    :func:`mixsynth.evaluate`); the missing rates use every row, and the near-copy distances
    every training row as neighbours. Definitions: :mod:`mixsynth.evaluation.tables`.

    Attributes
    ----------
    n_train, n_synthetic, n_holdout : int
        Rows in ``real_train``, ``synthetic`` and ``real_holdout`` (0 when not given).
    columns : tuple of str
        ``real_train``'s columns, in order.
    column_kinds : dict of str to str
        ``"continuous"`` (numbers, dates, durations) or ``"categorical"`` (text, categories,
        booleans), per column.
    column_shapes : float or None
        Mean of ``column_shape_scores``, in [0, 1]. Higher is better.
    column_shape_scores : dict of str to float or None
        Per column, 1 − the Kolmogorov–Smirnov statistic (continuous) or 1 − the total
        variation distance of the category frequencies (categorical) between the real training
        and the synthetic values that are present; a synthetic category the real column lacks
        counts against it. 1 means the same marginal distribution.
    pair_trends : float or None
        Mean of ``pair_trend_scores``, in [0, 1]. Higher is better.
    pair_trend_scores : dict of str to float or None
        Per pair of columns (``"a × b"``), 1 − |r_real − r_synthetic| / 2 for two continuous
        columns (Pearson), else 1 − the total variation distance of their joint frequencies (a
        continuous column cut at the deciles of its real values).
    classifier_auc : float or None
        Out-of-fold ROC AUC (5 folds) of a gradient-boosted classifier (native categories and
        gaps) telling real rows from as many synthetic rows. Closer to 0.5 is better; well
        below 0.5 happens when synthetic rows copy the real rows it is given.
    classifier_auc_against : str
        Which real rows the classifier saw: ``"real_holdout"`` when given (a fair test of
        rows the model never saw), else ``"real_train"``.
    missing_real, missing_synthetic : dict of str to float
        Per column, the share of gaps in ``real_train`` and in ``synthetic``.
    missing_gap_mean, missing_gap_max : float
        Mean and largest |missing_real − missing_synthetic| over the columns. Lower is better.
    near_copy_threshold : float or None
        The 5th percentile of the training rows' Gower distances to their nearest *other*
        training row: a row at most this close to a training row is a near copy.
    near_copy_rate : float or None
        Share of synthetic rows that are near copies. Lower is better, down to
        ``holdout_near_copy_rate``; above it means memorisation.
    holdout_near_copy_rate : float or None
        The same share for held-out real rows: what a fresh real sample gets (about 0.05).
    dcr_synthetic_median, dcr_holdout_median : float or None
        Median Gower distance from a synthetic (held-out) row to its closest training row.
    train_log_likelihood, heldout_log_likelihood, heldout_log_likelihood_median : float or None
        Mean (median) ``model.score_samples`` over training (held-out) rows, in nats per row:
        the density of the numbers in their units times the probabilities of the categories
        and of the row's gaps. Higher held-out is better.
    generalisation_gap : float or None
        ``train_log_likelihood - heldout_log_likelihood``. Near 0 is better.
    skipped : dict of str to str
        For each metric left ``None``, the reason.
    temperature : float or None
        The sampling temperature ``synthetic`` was drawn at, as given (``None``: not stated).
    """

    n_train: int
    n_synthetic: int
    n_holdout: int
    columns: tuple[str, ...]
    column_kinds: dict[str, str]
    column_shapes: float | None
    column_shape_scores: dict[str, float | None]
    pair_trends: float | None
    pair_trend_scores: dict[str, float | None]
    classifier_auc: float | None
    classifier_auc_against: str
    missing_real: dict[str, float]
    missing_synthetic: dict[str, float]
    missing_gap_mean: float
    missing_gap_max: float
    near_copy_threshold: float | None
    near_copy_rate: float | None
    holdout_near_copy_rate: float | None
    dcr_synthetic_median: float | None
    dcr_holdout_median: float | None
    train_log_likelihood: float | None
    heldout_log_likelihood: float | None
    heldout_log_likelihood_median: float | None
    generalisation_gap: float | None
    skipped: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None

    def summary(self) -> list[tuple[str, str, str]]:
        """Rows ``(metric, value, direction)`` for a table; skipped metrics read "skipped"."""
        rows = []
        for name, direction in _DIRECTIONS:
            value = getattr(self, name)
            text = "skipped" if value is None else format_value(value)
            if name == "classifier_auc" and value is not None:
                text += f" (vs {self.classifier_auc_against})"
            rows.append((name, text, direction))
        return rows

    def __str__(self) -> str:
        rows = self.summary()
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        return "\n".join(f"{m:<{w1}}  {v:>{w2}}  {d}" for m, v, d in rows)


#: The scalar metrics of a summary, in order, with the direction that is better.
_DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("heldout_log_likelihood", "higher is better"),
    ("train_log_likelihood", "compare with heldout_log_likelihood"),
    ("generalisation_gap", "lower is better (near 0)"),
    ("column_shapes", "higher is better"),
    ("pair_trends", "higher is better"),
    ("classifier_auc", "closer to 0.5 is better"),
    ("missing_gap_mean", "lower is better"),
    ("missing_gap_max", "lower is better"),
    ("near_copy_rate", "lower is better (down to holdout_near_copy_rate)"),
    ("holdout_near_copy_rate", "baseline (fresh real rows)"),
    ("dcr_synthetic_median", "closer to dcr_holdout_median is better"),
    ("dcr_holdout_median", "baseline (fresh real rows)"),
)


# ------------------------------------------------------------------------ which path


def is_table_input(real_train: Any, model: Any) -> bool:
    """Whether :func:`mixsynth.evaluate` takes the table path: ``real_train`` is a table for
    the mixed model (:func:`mixsynth.tables.is_table`), or ``model`` was fitted on one."""
    from mixsynth.tables import is_table

    if is_table(real_train):
        return True
    table = getattr(model, "_table", None)
    return callable(table) and getattr(model, "model_", None) is not None and table() is not None


# --------------------------------------------------------------------------- evaluate


def evaluate_table(
    real_train: Any,
    synthetic: Any,
    real_holdout: Any = None,
    model: Any = None,
    *,
    random_state: SeedLike = 0,
    max_rows: int = 5000,
    temperature: float | None = None,
) -> TableQualityReport:
    """The table path of :func:`mixsynth.evaluate` (which checks ``max_rows`` and
    ``temperature``); its parameters are those of :func:`mixsynth.evaluate`."""
    real = _frame(real_train, "real_train", min_rows=2)
    columns = [str(c) for c in real.columns]
    kinds = column_kinds(real)
    synth = _matched(_frame(synthetic, "synthetic", min_rows=1), real, kinds, "synthetic")
    hold = None
    if real_holdout is not None:
        hold = _matched(_frame(real_holdout, "real_holdout", min_rows=1), real, kinds,
                        "real_holdout")
    if model is not None:
        _check_model(model, real)

    seeds = spawn_seeds(random_state, 5)
    T_sub = _rows(real, max_rows, seeds[0])
    S_sub = _rows(synth, max_rows, seeds[1])
    H_sub = None if hold is None else _rows(hold, max_rows, seeds[2])

    skipped: dict[str, str] = {}
    likelihoods = _likelihoods(model, T_sub, H_sub, skipped)

    # every metric below compares plain kinds: numbers as float, categories with real's
    T_all = align(real, real)
    T_a = align(T_sub, real)
    S_a = align(S_sub, real, keep_unknown=True)
    H_a = None if H_sub is None else align(H_sub, real, keep_unknown=True)

    shapes = {str(c): _finite_or_none(v) for c, v in shape_scores(T_a, S_a).items()}
    if len(columns) < 2:
        trends: dict[str, float | None] = {}
        skipped["pair_trends"] = "needs at least 2 columns"
    else:
        trends = {f"{a} × {b}": _finite_or_none(v)
                  for (a, b), v in pair_trend_scores(T_a, S_a).items()}

    against = "real_train" if H_a is None else "real_holdout"
    auc = None
    if min(len(T_a if H_a is None else H_a), len(S_a)) < _FOLDS:
        skipped["classifier_auc"] = f"needs at least {_FOLDS} rows of {against} and synthetic"
    else:
        auc = _finite_or_none(classifier_auc(T_a if H_a is None else H_a, S_a,
                                             random_state=int_seed(seeds[3])))

    miss_r = {str(c): float(real[c].isna().mean()) for c in real.columns}
    miss_s = {str(c): float(synth[c].isna().mean()) for c in real.columns}
    gaps = [abs(miss_r[c] - miss_s[c]) for c in miss_r]

    copies = _near_copies(T_all, S_a, H_a, max_rows, seeds[4], skipped)

    return TableQualityReport(
        n_train=len(real), n_synthetic=len(synth), n_holdout=0 if hold is None else len(hold),
        columns=tuple(columns), column_kinds={str(c): k for c, k in kinds.items()},
        column_shapes=_mean(shapes.values()), column_shape_scores=shapes,
        pair_trends=_mean(trends.values()), pair_trend_scores=trends,
        classifier_auc=auc, classifier_auc_against=against,
        missing_real=miss_r, missing_synthetic=miss_s,
        missing_gap_mean=float(np.mean(gaps)), missing_gap_max=float(np.max(gaps)),
        skipped=skipped, temperature=temperature, **copies, **likelihoods,
    )


def _near_copies(T: pd.DataFrame, S: pd.DataFrame, H: pd.DataFrame | None, max_rows: int,
                 seed: np.random.SeedSequence, skipped: dict[str, str]) -> dict[str, Any]:
    """Near-copy rates and distances to the closest training row (every training row a
    neighbour; at most ``max_rows`` rows judged, the first of them for the threshold)."""
    rng = np.random.default_rng(seed)
    threshold = gower_threshold(T, max_rows=max_rows, random_state=rng)
    synth = gower_dcr(S, T)
    out: dict[str, Any] = {
        "near_copy_threshold": threshold,
        "near_copy_rate": float(np.mean(synth <= threshold)),
        "dcr_synthetic_median": float(np.median(synth)),
        "holdout_near_copy_rate": None,
        "dcr_holdout_median": None,
    }
    if H is None:
        skipped["holdout_near_copy_rate"] = "needs real_holdout"
        skipped["dcr_holdout_median"] = "needs real_holdout"
    else:
        held = gower_dcr(H, T)
        out["holdout_near_copy_rate"] = float(np.mean(held <= threshold))
        out["dcr_holdout_median"] = float(np.median(held))
    return out


# ------------------------------------------------------------------------ input checks


def _frame(X: Any, name: str, *, min_rows: int) -> pd.DataFrame:
    """``X`` as a DataFrame (its own column labels, rows renumbered) with unique column
    names and enough rows."""
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        raise ValueError(
            f"{name} must be a DataFrame with real_train's columns: the table is evaluated "
            f"column by column, by name (got {type(X).__name__})."
        )
    if X.shape[1] == 0:
        raise ValueError(f"{name}: Found array with 0 feature(s) (shape={X.shape}) while a "
                         "minimum of 1 is required.")
    if len(X) < min_rows:
        raise ValueError(f"{name}: Found array with {len(X)} sample(s) (shape={X.shape}) while "
                         f"a minimum of {min_rows} is required.")
    names = [str(c) for c in X.columns]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"{name} has the column {repeated[0]!r} more than once.")
    return X.reset_index(drop=True)


def _matched(X: pd.DataFrame, real: pd.DataFrame, kinds: dict[str, str],
             name: str) -> pd.DataFrame:
    """``X``'s columns are ``real``'s (any order; returned in ``real``'s), each of the same
    kind (a column without values takes any), numbers finite."""
    missing = [c for c in real.columns if c not in X.columns]
    extra = [c for c in X.columns if c not in real.columns]
    if missing or extra:
        what = (f"has no column {missing[0]!r}" if missing
                else f"has a column {extra[0]!r} that real_train lacks")
        raise ValueError(f"{name} {what}: its columns must be real_train's "
                         f"{_shown(list(real.columns))}.")
    X = X[list(real.columns)]
    theirs = column_kinds(X)
    for c, kind in kinds.items():
        if theirs[c] != kind and X[c].notna().any():
            raise ValueError(
                f"Column {c!r} is {_KIND_WORDS[kind]} in real_train but "
                f"{_KIND_WORDS[theirs[c]]} in {name} ({X[c].dtype}): the same column must "
                "hold the same kind of values."
            )
    for frame, label in ((real, "real_train"), (X, name)):
        numeric = [c for c in frame.columns if kinds[c] == CONTINUOUS]
        if numeric:
            values = np.column_stack([_numbers(frame[c]) for c in numeric])
            check_finite(values, name=label, feature_names=numeric, allow_nan=True)
    return X


_KIND_WORDS = {CONTINUOUS: "continuous (numbers or dates)",
               "categorical": "categorical (text, categories or booleans)"}


def _shown(names: Sequence[str], limit: int = 8) -> str:
    more = f", … ({len(names)} in all)" if len(names) > limit else ""
    return "[" + ", ".join(repr(n) for n in names[:limit]) + more + "]"


def _check_model(model: Any, real: pd.DataFrame) -> None:
    if not callable(getattr(model, "score_samples", None)):
        raise TypeError(f"model must have a score_samples method; got {type(model).__name__}.")
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return
    expected = list(names)
    missing = [c for c in expected if c not in real.columns]
    extra = [c for c in real.columns if c not in expected]
    if missing or extra:
        what = (f"has no column {missing[0]!r}" if missing
                else f"has a column {extra[0]!r} that the model was not fitted on")
        raise ValueError(f"real_train {what}: {type(model).__name__} was fitted on "
                         f"{_shown(expected)}.")


def _rows(df: pd.DataFrame, max_rows: int, seed: np.random.SeedSequence) -> pd.DataFrame:
    """At most ``max_rows`` rows, a random subset (in the table's order)."""
    if len(df) <= max_rows:
        return df
    keep = np.sort(np.random.default_rng(seed).choice(len(df), max_rows, replace=False))
    return df.iloc[keep].reset_index(drop=True)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _mean(values: Any) -> float | None:
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None
