"""The realism criterion: classifier two-sample AUC under the guard, likelihood as floor."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from mixsynth import Synthesizer
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.seeding import SeedPlan
from mixsynth.selection import (
    HeldOut,
    Realism,
    SampleSupport,
    SelectionResult,
    choose_realistic,
    make_folds,
    make_realism_folds,
    two_sample_auc,
)
from mixsynth.selection.realism import LOGLIK_FLOOR
from mixsynth.selection.result import Candidate
from mixsynth.whitening import Whitener


class _Scaled(GaussianMixture):
    """A fixed candidate: EM's fit, then every covariance scaled by ``factor``."""

    factor = 1.0

    def fit(self, X: Any, y: Any = None) -> _Scaled:
        super().fit(X)
        p = self._params()
        self._set_params(type(p)(p.weights, p.means,
                                 p.precisions_cholesky / np.sqrt(self.factor), p.covariance_type))
        return self


class _Wide(_Scaled):
    factor = 1.3**2  # over-dispersed: a little more likely than _Contaminated, more detectable


class _Contaminated(GaussianMixture):
    """A fixed candidate: the data's own Gaussian, with 22 % of the mass moved to a component
    5 times wider. Likelihood pays ``-log(0.78)`` per row for it; a classifier sees only the
    displaced fifth."""

    def fit(self, X: Any, y: Any = None) -> _Contaminated:
        super().fit(X)
        p = self._params()
        m, v = np.mean(X, axis=0), float(np.mean(np.var(X, axis=0)))
        pc = np.array([1 / np.sqrt(v), 1 / np.sqrt(25 * v)])
        self._set_params(type(p)(np.array([0.78, 0.22]), np.array([m, m]), pc, "spherical"))
        return self


def _unbounded(d: int) -> SampleSupport:
    return SampleSupport(None, np.full(d, -np.inf), np.full(d, np.inf), np.zeros(d, bool), None)


def test_realism_prefers_the_less_detectable_of_two_fixed_candidates() -> None:
    """Standard normal data, two fixed candidates: a Gaussian 1.3 times too wide, and the
    right Gaussian with a fifth of its mass spread 5 times wider. The wide one is the more
    likely (held-out log-likelihood picks it) and the more detectable; realism must pick the
    other. (An under-dispersed candidate would not do: its rows crowd the training rows and
    the memorisation guard rejects it.)"""
    d = 3
    X = np.random.default_rng(0).standard_normal((2000, d))
    plan = SeedPlan.from_random_state(0)
    w = Whitener(None, whiten=False, scale="none")
    realism = Realism(make_realism_folds(X, X, w, 5, plan), _unbounded(d))
    held = HeldOut(make_folds(X, w, 5, plan)[0])
    seeds = [np.random.SeedSequence(1), np.random.SeedSequence(2)]
    fixed = [_Wide(1, covariance_type="spherical"),
             _Contaminated(2, covariance_type="spherical")]
    cands = tuple(realism.evaluate(e, s).candidate for e, s in zip(fixed, seeds, strict=True))
    wide, hidden = cands
    assert wide.auc is not None and hidden.auc is not None
    assert wide.score < 1 and hidden.score < 1  # both pass the memorisation guard
    # the construction holds: the more likely model is the more detectable, within the floor
    assert wide.heldout_loglik > hidden.heldout_loglik > wide.heldout_loglik - LOGLIK_FLOOR * d
    assert wide.auc > hidden.auc + 2 * max(wide.auc_se, hidden.auc_se)
    # held-out likelihood (the same fits, from the same seeds) picks the wide one ...
    scores = [held.evaluate(e, s).candidate.score for e, s in zip(fixed, seeds, strict=True)]
    assert scores[0] > scores[1]
    # ... realism the other, whatever order the sweep met them in
    for order in ((0, 1), (1, 0)):
        result = SelectionResult("realism", tuple(cands[i] for i in order), best_index=0)
        chosen = choose_realistic(result, d)
        assert chosen.best is hidden
        assert chosen.notes[-1].startswith("realism:")


def _cand(k: int, auc: float, ll: float, score: float | None = None) -> Candidate:
    return Candidate(k, "full", 1e-3, score=auc if score is None else score, score_std=None,
                     fold_scores=(), aic=0.0, bic=0.0, log_likelihood=ll, n_parameters=k,
                     converged=True, n_iter=1, fit_time=0.0, heldout_loglik=ll,
                     heldout_median=ll, auc=auc, auc_se=0.01, near_copy_rate=0.0,
                     holdout_near_copy_rate=0.0)


def test_choice_applies_the_floor_the_guard_and_breaks_ties_by_likelihood() -> None:
    d = 10  # floor: LOGLIK_FLOOR * 10 nats below the best
    cands = (
        _cand(1, 0.90, -50.0),
        _cand(2, 0.60, -50.0 - LOGLIK_FLOOR * d - 1.0),  # the lowest AUC, below the floor
        _cand(3, 0.55, -49.0, score=1.2),  # fails the guard
        _cand(4, 0.80, -52.0),
        _cand(5, 0.805, -51.0),  # tied with K=4 (within one standard error), more likely
    )
    result = SelectionResult("realism", cands, best_index=2)
    assert choose_realistic(result, d).best.n_components == 5
    # without the tie, the lowest AUC wins
    cands2 = (*cands[:4], _cand(5, 0.85, -51.0))
    assert choose_realistic(SelectionResult("realism", cands2, 0), d).best.n_components == 4


