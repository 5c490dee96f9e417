"""The measurements: one function each, returning a frozen result with ``to_dict()``.

Every function takes ``threads`` and runs under ``threadpool_limits(threads)`` (BLAS and
OpenMP alike), so both libraries get the same threads.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from benchmarks.problems import Problem
from benchmarks.timing import (
    LIBRARIES,
    alternating,
    estimator_class,
    median,
    quiet_convergence,
    ratio,
    relative_difference,
    timed,
    timed_fit,
)
from mixsynth.core._reference import dense_only as dense_only_engine

__all__ = [
    "GemmResult",
    "InitResult",
    "IterationResult",
    "SweepResult",
    "SweepRow",
    "full_iteration_flops",
    "initialised_estimator",
    "measure_gemm",
    "measure_init",
    "measure_per_iteration",
    "measure_sweep",
    "timed_iterations",
]

Array = NDArray[np.float64]


def full_iteration_flops(n: int, d: int, k: int) -> float:
    """Flops of one full-covariance EM iteration, leading terms only.

    ``4 n K d(d+1)/2`` (E-step: packed outer products × packed precisions; M-step:
    responsibilities × packed outer products) ``+ 4 n K d`` (E-step ``X (A mu)``; M-step
    ``R^T X``). Terms in ``n K`` (exp, logsumexp) and ``K d^3`` (Cholesky) are left out.
    """
    packed = d * (d + 1) / 2
    return 4.0 * n * k * packed + 4.0 * n * k * d


# ---------------------------------------------------------------------------------- GEMM


@dataclass(frozen=True)
class GemmResult:
    """Float64 matrix-product throughput."""

    size: int
    threads: int
    gflops: float
    seconds: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_gemm(size: int, *, threads: int, repeats: int, seed: int = 0) -> GemmResult:
    """GFLOP/s (``2 size^3`` flops over the median time) of a square float64 ``A @ B``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((size, size))
    B = rng.standard_normal((size, size))
    with threadpool_limits(threads):
        A @ B  # warm-up: BLAS buffers and threads
        seconds = tuple(timed(lambda: A @ B)[0] for _ in range(repeats))
    return GemmResult(size, threads, 2.0 * size**3 / median(seconds) / 1e9, seconds)


# ------------------------------------------------------------------------- EM iteration


@dataclass(frozen=True)
class IterationResult:
    """Time of one EM iteration, ``(T(1 + m) - T(1)) / m`` through ``fit``, both libraries.

    ``sklearn_ms`` / ``mixsynth_ms`` are medians over the repeats of the paired differences;
    ``agreement`` is the relative difference of ``lower_bound_`` after ``2 + m`` iterations
    (one untimed, then ``1 + m`` timed).
    """

    problem: str
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    threads: int
    extra_iters: int
    repeats: int
    sklearn_ms: float
    mixsynth_ms: float
    speedup: float
    agreement: float
    sklearn_lower_bound: float
    mixsynth_lower_bound: float
    raw_seconds: dict[str, dict[int, tuple[float, ...]]] = field(repr=False)
    #: mixsynth ran with the pruned full-covariance pass switched off (dense kernels only)
    dense_only: bool = False

    @property
    def flops(self) -> float:
        """Leading-term flops of one iteration (full covariance only; nan otherwise)."""
        if self.covariance_type != "full":
            return float("nan")
        return full_iteration_flops(self.n_samples, self.n_features, self.n_components)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def initialised_estimator(library: str, problem: Problem) -> Any:
    """``library``'s estimator after one EM iteration from the problem's initial parameters.

    Fitted with ``warm_start=True``, so that a later ``fit`` on a copy continues EM from this
    state with no initialisation. (Not ``max_iter=0``: scikit-learn 1.9 fails on it when
    ``precisions_init`` is given.) ``random_from_data`` is the cheapest initialisation; the
    ``*_init`` parameters override its result anyway.
    """
    params = {
        **problem.estimator_kwargs(),
        "max_iter": 1,
        "tol": 0.0,
        "init_params": "random_from_data",
        "random_state": 0,
        "warm_start": True,
    }
    with quiet_convergence():
        return estimator_class(library)(**params).fit(problem.X)


