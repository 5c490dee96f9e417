"""The first pass of a source: mergeable per-chunk summaries and the :class:`Summary` they add
up to (validation happens as the chunks are read; see :mod:`mixsynth.sources.chunks`).

The reservoir sample is chunking-invariant: row ``i`` gets the key ``E_i / w_i`` with
``E_i ~ Exp(1)`` a hash of (seed, ``i``) (weighted sampling without replacement, Efraimidis and
Spirakis), and the rows with the smallest keys are kept, in row order. When the data has at most
``sample_size`` rows the sample *is* the data, so a streamed fit starts exactly where an
in-memory fit does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.whitening import ColumnMoments, Whitener

__all__ = ["READ_BYTES", "SAMPLE_ROWS", "Summary", "rows_per_read", "sample_seed"]

Array = NDArray[np.float64]

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
            weighted_mean=whiten_rows(self.weighted_mean[None, :], whitener)[0],
            integer_columns=None,
            sample=whiten_rows(self.sample, whitener),
        )


def whiten_rows(X: Array, whitener: Whitener) -> Array:
    """``whitener.transform`` without the input validation (chunks are validated once)."""
    Z = ((X - whitener.mean_) / whitener.scale_) @ whitener.components_.T
    if whitener.whiten:
        Z /= np.sqrt(whitener.explained_variance_)
    return Z


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

