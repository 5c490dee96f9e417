"""mixsynth's E-steps on a PyTorch device against the processor, per EM iteration.

For each problem, three estimators start from the same parameters (one untimed iteration from
the problem's initial parameters, :func:`benchmarks.measurements.initialised_estimator`):
scikit-learn, mixsynth on the processor (every core), and mixsynth with ``device=`` (the
:class:`mixsynth.sources.DeviceSource`: rows copied to the device once per ``fit``, then one
pass there per iteration). Per-iteration time = (T(1 + m) − T(1)) / m, median over the repeats,
so the copy to the device, validation and the other per-fit costs cancel. The final lower
bounds of the long fits are compared (same start, same iterations: they must agree to
rounding). Then one default ``fit`` from scratch (k-means initialisation, ``tol=1e-3``) of the
largest problem, on the processor and on the device, end to end.

``python -m benchmarks.device [--device cuda] [--quick] [--json PATH]`` prints the table
(run on the lent GPU machine: see docs/benchmarks-device.md for the command);
``python -m benchmarks.device --report PATH.json`` turns a saved JSON into that page.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np

__all__ = ["main", "measure"]

#: key -> (n, d, K, covariance type, separation) of synthetic problems; "digits": digits PCA-41.
PROBLEMS: dict[str, tuple[int, int, int, str, float] | None] = {
    "digits": None,
    "full": (100_000, 50, 100, "full", 2.0),
    "wide-overlap": (20_000, 200, 50, "full", 0.25),
    "big": (1_000_000, 50, 100, "full", 2.0),
    "big-diag": (1_000_000, 50, 100, "diag", 2.0),
}
QUICK: dict[str, tuple[int, int, int, str, float] | None] = {
    "digits": None,
    "full": (5_000, 20, 10, "full", 2.0),
    "big-diag": (20_000, 20, 10, "diag", 2.0),
}
#: Problems too slow for scikit-learn inside a device lease: reported without it.
NO_SKLEARN = ("big", "big-diag")


def _problem(key: str, spec: tuple[int, int, int, str, float] | None) -> Any:
    from benchmarks.problems import digits_problem, synthetic_problem

    if spec is None:
        return digits_problem(110)
    n, d, k, cov, separation = spec
    return synthetic_problem(n, d, k, cov, separation=separation)


def _per_iteration(start: Any, X: np.ndarray, m: int, repeats: int, **params: Any
                   ) -> tuple[float, float, list[float]]:
    """Median seconds per iteration of ``fit`` continuing copies of ``start``, the final lower
    bound, and the raw (short, long) times."""
    from benchmarks.measurements import timed_iterations

    est = copy.deepcopy(start).set_params(**params)
    timed_iterations(est, X, 1)  # warm-up (the device's first kernels compile and cache)
    per, raw, bound = [], [], float("nan")
    for r in range(repeats):
        order = (1, 1 + m) if r % 2 == 0 else (1 + m, 1)
        t = {}
        for iters in order:
            t[iters], b = timed_iterations(est, X, iters)
            if iters == 1 + m:
                bound = b
        per.append((t[1 + m] - t[1]) / m)
        raw += [t[1], t[1 + m]]
    return float(np.median(per)), bound, raw


def measure(device: str, problems: dict[str, Any], m: int, repeats: int, *,
            sklearn: bool = True, end_to_end_key: str | None = "") -> dict[str, Any]:
    """The table's rows (see the module docstring)."""
    from threadpoolctl import threadpool_info

    from benchmarks.measurements import initialised_estimator
    from benchmarks.timing import quiet_convergence
    from mixsynth import GaussianMixture

    rows = []
    largest = None
    for key, spec in problems.items():
        t0 = time.perf_counter()
        problem = _problem(key, spec)
        X = problem.X
        row: dict[str, Any] = {"problem": key, "name": problem.name, "n": X.shape[0],
                               "d": X.shape[1], "K": problem.n_components,
                               "covariance_type": problem.covariance_type}
        start = initialised_estimator("mixsynth", problem)
        row["cpu_s"], row["cpu_bound"], row["cpu_raw"] = _per_iteration(start, X, m, repeats)
        row["device_s"], row["device_bound"], row["device_raw"] = _per_iteration(
            start, X, m, repeats, device=device)
        if sklearn and key not in NO_SKLEARN:
            sk = initialised_estimator("sklearn", problem)
            row["sklearn_s"], row["sklearn_bound"], row["sklearn_raw"] = _per_iteration(
                sk, X, m, repeats)
        row["agreement"] = abs(row["device_bound"] - row["cpu_bound"]) / abs(row["cpu_bound"])
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("_raw")}), flush=True)
        if key == end_to_end_key or (end_to_end_key == "" and spec is not None and (
                largest is None or X.size > largest[1].X.size)):
            largest = (key, problem)
    end_to_end = []
    if largest is not None:
        key, problem = largest
        for where in (None, device):
            est = GaussianMixture(problem.n_components, covariance_type=problem.covariance_type,
                                  random_state=0, device=where)
            with quiet_convergence():
                t0 = time.perf_counter()
                est.fit(problem.X)
                seconds = time.perf_counter() - t0
            end_to_end.append({"problem": key, "device": where or "processor",
                               "seconds": seconds, "n_iter": int(est.n_iter_),
                               "lower_bound": float(est.lower_bound_)})
            print(json.dumps(end_to_end[-1]), flush=True)
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device,
        "device_name": _device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load": os.getloadavg(),
        "blas": [{k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                 for i in threadpool_info()],
        "versions": _versions(),
        "extra_iters": m,
        "repeats": repeats,
        "rows": rows,
        "end_to_end": end_to_end,
    }