def timed_iterations(initialised: Any, X: Array, max_iter: int) -> tuple[float, float]:
    """Seconds of ``fit`` for ``max_iter`` EM iterations from a copy of ``initialised``, and
    the resulting ``lower_bound_``. The copy is made outside the timing."""
    est = copy.deepcopy(initialised).set_params(max_iter=max_iter)
    with quiet_convergence():
        seconds, _ = timed(lambda: est.fit(X))
    return seconds, float(est.lower_bound_)


def measure_per_iteration(
    problem: Problem, *, extra_iters: int, repeats: int, threads: int, dense_only: bool = False
) -> IterationResult:
    """Per-iteration time of both libraries on ``problem``, initialisation excluded.

    Each library is initialised and iterated once (untimed, :func:`initialised_estimator`);
    every timed ``fit`` continues a copy of that state (``warm_start``) for 1 or ``1 + m``
    iterations with ``tol=0``. The difference of the
    two times removes what a ``fit`` does besides iterating (validation, scikit-learn's final
    E-step, mixsynth's centring and packed-product cache).

    Parameters
    ----------
    problem : Problem
    extra_iters : int
        ``m``: iterations beyond the first in the long fit.
    repeats : int
        Pairs of fits (1 and ``1 + m`` iterations) per library.
    threads : int
        BLAS/OpenMP threads.
    dense_only : bool
        Switch mixsynth's pruned full-covariance pass off (``core._reference.dense_only``), to
        measure the dense kernels: the GEMM-efficiency figure.
    """
    if extra_iters < 1 or repeats < 1:
        raise ValueError("extra_iters and repeats must be at least 1")
    long_iters = 1 + extra_iters
    seconds: dict[str, dict[int, list[float]]] = {lib: {1: [], long_iters: []} for lib in LIBRARIES}
    lower_bounds: dict[str, float] = {}
    switch = dense_only_engine() if dense_only else contextlib.nullcontext()
    with threadpool_limits(threads), switch:
        start = {lib: initialised_estimator(lib, problem) for lib in LIBRARIES}
        for r in range(repeats):
            for lib in alternating(r):
                # short fit first, then long first: a slow start does not bias one of them
                for iters in (1, long_iters) if r % 2 == 0 else (long_iters, 1):
                    t, lower_bound = timed_iterations(start[lib], problem.X, iters)
                    seconds[lib][iters].append(t)
                    if iters == long_iters:
                        lower_bounds[lib] = lower_bound
    per_iter = {
        lib: median([b - a for a, b in zip(s[1], s[long_iters], strict=True)]) / extra_iters
        for lib, s in seconds.items()
    }
    return IterationResult(
        problem=problem.name,
        n_samples=problem.n_samples,
        n_features=problem.n_features,
        n_components=problem.n_components,
        covariance_type=problem.covariance_type,
        threads=threads,
        extra_iters=extra_iters,
        repeats=repeats,
        sklearn_ms=1e3 * per_iter["sklearn"],
        mixsynth_ms=1e3 * per_iter["mixsynth"],
        speedup=ratio(per_iter["sklearn"], per_iter["mixsynth"]),
        agreement=relative_difference(lower_bounds["sklearn"], lower_bounds["mixsynth"]),
        sklearn_lower_bound=lower_bounds["sklearn"],
        mixsynth_lower_bound=lower_bounds["mixsynth"],
        raw_seconds={lib: {k: tuple(v) for k, v in s.items()} for lib, s in seconds.items()},
        dense_only=dense_only,
    )


# ------------------------------------------------------------------------ initialisation


