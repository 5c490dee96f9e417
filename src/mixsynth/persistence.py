"""Model files: a fitted :class:`Synthesizer` or :class:`GaussianMixture` in one safetensors file.

Nothing is pickled. :func:`save` writes the arrays as tensors and everything else as a JSON
document; :func:`load` checks the file from the outside in (size, header, format tag and version,
checksum, then every tensor and attribute) and rebuilds the estimators in code: it creates each
one from its parameters and sets its fitted attributes.

File layout
-----------
A `safetensors <https://huggingface.co/docs/safetensors>`_ file::

    8 bytes    N, the header's length (unsigned, little-endian)
    N bytes    the header: JSON {"__metadata__": {"mixsynth": DOCUMENT}, "<tensor name>":
               {"dtype", "shape", "data_offsets"}, ...}, padded with spaces
    the rest   the tensors' bytes, little-endian, back to back

The metadata has one key, ``"mixsynth"`` (one only, because safetensors writes its metadata
map in no fixed order and a model should always give the same bytes). Its value, the model
DOCUMENT, is canonical JSON (keys sorted, no whitespace, ASCII only, no NaN or Infinity)::

    {"format": "mixsynth-model", "format_version": 1, "library_version": "0.1.0",
     "kind": "synthesizer" | "gaussian_mixture", "model": NODE, "sha256": "<64 hex digits>"}

A NODE describes one object: ``{"params": ..., "attrs": ..., CHILDREN}``. ``params`` is
``get_params()`` (tuples and ranges as lists). ``attrs`` holds the fitted attributes that are
not tensors, named without their underscores: scalars (``n_features_in``, ``n_components``,
``n_samples``, ``noise_variance``, ``converged``, ``n_iter``, ``lower_bound``, ``lower_bounds``)
and what describes the columns and the fit (``feature_names_in``; ``columns`` and ``dtypes``
for a DataFrame, dtypes as strings such as ``"int64"``; ``lower_bounds``, ``upper_bounds``,
``integer_columns``; ``classes``, as ``{"dtype": "<U1", "values": [...]}``; ``selection``, as
:meth:`SelectionResult.to_dict`; ``memorization``). CHILDREN of a synthesizer are
``"support_transform"``, ``"whitener"`` and ``"mixture"`` (a NODE or null) and, when it is
class-conditional, ``"class_models"`` (a list of NODEs). A non-finite float is written
``{"$float": "inf"}`` (``"-inf"``, ``"nan"``); a seed that is not an int as
``{"$seed_sequence": ...}``, ``{"$generator": ...}`` or ``{"$random_state": ...}`` holding its
exact state.

``sha256`` is the SHA-256 of the canonical JSON of the document *without* its ``sha256`` key,
followed by every tensor in order of name (Unicode code points): its name, its dtype (``"F64"``
or ``"U8"``), its shape (each dimension as an 8-byte little-endian unsigned int) and its raw
bytes. Each of these fields is fed to the hash preceded by its length in bytes, as an 8-byte
little-endian unsigned int, so that no two different files hash the same bytes.

Tensors are ``F64``; boolean masks are ``U8`` holding 0 or 1. Each is named by the path of its
object and the attribute without underscores (``d`` features, ``k`` whitened directions, ``K``
components, ``C`` classes)::

    support_transform.lower, .upper                  (d,)   ±inf allowed
    support_transform.integer, .active               (d,)   U8
    whitener.mean, whitener.scale                    (d,)
    whitener.components                              (k, d)
    whitener.explained_variance, ..._ratio           (k,)
    whitener.constant_mask                           (d,)   U8
    whitener.constant_values                         (number of constant columns,)
    mixture.weights                                  (K,)
    mixture.means                                    (K, k)
    mixture.precisions_cholesky                      (K, k, k) full, (k, k) tied,
                                                     (K, k) diag, (K,) spherical
    class_priors                                     (C,)   class-conditional only
    class.<i>.whitener.*, class.<i>.mixture.*, ...   the synthesizer of the i-th class

A bare :class:`GaussianMixture` is stored as ``mixture.*``, with its ``n_features_in_`` for k.

Adding a fitted attribute
-------------------------
What is stored is the tables :data:`_SYNTHESIZER`, :data:`_SUPPORT`, :data:`_WHITENER` and
:data:`_MIXTURE` below. A new array is one line, such as ``Tensor("shift_", ("d",))``
(``optional=True`` when it may be ``None``, ``finite=False`` to allow ±inf); a new scalar or
JSON value is one :class:`Attr` line; a new nested object one :class:`Child` line and a
:class:`Table`; invariants across attributes go in the table's ``finish``. Files written before
a required attribute was added no longer load: bump :data:`FORMAT_VERSION` then, or make the
new entry optional.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from mixsynth._version import __version__
from mixsynth.core import Params
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.io.atomic import atomic_write_bytes
from mixsynth.model import ClassConditional, PointMass, WhitenedMixture
from mixsynth.selection import CRITERIA, Candidate, SelectionResult
from mixsynth.support import SupportTransform
from mixsynth.synthesizer import SUPPORTS, Synthesizer
from mixsynth.whitening import Whitener

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load", "read_metadata", "save"]

#: The format tag of the model document.
FORMAT = "mixsynth-model"
#: The newest format version this build writes and reads.
FORMAT_VERSION = 1
#: The safetensors metadata key of the model document, and the document's checksum key.
_DOC_KEY, _HASH_KEY = "mixsynth", "sha256"
#: safetensors refuses headers above 100 MB; so do we, before reading one.
MAX_HEADER_BYTES = 100_000_000
#: Tolerance on the sum of mixture weights and class priors.
_WEIGHTS_ATOL = 1e-8

_KINDS: dict[type, str] = {Synthesizer: "synthesizer", GaussianMixture: "gaussian_mixture"}
_ROOT_PREFIX = {"synthesizer": "", "gaussian_mixture": "mixture."}

Model = Synthesizer | GaussianMixture


class ModelFileError(ValueError):
    """The file is not a valid mixsynth model file (the command line exits with 65)."""


def _not_a_model(why: str) -> ModelFileError:
    return ModelFileError(f"not a mixsynth model file: {why}")


# ------------------------------------------------------------------------------ JSON values


def _to_json(value: Any, where: str = "value") -> Any:
    """A JSON-ready copy of ``value``: arrays and tuples as lists, non-finite floats and seeds
    as tagged objects. Raises ``ValueError`` for anything else."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else {"$float": repr(f)}  # "inf", "-inf", "nan"
    if isinstance(value, list | tuple | range):
        return [_to_json(v, where) for v in value]
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist(), where)
    if isinstance(value, np.random.SeedSequence):
        entropy: Any = value.entropy
        return {"$seed_sequence": {
            "entropy": entropy if isinstance(entropy, int) else [int(e) for e in entropy],
            "spawn_key": [int(k) for k in value.spawn_key],
            "pool_size": int(value.pool_size),
            "n_children_spawned": int(value.n_children_spawned),
        }}
    if isinstance(value, np.random.Generator):
        return {"$generator": _to_json(value.bit_generator.state, where)}
    if isinstance(value, np.random.RandomState):
        return {"$random_state": _to_json(value.get_state(legacy=False), where)}
    if _is_bounds_mapping(value):
        # Synthesizer(bounds={column: (lo, hi)}): keys may be names or positions
        return {"$bounds": [[_to_json(k, where), _to_json(float(lo), where),
                             _to_json(float(hi), where)] for k, (lo, hi) in value.items()]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        # bit-generator states and diagnostics; a parameter dict is refused at load (and so
        # at save, which checks that the file loads back)
        return {k: _to_json(v, where) for k, v in value.items()}
    raise ValueError(
        f"cannot save {where}={value!r}: only None, bool, int, float, str, sequences of them "
        "and numpy seeds can be stored in a model file."
    )


def _is_bounds_mapping(value: Any) -> bool:
    """``{column: (lo, hi)}``: str or int keys, tuples of two real numbers."""
    return (isinstance(value, dict) and bool(value) and all(
        isinstance(k, str | int | np.integer) and not isinstance(k, bool)
        and isinstance(v, tuple) and len(v) == 2
        and all(isinstance(x, int | float | np.integer | np.floating) for x in v)
        for k, v in value.items()))


def _bounds_from_json(body: Any) -> dict[Any, tuple[float, float]]:
    if not isinstance(body, list):
        raise ValueError("expected a list of [column, lo, hi]")
    out: dict[Any, tuple[float, float]] = {}
    for item in body:
        if (not isinstance(item, list) or len(item) != 3
                or not isinstance(item[0], str | int) or isinstance(item[0], bool)):
            raise ValueError("expected [column, lo, hi] with a str or int column")
        lo, hi = (_tagged_float(v["$float"]) if isinstance(v, dict) and "$float" in v
                  else _float(v, finite=False) for v in item[1:])
        out[item[0]] = (lo, hi)
    return out


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MAX_POOL_SIZE = 1024
#: Class labels may not make an array larger than this (a "<U1000000000" dtype would).
_MAX_LABEL_BYTES = 2**26


def _from_json(value: Any, *, objects: bool = False) -> Any:
    """Inverse of :func:`_to_json` (lists stay lists); plain objects only with ``objects``."""
    if isinstance(value, list):
        return [_from_json(v, objects=objects) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith("$"):
        if objects:
            return {k: _from_json(v, objects=True) for k, v in value.items()}
        raise ValueError(f"unexpected object {_short(value)}")
    (tag, body), = value.items()
    if tag == "$float":
        return _tagged_float(body)
    try:
        if tag == "$bounds":
            return _bounds_from_json(body)
        if tag == "$seed_sequence":
            _check_seed_sequence(body)
            return np.random.SeedSequence(
                body["entropy"], spawn_key=tuple(body["spawn_key"]),
                pool_size=body["pool_size"], n_children_spawned=body["n_children_spawned"],
            )
        if tag == "$generator" and body.get("bit_generator") in _BIT_GENERATORS:
            _check_bit_generator_state(body, legacy=False)
            bit_generator = getattr(np.random, body["bit_generator"])()
            bit_generator.state = body
            return np.random.Generator(bit_generator)
        if tag == "$random_state":
            _check_bit_generator_state(body, legacy=True)
            state = np.random.RandomState()
            state.set_state(body)
            return state
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise ValueError(f"invalid {tag} {_short(body)}: {exc}") from None
    raise ValueError(f"unexpected object {_short(value)}")


#: Bounds on a stored SeedSequence. numpy trusts these: ``n_children_spawned`` is a C uint32
#: (2**32 - 1 makes ``spawn`` loop forever), ``pool_size`` sizes an allocation.
_MAX_CHILDREN = 2**31
_MAX_SEED_WORDS = 1024
_MAX_SEED_INT = 2**4096


def _check_uint(value: Any, field: str, below: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < below:
        raise ValueError(f"{field} must be an integer in [0, {below}), got {_short(value)}")


def _check_uints(value: Any, field: str, below: int, length: int | None = None,
                 max_length: int = _MAX_SEED_WORDS) -> None:
    if not isinstance(value, list) or len(value) > max_length or (
        length is not None and len(value) != length
    ):
        size = f"{length}" if length is not None else f"at most {max_length}"
        raise ValueError(f"{field} must be a list of {size} integers")
    for v in value:
        _check_uint(v, field, below)


def _check_keys(body: Any, keys: set[str], what: str) -> None:
    if not isinstance(body, dict) or set(body) != keys:
        got = sorted(body) if isinstance(body, dict) else _short(body)
        raise ValueError(f"{what} must have exactly the fields {sorted(keys)}, got {got}")


def _check_seed_sequence(body: Any) -> None:
    """Every field of a stored SeedSequence, before numpy's C code trusts it."""
    _check_keys(body, {"entropy", "spawn_key", "pool_size", "n_children_spawned"},
                  "a seed_sequence")
    entropy = body["entropy"]
    if isinstance(entropy, list):
        _check_uints(entropy, "seed_sequence.entropy", _MAX_SEED_INT)
    else:
        _check_uint(entropy, "seed_sequence.entropy", _MAX_SEED_INT)
    _check_uints(body["spawn_key"], "seed_sequence.spawn_key", _MAX_SEED_INT, max_length=64)
    pool = body["pool_size"]
    if not isinstance(pool, int) or isinstance(pool, bool) or not 4 <= pool <= _MAX_POOL_SIZE:
        raise ValueError(f"seed_sequence.pool_size must be in [4, {_MAX_POOL_SIZE}]")
    _check_uint(body["n_children_spawned"], "seed_sequence.n_children_spawned", _MAX_CHILDREN)


_U32, _U64, _U128 = 2**32, 2**64, 2**128
#: The inner ``state`` of each bit generator: field -> (bound, list length or None).
_BIT_GENERATOR_FIELDS: dict[str, dict[str, tuple[int, int | None]]] = {
    "MT19937": {"key": (_U32, 624), "pos": (625, None)},
    "PCG64": {"state": (_U128, None), "inc": (_U128, None)},
    "PCG64DXSM": {"state": (_U128, None), "inc": (_U128, None)},
    "Philox": {"counter": (_U64, 4), "key": (_U64, 2)},
    "SFC64": {"state": (_U64, 4)},
}


def _check_bit_generator_state(body: Any, *, legacy: bool) -> None:
    """Every field of a stored generator state, in range: numpy's bit generators index
    buffers with ``pos`` / ``buffer_pos`` unchecked (an out-of-range one crashes the
    interpreter at the first draw)."""
    name = body.get("bit_generator") if isinstance(body, dict) else None
    if name not in _BIT_GENERATOR_FIELDS or (legacy and name != "MT19937"):
        raise ValueError(f"unknown bit generator {_short(name)}")
    outer = {"bit_generator", "state"}
    if legacy:
        outer |= {"has_gauss", "gauss"}
    elif name != "MT19937":
        outer |= {"has_uint32", "uinteger"}
    if name == "Philox":
        outer |= {"buffer", "buffer_pos"}
    _check_keys(body, outer, f"a {name} state")
    inner = _BIT_GENERATOR_FIELDS[name]
    _check_keys(body["state"], set(inner), f"a {name} state's 'state'")
    for field, (below, length) in inner.items():
        value = body["state"][field]
        if length is None:
            _check_uint(value, f"{name} state.{field}", below)
        else:
            _check_uints(value, f"{name} state.{field}", below, length)
    if "has_uint32" in body:
        _check_uint(body["has_uint32"], f"{name} has_uint32", 2)
        _check_uint(body["uinteger"], f"{name} uinteger", _U32)
    if name == "Philox":
        _check_uints(body["buffer"], "Philox buffer", _U64, 4)
        _check_uint(body["buffer_pos"], "Philox buffer_pos", 5)
    if legacy:
        _check_uint(body["has_gauss"], "random_state has_gauss", 2)
        gauss = body["gauss"]
        if not isinstance(gauss, float) or not math.isfinite(gauss):
            raise ValueError(f"random_state gauss must be a finite float, got {_short(gauss)}")


def _param_from_json(name: str, value: Any) -> Any:
    """A parameter's value, its name in the message when it is invalid."""
    try:
        return _from_json(value)
    except ValueError as exc:
        raise ValueError(f"parameter {name!r}: {exc}") from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate keys in a JSON object")
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str | bytes, what: str) -> Any:
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")  # strictly: json.loads would also guess UTF-16/32
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise _not_a_model(f"{what} is not valid JSON ({exc})") from None


# --------------------------------------------------------------------- attribute decoders
#
# Each takes the JSON value and returns the attribute's value, raising ValueError or TypeError
# with what is wrong; the caller adds where.


def _tagged_float(tag: Any) -> float:
    f = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(tag) if isinstance(
        tag, str) else None
    if f is None:
        raise ValueError(f"unknown $float {_short(tag)}")
    return f


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


def _decimals_array(value: Any) -> NDArray[np.int64]:
    """Decimal places per column: whole numbers from -1 (none detected) to 15."""
    out = np.array([_int(-1)(v) for v in _list(value)], dtype=np.int64)
    if np.any(out > 15):
        raise ValueError("decimal places must be at most 15")
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


def _dtypes(value: Any) -> list[Any] | None:
    if value is None:
        return None
    out = []
    for name in _list(value):
        if not isinstance(name, str):
            raise TypeError(f"expected dtype names, got {_short(name)}")
        try:
            dtype = np.dtype(name)
        except TypeError:
            out.append(_pandas_dtype(name))
            continue
        if dtype.kind not in "biuf":
            raise ValueError(f"column dtype {name!r} is not numeric")
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
    dtype = np.dtype(value["dtype"])
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


def _encode_selection(selection: SelectionResult | None) -> Any:
    return None if selection is None else _to_json(selection.to_dict())


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "float | None": lambda v: v is None or _FIELD_CHECKS["float"](v),
    "int | None": lambda v: v is None or _FIELD_CHECKS["int"](v),
    "tuple[float, ...]": lambda v: isinstance(v, list) and all(map(_FIELD_CHECKS["float"], v)),
    "tuple[str, ...]": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
}


def _check_fields(cls: type, data: dict[str, Any]) -> None:
    """Values of the right JSON types for the dataclass ``cls`` (unknown fields: TypeError)."""
    for f in fields(cls):
        check = _FIELD_CHECKS.get(str(f.type))
        if f.name in data and check is not None and not check(data[f.name]):
            raise TypeError(f"{cls.__name__}.{f.name} = {_short(data[f.name])}")


def _selection(value: Any) -> SelectionResult | None:
    if value is None:
        return None
    data = _from_json(value, objects=True)
    if not isinstance(data, dict) or not isinstance(data.get("candidates"), list):
        raise ValueError("expected SelectionResult.to_dict()")
    for cand in data["candidates"]:
        if not isinstance(cand, dict):
            raise TypeError("a candidate is not an object")
        _check_fields(Candidate, cand)
    _check_fields(SelectionResult, data)
    result = SelectionResult.from_dict(data)
    if result.criterion not in CRITERIA or not 0 <= result.best_index < len(result.candidates):
        raise ValueError("criterion or best_index out of range")
    return result


# ------------------------------------------------------------------------------ the tables

Shape = tuple[int, ...]
Check = Callable[[NDArray[np.float64], Any], "str | None"]


@dataclass(frozen=True)
class Attr:
    """A fitted attribute kept in the model document under its name without underscores."""

    attr: str
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any] = _to_json
    #: The estimator may lack the attribute (``feature_names_in_``): then the key is absent.
    optional: bool = False

    @property
    def key(self) -> str:
        return self.attr.strip("_")


