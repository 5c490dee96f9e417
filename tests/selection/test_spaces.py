"""Selection over (space, shrinkage) groups, and the Synthesizer's ``space`` / ``shrinkage``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from mixsynth import Synthesizer
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.persistence import load, save
from mixsynth.seeding import SeedPlan
from mixsynth.selection import HeldOut, Realism, SampleSupport, make_folds, make_realism_folds
from mixsynth.selection.spaces import REALISM_SHORTLIST, Group, select_groups, space_whitener
from mixsynth.synthesizer_fit import (
    DEFAULT_REG_COVAR,
    REALISM_REG_COVAR,
    REALISM_SHRINKAGE,
    REALISM_SPACE,
    search_space,
)


class _Switch(GaussianMixture):
    """A fixed candidate by K: K = 1 is the data's Gaussian 1.3 times too wide (the more likely,
    the more detectable); K = 2 the data's Gaussian with 22 % of its mass in a component 5 times
    wider (less likely, less detectable: a classifier sees only the displaced fifth)."""

    def fit(self, X: Any, y: Any = None) -> _Switch:
        super().fit(X)
        p = self._params()
        if self.n_components == 1:
            self._set_params(type(p)(p.weights, p.means, p.precisions_cholesky / 1.3,
                                     p.covariance_type))
        else:
            m, v = np.mean(X, axis=0), float(np.mean(np.var(X, axis=0)))
            pc = np.array([1 / np.sqrt(v), 1 / np.sqrt(25 * v)])
            self._set_params(type(p)(np.array([0.78, 0.22]), np.array([m, m]), pc,
                                     "spherical"))
        return self


def _groups(X: np.ndarray, criterion: str) -> list[Group]:
    d = X.shape[1]
    plan = SeedPlan.from_random_state(0)
    support = SampleSupport(None, np.full(d, -np.inf), np.full(d, np.inf), np.zeros(d, bool),
                            None)
    groups = []
    for space in ("pca", "columns"):
        w = space_whitener(space, None, True, "std")
        Z = w.fit(X).transform(X)
        ev = (Realism(make_realism_folds(X, X, w, 5, plan), support, Z)
              if criterion == "realism" else HeldOut(make_folds(X, w, 5, plan)[0], Z))
        groups.append(Group(space, 0.0, w, [(1, "full", 1e-3), (2, "full", 1e-3)], ev))
    return groups


def test_realism_over_groups_screens_and_prefers_the_less_detectable_model() -> None:
    """Two spaces × K in {1, 2}: four candidates, more than the short list, so every one is
    screened on one fold and the short list evaluated on all. Held-out likelihood picks the
    wide Gaussian (K = 1), realism the contaminated one (K = 2), in either space."""
    X = np.random.default_rng(0).standard_normal((2000, 3))
    plan = SeedPlan.from_random_state(0)
    est = _Switch(covariance_type="full")
    held, _, _ = select_groups(_groups(X, "heldout"), estimator=est, seeds=plan, n_features=3)
    assert held.best.n_components == 1
    assert {c.space for c in held.candidates} == {"pca", "columns"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result, mixture, group = select_groups(_groups(X, "realism"), estimator=est,
                                               seeds=plan, n_features=3)
    assert result.criterion == "realism"
    assert result.best.n_components == 2 and mixture.n_components == 2
    assert group.space == result.best.space
    full = [c for c in result.candidates if not c.abandoned]
    screened = [c for c in result.candidates if c.abandoned]
    assert len(full) == REALISM_SHORTLIST and len(screened) == 4 - REALISM_SHORTLIST
    assert all(c.n_folds_run == 1 for c in screened)
    assert any("screened 4 candidates on 1 of 5 folds" in n for n in result.notes)
    assert "stopped 1/5 folds" in result.format_table()


def test_search_space_resolves_auto_by_criterion() -> None:
    assert Synthesizer().criterion == "realism"  # the default since 2026-12-04
    assert search_space(Synthesizer()) == (REALISM_SPACE, REALISM_SHRINKAGE, REALISM_REG_COVAR)
    for criterion in ("heldout", "bic", "aic"):
        assert search_space(Synthesizer(criterion=criterion)) == (
            ("pca",), (0.0,), DEFAULT_REG_COVAR)
    # a streamed fit is selected by BIC: "auto" is resolved for it
    assert search_space(Synthesizer(), "bic") == (("pca",), (0.0,), DEFAULT_REG_COVAR)
    assert search_space(Synthesizer(space=["columns", "pca"], shrinkage=[0, 50.0],
                                    reg_covar=0.1)) == (("columns", "pca"), (0.0, 50.0),
                                                        (0.1,))


@pytest.mark.parametrize("params, match", [
    ({"space": "rotated"}, "space must be"),
    ({"space": []}, "space must be"),
    ({"shrinkage": -1.0}, "shrinkage must be"),
    ({"shrinkage": "much"}, "shrinkage must be"),
    ({"shrinkage": [10.0, float("inf")]}, "shrinkage must be"),
    ({"reg_covar": "some"}, "reg_covar must be"),
    ({"space": ("pca", "columns"), "criterion": "bic"}, "AIC and BIC"),
    ({"shrinkage": 100.0, "covariance_type": "diag"}, "applies to covariance_type='full'"),
])
def test_new_parameters_are_validated(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Synthesizer(**params).fit(np.random.default_rng(0).standard_normal((40, 2)))


def test_space_and_shrinkage_are_searched_and_round_trip_through_the_model_file(
        tmp_path: Any) -> None:
    rng = np.random.default_rng(1)
    X = np.round(rng.standard_normal((240, 3)) @ np.array([[2, 1, 0], [0, 1, 0], [0, 0, 3]])
                 + 8).clip(0, 16)
    s = Synthesizer(space=("pca", "columns"), shrinkage=(0.0, 50.0), n_components=[1, 2],
                    cv=3, guard=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s.fit(X)
    sel = s.selection_
    assert sel is not None
    assert {(c.space, c.shrinkage) for c in sel.candidates} == {
        ("pca", 0.0), ("pca", 50.0), ("columns", 0.0), ("columns", 50.0)}
    best = sel.best
    assert s.mixture_ is not None and s.mixture_.shrinkage == best.shrinkage
    assert (s.whitener_.missing == "keep") == (best.space == "columns")
    path = tmp_path / "m.mixsynth"
    save(s, path)
    back = load(path)
    assert list(back.get_params()["space"]) == ["pca", "columns"]  # JSON: a list
    assert list(back.get_params()["shrinkage"]) == [0.0, 50.0]
    assert back.selection_.best.space == best.space
    assert back.selection_.best.shrinkage == best.shrinkage
    np.testing.assert_array_equal(back.sample(20, random_state=2), s.sample(20, random_state=2))
    np.testing.assert_allclose(back.score_samples(X[:10]), s.score_samples(X[:10]))
    # the defaults are not written: a file from before these parameters reads as they are
    d = Synthesizer(n_components=1, guard=False, random_state=0).fit(X)
    save(d, tmp_path / "d.mixsynth")
    assert load(tmp_path / "d.mixsynth").get_params()["space"] == "auto"


def test_columns_space_with_shrinkage_fits_one_configuration() -> None:
    X = np.random.default_rng(2).standard_normal((150, 4))
    s = Synthesizer(space="columns", shrinkage=30.0, n_components=2, reg_covar=1e-3,
                    guard=False, random_state=0).fit(X)
    assert s.mixture_ is not None and s.mixture_.shrinkage == 30.0
    assert s.whitener_.missing == "keep" and s.whitener_.n_components_ == 4
    assert np.all(np.isfinite(s.score_samples(X)))


def test_auto_space_is_per_column_unless_the_data_is_collinear_or_wide() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((120, 2))
    kw: dict[str, Any] = dict(n_components=[1, 2], shrinkage=50.0, cv=3, guard=False,
                              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plain = Synthesizer(**kw).fit(np.c_[x, rng.standard_normal(120)])
        collinear = Synthesizer(**kw).fit(np.c_[x, x[:, 0] + 2 * x[:, 1]])
        wide = Synthesizer(**kw).fit(rng.standard_normal((60, 101)))
    assert plain.whitener_.missing == "keep"  # per column
    assert collinear.whitener_.missing == "error" and collinear.whitener_.n_components_ <= 2
    S = collinear.sample(50, random_state=0)
    np.testing.assert_allclose(S[:, 2], S[:, 0] + 2 * S[:, 1], atol=1e-6)  # kept exactly
    assert wide.whitener_.missing == "error"  # more than REALISM_COLUMNS_MAX columns


def test_too_few_rows_for_a_classifier_test_are_selected_by_held_out_likelihood() -> None:
    from mixsynth.synthesizer_fit import REALISM_MIN_ROWS

    X = np.random.default_rng(4).standard_normal((REALISM_MIN_ROWS - 1, 2))
    s = Synthesizer(n_components=[1, 2], guard=False, random_state=0).fit(X)
    assert s.selection_.criterion == "heldout"
    assert any("needs at least" in n for n in s.selection_.notes)
    assert s.whitener_.missing == "error" and s.mixture_.shrinkage == 0.0  # "auto" for heldout
    s = Synthesizer(n_components=[1, 2], guard=False, random_state=0).fit(
        np.random.default_rng(4).standard_normal((REALISM_MIN_ROWS, 2)))
    assert s.selection_.criterion == "realism"
