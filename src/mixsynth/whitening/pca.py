"""The whitening learnt from moments: principal directions, or one coordinate per column.

Pure functions over moments (no data): :func:`_whitener_from_moments` (eigendecomposition of the
covariance of the non-constant columns, null directions dropped) and :func:`_per_column_state`
(standardisation without rotation, for data with missing values).

The covariance comes in one of two forms, with the same operations (its diagonal, the
covariance of the columns rescaled, its eigenpairs): :class:`DenseCovariance`, the d'×d'
matrix (what a streamed fit can merge), and :class:`RowDeviations`, the centred rows ``Z`` of
data with fewer rows than columns, whose covariance ``Z.T @ Z / (n - 1)`` is never formed: its
eigenpairs come from the SVD of ``Z`` in O(n² d') instead of O(d'³) — 10,000 columns of 5 rows
would need an 800 MB matrix and minutes of ``eigh`` for at most 4 directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Literal, Protocol

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

_EPS = float(np.finfo(np.float64).eps)

# With scale="none" the variances are kept in the data's own units (as PCA does) unless the
# columns' magnitude is beyond 2**±_SAFE_EXP: then squaring would overflow or underflow, and a
# common power of two is factored out into `scale_` instead (exact, and PCA does not care).
_SAFE_EXP = 300


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


class Covariance(Protocol):
    """A covariance of d' columns, as :func:`_whitener_from_moments` uses it."""

    @property
    def size(self) -> int:
        """d', the number of columns."""
        ...

    def diagonal(self) -> NDArray[np.float64]:
        """The variances, shape (d',)."""
        ...

    def divided(self, s: NDArray[np.float64]) -> Covariance:
        """The covariance of the columns divided by ``s``: ``C / outer(s, s)``."""
        ...

    def scaled(self, s: NDArray[np.float64]) -> Covariance:
        """The covariance of the columns multiplied by ``s``: ``C * outer(s, s)``."""
        ...

    @property
    def matrix(self) -> NDArray[np.float64]:
        """The d'×d' matrix (formed, for :class:`RowDeviations`)."""
        ...

    def eigh(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """All d' eigenvalues, largest first, and the eigenvectors of the leading ones as
        columns (d' of them, or as many as there are rows: the rest have eigenvalue 0)."""
        ...


@dataclass(frozen=True)
class DenseCovariance:
    """The d'×d' matrix itself."""

    matrix: NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.matrix.shape[0])

    def diagonal(self) -> NDArray[np.float64]:
        return np.diag(self.matrix).copy()

    def divided(self, s: NDArray[np.float64]) -> DenseCovariance:
        return DenseCovariance(self.matrix / np.outer(s, s))

    def scaled(self, s: NDArray[np.float64]) -> DenseCovariance:
        return DenseCovariance(self.matrix * np.outer(s, s))

    def eigh(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.size == 0:
            return np.zeros(0), np.zeros((0, 0))
        lam, V = scipy.linalg.eigh(self.matrix)
        return lam[::-1].copy(), V[:, ::-1]


@dataclass(frozen=True)
class RowDeviations:
    """The covariance ``Z.T @ Z / (n - 1)`` of ``n >= 2`` centred rows ``Z`` (n × d'), kept as
    ``Z``: for data with fewer rows than columns, where the matrix would be large and of rank at
    most n - 1."""

    Z: NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.Z.shape[1])

    def diagonal(self) -> NDArray[np.float64]:
        return np.einsum("ij,ij->j", self.Z, self.Z) / (self.Z.shape[0] - 1)

    def divided(self, s: NDArray[np.float64]) -> RowDeviations:
        return RowDeviations(self.Z / s)

    def scaled(self, s: NDArray[np.float64]) -> RowDeviations:
        return RowDeviations(self.Z * s)

    @property
    def matrix(self) -> NDArray[np.float64]:
        return self.Z.T @ self.Z / (self.Z.shape[0] - 1)

    def eigh(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        n, d = self.Z.shape
        _, sv, Vt = scipy.linalg.svd(self.Z, full_matrices=False)  # singular values descending
        lam = np.zeros(d)
        lam[: len(sv)] = sv**2 / (n - 1)
        return lam, Vt.T


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
    scaled_cov: Covariance,
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
    scaled_cov : Covariance
        Covariance (ddof=1) of the centred non-constant columns, column ``j`` divided by
        ``2**col_exp[j]``: the matrix, or the rows themselves when they are fewer.
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
    d_var = scaled_cov.size
    varying = ~constant_mask
    scale_ = np.ones(d)

    if scale == "std":
        s = np.sqrt(scaled_cov.diagonal())
        C = scaled_cov.divided(s)  # the correlation matrix
        scale_[varying] = np.ldexp(s, col_exp)
        out_exp = 0  # eigenvalues of C are already in the units of (x - mean) / scale_
    else:
        # Factor the largest column scale out: C = 2**(-2 g) cov(x) has entries <= 1, and
        # columns far smaller than the largest underflow harmlessly to relative zero.
        g = int(col_exp.max()) if d_var else 0
        C = scaled_cov.scaled(np.ldexp(1.0, col_exp - g))
        common = g if abs(g) > _SAFE_EXP else 0
        scale_[varying] = np.ldexp(1.0, common)
        out_exp = 2 * (g - common)

    lam, V = C.eigh()
    # Null directions: eigenvalues within rounding of zero relative to the largest. They carry
    # no variance the data can support and would make whitening divide by ~0. Centred data
    # span at most n - 1 directions, whatever rounding says.
    tol = _null_tolerance(n_samples, d_var) * (lam[0] if d_var else 0.0)
    rank = min(int(np.count_nonzero(lam > tol)), n_samples - 1)
    lam[rank:] = 0.0
    lam = np.ldexp(lam, out_exp)

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
    components[:, varying] = _flip_signs(V[:, :k]).T
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

