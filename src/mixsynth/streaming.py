"""Out-of-core data: sources that are read chunk by chunk, once per EM iteration.

A :class:`Source` is data that can be visited any number of times without being held in memory:
a ``np.memmap``, a ``.npy``, ``.parquet`` or ``.csv`` file, a callable returning a fresh iterator
of chunks, a sequence of arrays, or (in :mod:`mixsynth.distributed`) a dask array. Every source
offers the same few passes, which is all a fit needs:

- :meth:`Source.summary`: one fused first pass: validation (NaN / inf named by column and row
  of the whole data), column moments merged pairwise (:class:`~mixsynth.whitening.ColumnMoments`),
  per-column bounds and integer columns, the weighted mean, and a uniform reservoir sample
  for the initialisation;
- :meth:`Source.stats`: one E-step over all rows, as additive :class:`~mixsynth.core.Stats`;
- :meth:`Source.label_stats`: the statistics of hard assignments to given centres (the full pass
  that turns a k-means initialisation on the sample into initial parameters);
- :meth:`Source.loglik`: the summed log-likelihood (scores and information criteria).

Each of the last three has a ``*_many`` form (:meth:`Source.stats_many`, ...) that serves several
parameter sets (EM runs, selection candidates) in **one** pass: every chunk is read (and mapped,
e.g. whitened) once and handed to each run's per-chunk kernel (:class:`StatsKernel`,
:class:`LabelKernel`, :class:`LogLikKernel`; :meth:`Source.run_pass` is the one mechanism under
them all).

The reservoir sample is chunking-invariant: row ``i`` gets the key ``E_i / w_i`` with
``E_i ~ Exp(1)`` a hash of (seed, ``i``) (weighted sampling without replacement, Efraimidis and
Spirakis), and the rows with the smallest keys are kept, in row order. When the data has at most
``sample_size`` rows the sample *is* the data, so a streamed fit starts exactly where an
in-memory fit does.

Memory is bounded by the chunk budget: one chunk of data plus the E-step temporaries of one chunk
(``GaussianMixture.chunk_size``), the reservoir, and the K × d × d statistics.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp
from sklearn.utils.validation import _check_sample_weight

from mixsynth.core import (
    Params,
    Stats,
    accumulate,
    estimate_weighted_log_prob,
    pack_outer,
    suffstats,
)
from mixsynth.validation import check_input
from mixsynth.whitening import ColumnMoments, Whitener

__all__ = [
    "IN_MEMORY_BYTES",
    "READ_BYTES",
    "SAMPLE_ROWS",
    "ChunkKernel",
    "ChunkSource",
    "LabelKernel",
    "LogLikKernel",
    "RowMap",
    "Source",
    "StatsKernel",
    "Summary",
    "SupportMap",
    "WhitenMap",
    "as_source",
    "file_source",
    "is_out_of_core",
]

Array = NDArray[np.float64]

#: :class:`~mixsynth.Synthesizer` loads data smaller than this into memory (and fits it exactly
#: as an array, held-out selection included); larger data are streamed.
IN_MEMORY_BYTES = 256 * 2**20
#: Rows of the reservoir sample that initialises a streamed fit (at least 50 per component).
SAMPLE_ROWS = 20_000
#: Bytes of data per chunk read by the first pass (the E-step uses its own, smaller budget).
READ_BYTES = 32 * 2**20

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _hash_uniform(seed: int, index: NDArray[np.uint64]) -> Array:
    """Uniform [0, 1) numbers that depend only on (seed, row index): splitmix64."""
    z = index * _GOLDEN + np.uint64(seed % 2**64)  # uint64 arrays wrap silently
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def rows_per_read(n_features: int) -> int:
    """Rows of a :data:`READ_BYTES` chunk."""
    return max(256, READ_BYTES // (8 * max(1, n_features)))


# --------------------------------------------------------------------------- first pass


@dataclass(frozen=True, eq=False)
class _Reservoir:
    """The ``size`` rows with the smallest keys seen so far (mergeable)."""

    size: int
    keys: Array
    index: NDArray[np.uint64]
    rows: Array
    weights: Array | None

    @classmethod
    def of_chunk(
        cls, size: int, seed: int, X: Array, w: Array | None, index: NDArray[np.uint64]
    ) -> _Reservoir:
        keys = -np.log1p(-_hash_uniform(seed, index))  # Exp(1)
        if w is not None:
            with np.errstate(divide="ignore"):
                keys = np.where(w > 0, keys / np.where(w > 0, w, 1.0), np.inf)
        if len(keys) > size:
            keep = np.lexsort((index, keys))[:size]
            keep.sort()
            X, index, keys = X[keep], index[keep], keys[keep]
            w = None if w is None else w[keep]
        return cls(size, keys, index, X.copy(), None if w is None else w.copy())

    def __add__(self, other: _Reservoir) -> _Reservoir:
        keys = np.concatenate([self.keys, other.keys])
        index = np.concatenate([self.index, other.index])
        rows = np.concatenate([self.rows, other.rows])
        weights = (
            None if self.weights is None or other.weights is None
            else np.concatenate([self.weights, other.weights])
        )
        keep = np.lexsort((index, keys))[: self.size]
        keep = keep[np.argsort(index[keep], kind="stable")]  # row order
        return _Reservoir(
            self.size, keys[keep], index[keep], rows[keep],
            None if weights is None else weights[keep],
        )


@dataclass(frozen=True, eq=False)
class _ChunkSummary:
    """What the first pass learns from one chunk; chunks merge with ``+``."""

    moments: ColumnMoments
    integer: NDArray[np.bool_]
    weight_sum: float
    weighted_sum: Array | None
    reservoir: _Reservoir

    @classmethod
    def of_chunk(
        cls, X: Array, w: Array | None, index: NDArray[np.uint64], sample_size: int, seed: int
    ) -> _ChunkSummary:
        return cls(
            ColumnMoments.from_array(X),
            np.all(X == np.round(X), axis=0),
            float(X.shape[0]) if w is None else float(w.sum()),
            None if w is None else w @ X,
            _Reservoir.of_chunk(sample_size, seed, X, w, index),
        )

    def __add__(self, other: _ChunkSummary) -> _ChunkSummary:
        return _ChunkSummary(
            self.moments + other.moments,
            self.integer & other.integer,
            self.weight_sum + other.weight_sum,
            None if self.weighted_sum is None or other.weighted_sum is None
            else self.weighted_sum + other.weighted_sum,
            self.reservoir + other.reservoir,
        )


class _PairwiseSum:
    """Sums a stream like a binary counter: every item is merged with others of its size, so
    rounding grows with log(number of chunks) (pairwise summation) in bounded memory."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, Any]] = []

    def push(self, item: Any) -> None:
        level = 0
        while self._stack and self._stack[-1][0] == level:
            item = self._stack.pop()[1] + item
            level += 1
        self._stack.append((level, item))

    def total(self) -> Any:
        out = None
        for _, item in self._stack:
            out = item if out is None else out + item
        return out


