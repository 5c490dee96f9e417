"""EM as a sum of per-chunk sufficient statistics.

:func:`suffstats` runs the E-step on one chunk and returns :class:`Stats`; statistics of disjoint
chunks **add up exactly** (``stats(A ∪ B) == stats(A) + stats(B)``), which is what makes chunked,
out-of-core and distributed EM give the in-memory answer.

Second moments are kept about reference points ``centers`` shared by every chunk of an iteration
(the previous means): ``sxx_k = Σ r (x - c_k)(x - c_k)^T``. Shifting by a point near the answer
avoids the cancellation of the raw-moment formula ``E[xx^T] - mu mu^T``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core.kernels import (
    LogDensity,
    estimate_weighted_log_prob,
    pack_outer,
    packed_is_accurate,
    precision_norms,
    unpack_symmetric,
)
from mixsynth.core.params import Params, log_det_cholesky

__all__ = [
    "PRUNE_LOG_RATIO",
    "Stats",
    "accumulate",
    "dense_only",
    "e_step",
    "normalize_rows",
    "suffstats",
    "suffstats_reference",
]

Array = NDArray[np.float64]

#: Bound on the temporaries of the exact (centred) scatter: (row, component) pairs are processed
#: in blocks of at most this many bytes of outer products.
_CENTRED_BLOCK_BYTES = 32 * 2**20
#: Above this fraction of nonzero responsibilities the scatter uses BLAS on all rows instead.
_DENSE_FRACTION = 0.25
#: Bounds on the rows per tile of :func:`segment_gram`.
_GRAM_TILE_MIN, _GRAM_TILE_MAX = 16, 512
#: Cache-sized blocks of components for the dense scatter.
_DENSE_BLOCK_BYTES = 8 * 2**20
#: Rows of a block are chosen so that its (rows × K) arrays are about this size: small enough to
#: stay in cache from the E-step through the normaliser to the M-step (measured at n=100 000,
#: d=50, K=100: 1 MiB blocks 20-25 % faster than 8 MiB for tied, diag and spherical) ...
_BLOCK_BYTES = 1 * 2**20
#: ... and its packed outer products (full covariance) about this size ...
_PACKED_BLOCK_BYTES = 8 * 2**20
#: ... but never fewer rows than this, which keeps the packed products at GEMM speed.
_MIN_BLOCK_ROWS = 256
#: A responsibility below ``exp(-PRUNE_LOG_RATIO)`` (~1.6e-28) times its row's largest is set to
#: zero. A float64 sum of up to 10^12 such terms moves any statistic by less than 1e-16 of the
#: row's own terms, i.e. below rounding: the statistics are those of the exact E-step.
PRUNE_LOG_RATIO = 64.0
#: Rows per block of the pruned pass: small enough that a block of rows sorted by component
#: spans few components (measured at n=100 000, d=50, K=100: 512 rows ≈ 3 components per row,
#: 2 600 rows ≈ 8).
_PRUNED_BLOCK_ROWS = 512
#: The pruned pass runs when its bounds keep at most this fraction of the (row, component) pairs.
_PRUNE_MAX_FRACTION = 0.2
#: The bounds need the precisions' eigenvalues (``~10 K d^3`` flops); below this many rows per
#: feature that would cost a sizeable part of the dense E-step (``n K d^2``) it might save.
_PRUNE_MIN_ROWS_PER_FEATURE = 100
#: Rows of the optimistic first test of the pruned pass.
_PRUNE_SAMPLE_ROWS = 2048
#: Safety margins of the pruning bounds: eigenvalues (relative, per feature) and expanded
#: squared distances (relative to the largest squared norms, per feature).
_EIG_SLACK = 1e-12
_DIST_SLACK = 1e-13


@dataclass(frozen=True, eq=False)
class Stats:
    """Additive sufficient statistics of a weighted chunk of rows.

    Attributes
    ----------
    n : float
        Sum of the sample weights (the row count when unweighted).
    loglik : float
        Sum over rows of ``weight * log p(x)`` under the parameters of the E-step.
    nk : ndarray of shape (K,)
        ``Σ w r_k``.
    sx : ndarray of shape (K, d)
        ``Σ w r_k x``.
    sxx : ndarray
        ``Σ w r_k (x - c_k)(x - c_k)^T``: (K, d, d) for full; its sum over components (d, d)
        for tied; its diagonal (K, d) for diag and spherical.
    centers : ndarray of shape (K, d)
        The reference points ``c_k``; statistics only add when they share them.
    covariance_type : str
    """

    n: float
    loglik: float
    nk: Array
    sx: Array
    sxx: Array
    centers: Array
    covariance_type: str

    def __add__(self, other: Stats) -> Stats:
        if not isinstance(other, Stats):
            return NotImplemented
        if self.covariance_type != other.covariance_type or not (
            self.centers is other.centers or np.array_equal(self.centers, other.centers)
        ):
            raise ValueError("Statistics only add when computed about the same centers.")
        return Stats(
            n=self.n + other.n,
            loglik=self.loglik + other.loglik,
            nk=self.nk + other.nk,
            sx=self.sx + other.sx,
            sxx=self.sxx + other.sxx,
            centers=self.centers,
            covariance_type=self.covariance_type,
        )

    def __radd__(self, other: object) -> Stats:
        if other == 0:  # lets sum() start from its default 0
            return self
        return NotImplemented

    @property
    def mean_loglik(self) -> float:
        """Mean per-sample (weighted) log-likelihood."""
        return self.loglik / self.n


def e_step(X: Array, params: Params, packed: Array | None = None) -> tuple[Array, Array]:
    """Per-row log-likelihood and log-responsibilities.

    Returns
    -------
    log_prob_norm : ndarray of shape (n,)
    log_resp : ndarray of shape (n, K)
    """
    wlp = estimate_weighted_log_prob(X, params, packed)
    log_prob_norm = logsumexp(wlp, axis=1)
    with np.errstate(under="ignore"):
        log_resp = wlp - log_prob_norm[:, None]
    return log_prob_norm, log_resp


def normalize_rows(wlp: Array) -> Array:
    """Turn weighted log-densities into responsibilities **in place**; return ``log p(x)``.

    One fused log-sum-exp: ``r = exp(l - max) / sum``, without the separate ``log_resp``
    array and second exponential of the textbook form. Responsibilities smaller than
    ``exp(-PRUNE_LOG_RATIO)`` times their row's largest are set to exactly zero (see
    :data:`PRUNE_LOG_RATIO`), which lets the M-step skip them.
    """
    top = wlp.max(axis=1)
    top[~np.isfinite(top)] = 0.0  # a row with no finite term keeps -inf below
    wlp -= top[:, None]
    keep = wlp >= -PRUNE_LOG_RATIO
    # exp only where it is kept (typically a few percent of the pairs: ~9x faster than
    # exponentiating every entry, most of which would underflow anyway), zero elsewhere
    np.exp(wlp, out=wlp, where=keep)
    np.copyto(wlp, 0.0, where=~keep)
    total = wlp.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        wlp /= total[:, None]
        return np.log(total) + top


def _centred_scatter(X: Array, R: Array, centers: Array, diag: bool) -> Array:
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
    if n_active > _DENSE_FRACTION * n * K:
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


_PRUNING_CACHE: weakref.WeakKeyDictionary[Params, Array] = (
    weakref.WeakKeyDictionary()
)


class _Sums:
    """Running sums of one chunk's statistics, block by block of rows.

    Components whose second moments may use the expanded form add ``Σ r x x^T`` (packed for
    full, the diagonal for diag/spherical) to ``raw``, with the matching ``nk``/``sx`` parts
    kept apart for the shift to ``centers`` at the end; the others add their exact centred
    scatter to ``centred``. Tied needs only ``Σ w x x^T``.
    """

    def __init__(self, centers: Array, covariance_type: str) -> None:
        K, d = centers.shape
        self.centers, self.covariance_type = centers, covariance_type
        self.loglik = 0.0
        self.nk = np.zeros(K)
        self.sx = np.zeros((K, d))
        self.full = covariance_type == "full"
        if covariance_type == "tied":
            self.raw = np.zeros((d, d))
        else:
            width = d * (d + 1) // 2 if self.full else d
            self.raw = np.zeros((K, width))
            self.nk_raw = np.zeros(K)
            self.sx_raw = np.zeros((K, d))
            self.centred = np.zeros((K, d, d) if self.full else (K, d))

    def add(
        self, X: Array, R: Array, fast: NDArray[np.bool_], packed: Array | None = None,
        w: Array | None = None, aug: Array | None = None,
    ) -> Array | None:
        """Add the rows ``X`` with responsibilities ``R`` (sample weights already applied;
        ``w``: the weights themselves, tied only). ``fast``: components allowed the expanded
        form. ``packed`` (full) or ``aug = [X**2, X]`` (diag, spherical): the rows' features
        if the caller has them.

        Returns the responsibilities still owed an exact centred scatter (``R`` with the
        columns done here zeroed), or ``None``; the caller gathers them over its whole chunk
        for :meth:`add_centred`, where each component's rows form long segments.
        """
        nk = R.sum(axis=0)
        self.nk += nk
        if aug is not None and not self.full and fast.all():
            # diagonal second moments and first moments in one product: R^T [x^2, x]
            d = X.shape[1]
            both = (aug.T @ R).T
            self.sx += both[:, d:]
            self.raw += both[:, :d]
            self.nk_raw += nk
            self.sx_raw += both[:, d:]
            return None
        sx = R.T @ X
        self.sx += sx
        if self.covariance_type == "tied":
            # Σ_k r_nk = w_n, so Σ_k Σ_n r x x^T = X^T diag(w) X, whatever the responsibilities
            self.raw += (X.T @ X) if w is None else (X * w[:, None]).T @ X
            return None
        if self.full and _PRUNING[0] and np.count_nonzero(R) < _DENSE_FRACTION * R.size:
            # mostly exact zeros (separated components): the exact centred scatter over the
            # nonzero pairs is both cheaper than the dense product and free of cancellation
            return R
        if not fast.any():
            return R
        all_fast = bool(fast.all())
        Rf = R if all_fast else R[:, fast]
        second = (pack_outer(X) if packed is None else packed) if self.full else X * X
        raw = Rf.T @ second
        if all_fast:
            self.raw += raw
            self.nk_raw += nk
            self.sx_raw += sx
            return None
        self.raw[fast] += raw
        self.nk_raw[fast] += nk[fast]
        self.sx_raw[fast] += sx[fast]
        rest = R.copy()
        rest[:, fast] = 0.0
        return rest

    def add_rows_loglik(
        self, log_prob: Array, R: Array, sample_weight: Array | None, rows: Any
    ) -> Array | None:
        """Add the (weighted) log-likelihood of a block's rows and weight its responsibilities
        ``R`` in place; returns the block's sample weights (``None`` when unweighted)."""
        if sample_weight is None:
            self.loglik += float(log_prob.sum())
            return None
        w = sample_weight[rows]
        R *= w[:, None]
        self.loglik += float(log_prob @ w)
        return w

    def add_centred(self, X: Array, R: Array) -> None:
        """Add the exact centred scatter of the rows ``X`` with responsibilities ``R`` (their
        ``nk`` and ``sx`` already added by :meth:`add`)."""
        used = np.flatnonzero(R.any(axis=0))
        if used.size:
            self.centred[used] += _centred_scatter(
                X, R[:, used], self.centers[used], diag=not self.full
            )

    def stats(self, n: float) -> Stats:
        c = self.centers
        if self.covariance_type == "tied":
            cs = c.T @ self.sx  # Σ_k c_k sx_k^T
            sxx = self.raw - cs - cs.T + (c * self.nk[:, None]).T @ c
        elif self.full:
            cs = c[:, :, None] * self.sx_raw[:, None, :]
            sxx = unpack_symmetric(self.raw, c.shape[1]) - cs - np.swapaxes(cs, 1, 2)
            sxx += self.nk_raw[:, None, None] * (c[:, :, None] * c[:, None, :])
            sxx += self.centred
        else:
            sxx = self.raw - 2.0 * c * self.sx_raw + self.nk_raw[:, None] * c * c
            sxx += self.centred
        return Stats(
            n=n, loglik=self.loglik, nk=self.nk, sx=self.sx, sxx=sxx, centers=c,
            covariance_type=self.covariance_type,
        )


