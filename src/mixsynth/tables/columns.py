"""One column: what it is (:class:`ColumnSpec`) and its values as numbers or codes, both ways.

:func:`_to_numbers` / :func:`_to_codes` turn a column into model units (NaN or -1 for a gap),
:func:`_from_numbers` / :func:`_from_codes` rebuild it with its dtype; dtypes travel as JSON
(:func:`_dtype_to_json`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixsynth.tables.kinds import DISCRETE_KINDS, ColumnKind

__all__ = ["ColumnSpec"]

Array = NDArray[np.float64]


_NS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


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


def _plain(value: Any, name: Any) -> Any:
    """A category as a JSON value (str, int, float or bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int)) or (isinstance(value, float) and np.isfinite(value)):
        return value
    raise ValueError(f"Column {name!r} has a category {value!r} of type "
                     f"{type(value).__name__}; categories must be text, numbers or booleans.")


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


def _dtype_to_json(dtype: Any, name: Any = None) -> dict[str, Any]:
    if isinstance(dtype, pd.CategoricalDtype):
        return {"type": "category", "ordered": bool(dtype.ordered),
                "categories": [_plain(c, name) for c in dtype.categories],
                "categories_dtype": _dtype_to_json(dtype.categories.dtype, name)}
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
