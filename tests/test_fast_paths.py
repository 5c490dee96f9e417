"""The speed paths of fitting and selection, each against the path it replaces: the shared
initial clustering (one k-means per K and fold in a sweep), the kept thread-pool controller."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from mixsynth import GaussianMixture, Whitener
from mixsynth import gaussian_mixture as gm_module
from mixsynth.core import pruning
from mixsynth.gaussian_mixture import blas_threads, shared_initialisation
from mixsynth.seeding import SeedPlan
from mixsynth.selection import HeldOut, InformationCriterion, candidate_grid, make_folds, select
from tests.tolerance import assert_close_at_scale


def _data(rng: np.random.Generator, n: int = 400) -> np.ndarray:
    centres = rng.normal(scale=4.0, size=(4, 3))
    return centres[rng.integers(0, 4, n)] + rng.normal(size=(n, 3))


def _assert_same_fit(a: GaussianMixture, b: GaussianMixture) -> None:
    for name in ("weights_", "means_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_iter_ == b.n_iter_ and a.lower_bound_ == b.lower_bound_


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_shared_initialisation_gives_the_fits_made_alone(
    rng: np.random.Generator, init_params: str
) -> None:
    """Within the block, fits differing in covariance type and reg_covar (and a second
    initialisation, which needs the random state advanced as the first left it) reuse the
    first fit's clustering and equal the fits made without the block, exactly."""
    X = _data(rng)
    configs = [(cov, reg) for cov in ("full", "diag", "tied", "spherical")
               for reg in (1e-6, 1e-2)]

    def fits() -> list[GaussianMixture]:
        return [GaussianMixture(4, covariance_type=cov, reg_covar=reg, n_init=2,
                                init_params=init_params, random_state=7).fit(X)
                for cov, reg in configs]

    alone = fits()
    with shared_initialisation() as cache:
        shared = fits()
        with shared_initialisation() as inner:  # nested: the same cache
            assert inner is cache
    assert cache.hits == 2 * (len(configs) - 1)  # two initialisations per fit, after the first
    for a, b in zip(alone, shared, strict=True):
        _assert_same_fit(a, b)
    # another seed, other rows, weights or K are other clusterings
    with shared_initialisation() as cache:
        GaussianMixture(4, init_params=init_params, random_state=7).fit(X)
        GaussianMixture(4, init_params=init_params, random_state=8).fit(X)
        GaussianMixture(3, init_params=init_params, random_state=7).fit(X)
        GaussianMixture(4, init_params=init_params, random_state=7).fit(X[1:])
        GaussianMixture(4, init_params=init_params, random_state=7).fit(
            X, sample_weight=np.linspace(0.5, 1.5, X.shape[0]))
        assert cache.hits == 0


