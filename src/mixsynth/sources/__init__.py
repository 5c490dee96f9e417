"""Data sources: every input of a fit is a :class:`Source`.

A source is data visited in passes. The protocol is small: :meth:`Source.summary` (one fused
first pass: validation with whole-data row numbers, mergeable column moments, bounds, integer
columns, the weighted mean and a reservoir sample), :meth:`Source.run_pass` (each chunk read once
and handed to every per-chunk kernel: one EM run's E-step, hard assignments, scoring) and
:meth:`Source.release`. Fit-level settings (the centring shift, the rows per call, the per-fit
cache of in-memory data) belong to the kernels (:mod:`.kernels`), not to the data.

| module | holds |
|---|---|
| ``base`` | :class:`Source` |
| ``summary`` | :class:`Summary`, the mergeable first pass, the reservoir, :func:`sample_seed` |
| ``kernels`` | the per-chunk kernels (E-step, hard assignments, scores), :class:`ChunkCache` |
| ``maps`` | :class:`RowMap`, :class:`WhitenMap`, :class:`SupportMap` |
| ``memory`` | :class:`ArraySource`: arrays and DataFrames (``in_memory``, ``subset``) |
| ``device`` | :class:`DeviceSource`: in memory, E-steps on a PyTorch device (torch on first use) |
| ``chunks`` | :class:`ChunkSource` (read in this process), :class:`IterableSource` |
| ``files`` | :class:`MemmapSource`, :func:`file_source` (``.npy``, ``.parquet``, ``.csv``) |
| ``dask`` | :class:`DaskSource` (dask imported when one is built) |
| ``dispatch`` | :func:`as_source` (total), :func:`is_out_of_core` |
| ``storage`` | :class:`StoragePolicy`, :data:`IN_MEMORY_BYTES` |

``SAMPLE_ROWS`` is read from this package when used; the default memory budget from
``mixsynth.sources.storage.IN_MEMORY_BYTES`` (or give ``StoragePolicy(memory_budget=...)``).
"""

from __future__ import annotations

from typing import Any

from mixsynth.sources.base import Source
from mixsynth.sources.chunks import ChunkSource, IterableSource
from mixsynth.sources.device import DeviceSource
from mixsynth.sources.dispatch import as_source, is_out_of_core
from mixsynth.sources.files import MemmapSource, file_source
from mixsynth.sources.kernels import (
    PACKED_CACHE_BYTES,
    ChunkCache,
    ChunkKernel,
    LabelKernel,
    LogLik,
    LogLikKernel,
    StatsKernel,
    apply_kernels,
)
from mixsynth.sources.maps import RowMap, SupportMap, WhitenMap
from mixsynth.sources.memory import ArraySource
from mixsynth.sources.storage import IN_MEMORY_BYTES, StoragePolicy
from mixsynth.sources.summary import READ_BYTES, SAMPLE_ROWS, Summary, sample_seed

__all__ = [
    "IN_MEMORY_BYTES",
    "PACKED_CACHE_BYTES",
    "READ_BYTES",
    "SAMPLE_ROWS",
    "ArraySource",
    "ChunkCache",
    "ChunkKernel",
    "ChunkSource",
    "DaskSource",
    "DeviceSource",
    "IterableSource",
    "LabelKernel",
    "LogLik",
    "LogLikKernel",
    "MemmapSource",
    "RowMap",
    "Source",
    "StatsKernel",
    "StoragePolicy",
    "Summary",
    "SupportMap",
    "WhitenMap",
    "apply_kernels",
    "as_source",
    "file_source",
    "is_out_of_core",
    "sample_seed",
]


def __getattr__(name: str) -> Any:
    """``DaskSource`` on first use: its module is light, but keep dask code apart until asked."""
    if name == "DaskSource":
        from mixsynth.sources.dask import DaskSource

        return DaskSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
