"""The scale benchmark's harness runs end to end on a tiny problem. No speed is asserted."""

from __future__ import annotations

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