def test_shared_initialisation_keeps_within_its_budget(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = _data(rng)
    monkeypatch.setattr(gm_module, "INIT_CACHE_BYTES", X.shape[0] * 8 * 2)  # two clusterings
    with shared_initialisation() as cache:
        for seed in range(4):
            GaussianMixture(3, random_state=seed).fit(X)
        assert len(cache.entries) == 2 and cache.nbytes <= gm_module.INIT_CACHE_BYTES


@contextmanager
def _no_sharing() -> Iterator[None]:
    yield


@pytest.mark.parametrize("criterion", ["heldout", "bic"])
def test_a_sweep_clusters_once_per_k_and_fold_with_the_results_of_no_sharing(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, criterion: str
) -> None:
    """Candidates with the same K share their seed, so the sweep runs one k-means per K and
    fold; its candidates and winner equal those of the sweep without the shared cache."""
    from sklearn import cluster

    X = _data(rng, 300)
    plan = SeedPlan.from_random_state(3)
    w = Whitener(None).fit(X)
    Z = w.transform(X)
    folds, _ = make_folds(X, w, 3, plan)
    grid = candidate_grid([1, 2, 3, 4], ["full", "diag"], [1e-6, 1e-2])
    calls: list[tuple[int, bytes]] = []
    original = cluster.KMeans.fit

    def counted(self, X, *a, **k):  # type: ignore[no-untyped-def]
        calls.append((self.n_clusters, np.ascontiguousarray(X).tobytes()))
        return original(self, X, *a, **k)

    monkeypatch.setattr(cluster.KMeans, "fit", counted)

    def sweep() -> tuple:  # type: ignore[type-arg]
        ev = HeldOut(folds, Z) if criterion == "heldout" else InformationCriterion("bic", Z)
        return select(grid, ev, estimator=GaussianMixture(tol=1e-4), seeds=plan, search="grid")

    result, mixture = sweep()
    # one k-means per K and set of rows (fold, or every row), whatever the covariance type
    # and reg_covar
    assert len(calls) == len(set(calls))
    assert len({k for k, _ in calls}) == 4
    n_shared = len(calls)
    calls.clear()
    select_module = importlib.import_module("mixsynth.selection.select")
    monkeypatch.setattr(select_module, "shared_initialisation", _no_sharing)
    result0, mixture0 = sweep()
    assert len(calls) > n_shared and len(calls) > len(set(calls))
    assert [(c.config, c.score, c.fold_scores, c.n_iter) for c in result.candidates] == [
        (c.config, c.score, c.fold_scores, c.n_iter) for c in result0.candidates]
    _assert_same_fit(mixture, mixture0)


def test_thread_limits_and_the_pass_told_its_threads(rng: np.random.Generator) -> None:
    """``blas_threads(None)`` changes nothing; a fit tells the E-step how many BLAS threads it
    has (one for small problems), and restores the setting after."""
    from threadpoolctl import threadpool_info

    before = [lib["num_threads"] for lib in threadpool_info()]
    with blas_threads(None):
        assert [lib["num_threads"] for lib in threadpool_info()] == before
    with blas_threads(1):
        assert all(lib["num_threads"] == 1 for lib in threadpool_info()
                   if lib["user_api"] == "blas")
    assert [lib["num_threads"] for lib in threadpool_info()] == before
    seen: list[tuple[int, bool]] = []
    original = pruning.pruned_full_sums

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        seen.append((pruning.BLAS_THREADS.get(), pruning.ONE_THREAD.get() is not None))
        return original(*a, **k)

    import mixsynth.core.gaussian_pass as gp

    old = gp.pruned_full_sums
    gp.pruned_full_sums = spy
    try:
        GaussianMixture(3, random_state=0).fit(_data(rng))
    finally:
        gp.pruned_full_sums = old
    assert seen and all(s == (1, True) for s in seen)
    assert pruning.BLAS_THREADS.get() == 1 and pruning.ONE_THREAD.get() is None


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_plusplus_chooses_scikit_learns_centres(
    rng: np.random.Generator, weighted: bool
) -> None:
    """Same indices, same centres (bit for bit) and the random state left where scikit-learn
    leaves it, for several K, on data with ties (repeated rows) too."""
    from sklearn.cluster import kmeans_plusplus

    from mixsynth.gaussian_mixture import kmeans_plusplus_indices

    X = _data(rng, 500)
    X[250:300] = X[0]  # repeated rows: zero distances, ties in the potentials
    w = rng.uniform(0.1, 2.0, X.shape[0]) if weighted else None
    for K, seed in ((1, 0), (2, 1), (7, 2), (60, 3), (200, 4)):
        ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
        c1, i1 = kmeans_plusplus_indices(X, K, ours, w)
        c2, i2 = kmeans_plusplus(X, K, random_state=theirs, sample_weight=w)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_array_equal(c1, c2)
        assert ours.randint(2**31) == theirs.randint(2**31)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++"])
def test_fits_seeded_by_the_fast_kmeans_plusplus_equal_the_reference(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, init_params: str
) -> None:
    """A fit whose k-means (or k-means++ start) is seeded by ``kmeans_plusplus_indices`` equals
    the fit seeded by scikit-learn's own k-means++, exactly (weighted and not, n_init=2)."""
    from sklearn.cluster import kmeans_plusplus

    X = _data(rng, 600)
    w = rng.uniform(0.5, 1.5, X.shape[0])

    def fits() -> list[GaussianMixture]:
        return [GaussianMixture(k, n_init=2, init_params=init_params, random_state=s).fit(
            X, sample_weight=sw) for k, s, sw in ((3, 0, None), (9, 1, w), (25, 2, None))]

    fast = fits()
    monkeypatch.setattr(gm_module, "_KMeansPlusPlus", lambda w: "k-means++")
    monkeypatch.setattr(gm_module, "kmeans_plusplus_indices",
                        lambda X, K, rs, w: kmeans_plusplus(X, K, random_state=rs,
                                                            sample_weight=w))
    for a, b in zip(fast, fits(), strict=True):
        _assert_same_fit(a, b)


def test_heldout_screening_then_every_fold_for_the_short_list(rng: np.random.Generator) -> None:
    """A held-out sweep searches on the first SCREEN_FOLDS folds, then evaluates the SHORTLIST
    best on every fold, each exactly as the full evaluation alone gives it; the winner is the
    best of those, and the screened-out candidates keep their screening scores (abandoned)."""
    from sklearn.base import clone

    from mixsynth.selection.select import SCREEN_FOLDS, SHORTLIST

    X = _data(rng, 300)
    plan = SeedPlan.from_random_state(4)
    w = Whitener(None).fit(X)
    Z = w.transform(X)
    folds, _ = make_folds(X, w, 4, plan)
    grid = candidate_grid([1, 2, 3, 4, 5], "full", [1e-6, 1e-1])
    template = GaussianMixture(tol=1e-4)
    result, mixture = select(grid, HeldOut(folds, Z), estimator=template, seeds=plan)
    assert any("screened" in note for note in result.notes)
    complete = [c for c in result.candidates if not c.abandoned]
    assert len(complete) == SHORTLIST
    first_of_k = {k: i for i, (k, _, _) in reversed(list(enumerate(grid)))}
    screen_scores = {}
    for cand in result.candidates:
        seed = plan.candidate(first_of_k[cand.n_components])
        alone = HeldOut(folds).evaluate(clone(template).set_params(
            n_components=cand.n_components, reg_covar=cand.reg_covar), seed).candidate
        if cand.abandoned:
            assert len(cand.fold_scores) == SCREEN_FOLDS
            assert cand.fold_scores == alone.fold_scores[:SCREEN_FOLDS]
        else:
            assert cand.fold_scores == alone.fold_scores and cand.score == alone.score
        screen_scores[cand.config] = np.mean(cand.fold_scores[:SCREEN_FOLDS])
    # the short list is the best by the screening score, the winner the best of it
    ranked = sorted(screen_scores, key=lambda c: -screen_scores[c])
    assert {c.config for c in complete} == set(ranked[:SHORTLIST])
    assert result.best == max(complete, key=lambda c: c.score)
    assert mixture.n_components == result.best.n_components
    # the one-standard-error rule needs every full score: no screening
    result1, _ = select(grid, HeldOut(folds, Z), estimator=template, seeds=plan, one_se=True)
    assert not any("screened" in note for note in result1.notes)
    assert all(len(c.fold_scores) == 4 for c in result1.candidates if not c.abandoned)


@pytest.mark.parametrize("weighted", [False, True])
def test_initial_scatter_by_sorted_rows_equals_accumulate(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, weighted: bool
) -> None:
    """A k-means start's exact centred scatter by sorted rows equals ``accumulate``'s (the
    reference, tiles over the nonzero responsibilities) to rounding, and so does the fit."""
    from mixsynth.core import accumulate
    from mixsynth.gaussian_mixture import _hard_full_stats

    X = _data(rng, 500) + 50.0  # far from the origin: the centred forms matter
    w = rng.uniform(0.0, 2.0, X.shape[0]) if weighted else None
    labels = rng.integers(0, 6, X.shape[0])  # component 6 of 7 is empty
    R = np.zeros((X.shape[0], 7))
    R[np.arange(X.shape[0]), labels] = 1.0 if w is None else w
    centers = (R.T @ X) / (R.sum(axis=0) + 1e-15)[:, None]
    got, want = _hard_full_stats(X, R, labels, centers), accumulate(X, R, centers, "full")
    for name in ("n", "nk", "sx", "sxx"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12,
                                   atol=1e-12 * np.abs(getattr(want, name)).max())
    fast = GaussianMixture(6, random_state=0, tol=1e-5, max_iter=1000).fit(X, sample_weight=w)
    monkeypatch.setattr(gm_module, "HARD_SCATTER_BYTES", 0)  # the reference: accumulate
    ref = GaussianMixture(6, random_state=0, tol=1e-5, max_iter=1000).fit(X, sample_weight=w)
    assert fast.n_iter_ == ref.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(fast, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-10, err_msg=name)


def test_small_product_passes_hold_blas_to_one_thread(rng: np.random.Generator) -> None:
    """The sparse exact scatter (tight components, too few rows for the pruned pass) runs under
    the one-thread hook when the fit has more threads, and its statistics do not change."""
    from contextlib import nullcontext

    from mixsynth.core import sample_mixture, suffstats
    from mixsynth.core._reference import suffstats_reference
    from tests.test_core import _assert_stats_close, random_params

    held: list[str] = []

    class Hold:
        def __enter__(self) -> None:
            held.append("on")

        def __exit__(self, *exc: object) -> None:
            held.append("off")

    assert isinstance(pruning.one_blas_thread(), nullcontext)  # no hook: nothing to hold
    params = random_params(rng, K=20, d=6, covariance_type="full", spread=40.0)
    X, _ = sample_mixture(params, 300, rng)  # < 100 d rows: no pruned pass; sparse scatter
    t1, t2 = pruning.BLAS_THREADS.set(2), pruning.ONE_THREAD.set(Hold)
    try:
        got = suffstats(X, params)
    finally:
        pruning.ONE_THREAD.reset(t2)
        pruning.BLAS_THREADS.reset(t1)
    assert held and held[0] == "on" and held[-1] == "off"
    _assert_stats_close(got, suffstats_reference(X, params))


@pytest.mark.parametrize("spread", [0.3, 40.0])  # overlapping (dense M-step), separated (sparse)
def test_wide_rows_centred_estep_equals_the_reference(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, spread: float
) -> None:
    """From ``CENTRED_MIN_FEATURES`` features the dense pass's E-step takes the centred
    triangular form (no packed rows); its statistics equal the reference's, whether the M-step
    then packs (overlapping components) or scatters sparsely (separated ones), and the
    triangular product equals the general one."""
    import mixsynth.core.gaussian_pass as gp
    from mixsynth.core import kernels, sample_mixture, suffstats
    from mixsynth.core._reference import suffstats_reference
    from tests.test_core import _assert_stats_close, random_params

    params = random_params(rng, K=5, d=7, covariance_type="full", spread=spread)
    X, _ = sample_mixture(params, 400, rng)  # < 100 d rows: the dense pass, not the pruned
    calls: list[bool] = []
    real = kernels.LogDensity

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, centred_all: bool = False, **kw: object) -> None:
            calls.append(centred_all)
            super().__init__(*args, centred_all=centred_all, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(gp, "LogDensity", Spy)
    monkeypatch.setattr(gp, "CENTRED_MIN_FEATURES", 7)
    monkeypatch.setattr(gp, "_PACKED_BLOCK_BYTES", 1)  # the M-step packs 256-row sub-blocks
    got = suffstats(X, params)
    assert calls == [True]
    _assert_stats_close(got, suffstats_reference(X, params))
    pc = params.precisions_cholesky
    assert np.allclose(np.tril(pc, -1), 0.0)  # the triangular product is the one taken
    general = np.einsum("knd,knd->nk", *(2 * [np.matmul(X[None] - params.means[:, None], pc)]))
    assert_close_at_scale(kernels._mahalanobis_full_centred(X, params.means, pc), general, 1e-12)
