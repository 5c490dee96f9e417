"""k-means starts: k-means++ seeding as scikit-learn draws it, the statistics of hard
assignments (the first M-step of a k-means start), and the digests that key a shared initial
clustering (:func:`~mixsynth.gaussian_mixture.shared_initialisation`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core import Stats
from mixsynth.core.kernels import pack_outer, unpack_symmetric

Array = NDArray[np.float64]


def _squared_distances(A: Array, X: Array, x_sq: Array) -> Array:
    """``|a - x|^2`` of rows of ``A`` to rows of ``X``, by scikit-learn's expression for
    float64 (``sklearn.metrics.pairwise._euclidean_distances``), operation for operation."""
    D = -2 * (A @ X.T)
    D += np.einsum("ij,ij->i", A, A)[:, None]
    D += x_sq[None, :]
    np.maximum(D, 0, out=D)
    return D


def kmeans_plusplus_indices(
    X: Array, n_clusters: int, random_state: np.random.RandomState,
    sample_weight: Array | None = None,
) -> tuple[Array, NDArray[np.intp]]:
    """k-means++ seeding: the centres and rows :func:`sklearn.cluster.kmeans_plusplus` chooses
    from the same ``random_state`` (left in the same state), without its validation per step.

    The same draws (``choice``, then ``uniform`` of ``2 + int(log K)`` trials per centre) and
    the same float64 operations in the same order (squared distances, cumulative potentials,
    ``searchsorted``, ``argmin``), so the same indices, bit for bit; the tests compare them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    n_clusters : int
    random_state : RandomState
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
    """
    n = X.shape[0]
    if n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}.")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    x_sq = np.einsum("ij,ij->i", X, X)
    trials = 2 + int(np.log(n_clusters))
    indices = np.full(n_clusters, -1, dtype=int)
    center_id = random_state.choice(n, p=w / w.sum())
    indices[0] = center_id
    closest = _squared_distances(X[center_id, np.newaxis], X, x_sq)
    current_pot = closest @ w
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=trials) * current_pot
        candidates = np.searchsorted(np.cumsum(w * closest), rand_vals)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        dist = _squared_distances(X[candidates], X, x_sq)
        np.minimum(closest, dist, out=dist)
        pots = dist @ w.reshape(-1, 1)
        best = np.argmin(pots)
        current_pot = pots[best]
        closest = dist[best]
        indices[c] = candidates[best]
    return X[indices], indices


@dataclass(frozen=True)
class _KMeansPlusPlus:
    """``KMeans(init=...)``: k-means++ on the rows KMeans hands over (its centred copy), with
    the row weights KMeans does not pass to a callable."""

    sample_weight: Array | None

    def __call__(self, X: Array, n_clusters: int, random_state: Any) -> Array:
        return kmeans_plusplus_indices(X, n_clusters, random_state, self.sample_weight)[0]


def _hard_full_stats(X: Array, R: Array, labels: NDArray[np.intp], centers: Array) -> Stats:
    """The statistics ``accumulate(X, R, centers, "full")`` gives for responsibilities ``R``
    with one nonzero per row (at ``labels``; the row's weight): the exact centred scatter
    ``Σ r (x - c)(x - c)^T`` of each component, as the segment sums of the packed outer
    products of ``sqrt(r) (x - c_label)``, rows sorted by label (equal to rounding)."""
    K, d = centers.shape
    r = R[np.arange(X.shape[0]), labels]
    order = np.argsort(labels, kind="stable")
    W = X[order] - centers[labels[order]]
    W *= np.sqrt(r[order])[:, None]
    counts = np.bincount(labels, minlength=K)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    used = np.flatnonzero(counts)
    sums = np.add.reduceat(pack_outer(W).T, starts[used], axis=1)  # (d(d+1)/2, used)
    sxx = np.zeros((K, d, d))
    sxx[used] = unpack_symmetric(np.ascontiguousarray(sums.T), d)
    return Stats(n=float(R.sum()), loglik=0.0, nk=R.sum(axis=0), sx=R.T @ X, sxx=sxx,
                 centers=centers, covariance_type="full")


def _digest(a: NDArray[Any] | None) -> bytes | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(a.tobytes(), digest_size=16)
    h.update(repr((a.shape, a.dtype.str)).encode())
    return h.digest()


def _state_key(random_state: np.random.RandomState) -> tuple[Any, ...]:
    state = random_state.get_state(legacy=True)
    assert isinstance(state, tuple)
    return (str(state[0]), _digest(np.asarray(state[1])), int(state[2]), int(state[3]),
            float(state[4]))
