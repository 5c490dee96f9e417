"""The one storage policy: whether data is fitted in memory or streamed.

:class:`~mixsynth.Synthesizer` and ``mixsynth fit`` both ask :class:`StoragePolicy` (the CLI with
``--memory-budget`` and ``--out-of-core/--in-memory``): data that fits the memory budget as
float64 is loaded into an :class:`~mixsynth.sources.ArraySource` and fitted exactly as an array
(held-out selection included); larger data is streamed.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixsynth.sources import summary as _summary
from mixsynth.sources.base import Source
from mixsynth.sources.memory import ArraySource

__all__ = ["IN_MEMORY_BYTES", "StoragePolicy"]

#: Data below this many bytes (as float64) is loaded into memory and fitted as an array,
#: held-out selection included; larger data is streamed. Read when a policy decides.
IN_MEMORY_BYTES = 256 * 2**20


@dataclass(frozen=True)
class StoragePolicy:
    """Memory budget → in memory or streamed.

    Parameters
    ----------
    memory_budget : int, optional
        Bytes of float64 data loaded into memory; :data:`IN_MEMORY_BYTES` (as it is when the
        policy decides) when not given.
    out_of_core : bool, optional
        ``True`` streams whatever the size, ``False`` loads whatever the size; by the budget
        when not given.
    """

    memory_budget: int | None = None
    out_of_core: bool | None = None

    @property
    def budget(self) -> int:
        """The budget in bytes."""
        if self.memory_budget is not None:
            return int(self.memory_budget)
        return int(IN_MEMORY_BYTES)  # read when deciding: ``sources.storage.IN_MEMORY_BYTES``

    def nbytes(self, source: Source) -> int:
        """The size of ``source`` as float64: from its metadata, else from its first pass
        (which validates the rows on the way)."""
        nbytes = source.nbytes_hint
        if nbytes is None:
            summary = source.summary(_summary.SAMPLE_ROWS)
            nbytes = summary.n_samples * summary.n_features * 8
        return int(nbytes)

    def streams(self, source: Source) -> bool:
        """Whether ``source`` is fitted streamed (an in-memory source never is)."""
        if source.in_memory:
            return False
        if self.out_of_core is not None:
            return self.out_of_core
        return self.nbytes(source) > self.budget

    def resolve(self, source: Source) -> Source:
        """``source`` itself when it is streamed, else its rows loaded into an
        :class:`ArraySource` (``source`` is then released)."""
        if source.in_memory or self.streams(source):
            return source
        try:
            return ArraySource(source.materialize(), source.materialize_weights(), seed=source.seed)
        finally:
            source.release()
