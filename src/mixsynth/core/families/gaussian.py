"""The Gaussian families: the four covariance types of scikit-learn.

A component's precision matrix is kept as a factor ``P`` with ``precision = P @ P.T`` (never an
explicit inverse), exactly as scikit-learn does, so log-densities are ``|(x - mu) @ P|^2`` and
log-determinants are sums of ``log diag(P)``.

Shapes by covariance type (``K`` components, ``d`` features):

=========== ================== ===================================== ======================
type        covariances        precisions_cholesky                   free covariance params
=========== ================== ===================================== ======================
full        (K, d, d)          (K, d, d), triangular                 K d (d + 1) / 2
tied        (d, d)             (d, d), triangular                    d (d + 1) / 2
diag        (K, d)             (K, d)                                K d
spherical   (K,)               (K,)                                  K
=========== ================== ===================================== ======================

:class:`Gaussian` holds what the four share (statistics through the fast pass of
:mod:`~mixsynth.core.gaussian_pass`, log-densities through
:class:`~mixsynth.core.kernels.LogDensity`, the M-step's shift of the second moments, model-file
tensors); :class:`Full`, :class:`Tied`, :class:`Diag` and :class:`Spherical` hold what differs
(shapes, conversions, log-determinants, the covariance from the scatter, drawing rows). The
module-level functions are the conversions by covariance type name that
:mod:`mixsynth.core` exports.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.families import Family, family, register
from mixsynth.core.gaussian_pass import gaussian_accumulate, gaussian_suffstats
from mixsynth.core.kernels import LogDensity
from mixsynth.core.missing import (
    has_missing,
    missing_accumulate,
    missing_log_prob,
    missing_suffstats,
)
from mixsynth.core.params import Params, inv_lower_triangular
from mixsynth.core.stats import Stats

__all__ = [
    "COVARIANCE_TYPES",
    "Diag",
    "Full",
    "Gaussian",
    "Spherical",
    "Tied",
    "covariances_from_precisions_cholesky",
    "covariances_from_stats",
    "gaussian",
    "log_det_cholesky",
    "precisions_cholesky_from_covariances",
    "precisions_cholesky_from_precisions",
    "precisions_from_precisions_cholesky",
    "triangular_factor_problem",
]

Array = NDArray[np.float64]

#: Added to every component's mass, as scikit-learn does, so an empty component divides by a
#: tiny number instead of zero.
_NK_EPS = 10 * np.finfo(np.float64).eps

#: How far from one stored weights may sum (as the model files allow).
_WEIGHTS_ATOL = 1e-8

_CHOLESKY_FAILED = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples){where}. Try to decrease "
    "the number of components, increase reg_covar, or scale the input data."
)


def _sq_norm_max(X: Array) -> float:
    return float(np.einsum("ij,ij->i", X, X).max(initial=0.0))


class Gaussian(Family):
    """Gaussian components with precision-Cholesky parameters; one subclass per covariance
    type.

    A subclass names its :attr:`layout`, the shape of its precision factors, which decides the
    kernels of the fast pass; a family that estimates differently but stores the same factors
    (a covariance shrunk toward its diagonal, say) subclasses the matching type, overrides
    :meth:`_covariance` and :meth:`n_covariance_parameters`, and keeps the fast pass.
    """

    #: "full", "tied", "diag" or "spherical": the layout of ``precisions_cholesky``.
    layout: str

    # ------------------------------------------------------------------ what differs by type
    @abstractmethod
    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the covariances, and of ``precisions_cholesky``."""

    @abstractmethod
    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        """Free parameters of the covariances alone."""

    @abstractmethod
    def precisions_cholesky_from_covariances(self, cov: Array) -> Array:
        """Precision Cholesky factors of covariances.

        Raises
        ------
        ValueError
            When a covariance is not positive definite, with advice on what to change.
        """

    @abstractmethod
    def precisions_cholesky_from_precisions(self, prec: Array) -> Array:
        """Cholesky factors of given precisions (scikit-learn's ``precisions_init``)."""

    @abstractmethod
    def precisions_from_precisions_cholesky(self, pc: Array) -> Array:
        """``precision = P P^T`` (or its diagonal / scalar form)."""

    @abstractmethod
    def covariances_from_precisions_cholesky(self, pc: Array) -> Array:
        """``cov = (P P^T)^{-1}``."""

    @abstractmethod
    def log_det_cholesky(self, pc: Array, n_features: int) -> Array | float:
        """``log det(P)`` = half the log-determinant of the precision: shape (K,), or a float
        for tied."""

    @abstractmethod
    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        """Covariances from the statistics, with ``delta = mu - c``, ``u = sx - nk_true c`` and
        ``nk`` the masses with their epsilon (see :meth:`weights_means_covariances`)."""

    @abstractmethod
    def _draw(self, Z: Array, pc: Array, counts: NDArray[np.intp], labels: NDArray[np.intp]
              ) -> Array:
        """Zero-mean rows from standard normal ``Z`` grouped by component (``labels``)."""

    # ------------------------------------------------------------------ the Family protocol
    def n_parameters(self, n_components: int, n_features: int) -> int:
        K, d = n_components, n_features
        return int(self.n_covariance_parameters(K, d) + K * d + K - 1)

    def tensor_shapes(self, n_components: int, n_features: int) -> dict[str, tuple[int, ...]]:
        K, d = n_components, n_features
        return {
            "weights": (K,),
            "means": (K, d),
            "precisions_cholesky": self.covariance_shape(K, d),
        }

    def to_tensors(self, params: Params) -> dict[str, Array]:
        return {
            "weights": params.weights,
            "means": params.means,
            "precisions_cholesky": params.precisions_cholesky,
        }

    def from_tensors(self, tensors: dict[str, Array]) -> Params:
        missing = {"weights", "means", "precisions_cholesky"} - set(tensors)
        if missing:
            raise ValueError(f"{self.name}: missing tensor(s) {sorted(missing)}.")
        means = np.asarray(tensors["means"], dtype=np.float64)
        if means.ndim != 2:
            raise ValueError(f"{self.name}: tensor 'means' has shape {means.shape}, expected "
                             "(n_components, n_features).")
        for name, shape in self.tensor_shapes(*means.shape).items():
            got = np.shape(tensors[name])
            if got != shape:
                raise ValueError(
                    f"{self.name}: tensor {name!r} has shape {got}, expected {shape}."
                )
        weights = np.asarray(tensors["weights"], dtype=np.float64)
        pc = np.asarray(tensors["precisions_cholesky"], dtype=np.float64)
        for name, a in (("weights", weights), ("means", means), ("precisions_cholesky", pc)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{self.name}: tensor {name!r} has non-finite values.")
        if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > _WEIGHTS_ATOL:
            raise ValueError(f"{self.name}: tensor 'weights' is not a probability vector.")
        problem = self._check_precisions_cholesky(pc)
        if problem:
            raise ValueError(f"{self.name}: tensor 'precisions_cholesky' {problem}.")
        return Params(weights, means, pc, self.name)

    def _check_precisions_cholesky(self, pc: Array) -> str | None:
        """What is wrong with factors of the right shape (``None``: nothing)."""
        return None if np.all(pc > 0) else "has values <= 0"

    def log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        """``log p(x | k)``, shape (n, K); a row with NaN gets the marginal density over its
        observed coordinates (:mod:`~mixsynth.core.missing`), 0 when none is observed."""
        if has_missing(X):
            return self._log_prob_gaps(X, params, weighted=False)
        return LogDensity(params, _sq_norm_max(X), weighted=False)(X, packed)

    def weighted_log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        if has_missing(X):
            return self._log_prob_gaps(X, params, weighted=True)
        # the weights go into the kernel's constant: one addition per entry, not two
        return LogDensity(params, _sq_norm_max(X))(X, packed)

    def _log_prob_gaps(self, X: Array, params: Params, *, weighted: bool) -> Array:
        gaps = np.isnan(X).any(axis=1)
        out = np.empty((X.shape[0], params.n_components))
        full = ~gaps
        if full.any():
            Xc = X[full]
            out[full] = LogDensity(params, _sq_norm_max(Xc), weighted=weighted)(Xc)
        lp = missing_log_prob(X[gaps], params, self.layout)
        if weighted:
            with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
                lp += np.log(params.weights)
        out[gaps] = lp
        return out

    def statistics(
        self,
        X: Array,
        params: Params,
        sample_weight: Array | None = None,
        packed: Array | None = None,
    ) -> Stats:
        """The E-step on one chunk (see :meth:`Family.statistics`). Complete rows go through
        the fast pass; rows with NaN, grouped by missingness pattern, through the exact EM over
        their observed coordinates (:func:`~mixsynth.core.missing.missing_suffstats`)."""
        if not has_missing(X):
            return gaussian_suffstats(X, params, sample_weight, packed)
        gaps = np.isnan(X).any(axis=1)
        full = ~gaps
        w = None if sample_weight is None else np.asarray(sample_weight)
        complete = gaussian_suffstats(
            X[full], params, None if w is None else w[full],
            None if packed is None else packed[full],
        )
        return complete + missing_suffstats(
            X[gaps], params, self.layout, None if w is None else w[gaps]
        )

    def accumulate_observed(
        self,
        X: Array,
        R: Array,
        params: Params,
        *,
        loglik: float = 0.0,
        n: float | None = None,
    ) -> Stats:
        """M-step statistics about ``params.means`` of rows that may hold NaN, from
        responsibilities ``R`` (sample weights applied) computed elsewhere (a family that adds
        other evidence to the Gaussian block's). Complete rows as :meth:`accumulate` with
        exact forms; rows with NaN by their conditional expectations under ``params``
        (:func:`~mixsynth.core.missing.missing_accumulate`)."""
        if not has_missing(X):
            return self.accumulate(X, R, params.means, loglik=loglik, n=n)
        gaps = np.isnan(X).any(axis=1)
        full = ~gaps
        complete = self.accumulate(X[full], R[full], params.means, loglik=loglik, n=0.0)
        rest = missing_accumulate(X[gaps], R[gaps], params, self.layout, n=0.0)
        total = complete + rest
        return Stats(
            n=float(R.sum()) if n is None else n, loglik=loglik, nk=total.nk, sx=total.sx,
            sxx=total.sxx, centers=total.centers, covariance_type=total.covariance_type,
        )

    def accumulate(
        self,
        X: Array,
        R: Array,
        centers: Array,
        *,
        packed: Array | None = None,
        exact: NDArray[np.bool_] | None = None,
        loglik: float = 0.0,
        n: float | None = None,
    ) -> Stats:
        return gaussian_accumulate(
            X, R, centers, self.name, self.layout, packed=packed, exact=exact, loglik=loglik,
            n=n,
        )

    def weights_means_covariances(
        self, stats: Stats, reg_covar: float
    ) -> tuple[Array, Array, Array]:
        """Weights, means and covariances (``reg_covar`` added) from summed statistics.

        With ``u_k = Σ r (x - c_k) = sx_k - nk c_k`` and ``delta_k = mu_k - c_k``:
        ``Σ r (x - mu)(x - mu)^T = sxx - delta u^T - u delta^T + nk delta delta^T``, which is
        exact even for an empty component (all terms vanish) and involves only small
        differences when the centers are the previous means.
        """
        nk = stats.nk + _NK_EPS
        means = stats.sx / nk[:, None]
        delta = means - stats.centers
        u = stats.sx - stats.nk[:, None] * stats.centers
        return nk / nk.sum(), means, self._covariance(stats, delta, u, nk, reg_covar)

    def m_step(self, stats: Stats, reg_covar: float) -> Params:
        weights, means, cov = self.weights_means_covariances(stats, reg_covar)
        return Params(weights, means, self.precisions_cholesky_from_covariances(cov), self.name)

    def sample_grouped(
        self,
        params: Params,
        counts: NDArray[np.intp],
        rng: np.random.Generator,
        temperature: float = 1.0,
    ) -> Array:
        # With precision = P P^T the covariance is P^{-T} P^{-1}, so a row is mu + z P^{-1}
        # for z ~ N(0, I) (row-vector form of mu + P^{-T} z); at temperature t the covariance
        # is t times that, i.e. z ~ N(0, t I).
        labels = np.repeat(np.arange(counts.size), counts)
        Z = rng.standard_normal((labels.size, params.n_features))
        if temperature != 1.0:
            Z *= np.sqrt(temperature)
        X = self._draw(Z, params.precisions_cholesky, counts, labels)
        X += params.means[labels]
        return X


class _Triangular(Gaussian):
    """Full and tied: matrix factors."""

    def precisions_cholesky_from_covariances(self, cov: Array) -> Array:
        # cov = L L^T  =>  precision = L^{-T} L^{-1}, so P = L^{-T} (upper triangular) gives
        # precision = P P^T: one batched triangular inverse, no explicit inverse of cov
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(_CHOLESKY_FAILED.format(where=self._where(cov))) from None
        # the transpose of a lower-triangular inverse is exactly upper triangular
        return np.swapaxes(inv_lower_triangular(chol), -1, -2)

    def _where(self, cov: Array) -> str:
        return ""

    def precisions_cholesky_from_precisions(self, prec: Array) -> Array:
        try:
            return np.asarray(np.linalg.cholesky(prec), dtype=np.float64)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"precisions must be symmetric positive definite ({self.name})."
            ) from None

    def precisions_from_precisions_cholesky(self, pc: Array) -> Array:
        return pc @ np.swapaxes(pc, -1, -2)

    def covariances_from_precisions_cholesky(self, pc: Array) -> Array:
        # cov = P^{-T} P^{-1}, via the inverse of the factor P
        if not np.any(np.triu(pc, 1)):
            inv = inv_lower_triangular(pc)  # P^{-1}
        elif not np.any(np.tril(pc, -1)):  # upper (scipy / scikit-learn's convention)
            inv = np.swapaxes(inv_lower_triangular(np.swapaxes(pc, -1, -2)), -1, -2)
        else:
            inv = np.asarray(np.linalg.inv(pc), dtype=np.float64)
        return np.swapaxes(inv, -1, -2) @ inv

    def _check_precisions_cholesky(self, pc: Array) -> str | None:
        return triangular_factor_problem(pc)


