"""A model file as bytes: the document and its checksum around the encoded tensors, the
outside-in checks of a file (size, header, format tag and version, checksum, then every object
through the tables) and the public entry points :func:`save`, :func:`load_file` and
:func:`read_metadata`."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy
from numpy.typing import NDArray

from mixsynth._version import __version__
from mixsynth.io.atomic import atomic_write_bytes
from mixsynth.modelfile.attributes import _numpy_dtype
from mixsynth.modelfile.codec import _decode, _encode, _Tensors
from mixsynth.modelfile.tables import _FITTED, _KINDS, _ROOT_PREFIX, _ROOT_TABLE, _TABLES, Shape
from mixsynth.modelfile.values import ModelFileError, _canonical, _not_a_model, _parse_json, _short

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_HEADER_BYTES", "load_file", "read_metadata", "save"]

#: The format tag of the model document.
FORMAT = "mixsynth-model"
#: The newest format version this build writes and reads.
FORMAT_VERSION = 1
#: The safetensors metadata key of the model document, and the document's checksum key.
_DOC_KEY, _HASH_KEY = "mixsynth", "sha256"
#: safetensors refuses headers above 100 MB; so do we, before reading one.
MAX_HEADER_BYTES = 100_000_000


def _digest(doc: str, tensors: Mapping[str, tuple[str, Shape, bytes]]) -> str:
    """The file's checksum (the package docstring): length-prefixed fields, tensors by name."""
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


def _to_bytes(model: Any, extra: Mapping[str, Any] | None = None) -> bytes:
    kind = _KINDS.get(type(model))
    if kind is None:
        raise TypeError(
            f"save() takes a fitted Synthesizer or GaussianMixture, got {type(model).__name__}."
        )
    if kind in _FITTED:
        _FITTED[kind](model)
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
    model: Any,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a fitted model to ``path`` as one safetensors file (layout: the package docstring).

    The file is checked as :func:`load` would check it before it is written, atomically: a
    model that could not be loaded back is never written.

    Parameters
    ----------
    model : object
        Fitted, of a class registered with a ``kind`` (a Synthesizer, class-conditional ones
        included, or a GaussianMixture).
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
        If the model is not fitted (the ``fitted`` check of its registration).
    TypeError
        If the class of ``model`` is not registered with a ``kind``.
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


def _from_bytes(data: bytes) -> Any:
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
                ok = isinstance(name, str) and _numpy_dtype(name).kind in "biuf"
            except (TypeError, ValueError):
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


def load_file(path: str | os.PathLike[str]) -> Any:
    """Read a model written by :func:`save`, checking everything before use.

    The classes of the file's tables must be registered (their modules imported):
    :func:`mixsynth.persistence.load` sees to that.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    model : object
        Of the class registered for the document's ``kind``. Gives the same :meth:`sample`
        rows (for the same seed) and :meth:`score_samples` as the model that was saved.

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
        The JSON document as stored (the package docstring): ``format``, ``format_version``,
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