def accumulate(
    X: Array,
    R: Array,
    centers: Array,
    covariance_type: str,
    *,
    packed: Array | None = None,
    exact: NDArray[np.bool_] | None = None,
    loglik: float = 0.0,
    n: float | None = None,
) -> Stats:
    """M-step statistics of a chunk from its weighted responsibilities.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    R : ndarray of shape (n, K)
        Responsibilities already multiplied by the sample weights.
    centers : ndarray of shape (K, d)
        Reference points of the second moments.
    covariance_type : str
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)`` (full covariance).
    exact : ndarray of bool of shape (K,), optional
        Components whose second moments must use the exact centred form; ``None`` = all of them
        (used at initialisation, when there is no precision to bound the error with).
    loglik, n : float
        Passed through into the statistics; ``n`` defaults to ``R.sum()``.
    """
    sums = _Sums(centers, covariance_type)
    fast = np.zeros(centers.shape[0], dtype=bool) if exact is None else ~exact
    rest = sums.add(X, R, fast, packed, w=R.sum(axis=1) if covariance_type == "tied" else None)
    if rest is not None:
        sums.add_centred(X, rest)
    sums.loglik = loglik
    return sums.stats(float(R.sum()) if n is None else n)


def _block_rows(n_cols: int) -> int:
    """Rows per block so that a block's widest temporary stays cache-sized."""
    return max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (8 * max(1, n_cols)))


