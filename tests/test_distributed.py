"""Dask: threads scheduler and a real LocalCluster give the in-memory answer; Ctrl-C is clean."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed")
import dask
import dask.array as da
import dask.dataframe as dd
import pandas as pd

from mixsynth import GaussianMixture, Synthesizer, sources
from mixsynth.distributed import cluster, current_client, sample_dask
from mixsynth.selection import ClusterRunner
from mixsynth.sources import DaskSource

from .sources.test_streamed import _blobs, assert_same_fit

FIT = dict(n_components=3, random_state=0, tol=1e-8, max_iter=300)


def _odd_chunks(X: np.ndarray) -> da.Array:
    """Row blocks of uneven sizes, a zero-row block among them, columns split in two."""
    n = X.shape[0]
    return da.from_array(X, chunks=((700, 0, n - 1500, 800), (2, X.shape[1] - 2)))


def _scheduler_tasks(client) -> int:
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _wait_until(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_threads_scheduler_equals_in_memory(rng):
    assert current_client() is None
    X = _blobs(rng)
    want = GaussianMixture(**FIT).fit(X)
    got = GaussianMixture(**FIT).fit(_odd_chunks(X))
    assert_same_fit(want, got)
    np.testing.assert_allclose(got.score(_odd_chunks(X)), want.score(X), rtol=1e-12)


def test_dataframe_with_unknown_chunk_sizes(rng):
    X = _blobs(rng, n=2000)
    df = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=5)
    assert np.isnan(df.to_dask_array().chunks[0][0])  # sizes unknown until computed
    want = GaussianMixture(**FIT).fit(X)
    got = GaussianMixture(**FIT).fit(df)
    assert_same_fit(want, got)
    assert list(got.feature_names_in_) == ["a", "b", "c"]


def test_distributed_equals_in_memory_chunked_and_threads(rng, dask_client):
    """The four executors agree from the same initialisation."""
    X = _blobs(rng)
    w = rng.uniform(0.5, 2.0, size=len(X))
    want = GaussianMixture(**FIT).fit(X, sample_weight=w)
    chunked = GaussianMixture(**FIT, chunk_size=100).fit(np.array_split(X, 6), sample_weight=w)
    threads = GaussianMixture(**FIT).fit(_odd_chunks(X), sample_weight=w)
    with dask_client.as_current():
        assert current_client() is dask_client
        distributed = GaussianMixture(**FIT, chunk_size=300).fit(_odd_chunks(X), sample_weight=w)
    for got in (chunked, threads, distributed):
        assert_same_fit(want, got)
    # whatever the fit persisted on the workers is released
    assert _wait_until(lambda: _scheduler_tasks(dask_client) == 0)


def test_partial_sample_on_the_cluster_finds_the_clusters(rng, dask_client, monkeypatch):
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 150)
    X = _blobs(rng)
    with dask_client.as_current():
        got = GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=500))
    want = GaussianMixture(3, random_state=0).fit(X)
    assert got.score(X) > want.score(X) - 0.05


@pytest.mark.parametrize("as_dask", [True, False], ids=["dask input", "array input"])
def test_synthesizer_candidates_run_as_cluster_tasks(rng, dask_client, monkeypatch, as_dask):
    """Small data (a dask array is loaded): each candidate of the sweep is a task on the
    current client's cluster, with the results of a local sweep."""
    X = _blobs(rng, n=800)
    # held-out: one task per candidate (realism, the default, screens and then evaluates a
    # short list again, so a configuration may be submitted twice)
    kw = dict(n_components=[1, 2, 3, 4], reg_covar=1e-6, criterion="heldout", random_state=4,
              guard=False)
    want = Synthesizer(**kw).fit(X)
    submitted = []
    real_run = ClusterRunner.run

    def spy(self, tasks):
        submitted.extend(t.config for t in tasks)
        return real_run(self, tasks)

    monkeypatch.setattr(ClusterRunner, "run", spy)
    with dask_client.as_current():
        got = Synthesizer(**kw).fit(da.from_array(X, chunks=300) if as_dask else X)
    assert sorted(submitted) == sorted(c.config for c in want.selection_.candidates)
    assert got.selection_.best.config == want.selection_.best.config
    np.testing.assert_allclose(got.selection_.scores, want.selection_.scores, rtol=1e-12)
    np.testing.assert_array_equal(got.sample(20, random_state=0), want.sample(20, random_state=0))
    assert _wait_until(lambda: _scheduler_tasks(dask_client) == 0)


