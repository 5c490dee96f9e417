"""The one input validator: every array that enters mixsynth passes through here.

It wraps scikit-learn's ``validate_data`` (shape, dtype, feature-name and feature-count
bookkeeping, scikit-learn's familiar messages) and adds what scikit-learn does not say: *where*
the first non-finite value is, naming the column and the row, so that a user can find it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, validate_data

__all__ = [
    "ROWS", "Counts", "check_finite", "check_input", "check_observed_columns", "column_label",
    "is_count", "unreturnable_integers",
]


def is_count(value: Any) -> bool:
    """Whether ``value`` is an integer setting: a Python or numpy integer, but not ``bool``
    (Python's ``True`` is an ``int``, and would pass as 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def unreturnable_integers(values: NDArray[np.float64], dtype: np.dtype[Any]) -> NDArray[np.intp]:
    """Where float64 ``values`` of an integer column could not go back to its ``dtype``.

    mixsynth models numbers as float64 and gives generated rows back in the column's dtype.
    An int64 within 512 of 2**63 rounds to 2.0**63, which cast back wraps round to -2**63
    (with only a cast warning): such values are ids or sentinels, not quantities to model, and
    the readers and the table codec refuse them. NaN and inf are not reported here (they are
    missing values, or the finiteness check's to name); for a non-integer ``dtype``, none.
    """
    if dtype.kind not in "iu":
        return np.empty(0, dtype=np.intp)
    bits = 8 * dtype.itemsize
    low, high = ((0.0, 2.0**bits) if dtype.kind == "u"
                 else (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1)))
    return np.flatnonzero(np.isfinite(values) & ((values < low) | (values >= high)))


class Counts(Interval):
    """scikit-learn's ``Interval(Integral, ...)`` without ``bool``: Python's ``True`` is an
    ``Integral``, so ``n_components=True`` passed the interval as 1 and failed later with a
    bare TypeError. Use it in ``_parameter_constraints``: the message stays scikit-learn's
    ("... must be an int in the range [1, inf). Got True instead.")."""

    def __init__(self, left: int | None, right: int | None, *, closed: str) -> None:
        from numbers import Integral

        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, (bool, np.bool_)) and bool(super().is_satisfied_by(val))

#: How a message counting rows says so (a file's *lines* are counted from 1: io.formats.LINES).
ROWS = "(rows counted from 0)"


def column_label(j: int, feature_names: Any = None) -> str:
    """Human name of column ``j``: its feature name when known, else its position."""
    if feature_names is not None and j < len(feature_names):
        return f"column {feature_names[j]!r} (position {j})"
    return f"column {j}"


def check_finite(
    X: NDArray[np.floating],
    *,
    name: str = "X",
    feature_names: Any = None,
    row_offset: int = 0,
    allow_nan: bool = False,
) -> None:
    """Raise ``ValueError`` naming the first non-finite value's column and row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Already validated float array.
    name : str
        How the array is called in the message.
    feature_names : sequence of str, optional
        Column names for the message.
    row_offset : int, default=0
        Position of ``X``'s first row in the whole data (a chunk of a stream), so the message
        names the row of the data, not of the chunk.
    allow_nan : bool, default=False
        NaN marks a missing value (models fitted with ``missing="em"``): only ±inf is an error.
    """
    finite = np.isfinite(X)
    if finite.all():
        return
    bad = ~finite
    if allow_nan:
        bad &= ~np.isnan(X)
        if not bad.any():
            return
    rows, cols = np.nonzero(bad)
    order = np.lexsort((rows, cols))  # first bad column, then its first bad row
    j = int(cols[order[0]])
    first_row = int(rows[order[0]])
    kind = "NaN" if np.isnan(X[first_row, j]) else "inf"
    first_row += int(row_offset)
    bad_cols = np.unique(cols)
    # the same words whether NaN is allowed or not, so that a file gives the same error
    # streamed (complete rows) or in memory (gaps modelled) when its fault is an inf
    what = "NaN or inf" if np.isnan(X[rows, cols]).any() else "inf"
    more = f" ({len(bad_cols)} columns have {what} in all)" if len(bad_cols) > 1 else ""
    where = f"{column_label(j, feature_names)}, first at row {first_row} {ROWS}{more}"
    if kind == "inf":
        raise ValueError(f"Input {name} contains inf (inf is never allowed; NaN only where "
                         f"missing values are modelled): {where}.")
    raise ValueError(
        f"Input {name} contains NaN (a missing value): {where}. Missing values are modelled "
        "(by EM, not imputed) in a DataFrame given to Synthesizer.fit, in a CSV or Parquet "
        "file fitted in memory, and by GaussianMixture(missing=\"em\"); here, drop or fill "
        "them."
    )


def check_observed_columns(
    X: NDArray[np.floating], *, name: str = "X", feature_names: Any = None
) -> None:
    """Raise ``ValueError`` naming the columns of ``X`` that hold no observed value (all NaN):
    nothing can be learnt about them."""
    if X.shape[0] == 0:
        return
    empty = np.flatnonzero(np.isnan(X).all(axis=0))
    if empty.size == 0:
        return
    named = ", ".join(column_label(int(j), feature_names) for j in empty[:10])
    more = f" and {empty.size - 10} more" if empty.size > 10 else ""
    raise ValueError(
        f"Input {name} has no observed value in {named}{more}: every value is missing (NaN). "
        "Leave the column out."
    )


