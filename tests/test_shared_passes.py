"""Shared passes: several EM runs (restarts, the candidates of a sweep) served by one pass.

Each run must end exactly where it ends alone (same seeds, same M-step, same convergence rule),
and the passes must number about 1 + the longest run, not the sum over the runs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mixsynth import GaussianMixture, sources
from mixsynth.core import m_step, run_em, run_em_lockstep, suffstats
from mixsynth.gaussian_mixture import fit_on_source, score_on_source
from mixsynth.seeding import SeedPlan
from mixsynth.selection import Candidate, InformationCriterion, candidate_grid, select
from mixsynth.sources import as_source

from .sources.test_streamed import _blobs
from .strategies import random_params

SWEEP = dict(tol=1e-4, max_iter=200, n_init=1, init_params="kmeans")


class Counting:
    """A chunk factory (a callable source) that counts its passes."""

    def __init__(self, X: np.ndarray, n_chunks: int = 5) -> None:
        self.parts = np.array_split(X, n_chunks)
        self.passes = 0

    def __call__(self):
        self.passes += 1
        return iter(self.parts)


def _close(a: float | np.ndarray, b: float | np.ndarray, rtol: float = 1e-10) -> None:
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.max(np.abs(b))))


# --------------------------------------------------------------------------- the EM loop


def test_lockstep_runs_follow_their_lone_trajectories(rng):
    X = _blobs(rng, n=600)
    starts = [
        random_params(rng, K, 3, cov) for K, cov in [(2, "full"), (3, "diag"), (4, "tied"),
                                                      (3, "spherical"), (3, "full")]
    ]
    regs, iters = [1e-6, 1e-3, 1e-6, 1e-2, 1e-6], [50, 50, 3, 50, 0]
    alone = [
        run_em(lambda p: suffstats(X, p), p0, reg_covar=r, tol=1e-5, max_iter=m)
        for p0, r, m in zip(starts, regs, iters, strict=True)
    ]
    calls: list[list[int]] = []

    def stats_fn(active, params):
        calls.append(list(active))
        return [suffstats(X, p) for p in params]

    seen: list[tuple[int, int]] = []
    together = run_em_lockstep(
        stats_fn, starts, reg_covar=regs, tol=1e-5, max_iter=iters,
        on_iter=lambda i, info: seen.append((i, info.n_iter)),
    )
    for a, b in zip(alone, together, strict=True):
        assert (a.n_iter, a.converged, a.lower_bounds) == (b.n_iter, b.converged, b.lower_bounds)
        assert a.lower_bound == b.lower_bound
        np.testing.assert_array_equal(a.params.means, b.params.means)
        np.testing.assert_array_equal(a.params.precisions_cholesky, b.params.precisions_cholesky)
    # one pass per iteration of the longest run; a finished run leaves the later passes
    assert len(calls) == max(r.n_iter for r in alone)
    for i, r in enumerate(alone):
        assert sum(i in active for active in calls) == r.n_iter
        assert [n for j, n in seen if j == i] == list(range(1, r.n_iter + 1))
    assert together[4].n_iter == 0 and together[4].params is starts[4]  # max_iter=0: untouched
    assert together[2].n_iter == 3 and not together[2].converged


def test_lockstep_checks_what_it_is_given(rng):
    p = random_params(rng, 2, 2, "diag")
    X = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="one value per run"):
        run_em_lockstep(lambda a, ps: [suffstats(X, q) for q in ps], [p, p], reg_covar=[1e-6],
                        tol=1e-3, max_iter=5)
    with pytest.raises(ValueError, match="returned 1 statistics for 2 runs"):
        run_em_lockstep(lambda a, ps: [suffstats(X, ps[0])], [p, p], reg_covar=1e-6,
                        tol=1e-3, max_iter=5)
    assert m_step(suffstats(X, p), 1e-6).means.shape == (2, 2)


# --------------------------------------------------------------------------- one pass, many sets


@pytest.mark.parametrize("weighted", [False, True])
def test_one_pass_gives_every_set_its_own_statistics(rng, weighted):
    X = _blobs(rng, n=900)
    w = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    counting = Counting(X, n_chunks=4)
    source = as_source(counting, w)
    params = [random_params(rng, K, 3, cov) for K, cov in
              [(2, "full"), (3, "full"), (3, "diag"), (2, "tied"), (4, "spherical")]]
    shifts = [X.mean(axis=0)] * 3 + [np.zeros(3), X[0]]
    rows = [64, 64, 100, 37, 500]  # two full sets share their cuts (and packed products)
    counting.passes = 0
    many = source.stats_many(params, shifts, rows)
    assert counting.passes == 1
    for p, s, r, got in zip(params, shifts, rows, many, strict=True):
        want = source.stats(p, s, r)
        assert got.covariance_type == p.covariance_type
        for name in ("nk", "sx", "sxx"):
            _close(getattr(got, name), getattr(want, name), 1e-12)
        _close(got.loglik, want.loglik, 1e-12)
        _close(got.n, want.n, 1e-12)
    counting.passes = 0
    lls = source.loglik_many(params, rows)
    centers = [p.means for p in params]
    labels = source.label_stats_many(centers, shifts, [p.covariance_type for p in params], rows)
    assert counting.passes == 2
    for p, s, r, c, ll, lab in zip(params, shifts, rows, centers, lls, labels, strict=True):
        _close(np.array(ll), np.array(source.loglik(p, r)), 1e-12)
        want = source.label_stats(c, s, p.covariance_type, r)
        _close(lab.nk, want.nk, 1e-12)
        _close(lab.sxx, want.sxx, 1e-12)
    with pytest.raises(ValueError, match="one rows per parameter set"):
        source.stats_many(params, shifts, rows[:2])


# --------------------------------------------------------------------------- fits


# The pass counts hold whether or not a restart reaches tol within max_iter (random starts on
# some seeds crawl past 300 iterations: seed 536246707 in CI), so convergence is not asked for.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_restarts_on_a_source_share_passes(rng):
    """n_init restarts streamed together: the restarts one by one, in 1 + (longest) passes."""
    X = _blobs(rng, n=1500)
    kw = dict(n_components=3, tol=1e-6, max_iter=300, init_params="random", chunk_size=200)
    counting = Counting(X)
    got = GaussianMixture(n_init=3, random_state=0, **kw).fit(counting)
    shared_passes = counting.passes
    # the three restarts one by one: one RandomState, consumed as n_init=3 consumes it
    state = np.random.RandomState(0)
    counting.passes = 0
    runs = [GaussianMixture(random_state=state, **kw).fit(counting) for _ in range(3)]
    best = max(runs, key=lambda r: r.lower_bound_)  # the first of equals, as fit keeps it
    _close(got.lower_bound_, best.lower_bound_)
    _close(got.means_, best.means_)
    assert got.n_iter_ == best.n_iter_
    assert got.lower_bounds_ == best.lower_bounds_  # the same cuts: the same sums, exactly
    # the sample is the data (no pass of hard assignments): the first pass, then one pass per
    # iteration of the longest restart, against one pass per iteration of every restart
    assert shared_passes == 1 + max(r.n_iter_ for r in runs)
    assert counting.passes == 3 + sum(r.n_iter_ for r in runs)
    # and the in-memory fit finds the same optimum
    want = GaussianMixture(n_init=3, random_state=0, **kw).fit(X)
    _close(got.lower_bound_, want.lower_bound_, 1e-9)


def test_estimators_fitted_together_equal_each_alone(rng, monkeypatch):
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 200)  # k-means on a sample, then a full pass
    X = _blobs(rng, n=2000)
    counting = Counting(X)
    source = as_source(counting)
    source.summary(200)
    settings = [
        dict(n_components=1, covariance_type="full", chunk_size=300),
        dict(n_components=2, covariance_type="diag", chunk_size=170),
        dict(n_components=3, covariance_type="full", chunk_size=300),
        dict(n_components=4, covariance_type="spherical", reg_covar=1e-3),
        dict(n_components=3, covariance_type="tied", init_params="random_from_data"),
    ]

    def make() -> list[GaussianMixture]:
        return [GaussianMixture(random_state=i, tol=1e-5, max_iter=300, **s)
                for i, s in enumerate(settings)]

    together = make()
    counting.passes = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_on_source(together, source)
    shared_passes = counting.passes
    counting.passes = 0
    alone = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gm in alone:
            gm.fit(source)
    for a, b in zip(alone, together, strict=True):
        _close(b.lower_bound_, a.lower_bound_)
        _close(b.means_, a.means_)
        _close(b.covariances_, a.covariances_)
        assert (a.n_iter_, a.converged_) == (b.n_iter_, b.converged_)
    # one pass of hard assignments for the four k-means starts, then the longest run
    assert shared_passes == 1 + max(a.n_iter_ for a in alone)
    assert counting.passes == 4 + sum(a.n_iter_ for a in alone)
    counting.passes = 0
    scores = score_on_source(together, source)
    assert counting.passes == 1
    _close(np.array(scores), np.array([a.score(X) for a in alone]), 1e-12)


# --------------------------------------------------------------------------- sweeps


def _sweep(Z, *, share: bool, grid=None, **kw):
    grid = grid or candidate_grid([1, 2, 3, 4, 5], ["full", "diag"], 1e-6)
    return select(grid, InformationCriterion("bic", Z), estimator=GaussianMixture(**SWEEP),
                  seeds=SeedPlan.from_random_state(7), share_passes=share, **kw)


class _Store:
    """A store in memory: what a checkpoint holds, and what the sweep recorded."""

    def __init__(self, known):
        self._known = dict(known)
        self.recorded: list[Candidate] = []

    def known(self):
        return self._known

    def record(self, candidate):
        self.recorded.append(candidate)


def _same_sweep(a, b, rtol: float = 1e-10) -> None:
    assert [c.config for c in a[0].candidates] == [c.config for c in b[0].candidates]
    assert [c.n_iter for c in a[0].candidates] == [c.n_iter for c in b[0].candidates]
    _close(a[0].scores, b[0].scores, rtol)
    assert a[0].best_index == b[0].best_index
    _close(a[1].lower_bound_, b[1].lower_bound_, rtol)
    _close(a[1].means_, b[1].means_, rtol)


def test_a_sweep_on_a_source_shares_its_passes(rng, monkeypatch):
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 250)
    X = _blobs(rng, n=2500)
    counting = Counting(X)
    source = as_source(counting)
    source.summary(250)
    progress: list[tuple[int, int]] = []
    counting.passes = 0
    shared = _sweep(source, share=True, progress=lambda d, t, c: progress.append((d, t)))
    shared_passes = counting.passes
    counting.passes = 0
    alone = _sweep(source, share=False)
    _same_sweep(shared, alone)
    iters = [c.n_iter for c in alone[0].candidates]
    # both groups (full, diag) in one batch: 1 pass of hard assignments + the longest run + 1
    # to score them all, against 1 + n_iter + 1 passes per candidate one by one
    assert shared_passes == 1 + max(iters) + 1
    assert counting.passes == sum(n + 2 for n in iters)
    assert [d for d, _ in progress] == list(range(1, 11))


def test_coarse_to_fine_sweep_with_a_checkpoint_shares_passes(rng, monkeypatch):
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 250)
    X = _blobs(rng, n=1500)
    counting = Counting(X)
    source = as_source(counting)
    grid = candidate_grid(list(range(1, 13)), ["spherical", "diag"], [1e-6, 1e-3])
    source.summary(250)
    counting.passes = 0
    full = _sweep(source, share=True, grid=grid)
    shared_passes, counting.passes = counting.passes, 0
    alone = _sweep(source, share=False, grid=grid)
    _same_sweep(full, alone)
    # the four groups advance together: the passes grow with the longest run of each round
    # (coarse, then fine: at most three runs' worth with the winner's), not with the number of
    # candidates, which one by one cost 2 + n_iter passes each (a ratio to that sum is
    # seed-dependent: one slow candidate among fast ones makes it small)
    iters = [c.n_iter for c in alone[0].candidates]
    assert counting.passes == sum(n + 2 for n in iters)
    assert shared_passes <= 3 * (max(iters) + 2) < counting.passes
    assert any("coarse-to-fine" in n for n in full[0].notes)
    # resume: the first three candidates come from a checkpoint, the others are fitted
    store = _Store({c.config: c for c in full[0].candidates[:3]})
    counting.passes = 0
    resumed = _sweep(source, share=True, grid=grid, store=store)
    assert {c.config for c in store.recorded} == {c.config for c in full[0].candidates[3:]}
    assert resumed[0].best.config == full[0].best.config
    _close(resumed[0].scores, full[0].scores)
    assert counting.passes > 0


def test_dask_sweep_shares_passes_and_equals_in_process(rng, dask_client, monkeypatch):
    pytest.importorskip("distributed")
    import dask.array as da

    from mixsynth.sources import DaskSource

    monkeypatch.setattr(sources, "SAMPLE_ROWS", 250)
    X = _blobs(rng, n=2000)
    w = rng.uniform(0.5, 2.0, size=len(X))
    in_process = _sweep(as_source([X[:700], X[700:]], w), share=True)
    graphs = []
    real = DaskSource._compute

    def spy(self, obj):
        graphs.append(obj)
        return real(self, obj)

    monkeypatch.setattr(DaskSource, "_compute", spy)
    with dask_client.as_current():
        source = DaskSource(da.from_array(X, chunks=((600, 0, 900, 500), (3,))), w)
        try:
            source.summary(250)
            graphs.clear()
            on_cluster = _sweep(source, share=True)
        finally:
            source.release()
    _same_sweep(on_cluster, in_process, rtol=1e-7)
    # one graph per pass: hard assignments, every EM iteration, scoring
    assert len(graphs) == 1 + max(c.n_iter for c in in_process[0].candidates) + 1
