"""``python -m benchmarks.scale``: fitting out of core and on Dask, to docs/benchmarks-scale.md.

The problem is the issue's: 10 million rows × 50 columns drawn from a known mixture of K = 50
full-covariance components, written chunk by chunk to a ``.npy`` file (about 4 GB), and a
``GaussianMixture(50, covariance_type="full")`` fitted on it

1. in process, streaming the file (the embedded default): peak resident set of the whole
   process (target ≤ 1.5 GB) and time per EM iteration;
2. on a dask ``LocalCluster`` of 2 worker processes × 1 thread reading the same file block by
   block (target: time per iteration within 1.5× of in process on a 2-core machine).

Both fits must recover the generating mixture: held-out log-likelihood within 1 % of the true
model's. Each fit runs in a fresh subprocess so that its peak memory is its own.

``--quick`` uses 200 000 rows (seconds per iteration, not minutes) to check the harness; its
numbers are not the reference. The data file is kept (``--data-dir``, default ``out/scale``) and
reused by later runs with the same size and seed.

Progress goes to stderr, the table to stdout, and the document is written atomically, with the
results as JSON beside it (``--json``, default ``docs/benchmarks-scale.json``): ``benchmarks.run``
reports them in its "Scale out" section, and ``--render-from JSON`` writes the document again
from them without running anything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.environment import describe_environment
from benchmarks.problems import TrueMixture, random_mixture, sample_into

__all__ = ["FitResult", "ScalePlan", "load_results", "main", "render", "results_document",
           "targets", "write_data"]

_REPO_ROOT = Path(__file__).resolve().parents[1]
Array = NDArray[np.float64]

#: Rows written per chunk of the data file (about 40 MB at 50 columns).
WRITE_CHUNK_ROWS = 100_000
#: Rows per dask block (about 40 MB at 50 columns).
DASK_BLOCK_ROWS = 100_000

TARGET_RSS_GIB = 1.5
TARGET_DASK_RATIO = 1.5
TARGET_HELDOUT_GAP = 0.01
#: Version of the JSON results file (``--json``).
JSON_VERSION = 1


@dataclass(frozen=True)
class ScalePlan:
    """Sizes of a run."""

    quick: bool
    n_samples: int
    n_features: int
    n_components: int
    n_heldout: int
    max_iter: int
    workers: int
    seed: int


FULL = ScalePlan(False, 10_000_000, 50, 50, 100_000, 30, 2, 0)
QUICK = ScalePlan(True, 200_000, 50, 50, 50_000, 30, 2, 0)


@dataclass(frozen=True)
class FitResult:
    """One fit, measured in its own process."""

    executor: str
    n_samples: int
    fit_s: float
    first_pass_s: float
    init_pass_s: float | None
    iteration_s: list[float]
    n_iter: int
    converged: bool
    peak_rss_mib: float
    baseline_rss_mib: float | None  # None where unknown (results transcribed from a document)
    workers_peak_rss_mib: list[float]
    heldout_loglik: float
    true_heldout_loglik: float

    @property
    def median_iteration_s(self) -> float:
        return float(np.median(self.iteration_s)) if self.iteration_s else float("nan")

    @property
    def heldout_gap(self) -> float:
        """Relative shortfall of the held-out log-likelihood against the true model's."""
        return (self.true_heldout_loglik - self.heldout_loglik) / abs(self.true_heldout_loglik)


# --------------------------------------------------------------------------- data


def _truth(plan: ScalePlan) -> TrueMixture:
    return random_mixture(plan.n_features, plan.n_components, np.random.default_rng(plan.seed))


