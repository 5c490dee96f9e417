"""How good is a synthetic data set? Fidelity, generalisation and memorisation in one report.

:func:`evaluate` compares synthetic rows with the real training rows (and, when given, real
rows held out from training and the fitted model) and returns a frozen :class:`QualityReport`.
Everything is built on scipy and scikit-learn:

* fidelity per column (two-sample Kolmogorov–Smirnov, the "column shapes" score), between
  columns (Pearson correlations) and jointly (a classifier two-sample test and the kernel MMD);
* generalisation of the model (log-likelihood of the training rows against held-out rows);
* memorisation (distance to the closest training record, near and exact copies), with the
  held-out rows as the baseline a fresh real sample gets;
* support (synthetic values outside the observed per-column range).

The distance building blocks (:func:`column_scale`, :func:`nearest_distances`,
:func:`near_copy_threshold`, :func:`near_copy_rate`) are public so that the synthesizer's
memorisation guard measures copies exactly as the report does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from mixsynth.core import check_temperature
from mixsynth.seeding import SeedLike, as_generator, spawn_seeds
from mixsynth.validation import check_input

__all__ = [
    "QualityReport",
    "column_scale",
    "evaluate",
    "near_copy_rate",
    "near_copy_threshold",
    "nearest_distances",
]

Array = NDArray[np.float64]

#: Folds of the classifier two-sample test.
_CV_FOLDS = 5
#: Rows of each kind from which the classifier test stops early (10% of 0.8 × 2 × 100 is 16).
_EARLY_STOPPING_MIN_ROWS = 100
#: Rows per data set that enter the kernel MMD (its cost is quadratic).
_MMD_MAX_ROWS = 2000
#: Query rows per block when recomputing neighbour distances exactly (bounds the memory).
_BLOCK_ROWS = 65536


# ------------------------------------------------------------------------------ the report


@dataclass(frozen=True)
class QualityReport:
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: plain floats, ints, str and lists; NaN and ±inf → ``None``."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def to_json(self, **kwargs: Any) -> str:
        """The report as strict JSON (no ``NaN``); ``kwargs`` go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

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


def _plain(value: Any) -> Any:
    """Turn numpy scalars, tuples and non-finite floats into what :func:`json.dumps` takes."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _format(value: float) -> str:
    return f"{value:.4g}"


# ------------------------------------------------------------------ distances (public blocks)


def column_scale(train: ArrayLike) -> Array:
    """Per-column standard deviation of ``train``, 0 for constant columns.

    This is the ``scale`` the distance functions expect: columns are divided by it, and
    columns with scale 0 are dropped. A column is constant when all its values are equal
    (a tiny spread such as 1e-200 is not constant); values near 1e200 do not overflow and a
    large offset (1e12 ± 1) does not cost precision.

    Parameters
    ----------
    train : array-like of shape (n_samples, n_features)

    Returns
    -------
    scale : ndarray of shape (n_features,)
    """
    U, spread, constant = _centred_columns(np.asarray(train, dtype=np.float64))
    scale = np.std(U, axis=0) * spread
    scale[constant] = 0.0
    return scale


def nearest_distances(reference: ArrayLike, query: ArrayLike, *, scale: ArrayLike) -> Array:
    """Euclidean distance from each query row to its nearest reference row.

    Columns are divided by ``scale``; columns whose scale is 0 are dropped (with none left,
    every distance is 0). Neighbours are found with :class:`~sklearn.neighbors.NearestNeighbors`
    and their distance recomputed from the differences, so that an exact copy is at distance
    exactly 0 (the fast ``|x|² - 2 x·y + |y|²`` form leaves rounding noise there).

    Parameters
    ----------
    reference : array-like of shape (n_reference, n_features)
    query : array-like of shape (n_query, n_features)
    scale : array-like of shape (n_features,)
        Typically :func:`column_scale` of the training rows.

    Returns
    -------
    distances : ndarray of shape (n_query,)
        ``inf`` for a query row too far out to be represented after scaling.
    """
    R, Q, s = _kept_columns(reference, query, scale)
    if R.shape[1] == 0:
        return np.zeros(len(Q))
    distances, _ = _kneighbors(R, Q, s, 1)
    return distances[:, 0]


def near_copy_threshold(
    train: ArrayLike,
    *,
    scale: ArrayLike,
    quantile: float = 0.05,
    max_rows: int | None = None,
    random_state: SeedLike = 0,
) -> float:
    """The distance under which a row counts as a near copy of a training row.

    It is the ``quantile`` of the training rows' distances to their nearest *other* training
    row (a duplicated row's nearest other row is at distance 0). A fresh sample from the data's
    distribution lands that close to a training row about ``quantile`` of the time.

    Parameters
    ----------
    train : array-like of shape (n_samples, n_features)
        At least 2 rows.
    scale : array-like of shape (n_features,)
    quantile : float in [0, 1], default=0.05
    max_rows : int, optional
        Measure the distances from at most this many training rows (drawn with
        ``random_state``) to all the others; ``None`` uses every row.
    random_state : None, int or Generator, default=0

    Returns
    -------
    threshold : float
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile!r}.")
    T, _, s = _kept_columns(train, train, scale)
    n = len(T)
    if n < 2:
        raise ValueError(f"near_copy_threshold needs at least 2 training rows, got {n}.")
    if T.shape[1] == 0:
        return 0.0
    rows = np.arange(n)
    if max_rows is not None and n > max_rows:
        rows = np.sort(as_generator(random_state).choice(n, size=max_rows, replace=False))
    distances, indices = _kneighbors(T, T[rows], s, 2)
    # the row itself is one of its two nearest; a duplicate may come first, both at 0
    is_self = indices == rows[:, None]
    other = np.where(is_self, np.inf, distances).min(axis=1)
    return float(np.quantile(other, quantile))