@dataclass(frozen=True)
class Tensor:
    """A fitted array kept as the tensor ``<estimator path>.<name without underscores>``."""

    attr: str
    #: Dimension names looked up in the table's ``dims``, or a function of the estimator being
    #: rebuilt (its parameters, attributes and the tensors before this one are set).
    shape: tuple[str, ...] | Callable[[Any], Shape]
    #: Returns what is wrong with the (finite) array, or None.
    check: Check | None = None
    #: A boolean array, stored as U8 0/1.
    mask: bool = False
    #: False: ±inf allowed (bounds); NaN never is.
    finite: bool = True
    #: ``None`` is stored as no tensor (and loaded as ``None``).
    optional: bool = False

    @property
    def key(self) -> str:
        return self.attr.strip("_")


@dataclass(frozen=True)
class Child:
    """A nested estimator (``many``: a tuple of them, tensors under ``<prefix>.<i>.``)."""

    attr: str
    table: str
    key: str
    prefix: str
    many: bool = False


@dataclass(frozen=True)
class Table:
    """How one class is stored: a scikit-learn estimator, or a record built at the end."""

    cls: type
    attrs: tuple[Attr, ...]
    tensors: tuple[Tensor, ...]
    #: Dimension sizes for the tensor shapes, added to those of the enclosing estimator.
    dims: Callable[[Any], dict[str, int]] = lambda est: {}
    children: tuple[Child, ...] = ()
    #: Raises (ValueError, TypeError) on parameters the fitted state cannot be used with.
    check_params: Callable[[Any], None] = lambda est: est._validate_params()
    #: Cross-attribute invariants and derived attributes; raises ModelFileError.
    finish: Callable[[Any, str], None] = lambda est, where: None
    #: For records (frozen dataclasses) rather than estimators: the parameter names, how to
    #: read them, and how to build the object from a namespace holding parameters and fields.
    record_params: tuple[str, ...] | None = None
    build: Callable[[Any], Any] | None = None

    def get_params(self, est: Any) -> dict[str, Any]:
        if self.record_params is None:
            return dict(est.get_params(deep=False))
        return {name: getattr(est, name) for name in self.record_params}

    def param_names(self) -> set[str]:
        if self.record_params is None:
            return set(self.cls().get_params(deep=False))
        return set(self.record_params)