@dataclass(frozen=True, eq=False)
class Summary:
    """The outcome of a source's first pass.

    Attributes
    ----------
    n_samples : int
    n_features : int
    moments : ColumnMoments or None
        Column moments and bounds (``None`` for derived sources such as whitened data).
    weighted_mean : ndarray of shape (n_features,)
        The sample-weighted mean: the shift a fit works about.
    weight_sum : float
    integer_columns : ndarray of bool of shape (n_features,) or None
        Columns whose values are all whole numbers.
    sample : ndarray of shape (m, n_features)
        Uniform (weighted: proportional to weight) sample without replacement, in row order.
    sample_weight : ndarray of shape (m,) or None
    complete : bool
        The sample holds every row: it is the data.
    """

    n_samples: int
    n_features: int
    moments: ColumnMoments | None
    weighted_mean: Array
    weight_sum: float
    integer_columns: NDArray[np.bool_] | None
    sample: Array
    sample_weight: Array | None
    complete: bool

    @classmethod
    def from_chunks(cls, total: _ChunkSummary | None, n_features: int, weighted: bool) -> Summary:
        if total is None:
            return cls(
                0, n_features, ColumnMoments.empty(n_features), np.zeros(n_features), 0.0,
                np.ones(n_features, dtype=bool), np.empty((0, n_features)),
                np.empty(0) if weighted else None, True,
            )
        n = total.moments.n_samples
        if total.weighted_sum is not None:
            if total.weight_sum <= 0:
                raise ValueError("The sample weights sum to zero; at least one must be positive.")
            mean = total.weighted_sum / total.weight_sum
        else:
            mean = total.moments.data_mean()
        res = total.reservoir
        return cls(
            n, n_features, total.moments, mean, total.weight_sum, total.integer,
            res.rows, res.weights, n <= res.size,
        )

    def whitened(self, whitener: Whitener) -> Summary:
        """The summary of the whitened data, derived without a pass (whitening is affine)."""
        return replace(
            self,
            n_features=int(whitener.n_components_),
            moments=None,
            weighted_mean=_whiten(self.weighted_mean[None, :], whitener)[0],
            integer_columns=None,
            sample=_whiten(self.sample, whitener),
        )


