"""``GaussianMixture(missing="em")``: NaN as missing values, fitted by EM over the observed
coordinates; the default keeps scikit-learn's refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from mixsynth import GaussianMixture
from mixsynth.validation import check_input

COV_TYPES = ("full", "tied", "diag", "spherical")


def _data(rng: np.random.Generator, n: int = 400, rate: float = 0.25) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    X = np.r_[rng.normal(size=(n // 2, 3)), rng.normal(size=(n - n // 2, 3)) + 4.0]
    Xg = X.copy()
    Xg[rng.uniform(size=X.shape) < rate] = np.nan
    return X, Xg


def _full_covariances(gm: GaussianMixture) -> np.ndarray:
    K, d = gm.means_.shape
    c = gm.covariances_
    if gm.covariance_type == "full":
        return c
    if gm.covariance_type == "tied":
        return np.broadcast_to(c, (K, d, d))
    if gm.covariance_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(d) * v for v in c])


def test_nan_is_refused_by_default_and_names_the_way_out(rng):
    _, Xg = _data(rng)
    with pytest.raises(ValueError, match=r"contains NaN.*column \d.*missing=\"em\""):
        GaussianMixture(2).fit(Xg)
    gm = GaussianMixture(2, random_state=0).fit(np.nan_to_num(Xg))
    with pytest.raises(ValueError, match="contains NaN"):
        gm.score_samples(Xg)


def test_missing_parameter_is_validated_at_fit(rng):
    X, _ = _data(rng)
    gm = GaussianMixture(2, missing="impute")  # stored, not checked, by __init__
    with pytest.raises(ValueError, match="missing"):
        gm.fit(X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_complete_data_fit_is_unchanged(rng, covariance_type):
    X, _ = _data(rng)
    a = GaussianMixture(2, covariance_type=covariance_type, random_state=1).fit(X)
    b = GaussianMixture(2, covariance_type=covariance_type, random_state=1, missing="em").fit(X)
    for name in ("weights_", "means_", "precisions_cholesky_", "lower_bound_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_fit_with_gaps_and_marginal_scores(rng, covariance_type):
    _, Xg = _data(rng)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing="em")
    gm.fit(Xg)
    assert gm.converged_
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-10 * np.abs(gm.lower_bounds_[1:]))
    # the two clusters are found from the observed values
    centres = np.sort(gm.means_[:, 0])
    np.testing.assert_allclose(centres, [0.0, 4.0], atol=0.4)
    rows = Xg[:25]
    got = gm.score_samples(rows)
    S = _full_covariances(gm)
    want = np.empty(len(rows))
    for i, x in enumerate(rows):
        o = ~np.isnan(x)
        terms = [
            np.log(gm.weights_[k])
            + (multivariate_normal(gm.means_[k][o], S[k][np.ix_(o, o)]).logpdf(x[o])
               if o.any() else 0.0)
            for k in range(2)
        ]
        want[i] = logsumexp(terms)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    proba = gm.predict_proba(rows)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert gm.score(Xg) == pytest.approx(gm.score_samples(Xg).mean(), rel=1e-12)
    # a row with nothing observed: density 1, posterior = weights
    none = np.full((1, 3), np.nan)
    assert gm.score_samples(none)[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(gm.predict_proba(none)[0], gm.weights_, rtol=1e-12)
    # samples are complete rows
    Y, _ = gm.sample(50, random_state=0)
    assert np.isfinite(Y).all()


def test_inf_and_all_missing_columns_are_errors_naming_the_column(rng):
    _, Xg = _data(rng)
    Xi = Xg.copy()
    Xi[7, 1] = np.inf
    Xi[:7, 1] = 0.0
    with pytest.raises(ValueError, match=r"contains inf.*column 1, first at row 7"):
        GaussianMixture(2, missing="em").fit(Xi)
    df = pd.DataFrame(Xg, columns=["a", "b", "c"])
    df["b"] = np.nan
    with pytest.raises(ValueError, match=r"no observed value in column 'b'"):
        GaussianMixture(2, missing="em").fit(df)
    gm = GaussianMixture(2, missing="em", random_state=0).fit(Xg)
    with pytest.raises(ValueError, match="contains inf"):
        gm.score_samples(Xi)
    # scoring rows where a whole column is missing is fine
    assert np.isfinite(gm.score_samples(np.where(np.arange(3) == 1, np.nan, Xg))).all()


def test_check_input_allow_nan(rng):
    X = rng.normal(size=(5, 3))
    X[2, 1] = np.nan
    out = check_input(X, allow_nan=True)
    assert np.isnan(out[2, 1])
    with pytest.raises(ValueError, match="contains NaN"):
        check_input(X)
    X[4, 0] = -np.inf
    with pytest.raises(ValueError, match=r"contains inf.*column 0, first at row 4"):
        check_input(X, allow_nan=True)
    Y = rng.normal(size=(4, 2))
    Y[:, 0] = np.nan
    with pytest.raises(ValueError, match="no observed value in column 0"):
        check_input(Y, allow_nan=True)
    assert check_input(Y, allow_nan=True, reset=False).shape == (4, 2)
