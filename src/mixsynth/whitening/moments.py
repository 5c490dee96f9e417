"""Column moments, computed so that nothing overflows or loses its precision.

:func:`_prescaled_moments` (an array), :func:`_per_column_moments` (each column's observed
values, for data with missing values) and :class:`ColumnMoments` (mergeable chunk summaries of a
streamed fit) all give what :func:`~mixsynth.whitening.pca._whitener_from_moments` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from mixsynth.whitening.pca import Covariance, DenseCovariance, RowDeviations

__all__ = ["ColumnMoments", "observed_mean_and_spread"]

#: (n_samples, mean, scaled covariance, column exponents, constant mask, constant values):
#: what :func:`_whitener_from_moments` takes.
_Moments = tuple[
    int,
    NDArray[np.float64],
    Covariance,
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
    scaled_cov : Covariance
        Covariance (ddof=1) of ``Z = (X - mean) / 2**col_exp`` over the non-constant columns.
        ``|Z| < 1`` with a maximum of at least 1/2 per column, so the products cannot overflow and
        the spread keeps its full precision. The n_varying × n_varying matrix; with fewer rows
        than non-constant columns, ``Z`` itself (:class:`~mixsynth.whitening.pca.RowDeviations`:
        the matrix would be large, and of rank n - 1 at most).
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
    scaled_cov: Covariance
    if Z.shape[1] == 0:
        scaled_cov = DenseCovariance(np.zeros((0, 0)))
    elif n < Z.shape[1]:  # wide: at least two rows, as a non-constant column needs two
        Z -= Z.mean(axis=0)  # the residual mean, as subtracted below
        scaled_cov = RowDeviations(Z)
    else:
        # Subtracting the (tiny) residual mean keeps the covariance exact to rounding even if
        # the refined mean is still an ulp off.
        r = Z.mean(axis=0)
        scaled_cov = DenseCovariance((Z.T @ Z - n * np.outer(r, r)) / (n - 1))
    return n, mean, scaled_cov, col_exp, constant, xmax[constant].copy()


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
            var.append(cov.diagonal()[0])
            exps.append(e[0])
    return (
        X.shape[0], mean, DenseCovariance(np.diag(np.asarray(var, dtype=np.float64))),
        np.asarray(exps, dtype=np.int64), constant, np.asarray(values, dtype=np.float64),
    )


def observed_mean_and_spread(
    X: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each column's mean and standard deviation (``ddof=0``) over its observed (non-NaN)
    values, as ``np.nanmean`` / ``np.nanstd`` give them but without overflow: values near
    1e200 square to inf there (an infinite spread), here every column is pre-scaled by a power
    of two first (:func:`_prescaled_moments`). A constant column's spread is 0.

    Every column must have an observed value.
    """
    _, mean, var, exps, constant, _ = _per_column_moments(X)
    spread = np.zeros(X.shape[1])
    observed = (~np.isnan(X)).sum(axis=0)[~constant]
    spread[~constant] = np.ldexp(np.sqrt(var.diagonal() * (observed - 1) / observed), exps)
    return mean, spread


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
        ``Σ (u - mean)(u - mean)^T``. A chunk of fewer rows than columns keeps its rows
        ``u - mean`` instead and forms this matrix only when asked (a merge asks): an in-memory
        fit reads only the bounds, and 10,000 columns would make it 800 MB.
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
    #: the comoment, or the centred rows ``u - mean`` (n_samples, n_features) it is made of
    scatter: DenseCovariance | RowDeviations
    minimum: NDArray[np.float64]
    maximum: NDArray[np.float64]

    @cached_property
    def comoment(self) -> NDArray[np.float64]:
        """``Σ (u - mean)(u - mean)^T``, shape (n_features, n_features)."""
        if isinstance(self.scatter, RowDeviations):
            return self.scatter.Z.T @ self.scatter.Z
        return self.scatter.matrix

    @classmethod
    def empty(cls, n_features: int) -> ColumnMoments:
        """The moments of no rows: the identity of ``+``."""
        d = int(n_features)
        return cls(
            0, np.zeros(d), np.zeros(d, dtype=np.int64), np.zeros(d),
            DenseCovariance(np.zeros((d, d))),
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
        if n < d:  # the rows are the smaller form
            U -= U.mean(axis=0)
            return cls(n, pivot, e.astype(np.int64), m, RowDeviations(U), lo, hi)
        r = U.mean(axis=0)
        comoment = U.T @ U - n * np.outer(r, r)
        return cls(n, pivot, e.astype(np.int64), m, DenseCovariance(comoment), lo, hi)

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
            n, self.pivot, exp, ma + delta * (nb / n), DenseCovariance(comoment),
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
        col_exp = (e + e1).astype(np.int64)
        scaled_cov: Covariance
        if isinstance(self.scatter, RowDeviations) and self.n_samples >= 2:
            scaled_cov = RowDeviations(self.scatter.Z[:, varying] * s)  # never formed
        else:
            matrix = self.comoment[np.ix_(varying, varying)] * np.outer(s, s)
            if matrix.size:
                matrix /= self.n_samples - 1
            scaled_cov = DenseCovariance(matrix)
        return (
            self.n_samples, self.data_mean(), scaled_cov, col_exp, constant,
            self.maximum[constant].copy(),
        )

