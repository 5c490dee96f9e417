"""Selecting the mixed model: the search plan, held-out screening, shared k-means starts, and
the dequantisation of recorded values that keeps held-out likelihood honest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.core import family
from mixsynth.selection.plans import coarse_to_fine
from mixsynth.tables import mixture
from mixsynth.tables.mixture import select_mixed

LEVELS = (3, 2)


def _blocks(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Three latent groups: a 2-d Gaussian block and two categorical columns that follow them."""
    z = rng.integers(0, 3, n)
    Z = rng.normal(size=(n, 2)) * 0.5 + 2.0 * np.stack([z == 1, z == 2], axis=1)
    codes = np.stack([np.where(rng.random(n) < 0.8, z, rng.integers(0, 3, n)),
                      (z == 2).astype(int)], axis=1)
    return Z, codes


def _select(rng: np.random.Generator, **kw: object) -> tuple[mixture.MixedFit, list]:
    Z, codes = _blocks(rng)
    args: dict[str, object] = dict(ks=[1, 2, 3, 4, 5, 6], covariance_types=["full"],
                                   reg_covars=[1e-3, 1e-2], criterion="heldout", cv=4,
                                   tol=1e-3, max_iter=50, n_init=1, rng=rng)
    args.update(kw)
    return select_mixed(Z, codes, LEVELS, **args)  # type: ignore[arg-type]


def test_screening_scores_every_candidate_and_confirms_a_short_list(
    rng: np.random.Generator,
) -> None:
    fit, scored = _select(rng, screen_folds=1, shortlist=2)
    assert len(scored) == 12  # every (K, reg) of the grid, once
    complete = [c for c in scored if c.folds == 4]
    assert len(complete) == 2 and all(c.folds in (1, 4) for c in scored)
    # the short list is the best screened candidates, and the winner is the best of it
    screened = sorted((c for c in scored if c.folds == 1), key=lambda c: -c.score)
    assert all(np.isfinite(c.score) for c in complete)
    win = max(complete, key=lambda c: c.score)
    assert (fit.params.n_components, fit.result.params.n_components) == (win.n_components,) * 2
    # (a screened-out candidate cannot have been better on the screening fold than both
    # short-listed ones: they were chosen on that fold)
    assert len(screened) == 10


def test_without_screening_every_candidate_sees_every_fold(rng: np.random.Generator) -> None:
    fit, scored = _select(rng)
    assert len(scored) == 12 and all(c.folds == 4 for c in scored)
    win = max(scored, key=lambda c: c.score)
    assert fit.params.n_components == win.n_components


def test_a_plan_decides_which_k_are_fitted(rng: np.random.Generator) -> None:
    ks = list(range(1, 13))
    _, scored = _select(rng, ks=ks, reg_covars=[1e-3],
                        plan=lambda k: coarse_to_fine(k, limit=3))
    seen = sorted(c.n_components for c in scored)
    assert len(seen) < len(ks) and len(set(seen)) == len(seen)
    assert 1 in seen and 12 in seen  # the coarse spread keeps the ends


def test_a_k_means_start_is_computed_once_per_fold_and_k(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = mixture._kmeans_labels

    def counting(X: np.ndarray, K: int, r: np.random.Generator) -> np.ndarray:
        calls.append(K)
        return original(X, K, r)

    monkeypatch.setattr(mixture, "_kmeans_labels", counting)
    _select(rng, ks=[2, 3], covariance_types=["full", "diag"], reg_covars=[1e-3, 1e-1])
    # 4 folds × 2 values of K shared by 2 covariance types × 2 reg_covar, and the final fit
    assert len(calls) == 4 * 2 + 1


def test_recorded_values_are_dequantised_over_their_cell(rng: np.random.Generator) -> None:
    """A column recorded to one decimal with a few repeated values: each component spreads
    over at least a resolution cell (variance >= cell^2/12 about), instead of collapsing onto
    one value with a variance of reg_covar, and samples come back on the recorded grid."""
    n = 600
    group = rng.integers(0, 3, n)
    df = pd.DataFrame({
        "level": np.round(group * 1.0 + 0.5, 1),  # 0.5, 1.5, 2.5
        "width": np.round(rng.normal(size=n) + group, 2),
        "kind": pd.Categorical(np.where(group == 2, "b", "a")),
    })
    s = Synthesizer(n_components=[3, 4], reg_covar=1e-6, random_state=0).fit(df)
    model = s.model_
    cov = family(model.params.covariance_type.split("-")[0]).covariances_from_precisions_cholesky(
        model.params.precisions_cholesky)
    var_level = cov[:, 0, 0] * model.scale[0] ** 2  # in data units
    heavy = model.params.weights > 0.05
    assert np.all(var_level[heavy] > 0.5 * 0.1**2 / 12)
    out = s.sample(500, random_state=1)
    assert np.allclose(out["level"], np.round(out["level"], 1))
    assert set(np.round(out["level"], 1)) <= {round(v / 10, 1) for v in range(-20, 60)}
