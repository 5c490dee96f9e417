"""Mixed components: a Gaussian over the continuous block × one categorical distribution per
discrete column (a latent-class mixture with Gaussian continuous parts).

The family's rows are ``[continuous block (d columns) | one-hot block (L = Σ L_j columns)]``:
column ``j`` of the discrete block with ``L_j`` levels occupies ``L_j`` one-hot columns, and a
missing value of that column is an all-zero group, so it drops out of the likelihood
(marginalised) and out of the counts. Per component::

    log p(x | k) = log N(x_cont; mu_k, S_k) + onehot(x) @ log_theta[k]

one GEMM for the whole discrete block. The continuous part is delegated to the Gaussian family
of the covariance type (``family("full")``...) on the continuous slice, so every covariance type
and the Gaussian families' handling of gaps serve here unchanged; a table with no continuous
column has ``d = 0`` (a latent-class model over the discrete columns alone).

Statistics are the Gaussian ones plus ``extra["counts"] = R.T @ onehot`` (K, L): additive, so
chunked, out-of-core and distributed EM work unchanged. The M-step smooths each column's
distribution with a Dirichlet prior of :data:`ALPHA` observations per level, spread over the
levels by their pooled frequency ``pbar`` (the column's counts summed over the components,
i.e. over the data, with the same half-observation added)::

    theta[k, l] = (counts[k, l] + ALPHA * L_j * pbar[l]) / (observed[k, j] + ALPHA * L_j)

where ``observed[k, j]``, the responsibility mass of rows where column ``j`` is observed, is the
sum of the column's counts. No level gets probability zero, and the smoothing pulls a small
component toward the column's overall distribution rather than toward uniform: a symmetric prior
made rare levels (and rare missingness patterns) as likely as half an observation in *every*
component, which on small tables inflated them in the samples (airquality: a 3.7 % pattern
generated at 8.2 %). ``pbar`` is fixed by the data (responsibilities sum to one per row), so
the prior is a fixed Dirichlet and EM still never decreases the penalised likelihood.

The layout (levels per column) is part of the family's name: ``"full-categorical(3,2,2)"``. The
name in a model file is enough to rebuild the family (:func:`~mixsynth.core.families.family`
builds it on first use), and one instance per layout holds no changing state, as every family.
``Params.extra["log_theta"]`` (K, L) holds the log-probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.families import Family, family, register_parametric
from mixsynth.core.kernels import packed_is_accurate, precision_norms
from mixsynth.core.params import Params
from mixsynth.core.stats import Stats, normalize_rows

__all__ = ["ALPHA", "MARKER", "Categorical", "categorical_family"]

Array = NDArray[np.float64]

#: The Dirichlet smoothing's strength: half an observation per level (Jeffreys' weight), spread
#: over the levels by their pooled frequency (:meth:`Categorical.pooled`), which gives no level
#: probability zero and keeps rare levels (and rare missingness) at their observed rate.
ALPHA = 0.5
#: What a mixed family's name contains between the Gaussian type and the layout:
#: ``"full-categorical(3,2)"`` (a parametric family, :func:`register_parametric`).
MARKER = "-categorical("
#: How far from one a stored column distribution may sum.
_PROB_ATOL = 1e-8
_NK_EPS = 10 * np.finfo(np.float64).eps


class Categorical(Family):
    """Gaussian (covariance type ``gaussian``) × independent categorical columns.

    Parameters
    ----------
    gaussian : str
        The covariance type of the continuous block: "full", "tied", "diag" or "spherical".
    levels : tuple of int
        Levels of each discrete column (each >= 1), in order.
    """

    def __init__(self, gaussian: str, levels: tuple[int, ...]) -> None:
        if not levels or any(int(n) < 1 for n in levels):
            raise ValueError(f"levels must be one or more counts >= 1, got {levels!r}.")
        if MARKER in gaussian:
            raise ValueError(f"{gaussian!r} is not a Gaussian covariance type.")
        self.gaussian = family(gaussian)
        self.levels = tuple(int(n) for n in levels)
        self.n_levels = int(sum(self.levels))
        self.name = f"{gaussian}{MARKER}{','.join(map(str, self.levels))})"
        self._starts = np.concatenate([[0], np.cumsum(self.levels)[:-1]]).astype(np.intp)
        self._column = np.repeat(np.arange(len(self.levels)), self.levels)  # level -> column
        self._width = np.asarray(self.levels, dtype=np.float64)[self._column]  # L_j per level

    # ------------------------------------------------------------------ layout
    def split(self, X: Array) -> tuple[Array, Array]:
        """The continuous block and the one-hot block of rows ``X``."""
        d = X.shape[1] - self.n_levels
        if d < 0:
            raise ValueError(
                f"{self.name}: rows have {X.shape[1]} columns, fewer than the {self.n_levels} "
                "one-hot columns of the layout."
            )
        return X[:, :d], X[:, d:]

    def one_hot(self, codes: NDArray[np.integer]) -> Array:
        """One-hot rows of integer codes (n, J); a code of -1 (missing) is an all-zero group."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self.levels):
            raise ValueError(
                f"codes must have shape (n, {len(self.levels)}), got {codes.shape}."
            )
        if np.any(codes >= np.asarray(self.levels)) or np.any(codes < -1):
            raise ValueError("codes must be in 0..L_j - 1, or -1 for a missing value.")
        out = np.zeros((codes.shape[0], self.n_levels))
        rows, cols = np.nonzero(codes >= 0)
        out[rows, self._starts[cols] + codes[rows, cols]] = 1.0
        return out

    def codes(self, onehot: Array) -> NDArray[np.intp]:
        """Integer codes (n, J) of one-hot rows (-1 where a group is all zeros)."""
        out = np.empty((onehot.shape[0], len(self.levels)), dtype=np.intp)
        for j, (s, n) in enumerate(zip(self._starts, self.levels, strict=True)):
            block = onehot[:, s : s + n]
            out[:, j] = np.where(block.any(axis=1), block.argmax(axis=1), -1)
        return out

    def _gaussian_params(self, params: Params) -> Params:
        return Params(params.weights, params.means, params.precisions_cholesky,
                      self.gaussian.name)

    # ------------------------------------------------------------------ parameters
    def n_parameters(self, n_components: int, n_features: int) -> int:
        K, d = n_components, n_features - self.n_levels
        gauss = self.gaussian.n_parameters(K, d) if d > 0 else K - 1
        return int(gauss + K * (self.n_levels - len(self.levels)))

    def tensor_shapes(self, n_components: int, n_features: int) -> dict[str, tuple[int, ...]]:
        K, d = n_components, n_features - self.n_levels
        shapes = dict(self.gaussian.tensor_shapes(K, d))
        shapes["log_theta"] = (K, self.n_levels)
        return shapes

    def to_tensors(self, params: Params) -> dict[str, Array]:
        out = dict(self.gaussian.to_tensors(self._gaussian_params(params)))
        out["log_theta"] = np.asarray(params.extra["log_theta"], dtype=np.float64)
        return out

    def from_tensors(self, tensors: dict[str, Array]) -> Params:
        if "log_theta" not in tensors:
            raise ValueError(f"{self.name}: missing tensor(s) ['log_theta'].")
        log_theta = np.asarray(tensors["log_theta"], dtype=np.float64)
        rest = {k: v for k, v in tensors.items() if k != "log_theta"}
        means = np.asarray(rest.get("means", np.empty((0, 0))), dtype=np.float64)
        if means.ndim == 2 and means.shape[1] == 0:  # no continuous block
            weights = np.asarray(rest.get("weights"), dtype=np.float64)
            if weights.ndim != 1 or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-8:
                raise ValueError(f"{self.name}: tensor 'weights' is not a probability vector.")
            gp = Params(weights, means, np.asarray(rest["precisions_cholesky"]),
                        self.gaussian.name)
        else:
            gp = self.gaussian.from_tensors(rest)
        K = gp.n_components
        if log_theta.shape != (K, self.n_levels):
            raise ValueError(f"{self.name}: tensor 'log_theta' has shape {log_theta.shape}, "
                             f"expected {(K, self.n_levels)}.")
        if not np.all(np.isfinite(log_theta)):
            raise ValueError(f"{self.name}: tensor 'log_theta' has non-finite values.")
        sums = np.add.reduceat(np.exp(log_theta), self._starts, axis=1)
        if np.any(np.abs(sums - 1.0) > _PROB_ATOL):
            raise ValueError(
                f"{self.name}: tensor 'log_theta' does not hold probability distributions."
            )
        return Params(gp.weights, gp.means, gp.precisions_cholesky, self.name,
                      {"log_theta": log_theta})

    # ------------------------------------------------------------------ EM
    def log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        Xc, onehot = self.split(X)
        out = onehot @ np.asarray(params.extra["log_theta"]).T
        if Xc.shape[1]:
            out += self.gaussian.log_prob(Xc, self._gaussian_params(params))
        return out

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
        Xc, onehot = self.split(X)
        # the centred forms (exact=None): the fast pass's shortcuts are for its own chunks
        return self._accumulate(Xc, onehot, R, centers, None, loglik, n)

    def _accumulate(self, Xc: Array, onehot: Array, R: Array, centers: Array,
                    exact: NDArray[np.bool_] | None, loglik: float, n: float | None) -> Stats:
        """Statistics about ``centers``; ``exact``: components needing the centred scatter
        (``None``: all)."""
        counts = R.T @ onehot
        K, d = R.shape[1], Xc.shape[1]
        if d:
            st = self.gaussian.accumulate(Xc, R, centers, exact=exact, loglik=loglik, n=n)
            return replace(st, covariance_type=self.name, extra={"counts": counts})
        shape = self.gaussian.tensor_shapes(K, 0)["precisions_cholesky"]
        sxx_shape = shape if getattr(self.gaussian, "layout", "") != "spherical" else (K, 0)
        return Stats(
            n=float(R.sum()) if n is None else n, loglik=loglik, nk=R.sum(axis=0),
            sx=np.zeros((K, 0)), sxx=np.zeros(sxx_shape), centers=centers,
            covariance_type=self.name, extra={"counts": counts},
        )

    def statistics(
        self,
        X: Array,
        params: Params,
        sample_weight: Array | None = None,
        packed: Array | None = None,
    ) -> Stats:
        """The E-step on one chunk: responsibilities from the whole row's evidence, then the
        Gaussian block's statistics (rows with gaps in the continuous block by the Gaussian
        family's conditional expectations, when it has them) and the level counts."""
        R = self.weighted_log_prob(X, params)
        log_norm = normalize_rows(R)  # in place: R holds the responsibilities now
        if sample_weight is None:
            loglik, n = float(log_norm.sum()), float(X.shape[0])
        else:
            R *= sample_weight[:, None]
            loglik, n = float(log_norm @ sample_weight), float(sample_weight.sum())
        Xc, onehot = self.split(X)
        gp = self._gaussian_params(params)
        if Xc.shape[1] and np.isnan(Xc).any():
            observed = getattr(self.gaussian, "accumulate_observed", None)
            if observed is None:
                raise ValueError(f"{self.name}: the continuous block has NaN, and the "
                                 f"{self.gaussian.name!r} family has no missing-value EM.")
            st = observed(Xc, R, gp, loglik=loglik, n=n)
            return replace(st, covariance_type=self.name, extra={"counts": R.T @ onehot})
        exact = None
        if Xc.shape[1]:
            # the second moments about the means by the expanded form (one product) where it
            # is accurate for these rows, the exact centred scatter elsewhere: the Gaussian
            # families' own guard (kernels.packed_is_accurate)
            sq_max = float(np.einsum("ij,ij->i", Xc, Xc).max(initial=0.0))
            exact = ~packed_is_accurate(sq_max, gp.means, precision_norms(gp))
        return self._accumulate(Xc, onehot, R, params.means, exact, loglik, n)

    def pooled(self, counts: Array) -> Array:
        """Each level's pooled frequency within its column (L,): the components' counts
        summed, half an observation added per level (the smoothing's centre)."""
        total = counts.sum(axis=0) + ALPHA
        return total / np.add.reduceat(total, self._starts)[self._column]

    def m_step(self, stats: Stats, reg_covar: float) -> Params:
        counts = np.asarray(stats.extra["counts"])
        observed = np.add.reduceat(counts, self._starts, axis=1)[:, self._column]
        prior = ALPHA * self._width * self.pooled(counts)
        theta = (counts + prior) / (observed + ALPHA * self._width)
        log_theta = np.log(theta)
        if stats.sx.shape[1]:
            gp = self.gaussian.m_step(
                replace(stats, covariance_type=self.gaussian.name, extra={}), reg_covar
            )
            weights, means, pc = gp.weights, gp.means, gp.precisions_cholesky
        else:
            nk = stats.nk + _NK_EPS
            weights, means = nk / nk.sum(), np.zeros((nk.shape[0], 0))
            pc = np.zeros(self.gaussian.tensor_shapes(nk.shape[0], 0)["precisions_cholesky"])
        return Params(weights, means, pc, self.name, {"log_theta": log_theta})

    # ------------------------------------------------------------------ sampling
    def sample_grouped(
        self,
        params: Params,
        counts: NDArray[np.intp],
        rng: np.random.Generator,
        temperature: float = 1.0,
    ) -> Array:
        n = int(counts.sum())
        d = params.n_features
        Xc = (self.gaussian.sample_grouped(self._gaussian_params(params), counts, rng,
                                           temperature) if d else np.zeros((n, 0)))
        labels = np.repeat(np.arange(counts.size), counts)
        # at temperature t, p_t ∝ p^(1/t) per column (the seam's rule for discrete families);
        # each column's cumulative sum is normalised below, so no renormalisation here
        log_theta = np.asarray(params.extra["log_theta"]) / temperature
        theta = np.exp(log_theta - log_theta.max(axis=1, keepdims=True))
        codes = np.empty((n, len(self.levels)), dtype=np.intp)
        for j, (s, m) in enumerate(zip(self._starts, self.levels, strict=True)):
            cum = np.cumsum(theta[:, s : s + m], axis=1)[labels]
            u = rng.random(n) * cum[:, -1]  # exact normalisation, whatever the rounding
            codes[:, j] = np.minimum((u[:, None] >= cum).sum(axis=1), m - 1)
        return np.hstack([Xc, self.one_hot(codes)])


def categorical_family(gaussian: str, levels: tuple[int, ...] | list[int]) -> Categorical:
    """The mixed family of a covariance type and a layout (built and registered on first use).
    """
    fam = family(f"{gaussian}{MARKER}{','.join(str(int(n)) for n in levels)})")
    assert isinstance(fam, Categorical)
    return fam


def _factory(gaussian: str) -> Callable[[str], Categorical]:
    def build(layout: str) -> Categorical:
        try:
            levels = tuple(int(n) for n in layout.split(","))
        except ValueError:
            raise ValueError(f"Malformed mixed family layout {layout!r}: expected levels per "
                             f"column, e.g. '{gaussian}{MARKER}3,2)'.") from None
        return Categorical(gaussian, levels)

    return build


for _gaussian in ("full", "tied", "diag", "spherical"):
    register_parametric(f"{_gaussian}{MARKER[:-1]}", _factory(_gaussian))
