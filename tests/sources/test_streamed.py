"""Out-of-core fitting: every source streams to the in-memory answer, under any chunking."""

from __future__ import annotations

import os
import warnings
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsynth import GaussianMixture, Synthesizer, Whitener, sources
from mixsynth.core import Params, sample_mixture, suffstats
from mixsynth.sources import as_source
from mixsynth.whitening import ColumnMoments

from ..strategies import COV_TYPES, chunkings, random_params

RTOL = 1e-7  # the agreement between in-memory, chunked and distributed fits


def _blobs(rng: np.random.Generator, n: int = 3000, d: int = 3) -> np.ndarray:
    """Three well-separated clusters with random shapes (the answer is not in doubt)."""
    truth = random_params(rng, K=3, d=d, covariance_type="full")
    means = np.zeros((3, d))
    means[1, 0], means[2, 1] = 20.0, 20.0
    truth = Params(np.array([0.3, 0.3, 0.4]), means + rng.normal(size=(3, d)),
                   truth.precisions_cholesky, "full")
    X, _ = sample_mixture(truth, n, rng)
    return X


def assert_same_fit(a: GaussianMixture, b: GaussianMixture, rtol: float = RTOL) -> None:
    scale = float(np.abs(a.means_).max())
    np.testing.assert_allclose(b.weights_, a.weights_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b.means_, a.means_, rtol=rtol, atol=rtol * scale)
    cov_scale = float(np.abs(a.covariances_).max())
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=rtol, atol=rtol * cov_scale)
    np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=rtol)
    assert a.n_iter_ == b.n_iter_


def _write_all(X: np.ndarray, folder) -> dict[str, object]:
    """The same rows as every kind of out-of-core input."""
    np.save(folder / "x.npy", X)
    np.save(folder / "xf.npy", np.asfortranarray(X))
    names = [f"c{j}" for j in range(X.shape[1])]
    pq.write_table(pa.table({n: X[:, j] for j, n in enumerate(names)}), folder / "x.parquet",
                   row_group_size=500)
    np.savetxt(folder / "x.csv", X, delimiter=",", header=",".join(names), comments="",
               fmt="%.17g")
    parts = np.array_split(X, 7)
    return {
        "npy path": str(folder / "x.npy"),
        "fortran npy": folder / "xf.npy",
        "memmap": np.load(folder / "x.npy", mmap_mode="r"),
        "parquet": folder / "x.parquet",
        "csv": folder / "x.csv",
        "list with empty chunks": [X[:700], X[700:700], X[700:]],
        "callable": lambda: iter(parts),
    }


# --------------------------------------------------------------------------- moments


@settings(max_examples=40, deadline=None)
@given(data=st.data(), offset=st.sampled_from([0.0, 1e12, -3e5]),
       scale=st.sampled_from([1.0, 1e-200, 1e200]))
