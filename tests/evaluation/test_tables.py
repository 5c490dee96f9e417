"""The quality of a synthetic mixed-type table: the metrics, the report, and bad input."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.evaluation import QualityReport, TableQualityReport, evaluate
from mixsynth.evaluation.tables import align, column_kinds, gower_dcr, shape_scores
from tests.tables.penguins import penguins


def _fast(**kw: object) -> Synthesizer:
    params: dict[str, object] = {"criterion": "bic", "reg_covar": 1e-2, "n_components": [1, 2, 3],
                                 "guard": False}
    params.update(kw)
    return Synthesizer(**params)  # type: ignore[arg-type]


def _report(*args: object, **kw: object) -> TableQualityReport:
    out = evaluate(*args, **kw)  # type: ignore[arg-type]
    assert isinstance(out, TableQualityReport)
    return out


# ------------------------------------------------------------------------ the metrics


def test_a_copy_scores_perfectly_and_is_all_near_copies(rng):
    real = penguins(rng, 200)
    r = _report(real, real.copy(), random_state=1)
    assert r.column_shape_scores == {c: 1.0 for c in real.columns}
    assert r.column_shapes == 1.0
    assert all(v == pytest.approx(1.0) for v in r.pair_trend_scores.values())
    assert len(r.pair_trend_scores) == 8 * 7 // 2
    assert r.missing_gap_max == 0.0
    assert r.near_copy_rate == 1.0 and r.dcr_synthetic_median == 0.0
    # each copy meets its twin under the other label in the training folds: far below 0.5
    assert r.classifier_auc_against == "real_train"
    assert r.classifier_auc is not None and r.classifier_auc < 0.3


def test_a_fresh_sample_is_not_a_copy(rng):
    real, fresh, hold = penguins(rng, 300), penguins(rng, 300), penguins(rng, 150)
    r = _report(real, fresh, hold, random_state=0)
    assert r.classifier_auc_against == "real_holdout"
    assert r.classifier_auc is not None and 0.35 < r.classifier_auc < 0.65
    assert r.near_copy_rate is not None and r.holdout_near_copy_rate is not None
    assert r.near_copy_rate < 0.2 and r.holdout_near_copy_rate < 0.2
    assert r.column_shapes is not None and r.column_shapes > 0.85


def test_an_independent_column_lowers_its_pair_trends_only(rng):
    real, fresh = penguins(rng, 400), penguins(rng, 400)
    shuffled = fresh.assign(bill_depth_mm=rng.permutation(fresh["bill_depth_mm"].to_numpy()))
    good, bad = _report(real, fresh), _report(real, shuffled)
    assert bad.column_shape_scores == good.column_shape_scores  # the same marginals
    pair = "species × bill_depth_mm"
    assert bad.pair_trend_scores[pair] < good.pair_trend_scores[pair] - 0.1  # type: ignore[operator]
    untouched = "species × island"
    assert bad.pair_trend_scores[untouched] == good.pair_trend_scores[untouched]
    assert bad.pair_trends < good.pair_trends  # type: ignore[operator]


def test_one_level_for_every_row_lowers_the_shape(rng):
    real, fresh = penguins(rng, 300), penguins(rng, 300)
    flat = fresh.assign(species=pd.Categorical(["Adelie"] * len(fresh)))
    good, bad = _report(real, fresh), _report(real, flat)
    share = real["species"].value_counts(normalize=True)["Adelie"]
    assert bad.column_shape_scores["species"] == pytest.approx(share)  # 1 - TV by hand
    assert bad.column_shapes < good.column_shapes  # type: ignore[operator]


def test_a_category_the_real_table_lacks_counts_against_the_shape_not_as_a_gap(rng):
    real = penguins(rng, 200)
    odd = real.copy()
    odd["island"] = odd["island"].where(np.arange(len(odd)) % 4 != 0, "Atlantis")
    r = _report(real, odd)
    assert r.column_shape_scores["island"] == pytest.approx(0.75, abs=0.02)
    assert r.missing_synthetic["island"] == 0.0


def test_missing_rates_are_measured_exactly():
    real = pd.DataFrame({"a": [1.0, np.nan, 3, np.nan, 5, 6, 7, 8, 9, 10],
                         "c": ["x", "y"] * 5})
    synth = pd.DataFrame({"c": ["x", None, "y", None, None, "x", "y", "x", "y", "x"],
                          "a": [np.nan] * 5 + [1.0, 2, 3, 4, 5]})
    r = _report(real, synth)
    assert r.missing_real == {"a": 0.2, "c": 0.0}
    assert r.missing_synthetic == {"a": 0.5, "c": 0.3}
    assert r.missing_gap_max == pytest.approx(0.3)
    assert r.missing_gap_mean == pytest.approx(0.3)


def test_gower_distance_by_hand_with_dates_and_booleans():
    day = pd.Timestamp("2020-01-01")
    ref = pd.DataFrame({"t": [day, day + pd.Timedelta(days=10)], "b": [True, False]})
    query = pd.DataFrame({"t": [day + pd.Timedelta(days=5), pd.NaT, day + pd.Timedelta(days=20)],
                          "b": pd.array([True, False, None], dtype="boolean")})
    assert column_kinds(ref) == {"t": "continuous", "b": "categorical"}
    # (day 5, True): 5/10 days and True = True -> 0.25; (NaT, False): a gap against a date
    # counts 1, False = False -> 0.5; (day 20, gap): 10/10 capped at 1, gap -> 1.0
    np.testing.assert_allclose(gower_dcr(query, ref), [0.25, 0.5, 1.0])


def test_dates_are_compared_as_instants_whatever_their_unit_or_zone():
    t = pd.Series(pd.date_range("2021-01-01", periods=50, freq="D"))
    real = pd.DataFrame({"t": t.astype("datetime64[s]")})
    synth = pd.DataFrame({"t": t.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")})
    assert shape_scores(align(real, real), align(synth, real)) == {"t": 1.0}


# ------------------------------------------------------------------------ the report


def test_to_dict_is_strict_json_and_round_trips(rng):
    real = penguins(rng, 120)
    synth = real.assign(sex=pd.Series([None] * len(real), dtype=object))  # no value: no shape
    r = _report(real, synth, real.iloc[:40], random_state=3)
    assert r.column_shape_scores["sex"] is None and "sex" in r.columns
    d = r.to_dict()
    assert json.loads(r.to_json()) == d
    assert list(d) == [f.name for f in dataclasses.fields(r)]
    broken = dataclasses.replace(r, classifier_auc=float("nan"), near_copy_rate=np.float64(np.inf))
    assert broken.to_dict()["classifier_auc"] is None
    assert broken.to_dict()["near_copy_rate"] is None
    json.loads(broken.to_json())
    text = str(r)
    assert "column_shapes" in text and "(vs real_holdout)" in text


def test_same_seed_same_report_and_max_rows_caps_the_rows(rng):
    real, fresh = penguins(rng, 300), penguins(rng, 300)
    a = _report(real, fresh, random_state=7, max_rows=60).to_dict()
    assert a == _report(real, fresh, random_state=7, max_rows=60).to_dict()
    full = _report(real, fresh, random_state=7).to_dict()
    assert full["column_shape_scores"] != a["column_shape_scores"]  # 60 rows, not 300
    assert a["missing_real"] == full["missing_real"]  # missing rates use every row


def test_plain_numbers_keep_the_numeric_report(rng):
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    assert isinstance(evaluate(X, X.iloc[:40]), QualityReport)
    gappy = X.copy()
    gappy.iloc[3, 1] = np.nan  # a gap: the table model's input, and its report
    assert isinstance(evaluate(gappy, X.iloc[:40]), TableQualityReport)


def test_end_to_end_with_the_model(rng, seed):
    df = penguins(rng, 344)
    train, hold = df.iloc[:250].reset_index(drop=True), df.iloc[250:].reset_index(drop=True)
    s = _fast(random_state=seed).fit(train)
    synth = s.sample(250, random_state=seed)
    r = _report(train, synth, hold, s, random_state=seed, temperature=1.0)
    assert r.heldout_log_likelihood is not None and math.isfinite(r.heldout_log_likelihood)
    assert r.train_log_likelihood is not None and math.isfinite(r.train_log_likelihood)
    assert r.generalisation_gap == pytest.approx(r.train_log_likelihood
                                                 - r.heldout_log_likelihood)
    assert np.mean(s.score_samples(hold)) == pytest.approx(r.heldout_log_likelihood)
    assert r.column_shapes is not None and r.column_shapes > 0.8
    assert r.temperature == 1.0 and "heldout_log_likelihood" not in r.skipped
    # a model fitted on a table takes the table path even for a frame of plain numbers
    numbers = train.drop(columns=["species", "island", "sex"]).astype(float)
    with pytest.raises(ValueError, match="real_train has no column 'species'"):
        evaluate(numbers, numbers, model=s)


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.drop(columns="island"), "synthetic has no column 'island'"),
    (lambda d: d.assign(extra=1.0), "synthetic has a column 'extra' that real_train lacks"),
    (lambda d: d.rename(columns={"sex": "gender"}), "synthetic has no column 'sex'"),
    (lambda d: d.assign(body_mass_g=["heavy"] * len(d)),
     "Column 'body_mass_g' is continuous .* in real_train but categorical .* in synthetic"),
    (lambda d: d.assign(bill_depth_mm=d["bill_depth_mm"].where(d.index != 4, np.inf)),
     "synthetic contains inf .*column 'bill_depth_mm' .*first at row 4"),
    (lambda d: d.iloc[:0], "synthetic: Found array with 0 sample"),
    (lambda d: d.to_numpy(), "synthetic must be a DataFrame"),
])
def test_bad_synthetic_tables_are_named(rng, change, message):
    real = penguins(rng, 60)
    with pytest.raises(ValueError, match=message):
        evaluate(real, change(real.copy()))


def test_other_column_order_and_empty_columns_are_fine(rng):
    real = penguins(rng, 80)
    other = real[list(reversed(real.columns))].assign(sex=np.nan)  # a gap column reads as float
    r = _report(real, other, other)
    assert r.columns == tuple(real.columns)
    assert r.missing_synthetic["sex"] == 1.0
    assert r.column_shape_scores["species"] == 1.0


def test_bad_holdout_and_max_rows(rng):
    real = penguins(rng, 60)
    with pytest.raises(ValueError, match="real_holdout has no column 'year'"):
        evaluate(real, real, real.drop(columns="year"))
    with pytest.raises(ValueError, match="max_rows must be an integer >= 2"):
        evaluate(real, real, max_rows=1)
    with pytest.raises(ValueError, match="real_train has the column 'a' more than once"):
        evaluate(pd.DataFrame([["x", "y"]] * 3, columns=["a", "a"]), real)


def test_column_labels_that_are_not_text(rng, seed):
    X = pd.DataFrame(rng.normal(size=(150, 2)))  # labels 0 and 1
    X.iloc[::10, 1] = np.nan  # gaps: the table model
    s = _fast(random_state=seed).fit(X)
    r = _report(X, s.sample(150, random_state=seed), X.iloc[:50], s)
    assert r.columns == ("0", "1") and set(r.missing_real) == {"0", "1"}
    assert r.heldout_log_likelihood is not None and math.isfinite(r.heldout_log_likelihood)
    assert r.missing_real["1"] == pytest.approx(0.1)
