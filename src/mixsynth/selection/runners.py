"""Where candidate tasks run: this process, worker processes, or any object that speaks the
:class:`Runner` protocol (a Dask cluster).

A :class:`Task` is one candidate: a configured estimator, its seed stream, the evaluator and
the abandonment reference. It is a picklable value, so it runs the same anywhere; its seeds
depend on its index in the grid, never on the worker or the order of completion, so every
runner gives the same results.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.gaussian_mixture import blas_threads as _thread_limit
from mixsynth.selection.evaluators import (
    Evaluator,
    Fold,
    HeldOut,
    InformationCriterion,
    Outcome,
)
from mixsynth.selection.result import Config
from mixsynth.sources import Source

__all__ = [
    "MapRunner",
    "MapStyleRunner",
    "ProcessRunner",
    "Runner",
    "SerialRunner",
    "Task",
    "as_runner",
]


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


class MapStyleRunner(Protocol):
    """The earlier runner protocol: ``map(task dicts)`` returns the outcomes in order, each
    task dict being the keyword arguments of :func:`evaluate_task`."""

    def map(self, tasks: Sequence[dict[str, Any]]) -> Iterable[Outcome]: ...


class MapRunner:
    """Adapts an object with the earlier ``map(list of task dicts)`` protocol (such as
    :class:`mixsynth.distributed.ClusterRunner`) to :class:`Runner`: each task travels as the
    keyword arguments of :func:`evaluate_task`, which that object calls on its workers."""

    def __init__(self, inner: MapStyleRunner) -> None:
        self.inner = inner

    def run(self, tasks: Sequence[Task]) -> Iterable[Outcome]:
        return self.inner.map([_as_dict(t) for t in tasks])


def as_runner(runner: Runner | MapStyleRunner) -> Runner:
    """``runner`` itself when it speaks :class:`Runner`, else wrapped in :class:`MapRunner`."""
    if isinstance(runner, Runner):
        return runner
    return MapRunner(runner)


def _as_dict(task: Task) -> dict[str, Any]:
    ev = task.evaluator
    params = {k: task.estimator.get_params()[k] for k in ("tol", "max_iter", "n_init",
                                                           "init_params")}
    return dict(
        config=task.config, seed=task.seed, criterion=ev.criterion,
        Z=ev.Z if isinstance(ev, InformationCriterion) else None,
        # the same objects for every task: a cluster runner scatters each once (keyed by id)
        folds=ev.folds if isinstance(ev, HeldOut) else (),
        params=params, reference=task.reference,
    )


def evaluate_task(
    config: Config,
    seed: np.random.SeedSequence,
    *,
    criterion: str,
    Z: NDArray[np.float64] | Source | None,
    folds: Sequence[Fold],
    params: dict[str, Any],
    reference: tuple[float, ...] = (),
) -> Outcome:
    """One task from its keyword form (the :class:`MapRunner` protocol).

    ``params`` holds the template's ``tol``, ``max_iter``, ``n_init`` and ``init_params``; a
    runner may add ``"_blas_threads"`` to it, the thread cap of that earlier protocol.
    """
    params = dict(params)
    blas_threads = params.pop("_blas_threads", None)
    k, cov, reg = config
    estimator = GaussianMixture(n_components=k, covariance_type=cov, reg_covar=reg, **params)
    evaluator: Evaluator
    if criterion == "heldout":
        evaluator = HeldOut(folds)
    elif Z is None:
        raise ValueError(f"criterion={criterion!r} needs the whitened data Z.")
    else:
        evaluator = InformationCriterion(criterion, Z)
    return Task(estimator, seed, evaluator, tuple(reference)).run(blas_threads)

