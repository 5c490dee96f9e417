"""Real mixed-type tables: ``python -m benchmarks.tables [--quick] [--out FILE.md]``
(``make bench-tables``; default docs/benchmarks-tables.md and .json beside it).

Tables (:data:`benchmarks.datasets.TABLES`: penguins, diamonds, airquality, msleep, tips), each
split 70/30 with seed 0. Generators, each fitted on the 70 % in its own subprocess with a
timeout, asked for as many rows as the holdout has, fit and sample times recorded:

- ``mixsynth``: ``mixsynth.Synthesizer(random_state=0).fit(train)``; when mixsynth refuses the
  table (strings, gaps) the row reads "refused: <its message>", and the harness scores it as soon
  as mixsynth accepts such tables — nothing here needs to change;
- ``sdv-gaussiancopula``: SDV's ``GaussianCopulaSynthesizer`` with detected metadata;
- ``sdv-ctgan``: SDV's ``CTGANSynthesizer`` with a fixed budget of generator steps
  (``--ctgan-steps``, default 500: epochs = steps / (rows // 500), between 1 and 300; diamonds
  gets 7 epochs, penguins 300);
- ``sklearn-gmm-onehot``: :class:`OneHotGMM`, scikit-learn's ``GaussianMixture`` on one-hot
  encoded, standardised data, K = 1…20 by BIC (its handling of gaps is its own: see the class).

Metrics (:mod:`benchmarks.table_metrics`) are computed in this process on what the generators
wrote. A "real holdout" row is the reference: the held-out rows scored as if they were synthetic
(its two-sample AUC separates them from as many training rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "GENERATORS",
    "OneHotGMM",
    "Plan",
    "TableRun",
    "ctgan_epochs",
    "json_safe",
    "main",
    "render_tables",
    "run_from_child",
    "sdv_metadata",
]

_REPO_ROOT = Path(__file__).resolve().parents[1]

GENERATORS = ("mixsynth", "sdv-gaussiancopula", "sdv-ctgan", "sklearn-gmm-onehot")
REFERENCE = "real holdout (reference)"


@dataclass(frozen=True)
class Plan:
    """What one run measures."""

    quick: bool
    tables: tuple[str, ...]
    generators: tuple[str, ...] = GENERATORS
    ctgan_steps: int = 500  # diamonds: 7 epochs; 1 epoch took 70 s on the busy 2-core machine
    ctgan_epochs: int | None = None  # fixed epochs (quick: 1) instead of the step budget
    bic_components: tuple[int, ...] = tuple(range(1, 21))
    timeout_s: float = 1800.0
    max_rows: int = 2000  # rows judged for near copies
    big_sample_rows: int = 1_000_000  # mixsynth's sampling timed at this size too (issue 11)
    split_seed: int = 0  # the 70/30 split; other seeds measure how much a split moves a score


def plan_for(quick: bool, tables: tuple[str, ...] | None = None, **overrides: Any) -> Plan:
    from benchmarks.datasets import TABLES

    if quick:
        base = Plan(quick=True, tables=tables or ("penguins", "airquality"), ctgan_epochs=1,
                    bic_components=(1, 2, 3), timeout_s=300.0, max_rows=300,
                    big_sample_rows=10_000)  # fmt: skip
    else:
        base = Plan(quick=False, tables=tables or tuple(TABLES))
    return Plan(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})


@dataclass(frozen=True)
class TableRun:
    """One generator on one table: status ("ok", "refused", "cannot run"), times and scores."""

    table: str
    generator: str
    status: str
    reason: str = ""
    fit_s: float = math.nan
    sample_s: float = math.nan
    big_sample_s: float | None = None  # mixsynth: seconds to draw plan.big_sample_rows rows
    n_train: int = 0
    n_synthetic: int = 0
    notes: str = ""
    scores: dict[str, Any] | None = field(default=None, repr=False)  # TableScores.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -------------------------------------------------------------------------- generators


#: SDV 2 names every table, single ones too: fit takes and sample returns {name: DataFrame}.
SDV_TABLE = "table"


def sdv_metadata(df: Any) -> Any:
    """SDV metadata detected from one table, without guessing keys (no column is an id)."""
    from sdv.metadata import Metadata

    return Metadata.detect_from_dataframes({SDV_TABLE: df}, infer_keys=None)


def ctgan_epochs(n_rows: int, steps: int, *, batch_size: int = 500, max_epochs: int = 300) -> int:
    """Epochs giving about ``steps`` generator steps (CTGAN takes ``n_rows // batch_size`` steps,
    at least one, per epoch), between 1 and ``max_epochs``."""
    per_epoch = max(n_rows // batch_size, 1)
    return int(min(max(math.ceil(steps / per_epoch), 1), max_epochs))


class OneHotGMM:
    """The plain baseline: scikit-learn's ``GaussianMixture`` on one-hot encoded data.

    Continuous columns are standardised (gaps filled with the training median: this baseline
    never generates gaps in them); categorical columns are one-hot encoded, a gap being one more
    level (so gaps there are generated at their rate); full covariance, ``reg_covar=1e-3`` (one-hot
    columns make covariances singular), K chosen by BIC. Samples are decoded by the argmax of
    each one-hot group; integer columns are rounded.
    """

    def __init__(self, components: tuple[int, ...] = tuple(range(1, 21)), *,
                 random_state: int = 0) -> None:  # fmt: skip
        self.components = components
        self.random_state = random_state

    def fit(self, df: Any) -> OneHotGMM:
        import pandas as pd
        from sklearn.mixture import GaussianMixture

        from benchmarks.table_metrics import CONTINUOUS, column_kinds

        self.columns_ = list(df.columns)
        self.kinds_ = column_kinds(df)
        self.dtypes_ = dict(df.dtypes)
        blocks, self.layout_ = [], []
        for c in self.columns_:
            if self.kinds_[c] == CONTINUOUS:
                x = df[c].astype(np.float64)
                fill = float(x.median()) if x.notna().any() else 0.0
                x = x.fillna(fill).to_numpy()
                mu, sd = float(x.mean()), float(x.std()) or 1.0
                blocks.append(((x - mu) / sd)[:, None])
                self.layout_.append((c, "continuous", (mu, sd)))
            else:
                levels = list(pd.Series(df[c].dropna().astype(object).unique()))
                has_gap = bool(df[c].isna().any())
                codes = pd.Index(levels).get_indexer(df[c].astype(object))
                width = len(levels) + int(has_gap)
                onehot = np.zeros((len(df), width))
                onehot[np.arange(len(df)), np.where(codes < 0, width - 1, codes)] = 1.0
                blocks.append(onehot)
                self.layout_.append((c, "categorical", (levels, has_gap)))
        X = np.hstack(blocks)
        best = None
        for k in self.components:
            if k > len(X):
                break
            gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-3,
                                 random_state=self.random_state).fit(X)  # fmt: skip
            bic = gm.bic(X)
            if best is None or bic < best[0]:
                best = (bic, gm)
        assert best is not None
        self.mixture_ = best[1]
        return self

    def sample(self, n: int) -> Any:
        import pandas as pd

        X = self.mixture_.sample(n)[0]
        rng = np.random.default_rng(self.random_state)
        X = X[rng.permutation(n)]  # sklearn returns rows grouped by component
        out, col = {}, 0
        for c, kind, info in self.layout_:
            if kind == "continuous":
                mu, sd = info
                x = X[:, col] * sd + mu
                col += 1
                if np.issubdtype(self.dtypes_[c], np.integer):
                    x = np.round(x).astype(self.dtypes_[c])
                out[c] = x
            else:
                levels, has_gap = info
                width = len(levels) + int(has_gap)
                pick = X[:, col:col + width].argmax(axis=1)
                col += width
                values = [levels[i] if i < len(levels) else None for i in pick]
                out[c] = pd.Categorical(values, categories=levels)
        return pd.DataFrame(out, columns=self.columns_)


def _fit_and_sample(generator: str, train: Any, n: int, plan: Plan) -> tuple[Any, float, float,
                                                                           str, float]:  # fmt: skip
    """Fit ``generator`` on ``train`` and draw ``n`` rows: (rows, fit s, sample s, notes, and for
    mixsynth the seconds to draw ``plan.big_sample_rows`` rows, else nan)."""
    import pandas as pd

    notes = ""
    if generator == "mixsynth":
        import mixsynth

        t0 = time.perf_counter()
        try:
            model = mixsynth.Synthesizer(random_state=0).fit(train)
        except Exception as exc:  # mixsynth refusing the table is a result, not a failure
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = model.sample(n, random_state=0)
        sample_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        big = model.sample(plan.big_sample_rows, random_state=1)
        big_s = time.perf_counter() - t0
        if len(big) != plan.big_sample_rows:
            raise RuntimeError(f"asked for {plan.big_sample_rows} rows, got {len(big)}")
        del big
        if not isinstance(rows, pd.DataFrame):
            rows = pd.DataFrame(np.asarray(rows), columns=train.columns)
        mix = model.mixture_
        notes = "" if mix is None else f"K={mix.n_components}, {mix.covariance_type}"
        return rows, fit_s, sample_s, notes, big_s
    if generator in ("sdv-gaussiancopula", "sdv-ctgan"):
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        # SDV 2 refuses pandas' category dtype ("cast these columns to an 'object'")
        train = train.astype({c: object for c in train.columns
                              if isinstance(train[c].dtype, pd.CategoricalDtype)})
        metadata = sdv_metadata(train)
        if generator == "sdv-ctgan":
            epochs = plan.ctgan_epochs or ctgan_epochs(len(train), plan.ctgan_steps)
            synth = CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=False)
            notes = f"{epochs} epoch{'s' if epochs != 1 else ''}"
        else:
            synth = GaussianCopulaSynthesizer(metadata)
        t0 = time.perf_counter()
        synth.fit({SDV_TABLE: train})
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = synth.sample(num_rows=n)[SDV_TABLE]
        return rows, fit_s, time.perf_counter() - t0, notes, math.nan
    if generator == "sklearn-gmm-onehot":
        t0 = time.perf_counter()
        model = OneHotGMM(plan.bic_components, random_state=0).fit(train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = model.sample(n)
        notes = f"K={model.mixture_.n_components} by BIC"
        return rows, fit_s, time.perf_counter() - t0, notes, math.nan
    raise ValueError(f"unknown generator {generator!r}; choose from {GENERATORS}")


class Refused(Exception):
    """The generator declined the table (mixsynth today for strings and gaps)."""


def _child(generator: str, table: str, out: Path, plan: Plan) -> dict[str, Any]:
    """Body of the child process: fit, sample, write the rows to ``out`` (Parquet)."""
    import warnings

    from threadpoolctl import threadpool_limits

    from benchmarks.datasets import load_table, split

    warnings.simplefilter("ignore")
    train, hold = split(load_table(table), seed=plan.split_seed)
    base = {"table": table, "generator": generator, "n_train": len(train)}
    try:
        with threadpool_limits(1):
            rows, fit_s, sample_s, notes, big_s = _fit_and_sample(generator, train, len(hold),
                                                                  plan)  # fmt: skip
    except Refused as exc:
        return {**base, "status": "refused", "reason": str(exc).splitlines()[0]}
    rows.reset_index(drop=True).to_parquet(out)
    return {**base, "status": "ok", "fit_s": fit_s, "sample_s": sample_s,
            "big_sample_s": big_s if math.isfinite(big_s) else None,
            "n_synthetic": len(rows), "notes": notes}  # fmt: skip


# ----------------------------------------------------------------------------- parent


def run_from_child(table: str, generator: str, returncode: int, stdout: str,
                   stderr: str) -> TableRun:  # fmt: skip
    """What a child printed, or "cannot run" with the last line of its error."""
    if returncode == 0:
        try:
            return TableRun(**json.loads(stdout.strip().splitlines()[-1]))
        except (ValueError, TypeError, IndexError) as exc:
            return TableRun(table, generator, "cannot run", reason=f"unreadable output: {exc}")
    lines = [s.strip() for s in (stderr or stdout).splitlines() if s.strip()]
    return TableRun(table, generator, "cannot run",
                    reason=lines[-1] if lines else f"exit status {returncode}")


def run_child(cmd: list[str], timeout_s: float) -> subprocess.CompletedProcess[str] | None:
    """Run a benchmark child in the repository at one BLAS/OpenMP thread, output captured;
    ``None`` when it runs past ``timeout_s``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
               p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    try:
        return subprocess.run(cmd, cwd=_REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None


def run_generator(table: str, generator: str, plan: Plan, workdir: Path) -> tuple[TableRun, Path]:
    """Run one generator on one table in a fresh interpreter; the rows land in ``workdir``."""
    out = workdir / f"{table}--{generator}.parquet"
    cmd = [sys.executable, "-m", "benchmarks.tables", "--one", generator, "--tables", table,
           "--synthetic-out", str(out), "--ctgan-steps", str(plan.ctgan_steps),
           "--split-seed", str(plan.split_seed),
           *(["--ctgan-epochs", str(plan.ctgan_epochs)] if plan.ctgan_epochs else []),
           *(["--quick"] if plan.quick else [])]  # fmt: skip
    done = run_child(cmd, plan.timeout_s)
    if done is None:
        return TableRun(table, generator, "cannot run",
                        reason=f"timed out after {plan.timeout_s:.0f} s"), out
    return run_from_child(table, generator, done.returncode, done.stdout, done.stderr), out


def measure_tables(plan: Plan, log: Any) -> list[TableRun]:
    """Every generator on every table, plus the real-holdout reference, scored."""
    import pandas as pd

    from benchmarks.datasets import load_table, split
    from benchmarks.table_metrics import score_table

    runs: list[TableRun] = []
    with tempfile.TemporaryDirectory(prefix="mixsynth-tables-") as tmp:
        for table in plan.tables:
            train, hold = split(load_table(table), seed=plan.split_seed)
            log(f"{table}: {len(train)} training rows, {len(hold)} held out")
            ref = score_table(train, hold, hold, auc_real=train, max_rows=plan.max_rows)
            runs.append(TableRun(table, REFERENCE, "ok", n_train=len(train),
                                 n_synthetic=len(hold), scores=ref.to_dict()))  # fmt: skip
            for gen in plan.generators:
                log(f"  {gen} …")
                run, path = run_generator(table, gen, plan, Path(tmp))
                if run.status == "ok":
                    try:
                        scores = score_table(train, hold, pd.read_parquet(path),
                                             max_rows=plan.max_rows)  # fmt: skip
                        run = TableRun(**{**run.to_dict(), "scores": scores.to_dict()})
                    except Exception as exc:  # a table we cannot score is reported, not dropped
                        log(traceback.format_exc())
                        run = TableRun(**{**run.to_dict(), "status": "cannot run",
                                          "reason": f"scoring failed: {type(exc).__name__}: {exc}"})
                log(f"    {run.status}" + (f": {run.reason}" if run.reason else
                                           f", fit {run.fit_s:.1f} s"))  # fmt: skip
                runs.append(run)
    return runs


# ---------------------------------------------------------------------------- document


def _f(x: Any, fmt: str = ".3f") -> str:
    return "–" if x is None or not math.isfinite(float(x)) else format(float(x), fmt)


def render_tables(runs: list[TableRun], *, plan: Plan, command: str, environment: str) -> str:
    """The Markdown document: one table per data set, then how to read it."""
    from benchmarks.datasets import TABLES

    lines = ["# Mixed-type tables: mixsynth against SDV and a scikit-learn baseline", ""]
    if plan.quick:
        lines += ["> **Smoke run with quick settings (2 tables, CTGAN 1 epoch, K ≤ 3, "
                  "300 rows for near copies): not for quoting.**", ""]  # fmt: skip
    lines += [f"Generated by `{command}`; {environment}.", "",
              f"Each table split 70/30 (seed {plan.split_seed}); every generator fitted on the "
              "70 % in its own subprocess (one BLAS thread) and asked for as many rows as the "
              "holdout has. Shape and pair trends compare the synthetic rows with the training "
              "rows (1 is "
              "best); the two-sample AUC separates held-out rows from synthetic ones (0.5 is "
              "best); missing-rate gap is the mean absolute difference of per-column gap rates; "
              "near copies are rows within the 5th percentile of training rows' Gower distance "
              "to their nearest other training row (compare with the holdout's rate). The "
              "\"real holdout\" row scores the held-out rows themselves: what a perfect "
              "generator would reach.", ""]  # fmt: skip
    header = ("| generator | status | fit s | sample s | shape | pair trends | two-sample AUC "
              "| missing-rate gap | near copies | holdout near copies | notes |")
    for table in dict.fromkeys(r.table for r in runs):
        lines += [f"## {table}", "", TABLES.get(table, ""), "", header,
                  "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for r in (r for r in runs if r.table == table):
            s = r.scores or {}
            status = r.status if r.status == "ok" else f"{r.status}: {r.reason}"
            notes = r.notes
            if r.big_sample_s is not None and math.isfinite(r.big_sample_s):
                notes = (f"{notes}; " if notes else "") + (
                    f"{plan.big_sample_rows:,} rows sampled in {r.big_sample_s:.2f} s")
            lines.append(
                f"| {r.generator} | {status} | {_f(r.fit_s, '.2f')} | {_f(r.sample_s, '.2f')} "
                f"| {_f(s.get('shape'))} | {_f(s.get('trends'))} | {_f(s.get('auc'))} "
                f"| {_f(s.get('missing_gap'))} | {_f(s.get('near_copy_rate'), '.1%')} "
                f"| {_f(s.get('holdout_near_copy_rate'), '.1%')} | {notes or '–'} |"
            )
        lines.append("")
    lines += table_targets(runs, plan)
    lines += ["## Settings", "",
              f"- CTGAN: {plan.ctgan_epochs} epoch(s)" if plan.ctgan_epochs else
              f"- CTGAN: about {plan.ctgan_steps:,} generator steps (epochs = steps / "
              "(rows // 500), 1 to 300)",
              f"- scikit-learn one-hot GMM: K in {plan.bic_components[0]}…"
              f"{plan.bic_components[-1]} by BIC, full covariance, reg_covar 1e-3; gaps in "
              "continuous columns filled with the median, in categorical ones a level of their own",
              f"- per-generator timeout {plan.timeout_s:.0f} s; near copies judged on at most "
              f"{plan.max_rows} rows per table",
              "- per-column and per-pair details: the JSON file beside this document",
              ""]  # fmt: skip
    return "\n".join(lines)


#: Issue 11's limits: sampling and fitting times on the 2-core machine, missing-rate points.
DIAMONDS_FIT_LIMIT_S = 60.0
BIG_SAMPLE_LIMIT_S = 10.0
MISSING_RATE_POINTS = 0.02
AUC_MEAN_MARGIN = 0.10


def table_targets(runs: list[TableRun], plan: Plan) -> list[str]:
    """Issue 11's targets, each met or missed with its numbers, as Markdown lines."""
    by = {(r.table, r.generator): r for r in runs}
    tables = list(dict.fromkeys(r.table for r in runs))

    def scores(table: str, gen: str) -> dict[str, Any] | None:
        r = by.get((table, gen))
        return r.scores if r is not None and r.status == "ok" else None

    rows: list[tuple[str, str, str]] = []
    fitted = [t for t in tables if scores(t, "mixsynth") is not None]
    rows.append(("every table fits as shipped (Python API)", f"{len(fitted)} of {len(tables)}",
                 "met" if len(fitted) == len(tables) else "missed"))
    for key, name in (("shape", "shape score"), ("trends", "pair-trend score")):
        cells, ok = [], True
        for t in tables:
            m, g = scores(t, "mixsynth"), scores(t, "sdv-gaussiancopula")
            if m is None or g is None:
                cells.append(f"{t} –")
                ok = False
                continue
            cells.append(f"{t} {m[key]:.3f} vs {g[key]:.3f}")
            ok &= m[key] >= g[key]
        rows.append((f"{name} ≥ GaussianCopula's on every table", "; ".join(cells),
                     "met" if ok else "missed"))
    cells, gaps, ok = [], [], True
    for t in tables:
        m, g = scores(t, "mixsynth"), scores(t, "sdv-gaussiancopula")
        if m is None or g is None:
            cells.append(f"{t} –")
            ok = False
            continue
        cells.append(f"{t} {m['auc']:.3f} vs {g['auc']:.3f}")
        gaps.append(g["auc"] - m["auc"])
        ok &= m["auc"] < g["auc"]
    mean_gap = float(np.mean(gaps)) if gaps else math.nan
    rows.append(("two-sample AUC below GaussianCopula's on every table", "; ".join(cells),
                 "met" if ok else "missed"))
    rows.append((f"… and on average at least {AUC_MEAN_MARGIN:.2f} below", f"{mean_gap:+.3f}",
                 "met" if ok and mean_gap >= AUC_MEAN_MARGIN else "missed"))
    cells, ok = [], True
    for t in tables:
        m = scores(t, "mixsynth")
        if m is None:
            cells.append(f"{t} –")
            ok = False
            continue
        cells.append(f"{t} {m['near_copy_rate']:.1%} vs {m['holdout_near_copy_rate']:.1%}")
        ok &= m["near_copy_rate"] <= m["holdout_near_copy_rate"]
    rows.append(("near copies no more frequent than among real holdout rows", "; ".join(cells),
                 "met" if ok else "missed"))
    cells, ok = [], True
    for t in tables:
        m = scores(t, "mixsynth")
        if m is None:
            cells.append(f"{t} –")
            ok = False
            continue
        real, syn = m.get("missing_real", {}), m.get("missing_synthetic", {})
        worst = max((abs(syn.get(c, 0.0) - v) for c, v in real.items()), default=0.0)
        cells.append(f"{t} {100 * worst:.1f}")
        ok &= worst <= MISSING_RATE_POINTS
    rows.append(("missing rate per column within ±2 points (worst column, points)",
                 "; ".join(cells), "met" if ok else "missed"))
    d = by.get(("diamonds", "mixsynth"))
    if d is not None and d.status == "ok":
        rows.append((f"default fit of diamonds ({d.n_train:,} rows) < {DIAMONDS_FIT_LIMIT_S:.0f} s",
                     f"{d.fit_s:.1f} s", "met" if d.fit_s < DIAMONDS_FIT_LIMIT_S else "missed"))
        big = d.big_sample_s
        if big is not None and math.isfinite(big):
            rows.append((f"sampling {plan.big_sample_rows:,} diamonds rows < "
                         f"{BIG_SAMPLE_LIMIT_S:.0f} s", f"{big:.2f} s",
                         "met" if big < BIG_SAMPLE_LIMIT_S else "missed"))
    lines = ["## Targets (issue 11)", "",
             "A table mixsynth did not fit (\"–\") counts as a miss of every per-table target.",
             "",
             "| target | measured (mixsynth vs GaussianCopula) | status |", "|:---|:---|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return [*lines, ""]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (strict JSON has neither), numpy scalars as
    Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tables", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: penguins and airquality, CTGAN 1 epoch, K ≤ 3")
    p.add_argument("--tables", help="comma-separated subset of the tables")
    p.add_argument("--generators", help=f"comma-separated subset of {','.join(GENERATORS)}")
    p.add_argument("--ctgan-steps", type=int, default=None)
    p.add_argument("--ctgan-epochs", type=int, default=None, help="fixed epochs instead of steps")
    p.add_argument("--timeout", type=float, default=None, help="seconds per generator")
    p.add_argument("--split-seed", type=int, default=None,
                   help="seed of the 70/30 split (default 0, the documented tables)")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks-tables.md"))
    p.add_argument("--merge", type=Path, nargs="+",
                   help="measure nothing: render the saved JSON files of earlier runs, a later "
                   "file's (table, generator) rows replacing an earlier one's")  # fmt: skip
    p.add_argument("--one", choices=GENERATORS, help=argparse.SUPPRESS)  # the child
    p.add_argument("--synthetic-out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    plan = plan_for(
        a.quick, tuple(a.tables.split(",")) if a.tables else None,
        generators=tuple(a.generators.split(",")) if a.generators else None,
        ctgan_steps=a.ctgan_steps, ctgan_epochs=a.ctgan_epochs, timeout_s=a.timeout,
        split_seed=a.split_seed,
    )
    if a.one:
        print(json.dumps(_child(a.one, plan.tables[0], a.synthetic_out, plan)))
        return 0
    from benchmarks.run import Progress, write_document

    log = Progress()
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    if a.merge:
        merged: dict[tuple[str, str], TableRun] = {}
        for path in a.merge:
            saved = json.loads(path.read_text(encoding="utf-8"))
            plan = Plan(**{**saved["plan"], "tables": tuple(saved["plan"]["tables"]),
                           "generators": tuple(saved["plan"]["generators"]),
                           "bic_components": tuple(saved["plan"]["bic_components"])})
            for r in saved["runs"]:
                run = TableRun(**{k: (math.nan if v is None and k in ("fit_s", "sample_s")
                                      else v) for k, v in r.items()})  # fmt: skip
                merged[(run.table, run.generator)] = run
        order = list(dict.fromkeys(t for t, _ in merged))
        runs = sorted(merged.values(), key=lambda r: order.index(r.table))
        plan = Plan(**{**asdict(plan), "tables": tuple(order)})
        environment = "merged from " + "; ".join(
            f"{p.name} ({json.loads(p.read_text(encoding='utf-8')).get('environment', '?')})"
            for p in a.merge)
    else:
        runs = measure_tables(plan, log)
        environment = (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}, {platform.machine()}, "
                       f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
                       f"total {log.elapsed:.0f} s")  # fmt: skip
    text = render_tables(runs, plan=plan, environment=environment,
                         command=f"python -m benchmarks.tables {argv_text}".rstrip())
    print(text)
    write_document(text, a.out)
    document = {"plan": asdict(plan), "environment": environment,
                "runs": [json_safe(r.to_dict()) for r in runs]}
    write_document(json.dumps(document, indent=1, allow_nan=False), a.out.with_suffix(".json"))
    log(f"wrote {a.out} and {a.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
