"""The one EM loop: every path (in memory, chunked, distributed) calls it with its own
``stats_fn``; :func:`run_em_lockstep` advances several such loops together, one shared pass of
the data per iteration for every run still going.

The loop knows no component family: ``stats_fn`` computes the statistics (through
:func:`~mixsynth.core.suffstats`, i.e. the family's own pass) and the M-step is the family's
(``stats.family.m_step``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixsynth.core.params import Params
from mixsynth.core.stats import Stats

__all__ = ["EMResult", "IterationInfo", "run_em", "run_em_lockstep"]


@dataclass(frozen=True)
class IterationInfo:
    """What ``on_iter`` is told after each iteration."""

    n_iter: int
    lower_bound: float
    change: float


@dataclass(frozen=True, eq=False)
class EMResult:
    """Outcome of :func:`run_em`.

    ``lower_bound`` is the mean per-sample log-likelihood computed in the last E-step, i.e. of
    the parameters *before* the last M-step (scikit-learn's convention for ``lower_bound_``).
    """

    params: Params
    lower_bound: float
    n_iter: int
    converged: bool
    lower_bounds: tuple[float, ...]


def run_em(
    stats_fn: Callable[[Params], Stats],
    params0: Params,
    *,
    reg_covar: float,
    tol: float,
    max_iter: int,
    lower_bound0: float = -np.inf,
    on_iter: Callable[[IterationInfo], None] | None = None,
) -> EMResult:
    """Iterate E-step (``stats_fn``: statistics summed over all chunks) and M-step.

    Parameters
    ----------
    stats_fn : callable
        ``stats_fn(params) -> Stats``: one full pass over the data.
    params0 : Params
        Initial parameters.
    reg_covar, tol, max_iter
        As in scikit-learn; convergence when the mean per-sample log-likelihood changes by less
        than ``tol`` (scale-free: it does not grow with the number of rows).
    lower_bound0 : float
        Previous lower bound (warm start).
    on_iter : callable, optional
        Called with an :class:`IterationInfo` after each iteration (progress, logging).
    """
    run = _Trajectory(params0, reg_covar, tol, max_iter, lower_bound0)
    while not run.done:
        info = run.step(stats_fn(run.params))
        if on_iter is not None:
            on_iter(info)
    return run.result()


def run_em_lockstep(
    stats_fn: Callable[[Sequence[int], Sequence[Params]], Sequence[Stats]],
    params0: Sequence[Params],
    *,
    reg_covar: float | Sequence[float],
    tol: float | Sequence[float],
    max_iter: int | Sequence[int],
    lower_bound0: float | Sequence[float] = -np.inf,
    on_iter: Callable[[int, IterationInfo], None] | None = None,
) -> list[EMResult]:
    """Several EM runs advanced together: one call of ``stats_fn`` (one shared pass over the
    data) per iteration for all the runs still going.

    Run ``i`` follows exactly the trajectory :func:`run_em` gives it alone (the same E-step
    statistics, M-step, convergence rule and ``lower_bound`` convention); a run that converges
    or reaches its ``max_iter`` leaves the later passes.

    Parameters
    ----------
    stats_fn : callable
        ``stats_fn(runs, params) -> statistics``: one full pass computing, for each index in
        ``runs``, the statistics of the matching parameters (in that order).
    params0 : sequence of Params
        Initial parameters, one per run.
    reg_covar, tol, max_iter, lower_bound0
        As in :func:`run_em`: one value for every run, or one per run.
    on_iter : callable, optional
        ``on_iter(run, info)`` after each iteration of each run.

    Returns
    -------
    list of EMResult, one per run, in the order of ``params0``
    """
    n = len(params0)
    regs, tols = _per_run(reg_covar, n), _per_run(tol, n)
    iters, lbs = _per_run(max_iter, n), _per_run(lower_bound0, n)
    runs = [
        _Trajectory(p, float(r), float(t), int(m), float(lb))
        for p, r, t, m, lb in zip(params0, regs, tols, iters, lbs, strict=True)
    ]
    while True:
        active = [i for i, run in enumerate(runs) if not run.done]
        if not active:
            break
        stats = list(stats_fn(active, [runs[i].params for i in active]))
        if len(stats) != len(active):
            raise ValueError(
                f"stats_fn returned {len(stats)} statistics for {len(active)} runs."
            )
        for i, s in zip(active, stats, strict=True):
            info = runs[i].step(s)
            if on_iter is not None:
                on_iter(i, info)
    return [run.result() for run in runs]


def _per_run(value: Any, n: int) -> list[Any]:
    """``value`` for each of ``n`` runs (a scalar is shared)."""
    if isinstance(value, (Sequence, np.ndarray)):
        values = list(value)
        if len(values) != n:
            raise ValueError(f"Expected one value per run ({n}), got {len(values)}.")
        return values
    return [value] * n


class _Trajectory:
    """The state of one EM run between passes; :meth:`step` is one iteration given the
    E-step's statistics. Shared by :func:`run_em` and :func:`run_em_lockstep`, so that a run
    advanced in lock-step is the run advanced alone."""

    def __init__(
        self, params0: Params, reg_covar: float, tol: float, max_iter: int, lower_bound0: float
    ) -> None:
        self.params = params0
        self.reg_covar, self.tol, self.max_iter = reg_covar, tol, max_iter
        self.lower_bound = lower_bound0
        self.history: list[float] = []
        self.converged = False
        self.n_iter = 0
        self.done = max_iter < 1

    def step(self, stats: Stats) -> IterationInfo:
        self.n_iter += 1
        previous = self.lower_bound
        self.lower_bound = stats.mean_loglik
        self.history.append(self.lower_bound)
        self.params = stats.family.m_step(stats, self.reg_covar)
        change = self.lower_bound - previous
        if abs(change) < self.tol:
            self.converged = self.done = True
        elif self.n_iter >= self.max_iter:
            self.done = True
        return IterationInfo(self.n_iter, self.lower_bound, change)

    def result(self) -> EMResult:
        return EMResult(
            self.params, self.lower_bound, self.n_iter, self.converged, tuple(self.history)
        )
