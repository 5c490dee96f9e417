"""Runners: every runner gives the serial runner's candidates (seeds are keyed by index)."""

from __future__ import annotations

import pickle

import numpy as np

from mixsynth import GaussianMixture
from mixsynth.seeding import SeedPlan
from mixsynth.selection import (
    ClusterRunner,
    InformationCriterion,
    ProcessRunner,
    Runner,
    SerialRunner,
    Task,
    candidate_grid,
    select,
)


def _sweep(runner, X):
    return select(candidate_grid([1, 2, 3], ["full", "diag"]), InformationCriterion("bic", X),
                  estimator=GaussianMixture(tol=1e-4), seeds=SeedPlan.from_random_state(1),
                  runner=runner)


def _same(a, b) -> None:
    assert [c.config for c in a[0].candidates] == [c.config for c in b[0].candidates]
    np.testing.assert_array_equal(a[0].scores, b[0].scores)
    np.testing.assert_array_equal(a[1].means_, b[1].means_)


class _Future:
    def __init__(self, value) -> None:
        self.value = value


class _Client:
    """What :class:`ClusterRunner` asks of a ``distributed.Client``, run in this process: the
    tasks travel as the cluster would send them (pickled)."""

    def __init__(self) -> None:
        self.scattered: list[object] = []
        self.submitted = 0

    def scatter(self, objs, broadcast, hash):
        self.scattered.extend(objs)
        return [_Future(pickle.loads(pickle.dumps(o))) for o in objs]

    def submit(self, fn, *args, pure):
        self.submitted += 1
        args = [a.value if isinstance(a, _Future) else pickle.loads(pickle.dumps(a))
                for a in args]
        return _Future(fn(*args))

    def gather(self, futures):
        return [f.value for f in futures]

    def cancel(self, futures):
        pass


def test_runners_agree(rng: np.random.Generator) -> None:
    X = np.vstack([rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 4.0])
    serial = _sweep(None, X)
    _same(serial, _sweep(SerialRunner(), X))
    _same(serial, _sweep(ProcessRunner(n_jobs=2), X))
    client = _Client()
    runner = ClusterRunner(client)
    _same(serial, _sweep(runner, X))
    runner.close()
    assert client.submitted == 6  # one task per candidate
    assert len(client.scattered) == 1  # the evaluator (the data) travels once for every task


def test_protocol() -> None:
    for runner in (SerialRunner(), ProcessRunner(2), ClusterRunner(_Client())):
        assert isinstance(runner, Runner)
    assert ClusterRunner.current() is None  # no client: candidates run locally


def test_a_task_is_a_picklable_value(rng: np.random.Generator) -> None:
    X = rng.normal(size=(50, 2))
    task = Task(GaussianMixture(2), SeedPlan.from_random_state(0).candidate(4),
                InformationCriterion("aic", X))
    copy = pickle.loads(pickle.dumps(task))
    a, b = task.run(blas_threads=1), copy.run()
    assert a.candidate.score == b.candidate.score and a.candidate.config == (2, "full", 1e-6)
