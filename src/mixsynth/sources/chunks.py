"""Sources read in this process, chunk by chunk: the common machinery (:class:`ChunkSource`:
validation of every chunk with whole-data row numbers, the first pass, passes in chunks of the
largest kernel budget), mapped sources, and chunks from a callable or a list of arrays.

Memory is bounded by the chunk budget: one chunk of data plus the E-step temporaries of one chunk
(``GaussianMixture.chunk_size``), the reservoir, and the K × d × d statistics.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import _check_sample_weight

from mixsynth.sources.base import Source
from mixsynth.sources.kernels import ChunkKernel, apply_kernels
from mixsynth.sources.maps import RowMap
from mixsynth.sources.summary import Summary, _ChunkSummary, _PairwiseSum, rows_per_read
from mixsynth.validation import check_input

__all__ = ["ChunkSource", "IterableSource"]

Array = NDArray[np.float64]


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

    def _chunks(self, rows: int, *, allow_nan: bool = False
                ) -> Iterator[tuple[Array, Array | None, int]]:
        """Validated float64 chunks of at most ``rows`` rows: ``(X, w, first row)``; NaN (a
        gap) passes with ``allow_nan``, inf never."""
        offset = 0
        names = self._column_names()
        for raw in self._raw_chunks(rows):
            X = check_input(raw, ensure_min_samples=0, row_offset=offset, feature_names=names,
                            name=self._input_name, allow_nan=allow_nan)
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
        return apply_kernels(self._chunks(rows), kernels)

    def materialize(self, *, allow_nan: bool = False) -> Array:
        parts = [X for X, _, _ in self._chunks(rows_per_read(self._width or 1),
                                               allow_nan=allow_nan)]
        if not parts:
            return np.empty((0, self._width or 0))
        return np.concatenate(parts)

    def materialize_weights(self) -> Array | None:
        if self._sample_weight is None:
            return None
        return np.asarray(self._sample_weight, dtype=np.float64)

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

    def _chunks(self, rows: int, *, allow_nan: bool = False
                ) -> Iterator[tuple[Array, Array | None, int]]:
        for X, w, start in self._base._chunks(rows, allow_nan=allow_nan):
            index = np.arange(start, start + X.shape[0], dtype=np.uint64)
            yield self._fn(X, index), w, start
        self._n_rows = self._base._n_rows

    def _summarise(self, sample_size: int) -> Summary:
        derived = self._fn.summary(self._base.summary(sample_size))
        return derived if derived is not None else super()._summarise(sample_size)


class IterableSource(ChunkSource):
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


