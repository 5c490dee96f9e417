"""The numeric core against independent references (scipy, numpy) and its algebraic promises."""

from __future__ import annotations

import importlib
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from mixsynth.core import (
    Params,
    covariances_from_precisions_cholesky,
    e_step,
    estimate_log_prob,
    kernels,
    m_step,
    pack_outer,
    run_em,
    sample_mixture,
    suffstats,
)
from mixsynth.core._reference import dense_only, suffstats_reference
from mixsynth.core.kernels import pack_symmetric, unpack_symmetric
from tests.tolerance import assert_close_at_scale

from .strategies import COV_TYPES, chunkings, random_params


def _full_covariances(params: Params) -> np.ndarray:
    cov = covariances_from_precisions_cholesky(params.precisions_cholesky, params.covariance_type)
    K, d = params.means.shape
    if params.covariance_type == "full":
        return cov
    if params.covariance_type == "tied":
        return np.broadcast_to(cov, (K, d, d))
    if params.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(d)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_log_prob_matches_scipy(rng, covariance_type):
    params = random_params(rng, K=4, d=5, covariance_type=covariance_type)
    X = rng.normal(scale=3.0, size=(50, 5))
    got = estimate_log_prob(X, params)
    covs = _full_covariances(params)
    want = np.stack(
        [multivariate_normal(params.means[k], covs[k]).logpdf(X) for k in range(4)], axis=1
    )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_packed_and_centred_forms_agree(rng, monkeypatch):
    """The accuracy guard's two paths compute the same thing."""
    params = random_params(rng, K=6, d=7, covariance_type="full")
    X = rng.normal(scale=2.0, size=(40, 7))
    fast = estimate_log_prob(X, params)
    monkeypatch.setattr(kernels, "PACKED_MAX_AMPLIFICATION", -1.0)  # force the centred form
    exact = estimate_log_prob(X, params)
    assert_close_at_scale(fast, exact, 1e-10)


def test_guard_keeps_tight_far_components_accurate(rng):
    """A tight component far from the origin: the expanded form would lose every digit."""
    d = 3
    mean = np.full((1, d), 1e6)
    cov = np.eye(d)[None] * 1e-4
    from mixsynth.core import precisions_cholesky_from_covariances

    params = Params(np.ones(1), mean, precisions_cholesky_from_covariances(cov, "full"), "full")
    X = mean + rng.normal(scale=1e-2, size=(20, d))
    got = estimate_log_prob(X, params)[:, 0]
    want = multivariate_normal(mean[0], cov[0]).logpdf(X)
    assert_close_at_scale(got, want, 1e-9)


def test_packing_round_trip(rng):
    A = rng.normal(size=(3, 4, 4))
    A = A + np.swapaxes(A, 1, 2)
    iu = np.triu_indices(4)
    np.testing.assert_array_equal(unpack_symmetric(A[:, iu[0], iu[1]], 4), A)
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(
        pack_outer(x) @ pack_symmetric(A).T, np.einsum("ni,kij,nj->nk", x, A, x), rtol=1e-12
    )


def _reference_m_step(X, resp, w, covariance_type, reg):
    """Weighted moments computed the plain way, component by component."""
    R = resp * w[:, None]
    nk = R.sum(0) + 10 * np.finfo(float).eps
    means = R.T @ X / nk[:, None]
    covs = []
    for k in range(resp.shape[1]):
        diff = X - means[k]
        covs.append((R[:, k, None] * diff).T @ diff / nk[k])
    covs = np.array(covs)
    d = X.shape[1]
    if covariance_type == "full":
        cov = covs + reg * np.eye(d)
    elif covariance_type == "tied":
        cov = (covs * nk[:, None, None]).sum(0) / nk.sum() + reg * np.eye(d)
    elif covariance_type == "diag":
        cov = np.diagonal(covs, axis1=1, axis2=2) + reg
    else:
        cov = np.diagonal(covs, axis1=1, axis2=2).mean(1) + reg
    return nk / nk.sum(), means, cov


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_m_step_matches_plain_weighted_moments(rng, covariance_type):
    params = random_params(rng, K=3, d=4, covariance_type=covariance_type)
    X, _ = sample_mixture(params, 200, rng)
    w = rng.uniform(0.1, 3.0, size=200)
    stats = suffstats(X, params, w)
    new = m_step(stats, reg_covar=1e-3)
    _, log_resp = e_step(X, params)
    weights, means, cov = _reference_m_step(X, np.exp(log_resp), w, covariance_type, 1e-3)
    np.testing.assert_allclose(new.weights, weights, rtol=1e-10)
    np.testing.assert_allclose(new.means, means, rtol=1e-9, atol=1e-12)
    got_cov = covariances_from_precisions_cholesky(new.precisions_cholesky, covariance_type)
    np.testing.assert_allclose(got_cov, cov, rtol=1e-8, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), covariance_type=st.sampled_from(COV_TYPES))
