"""Runners: every runner gives the serial runner's candidates (seeds are keyed by index)."""

from __future__ import annotations

import pickle

import numpy as np

from mixsynth import GaussianMixture
from mixsynth.seeding import SeedPlan
from mixsynth.selection import (
    InformationCriterion,
    ProcessRunner,
    Runner,
    SerialRunner,
    Task,
    _evaluate,
    candidate_grid,
    select,
)
from mixsynth.selection.runners import MapRunner, as_runner


def _sweep(runner, X):
    return select(candidate_grid([1, 2, 3], ["full", "diag"]), InformationCriterion("bic", X),
                  estimator=GaussianMixture(tol=1e-4), seeds=SeedPlan.from_random_state(1),
                  runner=runner)


def _same(a, b) -> None:
    assert [c.config for c in a[0].candidates] == [c.config for c in b[0].candidates]
    np.testing.assert_array_equal(a[0].scores, b[0].scores)
    np.testing.assert_array_equal(a[1].means_, b[1].means_)


class _LegacyMap:
    """The earlier protocol: ``map(task dicts)``, calling ``selection._evaluate`` (as
    ``distributed.ClusterRunner`` does on its workers)."""

    def __init__(self) -> None:
        self.calls = 0
        self.shared: set[int] = set()

    def map(self, tasks):
        self.calls += 1
        self.shared |= {id(t["Z"]) for t in tasks} | {id(t["folds"]) for t in tasks}
        return [_evaluate(**{**t, "params": {**t["params"], "_blas_threads": 1}})
                for t in tasks]


def test_runners_agree(rng: np.random.Generator) -> None:
    X = np.vstack([rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 4.0])
    serial = _sweep(None, X)
    _same(serial, _sweep(SerialRunner(), X))
    _same(serial, _sweep(ProcessRunner(n_jobs=2), X))
    legacy = _LegacyMap()
    _same(serial, _sweep(legacy, X))
    assert legacy.calls == 2  # one batch per (covariance type, reg_covar) group
    assert len(legacy.shared) == 2  # one data object and one folds object for every task


def test_protocol_and_adapter() -> None:
    assert isinstance(SerialRunner(), Runner) and isinstance(ProcessRunner(2), Runner)
    assert isinstance(as_runner(_LegacyMap()), MapRunner)
    runner = ProcessRunner(2)
    assert as_runner(runner) is runner


def test_a_task_is_a_picklable_value(rng: np.random.Generator) -> None:
    X = rng.normal(size=(50, 2))
    task = Task(GaussianMixture(2), SeedPlan.from_random_state(0).candidate(4),
                InformationCriterion("aic", X))
    copy = pickle.loads(pickle.dumps(task))
    a, b = task.run(blas_threads=1), copy.run()
    assert a.candidate.score == b.candidate.score and a.candidate.config == (2, "full", 1e-6)
