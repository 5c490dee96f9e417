"""Benchmark problems: data plus the initial parameters that both libraries start from.

Two sources of data:

- the digits in the textbook shape (``load_digits``, ``PCA(0.99, whiten=True)``: 41 columns),
  started from the parameters of a one-iteration scikit-learn fit;
- synthetic data drawn, chunk by chunk with seeded generators, from a known random mixture whose
  components are well separated and correlated (random rotations, variances spread by a factor
  of five), started from the true parameters perturbed.

Both libraries receive the same ``weights_init``, ``means_init`` and ``precisions_init``, so
their EM iterations start from the same point and their ``lower_bound_`` can be compared.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "OVERLAP_SEPARATION",
    "InitParams",
    "Problem",
    "TrueMixture",
    "digits_pca",
    "digits_problem",
    "init_from_truth",
    "random_mixture",
    "sample_into",
    "synthetic_data",
    "synthetic_problem",
]

Array = NDArray[np.float64]

#: Rows drawn per chunk of synthetic data; each chunk has its own seed (deterministic by index).
GENERATION_CHUNK_ROWS = 20_000
#: ``separation`` of the overlapping wide problem (issue 13, point 4): means about 5 apart at
#: d = 200 against standard deviations up to 1, so the pruning bounds keep most pairs.
OVERLAP_SEPARATION = 0.25


@dataclass(frozen=True, eq=False)
class TrueMixture:
    """A Gaussian mixture given by the eigen-decompositions of its covariances.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, d)
    rotations : ndarray of shape (K, d, d)
        Orthogonal ``Q_k``; ``cov_k = Q_k diag(variances_k) Q_k^T``.
    variances : ndarray of shape (K, d)
    """

    weights: Array
    means: Array
    rotations: Array
    variances: Array

    @property
    def covariances(self) -> Array:
        """Covariance matrices, shape (K, d, d)."""
        return np.einsum("kij,kj,klj->kil", self.rotations, self.variances, self.rotations)


@dataclass(frozen=True, eq=False)
class InitParams:
    """Initial parameters in scikit-learn's ``*_init`` form (precisions, not covariances).

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, d)
    precisions : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    """

    weights: Array
    means: Array
    precisions: Array


@dataclass(frozen=True, eq=False)
class Problem:
    """One benchmark problem: the data, the model and where EM starts.

    Attributes
    ----------
    name : str
        Label used in the tables.
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    init : InitParams
    """

    name: str
    X: Array
    n_components: int
    covariance_type: str
    init: InitParams

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def estimator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by both libraries' ``GaussianMixture``."""
        return {
            "n_components": self.n_components,
            "covariance_type": self.covariance_type,
            "weights_init": self.init.weights,
            "means_init": self.init.means,
            "precisions_init": self.init.precisions,
        }


def random_mixture(
    n_features: int,
    n_components: int,
    rng: np.random.Generator,
    *,
    separation: float = 2.0,
    variance_range: tuple[float, float] = (0.2, 1.0),
) -> TrueMixture:
    """A random mixture with well-separated, correlated components.

    Means are drawn with per-coordinate scale ``separation`` (distances between means of about
    ``separation * sqrt(2 d)``, many component standard deviations); each covariance has a random
    rotation (QR of a Gaussian matrix) and variances uniform in ``variance_range``.
    """
    d, K = n_features, n_components
    # concentration 20: the smallest of 100 weights is about half the mean, so every component
    # keeps well over d rows and no covariance is singular
    weights = rng.dirichlet(np.full(K, 20.0))
    means = rng.normal(scale=separation, size=(K, d))
    q, r = np.linalg.qr(rng.standard_normal((K, d, d)))
    rotations = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]  # Haar-distributed
    variances = rng.uniform(*variance_range, size=(K, d))
    return TrueMixture(weights, means, rotations, variances)