def _positive(a: NDArray[np.float64], est: Any) -> str | None:
    return None if np.all(a > 0) else "has values <= 0"


def _unit_interval(a: NDArray[np.float64], est: Any) -> str | None:
    return None if np.all((a >= 0) & (a <= 1)) else "has values outside [0, 1]"


def _probabilities(a: NDArray[np.float64], est: Any) -> str | None:
    if np.any(a < 0):
        return "has negative values"
    if abs(float(a.sum()) - 1.0) > _WEIGHTS_ATOL:
        return f"sums to {float(a.sum())!r}, not 1"
    return None


def _precision_cholesky_shape(gm: GaussianMixture) -> Shape:
    K, d = gm.n_components, gm.n_features_in_
    return {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}[
        gm.covariance_type
    ]


def _precision_cholesky_check(a: NDArray[np.float64], gm: GaussianMixture) -> str | None:
    if gm.covariance_type in ("diag", "spherical"):
        return _positive(a, gm)
    d = a.shape[-1]
    mats = a.reshape(-1, d, d)
    # P with precision = P P^T: upper from covariances (P = L^-T), lower from precisions_init
    lower = np.all(np.triu(mats, 1) == 0, axis=(1, 2))
    upper = np.all(np.tril(mats, -1) == 0, axis=(1, 2))
    if not np.all(lower | upper):
        return f"is not triangular (component {int(np.argmin(lower | upper))})"
    if not np.all(np.diagonal(mats, axis1=1, axis2=2) > 0):
        return "has a diagonal entry <= 0"
    return None


