"""A DataFrame as numbers and category codes, and back in kind.

:class:`TableCodec` learns each column's kind (:mod:`~mixsynth.tables.kinds`) and what restores
it (dtype, observed categories in order, date unit, resolution and time zone, bounds). Then

* :meth:`TableCodec.encode` turns a table into a float block of the numeric columns (NaN for a
  gap) and an int block of the discrete columns' codes (-1 for a gap), both in column order;
* :meth:`TableCodec.decode` turns such blocks back into a DataFrame with the same columns, in
  the same order, with the same dtypes: categories with the same category set and order,
  booleans as bool, integers rounded and clipped to the observed range, dates as dates. A code
  is always one of the observed levels, so no category that was not in the data comes out.

Codecs are plain data (:meth:`TableCodec.to_dict` / :meth:`TableCodec.from_dict`, JSON), so a
model file keeps them without pickling.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixsynth.tables.kinds import (
    DISCRETE_KINDS,
    DISTINCT_FRACTION,
    MAX_LEVELS,
    MIN_LEVELS_FOR_FRACTION,
    ColumnKind,
    HighCardinalityWarning,
)

__all__ = ["ColumnSpec", "TableCodec", "is_table"]

Array = NDArray[np.float64]

#: Text that is read as a date: ``YYYY-MM-DD``, optionally followed by a time.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
#: Resolutions tried, coarsest first, in nanoseconds.
_STEPS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)
_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def is_table(X: Any) -> bool:
    """Whether ``X`` is a DataFrame that needs the table path: a column that is not a plain
    numpy float/int (text, category, bool, nullable, Arrow, dates) or a gap."""
    if not isinstance(X, pd.DataFrame):
        return False
    for dtype in X.dtypes:
        if not (isinstance(dtype, np.dtype) and dtype.kind in "fiu"):
            return True
    return bool(X.isna().to_numpy().any())


@dataclass(frozen=True)
class ColumnSpec:
    """What one column is and how it comes back.

    Attributes
    ----------
    name : str or int
    kind : str
        A :class:`~mixsynth.tables.kinds.ColumnKind` value.
    dtype : dict
        How to rebuild the dtype (:func:`_dtype_to_json`).
    categories : list
        Discrete kinds: the observed levels, in category order (``category`` dtypes) or sorted.
    integer : bool
        Numeric kinds: values are whole numbers (rounded when sampled).
    lower, upper : float
        Numeric kinds: the observed range, in model units (NaN for discrete kinds).
    unit, step, tz, text_format
        Dates and durations: the dtype's unit, the resolution in units, the time zone and, for
        dates read from text, the ``strftime`` format to write them back.
    missing : bool
        The column has gaps.
    """

    name: Any
    kind: str
    dtype: dict[str, Any]
    categories: list[Any] = field(default_factory=list)
    integer: bool = False
    lower: float = float("nan")
    upper: float = float("nan")
    unit: str | None = None
    step: int = 1
    tz: str | None = None
    text_format: str | None = None
    missing: bool = False

    @property
    def is_discrete(self) -> bool:
        return ColumnKind(self.kind) in DISCRETE_KINDS


class TableCodec:
    """A table's columns as a numeric block and a block of category codes (module docstring).

    Parameters
    ----------
    specs : sequence of ColumnSpec
        One per column, in column order (:meth:`fit` learns them).
    """

    def __init__(self, specs: Sequence[ColumnSpec]) -> None:
        self.specs = tuple(specs)
        self.numeric = [i for i, s in enumerate(self.specs) if not s.is_discrete]
        self.discrete = [i for i, s in enumerate(self.specs) if s.is_discrete]

    # ------------------------------------------------------------------ learning
    @classmethod
    def fit(cls, df: pd.DataFrame, column_kinds: Mapping[Any, str] | None = None) -> TableCodec:
        """Learn the columns of ``df``.

        Raises
        ------
        ValueError
            Naming the column: an all-missing column, an object column mixing types, text that
            does not parse as the dates or numbers asked for, a high-cardinality column
            (:mod:`~mixsynth.tables.kinds`), an unknown kind or column in ``column_kinds``.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a DataFrame, got {type(df).__name__}.")
        kinds = dict(column_kinds or {})
        unknown = [c for c in kinds if c not in df.columns]
        if unknown:
            raise ValueError(
                f"column_kinds names {unknown[0]!r}, which is not a column; columns are "
                f"{list(df.columns)}."
            )
        if df.columns.has_duplicates:
            dup = df.columns[df.columns.duplicated()][0]
            raise ValueError(f"Column {dup!r} appears more than once; rename it.")
        specs = []
        for name in df.columns:
            if not isinstance(name, (str, int, np.integer)) or isinstance(name, bool):
                raise ValueError(f"Column names must be text or integers, got {name!r}.")
            forced = kinds.get(name)
            kind = None if forced is None else ColumnKind.parse(forced, name)
            specs.append(_learn(name if isinstance(name, str) else int(name), df[name], kind))
        return cls(specs)

    # ------------------------------------------------------------------ layout
    @property
    def columns(self) -> list[Any]:
        return [s.name for s in self.specs]

    @property
    def levels(self) -> tuple[int, ...]:
        """Levels of each discrete column, in order."""
        return tuple(len(self.specs[i].categories) for i in self.discrete)

    def spec(self, name: Any) -> ColumnSpec:
        for s in self.specs:
            if s.name == name:
                return s
        raise ValueError(f"Unknown column {name!r}; columns are {self.columns}.")

    # ------------------------------------------------------------------ encoding
    def encode(self, df: pd.DataFrame) -> tuple[Array, NDArray[np.intp]]:
        """``(numbers (n, numeric columns) with NaN gaps, codes (n, discrete columns) with -1
        gaps)``.

        Raises
        ------
        ValueError
            For missing columns, or a value that is not one of the fitted categories, naming
            the column and the allowed values.
        """
        absent = [s.name for s in self.specs if s.name not in df.columns]
        if absent:
            raise ValueError(f"The feature names should match those seen in fit: column "
                             f"{absent[0]!r} is missing; expected {self.columns}.")
        n = len(df)
        X = np.empty((n, len(self.numeric)))
        for j, i in enumerate(self.numeric):
            X[:, j] = _to_numbers(self.specs[i], df[self.specs[i].name])
        codes = np.empty((n, len(self.discrete)), dtype=np.intp)
        for j, i in enumerate(self.discrete):
            codes[:, j] = _to_codes(self.specs[i], df[self.specs[i].name])
        return X, codes

    def code_of(self, name: Any, value: Any) -> int:
        """The code of one value of a discrete column.

        Raises
        ------
        ValueError
            For an unknown value, naming the column and the allowed values.
        """
        spec = self.spec(name)
        code = int(_to_codes(spec, pd.Series([value], dtype=object))[0])
        if code < 0:
            raise ValueError(f"Column {name!r}: {value!r} is a missing value; give a category "
                             f"among {spec.categories}.")
        return code

    def decode(self, X: Array, codes: NDArray[np.integer]) -> pd.DataFrame:
        """A DataFrame in the fitted columns and dtypes (NaN numbers and -1 codes are gaps)."""
        out: dict[Any, Any] = {}
        num = {i: j for j, i in enumerate(self.numeric)}
        dis = {i: j for j, i in enumerate(self.discrete)}
        for i, s in enumerate(self.specs):
            out[s.name] = (_from_codes(s, np.asarray(codes[:, dis[i]])) if s.is_discrete
                           else _from_numbers(s, np.asarray(X[:, num[i]], dtype=np.float64)))
        return pd.DataFrame(out, columns=pd.Index(self.columns, dtype=object)
                            if any(not isinstance(c, str) for c in self.columns) else None)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The codec as JSON-ready data (NaN bounds as None)."""
        rows = []
        for s in self.specs:
            row = asdict(s)
            for key in ("lower", "upper"):
                row[key] = None if np.isnan(row[key]) else float(row[key])
            rows.append(row)
        return {"columns": rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableCodec:
        """The codec of :meth:`to_dict`'s data.

        Raises
        ------
        ValueError
            When the data does not describe a codec.
        """
        try:
            specs = []
            for row in data["columns"]:
                row = dict(row)
                for key in ("lower", "upper"):
                    row[key] = float("nan") if row.get(key) is None else float(row[key])
                spec = ColumnSpec(**row)
                ColumnKind(spec.kind)
                _dtype_from_json(spec.dtype)
                if spec.is_discrete and not spec.categories:
                    raise ValueError(f"column {spec.name!r} has no categories")
                specs.append(spec)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a table codec: {exc}") from None
        if not specs:
            raise ValueError("not a table codec: no columns")
        return cls(specs)


# ---------------------------------------------------------------------- learning a column


def _learn(name: Any, s: pd.Series, forced: ColumnKind | None) -> ColumnSpec:
    observed = s.dropna()
    if len(observed) == 0:
        raise ValueError(f"Column {name!r} has no values (every entry is missing); drop it.")
    dtype = s.dtype
    kind = forced or _infer(name, s, observed)
    common = {"name": name, "kind": kind.value, "dtype": _dtype_to_json(dtype),
              "missing": bool(len(observed) < len(s))}
    if kind in DISCRETE_KINDS:
        cats = _categories(name, s, observed, kind)
        _check_cardinality(name, len(cats), len(observed), forced is not None)
        return ColumnSpec(categories=cats, **common)
    if kind in (ColumnKind.DATETIME, ColumnKind.TIMEDELTA):
        return _learn_time(name, s, observed, kind, common)
    values = _numbers(name, observed)
    integer = bool(np.all(values == np.round(values)))
    if kind is ColumnKind.INTEGER and not integer:
        raise ValueError(f"Column {name!r} is declared integer but holds fractions "
                         f"(e.g. {values[values != np.round(values)][0]!r}).")
    return ColumnSpec(integer=integer, lower=float(values.min()), upper=float(values.max()),
                      **common)


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
    return ColumnKind.DATETIME if _ISO_DATE.match(first) else ColumnKind.CATEGORICAL


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


def _plain(value: Any, name: Any) -> Any:
    """A category as a JSON value (str, int, float or bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int)) or (isinstance(value, float) and np.isfinite(value)):
        return value
    raise ValueError(f"Column {name!r} has a category {value!r} of type "
                     f"{type(value).__name__}; categories must be text, numbers or booleans.")