def _is_text(value: Any) -> bool:
    """A string that is not a number (numpy converts "3.5" and " 2 " itself)."""
    if not isinstance(value, str | bytes):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def _first_text(X: Any, feature_names: Any = None) -> str | None:
    """Where ``X`` first holds text, as "column 'species' (position 1) holds text ('Adelie')",
    scanning column by column; None when it cannot tell."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame
        names = [str(c) for c in X.columns]
        columns = [X.iloc[:, j].to_numpy(dtype=object) for j in range(X.shape[1])]
    else:
        try:
            A = np.asarray(X, dtype=object)
        except ValueError:  # ragged
            return None
        if A.ndim != 2:
            return None
        names = feature_names
        columns = [A[:, j] for j in range(A.shape[1])]
    for j, column in enumerate(columns):
        for value in column:
            if _is_text(value):
                return f"{column_label(j, names)} holds text ({value!r})"
    return None


def check_input(
    X: ArrayLike,
    *,
    estimator: Any = None,
    reset: bool = True,
    name: str = "X",
    ensure_min_samples: int = 1,
    ensure_min_features: int = 1,
    row_offset: int = 0,
    feature_names: Any = None,
    allow_nan: bool = False,
) -> NDArray[np.float64]:
    """Validate ``X`` into a C-contiguous float64 2-D array.

    With ``estimator`` given, scikit-learn's ``validate_data`` also records (``reset=True``) or
    checks (``reset=False``) ``n_features_in_`` and ``feature_names_in_``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric data: int, bool, float32/64, read-only or Fortran-ordered arrays and memmaps are
        accepted and computed in float64; complex and non-numeric objects are rejected.
    estimator : estimator, optional
        The estimator whose feature bookkeeping to use.
    reset : bool, default=True
        Record (``True``, at fit) or check (``False``, afterwards) the features.
    name : str, default="X"
        How the array is called in messages.
    ensure_min_samples, ensure_min_features : int
        Minimum shape, with scikit-learn's messages.
    row_offset : int, default=0
        Position of the first row in the whole data, for messages about a chunk of a stream.
    feature_names : sequence of str, optional
        Column names for messages when there is no estimator to take them from.
    allow_nan : bool, default=False
        NaN marks a missing value and passes (±inf is still an error naming its column and
        first row). With ``reset=True`` (the data a model learns from), a column with no
        observed value is an error naming it (:func:`check_observed_columns`).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    """
    kwargs: dict[str, Any] = dict(
        dtype=np.float64,
        order="C",
        ensure_all_finite=False,
        ensure_min_samples=ensure_min_samples,
        ensure_min_features=ensure_min_features,
    )
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 0 and ensure_min_features > 0:
        # a DataFrame without columns: numpy's "at least one array or dtype is required"
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum "
                         f"of {ensure_min_features} is required.")
    try:
        if estimator is not None:
            # validate_data names the array "X" itself
            Xv = validate_data(estimator, X, reset=reset, **kwargs)
            names = getattr(estimator, "feature_names_in_", None)
        else:
            Xv = check_array(X, input_name=name, **kwargs)
            names = feature_names
    except ValueError as exc:
        if "could not convert string to float" not in str(exc):
            raise
        text = _first_text(X, feature_names)
        if text is None:
            raise
        raise ValueError(
            f"{name}: {text}; mixsynth models numbers only: leave the column out (select the "
            "numeric columns, e.g. X.drop(columns=[...]); --columns on the command line) or "
            "convert it to numbers first."
        ) from None
    check_finite(
        Xv, name=name, feature_names=names, row_offset=row_offset, allow_nan=allow_nan
    )
    if allow_nan and reset:
        check_observed_columns(Xv, name=name, feature_names=names)
    return np.asarray(Xv, dtype=np.float64)


def check_representable_spread(
    minimum: NDArray[np.float64], maximum: NDArray[np.float64], n_samples: int,
    feature_names: Any = None,
) -> None:
    """Refuse columns whose spread a float64 covariance cannot hold.

    A column spanning more than about ``sqrt(max_float / (16 n d))`` overflows the sum of
    squared deviations
    (its variance, ~span², is then beyond float64 whatever the fit does), which surfaced as NaN
    parameters and a later sampling error. The Synthesizer pre-scales columns: it never meets
    it.

    Parameters
    ----------
    minimum, maximum : ndarray of shape (n_features,)
        Column bounds of the (observed) data.
    n_samples : int
    feature_names : array-like of str, optional

    Raises
    ------
    ValueError
        Naming the first such column and what to do.
    """
    # margin: sums over rows, over the d columns of a distance, and a few more products
    scale = 16.0 * max(n_samples, 1) * max(np.size(minimum), 1)
    limit = np.sqrt(np.finfo(np.float64).max / scale)
    with np.errstate(over="ignore", invalid="ignore"):
        span = np.asarray(maximum, dtype=np.float64) - np.asarray(minimum, dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(span) <= limit) & np.isfinite(minimum) & np.isfinite(maximum))
    if bad.size:
        j = int(bad[0])
        label = column_label(j, feature_names)
        raise ValueError(
            f"{label[0].upper()}{label[1:]} spans {minimum[j]:.3g} to {maximum[j]:.3g}: "
            "its variance is beyond float64. Scale the input (or use Synthesizer, which "
            "pre-scales each column)."
        )