def _same_length(where: str, est: Any, n: int, *attrs: str) -> None:
    for name in attrs:
        value = getattr(est, name, None)
        if value is not None and len(value) != n:
            raise ModelFileError(f"{where}: {name} has {len(value)} entries, expected {n}")


def _finish_whitener(w: Whitener, where: str) -> None:
    d = w.n_features_in_
    _same_length(where, w, d, "feature_names_in_")
    n_varying = int(np.count_nonzero(~w.constant_mask_))
    if w.n_components_ > n_varying:
        raise ModelFileError(
            f"{where}: n_components_={w.n_components_} exceeds the {n_varying} non-constant "
            "column(s)"
        )
    if not np.array_equal(w.constant_values_, w.mean_[w.constant_mask_]):
        raise ModelFileError(
            f"tensor '{where}.constant_values' disagrees with '{where}.mean' on constant columns"
        )


def _finish_mixture(gm: GaussianMixture, where: str) -> None:
    _same_length(where, gm, gm.n_features_in_, "feature_names_in_")
    with np.errstate(all="ignore"):
        gm._set_params(Params(gm.weights_, gm.means_, gm.precisions_cholesky_,
                              gm.covariance_type))
    if not (np.all(np.isfinite(gm.precisions_)) and np.all(np.isfinite(gm.covariances_))):
        raise ModelFileError(
            f"tensor '{where}.precisions_cholesky': the precisions or covariances it implies "
            "are not finite"
        )


def _check_synthesizer_params(s: Synthesizer) -> None:
    if s.support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {s.support!r}")
    if s.scale not in ("std", "none") or not isinstance(s.whiten, bool):
        raise ValueError("scale must be 'std' or 'none' and whiten a bool")