def _check_cardinality(name: Any, n_levels: int, n_observed: int, forced: bool) -> None:
    high = n_levels > MAX_LEVELS or (
        n_levels > MIN_LEVELS_FOR_FRACTION and n_levels > DISTINCT_FRACTION * n_observed
    )
    if not high:
        return
    if forced:
        warnings.warn(
            f"Column {name!r} has {n_levels} levels; modelling it as categorical costs "
            f"{n_levels - 1} parameters per component.",
            HighCardinalityWarning, stacklevel=4,
        )
        return
    raise ValueError(
        f"Column {name!r} has {n_levels} distinct values in {n_observed} rows (high "
        f"cardinality: more than {MAX_LEVELS}, or more than {DISTINCT_FRACTION:.0%} of the rows); "
        f"drop it, or force it with column_kinds={{{name!r}: 'categorical'}}."
    )


def _numbers(name: Any, observed: pd.Series) -> Array:
    try:
        return np.asarray(pd.to_numeric(observed, errors="raise"), dtype=np.float64)
    except (ValueError, TypeError):
        bad = next((v for v in observed if _not_number(v)), observed.iloc[0])
        raise ValueError(
            f"Column {name!r} holds {bad!r}, which is not a number; declare the column "
            "categorical in column_kinds, or fix the value."
        ) from None


