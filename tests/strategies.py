"""Hypothesis strategies and small problem generators, kept in one place."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mixsynth.core import Params, precisions_cholesky_from_covariances

COV_TYPES = ("full", "tied", "diag", "spherical")


def random_covariances(
    rng: np.random.Generator, K: int, d: int, covariance_type: str, *, correlated: bool = True
) -> np.ndarray:
    """Well-conditioned random covariances of the given type."""
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d)) if correlated else np.zeros((K, d, d))
        return A @ np.swapaxes(A, 1, 2) / d + np.eye(d) * rng.uniform(0.2, 1.0, size=(K, 1, 1))
    if covariance_type == "tied":
        A = rng.normal(size=(d, d))
        return A @ A.T / d + 0.5 * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.2, 2.0, size=(K, d))
    return rng.uniform(0.2, 2.0, size=K)


def random_params(
    rng: np.random.Generator, K: int, d: int, covariance_type: str, *, spread: float = 3.0
) -> Params:
    w = rng.dirichlet(np.ones(K) * 2.0)
    means = rng.normal(scale=spread, size=(K, d))
    cov = random_covariances(rng, K, d, covariance_type)
    return Params(w, means, precisions_cholesky_from_covariances(cov, covariance_type),
                  covariance_type)


@st.composite
def chunkings(draw: st.DrawFn, n: int) -> list[int]:
    """Split points of ``range(n)`` into chunks, empty chunks allowed."""
    cuts = draw(st.lists(st.integers(0, n), max_size=6))
    return sorted(cuts)
