"""The benchmark harnesses still run: the per-iteration measurement end to end on a tiny
problem (no speed is asserted), and the pure parts of the peers, end-to-end and mixed-table
harnesses — no peer installed (they live in the benchmark environment), fabricated results
where a run would be needed."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks import table_metrics as tm
from benchmarks.datasets import split
from benchmarks.end_to_end import EndToEndResult
from benchmarks.end_to_end import result_from_child as e2e_from_child
from benchmarks.environment import describe_environment
from benchmarks.measurements import measure_per_iteration
from benchmarks.peers import PeerResult, cannot_run, result_from_child
from benchmarks.problems import synthetic_problem
from benchmarks.report import Results, end_to_end_table, evaluate_targets, peers_table, render
from benchmarks.tables import (
    OneHotGMM,
    TableRun,
    ctgan_epochs,
    json_safe,
    plan_for,
    render_tables,
    run_from_child,
    table_targets,
)

REPO = Path(__file__).resolve().parents[1]


def test_per_iteration_measurement_and_report_on_a_tiny_problem(seed):
    problem = synthetic_problem(5_000, 4, 3, "full", seed=seed)

    # 20 extra iterations: enough that the timed difference stands above timer noise
    it = measure_per_iteration(problem, extra_iters=20, repeats=3, threads=1)

    assert (it.n_samples, it.n_features, it.n_components) == (5_000, 4, 3)
    assert it.covariance_type == "full" and it.threads == 1
    assert it.sklearn_ms > 0 and it.mixsynth_ms > 0
    assert it.speedup > 0 and math.isfinite(it.speedup)
    assert it.agreement <= 1e-9
    assert it.flops > 0
    assert set(it.to_dict()) >= {"sklearn_ms", "mixsynth_ms", "speedup", "agreement"}

    results = Results(describe_environment(), "pytest", quick=True, threads=1)
    results.iterations["full"] = it
    text = render(results)
    assert "## 6. Targets" in text and "quick run" in text
    statuses = {t.name: t.status for t in evaluate_targets(results)}
    assert statuses["digits sweep end to end"] == "not measured"


REPO = Path(__file__).resolve().parents[1]


def _mixed_table(rng, n=200):
    """Two continuous columns (one with gaps), two categorical ones (one with gaps)."""
    x = rng.normal(size=n)
    return pd.DataFrame({
        "x": x,
        "y": np.where(rng.random(n) < 0.1, np.nan, 2 * x + rng.normal(scale=0.5, size=n)),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "size": pd.Categorical(
            np.where(rng.random(n) < 0.1, None, rng.choice(["S", "M", "L"], n)),
            categories=["S", "M", "L"],
        ),
    })


def test_identical_tables_score_perfectly(rng):
    real = _mixed_table(rng)
    shapes = tm.shape_scores(real, real)
    assert shapes == {c: 1.0 for c in real.columns}
    assert all(v == pytest.approx(1.0) for v in tm.pair_trend_scores(real, real).values())
    assert tm.missing_rates(real)["y"] == pytest.approx(real["y"].isna().mean())
    # a copy of the training rows: every row is a near copy (distance 0 ≤ any threshold)
    rate, hold_rate, threshold = tm.near_copy_rates(real, real.iloc[:50], real, max_rows=100)
    assert rate == 1.0 and hold_rate == 1.0 and threshold >= 0.0


def test_two_sample_auc_bounds(rng):
    real, fresh = _mixed_table(rng, 250), _mixed_table(rng, 250)
    same = tm.classifier_auc(real, fresh)
    assert 0.35 <= same <= 0.65  # two draws of one distribution: about 0.5
    shifted = fresh.assign(x=fresh["x"] + 10.0)
    assert tm.classifier_auc(real, shifted) > 0.95
    # copies of the real rows are classified by their twin, with the twin's label: far below 0.5
    assert tm.classifier_auc(real, real.copy()) < 0.3


def test_metrics_known_answers():
    assert tm.ks_complement(pd.Series([0, 1, 2, 3.0]), pd.Series([2, 3, 4, 5.0])) == 0.5
    assert tm.tv_complement(pd.Series(["a", "b"]), pd.Series(["a", "a"])) == 0.5
    assert np.isnan(tm.tv_complement(pd.Series(["a"]), pd.Series([None], dtype=object)))
    up = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 2, 3, 4]})
    down = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1]})
    assert tm.correlation_similarity(up, down) == pytest.approx(0.0)
    assert tm.correlation_similarity(up, up) == pytest.approx(1.0)
    p = pd.DataFrame({"u": ["a", "a", "b", "b"], "v": ["x", "y", "x", "y"]})
    q = pd.DataFrame({"u": ["a", "a", "b", "b"], "v": ["x", "x", "y", "y"]})
    assert tm.contingency_similarity(p, q) == pytest.approx(0.5)  # two of four cells swapped


def test_gower_distance_by_hand():
    ref = pd.DataFrame({"v": [0.0, 10.0], "c": pd.Categorical(["a", "b"])})
    query = pd.DataFrame({"v": [5.0, np.nan, 20.0], "c": pd.Categorical(["a", "a", "z"])})
    # (5, a): |5-0|/10 and a = a -> 0.25; (nan, a): a gap against a value counts 1 -> 0.5;
    # (20, z): |20-10|/10 capped at 1, z unknown -> 1.0
    np.testing.assert_allclose(tm.gower_dcr(query, ref), [0.25, 0.5, 1.0])
    # a row's own entry is skipped: the nearest other row is 1.0 away
    np.testing.assert_allclose(tm.gower_dcr(ref, ref, exclude_self=True), [1.0, 1.0])


def test_align_coerces_to_the_real_table():
    real = pd.DataFrame({"n": [1, 2], "c": pd.Categorical(["a", "b"])})
    synth = pd.DataFrame({"c": ["b", "zz"], "n": ["3", "x"]})
    out = tm.align(synth, real)
    assert list(out.columns) == ["n", "c"]
    assert out["n"].tolist()[0] == 3.0 and np.isnan(out["n"].tolist()[1])
    assert out["c"].tolist()[0] == "b" and pd.isna(out["c"].tolist()[1])


def test_score_table_summary_is_complete(rng):
    real = _mixed_table(rng, 120)
    train, hold = split(real, seed=0)
    scores = tm.score_table(train, hold, hold, max_rows=50).to_dict()
    for key in ("shape", "trends", "auc", "missing_gap", "near_copy_rate",
                "holdout_near_copy_rate", "near_copy_threshold"):
        assert np.isfinite(scores[key]), key
    assert set(scores["column_shape"]) == set(real.columns)


def test_split_takes_seventy_percent():
    train, hold = split(pd.DataFrame({"i": np.arange(53_940)}), seed=0)
    assert (len(train), len(hold)) == (37_758, 16_182)
    assert sorted(np.r_[train["i"], hold["i"]]) == list(range(53_940))


def test_one_hot_gmm_baseline_round_trip(rng):
    real = _mixed_table(rng, 150).assign(k=lambda d: rng.integers(0, 5, len(d)))
    rows = OneHotGMM((1, 2), random_state=0).fit(real).sample(40)
    assert list(rows.columns) == list(real.columns) and len(rows) == 40
    assert rows["k"].dtype == real["k"].dtype
    assert set(rows["colour"].dropna()) <= {"red", "green", "blue"}
    assert rows["x"].notna().all()  # gaps in continuous columns are not generated (documented)


def test_results_file_is_strict_json():
    assert json_safe({"a": float("nan"), "b": [np.float64(1.5), np.int64(2)], "c": "x"}) == {
        "a": None, "b": [1.5, 2], "c": "x"}


def test_ctgan_epoch_budget():
    assert ctgan_epochs(37_758, 2_000) == 27  # 75 steps per epoch
    assert ctgan_epochs(37_758, plan_for(False).ctgan_steps) == 7  # the default budget
    assert ctgan_epochs(240, 2_000) == 300  # one step per epoch, capped
    assert ctgan_epochs(10**7, 10) == 1


def _peer(library, ms, loglik=-10.0):
    return PeerResult(library, "synthetic (10, 2, 2)", 10, 2, 2, 1, "ok", version="1",
                      start="same", dtype="float64", extra_iters=2, repeats=1, iterations=4,
                      per_iter_ms=ms, loglik=loglik, peak_mib=1.0)


def test_a_peer_that_cannot_run_is_reported_with_its_reason():
    stderr = ("Traceback (most recent call last):\n  ...\n"
              "ModuleNotFoundError: No module named 'pomegranate'\n")
    res = result_from_child("pomegranate", "synthetic (10, 2, 2)", (10, 2, 2), 1, 1, "", stderr)
    assert not res.ok and res.reason == "ModuleNotFoundError: No module named 'pomegranate'"
    garbled = result_from_child("torchgmm", "p", (10, 2, 2), 1, 0, "not json", "")
    assert garbled.status == "cannot run" and "unreadable" in garbled.reason
    text = peers_table([_peer("mixsynth", 10.0), _peer("sklearn", 20.0, -10.0 * (1 + 1e-6)),
                        res, cannot_run("torchgmm", "synthetic (10, 2, 2)", (10, 2, 2), 1,
                                        "timed out after 5 s")], {1: 50.0})
    assert "cannot run: ModuleNotFoundError: No module named 'pomegranate'" in text
    assert "cannot run: timed out after 5 s" in text
    assert "| 2.00× |" in text and "1.00e-06" in text
    assert text.count("\n") == 5  # header, rule, four rows: nothing dropped


def test_report_renders_peers_and_end_to_end():
    results = Results(describe_environment(), "pytest", quick=True, threads=1)
    text = render(results)
    assert "## 8. Peers" in text and "## 9. End to end" in text and "not measured" in text
    results.peers = [_peer("mixsynth", 10.0)]
    results.end_to_end = [
        EndToEndResult("diamonds", "mixsynth", "ok", n_train=10, n_features=7, fit_s=1.5,
                       median_heldout_loglik=-3.25, model="K=4, full"),
        EndToEndResult("diamonds", "sdv-gaussiancopula", "ok", fit_s=2.0),
        e2e_from_child("sdv-gaussiancopula", "digits", 1, "", "ImportError: no sdv\n"),
    ]
    text = render(results)
    assert "| diamonds (0 × 0) | sdv-gaussiancopula | 2 | — |" in text
    assert "| diamonds (10 × 7) | mixsynth | 1.5 | -3.25 |" in text
    assert "cannot run: ImportError: no sdv" in text
    assert end_to_end_table(results.end_to_end).count("\n") == 4


def test_tables_document_marks_refusals_and_quick_runs():
    plan = plan_for(True)
    assert plan.tables == ("penguins", "airquality") and plan.ctgan_epochs == 1
    refused = run_from_child("penguins", "mixsynth", 0,
                             '{"table": "penguins", "generator": "mixsynth", "status": '
                             '"refused", "reason": "ValueError: could not convert"}', "")
    crashed = run_from_child("penguins", "sdv-ctgan", 1, "", "boom\nRuntimeError: out of time")
    ok = TableRun("penguins", "sklearn-gmm-onehot", "ok", fit_s=1.0, sample_s=0.1,
                  scores={"shape": 0.9, "trends": 0.8, "auc": 0.6, "missing_gap": 0.01,
                          "near_copy_rate": 0.02, "holdout_near_copy_rate": 0.03})
    text = render_tables([ok, refused, crashed], plan=plan, command="pytest", environment="here")
    assert "not for quoting" in text
    assert "refused: ValueError: could not convert" in text
    assert "cannot run: RuntimeError: out of time" in text
    assert "| sklearn-gmm-onehot | ok | 1.00 | 0.10 | 0.900 | 0.800 | 0.600 |" in text


def test_tables_targets_are_met_or_missed_by_their_numbers():
    plan = plan_for(False, ("diamonds",))

    def scores(shape, auc, near, missing_syn):
        return {"shape": shape, "trends": 0.8, "auc": auc, "near_copy_rate": near,
                "holdout_near_copy_rate": 0.03, "missing_real": {"a": 0.10},
                "missing_synthetic": {"a": missing_syn}}

    ours = TableRun("diamonds", "mixsynth", "ok", fit_s=75.0, big_sample_s=4.0, n_train=37_758,
                    scores=scores(0.95, 0.60, 0.01, 0.11))
    copula = TableRun("diamonds", "sdv-gaussiancopula", "ok", scores=scores(0.90, 0.75, 0.0, 0.1))
    rows = {line.split(" | ")[0][2:]: line for line in table_targets([ours, copula], plan)
            if line.startswith("| ") and "status" not in line}
    assert rows["shape score ≥ GaussianCopula's on every table"].endswith("| met |")
    assert "diamonds 0.600 vs 0.750" in rows["two-sample AUC below GaussianCopula's on every table"]
    assert rows["… and on average at least 0.10 below"].endswith("| met |")  # +0.150
    assert rows["missing rate per column within ±2 points (worst column, points)"].endswith(
        "| met |")  # 1 point
    assert rows["default fit of diamonds (37,758 rows) < 60 s"].endswith("| 75.0 s | missed |")
    assert rows["sampling 1,000,000 diamonds rows < 10 s"].endswith("| 4.00 s | met |")
    worse = TableRun(**{**ours.to_dict(), "scores": scores(0.85, 0.80, 0.05, 0.2)})
    met = [line for line in table_targets([worse, copula], plan) if line.endswith("| met |")]
    assert [line.split(" | ")[0] for line in met] == [  # every other target missed
        "| every table fits as shipped (Python API)",
        "| pair-trend score ≥ GaussianCopula's on every table",
        "| sampling 1,000,000 diamonds rows < 10 s",
    ]


def test_make_test_and_demo_do_not_need_the_bench_env():
    done = subprocess.run(["make", "-n", "test", "demo"], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert ".venv-bench" not in done.stdout
    assert sys.executable  # the suite itself runs in the test environment