def _no_rows(total: Stats | None) -> Stats:
    if total is None:
        raise ValueError("The data has no rows.")
    return total


def _whiten(X: Array, whitener: Whitener) -> Array:
    """``whitener.transform`` without the input validation (chunks are validated once)."""
    Z = ((X - whitener.mean_) / whitener.scale_) @ whitener.components_.T
    if whitener.whiten:
        Z /= np.sqrt(whitener.explained_variance_)
    return Z


class RowMap:
    """A per-row map of chunks, ``fn(X, index) -> Y``: the row keys make it deterministic
    (noise drawn from them is the same at every pass and under any chunking)."""

    width: int

    def __call__(self, X: Array, index: NDArray[np.uint64]) -> Array:
        raise NotImplementedError

    def summary(self, base: Summary) -> Summary | None:
        """The mapped summary when it follows from ``base`` without a pass, else ``None``."""
        return None


class WhitenMap(RowMap):
    """Rows mapped by a fitted :class:`~mixsynth.whitening.Whitener`."""

    def __init__(self, whitener: Whitener) -> None:
        self.whitener = whitener
        self.width = int(whitener.n_components_)

    def __call__(self, X: Array, index: NDArray[np.uint64]) -> Array:
        return _whiten(X, self.whitener)

    def summary(self, base: Summary) -> Summary:
        return base.whitened(self.whitener)


class _HashNoise:
    """Stands in for a ``Generator`` whose ``uniform`` draws depend only on (seed, row, column):
    dequantisation noise that is the same at every pass over the data."""

    def __init__(self, seed: int, index: NDArray[np.uint64]) -> None:
        self.seed, self.index = seed, index

    def uniform(self, low: float, high: float, size: tuple[int, int]) -> Array:
        n, m = size
        keys = self.index[:, None] * np.uint64(m) + np.arange(m, dtype=np.uint64)[None, :]
        return low + (high - low) * _hash_uniform(self.seed, keys.ravel()).reshape(n, m)


class SupportMap(RowMap):
    """Rows mapped to the model space by a support transform (``forward``), dequantisation noise
    keyed by row."""

    def __init__(self, transform: Any, seed: int) -> None:
        self.transform, self.seed = transform, int(seed)
        self.width = int(transform.lower.shape[0])

    def __call__(self, X: Array, index: NDArray[np.uint64]) -> Array:
        Y, _ = self.transform.forward(X, _HashNoise(self.seed, index))
        return np.asarray(Y, dtype=np.float64)


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
    """``(Σ w log p(x), Σ w)`` of a chunk."""
    ll = logsumexp(estimate_weighted_log_prob(X, params), axis=1)
    if w is None:
        return float(ll.sum()), float(X.shape[0])
    return float(ll @ w), float(w.sum())


# --------------------------------------------------------------------------- per-chunk kernels


@dataclass(frozen=True)
class LogLik:
    """``(Σ w log p(x), Σ w)``, additive (``a + b``) like :class:`~mixsynth.core.Stats`."""

    loglik: float
    weight: float

    def __add__(self, other: LogLik) -> LogLik:
        return LogLik(self.loglik + other.loglik, self.weight + other.weight)


class ChunkKernel:
    """What one run computes on each chunk of a pass; results of chunks add with ``+``.

    ``shift`` (or ``None``) is subtracted from the rows first, once per chunk for every kernel
    that shares it; ``rows`` bounds the rows handed to one call (the kernel's temporaries).
    """

    shift: Array | None
    rows: int
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

    @property
    def packs(self) -> bool:  # type: ignore[override]
        return self.params.covariance_type == "full"

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