def _finish_synthesizer(s: Synthesizer, where: str) -> None:
    d = s.n_features_in_
    _same_length(where, s, d, "feature_names_in_", "_columns", "_dtypes", "lower_bounds_",
                 "upper_bounds_", "integer_columns_")
    if (s._columns is None) != (s._dtypes is None):
        raise ModelFileError(f"{where}: columns and dtypes must both be given or both be null")
    if not np.all(s.lower_bounds_ <= s.upper_bounds_):
        raise ModelFileError(f"{where}: a lower bound exceeds its upper bound")
    single = (s.whitener_, s.mixture_, s.selection_, s.support_transform_)
    if s.classes_ is None:
        if s.whitener_ is None or hasattr(s, "class_models_") or s.class_priors_ is not None:
            raise ModelFileError(f"{where}: a synthesizer needs a whitener and no classes")
        if s.whitener_.n_features_in_ != d:
            raise ModelFileError(f"{where}: the whitener has {s.whitener_.n_features_in_} "
                                 f"features, expected {d}")
        k = s.whitener_.n_components_
        if (s.mixture_ is None) != (k == 0):
            raise ModelFileError(f"{where}: the mixture must be null exactly when the whitener "
                                 "keeps no direction")
        if s.mixture_ is not None and s.mixture_.n_features_in_ != k:
            raise ModelFileError(f"{where}: the mixture has {s.mixture_.n_features_in_} "
                                 f"features, expected {k} (the whitened directions)")
        del s.class_priors_  # not an attribute of an ordinary synthesizer
        return
    models = getattr(s, "class_models_", None)
    if any(x is not None for x in single) or models is None or s.class_priors_ is None:
        raise ModelFileError(f"{where}: a class-conditional synthesizer needs class models and "
                             "priors, and no whitener, mixture, selection or support transform "
                             "of its own")
    if len(models) != len(s.classes_):
        raise ModelFileError(f"{where}: {len(models)} class models for {len(s.classes_)} classes")
    for i, m in enumerate(models):
        if m.classes_ is not None or m.n_features_in_ != d:
            raise ModelFileError(f"{where}: class model {i} must be a plain synthesizer over "
                                 f"{d} features")


def _build_synthesizer(ns: SimpleNamespace) -> Synthesizer:
    """A synthesizer from its checked parameters and fitted pieces: its model object is a
    :class:`~mixsynth.model.ClassConditional` when the file has classes, else a
    :class:`~mixsynth.model.WhitenedMixture` (over a point mass when the mixture is null)."""
    s = Synthesizer(**{k: getattr(ns, k) for k in _SYNTHESIZER.param_names()})
    s.n_features_in_ = ns.n_features_in_
    if hasattr(ns, "feature_names_in_"):
        s.feature_names_in_ = ns.feature_names_in_
    s._columns, s._dtypes = ns._columns, ns._dtypes
    memorization = getattr(ns, "memorization_", None)
    if ns.classes_ is not None:
        s.model_ = ClassConditional(ns.classes_, ns.class_priors_, ns.class_models_,
                                    memorization)
    else:  # the file stores a point mass as a null mixture
        mixture = PointMass() if ns.mixture_ is None else ns.mixture_
        s.model_ = WhitenedMixture(
            ns.whitener_, mixture, ns.support_transform_, ns.lower_bounds_, ns.upper_bounds_,
            ns.integer_columns_, s.support, ns.selection_, memorization,
            getattr(ns, "decimals_", None),
        )
    return s


def _check_support_params(t: Any) -> None:
    eps = getattr(t, "eps", None)
    if not isinstance(eps, float) or not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be a float in (0, 0.5), got {_short(eps)}")
    margin = getattr(t, "margin", 0.0)
    if not isinstance(margin, float) or not 0.0 <= margin <= 1.0:
        raise ValueError(f"margin must be a float in [0, 1], got {_short(margin)}")


def _finish_support(t: Any, where: str) -> None:
    active = t.active
    if np.any(t.integer & ~active):
        raise ModelFileError(f"tensor '{where}.integer' marks a column that is not active")
    lo, hi = t.lower[active], t.upper[active]
    if not (np.all(np.isfinite(lo) & np.isfinite(hi)) and np.all(hi > lo)):
        raise ModelFileError(
            f"tensor '{where}.active' marks a column without finite, distinct bounds"
        )


def _memorization(value: Any) -> dict[str, Any] | None:
    out = _from_json(value, objects=True)
    if out is not None and not isinstance(out, dict):
        raise TypeError(f"expected an object or null, got {_short(value)}")
    return out


_FEATURE_NAMES = Attr("feature_names_in_", _str_array, optional=True)

_SUPPORT = Table(
    cls=SupportTransform,
    attrs=(),
    tensors=(
        Tensor("lower", ("d",), finite=False),
        Tensor("upper", ("d",), finite=False),
        Tensor("integer", ("d",), mask=True),
        Tensor("active", ("d",), mask=True),
    ),
    check_params=_check_support_params,
    finish=_finish_support,
    record_params=("eps", "margin"),
    # files written before margins existed have none: their transforms had no margin
    build=lambda t: SupportTransform(t.lower, t.upper, t.integer, t.active, t.eps,
                                     float(getattr(t, "margin", 0.0))),
)

_WHITENER = Table(
    cls=Whitener,
    attrs=(
        Attr("n_features_in_", _int(1)),
        _FEATURE_NAMES,
        Attr("n_components_", _int(0)),
        Attr("n_samples_", _int(1)),
        Attr("noise_variance_", _nonneg_float),
    ),
    tensors=(
        Tensor("mean_", ("d",)),
        Tensor("scale_", ("d",), _positive),
        Tensor("components_", ("k", "d")),
        Tensor("explained_variance_", ("k",), _positive),
        Tensor("explained_variance_ratio_", ("k",), _unit_interval),
        Tensor("constant_mask_", ("d",), mask=True),
        Tensor("constant_values_", lambda w: (int(np.count_nonzero(w.constant_mask_)),)),
    ),
    dims=lambda w: {"d": w.n_features_in_, "k": w.n_components_},
    finish=_finish_whitener,
)

