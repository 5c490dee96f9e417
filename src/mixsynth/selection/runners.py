"""Where candidate tasks run: this process, worker processes, or any object that speaks the
:class:`Runner` protocol (a Dask cluster).

A :class:`Task` is one candidate: a configured estimator, its seed stream, the evaluator and
the abandonment reference. It is a picklable value, so it runs the same anywhere; its seeds
depend on its index in the grid, never on the worker or the order of completion, so every
runner gives the same results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.gaussian_mixture import blas_threads as _thread_limit
from mixsynth.selection.evaluators import Evaluator, Outcome
from mixsynth.selection.result import Config
from mixsynth.sources.dask import current_client

__all__ = ["ClusterRunner", "ProcessRunner", "Runner", "SerialRunner", "Task"]


@dataclass(frozen=True)
class Task:
    """One candidate of a sweep.

    Attributes
    ----------
    estimator : GaussianMixture
        The sweep's template cloned with the candidate's configuration.
    seed : SeedSequence
        The candidate's stream (``SeedPlan.candidate(i)``).
    evaluator : Evaluator
    reference : tuple of float
        Per-fold scores of the best complete candidate before this batch (held-out).
    """

    estimator: GaussianMixture
    seed: np.random.SeedSequence
    evaluator: Evaluator
    reference: tuple[float, ...] = ()

    @property
    def config(self) -> Config:
        e = self.estimator
        return (e.n_components, e.covariance_type, e.reg_covar)

    def run(self, blas_threads: int | None = None) -> Outcome:
        """Evaluate the candidate, with at most ``blas_threads`` BLAS/OpenMP threads."""
        with _thread_limit(blas_threads):
            return self.evaluator.evaluate(self.estimator, self.seed, self.reference)


@runtime_checkable
class Runner(Protocol):
    """Runs tasks and yields their outcomes **in task order**, each as soon as it is ready (so
    a checkpoint keeps every finished candidate even when a batch is interrupted).

    A Dask runner submits ``task.run`` (with ``blas_threads=1``) for each task and gathers
    the outcomes; nothing else is needed of it.
    """

    def run(self, tasks: Sequence[Task]) -> Iterable[Outcome]: ...


class SerialRunner:
    """Every task in this process, one after the other, with this process's BLAS threads."""

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        return (task.run() for task in tasks)


@dataclass(frozen=True)
class ProcessRunner:
    """Tasks in ``n_jobs`` worker processes (joblib's loky), each capped at ``blas_threads``
    BLAS threads so that workers do not oversubscribe the cores.

    Parameters
    ----------
    n_jobs : int, optional
        Worker processes; ``-1`` one per core; ``None`` or 1 runs in this process.
    blas_threads : int or None, default=1
        BLAS/OpenMP threads per worker task (``None``: no cap).
    """

    n_jobs: int | None = None
    blas_threads: int | None = 1

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        if (self.n_jobs or 1) == 1 or len(tasks) == 1:
            return SerialRunner().run(tasks)
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=self.n_jobs, return_as="generator")
        return iter(parallel(delayed(Task.run)(t, self.blas_threads) for t in tasks))


class ClusterRunner:
    """Tasks on a Dask cluster: the current ``distributed.Client``'s workers.

    What every task shares (the evaluator: whitened rows or folds) is scattered to the workers
    once; each candidate is a task run with one BLAS thread; an interruption cancels what is
    queued. ``distributed`` itself is only used through the client it is given.

    Parameters
    ----------
    client : distributed.Client
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._shared: dict[int, tuple[Any, Any]] = {}

    @classmethod
    def current(cls) -> ClusterRunner | None:
        """A runner on the current client's cluster, or ``None`` when there is none."""
        client = current_client()
        return None if client is None else cls(client)

    def _share(self, obj: Any) -> Any:
        key = id(obj)
        if key not in self._shared:  # the object is kept alive with its future: ids stay unique
            future = self.client.scatter([obj], broadcast=True, hash=False)[0]
            self._shared[key] = (obj, future)
        return self._shared[key][1]

    def run(self, tasks: Sequence[Task]) -> list[Outcome]:
        futures: list[Any] = []
        try:
            for task in tasks:
                futures.append(self.client.submit(
                    _run_on_worker, task.estimator, task.seed, self._share(task.evaluator),
                    task.reference, pure=False,
                ))
            return list(self.client.gather(futures))
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.cancel(futures)
            raise

    def close(self) -> None:
        """Release what was scattered."""
        shared, self._shared = self._shared, {}
        if shared:
            with contextlib.suppress(Exception):
                self.client.cancel([f for _, f in shared.values()])


def _run_on_worker(
    estimator: GaussianMixture,
    seed: np.random.SeedSequence,
    evaluator: Evaluator,
    reference: tuple[float, ...],
) -> Outcome:
    """One task on a worker: one BLAS thread (the worker's threads run tasks side by side)."""
    return Task(estimator, seed, evaluator, reference).run(blas_threads=1)
