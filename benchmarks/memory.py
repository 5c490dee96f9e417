"""Peak memory of one fit, measured in a fresh subprocess so earlier work cannot hide it.

The child process creates the data (chunk by chunk), runs a small warm-up fit so that library
and BLAS buffers are already counted, takes its baseline, fits, and reports the growth of the
peak resident set (``VmHWM``, else ``ru_maxrss``) over that baseline: the data themselves are
excluded.

On Linux the peak can be reset (``/proc/self/clear_refs``), which also gives the peak of the EM
phase alone: a second, warm-started fit of the same model, with no initialisation.

Run as ``python -m benchmarks.memory --library mixsynth --n-samples 200000`` (JSON on stdout).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["MemoryResult", "main", "measure_memory"]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_MIB_PER_KIB = 1 / 1024


@dataclass(frozen=True)
class MemoryResult:
    """Peak memory growth of a fit over the baseline (data loaded), in MiB.

    ``em_peak_mib`` is that of a warm-started refit (EM iterations only), ``None`` where the
    peak cannot be reset.
    """

    library: str
    n_samples: int
    n_features: int
    n_components: int
    iters: int
    threads: int
    data_mib: float
    baseline_mib: float
    fit_peak_mib: float
    em_peak_mib: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _status_kib(key: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _peak_kib() -> int:
    """Peak resident set of this process so far, KiB.

    ``VmHWM`` where there is one: on Linux ``ru_maxrss`` also carries the *parent's* peak over
    ``fork`` + ``exec`` (the kernel keeps the larger), so a big parent would mask the child's.
    """
    try:
        return _status_kib("VmHWM")
    except (OSError, KeyError):
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _reset_peak() -> bool:
    """Reset the peak resident set to the current one (Linux ≥ 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _baseline_kib() -> tuple[int, bool]:
    """Memory to measure growth from, and whether the peak was reset to it."""
    gc.collect()
    if _reset_peak():
        return _status_kib("VmRSS"), True
    return _peak_kib(), False


def _measure_in_process(
    library: str, n_samples: int, n_features: int, n_components: int, iters: int, threads: int
) -> MemoryResult:
    from threadpoolctl import threadpool_limits

    from benchmarks.problems import synthetic_problem
    from benchmarks.timing import estimator_class, quiet_convergence

    cls = estimator_class(library)
    with threadpool_limits(threads), quiet_convergence():
        problem = synthetic_problem(n_samples, n_features, n_components, "full")
        params = {
            **problem.estimator_kwargs(),
            "tol": 0.0,
            "init_params": "random_from_data",
            "random_state": 0,
        }
        warm_rows = min(n_samples, max(2_000, 20 * n_components))
        cls(**params, max_iter=1).fit(problem.X[:warm_rows])
        baseline, resettable = _baseline_kib()
        est = cls(**params, max_iter=iters).fit(problem.X)
        fit_peak = _peak_kib() - baseline
        em_peak = None
        if resettable:
            em_baseline, _ = _baseline_kib()
            est.set_params(warm_start=True).fit(problem.X)
            em_peak = (_peak_kib() - em_baseline) * _MIB_PER_KIB
    return MemoryResult(
        library=library,
        n_samples=n_samples,
        n_features=n_features,
        n_components=n_components,
        iters=iters,
        threads=threads,
        data_mib=problem.X.nbytes / 2**20,
        baseline_mib=baseline * _MIB_PER_KIB,
        fit_peak_mib=fit_peak * _MIB_PER_KIB,
        em_peak_mib=em_peak,
    )


def measure_memory(
    library: str,
    n_samples: int,
    n_features: int,
    n_components: int,
    *,
    iters: int,
    threads: int,
    timeout: float = 1800.0,
) -> MemoryResult:
    """Run :func:`main` in a fresh interpreter and return its :class:`MemoryResult`."""
    cmd = [
        sys.executable, "-m", "benchmarks.memory",
        "--library", library,
        "--n-samples", str(n_samples),
        "--n-features", str(n_features),
        "--n-components", str(n_components),
        "--iters", str(iters),
        "--threads", str(threads),
    ]  # fmt: skip
    done = subprocess.run(
        cmd, cwd=_REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return MemoryResult(**json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    """Command line of the child process: measure one fit, print a JSON object."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    p.add_argument("--library", choices=("sklearn", "mixsynth"), required=True)
    p.add_argument("--n-samples", type=int, default=200_000)
    p.add_argument("--n-features", type=int, default=50)
    p.add_argument("--n-components", type=int, default=50)
    p.add_argument("--iters", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    result = _measure_in_process(
        a.library, a.n_samples, a.n_features, a.n_components, a.iters, a.threads
    )
    print(json.dumps(result.to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