def apply_kernels(
    pieces: Iterable[tuple[Array, Array | None]], kernels: Sequence[ChunkKernel]
) -> list[Any]:
    """Every kernel over every piece of data, each piece visited once: the body of a pass.

    A piece is shifted once per distinct shift, cut into each kernel's ``rows``, and the packed
    outer products of a cut are built once for the full-covariance kernels that share it.
    Results are summed per kernel in row order (``None`` for a kernel that saw no rows): beside
    other kernels, a kernel sees the same cuts and sums them in the same order as alone.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, k in enumerate(kernels):
        groups.setdefault((id(k.shift), int(k.rows)), []).append(i)
    totals: list[Any] = [None] * len(kernels)
    for X, w in pieces:
        shifted: dict[int, Array] = {}
        for (shift_id, rows), members in groups.items():
            shift = kernels[members[0]].shift
            if shift is None:
                Xs = X
            else:
                if shift_id not in shifted:
                    shifted[shift_id] = X - shift
                Xs = shifted[shift_id]
            share = sum(kernels[i].packs for i in members) > 1
            for start in range(0, X.shape[0], rows):
                Xb = Xs[start : start + rows]
                wb = None if w is None else w[start : start + rows]
                packed = pack_outer(Xb) if share else None
                for i in members:
                    part = kernels[i](Xb, wb, packed if kernels[i].packs else None)
                    totals[i] = part if totals[i] is None else totals[i] + part
    return totals


def _per_item(value: Any, n: int, name: str) -> list[Any]:
    """``value`` for each of ``n`` items: a sequence (one each) or one shared value."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"Expected one {name} per parameter set ({n}), got {len(value)}.")
        return list(value)
    return [value] * n


# --------------------------------------------------------------------------- sources


