"""The one place where seeds become random generators, and where seeds are spawned."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

__all__ = ["SeedLike", "as_generator", "spawn_seeds"]

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
