"""Whitening: centre, scale per column, keep the leading principal directions, whiten.

:class:`Whitener` is the first stage of every mixsynth model. It maps the data to a space in which
a Gaussian mixture is easy to fit (few, decorrelated, unit-variance coordinates), maps generated
points back (:meth:`Whitener.inverse_transform`), and says how densities change on the way
(:meth:`Whitener.residual_log_density`).

The numerics are built for data that break naive PCA:

- every column is first divided by an exact power of two near its largest magnitude, so that no
  sum can overflow (values near 1e300) and nothing underflows (values near 1e-200);
- the mean is taken in that scaled domain and refined by a second pass, then the centred
  deviations are scaled again by a power of two near their largest magnitude *before* anything is
  squared, so a large offset with a small spread (1e12 ± 1) keeps the full precision of the spread;
- exactly constant columns are set aside (remembered and restored exactly), and null directions of
  collinear or short-and-wide data are always dropped.

The principal directions come from the eigendecomposition of a small d'×d' covariance matrix
(d' = number of non-constant columns) by :func:`_whitener_from_moments`, a pure function over
moments. A streaming fit summarises each chunk as :class:`ColumnMoments`, merges them pairwise
(``a + b``, the update of Chan, Golub and LeVeque) and calls :meth:`Whitener.fit_from_moments`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.linalg
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
from mixsynth.validation import check_input, column_label

__all__ = ["ColumnMoments", "ConstantColumnsWarning", "Whitener"]

_EPS = float(np.finfo(np.float64).eps)

# With scale="none" the variances are kept in the data's own units (as PCA does) unless the
# columns' magnitude is beyond 2**±_SAFE_EXP: then squaring would overflow or underflow, and a
# common power of two is factored out into `scale_` instead (exact, and PCA does not care).
_SAFE_EXP = 300

# How many column names a warning spells out before it summarises.
_MAX_NAMED = 10


class ConstantColumnsWarning(UserWarning):
    """Some columns hold one value only; they are set aside and restored exactly."""


@dataclass(frozen=True)
class _WhitenerState:
    """Everything a fit learns; the estimator copies it onto its ``*_`` attributes."""

    mean: NDArray[np.float64]  # (d,)
    scale: NDArray[np.float64]  # (d,)
    components: NDArray[np.float64]  # (k, d), zero on constant columns
    explained_variance: NDArray[np.float64]  # (k,)
    explained_variance_ratio: NDArray[np.float64]  # (k,)
    noise_variance: float
    constant_mask: NDArray[np.bool_]  # (d,)
    constant_values: NDArray[np.float64]  # (n_constant,)
    rank: int  # number of non-null directions among the d' non-constant columns


#: (n_samples, mean, scaled covariance, column exponents, constant mask, constant values):
#: what :func:`_whitener_from_moments` takes.
_Moments = tuple[
    int,
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.bool_],
    NDArray[np.float64],
]


def _prescaled_moments(
    X: NDArray[np.float64],
) -> _Moments:
    """Mean and covariance of ``X`` with every column pre-scaled by an exact power of two.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite float64 data; it is not modified.

    Returns
    -------
    n_samples : int
        Number of rows.
    mean : ndarray of shape (n_features,)
        Column means in the data's units; exactly the value of each constant column.
    scaled_cov : ndarray of shape (n_varying, n_varying)
        Covariance (ddof=1) of ``Z = (X - mean) / 2**col_exp`` over the non-constant columns.
        ``|Z| < 1`` with a maximum of at least 1/2 per column, so the products cannot overflow and
        the spread keeps its full precision.
    col_exp : ndarray of shape (n_varying,), int
        The power-of-two exponents.
    constant_mask : ndarray of shape (n_features,), bool
        Columns whose maximum equals their minimum.
    constant_values : ndarray of shape (n_constant,)
        The value of each constant column.
    """
    n = X.shape[0]
    xmax, xmin = X.max(axis=0), X.min(axis=0)
    constant = xmax == xmin
    varying = ~constant
    # frexp/ldexp scale by powers of two: exact, unlike a division by the maximum itself.
    _, e0 = np.frexp(np.maximum(np.abs(xmax), np.abs(xmin))[varying])
    Xc = np.ldexp(X[:, varying], -e0)  # a new array, |Xc| < 1: no sum below can overflow
    m = Xc.mean(axis=0)
    Xc -= m
    # Second pass: the first mean is off by the rounding of an n-term sum, which would shift
    # every deviation alike; the mean of the residuals corrects it (corrected two-pass).
    dm = Xc.mean(axis=0)
    Xc -= dm
    m += dm
    # Constant columns keep their value itself: the mean of identical values can round.
    mean = xmax.copy()
    mean[varying] = np.ldexp(m, e0)

    # Scale the deviations, not the raw values, before squaring: 1e12 +- 1 keeps every digit.
    _, e1 = np.frexp(np.abs(Xc).max(axis=0))
    Z = np.ldexp(Xc, -e1, out=Xc)
    col_exp = (e0 + e1).astype(np.int64)
    if Z.shape[1] == 0:
        scaled_cov = np.zeros((0, 0))
    else:
        # Subtracting the (tiny) residual mean keeps the covariance exact to rounding even if
        # the refined mean is still an ulp off.
        r = Z.mean(axis=0)
        scaled_cov = (Z.T @ Z - n * np.outer(r, r)) / (n - 1)
    return n, mean, scaled_cov, col_exp, constant, xmax[constant].copy()


def _flip_signs(V: NDArray[np.float64]) -> NDArray[np.float64]:
    """Make the largest-magnitude loading of each column of ``V`` positive (sklearn's svd_flip).

    An eigenvector is only defined up to sign; fixing it makes fits reproducible across LAPACK
    builds and comparable with scikit-learn's PCA.
    """
    if V.size == 0:
        return V
    rows = np.argmax(np.abs(V), axis=0)
    signs = np.sign(V[rows, np.arange(V.shape[1])])
    return V * signs


def _null_tolerance(n_samples: int, n_varying: int) -> float:
    """Eigenvalues at most this times the largest are treated as exactly zero.

    The covariance is formed from ``n_samples`` products and decomposed at size ``n_varying``;
    the rounding of both leaves a truly null direction with an eigenvalue of a few
    ``eps * largest`` (measured up to about 8 at a million rows). The factor 10 and the
    ``sqrt(n_samples)`` (typical growth of summation error) leave a wide margin, while any real
    direction this small relative to the largest is noise for every purpose of whitening.
    """
    return 10.0 * (n_varying + np.sqrt(n_samples)) * _EPS


def _whitener_from_moments(
    n_samples: int,
    mean: NDArray[np.float64],
    scaled_cov: NDArray[np.float64],
    col_exp: NDArray[np.int64],
    constant_mask: NDArray[np.bool_],
    constant_values: NDArray[np.float64],
    *,
    n_components: float | int | None,
    scale: Literal["std", "none"],
) -> _WhitenerState:
    """Principal directions and whitening scales from (possibly merged) moments.

    Parameters
    ----------
    n_samples : int
        Number of rows the moments summarise.
    mean : ndarray of shape (n_features,)
        Column means; exact values on constant columns.
    scaled_cov : ndarray of shape (n_varying, n_varying)
        Covariance (ddof=1) of the centred non-constant columns, column ``j`` divided by
        ``2**col_exp[j]``.
    col_exp : ndarray of shape (n_varying,), int
        Power-of-two exponents of the pre-scaling.
    constant_mask : ndarray of shape (n_features,), bool
        Constant columns (``n_varying = n_features - constant_mask.sum()``).
    constant_values : ndarray of shape (n_constant,)
        Their values.
    n_components : float in (0, 1], int >= 1 or None
        Variance fraction, count (capped at the rank; the caller warns) or all non-null.
    scale : {"std", "none"}
        Standardise the columns before PCA, or not.

    Returns
    -------
    _WhitenerState
    """
    d = mean.shape[0]
    d_var = scaled_cov.shape[0]
    varying = ~constant_mask
    scale_ = np.ones(d)

    if scale == "std":
        s = np.sqrt(np.diag(scaled_cov))
        C = scaled_cov / np.outer(s, s)  # the correlation matrix
        scale_[varying] = np.ldexp(s, col_exp)
        out_exp = 0  # eigenvalues of C are already in the units of (x - mean) / scale_
    else:
        # Factor the largest column scale out: C = 2**(-2 g) cov(x) has entries <= 1, and
        # columns far smaller than the largest underflow harmlessly to relative zero.
        g = int(col_exp.max()) if d_var else 0
        rel = np.ldexp(1.0, col_exp - g)
        C = scaled_cov * np.outer(rel, rel)
        common = g if abs(g) > _SAFE_EXP else 0
        scale_[varying] = np.ldexp(1.0, common)
        out_exp = 2 * (g - common)

    if d_var:
        lam, V = scipy.linalg.eigh(C)
        lam, V = lam[::-1].copy(), V[:, ::-1]
    else:
        lam, V = np.zeros(0), np.zeros((0, 0))
    # Null directions: eigenvalues within rounding of zero relative to the largest. They carry
    # no variance the data can support and would make whitening divide by ~0. Centred data
    # span at most n - 1 directions, whatever rounding says.
    tol = _null_tolerance(n_samples, d_var) * (lam[0] if d_var else 0.0)
    rank = min(int(np.count_nonzero(lam > tol)), n_samples - 1)
    lam[rank:] = 0.0
    lam = np.ldexp(lam, out_exp)
    V = _flip_signs(V)

    total = float(lam.sum())
    ratio = lam / total if total > 0 else lam
    if n_components is None or (not isinstance(n_components, Integral) and n_components >= 1.0):
        k = rank
    elif isinstance(n_components, Integral):
        k = min(int(n_components), rank)
    else:
        # Smallest k whose cumulative ratio reaches the fraction (cumsum[k-1] >= fraction).
        # sklearn's PCA asks for strictly more (side="right"): the two differ on exact ties only.
        k = min(int(np.searchsorted(np.cumsum(ratio), n_components, side="left")) + 1, rank)

    components = np.zeros((k, d))
    components[:, varying] = V[:, :k].T
    noise = float(lam[k:].mean()) if k < d_var else 0.0
    return _WhitenerState(
        mean=mean,
        scale=scale_,
        components=components,
        explained_variance=lam[:k].copy(),
        explained_variance_ratio=ratio[:k].copy(),
        noise_variance=noise,
        constant_mask=constant_mask,
        constant_values=constant_values,
        rank=rank,
    )


def _per_column_state(
    mean: NDArray[np.float64],
    scaled_var: NDArray[np.float64],
    col_exp: NDArray[np.int64],
    constant_mask: NDArray[np.bool_],
    constant_values: NDArray[np.float64],
    *,
    scale: Literal["std", "none"],
) -> _WhitenerState:
    """Per-column standardisation, no rotation: the whitening of data with missing values.

    Each non-constant column becomes one output coordinate, in column order ("components" are
    rows of the identity), so a missing value stays missing in its own coordinate and nothing
    else. ``scaled_var`` is each varying column's variance (ddof=1, over its observed values)
    divided by ``4**col_exp``; with ``scale="std"`` the column is divided by its standard
    deviation (explained variances 1), with ``"none"`` the variance is kept as the explained
    variance (divided out when whitening).
    """
    d = mean.shape[0]
    varying = ~constant_mask
    d_var = int(np.count_nonzero(varying))
    scale_ = np.ones(d)
    if scale == "std":
        scale_[varying] = np.ldexp(np.sqrt(scaled_var), col_exp)
        lam = np.ones(d_var)
    else:
        g = int(col_exp.max()) if d_var else 0
        common = g if abs(g) > _SAFE_EXP else 0
        scale_[varying] = np.ldexp(1.0, common)
        lam = np.ldexp(scaled_var, 2 * (col_exp - common))
    components = np.zeros((d_var, d))
    components[np.arange(d_var), np.flatnonzero(varying)] = 1.0
    total = float(lam.sum())
    return _WhitenerState(
        mean=mean, scale=scale_, components=components, explained_variance=lam,
        explained_variance_ratio=lam / total if total > 0 else lam, noise_variance=0.0,
        constant_mask=constant_mask, constant_values=constant_values, rank=d_var,
    )


def _per_column_moments(X: NDArray[np.float64]) -> _Moments:
    """:func:`_prescaled_moments` column by column over each column's observed (non-NaN)
    values; the covariance returned is diagonal (the variances), which is all the per-column
    whitening uses."""
    d = X.shape[1]
    mean = np.empty(d)
    constant = np.zeros(d, dtype=bool)
    var, exps, values = [], [], []
    for j in range(d):  # a loop over columns: each has its own observed rows
        col = X[:, j]
        col = col[~np.isnan(col)][:, None]
        _, m, cov, e, const, val = _prescaled_moments(col)
        mean[j] = m[0]
        constant[j] = const[0]
        if const[0]:
            values.append(val[0])
        else:
            var.append(cov[0, 0])
            exps.append(e[0])
    return (
        X.shape[0], mean, np.diag(np.asarray(var, dtype=np.float64)),
        np.asarray(exps, dtype=np.int64), constant, np.asarray(values, dtype=np.float64),
    )


@dataclass(frozen=True, eq=False)
class ColumnMoments:
    """Mergeable column moments of a chunk of rows: the streaming input of a :class:`Whitener`.

    The moments are kept about a *pivot*, one of the rows, with every column divided by an exact
    power of two, ``2**exponent[j]``, at least its largest magnitude: no sum or product can
    overflow (values near 1e300) or underflow (near 1e-200), and deviations from a pivot near
    the data keep the full precision of the spread (1e12 ± 1). ``a + b`` merges two chunks with
    the pairwise update of Chan, Golub and LeVeque, re-expressing ``b`` about ``a``'s pivot (the
    difference of two rows: as precise as the spread).

    Attributes
    ----------
    n_samples : int
    pivot : ndarray of shape (n_features,)
        A row of the chunk, in the data's units.
    exponent : ndarray of shape (n_features,), int
    mean : ndarray of shape (n_features,)
        Mean of ``u = (x - pivot) / 2**exponent`` (computed as ``x / 2**e - pivot / 2**e``).
    comoment : ndarray of shape (n_features, n_features)
        ``Σ (u - mean)(u - mean)^T``.
    minimum, maximum : ndarray of shape (n_features,)
        Per-column bounds, in the data's units (``+inf`` / ``-inf`` when there are no rows).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> m = ColumnMoments.from_array(X[:40]) + ColumnMoments.from_array(X[40:])
    >>> bool(np.allclose(m.covariance(), np.cov(X.T)))
    True
    """

    n_samples: int
    pivot: NDArray[np.float64]
    exponent: NDArray[np.int64]
    mean: NDArray[np.float64]
    comoment: NDArray[np.float64]
    minimum: NDArray[np.float64]
    maximum: NDArray[np.float64]

    @classmethod
    def empty(cls, n_features: int) -> ColumnMoments:
        """The moments of no rows: the identity of ``+``."""
        d = int(n_features)
        return cls(
            0, np.zeros(d), np.zeros(d, dtype=np.int64), np.zeros(d), np.zeros((d, d)),
            np.full(d, np.inf), np.full(d, -np.inf),
        )

    @classmethod
    def from_array(cls, X: NDArray[np.float64]) -> ColumnMoments:
        """Moments of one chunk.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Finite float64 data (0 rows allowed).
        """
        n, d = X.shape
        if n == 0:
            return cls.empty(d)
        hi, lo = X.max(axis=0), X.min(axis=0)
        _, e = np.frexp(np.maximum(np.abs(hi), np.abs(lo)))
        pivot = X[0].copy()
        U = np.ldexp(X, -e)  # a new array, |U| < 1
        U -= np.ldexp(pivot, -e)  # exact where x is near the pivot (Sterbenz)
        m = U.mean(axis=0)
        U -= m
        # corrected two-pass, as in the in-memory fit: the residual mean fixes the first mean's
        # rounding before anything is squared
        dm = U.mean(axis=0)
        U -= dm
        m += dm
        r = U.mean(axis=0)
        comoment = U.T @ U - n * np.outer(r, r)
        return cls(n, pivot, e.astype(np.int64), m, comoment, lo, hi)

    def __add__(self, other: ColumnMoments) -> ColumnMoments:
        if not isinstance(other, ColumnMoments):
            return NotImplemented
        if other.mean.shape != self.mean.shape:
            raise ValueError(
                f"Moments of {self.mean.shape[0]} and {other.mean.shape[0]} columns do not add."
            )
        if other.n_samples == 0:
            return self
        if self.n_samples == 0:
            return other
        exp = np.maximum(self.exponent, other.exponent)
        sa = np.ldexp(1.0, self.exponent - exp)  # exact powers of two <= 1
        sb = np.ldexp(1.0, other.exponent - exp)
        ma = self.mean * sa
        # b's mean about a's pivot: the pivots are rows, so their difference is of the spread's
        # size and is computed to its precision
        mb = other.mean * sb + (np.ldexp(other.pivot, -exp) - np.ldexp(self.pivot, -exp))
        na, nb = self.n_samples, other.n_samples
        n = na + nb
        delta = mb - ma
        # M = Ma + Mb + delta delta^T na nb / n
        comoment = self.comoment * np.outer(sa, sa) + other.comoment * np.outer(sb, sb)
        comoment += np.outer(delta, delta) * (na * nb / n)
        return ColumnMoments(
            n, self.pivot, exp, ma + delta * (nb / n), comoment,
            np.minimum(self.minimum, other.minimum), np.maximum(self.maximum, other.maximum),
        )

    def __radd__(self, other: object) -> ColumnMoments:
        if other == 0:  # lets sum() start from its default 0
            return self
        return NotImplemented

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def data_mean(self) -> NDArray[np.float64]:
        """Column means in the data's units; a constant column's value exactly."""
        e = self.exponent
        mean = np.ldexp(np.ldexp(self.pivot, -e) + self.mean, e)
        constant = self.maximum == self.minimum
        mean[constant] = self.maximum[constant]
        return mean

    def covariance(self) -> NDArray[np.float64]:
        """Covariance (ddof=1) in the data's units (may overflow for values near 1e300)."""
        s = np.ldexp(1.0, self.exponent)
        return self.comoment * np.outer(s, s) / (self.n_samples - 1)

    def _whitener_inputs(
        self,
    ) -> _Moments:
        """The arguments of :func:`_whitener_from_moments`, as :func:`_prescaled_moments` gives
        them for an array: deviations rescaled by a power of two near their largest magnitude."""
        constant = self.maximum == self.minimum
        varying = ~constant
        e = self.exponent[varying]
        p = np.ldexp(self.pivot[varying], -e)
        m = self.mean[varying]
        dev = np.maximum(
            np.abs(np.ldexp(self.maximum[varying], -e) - p - m),
            np.abs(np.ldexp(self.minimum[varying], -e) - p - m),
        )
        _, e1 = np.frexp(dev)
        s = np.ldexp(1.0, -e1)
        scaled_cov = self.comoment[np.ix_(varying, varying)] * np.outer(s, s)
        if scaled_cov.size:
            scaled_cov /= self.n_samples - 1
        col_exp = (e + e1).astype(np.int64)
        return (
            self.n_samples, self.data_mean(), scaled_cov, col_exp, constant,
            self.maximum[constant].copy(),
        )

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
            Interval(Integral, 1, None, closed="left"),
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
                mean, np.diag(cov).copy(), col_exp, constant, values, scale=self.scale
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
                mean, np.diag(cov).copy(), col_exp, constant, values, scale=self.scale
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