class Source(ABC):
    """Data visited in passes, never held in memory as a whole.

    Subclasses say how the chunks are read and where the arithmetic runs (:meth:`run_pass`); the
    fit only calls :meth:`summary`, :meth:`stats`, :meth:`label_stats`, :meth:`loglik` (or
    their ``*_many`` forms, several runs in one pass) and :meth:`release`.
    """

    #: Short description for messages ("out-of-core", "dask").
    kind = "out-of-core"

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._summaries: dict[int, Summary] = {}

    # --- what every source provides
    @property
    @abstractmethod
    def n_features(self) -> int | None:
        """Width, when known before the first pass."""

    @property
    def feature_names(self) -> NDArray[Any] | None:
        """Column names, when the source has them."""
        return None

    @property
    def nbytes_hint(self) -> int | None:
        """Bytes of the data as float64, when known without a pass."""
        return None

    @abstractmethod
    def _summarise(self, sample_size: int) -> Summary: ...

    @abstractmethod
    def run_pass(self, kernels: Sequence[ChunkKernel]) -> list[Any]:
        """One pass over every row: each chunk read once and handed to every kernel.

        Returns, per kernel, the sum of its results over the chunks (``None`` where there are
        no rows). The one mechanism under :meth:`stats`, :meth:`label_stats`, :meth:`loglik`
        and their ``*_many`` forms.
        """

    def stats(self, params: Params, shift: Array, rows: int) -> Stats:
        """One E-step over every row of ``X - shift``, as summed statistics."""
        return _no_rows(self.run_pass([StatsKernel(params, shift, rows)])[0])

    def stats_many(
        self, params: Sequence[Params], shift: Array | Sequence[Array], rows: int | Sequence[int]
    ) -> list[Stats]:
        """The E-steps of several parameter sets in one pass (``shift`` and ``rows``: one for
        all, or one per parameter set); each equals :meth:`stats` of that set alone (to the
        order of summation, exactly when ``rows`` is the same)."""
        shifts, rows_ = _per_item(shift, len(params), "shift"), _per_item(rows, len(params), "rows")
        if len(params) == 1:  # the single-run pass (what instrumentation of stats() sees)
            return [self.stats(params[0], shifts[0], rows_[0])]
        kernels = [StatsKernel(p, s, r) for p, s, r in zip(params, shifts, rows_, strict=True)]
        return [_no_rows(t) for t in self.run_pass(kernels)]

    def label_stats(
        self, centers: Array, shift: Array, covariance_type: str, rows: int
    ) -> Stats:
        """Statistics of the hard assignment of every row of ``X - shift`` to ``centers``."""
        kernel = LabelKernel(centers, covariance_type, shift, rows)
        return _no_rows(self.run_pass([kernel])[0])

    def label_stats_many(
        self,
        centers: Sequence[Array],
        shift: Array | Sequence[Array],
        covariance_type: str | Sequence[str],
        rows: int | Sequence[int],
    ) -> list[Stats]:
        """:meth:`label_stats` of several sets of centres in one pass."""
        n = len(centers)
        shifts, types = _per_item(shift, n, "shift"), _per_item(covariance_type, n, "type")
        rows_ = _per_item(rows, n, "rows")
        if n == 1:
            return [self.label_stats(centers[0], shifts[0], types[0], rows_[0])]
        kernels = [
            LabelKernel(c, t, s, r)
            for c, t, s, r in zip(centers, types, shifts, rows_, strict=True)
        ]
        return [_no_rows(t) for t in self.run_pass(kernels)]

    def loglik(self, params: Params, rows: int) -> tuple[float, float]:
        """``(Σ w log p(x), Σ w)`` over every row."""
        total = self.run_pass([LogLikKernel(params, rows)])[0]
        return (0.0, 0.0) if total is None else (total.loglik, total.weight)

    def loglik_many(
        self, params: Sequence[Params], rows: int | Sequence[int]
    ) -> list[tuple[float, float]]:
        """:meth:`loglik` of several parameter sets in one pass."""
        rows_ = _per_item(rows, len(params), "rows")
        if len(params) == 1:
            return [self.loglik(params[0], rows_[0])]
        totals = self.run_pass([LogLikKernel(p, r) for p, r in zip(params, rows_, strict=True)])
        return [(0.0, 0.0) if t is None else (t.loglik, t.weight) for t in totals]

    @abstractmethod
    def materialize(self) -> Any:
        """The whole data in memory (for data found to be small)."""

    @abstractmethod
    def mapped(self, fn: RowMap) -> Source:
        """The same rows mapped by ``fn``, lazily, chunk by chunk (weights kept)."""

    def whitened(self, whitener: Whitener) -> Source:
        """The same rows mapped by a fitted ``whitener``."""
        return self.mapped(WhitenMap(whitener))

    def release(self) -> None:  # noqa: B027 - an optional hook: most sources hold nothing
        """Free what the source holds (persisted data on a cluster); idempotent."""

    # --- shared
    def summary(self, sample_size: int = SAMPLE_ROWS) -> Summary:
        """The first pass (memoised per sample size)."""
        if sample_size not in self._summaries:
            self._summaries[sample_size] = self._summarise(sample_size)
        return self._summaries[sample_size]

    @property
    def shape(self) -> tuple[int, int]:
        """(n_samples, n_features), from the first pass."""
        s = next(iter(self._summaries.values()), None) or self.summary()
        return (s.n_samples, s.n_features)


