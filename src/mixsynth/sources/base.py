"""The :class:`Source` protocol: data visited in passes.

A fit needs three things of its data: a first pass (:meth:`Source.summary`), passes that hand
every chunk to a list of per-chunk kernels (:meth:`Source.run_pass`, :mod:`.kernels`), and
:meth:`Source.release`. Everything else here (``stats``, ``label_stats``, ``loglik`` and their
``*_many`` forms) is built on :meth:`~Source.run_pass`. Data held in memory is a source too
(:class:`~mixsynth.sources.ArraySource`, ``in_memory = True``): only such a source offers
:meth:`~Source.subset`, the rows of held-out folds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core import Params, Stats
from mixsynth.sources.kernels import ChunkCache, ChunkKernel, LabelKernel, LogLikKernel, StatsKernel
from mixsynth.sources.maps import RowMap, WhitenMap
from mixsynth.sources.summary import SAMPLE_ROWS, Summary
from mixsynth.whitening import Whitener

__all__ = ["Source"]

Array = NDArray[np.float64]


def _no_rows(total: Stats | None) -> Stats:
    if total is None:
        raise ValueError("The data has no rows.")
    return total


def _per_item(value: Any, n: int, name: str) -> list[Any]:
    """``value`` for each of ``n`` items: a sequence (one each) or one shared value."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"Expected one {name} per parameter set ({n}), got {len(value)}.")
        return list(value)
    return [value] * n


class Source(ABC):
    """Data visited in passes: in memory, chunk by chunk from disk, or block by block on Dask.

    The protocol is :meth:`summary` (the first pass, memoised), :meth:`run_pass` (each chunk
    handed to every kernel) and :meth:`release`; subclasses say how the chunks are read and
    where the arithmetic runs. ``in_memory`` says whether the rows are held in memory, and
    with them the capability :meth:`subset` (held-out folds).
    """

    #: Short description for messages ("in memory", "out-of-core", "dask").
    kind = "out-of-core"
    #: The rows are held in memory: :meth:`subset` works, a fit may cache per-chunk products.
    in_memory = False

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

    @abstractmethod
    def materialize(self) -> Any:
        """The whole data in memory (for data found to be small)."""

    def load(self) -> Any:
        """The whole data in memory as a fit takes it (:meth:`materialize`, unless the source
        knows better: a file is loaded as ``mixsynth fit`` reads it)."""
        return self.materialize()

    @abstractmethod
    def mapped(self, fn: RowMap) -> Source:
        """The same rows mapped by ``fn``, lazily, chunk by chunk (weights kept)."""

    def materialize_weights(self) -> Array | None:
        """The sample weights in memory (``None`` when unweighted)."""
        return None

    def subset(self, rows: Any) -> Source:
        """The source of the given rows (held-out folds): only for data held in memory."""
        raise TypeError(
            f"A {self.kind} source cannot take a subset of its rows (held-out folds need the "
            "rows in memory): load it first (mixsynth.sources.StoragePolicy(out_of_core=False))."
        )

    def release(self) -> None:  # noqa: B027 - an optional hook: most sources hold nothing
        """Free what the source holds (persisted data on a cluster); idempotent."""

    # --- built on the protocol
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

    def whitened(self, whitener: Whitener) -> Source:
        """The same rows mapped by a fitted ``whitener``."""
        return self.mapped(WhitenMap(whitener))

    def stats(
        self, params: Params, shift: Array, rows: int, cache: ChunkCache | None = None
    ) -> Stats:
        """One E-step over every row of ``X - shift``, as summed statistics."""
        return _no_rows(self.run_pass([StatsKernel(params, shift, rows, cache)])[0])

    def stats_many(
        self,
        params: Sequence[Params],
        shift: Array | Sequence[Array],
        rows: int | Sequence[int],
        cache: ChunkCache | Sequence[ChunkCache | None] | None = None,
    ) -> list[Stats]:
        """The E-steps of several parameter sets in one pass (``shift``, ``rows`` and
        ``cache``: one for all, or one per parameter set); each equals :meth:`stats` of that
        set alone (to the order of summation, exactly when ``rows`` is the same)."""
        n = len(params)
        shifts, rows_ = _per_item(shift, n, "shift"), _per_item(rows, n, "rows")
        caches = _per_item(cache, n, "cache")
        if n == 1:  # the single-run pass (what instrumentation of stats() sees)
            return [self.stats(params[0], shifts[0], rows_[0], caches[0])]
        kernels = [
            StatsKernel(p, s, r, c)
            for p, s, r, c in zip(params, shifts, rows_, caches, strict=True)
        ]
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