_MIXTURE = Table(
    cls=GaussianMixture,
    attrs=(
        Attr("n_features_in_", _int(1)),
        _FEATURE_NAMES,
        Attr("converged_", _bool),
        Attr("n_iter_", _int(0)),
        Attr("lower_bound_", _lower_bound),
        Attr("lower_bounds_", _floats),
    ),
    tensors=(
        Tensor("weights_", ("K",), _probabilities),
        Tensor("means_", ("K", "d")),
        Tensor("precisions_cholesky_", _precision_cholesky_shape, _precision_cholesky_check),
    ),
    dims=lambda gm: {"K": gm.n_components, "d": gm.n_features_in_},
    finish=_finish_mixture,
)

_SYNTHESIZER = Table(
    cls=Synthesizer,
    attrs=(
        Attr("n_features_in_", _int(1)),
        _FEATURE_NAMES,
        Attr("_columns", _labels_or_none, _encode_columns),
        Attr("_dtypes", _dtypes, _encode_dtypes),
        Attr("lower_bounds_", _bound_array),
        Attr("upper_bounds_", _bound_array),
        Attr("integer_columns_", _bool_array),
        Attr("decimals_", _decimals_array, optional=True),  # files before decimals: none
        Attr("classes_", _classes, _encode_classes),
        Attr("selection_", _selection, _encode_selection),
        Attr("memorization_", _memorization, optional=True),
    ),
    tensors=(
        Tensor("class_priors_", ("C",), _probabilities, optional=True),
    ),
    dims=lambda s: {"d": s.n_features_in_, "C": 0 if s.classes_ is None else len(s.classes_)},
    children=(
        Child("support_transform_", "support", "support_transform", "support_transform"),
        Child("whitener_", "whitener", "whitener", "whitener"),
        Child("mixture_", "mixture", "mixture", "mixture"),
        Child("class_models_", "synthesizer", "class_models", "class", many=True),
    ),
    check_params=_check_synthesizer_params,
    finish=_finish_synthesizer,
    build=_build_synthesizer,  # its fitted state is a model object, built from the pieces
)

_TABLES: dict[str, Table] = {
    "support": _SUPPORT, "whitener": _WHITENER, "mixture": _MIXTURE, "synthesizer": _SYNTHESIZER,
}
_ROOT_TABLE = {"synthesizer": "synthesizer", "gaussian_mixture": "mixture"}


# ------------------------------------------------------------------------------ encoding

_DTYPES: dict[str, str] = {"F64": "<f8", "U8": "u1"}


def _encode(table: Table, est: Any, prefix: str, tensors: dict[str, NDArray[Any]]) -> Any:
    name = type(est).__name__
    node: dict[str, Any] = {
        "params": {k: _to_json(v, f"{name} parameter {k}")
                   for k, v in table.get_params(est).items()},
    }
    attrs: dict[str, Any] = {}
    for a in table.attrs:
        if a.optional and not hasattr(est, a.attr):
            continue
        attrs[a.key] = a.encode(getattr(est, a.attr))
    node["attrs"] = attrs
    for t in table.tensors:
        value = getattr(est, t.attr, None)
        if value is None and t.optional:
            continue
        arr = np.asarray(value)
        tensors[prefix + t.key] = np.ascontiguousarray(arr, dtype="u1" if t.mask else "<f8")
    for c in table.children:
        sub = _TABLES[c.table]
        if c.many:
            if hasattr(est, c.attr):
                node[c.key] = [_encode(sub, m, f"{prefix}{c.prefix}.{i}.", tensors)
                               for i, m in enumerate(getattr(est, c.attr))]
        else:
            value = getattr(est, c.attr, None)
            node[c.key] = None if value is None else _encode(sub, value,
                                                             f"{prefix}{c.prefix}.", tensors)
    return node


def _digest(doc: str, tensors: Mapping[str, tuple[str, Shape, bytes]]) -> str:
    """The file's checksum (module docstring): length-prefixed fields, tensors by name."""
    h = hashlib.sha256()

    def put(field: bytes) -> None:
        h.update(len(field).to_bytes(8, "little"))
        h.update(field)

    put(doc.encode("utf-8"))
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        put(name.encode("utf-8"))
        put(dtype.encode("ascii"))
        put(b"".join(int(n).to_bytes(8, "little") for n in shape))
        put(data)
    return h.hexdigest()