def synthesizer_rows(device: str) -> list[dict[str, Any]]:
    """The default ``Synthesizer(random_state=0).fit`` of the digits (64 pixel columns), and
    the textbook sweep (PCA 0.99 whitened, K = 50…200 by 10, AIC), on the processor and on
    ``device``: end to end, selection included (its classifier tests run on the processor)."""
    from sklearn.datasets import load_digits

    from benchmarks.timing import quiet_convergence
    from mixsynth import Synthesizer

    X = load_digits().data
    settings = {
        "default": {},
        "textbook sweep": dict(n_components=range(50, 201, 10), criterion="aic",
                               reg_covar=1e-6, guard=False),
    }
    out = []
    for name, kw in settings.items():
        for where in (None, device):
            with quiet_convergence():
                t0 = time.perf_counter()
                s = Synthesizer(random_state=0, device=where, **kw).fit(X)
                seconds = time.perf_counter() - t0
            best = s.selection_.best
            out.append({"fit": name, "device": where or "processor", "seconds": seconds,
                        "chosen": f"K={best.n_components} {best.covariance_type}",
                        "score": float(best.score)})
            print(json.dumps(out[-1]), flush=True)
    return out


def _device_name(device: str) -> str:
    import torch

    if torch.device(device).type == "cuda":
        return str(torch.cuda.get_device_name(torch.device(device)))
    return torch.device(device).type


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    import mixsynth

    return {"python": platform.python_version(), "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "torch": torch.__version__,
            "mixsynth": mixsynth.__version__}


