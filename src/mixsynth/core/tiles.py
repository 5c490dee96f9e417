"""Exact per-component sums over (row, component) pairs, by tiles.

Pairs sorted by component form one segment per component; segments are cut into tiles
(:class:`_Tiling`), gathered from ``X`` in one pass, and all tiles go through one batched matrix
product, each with its own component's factor or centre: BLAS speed for any mix of segment
lengths, with no Python loop over components. Used by the Gaussian pass
(:mod:`~mixsynth.core.gaussian_pass`) for exact centred scatters and pairwise Mahalanobis terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DENSE_FRACTION", "centred_scatter", "pairs_mahalanobis", "segment_gram"]

Array = NDArray[np.float64]

#: Bound on the temporaries of the exact (centred) scatter: (row, component) pairs are processed
#: in blocks of at most this many bytes of outer products.
_CENTRED_BLOCK_BYTES = 32 * 2**20
#: Above this fraction of nonzero responsibilities the scatter uses BLAS on all rows instead.
DENSE_FRACTION = 0.25
#: Bounds on the rows per tile of :func:`segment_gram`.
_GRAM_TILE_MIN, _GRAM_TILE_MAX = 16, 512
#: Cache-sized blocks of components for the dense scatter.
_DENSE_BLOCK_BYTES = 8 * 2**20


def centred_scatter(X: Array, R: Array, centers: Array, diag: bool) -> Array:
    """Exact ``Σ_n R_nk (x_n - c_k)(x_n - c_k)^T`` (or its diagonal).

    Only rows with a nonzero responsibility count, so one-hot initial responsibilities cost
    ``n d^2`` in all rather than ``K n d^2``: the (row, component) pairs are gathered
    component-major as ``W = sqrt(r)(x - c)``, straight into tiles (:class:`_Tiling`, as in
    :func:`segment_gram`), and each component's ``W^T W`` is one batched product over all
    tiles, in blocks of pairs that bound the temporaries.
    """
    K = centers.shape[0]
    n, d = X.shape
    active = R > 0.0
    n_active = int(np.count_nonzero(active))
    if n_active == 0:
        return np.zeros((K, d) if diag else (K, d, d))
    if n_active > DENSE_FRACTION * n * K:
        return _centred_scatter_dense(X, R, centers, diag)
    comps, rows = np.nonzero(active.T)  # component-major: each component's rows together
    step = max(_GRAM_TILE_MAX, int(_CENTRED_BLOCK_BYTES // (8 * d)))
    out = np.zeros((K, d) if diag else (K, d, d))
    for start in range(0, comps.size, step):
        c, r = comps[start : start + step], rows[start : start + step]
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # segment starts
        if diag:
            W = X[r] - centers[c]
            W *= np.sqrt(R[r, c])[:, None]
            out[c[first]] += np.add.reduceat(W * W, first, axis=0)
            continue
        out[c[first]] += _centred_gram(X, r, first, centers[c[first]], np.sqrt(R[r, c]))
    return out


@dataclass(frozen=True)
class _Tiling:
    """Segments of consecutive rows cut into tiles of ``rows`` rows, each tile within one
    segment, the last tile of each segment padded with zero rows.

    Attributes
    ----------
    rows : int
        Rows per tile: half the mean segment length within [16, 512] (a multiple of 8): long
        tiles when segments are long (fewer partial products), short ones when they are short
        (less padding).
    first_tile : ndarray of shape (n_segments,)
        Index of each segment's first tile.
    dest : ndarray of shape (m,)
        Row of the padded (n_tiles * rows) array that each input row goes to.
    segment_of_tile : ndarray of shape (n_tiles,)
    """

    rows: int
    first_tile: NDArray[np.intp]
    dest: NDArray[np.intp]
    segment_of_tile: NDArray[np.intp]

    @classmethod
    def of(cls, starts: NDArray[np.intp], m: int) -> _Tiling:
        lengths = np.diff(np.r_[starts, m])
        L = int(np.clip(m // (2 * starts.size) // 8 * 8, _GRAM_TILE_MIN, _GRAM_TILE_MAX))
        tiles = -(-lengths // L)  # ceil
        first_tile = np.r_[0, np.cumsum(tiles)[:-1]]
        seg = np.repeat(np.arange(starts.size), lengths)  # segment of each row
        dest = first_tile[seg] * L + (np.arange(m) - starts[seg])
        return cls(L, first_tile, dest, np.repeat(np.arange(starts.size), tiles))

    @property
    def n_tiles(self) -> int:
        return int(self.segment_of_tile.size)

    def gather(self, X: Array, rows: NDArray[np.intp]) -> Array:
        """``X[rows]`` laid out as tiles, shape (n_tiles, rows, d), in one gather; padding
        rows repeat an arbitrary row of ``X`` (callers zero them with :meth:`spread`
        weights or discard them)."""
        src = np.zeros(self.n_tiles * self.rows, dtype=np.intp)
        if rows.size:
            src[:] = rows[0]
        src[self.dest] = rows
        return X[src].reshape(self.n_tiles, self.rows, X.shape[1])

    def spread(self, values: Array) -> Array:
        """Per-row ``values`` as tiles, shape (n_tiles, rows), zero on padding rows."""
        out = np.zeros(self.n_tiles * self.rows)
        out[self.dest] = values
        return out.reshape(self.n_tiles, self.rows)

    def take(self, tiled: Array) -> Array:
        """The inverse of :meth:`gather` for per-row results: (n_tiles, rows) → (m,)."""
        return tiled.reshape(-1)[self.dest]

    def sum_segments(self, per_tile: Array) -> Array:
        """Sum per-tile results over each segment's tiles."""
        if per_tile.shape[0] == self.first_tile.size:  # one tile per segment
            return per_tile
        return np.add.reduceat(per_tile, self.first_tile, axis=0)


