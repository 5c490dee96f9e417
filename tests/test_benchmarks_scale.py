"""The scale benchmark's harness runs end to end on a tiny problem. No speed is asserted."""

from __future__ import annotations

import json

import numpy as np
from benchmarks.scale import ScalePlan, _fit_child, _truth, render, write_data


def test_scale_harness_on_a_tiny_problem(tmp_path):
    plan = ScalePlan(quick=True, n_samples=3000, n_features=4, n_components=3, n_heldout=500,
                     max_iter=20, workers=2, seed=0)
    path = tmp_path / "data.npy"
    write_data(path, _truth(plan), plan.n_samples, seed=1)
    X = np.load(path)
    assert X.shape == (3000, 4) and np.isfinite(X).all()
    assert list(tmp_path.iterdir()) == [path]  # written under a temporary name, then renamed

    result = _fit_child("in-process", path, plan)
    assert result.n_samples == 3000 and result.iteration_s and result.first_pass_s > 0
    assert result.peak_rss_mib >= result.baseline_rss_mib > 0
    assert result.heldout_gap < 0.05  # the known mixture is recovered
    text = render(plan, {"in-process": result}, "python -m benchmarks.scale --test")
    assert "quick run" in text and "in-process peak RSS" in text


def _results(dask_iteration_s: float = 1.2, rss: float = 400.0):
    from benchmarks.scale import FitResult

    common = dict(n_samples=3000, fit_s=5.0, first_pass_s=0.5, init_pass_s=0.4, n_iter=3,
                  converged=True, baseline_rss_mib=100.0, heldout_loglik=-10.05,
                  true_heldout_loglik=-10.0)
    return {
        "in-process": FitResult(executor="in-process", iteration_s=[1.0, 1.1, 0.9],
                                peak_rss_mib=rss, workers_peak_rss_mib=[], **common),
        "dask": FitResult(executor="dask", iteration_s=[dask_iteration_s],
                          peak_rss_mib=300.0, workers_peak_rss_mib=[500.0, 510.0], **common),
    }


def test_results_round_trip_through_json_and_render_again(tmp_path):
    from benchmarks.scale import QUICK, load_results, main, results_document

    env = {"date": "2026-01-01 00:00 UTC", "cpu_model": "CPU", "cpus_usable": 2,
           "ram_gib": 8.0, "load_average": [0.5, 0.4, 0.3], "blas": ["openblas"]}
    doc = results_document(QUICK, _results(), "python -m benchmarks.scale --quick", env)
    assert [t["met"] for t in doc["targets"]] == [True, True, True, True]
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(doc))
    plan, results, command, loaded_env = load_results(path)
    assert plan == QUICK and loaded_env == env and results == _results()
    assert command == "python -m benchmarks.scale --quick"
    out = tmp_path / "scale.md"
    assert main(["--render-from", str(path), "--output", str(out)]) == 0
    assert out.read_text() == render(QUICK, _results(), "python -m benchmarks.scale --quick",
                                     env)
    missed = results_document(QUICK, _results(dask_iteration_s=2.0, rss=2000.0), "c", env)
    assert [t["met"] for t in missed["targets"]] == [False, False, True, True]


def test_the_benchmark_report_shows_the_saved_scale_results(tmp_path):
    from benchmarks.environment import describe_environment
    from benchmarks.report import Results
    from benchmarks.report import render as render_report
    from benchmarks.run import load_scale_results
    from benchmarks.scale import FULL, QUICK, results_document

    env = {"date": "2026-01-01 00:00 UTC", "cpu_model": "CPU", "cpus_usable": 2,
           "ram_gib": 8.0, "load_average": [0.5], "blas": ["openblas"]}
    results = Results(describe_environment(), "pytest", quick=True, threads=1)
    text = render_report(results)
    assert "## 7. Scale out (10 million rows)\n\nnot measured: run `make bench-scale`" in text

    path = tmp_path / "scale.json"
    path.write_text(json.dumps(results_document(FULL, _results(2.0), "cmd", env)))
    results.scale = load_scale_results(path, lambda message: None)
    section = render_report(results).split("## 7. ")[1].split("\n## ")[0]
    assert "written by `cmd` on 2026-01-01 00:00 UTC: CPU, 2 usable cores" in section
    assert "| in-process | 1.00 | 3 | 5.0 | 400 | 0.500 % |" in section
    assert "| Dask (2 workers) time per iteration vs in process | ≤ 1.5× | 2.00× | **missed** |" \
        in section
    assert "| in-process peak RSS | ≤ 1.5 GB | 0.39 GiB | met |" in section
    assert "not the 10-million-row" not in section

    path.write_text(json.dumps(results_document(QUICK, _results(), "cmd", env)))
    results.scale = load_scale_results(path, lambda message: None)
    assert "(quick run), not the 10-million-row reference" in render_report(results)
    assert load_scale_results(tmp_path / "missing.json", lambda message: None) is None


def test_the_saved_reference_results_load():
    from pathlib import Path

    from benchmarks.scale import load_results

    path = Path(__file__).resolve().parents[1] / "docs" / "benchmarks-scale.json"
    plan, results, _, env = load_results(path)
    assert plan.n_samples == 10_000_000 and not plan.quick and set(results) == {"in-process",
                                                                                 "dask"}
    assert "10,000,000 × 50" in render(plan, results, "cmd", env)
