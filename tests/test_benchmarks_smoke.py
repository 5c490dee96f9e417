"""The benchmark harness still runs end to end on a tiny problem. No speed is asserted."""

from __future__ import annotations

import math

from benchmarks.environment import describe_environment
from benchmarks.measurements import measure_per_iteration
from benchmarks.problems import synthetic_problem
from benchmarks.report import Results, evaluate_targets, render


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
