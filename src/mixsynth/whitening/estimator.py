"""The :class:`Whitener` estimator, and how it is stored in a model file.

The estimator validates its input and parameters and delegates the numerics: moments to
:mod:`mixsynth.whitening.moments`, the whitening learnt from them to
:mod:`mixsynth.whitening.pca`.
"""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from mixsynth.modelfile import Attr, ModelFileError, Table, Tensor, register
from mixsynth.modelfile.attributes import _int, _nonneg_float
from mixsynth.modelfile.tables import _FEATURE_NAMES, _positive, _same_length, _unit_interval
from mixsynth.validation import Counts, check_input, column_label
from mixsynth.whitening.moments import ColumnMoments, _per_column_moments, _prescaled_moments
from mixsynth.whitening.pca import (
    _null_tolerance,
    _per_column_state,
    _whitener_from_moments,
    _WhitenerState,
)

__all__ = ["ConstantColumnsWarning", "Whitener"]

# How many column names a warning spells out before it summarises.
_MAX_NAMED = 10


class ConstantColumnsWarning(UserWarning):
    """Some columns hold one value only; they are set aside and restored exactly."""


class Whitener(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Centre, scale, project on the leading principal directions and whiten.

    Exactly constant columns are set aside before PCA (with a :class:`ConstantColumnsWarning`
    naming them) and restored exactly by :meth:`inverse_transform`. Null directions are always
    dropped: eigenvalues at most ``10 (d' + sqrt(n_samples)) eps`` times the largest (d' the
    number of non-constant columns), and all beyond the ``n_samples - 1`` that centred data can
    span. So collinear columns and more features than samples are fine.

    Parameters
    ----------
    n_components : float in (0, 1], int >= 1 or None, default=0.99
        A float keeps the smallest number of directions whose cumulative explained-variance ratio
        reaches it (as :class:`sklearn.decomposition.PCA` with ``svd_solver="full"``, which
        differs only when a cumulative ratio equals the fraction exactly: PCA then keeps one more
        direction); ``1.0``
        keeps every non-null direction. An int keeps that many, capped at the rank of the data
        with a warning. ``None`` keeps every non-null direction.
    whiten : bool, default=True
        Divide each projected coordinate by the square root of its variance, so the transformed
        training data has identity covariance (ddof=1, as scikit-learn's PCA).
    scale : {"std", "none"}, default="std"
        ``"std"`` divides each non-constant column by its standard deviation (ddof=1) before
        PCA, which suits tabular data with columns in different units; ``"none"`` is textbook
        PCA of the centred data.
    missing : {"error", "keep"}, default="error"
        What NaN in ``X`` means. "error": NaN is refused, naming its column and first row.
        "keep": NaN marks a missing value and the whitening is *per column, without rotation*
        (a principal direction mixes every column, so it is undefined for a row with a gap):
        each column is centred on the mean of its observed values and divided by their
        standard deviation (``scale="std"``), and each non-constant column is one output
        coordinate, in column order (``components_`` are rows of the identity;
        ``n_components`` is ignored: no direction is dropped). ``transform`` keeps each NaN in
        its own coordinate, ``inverse_transform`` maps NaN back to NaN, and
        ``residual_log_density`` is the Jacobian of the observed coordinates only. A column
        with no observed value is an error at ``fit``; ±inf always is. Downstream, a mixture
        fitted with ``missing="em"`` models the gaps.

    Attributes
    ----------
    n_components_ : int
        Number of directions kept (0 when every column is constant).
    mean_ : ndarray of shape (n_features_in_,)
        Column means (exact values on constant columns).
    scale_ : ndarray of shape (n_features_in_,)
        Per-column divisor applied after centring: the standard deviation with ``scale="std"``;
        1.0 with ``scale="none"`` (unless the data's magnitude is beyond about 1e±90, where a
        common power of two stands in so the variances stay finite); 1.0 on constant columns.
    components_ : ndarray of shape (n_components_, n_features_in_)
        Unit principal directions in the space of ``(x - mean_) / scale_``, expressed over the
        original columns (zero on constant columns). Largest-magnitude loading positive.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance (ddof=1) along each kept direction, in the units of ``(x - mean_) / scale_``.
    explained_variance_ratio_ : ndarray of shape (n_components_,)
        Fraction of the total variance of the non-constant columns.
    noise_variance_ : float
        Mean of the discarded eigenvalues (probabilistic PCA's sigma squared); 0.0 when nothing
        with variance was discarded.
    constant_mask_ : ndarray of shape (n_features_in_,), bool
        Which columns are constant.
    constant_values_ : ndarray of shape (n_constant,)
        The constant columns' values, in column order.
    n_samples_ : int
        Number of rows seen during fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3)) @ [[1, 2, 0], [0, 1, 0], [0, 0, 3]]
    >>> w = Whitener(n_components=None).fit(X)
    >>> Z = w.transform(X)
    >>> bool(np.allclose(np.cov(Z.T), np.eye(3)))
    True
    >>> bool(np.allclose(w.inverse_transform(Z), X))
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [
            Counts(1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            None,
        ],
        "whiten": ["boolean"],
        "scale": [StrOptions({"std", "none"})],
        "missing": [StrOptions({"error", "keep"})],
    }

    def __init__(
        self,
        n_components: float | int | None = 0.99,
        *,
        whiten: bool = True,
        scale: Literal["std", "none"] = "std",
        missing: Literal["error", "keep"] = "error",
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.scale = scale
        self.missing = missing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: Any = None) -> Whitener:
        """Learn the centring, scaling and principal directions of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric data.
        y : None
            Ignored.

        Returns
        -------
        self : Whitener
        """
        keep = self.missing == "keep"
        Xv = check_input(X, estimator=self, reset=True, allow_nan=keep)
        if keep:
            _, mean, cov, col_exp, constant, values = _per_column_moments(Xv)
            state = _per_column_state(
                mean, cov.diagonal(), col_exp, constant, values, scale=self.scale
            )
        else:
            moments = _prescaled_moments(Xv)
            state = _whitener_from_moments(
                *moments, n_components=self.n_components, scale=self.scale
            )
        self._adopt(state, int(Xv.shape[0]))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_from_moments(
        self, moments: ColumnMoments, *, feature_names: ArrayLike | None = None
    ) -> Whitener:
        """Learn the whitening from merged per-chunk moments: the streaming form of :meth:`fit`.

        ``Whitener().fit_from_moments(sum(ColumnMoments.from_array(c) for c in chunks))``
        equals ``Whitener().fit(np.concatenate(chunks))`` to rounding, for any chunking.

        Parameters
        ----------
        moments : ColumnMoments
            Moments of all the rows (at least one).
        feature_names : array-like of str of shape (n_features,), optional
            Recorded as ``feature_names_in_``.

        Returns
        -------
        self : Whitener
        """
        n, d = moments.n_samples, moments.n_features
        if n < 1:
            raise ValueError(
                f"Found array with {n} sample(s) (shape=({n}, {d})) while a minimum of 1 is "
                "required by Whitener."
            )
        if d < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is "
                "required by Whitener."
            )
        self.n_features_in_ = d
        if feature_names is not None:
            names = np.asarray(feature_names, dtype=object)
            if names.shape != (d,):
                raise ValueError(f"feature_names has shape {names.shape}, expected ({d},).")
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        inputs = moments._whitener_inputs()
        if self.missing == "keep":  # the per-column whitening of the same (complete) rows
            _, mean, cov, col_exp, constant, values = inputs
            state = _per_column_state(
                mean, cov.diagonal(), col_exp, constant, values, scale=self.scale
            )
        else:
            state = _whitener_from_moments(
                *inputs, n_components=self.n_components, scale=self.scale
            )
        self._adopt(state, n)
        return self

    def _adopt(self, state: _WhitenerState, n_samples: int) -> None:
        """Warn as a fit does and copy the state onto the fitted attributes."""
        names = getattr(self, "feature_names_in_", None)
        # stacklevel=4 reaches past _adopt and sklearn's _fit_context wrapper to the caller.
        if state.constant_mask.any():
            cols = np.flatnonzero(state.constant_mask)
            shown = ", ".join(column_label(int(j), names) for j in cols[:_MAX_NAMED])
            more = f" and {len(cols) - _MAX_NAMED} more" if len(cols) > _MAX_NAMED else ""
            warnings.warn(
                f"{len(cols)} constant column(s) set aside and restored exactly on "
                f"inverse_transform: {shown}{more}.",
                ConstantColumnsWarning,
                stacklevel=4,
            )
        if (
            isinstance(self.n_components, Integral) and self.n_components > state.rank
            and self.missing != "keep"
        ):
            n_varying = int(np.count_nonzero(~state.constant_mask))
            warnings.warn(
                f"n_components={self.n_components} exceeds the rank of the data "
                f"({state.rank} non-null direction(s) among {n_varying} non-constant "
                f"column(s)); keeping {state.rank}.",
                UserWarning,
                stacklevel=4,
            )

        self.mean_ = state.mean
        self.scale_ = state.scale
        self.components_ = state.components
        self.explained_variance_ = state.explained_variance
        self.explained_variance_ratio_ = state.explained_variance_ratio
        self.noise_variance_ = state.noise_variance
        self.constant_mask_ = state.constant_mask
        self.constant_values_ = state.constant_values
        self.n_components_ = int(state.components.shape[0])
        self.n_samples_ = int(n_samples)

    @property
    def _n_features_out(self) -> int:
        """Output width, for ``get_feature_names_out`` (names ``whitener0``, ``whitener1``...)."""
        return int(self.components_.shape[0])

    def _standardise(self, X: ArrayLike) -> NDArray[np.float64]:
        """``(x - mean_) / scale_``, after validating ``X`` against the fit."""
        check_is_fitted(self)
        Xv = check_input(X, estimator=self, reset=False, allow_nan=self._keeps_missing)
        return (Xv - self.mean_) / self.scale_

    @property
    def _keeps_missing(self) -> bool:
        return getattr(self, "missing", "error") == "keep"

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Project ``X`` on the kept directions (whitened when ``whiten``).

        Values in constant columns are ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Finite numeric data.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components_)
        """
        if self._keeps_missing:  # no rotation: select, so NaN stays in its own coordinate
            Z = self._standardise(X)[:, ~self.constant_mask_]
        else:
            Z = self._standardise(X) @ self.components_.T
        if self.whiten:
            Z /= np.sqrt(self.explained_variance_)
        return Z

    def inverse_transform(self, Z: ArrayLike) -> NDArray[np.float64]:
        """Map transformed points back to the original columns.

        Exact inverse of :meth:`transform` on the span of the kept directions; constant columns
        get their constant value exactly.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components_)
            Points in the transformed space (0 rows are allowed).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_), float64
        """
        check_is_fitted(self)
        keep = self._keeps_missing
        Zv = check_input(
            Z, name="Z", ensure_min_samples=0, ensure_min_features=0, allow_nan=keep,
            reset=False,
        )
        if Zv.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Zv.shape[1]} features, but Whitener is expecting "
                f"{self.n_components_} features as input (n_components_)."
            )
        if self.whiten:
            Zv = Zv * np.sqrt(self.explained_variance_)
        if keep:  # no rotation: each coordinate is its column (NaN stays NaN)
            X = np.zeros((Zv.shape[0], self.n_features_in_))
            X[:, ~self.constant_mask_] = Zv
            X = X * self.scale_ + self.mean_
        else:
            X = (Zv @ self.components_) * self.scale_ + self.mean_
        X[:, self.constant_mask_] = self.constant_values_
        return X

    def residual_log_density(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-density correction from the transformed space back to the original space.

        For a density ``p_model`` of the transformed data,
        ``log p(x) = log p_model(transform(x)) + residual_log_density(x)``. The correction is

        - ``-sum_j log scale_j``, the Jacobian of the per-column scaling;
        - ``-1/2 sum_{i<k} log explained_variance_[i]``, the Jacobian of whitening (only when
          ``whiten``);
        - ``log N(b; 0, sigma2 I)`` for the coordinates ``b`` of the scaled, centred ``x`` in the
          d' - k discarded directions, with ``sigma2 = noise_variance_``: the probabilistic-PCA
          model, whose covariance in the scaled space is ``W W^T + sigma2 I``. When nothing with
          variance was discarded (exactly rank-deficient data) ``sigma2`` is floored at the
          null-direction tolerance, ``10 (d' + sqrt(n_samples_)) eps explained_variance_[0]``
          (a relative 1e-14 or so), so the density
          stays finite.

        The density is over the non-constant columns, conditional on the constant columns having
        their constant values: constant columns contribute nothing (their values are ignored).

        With ``missing="keep"`` (per column, nothing dropped) it is
        ``-sum_{j observed} (log scale_j + 1/2 log explained_variance_j)`` over each row's
        observed non-constant columns: the correction of the marginal density over the
        observed values (0 for a row with none observed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Finite numeric data.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        U = self._standardise(X)[:, ~self.constant_mask_]
        if self._keeps_missing:
            # per column, nothing dropped: the Jacobian of the observed coordinates only (the
            # density of a row with gaps is the marginal over its observed values)
            observed = ~np.isnan(U)
            per_coord = np.log(self.scale_[~self.constant_mask_])
            if self.whiten:
                per_coord = per_coord + 0.5 * np.log(self.explained_variance_)
            return 0.0 - observed.astype(np.float64) @ per_coord  # 0.0 -: no -0.0
        d_var = U.shape[1]
        k = self.n_components_
        out = np.full(U.shape[0], -float(np.sum(np.log(self.scale_))))
        if self.whiten:
            out -= 0.5 * float(np.sum(np.log(self.explained_variance_)))
        n_discarded = d_var - k
        if n_discarded > 0:
            V = self.components_[:, ~self.constant_mask_]
            # The residual vector itself, not |u|^2 - |y|^2, which cancels catastrophically.
            R = U - (U @ V.T) @ V
            floor = _null_tolerance(self.n_samples_, d_var) * float(self.explained_variance_[0])
            sigma2 = max(float(self.noise_variance_), floor)
            out -= 0.5 * n_discarded * np.log(2.0 * np.pi * sigma2)
            out -= 0.5 * np.einsum("ij,ij->i", R, R) / sigma2
        return out


# ------------------------------------------------------------------------------ model files
# How a Whitener is stored in a model file (mixsynth.modelfile), registered at import.


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
    later_params=(("missing", "error"),),
)

register("whitener", _WHITENER)
