"""The model-file format: a fitted model in one safetensors file, nothing pickled.

This package is the format machinery and knows no model class. Each class describes how it is
stored in a :class:`Table` kept next to the class, and registers it when its module is imported
(:func:`register`); :func:`save` finds the table of ``type(model)``, and :func:`load_file` the
table of the document's ``kind``. :mod:`mixsynth.persistence` is the public entry point: it
imports every model class (so every table is registered) and delegates here.

:func:`save` writes the arrays as tensors and everything else as a JSON document;
:func:`load_file` checks the file from the outside in (size, header, format tag and version,
checksum, then every tensor and attribute) and rebuilds the estimators in code: it creates each
one from its parameters and sets its fitted attributes.

Modules: :mod:`~mixsynth.modelfile.values` (the error, the JSON value codec, canonical JSON),
:mod:`~mixsynth.modelfile.attributes` (decoders and encoders of attributes),
:mod:`~mixsynth.modelfile.tables` (:class:`Table` and its entries, shared checks, the registry),
:mod:`~mixsynth.modelfile.codec` (an object to a node and tensors and back),
:mod:`~mixsynth.modelfile.files` (bytes, checksum, the files themselves).

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
What is stored is the tables registered by the classes: ``_SYNTHESIZER`` (synthesizer.py),
``_SUPPORT`` (support.py), ``_WHITENER`` (whitening/estimator.py) and ``_MIXTURE``
(gaussian_mixture.py).
A new array is one line, such as ``Tensor("shift_", ("d",))`` (``optional=True`` when it may be
``None``, ``finite=False`` to allow ±inf); a new scalar or JSON value is one :class:`Attr` line;
a new nested object one :class:`Child` line and a :class:`Table`, registered next to its class;
invariants across attributes go in the table's ``finish``. Files written before a required
attribute was added no longer load: bump :data:`FORMAT_VERSION` then, or make the new entry
optional.
"""

from __future__ import annotations

from mixsynth.modelfile.files import (
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    load_file,
    read_metadata,
    save,
)
from mixsynth.modelfile.tables import Attr, Child, Table, Tensor, register
from mixsynth.modelfile.values import ModelFileError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "Attr",
    "Child",
    "ModelFileError",
    "Table",
    "Tensor",
    "load_file",
    "read_metadata",
    "register",
    "save",
]
