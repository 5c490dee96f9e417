"""The quality report and :func:`evaluate`, which checks its inputs and gathers the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import ks_2samp

from mixsynth.core import check_temperature
from mixsynth.evaluation.distances import _distances, _exact_copy_rate, column_scale
from mixsynth.evaluation.fidelity import _correlation_similarity, _likelihoods
from mixsynth.evaluation.plain import JSONReport
from mixsynth.evaluation.plain import format_value as _format
from mixsynth.evaluation.plain import int_seed as _int_seed
from mixsynth.evaluation.table_quality import TableQualityReport, evaluate_table, is_table_input
from mixsynth.evaluation.two_sample import _MMD_MAX_ROWS, _classifier_test, _mmd
from mixsynth.seeding import SeedLike, spawn_seeds
from mixsynth.validation import check_input, is_count

__all__ = ["QualityReport", "evaluate"]

Array = NDArray[np.float64]


# ------------------------------------------------------------------------------ the report


@dataclass(frozen=True)
class QualityReport(JSONReport):
    """Quality of a synthetic data set against the real data it imitates.

    A metric that needs ``real_holdout`` or ``model`` and did not get it is ``None``, and
    ``skipped`` says why. "Rows" below means the rows that entered the metric: at most
    ``max_rows`` per data set, drawn at random with ``random_state`` (see :func:`evaluate`).

    Attributes
    ----------
    n_train, n_synthetic, n_holdout : int
        Rows in ``real_train``, ``synthetic`` and ``real_holdout`` (0 when not given).
    columns : tuple of str
        Column names: a DataFrame's own, else ``"x0", "x1", …``.
    train_log_likelihood : float or None
        Mean ``model.score_samples`` over the training rows (nats per row). Higher is better,
        but only in comparison with ``heldout_log_likelihood``.
    heldout_log_likelihood : float or None
        Mean ``model.score_samples`` over the held-out rows. Higher is better: the model's
        density generalises to real rows it has not seen.
    heldout_log_likelihood_median : float or None
        The median of the same per-row values: robust to a few extreme rows (one held-out row
        far outside the training data can move the mean by many nats).
    generalisation_gap : float or None
        ``train_log_likelihood - heldout_log_likelihood``. Lower is better; near 0 means no
        overfitting, a large positive gap means the model learnt its training rows.
    ks_statistics : dict of str to float
        Per column, the two-sample Kolmogorov–Smirnov statistic between the real training and
        the synthetic values (the largest gap between their empirical CDFs, in [0, 1]). Lower is
        better.
    column_shapes : float
        ``1 - mean(ks_statistics)``, SDMetrics' "column shapes" score, in [0, 1]. Higher is
        better; 1 means every column's marginal distribution is reproduced.
    correlation_similarity : float or None
        ``1 - mean |corr_real - corr_synthetic| / 2`` over all column pairs (Pearson; a pair
        with a constant column has correlation 0), in [0, 1]. Higher is better. ``None`` with
        a single column.
    classifier_auc, classifier_auc_std : float or None
        Classifier two-sample test: mean (and standard deviation over the folds) of the
        stratified 5-fold cross-validated ROC AUC of a gradient-boosted classifier telling
        real training rows (label 0) from synthetic rows (label 1), on equal numbers of each.
        Closer to 0.5 is better: 0.5 means indistinguishable, 1 means always told apart;
        well below 0.5 happens when synthetic rows copy training rows (the classifier meets
        the same row under both labels).
    mmd : float or None
        Unbiased squared maximum mean discrepancy with an RBF kernel whose bandwidth is the
        median pairwise distance of the pooled rows (at most 2000 of each), on columns
        standardised by the training std, constant columns dropped. Lower is better; it is 0
        in expectation for the same distribution and can be slightly negative.
    near_copy_threshold : float or None
        The 5th percentile of the training rows' distances to their nearest *other* training
        row, in the standardised space below: a synthetic row at most this close to a
        training row is a near copy.
    dcr_synthetic_median : float or None
        Median distance from a synthetic row to its closest training row (DCR), with columns
        standardised by the training std, constant columns dropped. Closer to
        ``dcr_holdout_median`` is better; much lower means the synthetic rows copy training
        rows.
    dcr_holdout_median : float or None
        The same for held-out rows: the distance a fresh real sample keeps from the training
        rows (the baseline).
    near_copy_rate : float or None
        Fraction of synthetic rows at most ``near_copy_threshold`` from a training row. Lower
        is better, down to ``holdout_near_copy_rate``; above it means memorisation.
    holdout_near_copy_rate : float or None
        The same fraction for held-out rows: what a fresh real sample gets (about 0.05).
    exact_copy_rate : float
        Fraction of synthetic rows equal, in every column, to some training row (all rows are
        compared). Lower is better, though data on a coarse grid repeats rows by chance.
    out_of_bounds_rate : float
        Fraction of synthetic values outside their training column's [min, max]. Lower is
        better.
    out_of_bounds_rows : float
        Fraction of synthetic rows with at least one value out of bounds. Lower is better.
    skipped : dict of str to str
        For each metric left ``None``, the reason.
    temperature : float or None
        The sampling temperature the synthetic rows were drawn at, as given to
        :func:`evaluate` (``None``: not stated); recorded so that every number says its ``t``.
    """

    n_train: int
    n_synthetic: int
    n_holdout: int
    columns: tuple[str, ...]
    train_log_likelihood: float | None
    heldout_log_likelihood: float | None
    generalisation_gap: float | None
    ks_statistics: dict[str, float]
    column_shapes: float
    correlation_similarity: float | None
    classifier_auc: float | None
    classifier_auc_std: float | None
    mmd: float | None
    near_copy_threshold: float | None
    dcr_synthetic_median: float | None
    dcr_holdout_median: float | None
    near_copy_rate: float | None
    holdout_near_copy_rate: float | None
    exact_copy_rate: float
    out_of_bounds_rate: float
    out_of_bounds_rows: float
    skipped: dict[str, str] = field(default_factory=dict)
    heldout_log_likelihood_median: float | None = None
    temperature: float | None = None

    def summary(self) -> list[tuple[str, str, str]]:
        """Rows ``(metric, value, direction)`` for a table; skipped metrics read "skipped"."""
        rows = []
        for name, direction in _DIRECTIONS:
            value = getattr(self, name)
            text = "skipped" if value is None else _format(value)
            rows.append((name, text, direction))
        return rows


#: The scalar metrics of a summary, in order, with the direction that is better.
_DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("heldout_log_likelihood", "higher is better"),
    ("heldout_log_likelihood_median", "higher is better (robust to a few extreme rows)"),
    ("train_log_likelihood", "compare with heldout_log_likelihood"),
    ("generalisation_gap", "lower is better (near 0)"),
    ("column_shapes", "higher is better"),
    ("correlation_similarity", "higher is better"),
    ("classifier_auc", "closer to 0.5 is better"),
    ("mmd", "lower is better"),
    ("dcr_synthetic_median", "closer to dcr_holdout_median is better"),
    ("dcr_holdout_median", "baseline (fresh real rows)"),
    ("near_copy_rate", "lower is better (down to holdout_near_copy_rate)"),
    ("holdout_near_copy_rate", "baseline (fresh real rows)"),
    ("exact_copy_rate", "lower is better"),
    ("out_of_bounds_rate", "lower is better"),
    ("out_of_bounds_rows", "lower is better"),
)


# --------------------------------------------------------------------------------- evaluate


def evaluate(
    real_train: ArrayLike,
    synthetic: ArrayLike,
    real_holdout: ArrayLike | None = None,
    model: Any = None,
    *,
    random_state: SeedLike = 0,
    max_rows: int = 5000,
    temperature: float | None = None,
) -> QualityReport | TableQualityReport:
    """Measure how well ``synthetic`` imitates ``real_train`` without copying it.

    Arrays and DataFrames of plain numbers get a :class:`QualityReport`. A mixed table (a
    DataFrame with text, category, boolean, nullable, Arrow or date columns, or gaps:
    :func:`mixsynth.tables.is_table`), or any data when ``model`` was fitted on one, gets a
    :class:`~mixsynth.evaluation.table_quality.TableQualityReport`: the tables are matched by
    column name, and the metrics are those for mixed types (column shapes, pair trends, a
    classifier two-sample AUC against ``real_holdout`` when given, missing rates, Gower near
    copies; :mod:`mixsynth.evaluation.tables`).

    Parameters
    ----------
    real_train : array-like or DataFrame of shape (n_train, n_features)
        The real rows the synthetic rows were learnt from (at least 2).
    synthetic : array-like or DataFrame of shape (n_synthetic, n_features)
        The synthetic rows (at least 1).
    real_holdout : array-like or DataFrame of shape (n_holdout, n_features), optional
        Real rows kept out of training: the baseline for the distance metrics and the data of
        the held-out log-likelihood.
    model : fitted estimator with ``score_samples``, optional
        The model that generated ``synthetic`` (a fitted :class:`~mixsynth.Synthesizer`), for
        the log-likelihoods. Its ``n_features_in_`` and ``feature_names_in_`` are checked.
    random_state : None, int, Generator or SeedSequence, default=0
        Seeds the subsampling, the classifier and its folds; the same seed gives the same
        report.
    max_rows : int, default=5000
        Every metric sees at most this many rows of each data set, a random subset; the
        exceptions are the bounds and exact-copy checks, which are linear and use every row,
        and the training rows as neighbours in the distance metrics (all of them, so that no
        copied row is missed). The MMD uses at most 2000 rows of each.
    temperature : float, optional
        The temperature ``synthetic`` was sampled at (``Synthesizer.sample(...,
        temperature=t)``): recorded in the report, not used by any metric.

    Returns
    -------
    QualityReport or TableQualityReport

    Raises
    ------
    ValueError
        Non-finite values (naming the argument, the column and the row), different numbers
        or names of columns, too few rows; for a table, a column missing from or added to
        ``synthetic`` or ``real_holdout``, or holding another kind of values (numbers against
        text), named.
    """
    if not is_count(max_rows) or max_rows < 2:
        raise ValueError(f"max_rows must be an integer >= 2, got {max_rows!r}.")
    if temperature is not None:
        temperature = check_temperature(temperature)
    if is_table_input(real_train, model):
        return evaluate_table(real_train, synthetic, real_holdout, model,
                              random_state=random_state, max_rows=max_rows,
                              temperature=temperature)
    columns = _column_names(real_train, synthetic, real_holdout)
    T = _validated(real_train, "real_train", min_samples=2)
    n_features = T.shape[1]
    S = _validated(synthetic, "synthetic", n_features=n_features)
    H = None
    if real_holdout is not None:
        H = _validated(real_holdout, "real_holdout", n_features=n_features)
    if model is not None:
        _check_model(model, n_features, columns if _has_columns(real_train) else None)
    if columns is None:
        columns = tuple(f"x{j}" for j in range(n_features))

    seeds = spawn_seeds(random_state, 5)
    T_sub = _subsample(T, max_rows, seeds[0])
    S_sub = _subsample(S, max_rows, seeds[1])
    H_sub = None if H is None else _subsample(H, max_rows, seeds[2])

    skipped: dict[str, str] = {}
    metrics: dict[str, Any] = {}
    metrics.update(_likelihoods(model, T_sub, H_sub, skipped))

    ks = [float(ks_2samp(T_sub[:, j], S_sub[:, j], method="asymp").statistic)
          for j in range(n_features)]
    metrics["ks_statistics"] = dict(zip(columns, ks, strict=True))
    metrics["column_shapes"] = 1.0 - float(np.mean(ks))

    if n_features < 2:
        metrics["correlation_similarity"] = None
        skipped["correlation_similarity"] = "needs at least 2 columns"
    else:
        metrics["correlation_similarity"] = _correlation_similarity(T_sub, S_sub)

    metrics.update(_classifier_test(T_sub, S_sub, _int_seed(seeds[3]), skipped))

    scale = column_scale(T)
    metrics["mmd"] = None
    if not np.any(scale > 0):
        skipped["mmd"] = "every real_train column is constant"
    elif min(len(T_sub), len(S_sub)) < 2:
        skipped["mmd"] = "needs at least 2 synthetic rows"
    else:
        metrics["mmd"] = _mmd(T_sub[:_MMD_MAX_ROWS], S_sub[:_MMD_MAX_ROWS], scale)

    metrics.update(_distances(T, S_sub, H_sub, scale, max_rows, seeds[4], skipped))
    metrics["exact_copy_rate"] = _exact_copy_rate(T, S)

    out = (S < T.min(axis=0)) | (S > T.max(axis=0))
    metrics["out_of_bounds_rate"] = float(out.mean())
    metrics["out_of_bounds_rows"] = float(out.any(axis=1).mean())

    return QualityReport(
        n_train=len(T),
        n_synthetic=len(S),
        n_holdout=0 if H is None else len(H),
        columns=columns,
        skipped=skipped,
        temperature=temperature,
        **metrics,
    )


# ------------------------------------------------------------------------ input checking


def _has_columns(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes")


def _column_names(*arrays: Any) -> tuple[str, ...] | None:
    """The shared DataFrame column names, or ``None``; different names are an error."""
    names = ("real_train", "synthetic", "real_holdout")
    found: tuple[str, ...] | None = None
    found_in = ""
    for name, X in zip(names, arrays, strict=True):
        if X is None or not _has_columns(X):
            continue
        cols = tuple(str(c) for c in X.columns)
        if found is None:
            found, found_in = cols, name
        elif cols != found and len(cols) == len(found):
            raise ValueError(
                f"The column names of {name} should match those of {found_in}: "
                f"{_name_difference(found, cols)}."
            )
    return found


def _name_difference(expected: Sequence[str], got: Sequence[str]) -> str:
    unexpected = [c for c in got if c not in expected]
    missing = [c for c in expected if c not in got]
    if unexpected or missing:
        return f"unexpected {unexpected}, missing {missing}"
    return f"same names in another order ({list(got)} instead of {list(expected)})"


def _validated(
    X: Any, name: str, *, n_features: int | None = None, min_samples: int = 1
) -> Array:
    try:
        Xv = check_input(X, name=name, ensure_min_samples=min_samples)
    except ValueError as err:
        if f"Input {name} " in str(err):
            raise
        raise ValueError(f"{name}: {err}") from err
    if n_features is not None and Xv.shape[1] != n_features:
        raise ValueError(
            f"{name} has {Xv.shape[1]} features, but real_train is expecting {n_features} "
            "features as input."
        )
    return Xv


def _check_model(model: Any, n_features: int, columns: tuple[str, ...] | None) -> None:
    if not callable(getattr(model, "score_samples", None)):
        raise TypeError(f"model must have a score_samples method; got {type(model).__name__}.")
    fitted = getattr(model, "n_features_in_", None)
    if fitted is not None and fitted != n_features:
        raise ValueError(
            f"real_train has {n_features} features, but {type(model).__name__} is expecting "
            f"{fitted} features as input."
        )
    model_names = getattr(model, "feature_names_in_", None)
    if model_names is not None and columns is not None:
        expected = tuple(str(c) for c in model_names)
        if expected != columns:
            raise ValueError(
                f"The column names of real_train should match those {type(model).__name__} "
                f"was fitted with: {_name_difference(expected, columns)}."
            )


def _subsample(X: Array, max_rows: int, seed: np.random.SeedSequence) -> Array:
    """At most ``max_rows`` rows, in random order (a generator's rows may come sorted)."""
    order = np.random.default_rng(seed).permutation(len(X))[:max_rows]
    return X[order]
