"""Drawing rows from a mixture."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params

__all__ = ["sample_mixture"]

Array = NDArray[np.float64]


def sample_mixture(
    params: Params, n_samples: int, rng: np.random.Generator
) -> tuple[Array, NDArray[np.intp]]:
    """Draw ``n_samples`` rows and their component labels, in random order.

    With ``precision = P P^T`` the covariance is ``P^{-T} P^{-1}``, so a row is
    ``mu + z P^{-1}`` for ``z ~ N(0, I)`` (row-vector form of ``mu + P^{-T} z``).

    Returns
    -------
    X : ndarray of shape (n_samples, d)
    labels : ndarray of shape (n_samples,)
    """
    K, d = params.means.shape
    weights = params.weights / params.weights.sum()  # guard against rounding in stored weights
    counts = rng.multinomial(n_samples, weights)
    labels = np.repeat(np.arange(K), counts)
    Z = rng.standard_normal((n_samples, d))
    pc, cov_type = params.precisions_cholesky, params.covariance_type
    if cov_type == "full":
        factors = np.linalg.inv(pc)  # P^{-1}, one batched call
        X = np.empty((n_samples, d))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        # rows are grouped by component here, so a slice per component is one small GEMM; this
        # is the sampler, not the EM hot path, and it avoids (n, d, d) temporaries
        for k in np.flatnonzero(counts):
            sl = slice(bounds[k], bounds[k + 1])
            X[sl] = Z[sl] @ factors[k]
    elif cov_type == "tied":
        X = Z @ np.linalg.inv(pc)
    elif cov_type == "diag":
        X = Z / pc[labels]
    else:
        X = Z / pc[labels][:, None]
    X += params.means[labels]
    order = rng.permutation(n_samples)
    return X[order], labels[order]
