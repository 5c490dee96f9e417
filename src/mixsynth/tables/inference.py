"""Learning a column: its kind (numbers, text, category, bool, dates, durations), its levels
and what restores it, as a :class:`~mixsynth.tables.columns.ColumnSpec`."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixsynth.io.frames import stray_text
from mixsynth.tables.columns import (
    _NS_PER_UNIT,
    ColumnSpec,
    _as_datetime,
    _dtype_to_json,
    _numbers,
    _plain,
    _time_ints,
)
from mixsynth.tables.kinds import (
    DISCRETE_KINDS,
    DISTINCT_FRACTION,
    MAX_LEVELS,
    MIN_LEVELS_FOR_FRACTION,
    ColumnKind,
    HighCardinalityWarning,
)
from mixsynth.validation import ROWS, unreturnable_integers

Array = NDArray[np.float64]


#: Text that is read as a date: ``YYYY-MM-DD``, optionally followed by a time.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


#: Resolutions tried, coarsest first, in nanoseconds.
_STEPS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)


def _learn(name: Any, s: pd.Series, forced: ColumnKind | None) -> ColumnSpec:
    observed = s.dropna()
    if len(observed) == 0:
        raise ValueError(f"Column {name!r} has no values (every entry is missing); drop it.")
    dtype = s.dtype
    kind = forced or _infer(name, s, observed)
    common = {"name": name, "kind": kind.value, "dtype": _dtype_to_json(dtype, name),
              "missing": bool(len(observed) < len(s))}
    if kind in DISCRETE_KINDS:
        cats = _categories(name, s, observed, kind)
        _check_cardinality(name, len(cats), len(observed), forced is not None)
        return ColumnSpec(categories=cats, **common)
    if kind in (ColumnKind.DATETIME, ColumnKind.TIMEDELTA):
        return _learn_time(name, s, observed, kind, common)
    values = _numbers(name, observed)
    _check_representable(name, observed, values, dtype)
    integer = bool(np.all(values == np.round(values)))
    if kind is ColumnKind.INTEGER and not integer:
        raise ValueError(f"Column {name!r} is declared integer but holds fractions "
                         f"(e.g. {values[values != np.round(values)][0]!r}).")
    return ColumnSpec(integer=integer, lower=float(values.min()), upper=float(values.max()),
                      **common)


def _check_representable(name: Any, observed: pd.Series, values: Array, dtype: Any) -> None:
    """Numbers the model can learn and give back: finite (inf is never a value to model) and,
    in an integer column, within what float64 brings back to the column's integer type
    (int64 near 2**63 rounds to 2**63 and would wrap round to -2**63, as the numeric reader
    refuses it too)."""
    bad = np.flatnonzero(~np.isfinite(values))
    what = "inf, which is never a value to model (NaN marks a missing value)"
    if len(bad) == 0:
        kind = _integer_dtype(dtype)
        if kind is None:
            return
        bad = unreturnable_integers(values, kind)
        what = (f"an integer too large for float64, the numbers mixsynth models, to bring back "
                f"as {kind} (it would wrap round); an id or a sentinel value? Drop the column "
                "or convert it to float first")
        if len(bad) == 0:
            return
    raise ValueError(f"Column {name!r} holds {_at(observed, int(bad[0]))}: {what}.")


def _at(observed: pd.Series, i: int) -> str:
    """``observed``'s ``i``-th value and where it is in the table, for a message: its row
    (counted from 0) under a default index, else its index label."""
    value = observed.iloc[i]
    value = value.item() if isinstance(value, np.generic) else value
    label = observed.index[i]
    label = label.item() if isinstance(label, np.generic) else label
    if isinstance(observed.index, pd.RangeIndex) and observed.index.start == 0 and (
            observed.index.step == 1):
        return f"{value!r} at row {label} {ROWS}"
    return f"{value!r} at index {label!r}"


def _integer_dtype(dtype: Any) -> np.dtype[Any] | None:
    """The numpy integer type of an integer column (numpy, nullable or Arrow), else None."""
    if isinstance(dtype, pd.ArrowDtype):
        dtype = dtype.numpy_dtype
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype):
        dtype = getattr(dtype, "numpy_dtype", None)
    return dtype if isinstance(dtype, np.dtype) and dtype.kind in "iu" else None


def _infer(name: Any, s: pd.Series, observed: pd.Series) -> ColumnKind:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return ColumnKind.ORDERED if dtype.ordered else ColumnKind.CATEGORICAL
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        t = dtype.pyarrow_dtype
        if pa.types.is_boolean(t):
            return ColumnKind.BOOLEAN
        if pa.types.is_integer(t):
            return ColumnKind.INTEGER
        if pa.types.is_floating(t):
            return ColumnKind.CONTINUOUS
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return ColumnKind.DATETIME
        if pa.types.is_duration(t):
            return ColumnKind.TIMEDELTA
        if pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            return _text_kind(name, observed)
        raise ValueError(f"Column {name!r} has Arrow type {t}, which mixsynth does not model.")
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnKind.BOOLEAN
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return ColumnKind.DATETIME
    if pd.api.types.is_timedelta64_dtype(dtype):
        return ColumnKind.TIMEDELTA
    if pd.api.types.is_integer_dtype(dtype):
        return ColumnKind.INTEGER
    if pd.api.types.is_float_dtype(dtype):
        return ColumnKind.CONTINUOUS
    if isinstance(dtype, pd.StringDtype):
        return _text_kind(name, observed)
    if pd.api.types.is_object_dtype(dtype):
        types = {_value_type(v) for v in observed}
        if len(types) > 1:
            shown = ", ".join(sorted(types))
            raise ValueError(
                f"Column {name!r} mixes value types ({shown}) in one object column; convert it "
                f"to one type, or name its kind in column_kinds."
            )
        kind = types.pop()
        if kind == "text":
            return _text_kind(name, observed)
        return ColumnKind.BOOLEAN if kind == "bool" else ColumnKind.CONTINUOUS
    raise ValueError(f"Column {name!r} has dtype {dtype}, which mixsynth does not model.")


def _value_type(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(v, str):
        return "text"
    return type(v).__name__


def _text_kind(name: Any, observed: pd.Series) -> ColumnKind:
    first = str(observed.iloc[0])
    if _ISO_DATE.match(first):
        return ColumnKind.DATETIME
    stray = stray_text(observed)
    if stray is not None:  # modelled as categories, every number would become a level
        raise ValueError(
            f"Column {name!r} holds numbers written as text and text that is not a number "
            f"({_at(observed, stray)}): a typo or a "
            "missing-value marker? Fix or blank those values (NaN), or declare the column's "
            f"kind: column_kinds={{{name!r}: 'categorical'}} models the text as categories."
        )
    return ColumnKind.CATEGORICAL


def _categories(name: Any, s: pd.Series, observed: pd.Series, kind: ColumnKind) -> list[Any]:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        present = set(observed.unique())
        cats = [c for c in dtype.categories if c in present]  # category order, observed only
    else:
        values = observed.unique()
        if isinstance(dtype, pd.ArrowDtype) and hasattr(values, "to_numpy"):
            values = values.to_numpy()
        cats = sorted(values, key=lambda v: (type(v).__name__, v))
    out = [_plain(c, name) for c in cats]
    if kind is ColumnKind.BOOLEAN and not set(out) <= {True, False}:
        raise ValueError(f"Column {name!r} is declared boolean but holds {out[:5]}.")
    return out


def _check_cardinality(name: Any, n_levels: int, n_observed: int, forced: bool) -> None:
    """The high-cardinality policy of :mod:`mixsynth.tables.kinds`: more than
    :data:`MAX_LEVELS` levels is refused unless forced; identifier-like levels (most rows
    distinct) are modelled, with a warning; forcing either warns with the cost."""
    too_many = n_levels > MAX_LEVELS
    identifier_like = (
        n_levels > MIN_LEVELS_FOR_FRACTION and n_levels > DISTINCT_FRACTION * n_observed
    )
    if not (too_many or identifier_like):
        return
    if forced:
        warnings.warn(
            f"Column {name!r} has {n_levels} levels; modelling it as categorical costs "
            f"{n_levels - 1} parameters per component.",
            HighCardinalityWarning, stacklevel=4,
        )
        return
    if too_many:
        raise ValueError(
            f"Column {name!r} has {n_levels} distinct values in {n_observed} rows (high "
            f"cardinality: more than {MAX_LEVELS}); drop it, or force it with "
            f"column_kinds={{{name!r}: 'categorical'}}."
        )
    warnings.warn(
        f"Column {name!r} has {n_levels} distinct values in {n_observed} rows (more than "
        f"{DISTINCT_FRACTION:.0%}: an identifier or a free-text field?); modelled as "
        f"categorical at {n_levels - 1} parameters per component, so its sampled values are "
        f"copies of observed ones. Drop it if it identifies rows.",
        HighCardinalityWarning, stacklevel=4,
    )


def _learn_time(name: Any, s: pd.Series, observed: pd.Series, kind: ColumnKind,
                common: dict[str, Any]) -> ColumnSpec:
    text_format = None
    tz = None
    if kind is ColumnKind.DATETIME:
        text = not pd.api.types.is_datetime64_any_dtype(s.dtype) and not (
            isinstance(s.dtype, pd.ArrowDtype))
        parsed = _as_datetime(name, s)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            tz = str(parsed.dtype.tz)
        ints, unit = _time_ints(parsed)
    else:
        if not pd.api.types.is_timedelta64_dtype(s.dtype):
            try:
                s = pd.to_timedelta(s, errors="raise")
            except (ValueError, TypeError):
                raise ValueError(f"Column {name!r} does not parse as durations; declare its "
                                 "kind in column_kinds.") from None
        text = False
        ints, unit = _time_ints(s)
    good = ints[~np.isnan(ints)].astype(np.int64)
    per = _NS_PER_UNIT[unit]
    step = 1
    for ns in _STEPS_NS:
        if ns % per == 0 and np.all(good % (ns // per) == 0):
            step = ns // per
            break
    if text:
        text_format = "%Y-%m-%d" if step * per >= 86_400 * 10**9 else (
            "%Y-%m-%d %H:%M" if step * per >= 60 * 10**9 else "%Y-%m-%d %H:%M:%S")
    values = good / step
    return ColumnSpec(integer=True, lower=float(values.min()), upper=float(values.max()),
                      unit=unit, step=int(step), tz=tz, text_format=text_format, **common)