def test_column_moments_merge_under_any_chunking(data, offset, scale):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    n = data.draw(st.integers(2, 80))
    X = offset + scale * (rng.normal(size=(n, 3)) @ rng.normal(size=(3, 3)))
    cuts = [0, *data.draw(chunkings(n)), n]
    merged = sum(ColumnMoments.from_array(X[a:b]) for a, b in pairwise(cuts))
    whole = ColumnMoments.from_array(X)
    assert merged.n_samples == n
    np.testing.assert_array_equal(merged.minimum, X.min(axis=0))
    np.testing.assert_array_equal(merged.maximum, X.max(axis=0))
    spread = scale * 10.0
    np.testing.assert_allclose(merged.data_mean(), whole.data_mean(), rtol=0,
                               atol=1e-12 * spread + 4 * np.finfo(float).eps * abs(offset))
    a, b = merged._whitener_inputs(), whole._whitener_inputs()
    np.testing.assert_array_equal(a[3], b[3])  # the same power-of-two exponents
    np.testing.assert_allclose(a[2].matrix, b[2].matrix, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("scale", ["std", "none"])
def test_whitener_from_streamed_moments_equals_fit(rng, scale):
    X = 1e12 + rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    X[:, 2] = 7.0  # a constant column is set aside exactly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the constant column, said by both fits
        want = Whitener(0.95, scale=scale).fit(X)
        moments = sum(ColumnMoments.from_array(c) for c in np.array_split(X, 9))
        got = Whitener(0.95, scale=scale).fit_from_moments(moments)
    assert got.n_components_ == want.n_components_ and got.n_samples_ == 500
    np.testing.assert_array_equal(got.constant_mask_, want.constant_mask_)
    np.testing.assert_array_equal(got.constant_values_, [7.0])
    np.testing.assert_allclose(got.mean_, want.mean_, rtol=1e-15)
    np.testing.assert_allclose(got.scale_, want.scale_, rtol=1e-12)
    np.testing.assert_allclose(got.explained_variance_, want.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(got.transform(X)), np.abs(want.transform(X)), atol=1e-8)


def test_fit_from_moments_refuses_no_rows():
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        Whitener().fit_from_moments(ColumnMoments.empty(3))


# --------------------------------------------------------------------------- first pass


@settings(max_examples=25, deadline=None)
@given(data=st.data(), weighted=st.booleans())
def test_first_pass_is_the_same_under_any_chunking(data, weighted):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    n = data.draw(st.integers(1, 120))
    X = np.round(rng.normal(scale=3.0, size=(n, 3)), data.draw(st.sampled_from([0, 3])))
    w = rng.uniform(0.0, 2.0, size=n) if weighted else None
    size = data.draw(st.integers(1, 40))
    summaries = []
    for _ in range(2):
        cuts = [0, *data.draw(chunkings(n)), n]
        source = as_source([X[a:b] for a, b in pairwise(cuts)], w, seed=5)
        summaries.append(source.summary(size))
    s1, s2 = summaries
    assert s1.n_samples == s2.n_samples == n
    assert s1.complete == s2.complete == (n <= size)
    np.testing.assert_array_equal(s1.sample, s2.sample)  # keyed by row: chunking-invariant
    np.testing.assert_array_equal(s1.integer_columns, s2.integer_columns)
    np.testing.assert_array_equal(s1.integer_columns, np.all(X == np.round(X), axis=0))
    np.testing.assert_allclose(s1.weighted_mean, np.average(X, axis=0, weights=w), atol=1e-12)
    if s1.complete:
        np.testing.assert_array_equal(s1.sample, X)  # the sample is the data, in order


@settings(max_examples=30, deadline=None)
@given(data=st.data(), covariance_type=st.sampled_from(COV_TYPES))
def test_streamed_statistics_add_up_under_any_chunking(data, covariance_type):
    """The core additivity test, through the sources: any chunking, any E-step budget."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    n = data.draw(st.integers(1, 60))
    params = random_params(rng, K=3, d=3, covariance_type=covariance_type)
    X = rng.normal(scale=3.0, size=(n, 3))
    w = rng.uniform(0.0, 2.0, size=n)
    shift = rng.normal(size=3)
    cuts = [0, *data.draw(chunkings(n)), n]
    source = as_source([X[a:b] for a, b in pairwise(cuts)], w)
    whole = suffstats(X - shift, params, w)
    total = source.stats(params, shift, rows=data.draw(st.integers(1, 25)))
    for name in ("n", "loglik", "nk", "sx", "sxx"):
        np.testing.assert_allclose(
            getattr(total, name), getattr(whole, name), rtol=1e-10, atol=1e-10, err_msg=name
        )


# --------------------------------------------------------------------------- fits


def test_every_source_fits_as_in_memory(rng, tmp_path):
    """Default initialisation: the reservoir sample holds every row, so the start is the same."""
    X = _blobs(rng)
    want = GaussianMixture(3, random_state=0, tol=1e-8, max_iter=300).fit(X)
    for name, data in _write_all(X, tmp_path).items():
        got = GaussianMixture(3, random_state=0, tol=1e-8, max_iter=300, chunk_size=257).fit(data)
        assert_same_fit(want, got)
        np.testing.assert_allclose(got.score(data), want.score(X), rtol=1e-12, err_msg=name)
        if name in ("csv", "parquet"):  # tables name their columns, as a DataFrame does
            assert list(got.feature_names_in_) == ["c0", "c1", "c2"]
        else:
            assert not hasattr(got, "feature_names_in_")


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_partial_sample_with_the_same_start_gives_the_same_fit(rng, monkeypatch, covariance_type):
    """From the same initial parameters a streamed fit is the in-memory fit, whatever the
    sample; from the sample's own k-means start it finds the same clusters."""
    monkeypatch.setattr(sources, "SAMPLE_ROWS", 100)
    X = _blobs(rng)
    w = rng.uniform(0.5, 2.0, size=len(X))
    init = GaussianMixture(3, covariance_type=covariance_type, random_state=1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge, on purpose
        init.fit(X)
    kw = dict(
        covariance_type=covariance_type, tol=1e-8, max_iter=300, weights_init=init.weights_,
        means_init=init.means_, precisions_init=init.precisions_,
    )
    want = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    got = GaussianMixture(3, chunk_size=333, **kw).fit(np.array_split(X, 4), sample_weight=w)
    assert_same_fit(want, got)

    sampled = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        lambda: iter(np.array_split(X, 5))
    )
    free = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    assert sampled.score(X) > free.score(X) - 0.05  # as good a start (diag: local optima differ)


def test_sample_weights_stream(rng):
    X = _blobs(rng, n=1500)
    w = rng.integers(0, 3, size=len(X)).astype(float)
    want = GaussianMixture(3, random_state=2).fit(X, sample_weight=w)
    got = GaussianMixture(3, random_state=2).fit([X[:400], X[400:]], sample_weight=w)
    assert_same_fit(want, got)
    with pytest.raises(ValueError, match="sample_weight has 10 entries"):
        GaussianMixture(2).fit([X[:400], X[400:]], sample_weight=w[:10])


# --------------------------------------------------------------------------- bad inputs


def test_non_finite_value_is_named_by_its_row_in_the_whole_data(rng, tmp_path):
    X = rng.normal(size=(900, 3))
    X[612, 1] = np.nan
    np.save(tmp_path / "bad.npy", X)
    # a file's columns are named as read_data names them (x0, x1, ... for .npy)
    for data, column in ((tmp_path / "bad.npy", r"'x1' \(position 1\)"),
                         ([X[:500], X[500:]], "1")):
        with pytest.raises(ValueError, match=rf"NaN.*column {column}, first at row 612"):
            GaussianMixture(2).fit(data)
    X[612, 1] = np.inf
    np.savetxt(tmp_path / "bad.csv", X, delimiter=",", header="a,b,c", comments="")
    with pytest.raises(ValueError, match=r"inf.*column 'b' \(position 1\), first at row 612"):
        GaussianMixture(2).fit(tmp_path / "bad.csv")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda X, p: iter([X]), TypeError, "read only once"),
        (lambda X, p: [X[:10], X[10:, :2]], ValueError, "every chunk must have the same"),
        (lambda X, p: [X[:0]], ValueError, r"Found array with 0 sample\(s\)"),
        (lambda X, p: p / "missing.npy", FileNotFoundError, "missing.npy"),
        (lambda X, p: p / "x.dat", ValueError, "cannot tell the format"),
        (lambda X, p: np.save(p / "o.npy", np.array([[object()]] * 3)) or p / "o.npy",
         ValueError, "numeric"),
        (lambda X, p: np.save(p / "t.npy", X.reshape(10, 2, 3)) or p / "t.npy",
         ValueError, "dim 3"),
        (lambda X, p: np.save(p / "s.npy", X[:, 0]) or p / "s.npy", ValueError,
         "Reshape your data"),
    ],
    ids=["iterator", "ragged widths", "no rows", "missing", "extension", "object npy",
         "3-D npy", "1-D npy"],
)
def test_bad_out_of_core_inputs(make, error, message, tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3))
    (tmp_path / "x.dat").write_text("1,2,3\n")
    with pytest.raises(error, match=message):
        GaussianMixture(2).fit(make(X, tmp_path))