def test_statistics_add_up_under_any_chunking(data, covariance_type):
    seed = data.draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = data.draw(st.integers(1, 60))
    params = random_params(rng, K=3, d=3, covariance_type=covariance_type)
    X = rng.normal(scale=3.0, size=(n, 3))
    w = rng.uniform(0.0, 2.0, size=n)
    whole = suffstats(X, params, w)
    cuts = [0, *data.draw(chunkings(n)), n]
    parts = [suffstats(X[a:b], params, w[a:b]) for a, b in pairwise(cuts)]
    total = sum(parts)
    for name in ("n", "loglik", "nk", "sx", "sxx"):
        np.testing.assert_allclose(
            getattr(total, name), getattr(whole, name), rtol=1e-10, atol=1e-10, err_msg=name
        )


def test_statistics_refuse_different_centers(rng):
    p1 = random_params(rng, K=2, d=2, covariance_type="full")
    p2 = random_params(rng, K=2, d=2, covariance_type="full")
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="same centers"):
        _ = suffstats(X, p1) + suffstats(X, p2)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_lower_bound_never_decreases(rng, covariance_type):
    truth = random_params(rng, K=4, d=3, covariance_type=covariance_type, spread=2.0)
    X, _ = sample_mixture(truth, 400, rng)
    start = random_params(rng, K=4, d=3, covariance_type=covariance_type, spread=1.0)
    seen = []
    result = run_em(
        lambda p: suffstats(X, p), start, reg_covar=1e-6, tol=0.0, max_iter=40,
        on_iter=lambda info: seen.append(info.lower_bound),
    )
    assert len(seen) == 40 == result.n_iter
    assert np.all(np.diff(seen) >= -1e-9 * np.abs(seen[1:])), np.diff(seen).min()
    assert not result.converged


def test_em_converges_on_change_of_mean_loglik(rng):
    truth = random_params(rng, K=2, d=2, covariance_type="full", spread=6.0)
    X, _ = sample_mixture(truth, 300, rng)
    result = run_em(lambda p: suffstats(X, p), truth, reg_covar=1e-6, tol=1e-4, max_iter=200)
    assert result.converged
    assert abs(result.lower_bounds[-1] - result.lower_bounds[-2]) < 1e-4


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_sample_covariance_matches_model(rng, covariance_type):
    """Correlated components make a wrong Cholesky transpose visible."""
    params = random_params(rng, K=2, d=4, covariance_type=covariance_type, spread=0.0)
    params = Params(np.array([1.0, 0.0]), params.means, params.precisions_cholesky,
                    covariance_type)  # all mass on component 0
    X, labels = sample_mixture(params, 40_000, rng)
    assert np.all(labels == 0)
    want = _full_covariances(params)[0]
    np.testing.assert_allclose(np.cov(X.T), want, atol=0.05 * np.abs(want).max())
    np.testing.assert_allclose(X.mean(0), params.means[0], atol=0.05)


def test_sample_is_shuffled_and_seeded(rng):
    params = random_params(rng, K=3, d=2, covariance_type="full")
    X1, y1 = sample_mixture(params, 300, np.random.default_rng(7))
    X2, _ = sample_mixture(params, 300, np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X2)
    # grouped output would have at most K-1 label changes
    assert np.count_nonzero(np.diff(y1)) > 10
    assert np.bincount(y1, minlength=3).sum() == 300


