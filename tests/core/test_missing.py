"""Missing values in the Gaussian families: exact EM over the observed coordinates, checked
against a plain row-by-row reference (scipy marginals, textbook conditional expectations)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from mixsynth.core import (
    COVARIANCE_TYPES,
    Params,
    covariances_from_precisions_cholesky,
    estimate_log_prob,
    estimate_weighted_log_prob,
    m_step,
    missing,
    run_em,
    sample_mixture,
    suffstats,
)
from mixsynth.core.families.gaussian import gaussian
from mixsynth.core.gaussian_pass import gaussian_suffstats
from mixsynth.core.missing import group_patterns, has_missing, missing_suffstats
from tests.tolerance import assert_close_at_scale

from ..strategies import chunkings, random_params

Array = NDArray[np.float64]

TOL = 1e-9


@pytest.fixture(params=["shared", "rowwise"])
def pattern_path(request, monkeypatch):
    """Run a test once with every pattern sharing its factors and once with every row its own
    (full/tied; diag/spherical have one path)."""
    threshold = 0 if request.param == "shared" else 10**9
    monkeypatch.setattr(missing, "PATTERN_MIN_ROWS", threshold)
    return request.param


# ------------------------------------------------------------------------------ the reference
def _full_covariances(params: Params) -> Array:
    """Every component's covariance as a (K, d, d) matrix, whatever the type."""
    K, d = params.means.shape
    cov = covariances_from_precisions_cholesky(params.precisions_cholesky, params.covariance_type)
    if params.covariance_type == "full":
        return cov
    if params.covariance_type == "tied":
        return np.broadcast_to(cov, (K, d, d)).copy()
    if params.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])


def _reference_log_prob(X: Array, params: Params) -> Array:
    """log N(x_o | mu_o, Sigma_oo), row by row, component by component, by scipy."""
    S = _full_covariances(params)
    out = np.zeros((X.shape[0], params.n_components))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        if not o.any():
            continue
        for k in range(params.n_components):
            out[i, k] = multivariate_normal(params.means[k][o], S[k][np.ix_(o, o)]).logpdf(x[o])
    return out


def _reference_expectations(x: Array, mu: Array, S: Array) -> tuple[Array, Array]:
    """E[x] and E[(x - mu)(x - mu)^T] - (E[x] - mu)(...)^T, i.e. the conditional covariance
    embedded in a (d, d) matrix, by the textbook formulas with explicit solves."""
    o, m = ~np.isnan(x), np.isnan(x)
    xhat = x.copy()
    C = np.zeros((x.size, x.size))
    if m.any():
        S_oo, S_mo, S_mm = S[np.ix_(o, o)], S[np.ix_(m, o)], S[np.ix_(m, m)]
        if o.any():
            xhat[m] = mu[m] + S_mo @ np.linalg.solve(S_oo, x[o] - mu[o])
            C[np.ix_(m, m)] = S_mm - S_mo @ np.linalg.solve(S_oo, S_mo.T)
        else:
            xhat[m] = mu[m]
            C[np.ix_(m, m)] = S_mm
    return xhat, C


def _reference_accumulate(
    X: Array, R: Array, params: Params, centers: Array
) -> tuple[Array, Array, Array]:
    """nk, sx and sxx (in the family's shape) from weighted responsibilities, row by row."""
    S = _full_covariances(params)
    K, d = params.means.shape
    nk, sx, sxx = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    for i, x in enumerate(X):
        for k in range(K):
            xhat, C = _reference_expectations(x, params.means[k], S[k])
            e = xhat - centers[k]
            nk[k] += R[i, k]
            sx[k] += R[i, k] * xhat
            sxx[k] += R[i, k] * (np.outer(e, e) + C)
    if params.covariance_type == "tied":
        return nk, sx, sxx.sum(axis=0)
    if params.covariance_type in ("diag", "spherical"):
        return nk, sx, np.diagonal(sxx, axis1=1, axis2=2).copy()
    return nk, sx, sxx


