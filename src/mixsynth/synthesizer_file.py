"""How a :class:`~mixsynth.Synthesizer` is stored in a model file (:mod:`mixsynth.modelfile`):
its attributes, tensors and children, the checks a loaded one must pass, and how its model
object (:mod:`mixsynth.model`) is rebuilt from the pieces. :mod:`mixsynth.synthesizer`
registers :func:`synthesizer_table` at import.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth.heaps import HeapMap
from mixsynth.model import ClassConditional, PointMass, WhitenedMixture
from mixsynth.modelfile import Attr, Child, ModelFileError, Table, Tensor
from mixsynth.modelfile.attributes import (
    _bool_array,
    _bound_array,
    _classes,
    _decimals,
    _dtypes,
    _encode_classes,
    _encode_columns,
    _encode_dtypes,
    _int,
    _labels_or_none,
)
from mixsynth.modelfile.tables import _FEATURE_NAMES, _probabilities, _same_length
from mixsynth.modelfile.values import _from_json, _short
from mixsynth.selection.result import _encode_selection, _selection
from mixsynth.synthesizer_fit import SUPPORTS

if TYPE_CHECKING:
    from mixsynth.synthesizer import Synthesizer

__all__ = ["synthesizer_table"]


def _check_synthesizer_params(s: Synthesizer) -> None:
    if s.support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {s.support!r}")
    if s.scale not in ("std", "none") or not isinstance(s.whiten, bool):
        raise ValueError("scale must be 'std' or 'none' and whiten a bool")


def _finish_synthesizer(s: Synthesizer, where: str) -> None:
    d = s.n_features_in_
    _same_length(where, s, d, "feature_names_in_", "_columns", "_dtypes", "lower_bounds_",
                 "upper_bounds_", "integer_columns_", "decimals_")
    if (s._columns is None) != (s._dtypes is None):
        raise ModelFileError(f"{where}: columns and dtypes must both be given or both be null")
    if not np.all(s.lower_bounds_ <= s.upper_bounds_):
        raise ModelFileError(f"{where}: a lower bound exceeds its upper bound")
    single = (s.whitener_, s.mixture_, s.selection_, s.support_transform_)
    table = getattr(s, "_table_state", None)
    if table is not None:
        if (any(x is not None for x in single) or s.classes_ is not None
                or getattr(s, "heaps_", None) is not None):
            raise ModelFileError(f"{where}: a table synthesizer has no whitener, mixture, "
                                 "selection, support transform, heaps or classes of its own")
        if table.n_features != d:
            raise ModelFileError(f"{where}: the table model has {table.n_features} columns, "
                                 f"expected {d}")
        del s.class_priors_
        return
    heaps = getattr(s, "heaps_", None)
    if heaps is not None and (heaps.columns[-1] >= d or s.classes_ is not None):
        raise ModelFileError(f"{where}: heaps name a column beyond the {d} columns, or belong "
                             "to a synthesizer with classes")
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


def _build_synthesizer(cls: type[Synthesizer], table: Table, ns: SimpleNamespace
                       ) -> Synthesizer:
    """A synthesizer from its checked parameters and fitted pieces: its model object is a
    :class:`~mixsynth.model.ClassConditional` when the file has classes, else a
    :class:`~mixsynth.model.WhitenedMixture` (over a point mass when the mixture is null)."""
    # parameters added since a file was written (column_kinds, missing) take their defaults
    s = cls(**{k: getattr(ns, k) for k in table.param_names() if hasattr(ns, k)})
    s.n_features_in_ = ns.n_features_in_
    if hasattr(ns, "feature_names_in_"):
        s.feature_names_in_ = ns.feature_names_in_
    s._columns, s._dtypes = ns._columns, ns._dtypes
    memorization = getattr(ns, "memorization_", None)
    if getattr(ns, "_table_state", None) is not None:
        s.model_ = ns._table_state
    elif ns.classes_ is not None:
        s.model_ = ClassConditional(ns.classes_, ns.class_priors_, ns.class_models_,
                                    memorization)
    else:  # the file stores a point mass as a null mixture
        mixture = PointMass() if ns.mixture_ is None else ns.mixture_
        s.model_ = WhitenedMixture(
            ns.whitener_, mixture, ns.support_transform_, ns.lower_bounds_, ns.upper_bounds_,
            ns.integer_columns_, s.support, ns.selection_, memorization,
            getattr(ns, "decimals_", None), getattr(ns, "heaps_", None),
        )
    return s


def _memorization(value: Any) -> dict[str, Any] | None:
    out = _from_json(value, objects=True)
    if out is not None and not isinstance(out, dict):
        raise TypeError(f"expected an object or null, got {_short(value)}")
    return out


def synthesizer_table(cls: type[Synthesizer]) -> Table:
    """The model-file table of the synthesizer class ``cls`` (registered by
    :mod:`mixsynth.synthesizer` as ``"synthesizer"``)."""
    table = Table(
        cls=cls,
        attrs=(
            Attr("n_features_in_", _int(1)),
            _FEATURE_NAMES,
            Attr("_columns", _labels_or_none, _encode_columns),
            Attr("_dtypes", _dtypes, _encode_dtypes),
            Attr("lower_bounds_", _bound_array),
            Attr("upper_bounds_", _bound_array),
            Attr("integer_columns_", _bool_array),
            Attr("decimals_", _decimals, optional=True),  # files before decimals: none
            Attr("heaps_", HeapMap.from_json, HeapMap.to_json, optional=True),  # none before
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
            Child("_table_state", "table", "table", "table", optional=True),
        ),
        check_params=_check_synthesizer_params,
        finish=_finish_synthesizer,
        build=lambda ns: _build_synthesizer(cls, table, ns),  # a model object, from the pieces
        later_params=(("column_kinds", None), ("missing", "model"), ("space", "auto"),
                      ("shrinkage", "auto"), ("device", None)),
    )
    return table
