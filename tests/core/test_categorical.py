"""The mixed family: Gaussian block × independent categorical columns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from mixsynth.core import Params, family, run_em
from mixsynth.core.families.categorical import ALPHA, Categorical, categorical_family

LEVELS = (3, 2, 4)


def _data(rng: np.random.Generator, n: int = 300, d: int = 2, missing: float = 0.1):
    """Two latent groups; continuous block and codes depend on the group; some codes -1."""
    z = rng.integers(0, 2, n)
    Xc = rng.normal(size=(n, d)) + 3.0 * z[:, None]
    codes = np.stack([
        np.where(z == 1, rng.integers(0, L, n), rng.integers(0, max(1, L - 1), n))
        for L in LEVELS
    ], axis=1)
    codes[rng.random(codes.shape) < missing] = -1
    return Xc, codes


def _start(fam: Categorical, X: np.ndarray, K: int, rng: np.random.Generator) -> Params:
    R = rng.dirichlet(np.ones(K), size=X.shape[0])
    d = X.shape[1] - fam.n_levels
    centers = np.zeros((K, d))
    return fam.m_step(fam.accumulate(X, R, centers), 1e-6)


def _reference_step(Xc, onehot, starts, levels, w, mu, cov, theta):
    """One textbook EM iteration (scipy densities, explicit loops): new parameters, loglik."""
    K = w.shape[0]
    lp = np.empty((Xc.shape[0], K))
    for k in range(K):
        lp[:, k] = np.log(w[k]) + onehot @ np.log(theta[k])
        if Xc.shape[1]:
            lp[:, k] += multivariate_normal(mu[k], cov[k]).logpdf(Xc)
    norm = logsumexp(lp, axis=1)
    R = np.exp(lp - norm[:, None])
    nk = R.sum(0) + 10 * np.finfo(float).eps
    w2 = nk / nk.sum()
    mu2 = (R.T @ Xc) / nk[:, None]
    cov2 = np.empty_like(cov)
    for k in range(K):
        D = Xc - mu2[k]
        cov2[k] = (R[:, k, None] * D).T @ D / nk[k] + 1e-6 * np.eye(Xc.shape[1])
    counts = R.T @ onehot
    theta2 = np.empty_like(theta)
    for s, L in zip(starts, levels, strict=True):
        block = counts[:, s:s + L]
        pooled = (block.sum(0) + ALPHA) / (block.sum() + ALPHA * L)  # over the data
        theta2[:, s:s + L] = ((block + ALPHA * L * pooled)
                              / (block.sum(1, keepdims=True) + ALPHA * L))
    return w2, mu2, cov2, theta2, float(norm.sum())


def test_em_matches_a_numpy_reference(rng: np.random.Generator) -> None:
    fam = categorical_family("full", LEVELS)
    Xc, codes = _data(rng)
    X = np.hstack([Xc, fam.one_hot(codes)])
    params = _start(fam, X, 3, rng)
    cov = family("full").covariances_from_precisions_cholesky(params.precisions_cholesky)
    ref = (params.weights, params.means, cov, np.exp(params.extra["log_theta"]))
    starts = np.concatenate([[0], np.cumsum(LEVELS)[:-1]])
    for _ in range(5):
        st = fam.statistics(X, params)
        params = fam.m_step(st, 1e-6)
        *ref_params, ref_ll = _reference_step(Xc, X[:, 2:], starts, LEVELS, *ref)
        ref = tuple(ref_params)
        assert st.loglik == pytest.approx(ref_ll, rel=1e-9)
    got_cov = family("full").covariances_from_precisions_cholesky(params.precisions_cholesky)
    np.testing.assert_allclose(params.weights, ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(params.means, ref[1], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got_cov, ref[2], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.exp(params.extra["log_theta"]), ref[3], rtol=1e-9)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("d", [0, 2])
def test_objective_never_decreases(rng: np.random.Generator, cov: str, d: int) -> None:
    """The M-step maximises the posterior under the smoothing's Dirichlet prior, whose weights
    ``ALPHA * L_j * pbar`` are fixed by the data (the pooled level counts), so what EM never
    decreases is the log-likelihood plus ``sum(weights * log theta)``."""
    fam = categorical_family(cov, LEVELS)
    Xc, codes = _data(rng, d=d)
    X = np.hstack([Xc, fam.one_hot(codes)])
    params = _start(fam, X, 3, rng)
    onehot = X[:, X.shape[1] - fam.n_levels:]
    width = np.repeat(LEVELS, LEVELS).astype(float)
    weights = ALPHA * width * fam.pooled(onehot.sum(axis=0, keepdims=True))
    objective = []
    for _ in range(30):
        st = fam.statistics(X, params)
        np.testing.assert_allclose(fam.pooled(st.extra["counts"]),
                                   fam.pooled(onehot.sum(axis=0, keepdims=True)), rtol=1e-12)
        objective.append(st.loglik + float(np.sum(weights * params.extra["log_theta"])))
        params = fam.m_step(st, 1e-10)
    steps = np.diff(objective)
    assert np.all(steps >= -1e-9 * np.abs(objective[1:]))
    assert np.all(np.isfinite(params.extra["log_theta"]))
    # and run_em, the one loop, runs it
    result = run_em(lambda p: fam.statistics(X, p), _start(fam, X, 3, rng), reg_covar=1e-6,
                    tol=1e-8, max_iter=50)
    assert np.isfinite(result.lower_bound)


def test_statistics_add_over_any_chunking(rng: np.random.Generator) -> None:
    fam = categorical_family("full", LEVELS)
    Xc, codes = _data(rng)
    X = np.hstack([Xc, fam.one_hot(codes)])
    params = _start(fam, X, 2, rng)
    whole = fam.statistics(X, params)
    cuts = np.sort(rng.choice(np.arange(1, X.shape[0]), size=4, replace=False))
    parts = sum(fam.statistics(c, params) for c in np.split(X, cuts))
    for a, b in ((whole.nk, parts.nk), (whole.sx, parts.sx), (whole.sxx, parts.sxx),
                 (whole.extra["counts"], parts.extra["counts"])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    assert whole.loglik == pytest.approx(parts.loglik, rel=1e-12)
    # a logarithm's rounding error is absolute (the relative error of its argument)
    np.testing.assert_allclose(fam.m_step(whole, 1e-6).extra["log_theta"],
                               fam.m_step(parts, 1e-6).extra["log_theta"], rtol=1e-10, atol=1e-10)


# far from the origin for the types with per-component moments (tied sums x x^T about the
# origin in every form; the table model standardises its data)
@pytest.mark.parametrize(("cov", "offset", "spread"), [
    *((cov, 0.0, 1.0) for cov in ("full", "tied", "diag", "spherical")),
    *((cov, 1e4, 1e-3) for cov in ("full", "diag", "spherical")),
])
def test_fast_statistics_match_the_centred_forms(
    rng: np.random.Generator, cov: str, offset: float, spread: float
) -> None:
    """The E-step's expanded second moments (one product) are used only where the accuracy
    guard allows: far from the origin with tight components it falls back to the centred
    scatter, and either way the M-step equals the one from exact centred statistics."""
    fam = categorical_family(cov, LEVELS)
    Xc, codes = _data(rng)
    X = np.hstack([offset + spread * Xc, fam.one_hot(codes)])
    params = fam.m_step(fam.statistics(X, _start(fam, X, 3, rng)), 1e-12)
    fast = fam.statistics(X, params)
    wlp = fam.weighted_log_prob(X, params)
    R = np.exp(wlp - logsumexp(wlp, axis=1)[:, None])
    exact = fam.accumulate(X, R, params.means)  # the centred forms
    assert fast.loglik == pytest.approx(float(logsumexp(wlp, axis=1).sum()), rel=1e-12)
    a, b = fam.m_step(fast, 1e-12), fam.m_step(exact, 1e-12)
    gauss = family(cov)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-12, atol=1e-9 * spread)
    np.testing.assert_allclose(
        gauss.covariances_from_precisions_cholesky(a.precisions_cholesky),
        gauss.covariances_from_precisions_cholesky(b.precisions_cholesky),
        rtol=1e-6, atol=1e-9 * spread**2)
    np.testing.assert_allclose(a.extra["log_theta"], b.extra["log_theta"], rtol=1e-9, atol=1e-9)


def test_smoothing_keeps_a_rare_level_at_its_rate_with_many_components(
    rng: np.random.Generator,
) -> None:
    """Half an observation per level in each of many small components must not inflate a rare
    level: the mixture's marginal rate of it stays the data's (a symmetric prior gives each of
    ten 20-row components about 2 points of it, whatever its rate: 12 % for a 10 % level)."""
    fam = categorical_family("full", (2,))
    n = 200
    codes = (rng.random((n, 1)) < 0.04).astype(np.intp)
    codes[:8, 0] = 1  # at least 4 %
    X = np.hstack([rng.normal(size=(n, 2)), fam.one_hot(codes)])
    result = run_em(lambda p: fam.statistics(X, p), _start(fam, X, 10, rng), reg_covar=1e-3,
                    tol=1e-6, max_iter=20)
    p = result.params
    marginal = float(p.weights @ np.exp(p.extra["log_theta"][:, 1]))
    assert marginal == pytest.approx(codes.mean(), abs=0.005)


def test_parameter_count() -> None:
    fam = categorical_family("full", LEVELS)
    K, d = 4, 3
    gauss = K * d * (d + 1) // 2 + K * d + K - 1
    assert fam.n_parameters(K, d + fam.n_levels) == gauss + K * sum(L - 1 for L in LEVELS)
    assert categorical_family("diag", (2,)).n_parameters(3, 2) == 3 * 1 + 2  # no continuous


@pytest.mark.parametrize("d", [0, 2])
def test_tensors_round_trip_and_rebuild_from_the_name(rng: np.random.Generator, d: int) -> None:
    fam = categorical_family("diag", LEVELS)
    Xc, codes = _data(rng, d=d)
    X = np.hstack([Xc, fam.one_hot(codes)])
    params = _start(fam, X, 2, rng)
    tensors = fam.to_tensors(params)
    assert {k: v.shape for k, v in tensors.items()} == fam.tensor_shapes(2, X.shape[1])
    back = family(params.covariance_type).from_tensors(tensors)
    for a, b in ((back.weights, params.weights), (back.means, params.means),
                 (back.extra["log_theta"], params.extra["log_theta"])):
        np.testing.assert_array_equal(a, b)
    bad = dict(tensors, log_theta=tensors["log_theta"] + 0.1)
    with pytest.raises(ValueError, match="probability"):
        fam.from_tensors(bad)


def test_sampling_reproduces_the_level_rates(rng: np.random.Generator) -> None:
    fam = categorical_family("full", (3,))
    theta = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    params = Params(np.array([0.5, 0.5]), np.zeros((2, 1)), np.ones((2, 1, 1)), fam.name,
                    {"log_theta": np.log(theta)})
    X = fam.sample_grouped(params, np.array([20000, 20000]), rng)
    codes = fam.codes(X[:, 1:])
    np.testing.assert_allclose(np.bincount(codes[:20000, 0], minlength=3) / 20000, theta[0],
                               atol=0.015)
    np.testing.assert_allclose(np.bincount(codes[20000:, 0], minlength=3) / 20000, theta[1],
                               atol=0.015)


def test_missing_codes_are_marginalised(rng: np.random.Generator) -> None:
    fam = categorical_family("full", (3, 2))
    Xc, _ = _data(rng, n=5)
    params = _start(fam, np.hstack([Xc, fam.one_hot(np.zeros((5, 2), int))]), 2, rng)
    full = fam.log_prob(np.hstack([Xc, fam.one_hot(np.array([[1, 0]] * 5))]), params)
    gap = fam.log_prob(np.hstack([Xc, fam.one_hot(np.array([[1, -1]] * 5))]), params)
    np.testing.assert_allclose(full - gap, np.tile(params.extra["log_theta"][:, 3], (5, 1)))


def test_bad_names_and_codes() -> None:
    with pytest.raises(ValueError, match="Malformed"):
        family("full-categorical(3,x)")
    with pytest.raises(ValueError, match="levels"):
        Categorical("full", (0,))
    with pytest.raises(ValueError, match="codes"):
        categorical_family("full", (2,)).one_hot(np.array([[2]]))


def test_temperature_sharpens_or_flattens_the_levels(rng: np.random.Generator) -> None:
    fam = categorical_family("diag", (3,))
    theta = np.array([[0.6, 0.3, 0.1]])
    params = Params(np.ones(1), np.zeros((1, 1)), np.ones((1, 1)), fam.name,
                    {"log_theta": np.log(theta)})
    for t in (0.5, 2.0):
        X = fam.sample_grouped(params, np.array([30000]), rng, temperature=t)
        want = theta[0] ** (1 / t) / np.sum(theta[0] ** (1 / t))
        got = np.bincount(fam.codes(X[:, 1:])[:, 0], minlength=3) / 30000
        np.testing.assert_allclose(got, want, atol=0.015)
