"""The one place where seeds become random generators, and where seeds are spawned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

__all__ = ["STREAMS", "SeedLike", "SeedPlan", "as_generator", "as_int", "child", "spawn_seeds"]

SeedLike: TypeAlias = "int | np.integer[Any] | np.random.Generator | np.random.SeedSequence | np.random.RandomState | None"  # noqa: E501


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a seed.

    ``None`` gives fresh entropy (new rows at every call); an int or a ``SeedSequence`` gives
    the same stream every time; a ``Generator`` is used as is (and advances); a legacy
    ``RandomState`` seeds a new generator from its stream.
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1, size=4))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"A seed must be a non-negative integer, got {seed}.")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"random_state must be None, an int, a numpy Generator, SeedSequence or RandomState; "
        f"got {type(seed).__name__}."
    )


def as_int(seed: np.random.SeedSequence) -> int:
    """A ``SeedSequence`` as the 32-bit integer seed a scikit-learn estimator takes."""
    return int(seed.generate_state(1)[0])


def child(seed: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """The ``i``-th child of a fresh ``seed`` (``seed.spawn(n)[i]`` for ``n > i``), made
    without spawning: ``seed`` is not advanced and no other child is created."""
    if i < 0:
        raise ValueError(f"child index must be >= 0, got {i}.")
    return np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, i), pool_size=seed.pool_size
    )


def spawn_seeds(seed: SeedLike, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds, keyed by index (never by worker or by order of completion).

    The same ``seed`` always gives the same children, so candidate ``i`` of a sweep draws the same
    numbers whether it runs first, last, or in another process.
    """
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    elif seed is None or isinstance(seed, (int, np.integer)):
        root = np.random.SeedSequence(None if seed is None else int(seed))
    else:
        root = np.random.SeedSequence(as_generator(seed).integers(0, 2**63 - 1, size=4))
    return root.spawn(n)


#: The first word of every named stream's spawn key. Candidate ``i`` keeps the key ``(i,)`` (the
#: ``i``-th child of the seed, as before the plan existed), so a named stream's two-word key
#: ``(_NAMED, stream)`` can only meet a candidate's fold key ``(i, j)`` if ``i == _NAMED``, which
#: :meth:`SeedPlan.candidate` refuses.
_NAMED = 2**32 - 1

#: The named streams of a fit and the second word of their spawn keys. Never renumber: a number
#: is part of every model fitted with it.
STREAMS: dict[str, int] = {
    "folds": 1,  # the k-fold split of the held-out criterion
    "refit": 2,  # the held-out winner refitted on every row
    "guard": 3,  # the memorisation guard (split, probe fit, probe sample, threshold)
    "support_noise": 4,  # dequantisation noise of the support transform
    "reservoir": 5,  # the reservoir sample of an out-of-core first pass
    "classes": 6,  # one sub-plan per class of a class-conditional fit
    "table": 7,  # a mixed table's fit (dequantisation, k-means starts, folds)
    "heaps": 8,  # the model draws the heaped columns' marginals are estimated from
}