# --------------------------------------------------------------------- the fast E-step paths


def _assert_stats_close(got, want, rtol=1e-11):
    assert got.covariance_type == want.covariance_type
    np.testing.assert_allclose(got.n, want.n, rtol=1e-14)
    np.testing.assert_allclose(got.loglik, want.loglik, rtol=rtol)
    scale = {name: np.abs(getattr(want, name)).max() for name in ("nk", "sx", "sxx")}
    for name in ("nk", "sx", "sxx"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(want, name), rtol=rtol, atol=rtol * scale[name],
            err_msg=name,
        )


def test_normalize_rows_is_a_log_sum_exp(rng):
    from scipy.special import logsumexp

    from mixsynth.core.stats import normalize_rows

    wlp = rng.normal(scale=30.0, size=(200, 7))
    wlp[3, 2] = -np.inf  # a zero-weight component
    want_norm = logsumexp(wlp, axis=1)
    want_resp = np.exp(wlp - want_norm[:, None])
    R = wlp.copy()
    got_norm = normalize_rows(R)
    np.testing.assert_allclose(got_norm, want_norm, rtol=1e-14)
    big = want_resp > np.exp(-60.0)  # what normalize_rows keeps
    np.testing.assert_allclose(R[big], want_resp[big], rtol=1e-13)
    assert np.all(R[~big] < 1e-26)  # pruned or negligible
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_pruned_pass_equals_the_textbook_statistics(rng, weighted):
    """Separated components: the pruned pass runs (asserted) and its statistics are the
    exact E-step's to rounding."""
    from mixsynth.core.gaussian_pass import _Sums
    from mixsynth.core.pruning import pruned_full_sums

    params = random_params(rng, K=24, d=24, covariance_type="full", spread=20.0)
    X, _ = sample_mixture(params, 3000, rng)
    w = rng.uniform(0.1, 2.0, size=3000) if weighted else None
    sums = _Sums(params.means, "full", "full")
    assert pruned_full_sums(X, params, w, sums), "the bounds should prune separated data"
    _assert_stats_close(sums.stats(3000.0 if w is None else float(w.sum())),
                        suffstats_reference(X, params, w))
    _assert_stats_close(suffstats(X, params, w), suffstats_reference(X, params, w))


def test_pruned_pass_declines_overlapping_components(rng):
    """Overlapping components: the bounds prune little and the dense pass takes over."""
    from mixsynth.core.gaussian_pass import _Sums
    from mixsynth.core.pruning import pruned_full_sums

    params = random_params(rng, K=24, d=24, covariance_type="full", spread=0.3)
    X, _ = sample_mixture(params, 3000, rng)
    sums = _Sums(params.means, "full", "full")
    assert not pruned_full_sums(X, params, None, sums)
    assert not sums.nk.any()  # untouched