def triangular_factor_problem(pc: Array) -> str | None:
    """What is wrong with a stack of precision-Cholesky factors (d, d) or (K, d, d), or None:
    each must be triangular with a positive diagonal."""
    d = pc.shape[-1]
    mats = pc.reshape(-1, d, d)
    # P with precision = P P^T: upper from covariances (P = L^-T), lower from precisions
    lower = np.all(np.triu(mats, 1) == 0, axis=(1, 2))
    upper = np.all(np.tril(mats, -1) == 0, axis=(1, 2))
    if not np.all(lower | upper):
        return f"is not triangular (component {int(np.argmin(lower | upper))})"
    if not np.all(np.diagonal(mats, axis1=1, axis2=2) > 0):
        return "has a diagonal entry <= 0"
    return None


class Full(_Triangular):
    """A full covariance matrix per component."""

    name = layout = "full"

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features * (n_features + 1) // 2

    def _where(self, cov: Array) -> str:
        bad = [k for k in range(cov.shape[0]) if not _is_pd(cov[k])]
        return f" (components {bad[:10]}{'…' if len(bad) > 10 else ''})"

    def log_det_cholesky(self, pc: Array, n_features: int) -> Array | float:
        return np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1)

    def _scatter(self, stats: Stats, delta: Array, u: Array) -> Array:
        """``Σ r (x - mu)(x - mu)^T`` per component, shape (K, d, d)."""
        du = delta[:, :, None] * u[:, None, :]
        scatter = stats.sxx - du - np.swapaxes(du, 1, 2)
        scatter += stats.nk[:, None, None] * (delta[:, :, None] * delta[:, None, :])
        return scatter

    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        d = delta.shape[1]
        cov = self._scatter(stats, delta, u) / nk[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))  # exact symmetry for the Cholesky
        cov[:, np.arange(d), np.arange(d)] += reg_covar
        return cov

    def _draw(self, Z: Array, pc: Array, counts: NDArray[np.intp], labels: NDArray[np.intp]
              ) -> Array:
        factors = np.linalg.inv(pc)  # P^{-1}, one batched call
        X = np.empty_like(Z)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        # rows are grouped by component here, so a slice per component is one small GEMM; this
        # is the sampler, not the EM hot path, and it avoids (n, d, d) temporaries
        for k in np.flatnonzero(counts):
            sl = slice(bounds[k], bounds[k + 1])
            X[sl] = Z[sl] @ factors[k]
        return X


