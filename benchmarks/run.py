"""``python -m benchmarks.run``: mixsynth against scikit-learn, written to docs/benchmarks.md.

Progress goes to stderr, the tables to stdout, and the document is written atomically.
``--quick`` shrinks every problem and repeat count to finish in about a minute: its numbers
are for checking the harness, not for quoting.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from benchmarks.end_to_end import measure_end_to_end
from benchmarks.environment import describe_environment
from benchmarks.measurements import (
    measure_gemm,
    measure_init,
    measure_per_iteration,
    measure_sweep,
)
from benchmarks.memory import measure_memory
from benchmarks.peers import PEER_PROBLEMS, measure_peers
from benchmarks.problems import Problem, digits_pca, digits_problem, synthetic_problem
from benchmarks.report import Results, render

__all__ = ["FULL", "QUICK", "SECTIONS", "Plan", "main", "plan_for"]

SECTIONS = ("gemm", "iterations", "init", "sweep", "memory", "peers", "end-to-end")


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of a run. Shapes are (n, d, K)."""

    quick: bool
    gemm_size: int
    gemm_repeats: int
    extra_iters: int  # m for the expensive problems (full and tied at the large sizes)
    extra_iters_cheap: int  # m where an iteration takes milliseconds (digits, diag, spherical)
    repeats: int
    large: tuple[int, int, int]  # the (100 000, 50, 100)
    wide: tuple[int, int, int]  # the (20 000, 200, 50)
    init_repeats: int
    sweep_components: tuple[int, ...]
    memory_samples: tuple[int, ...]  # both above the packed cache (n d(d+1)/2 · 8 B > 512 MiB)
    memory_components: int
    memory_iters: int
    memory_sklearn_all: bool  # False: scikit-learn only at the largest n
    two_threads_headline: bool  # also the large full problem at 2 threads


FULL = Plan(
    quick=False,
    gemm_size=2000,
    gemm_repeats=5,
    extra_iters=2,
    extra_iters_cheap=10,
    repeats=3,
    large=(100_000, 50, 100),
    wide=(20_000, 200, 50),
    init_repeats=3,
    sweep_components=tuple(range(50, 201, 10)),
    memory_samples=(200_000, 400_000),
    memory_components=50,
    memory_iters=2,
    memory_sklearn_all=True,
    two_threads_headline=True,
)

QUICK = Plan(
    quick=True,
    gemm_size=1000,
    gemm_repeats=3,
    extra_iters=2,
    extra_iters_cheap=8,
    repeats=2,
    large=(10_000, 50, 50),
    wide=(4_000, 200, 10),
    init_repeats=1,
    sweep_components=(50, 100, 150),
    memory_samples=(60_000, 90_000),
    memory_components=5,
    memory_iters=1,
    memory_sklearn_all=False,
    # 2 threads on a 2-core machine shared with other work is oversubscription: the figure is
    # noise there and takes most of a quick run's time
    two_threads_headline=False,
)


def plan_for(quick: bool) -> Plan:
    return QUICK if quick else FULL


