"""Full covariances shrunk toward each component's own diagonal: ``"full-shrunk(tau)"``.

The M-step of component ``k``, with ``N_k = Σ r`` and ``S_k`` its weighted covariance about
the new mean, is

    Σ_k = (N_k S_k + τ diag S_k) / (N_k + τ)   (+ reg_covar on the diagonal),

i.e. the variances are the maximum-likelihood ones and every covariance (every correlation) is
multiplied by ``N_k / (N_k + τ)``: a component backed by few rows (or many dimensions) is pulled
toward a diagonal Gaussian, a heavy one keeps its correlations. It is the MAP update under a
conjugate inverse-Wishart prior on ``Σ_k`` with scale ``τ diag S_k`` and ``τ`` pseudo-rows
(``ν + d + 1 = τ``), the scale taken from the component's own variances (an empirical-Bayes
prior, re-estimated every M-step, as in Friedman's regularised discriminant analysis). Each
M-step therefore maximises the expected complete-data log-posterior *under the prior it
uses*; because that prior moves with the variances, the plain log-likelihood is not the
quantity EM increases and may dip by a little while the correlations settle (tests check
the per-step MAP property, and that τ = 0 is exactly ``"full"``).

Everything but the M-step is the full family's: the same precision-Cholesky factors
(``layout = "full"``), so the fast pruned pass, the log-density kernels, sampling and the
model-file tensors are shared, and a shrunk model scores and samples exactly like the full
model with the same factors.

Parameter count (AIC/BIC): the same as ``"full"``, ``K d (d + 1) / 2`` for the covariances.
The prior shrinks the estimates but removes no free parameter; the effective number is
smaller, and a criterion that should reward shrinkage is the held-out likelihood (or the
realism criterion), not BIC.
"""

from __future__ import annotations

import numpy as np

from mixsynth.core.families import Family, family, register_parametric
from mixsynth.core.families.gaussian import Array, Full
from mixsynth.core.stats import Stats

__all__ = ["PREFIX", "Shrunk", "shrunk", "shrunk_name"]

#: The name prefix: ``"full-shrunk(200)"``.
PREFIX = "full-shrunk"


def _format(tau: float) -> str:
    """The shortest spelling that reads back as the same float (``200``, ``0.5``, ``1e-05``)."""
    text = repr(float(tau))
    return text[:-2] if text.endswith(".0") else text


def shrunk_name(tau: float) -> str:
    """The canonical family name of shrinkage ``tau``: ``"full"`` for ``tau == 0``, else
    ``"full-shrunk(<tau>)"`` with ``tau`` spelled so it reads back exactly."""
    tau = _check_tau(tau)
    return "full" if tau == 0.0 else f"{PREFIX}({_format(tau)})"


def _check_tau(tau: object) -> float:
    try:
        value = float(tau)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"The shrinkage must be a number >= 0, got {tau!r}.") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"The shrinkage must be a finite number >= 0, got {tau!r}.")
    return value


class Shrunk(Full):
    """Full covariances shrunk toward their diagonals with strength ``tau`` (pseudo-rows).

    Parameters
    ----------
    tau : float
        ``τ >= 0``. ``0`` is the maximum-likelihood full covariance (bit for bit); ``τ`` of
        the order of a component's row count halves its correlations.
    """

    def __init__(self, tau: float) -> None:
        self.tau = _check_tau(tau)
        self.name = f"{PREFIX}({_format(self.tau)})"

    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        # N S = scatter; (N S + τ diag S) / (N + τ): off-diagonal entries scatter / (N + τ),
        # the diagonal scatter / N exactly as the full family computes it (τ = 0: identical)
        d = delta.shape[1]
        scatter = self._scatter(stats, delta, u)
        diag = np.einsum("kii->ki", scatter) / nk[:, None]
        cov = scatter / (nk + self.tau)[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        cov[:, np.arange(d), np.arange(d)] = diag + reg_covar
        return cov

    def log_prior(self, covariances: Array, scale_diag: Array) -> Array:
        """The log-density of the inverse-Wishart prior of each component, up to a constant
        in ``Σ``: ``-τ/2 (log det Σ_k + tr(Σ_k^{-1} diag(scale_diag_k)))``.

        ``scale_diag`` (K, d) is the prior's ``diag S_k``; with it fixed, one M-step maximises
        ``Q(Σ) + log_prior(Σ)`` (``reg_covar = 0``). For tests and diagnostics.
        """
        chol = np.linalg.cholesky(covariances)
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        inv = np.linalg.inv(covariances)
        trace = np.einsum("kii,ki->k", inv, scale_diag)
        return np.asarray(-0.5 * self.tau * (logdet + trace))


def shrunk(tau: float) -> Family:
    """The family of shrinkage ``tau`` (registered): ``family("full")`` for ``tau == 0``."""
    return family(shrunk_name(tau))


def _from_argument(argument: str) -> Family:
    try:
        tau = float(argument)
    except ValueError:
        raise ValueError(
            f"{PREFIX}({argument}): the shrinkage must be a number, e.g. {PREFIX}(200)."
        ) from None
    if _check_tau(tau) == 0.0:
        return family("full")
    return Shrunk(tau)


register_parametric(PREFIX, _from_argument)