def write_data(path: Path, truth: TrueMixture, n: int, seed: int) -> None:
    """Draw ``n`` rows from ``truth`` into a ``.npy`` file chunk by chunk (bounded memory).

    Chunk ``i`` is drawn from the ``i``-th child of ``seed``; the file is written under a
    temporary name and renamed when complete.
    """
    d = truth.means.shape[1]
    tmp = path.with_name(f".{path.name}.tmp")
    starts = range(0, n, WRITE_CHUNK_ROWS)
    children = np.random.SeedSequence(seed).spawn(len(starts))
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (n, d)}
        )
        buf = np.empty((WRITE_CHUNK_ROWS, d))
        for start, child in zip(starts, children, strict=True):
            rows = min(WRITE_CHUNK_ROWS, n - start)
            out = buf[:rows]
            sample_into(out, truth, int(child.generate_state(1)[0]))
            f.write(out.tobytes())
            if (start // WRITE_CHUNK_ROWS) % 10 == 0:
                print(f"scale: wrote {start + rows:,} / {n:,} rows", file=sys.stderr)
    os.replace(tmp, path)


def _data_path(plan: ScalePlan, data_dir: Path) -> Path:
    name = f"mixture-{plan.n_samples}x{plan.n_features}-k{plan.n_components}-s{plan.seed}.npy"
    return data_dir / name


def _ensure_data(plan: ScalePlan, data_dir: Path) -> Path:
    path = _data_path(plan, data_dir)
    if path.exists():
        shape = np.load(path, mmap_mode="r").shape
        if shape == (plan.n_samples, plan.n_features):
            print(f"scale: reusing {path}", file=sys.stderr)
            return path
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_data(path, _truth(plan), plan.n_samples, plan.seed + 1)
    print(f"scale: wrote {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def _heldout(plan: ScalePlan, truth: TrueMixture) -> Array:
    X = np.empty((plan.n_heldout, plan.n_features))
    sample_into(X, truth, plan.seed + 2)
    return X


def _true_loglik(truth: TrueMixture, X: Array) -> float:
    from scipy.special import logsumexp

    from mixsynth.core import Params, estimate_weighted_log_prob
    from mixsynth.core import precisions_cholesky_from_covariances as pc_from_cov

    params = Params(truth.weights, truth.means, pc_from_cov(truth.covariances, "full"), "full")
    # in chunks: the packed outer products of all rows at once would dwarf the fit's memory
    parts = [logsumexp(estimate_weighted_log_prob(X[s : s + 4096], params), axis=1)
             for s in range(0, X.shape[0], 4096)]
    return float(np.mean(np.concatenate(parts)))


# --------------------------------------------------------------------------- child processes


def _status_mib(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _timed(source: Any, name: str, log: list[float]) -> None:
    """Record the duration of every call of ``source.<name>`` in ``log``."""
    real = getattr(source, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            log.append(time.perf_counter() - t0)
            print(f"scale: {name} pass {len(log)}: {log[-1]:.2f} s", file=sys.stderr)

    setattr(source, name, timed)


def _read_rows(path: str, start: int, stop: int, d: int) -> Array:
    """Rows ``start:stop`` of a C-order float64 ``.npy`` file, by plain reads (a dask task)."""
    mm = np.load(path, mmap_mode="r")
    offset = int(mm.offset)
    del mm
    with open(path, "rb") as f:
        f.seek(offset + start * d * 8)
        return np.fromfile(f, dtype="<f8", count=(stop - start) * d).reshape(stop - start, d)


def _dask_array(path: Path, n: int, d: int) -> Any:
    import dask.array as da
    from dask import delayed

    blocks = [
        da.from_delayed(
            delayed(_read_rows, pure=True)(str(path), s, min(n, s + DASK_BLOCK_ROWS), d),
            shape=(min(n, s + DASK_BLOCK_ROWS) - s, d), dtype=np.float64,
        )
        for s in range(0, n, DASK_BLOCK_ROWS)
    ]
    return da.concatenate(blocks, axis=0)


def _fit_child(executor: str, path: Path, plan: ScalePlan) -> FitResult:
    import warnings

    from mixsynth import GaussianMixture
    from mixsynth.sources import as_source

    truth = _truth(plan)
    X_hold = _heldout(plan, truth)
    gm = GaussianMixture(
        plan.n_components, covariance_type="full", max_iter=plan.max_iter, random_state=0
    )
    warmup = np.load(path, mmap_mode="r")[:5000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(plan.n_components, covariance_type="full", max_iter=1,
                        init_params="random_from_data").fit(np.array(warmup))
    del warmup
    baseline = _status_mib("VmRSS")
    passes: dict[str, list[float]] = {"summary": [], "label_stats": [], "stats": []}

    def run(source: Any) -> None:
        for name, log in passes.items():
            _timed(source, name, log)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a capped run need not converge
            gm.fit(source)
        fit_s.append(time.perf_counter() - t0)

    fit_s: list[float] = []
    workers_peak: list[float] = []
    if executor == "in-process":
        run(as_source(path, seed=0))
    else:
        from mixsynth.distributed import cluster
        from mixsynth.sources import DaskSource

        with cluster(workers=plan.workers) as client:
            run(DaskSource(_dask_array(path, plan.n_samples, plan.n_features), seed=0))
            workers_peak = sorted(client.run(_status_mib, "VmHWM").values())
    peak = _status_mib("VmHWM")  # the fit's peak (scoring below is chunked and smaller)
    return FitResult(
        executor=executor,
        n_samples=plan.n_samples,
        fit_s=fit_s[0],
        first_pass_s=sum(passes["summary"]),
        init_pass_s=sum(passes["label_stats"]) if passes["label_stats"] else None,
        iteration_s=passes["stats"],
        n_iter=int(gm.n_iter_),
        converged=bool(gm.converged_),
        peak_rss_mib=peak,
        baseline_rss_mib=baseline,
        workers_peak_rss_mib=workers_peak,
        heldout_loglik=float(gm.score(X_hold)),
        true_heldout_loglik=_true_loglik(truth, X_hold),
    )


def _run_child(executor: str, path: Path, plan: ScalePlan) -> FitResult:
    cmd = [
        sys.executable, "-m", "benchmarks.scale", "--child", executor, "--path", str(path),
        "--plan", json.dumps(asdict(plan)),
    ]
    print(f"scale: {executor} fit of {plan.n_samples:,} rows ...", file=sys.stderr)
    done = subprocess.run(cmd, cwd=_REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed with exit code {done.returncode}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return FitResult(**data)


# --------------------------------------------------------------------------- report


def _status(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


def targets(results: dict[str, FitResult]) -> list[dict[str, Any]]:
    """The issue's targets, each with its goal, what was measured and whether it is met."""
    inproc, dask_ = results.get("in-process"), results.get("dask")
    out: list[dict[str, Any]] = []
    if inproc is not None:
        gib = inproc.peak_rss_mib / 1024
        out.append({"name": "in-process peak RSS", "goal": f"≤ {TARGET_RSS_GIB} GB",
                    "measured": f"{gib:.2f} GiB", "met": gib <= TARGET_RSS_GIB})
    if inproc is not None and dask_ is not None:
        ratio = dask_.median_iteration_s / inproc.median_iteration_s
        out.append({"name": "Dask (2 workers) time per iteration vs in process",
                    "goal": f"≤ {TARGET_DASK_RATIO}×", "measured": f"{ratio:.2f}×",
                    "met": ratio <= TARGET_DASK_RATIO})
    for r in results.values():
        out.append({"name": f"recovers the mixture ({r.executor})",
                    "goal": f"held-out loglik within {100 * TARGET_HELDOUT_GAP:.0f} % of the truth",
                    "measured": f"{100 * r.heldout_gap:.3f} %",
                    "met": r.heldout_gap <= TARGET_HELDOUT_GAP})
    return out


def _environment(env: Any = None) -> dict[str, Any]:
    """The facts about the machine that a report of the run needs (JSON-ready)."""
    e = describe_environment() if env is None else env
    return {
        "date": e.date, "cpu_model": e.cpu_model, "cpus_usable": e.cpus_usable,
        "ram_gib": e.ram_gib, "load_average": list(e.load_average),
        "blas": sorted({b.get("internal_api", "?") for b in e.blas}),
    }


def results_document(plan: ScalePlan, results: dict[str, FitResult], command: str,
                     env: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run as JSON: what :func:`load_results` reads back and ``benchmarks.run`` reports."""
    return {
        "format": "mixsynth-benchmarks-scale",
        "version": JSON_VERSION,
        "command": command,
        "environment": _environment() if env is None else env,
        "plan": asdict(plan),
        "results": {
            name: {**asdict(r), "median_iteration_s": r.median_iteration_s,
                   "heldout_gap": r.heldout_gap}
            for name, r in results.items()
        },
        "targets": targets(results),
    }


def load_results(path: Path) -> tuple[ScalePlan, dict[str, FitResult], str, dict[str, Any]]:
    """``(plan, results, command, environment)`` saved by a run (:func:`results_document`)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != "mixsynth-benchmarks-scale" or data.get("version") != JSON_VERSION:
        raise ValueError(f"{path} is not a version-{JSON_VERSION} scale benchmark result file.")
    names = set(FitResult.__dataclass_fields__)
    results = {name: FitResult(**{k: v for k, v in r.items() if k in names})
               for name, r in data["results"].items()}
    return ScalePlan(**data["plan"]), results, data["command"], data["environment"]


def render(plan: ScalePlan, results: dict[str, FitResult], command: str,
           env: dict[str, Any] | None = None) -> str:
    env = _environment() if env is None else env
    lines = ["# Benchmarks: fitting at scale (out of core, Dask)", ""]
    if plan.quick:
        lines += ["> **quick run — not the reference numbers.**", ""]
    lines += [
        f"Generated by `{command}` on {env['date']}: {env['cpu_model']}, {env['cpus_usable']} "
        f"usable cores, {env['ram_gib']:.0f} GiB RAM, load average "
        f"{env['load_average'][0]:.1f}.",
        "",
        f"Data: {plan.n_samples:,} × {plan.n_features} rows drawn from a known mixture of "
        f"K = {plan.n_components} full-covariance components, on disk as a `.npy` file "
        f"({plan.n_samples * plan.n_features * 8 / 2**30:.2f} GiB). Model: "
        f"`GaussianMixture({plan.n_components}, covariance_type=\"full\", "
        f"max_iter={plan.max_iter})`, k-means initialisation on a reservoir sample of 20 000 "
        "rows, then one pass of hard assignments. Each fit runs in a fresh process.",
        "",
        "| executor | first pass s | init pass s | s / iteration (median) | iterations | fit s "
        "| peak RSS MiB (process) | workers' peak RSS MiB | held-out loglik | true model's | gap |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results.values():
        workers = ", ".join(f"{m:,.0f}" for m in r.workers_peak_rss_mib) or "–"
        init = "–" if r.init_pass_s is None else f"{r.init_pass_s:.2f}"
        lines.append(
            f"| {r.executor} | {r.first_pass_s:.2f} | {init} | {r.median_iteration_s:.2f} | "
            f"{r.n_iter}{'' if r.converged else ' (cap)'} | {r.fit_s:.1f} | "
            f"{r.peak_rss_mib:,.0f} | {workers} | {r.heldout_loglik:.4f} | "
            f"{r.true_heldout_loglik:.4f} | {100 * r.heldout_gap:.3f} % |"
        )
    lines += ["", "## Targets", "", "| target | goal | measured | status |",
              "|:---|---:|---:|---:|"]
    lines += [f"| {t['name']} | {t['goal']} | {t['measured']} | {_status(t['met'])} |"
              for t in targets(results)]
    lines += [
        "",
        "Peak RSS is the whole process's high-water mark (`VmHWM`: interpreter, numpy, "
        "scikit-learn and the fit); the file is read with plain reads, so it never counts in it. "
        "Dask persists the validated data in the workers' memory when it fits there (the "
        "workers' peaks include it); the client process holds only parameters and statistics.",
        "",
        f"BLAS: {', '.join(env['blas'])}; "
        "in process the E-step uses every core's BLAS thread, on Dask one BLAS thread per "
        "worker task.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 000 rows: check the harness")
    p.add_argument("--rows", type=int, help="number of rows (overrides the plan)")
    p.add_argument("--max-iter", type=int, help="EM iterations at most (overrides the plan)")
    p.add_argument("--data-dir", type=Path, default=_REPO_ROOT / "out" / "scale")
    p.add_argument("--skip-dask", action="store_true", help="only the in-process fit")
    p.add_argument("--output", type=Path, default=_REPO_ROOT / "docs" / "benchmarks-scale.md")
    p.add_argument("--json", type=Path, default=None,
                   help="the results as JSON, read by benchmarks.run's report (default: "
                   "--output with the suffix .json)")
    p.add_argument("--render-from", type=Path, metavar="JSON",
                   help="run nothing: write --output again from results saved by --json")
    p.add_argument("--child", choices=("in-process", "dask"), help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.child:
        plan = ScalePlan(**json.loads(a.plan))
        result = _fit_child(a.child, a.path, plan)
        print(json.dumps(asdict(result)))
        return 0

    from mixsynth.io import atomic_write

    if a.render_from is not None:
        plan, results, command, env = load_results(a.render_from)
        text = render(plan, results, command, env)
        with atomic_write(a.output, "w", overwrite=True) as f:
            f.write(text)
        print(f"scale: wrote {a.output} from {a.render_from}", file=sys.stderr)
        return 0

    plan = QUICK if a.quick else FULL
    if a.rows is not None or a.max_iter is not None:
        plan = ScalePlan(**{**asdict(plan), "n_samples": a.rows or plan.n_samples,
                            "max_iter": a.max_iter or plan.max_iter})
    path = _ensure_data(plan, a.data_dir)
    results: dict[str, FitResult] = {}
    failed: list[str] = []
    for executor in ("in-process",) if a.skip_dask else ("in-process", "dask"):
        try:
            results[executor] = _run_child(executor, path, plan)
        except (RuntimeError, ValueError) as exc:  # report what was measured, and say so
            print(f"scale: {executor} fit failed: {exc}", file=sys.stderr)
            failed.append(executor)
    if not results:
        return 1
    command = "python -m benchmarks.scale" + (" " + shlex.join(argv) if argv else "")
    if argv is None and len(sys.argv) > 1:
        command = "python -m benchmarks.scale " + shlex.join(sys.argv[1:])
    env = _environment()
    text = render(plan, results, command, env)
    if failed:
        text += f"\n**Not measured (the fit failed or was interrupted): {', '.join(failed)}.**\n"
    print(text)
    document = results_document(plan, results, command, env)
    if failed:
        document["not_measured"] = failed
    a.output.parent.mkdir(parents=True, exist_ok=True)
    json_path = a.json or a.output.with_suffix(".json")
    with atomic_write(json_path, "w", overwrite=True) as f:
        f.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    with atomic_write(a.output, "w", overwrite=True) as f:
        f.write(text)
    print(f"scale: wrote {a.output} and {json_path}", file=sys.stderr)
    ok = not failed and all(math.isfinite(r.heldout_loglik) for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