class ChunkSource(Source):
    """A source read in this process, chunk by chunk (the embedded default)."""

    #: How validation messages call the data (a file source names its file).
    _input_name = "X"

    def __init__(self, sample_weight: Any = None, *, seed: int = 0) -> None:
        super().__init__(seed)
        self._sample_weight = sample_weight
        self._n_rows: int | None = None
        self._width: int | None = None

    @abstractmethod
    def _raw_chunks(self, rows: int) -> Iterator[Any]:
        """Array-likes of about ``rows`` rows each, in order (unvalidated)."""

    @property
    def n_features(self) -> int | None:
        return self._width

    def _chunks(self, rows: int) -> Iterator[tuple[Array, Array | None, int]]:
        """Validated float64 chunks of at most ``rows`` rows: ``(X, w, first row)``."""
        offset = 0
        names = self._column_names()
        for raw in self._raw_chunks(rows):
            X = check_input(raw, ensure_min_samples=0, row_offset=offset, feature_names=names,
                            name=self._input_name)
            if self._width is None:
                self._width = X.shape[1]
            elif X.shape[1] != self._width:
                raise ValueError(
                    f"X has {X.shape[1]} features in the chunk starting at row {offset}, but "
                    f"{self._width} features before it; every chunk must have the same columns."
                )
            for start in range(0, X.shape[0], rows):
                piece = X[start : start + rows]
                w = self._weights(offset + start, piece)
                yield piece, w, offset + start
            offset += X.shape[0]
            self._done_with(raw)
        if self._n_rows is None:
            self._n_rows = offset
        elif offset != self._n_rows:
            raise RuntimeError(
                f"The data changed between passes: {offset} rows now, {self._n_rows} before. "
                "A streamed fit reads its source once per EM iteration."
            )

    def _column_names(self) -> NDArray[Any] | None:
        """Column names for validation messages: the feature names, by default."""
        return self.feature_names

    def _done_with(self, raw: Any) -> None:
        """Hook: a chunk has been consumed (memory-mapped sources drop its pages)."""

    def _weights(self, start: int, X: Array) -> Array | None:
        if self._sample_weight is None:
            return None
        w = self._sample_weight[start : start + X.shape[0]]
        if len(w) != X.shape[0]:
            raise ValueError(
                f"sample_weight has {len(self._sample_weight)} entries but the data has more "
                "rows; they must match."
            )
        return _check_sample_weight(np.asarray(w), X)

    def _summarise(self, sample_size: int) -> Summary:
        acc = _PairwiseSum()
        weighted = self._sample_weight is not None
        for X, w, start in self._chunks(rows_per_read(self._width or 1)):
            index = np.arange(start, start + X.shape[0], dtype=np.uint64)
            acc.push(_ChunkSummary.of_chunk(X, w, index, sample_size, self.seed))
        if weighted and len(self._sample_weight) != self._n_rows:
            raise ValueError(
                f"sample_weight has {len(self._sample_weight)} entries but X has "
                f"{self._n_rows} rows; they must match."
            )
        return Summary.from_chunks(acc.total(), self._width or 0, weighted)

    def run_pass(self, kernels: Sequence[ChunkKernel]) -> list[Any]:
        # chunks of the largest kernel budget, cut further for the others: one chunk of data
        # in memory at a time, whatever the number of kernels
        rows = max((int(k.rows) for k in kernels), default=1)
        return apply_kernels(((X, w) for X, w, _ in self._chunks(rows)), kernels)

    def materialize(self) -> Array:
        parts = [X for X, _, _ in self._chunks(rows_per_read(self._width or 1))]
        if not parts:
            return np.empty((0, self._width or 0))
        return np.concatenate(parts)

    def mapped(self, fn: RowMap) -> Source:
        return _MappedSource(self, fn)


class _MappedSource(ChunkSource):
    """A chunk source whose rows are mapped by a :class:`RowMap`, chunk by chunk."""

    def __init__(self, base: ChunkSource, fn: RowMap) -> None:
        super().__init__(base._sample_weight, seed=base.seed)
        self._base = base
        self._fn = fn
        self._width = fn.width
        self._n_rows = base._n_rows
        for size, s in base._summaries.items():
            derived = fn.summary(s)
            if derived is not None:
                self._summaries[size] = derived

    def _raw_chunks(self, rows: int) -> Iterator[Any]:  # pragma: no cover - _chunks overrides
        raise NotImplementedError

    def _chunks(self, rows: int) -> Iterator[tuple[Array, Array | None, int]]:
        for X, w, start in self._base._chunks(rows):
            index = np.arange(start, start + X.shape[0], dtype=np.uint64)
            yield self._fn(X, index), w, start
        self._n_rows = self._base._n_rows

    def _summarise(self, sample_size: int) -> Summary:
        derived = self._fn.summary(self._base.summary(sample_size))
        return derived if derived is not None else super()._summarise(sample_size)


class _ArraySource(ChunkSource):
    """An array on disk (``np.memmap``) read by slices; pages are dropped after use."""

    def __init__(self, X: Any, sample_weight: Any = None, *, seed: int = 0) -> None:
        super().__init__(sample_weight, seed=seed)
        self._X = X
        if getattr(X, "ndim", 2) == 2:
            self._width = int(X.shape[1])
        self._n_rows = int(X.shape[0]) if getattr(X, "ndim", 0) >= 1 else None
        self._pages = _PageDropper(X)

    @property
    def nbytes_hint(self) -> int | None:
        return int(np.prod(self._X.shape)) * 8

    def _raw_chunks(self, rows: int) -> Iterator[Any]:
        for start in range(0, self._X.shape[0], rows):
            yield self._X[start : start + rows]

    def _done_with(self, raw: Any) -> None:
        self._pages.drop(raw)


