"""Exact Gaussian conditioning of a mixture expressed in the original data columns.

A :class:`~mixsynth.Synthesizer` models the non-constant columns as ``x = A z + b + e`` with
``z`` drawn from the mixture in whitened space and ``e`` the probabilistic-PCA residual in the
discarded directions (covariance ``N``). Each component is therefore a Gaussian in the data
space, ``N(A mu_k + b, A Sigma_k A^T + N)``, and conditioning on some columns is the textbook
Gaussian conditional of each component, with the component weights re-weighted by how well each
explains the given values (Bishop, PRML §2.3.1 and §9.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

__all__ = ["ConditionalMixture", "condition", "full_covariances"]

Array = NDArray[np.float64]

_LOG_2PI = float(np.log(2.0 * np.pi))


def full_covariances(covariances: Array, covariance_type: str, n_components: int, d: int) -> Array:
    """Any covariance type as (K, d, d) matrices."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, d, d)).copy()
    if covariance_type == "diag":
        return covariances[:, :, None] * np.eye(d)
    return covariances[:, None, None] * np.eye(d)


@dataclass(frozen=True, eq=False)
class ConditionalMixture:
    """The mixture of the free columns given the fixed ones.

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Posterior component weights given the evidence.
    means : ndarray of shape (K, f)
    chol : ndarray of shape (K, f, f)
        Lower Cholesky factors of the conditional covariances.
    log_evidence : float
        Log-density of the given values under the marginal mixture.
    """

    weights: Array
    means: Array
    chol: Array
    log_evidence: float

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` draws of the free columns, in random order."""
        f = self.means.shape[1]
        counts = rng.multinomial(n, self.weights)
        Z = rng.standard_normal((n, f))
        out = np.empty((n, f))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for k in np.flatnonzero(counts):  # grouped draws: one small GEMM per component
            sl = slice(bounds[k], bounds[k + 1])
            out[sl] = self.means[k] + Z[sl] @ self.chol[k].T
        return out[rng.permutation(n)]


def condition(
    weights: Array, means: Array, covs: Array, given: NDArray[np.intp], values: Array
) -> ConditionalMixture:
    """Condition a Gaussian mixture on ``x[given] = values``.

    Parameters
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, d)
    covs : ndarray of shape (K, d, d)
    given : ndarray of int of shape (g,)
        Positions of the fixed columns.
    values : ndarray of shape (g,)

    Returns
    -------
    ConditionalMixture over the other ``d - g`` columns, in column order.
    """
    d = means.shape[1]
    free = np.setdiff1d(np.arange(d), given)
    s_gg = covs[:, given[:, None], given[None, :]]
    s_fg = covs[:, free[:, None], given[None, :]]
    s_ff = covs[:, free[:, None], free[None, :]]
    try:
        l_gg = np.linalg.cholesky(s_gg)
    except np.linalg.LinAlgError:
        raise ValueError(
            "The model's covariance of the given columns is singular; condition on fewer "
            "columns or fit with a larger reg_covar."
        ) from None
    resid = values[None, :] - means[:, given]  # (K, g)
    # whitened residual and cross-covariance: L^{-1} r and L^{-1} S_gf
    w_res = solve_triangular(l_gg, resid[:, :, None], lower=True)[:, :, 0]
    w_cross = solve_triangular(l_gg, np.swapaxes(s_fg, 1, 2), lower=True)  # (K, g, f)
    # log N(values; mu_g, S_gg) per component
    log_det = 2.0 * np.sum(np.log(np.diagonal(l_gg, axis1=1, axis2=2)), axis=1)
    log_lik = -0.5 * (len(given) * _LOG_2PI + log_det + np.einsum("kg,kg->k", w_res, w_res))
    with np.errstate(divide="ignore"):
        log_post = np.log(weights) + log_lik
    log_evidence = float(logsumexp(log_post))
    post = np.exp(log_post - log_evidence)
    # mu_f + S_fg S_gg^{-1} r  and  S_ff - S_fg S_gg^{-1} S_gf, through the whitened forms
    cond_means = means[:, free] + np.einsum("kgf,kg->kf", w_cross, w_res)
    cond_cov = s_ff - np.swapaxes(w_cross, 1, 2) @ w_cross
    cond_cov = 0.5 * (cond_cov + np.swapaxes(cond_cov, 1, 2))
    try:
        chol = np.linalg.cholesky(cond_cov)
    except np.linalg.LinAlgError:
        raise ValueError(
            "The conditional covariance is not positive definite; fit with a larger reg_covar."
        ) from None
    return ConditionalMixture(post / post.sum(), cond_means, chol, log_evidence)