class Tied(_Triangular):
    """One covariance matrix shared by every component."""

    name = layout = "tied"

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_features * (n_features + 1) // 2

    def log_det_cholesky(self, pc: Array, n_features: int) -> Array | float:
        return float(np.sum(np.log(np.diag(pc))))

    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        d = delta.shape[1]
        du = delta.T @ u
        scatter = stats.sxx - du - du.T + (delta * stats.nk[:, None]).T @ delta
        cov = scatter / nk.sum()
        cov = 0.5 * (cov + cov.T)
        cov[np.arange(d), np.arange(d)] += reg_covar
        return cov

    def _draw(self, Z: Array, pc: Array, counts: NDArray[np.intp], labels: NDArray[np.intp]
              ) -> Array:
        return Z @ np.linalg.inv(pc)


class _Scaled(Gaussian):
    """Diag and spherical: positive scales, elementwise."""

    def precisions_cholesky_from_covariances(self, cov: Array) -> Array:
        if np.any(cov <= 0.0) or not np.all(np.isfinite(cov)):
            raise ValueError(_CHOLESKY_FAILED.format(where=""))
        return 1.0 / np.sqrt(cov)

    def precisions_cholesky_from_precisions(self, prec: Array) -> Array:
        return np.sqrt(prec)

    def precisions_from_precisions_cholesky(self, pc: Array) -> Array:
        return pc**2

    def covariances_from_precisions_cholesky(self, pc: Array) -> Array:
        return 1.0 / pc**2

    def _variances(self, stats: Stats, delta: Array, u: Array, nk: Array) -> Array:
        return (stats.sxx - 2.0 * delta * u + stats.nk[:, None] * delta * delta) / nk[:, None]