class _PageDropper:
    """Tells the kernel that the pages of a read-only or shared memory map can go.

    Pages of a file mapping that were read count in the process's resident set until the kernel
    reclaims them; ``MADV_DONTNEED`` drops them at once (they stay in the page cache), so a
    streamed pass over a memory-mapped file keeps its footprint at one chunk. Private
    (copy-on-write) maps are left alone: dropping them would lose writes.
    """

    def __init__(self, X: Any) -> None:
        self._X = X
        self._mm: mmap.mmap | None = None
        self._base = 0
        mm = getattr(X, "_mmap", None)
        if (
            isinstance(mm, mmap.mmap) and getattr(X, "mode", "c") in ("r", "r+", "readonly")
            and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED")
        ):
            try:
                view = np.frombuffer(mm, dtype=np.uint8)
                self._base = int(view.ctypes.data)
                del view
                self._mm = mm
            except (TypeError, ValueError, BufferError):
                self._mm = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_PageDropper, (self._X,))  # a process of its own maps the file anew

    def drop(self, chunk: Any) -> None:
        if self._mm is None or not isinstance(chunk, np.ndarray) or chunk.size == 0:
            return
        if not chunk.flags.c_contiguous:
            if chunk.ndim == 2 and chunk.strides[0] == chunk.itemsize:  # Fortran order
                for j in range(chunk.shape[1]):
                    self.drop(chunk[:, j])  # each column's rows are contiguous
            return
        start = int(chunk.ctypes.data) - self._base
        end = start + chunk.nbytes
        page = mmap.PAGESIZE
        start -= start % page
        if start < 0 or end > len(self._mm):
            return
        try:
            self._mm.madvise(mmap.MADV_DONTNEED, start, end - start)
        except (OSError, ValueError):
            self._mm = None  # not supported here: stop trying


class _FileSource(ChunkSource):
    """A CSV / TSV, Parquet or ``.npy`` file, read in blocks by the parser that
    :func:`mixsynth.io.read_data` uses (:mod:`mixsynth.io.formats`): the same columns, the same
    column selection and delimiter, the same errors. Parquet nulls become NaN (and are then
    rejected naming the row); ``.npy`` rows are read with plain file reads."""

    def __init__(
        self,
        path: Path,
        sample_weight: Any = None,
        *,
        seed: int = 0,
        columns: Sequence[str] | None = None,
        delimiter: str | None = None,
    ) -> None:
        from mixsynth.io.formats import open_table

        super().__init__(sample_weight, seed=seed)
        self.table = open_table(path, columns=columns, delimiter=delimiter)
        self._input_name = self.table.source
        self._width = self.table.n_features
        self._n_rows = self.table.n_rows
        # tables name their columns, as a DataFrame does; an array's x0, x1, ... are not names
        self._names = (
            None if path.suffix.lower() == ".npy"
            else np.asarray(self.table.columns, dtype=object)
        )

    @property
    def feature_names(self) -> NDArray[Any] | None:
        return self._names

    @property
    def nbytes_hint(self) -> int | None:
        return None if self._n_rows is None else self._n_rows * (self._width or 0) * 8

    def _column_names(self) -> NDArray[Any] | None:
        return np.asarray(self.table.columns, dtype=object)  # x0, x1, ... too, as read_data

    def _raw_chunks(self, rows: int) -> Iterator[Any]:
        for X, _ in self.table.blocks(rows):
            yield X


class _IterableSource(ChunkSource):
    """Chunks from a callable returning a fresh iterator (or from a sequence of arrays)."""

    def __init__(
        self, factory: Callable[[], Iterable[Any]], sample_weight: Any = None, *, seed: int = 0
    ) -> None:
        super().__init__(sample_weight, seed=seed)
        self._factory = factory

    def _raw_chunks(self, rows: int) -> Iterator[Any]:
        chunks = self._factory()
        if not isinstance(chunks, Iterable):
            raise TypeError(
                f"The chunk factory returned {type(chunks).__name__}, not an iterable of arrays."
            )
        yield from chunks


