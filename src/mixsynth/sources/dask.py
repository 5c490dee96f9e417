"""A dask array or dataframe as a :class:`~mixsynth.sources.Source`: data-parallel passes.

Dask is imported only when such a source is built (``pip install 'mixsynth[dask]'``).

Each pass maps a small function over the row blocks (per-block results of every kernel, in
sub-chunks bounded like the in-process E-step), tree-reduces the additive results
(:data:`SPLIT_EVERY` at a time) and brings one result per kernel back to the client, where the
M-step runs. Several runs (restarts, the candidates of a sweep) share a pass: one graph, each
block read once, one list of results per block. Parameters travel once per pass (one graph key
every block task depends on); the data, validated and converted to float64 (whitened, for a
:class:`~mixsynth.Synthesizer`), is persisted on the workers when it fits in
:data:`PERSIST_FRACTION` of their memory. Zero-row blocks and blocks of unknown size (dask
dataframes) are fine. It runs on the current ``distributed.Client`` (``Client.current()``), else
on dask's configured scheduler, else on dask's threads. BLAS is capped at one thread per task: on
workers once per process, on the threads scheduler around the computation.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from mixsynth.sources.base import Source
from mixsynth.sources.kernels import ChunkKernel, apply_kernels
from mixsynth.sources.maps import RowMap
from mixsynth.sources.summary import Summary, _ChunkSummary
from mixsynth.validation import check_input

__all__ = ["PERSIST_FRACTION", "SPLIT_EVERY", "DaskSource", "current_client"]

Array = NDArray[np.float64]

#: Fan-in of the tree reduction of per-block results.
SPLIT_EVERY = 8
#: Data is persisted when it takes at most this fraction of the workers' memory (of the free
#: memory of this machine on the threads scheduler).
PERSIST_FRACTION = 0.25

_EXTRA = "Dask support needs the optional extra: pip install 'mixsynth[dask]'"


def _import(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"{_EXTRA} ({exc})") from exc


def current_client() -> Any:
    """The current ``distributed.Client`` (context-local, else global), or ``None``.

    ``distributed`` is not imported for this: no client can exist unless it is loaded.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    try:
        client = Client.current(allow_global=True)
    except ValueError:
        return None
    return client if client.status == "running" else None


# --------------------------------------------------------------------------- per-block work

_BLAS_CAPPED = False


def _cap_blas() -> None:
    """One BLAS thread in this worker process (set once; workers run one task per thread)."""
    global _BLAS_CAPPED
    if not _BLAS_CAPPED:
        threadpool_limits(limits=1)
        _BLAS_CAPPED = True


def _as_block(X: Any) -> Array:
    return np.ascontiguousarray(X, dtype=np.float64)


def _block_summary(
    X: Any,
    w: Any,
    offset: int | None,
    block: int,
    sample_size: int,
    seed: int,
    names: Any,
    cap: bool,
) -> _ChunkSummary | None:
    """First-pass summary of one block, with the validation of its rows."""
    if cap:
        _cap_blas()
    try:
        Xv = check_input(
            X, ensure_min_samples=0, row_offset=offset or 0, feature_names=names
        )
    except ValueError as exc:
        if offset is None:
            raise ValueError(
                f"{exc} (the row is counted within block {block} of the dask array, whose "
                "chunk sizes are unknown)"
            ) from None
        raise
    n = Xv.shape[0]
    if n == 0:
        return None
    wv = None
    if w is not None:
        from sklearn.utils.validation import _check_sample_weight

        wv = _check_sample_weight(np.asarray(w), Xv)
    if offset is None:  # unknown chunk sizes: rows are keyed by (block, position in block)
        index = (np.uint64(block) << np.uint64(40)) + np.arange(n, dtype=np.uint64)
    else:
        index = np.arange(offset, offset + n, dtype=np.uint64)
    return _ChunkSummary.of_chunk(Xv, wv, index, sample_size, seed)


def _block_pass(
    X: Any, w: Any, kernels: Sequence[ChunkKernel], rows: int, cap: bool
) -> list[Any]:
    """Every kernel of a pass over one block, in sub-chunks of at most ``rows`` rows (each
    kernel cuts them further to its own budget)."""
    if cap:
        _cap_blas()
    X = _as_block(X)
    wa = None if w is None else np.asarray(w)
    pieces = (
        (X[start : start + rows], None if wa is None else wa[start : start + rows], None)
        for start in range(0, X.shape[0], rows)
    )
    return apply_kernels(pieces, kernels)


def _add(*parts: Any) -> Any:
    """Sum of the parts that are not ``None`` (empty blocks), in order."""
    out = None
    for p in parts:
        if p is not None:
            out = p if out is None else out + p
    return out


def _add_lists(*parts: list[Any]) -> list[Any] | None:
    """Element-wise :func:`_add` of the per-kernel results of several blocks."""
    if not parts:
        return None
    return [_add(*column) for column in zip(*parts, strict=True)]


