"""Mixture parameters, and the batched triangular inverse the conversions rest on.

:class:`Params` holds a mixture's weights, means and precision-Cholesky factors, and names its
component family (:mod:`mixsynth.core.families`); the shapes, conversions and log-determinants
by covariance type are the Gaussian families' (:mod:`mixsynth.core.families.gaussian`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.families import Family, family

__all__ = ["Params", "inv_lower_triangular"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Params:
    """Parameters of a mixture (Gaussian for the four covariance types).

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Mixing proportions, summing to one.
    means : ndarray of shape (K, d)
    precisions_cholesky : ndarray
        Shape depends on ``covariance_type`` (:mod:`mixsynth.core.families.gaussian`).
    covariance_type : str
        The name of the component family: "full", "tied", "diag", "spherical" or another
        registered one (:func:`mixsynth.core.families.family`).
    extra : mapping of str to ndarray
        Arrays a family needs beyond the Gaussian ones (a categorical block's log-probabilities,
        factor loadings...), by name: the family alone reads and writes them. Empty for the
        four covariance types.
    """

    weights: Array
    means: Array
    precisions_cholesky: Array
    covariance_type: str
    extra: Mapping[str, Array] = field(default_factory=dict)

    @property
    def family(self) -> Family:
        """The component family that estimates, scores and samples these parameters."""
        return family(self.covariance_type)

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])


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
