"""The full-covariance pass the cost model chooses, against both passes forced, same run.

``python -m benchmarks.pass_choice [--problems wide,wide-overlap,full,full16,digits]
[--threads 1,2]``: for each problem and thread count, mixsynth's per-iteration time with the
default choice, with the pruned pass forced (the cost model and the sample test bypassed) and
with the dense pass forced (``core._reference.dense_only``), plus scikit-learn's at the same
threads for same-run ratios; and which pass the default took. Issue 13, point 3: the choice
must be the faster pass on every row. Times as in section 2 of the report
(:func:`benchmarks.measurements.timed_iterations`: (T(1 + m) − T(1)) / m, median of repeats).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from threadpoolctl import threadpool_limits

from benchmarks.measurements import initialised_estimator
from benchmarks.problems import OVERLAP_SEPARATION, Problem, digits_problem, synthetic_problem
from benchmarks.timing import median, quiet_convergence
from mixsynth.core import pruning
from mixsynth.core._reference import dense_only

PROBLEMS: dict[str, Callable[[], Problem]] = {
    "wide": lambda: synthetic_problem(20_000, 200, 50, "full"),
    "wide-overlap": lambda: synthetic_problem(
        20_000, 200, 50, "full", separation=OVERLAP_SEPARATION
    ),
    "full": lambda: synthetic_problem(100_000, 50, 100, "full"),
    "full16": lambda: synthetic_problem(100_000, 32, 16, "full"),
    "digits": lambda: digits_problem(110),
}


@contextlib.contextmanager
def forced_pruned() -> Iterator[None]:
    """The pruned pass whenever it can run at all: the cost model allows every pair."""
    saved = pruning._max_kept_per_row
    pruning._max_kept_per_row = lambda d, K, threads: float(K)  # type: ignore[assignment]
    try:
        yield
    finally:
        pruning._max_kept_per_row = saved  # type: ignore[assignment]


@contextlib.contextmanager
def counting() -> Iterator[list[bool]]:
    """Records what each call of the pruned pass's body returned (True: it ran)."""
    calls: list[bool] = []
    saved = pruning._pruned_full_sums

    def wrapped(*args: Any) -> bool:
        ok = saved(*args)
        calls.append(ok)
        return ok

    pruning._pruned_full_sums = wrapped  # type: ignore[assignment]
    try:
        yield calls
    finally:
        pruning._pruned_full_sums = saved  # type: ignore[assignment]


def _timed_fit(start: Any, X: Any, iters: int) -> tuple[float, float, float]:
    """Wall and CPU seconds (this process, all threads) of ``iters`` iterations from a copy of
    ``start``, and the ``lower_bound_``."""
    est = copy.deepcopy(start).set_params(max_iter=iters)
    gc.disable()
    try:
        with quiet_convergence():
            w0, c0 = time.perf_counter(), time.process_time()
            est.fit(X)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        gc.enable()
    return wall, cpu, float(est.lower_bound_)


def measure_modes(
    problem: Problem, modes: dict[str, Callable[[], Any]], m: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Per-iteration wall and CPU time of every mode, the modes interleaved within each repeat
    (a change of the machine's load hits them all alike)."""
    starts = {}
    for mode, ctx in modes.items():
        with ctx():
            lib = "sklearn" if mode == "sklearn" else "mixsynth"
            starts[mode] = initialised_estimator(lib, problem)
    raw: dict[str, dict[str, list[float]]] = {
        mode: {"w1": [], "wl": [], "c1": [], "cl": []} for mode in modes
    }
    out: dict[str, dict[str, Any]] = {mode: {} for mode in modes}
    for r in range(repeats):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for mode in order:
            with modes[mode](), counting() as calls:
                for iters in (1, 1 + m) if r % 2 == 0 else (1 + m, 1):
                    wall, cpu, lb = _timed_fit(starts[mode], problem.X, iters)
                    key = "1" if iters == 1 else "l"
                    raw[mode]["w" + key].append(wall)
                    raw[mode]["c" + key].append(cpu)
                    if iters != 1:
                        out[mode]["lb"] = lb
            out[mode]["pruned_calls"] = f"{sum(calls)}/{len(calls)}"
    for mode, v in raw.items():
        out[mode]["wall_ms"] = 1e3 * median(
            [b - a for a, b in zip(v["w1"], v["wl"], strict=True)]) / m
        out[mode]["cpu_ms"] = 1e3 * median(
            [b - a for a, b in zip(v["c1"], v["cl"], strict=True)]) / m
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", default="wide,wide-overlap")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--extra-iters", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr)
    for key in args.problems.split(","):
        problem = PROBLEMS[key]()
        for threads in map(int, args.threads.split(",")):
            row: dict[str, Any] = {"problem": key, "name": problem.name, "threads": threads}
            modes: dict[str, Callable[[], Any]] = {
                "default": contextlib.nullcontext,
                "pruned": forced_pruned,
                "dense": dense_only,
            }
            if not args.no_sklearn:
                modes["sklearn"] = contextlib.nullcontext
            with threadpool_limits(threads):
                res = measure_modes(problem, modes, args.extra_iters, args.repeats)
            row["modes"] = res
            row["load"] = os.getloadavg()
            for clock in ("wall_ms", "cpu_ms"):
                p, d = res["pruned"][clock], res["dense"][clock]
                row[f"faster_by_{clock}"] = "pruned" if p < d else "dense"
            print(json.dumps(row), flush=True)
            text = f"{key:13s} {threads}t"
            for mode, v in res.items():
                text += f" | {mode} {v['wall_ms']:.0f} wall {v['cpu_ms']:.0f} cpu"
                if mode != "sklearn":
                    text += f" ({v['pruned_calls']})"
            print(text + f" | load {row['load'][0]:.2f}", file=sys.stderr, flush=True)
            rows.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
