"""Per-row maps of chunks (:class:`RowMap`): whitening, the support transform. A mapped source
applies one to every chunk it reads, so the mapped data is never held in memory."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.sources.summary import Summary, _hash_uniform, whiten_rows
from mixsynth.whitening import Whitener

__all__ = ["RowMap", "SupportMap", "WhitenMap"]

Array = NDArray[np.float64]


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
        return whiten_rows(X, self.whitener)

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


