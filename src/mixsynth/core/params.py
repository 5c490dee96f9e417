"""Mixture parameters in precision-Cholesky form, and the conversions around them.

A component's precision matrix is kept as a factor ``P`` with ``precision = P @ P.T`` (never an
explicit inverse), exactly as scikit-learn does, so log-densities are ``|(x - mu) @ P|^2`` and
log-determinants are sums of ``log diag(P)``.

Shapes by covariance type (``K`` components, ``d`` features):

=========== ================== =====================================
type        covariances        precisions_cholesky
=========== ================== =====================================
full        (K, d, d)          (K, d, d), triangular
tied        (d, d)             (d, d), triangular
diag        (K, d)             (K, d)
spherical   (K,)               (K,)
=========== ================== =====================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COVARIANCE_TYPES",
    "CovarianceType",
    "Params",
    "covariances_from_precisions_cholesky",
    "inv_lower_triangular",
    "log_det_cholesky",
    "precisions_cholesky_from_covariances",
    "precisions_cholesky_from_precisions",
    "precisions_from_precisions_cholesky",
]

CovarianceType = Literal["full", "tied", "diag", "spherical"]
COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")

Array = NDArray[np.float64]

_CHOLESKY_FAILED = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples){where}. Try to decrease "
    "the number of components, increase reg_covar, or scale the input data."
)


@dataclass(frozen=True, eq=False)
class Params:
    """Parameters of a Gaussian mixture.

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Mixing proportions, summing to one.
    means : ndarray of shape (K, d)
    precisions_cholesky : ndarray
        Shape depends on ``covariance_type`` (module docstring).
    covariance_type : {"full", "tied", "diag", "spherical"}
    """

    weights: Array
    means: Array
    precisions_cholesky: Array
    covariance_type: str

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])


def _raise_cholesky_failure(cov: Array, covariance_type: str) -> None:
    where = ""
    if covariance_type == "full":
        bad = [k for k in range(cov.shape[0]) if not _is_pd(cov[k])]
        where = f" (components {bad[:10]}{'…' if len(bad) > 10 else ''})"
    raise ValueError(_CHOLESKY_FAILED.format(where=where))


def _is_pd(a: Array) -> bool:
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return False
    return True


#: Below this size :func:`inv_lower_triangular` hands the blocks to LAPACK's general inverse.
_TRIANGULAR_BASE = 8


def inv_lower_triangular(L: NDArray[np.floating[Any]]) -> Array:
    """Inverse of (a stack of) lower-triangular matrices, exactly lower triangular.

    Block recursion ``[[A, 0], [B, C]]^-1 = [[A^-1, 0], [-C^-1 B A^-1, C^-1]]`` with batched
    products, so a stack of K factors costs a few matrix products rather than K general
    inversions (measured 2.5-4x faster than ``np.linalg.inv`` at K=100..200, d=41..200).
    """
    d = L.shape[-1]
    if d <= _TRIANGULAR_BASE:
        return np.tril(np.linalg.inv(L))
    h = d // 2
    Ai = inv_lower_triangular(L[..., :h, :h])
    Ci = inv_lower_triangular(L[..., h:, h:])
    out = np.zeros_like(L)
    out[..., :h, :h] = Ai
    out[..., h:, h:] = Ci
    out[..., h:, :h] = -(Ci @ (L[..., h:, :h] @ Ai))
    return out


def precisions_cholesky_from_covariances(cov: Array, covariance_type: str) -> Array:
    """Precision Cholesky factors of covariance matrices.

    Uses ``cov = L L^T  =>  precision = L^{-T} L^{-1}``, so ``P = L^{-T}`` (upper triangular)
    satisfies ``precision = P P^T``; one batched triangular solve, no explicit inverse.

    Raises
    ------
    ValueError
        When a covariance is not positive definite, with advice on what to change.
    """
    if covariance_type in ("full", "tied"):
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            _raise_cholesky_failure(cov, covariance_type)
        # the transpose of a lower-triangular inverse is exactly upper triangular
        return np.swapaxes(inv_lower_triangular(chol), -1, -2)
    if np.any(cov <= 0.0) or not np.all(np.isfinite(cov)):
        _raise_cholesky_failure(cov, covariance_type)
    return 1.0 / np.sqrt(cov)


def precisions_cholesky_from_precisions(prec: Array, covariance_type: str) -> Array:
    """Cholesky factors (lower) of given precision matrices, as scikit-learn does for
    ``precisions_init``."""
    if covariance_type in ("full", "tied"):
        try:
            return np.asarray(np.linalg.cholesky(prec), dtype=np.float64)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"precisions must be symmetric positive definite ({covariance_type})."
            ) from None
    return np.sqrt(prec)


def precisions_from_precisions_cholesky(pc: Array, covariance_type: str) -> Array:
    """``precision = P P^T`` (full, tied) or ``P**2`` (diag, spherical)."""
    if covariance_type in ("full", "tied"):
        return pc @ np.swapaxes(pc, -1, -2)
    return pc**2


def covariances_from_precisions_cholesky(pc: Array, covariance_type: str) -> Array:
    """``cov = (P P^T)^{-1} = P^{-T} P^{-1}``, via the inverse of the factor ``P``."""
    if covariance_type in ("full", "tied"):
        if not np.any(np.triu(pc, 1)):
            inv = inv_lower_triangular(pc)  # P^{-1}
        elif not np.any(np.tril(pc, -1)):  # upper (scipy / scikit-learn's convention)
            inv = np.swapaxes(inv_lower_triangular(np.swapaxes(pc, -1, -2)), -1, -2)
        else:
            inv = np.asarray(np.linalg.inv(pc), dtype=np.float64)
        return np.swapaxes(inv, -1, -2) @ inv
    return 1.0 / pc**2


def log_det_cholesky(pc: Array, covariance_type: str, n_features: int) -> Array | float:
    """``log det(P)`` = half the log-determinant of the precision.

    Returns an array of shape (K,) for full/diag/spherical and a float for tied.
    """
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return float(np.sum(np.log(np.diag(pc))))
    if covariance_type == "diag":
        return np.sum(np.log(pc), axis=1)
    return n_features * np.log(pc)
