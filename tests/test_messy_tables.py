"""A Hypothesis campaign over messy numeric tables (issue 14 item 6): outliers, duplicated rows,
tiny tables (fewer rows than folds), huge, tiny and mixed scales, large offsets, constant and
collinear columns, all rows identical but one. Every fit either succeeds, and then samples and
scores finite numbers, or raises a documented ``ValueError`` (one of :data:`DOCUMENTED`).

Deterministic: examples are drawn from the session seed (``MIXSYNTH_TEST_SEED`` reproduces a
run) with no example database; the number of examples is bounded for CI.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from mixsynth import GaussianMixture, Synthesizer
from mixsynth.guard import GuardSkippedWarning
from tests.conftest import _SEED
from tests.strategies import messy_mixed_tables, messy_tables

#: The refusals a user may meet on such tables, each naming the problem and what to change.
DOCUMENTED = (
    r"Found array with 1 sample\(s\)",  # one row (after duplicates / tiny): scikit-learn's words
    r"n_components=\d+ is larger than the number of distinct rows",
    r"ill-defined empirical covariance",  # scikit-learn's, with its advice (reg_covar, scale)
    r"Expected n_samples >= n_components",
    r"spans .* its variance is beyond float64\. Scale the input",
)

CAMPAIGN = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _documented(error: ValueError) -> bool:
    return any(re.search(p, str(error)) for p in DOCUMENTED)


def _check_outputs(samples: np.ndarray, scores: np.ndarray, d: int) -> None:
    assert samples.shape == (7, d)
    assert np.isfinite(samples).all(), "a sample is not finite"
    assert not np.isnan(scores).any(), "a training row scores NaN"
    assert (scores > -np.inf).all(), "a training row has zero density"


@hypothesis_seed(_SEED)
@CAMPAIGN
@given(table=messy_tables())
def test_synthesizer_on_messy_tables(table: tuple[str, np.ndarray]) -> None:
    """The default selection never fails where one component would do: too few rows for the
    folds, or folds whose training rows are one point, fall back to BIC and say so."""
    kind, X = table
    s = Synthesizer(n_components=range(1, 4), reg_covar=1e-6, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant columns, convergence: said, not failures
            s.fit(X)
            samples, scores = s.sample(7), s.score_samples(X)
    except ValueError as e:
        assert _documented(e), f"{kind}: undocumented error {e!r}"
        return
    _check_outputs(samples, scores, X.shape[1])


@hypothesis_seed(_SEED + 1)
@CAMPAIGN
@given(table=messy_tables(), k=st.integers(1, 3))
def test_gaussian_mixture_on_messy_tables(table: tuple[str, np.ndarray], k: int) -> None:
    """``GaussianMixture`` alone: a fit, or a refusal that says what to change; never NaN
    parameters surfacing later as a sampling error."""
    kind, X = table
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm = GaussianMixture(n_components=k, random_state=0).fit(X)
    except ValueError as e:
        assert _documented(e), f"{kind}: undocumented error {e!r}"
        return
    assert np.isfinite(gm.means_).all() and np.isfinite(gm.weights_).all()
    assert np.isfinite(gm.precisions_cholesky_).all()
    _check_outputs(gm.sample(7)[0], gm.score_samples(X), X.shape[1])


#: The mixed model's refusals on such tables (a column drawn all missing; a column of one
#: text level beside nothing to model is still a table).
DOCUMENTED_MIXED = (r"Column '\w+' has no values \(every entry is missing\); drop it",)


@hypothesis_seed(_SEED + 2)
@CAMPAIGN
@given(table=messy_mixed_tables())
def test_synthesizer_on_messy_mixed_tables(table: tuple[str, pd.DataFrame]) -> None:
    """The same campaign with text columns beside the numbers (and gaps): the table model.
    Tiny tables crashed with an IndexError (an empty held-out fold), and values near 1e300
    gave an infinite spread and -inf scores (np.nanstd squares them)."""
    kind, df = table
    s = Synthesizer(n_components=range(1, 4), reg_covar=1e-6, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s.fit(df)
            samples, scores = s.sample(7), s.score_samples(df)
    except ValueError as e:
        assert any(re.search(p, str(e)) for p in DOCUMENTED_MIXED), (
            f"{kind}: undocumented error {e!r}")
        return
    assert list(samples.columns) == list(df.columns) and len(samples) == 7
    numbers = samples.select_dtypes("number").to_numpy()
    assert not np.isinf(numbers).any(), "a sample is infinite"
    assert not np.isnan(scores).any(), "a training row scores NaN"
    assert (scores > -np.inf).all(), "a training row has zero density"


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_mixed_table_with_fewer_rows_than_folds_is_selected_by_bic_and_says_so(
        n: int, rng: np.random.Generator) -> None:
    """It crashed with an IndexError (an empty held-out fold) where one component would do."""
    df = pd.DataFrame({"x": rng.normal(size=n), "c": ["a", "b"] * (n // 2) + ["a"] * (n % 2)})
    with pytest.warns(UserWarning, match=f"Cannot cross-validate {n} rows in 5 folds: selected "
                                         "by BIC"):
        s = Synthesizer(random_state=0).fit(df)
    out = s.sample(5)
    assert list(out.columns) == ["x", "c"] and set(out["c"]) <= {"a", "b"}
    assert np.isfinite(s.score_samples(df)).all()


def test_a_mixed_table_near_float64s_limit_scores_finite_numbers(
        rng: np.random.Generator) -> None:
    """Columns near 1e300 gave the table model an infinite spread (np.nanstd squares the
    values), hence -inf scores for every row; the numeric path pre-scales, so must this."""
    unit = np.array([1e300, 1e-300])
    X = rng.normal(size=(40, 2))
    df = pd.DataFrame(X * unit, columns=["huge", "tiny"]).assign(c=rng.choice(["a", "b"], 40))
    s = Synthesizer(n_components=[1, 2], criterion="bic", guard=False, random_state=0).fit(df)
    assert np.isfinite(s.model_.scale).all()
    assert np.isfinite(s.score_samples(df)).all()
    out = s.sample(200)[["huge", "tiny"]].to_numpy() / unit  # squared in units, not in 1e300s
    np.testing.assert_array_less(0.3 * X.std(axis=0), out.std(axis=0))
    np.testing.assert_array_less(out.std(axis=0), 3.0 * X.std(axis=0))


def test_a_table_of_one_point_but_one_row_is_fitted_by_bic_and_says_so() -> None:
    """All rows identical but one: a fold's training rows are one point; it was an internal
    "Found array with 0 feature(s)" error (issue 14 item 6)."""
    X = np.repeat(np.array([[0.1234567, -2.7182818, 3.1415926]]), 12, axis=0)
    X[-1] += 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = Synthesizer(random_state=0).fit(X)
    assert any("selected by BIC" in note for note in s.selection_.notes)
    assert np.isfinite(s.sample(5)).all()


@pytest.mark.parametrize("n", [2, 3, 4])
def test_fewer_rows_than_folds_fall_back_to_bic(n: int, rng: np.random.Generator) -> None:
    """``n < cv`` used to refuse ("Cannot cross-validate 3 rows in 5 folds")."""
    with pytest.warns(GuardSkippedWarning, match="at least 100 rows"):  # said, not silent
        s = Synthesizer(random_state=0).fit(rng.normal(size=(n, 2)))
    assert any("Cannot cross-validate" in note for note in s.selection_.notes)
    assert np.isfinite(s.sample(5)).all()


def test_gaussian_mixture_refuses_a_spread_float64_cannot_square() -> None:
    """It returned NaN parameters without an error (issue 14 item 6); scikit-learn raises."""
    X = np.array([[3.4e149], [3.3e156], [1.0]])
    with pytest.raises(ValueError, match=r"Column 0 spans .* beyond float64"):
        GaussianMixture(n_components=1).fit(X)
    GaussianMixture(n_components=1).fit(X * 1e-10)  # 3.3e146: squares within float64


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_scores_at_a_large_offset_match_scores_at_zero(covariance_type: str,
                                                       rng: np.random.Generator) -> None:
    """Per-row methods work about the mixture's mean: diag, tied and spherical scores of data
    at 1e12 were off by up to 1e8 (the expanded form's cancellation), full ones were not."""
    # two separated clusters: K = 2 is well determined, so the fits at 0 and at 1e12 (whose
    # rows float64 rounds to 1e-4) end at the same optimum. One blob split in two is flat
    # along the split and EM stopped at different points (0.49 apart: seed 449789305)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 8.0]
    a = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    b = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0)
    b.fit(X + 1e12)
    np.testing.assert_allclose(b.score_samples(X + 1e12), a.score_samples(X), atol=1e-3)