def test_two_sample_auc_is_half_for_the_same_distribution_and_high_for_another(rng) -> None:
    A = rng.standard_normal((600, 3))
    B = rng.standard_normal((600, 3))
    auc_same, se = two_sample_auc(A, B, 0)
    auc_far, _ = two_sample_auc(A, B + 1.5, 0)
    assert abs(auc_same - 0.5) < 4 * se + 0.02
    assert auc_far > 0.8
    assert two_sample_auc(A, B, 0) == two_sample_auc(A, B, 0)  # deterministic


def test_synthesizer_criterion_realism(rng) -> None:
    X = np.round(rng.standard_normal((300, 3)) * 2 + 5).clip(0, 10)
    s = Synthesizer(criterion="realism", n_components=[1, 2, 3], reg_covar=1e-2, cv=3,
                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s.fit(X)
    sel = s.selection_
    assert sel is not None and sel.criterion == "realism" and not sel.higher_is_better
    assert all(c.auc is not None for c in sel.candidates)
    assert "AUC" in sel.format_table()
    S = s.sample(200, random_state=1)
    assert S.min() >= 0 and S.max() <= 10 and np.all(S == np.round(S))
    # the same seed gives the same choice and the same rows
    s2 = Synthesizer(criterion="realism", n_components=[1, 2, 3], reg_covar=1e-2, cv=3,
                     random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s2.fit(X)
    assert s2.selection_.best.config == sel.best.config
    np.testing.assert_array_equal(s2.sample(50, random_state=3), s.sample(50, random_state=3))


def test_unknown_criterion_names_realism() -> None:
    with pytest.raises(ValueError, match="realism"):
        Synthesizer(criterion="nope").fit(np.arange(20.0).reshape(10, 2))


def _heldout(k: int, score: float, folds: tuple[float, ...], abandoned: bool = False
             ) -> Candidate:
    return Candidate(k, "full", 1e-3, score=score, score_std=float(np.std(folds, ddof=1)),
                     fold_scores=folds, aic=0.0, bic=0.0, log_likelihood=score,
                     n_parameters=k, converged=True, n_iter=1, fit_time=0.0,
                     abandoned=abandoned, heldout_loglik=score, heldout_median=score + 1.0)


def test_table_compares_like_with_like_and_says_when_k_is_at_the_edge() -> None:
    cands = (
        _heldout(1, -10.0, (-10.0, -10.5, -9.5)),
        _heldout(2, -30.0, (-30.0, -31.0), abandoned=True),
        _heldout(4, -9.0, (-9.0, -9.2, -8.8)),
    )
    text = SelectionResult("heldout", cands, best_index=2, n_folds=3).format_table()
    lines = text.splitlines()
    abandoned = next(line for line in lines if line.lstrip().startswith("2 "))
    assert "stopped 2/3 folds" in abandoned and "-30.0" not in abandoned
    best = next(line for line in lines if line.lstrip().startswith("4 "))
    se = float(np.std((-9.0, -9.2, -8.8), ddof=1)) / np.sqrt(3)
    assert f"± {se:.3f}" in best  # one standard error of the mean over the folds
    assert "-8.00" in best  # the median beside the mean
    assert any(line.startswith("± : one standard error") for line in lines)
    assert "note: the chosen K=4 is the largest searched" in text
    inside = SelectionResult("heldout", cands, best_index=0, n_folds=3)
    assert inside.k_edge() is None  # K=1 is the smallest, but nothing is smaller
    # a candidate without the optional measurements is written as before they existed
    assert "auc" not in cands[0].to_dict() and "heldout_median" in cands[0].to_dict()


def test_evaluate_reports_the_median_beside_the_mean(rng) -> None:
    from mixsynth import evaluate

    X = rng.standard_normal((300, 2))
    s = Synthesizer(n_components=1, guard=False, random_state=0).fit(X[:200])
    H = X[200:].copy()
    H[0] = 40.0  # one extreme row moves the mean, not the median
    rep = evaluate(X[:200], s.sample(100, random_state=0), H, model=s)
    per_row = s.score_samples(H)
    assert rep.heldout_log_likelihood == pytest.approx(np.mean(per_row))
    assert rep.heldout_log_likelihood_median == pytest.approx(np.median(per_row))
    assert rep.heldout_log_likelihood < rep.heldout_log_likelihood_median - 5


def test_a_realism_candidate_survives_the_resume_file() -> None:
    import json

    from mixsynth.selection.checkpoint import _candidate

    c = _cand(3, 0.7, -12.0)
    assert _candidate(json.loads(json.dumps(c.to_dict()))) == c
    damaged = {**c.to_dict(), "auc": "high"}
    assert _candidate(damaged) is None