def report(result: dict[str, Any]) -> str:
    """docs/benchmarks-device.md from a saved result."""
    lines = [
        "# mixsynth on a GPU: per-iteration and end-to-end times",
        "",
        "Written by `python -m benchmarks.device --report docs/benchmarks-device.json` from a run "
        "of `PYTHONPATH=src python3 -m benchmarks.device --device cuda --json OUT.json` on the "
        "lent GPU machine. `GaussianMixture(device=...)` runs each iteration's E-step "
        "(statistics and log-likelihood) on a PyTorch device in float64 "
        "(`mixsynth.sources.DeviceSource`); the M-step and everything else stays on the "
        "processor. Per-iteration time: (T(1 + m) − T(1)) / m from the same warm-started "
        "state, median over the repeats; the copy of the rows to the device, once per fit, "
        "cancels out of it and is paid in the end-to-end row.",
        "",
        f"Date {result['date']}; device {result['device_name']} (`{result['device']}`); "
        f"processor {result['cpu']}, {result['cores']} cores, load "
        f"{', '.join(f'{x:.2f}' for x in result['load'])} at the end; "
        f"m = {result['extra_iters']}, {result['repeats']} repeats; versions "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".",
        "",
        *([f"- {run}" for run in result["runs"]] + [""] if result.get("runs") else []),
        "| problem | n × d, K, covariance | scikit-learn ms/iter | mixsynth processor ms/iter "
        "| mixsynth device ms/iter | device vs processor | device vs scikit-learn "
        "| lower bounds, device vs processor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        sk = r.get("sklearn_s")
        lines.append(
            f"| {r['name']} | {r['n']:,} × {r['d']}, K = {r['K']}, {r['covariance_type']} | "
            + (f"{1e3 * sk:,.1f}" if sk is not None else "not run (too slow for the lease)")
            + f" | {1e3 * r['cpu_s']:,.1f} | {1e3 * r['device_s']:,.2f} | "
            f"{r['cpu_s'] / r['device_s']:.1f}× | "
            + (f"{sk / r['device_s']:.1f}×" if sk is not None else "–")
            + f" | {r['agreement']:.1e} |"
        )
    if result.get("synthesizer"):
        lines += ["", "`Synthesizer(random_state=0, device=...)` on the digits (1,797 × 64), "
                  "end to end, selection included (its classifier tests run on the "
                  "processor):", "",
                  "| fit | where | seconds | chosen | score |", "|---|---|---:|---|---:|"]
        for e in result["synthesizer"]:
            lines.append(f"| {e['fit']} | {e['device']} | {e['seconds']:.2f} | {e['chosen']} "
                         f"| {e['score']:.4g} |")
    if result["end_to_end"]:
        lines += ["", "Default `GaussianMixture(K, random_state=0).fit(X)` from scratch "
                  "(k-means initialisation on the processor, `tol=1e-3`), end to end:", "",
                  "| problem | where | seconds | iterations | lower bound |",
                  "|---|---|---:|---:|---:|"]
        for e in result["end_to_end"]:
            lines.append(f"| {e['problem']} | {e['device']} | {e['seconds']:.2f} | "
                         f"{e['n_iter']} | {e['lower_bound']:.6f} |")
    if result.get("notes"):
        lines += ["", "What this shows:", "", *[f"- {n}" for n in result["notes"]]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device", description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="smoke sizes")
    parser.add_argument("--problems", default=None, help="comma-separated keys")
    parser.add_argument("--extra-iters", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sklearn", action="store_true", help="mixsynth only")
    parser.add_argument("--end-to-end", default="", metavar="KEY",
                        help="problem of the end-to-end fits (default: the largest; none)")
    parser.add_argument("--synthesizer", action="store_true",
                        help="only the Synthesizer fits of the digits, end to end")
    parser.add_argument("--json", default=None, help="write the result here")
    parser.add_argument("--report", default=None, help="print the page of a saved result")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            sys.stdout.write(report(json.load(f)))
        return 0
    if args.synthesizer:
        rows = synthesizer_rows(args.device)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           "device_name": _device_name(args.device), "cores": os.cpu_count(),
                           "synthesizer": rows}, f, indent=1)
        return 0
    table = QUICK if args.quick else PROBLEMS
    keys = args.problems.split(",") if args.problems else list(table)
    result = measure(args.device, {k: table[k] for k in keys}, args.extra_iters, args.repeats,
                     sklearn=not args.no_sklearn,
                     end_to_end_key=None if args.end_to_end == "none" else args.end_to_end)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    sys.stdout.write(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
