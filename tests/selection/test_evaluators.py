"""Evaluators: held-out folds and information criteria, each formula written once."""

from __future__ import annotations

import numpy as np
import pytest

from mixsynth import GaussianMixture, Whitener
from mixsynth.seeding import SeedPlan
from mixsynth.selection import (
    HeldOut,
    InformationCriterion,
    candidate_grid,
    information_criteria,
    make_folds,
    select,
)


def _blobs(rng: np.random.Generator, n: int = 240) -> np.ndarray:
    return np.vstack([rng.normal(size=(n // 2, 2)), rng.normal(size=(n // 2, 2)) + 5.0])


def test_information_criteria_are_the_mixtures_own(rng: np.random.Generator) -> None:
    X = _blobs(rng)
    gm = GaussianMixture(2, random_state=0).fit(X)
    aic, bic = information_criteria(gm.score(X), X.shape[0], gm._n_parameters())
    assert aic == pytest.approx(gm.aic(X), rel=1e-12)
    assert bic == pytest.approx(gm.bic(X), rel=1e-12)


def test_bic_evaluator_scores_its_fit(rng: np.random.Generator) -> None:
    X = _blobs(rng)
    est = GaussianMixture(2, tol=1e-4)
    seed = SeedPlan.from_random_state(3).candidate(0)
    cand, gm = InformationCriterion("bic", X).evaluate(est, seed)
    assert gm is not None
    assert cand.score == cand.bic == pytest.approx(gm.bic(X), rel=1e-12)
    assert cand.config == (2, "full", est.reg_covar)
    with pytest.raises(ValueError, match="'aic' or 'bic'"):
        InformationCriterion("heldout", X)


def test_heldout_select_returns_the_winner_refitted_from_the_refit_stream(
    rng: np.random.Generator,
) -> None:
    X = _blobs(rng)
    plan = SeedPlan.from_random_state(5)
    w = Whitener(None).fit(X)
    Z = w.transform(X)
    folds, _ = make_folds(X, w, 3, plan)
    template = GaussianMixture(tol=1e-4)
    result, mixture = select(candidate_grid([1, 2, 3], "full"), HeldOut(folds, Z),
                             estimator=template, seeds=plan)
    assert result.criterion == "heldout" and result.n_folds == 3
    assert mixture.n_components == result.best.n_components
    again = GaussianMixture(result.best.n_components, tol=1e-4, reg_covar=result.best.reg_covar,
                            random_state=plan.int_seed("refit")).fit(Z)
    np.testing.assert_array_equal(mixture.means_, again.means_)
    with pytest.raises(ValueError, match="needs folds"):
        HeldOut(())


def test_the_same_folds_whatever_the_seed_form(rng: np.random.Generator) -> None:
    X = rng.normal(size=(30, 2))
    w = Whitener(None)
    _, a = make_folds(X, w, 3, 4)
    _, b = make_folds(X, w, 3, SeedPlan.from_random_state(4))
    for (ta, va), (tb, vb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(va, vb)
