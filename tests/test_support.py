"""Support: widened bounds, data-chosen squeeze, user bounds, decimals, no pile-up at bounds."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mixsynth import Synthesizer
from mixsynth.cli import cli as cli_main
from mixsynth.persistence import load, save
from mixsynth.support import (
    MARGIN_FRACTION,
    SQUEEZE_CELLS,
    SupportTransform,
    decimals_of,
    squeeze_for,
    widen_bounds,
)


def _fit(s: Synthesizer, X: object) -> Synthesizer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return s.fit(X)


def _counts(rng: np.random.Generator, n: int = 400) -> np.ndarray:
    """Two correlated integer columns in 2..12."""
    z = rng.standard_normal((n, 1))
    X = np.c_[z + 0.5 * rng.standard_normal((n, 1)), z + 0.5 * rng.standard_normal((n, 1))]
    return np.clip(np.round(7 + 2 * X), 2, 12)


def test_integer_rows_one_step_beyond_the_observed_bounds_have_finite_density(rng) -> None:
    X = _counts(rng)
    s = _fit(Synthesizer(n_components=2, reg_covar=1e-2, guard=False, random_state=0), X)
    lo, hi = X.min(axis=0), X.max(axis=0)
    t = s.support_transform_
    assert t is not None and t.margin > 0
    inside = s.score_samples(np.array([lo, hi]))
    beyond = s.score_samples(np.array([lo - 1, hi + 1]))
    assert np.all(np.isfinite(beyond)) and np.all(np.isfinite(inside))
    # a proper density there, not the bound's own value copied (the old clamp)
    assert not np.allclose(beyond, inside)
    # samples stay whole numbers within the observed bounds
    S = s.sample(2000, random_state=1)
    assert np.all(S >= lo) and np.all(S <= hi) and np.all(S == np.round(S))


def test_transform_density_is_finite_at_its_widened_interval() -> None:
    t = SupportTransform.from_bounds(np.array([0.0]), np.array([16.0]), np.array([True]),
                                     eps=0.05)
    # the interval is [lo - margin, hi + 1 + margin): integers -1 and 17 map inside it
    Y, log_jac = t.forward(np.array([[-1.0], [0.0], [16.0], [17.0]]))
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(log_jac))
    assert Y[0, 0] < Y[1, 0] < Y[2, 0] < Y[3, 0]
    back = t.inverse(np.array([[-50.0], [50.0]]))
    np.testing.assert_array_equal(back, [[0.0], [16.0]])


def test_continuous_bounds_are_widened_but_never_across_zero() -> None:
    lo, hi = widen_bounds(np.array([0.1, -3.0, 1.0, 2.0]), np.array([10.0, -0.05, 1.0, 5.0]),
                          np.array([False, False, False, True]))
    assert lo[0] == 0.0  # observed positive stays non-negative (0.1 - 0.495 would cross)
    assert hi[0] == pytest.approx(10.0 + MARGIN_FRACTION * 9.9)
    assert lo[1] == pytest.approx(-3.0 - MARGIN_FRACTION * 2.95)
    assert hi[1] == 0.0  # observed negative stays non-positive
    assert (lo[2], hi[2]) == (1.0, 1.0)  # constant
    assert (lo[3], hi[3]) == (2.0, 5.0)  # integer: its margin is in the transform


def test_squeeze_is_a_fraction_of_a_cell_over_the_span() -> None:
    eps = squeeze_for(np.array([0.0]), np.array([16.0]), np.array([True]), np.array([0]),
                      np.array([True]))
    assert eps == pytest.approx(SQUEEZE_CELLS / 18)  # digits: 17 cells and a half each side
    assert eps == pytest.approx(1 / 36)
    two = squeeze_for(np.array([0.0]), np.array([1.5]), np.array([False]), np.array([1]),
                      np.array([True]))
    assert two == pytest.approx(SQUEEZE_CELLS * 0.1 / 1.5)  # one decimal: cell 0.1
    wide = squeeze_for(np.array([0.0]), np.array([1e6]), np.array([True]), np.array([0]),
                       np.array([True]))
    assert wide == 1e-3  # floored


def test_user_bounds_as_a_dict_are_respected_in_samples(rng) -> None:
    X = pd.DataFrame(_counts(rng), columns=["a", "b"])
    s = _fit(Synthesizer(n_components=2, reg_covar=1e-2, guard=False, random_state=0,
                         bounds={"a": (5, 9)}), X)
    S = s.sample(3000, random_state=2)
    assert S["a"].min() >= 5 and S["a"].max() <= 9
    assert S["b"].min() >= X["b"].min() and S["b"].max() <= X["b"].max()
    np.testing.assert_array_equal(s.lower_bounds_, [5, X["b"].min()])
    # a model file keeps them
    assert s.get_params()["bounds"] == {"a": (5, 9)}


def test_user_bounds_by_position_and_the_old_tuple_form(rng) -> None:
    X = _counts(rng)
    s = _fit(Synthesizer(n_components=1, guard=False, random_state=0, bounds={1: (0, 20)}), X)
    assert s.upper_bounds_[1] == 20 and s.upper_bounds_[0] == X[:, 0].max()
    s2 = _fit(Synthesizer(n_components=1, guard=False, random_state=0,
                          bounds=([0, 0], [20, 20])), X)
    np.testing.assert_array_equal(s2.upper_bounds_, [20, 20])
    with pytest.raises(ValueError, match="unknown column"):
        _fit(Synthesizer(n_components=1, guard=False, bounds={"zz": (0, 1)}), X)
    with pytest.raises(ValueError, match="lower bound"):
        _fit(Synthesizer(n_components=1, guard=False, bounds={0: (5, 1)}), X)


def test_decimals_are_detected_and_samples_rounded_to_them(rng) -> None:
    X = np.c_[np.round(rng.normal(10, 2, 300), 2), np.round(rng.normal(0, 1, 300), 4),
              rng.normal(0, 1, 300), rng.integers(0, 5, 300)]
    X[0, 0] = 0.1 + 0.2  # float noise is not a 17th decimal
    np.testing.assert_array_equal(decimals_of(X), [2, 4, -1, 0])
    s = _fit(Synthesizer(n_components=1, guard=False, random_state=0), X)
    np.testing.assert_array_equal(s.decimals_, [2, 4, -1, 0])
    S = s.sample(500, random_state=3)
    np.testing.assert_allclose(S[:, 0], np.round(S[:, 0], 2), atol=1e-12)
    np.testing.assert_allclose(S[:, 1], np.round(S[:, 1], 4), atol=1e-12)
    assert np.mean(S[:, 2] != np.round(S[:, 2], 6)) > 0.5  # left as drawn


def test_decimals_and_margins_survive_a_model_file(rng, tmp_path) -> None:
    X = np.c_[np.round(rng.normal(10, 2, 300), 2), rng.integers(0, 5, 300)]
    s = _fit(Synthesizer(n_components=1, guard=False, random_state=0, bounds={0: (0, 20)}), X)
    save(s, tmp_path / "m.msz")
    back = load(tmp_path / "m.msz")
    np.testing.assert_array_equal(back.decimals_, s.decimals_)
    assert back.support_transform_.margin == s.support_transform_.margin
    assert back.support_transform_.eps == s.support_transform_.eps
    assert back.get_params()["bounds"] == {0: (0.0, 20.0)}
    np.testing.assert_array_equal(back.sample(50, random_state=4), s.sample(50, random_state=4))


def test_clip_piles_nothing_at_the_bounds_on_breast_cancer() -> None:
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    s = _fit(Synthesizer(n_components=3, reg_covar=1e-2, guard=False, random_state=0), X)
    S = s.sample(3000, random_state=5)
    for j in range(X.shape[1]):
        for bound in (X[:, j].min(), X[:, j].max(), s.lower_bounds_[j], s.upper_bounds_[j]):
            real = np.mean(X[:, j] == bound)
            assert np.mean(S[:, j] == bound) <= real + 0.01, (j, bound)


def test_cli_bounds(tmp_path) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.integers(2, 9, 200), "b": rng.normal(5, 1, 200)}).to_csv(
        tmp_path / "t.csv", index=False)
    runner = CliRunner()
    out = runner.invoke(cli_main, ["fit", str(tmp_path / "t.csv"), "-o", str(tmp_path / "m"),
                                   "--components", "1", "--bounds", "a=0:10", "--no-guard"])
    assert out.exit_code == 0, out.output
    model = load(tmp_path / "m")
    assert model.get_params()["bounds"] == {"a": (0.0, 10.0)}
    assert model.lower_bounds_[0] == 0 and model.upper_bounds_[0] == 10
    bad = runner.invoke(cli_main, ["fit", str(tmp_path / "t.csv"), "-o", str(tmp_path / "n"),
                                   "--bounds", "a=3"])
    assert bad.exit_code != 0 and "COLUMN=LO:HI" in bad.output


def test_cli_criterion_realism(tmp_path) -> None:
    rng = np.random.default_rng(1)
    pd.DataFrame({"a": rng.integers(2, 9, 150), "b": np.round(rng.normal(5, 1, 150), 2)}
                 ).to_csv(tmp_path / "t.csv", index=False)
    out = CliRunner().invoke(cli_main, [
        "fit", str(tmp_path / "t.csv"), "-o", str(tmp_path / "m"), "--components", "1,2",
        "--criterion", "realism", "--cv", "3", "--no-guard"])
    assert out.exit_code == 0, out.output
    assert "AUC" in out.output
    model = load(tmp_path / "m")
    assert model.selection_.criterion == "realism"
    assert model.selection_.best.auc is not None
