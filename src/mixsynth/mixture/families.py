"""The core family of the estimator's settings, its number of free parameters, and the
precisions of a factor-analysis fit."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixsynth.core import factor_name, family, shrunk_name

Array = NDArray[np.float64]


def _n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters: covariances + means + (K - 1) weights, as the family named
    ``covariance_type`` counts them (:meth:`mixsynth.core.Family.n_parameters`)."""
    return family(covariance_type).n_parameters(n_components, n_features)


def family_name(covariance_type: str, shrinkage: float = 0.0, n_factors: int | None = None
                ) -> str:
    """The core family (:func:`mixsynth.core.family`) of the estimator's settings.

    ``("full", 0)`` → ``"full"``; ``("full", 200)`` → ``"full-shrunk(200)"``;
    ``("factor", n_factors=5)`` → ``"factor(5)"``; the other types are their own names.

    Raises
    ------
    ValueError
        For a combination that means nothing: shrinkage with a type other than "full",
        ``n_factors`` with a type other than "factor", "factor" without ``n_factors``.
    """
    if shrinkage and covariance_type != "full":
        raise ValueError(
            f"shrinkage={shrinkage!r} applies to covariance_type='full' only, got "
            f"covariance_type={covariance_type!r}; set shrinkage=0."
        )
    if covariance_type == "factor":
        if n_factors is None:
            raise ValueError(
                "covariance_type='factor' needs n_factors, the number of factors per "
                "component (an integer >= 0; 0 is a diagonal covariance)."
            )
        return factor_name(n_factors)
    if n_factors is not None:
        raise ValueError(
            f"n_factors={n_factors!r} applies to covariance_type='factor' only, got "
            f"covariance_type={covariance_type!r}; set n_factors=None."
        )
    if covariance_type == "full":
        return shrunk_name(shrinkage)
    return covariance_type


def _factor_precisions(W: Array, psi: Array) -> Array:
    """``(W W^T + Ψ)^{-1} = Ψ^{-1} - Ψ^{-1} W (I + W^T Ψ^{-1} W)^{-1} W^T Ψ^{-1}`` (Woodbury),
    shape (K, d, d): for the fitted attributes, not EM."""
    _, d, q = W.shape
    scaled = W / psi[:, :, None]
    M = np.swapaxes(W, 1, 2) @ scaled
    M[:, np.arange(q), np.arange(q)] += 1.0
    prec = -(scaled @ np.linalg.solve(M, np.swapaxes(scaled, 1, 2)))
    prec[:, np.arange(d), np.arange(d)] += 1.0 / psi
    return np.asarray(0.5 * (prec + np.swapaxes(prec, 1, 2)))