def segment_gram(W: Array, starts: NDArray[np.intp]) -> Array:
    """``W_s^T W_s`` for each segment ``s`` of consecutive rows of ``W`` (segment ``i`` starts
    at row ``starts[i]``, segments non-empty), shape (len(starts), d, d).

    All segments' tiles (:class:`_Tiling`) go through one batched matrix product: BLAS speed
    for any mix of segment lengths, with no loop over segments.
    """
    m, d = W.shape
    return _centred_gram(W, np.arange(m), starts, np.zeros((starts.size, d)), np.ones(m))


def _centred_gram(
    X: Array, rows: NDArray[np.intp], starts: NDArray[np.intp], centers: Array, root: Array
) -> Array:
    """``Σ_i W_i^T W_i`` per segment with ``W_i = root_i (x_{rows_i} - centers_s)``: the rows
    gathered straight into tiles (one pass per operation; padding rows vanish with their zero
    weight), then one batched product over all tiles."""
    tiling = _Tiling.of(starts, rows.size)
    T = tiling.gather(X, rows)
    T -= centers[tiling.segment_of_tile][:, None, :]
    T *= tiling.spread(root)[:, :, None]
    return tiling.sum_segments(np.matmul(np.swapaxes(T, 1, 2), T))


def pairs_mahalanobis(
    X: Array, rows: NDArray[np.intp], comps: NDArray[np.intp], means: Array, pc: Array
) -> Array:
    """Exact ``|(x_r - mu_c) P_c|^2`` for (row, component) pairs sorted by component.

    Each component's pairs are a segment; its tiles are multiplied by that component's factor
    in one batched product over all tiles (no loop over components), centred first, so the
    result is exact whatever the component's conditioning or distance from the origin.
    """
    if not rows.size:
        return np.empty(0)
    starts = np.flatnonzero(np.r_[True, comps[1:] != comps[:-1]])
    tiling = _Tiling.of(starts, rows.size)
    T = tiling.gather(X, rows)
    seg_comp = comps[starts][tiling.segment_of_tile]
    T -= means[seg_comp][:, None, :]
    Y = np.matmul(T, pc[seg_comp])
    return tiling.take(np.einsum("tld,tld->tl", Y, Y))


def _centred_scatter_dense(X: Array, R: Array, centers: Array, diag: bool) -> Array:
    """The same sum with BLAS, for dense responsibilities: ``W^T W`` with ``W = sqrt(r)(x - c)``
    per component, in cache-sized blocks of components."""
    K = centers.shape[0]
    n, d = X.shape
    out = np.empty((K, d) if diag else (K, d, d))
    step = max(1, int(_DENSE_BLOCK_BYTES // max(1, 8 * n * d)))
    root = np.sqrt(R)
    for start in range(0, K, step):
        sl = slice(start, min(K, start + step))
        W = (X[None, :, :] - centers[sl, None, :]) * root[:, sl].T[:, :, None]
        out[sl] = np.einsum("knd,knd->kd", W, W) if diag else np.matmul(np.swapaxes(W, 1, 2), W)
    return out
