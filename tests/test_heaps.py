"""Heaped columns (few distinct values) sampled with their training marginal (mixsynth.heaps)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy.stats import ks_2samp

from mixsynth import Synthesizer
from mixsynth.heaps import DRAWS, HEAP_FRACTION, KNOTS, HeapMap, heaped_columns
from mixsynth.persistence import load, save

from .test_persistence import _load_error, _open, _write

FAST = dict(n_components=[2, 4], criterion="bic", random_state=0)


def _table(rng: np.random.Generator, n: int = 2000) -> np.ndarray:
    """A heaped column (whole numbers, 3 % halves: diamonds' `table`), a continuous column
    that depends on it, and a second heaped column (a handful of levels)."""
    a = np.round(rng.normal(56.0, 2.0, n))
    a[rng.random(n) < 0.03] += 0.5
    b = rng.normal(size=n) + 0.3 * a
    c = rng.integers(0, 5, n).astype(float)
    return np.c_[a, b, c]


def test_heaped_columns_are_those_with_few_distinct_values(rng) -> None:
    n = 1000
    X = np.c_[rng.normal(size=n),  # all distinct
              np.round(rng.normal(size=n)),  # a few levels
              np.ones(n),  # constant: nothing to map
              np.arange(n) % int(HEAP_FRACTION * n),  # exactly at the limit
              np.arange(n) % (int(HEAP_FRACTION * n) + 1)]  # one beyond it
    X[::7, 1] = np.nan  # gaps do not count
    np.testing.assert_array_equal(heaped_columns(X), [False, True, False, True, False])


def test_samples_of_a_heaped_column_have_its_training_marginal(rng) -> None:
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(**FAST).fit(X)
    np.testing.assert_array_equal(s.heaps_.columns, [0, 2])
    S = s.sample(20_000, random_state=1)
    for j in (0, 2):
        assert set(np.unique(S[:, j])) <= set(np.unique(X[:, j]))  # training values only
        values, counts = np.unique(X[:, j], return_counts=True)
        got = np.array([np.mean(S[:, j] == v) for v in values])
        assert np.abs(got - counts / len(X)).max() < 0.02
    # the heaps themselves: 97 % whole numbers in the data; rounding alone gave about 10 %
    assert abs(np.mean(S[:, 0] == np.round(S[:, 0])) - np.mean(X[:, 0] == np.round(X[:, 0]))) < 0.02
    # the continuous column is left as the mixture draws it
    raw = dataclasses.replace(s.model_, heaps=None)
    s_raw = Synthesizer(**FAST)
    s_raw.__dict__.update(s.__dict__, model_=raw)
    np.testing.assert_array_equal(s_raw.sample(500, random_state=2)[:, 1],
                                  s.sample(500, random_state=2)[:, 1])


def test_the_map_is_monotone_so_the_mixtures_ranks_are_kept(rng) -> None:
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(**FAST).fit(X)
    rows = s.model_.support_draws(5000, np.random.default_rng(3))
    mapped = rows.copy()
    s.heaps_.apply(mapped, np.ones(3, dtype=bool), np.random.default_rng(0))
    for j in (0, 2):  # column 2 is whole numbers: atoms, split at random among values
        order = np.lexsort((mapped[:, j], rows[:, j]))  # by raw value, ties by mapped value
        assert np.all(np.diff(mapped[order, j]) >= 0)
    # the dependence survives: b still grows with a
    S = s.sample(5000, random_state=4)
    assert np.corrcoef(S[:, 0], S[:, 1])[0, 1] > 0.5 * np.corrcoef(X[:, 0], X[:, 1])[0, 1]


def test_a_given_value_stays_as_given_and_the_other_heaps_are_mapped(rng) -> None:
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(**FAST).fit(X)
    S = s.sample(300, random_state=0, given={0: 57.25})
    assert np.all(S[:, 0] == 57.25)
    assert set(np.unique(S[:, 2])) <= set(np.unique(X[:, 2]))


def test_no_heaps_without_a_support_or_for_streamed_data(rng, tmp_path) -> None:
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Synthesizer(support=None, **FAST).fit(X)
        np.save(tmp_path / "x.npy", X)
        streamed = Synthesizer(**FAST).fit(tmp_path / "x.npy", out_of_core=True)
    for s in (raw, streamed):
        with pytest.raises(AttributeError, match="maps no heaped column"):
            _ = s.heaps_


def test_heaps_round_trip_through_the_model_file(rng, tmp_path) -> None:
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(**FAST).fit(X)
    save(s, tmp_path / "h.mixsynth")
    m = load(tmp_path / "h.mixsynth")
    np.testing.assert_array_equal(m.heaps_.knots, s.heaps_.knots)
    np.testing.assert_array_equal(m.sample(400, random_state=5), s.sample(400, random_state=5))


BAD_HEAPS = {
    "a column beyond the data": (lambda h: h.update(columns=[0, 7]), "beyond"),
    "columns not increasing": (lambda h: h.update(columns=[2, 0]), "increasing column"),
    "knots decreasing": (lambda h: h["knots"][0].reverse(), "nondecreasing"),
    "knots of two lengths": (lambda h: h["knots"][1].pop(), "one length"),
    "a non-finite knot": (lambda h: h["knots"][0].__setitem__(3, {"$float": "nan"}), "finite"),
    "values not increasing": (lambda h: h["values"][0].reverse(), "increasing"),
    "frequencies not ending at 1": (lambda h: h["cumulative"][0].__setitem__(-1, 0.5),
                                    "increase to 1"),
    "a row missing": (lambda h: h["values"].pop(), "one row per column"),
    "not an object": (lambda h: h.clear(), "columns, knots"),
}


@pytest.mark.parametrize("case", sorted(BAD_HEAPS))
def test_a_tampered_heap_map_is_a_model_file_error(rng, tmp_path, case) -> None:
    X = _table(rng, n=600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(**FAST).fit(X)
    save(s, tmp_path / "h.mixsynth")
    doc, tensors, _ = _open(tmp_path / "h.mixsynth")
    heaps = doc["model"]["attrs"]["heaps"]
    assert heaps["columns"] == [0, 2]
    edit, fragment = BAD_HEAPS[case]
    edit(heaps)
    _write(tmp_path / "bad.mixsynth", doc, tensors)
    assert fragment in _load_error(tmp_path / "bad.mixsynth")


def test_from_json_reads_what_to_json_writes(rng) -> None:
    X = _table(rng, n=500)
    draws = X + rng.normal(scale=0.3, size=X.shape)
    h = HeapMap.fit(X, draws, heaped_columns(X))
    assert h is not None
    back = HeapMap.from_json(h.to_json(), n_features=3)
    np.testing.assert_array_equal(back.columns, h.columns)
    np.testing.assert_array_equal(back.knots, h.knots)
    for a, b in zip(back.values + back.cumulative, h.values + h.cumulative, strict=True):
        np.testing.assert_array_equal(a, b)
    assert HeapMap.fit(X, draws, np.zeros(3, dtype=bool)) is None


def test_a_mixed_tables_heaped_numbers_take_their_training_marginal(rng, tmp_path) -> None:
    import pandas as pd

    X = _table(rng, n=1500)
    df = pd.DataFrame({"table": X[:, 0], "price": X[:, 1],
                       "cut": rng.choice(["Fair", "Good", "Ideal"], len(X))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(n_components=[2, 3], criterion="bic", random_state=0).fit(df)
    heaps = s.model_.heaps
    assert heaps is not None and list(heaps.columns) == [0]  # table, in the numeric block
    out = s.sample(10_000, random_state=1)
    assert set(out["table"]) <= set(df["table"])
    whole = np.mean(out["table"] == np.round(out["table"]))
    assert abs(whole - np.mean(df["table"] == np.round(df["table"]))) < 0.02
    save(s, tmp_path / "t.mixsynth")
    pd.testing.assert_frame_equal(load(tmp_path / "t.mixsynth").sample(300, random_state=2),
                                  s.sample(300, random_state=2))
    doc, tensors, _ = _open(tmp_path / "t.mixsynth")
    doc["model"]["table"]["attrs"]["heaps"]["columns"] = [2]  # there are two numbers
    _write(tmp_path / "bad.mixsynth", doc, tensors)
    assert "beyond the 2 numeric columns" in _load_error(tmp_path / "bad.mixsynth")


def test_a_replaced_mixture_gets_its_own_map(rng) -> None:
    """The map belongs to the mixture it was estimated from: ``with_heaps`` estimates it again
    (benchmarks.quality swaps the mixture of a one-component model)."""
    X = _table(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = Synthesizer(n_components=1, criterion="bic", random_state=0).fit(X).model_
        many = Synthesizer(**FAST).fit(X).model_
    swapped = dataclasses.replace(one, whitener=many.whitener, mixture=many.mixture)
    again = swapped.with_heaps(X, np.random.default_rng(0))
    assert not np.array_equal(again.heaps.knots, one.heaps.knots)
    # The same mixture from other draws: each column's two estimated marginals (KNOTS
    # quantiles of DRAWS draws each) are one distribution's, within the two-sample
    # Kolmogorov-Smirnov distance that sampling exceeds with probability 2 exp(-2 * 3.1**2)
    # < 1e-8, plus the knots' resolution. (A fixed share of differing knots of the whole-number
    # column failed on 2 seeds in 30: it is each level's CDF that is estimated, to
    # sqrt(p(1 - p) / DRAWS), a few knots.)
    for new, old in zip(again.heaps.knots, many.heaps.knots, strict=True):
        assert ks_2samp(new, old, method="asymp").statistic <= 3.1 * np.sqrt(2 / DRAWS) + 2 / KNOTS
    assert swapped.with_heaps(X[:, 1:2], np.random.default_rng(0)).heaps is None
