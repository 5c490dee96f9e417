"""Peers per EM iteration: pomegranate and TorchGMM against mixsynth and scikit-learn.

Every library runs in its own subprocess (``python -m benchmarks.peers --one LIB ...``, one
JSON object on stdout), on the same data and, where the library accepts them, from the same
initial parameters, at the same number of BLAS/OpenMP/torch threads, in float64:

- ``mixsynth``, ``sklearn``: ``weights_init``/``means_init``/``precisions_init``, one untimed
  warm-started iteration, then fits of 1 and ``1 + m`` iterations continuing a copy
  (:func:`benchmarks.measurements.timed_iterations`, as in section 2 of the report);
- ``pomegranate`` (v1): ``GeneralMixtureModel`` of ``Normal(means, covs, covariance_type="full")``
  with ``priors``, ``tol=-inf`` so that it never stops early; fits of 2 and ``2 + m`` iterations
  from deep copies of the initialised model;
- ``torchgmm``: the estimator accepts only ``init_means`` (from which it re-derives weights and
  covariances by hard assignment), so our weights, means and Cholesky precisions are set on its
  ``GaussianMixtureModel`` and its own training module is driven exactly as
  ``GaussianMixture.fit`` drives it after initialisation (``precision=64``,
  ``convergence_tolerance=0``); fits of 2 and ``2 + m`` iterations. Its M-step sums live in
  torchmetrics ``Metric`` states, which Lightning's 64-bit precision leaves in float32 (the
  default dtype; measured: digits K = 110 then ends 5.9e-4 relative below scikit-learn, whose
  log-likelihood it matches to 1e-13 before any M-step); they are set to float64 here
  (``Metric.set_dtype``), as a user asking for float64 would expect.

All four end ``2 + m`` iterations after the same starting point, so their final mean
log-likelihoods on the data (each computed by the library itself) are comparable. Per-iteration
time = (T(long) − T(short)) / m, median over the repeats; peak memory = growth of the peak
resident set over the baseline taken after the data and the initial model exist.

A library that cannot be imported or fails is reported as "cannot run" with the reason; it is
never dropped from the table.

``python -m benchmarks.peers [--quick] [--problems full,wide,digits] [--threads 1]`` runs the
comparison on its own and prints the table; ``benchmarks.run --sections peers`` puts it in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PEER_LIBRARIES",
    "PEER_PROBLEMS",
    "PeerResult",
    "cannot_run",
    "main",
    "measure_peer",
    "measure_peers",
    "peer_problem",
    "result_from_child",
]

_REPO_ROOT = Path(__file__).resolve().parents[1]

#: Libraries in table order; mixsynth is the reference of the ratios.
PEER_LIBRARIES: tuple[str, ...] = ("mixsynth", "sklearn", "pomegranate", "torchgmm")

#: The full-covariance problems of docs/benchmarks.md: key -> ((n, d, K) or None for digits, K).
PEER_PROBLEMS: dict[str, tuple[int, int, int] | None] = {
    "full": (100_000, 50, 100),
    "wide": (20_000, 200, 50),
    "digits": None,  # digits PCA-41, K = 110
}
#: Smoke sizes: small enough for a shared 2-core machine.
QUICK_PROBLEMS: dict[str, tuple[int, int, int] | None] = {
    "full": (5_000, 20, 10),
    "wide": (2_000, 60, 5),
    "digits": None,
}
DIGITS_COMPONENTS = 110
QUICK_DIGITS_COMPONENTS = 20

#: How each library is started, for the table's "start" column.
START = {
    "mixsynth": "same (weights, means, precisions)",
    "sklearn": "same (weights, means, precisions)",
    "pomegranate": "same (priors, means, covariances)",
    "torchgmm": "same (set on its model; the estimator takes only init_means)",
}


@dataclass(frozen=True)
class PeerResult:
    """One library on one problem, or why it could not run (``status == "cannot run"``)."""

    library: str
    problem: str
    n_samples: int
    n_features: int
    n_components: int
    threads: int
    status: str  # "ok" or "cannot run"
    reason: str = ""
    version: str = ""
    start: str = ""
    dtype: str = ""
    extra_iters: int = 0
    repeats: int = 0
    iterations: int = 0  # EM iterations from the common start to the final model
    per_iter_ms: float = float("nan")
    loglik: float = float("nan")  # mean log-likelihood per row of the final model, on the data
    peak_mib: float = float("nan")
    raw_seconds: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cannot_run(
    library: str, problem: str, shape: tuple[int, int, int], threads: int, reason: str
) -> PeerResult:
    """The record of a library that could not run, with the reason (one line)."""
    n, d, k = shape
    line = next((s.strip() for s in reversed(reason.strip().splitlines()) if s.strip()), "")
    return PeerResult(library, problem, n, d, k, threads, "cannot run",
                      reason=line or "no reason given")  # fmt: skip


# ------------------------------------------------------------------------------ the child


def peer_problem(key: str, *, quick: bool, seed: int = 0) -> Any:
    """The :class:`benchmarks.problems.Problem` of ``key`` (full covariance)."""
    from benchmarks.problems import digits_problem, synthetic_problem

    sizes = QUICK_PROBLEMS if quick else PEER_PROBLEMS
    if key not in sizes:
        raise ValueError(f"unknown problem {key!r}; choose from {sorted(sizes)}")
    shape = sizes[key]
    if shape is None:
        return digits_problem(QUICK_DIGITS_COMPONENTS if quick else DIGITS_COMPONENTS, seed=seed)
    return synthetic_problem(*shape, "full", seed=seed)


def _covariances(precisions: np.ndarray) -> np.ndarray:
    cov = np.linalg.inv(precisions)
    return 0.5 * (cov + np.swapaxes(cov, 1, 2))


def _median_per_iter(short: list[float], long: list[float], m: int) -> float:
    from benchmarks.timing import median

    return median([b - a for a, b in zip(short, long, strict=True)]) / m


def _run_estimator_library(library: str, problem: Any, m: int, repeats: int) -> dict[str, Any]:
    """mixsynth or scikit-learn: the warm-start method of section 2."""
    from benchmarks.measurements import initialised_estimator, timed_iterations
    from benchmarks.memory import _baseline_kib, _peak_kib

    start = initialised_estimator(library, problem)
    baseline, _ = _baseline_kib()
    seconds: dict[str, list[float]] = {"short": [], "long": []}
    for r in range(repeats):
        for iters in (1, 1 + m) if r % 2 == 0 else (1 + m, 1):
            t, _ = timed_iterations(start, problem.X, iters)
            seconds["short" if iters == 1 else "long"].append(t)
    peak = (_peak_kib() - baseline) / 1024
    final = copy.deepcopy(start).set_params(max_iter=1 + m)
    from benchmarks.timing import quiet_convergence

    with quiet_convergence():
        final.fit(problem.X)
    return {
        "seconds": seconds, "iterations": 2 + m, "loglik": float(final.score(problem.X)),
        "peak_mib": peak, "dtype": str(problem.X.dtype),
    }  # fmt: skip


def _run_pomegranate(problem: Any, m: int, repeats: int) -> dict[str, Any]:
    import torch
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    from benchmarks.memory import _baseline_kib, _peak_kib
    from benchmarks.timing import timed

    init = problem.init
    covs = _covariances(init.precisions)
    X = torch.from_numpy(np.ascontiguousarray(problem.X))
    start = GeneralMixtureModel(
        [Normal(means=torch.from_numpy(mu.copy()), covs=torch.from_numpy(c.copy()),
                covariance_type="full") for mu, c in zip(init.means, covs, strict=True)],
        priors=torch.from_numpy(init.weights.copy()),
        max_iter=2, tol=float("-inf"),  # never stop early: every fit runs max_iter iterations
    )  # fmt: skip
    baseline, _ = _baseline_kib()
    seconds: dict[str, list[float]] = {"short": [], "long": []}
    final = None
    for r in range(repeats):
        for iters in (2, 2 + m) if r % 2 == 0 else (2 + m, 2):
            model = copy.deepcopy(start)
            model.max_iter = iters
            try:
                t, _ = timed(lambda model=model: model.fit(X))
            except torch.linalg.LinAlgError as exc:
                raise RuntimeError(
                    "a covariance stopped being positive-definite after an M-step (pomegranate "
                    "1.1.2 adds no regularisation: Normal's min_cov is accepted but unused): "
                    + str(exc).splitlines()[0]
                ) from exc
            seconds["short" if iters == 2 else "long"].append(t)
            if iters == 2 + m:
                final = model
    peak = (_peak_kib() - baseline) / 1024
    assert final is not None
    with torch.no_grad():
        loglik = float(final.log_probability(X).mean())
    return {"seconds": seconds, "iterations": 2 + m, "loglik": loglik, "peak_mib": peak,
            "dtype": str(final.distributions[0].means.dtype)}  # fmt: skip


def _run_torchgmm(problem: Any, m: int, repeats: int) -> dict[str, Any]:
    import logging

    import torch
    from torchgmm.base.data import DataLoader, collate_tensor, dataset_from_tensors
    from torchgmm.bayes.core import cholesky_precision
    from torchgmm.bayes.gmm import GaussianMixture
    from torchgmm.bayes.gmm.lightning_module import GaussianMixtureLightningModule
    from torchgmm.bayes.gmm.model import GaussianMixtureModel, GaussianMixtureModelConfig
    from torchmetrics import Metric

    from benchmarks.memory import _baseline_kib, _peak_kib
    from benchmarks.timing import timed

    for name in ("lightning.pytorch", "pytorch_lightning", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    init, (n, d), k = problem.init, problem.X.shape, problem.n_components
    X = torch.from_numpy(np.ascontiguousarray(problem.X))
    reg = 1e-6  # scikit-learn's reg_covar, TorchGMM's default covariance_regularization
    est = GaussianMixture(
        k, covariance_type="full", init_means=torch.from_numpy(init.means.copy()),
        convergence_tolerance=0.0, covariance_regularization=reg,
        trainer_params={"precision": 64, "accelerator": "cpu", "devices": 1, "logger": False,
                        "enable_checkpointing": False, "enable_model_summary": False,
                        "enable_progress_bar": False},
    )  # fmt: skip
    config = GaussianMixtureModelConfig(num_components=k, num_features=d, covariance_type="full")
    start = GaussianMixtureModel(config).double()
    with torch.no_grad():
        start.component_probs.copy_(torch.from_numpy(init.weights))
        start.means.copy_(torch.from_numpy(init.means))
        start.precisions_cholesky.copy_(
            cholesky_precision(torch.from_numpy(_covariances(init.precisions)), "full"))
    loader = DataLoader(dataset_from_tensors(X), batch_size=n, collate_fn=collate_tensor)
    # as GaussianMixture.fit computes it: True for a single full batch, which TorchGMM 0.1.4
    # then runs as two passes per EM iteration
    two_pass = est._num_batches_per_epoch(loader) == 1

    def fit(iters: int) -> tuple[GaussianMixtureModel, int]:
        model = copy.deepcopy(start)
        module = GaussianMixtureLightningModule(
            model, convergence_tolerance=0.0, covariance_regularization=reg,
            is_batch_training=two_pass,
        )
        for metric in module.modules():  # its M-step sums: float32 unless asked
            if isinstance(metric, Metric):
                metric.set_dtype(torch.float64)
        trainer = est.trainer(max_epochs=iters * (1 + int(two_pass)), enable_progress_bar=False)
        trainer.fit(module, loader)
        done = module.current_epoch // 2 if two_pass else module.current_epoch
        return model, done

    fit(1)  # warm-up: Lightning's first trainer pays one-off costs
    baseline, _ = _baseline_kib()
    seconds: dict[str, list[float]] = {"short": [], "long": []}
    final = None
    for r in range(repeats):
        for iters in (2, 2 + m) if r % 2 == 0 else (2 + m, 2):
            t, (model, done) = timed(lambda iters=iters: fit(iters))
            if done != iters:
                raise RuntimeError(f"TorchGMM ran {done} EM iterations, asked for {iters}")
            seconds["short" if iters == 2 else "long"].append(t)
            if iters == 2 + m:
                final = model
    peak = (_peak_kib() - baseline) / 1024
    assert final is not None
    with torch.no_grad():
        loglik = float(final.forward(X)[1].mean())
    return {"seconds": seconds, "iterations": 2 + m, "loglik": loglik, "peak_mib": peak,
            "dtype": str(final.means.dtype)}  # fmt: skip


def _version(library: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    dist = {"sklearn": "scikit-learn"}.get(library, library)
    try:
        return version(dist)
    except PackageNotFoundError:
        return ""


def run_one(library: str, key: str, *, quick: bool, extra_iters: int, repeats: int,
            threads: int) -> PeerResult:  # fmt: skip
    """Measure ``library`` on problem ``key`` in this process (the child's body)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        problem = peer_problem(key, quick=quick)
        if library in ("pomegranate", "torchgmm"):
            import torch

            torch.set_num_threads(threads)
            runner = _run_pomegranate if library == "pomegranate" else _run_torchgmm
            out = runner(problem, extra_iters, repeats)
        elif library in ("mixsynth", "sklearn"):
            out = _run_estimator_library(library, problem, extra_iters, repeats)
        else:
            raise ValueError(f"unknown library {library!r}; choose from {PEER_LIBRARIES}")
    s = out["seconds"]
    return PeerResult(
        library=library, problem=problem.name, n_samples=problem.n_samples,
        n_features=problem.n_features, n_components=problem.n_components, threads=threads,
        status="ok", version=_version(library), start=START[library], dtype=out["dtype"],
        extra_iters=extra_iters, repeats=repeats, iterations=out["iterations"],
        per_iter_ms=1e3 * _median_per_iter(s["short"], s["long"], extra_iters),
        loglik=out["loglik"], peak_mib=out["peak_mib"], raw_seconds=s,
    )  # fmt: skip


# ----------------------------------------------------------------------------- the parent


def result_from_child(
    library: str, problem: str, shape: tuple[int, int, int], threads: int,
    returncode: int, stdout: str, stderr: str,
) -> PeerResult:  # fmt: skip
    """Turn what a child printed into a :class:`PeerResult`; any failure becomes "cannot run"."""
    if returncode == 0:
        try:
            return PeerResult(**json.loads(stdout.strip().splitlines()[-1]))
        except (ValueError, TypeError, IndexError) as exc:
            return cannot_run(library, problem, shape, threads, f"unreadable output: {exc}")
    return cannot_run(library, problem, shape, threads,
                      stderr or stdout or f"exit status {returncode}")  # fmt: skip


def _shape_of(key: str, quick: bool) -> tuple[int, int, int]:
    shape = (QUICK_PROBLEMS if quick else PEER_PROBLEMS)[key]
    if shape is None:
        return (1797, 41, QUICK_DIGITS_COMPONENTS if quick else DIGITS_COMPONENTS)
    return shape


def _name_of(key: str, quick: bool) -> str:
    """The problem's name as :mod:`benchmarks.problems` gives it, without building the data."""
    if (QUICK_PROBLEMS if quick else PEER_PROBLEMS)[key] is None:
        return "digits PCA-41"
    return "synthetic ({}, {}, {})".format(*_shape_of(key, quick))


def measure_peer(
    library: str, key: str, *, quick: bool, extra_iters: int, repeats: int, threads: int,
    timeout: float = 3600.0, python: str | None = None,
) -> PeerResult:  # fmt: skip
    """Run one library on one problem in a fresh interpreter (``python``, default this one)."""
    cmd = [
        python or sys.executable, "-m", "benchmarks.peers", "--one", library,
        "--problems", key, "--extra-iters", str(extra_iters), "--repeats", str(repeats),
        "--threads", str(threads), *(["--quick"] if quick else []),
    ]  # fmt: skip
    thread_env = {v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                            "MKL_NUM_THREADS")}  # fmt: skip
    env = {**os.environ, **thread_env, "PYTHONPATH": os.pathsep.join(
        p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    shape, name = _shape_of(key, quick), _name_of(key, quick)
    try:
        done = subprocess.run(cmd, cwd=_REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return cannot_run(library, name, shape, threads, f"timed out after {timeout:.0f} s")
    return result_from_child(library, name, shape, threads, done.returncode, done.stdout,
                             done.stderr)  # fmt: skip


def measure_peers(
    keys: tuple[str, ...], *, quick: bool, threads: int,
    libraries: tuple[str, ...] = PEER_LIBRARIES, extra_iters: int | None = None,
    repeats: int | None = None, log: Any = None,
) -> list[PeerResult]:  # fmt: skip
    """Every library on every problem, each in its own subprocess, in table order."""
    results = []
    for key in keys:
        # cheap iterations (digits, quick sizes) get more of them, as in section 2
        m = extra_iters or (2 if not quick and key != "digits" else 5)
        reps = repeats or (2 if quick else 3)
        for lib in libraries:
            if log:
                log(f"peers: {lib} on {key} (m={m}, {reps} repeat(s), {threads} thread(s))")
            res = measure_peer(lib, key, quick=quick, extra_iters=m, repeats=reps,
                               threads=threads)  # fmt: skip
            if log:
                log(f"  {res.per_iter_ms:.1f} ms/iteration" if res.ok
                    else f"  cannot run: {res.reason}")  # fmt: skip
            results.append(res)
    return results


def main(argv: list[str] | None = None) -> int:
    """``--one LIB``: the child (JSON on stdout); otherwise run every library and print the
    table (and ``--json`` the results)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    p.add_argument("--one", choices=PEER_LIBRARIES, help="measure one library (child process)")
    p.add_argument("--problems", default=",".join(PEER_PROBLEMS),
                   help=f"comma-separated subset of {','.join(PEER_PROBLEMS)}")  # fmt: skip
    p.add_argument("--libraries", default=",".join(PEER_LIBRARIES))
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument("--extra-iters", type=int, default=None, help="m (default: 2, cheap: 5)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the results here")
    a = p.parse_args(argv)
    keys = tuple(a.problems.split(","))
    if a.one:
        print(json.dumps(run_one(a.one, keys[0], quick=a.quick, extra_iters=a.extra_iters or 2,
                                 repeats=a.repeats or 1, threads=a.threads).to_dict()))
        return 0
    from benchmarks.measurements import measure_gemm
    from benchmarks.report import peers_table
    from benchmarks.run import Progress

    log = Progress()
    gemm = measure_gemm(1000, threads=a.threads, repeats=3).gflops
    results = measure_peers(keys, quick=a.quick, threads=a.threads,
                            libraries=tuple(a.libraries.split(",")), extra_iters=a.extra_iters,
                            repeats=a.repeats, log=log)  # fmt: skip
    print(peers_table(results, {a.threads: gemm}))
    if a.json:
        a.json.write_text(json.dumps([r.to_dict() for r in results], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
