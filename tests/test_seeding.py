"""The seed plan: one named, non-aliasing stream per use, and lazily made chunk seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mixsynth.seeding import STREAMS, SeedPlan, spawn_seeds


def _state(seed: np.random.SeedSequence) -> tuple[int, ...]:
    return tuple(int(w) for w in seed.generate_state(4))


def test_no_two_streams_share_a_spawn_key(seed: int) -> None:
    plan = SeedPlan.from_random_state(seed)
    seeds = [plan.stream(name) for name in STREAMS]
    seeds += [plan.stream("guard", part) for part in range(4)]
    seeds += [plan.candidate(i) for i in range(50)]
    seeds += [plan.fold(i, j) for i in range(50) for j in range(10)]
    seeds += [plan.for_class(c) for c in range(10)]
    sub = SeedPlan.from_random_state(plan.for_class(0))  # a class's own plan
    seeds += [sub.stream(name) for name in STREAMS] + [sub.candidate(i) for i in range(50)]
    keys = [s.spawn_key for s in seeds]
    assert len(set(keys)) == len(keys)
    states = [_state(s) for s in seeds]
    assert len(set(states)) == len(states)


def test_streams_are_children_of_the_seed_keyed_by_index(seed: int) -> None:
    """Candidate i and sampling chunk i are the i-th child of the seed: what
    ``spawn_seeds(seed, n)[i]`` gave before the plan (so fits and sampled rows are unchanged)."""
    plan = SeedPlan.from_random_state(seed)
    children = spawn_seeds(seed, 12)
    for i in range(12):
        assert _state(plan.candidate(i)) == _state(children[i])
        assert _state(plan.chunk(i)) == _state(children[i])
        folds = children[i].spawn(3)
        for j in range(3):
            assert _state(plan.fold(i, j)) == _state(folds[j])
    # a SeedSequence: a fresh root's spawn_key + (i,) is its root.spawn(n)[i]
    root = np.random.SeedSequence(seed, spawn_key=(4, 2))
    lazy = SeedPlan.from_random_state(root)
    for i, child in enumerate(np.random.SeedSequence(seed, spawn_key=(4, 2)).spawn(5)):
        assert _state(lazy.chunk(i)) == _state(child)
    assert root.n_children_spawned == 0  # read, never advanced


def test_a_candidate_stream_does_not_depend_on_the_others(seed: int) -> None:
    plan = SeedPlan.from_random_state(seed)
    alone = _state(plan.candidate(7))
    for order in itertools.islice(itertools.permutations(range(9)), 5):
        again = SeedPlan.from_random_state(seed)
        drawn = {i: _state(again.candidate(i)) for i in order}
        assert drawn[7] == alone


def test_the_plan_of_a_seed_is_the_same_every_time() -> None:
    assert SeedPlan.from_random_state(3) == SeedPlan.from_random_state(np.int64(3))
    assert SeedPlan.from_random_state(None) != SeedPlan.from_random_state(None)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert SeedPlan.from_random_state(g1) == SeedPlan.from_random_state(g2)
    plan = SeedPlan.from_random_state(1)
    assert SeedPlan.from_random_state(plan) is plan


@pytest.mark.parametrize("bad", [-1, "seed", 1.5])
def test_bad_seeds_are_refused(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        SeedPlan.from_random_state(bad)  # type: ignore[arg-type]


def test_unknown_stream_and_bad_indices() -> None:
    plan = SeedPlan.from_random_state(0)
    with pytest.raises(ValueError, match="unknown seed stream"):
        plan.stream("nope")
    with pytest.raises(ValueError):
        plan.candidate(2**32 - 1)
    with pytest.raises(ValueError):
        plan.chunk(-1)