def test_pruned_pass_choice_follows_the_cost_model(rng, monkeypatch):
    """Few features: the bound costs as much as the dense pair, so the pass declines without
    a sample test; more BLAS threads speed the dense pass only, so the same separated problem
    that prunes at one thread declines at many; the pass holds BLAS to one thread."""
    from mixsynth.core import pruning
    from mixsynth.core.gaussian_pass import _Sums

    assert not pruning.pruning_may_pay(6, 64, threads=1)
    assert pruning.pruning_may_pay(32, 64, threads=1)
    assert pruning.pruning_may_pay(24, 24, threads=1)
    assert not pruning.pruning_may_pay(24, 24, threads=2)
    # a modelled boundary: more threads never make the pruned pass more attractive
    for d in (8, 16, 24, 32, 64):
        for K in (8, 32, 128):
            assert [pruning._max_kept_per_row(d, K, t) for t in (1, 2, 4)] == sorted(
                (pruning._max_kept_per_row(d, K, t) for t in (1, 2, 4)), reverse=True)
    sampled = []
    monkeypatch.setattr(pruning, "_kept_pairs", lambda *a: sampled.append(1) or 0)
    few = random_params(rng, K=12, d=6, covariance_type="full", spread=20.0)
    X, _ = sample_mixture(few, 3000, rng)
    assert not pruning.pruned_full_sums(X, few, None, _Sums(few.means, "full", "full"))
    assert not sampled  # declined by the model, before any sample test
    monkeypatch.undo()

    params = random_params(rng, K=24, d=24, covariance_type="full", spread=20.0)
    X, _ = sample_mixture(params, 3000, rng)
    held = []

    class Hold:
        def __enter__(self):
            held.append("on")

        def __exit__(self, *exc):
            held.append("off")

    token = pruning.BLAS_THREADS.set(2)
    token1 = pruning.ONE_THREAD.set(Hold)
    try:
        assert not pruning.pruned_full_sums(X, params, None, _Sums(params.means, "full", "full"))
        pruning.BLAS_THREADS.set(1)
        assert pruning.pruned_full_sums(X, params, None, _Sums(params.means, "full", "full"))
        assert held == []  # one thread already: nothing to hold
        wide = random_params(rng, K=48, d=40, covariance_type="full", spread=30.0)
        Xw, _ = sample_mixture(wide, 4000, rng)
        pruning.BLAS_THREADS.set(2)
        sums = _Sums(wide.means, "full", "full")
        assert pruning.pruned_full_sums(Xw, wide, None, sums)
        assert held == ["on", "off"]  # the pass ran on one thread
        _assert_stats_close(sums.stats(4000.0), suffstats_reference(Xw, wide))
    finally:
        pruning.ONE_THREAD.reset(token1)
        pruning.BLAS_THREADS.reset(token)
    _assert_stats_close(suffstats(X, params), suffstats_reference(X, params))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_blocked_statistics_equal_the_textbook_ones(rng, covariance_type, monkeypatch):
    """The dense pass in small blocks of rows (forced) gives the exact E-step's statistics,
    with and without the packed cache, whatever the mix of accurate and guarded components."""
    module = importlib.import_module("mixsynth.core.gaussian_pass")

    monkeypatch.setattr(module, "_BLOCK_BYTES", 8 * 64 * 10)  # 64-row blocks
    monkeypatch.setattr(module, "_MIN_BLOCK_ROWS", 64)
    params = random_params(rng, K=5, d=4, covariance_type=covariance_type, spread=1.0)
    X, _ = sample_mixture(params, 700, rng)
    w = rng.uniform(0.1, 2.0, size=700)
    want = suffstats_reference(X, params, w)
    _assert_stats_close(suffstats(X, params, w), want)
    if covariance_type == "full":
        _assert_stats_close(suffstats(X, params, w, pack_outer(X)), want)
        # half the components through the guarded (exact) forms
        monkeypatch.setattr(kernels, "PACKED_MAX_AMPLIFICATION", 0.0)
        _assert_stats_close(suffstats(X, params, w), want)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 300), min_size=1, max_size=12), d=st.integers(1, 7))
def test_segment_gram_is_the_gram_matrix_of_each_segment(lengths, d):
    from mixsynth.core.tiles import segment_gram

    rng = np.random.default_rng(sum(lengths) + d)
    W = rng.normal(size=(sum(lengths), d))
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    got = segment_gram(W, starts)
    want = [W[a : a + n].T @ W[a : a + n] for a, n in zip(starts, lengths, strict=True)]
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-12, atol=1e-12)


def test_pairs_mahalanobis_is_exact_per_pair(rng):
    from mixsynth.core.tiles import pairs_mahalanobis

    params = random_params(rng, K=5, d=4, covariance_type="full")
    X = rng.normal(scale=3.0, size=(90, 4))
    comps = np.sort(rng.integers(0, 5, size=200))
    rows = rng.integers(0, 90, size=200)
    got = pairs_mahalanobis(X, rows, comps, params.means, params.precisions_cholesky)
    diff = X[rows] - params.means[comps]
    Y = np.einsum("pi,pij->pj", diff, params.precisions_cholesky[comps])
    np.testing.assert_allclose(got, np.einsum("pj,pj->p", Y, Y), rtol=1e-12)


