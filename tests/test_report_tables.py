"""The HTML report of a synthesizer fitted on a mixed table (:mod:`mixsynth.report_tables`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer, evaluate
from mixsynth.evaluation import QualityReport, TableQualityReport
from mixsynth.report import build_report
from tests.tables.penguins import penguins


@pytest.fixture
def fitted(rng: np.random.Generator, seed: int) -> tuple[Synthesizer, pd.DataFrame]:
    df = penguins(rng, 160)
    model = Synthesizer(criterion="bic", reg_covar=1e-2, n_components=[1, 2], guard=False,
                        random_state=seed).fit(df)
    return model, df


def test_the_page_shows_the_table_report_it_is_given(fitted):
    model, df = fitted
    synth = model.sample(160, random_state=1)
    quality = evaluate(df, synth, model=model, random_state=0)
    assert isinstance(quality, TableQualityReport)
    page = build_report(model, df, quality=quality, title="Penguins <&>")
    assert "<title>Penguins &lt;&amp;&gt;</title>" in page  # escaped
    assert "As given: 160 real rows against 160 generated rows" in page
    assert "vs real_train" in page and "give held-out rows" in page
    weakest = min(v for v in quality.pair_trend_scores.values() if v is not None)
    assert f"{weakest:.3g}" in page  # the weakest pair is listed
    assert "<script" not in page and "<img" not in page


def test_computed_here_with_a_holdout_and_the_same_seed_the_same_numbers(fitted, rng):
    model, df = fitted
    hold = penguins(rng, 60)
    a = build_report(model, df, holdout=hold, random_state=3, n_samples=120)
    b = build_report(model, df, holdout=hold, random_state=3, n_samples=120)
    cut = lambda page: page[page.index("<main>"):]  # noqa: E731  (the header has the time)
    assert cut(a) == cut(b)
    assert "60 held-out real rows against 120 generated rows" in a


def test_bad_arguments_are_named(fitted, rng):
    model, df = fitted
    with pytest.raises(ValueError, match="data must be a DataFrame"):
        build_report(model, df.to_numpy())
    with pytest.raises(ValueError, match="image_shape applies to images"):
        build_report(model, df, image_shape=(2, 4))
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        build_report(model, df, n_samples=0)
    X = rng.normal(size=(50, 2))
    numeric = evaluate(X, X[:20])
    assert isinstance(numeric, QualityReport)
    with pytest.raises(ValueError, match="quality must be the TableQualityReport"):
        build_report(model, df, quality=numeric)
    plain = Synthesizer(criterion="bic", n_components=[1], guard=False).fit(X)
    with pytest.raises(ValueError, match="fitted on plain numbers"):
        build_report(plain, df)


def test_the_candidates_say_how_many_folds_each_score_averages(rng, seed):
    """Held-out selection screens every candidate on one fold and scores a short list on all:
    the stored candidates and the page's table say which, and star the chosen model."""
    df = penguins(rng, 160)
    model = Synthesizer(criterion="heldout", cv=3, reg_covar=1e-2, n_components=[1, 2, 3],
                        guard=False, random_state=seed).fit(df)
    cands = model._table().candidates
    assert [c["n_components"] for c in cands] == [1, 2, 3]  # sorted
    assert sorted(c["folds"] for c in cands) == [1, 3, 3]
    full = [c for c in cands if c["folds"] == 3 and c["score"] is not None]
    assert max(full, key=lambda c: c["score"])["n_components"] == model._table().n_components
    quality = evaluate(df, model.sample(160, random_state=1), random_state=0)
    page = build_report(model, df, quality=quality)
    assert '<th scope="col" class="num">folds</th>' in page
    assert page.count(" *</th>") == 1
    assert f">{model._table().n_components} *</th>" in page
