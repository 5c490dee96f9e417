"""The quality report: fidelity, generalisation and memorisation metrics, and bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import cdist
from scipy.stats import ks_2samp

from mixsynth import Synthesizer
from mixsynth.evaluation import (
    QualityReport,
    column_scale,
    evaluate,
    near_copy_rate,
    near_copy_threshold,
    nearest_distances,
)

_MIXING = np.array([[1.0, 0.0, 0.0, 0.0], [0.8, 0.6, 0.0, 0.0],
                    [0.0, 0.5, 1.0, 0.0], [0.3, 0.0, 0.0, 0.4]])


def _draw(rng: np.random.Generator, n: int, mixing: np.ndarray = _MIXING) -> np.ndarray:
    """Correlated 4-D rows with mixed units: one distribution shared by train/holdout/good."""
    return (rng.normal(size=(n, 4)) @ mixing.T) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, -2.0, 7.0]


# ------------------------------------------------------------------------ the metrics


def test_same_distribution_scores_better_than_a_different_one(rng):
    train, holdout, good = _draw(rng, 600), _draw(rng, 600), _draw(rng, 600)
    other = np.eye(4) + 0.3 * rng.normal(size=(4, 4))
    bad = 1.8 * _draw(rng, 600, other) - train.std(axis=0)
    r_good = evaluate(train, good, holdout, random_state=1)
    r_bad = evaluate(train, bad, holdout, random_state=1)

    assert abs(r_good.classifier_auc - 0.5) < 0.1
    assert r_bad.classifier_auc > 0.9
    assert r_good.column_shapes > 0.85 > r_bad.column_shapes
    assert r_good.correlation_similarity > r_bad.correlation_similarity
    assert r_good.mmd < r_bad.mmd
    assert r_good.out_of_bounds_rows < r_bad.out_of_bounds_rows
    assert max(r_good.ks_statistics.values()) < min(r_bad.ks_statistics.values())
    # a fresh sample is as far from the training rows as the held-out real rows are
    assert abs(r_good.near_copy_rate - r_good.holdout_near_copy_rate) < 0.05
    assert abs(r_good.dcr_synthetic_median / r_good.dcr_holdout_median - 1) < 0.2
    assert r_good.exact_copy_rate == 0.0


def test_a_copy_of_train_is_a_near_copy(rng):
    train, holdout = _draw(rng, 400), _draw(rng, 400)
    copy = train + rng.normal(scale=1e-9, size=train.shape)
    r = evaluate(train, copy, holdout)
    assert r.near_copy_rate == 1.0
    assert r.holdout_near_copy_rate < 0.2
    assert r.dcr_synthetic_median < 1e-6 < r.dcr_holdout_median
    assert r.exact_copy_rate == 0.0  # 1e-9 apart is near, not exact
    assert r.classifier_auc is not None


def test_exact_copy_rate_counts_rows_equal_to_a_train_row(rng):
    train = np.round(_draw(rng, 300), 2)
    fresh = np.round(_draw(rng, 100), 2) + 1e3  # far away: never equal to a train row
    synthetic = np.concatenate([train[:150], fresh, -0.0 * train[:50] + train[:50]])
    synthetic = synthetic[rng.permutation(len(synthetic))]
    r = evaluate(train, synthetic)
    assert r.exact_copy_rate == pytest.approx(200 / 300)
    # -0.0 and +0.0 are the same value
    zeros = np.zeros((5, 2))
    assert evaluate(np.r_[zeros, np.ones((5, 2))], -zeros).exact_copy_rate == 1.0


def test_ks_and_correlation_against_scipy_and_numpy(rng):
    train = _draw(rng, 40)[:, :3]
    synthetic = _draw(rng, 30)[:, :3] * [1.0, 0.5, 2.0]
    r = evaluate(train, synthetic)
    expected_ks = [ks_2samp(train[:, j], synthetic[:, j]).statistic for j in range(3)]
    np.testing.assert_allclose(list(r.ks_statistics.values()), expected_ks, rtol=1e-12)
    assert r.column_shapes == pytest.approx(1 - np.mean(expected_ks))
    upper = np.triu_indices(3, k=1)
    diff = np.abs(np.corrcoef(train.T)[upper] - np.corrcoef(synthetic.T)[upper])
    assert r.correlation_similarity == pytest.approx(1 - diff.mean() / 2, rel=1e-12)
    assert r.columns == ("x0", "x1", "x2")


def test_out_of_bounds_rate_and_rows():
    train = np.array([[0.0, 0.0], [1.0, 10.0]])
    synthetic = np.array([[0.5, 5.0], [-1.0, 5.0], [2.0, 11.0], [1.0, 10.0]])
    r = evaluate(train, synthetic)
    assert r.out_of_bounds_rate == pytest.approx(3 / 8)
    assert r.out_of_bounds_rows == pytest.approx(2 / 4)


def test_constant_columns_give_no_nan_and_no_warning(rng):
    train = np.c_[_draw(rng, 200), np.full(200, 3.0)]
    synthetic = np.c_[_draw(rng, 200), np.full(200, 3.0)]
    holdout = np.c_[_draw(rng, 100), np.full(100, 3.0)]
    r = evaluate(train, synthetic, holdout)
    values = [v for v in r.to_dict().values() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in values)
    assert r.ks_statistics["x4"] == 0.0
    assert r.dcr_synthetic_median > 0
    # every column constant: the distance metrics have no space to live in
    flat = np.ones((10, 3))
    r = evaluate(flat, flat)
    assert r.near_copy_rate is None and r.mmd is None
    assert "constant" in r.skipped["near_copy_rate"] and "constant" in r.skipped["mmd"]
    assert r.correlation_similarity == 1.0 and r.exact_copy_rate == 1.0


def test_the_same_seed_gives_the_same_report(rng):
    train, synthetic = _draw(rng, 300), _draw(rng, 300)
    a = evaluate(train, synthetic, max_rows=100, random_state=7).to_dict()
    b = evaluate(train, synthetic, max_rows=100, random_state=7).to_dict()
    assert a == b
    assert a["n_train"] == 300  # counts are of the inputs, not of the subsample


def test_digits_sized_data_runs_and_has_a_nonzero_threshold():
    from sklearn.datasets import load_digits

    X = load_digits().data
    order = np.random.default_rng(0).permutation(len(X))
    train, holdout = X[order[:1200]], X[order[1200:]]
    r = evaluate(train, holdout[:300], holdout[300:])
    assert r.near_copy_threshold > 0  # integer pixels, yet rows are rarely duplicated
    assert abs(r.near_copy_rate - r.holdout_near_copy_rate) < 0.1
    assert abs(r.classifier_auc - 0.5) < 0.15


# ---------------------------------------------------------------- holdout, model, skipping


def test_missing_holdout_and_model_are_skipped_with_reasons(rng):
    train, synthetic = _draw(rng, 100), _draw(rng, 100)
    r = evaluate(train, synthetic)
    nones = {k for k, v in dataclasses.asdict(r).items() if v is None}
    assert nones - {"temperature"} == set(r.skipped)  # a record of the sampling, not a metric
    assert {"train_log_likelihood", "heldout_log_likelihood", "generalisation_gap",
            "dcr_holdout_median", "holdout_near_copy_rate"} <= nones
    assert "model" in r.skipped["train_log_likelihood"]
    assert "real_holdout" in r.skipped["holdout_near_copy_rate"]
    assert r.n_holdout == 0

    r = evaluate(train, synthetic, _draw(rng, 50))
    assert r.holdout_near_copy_rate is not None and r.n_holdout == 50
    assert r.skipped["heldout_log_likelihood"] == "needs model and real_holdout"


def test_a_model_gives_finite_log_likelihoods_and_the_gap(rng):
    train, holdout = _draw(rng, 300), _draw(rng, 200)
    model = Synthesizer(n_components=2, guard=False, random_state=0).fit(train)
    r = evaluate(train, model.sample(300, random_state=1), holdout, model)
    assert math.isfinite(r.train_log_likelihood) and math.isfinite(r.heldout_log_likelihood)
    assert r.train_log_likelihood == pytest.approx(model.score(train))
    assert r.heldout_log_likelihood == pytest.approx(model.score(holdout))
    assert r.generalisation_gap == pytest.approx(
        r.train_log_likelihood - r.heldout_log_likelihood
    )
    assert not {"train_log_likelihood", "heldout_log_likelihood"} & set(r.skipped)

    r = evaluate(train, holdout, model=model)  # a model without holdout: train only
    assert r.train_log_likelihood is not None and r.generalisation_gap is None
    assert r.skipped["generalisation_gap"] == "needs real_holdout"


def test_a_model_fitted_on_a_dataframe_is_scored_without_warnings(rng):
    cols = ["a", "b", "c", "d"]
    train = pd.DataFrame(_draw(rng, 200), columns=cols)
    holdout = pd.DataFrame(_draw(rng, 100), columns=cols)
    model = Synthesizer(n_components=2, guard=False, random_state=0).fit(train)
    r = evaluate(train, model.sample(200, random_state=0), holdout, model)
    assert r.heldout_log_likelihood == pytest.approx(model.score(holdout))
    with pytest.raises(ValueError, match="column names of real_train should match"):
        other = train.set_axis(["x", "b", "c", "d"], axis=1)
        evaluate(other, other, model=model)


def test_a_model_with_another_feature_count_is_rejected(rng):
    train = _draw(rng, 100)
    model = Synthesizer(n_components=2, guard=False, random_state=0).fit(train[:, :3])
    msg = "real_train has 4 features, but Synthesizer is expecting 3 features as input."
    with pytest.raises(ValueError, match=msg):
        evaluate(train, train, model=model)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("argument", ["real_train", "synthetic", "real_holdout"])
def test_nan_names_the_argument_column_and_row(rng, argument):
    data = {name: _draw(rng, 20) for name in ("real_train", "synthetic", "real_holdout")}
    data[argument][3, 2] = np.nan
    data[argument][7, 2] = np.inf
    with pytest.raises(ValueError, match=rf"{argument} contains NaN.*column 2, first at row 3"):
        evaluate(**data)


def test_feature_count_mismatch_names_the_argument(rng):
    train = _draw(rng, 20)
    msg = "synthetic has 3 features, but real_train is expecting 4 features as input."
    with pytest.raises(ValueError, match=msg):
        evaluate(train, train[:, :3])
    with pytest.raises(ValueError, match="real_holdout has 5 features, but real_train"):
        evaluate(train, train, np.c_[train, train[:, :1]])


def test_too_few_rows_and_bad_shapes(rng):
    train = _draw(rng, 20)
    with pytest.raises(ValueError, match=r"synthetic: Found array with 0 sample\(s\)"):
        evaluate(train, np.empty((0, 4)))
    with pytest.raises(ValueError, match=r"real_train: Found array with 1 sample\(s\)"):
        evaluate(train[:1], train)
    with pytest.raises(ValueError, match="Reshape your data"):
        evaluate(train, train[:, 0])
    with pytest.raises(ValueError, match="max_rows"):
        evaluate(train, train, max_rows=1)
    r = evaluate(train, train[:1])  # one synthetic row: metrics that need more are skipped
    assert r.classifier_auc is None and r.mmd is None and "classifier_auc" in r.skipped


def test_dataframe_column_names_are_carried_and_checked(rng):
    cols = ["age", "income", "score", "weight"]
    train = pd.DataFrame(_draw(rng, 50), columns=cols)
    r = evaluate(train, _draw(rng, 50))  # a bare synthetic array takes train's names
    assert list(r.ks_statistics) == cols and r.columns == tuple(cols)
    renamed = train.rename(columns={"age": "years"})
    with pytest.raises(ValueError, match=r"synthetic should match.*unexpected \['years'\]"):
        evaluate(train, renamed)
    with pytest.raises(ValueError, match="another order"):
        evaluate(train, train[cols[::-1]])


# --------------------------------------------------------------------------------- output


def test_to_dict_round_trips_through_json(rng):
    r = evaluate(_draw(rng, 100), _draw(rng, 100), _draw(rng, 50))
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d == json.loads(r.to_json())
    assert d["columns"] == ["x0", "x1", "x2", "x3"] and d["heldout_log_likelihood"] is None
    broken = dataclasses.replace(r, mmd=float("nan"), classifier_auc=np.float64(-np.inf))
    assert broken.to_dict()["mmd"] is None and broken.to_dict()["classifier_auc"] is None
    json.loads(broken.to_json())


def test_summary_rows(rng):
    r = evaluate(_draw(rng, 100), _draw(rng, 100))
    rows = r.summary()
    assert all(len(row) == 3 and all(isinstance(x, str) for x in row) for row in rows)
    table = {name: (value, direction) for name, value, direction in rows}
    assert table["heldout_log_likelihood"][0] == "skipped"
    assert table["classifier_auc"][1] == "closer to 0.5 is better"
    assert float(table["column_shapes"][0]) == pytest.approx(r.column_shapes, rel=1e-3)
    # every summary metric is a field the class docstring documents
    for name in table:
        assert name in {f.name for f in dataclasses.fields(QualityReport)}
        assert f"{name} :" in QualityReport.__doc__ or f", {name}" in QualityReport.__doc__


# ------------------------------------------------------------- distance building blocks


def _brute_nearest(reference: np.ndarray, query: np.ndarray, scale: np.ndarray) -> np.ndarray:
    keep = scale > 0
    return cdist(query[:, keep] / scale[keep], reference[:, keep] / scale[keep]).min(axis=1)


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)),
               elements=st.integers(-3, 3).map(float)),
    st.integers(1, 8),
)
# a tie at one ulp between the threshold and a query's distance (found by Hypothesis)
@example(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 1)
def test_nearest_distances_match_brute_force(train, n_query):
    rng = np.random.default_rng(n_query)
    query = np.round(rng.normal(size=(n_query, train.shape[1])) * 2)
    scale = column_scale(train)
    np.testing.assert_allclose(
        nearest_distances(train, query, scale=scale), _brute_nearest(train, query, scale),
        atol=1e-9,
    )
    threshold = near_copy_threshold(train, scale=scale)
    own = cdist(train[:, scale > 0] / scale[scale > 0], train[:, scale > 0] / scale[scale > 0])
    np.fill_diagonal(own, np.inf)
    expected = np.quantile(own.min(axis=1), 0.05) if (scale > 0).any() else 0.0
    assert threshold == pytest.approx(expected, abs=1e-9)
    rate = near_copy_rate(train, query, threshold=threshold, scale=scale)
    assert rate == np.mean(_brute_nearest(train, query, scale) <= threshold + 1e-12) or (
        not (scale > 0).any() and rate == 1.0
    )


def test_exact_copies_are_at_distance_zero_despite_a_large_offset(rng):
    train = 1e12 + rng.normal(size=(500, 3))
    scale = column_scale(train)
    # more precise than train.std(): subtracting the offset is exact here
    np.testing.assert_allclose(scale, (train - 1e12).std(axis=0), rtol=1e-12)
    assert np.all(nearest_distances(train, train[:50], scale=scale) == 0.0)
    assert near_copy_rate(train, train[:50], threshold=0.0, scale=scale) == 1.0


def test_column_scale_on_extreme_magnitudes():
    X = np.array([[1e200, 1e-200, 5.0], [3e200, 3e-200, 5.0]])
    np.testing.assert_allclose(column_scale(X), [1e200, 1e-200, 0.0])


def test_threshold_counts_duplicates_and_subsamples(rng):
    train = np.repeat(_draw(rng, 50), 2, axis=0)  # every row twice
    scale = column_scale(train)
    assert near_copy_threshold(train, scale=scale, quantile=0.5) == 0.0
    assert near_copy_threshold(train, scale=scale, max_rows=20, random_state=3) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        near_copy_threshold(train[:1], scale=scale)
    with pytest.raises(ValueError, match="quantile"):
        near_copy_threshold(train, scale=scale, quantile=1.5)
    with pytest.raises(ValueError, match="query has 3 features, but reference is expecting 4"):
        nearest_distances(train, train[:, :3], scale=scale)