def test_non_numeric_columns_are_listed(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,c\n1,x,2\n3,y,4\n")
    with pytest.raises(ValueError, match=r"1 non-numeric column\(s\): 'b' \(string\)"):
        GaussianMixture(1).fit(tmp_path / "t.csv")
    pq.write_table(pa.table({"a": [1.0, 2.0], "d": ["u", "v"]}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"1 non-numeric column\(s\): 'd' \(string\)"):
        GaussianMixture(1).fit(tmp_path / "t.parquet")


def test_nullable_parquet_integers_are_missing_values(tmp_path):
    table = pa.table({"a": pa.array([1, None, 3, 4], type=pa.int64()), "b": [1.0, 2, 3, 4]})
    pq.write_table(table, tmp_path / "na.parquet")
    with pytest.raises(ValueError, match=r"NaN.*column 'a' \(position 0\), first at row 1"):
        GaussianMixture(1).fit(tmp_path / "na.parquet")


def test_data_that_changes_between_passes_is_refused(rng):
    X = rng.normal(size=(300, 2))
    calls = []

    def chunks():
        calls.append(1)
        return iter([X] if len(calls) < 3 else [X[:100]])

    with pytest.raises(RuntimeError, match="changed between passes"):
        GaussianMixture(1).fit(chunks)


def test_memory_mapped_pages_are_dropped_after_use(tmp_path, rng):
    np.save(tmp_path / "x.npy", rng.normal(size=(4096, 8)))
    X = np.load(tmp_path / "x.npy", mmap_mode="r")
    dropper = sources.files._PageDropper(X)
    if dropper._mm is None:
        pytest.skip("madvise is not available here")
    dropper.drop(X[1000:2000])  # no error, and the data still reads the same afterwards
    np.testing.assert_array_equal(X[1000:2000], np.load(tmp_path / "x.npy")[1000:2000])


# --------------------------------------------------------------------------- synthesizer


def test_synthesizer_loads_small_files_and_fits_them_as_arrays(rng, tmp_path):
    X = np.c_[_blobs(rng, n=600), rng.integers(0, 5, size=600)]
    np.save(tmp_path / "x.npy", X)
    kw = dict(n_components=[2, 3], reg_covar=1e-6, random_state=3, guard=False)
    want = Synthesizer(**kw).fit(X)
    got = Synthesizer(**kw).fit(tmp_path / "x.npy")
    assert got.selection_.best.config == want.selection_.best.config
    np.testing.assert_array_equal(got.selection_.scores, want.selection_.scores)
    np.testing.assert_array_equal(got.sample(50, random_state=1), want.sample(50, random_state=1))


def test_synthesizer_streams_large_data(rng, tmp_path, monkeypatch):
    monkeypatch.setattr(sources.storage, "IN_MEMORY_BYTES", 0)  # everything counts as large
    X = np.c_[_blobs(rng, n=1500), rng.integers(0, 5, size=1500)]
    np.save(tmp_path / "x.npy", X)
    synth = Synthesizer(n_components=[1, 3, 5], reg_covar=1e-6, random_state=0).fit(
        tmp_path / "x.npy"
    )
    sel = synth.selection_
    assert sel.criterion == "bic" and any("BIC" in note for note in sel.notes)
    # observed bounds (continuous ones widened by a margin, as in memory)
    in_memory = Synthesizer(n_components=1, guard=False).fit(X)
    np.testing.assert_array_equal(synth.lower_bounds_, in_memory.lower_bounds_)
    assert synth.lower_bounds_[3] == X[:, 3].min()
    np.testing.assert_array_equal(synth.integer_columns_, [False, False, False, True])
    rows = synth.sample(500, random_state=0)
    assert np.all(rows[:, 3] == np.round(rows[:, 3]))
    assert np.all((rows >= synth.lower_bounds_) & (rows <= synth.upper_bounds_))
    assert synth.memorization_ is None
    # as good a model as the same selection in memory (dequantisation noise differs)
    memory = Synthesizer(n_components=[1, 3, 5], reg_covar=1e-6, criterion="bic",
                         random_state=0, guard=False).fit(X)
    assert synth.score(X) > memory.score(X) - 0.1
    with pytest.raises(ValueError, match="needs the data in memory"):
        Synthesizer().fit(tmp_path / "x.npy", y=np.zeros(1500))


def test_source_paths_are_accepted_as_path_like(tmp_path, rng):
    np.save(tmp_path / "x.npy", rng.normal(size=(50, 2)))
    gm = GaussianMixture(1).fit(os.fspath(tmp_path / "x.npy"))
    assert gm.n_features_in_ == 2


def test_streaming_does_not_load_dask():
    """The embedded default stays light: dask and distributed only for dask input."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, mixsynth.synthesizer, mixsynth.gaussian_mixture\n"
        "from mixsynth import GaussianMixture\n"
        "GaussianMixture(1).fit([np.arange(20.0).reshape(10, 2)])\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    for heavy in ("dask", "distributed"):
        assert heavy not in out, heavy