def _reference_statistics(
    X: Array, params: Params, w: Array | None
) -> tuple[float, Array, Array, Array]:
    wlp = _reference_log_prob(X, params) + np.log(params.weights)
    log_norm = logsumexp(wlp, axis=1)
    R = np.exp(wlp - log_norm[:, None])
    ww = np.ones(X.shape[0]) if w is None else w
    nk, sx, sxx = _reference_accumulate(X, R * ww[:, None], params, params.means)
    return float(log_norm @ ww), nk, sx, sxx


def _with_gaps(rng: np.random.Generator, X: Array, rate: float = 0.3) -> Array:
    """MCAR gaps, plus one all-missing row and one complete row at least."""
    X = X.copy()
    X[rng.uniform(size=X.shape) < rate] = np.nan
    X[0] = np.nan
    X[1] = np.abs(rng.normal(size=X.shape[1]))
    return X


def _close(got: Array | float, want: Array | float, what: str) -> None:
    want_a = np.asarray(want)
    scale = float(np.max(np.abs(want_a), initial=1.0))
    np.testing.assert_allclose(got, want_a, rtol=TOL, atol=TOL * scale, err_msg=what)


# ------------------------------------------------------------------------------ E-step, M-step
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_equal_the_row_by_row_reference(rng, pattern_path, covariance_type, weighted):
    params = random_params(rng, K=3, d=4, covariance_type=covariance_type, spread=1.5)
    X = _with_gaps(rng, rng.normal(scale=2.0, size=(80, 4)))
    w = rng.uniform(0.1, 2.0, size=80) if weighted else None
    got = suffstats(X, params, w)
    loglik, nk, sx, sxx = _reference_statistics(X, params, w)
    assert got.n == pytest.approx(80.0 if w is None else float(w.sum()), rel=1e-14)
    _close(got.loglik, loglik, "loglik")
    _close(got.nk, nk, "nk")
    _close(got.sx, sx, "sx")
    _close(got.sxx, sxx, "sxx")
    assert got.sxx.shape == gaussian(covariance_type).covariance_shape(3, 4) or (
        covariance_type == "spherical" and got.sxx.shape == (3, 4)
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_equals_the_reference(rng, pattern_path, covariance_type):
    params = random_params(rng, K=2, d=3, covariance_type=covariance_type, spread=1.5)
    X = _with_gaps(rng, rng.normal(scale=2.0, size=(60, 3)))
    new = m_step(suffstats(X, params), reg_covar=1e-6)
    _, nk, sx, sxx = _reference_statistics(X, params, None)
    means = sx / nk[:, None]
    np.testing.assert_allclose(new.means, means, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(new.weights, nk / nk.sum(), rtol=TOL)
    cov = covariances_from_precisions_cholesky(new.precisions_cholesky, covariance_type)
    # the scatter about the new means from the reference's statistics about the old ones
    delta = means - params.means
    if covariance_type == "full":
        scat = sxx - nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
        want = scat / nk[:, None, None] + 1e-6 * np.eye(3)
    elif covariance_type == "tied":
        want = (sxx - (delta * nk[:, None]).T @ delta) / nk.sum() + 1e-6 * np.eye(3)
    else:
        want = (sxx - nk[:, None] * delta**2) / nk[:, None] + 1e-6
        if covariance_type == "spherical":
            want = want.mean(axis=1)
    np.testing.assert_allclose(cov, want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_accumulate_observed_with_given_responsibilities(rng, pattern_path, covariance_type):
    params = random_params(rng, K=3, d=4, covariance_type=covariance_type, spread=1.5)
    X = _with_gaps(rng, rng.normal(scale=2.0, size=(50, 4)))
    R = rng.dirichlet(np.ones(3), size=50) * rng.uniform(0.5, 2.0, size=(50, 1))
    got = gaussian(covariance_type).accumulate_observed(X, R, params, loglik=-3.0)
    nk, sx, sxx = _reference_accumulate(X, R, params, params.means)
    assert got.loglik == -3.0 and got.n == pytest.approx(R.sum())
    _close(got.nk, nk, "nk")
    _close(got.sx, sx, "sx")
    _close(got.sxx, sxx, "sxx")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prob_is_the_marginal_over_observed_coordinates(rng, pattern_path, covariance_type):
    params = random_params(rng, K=3, d=5, covariance_type=covariance_type)
    X = _with_gaps(rng, rng.normal(scale=2.0, size=(40, 5)), rate=0.4)
    got = estimate_log_prob(X, params)
    want = _reference_log_prob(X, params)
    _close(got, want, "log_prob")
    assert np.all(got[0] == 0.0)  # the all-missing row
    weighted = estimate_weighted_log_prob(X, params)
    _close(weighted, want + np.log(params.weights), "weighted")
    # complete rows score as before
    full = ~np.isnan(X).any(axis=1)
    np.testing.assert_array_equal(got[full], estimate_log_prob(X[full], params))


def test_all_missing_row_is_neutral(rng, pattern_path):
    """Log-likelihood 0, responsibilities = weights, and no pull on means and covariances."""
    params = random_params(rng, K=3, d=3, covariance_type="full")
    X = np.full((5, 3), np.nan)
    s = suffstats(X, params)
    assert s.loglik == pytest.approx(0.0, abs=1e-12)  # log Σ π_k, to rounding
    assert np.all(estimate_log_prob(X, params) == 0.0)
    np.testing.assert_allclose(s.nk, 5 * params.weights, rtol=1e-12)
    new = m_step(s, reg_covar=0.0)
    np.testing.assert_allclose(new.means, params.means, rtol=1e-10, atol=1e-12)
    assert_close_at_scale(
        covariances_from_precisions_cholesky(new.precisions_cholesky, "full"),
        covariances_from_precisions_cholesky(params.precisions_cholesky, "full"),
        1e-8,
    )


# ------------------------------------------------------------------------------ complete data
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_rows_take_the_fast_pass_bit_for_bit(rng, covariance_type):
    params = random_params(rng, K=4, d=3, covariance_type=covariance_type)
    X = rng.normal(scale=2.0, size=(300, 3))
    w = rng.uniform(0.5, 1.5, size=300)
    before, now = gaussian_suffstats(X, params, w), suffstats(X, params, w)
    for name in ("n", "loglik", "nk", "sx", "sxx"):
        np.testing.assert_array_equal(getattr(now, name), getattr(before, name))
    # with gaps elsewhere, the complete rows' share is still the fast pass's
    Xg = _with_gaps(rng, X)
    gaps = np.isnan(Xg).any(axis=1)
    split = gaussian_suffstats(Xg[~gaps], params, w[~gaps]) + missing_suffstats(
        Xg[gaps], params, covariance_type, w[gaps]
    )
    got = suffstats(Xg, params, w)
    for name in ("n", "loglik", "nk", "sx", "sxx"):
        np.testing.assert_array_equal(getattr(got, name), getattr(split, name))


def test_has_missing_and_patterns(rng):
    X = rng.normal(size=(20, 4))
    assert not has_missing(X)
    X[3, 2] = np.nan
    X[7, 2] = np.nan
    X[9, 0] = np.nan
    assert has_missing(X)
    Y = np.array([[np.inf, -np.inf]])
    assert not has_missing(Y)
    patterns, order, bounds = group_patterns(np.isnan(X))
    assert patterns.shape == (3, 4) and bounds[-1] == 20
    for i, pat in enumerate(patterns):
        rows = order[bounds[i]:bounds[i + 1]]
        assert np.array_equal(np.isnan(X[rows]), np.broadcast_to(pat, (rows.size, 4)))


# ------------------------------------------------------------------------------ additivity
@settings(max_examples=25, deadline=None)
@given(data=st.data(), covariance_type=st.sampled_from(COVARIANCE_TYPES))
def test_statistics_with_gaps_add_up_under_any_chunking(data, covariance_type):
    seed = data.draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(1, 50))
    rate = data.draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    params = random_params(rng, K=3, d=3, covariance_type=covariance_type)
    X = rng.normal(scale=3.0, size=(n, 3))
    X[rng.uniform(size=X.shape) < rate] = np.nan
    w = rng.uniform(0.0, 2.0, size=n)
    whole = suffstats(X, params, w)
    cuts = [0, *data.draw(chunkings(n)), n]
    total = sum(suffstats(X[a:b], params, w[a:b]) for a, b in pairwise(cuts))
    for name in ("n", "loglik", "nk", "sx", "sxx"):
        np.testing.assert_allclose(
            getattr(total, name), getattr(whole, name), rtol=1e-10, atol=1e-10, err_msg=name
        )


# ------------------------------------------------------------------------------ EM
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases_with_gaps(pattern_path, covariance_type, rng):
    """Exact EM over the observed coordinates: the log-likelihood never decreases.

    The start is the truth's covariances with the means moved, so that no component collapses
    onto a single row: a component left with about one row's weight (``nk`` near 1 or 0) is
    where the M-step stops being an exact maximisation (the ridge ``reg_covar`` dominates its
    variances, and ``nk + 10 eps`` stands in for a zero weight), and there the likelihood may
    drop by 1e-8..1e-1 relative, with or without gaps (docs/engine.md, "Missing values")."""
    drawn = random_params(rng, K=3, d=4, covariance_type=covariance_type, spread=2.0)
    # equal weights: a Dirichlet weight of 0.004 (MIXSYNTH_TEST_SEED=1000024) is about one row
    truth = Params(np.full(3, 1 / 3), drawn.means, drawn.precisions_cholesky, covariance_type)
    X, _ = sample_mixture(truth, 400, rng)
    X = _with_gaps(rng, X, rate=0.3)
    means = truth.means + rng.normal(scale=0.5, size=truth.means.shape)
    start = Params(np.full(3, 1 / 3), means, truth.precisions_cholesky, covariance_type)
    result = run_em(lambda p: suffstats(X, p), start, reg_covar=1e-6, tol=0.0, max_iter=40)
    bounds = np.array(result.lower_bounds)
    assert bounds.size == 40
    assert result.params.weights.min() * X.shape[0] >= 2.0  # the regime this test is about
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:])), np.diff(bounds).min()