def _not_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return True
    return False


def _as_datetime(name: Any, s: pd.Series) -> pd.Series:
    """A date column as ``datetime64``; text parsed, each value in the same way."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    if isinstance(s.dtype, pd.ArrowDtype):
        return s.astype(pd.ArrowDtype(s.dtype.pyarrow_dtype)).astype("datetime64[ns]")
    observed = s.dropna()
    try:
        out = pd.to_datetime(s, errors="raise", format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(observed.astype(str), errors="coerce", format="ISO8601")
        bad = observed[parsed.isna()]
        shown = bad.iloc[0] if len(bad) else observed.iloc[0]
        raise ValueError(
            f"Column {name!r}: {shown!r} is not a date (expected YYYY-MM-DD[ HH:MM[:SS]]); "
            f"fix it, or declare the column categorical in column_kinds."
        ) from None
    return out


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


def _time_ints(s: pd.Series) -> tuple[Array, str]:
    """Dates (as UTC) or durations as float counts of their unit (NaN for a gap)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = s.to_numpy()
    if arr.dtype.kind not in "mM":  # Arrow dates (date32 / date64) come out as Python dates
        arr = s.astype("datetime64[s]").to_numpy()
    unit = np.datetime_data(arr.dtype)[0]
    if unit not in _NS_PER_UNIT:  # days, say: counted in seconds
        arr, unit = arr.astype(arr.dtype.str[:3] + "[s]"), "s"
    mask = np.isnat(arr)
    out = arr.view(np.int64).astype(np.float64)
    out[mask] = np.nan
    return out, unit


