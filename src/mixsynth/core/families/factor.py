"""Mixtures of factor analysers: ``Σ_k = W_k W_k^T + Ψ_k``, the family ``"factor(q)"``.

Each component is a factor analyser with ``q`` factors: ``x = μ_k + W_k z + e``,
``z ~ N(0, I_q)``, ``e ~ N(0, Ψ_k)`` with ``Ψ_k`` diagonal (Ghahramani & Hinton 1996, "The EM
algorithm for mixtures of factor analyzers", CRG-TR-96-1). ``q = 0`` is the diagonal family;
``q = d - 1`` can represent any covariance (to the constraint ``Ψ > 0``).

Parameters (:class:`~mixsynth.core.Params`): ``extra["loadings"]`` ``W`` (K, d, q) and
``extra["noise_variance"]`` ``Ψ`` (K, d); ``precisions_cholesky`` is an empty (K, 0) array,
so that code reading it as a Gaussian factor fails loudly instead of using a wrong covariance.

Cost: nothing of size d × d per row or per component is formed in EM. With
``M_k = I + W^T Ψ^{-1} W`` (q × q, Cholesky ``L_k``), the identities used are

- Woodbury: ``Σ^{-1} = Ψ^{-1} - Ψ^{-1} W M^{-1} W^T Ψ^{-1}``, so
  ``(x-μ)^T Σ^{-1} (x-μ) = Σ_j (x-μ)_j² / Ψ_j - |L^{-1} W^T Ψ^{-1} (x-μ)|²``;
- the matrix-determinant lemma: ``log det Σ = Σ_j log Ψ_j + log det M``;
- the posterior of the factors: ``E[z|x] = M^{-1} W^T Ψ^{-1} (x-μ)`` and
  ``Cov[z|x] = M^{-1}``,

so the E-step is ``O(n K d q)`` (one ``(rows, d) @ (d, q)`` product per component).

Statistics (additive over chunks; second moments about the E-step's means ``c_k``, as for the
Gaussian families), with ``x' = x - c_k`` and ``y = E[z|x]``:

=============== =========== ======================================
field           shape       sum
=============== =========== ======================================
nk              (K,)        ``Σ r``
sx              (K, d)      ``Σ r x``
sxx             (K, d)      ``Σ r x'²`` (the diagonal only)
extra["sxz"]    (K, d, q)   ``Σ r x' y^T``
extra["szz"]    (K, q, q)   ``Σ r E[z z^T | x] = Σ r (M^{-1} + y y^T)``
extra["sz"]     (K, q)      ``Σ r y``
=============== =========== ======================================

M-step (Ghahramani & Hinton's joint update of ``[W μ]`` with the augmented factor
``z~ = [z; 1]``): ``[W, μ - c] = B A^{-1}`` with ``A = [[szz, sz], [sz^T, N]]`` and
``B = [sxz, sx - N c]``, then ``Ψ = diag(Σ r x'x'^T - [W, μ - c] B^T) / N + reg_covar``. Both are
exact maximisers of the expected complete-data log-likelihood, so the likelihood never
decreases (``reg_covar = 0``).

Initialisation: :meth:`Factor.accumulate` (statistics from responsibilities alone, as the
k-means start provides them) cannot know ``E[z|x]`` without loadings, so it returns the *full*
scatter (K, d, d) of each component, and :meth:`Factor.m_step` turns such statistics into
factors by probabilistic PCA of each component's covariance (Tipping & Bishop 1999): the top
``q`` eigenvectors scaled by ``sqrt(λ - σ²)``, ``Ψ = diag(Σ - W W^T)``. That one pass is
``O(n K d²)`` with ``K d²`` memory, acceptable for ``d`` up to a few hundred; EM after it is
``O(n K d q)``.

Parameter count: ``K (d q - q (q - 1) / 2 + d)`` for the covariances (the loadings up to a
rotation, and the noise), plus ``K d`` means and ``K - 1`` weights.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core.families import Family, family, register_parametric
from mixsynth.core.families.gaussian import gaussian
from mixsynth.core.params import Params, inv_lower_triangular
from mixsynth.core.stats import PRUNE_LOG_RATIO, Stats

__all__ = [
    "PREFIX",
    "Factor",
    "factor",
    "factor_covariances",
    "factor_name",
    "factors_from_covariances",
]

Array = NDArray[np.float64]

#: The name prefix: ``"factor(5)"``.
PREFIX = "factor"

#: As the Gaussian families: an empty component divides by a tiny number, not zero.
_NK_EPS = 10 * np.finfo(np.float64).eps

#: Rows per block of the E-step (its temporaries: a few (rows, d) and (rows, K q) arrays).
_BLOCK_BYTES = 16 * 2**20

_WEIGHTS_ATOL = 1e-8

_FAILED = (
    "Fitting the mixture of factor analysers failed because some components have a noise "
    "variance <= 0 or undefined loadings (for instance caused by singleton or collapsed "
    "samples){where}. Try to decrease the number of components or of factors, increase "
    "reg_covar, or scale the input data."
)


def factor_name(n_factors: int) -> str:
    """The canonical family name of ``n_factors`` factors: ``"factor(<q>)"``."""
    return f"{PREFIX}({_check_q(n_factors)})"


def _check_q(q: object) -> int:
    if isinstance(q, (bool, np.bool_)) or not isinstance(q, (int, np.integer)) or q < 0:
        raise ValueError(f"The number of factors must be an integer >= 0, got {q!r}.")
    return int(q)


def factor_covariances(loadings: Array, noise_variance: Array) -> Array:
    """``W W^T + diag(Ψ)`` per component, shape (K, d, d) (d × d: for attributes and tests,
    never in EM)."""
    cov = loadings @ np.swapaxes(loadings, 1, 2)
    d = noise_variance.shape[1]
    cov[:, np.arange(d), np.arange(d)] += noise_variance
    return np.asarray(cov)


class _Woodbury:
    """What the log-density and the posterior of the factors need, per component:
    ``G = Ψ^{-1} W L^{-T}`` (K, d, q), ``L^{-1}`` (K, q, q), ``1/Ψ`` and ``log det Σ``."""

    def __init__(self, params: Params) -> None:
        W = params.extra["loadings"]
        psi = params.extra["noise_variance"]
        K, d, q = W.shape
        self.q = q
        self.inv_psi = 1.0 / psi
        scaled = W * self.inv_psi[:, :, None]  # Ψ^{-1} W
        M = np.swapaxes(W, 1, 2) @ scaled  # W^T Ψ^{-1} W
        M[:, np.arange(q), np.arange(q)] += 1.0
        L = np.linalg.cholesky(M) if q else np.zeros((K, 0, 0))
        self.L_inv = inv_lower_triangular(L) if q else np.zeros((K, 0, 0))
        self.G = scaled @ np.swapaxes(self.L_inv, 1, 2)  # Ψ^{-1} W L^{-T}
        self.M_inv = np.swapaxes(self.L_inv, 1, 2) @ self.L_inv  # L^{-T} L^{-1} = M^{-1}
        logdet_M = 2.0 * np.sum(np.log(np.diagonal(L, axis1=1, axis2=2)), axis=1)
        self.log_norm = -0.5 * (d * np.log(2 * np.pi) + np.sum(np.log(psi), axis=1) + logdet_M)

        means = params.means
        self.means = means
        self.G_all = np.transpose(self.G, (1, 0, 2)).reshape(d, K * q)  # (d, K q)
        self.mean_G = np.einsum("kd,kdq->kq", means, self.G)
        self.mean_psi = means * self.inv_psi
        self.mean_sq = np.einsum("kd,kd->k", means, self.mean_psi)
        # the expanded forms lose ~eps (|x|² + |μ|²) (1/Ψ + |G|²) to cancellation: kept where
        # that is below 1e-7 in the log-density, else the component is done centred
        self.scale = (
            self.inv_psi.max(axis=1, initial=0.0)
            + np.einsum("kdq,kdq->k", self.G, self.G)
        )
        self.mean_norm = np.einsum("kd,kd->k", means, means)

    def all_components(self, X: Array) -> tuple[Array, Array]:
        """Log-densities (n, K) of rows ``X`` under every component and ``U`` (n, K, q):
        three GEMMs over all components (``|x - μ|²_Ψ`` expanded, ``(x - μ) G = x G - μ G``),
        components whose expanded form would lose accuracy recomputed centred."""
        n, K = X.shape[0], self.mean_sq.size
        maha = (X * X) @ self.inv_psi.T
        maha -= 2.0 * (X @ self.mean_psi.T)
        maha += self.mean_sq
        U = (X @ self.G_all).reshape(n, K, self.q)
        U -= self.mean_G
        maha -= np.einsum("nkq,nkq->nk", U, U)
        out = self.log_norm - 0.5 * maha
        sq_max = float(np.einsum("ij,ij->i", X, X).max(initial=0.0))
        risky = 16 * np.finfo(np.float64).eps * (sq_max + self.mean_norm) * self.scale > 1e-7
        for k in np.flatnonzero(risky):
            out[:, k], U[:, k] = self.component(X - self.means[k], int(k))
        return out, U

    def component(self, Xc: Array, k: int) -> tuple[Array, Array]:
        """Log-density of rows ``Xc = X - μ_k`` under component ``k``, and ``U = Xc G_k``
        (``|U|²`` is the Woodbury correction; ``U L_k^{-1}`` is ``E[z|x]``)."""
        U = Xc @ self.G[k]
        maha = (Xc * Xc) @ self.inv_psi[k] - np.einsum("ij,ij->i", U, U)
        return self.log_norm[k] - 0.5 * maha, U


class Factor(Family):
    """Mixture of factor analysers with ``n_factors`` factors per component.

    Parameters
    ----------
    n_factors : int
        ``q >= 0``; ``q = 0`` is the diagonal covariance family.
    """

    def __init__(self, n_factors: int) -> None:
        self.n_factors = _check_q(n_factors)
        self.name = factor_name(self.n_factors)

    # ------------------------------------------------------------------ parameters
    def params(self, weights: Array, means: Array, loadings: Array, noise_variance: Array
               ) -> Params:
        """Parameters of this family from its arrays (not checked; see :meth:`from_tensors`)."""
        K = means.shape[0]
        return Params(
            weights, means, np.empty((K, 0)), self.name,
            extra={"loadings": loadings, "noise_variance": noise_variance},
        )

    def covariances(self, params: Params) -> Array:
        """``W W^T + Ψ`` per component, shape (K, d, d)."""
        return factor_covariances(params.extra["loadings"], params.extra["noise_variance"])

    def n_parameters(self, n_components: int, n_features: int) -> int:
        K, d, q = n_components, n_features, self.n_factors
        return int(K * (d * q - q * (q - 1) // 2 + d) + K * d + K - 1)

    def tensor_shapes(self, n_components: int, n_features: int) -> dict[str, tuple[int, ...]]:
        K, d = n_components, n_features
        return {
            "weights": (K,),
            "means": (K, d),
            "loadings": (K, d, self.n_factors),
            "noise_variance": (K, d),
        }

    def to_tensors(self, params: Params) -> dict[str, Array]:
        return {
            "weights": params.weights,
            "means": params.means,
            "loadings": params.extra["loadings"],
            "noise_variance": params.extra["noise_variance"],
        }

    def from_tensors(self, tensors: dict[str, Array]) -> Params:
        missing = {"weights", "means", "loadings", "noise_variance"} - set(tensors)
        if missing:
            raise ValueError(f"{self.name}: missing tensor(s) {sorted(missing)}.")
        arrays = {k: np.asarray(tensors[k], dtype=np.float64) for k in self.tensor_shapes(1, 1)}
        if arrays["means"].ndim != 2:
            raise ValueError(f"{self.name}: tensor 'means' has shape {arrays['means'].shape}, "
                             "expected (n_components, n_features).")
        for name, shape in self.tensor_shapes(*arrays["means"].shape).items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{self.name}: tensor {name!r} has shape {arrays[name].shape}, "
                    f"expected {shape}."
                )
            if not np.all(np.isfinite(arrays[name])):
                raise ValueError(f"{self.name}: tensor {name!r} has non-finite values.")
        weights = arrays["weights"]
        if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > _WEIGHTS_ATOL:
            raise ValueError(f"{self.name}: tensor 'weights' is not a probability vector.")
        if np.any(arrays["noise_variance"] <= 0):
            raise ValueError(f"{self.name}: tensor 'noise_variance' has values <= 0.")
        return self.params(weights, arrays["means"], arrays["loadings"],
                           arrays["noise_variance"])

    # ------------------------------------------------------------------ EM
    def log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        return _Woodbury(params).all_components(X)[0]

    def statistics(
        self,
        X: Array,
        params: Params,
        sample_weight: Array | None = None,
        packed: Array | None = None,
    ) -> Stats:
        """The E-step on one chunk (``O(n K d q)``), in blocks of rows; responsibilities below
        ``exp(-PRUNE_LOG_RATIO)`` of their row's largest are skipped, as in the Gaussian pass
        (they move no statistic above rounding)."""
        n, d = X.shape
        K, q = params.n_components, self.n_factors
        wb = _Woodbury(params)
        c = params.means
        log_w = _log_weights(params.weights)
        nk = np.zeros(K)
        sx = np.zeros((K, d))
        sxx = np.zeros((K, d))
        sxz = np.zeros((K, d, q))
        syy = np.zeros((K, q, q))
        sz = np.zeros((K, q))
        loglik = 0.0
        step = max(64, _BLOCK_BYTES // (8 * (3 * d + K * (q + 2))))
        for start in range(0, n, step):
            Xb = X[start : start + step]
            wblk = None if sample_weight is None else sample_weight[start : start + step]
            L, U = wb.all_components(Xb)
            L += log_w
            log_norm = logsumexp(L, axis=1)
            L -= log_norm[:, None]
            R = np.zeros_like(L)
            np.exp(L, out=R, where=L >= -PRUNE_LOG_RATIO)
            if wblk is None:
                loglik += float(log_norm.sum())
            else:
                R *= wblk[:, None]
                loglik += float(log_norm @ wblk)
            for k in range(K):
                rows = np.flatnonzero(R[:, k])
                if rows.size == 0:
                    continue
                r = R[rows, k]
                Xc = Xb[rows] - c[k]
                Y = U[rows, k] @ wb.L_inv[k]  # E[z|x] = L^{-T} u, in row form u L^{-1}
                rY = Y * r[:, None]
                nk[k] += r.sum()
                sx[k] += r @ Xb[rows]
                sxx[k] += r @ (Xc * Xc)
                sxz[k] += Xc.T @ rY
                syy[k] += Y.T @ rY
                sz[k] += r @ Y
        szz = syy + nk[:, None, None] * wb.M_inv  # Σ r (M^{-1} + y y^T)
        total = float(n) if sample_weight is None else float(sample_weight.sum())
        return Stats(
            n=total, loglik=loglik, nk=nk, sx=sx, sxx=sxx, centers=c,
            covariance_type=self.name, extra={"sxz": sxz, "szz": szz, "sz": sz},
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
        """Initialisation statistics from responsibilities alone: the full scatter about
        ``centers`` (shape (K, d, d); see the module docstring), which :meth:`m_step` turns
        into factors by probabilistic PCA."""
        full = family("full").accumulate(
            X, R, centers, packed=packed, exact=exact, loglik=loglik, n=n
        )
        return replace(full, covariance_type=self.name)

    def m_step(self, stats: Stats, reg_covar: float) -> Params:
        if "sxz" not in stats.extra:
            return self._initial(stats, reg_covar)
        K, d = stats.sx.shape
        q = self.n_factors
        nk = stats.nk + _NK_EPS
        c = stats.centers
        u = stats.sx - stats.nk[:, None] * c  # Σ r x'
        A = np.empty((K, q + 1, q + 1))
        A[:, :q, :q] = stats.extra["szz"]
        A[:, :q, q] = A[:, q, :q] = stats.extra["sz"]
        A[:, q, q] = stats.nk
        B = np.concatenate([stats.extra["sxz"], u[:, :, None]], axis=2)  # (K, d, q + 1)
        # scale by N: the system is then O(1) whatever the component's mass
        A /= nk[:, None, None]
        B /= nk[:, None, None]
        Wt = np.zeros((K, d, q + 1))  # [W, μ - c]; an empty component keeps W = 0, μ = c
        for k in np.flatnonzero(stats.nk > 0):
            try:
                # W~ = B A^{-1}: A symmetric positive definite, so W~^T = A^{-1} B^T
                Wt[k] = np.linalg.solve(A[k], B[k].T).T
            except np.linalg.LinAlgError:
                raise ValueError(_FAILED.format(where=f" (component {k})")) from None
        means = c + Wt[:, :, q]
        psi = stats.sxx / nk[:, None] - np.einsum("kjm,kjm->kj", Wt, B)
        psi += reg_covar
        bad = np.flatnonzero(~np.all((psi > 0) & np.isfinite(psi), axis=1))
        if bad.size:
            raise ValueError(_FAILED.format(where=f" (components {bad[:10].tolist()})"))
        return self.params(nk / nk.sum(), means, np.ascontiguousarray(Wt[:, :, :q]), psi)

    def _initial(self, stats: Stats, reg_covar: float) -> Params:
        """Factors from full-scatter statistics: probabilistic PCA of each covariance."""
        weights, means, cov = gaussian("full").weights_means_covariances(
            replace(stats, covariance_type="full"), reg_covar
        )
        return self.params(weights, means, *factors_from_covariances(cov, self.n_factors))

    # ------------------------------------------------------------------ sampling
    def sample_grouped(
        self,
        params: Params,
        counts: NDArray[np.intp],
        rng: np.random.Generator,
        temperature: float = 1.0,
    ) -> Array:
        # x = μ + sqrt(t) (W z + Ψ^{1/2} e): covariance t (W W^T + Ψ), d x q work per row
        labels = np.repeat(np.arange(counts.size), counts)
        W = params.extra["loadings"]
        Z = rng.standard_normal((labels.size, self.n_factors))
        E = rng.standard_normal((labels.size, params.n_features))
        X = E * np.sqrt(params.extra["noise_variance"])[labels]
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for k in np.flatnonzero(counts):
            sl = slice(bounds[k], bounds[k + 1])
            X[sl] += Z[sl] @ W[k].T
        if temperature != 1.0:
            X *= np.sqrt(temperature)
        X += params.means[labels]
        return X


def factors_from_covariances(cov: Array, n_factors: int) -> tuple[Array, Array]:
    """Loadings (K, d, q) and noise variances (K, d) of probabilistic PCA of covariances
    (K, d, d): ``W = U_q (Λ_q - σ²)^{1/2}``, ``σ²`` the mean of the other eigenvalues, and
    ``Ψ = diag(Σ - W W^T)`` (positive when ``Σ`` is positive definite).

    Raises
    ------
    ValueError
        When a covariance is not positive definite.
    """
    K, d, _ = cov.shape
    q = n_factors
    lam, vec = np.linalg.eigh(cov)  # ascending
    lam, vec = lam[:, ::-1], vec[:, :, ::-1]
    sigma2 = lam[:, q:].mean(axis=1) if q < d else np.zeros(K)
    W = vec[:, :, :q] * np.sqrt(np.maximum(lam[:, :q] - sigma2[:, None], 0.0))[:, None, :]
    psi = np.einsum("kjj->kj", cov) - np.einsum("kjm,kjm->kj", W, W)
    bad = np.flatnonzero(~np.all((psi > 0) & np.isfinite(psi), axis=1))
    if bad.size:
        raise ValueError(_FAILED.format(where=f" (components {bad[:10].tolist()})"))
    return np.ascontiguousarray(W), psi


def _log_weights(weights: Array) -> Array:
    with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
        return np.log(weights)


def factor(n_factors: int) -> Factor:
    """The family with ``n_factors`` factors (registered)."""
    return cast(Factor, family(factor_name(n_factors)))


def _from_argument(argument: str) -> Family:
    try:
        q = int(argument)
    except ValueError:
        raise ValueError(
            f"{PREFIX}({argument}): the number of factors must be an integer, e.g. "
            f"{PREFIX}(5)."
        ) from None
    if argument != str(q):
        raise ValueError(f"{PREFIX}({argument}): write the number of factors as {PREFIX}({q}).")
    return Factor(q)


register_parametric(PREFIX, _from_argument)
