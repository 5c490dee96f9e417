"""The numeric-table quality benchmark (issue 12) runs end to end with ``--quick`` in the test
environment (wine, one split; SDV generators left out where ``sdv`` is not importable), and its
pure parts give known answers. No quality or speed is asserted of any generator."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from benchmarks import quality_tables as qt
from benchmarks.quality_tables_report import render, targets


def test_quick_run_writes_the_document_and_its_json(tmp_path):
    out = tmp_path / "quality-tables.md"
    out.write_text(f"old tables\n{qt.NOTES_MARKER}\nhand-written notes\n", encoding="utf-8")

    assert qt.main(["--quick", "--out", str(out)]) == 0

    text = out.read_text(encoding="utf-8")
    assert "Smoke run with quick settings" in text and "## wine" in text
    assert "old tables" not in text and text.endswith(f"{qt.NOTES_MARKER}\nhand-written notes\n")
    assert "| mixsynth | 0 | ok |" in text and "| sklearn-gmm-bic | 0 | ok |" in text
    assert "| real (reference) | 0 | ok |" in text
    assert "wine: mixsynth mean AUC ≤ scikit-learn's best by BIC" in text
    assert "wine: mixsynth share at a bound" in text
    if not qt.sdv_available():
        assert "SDV generators not run (`sdv` not importable)" in text
    saved = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    runs = {r["generator"]: r for r in saved["runs"]}
    assert set(runs) >= {"mixsynth", "sklearn-gmm-bic", qt.REFERENCE}
    for gen in ("mixsynth", "sklearn-gmm-bic"):
        r = runs[gen]
        assert r["status"] == "ok", r["reason"]
        assert r["n_synthetic"] == r["n_holdout"] == 54 and r["n_train"] == 124
        assert 0.0 <= r["auc"] <= 1.0 and r["fit_s"] > 0
        assert set(r["bound_share"]) == set(r["holdout_bound_share"])
        assert len(r["bound_share"]) == 13


def test_plan_leaves_out_sdv_only_when_it_cannot_be_imported(monkeypatch):
    monkeypatch.setattr(qt, "sdv_available", lambda: False)
    plan = qt.plan_for(False)
    assert plan.generators == ("mixsynth", "sklearn-gmm-bic")
    assert plan.components == tuple(range(1, 31)) and plan.seeds["wine"] == (0, 1, 2)
    assert plan.generators_for("diamonds") == ("mixsynth", "sklearn-gmm-bic")
    monkeypatch.setattr(qt, "sdv_available", lambda: True)
    plan = qt.plan_for(False, diamonds_covariance_types=("full",))
    assert plan.generators_for("diamonds") == qt.GENERATORS
    assert "sdv-ctgan" not in plan.generators_for("wine")
    assert plan.covariances_for("diamonds") == ("full",)
    assert plan.covariances_for("wine") == qt.COVARIANCE_TYPES
    assert qt.Plan.from_json(plan.to_json()) == plan


def test_recorded_decimals_and_bound_shares_by_hand():
    X = np.array([[1.0, 0.25, 3.14159265, 1000.0], [2.0, 0.5, 2.0, 2000.0],
                  [3.0, 0.1 + 0.2, 1.0, 1500.0]])
    assert qt.recorded_decimals(X) == [0, 2, None, 0]
    train = pd.DataFrame({"a": [0.0, 1.0, 2.0, 5.0], "b": [1.5, 1.5, 2.5, 3.0]})
    rows = pd.DataFrame({"a": [0.0, 5.0, 3.0, 4.0 + 1.0 + 1e-12], "b": [2.0, 2.0, 2.0, 2.0]})
    assert qt.bound_shares(train, rows) == {"a": 0.75, "b": 0.0}
    assert qt.bound_shares(train, train) == {"a": 0.5, "b": 0.75}


def test_sklearn_baseline_clips_rounds_and_picks_by_bic(rng):
    n = 300
    train = pd.DataFrame({"x": np.round(rng.normal(size=n), 2),
                          "k": rng.integers(0, 10, n).astype(np.float64)})
    gmm = qt.BICGaussianMixture((1, 2), ("full", "diag"), random_state=0).fit(train)
    assert gmm.n_fits_ == 4 and gmm.decimals_ == [2, 0]
    rows = gmm.sample(2000)
    assert list(rows.columns) == ["x", "k"] and len(rows) == 2000
    for c in train.columns:
        assert rows[c].min() >= train[c].min() and rows[c].max() <= train[c].max()
    np.testing.assert_array_equal(rows["k"], np.round(rows["k"]))
    np.testing.assert_allclose(rows["x"] * 100, np.round(rows["x"] * 100), atol=1e-6)


def _run(table, gen, seed, auc, bound=0.0, real=0.0, status="ok"):
    return qt.QualityRun(table, gen, seed, status, reason="" if status == "ok" else "timed out",
                         fit_s=1.0, auc=auc, near_copy_rate=0.01, holdout_near_copy_rate=0.05,
                         bound_share={"c": bound, "d": 0.0},
                         holdout_bound_share={"c": real, "d": 0.0},
                         train_bound_share={"c": 0.018, "d": 0.0})


def test_targets_are_met_or_missed_by_their_numbers():
    runs = [
        _run("wine", "mixsynth", 0, 0.55, bound=0.02, real=0.015),
        _run("wine", "mixsynth", 1, 0.65, bound=0.02, real=0.015),
        _run("wine", "sklearn-gmm-bic", 0, 0.58),
        _run("wine", "sklearn-gmm-bic", 1, 0.63),
        _run("diamonds", "mixsynth", 0, 0.90),
        _run("diamonds", "sklearn-gmm-bic", 0, 0.97),
        _run("diamonds", "sdv-ctgan", 0, 0.95),
    ]
    got = {name: (measured, status) for name, measured, status in targets(runs)}
    auc = got["wine: mixsynth mean AUC ≤ scikit-learn's best by BIC"]
    assert auc == ("0.600 vs 0.605 (-0.005; per seed 0.550/0.580, 0.650/0.630)", "met")
    diamonds = got["diamonds: mixsynth AUC below every peer's and ≤ 0.95"]
    assert diamonds == ("mixsynth 0.900; sklearn-gmm-bic 0.970; sdv-ctgan 0.950", "met")
    bound = got["wine: mixsynth share at a bound ≤ held-out share + 1 point, every column"]
    assert bound == ("worst column c: 2.0% vs 1.5% (training rows 1.8%), +0.5 points", "met")

    worse = [*runs[:6], _run("diamonds", "sdv-ctgan", 0, 0.89),
             _run("wine", "mixsynth", 2, 0.9, bound=0.05, real=0.015),
             _run("wine", "sklearn-gmm-bic", 2, 0.6)]
    got = {name: status for name, _, status in targets(worse)}
    assert set(got.values()) == {"missed", "met"}
    assert got["wine: mixsynth mean AUC ≤ scikit-learn's best by BIC"] == "missed"
    assert got["diamonds: mixsynth AUC below every peer's and ≤ 0.95"] == "missed"
    assert got["wine: mixsynth share at a bound ≤ held-out share + 1 point, every column"] == (
        "missed")
    assert got["diamonds: mixsynth share at a bound ≤ held-out share + 1 point, every column"] == (
        "met")


def test_a_generator_that_did_not_run_misses_its_targets_and_is_shown():
    runs = [_run("diamonds", "mixsynth", 0, 0.5, status="cannot run"),
            _run("diamonds", "sdv-gaussiancopula", 0, 0.9)]
    assert [s for _, _, s in targets(runs)] == ["missed", "missed"]
    plan = qt.plan_for(True)
    text = render(runs, plan=plan, command="pytest", environment="here")
    assert "seed 0: cannot run: timed out" in text
    assert "| diamonds: mixsynth AUC below every peer's and ≤ 0.95 | mixsynth did not run |" in text


@pytest.mark.parametrize("name", ["nope"])
def test_unknown_table_is_refused(name):
    with pytest.raises(ValueError, match="unknown table"):
        qt.load_numeric(name)