def test_guarded_components_are_refined_exactly(rng, monkeypatch):
    """Tight components the guard rejects: the packed values are refined pair by pair where
    responsibilities matter (separated data, few pairs) and the statistics stay exact."""
    import importlib

    module = importlib.import_module("mixsynth.core.gaussian_pass")
    calls = []
    original = module.pairs_mahalanobis
    monkeypatch.setattr(module, "pairs_mahalanobis",
                        lambda *a: calls.append(a[1].size) or original(*a))
    # far, tight components: the expanded form alone would lose most digits
    d = 3
    means = 1e3 + 40.0 * rng.normal(size=(6, d))
    cov = np.eye(d)[None] * rng.uniform(1e-4, 1e-3, size=(6, 1, 1))
    from mixsynth.core import precisions_cholesky_from_covariances

    params = Params(np.full(6, 1 / 6), means,
                    precisions_cholesky_from_covariances(cov, "full"), "full")
    X, _ = sample_mixture(params, 250, rng)  # < 100 d rows: no pruned pass
    w = rng.uniform(0.5, 1.5, size=250)
    _assert_stats_close(suffstats(X, params, w), suffstats_reference(X, params, w), rtol=1e-10)
    assert calls and sum(calls) < 2 * 250  # about one pair per row was refined


@pytest.mark.parametrize("d", [1, 2, 7, 8, 9, 16, 41, 64])
def test_inv_lower_triangular_matches_lapack(rng, d):
    from mixsynth.core.params import inv_lower_triangular

    A = rng.normal(size=(5, d, d))
    L = np.linalg.cholesky(A @ np.swapaxes(A, 1, 2) / d + np.eye(d))
    got = inv_lower_triangular(L)
    assert not np.any(np.triu(got, 1))
    np.testing.assert_allclose(got, np.linalg.inv(L), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(inv_lower_triangular(L[0]), np.linalg.inv(L[0]), atol=1e-12)


@pytest.mark.parametrize("lower", [True, False])
def test_covariances_from_either_triangular_factor(rng, lower):
    """Precision factors come upper (our fits, scikit-learn's) or lower (``precisions_init``
    via Cholesky): both give back the covariance."""
    cov = rng.normal(size=(3, 4, 4))
    cov = cov @ np.swapaxes(cov, 1, 2) + np.eye(4)
    prec = np.linalg.inv(cov)
    pc = np.linalg.cholesky(prec)
    if not lower:  # an upper factor of the same precision
        from mixsynth.core import precisions_cholesky_from_covariances

        pc = precisions_cholesky_from_covariances(cov, "full")
        assert not np.any(np.tril(pc, -1))
    assert_close_at_scale(covariances_from_precisions_cholesky(pc, "full"), cov, 1e-10)


def test_dense_only_runs_the_dense_formulation_with_the_same_statistics(rng, monkeypatch):
    """The benchmark switch: no pruned pass, GEMM second moments even for sparse
    responsibilities; the statistics do not change."""
    from mixsynth.core.pruning import PRUNING

    params = random_params(rng, K=24, d=24, covariance_type="full", spread=20.0)
    X, _ = sample_mixture(params, 3000, rng)
    calls = []
    for module_name, name in (("gaussian_pass", "centred_scatter"),  # sparse exact scatter
                              ("pruning", "_centred_log_density")):  # pruned pass
        module = importlib.import_module(f"mixsynth.core.{module_name}")
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k:
                            calls.append(_n) or _f(*a, **k))
    suffstats(X, params)
    assert "_centred_log_density" in calls  # without the switch the pruned pass runs
    calls.clear()
    with dense_only():
        got = suffstats(X, params)
    assert not calls  # neither the pruned pass nor the sparse exact scatter ran
    _assert_stats_close(got, suffstats_reference(X, params), rtol=1e-9)
    assert PRUNING.get()  # switched back on