def _param_error(p: Params, truth: Params) -> float:
    order = [int(np.argmin(np.linalg.norm(truth.means - m, axis=1))) for m in p.means]
    assert sorted(order) == list(range(truth.n_components))
    cov = covariances_from_precisions_cholesky(p.precisions_cholesky, "full")
    cov_t = covariances_from_precisions_cholesky(truth.precisions_cholesky, "full")
    return float(
        sum(np.linalg.norm(p.means[k] - truth.means[j]) + np.linalg.norm(cov[k] - cov_t[j])
            for k, j in enumerate(order))
    )


def test_em_with_gaps_beats_complete_case_analysis(rng):
    """30 % MCAR gaps in 6 columns leave ~12 % complete rows: EM over the observed coordinates
    uses every row and recovers the parameters better than EM on the complete rows alone."""
    truth = random_params(rng, K=2, d=6, covariance_type="full", spread=4.0)
    X, _ = sample_mixture(truth, 4000, rng)
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    complete = X[~np.isnan(X).any(axis=1)]
    assert 200 < complete.shape[0] < 800
    start = Params(truth.weights, truth.means + 0.3, truth.precisions_cholesky * 0.9, "full")
    em = run_em(lambda p: suffstats(X, p), start, reg_covar=1e-6, tol=1e-8, max_iter=500)
    cc = run_em(lambda p: suffstats(complete, p), start, reg_covar=1e-6, tol=1e-8,
                max_iter=500)
    assert _param_error(em.params, truth) < 0.8 * _param_error(cc.params, truth)