class Diag(_Scaled):
    """A diagonal covariance per component."""

    name = layout = "diag"

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features

    def log_det_cholesky(self, pc: Array, n_features: int) -> Array | float:
        return np.sum(np.log(pc), axis=1)

    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        return self._variances(stats, delta, u, nk) + reg_covar

    def _draw(self, Z: Array, pc: Array, counts: NDArray[np.intp], labels: NDArray[np.intp]
              ) -> Array:
        return Z / pc[labels]


class Spherical(_Scaled):
    """One variance per component."""

    name = layout = "spherical"

    def covariance_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def n_covariance_parameters(self, n_components: int, n_features: int) -> int:
        return n_components

    def log_det_cholesky(self, pc: Array, n_features: int) -> Array | float:
        return n_features * np.log(pc)

    def _covariance(
        self, stats: Stats, delta: Array, u: Array, nk: Array, reg_covar: float
    ) -> Array:
        return self._variances(stats, delta, u, nk).mean(axis=1) + reg_covar

    def _draw(self, Z: Array, pc: Array, counts: NDArray[np.intp], labels: NDArray[np.intp]
              ) -> Array:
        return Z / pc[labels][:, None]


def _is_pd(a: Array) -> bool:
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return False
    return True


_GAUSSIANS = (Full(), Tied(), Diag(), Spherical())
for _f in _GAUSSIANS:
    register(_f)

