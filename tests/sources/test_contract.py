"""The Source contract, run against every kind of source: the same data gives the same summary,
the same per-kernel pass results, an idempotent ``release``, and ``subset`` exactly where the
rows are held in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.core import Params
from mixsynth.sources import (
    ArraySource,
    LogLikKernel,
    Source,
    StatsKernel,
    as_source,
)
from tests.tolerance import assert_close_at_scale

from ..strategies import random_params

NAMES = ["c0", "c1", "c2"]
#: Kinds whose columns have names (as a DataFrame's).
NAMED = {"DataFrame", "parquet", "csv"}
KINDS = [
    "ndarray", "DataFrame", "memmap", "npy", "parquet", "csv", "list of chunks",
    "callable", "dask array",
]


def _data(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, 3)) * [1.0, 50.0, 3.0] + [0.0, 1e4, 0.0]
    X[:, 2] = np.round(X[:, 2])  # a column of whole numbers
    return X


def _make(kind: str, X: np.ndarray, w: np.ndarray | None, folder: Path) -> Source:
    if kind == "ndarray":
        return as_source(X, w)
    if kind == "DataFrame":
        return as_source(pd.DataFrame(X, columns=NAMES), w)
    if kind in ("memmap", "npy"):
        np.save(folder / "x.npy", X)
        data: Any = np.load(folder / "x.npy", mmap_mode="r") if kind == "memmap" else (
            folder / "x.npy"
        )
        return as_source(data, w)
    if kind == "parquet":
        table = pa.table({n: X[:, j] for j, n in enumerate(NAMES)})
        pq.write_table(table, folder / "x.parquet", row_group_size=128)
        return as_source(folder / "x.parquet", w)
    if kind == "csv":
        np.savetxt(folder / "x.csv", X, delimiter=",", header=",".join(NAMES), comments="",
                   fmt="%.17g")
        return as_source(folder / "x.csv", w)
    if kind == "list of chunks":
        return as_source([X[:100], X[100:100], X[100:450], X[450:]], w)
    if kind == "callable":
        parts = np.array_split(X, 7)
        return as_source(lambda: iter(parts), w)
    if kind == "dask array":
        da = pytest.importorskip("dask.array")
        return as_source(da.from_array(X, chunks=((250, 0, 350), (3,))), w)
    raise AssertionError(kind)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[False, True], ids=["unweighted", "weighted"])
def weights(request: pytest.FixtureRequest, seed: int) -> np.ndarray | None:
    if not request.param:
        return None
    return np.random.default_rng(seed + 1).uniform(0.0, 3.0, size=600)


class TestSourceContract:
    """What every source promises (data of 600 rows, well below the reservoir size)."""

    def test_summary(self, kind, weights, seed, tmp_path):
        X = _data(seed)
        s = _make(kind, X, weights, tmp_path).summary(1000)
        assert (s.n_samples, s.n_features) == X.shape
        assert s.complete  # at most sample_size rows: the sample is the data, in row order
        np.testing.assert_array_equal(s.sample, X)
        if weights is None:
            assert s.sample_weight is None and s.weight_sum == 600
        else:
            np.testing.assert_array_equal(s.sample_weight, weights)
            np.testing.assert_allclose(s.weight_sum, weights.sum(), rtol=1e-13)
        want = np.average(X, axis=0, weights=weights)
        # rounding of the column sums: relative to the column's size, not to a mean near 0
        np.testing.assert_allclose(s.weighted_mean, want, rtol=1e-12,
                                   atol=1e-13 * np.abs(X).max())
        assert s.moments is not None and s.moments.n_samples == 600
        np.testing.assert_array_equal(s.moments.minimum, X.min(axis=0))
        np.testing.assert_array_equal(s.moments.maximum, X.max(axis=0))
        assert_close_at_scale(s.moments.covariance(), np.cov(X.T), 1e-10)
        np.testing.assert_array_equal(s.integer_columns, [False, False, True])

    def test_feature_names(self, kind, seed, tmp_path):
        source = _make(kind, _data(seed), None, tmp_path)
        source.summary(1000)
        if kind in NAMED:
            assert list(source.feature_names) == NAMES
        else:
            assert source.feature_names is None

    @pytest.mark.parametrize("covariance_type", ["full", "diag"])
    def test_run_pass(self, kind, weights, covariance_type, seed, tmp_path):
        """A stats kernel and a log-likelihood kernel in one pass: the results of the
        in-memory source, whatever the chunking (rows of 97: cuts across every chunk)."""
        X = _data(seed)
        shift = X.mean(axis=0)
        p = random_params(np.random.default_rng(seed), K=3, d=3, covariance_type=covariance_type)
        params = Params(p.weights, p.means * [1.0, 50.0, 3.0], p.precisions_cholesky,
                        covariance_type)
        kernels = [StatsKernel(params, shift, 97), LogLikKernel(params, 97)]
        want = ArraySource(X, weights).run_pass(kernels)
        stats, ll = _make(kind, X, weights, tmp_path).run_pass(kernels)
        for name in ("n", "nk", "sx", "sxx"):
            np.testing.assert_allclose(getattr(stats, name), getattr(want[0], name),
                                       rtol=1e-10, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(stats.loglik, want[0].loglik, rtol=1e-12)
        np.testing.assert_allclose([ll.loglik, ll.weight], [want[1].loglik, want[1].weight],
                                   rtol=1e-12)

    def test_release_is_idempotent(self, kind, seed, tmp_path):
        source = _make(kind, _data(seed), None, tmp_path)
        source.summary(1000)
        source.release()
        source.release()

    def test_subset_only_in_memory(self, kind, weights, seed, tmp_path):
        X = _data(seed)
        source = _make(kind, X, weights, tmp_path)
        rows = np.arange(0, 600, 3)
        if not source.in_memory:
            with pytest.raises(TypeError, match="held-out folds need the rows in memory"):
                source.subset(rows)
            return
        part = source.subset(rows)
        assert part.in_memory
        s = part.summary(1000)
        np.testing.assert_array_equal(s.sample, X[rows])
        if weights is not None:
            np.testing.assert_array_equal(s.sample_weight, weights[rows])
        assert part.feature_names is source.feature_names
