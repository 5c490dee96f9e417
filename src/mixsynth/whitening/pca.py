"""The whitening learnt from moments: principal directions, or one coordinate per column.

Pure functions over moments (no data): :func:`_whitener_from_moments` (eigendecomposition of the
small covariance of the non-constant columns, null directions dropped) and
:func:`_per_column_state` (standardisation without rotation, for data with missing values).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Literal

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