@dataclass(frozen=True)
class InitResult:
    """k-means initialisation time: ``fit(max_iter=0, init_params="kmeans")``.

    scikit-learn's ``fit`` ends with one more E-step even when ``max_iter=0``;
    ``sklearn_estep_s`` estimates it (``score_samples`` of the result) and ``speedup`` uses
    ``sklearn_s - sklearn_estep_s``; ``speedup_raw`` uses ``sklearn_s`` as it is.
    """

    name: str
    n_samples: int
    n_features: int
    n_components: int
    threads: int
    repeats: int
    sklearn_s: float
    sklearn_estep_s: float
    mixsynth_s: float
    speedup: float
    speedup_raw: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_init(
    name: str, X: Array, n_components: int, *, repeats: int, threads: int, random_state: int = 0
) -> InitResult:
    """Median time of the k-means initialisation of both libraries (same ``random_state``)."""
    params = {"n_components": n_components, "max_iter": 0, "random_state": random_state}
    seconds: dict[str, list[float]] = {lib: [] for lib in LIBRARIES}
    estep: list[float] = []
    with threadpool_limits(threads):
        for r in range(repeats):
            for lib in alternating(r):
                t, est = timed_fit(lib, X, **params)
                seconds[lib].append(t)
                if lib == "sklearn":
                    estep.append(timed(functools.partial(est.score_samples, X))[0])
    sk, sk_estep, ms = median(seconds["sklearn"]), median(estep), median(seconds["mixsynth"])
    return InitResult(
        name=name,
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_components=n_components,
        threads=threads,
        repeats=repeats,
        sklearn_s=sk,
        sklearn_estep_s=sk_estep,
        mixsynth_s=ms,
        speedup=ratio(sk - sk_estep, ms),
        speedup_raw=ratio(sk, ms),
    )


# -------------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class SweepRow:
    """One model of the sweep, fitted end to end by both libraries."""

    n_components: int
    sklearn_s: float
    mixsynth_s: float
    sklearn_n_iter: int
    mixsynth_n_iter: int
    agreement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SweepResult:
    """A sweep over the number of components: per-model rows and totals."""

    name: str
    threads: int
    rows: tuple[SweepRow, ...]

    @property
    def sklearn_s(self) -> float:
        return sum(r.sklearn_s for r in self.rows)

    @property
    def mixsynth_s(self) -> float:
        return sum(r.mixsynth_s for r in self.rows)

    @property
    def speedup(self) -> float:
        return ratio(self.sklearn_s, self.mixsynth_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threads": self.threads,
            "rows": [r.to_dict() for r in self.rows],
            "sklearn_s": self.sklearn_s,
            "mixsynth_s": self.mixsynth_s,
            "speedup": self.speedup,
        }


def measure_sweep(
    name: str,
    X: Array,
    components: tuple[int, ...],
    *,
    threads: int,
    covariance_type: str = "full",
    random_state: int = 0,
) -> SweepResult:
    """Fit one model per number of components, end to end (k-means init, default ``tol`` and
    ``max_iter``), with both libraries; ``agreement`` compares the final ``lower_bound_``."""
    rows = []
    with threadpool_limits(threads):
        for i, k in enumerate(components):
            params = {
                "n_components": k,
                "covariance_type": covariance_type,
                "random_state": random_state,
            }
            fits = {lib: timed_fit(lib, X, **params) for lib in alternating(i)}
            (t_sk, sk), (t_ms, ms) = fits["sklearn"], fits["mixsynth"]
            rows.append(
                SweepRow(
                    n_components=k,
                    sklearn_s=t_sk,
                    mixsynth_s=t_ms,
                    sklearn_n_iter=int(sk.n_iter_),
                    mixsynth_n_iter=int(ms.n_iter_),
                    agreement=relative_difference(sk.lower_bound_, ms.lower_bound_),
                )
            )
    return SweepResult(name, threads, tuple(rows))
