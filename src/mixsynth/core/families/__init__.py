"""Component families: what a kind of mixture component must provide, and the registry.

A :class:`Family` is everything the rest of the package needs to know about one kind of
component: its parameters' free count, per-chunk statistics, M-step, log-density, sampling and
the tensors of a model file. The EM loop (:mod:`~mixsynth.core.em`), the sampler
(:mod:`~mixsynth.core.sampling`) and the public functions of :mod:`mixsynth.core` look the
family up by name (``Params.covariance_type``, ``Stats.covariance_type``) and call it; none of
them branches on the name. A new family is a subclass registered with :func:`register`.

The four Gaussian covariance types ("full", "tied", "diag", "spherical") are registered by
:mod:`mixsynth.core.families.gaussian`, which ``import mixsynth.core`` always loads.

A family with a hyper-parameter is one instance per value, named canonically as
``"prefix(value)"``: ``"full-shrunk(200)"`` (:mod:`~mixsynth.core.families.shrunk`),
``"factor(5)"`` (:mod:`~mixsynth.core.families.factor`). Such a prefix is registered once with
:func:`register_parametric`; :func:`family` builds (and registers) the instance the first time
its name is asked for, so a name read back from a model file resolves in a fresh process.

This module imports nothing from the rest of the core at run time, so any core module may
look a family up without an import cycle.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

if TYPE_CHECKING:
    from mixsynth.core.params import Params
    from mixsynth.core.stats import Stats

__all__ = [
    "Family",
    "family",
    "family_names",
    "register",
    "register_parametric",
    "unregister",
]

Array = NDArray[np.float64]


class Family(ABC):
    """One kind of mixture component.

    A subclass sets :attr:`name` and implements the abstract methods; :meth:`statistics` has a
    textbook default (every pair, through :meth:`log_prob` and :meth:`accumulate`) that a family
    overrides when it has a faster exact pass. Instances hold no state that changes: one instance
    per family serves every fit.

    Statistics are :class:`~mixsynth.core.stats.Stats` whose ``covariance_type`` is the family's
    name; what ``sxx`` holds (its shape) is the family's business, as long as statistics of
    disjoint chunks add up (``a + b``).

    **Temperature.** :meth:`sample_grouped` takes a ``temperature`` ``t > 0``; ``t = 1`` is the
    model itself. A continuous family scales each component's covariance by ``t`` (a Gaussian
    draw's noise by ``sqrt(t)``, the mean unchanged); a discrete family (categorical columns)
    scales its log-probabilities by ``1 / t`` and renormalises, ``p_t ∝ p^(1/t)``. Either way
    ``t < 1`` concentrates each component on its most likely values (less diversity, more
    typical rows) and ``t > 1`` spreads it. The mixing weights are never tempered: the
    proportions of the components stay those of the model.
    """

    #: The registry key, stored as ``Params.covariance_type`` and in model files.
    name: str

    # ------------------------------------------------------------------ parameters
    @abstractmethod
    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of a mixture of ``n_components`` such components (weights, means and
        the family's own), as AIC and BIC count them."""

    @abstractmethod
    def tensor_shapes(self, n_components: int, n_features: int) -> dict[str, tuple[int, ...]]:
        """The shape of each tensor :meth:`to_tensors` returns, by name."""

    @abstractmethod
    def to_tensors(self, params: Params) -> dict[str, Array]:
        """The parameters as named float64 arrays (a model file's tensors)."""

    @abstractmethod
    def from_tensors(self, tensors: dict[str, Array]) -> Params:
        """Parameters from :meth:`to_tensors`'s arrays, after checking names, shapes and
        invariants.

        Raises
        ------
        ValueError
            Naming the tensor, what was expected and what was found.
        """

    # ------------------------------------------------------------------ EM
    @abstractmethod
    def log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        """``log p(x | component k)`` of every row, shape (n, K).

        ``packed``: a chunk's cached ``pack_outer(X)`` for families that use it (others ignore
        it)."""

    def weighted_log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        """``log pi_k + log p(x | k)``, shape (n, K)."""
        out = self.log_prob(X, params, packed)
        with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
            out += np.log(params.weights)
        return out

    @abstractmethod
    def accumulate(
        self,
        X: Array,
        R: Array,
        centers: Array,
        *,
        packed: Array | None = None,
        exact: NDArray[np.bool_] | None = None,
        loglik: float = 0.0,
        n: float | None = None,
    ) -> Stats:
        """M-step statistics of rows ``X`` with responsibilities ``R`` (sample weights already
        applied), second moments about ``centers``; see :func:`mixsynth.core.accumulate`."""

    def statistics(
        self,
        X: Array,
        params: Params,
        sample_weight: Array | None = None,
        packed: Array | None = None,
    ) -> Stats:
        """The E-step on one chunk as additive statistics about ``params.means``.

        The default is the textbook pass: every (row, component) pair through
        :meth:`weighted_log_prob`, responsibilities by a log-sum-exp, then :meth:`accumulate`
        with exact forms.
        """
        wlp = self.weighted_log_prob(X, params, packed)
        log_norm = logsumexp(wlp, axis=1)
        with np.errstate(under="ignore"):
            R = np.exp(wlp - log_norm[:, None])
        if sample_weight is None:
            loglik, n = float(log_norm.sum()), float(X.shape[0])
        else:
            R *= sample_weight[:, None]
            loglik, n = float(log_norm @ sample_weight), float(sample_weight.sum())
        return self.accumulate(X, R, params.means, loglik=loglik, n=n)

    @abstractmethod
    def m_step(self, stats: Stats, reg_covar: float) -> Params:
        """New parameters from statistics summed over all chunks.

        Raises
        ------
        ValueError
            When the statistics do not define valid parameters, saying what to change.
        """

    # ------------------------------------------------------------------ sampling
    @abstractmethod
    def sample_grouped(
        self,
        params: Params,
        counts: NDArray[np.intp],
        rng: np.random.Generator,
        temperature: float = 1.0,
    ) -> Array:
        """``counts[k]`` rows drawn from component ``k``, grouped by component in order,
        shape (counts.sum(), d), at ``temperature`` (see the class docstring; already checked
        to be finite and positive). :func:`~mixsynth.core.sample_mixture` draws the counts and
        shuffles the rows."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} family {self.name!r}>"


_REGISTRY: dict[str, Family] = {}
_PARAMETRIC: dict[str, Callable[[str], Family]] = {}
_PARAMETRIC_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\((.*)\)$")


def register_parametric(prefix: str, factory: Callable[[str], Family]) -> None:
    """Resolve names ``"prefix(argument)"`` with ``factory(argument)``.

    The factory parses the argument (raising ``ValueError`` with what is wrong) and returns the
    family instance for it, whose :attr:`Family.name` is the canonical spelling (``family``
    accepts other spellings of the same value, e.g. ``"full-shrunk(200.0)"``, and returns the
    instance named ``"full-shrunk(200)"``). It may return an already registered family (the
    shrinkage ``0`` is plain ``"full"``).

    Raises
    ------
    ValueError
        When another factory already has that prefix.
    """
    if prefix in _PARAMETRIC and _PARAMETRIC[prefix] is not factory:
        raise ValueError(f"A parametric family {prefix!r} is already registered.")
    _PARAMETRIC[prefix] = factory


def register(new: Family) -> Family:
    """Make ``new`` available as ``family(new.name)``; returns it.

    Raises
    ------
    ValueError
        When another family already has that name.
    """
    if new.name in _REGISTRY and _REGISTRY[new.name] is not new:
        raise ValueError(f"A family named {new.name!r} is already registered.")
    _REGISTRY[new.name] = new
    return new


def unregister(name: str) -> None:
    """Remove a family registered under ``name`` (tests that register a toy family)."""
    _REGISTRY.pop(name, None)


def family(name: str) -> Family:
    """The family registered under ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        pass
    match = _PARAMETRIC_NAME.match(name) if isinstance(name, str) else None
    if match is not None and match.group(1) in _PARAMETRIC:
        built = _PARAMETRIC[match.group(1)](match.group(2).strip())
        # setdefault: two threads building the same family keep one instance
        return _REGISTRY.setdefault(built.name, built)
    known = ", ".join([repr(k) for k in _REGISTRY] + [f"'{p}(...)'" for p in _PARAMETRIC])
    raise ValueError(f"Unknown component family {name!r}; known: {known}.") from None


def family_names() -> tuple[str, ...]:
    """Names of the registered families, in order of registration."""
    return tuple(_REGISTRY)
