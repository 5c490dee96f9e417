"""How a class is stored, as data: a :class:`Table` of its :class:`Attr` (JSON values),
:class:`Tensor` (arrays) and :class:`Child` (nested objects) entries; the checks the tables
share; and the registry that the codec finds the tables in.

Each class's table lives next to the class and registers itself when its module is imported
(:func:`register`): the format machinery never imports a model class. Children are found by
table name; a file's root model by its class (saving) and by the document's ``kind`` (loading).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.modelfile.attributes import _str_array
from mixsynth.modelfile.values import ModelFileError, _to_json

__all__ = ["Attr", "Child", "Table", "Tensor", "register"]

#: Tolerance on the sum of mixture weights and class priors.
_WEIGHTS_ATOL = 1e-8

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
    #: Files written before the child existed lack its key: it loads as ``None``, and a
    #: ``None`` is not written (so such models stay the same bytes).
    optional: bool = False


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
    #: Parameters an estimator gained after files were first written, with their default:
    #: written only when they differ from it, so a model that does not use them saves the same
    #: bytes as before; a file without them loads with the default.
    later_params: tuple[tuple[str, Any], ...] = ()

    def get_params(self, est: Any) -> dict[str, Any]:
        if self.record_params is None:
            params = dict(est.get_params(deep=False))
            for name, default in self.later_params:
                if name in params and params[name] == default:
                    del params[name]
            return params
        return {name: getattr(est, name) for name in self.record_params}

    def param_names(self) -> set[str]:
        if self.record_params is None:
            return set(self.cls().get_params(deep=False))
        return set(self.record_params)


def _positive(a: NDArray[np.float64], est: Any) -> str | None:
    return None if np.all(a > 0) else "has values <= 0"


def _unit_interval(a: NDArray[np.float64], est: Any) -> str | None:
    return None if np.all((a >= 0) & (a <= 1)) else "has values outside [0, 1]"


def _representable_spread(a: NDArray[np.float64], est: Any) -> str | None:
    """Points (rows of ``a``) no farther apart than float64 distances can square: the rule a
    fit applies to its data (:func:`mixsynth.validation.check_representable_spread`), so that
    scoring a file's model never meets inf - inf."""
    if a.ndim != 2 or a.shape[0] < 2:
        return None
    limit = np.sqrt(np.finfo(np.float64).max / (16.0 * a.size))
    spread = float(np.max(np.ptp(a, axis=0)))
    if spread <= limit:
        return None
    return f"has rows {spread:.3g} apart, beyond what float64 distances can square"


def _probabilities(a: NDArray[np.float64], est: Any) -> str | None:
    if np.any(a < 0):
        return "has negative values"
    if abs(float(a.sum()) - 1.0) > _WEIGHTS_ATOL:
        return f"sums to {float(a.sum())!r}, not 1"
    return None


def _same_length(where: str, est: Any, n: int, *attrs: str) -> None:
    for name in attrs:
        value = getattr(est, name, None)
        if value is not None and len(value) != n:
            raise ModelFileError(f"{where}: {name} has {len(value)} entries, expected {n}")


_FEATURE_NAMES = Attr("feature_names_in_", _str_array, optional=True)


# ------------------------------------------------------------------------------ the registry

#: Every registered table by name (a :class:`Child` names its table).
_TABLES: dict[str, Table] = {}
#: By the document's ``kind``: the root table's name, its tensors' prefix, its fitted check.
_ROOT_TABLE: dict[str, str] = {}
_ROOT_PREFIX: dict[str, str] = {}
_FITTED: dict[str, Callable[[Any], None]] = {}
#: The kind of each class that can be a file's root model.
_KINDS: dict[type, str] = {}


def register(
    name: str,
    table: Table,
    *,
    kind: str | None = None,
    prefix: str = "",
    fitted: Callable[[Any], None] | None = None,
) -> None:
    """Make ``table`` known to the model-file codec (at import of the module of its class).

    Parameters
    ----------
    name : str
        The table's name, by which a :class:`Child` entry refers to it.
    table : Table
    kind : str, optional
        For a class that can be saved on its own: the document's ``kind`` for it
        (``"synthesizer"``, ``"gaussian_mixture"``); ``type(model)`` is looked up to find it.
    prefix : str, default=""
        Of a root model's tensor names (``"mixture."`` for a bare mixture).
    fitted : callable, optional
        Of a root model: raises (scikit-learn's ``NotFittedError``) when it is not fitted, before
        anything is encoded.

    Raises
    ------
    ValueError
        If ``name`` or ``kind`` is already registered for another class (registering the same
        class again, as a module reload does, replaces its entry).
    """
    old = _TABLES.get(name)
    if old is not None and old.cls.__qualname__ != table.cls.__qualname__:
        raise ValueError(f"table {name!r} is already registered for {old.cls.__qualname__}")
    if kind is not None and _ROOT_TABLE.get(kind, name) != name:
        raise ValueError(f"kind {kind!r} is already registered for table {_ROOT_TABLE[kind]!r}")
    _TABLES[name] = table
    if kind is not None:
        _ROOT_TABLE[kind], _ROOT_PREFIX[kind] = name, prefix
        if fitted is not None:
            _FITTED[kind] = fitted
        _KINDS[table.cls] = kind
