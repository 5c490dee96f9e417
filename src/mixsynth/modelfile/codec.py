"""One object to a node of the model document and its tensors, and back (:func:`_decode`
checks every piece as it reads it); the tables say what each class holds."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.modelfile.tables import _TABLES, Shape, Table, Tensor
from mixsynth.modelfile.values import ModelFileError, _param_from_json, _short, _to_json

#: The tensor dtypes of a model file, as numpy dtypes.
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