#: The Gaussian families' names, in scikit-learn's order.
COVARIANCE_TYPES: tuple[str, ...] = tuple(f.name for f in _GAUSSIANS)


def gaussian(covariance_type: str) -> Gaussian:
    """The Gaussian family of a covariance type.

    Raises
    ------
    ValueError
        For a name that is not one of :data:`COVARIANCE_TYPES`.
    """
    fam: Any = family(covariance_type)
    if not isinstance(fam, Gaussian):
        raise ValueError(
            f"{covariance_type!r} is not a Gaussian covariance type {COVARIANCE_TYPES}."
        )
    return fam


def precisions_cholesky_from_covariances(cov: Array, covariance_type: str) -> Array:
    """Precision Cholesky factors of covariance matrices.

    Uses ``cov = L L^T  =>  precision = L^{-T} L^{-1}``, so ``P = L^{-T}`` (upper triangular)
    satisfies ``precision = P P^T``; one batched triangular solve, no explicit inverse.

    Raises
    ------
    ValueError
        When a covariance is not positive definite, with advice on what to change.
    """
    return gaussian(covariance_type).precisions_cholesky_from_covariances(cov)


def precisions_cholesky_from_precisions(prec: Array, covariance_type: str) -> Array:
    """Cholesky factors (lower) of given precision matrices, as scikit-learn does for
    ``precisions_init``."""
    return gaussian(covariance_type).precisions_cholesky_from_precisions(prec)


def precisions_from_precisions_cholesky(pc: Array, covariance_type: str) -> Array:
    """``precision = P P^T`` (full, tied) or ``P**2`` (diag, spherical)."""
    return gaussian(covariance_type).precisions_from_precisions_cholesky(pc)


def covariances_from_precisions_cholesky(pc: Array, covariance_type: str) -> Array:
    """``cov = (P P^T)^{-1} = P^{-T} P^{-1}``, via the inverse of the factor ``P``."""
    return gaussian(covariance_type).covariances_from_precisions_cholesky(pc)


def log_det_cholesky(pc: Array, covariance_type: str, n_features: int) -> Array | float:
    """``log det(P)`` = half the log-determinant of the precision.

    Returns an array of shape (K,) for full/diag/spherical and a float for tied.
    """
    return gaussian(covariance_type).log_det_cholesky(pc, n_features)


def covariances_from_stats(stats: Stats, reg_covar: float) -> tuple[Array, Array, Array]:
    """Weights, means and covariances (``reg_covar`` added) from summed statistics (see
    :meth:`Gaussian.weights_means_covariances`)."""
    return gaussian(stats.covariance_type).weights_means_covariances(stats, reg_covar)
