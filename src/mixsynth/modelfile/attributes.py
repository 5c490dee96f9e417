"""Decoders and encoders of the fitted attributes kept in the model document (not tensors).

Each decoder takes the JSON value and returns the attribute's value, raising ``ValueError`` or
``TypeError`` with what is wrong; the caller adds where.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.modelfile.values import _from_json, _short, _tagged_float, _to_json

#: Class labels may not make an array larger than this (a "<U1000000000" dtype would).
_MAX_LABEL_BYTES = 2**26


def _float(value: Any, *, finite: bool = True) -> float:
    if isinstance(value, dict) and list(value) == ["$float"]:
        f = _tagged_float(value["$float"])
    elif isinstance(value, int | float) and not isinstance(value, bool):
        f = float(value)
    else:
        raise TypeError(f"expected a number, got {_short(value)}")
    if math.isnan(f) or (finite and math.isinf(f)):
        raise ValueError(f"expected a {'finite ' if finite else ''}number, got {f}")
    return f


def _int(lo: int = 0) -> Callable[[Any], int]:
    def decode(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            raise ValueError(f"expected an integer >= {lo}, got {_short(value)}")
        return value

    return decode


def _nonneg_float(value: Any) -> float:
    f = _float(value)
    if f < 0:
        raise ValueError(f"expected a number >= 0, got {f}")
    return f


def _lower_bound(value: Any) -> float:
    return _float(value, finite=False)  # -inf before any EM iteration (max_iter=0)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {_short(value)}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {_short(value)}")
    return value


def _floats(value: Any) -> list[float]:
    return [_float(v) for v in _list(value)]


def _bound_array(value: Any) -> NDArray[np.float64]:
    """Per-column bounds: ±inf allowed, NaN not."""
    return np.array([_float(v, finite=False) for v in _list(value)], dtype=np.float64)


def _decimals(value: Any) -> NDArray[np.int64]:
    """Decimal places per column: whole numbers from -1 (none detected) to 15."""
    values = _from_json(value)
    if not isinstance(values, list):
        raise ValueError(f"expected a list of decimal places, got {_short(value)}")
    out = np.array([_int(-1)(v) for v in values], dtype=np.int64)
    if out.ndim != 1 or np.any(out > 15):
        raise ValueError("decimal places must be a list of whole numbers from -1 to 15")
    return out


def _bool_array(value: Any) -> NDArray[np.bool_]:
    return np.array([_bool(v) for v in _list(value)], dtype=bool)


def _str_array(value: Any) -> NDArray[Any]:
    names = _list(value)
    if not all(isinstance(v, str) for v in names):
        raise TypeError("expected a list of strings")
    out = np.empty(len(names), dtype=object)
    out[:] = names
    return out


def _label(value: Any) -> Any:
    """A column or class label: str, int, float or bool."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict) and list(value) == ["$float"]:
        return _tagged_float(value["$float"])  # NaN too: np.unique keeps a NaN label
    raise TypeError(f"expected a str, int, float or bool label, got {_short(value)}")


def _labels_or_none(value: Any) -> list[Any] | None:
    return None if value is None else [_label(v) for v in _list(value)]


def _encode_label(value: Any, what: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return _to_json(value)
    raise ValueError(
        f"cannot save {what} {value!r} of type {type(value).__name__}: labels must be str, int, "
        "float or bool."
    )


def _encode_columns(columns: list[Any] | None) -> Any:
    return None if columns is None else [_encode_label(c, "the column label") for c in columns]


def _encode_dtypes(dtypes: list[Any] | None) -> Any:
    return None if dtypes is None else [str(d) for d in dtypes]


def _numpy_dtype(name: str, kinds: str | None = None) -> np.dtype[Any]:
    """The numpy dtype written as ``name``: exactly ``str(dtype)``, the form the writer uses.

    Aliases and deprecated spellings (``"a"``, ``"f8"``) are refused, so numpy never warns
    while a file loads (a fuzzed ``"a"`` made it emit a DeprecationWarning). A name numpy does
    not know raises TypeError, as :func:`numpy.dtype` does; a dtype outside ``kinds`` (numpy
    kind letters, when given) is refused before its spelling is.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            dtype = np.dtype(name)
        except (DeprecationWarning, FutureWarning):
            raise ValueError(f"dtype name {name!r} is a deprecated alias") from None
    if kinds is not None and dtype.kind not in kinds:
        raise ValueError(f"column dtype {name!r} is not numeric")
    if str(dtype) != name:
        raise ValueError(f"dtype name {name!r} is not written as {str(dtype)!r}")
    return dtype


def _dtypes(value: Any) -> list[Any] | None:
    if value is None:
        return None
    out = []
    for name in _list(value):
        if not isinstance(name, str):
            raise TypeError(f"expected dtype names, got {_short(name)}")
        try:
            dtype = _numpy_dtype(name, "biuf")
        except TypeError:
            out.append(_pandas_dtype(name))
            continue
        out.append(dtype)
    return out


def _pandas_dtype(name: str) -> Any:
    """A pandas extension dtype ("Int64", "boolean"): pandas is there when one was fitted."""
    try:
        from pandas.api.types import pandas_dtype
    except ImportError:
        raise ValueError(f"column dtype {name!r} needs pandas, which is not installed") from None
    return pandas_dtype(name)


_LABEL_KINDS = "Uiufb"


def _encode_classes(classes: NDArray[Any] | None) -> Any:
    if classes is None:
        return None
    arr = np.asarray(classes)
    if arr.dtype.kind not in _LABEL_KINDS and arr.dtype != object:
        raise ValueError(
            f"cannot save class labels of dtype {arr.dtype}: labels must be str, int, float or "
            "bool."
        )
    return {"dtype": str(arr.dtype),
            "values": [_encode_label(c, "the class label") for c in arr.tolist()]}


def _classes(value: Any) -> NDArray[Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"dtype", "values"}:
        raise ValueError("expected {'dtype': ..., 'values': [...]}")
    if not isinstance(value["dtype"], str):
        raise TypeError("dtype must be a string")
    dtype = _numpy_dtype(value["dtype"])
    values = [_label(v) for v in _list(value["values"])]
    if not values or dtype.itemsize * len(values) > _MAX_LABEL_BYTES:
        raise ValueError(f"{len(values)} class labels of dtype {dtype}")
    if dtype.kind == "O":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    kind = dtype.kind
    if kind not in _LABEL_KINDS:
        raise ValueError(f"class labels of dtype {dtype} are not supported")
    wanted = {"U": str, "b": bool, "i": int, "u": int, "f": float}[kind]
    for v in values:
        if not isinstance(v, wanted) or (wanted is int and isinstance(v, bool)):
            raise TypeError(f"label {v!r} does not fit dtype {dtype}")
    arr = np.array(values, dtype=dtype)
    if kind in "Uiu" and arr.tolist() != values:  # truncated strings, wrapped integers
        raise ValueError(f"labels do not fit dtype {dtype}")
    return arr