def _to_bytes(model: Model, extra: Mapping[str, Any] | None = None) -> bytes:
    kind = _KINDS.get(type(model))
    if kind is None:
        raise TypeError(
            f"save() takes a fitted Synthesizer or GaussianMixture, got {type(model).__name__}."
        )
    check_is_fitted(model, "integer_columns_" if kind == "synthesizer" else "weights_")
    arrays: dict[str, NDArray[Any]] = {}
    node = _encode(_TABLES[_ROOT_TABLE[kind]], model, _ROOT_PREFIX[kind], arrays)
    doc: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
        "kind": kind, "model": node,
    }
    if extra:
        try:  # strict JSON now, so the checksum covers exactly what load will read back
            doc["extra"] = json.loads(json.dumps(dict(extra), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"extra metadata must be JSON-serialisable: {exc}") from None
    pool = {n: ("U8" if a.dtype == np.uint8 else "F64", a.shape, a.tobytes())
            for n, a in arrays.items()}
    doc[_HASH_KEY] = _digest(_canonical(doc), pool)
    # One metadata key only: safetensors writes its metadata map in no fixed order.
    return bytes(safetensors.numpy.save(arrays, metadata={_DOC_KEY: _canonical(doc)}))


def save(
    model: Model,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a fitted model to ``path`` as one safetensors file (layout: module docstring).

    The file is checked as :func:`load` would check it before it is written, atomically: a
    model that could not be loaded back is never written.

    Parameters
    ----------
    model : Synthesizer or GaussianMixture
        Fitted; class-conditional synthesizers included.
    path : path-like
    overwrite : bool, default=False
        Whether an existing file may be replaced.
    extra : mapping, optional
        JSON-serialisable facts stored beside the model under ``"extra"`` (the command line
        keeps the data source's format and image shape there); :func:`read_metadata` returns
        them.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    NotFittedError
        If the model is not fitted.
    TypeError
        If ``model`` is neither a Synthesizer nor a GaussianMixture.
    ValueError
        If something cannot be stored (class or column labels other than str, int, float or
        bool, a parameter value that is not JSON-like) or the fitted state is invalid.
    """
    data = _to_bytes(model, extra)
    try:
        _from_bytes(data)
    except ModelFileError as exc:
        raise ValueError(f"cannot save this model: it would not load back ({exc}).") from exc
    atomic_write_bytes(path, data, overwrite=overwrite)


# ------------------------------------------------------------------------------ decoding


def _header_length(prefix: bytes, size: int) -> int:
    if size < 8 or len(prefix) < 8:
        raise _not_a_model(f"{size} bytes is too short for a safetensors header")
    n = int.from_bytes(prefix[:8], "little")
    if n < 2 or n > size - 8 or n > MAX_HEADER_BYTES:
        raise _not_a_model(f"its header length ({n} bytes) does not fit a {size}-byte file")
    return n


def _document(header: bytes) -> dict[str, Any]:
    """The model document, its format tag and version checked (not its checksum)."""
    parsed = _parse_json(header, "the safetensors header")
    meta = parsed.get("__metadata__") if isinstance(parsed, dict) else None
    text = meta.get(_DOC_KEY) if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise _not_a_model("its header has no 'mixsynth' metadata (a safetensors file from "
                           "another program?)")
    doc = _parse_json(text, "the model document")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        tag = doc.get("format") if isinstance(doc, dict) else None
        raise _not_a_model(f"format tag {tag!r}, expected {FORMAT!r}")
    try:
        canonical = _canonical(doc) == text
    except ValueError:  # a number such as 1e999 parses as inf, which JSON cannot hold
        canonical = False
    if not canonical:
        # The checksum covers the document's meaning; the writer's bytes are its one
        # canonical form, so a change of spelling alone ("e" to "E" in an exponent, an
        # upper-case hex escape) is refused too: a file that loads is byte for byte the
        # file that was written.
        raise ModelFileError("the model document is not in canonical form: the file was "
                             "modified")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _not_a_model(f"format_version {_short(version)} is not a positive integer")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"unsupported format_version {version} (this build reads ≤ {FORMAT_VERSION})"
        )
    expected = {"format", "format_version", "library_version", "kind", "model", _HASH_KEY}
    if "extra" in doc and not isinstance(doc["extra"], dict):
        raise ModelFileError("invalid model document: 'extra' must be a JSON object")
    keys = set(doc) - {"extra"}  # caller-supplied facts (data source, image shape) are optional
    if keys != expected or not isinstance(doc["kind"], str) or doc["kind"] not in _ROOT_TABLE:
        raise ModelFileError(f"invalid model document: keys {sorted(doc)}, kind "
                             f"{_short(doc.get('kind'))}")
    return doc


class _Tensors:
    """The file's tensors, taken one by one with their checks; leftovers are an error."""

    def __init__(self, raw: Mapping[str, tuple[str, Shape, bytes]]) -> None:
        self.raw = dict(raw)

    def take(self, name: str, spec: Tensor, shape: Shape, est: Any) -> NDArray[Any] | None:
        item = self.raw.pop(name, None)
        if item is None:
            if spec.optional:
                return None
            raise ModelFileError(f"tensor {name!r} is missing")
        dtype, got, data = item
        want = "U8" if spec.mask else "F64"
        if dtype != want:
            raise ModelFileError(f"tensor {name!r} has dtype {dtype}, expected {want}")
        if got != shape:
            raise ModelFileError(
                f"tensor {name!r} has shape {got}, expected {shape}"
                + (f" (rank {len(got)}, expected {len(shape)})" if len(got) != len(shape) else "")
            )
        arr = np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(shape)
        if spec.mask:
            if not np.all(arr <= 1):
                raise ModelFileError(f"tensor {name!r} is a mask but holds values other than 0, 1")
            return arr.astype(bool)
        arr = arr.astype(np.float64)  # a native-endian, writable copy
        if np.any(np.isnan(arr)) or (spec.finite and not np.all(np.isfinite(arr))):
            raise ModelFileError(f"tensor {name!r} has NaN or infinite values")
        problem = spec.check(arr, est) if spec.check is not None else None
        if problem is not None:
            raise ModelFileError(f"tensor {name!r} {problem}")
        return arr

    def check_all_taken(self) -> None:
        if self.raw:
            raise ModelFileError(f"unexpected tensor {sorted(self.raw)[0]!r}")


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFileError(f"{where}: expected an object, got {_short(value)}")
    unknown = set(value) - allowed
    if unknown:
        raise ModelFileError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return value


_MAX_DEPTH = 2  # a synthesizer, its class models, their whitener and mixture


def _decode(table: Table, node: Any, prefix: str, tensors: _Tensors,
            outer_dims: Mapping[str, int] | None = None, depth: int = 0) -> Any:
    """Rebuild one object from its node and tensors, checking each piece as it is read."""
    where = prefix.rstrip(".") or "model"
    if depth > _MAX_DEPTH:
        raise ModelFileError(f"{where}: estimators nested too deeply")
    node = _object(node, where, {"params", "attrs", *(c.key for c in table.children)})
    params = _object(node.get("params"), f"{where} params", table.param_names())
    try:
        values = {k: _param_from_json(k, v) for k, v in params.items()}
        # an estimator is created from its parameters; a record at the end, from a namespace
        est = table.cls(**values) if table.build is None else SimpleNamespace(**values)
        table.check_params(est)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where} params: {exc}") from None
    attrs = _object(node.get("attrs"), f"{where} attrs", {a.key for a in table.attrs})
    for a in table.attrs:
        if a.key not in attrs:
            if a.optional:
                continue
            raise ModelFileError(f"{where}: attribute {a.key!r} is missing")
        try:
            setattr(est, a.attr, a.decode(attrs[a.key]))
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(f"{where}: attribute {a.key!r}: {exc}") from None
    dims = {**(outer_dims or {}), **table.dims(est)}
    for t in table.tensors:
        shape = tuple(dims[s] for s in t.shape) if isinstance(t.shape, tuple) else t.shape(est)
        setattr(est, t.attr, tensors.take(prefix + t.key, t, shape, est))
    for c in table.children:
        sub = _TABLES[c.table]
        value = node.get(c.key)
        if c.many:
            if c.key in node:
                if not isinstance(value, list):
                    raise ModelFileError(f"{where}: {c.key!r} must be a list")
                setattr(est, c.attr, tuple(
                    _decode(sub, v, f"{prefix}{c.prefix}.{i}.", tensors, dims, depth + 1)
                    for i, v in enumerate(value)
                ))
        elif c.key not in node:
            raise ModelFileError(f"{where}: {c.key!r} is missing")
        else:
            setattr(est, c.attr, None if value is None else
                    _decode(sub, value, f"{prefix}{c.prefix}.", tensors, dims, depth + 1))
    table.finish(est, where)
    return est if table.build is None else table.build(est)


def _from_bytes(data: bytes) -> Model:
    n = _header_length(data[:8], len(data))
    doc = _document(data[8 : 8 + n])
    digest = doc.pop(_HASH_KEY)
    try:
        text = _canonical(doc)
    except ValueError:  # a number such as 1e999 parses as inf, which JSON cannot hold
        raise _not_a_model("its model document holds a number out of range") from None
    if not isinstance(digest, str):
        raise ModelFileError(f"the checksum {_short(digest)} is not a string")
    try:
        raw = safetensors.deserialize(data)
        pool = {name: (info["dtype"], tuple(info["shape"]), bytes(info["data"]))
                for name, info in raw}
    except Exception as exc:  # the Rust parser's errors are not all SafetensorError
        raise _not_a_model(f"{exc}") from None
    if _digest(text, pool) != digest:  # integrity, not authentication: no secret to time
        raise ModelFileError("checksum mismatch: the file is corrupted or was modified")
    tensors = _Tensors(pool)
    kind = doc["kind"]
    try:
        model = _decode(_TABLES[_ROOT_TABLE[kind]], doc["model"], _ROOT_PREFIX[kind], tensors)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            RecursionError) as exc:
        # Belt and braces: every check above should have caught a bad file with a clearer
        # message; whatever slips through is still a bad file, not a crash.
        raise ModelFileError(f"invalid model: {type(exc).__name__}: {exc}") from None
    tensors.check_all_taken()
    if "extra" in doc:
        _check_extra(doc["extra"], int(model.n_features_in_))
    return model


#: Image modes by the rank of ``image_shape`` (io.images writes "L" and "RGB" images).
_IMAGE_MODES = {2: "L", 3: "RGB"}


def _check_extra(extra: dict[str, Any], d: int) -> None:
    """The facts the command line keeps beside a model (``extra``), checked like the model:
    a file that loads works. Keys this build does not know are kept unread."""

    def bad(key: str, why: str) -> ModelFileError:
        return ModelFileError(f"extra.{key} {why}")

    columns = extra.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or len(columns) != d
        or not all(isinstance(c, str | int) and not isinstance(c, bool) for c in columns)
    ):
        raise bad("columns", f"must be a list of {d} names")
    dtypes = extra.get("dtypes")
    if dtypes is not None:
        if not isinstance(dtypes, list) or len(dtypes) != d:
            raise bad("dtypes", f"must be a list of {d} dtype names")
        for name in dtypes:
            try:
                ok = isinstance(name, str) and np.dtype(name).kind in "biuf"
            except TypeError:
                ok = False
            if not ok:
                raise bad("dtypes", f"holds {_short(name)}, not a numeric or bool dtype name")
    shape = extra.get("image_shape")
    if shape is not None and (
        not isinstance(shape, list) or len(shape) not in (2, 3)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
        or math.prod(shape) != d
    ):
        raise bad("image_shape", f"must be 2 or 3 positive sizes whose product is {d}")
    if shape is not None and len(shape) == 3 and shape[2] != 3:
        raise bad("image_shape", "must end in 3 channels for a colour image")
    mode = extra.get("image_mode")
    if mode is not None and (shape is None or mode != _IMAGE_MODES[len(shape)]):
        raise bad("image_mode", f"{_short(mode)} does not fit image_shape {shape}")
    for key in ("label", "source"):
        if extra.get(key) is not None and not isinstance(extra[key], str):
            raise bad(key, "must be a string")
    if "streamed" in extra and not isinstance(extra["streamed"], bool):
        raise bad("streamed", "must be true or false")