class Progress:
    """Timestamped progress lines on stderr."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed:7.1f} s] {message}", file=sys.stderr, flush=True)


def iteration_problems(plan: Plan) -> dict[str, tuple[Callable[[], Problem], int]]:
    """The per-iteration problems of the issue by key, each with its ``m`` (extra iterations).

    Problems are built lazily (the data are cached); cheap iterations get a larger ``m`` so
    that the timed difference stands well above the noise.
    """
    large, wide = plan.large, plan.wide
    m, m_cheap = plan.extra_iters, plan.extra_iters_cheap
    return {
        "digits": (lambda: digits_problem(110), m_cheap),
        "full": (lambda: synthetic_problem(*large, "full"), m),
        # the same problem with the pruned pass switched off: the dense kernels' GEMM rate
        "full-dense": (lambda: synthetic_problem(*large, "full"), m),
        "wide": (lambda: synthetic_problem(*wide, "full"), m),
        "tied": (lambda: synthetic_problem(*large, "tied"), m),
        "diag": (lambda: synthetic_problem(*large, "diag"), m_cheap),
        "spherical": (lambda: synthetic_problem(*large, "spherical"), m_cheap),
    }


def run_gemm(plan: Plan, results: Results, log: Progress) -> None:
    for threads in sorted({1, 2, results.threads}):
        log(f"GEMM {plan.gemm_size}³ at {threads} thread(s)")
        g = measure_gemm(plan.gemm_size, threads=threads, repeats=plan.gemm_repeats)
        results.gemm.append(g)


def run_iterations(plan: Plan, results: Results, log: Progress) -> None:
    problems = iteration_problems(plan)
    jobs = [(key, results.threads) for key in problems]
    if plan.two_threads_headline and results.threads != 2:
        jobs.append(("full", 2))  # the headline problem at 2 threads too
    for key, threads in jobs:
        build, extra_iters = problems[key]
        problem = build()
        label = key if threads == results.threads else f"{key}-{threads}t"
        log(f"per-iteration {label}: {problem.name}, {problem.covariance_type}")
        it = measure_per_iteration(
            problem, extra_iters=extra_iters, repeats=plan.repeats, threads=threads,
            dense_only=key == "full-dense",
        )
        log(f"  sklearn {it.sklearn_ms:.1f} ms, mixsynth {it.mixsynth_ms:.1f} ms, "
            f"ratio {it.speedup:.2f}, agreement {it.agreement:.1e}")  # fmt: skip
        results.iterations[label] = it


def run_init(plan: Plan, results: Results, log: Progress) -> None:
    X_digits, large = digits_pca(), synthetic_problem(*plan.large)
    cases = [
        (f"digits PCA-{X_digits.shape[1]}", X_digits, 110),
        (large.name, large.X, large.n_components),
    ]
    for name, X, k in cases:
        log(f"k-means init: {name}, K={k}")
        results.inits.append(
            measure_init(name, X, k, repeats=plan.init_repeats, threads=results.threads)
        )


def run_sweep(plan: Plan, results: Results, log: Progress) -> None:
    X = digits_pca()
    log(f"sweep: digits PCA-{X.shape[1]}, K = {', '.join(map(str, plan.sweep_components))}")
    results.sweep = measure_sweep(
        f"digits PCA-{X.shape[1]}", X, plan.sweep_components, threads=results.threads
    )


def run_memory(plan: Plan, results: Results, log: Progress) -> None:
    largest = max(plan.memory_samples)
    for n in plan.memory_samples:
        libs = ("sklearn", "mixsynth") if plan.memory_sklearn_all or n == largest else ("mixsynth",)
        for lib in libs:
            log(f"peak memory: {lib}, n={n}, K={plan.memory_components}")
            results.memory.append(
                measure_memory(
                    lib, n, 50, plan.memory_components,
                    iters=plan.memory_iters, threads=results.threads,
                )
            )  # fmt: skip


def run_peers(plan: Plan, results: Results, log: Progress) -> None:
    """pomegranate and TorchGMM against mixsynth and scikit-learn, one subprocess each; a peer
    that cannot run is recorded with its reason."""
    results.peers = measure_peers(
        tuple(PEER_PROBLEMS), quick=plan.quick, threads=results.threads, log=log
    )


def run_end_to_end(plan: Plan, results: Results, log: Progress) -> None:
    results.end_to_end = measure_end_to_end(quick=plan.quick, log=log)


RUNNERS: dict[str, Callable[[Plan, Results, Progress], None]] = {
    "gemm": run_gemm,
    "iterations": run_iterations,
    "init": run_init,
    "sweep": run_sweep,
    "memory": run_memory,
    "peers": run_peers,
    "end-to-end": run_end_to_end,
}


def run_section(section: str, plan: Plan, results: Results, log: Progress) -> None:
    """Run one section; a failure is logged and recorded in the document, and the run goes on
    (a long reference run is not lost to one failing measurement)."""
    try:
        RUNNERS[section](plan, results, log)
    except Exception as exc:  # reported in full, then the next section runs
        log(f"{section} FAILED:\n{traceback.format_exc()}")
        results.errors[section] = f"{type(exc).__name__}: {exc}"


def write_document(text: str, out: Path) -> None:
    """Write ``text`` to ``out`` atomically (temporary file, fsync, ``os.replace``)."""
    from mixsynth.io.atomic import atomic_write

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "w", overwrite=True) as f:
        f.write(text)


def load_scale_results(path: Path, log: Callable[[str], None]) -> dict[str, Any] | None:
    """The scale benchmark's saved results (it runs apart: ``make bench-scale``), or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log(f"no scale results at {path}: section 7 reads 'not measured'")
        return None
    except (OSError, ValueError) as exc:
        log(f"cannot read the scale results {path}: {exc}")
        return None
    if not isinstance(data, dict) or data.get("format") != "mixsynth-benchmarks-scale":
        log(f"{path} is not a scale benchmark result file")
        return None
    return data


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats (~1 minute)")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"),
                   help="Markdown document to write (default: docs/benchmarks.md)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default: 1)")
    p.add_argument("--scale-results", type=Path, default=Path("docs/benchmarks-scale.json"),
                   help="results saved by `python -m benchmarks.scale`, reported in section 7 "
                   "(default: docs/benchmarks-scale.json)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)}")  # fmt: skip
    a = p.parse_args(argv)
    unknown = set(a.sections.split(",")) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    return a


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the document, write it to ``--out``; 1 if a section failed."""
    args = parse_args(argv)
    plan = plan_for(args.quick)
    log = Progress()
    argv_text = shlex.join(sys.argv[1:] if argv is None else argv)
    results = Results(
        environment=describe_environment(),
        command=f"python -m benchmarks.run {argv_text}".rstrip(),
        quick=plan.quick,
        threads=args.threads,
    )
    with threadpool_limits(args.threads):  # data preparation too; measurements set their own
        for section in SECTIONS:
            if section in args.sections.split(","):
                run_section(section, plan, results, log)
    results.seconds = log.elapsed
    results.scale = load_scale_results(args.scale_results, log)
    text = render(results)
    print(text)
    write_document(text, args.out)
    log(f"wrote {args.out}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