def test_synthesizer_streams_large_dask_data_on_the_cluster(rng, dask_client, monkeypatch):
    monkeypatch.setattr(sources.storage, "IN_MEMORY_BYTES", 0)
    X = np.c_[_blobs(rng, n=1200), rng.integers(0, 4, size=1200)]
    with dask_client.as_current():
        synth = Synthesizer(n_components=[2, 3], reg_covar=1e-6, random_state=0).fit(
            da.from_array(X, chunks=400)
        )
    assert synth.selection_.criterion == "bic"
    assert any("dask" in note for note in synth.selection_.notes)
    # the same streamed fit in this process (the same blocks, the same row-keyed noise and
    # reservoir sample): the same model, whichever local optimum the seed leads to
    local = Synthesizer(n_components=[2, 3], reg_covar=1e-6, random_state=0).fit(
        [X[:400], X[400:800], X[800:]], out_of_core=True
    )
    assert synth.selection_.best.config == local.selection_.best.config
    np.testing.assert_allclose(synth.score(X), local.score(X), rtol=1e-7)
    rows = synth.sample(100, random_state=1)
    assert np.all(rows[:, 3] == np.round(rows[:, 3]))
    assert _wait_until(lambda: _scheduler_tasks(dask_client) == 0)


def test_sample_dask_equals_iter_sample(rng):
    synth = Synthesizer(n_components=2, criterion="bic", random_state=0, guard=False).fit(
        _blobs(rng, n=400)
    )
    lazy = sample_dask(synth, 1000, chunk_size=300, random_state=7)
    assert lazy.chunks[0] == (300, 300, 300, 100)
    eager = np.concatenate(list(synth.iter_sample(1000, 7, chunk_size=300)))
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), eager)
    assert sample_dask(synth, 0, random_state=1).compute(scheduler="threads").shape == (0, 3)


def test_bad_dask_inputs(rng):
    X = rng.normal(size=(600, 3))
    X[433, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*column 2, first at row 433"):
        GaussianMixture(2).fit(da.from_array(X, chunks=200))
    with pytest.raises(ValueError, match="Reshape your data"):
        GaussianMixture(2).fit(da.ones(10, chunks=5))
    with pytest.raises(ValueError, match="Complex data"):
        GaussianMixture(2).fit(da.ones((10, 2), dtype=complex))
    df = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": ["x", "y", "z"]}), 1)
    with pytest.raises(ValueError, match=r"Non-numeric columns \['s'\]"):
        GaussianMixture(1).fit(df)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        GaussianMixture(1).fit(da.ones((0, 2), chunks=1))


def test_cluster_without_workers_or_address_opens_nothing():
    with cluster() as client:
        assert client is None
    with pytest.raises(ValueError, match="not both"), cluster(2, "tcp://127.0.0.1:1"):
        pass


def _interrupt_on_call(monkeypatch, n: int) -> list[int]:
    """Make the n-th pass of every DaskSource raise KeyboardInterrupt, as Ctrl-C would."""
    calls: list[int] = []
    real = DaskSource.stats

    def stats(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DaskSource, "stats", stats)
    return calls


def test_ctrl_c_in_a_distributed_fit_releases_what_it_persisted(rng, dask_client, monkeypatch):
    _interrupt_on_call(monkeypatch, 2)  # the second EM iteration: there always is one
    X = _blobs(rng, n=1500)
    with dask_client.as_current(), pytest.raises(KeyboardInterrupt):
        GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=400))
    assert _wait_until(lambda: _scheduler_tasks(dask_client) == 0)
    assert len(dask_client.scheduler_info()["workers"]) == 2  # the shared cluster is intact


def test_ctrl_c_closes_the_cluster_it_opened(rng, tmp_path, monkeypatch):
    """The command line's shape: open a cluster, fit, save. Ctrl-C in the EM loop closes the
    cluster, leaves no worker process behind and writes no model file."""
    from mixsynth.persistence import save

    _interrupt_on_call(monkeypatch, 2)
    X = _blobs(rng, n=1200)
    target = tmp_path / "model.mixsynth"
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), cluster(workers=2) as client:
        pids.extend(client.run(os.getpid).values())
        gm = GaussianMixture(3, random_state=0).fit(da.from_array(X, chunks=300))
        save(gm, target)
    assert current_client() is None
    assert len(pids) == 2

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert _wait_until(lambda: all(gone(p) for p in pids))
    assert list(tmp_path.iterdir()) == []  # no model file, no temporary file


def test_threads_scheduler_is_used_without_a_client(rng):
    X = _blobs(rng, n=900)
    seen = []
    real = DaskSource._compute

    def compute(self, obj):
        seen.append(self._client)
        return real(self, obj)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        source = DaskSource(da.from_array(X, chunks=300))
        source._compute = compute.__get__(source)  # type: ignore[method-assign]
        GaussianMixture(3, random_state=0).fit(source)
    assert seen and all(c is None for c in seen)
    assert dask.config.get("scheduler", None) is None
