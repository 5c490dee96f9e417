"""mixsynth.GaussianMixture as a drop-in for sklearn.mixture.GaussianMixture."""

from __future__ import annotations

import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixsynth import GaussianMixture
from tests.tolerance import assert_close_at_scale

from .strategies import COV_TYPES


@pytest.fixture(scope="module")
def digits_pca() -> np.ndarray:
    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


SAMPLE_WEIGHT_XFAIL = (
    "random initialisation draws land on different rows for shuffled weighted rows than for "
    "repeated rows (as for scikit-learn's KMeans); unweighted seeding must stay scikit-learn's"
)


def _expected_failures(estimator: GaussianMixture) -> dict[str, str]:
    if estimator.n_components == 1:
        return {}
    return {
        # The initialisation is weight-aware (k-means++ draws rows with probability w / sum w,
        # KMeans gets sample_weight), but the check compares a fit on repeated rows in their
        # original order with a fit on the weighted rows *shuffled*: the same RandomState draw
        # lands on different rows of the two cumulative sums (K=2: rows 6, 7 against 2, 13;
        # issue 14 item 9). Passing would need draws invariant to row order and repetition,
        # which breaks the promise that unweighted seeding picks scikit-learn's centres for
        # the same random_state (test_fast_paths.py::
        # test_kmeans_plusplus_chooses_scikit_learns_centres). scikit-learn lists its own
        # KMeans as failing this check for the same reason. EM itself is weight-equivalent
        # from a shared start: test_integer_weights_equal_repeated_rows.
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_XFAIL,
    }


@parametrize_with_checks(
    [
        GaussianMixture(),
        GaussianMixture(n_components=2, covariance_type="diag", random_state=0),
        GaussianMixture(n_components=2, covariance_type="tied", init_params="random"),
        GaussianMixture(n_components=2, covariance_type="spherical", init_params="k-means++"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_lower_bound_equals_sklearn(digits_pca, covariance_type, seed):
    """Same initial parameters, tol=0: the same EM trajectory to 1e-8 relative."""
    X = digits_pca
    K = 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SkGaussianMixture(
            K, covariance_type=covariance_type, max_iter=1, random_state=seed % 1000
        ).fit(X)
    init = dict(
        weights_init=ref.weights_, means_init=ref.means_, precisions_init=ref.precisions_
    )
    for n_iter in (1, 5, 20):
        kw = dict(covariance_type=covariance_type, tol=0.0, max_iter=n_iter, **init)
        with pytest.warns(ConvergenceWarning):
            theirs = SkGaussianMixture(K, **kw).fit(X)
        with pytest.warns(ConvergenceWarning):
            ours = GaussianMixture(K, **kw).fit(X)
        assert ours.n_iter_ == theirs.n_iter_ == n_iter
        np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
        np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_same_random_state_gives_sklearns_fit(init_params, rng):
    X = np.r_[rng.normal(size=(150, 3)), rng.normal(loc=5.0, size=(150, 3))]
    kw = dict(n_components=3, init_params=init_params, random_state=3, max_iter=300)
    ours = GaussianMixture(**kw).fit(X)
    theirs = SkGaussianMixture(**kw).fit(X)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-8)
    assert_close_at_scale(ours.score_samples(X), theirs.score_samples(X), 1e-7)
    np.testing.assert_allclose(ours.aic(X), theirs.aic(X), rtol=1e-8)
    np.testing.assert_allclose(ours.bic(X), theirs.bic(X), rtol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7)


def test_chunk_size_changes_memory_not_results(rng):
    X = rng.normal(size=(1000, 4)) @ rng.normal(size=(4, 4))
    a = GaussianMixture(4, random_state=0, tol=0, max_iter=10)
    b = GaussianMixture(4, random_state=0, tol=0, max_iter=10, chunk_size=77)
    with pytest.warns(ConvergenceWarning):
        a.fit(X)
    with pytest.warns(ConvergenceWarning):
        b.fit(X)
    # summation order differs between chunkings: equal up to rounding amplified by EM
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-9)
    # (at the scale of the array: a log-density of -0.00026 differed by 9e-11,
    # MIXSYNTH_TEST_SEED=3000001, as did its neighbours of magnitude 1 without failing)
    assert_close_at_scale(a.covariances_, b.covariances_, 1e-7)
    assert_close_at_scale(a.score_samples(X), b.score_samples(X), 1e-7)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(rng, covariance_type):
    X = rng.normal(size=(60, 3))
    w = rng.integers(1, 4, size=60)
    kw = dict(n_components=2, covariance_type=covariance_type, init_params="random",
              max_iter=15, tol=0)
    means = X[:2].copy()
    a = GaussianMixture(**kw, means_init=means, random_state=1)
    b = GaussianMixture(**kw, means_init=means, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # random responsibilities differ by row count, so start both from the same parameters
        a.fit(X, sample_weight=w)
        b.set_params(weights_init=a.weights_, means_init=a.means_, precisions_init=a.precisions_)
        a.set_params(weights_init=a.weights_, means_init=a.means_, precisions_init=a.precisions_)
        a.fit(X, sample_weight=w)
        b.fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-10)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-8, atol=1e-10)


def test_sample_seed_semantics_and_shuffle(rng):
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(loc=8.0, size=(100, 2))]
    gm = GaussianMixture(2, random_state=0).fit(X)
    a, ya = gm.sample(500, random_state=11)
    b, _ = gm.sample(500, random_state=11)
    c, _ = gm.sample(500)
    d, _ = gm.sample(500)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(c, d)
    assert np.count_nonzero(np.diff(ya)) > 50  # not grouped by component
    g = np.random.default_rng(5)
    assert not np.array_equal(gm.sample(5, random_state=g)[0], gm.sample(5, random_state=g)[0])
    assert gm.sample(0)[0].shape == (0, 2)
    with pytest.raises(ValueError, match="non-negative"):
        gm.sample(-1)


