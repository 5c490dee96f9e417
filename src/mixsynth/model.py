"""What a fitted :class:`~mixsynth.Synthesizer` holds: one model object, sampled and scored
by delegation.

``WhitenedMixture``
    The data's density: a mixture in the whitened space (or a :class:`PointMass` when every
    column is constant), mapped back through the whitener and the support transform, plus the
    probabilistic-PCA residual in the discarded directions; samples get the support applied
    (clip / truncate to bounds, round integer columns).
``ClassConditional``
    One synthesizer per class and the class priors: a composite with the same interface, so
    a synthesizer fitted with ``fit(X, y)`` samples ``(X, y)`` and scores the class mixture.

Neither knows about DataFrames or column names given by users: the synthesizer resolves
``given=`` keys to column positions and wraps rows in the fitted columns' dtypes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.conditional import condition, full_covariances
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.heaps import DRAWS, HeapMap, heaped_columns
from mixsynth.support import SupportTransform
from mixsynth.whitening import Whitener

if TYPE_CHECKING:
    from mixsynth.selection import SelectionResult
    from mixsynth.synthesizer import Synthesizer

__all__ = ["ClassConditional", "FittedModel", "Part", "PointMass", "WhitenedMixture"]

Array = NDArray[np.float64]
Fixed = dict[int, float]
#: ``(class label or None, prior, the single-class model)``
Part = tuple[Any, float, "WhitenedMixture"]
Draw = Callable[[int, np.random.Generator], Array]

#: ``support="truncate"`` gives up when fewer than this fraction of draws land in bounds.
_MIN_ACCEPTANCE = 1e-3


def _position(j: int) -> str:
    return str(j)


class FittedModel(Protocol):
    """The interface a synthesizer delegates to."""

    @property
    def lower_bounds(self) -> Array: ...

    @property
    def upper_bounds(self) -> Array: ...

    @property
    def integer_columns(self) -> NDArray[np.bool_]: ...

    @property
    def memorization(self) -> dict[str, Any] | None: ...

    @property
    def n_parameters(self) -> int: ...

    @property
    def n_components(self) -> int: ...

    def parts(self) -> tuple[Part, ...]:
        """The single-class models: ``((None, 1.0, self),)`` or one per class."""
        ...

    def sample(
        self, n: int, rng: np.random.Generator, fixed: Fixed, y: Any = None,
        column_name: Callable[[int], str] = _position, temperature: float = 1.0,
    ) -> tuple[Array, NDArray[Any] | None]:
        """``n`` rows in the original space (support applied) and their labels (``None``
        unless class-conditional), at ``temperature`` (checked by the caller)."""
        ...

    def score_samples(self, X: Array) -> Array:
        """Log-density of each (validated) row in the original space."""
        ...


@dataclass(frozen=True)
class PointMass:
    """The whitened density of data whose every column is constant: all mass at one point
    of a zero-dimensional space. It stands where a :class:`GaussianMixture` would (the same
    ``sample`` / ``score_samples`` / ``_n_parameters``), so no caller tests for it."""

    n_components: int = 1
    covariance_type: str = "full"
    converged_: bool = True
    n_iter_: int = 0

    def sample(
        self, n_samples: int = 1, random_state: Any = None, temperature: float = 1.0
    ) -> tuple[Array, NDArray[np.intp]]:
        """``n_samples`` rows of zero columns, all of component 0 (any temperature)."""
        return np.zeros((n_samples, 0)), np.zeros(n_samples, dtype=np.intp)

    def score_samples(self, X: Array) -> Array:
        """Log-density 0 (the point has probability 1)."""
        return np.zeros(np.shape(X)[0])

    def _n_parameters(self) -> int:
        return 0


@dataclass(frozen=True, eq=False)  # arrays inside: equal only to itself
class WhitenedMixture:
    """A mixture in whitened space mapped back to the data's columns.

    Parameters
    ----------
    whitener : Whitener
    mixture : GaussianMixture or PointMass
        Over the whitener's ``n_components_`` directions (a PointMass when there are none).
    support_transform : SupportTransform or None
    lower_bounds, upper_bounds : ndarray of shape (n_features,)
    integer_columns : ndarray of bool of shape (n_features,)
    support : {"clip", "truncate"} or None
        What sampling does with rows outside the bounds: ``"clip"`` reflects a value beyond a
        bound back inside (``lo + (lo - x)``) and clips what is still outside, so no mass
        piles up exactly at the bound (models saved before ``decimals`` existed only clip,
        so they sample the same rows as before); ``"truncate"`` redraws the row. Integer
        columns are rounded, and columns of ``decimals`` rounded to their observed precision,
        unless ``None``.
    selection : SelectionResult or None
        The sweep that chose ``mixture`` (``None`` for a point mass).
    memorization : dict or None
        The memorisation guard's measurements.
    decimals : ndarray of int of shape (n_features,), optional
        Decimal places each column was recorded with (-1: none detected, left as drawn);
        see :func:`mixsynth.support.decimals_of`.
    heaps : HeapMap, optional
        Heaped columns (few distinct values), whose samples are mapped to the training
        marginal before rounding (:mod:`mixsynth.heaps`); ``None`` for models without
        (and every model saved before 2026-12-04), unless ``support`` is ``None``.
    """

    whitener: Whitener
    mixture: GaussianMixture | PointMass
    support_transform: SupportTransform | None
    lower_bounds: Array
    upper_bounds: Array
    integer_columns: NDArray[np.bool_]
    support: str | None = "clip"
    selection: SelectionResult | None = None
    memorization: dict[str, Any] | None = None
    decimals: NDArray[np.int64] | None = None
    heaps: HeapMap | None = None

    #: A single model has no classes.
    classes: None = None

    @property
    def n_features(self) -> int:
        return int(self.lower_bounds.shape[0])

    @property
    def n_parameters(self) -> int:
        return int(self.mixture._n_parameters())

    @property
    def n_components(self) -> int:
        """Components of the mixture (1 for a point mass)."""
        return int(self.mixture.n_components)

    def parts(self) -> tuple[Part, ...]:
        """Itself, the one part of an unconditional model."""
        return ((None, 1.0, self),)

    # ------------------------------------------------------------------ densities

    def to_model_space(
        self, X: Array, rng: np.random.Generator | None = None
    ) -> tuple[Array, Array]:
        """The support transform, when there is one: data and log-Jacobian per row."""
        if self.support_transform is None:
            return X, np.zeros(X.shape[0])
        return self.support_transform.forward(X, rng)

    def from_model_space(self, Y: Array) -> Array:
        t = self.support_transform
        return Y if t is None else t.inverse(Y)

    def score_samples(self, X: Array) -> Array:
        """``log p_mixture(whiten(x)) + log |Jacobian| + log N(residual; 0, sigma^2 I)``."""
        Xt, log_jac = self.to_model_space(X)
        with np.errstate(over="ignore", invalid="ignore"):
            # a row whose whitened coordinates overflow float64 (far outside a model of tiny
            # spread) has density 0: -inf, rather than an "input contains inf" error from
            # the mixture about a row the caller never wrote (NaN: a missing value, kept)
            residual = self.whitener.residual_log_density(Xt) + log_jac
            Z = self.whitener.transform(Xt)
        out = np.full(Z.shape[0], -np.inf)
        inside = ~np.isinf(Z).any(axis=1)
        if inside.any():
            out[inside] = self.mixture.score_samples(Z[inside]) + residual[inside]
        return out

    # ------------------------------------------------------------------ sampling

    def sample(
        self, n: int, rng: np.random.Generator, fixed: Fixed, y: Any = None,
        column_name: Callable[[int], str] = _position, temperature: float = 1.0,
    ) -> tuple[Array, None]:
        """Rows with the support applied; ``fixed`` columns hold their given values.

        At ``temperature`` ``t`` every component's covariance in the data space,
        ``A Σ_k A^T + N`` (the probabilistic-PCA residual ``N`` included), is ``t`` times the
        model's, in the support transform's space; conditioning (``fixed``) is that of the
        tempered mixture. ``t = 1`` draws exactly the model's rows.
        """
        if y is not None:
            raise ValueError("y= is for class-conditional synthesizers; fit with fit(X, y) first.")
        draw = self._sampler(fixed, column_name, temperature)
        if self.support == "truncate":
            return self._sample_truncated(n, rng, draw, fixed), None
        return self._apply_support(draw(n, rng), fixed, rng), None

    def _sampler(self, fixed: Fixed, column_name: Callable[[int], str],
                 temperature: float = 1.0) -> Draw:
        """A function drawing raw rows (before the support) given the fixed columns."""
        w = self.whitener
        const = w.constant_mask_
        for j, v in fixed.items():
            if const[j] and v != w.mean_[j]:
                raise ValueError(
                    f"Column {column_name(j)} is constant ({w.mean_[j]!r}) in the training "
                    f"data; the model gives no probability to {v!r}."
                )
        free_fixed = [j for j in fixed if not const[j]]
        if not free_fixed:  # always so for a point mass: every column is constant
            def draw_plain(n: int, rng: np.random.Generator) -> Array:
                Z = self.mixture.sample(n, random_state=rng, temperature=temperature)[0]
                noise = self._residual_noise(n, rng)
                if temperature != 1.0:  # the residual is part of each component's covariance
                    noise *= np.sqrt(temperature)
                X = self.from_model_space(w.inverse_transform(Z) + noise)
                for j, v in fixed.items():
                    X[:, j] = v
                return X

            return draw_plain
        weights, means, covs, cols = self.data_space_mixture()
        if temperature != 1.0:  # condition the tempered mixture: N(m_k, t C_k)
            covs = covs * temperature
        pos = {c: i for i, c in enumerate(cols)}
        given_idx = np.array([pos[j] for j in free_fixed])
        row = self.lower_bounds.copy()[None, :]
        for j, v in fixed.items():
            row[0, j] = v
        row = self.to_model_space(np.nan_to_num(row))[0]  # given values in model space
        values = row[0, free_fixed]
        cond = condition(weights, means, covs, given_idx, values)
        free_cols = np.setdiff1d(np.arange(len(cols)), given_idx)

        def draw_conditional(n: int, rng: np.random.Generator) -> Array:
            X = np.empty((n, self.n_features))
            X[:, const] = w.constant_values_
            X[:, cols[free_cols]] = cond.sample(n, rng)
            X[:, cols[given_idx]] = values
            X = self.from_model_space(X)
            for j, v in fixed.items():
                X[:, j] = v
            return X

        return draw_conditional

    def _residual_noise(self, n: int, rng: np.random.Generator) -> Array:
        """Probabilistic-PCA noise in the discarded directions, in the original columns."""
        w = self.whitener
        noise = np.zeros((n, self.n_features))
        varying = ~w.constant_mask_
        d_var = int(varying.sum())
        if w.noise_variance_ <= 0.0 or d_var <= w.n_components_:
            return noise
        V = w.components_[:, varying]
        E = rng.standard_normal((n, d_var)) * np.sqrt(w.noise_variance_)
        E -= (E @ V.T) @ V  # project on the discarded directions
        noise[:, varying] = E * w.scale_[varying]
        return noise

    def data_space_mixture(self) -> tuple[Array, Array, Array, NDArray[np.intp]]:
        """The mixture over the non-constant columns: ``N(A mu_k + b, A S_k A^T + N)``.

        Returns weights (K,), means (K, d'), covariances (K, d', d') and the positions of the
        d' non-constant columns.
        """
        w, gm = self.whitener, self.mixture
        assert isinstance(gm, GaussianMixture), "a point mass has no free column to condition"
        cols = np.flatnonzero(~w.constant_mask_)
        scale = w.scale_[cols]
        C = w.components_[:, cols]  # (k, d')
        load = np.sqrt(w.explained_variance_) if w.whiten else np.ones(C.shape[0])
        A = (C * load[:, None]).T * scale[:, None]  # x' = A z + b
        b = w.mean_[cols]
        k = C.shape[0]
        S = full_covariances(gm.covariances_, gm.covariance_type, gm.n_components, k)
        covs = A @ S @ A.T
        if w.noise_variance_ > 0 and len(cols) > k:
            P = np.eye(len(cols)) - C.T @ C
            covs = covs + w.noise_variance_ * (scale[:, None] * P * scale[None, :])
        means = gm.means_ @ A.T + b
        return gm.weights_, means, covs, cols

    def with_heaps(self, X: Array, rng: np.random.Generator) -> WhitenedMixture:
        """This model with the map of the heaped columns of its training rows ``X``
        (:mod:`mixsynth.heaps`), the marginals estimated from its own draws (``rng``); without
        one when no column is heaped. Call it again after replacing the mixture: the map
        belongs to the mixture it was estimated from."""
        heaped = heaped_columns(X)
        if not heaped.any():
            return dataclasses.replace(self, heaps=None)
        return dataclasses.replace(
            self, heaps=HeapMap.fit(X, self.support_draws(DRAWS, rng), heaped))

    def support_draws(self, n: int, rng: np.random.Generator) -> Array:
        """Unconditional rows as the support's rounding receives them (reflected into the
        bounds with ``support="clip"``): what :class:`~mixsynth.heaps.HeapMap` is fitted on."""
        draw = self._sampler({}, _position)
        X = draw(n, rng)
        return X if self.support == "truncate" else self._reflect(X, self._free_mask({}))

    def _round(self, X: Array, free: NDArray[np.bool_], rng: np.random.Generator) -> Array:
        if self.support is not None:
            if self.heaps is not None:
                self.heaps.apply(X, free, rng)
            cols = self.integer_columns & free
            X[:, cols] = np.round(X[:, cols])
            if self.decimals is not None:
                for j in np.flatnonzero(free & ~self.integer_columns & (self.decimals >= 0)):
                    X[:, j] = np.round(X[:, j], int(self.decimals[j]))
        return X

    def _free_mask(self, fixed: Fixed) -> NDArray[np.bool_]:
        free = np.ones(self.n_features, dtype=bool)
        free[list(fixed)] = False
        return free

    def _apply_support(self, X: Array, fixed: Fixed, rng: np.random.Generator) -> Array:
        free = self._free_mask(fixed)
        X = self._reflect(X, free)
        X = self._round(X, free, rng)
        if self.support is not None:
            X[:, free] = np.clip(X[:, free], self.lower_bounds[free], self.upper_bounds[free])
        return X

    def _reflect(self, X: Array, free: NDArray[np.bool_]) -> Array:
        """Reflect a value beyond a bound back inside, then clip what a reflection sends past
        the other bound: clipping alone piled every draw beyond a bound onto it (13-18 % of a
        breast-cancer column). Models saved before decimals were recorded keep clipping (in
        :meth:`_apply_support`): the same rows."""
        if self.support is not None and self.decimals is not None:
            lo, hi = self.lower_bounds[free], self.upper_bounds[free]
            V = X[:, free]
            V = np.where(V < lo, 2.0 * lo - V, V)
            V = np.where(V > hi, 2.0 * hi - V, V)
            X[:, free] = np.clip(V, lo, hi)
        return X

    def _sample_truncated(
        self, n: int, rng: np.random.Generator, draw: Draw, fixed: Fixed
    ) -> Array:
        """Rejection sampling: redraw rows outside the bounds until ``n`` are inside."""
        free = self._free_mask(fixed)
        lo, hi = self.lower_bounds[free], self.upper_bounds[free]
        kept: list[Array] = []
        have, drawn = 0, 0
        batch = max(n, 64)
        while have < n:
            X = self._round(draw(batch, rng), free, rng)
            ok = X[np.all((X[:, free] >= lo) & (X[:, free] <= hi), axis=1)]
            kept.append(ok)
            have += len(ok)
            drawn += batch
            rate = have / drawn
            if drawn >= 100 * max(n, 64) and rate < _MIN_ACCEPTANCE:
                raise RuntimeError(
                    f"support='truncate' accepted only {rate:.2%} of draws; the model puts "
                    "little mass inside the bounds. Use support='clip' or wider bounds."
                )
            batch = int(min(max(64, 1.2 * (n - have) / max(rate, _MIN_ACCEPTANCE)), 10 * n + 64))
        return np.concatenate(kept)[:n] if kept else np.empty((0, self.n_features))


@dataclass(frozen=True, eq=False)  # arrays inside: equal only to itself
class ClassConditional:
    """One synthesizer per class, and the class priors.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted labels.
    priors : ndarray of shape (n_classes,)
        Training class proportions.
    models : tuple of Synthesizer
        Fitted on each class's rows (each holding a :class:`WhitenedMixture`).
    memorization : dict or None
        The class models' guard results weighted by the priors (``per_class`` lists them).
    """

    classes: NDArray[Any]
    priors: Array
    models: tuple[Synthesizer, ...]
    memorization: dict[str, Any] | None = None

    #: No whitener, mixture, selection or support transform of its own: each class has its own.
    whitener: None = None
    mixture: None = None
    selection: None = None
    support_transform: None = None

    @property
    def lower_bounds(self) -> Array:
        """The smallest of the classes' lower bounds, per column."""
        return np.min([m.lower_bounds_ for m in self.models], axis=0)

    @property
    def upper_bounds(self) -> Array:
        """The largest of the classes' upper bounds, per column."""
        return np.max([m.upper_bounds_ for m in self.models], axis=0)

    @property
    def integer_columns(self) -> NDArray[np.bool_]:
        """Columns whole-valued in every class."""
        return np.all([m.integer_columns_ for m in self.models], axis=0)

    @property
    def n_parameters(self) -> int:
        return sum(m.n_parameters_ for m in self.models) + len(self.classes) - 1

    @property
    def n_components(self) -> int:
        """Components over every class."""
        return sum(m.model_.n_components for m in self.models)

    def parts(self) -> tuple[Part, ...]:
        """``(label, prior, model)`` of every class."""
        return tuple(
            (c, float(p), part)
            for c, p, m in zip(self.classes, self.priors, self.models, strict=True)
            for _, _, part in m.model_.parts()
        )

    def score_samples(self, X: Array) -> Array:
        """``log sum_c pi_c p(x | c)``."""
        per_class = np.stack([m.model_.score_samples(X) for m in self.models], axis=1)
        return logsumexp(per_class + np.log(self.priors), axis=1)

    def sample(
        self, n: int, rng: np.random.Generator, fixed: Fixed, y: Any = None,
        column_name: Callable[[int], str] = _position, temperature: float = 1.0,
    ) -> tuple[Array, NDArray[Any]]:
        """Rows of class ``y``, or of classes drawn in the training proportions; shuffled.
        ``temperature`` tempers each class model (the class priors are not tempered)."""
        if y is not None:
            matches = np.flatnonzero(self.classes == y)
            if len(matches) == 0:
                known = [_plain(c) for c in self.classes]
                raise ValueError(f"Unknown class {_plain(y)!r}; known classes: {known}.")
            counts = np.zeros(len(self.classes), dtype=np.int64)
            counts[matches[0]] = n
        else:
            counts = rng.multinomial(int(n), self.priors)
        children = rng.spawn(len(self.classes))
        parts = [
            m.model_.sample(int(c), g, fixed, None, column_name, temperature)[0]
            for m, c, g in zip(self.models, counts, children, strict=True)
        ]
        X = np.concatenate(parts) if parts else np.empty((0, self.models[0].n_features_in_))
        labels = np.repeat(self.classes, counts)
        order = rng.permutation(int(n))
        return X[order], labels[order]


def pooled_memorization(
    memorizations: Sequence[dict[str, Any] | None], priors: Array
) -> dict[str, Any] | None:
    """The class models' guard results, weighted by the class priors."""
    parts = list(zip(memorizations, priors, strict=True))
    if any(part is None for part, _ in parts):
        return None
    keys = ("near_copy_rate", "holdout_near_copy_rate")
    out: dict[str, Any] = {
        k: float(sum(p * part[k] for part, p in parts if part is not None)) for k in keys
    }
    out["warned"] = any(part["warned"] for part, _ in parts if part is not None)
    out["per_class"] = [part for part, _ in parts]
    return out


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for messages (``'a'`` rather than ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value
