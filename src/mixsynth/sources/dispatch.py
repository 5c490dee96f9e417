"""What :func:`as_source` makes of each kind of input: every input is a :class:`Source`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from mixsynth.sources.base import Source
from mixsynth.sources.chunks import IterableSource
from mixsynth.sources.files import MemmapSource, file_source
from mixsynth.sources.memory import ArraySource

__all__ = ["as_source", "is_out_of_core"]


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
    """Whether :func:`as_source` streams ``X`` (rather than holding it in memory)."""
    if isinstance(X, Source):
        return not X.in_memory
    return (
        isinstance(X, (str, os.PathLike, np.memmap))
        or _is_dask_collection(X)
        or _is_chunk_sequence(X)
        or (callable(X) and not hasattr(X, "__array__"))
        or (isinstance(X, Iterator) and not hasattr(X, "__array__"))
    )


def as_source(
    X: Any,
    sample_weight: Any = None,
    *,
    seed: int = 0,
    estimator: Any = None,
    ensure_min_samples: int = 1,
    allow_nan: bool = False,
    device: str | None = None,
) -> Source:
    """The :class:`Source` of any input (a source is returned as it is).

    Parameters
    ----------
    X : array-like, DataFrame, memmap, path, callable, list of 2-D arrays, dask data, or Source
        An array or DataFrame becomes an :class:`ArraySource` (validated now); a ``np.memmap``
        is read by slices; a path is a file :func:`file_source` reads; a callable returns a
        fresh iterator of 2-D chunks at every call (EM needs one pass per iteration).
    sample_weight : array-like of shape (n_samples,), optional
        Row weights (a memmap is fine); a dask array for dask input.
    seed : int
        Seeds the reservoir sample.
    estimator : estimator, optional
        In-memory data is validated as this estimator's ``fit`` validates it (scikit-learn's
        feature bookkeeping and messages).
    ensure_min_samples : int, default=1
        Rows in-memory data must have.
    allow_nan : bool, default=False
        In-memory data may hold NaN (missing values, for ``missing="em"``); ±inf is still an
        error, and so is a column with no observed value.
    device : str, optional
        A PyTorch device for the E-steps of data held in memory (:class:`DeviceSource`);
        other inputs are refused with it (a ready-made :class:`DeviceSource` is fine).
    """
    if device is not None:
        return _on_device(X, sample_weight, device, seed=seed, estimator=estimator,
                          ensure_min_samples=ensure_min_samples, allow_nan=allow_nan)
    if isinstance(X, Source):
        if sample_weight is not None:
            raise ValueError("sample_weight cannot be given with a ready-made source.")
        return X
    if _is_dask_collection(X):
        from mixsynth.sources.dask import DaskSource

        return DaskSource(X, sample_weight, seed=seed)
    if isinstance(X, (str, os.PathLike)):
        return file_source(X, sample_weight, seed=seed)
    if isinstance(X, np.memmap):
        return MemmapSource(X, sample_weight, seed=seed)
    if _is_chunk_sequence(X):
        chunks: Sequence[Any] = X
        return IterableSource(lambda: iter(chunks), sample_weight, seed=seed)
    if isinstance(X, Iterator) and not hasattr(X, "__array__"):
        raise TypeError(
            "An iterator can be read only once, and EM reads its data once per iteration: pass "
            "a callable returning a fresh iterator (e.g. lambda: read_chunks(path)), or a list "
            "of arrays."
        )
    if callable(X) and not hasattr(X, "__array__"):
        return IterableSource(X, sample_weight, seed=seed)
    return ArraySource(
        X, sample_weight, seed=seed, estimator=estimator, ensure_min_samples=ensure_min_samples,
        allow_nan=allow_nan,
    )


def _on_device(X: Any, sample_weight: Any, device: str, **kw: Any) -> Source:
    """The :class:`DeviceSource` of data held in memory (an array, a DataFrame, a list of
    rows); a clear error for anything else."""
    from mixsynth.sources.device import DeviceSource

    if isinstance(X, DeviceSource) and sample_weight is None:
        return X
    if type(X) is ArraySource and sample_weight is None:  # rows in memory (a selection's folds)
        return DeviceSource.of_array_source(X, device)
    streamed = (
        isinstance(X, (Source, str, os.PathLike, np.memmap, Iterator))
        or _is_dask_collection(X) or _is_chunk_sequence(X)
        or (callable(X) and not hasattr(X, "__array__"))
    )
    if streamed:
        raise ValueError(
            f"device={device!r} runs the E-steps of data held in memory (an array or a "
            "DataFrame); this input is read in passes (a file, memmap, chunk callable, dask "
            "collection or source): load it first, or fit it without device."
        )
    return DeviceSource(X, sample_weight, device=device, **kw)
