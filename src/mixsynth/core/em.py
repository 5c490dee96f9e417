"""The one EM loop: every path (in memory, chunked, distributed) calls it with its own
``stats_fn``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mixsynth.core.mstep import m_step
from mixsynth.core.params import Params
from mixsynth.core.suffstats import Stats

__all__ = ["EMResult", "IterationInfo", "run_em"]


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
    params = params0
    lower_bound = lower_bound0
    history: list[float] = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        stats = stats_fn(params)
        lower_bound = stats.mean_loglik
        history.append(lower_bound)
        params = m_step(stats, reg_covar)
        change = lower_bound - previous
        if on_iter is not None:
            on_iter(IterationInfo(n_iter, lower_bound, change))
        if abs(change) < tol:
            converged = True
            break
    return EMResult(params, lower_bound, n_iter, converged, tuple(history))