def _tree(parts: list[Any], combine: Callable[..., Any]) -> Any:
    """Tree reduction of delayed values, :data:`SPLIT_EVERY` at a time, order kept."""
    from dask import delayed

    if not parts:
        return delayed(combine)()
    while len(parts) > 1:
        parts = [
            delayed(combine, pure=True)(*parts[i : i + SPLIT_EVERY])
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]


def _map_block(
    X: Any, fn: RowMap, offsets: list[int] | None, block_info: Any = None
) -> Array:
    """A :class:`~mixsynth.sources.RowMap` applied to one block, rows keyed as in the first
    pass."""
    X = _as_block(X)
    block = int(block_info[0]["chunk-location"][0]) if block_info else 0
    n = X.shape[0]
    if offsets is None:
        index = (np.uint64(block) << np.uint64(40)) + np.arange(n, dtype=np.uint64)
    else:
        index = np.arange(offsets[block], offsets[block] + n, dtype=np.uint64)
    return fn(X, index)


# --------------------------------------------------------------------------- the source


class DaskSource(Source):
    """A dask array or dataframe, visited by tasks on the current cluster.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe.DataFrame
        Numeric; row blocks of any size (zero rows and unknown sizes included).
    sample_weight : dask array or array-like of shape (n_samples,), optional
    seed : int
        Seeds the reservoir sample.
    """

    kind = "dask"

    def __init__(self, X: Any, sample_weight: Any = None, *, seed: int = 0) -> None:
        super().__init__(seed)
        da = _import("dask.array")
        self._names: NDArray[Any] | None = None
        if not isinstance(X, da.Array) and hasattr(X, "columns") and hasattr(X, "dtypes"):
            X = self._from_dataframe(X)
        if not isinstance(X, da.Array):
            raise TypeError(
                f"Expected a dask array or dataframe, got {type(X).__module__}."
                f"{type(X).__name__}."
            )
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either "
                "using array.reshape(-1, 1) if your data has a single feature or "
                "array.reshape(1, -1) if it contains a single sample."
            )
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        if X.dtype.kind not in "biuf":
            raise ValueError(f"The dask array's dtype {X.dtype} is not numeric.")
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})  # a block holds whole rows
        self._X = X
        self._w = self._align_weights(sample_weight, X)
        self._client = current_client()
        self._persisted: Any = None
        self._persist_refused = False
        #: Persist the data on the workers when it fits (a Synthesizer reads its raw data only
        #: twice, and persists the whitened data instead).
        self.persist_data = True

    # --- construction helpers
    def _from_dataframe(self, df: Any) -> Any:
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [c for c, t in df.dtypes.items() if not (is_numeric_dtype(t) or is_bool_dtype(t))]
        if bad:
            raise ValueError(
                f"Non-numeric columns {bad}; mixsynth models numeric columns only (drop them, "
                "or select the numeric columns)."
            )
        if all(isinstance(c, str) for c in df.columns):
            self._names = np.asarray(list(df.columns), dtype=object)
        # nullable integers with NA become NaN, and are then rejected naming the row
        return df.astype("float64").to_dask_array()

    @staticmethod
    def _align_weights(sample_weight: Any, X: Any) -> Any:
        if sample_weight is None:
            return None
        da = _import("dask.array")
        if any(math.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "sample_weight with a dask array of unknown chunk sizes: call "
                "X.compute_chunk_sizes() first (or use to_dask_array(lengths=True))."
            )
        w = sample_weight if isinstance(sample_weight, da.Array) else da.from_array(
            np.asarray(sample_weight, dtype=np.float64), chunks=(X.chunks[0],)
        )
        if w.ndim != 1 or w.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight has shape {w.shape} but X has {X.shape[0]} rows; they must match."
            )
        return w.rechunk((X.chunks[0],))

    # --- Source interface
    @property
    def n_features(self) -> int | None:
        return int(self._X.shape[1])

    @property
    def feature_names(self) -> NDArray[Any] | None:
        return self._names

    @property
    def nbytes_hint(self) -> int | None:
        n = self._X.shape[0]
        return None if math.isnan(n) else int(n) * int(self._X.shape[1]) * 8

    def _cap(self) -> bool:
        return self._client is not None

    def _compute(self, obj: Any) -> Any:
        import dask

        if self._client is not None:
            return dask.compute(obj, scheduler=self._client)[0]
        scheduler = dask.config.get("scheduler", None)
        if scheduler in (None, "dask.distributed", "distributed"):
            scheduler = "threads"
        # the tasks run as threads of this process: one BLAS thread each
        with threadpool_limits(limits=1):
            return dask.compute(obj, scheduler=scheduler)[0]

    def _fits(self, nbytes: int) -> bool:
        if self._client is not None:
            workers = self._client.scheduler_info()["workers"].values()
            limits = [int(w.get("memory_limit") or 0) for w in workers]
            if not limits:
                return False
            if any(lim == 0 for lim in limits):  # no limit set: judge by this machine
                return nbytes <= PERSIST_FRACTION * _free_memory() * len(limits)
            return nbytes <= PERSIST_FRACTION * sum(limits)
        return nbytes <= PERSIST_FRACTION * _free_memory()

    def _data(self) -> tuple[Any, Any]:
        """The (validated-on-first-pass) data and weights, persisted when they fit."""
        if self._persisted is not None:
            return self._persisted
        X, w = self._X, self._w
        if not self.persist_data or self._persist_refused:
            return X, w
        nbytes = self.nbytes_hint
        if nbytes is None and self._summaries:
            s = next(iter(self._summaries.values()))
            nbytes = s.n_samples * s.n_features * 8
        if nbytes is not None and not self._fits(nbytes):
            self._persist_refused = True  # decided once: read from the source at every pass
        elif nbytes is not None:
            X = X.astype(np.float64) if X.dtype != np.float64 else X
            if self._client is not None:
                if w is None:
                    X = self._client.persist(X)
                else:
                    X, w = self._client.persist([X, w])
            else:
                import dask

                with threadpool_limits(limits=1):
                    X, w = dask.persist(X, w, scheduler="threads")
            self._persisted = (X, w)
            return self._persisted
        return X, w

    def _blocks(self) -> tuple[list[Any], list[Any], list[int | None]]:
        X, w = self._data()
        xb = list(X.to_delayed().ravel())
        wb = list(w.to_delayed().ravel()) if w is not None else [None] * len(xb)
        sizes = X.chunks[0]
        if any(math.isnan(c) for c in sizes):
            offsets: list[int | None] = [None] * len(xb)
        else:
            offsets = [int(o) for o in np.concatenate([[0], np.cumsum(sizes)])[:-1]]
        return xb, wb, offsets

    def _summarise(self, sample_size: int) -> Summary:
        from dask import delayed

        xb, wb, offsets = self._blocks()
        names = delayed(self._names, traverse=False) if self._names is not None else None
        parts = [
            delayed(_block_summary, pure=True)(
                b, w, off, i, sample_size, self.seed, names, self._cap()
            )
            for i, (b, w, off) in enumerate(zip(xb, wb, offsets, strict=True))
        ]
        total = self._compute(_tree(parts, _add))
        return Summary.from_chunks(total, int(self._X.shape[1]), self._w is not None)

    def run_pass(self, kernels: Sequence[ChunkKernel]) -> list[Any]:
        """One graph for the pass: every block task runs every kernel on its rows, and the
        per-kernel results are tree-reduced as lists. The kernels (all their parameters) are
        one graph key: each worker fetches them once per pass."""
        from dask import delayed

        kernels = list(kernels)
        xb, wb, _ = self._blocks()
        shared = delayed(kernels, traverse=False)
        rows = max((int(k.rows) for k in kernels), default=1)
        parts = [delayed(_block_pass, pure=True)(b, w, shared, rows, self._cap())
                 for b, w in zip(xb, wb, strict=True)]
        total = self._compute(_tree(parts, _add_lists))
        return [None] * len(kernels) if total is None else total

    def materialize(self) -> Any:
        """The data in memory: a numpy array, or a pandas DataFrame for a dask dataframe."""
        X = self._X
        if self._names is not None:
            import pandas as pd

            return pd.DataFrame(self._compute(X), columns=list(self._names))
        return self._compute(X)

    def materialize_weights(self) -> Array | None:
        return None if self._w is None else np.asarray(self._compute(self._w), dtype=np.float64)

    def mapped(self, fn: RowMap) -> DaskSource:
        X = self._X
        sizes = X.chunks[0]
        offsets = (
            None if any(math.isnan(c) for c in sizes)
            else [int(o) for o in np.concatenate([[0], np.cumsum(sizes)])[:-1]]
        )
        Z = X.map_blocks(
            _map_block, fn, offsets, dtype=np.float64, chunks=(sizes, (fn.width,)),
            meta=np.empty((0, 0)),
        )
        out = DaskSource.__new__(DaskSource)
        Source.__init__(out, self.seed)
        out._names = None
        out._X, out._w = Z, self._w
        out._client = self._client
        out._persisted = None
        out._persist_refused = False
        out.persist_data = True
        for size, s in self._summaries.items():
            derived = fn.summary(s)
            if derived is not None:
                out._summaries[size] = derived
        return out

    def release(self) -> None:
        persisted, self._persisted = self._persisted, None
        if persisted is not None and self._client is not None:
            with contextlib.suppress(Exception):  # a closed client has nothing left to free
                self._client.cancel([p for p in persisted if p is not None])


def _free_memory() -> int:
    """Available physical memory of this machine, bytes (a guess where unknown)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**30
