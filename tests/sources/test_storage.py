"""The one storage policy: memory budget → in memory or streamed, for the API and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from mixsynth import sources
from mixsynth.io.formats import open_table
from mixsynth.sources import ArraySource, StoragePolicy, as_source, file_source


@pytest.fixture
def npy(tmp_path, rng):
    X = rng.normal(size=(600, 3))  # 14 400 bytes as float64
    np.save(tmp_path / "x.npy", X)
    return X, tmp_path / "x.npy"


def test_data_within_the_budget_is_loaded(npy):
    X, path = npy
    loaded = StoragePolicy(memory_budget=20_000).resolve(as_source(path))
    assert isinstance(loaded, ArraySource) and loaded.in_memory
    np.testing.assert_array_equal(loaded.X, X)


def test_data_above_the_budget_is_streamed(npy):
    _, path = npy
    source = as_source(path)
    assert StoragePolicy(memory_budget=10_000).resolve(source) is source


@pytest.mark.parametrize(("out_of_core", "streams"), [(True, True), (False, False)])
def test_out_of_core_forces_either_way(npy, out_of_core, streams):
    _, path = npy
    for budget in (0, 10**9):
        policy = StoragePolicy(memory_budget=budget, out_of_core=out_of_core)
        assert policy.streams(as_source(path)) is streams


def test_the_default_budget_is_read_when_deciding(npy, monkeypatch):
    _, path = npy
    assert not StoragePolicy().streams(as_source(path))
    monkeypatch.setattr(sources.storage, "IN_MEMORY_BYTES", 0)
    assert StoragePolicy().streams(as_source(path))


def test_in_memory_sources_are_never_streamed(rng):
    source = as_source(rng.normal(size=(50, 2)))
    policy = StoragePolicy(memory_budget=0, out_of_core=True)
    assert not policy.streams(source) and policy.resolve(source) is source


def test_loading_releases_the_streamed_source_and_keeps_weights(npy, monkeypatch):
    X, path = npy
    w = np.linspace(0.5, 2.0, len(X))
    source = as_source(path, w)
    released = []
    monkeypatch.setattr(source, "release", lambda: released.append(True))
    loaded = StoragePolicy(out_of_core=False).resolve(source)
    assert released == [True]
    np.testing.assert_array_equal(loaded.sample_weight, w)


def test_csv_size_is_the_estimate_the_cli_prints(tmp_path, rng):
    """A CSV has no row count: API and CLI both estimate its size from the first lines."""
    X = rng.normal(size=(300, 4))
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header="a,b,c,d", comments="")
    source = file_source(tmp_path / "x.csv")
    expected = open_table(tmp_path / "x.csv").estimated_nbytes()
    assert StoragePolicy().nbytes(source) == expected
    assert not source._summaries  # decided without a pass over the file
