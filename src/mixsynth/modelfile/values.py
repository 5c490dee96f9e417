"""The model document's JSON values: the error a bad file raises, the value codec (non-finite
floats and numpy seeds as tagged objects, every field of a seed checked before numpy trusts
it) and canonical JSON, the one spelling the checksum covers."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["ModelFileError"]


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
        and all(isinstance(x, int | float | np.integer | np.floating)
                and not isinstance(x, bool) for x in v)
        for k, v in value.items()))


def _bounds_from_json(body: Any) -> dict[Any, tuple[float, float]]:
    """``{column: (lo, hi)}`` from ``[[column, lo, hi], ...]`` (lo, hi: numbers or $float)."""
    if not isinstance(body, list):
        raise ValueError("expected a list of [column, lo, hi]")
    out: dict[Any, tuple[float, float]] = {}
    for item in body:
        if (not isinstance(item, list) or len(item) != 3
                or not isinstance(item[0], str | int) or isinstance(item[0], bool)):
            raise ValueError("expected [column, lo, hi] with a str or int column")
        pair = []
        for v in item[1:]:
            if isinstance(v, dict) and list(v) == ["$float"]:
                pair.append(_tagged_float(v["$float"]))
            elif isinstance(v, int | float) and not isinstance(v, bool):
                pair.append(float(v))
            else:
                raise ValueError(f"expected a number, got {_short(v)}")
        out[item[0]] = (pair[0], pair[1])
    return out


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_MAX_POOL_SIZE = 1024


def _tagged_float(tag: Any) -> float:
    f = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}.get(tag) if isinstance(
        tag, str) else None
    if f is None:
        raise ValueError(f"unknown $float {_short(tag)}")
    return f


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
        if name == "column_kinds" and isinstance(value, dict):  # the one dict parameter
            kinds = _from_json(value, objects=True)
            if not all(isinstance(v, str) for v in kinds.values()):
                raise ValueError("column kinds must be strings")
            return kinds
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