def near_copy_rate(
    train: ArrayLike, query: ArrayLike, *, threshold: float, scale: ArrayLike
) -> float:
    """Fraction of query rows at most ``threshold`` from their nearest training row.

    Parameters
    ----------
    train : array-like of shape (n_train, n_features)
    query : array-like of shape (n_query, n_features)
    threshold : float
        Typically :func:`near_copy_threshold` of ``train``.
    scale : array-like of shape (n_features,)

    Returns
    -------
    rate : float in [0, 1] (0 for no query rows)
    """
    return _rate(nearest_distances(train, query, scale=scale), threshold)


def _rate(distances: Array, threshold: float) -> float:
    # "at most": with a grid of values (pixels, counts) the threshold is often 0, and a
    # strict "<" would then call no row a copy, not even a verbatim one. Ties are common on
    # such grids and the threshold and the distances are computed along different paths, so a
    # few ulps of slack keep an equal distance equal (Hypothesis found a 1-ulp flip).
    if not len(distances):
        return 0.0
    return float(np.mean(distances <= threshold * (1.0 + 16 * np.finfo(np.float64).eps)))


def _centred_columns(X: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Columns minus their mean, divided by their largest deviation; constant columns are 0.

    Returns ``(U, spread, constant)`` with ``X = U * spread + mean``. Centring comes first so
    that an offset (1e12 ± 1) loses no precision to the division; the division keeps squares
    of values near 1e200 from overflowing. A column is constant when all its values are equal
    (the mean of equal values can round off their value, so the deviations are not used).
    """
    constant = np.ptp(X, axis=0) == 0
    magnitude = np.max(np.abs(X), axis=0)
    magnitude[magnitude == 0] = 1.0
    centre = np.mean(X / magnitude, axis=0) * magnitude  # a mean whose sum cannot overflow
    D = X - centre
    spread = np.max(np.abs(D), axis=0)
    spread[constant | (spread == 0)] = 1.0
    U = D / spread
    U[:, constant] = 0.0
    return U, spread, constant


def _kept_columns(
    reference: ArrayLike, query: ArrayLike, scale: ArrayLike
) -> tuple[Array, Array, Array]:
    """Both arrays and the scale, restricted to the columns whose scale is positive."""
    R = np.asarray(reference, dtype=np.float64)
    Q = np.asarray(query, dtype=np.float64)
    s = np.asarray(scale, dtype=np.float64)
    if R.ndim != 2 or Q.ndim != 2 or s.ndim != 1:
        raise ValueError("reference and query must be 2-D and scale 1-D.")
    if not R.shape[1] == Q.shape[1] == len(s):
        raise ValueError(
            f"query has {Q.shape[1]} features, but reference is expecting {R.shape[1]} "
            f"features as input (and scale has {len(s)})."
        )
    if len(R) == 0:
        raise ValueError("reference has no rows.")
    keep = s > 0
    return R[:, keep], Q[:, keep], s[keep]


def _standardised(R: Array, Q: Array, s: Array) -> tuple[Array, Array]:
    """Both arrays centred on the reference mean and divided by ``s``.

    Distances do not change with the centre; centring keeps the fast Euclidean form of the
    neighbour search from cancelling on data with a large offset (1e12 ± 1).
    """
    centre = R.mean(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        return (R - centre) / s, (Q - centre) / s


def _kneighbors(R: Array, Q: Array, s: Array, k: int) -> tuple[Array, NDArray[np.intp]]:
    """The ``k`` nearest rows of ``R`` to each row of ``Q`` (columns divided by ``s``), sorted.

    The search runs on standardised rows; the distances of the neighbours found are then
    recomputed from the raw differences, so that equal gaps on a grid (pixels, counts) give
    bit-identical distances and ties with a threshold are not broken by rounding.
    """
    distances = np.full((len(Q), k), np.inf)
    indices = np.full((len(Q), k), -1, dtype=np.intp)
    Rs, Qs = _standardised(R, Q, s)
    finite = np.flatnonzero(np.isfinite(Qs).all(axis=1))
    if len(finite) == 0:
        return distances, indices
    nn = NearestNeighbors(n_neighbors=k).fit(Rs)
    for start in range(0, len(finite), _BLOCK_ROWS):
        rows = finite[start : start + _BLOCK_ROWS]
        idx = nn.kneighbors(Qs[rows], return_distance=False)
        with np.errstate(over="ignore"):
            exact = np.sqrt(np.sum(((Q[rows, None, :] - R[idx]) / s) ** 2, axis=2))
        order = np.argsort(exact, axis=1, kind="stable")
        distances[rows] = np.take_along_axis(exact, order, axis=1)
        indices[rows] = np.take_along_axis(idx, order, axis=1)
    return distances, indices


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
) -> QualityReport:
    """Measure how well ``synthetic`` imitates ``real_train`` without copying it.

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
    QualityReport

    Raises
    ------
    ValueError
        Non-finite values (naming the argument, the column and the row), different numbers
        or names of columns, too few rows.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 2:
        raise ValueError(f"max_rows must be an integer >= 2, got {max_rows!r}.")
    if temperature is not None:
        temperature = check_temperature(temperature)
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


def _int_seed(seed: np.random.SeedSequence) -> int:
    """An int for scikit-learn's ``random_state``, which takes no SeedSequence."""
    return int(seed.generate_state(1)[0])


# ------------------------------------------------------------------------------- metrics


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


def _distances(
    T: Array,
    S: Array,
    H: Array | None,
    scale: Array,
    max_rows: int,
    seed: np.random.SeedSequence,
    skipped: dict[str, str],
) -> dict[str, float | None]:
    names = ("near_copy_threshold", "dcr_synthetic_median", "near_copy_rate",
             "dcr_holdout_median", "holdout_near_copy_rate")
    out: dict[str, float | None] = dict.fromkeys(names)
    if not np.any(scale > 0):
        for name in names:
            skipped[name] = "every real_train column is constant"
        return out
    threshold = near_copy_threshold(T, scale=scale, max_rows=max_rows, random_state=seed)
    d_syn = nearest_distances(T, S, scale=scale)
    out["near_copy_threshold"] = threshold
    out["dcr_synthetic_median"] = float(np.median(d_syn))
    out["near_copy_rate"] = _rate(d_syn, threshold)
    if H is None:
        skipped["dcr_holdout_median"] = skipped["holdout_near_copy_rate"] = "needs real_holdout"
        return out
    d_hold = nearest_distances(T, H, scale=scale)
    out["dcr_holdout_median"] = float(np.median(d_hold))
    out["holdout_near_copy_rate"] = _rate(d_hold, threshold)
    return out


def _exact_copy_rate(T: Array, S: Array) -> float:
    """Fraction of rows of ``S`` equal to some row of ``T``, by hashing whole rows."""
    return float(np.mean(np.isin(_row_keys(S), _row_keys(T))))


def _row_keys(X: Array) -> NDArray[np.void]:
    X = np.ascontiguousarray(X + 0.0)  # -0.0 + 0.0 is +0.0: equal values, equal bytes
    return X.view(np.dtype((np.void, X.itemsize * X.shape[1]))).ravel()
