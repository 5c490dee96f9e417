"""Mixtures of factor analysers (``"factor(q)"``): against a plain NumPy implementation of
Ghahramani & Hinton's EM with explicit d × d inverses, the likelihood never decreasing, the
limits q = 0 (diagonal) and q = d - 1 (full), additivity, sampling and model-file tensors."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from mixsynth import GaussianMixture
from mixsynth.core import Factor, Params, factor_name, family, run_em, sample_mixture, suffstats
from mixsynth.core.families.factor import factor, factor_covariances
from tests.tolerance import assert_close_at_scale

Array = NDArray[np.float64]


def random_factor_params(rng: np.random.Generator, K: int, d: int, q: int,
                         spread: float = 4.0) -> Params:
    return factor(q).params(
        rng.dirichlet(np.full(K, 3.0)),
        rng.normal(scale=spread, size=(K, d)),
        rng.normal(scale=0.8, size=(K, d, q)),
        rng.uniform(0.2, 1.0, size=(K, d)),
    )


# ------------------------------------------------------------------ the textbook reference


def reference_em_step(X: Array, w: Array, p: Params, reg_covar: float
                      ) -> tuple[float, Params]:
    """One EM iteration of Ghahramani & Hinton (1996) as written: explicit Σ^{-1},
    β = W^T Σ^{-1}, E[z z^T | x] = I - βW + β(x-μ)(x-μ)^T β^T, the joint [W μ] update with raw
    (uncentred) moments. Returns the mean log-likelihood of ``p`` and the new parameters."""
    n, d = X.shape
    W_all, psi_all = p.extra["loadings"], p.extra["noise_variance"]
    K, _, q = W_all.shape
    logp = np.empty((n, K))
    sigma_inv = []
    for k in range(K):
        S = W_all[k] @ W_all[k].T + np.diag(psi_all[k])
        Si = np.linalg.inv(S)
        sigma_inv.append(Si)
        D = X - p.means[k]
        logp[:, k] = (np.log(p.weights[k]) - 0.5 * d * np.log(2 * np.pi)
                      - 0.5 * np.linalg.slogdet(S)[1]
                      - 0.5 * np.einsum("ij,jk,ik->i", D, Si, D))
    log_norm = logsumexp(logp, axis=1)
    R = np.exp(logp - log_norm[:, None]) * w[:, None]
    nk = R.sum(axis=0)
    new_W, new_mu, new_psi = np.empty_like(W_all), np.empty_like(p.means), np.empty_like(psi_all)
    for k in range(K):
        r, W = R[:, k], W_all[k]
        beta = W.T @ sigma_inv[k]
        Ez = (X - p.means[k]) @ beta.T
        Ezt = np.c_[Ez, np.ones(n)]
        A = np.empty((q + 1, q + 1))
        A[:q, :q] = nk[k] * (np.eye(q) - beta @ W) + Ez.T @ (r[:, None] * Ez)
        A[:q, q] = A[q, :q] = r @ Ez
        A[q, q] = nk[k]
        B = X.T @ (r[:, None] * Ezt)  # Σ r x E[z~]^T
        Wt = B @ np.linalg.inv(A)
        new_W[k], new_mu[k] = Wt[:, :q], Wt[:, q]
        new_psi[k] = np.diag(X.T @ (r[:, None] * X) - Wt @ B.T) / nk[k] + reg_covar
    new = factor(q).params(nk / nk.sum(), new_mu, new_W, new_psi)
    return float(log_norm @ w / w.sum()), new


@pytest.mark.parametrize(("K", "d", "q"), [(3, 5, 2), (2, 4, 1), (4, 6, 3)])
def test_em_equals_the_textbook_reference(rng, K, d, q):
    truth = random_factor_params(rng, K, d, q)
    X, _ = sample_mixture(truth, 700, rng)
    w = rng.uniform(0.3, 2.0, size=700)
    # a start near the truth (a k-means-like start): no component collapses onto reg_covar,
    # where the reference's raw moments lose digits the centred statistics keep
    start = factor(q).params(
        rng.dirichlet(np.full(K, 5.0)),
        truth.means + rng.normal(scale=0.7, size=(K, d)),
        rng.normal(scale=0.8, size=(K, d, q)),
        rng.uniform(0.3, 1.5, size=(K, d)),
    )
    result = run_em(lambda p: suffstats(X, p, w), start, reg_covar=1e-6, tol=0.0, max_iter=12)
    p, bounds = start, []
    for _ in range(12):
        lb, p = reference_em_step(X, w, p, 1e-6)
        bounds.append(lb)
    np.testing.assert_allclose(result.lower_bounds, bounds, rtol=1e-9)
    got = result.params
    np.testing.assert_allclose(got.weights, p.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.means, p.means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.extra["loadings"], p.extra["loadings"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.extra["noise_variance"], p.extra["noise_variance"],
                               rtol=1e-9)


def test_log_density_is_the_gaussian_of_w_wt_plus_psi(rng):
    p = random_factor_params(rng, 3, 7, 2)
    X = rng.normal(scale=3.0, size=(50, 7))
    cov = factor_covariances(p.extra["loadings"], p.extra["noise_variance"])
    got = p.family.log_prob(X, p)
    for k in range(3):
        want = multivariate_normal(p.means[k], cov[k]).logpdf(X)
        assert_close_at_scale(got[:, k], want, 1e-11)


def test_hundreds_of_dimensions_woodbury_matches_the_dense_density(rng):
    d, q = 300, 5
    p = random_factor_params(rng, 2, d, q, spread=0.5)
    X, _ = sample_mixture(p, 40, rng)
    cov = factor_covariances(p.extra["loadings"], p.extra["noise_variance"])
    got = p.family.log_prob(X, p)
    for k in range(2):
        want = multivariate_normal(p.means[k], cov[k]).logpdf(X)
        assert_close_at_scale(got[:, k], want, 1e-10)
    # and EM runs at that size: one iteration is the reference's
    lb, ref = reference_em_step(X, np.ones(40), p, 1e-3)
    res = run_em(lambda s: suffstats(X, s), p, reg_covar=1e-3, tol=0.0, max_iter=1)
    assert res.lower_bounds[0] == pytest.approx(lb, rel=1e-10)
    np.testing.assert_allclose(res.params.extra["loadings"], ref.extra["loadings"],
                               rtol=1e-7, atol=1e-9)


def test_the_likelihood_never_decreases(rng):
    truth = random_factor_params(rng, 4, 6, 2, spread=2.0)
    X, _ = sample_mixture(truth, 1500, rng)
    start = random_factor_params(rng, 4, 6, 2, spread=1.0)
    bounds = run_em(lambda p: suffstats(X, p), start, reg_covar=0.0, tol=0.0,
                    max_iter=60).lower_bounds
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0] + 0.1  # and it moved


def test_statistics_add_over_chunks_and_weights_repeat_rows(rng):
    p = random_factor_params(rng, 3, 5, 2)
    X, _ = sample_mixture(p, 300, rng)
    whole = suffstats(X, p)
    parts = suffstats(X[:77], p) + suffstats(X[77:200], p) + suffstats(X[200:], p)
    for a, b in [(whole.nk, parts.nk), (whole.sx, parts.sx), (whole.sxx, parts.sxx),
                 *((whole.extra[k], parts.extra[k]) for k in ("sxz", "szz", "sz"))]:
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-9)
    assert whole.loglik == pytest.approx(parts.loglik, rel=1e-12)
    counts = rng.integers(0, 3, size=300)
    weighted = suffstats(X, p, counts.astype(float))
    repeated = suffstats(np.repeat(X, counts, axis=0), p)
    np.testing.assert_allclose(weighted.extra["sxz"], repeated.extra["sxz"], rtol=1e-10,
                               atol=1e-9)
    assert weighted.loglik == pytest.approx(repeated.loglik, rel=1e-11)


def test_no_factors_is_the_diagonal_family(rng):
    truth = random_factor_params(rng, 3, 4, 0)
    X, _ = sample_mixture(truth, 800, rng)
    # near the truth: no component collapses onto reg_covar (where rounding is amplified)
    start = factor(0).params(np.full(3, 1 / 3), truth.means + rng.normal(size=(3, 4)),
                             np.zeros((3, 4, 0)), rng.uniform(0.5, 2.0, size=(3, 4)))
    psi = start.extra["noise_variance"]
    as_diag = Params(start.weights, start.means, 1.0 / np.sqrt(psi), "diag")
    kw = {"reg_covar": 1e-6, "tol": 0.0, "max_iter": 10}
    fa = run_em(lambda p: suffstats(X, p), start, **kw)
    dg = run_em(lambda p: suffstats(X, p), as_diag, **kw)
    np.testing.assert_allclose(fa.lower_bounds, dg.lower_bounds, rtol=1e-10)
    np.testing.assert_allclose(fa.params.means, dg.params.means, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(fa.params.extra["noise_variance"],
                               1.0 / dg.params.precisions_cholesky**2, rtol=1e-9)


def test_many_factors_recover_the_full_covariance_likelihood(rng):
    d = 4
    X = np.concatenate([_correlated(rng, 500, d) + 30.0 * k for k in range(3)])
    kw = {"tol": 1e-9, "max_iter": 20_000, "random_state": 0}
    full = GaussianMixture(3, covariance_type="full", **kw).fit(X)
    fa = GaussianMixture(3, covariance_type="factor", n_factors=d - 1, **kw).fit(X)
    few = GaussianMixture(3, covariance_type="factor", n_factors=1, tol=1e-6,
                          max_iter=20_000, random_state=0).fit(X)
    assert fa.score(X) == pytest.approx(full.score(X), abs=2e-3)
    assert few.score(X) < full.score(X) - 0.01  # one factor cannot: the check has teeth
    order = np.argsort(fa.means_[:, 0]), np.argsort(full.means_[:, 0])
    np.testing.assert_allclose(fa.covariances_[order[0]], full.covariances_[order[1]],
                               rtol=0.05, atol=0.05 * np.abs(full.covariances_).max())


def _correlated(rng: np.random.Generator, n: int, d: int) -> Array:
    A = rng.normal(size=(d, d))
    return np.asarray(rng.normal(size=(n, d)) @ (A @ A.T / d + np.eye(d)))


@pytest.mark.parametrize("temperature", [1.0, 0.25, 2.0])
def test_sampling_covariance_is_the_models_times_the_temperature(rng, temperature):
    p = random_factor_params(rng, 2, 4, 2, spread=6.0)
    X, labels = sample_mixture(p, 100_000, rng, temperature=temperature)
    cov = factor_covariances(p.extra["loadings"], p.extra["noise_variance"])
    for k in range(2):
        rows = X[labels == k]
        scale = temperature * np.abs(cov[k]).max()
        np.testing.assert_allclose(np.cov(rows.T), temperature * cov[k], atol=0.06 * scale)
        np.testing.assert_allclose(rows.mean(axis=0), p.means[k], atol=0.06 * np.sqrt(scale))


def test_tensors_round_trip_and_are_checked(rng):
    p = random_factor_params(rng, 3, 5, 2)
    fam = p.family
    tensors = fam.to_tensors(p)
    assert {k: v.shape for k, v in tensors.items()} == fam.tensor_shapes(3, 5)
    back = fam.from_tensors({k: v.copy() for k, v in tensors.items()})
    assert back.covariance_type == "factor(2)"
    for key, value in fam.to_tensors(back).items():
        np.testing.assert_array_equal(value, tensors[key])
    with pytest.raises(ValueError, match="missing tensor"):
        fam.from_tensors({k: v for k, v in tensors.items() if k != "loadings"})
    with pytest.raises(ValueError, match="'loadings' has shape"):
        fam.from_tensors({**tensors, "loadings": tensors["loadings"][:, :, :1]})
    bad = tensors["noise_variance"].copy()
    bad[1, 2] = 0.0
    with pytest.raises(ValueError, match="'noise_variance' has values <= 0"):
        fam.from_tensors({**tensors, "noise_variance": bad})


@pytest.mark.parametrize(("K", "d", "q"), [(1, 1, 0), (3, 5, 2), (20, 200, 5)])
def test_parameter_count(K, d, q):
    assert family(factor_name(q)).n_parameters(K, d) == (
        K * (d * q - q * (q - 1) // 2 + d) + K * d + K - 1
    )


def test_names_resolve_to_one_instance_per_q():
    assert family("factor(3)") is family("factor(3)")
    assert isinstance(family("factor(3)"), Factor) and family("factor(3)").n_factors == 3
    for bad in ("factor(x)", "factor(-1)", "factor(03)", "factor(2.5)"):
        with pytest.raises(ValueError, match="factor"):
            family(bad)


def test_a_large_offset_keeps_the_log_density_accurate(rng):
    """Far from the origin the expanded quadratic forms would cancel; those components are
    computed centred, so a shift of everything by 1e6 changes nothing."""
    p = random_factor_params(rng, 3, 5, 2)
    X = rng.normal(scale=3.0, size=(40, 5))
    shifted = factor(2).params(p.weights, p.means + 1e6, p.extra["loadings"],
                               p.extra["noise_variance"])
    assert_close_at_scale(p.family.log_prob(X + 1e6, shifted), p.family.log_prob(X, p), 1e-9)
    a, b = suffstats(X + 1e6, shifted), suffstats(X, p)
    np.testing.assert_allclose(a.extra["sxz"], b.extra["sxz"], rtol=1e-6, atol=1e-6)
