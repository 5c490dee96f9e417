"""Search plans: pure generators of K batches, fed the scores of each batch."""

from __future__ import annotations

import pytest

from mixsynth.selection.plans import (
    GRID_LIMIT,
    candidate_grid,
    coarse_to_fine,
    expected_count,
    grid_search,
    search_plan,
)


def _drive(plan, score):
    """Every batch a plan asks for, scoring K with ``score``."""
    batches = [next(plan)]
    while True:
        try:
            batches.append(plan.send({k: score(k) for k in batches[-1]}))
        except StopIteration:
            return batches


def test_grid_is_one_batch() -> None:
    assert _drive(grid_search([1, 2, 5]), lambda k: 0.0) == [[1, 2, 5]]


@pytest.mark.parametrize("peak", [1, 7, 13, 20, 32])
def test_coarse_to_fine_finds_a_single_peak(peak: int) -> None:
    ks = list(range(1, 33))
    batches = _drive(coarse_to_fine(ks), lambda k: -abs(k - peak))
    assert peak in batches[-1]
    assert len(batches[0]) <= GRID_LIMIT and len(batches[-1]) <= GRID_LIMIT
    tried = {k for b in batches for k in b}
    assert len(tried) < len(ks)
    assert expected_count("auto", ks) >= len(tried) - 2  # the progress total is about right


def test_the_plan_is_pure() -> None:
    """The same scores give the same batches: nothing is kept between runs."""
    ks = list(range(1, 20))

    def score(k: int) -> float:
        return -abs(k - 11)

    assert _drive(coarse_to_fine(ks), score) == _drive(coarse_to_fine(ks), score)


def test_search_plan_chooses_by_size() -> None:
    small = list(range(1, GRID_LIMIT + 1))
    assert _drive(search_plan("auto", small), lambda k: 0.0) == [small]
    many = list(range(1, 3 * GRID_LIMIT))
    assert _drive(search_plan("grid", many), lambda k: 0.0) == [many]
    assert len(_drive(search_plan("auto", many), lambda k: -k)) > 1


def test_candidate_grid_orders_and_checks() -> None:
    grid = candidate_grid([3, 1, 3], ["full", "diag"], [1e-3, 1e-6])
    assert grid[:2] == [(1, "full", 1e-3), (3, "full", 1e-3)]
    assert len(grid) == 8
    with pytest.raises(ValueError, match="covariance"):
        candidate_grid(2, "round")
    with pytest.raises(ValueError, match=">= 1"):
        candidate_grid([0, 1], "full")