def suffstats(
    X: Array,
    params: Params,
    sample_weight: Array | None = None,
    packed: Array | None = None,
) -> Stats:
    """E-step on one chunk, returned as additive sufficient statistics about ``params.means``.

    The chunk is visited in cache-sized blocks of rows: each block's log-densities are
    normalised in place into responsibilities and added to the sums at once, so no (n, K)
    array is ever built. Full covariance first tries the *pruned* pass
    (:func:`_pruned_full_sums`), which skips the (row, component) pairs whose responsibility is
    provably negligible.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : Params
        Parameters of the E-step; their means are the reference points of the second moments.
    sample_weight : ndarray of shape (n,), optional
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)``, reused across EM iterations when memory allows.
    """
    n, d = X.shape
    cov_type = params.covariance_type
    total = float(n) if sample_weight is None else float(sample_weight.sum())
    sums = _Sums(params.means, cov_type)
    if cov_type == "full" and _pruned_full_sums(X, params, sample_weight, sums):
        return sums.stats(total)
    sq_max = float(np.einsum("ij,ij->i", X, X).max(initial=0.0))
    density = LogDensity(params, sq_max, expand_all=True)
    K = params.n_components
    if cov_type == "full":
        fast = np.ones(K, dtype=bool)  # the expanded M-step only where the guard allows it
        fast[density.guarded_idx] = False
    elif cov_type == "tied":  # no guard: one product about the (centred) origin
        fast = np.ones(K, dtype=bool)
    else:
        fast = packed_is_accurate(sq_max, params.means, precision_norms(params))
    step = _block_rows(K)
    if density.needs_packed:
        step = min(step, max(_MIN_BLOCK_ROWS, _PACKED_BLOCK_BYTES // (4 * d * (d + 1))))
    owed: Array | None = None  # responsibilities owed an exact scatter, over the whole chunk
    buffer = None
    if packed is None and density.needs_packed:
        buffer = np.empty((d * (d + 1) // 2, min(n, step)))  # reused by every block
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        Xb = X[rows]
        pb = packed[rows] if packed is not None else None
        if buffer is not None:
            # once per block, for the E-step and the M-step
            pb = pack_outer(Xb, buffer[:, : Xb.shape[0]])
        aug = None
        if cov_type in ("diag", "spherical"):  # [x^2, x], for the E-step and the M-step
            aug = np.empty((Xb.shape[0], 2 * d))
            np.multiply(Xb, Xb, out=aug[:, :d])
            aug[:, d:] = Xb
        R = density(Xb, pb, aug)
        if density.guarded_idx.size:
            _refine_guarded(Xb, R, density)
        wb = sums.add_rows_loglik(normalize_rows(R), R, sample_weight, rows)
        rest = sums.add(Xb, R, fast, pb, wb, aug)
        if rest is not None:
            if owed is None:
                owed = np.zeros((n, K))
            owed[rows] = rest
    if owed is not None:
        sums.add_centred(X, owed)
    return sums.stats(total)


_PRUNING = [True]  # a list: mutable module state for dense_only()


@contextmanager
def dense_only() -> Iterator[None]:
    """Within the block, full covariance runs the dense formulation as its flop count says:
    no pruned pass, and the M-step's packed GEMM even for sparse responsibilities (components
    the accuracy guard rejects excepted). For benchmarks of the dense kernels and for tests.
    Not thread-safe; not for library use."""
    previous = _PRUNING[0]
    _PRUNING[0] = False
    try:
        yield
    finally:
        _PRUNING[0] = previous


def _refine_guarded(X: Array, L: Array, density: LogDensity) -> None:
    """Make the guarded components' expanded log-densities in ``L`` exact where they matter.

    The packed product gave every component a value, the guarded ones within
    ``density.guard_error`` of the truth. A pair whose value, error included, falls
    ``PRUNE_LOG_RATIO`` below its row's best lower bound has a responsibility under
    ``exp(-PRUNE_LOG_RATIO)``: it is set to ``-inf`` (as :func:`normalize_rows` would zero it);
    the others, typically one or two per row, are recomputed exactly by
    :func:`pairs_mahalanobis`. When too many pairs matter (overlapping components), the
    guarded columns are recomputed by the exact tiered forms instead.
    """
    G = density.guarded_idx
    err = density.guard_error(X)
    guarded = L[:, G]
    lower = L.copy()
    lower[:, G] -= err
    top = lower.max(axis=1)
    guarded += err
    matters = guarded >= (top - PRUNE_LOG_RATIO)[:, None]
    if np.count_nonzero(matters) > _DENSE_FRACTION * matters.size:
        L[:, G] = density.exact_guarded(X)
        return
    cols, rows = np.nonzero(matters.T)  # component-major
    comps = G[cols]
    p = density.params
    values = pairs_mahalanobis(X, rows, comps, p.means, p.precisions_cholesky)
    L[:, G] = -np.inf
    L[rows, comps] = density.const[comps] - 0.5 * values


def _pruned_full_sums(
    X: Array, params: Params, sample_weight: Array | None, sums: _Sums
) -> bool:
    """Full-covariance statistics over the (row, component) pairs that matter, into ``sums``.

    Cheap bounds prune the pairs: with ``D = |x - mu_k|^2`` (one ``n × K × d`` product) and
    the smallest eigenvalue of the precision, ``lam_min D <= (x - mu)^T A (x - mu)``. A
    component whose upper bound on the weighted log-density falls ``PRUNE_LOG_RATIO``
    below the row's best exact value has a responsibility under ``exp(-PRUNE_LOG_RATIO)``
    (~1e-28) and is skipped (as :func:`normalize_rows` would zero it anyway). Rows are sorted
    by their most likely component, so a block of rows needs only a few components: their
    log-densities and centred scatters use the exact centred form, ``|(x - mu) P|^2`` and
    ``W^T W`` with ``W = sqrt(r)(x - mu)``, at ``2 d^2`` flops per kept pair each.

    Returns ``False`` (and leaves ``sums`` untouched) when, on a sample of rows, the bounds
    keep more than ``_PRUNE_MAX_FRACTION`` of the pairs (overlapping components, or bounds too
    loose): the dense pass is then used.
    """
    n, d = X.shape
    K = params.n_components
    if not _PRUNING[0] or K < 2 or n < _PRUNE_MIN_ROWS_PER_FEATURE * d:
        return False
    means, pc = params.means, params.precisions_cholesky
    # Would pruning pay? Estimated on a sample of rows against each row's *exact* best value
    # (as the pass itself compares), first with optimistic bounds: a precision's smallest
    # diagonal entry is at least its smallest eigenvalue, so if even that keeps too many pairs
    # the true bound does too, and the K d^3 eigenvalues are never computed.
    pc_diag = np.einsum("kij,kij->ki", pc, pc)  # A_ii = |row i of P|^2
    const = _log_density_constants(params)
    sample = X[:: max(1, n // _PRUNE_SAMPLE_ROWS)]
    limit = _PRUNE_MAX_FRACTION * sample.shape[0] * K
    if _kept_pairs(sample, params, pc_diag.min(axis=1), const) > limit:
        return False
    lam_min = _eigen_bounds(params)
    if _kept_pairs(sample, params, lam_min, const) > limit:
        return False
    upper, best = _upper_bounds(X, means, lam_min, const)
    order = np.argsort(best, kind="stable")
    step = _PRUNED_BLOCK_ROWS
    for start in range(0, n, step):
        idx = order[start : start + step]
        Xb = X[idx]
        first = np.unique(best[idx])
        L1, D1 = _centred_log_density(Xb, means[first], pc[first], const[first])
        top = L1.max(axis=1)
        keep = upper[idx] >= (top - PRUNE_LOG_RATIO)[:, None]
        keep[:, first] = False
        more = np.flatnonzero(keep.any(axis=0))
        if more.size:
            L2, D2 = _centred_log_density(Xb, means[more], pc[more], const[more])
            comps = np.concatenate([first, more])
            L, D = np.concatenate([L1, L2], axis=1), np.concatenate([D1, D2], axis=0)
        else:
            comps, L, D = first, L1, D1
        R = L
        sums.add_rows_loglik(normalize_rows(L), R, sample_weight, idx)
        sums.nk[comps] += R.sum(axis=0)
        sums.sx[comps] += R.T @ Xb
        D *= np.sqrt(R).T[:, :, None]  # W = sqrt(r) (x - mu)
        sums.centred[comps] += np.matmul(np.swapaxes(D, 1, 2), D)
    return True


def _log_density_constants(params: Params) -> Array:
    """``log pi_k - d log(2 pi) / 2 + log det P_k`` (full covariance)."""
    d = params.n_features
    with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
        return np.asarray(
            np.log(params.weights) - 0.5 * d * np.log(2.0 * np.pi)
            + log_det_cholesky(params.precisions_cholesky, "full", d)
        )


def _eigen_bounds(params: Params) -> Array:
    """A safe lower bound of each precision's smallest eigenvalue, computed once per parameter
    set (every chunk of an iteration shares it)."""
    cached = _PRUNING_CACHE.get(params)
    if cached is None:
        pc, d = params.precisions_cholesky, params.n_features
        lam = np.linalg.eigvalsh(pc @ np.swapaxes(pc, 1, 2))  # ascending
        cached = np.maximum(lam[:, 0] - _EIG_SLACK * d * lam[:, -1], 0.0)
        _PRUNING_CACHE[params] = cached
    return cached


def _upper_bounds(
    X: Array, means: Array, lam_min: Array, const: Array
) -> tuple[Array, NDArray[np.intp]]:
    """Upper bounds of every weighted log-density, ``const - lam_min |x - mu|^2 / 2``, shape
    (n, K), and each row's most likely component by them."""
    d = X.shape[1]
    sq = np.einsum("ij,ij->i", X, X)
    mu_sq = np.einsum("ij,ij->i", means, means)
    # squared distances by the expanded form, widened by its rounding error
    tol = _DIST_SLACK * d * (float(sq.max(initial=0.0)) + float(mu_sq.max()))
    upper = X @ (2.0 * means.T)
    upper -= sq[:, None]
    upper -= mu_sq  # = -D
    np.minimum(upper + tol, 0.0, out=upper)  # -(D - tol)+
    upper *= 0.5 * lam_min
    upper += const
    return upper, upper.argmax(axis=1)


def _kept_pairs(X: Array, params: Params, lam_min: Array, const: Array) -> int:
    """How many (row, component) pairs the pruned pass would keep with these bounds: those
    whose upper bound reaches within ``PRUNE_LOG_RATIO`` of the exact log-density of the
    row's most likely component."""
    upper, best = _upper_bounds(X, params.means, lam_min, const)
    order = np.argsort(best, kind="stable")
    exact = np.empty(X.shape[0])
    exact[order] = const[best[order]] - 0.5 * pairs_mahalanobis(
        X, order, best[order], params.means, params.precisions_cholesky
    )
    return int(np.count_nonzero(upper >= (exact - PRUNE_LOG_RATIO)[:, None]))


def _centred_log_density(
    X: Array, means: Array, pc: Array, const: Array
) -> tuple[Array, Array]:
    """Exact weighted log-densities ``const - |(x - mu) P|^2 / 2`` of rows under a few
    components, shape (n, k), and the differences ``x - mu``, shape (k, n, d)."""
    diff = X[None, :, :] - means[:, None, :]
    Y = np.matmul(diff, pc)
    out = np.einsum("knd,knd->nk", Y, Y)
    out *= -0.5
    out += const
    return out, diff


def suffstats_reference(
    X: Array, params: Params, sample_weight: Array | None = None
) -> Stats:
    """The textbook statistics: every pair, exact centred forms, no pruning (for tests)."""
    log_prob_norm, log_resp = e_step(X, params)
    R = np.exp(log_resp)
    if sample_weight is not None:
        R *= sample_weight[:, None]
        loglik = float(log_prob_norm @ sample_weight)
        n = float(sample_weight.sum())
    else:
        loglik = float(log_prob_norm.sum())
        n = float(X.shape[0])
    return accumulate(X, R, params.means, params.covariance_type, loglik=loglik, n=n)
