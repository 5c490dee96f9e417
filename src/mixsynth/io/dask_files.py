"""Files as Dask sources: every block of rows read by a task on the workers.

``mixsynth fit --workers N`` (or ``--scheduler-address``) on a large ``.npy`` or Parquet file
fits data-parallel: the file becomes a dask array whose blocks are read, on the workers, by the
parser every reader uses (:mod:`mixsynth.io.formats`), and a
:class:`~mixsynth.sources.DaskSource` runs the passes. ``.npy`` blocks are row ranges read
with plain file reads; Parquet blocks are the file's row groups. CSV has no row index to split
by, so it is streamed in process (:func:`splittable` says so), as is a Parquet file
whose row groups are too large to be blocks. The workers must see the file at the same path
(a local cluster does; a remote one needs a shared file system).

Needs the ``dask`` extra; imported only when a cluster is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixsynth.io.formats import TableFile, _NpyFile, _ParquetFile
from mixsynth.sources.dask import DaskSource

__all__ = ["BLOCK_BYTES", "dask_source", "splittable"]

#: Bytes of float64 data per ``.npy`` block.
BLOCK_BYTES = 64 * 2**20
#: The most float64 bytes a Parquet row group may hold to be one block (a worker holds it).
MAX_ROW_GROUP_BYTES = 4 * BLOCK_BYTES


def splittable(table: TableFile) -> bool:
    """Whether the file can be read as blocks by tasks: ``.npy`` files, and Parquet files whose
    row groups are at most :data:`MAX_ROW_GROUP_BYTES`."""
    if isinstance(table, _NpyFile):
        return True
    if isinstance(table, _ParquetFile):
        biggest = max(table.row_groups, default=0)
        return biggest * table.n_features * 8 <= MAX_ROW_GROUP_BYTES
    return False


def dask_source(table: TableFile, *, seed: int = 0) -> DaskSource:
    """A :class:`~mixsynth.sources.DaskSource` whose blocks are read from the opened file
    by tasks on the current cluster.

    Parameters
    ----------
    table : TableFile
        From :func:`mixsynth.io.formats.open_table`; :func:`splittable`.
    seed : int
        Seeds the reservoir sample.

    Raises
    ------
    ValueError
        If the file cannot be split into blocks (see :func:`splittable`).
    """
    if not splittable(table):
        raise ValueError(f"{table.source} cannot be split into blocks for Dask workers (a CSV "
                         "file, or Parquet row groups too large): stream it in process.")
    names = None if isinstance(table, _NpyFile) else np.asarray(table.columns, dtype=object)
    return _FileDaskSource(_dask_array(table), names, seed=seed)


class _FileDaskSource(DaskSource):
    """A DaskSource that names the file's columns, as the in-process file source does."""

    def __init__(self, X: Any, names: Any, *, seed: int) -> None:
        super().__init__(X, seed=seed)
        self._names = names  # DaskSource names only a dataframe's columns by itself


def _dask_array(table: TableFile) -> Any:
    import dask.array as da
    from dask import delayed

    d = table.n_features
    if isinstance(table, _NpyFile):
        n = table.shape[0]
        step = max(1, BLOCK_BYTES // (8 * max(1, d)))
        parts = [
            da.from_delayed(delayed(table.read_rows, pure=True)(s, min(n, s + step)),
                            shape=(min(n, s + step) - s, d), dtype=np.float64)
            for s in range(0, n, step)
        ]
    else:
        assert isinstance(table, _ParquetFile)
        parts = [
            da.from_delayed(delayed(table.read_row_group, pure=True)(i), shape=(rows, d),
                            dtype=np.float64)
            for i, rows in enumerate(table.row_groups)
        ]
    if not parts:
        return da.zeros((0, d), chunks=((0,), (d,)))
    return da.concatenate(parts, axis=0)
