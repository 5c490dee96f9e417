"""Per-chunk kernels: what one EM run (or one scoring) computes on each chunk of a pass.

A pass (:meth:`Source.run_pass <mixsynth.sources.Source.run_pass>`) reads each chunk once and
hands it to every kernel; the results of chunks add with ``+``. The fit-level settings live here,
with the kernels, not with the data: the shift the rows are centred about, the rows per call
(the kernel's temporaries), and for data held in memory a :class:`ChunkCache` that keeps the
centred rows and their packed outer products from one pass of a fit to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.core import (
    Params,
    Stats,
    accumulate,
    estimate_weighted_log_prob,
    pack_outer,
    suffstats,
)

__all__ = [
    "PACKED_CACHE_BYTES",
    "ChunkCache",
    "ChunkKernel",
    "LabelKernel",
    "LogLik",
    "LogLikKernel",
    "StatsKernel",
    "apply_kernels",
    "chunk_loglik",
    "hard_assignment_stats",
]

Array = NDArray[np.float64]

#: The packed outer products of in-memory data are kept across the passes of a fit (and its
#: restarts) when they fit in this many bytes; otherwise they are recomputed chunk by chunk.
PACKED_CACHE_BYTES = 512 * 2**20
#: The packed outer products of one cut are built once and shared by the full-covariance
#: kernels of a pass when they take at most this many bytes; a larger cut's kernels pack it
#: block by block each (:func:`~mixsynth.core.gaussian_pass.gaussian_suffstats`), as a kernel
#: alone does. A cut of a streamed file is a whole E-step chunk (349,525 rows at d = 20, K = 2):
#: its shared products took 587 MB, which the chunk's row budget does not count.
SHARED_PACK_BYTES = 64 * 2**20
#: The log-likelihood of a chunk is summed over blocks whose temporaries take about this much.
LOGLIK_BLOCK_BYTES = 8 * 2**20


def hard_assignment_stats(
    X: Array, w: Array | None, centers: Array, covariance_type: str
) -> Stats:
    """Statistics of assigning every row to its nearest centre (a k-means E-step)."""
    d2 = -2.0 * (X @ centers.T)
    d2 += np.einsum("ij,ij->i", centers, centers)[None, :]
    labels = d2.argmin(axis=1)
    R = np.zeros((X.shape[0], centers.shape[0]))
    R[np.arange(X.shape[0]), labels] = 1.0 if w is None else w
    return accumulate(X, R, centers, covariance_type)  # exact centred second moments


def chunk_loglik(X: Array, w: Array | None, params: Params) -> tuple[float, float]:
    """``(Σ w log p(x), Σ w)`` of a chunk, in blocks of :func:`loglik_block_rows` rows: a
    block's log-densities, and for full covariances its packed outer products, are all that
    is held (a whole E-step chunk of a streamed file held 587 MB of products at d = 20)."""
    step = loglik_block_rows(X.shape[1], params.n_components)
    total = 0.0
    for start in range(0, X.shape[0], step):
        Xb = X[start : start + step]
        ll = logsumexp(estimate_weighted_log_prob(Xb, params), axis=1)
        total += float(ll.sum()) if w is None else float(ll @ w[start : start + step])
    return total, float(X.shape[0]) if w is None else float(w.sum())


def loglik_block_rows(n_features: int, n_components: int) -> int:
    """Rows of a block of :func:`chunk_loglik`: its widest temporaries (packed outer
    products, log-densities) about :data:`LOGLIK_BLOCK_BYTES`."""
    d = n_features
    return max(256, LOGLIK_BLOCK_BYTES // (8 * (d * (d + 1) // 2 + 2 * n_components)))


@dataclass(frozen=True)
class LogLik:
    """``(Σ w log p(x), Σ w)``, additive (``a + b``) like :class:`~mixsynth.core.Stats`."""

    loglik: float
    weight: float

    def __add__(self, other: LogLik) -> LogLik:
        return LogLik(self.loglik + other.loglik, self.weight + other.weight)


class ChunkCache:
    """What one fit keeps between its passes over data held in memory: per cut of rows, the
    rows centred about the fit's shift and (full covariances, within ``PACKED_CACHE_BYTES``)
    their packed outer products.

    It belongs to the kernels of one fit (one shift, one row budget), never to the data: the
    same rows fitted with another shift or budget get another cache. Memory: one centred copy
    of the data, plus the packed products when asked for.
    """

    def __init__(self, pack: bool) -> None:
        self.pack = pack
        self._cuts: dict[int, tuple[Array, Array | None]] = {}

    @staticmethod
    def packs_fit(n_samples: int, n_features: int) -> bool:
        """Whether the packed outer products of ``n_samples`` rows fit the cache budget."""
        d = n_features
        return n_samples * d * (d + 1) // 2 * 8 <= PACKED_CACHE_BYTES

    def cut(self, key: int, X: Array, shift: Array | None) -> tuple[Array, Array | None]:
        """The rows ``X`` of the cut starting at row ``key``, centred, and their packed
        products (computed at the first pass, kept for the next ones)."""
        hit = self._cuts.get(key)
        if hit is None:
            Xc = X.copy() if shift is None else X - shift
            hit = (Xc, pack_outer(Xc) if self.pack else None)
            self._cuts[key] = hit
        return hit


class ChunkKernel:
    """What one run computes on each chunk of a pass; results of chunks add with ``+``.

    ``shift`` (or ``None``) is subtracted from the rows first, once per chunk for every kernel
    that shares it; ``rows`` bounds the rows handed to one call (the kernel's temporaries);
    ``cache`` (in-memory data only) keeps the centred cuts between the passes of a fit.
    """

    shift: Array | None
    rows: int
    cache: ChunkCache | None = None
    #: Calls take the packed outer products of the rows (full covariances): kernels of one
    #: pass with the same shift and rows share them.
    packs: bool = False

    def __call__(self, X: Array, w: Array | None, packed: Array | None = None) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class StatsKernel(ChunkKernel):
    """The E-step statistics of ``params`` (:func:`~mixsynth.core.suffstats`)."""

    params: Params
    shift: Array | None
    rows: int
    cache: ChunkCache | None = None

    @property
    def packs(self) -> bool:  # type: ignore[override]
        # the full layout (a shrunk full covariance too) uses the packed products
        return getattr(self.params.family, "layout", None) == "full"

    def __call__(self, X: Array, w: Array | None, packed: Array | None = None) -> Stats:
        return suffstats(X, self.params, w, packed)


@dataclass(frozen=True, eq=False)
class LabelKernel(ChunkKernel):
    """The statistics of hard assignments to ``centers`` (:func:`hard_assignment_stats`)."""

    centers: Array
    covariance_type: str
    shift: Array | None
    rows: int

    def __call__(self, X: Array, w: Array | None, packed: Array | None = None) -> Stats:
        return hard_assignment_stats(X, w, self.centers, self.covariance_type)


@dataclass(frozen=True, eq=False)
class LogLikKernel(ChunkKernel):
    """The summed log-likelihood under ``params`` (:func:`chunk_loglik`)."""

    params: Params
    rows: int
    shift: Array | None = None

    def __call__(self, X: Array, w: Array | None, packed: Array | None = None) -> LogLik:
        return LogLik(*chunk_loglik(X, w, self.params))


Piece = tuple[Array, "Array | None", "int | None"]


def apply_kernels(pieces: Iterable[Piece], kernels: Sequence[ChunkKernel]) -> list[Any]:
    """Every kernel over every piece of data, each piece visited once: the body of a pass.

    A piece is ``(X, w, first)``: rows, weights, and the position of its first row in the data
    (``None`` when unknown). It is shifted once per distinct shift, cut into each kernel's
    ``rows``, and the packed outer products of a cut are built once for the full-covariance
    kernels that share it (within :data:`SHARED_PACK_BYTES`); kernels with a
    :class:`ChunkCache` take the centred cut (and its packed products) from it, keyed by the
    cut's first row. Results are summed per kernel in row order (``None`` for a kernel that
    saw no rows): beside other kernels, a kernel sees the same cuts and sums them in the same
    order as alone.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, k in enumerate(kernels):
        groups.setdefault((id(k.shift), int(k.rows)), []).append(i)
    totals: list[Any] = [None] * len(kernels)
    for X, w, first in pieces:
        shifted: dict[int, Array] = {}
        for (shift_id, rows), members in groups.items():
            shift = kernels[members[0]].shift
            cache = _group_cache([kernels[i].cache for i in members])
            share = sum(kernels[i].packs for i in members) > 1
            for start in range(0, X.shape[0], rows):
                wb = None if w is None else w[start : start + rows]
                if cache is not None and first is not None:
                    Xb, packed = cache.cut(first + start, X[start : start + rows], shift)
                    if packed is None and share and _shareable(Xb):
                        packed = pack_outer(Xb)
                else:
                    if shift is None:
                        Xs = X
                    elif shift_id in shifted:
                        Xs = shifted[shift_id]
                    else:
                        Xs = shifted[shift_id] = X - shift
                    Xb = Xs[start : start + rows]
                    packed = pack_outer(Xb) if share and _shareable(Xb) else None
                for i in members:
                    part = kernels[i](Xb, wb, packed if kernels[i].packs else None)
                    totals[i] = part if totals[i] is None else totals[i] + part
    return totals


def _shareable(X: Array) -> bool:
    """Whether the packed outer products of the cut ``X`` are small enough to share."""
    n, d = X.shape
    return n * (d * (d + 1) // 2) * 8 <= SHARED_PACK_BYTES


def _group_cache(caches: list[ChunkCache | None]) -> ChunkCache | None:
    """The cache a group of kernels (one shift, one row budget) uses: one that packs, if any
    does, else the first (any of them holds the same centred cuts)."""
    present = [c for c in caches if c is not None]
    return next((c for c in present if c.pack), present[0] if present else None)