def load(path: str | os.PathLike[str]) -> Model:
    """Read a model written by :func:`save`, checking everything before use.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    model : Synthesizer or GaussianMixture
        Gives the same :meth:`sample` rows (for the same seed) and :meth:`score_samples` as
        the model that was saved.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a mixsynth model (truncated, another format, a pickle), has a newer
        ``format_version``, fails its checksum, or holds a tensor or attribute that is missing,
        of the wrong dtype or shape, non-finite, or breaks an invariant (weights summing to 1,
        triangular Cholesky factors with a positive diagonal, positive scales and variances).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        _header_length(prefix, size)  # a CSV or an archive given by mistake: refused unread
        data = prefix + f.read()
    return _from_bytes(data)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model document of a model file, reading only its header.

    The tensors are neither read nor checked, and neither is the checksum: this is for
    describing a file (``mixsynth inspect``), not for trusting it.

    Returns
    -------
    doc : dict
        The JSON document as stored (module docstring): ``format``, ``format_version``,
        ``library_version``, ``kind``, ``model`` and ``sha256``; non-finite floats stay tagged
        (``{"$float": "inf"}``) so that the result is plain JSON.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the header is not that of a mixsynth model file, or has a newer ``format_version``.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = _header_length(f.read(8), size)
        header = f.read(n)
    return _document(header)

