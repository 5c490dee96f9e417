"""Sources on disk: a ``np.memmap`` read by slices (pages dropped after use) and ``.npy`` /
``.parquet`` / ``.csv`` files read in blocks by the parser :func:`mixsynth.io.read_data` uses."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.sources.chunks import ChunkSource

__all__ = ["MemmapSource", "file_source"]


class MemmapSource(ChunkSource):
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
        """Exact for ``.npy`` and Parquet; for CSV, estimated from the file size and the
        length of the first lines (a CSV has no row count)."""
        return int(self.table.estimated_nbytes())

    def _column_names(self) -> NDArray[Any] | None:
        return np.asarray(self.table.columns, dtype=object)  # x0, x1, ... too, as read_data

    def _raw_chunks(self, rows: int) -> Iterator[Any]:
        for X, _ in self.table.blocks(rows):
            yield X

    def load(self) -> Any:
        """The file in memory as ``mixsynth fit`` reads it (``read_data(path,
        allow_nan=True)``, then :meth:`mixsynth.io.Table.to_input`): a DataFrame with the
        file's names and dtypes, integer and boolean columns with gaps as nullable ``Int64`` /
        ``boolean``, so that its gaps are modelled as a DataFrame's are; an ``.npy`` array
        without gaps stays an array (fitted as one). ±inf is an error naming column and row."""
        from mixsynth.io.table import Table

        X = self.materialize(allow_nan=True)
        if self._names is None and not np.isnan(X).any():
            return X

        def is_whole(j: int) -> bool:
            finite = X[:, j][np.isfinite(X[:, j])]
            return bool(np.all(finite == np.round(finite)))

        table = Table(X, tuple(self.table.columns), self.table.dtype_names(is_whole),
                      source=self.table.source)
        return table.to_input()


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