@dataclass(frozen=True)
class SeedPlan:
    """Every random stream of one fit, each a distinct, named child of one seed.

    Built once per fit by :meth:`from_random_state` and passed down; the API and the command
    line build the same plan from the same seed. Each stream is a
    :class:`numpy.random.SeedSequence` with the plan's entropy and its own spawn key, so no two
    uses share numbers and a stream does not depend on which others were drawn, or in what order.

    ========================  ===================================  ============================
    stream                    spawn key (after the plan's own)     used by
    ========================  ===================================  ============================
    ``candidate(i)``          ``(i,)``                             candidate ``i`` of a sweep
    ``fold(i, j)``            ``(i, j)``                           candidate ``i``'s fold ``j``
    ``stream("folds")`` ...   ``(2**32 - 1, STREAMS[name])``       folds, refit, guard, noise,
                                                                   reservoir, table, heaps
    ``for_class(c)``          ``(2**32 - 1, 6, c)``                class ``c``'s own plan
    ``chunk(i)``              ``(i,)``                             chunk ``i`` of a *sampling*
                                                                   plan (per-call seed)
    ========================  ===================================  ============================

    Candidate ``i`` is the ``i``-th child of the seed and chunk ``i`` of sampling the ``i``-th
    child of the sampling seed: ``SeedSequence(entropy, spawn_key=key + (i,))`` equals
    ``SeedSequence(entropy, spawn_key=key).spawn(n)[i]``.

    Parameters
    ----------
    entropy : int or tuple of int
    spawn_key : tuple of int, default=()
    """

    entropy: int | tuple[int, ...]
    spawn_key: tuple[int, ...] = ()

    @classmethod
    def from_random_state(cls, random_state: SeedLike | SeedPlan) -> SeedPlan:
        """The plan of a ``random_state``: an int or a ``SeedSequence`` gives the same plan every
        time (a ``SeedSequence`` is read, never advanced); ``None`` fresh entropy; a
        ``Generator`` or ``RandomState`` is advanced once to seed the plan."""
        if isinstance(random_state, SeedPlan):
            return random_state
        if isinstance(random_state, np.random.SeedSequence):
            entropy = random_state.entropy
            assert entropy is not None  # a SeedSequence always holds its entropy
            return cls(entropy if isinstance(entropy, int) else tuple(int(e) for e in entropy),
                       tuple(int(k) for k in random_state.spawn_key))
        if random_state is None or isinstance(random_state, (int, np.integer)):
            if isinstance(random_state, bool):
                raise TypeError("random_state must not be a bool.")
            if random_state is not None and random_state < 0:
                raise ValueError(f"A seed must be a non-negative integer, got {random_state}.")
            entropy = np.random.SeedSequence(
                None if random_state is None else int(random_state)
            ).entropy
            assert isinstance(entropy, int)
            return cls(entropy)
        words = as_generator(random_state).integers(0, 2**63 - 1, size=4)
        return cls(tuple(int(w) for w in words))

    def _child(self, *key: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key + key)

    @property
    def root(self) -> np.random.SeedSequence:
        """The plan's own seed (a fresh ``SeedSequence``: spawning from it advances nothing
        here)."""
        return self._child()

    def candidate(self, i: int) -> np.random.SeedSequence:
        """Candidate ``i`` of a sweep (its index in the full grid)."""
        if not 0 <= i < _NAMED:
            raise ValueError(f"candidate index must be in [0, {_NAMED}), got {i}.")
        return self._child(i)

    def fold(self, i: int, j: int) -> np.random.SeedSequence:
        """Fold ``j`` of candidate ``i``: ``candidate(i).spawn(n_folds)[j]``."""
        self.candidate(i)  # checks i
        if j < 0:
            raise ValueError(f"fold index must be >= 0, got {j}.")
        return self._child(i, j)

    def stream(self, name: str, *index: int) -> np.random.SeedSequence:
        """The named stream ``name`` (one of :data:`STREAMS`), optionally sub-indexed."""
        try:
            number = STREAMS[name]
        except KeyError:
            raise ValueError(f"unknown seed stream {name!r}; known: {sorted(STREAMS)}") from None
        return self._child(_NAMED, number, *index)

    def int_seed(self, name: str, *index: int) -> int:
        """The stream ``name`` as a 32-bit integer (``random_state=`` of scikit-learn objects,
        which take at most 32 bits)."""
        return as_int(self.stream(name, *index))

    def reservoir_seed(self) -> int:
        """The reservoir seed of an out-of-core first pass: a 63-bit integer."""
        return int(self.stream("reservoir").generate_state(1, np.uint64)[0] >> 1)

    def for_class(self, c: int) -> np.random.SeedSequence:
        """The seed of class ``c``'s own plan (a class-conditional fit)."""
        return self.stream("classes", c)

    def chunk(self, i: int) -> np.random.SeedSequence:
        """Chunk ``i`` of a sampling plan, made lazily: ``root.spawn(n)[i]`` for any ``n > i``
        without creating the others (``iter_sample`` of 10**12 rows needs no list of seeds)."""
        if i < 0:
            raise ValueError(f"chunk index must be >= 0, got {i}.")
        return self._child(i)