# ---------------------------------------------------------------------- values and codes


def _to_numbers(spec: ColumnSpec, s: pd.Series) -> Array:
    kind = ColumnKind(spec.kind)
    if kind in (ColumnKind.DATETIME, ColumnKind.TIMEDELTA):
        if kind is ColumnKind.DATETIME:
            s = _as_datetime(spec.name, s)
        elif not pd.api.types.is_timedelta64_dtype(s.dtype):
            s = pd.to_timedelta(s, errors="raise")
        ints, unit = _time_ints(s)
        scale = _NS_PER_UNIT[unit] / _NS_PER_UNIT[spec.unit or unit]
        return ints * scale / spec.step
    mask = s.isna().to_numpy()
    out = np.full(len(s), np.nan)
    if (~mask).any():
        out[~mask] = _numbers(spec.name, s[~mask])
    return out


def _to_codes(spec: ColumnSpec, s: pd.Series) -> NDArray[np.intp]:
    lookup = {c: i for i, c in enumerate(spec.categories)}
    values = s.astype(object).to_numpy()
    mask = pd.isna(s).to_numpy() if len(s) else np.zeros(0, dtype=bool)
    out = np.full(len(s), -1, dtype=np.intp)
    for r in np.flatnonzero(~mask):
        v = values[r]
        v = v.item() if isinstance(v, np.generic) else v
        code = lookup.get(v)
        if code is None or (type(spec.categories[code]) is not type(v) and not (
            isinstance(v, (int, float)) and isinstance(spec.categories[code], (int, float))
            and not isinstance(v, bool)
        )):
            shown = spec.categories if len(spec.categories) <= 20 else (
                [*spec.categories[:20], "..."])
            raise ValueError(
                f"Column {spec.name!r}: {v!r} is not one of its categories {shown}."
            )
        out[r] = code
    return out


