"""The M-step: the only place where mixture parameters are estimated."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params, precisions_cholesky_from_covariances
from mixsynth.core.suffstats import Stats

__all__ = ["covariances_from_stats", "m_step"]

Array = NDArray[np.float64]

#: Added to every component's mass, as scikit-learn does, so an empty component divides by a
#: tiny number instead of zero.
_NK_EPS = 10 * np.finfo(np.float64).eps


def covariances_from_stats(stats: Stats, reg_covar: float) -> tuple[Array, Array, Array]:
    """Weights, means and covariances (``reg_covar`` added) from summed statistics.

    With ``u_k = Σ r (x - c_k) = sx_k - nk c_k`` and ``delta_k = mu_k - c_k``:
    ``Σ r (x - mu)(x - mu)^T = sxx - delta u^T - u delta^T + nk delta delta^T``, which is exact
    even for an empty component (all terms vanish) and involves only small differences when the
    centers are the previous means.
    """
    nk_true = stats.nk
    nk = nk_true + _NK_EPS
    means = stats.sx / nk[:, None]
    delta = means - stats.centers
    u = stats.sx - nk_true[:, None] * stats.centers
    cov_type = stats.covariance_type
    d = means.shape[1]
    if cov_type == "full":
        du = delta[:, :, None] * u[:, None, :]
        scatter = stats.sxx - du - np.swapaxes(du, 1, 2)
        scatter += nk_true[:, None, None] * (delta[:, :, None] * delta[:, None, :])
        cov = scatter / nk[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))  # exact symmetry for the Cholesky
        cov[:, np.arange(d), np.arange(d)] += reg_covar
    elif cov_type == "tied":
        du = delta.T @ u
        scatter = stats.sxx - du - du.T + (delta * nk_true[:, None]).T @ delta
        cov = scatter / nk.sum()
        cov = 0.5 * (cov + cov.T)
        cov[np.arange(d), np.arange(d)] += reg_covar
    else:
        var = (stats.sxx - 2.0 * delta * u + nk_true[:, None] * delta * delta) / nk[:, None]
        cov = var + reg_covar if cov_type == "diag" else var.mean(axis=1) + reg_covar
    return nk / nk.sum(), means, cov


def m_step(stats: Stats, reg_covar: float) -> Params:
    """New parameters from the summed statistics of all chunks.

    Raises
    ------
    ValueError
        When a covariance is not positive definite even with ``reg_covar``.
    """
    weights, means, cov = covariances_from_stats(stats, reg_covar)
    pc = precisions_cholesky_from_covariances(cov, stats.covariance_type)
    return Params(weights, means, pc, stats.covariance_type)