# --------------------------------------------------------------------------- dispatch


def _is_dask_collection(X: Any) -> bool:
    """True for dask arrays and dataframes, without importing dask when it is not loaded."""
    return "dask" in type(X).__module__.split(".")[0] or (
        hasattr(X, "__dask_graph__") and hasattr(X, "__dask_keys__")
    )


def _is_chunk_sequence(X: Any) -> bool:
    return (
        isinstance(X, (list, tuple)) and len(X) > 0
        and all(isinstance(c, np.ndarray) and c.ndim == 2 for c in X)
    )


def is_out_of_core(X: Any) -> bool:
    """Whether ``X`` is something :func:`as_source` streams rather than an in-memory array."""
    return (
        isinstance(X, (Source, str, os.PathLike, np.memmap))
        or _is_dask_collection(X)
        or _is_chunk_sequence(X)
        or (callable(X) and not hasattr(X, "__array__"))
        or (isinstance(X, Iterator) and not hasattr(X, "__array__"))
    )


def as_source(X: Any, sample_weight: Any = None, *, seed: int = 0) -> Source | None:
    """A :class:`Source` for out-of-core input, ``None`` for in-memory input.

    Parameters
    ----------
    X : memmap, path, callable, sequence of 2-D arrays, dask array or dataframe, or Source
        A path is a file :func:`file_source` reads; a callable returns a fresh iterator of 2-D
        chunks at every call (EM needs one pass per iteration).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights (a memmap is fine); a dask array for dask input.
    seed : int
        Seeds the reservoir sample.
    """
    if isinstance(X, Source):
        if sample_weight is not None:
            raise ValueError("sample_weight cannot be given with a ready-made source.")
        return X
    if _is_dask_collection(X):
        from mixsynth.distributed import DaskSource

        return DaskSource(X, sample_weight, seed=seed)
    if isinstance(X, (str, os.PathLike)):
        return file_source(X, sample_weight, seed=seed)
    if isinstance(X, np.memmap):
        return _ArraySource(X, sample_weight, seed=seed)
    if _is_chunk_sequence(X):
        chunks: Sequence[Any] = X
        return _IterableSource(lambda: iter(chunks), sample_weight, seed=seed)
    if isinstance(X, Iterator) and not hasattr(X, "__array__"):
        raise TypeError(
            "An iterator can be read only once, and EM reads its data once per iteration: pass "
            "a callable returning a fresh iterator (e.g. lambda: read_chunks(path)), or a list "
            "of arrays."
        )
    if callable(X) and not hasattr(X, "__array__"):
        return _IterableSource(X, sample_weight, seed=seed)
    return None


def file_source(
    path: str | os.PathLike[str],
    sample_weight: Any = None,
    *,
    seed: int = 0,
    columns: Sequence[str] | None = None,
    delimiter: str | None = None,
) -> ChunkSource:
    """A file streamed in this process: ``.csv`` / ``.txt``, ``.tsv`` / ``.tab``, ``.parquet``
    / ``.pq`` or ``.npy``, parsed as :func:`mixsynth.io.read_data` parses it.

    Parameters
    ----------
    path : path-like
    sample_weight : array-like of shape (n_samples,), optional
    seed : int
        Seeds the reservoir sample.
    columns : sequence of str, optional
        The feature columns, in this order (``x0, x1, …`` for ``.npy``); every column when not
        given.
    delimiter : str, optional
        CSV field separator; a comma (a tab for ``.tsv`` / ``.tab``) when not given.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Unknown suffix, unreadable file, unknown or non-numeric columns (as ``read_data``).
    """
    return _FileSource(Path(path), sample_weight, seed=seed, columns=columns,
                       delimiter=delimiter)


def sample_seed(random_state: Any) -> int:
    """The reservoir seed of a fit, from its ``random_state`` without advancing it."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.SeedSequence):
        return int(random_state.generate_state(1, np.uint64)[0])
    if isinstance(random_state, np.random.RandomState):
        state: Any = random_state.get_state()
    elif isinstance(random_state, np.random.Generator):
        state = random_state.bit_generator.state
    else:
        return 0
    digest = hashlib.sha256(repr(state).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