def _from_numbers(spec: ColumnSpec, x: Array) -> Any:
    kind = ColumnKind(spec.kind)
    gaps = np.isnan(x)
    v = np.clip(x, spec.lower, spec.upper)
    if spec.integer:
        v = np.round(v)
    dtype = _dtype_from_json(spec.dtype)
    if kind in (ColumnKind.DATETIME, ColumnKind.TIMEDELTA):
        unit = spec.unit or "ns"
        ints = np.where(gaps, 0, v * spec.step).astype(np.int64)
        base = "datetime64" if kind is ColumnKind.DATETIME else "timedelta64"
        arr = ints.astype(f"{base}[{unit}]")
        arr[gaps] = np.datetime64("NaT") if kind is ColumnKind.DATETIME else np.timedelta64(
            "NaT")
        out = pd.Series(arr)
        if spec.tz is not None:
            out = out.dt.tz_localize("UTC").dt.tz_convert(spec.tz)
        if spec.text_format is not None:  # dates read from text go back to text
            text = out.dt.strftime(spec.text_format).astype(object)
            text[gaps] = np.nan
            return pd.Series(text).astype(dtype)
        return out.astype(dtype)
    values = pd.Series(v)
    if gaps.any():
        values = values.astype(object).where(~gaps, None)
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):  # a numpy int column cannot hold gaps: floats then
        return values.astype(np.float64)


def _from_codes(spec: ColumnSpec, codes: NDArray[np.integer]) -> Any:
    gaps = codes < 0
    cats = np.empty(len(spec.categories), dtype=object)
    cats[:] = spec.categories
    values = cats[np.where(gaps, 0, codes)]
    values[gaps] = None
    dtype = _dtype_from_json(spec.dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(values, dtype=dtype))
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        t = dtype.pyarrow_dtype
        arr = pa.array(list(values), type=t.value_type if pa.types.is_dictionary(t) else t)
        if pa.types.is_dictionary(t):
            arr = arr.dictionary_encode().cast(t)
        return pd.Series(pd.array(arr, dtype=dtype))
    if isinstance(dtype, np.dtype) and dtype.kind == "b" and gaps.any():
        return pd.Series(values, dtype=object)
    if pd.api.types.is_object_dtype(dtype):
        values[gaps] = np.nan
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=object).astype(dtype)


# ---------------------------------------------------------------------- dtypes as JSON


def _dtype_to_json(dtype: Any) -> dict[str, Any]:
    if isinstance(dtype, pd.CategoricalDtype):
        return {"type": "category", "ordered": bool(dtype.ordered),
                "categories": [_plain(c, "category") for c in dtype.categories],
                "categories_dtype": _dtype_to_json(dtype.categories.dtype)}
    if isinstance(dtype, pd.StringDtype):
        return {"type": "string", "storage": dtype.storage,
                "na": "nan" if dtype.na_value is not pd.NA else "NA"}
    if isinstance(dtype, pd.ArrowDtype):
        return {"type": "arrow", "name": str(dtype.pyarrow_dtype)}
    return {"type": "pandas", "name": str(dtype)}


def _dtype_from_json(data: Mapping[str, Any]) -> Any:
    kind = data["type"]
    if kind == "category":
        cats_dtype = _dtype_from_json(data["categories_dtype"])
        return pd.CategoricalDtype(pd.Index(list(data["categories"]), dtype=cats_dtype),
                                   ordered=bool(data["ordered"]))
    if kind == "string":
        return pd.StringDtype(data["storage"], na_value=np.nan if data["na"] == "nan" else pd.NA)
    if kind == "arrow":
        import pyarrow as pa

        name = str(data["name"])
        m = re.fullmatch(r"dictionary<values=(\w+), indices=(\w+), ordered=([01])>", name)
        if m:
            t = pa.dictionary(pa.type_for_alias(m.group(2)), pa.type_for_alias(m.group(1)),
                              ordered=m.group(3) == "1")
            return pd.ArrowDtype(t)
        return pd.ArrowDtype(pa.type_for_alias(name))
    if kind == "pandas":
        return pd.api.types.pandas_dtype(str(data["name"]))
    raise ValueError(f"unknown dtype description {data!r}")