def test_warm_start_continues(rng):
    X = rng.normal(size=(300, 2))
    gm = GaussianMixture(3, warm_start=True, max_iter=2, tol=0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    first = gm.lower_bound_
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    assert gm.lower_bound_ >= first - 1e-12


def test_verbose_prints_progress(rng):
    X = rng.normal(size=(100, 2))
    buf = io.StringIO()
    with redirect_stdout(buf):
        GaussianMixture(2, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = buf.getvalue()
    assert "Initialization 0" in out and "Iteration 1" in out and "converged" in out


def test_n_init_keeps_best(rng):
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(loc=6.0, size=(100, 2))]
    one = GaussianMixture(4, init_params="random_from_data", random_state=0).fit(X)
    many = GaussianMixture(4, init_params="random_from_data", n_init=5, random_state=0).fit(X)
    assert many.lower_bound_ >= one.lower_bound_ - 1e-12


# ------------------------------------------------------------------ bad input (BAD_INPUTS.md)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_named_by_column_and_row(bad):
    X = np.arange(40.0).reshape(10, 4)
    X[6, 2] = bad
    X[8, 3] = bad
    with pytest.raises(ValueError, match=r"column 2, first at row 6") as e:
        GaussianMixture().fit(X)
    assert "NaN" in str(e.value) and "inf" in str(e.value)


def test_nonfinite_at_score_names_dataframe_column():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 2.0]})
    gm = GaussianMixture().fit(df)
    bad = df.copy()
    bad.loc[2, "b"] = np.nan
    with pytest.raises(ValueError, match=r"column 'b' \(position 1\), first at row 2"):
        gm.score_samples(bad)


def test_complex_rejected():
    with pytest.raises(ValueError, match=r"[Cc]omplex"):
        GaussianMixture().fit(np.ones((5, 2)) * 1j)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.empty((0, 3)), "0 sample"),
        (np.empty((5, 0)), "0 feature"),
        (np.ones((1, 3)), "1 sample"),
        (np.arange(5.0), "Reshape your data"),
    ],
)
def test_degenerate_shapes(X, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture().fit(X)


def test_feature_count_mismatch(rng):
    gm = GaussianMixture().fit(rng.normal(size=(20, 4)))
    with pytest.raises(ValueError, match=r"X has 3 features, but GaussianMixture is expecting 4"):
        gm.score_samples(rng.normal(size=(5, 3)))


@pytest.mark.parametrize(
    "params",
    [
        dict(n_components=0),
        dict(reg_covar=-1.0),
        dict(tol=-1.0),
        dict(covariance_type="banana"),
        dict(init_params="magic"),
    ],
)
def test_invalid_hyperparameters_raise_at_fit(params, rng):
    gm = GaussianMixture(**params)  # __init__ only stores
    with pytest.raises(ValueError):
        gm.fit(rng.normal(size=(20, 2)))


@pytest.mark.parametrize("name", ["n_components", "max_iter", "n_init", "chunk_size",
                                  "verbose_interval"])
@pytest.mark.parametrize("flag", [True, np.True_])
def test_a_bool_is_not_a_count(name, flag, rng):
    """Python takes True for 1: n_components=True passed scikit-learn's interval and died in
    the k-means seeding with a bare TypeError (issue 14 item 7)."""
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of GaussianMixture must be "
                                         r"an int in the range .*Got (np\.)?True_? instead"):
        GaussianMixture(**{name: flag}).fit(rng.normal(size=(20, 2)))


def test_k_larger_than_samples_or_distinct_rows():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(np.arange(6.0).reshape(3, 2))
    dup = np.repeat([[0.0, 1.0], [2.0, 3.0]], 10, axis=0)
    with pytest.raises(ValueError, match="distinct rows"):
        GaussianMixture(3).fit(dup)


def test_singular_covariance_error_suggests_a_fix():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], 5, axis=0)  # collinear, tight clusters
    with pytest.raises(ValueError, match="increase reg_covar"):
        GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)
    GaussianMixture(3, random_state=0).fit(X)  # the default reg_covar copes


def test_sklearn_fails_where_the_offset_guard_succeeds():
    """[[0,0],[436907,436907]] repeated: scikit-learn's own GaussianMixture fails on it."""
    X = np.array([[0.0, 0.0], [436907.0, 436907.0]] * 10)
    gm = GaussianMixture(1).fit(X)
    assert np.all(np.isfinite(gm.covariances_))


@pytest.mark.parametrize(
    "make",
    [
        lambda X: X.astype(np.float32),
        lambda X: X.astype(np.int64),
        lambda X: X > 0,
        lambda X: np.asfortranarray(X),
        lambda X: X.astype(object),
    ],
    ids=["float32", "int", "bool", "fortran", "object"],
)
def test_accepted_dtypes_compute_in_float64(make, rng):
    X = make(rng.normal(scale=3.0, size=(40, 3)))
    gm = GaussianMixture(random_state=0).fit(X)
    assert gm.means_.dtype == np.float64
    assert gm.score_samples(X).dtype == np.float64


def test_read_only_memmap(tmp_path, rng):
    path = tmp_path / "x.npy"
    np.save(path, rng.normal(size=(50, 3)))
    X = np.load(path, mmap_mode="r")
    gm = GaussianMixture(random_state=0).fit(X)
    assert np.isfinite(gm.score(X))