def sample_into(out: Array, truth: TrueMixture, seed: int) -> None:
    """Fill ``out`` (n, d) with rows drawn from ``truth``, chunk by chunk.

    Each chunk of :data:`GENERATION_CHUNK_ROWS` rows has its own child seed, so the data depend
    only on ``seed`` and ``n`` and the temporaries stay small whatever ``n``.
    """
    n = out.shape[0]
    starts = range(0, n, GENERATION_CHUNK_ROWS)
    children = np.random.SeedSequence(seed).spawn(len(starts))
    factors = truth.rotations * np.sqrt(truth.variances)[:, None, :]  # cov = F F^T
    for start, child in zip(starts, children, strict=True):
        rng = np.random.default_rng(child)
        stop = min(n, start + GENERATION_CHUNK_ROWS)
        labels = rng.choice(len(truth.weights), size=stop - start, p=truth.weights)
        z = rng.standard_normal((stop - start, out.shape[1]))
        chunk = out[start:stop]
        for k in np.unique(labels):
            rows = labels == k
            chunk[rows] = truth.means[k] + z[rows] @ factors[k].T


@cache
def synthetic_data(
    n_samples: int, n_features: int, n_components: int, seed: int = 0,
    separation: float = 2.0,
) -> tuple[TrueMixture, Array]:
    """The true mixture and ``n_samples`` rows drawn from it (read-only, cached per run);
    ``separation`` as in :func:`random_mixture`."""
    truth = random_mixture(
        n_features, n_components, np.random.default_rng(seed), separation=separation
    )
    X = np.empty((n_samples, n_features))
    sample_into(X, truth, seed + 1)
    X.setflags(write=False)
    return truth, X


def init_from_truth(
    truth: TrueMixture, covariance_type: str, rng: np.random.Generator, *, jitter: float = 0.1
) -> InitParams:
    """The true parameters perturbed: weights by ±20 %, means by ``jitter`` (in units of the
    largest standard deviation), covariances scaled by a factor in [0.8, 1.25]."""
    K, d = truth.means.shape
    weights = truth.weights * rng.uniform(0.8, 1.2, size=K)
    weights /= weights.sum()
    means = truth.means + jitter * rng.standard_normal((K, d))
    variances = truth.variances * rng.uniform(0.8, 1.25, size=(K, 1))
    Q = truth.rotations
    if covariance_type == "full":
        prec = np.einsum("kij,kj,klj->kil", Q, 1.0 / variances, Q)
        precisions = 0.5 * (prec + np.swapaxes(prec, 1, 2))
    elif covariance_type == "tied":
        cov = np.einsum("k,kij,kj,klj->il", weights, Q, variances, Q)
        prec = np.linalg.inv(cov)
        precisions = 0.5 * (prec + prec.T)
    else:
        diag = np.einsum("kij,kj,kij->ki", Q, variances, Q)  # diagonals of the covariances
        precisions = 1.0 / (diag if covariance_type == "diag" else diag.mean(axis=1))
    return InitParams(weights, means, precisions)


def synthetic_problem(
    n_samples: int,
    n_features: int,
    n_components: int,
    covariance_type: str = "full",
    *,
    seed: int = 0,
    separation: float = 2.0,
) -> Problem:
    """Synthetic data from :func:`synthetic_data`, started from the perturbed truth.

    ``separation`` below the default makes the components overlap (:data:`OVERLAP_SEPARATION`:
    means about 2.8 of the largest standard deviations apart at d = 200, where the pruning
    bounds keep most pairs and the pruned pass declines); the name says so.
    """
    truth, X = synthetic_data(n_samples, n_features, n_components, seed, separation)
    init = init_from_truth(truth, covariance_type, np.random.default_rng(seed + 2))
    name = f"synthetic ({n_samples}, {n_features}, {n_components})"
    if separation != 2.0:
        name += f", overlapping (separation {separation:g})"
    return Problem(name, X, n_components, covariance_type, init)


@cache
def digits_pca() -> Array:
    """The 8×8 digits whitened by ``PCA(0.99, whiten=True)``: shape (1797, 41), read-only."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    X = PCA(n_components=0.99, whiten=True, svd_solver="full").fit_transform(load_digits().data)
    X = np.ascontiguousarray(X, dtype=np.float64)
    X.setflags(write=False)
    return X


def digits_problem(n_components: int, covariance_type: str = "full", *, seed: int = 0) -> Problem:
    """Digits PCA-41, started from the parameters of a one-iteration scikit-learn fit."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X = digits_pca()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=1, random_state=seed
        ).fit(X)
    init = InitParams(gm.weights_.copy(), gm.means_.copy(), gm.precisions_.copy())
    return Problem(f"digits PCA-{X.shape[1]}", X, n_components, covariance_type, init)
