"""Tests for :mod:`mixsynth.whitening`.

References are independent of the module: scikit-learn's PCA, scipy's multivariate normal, and a
probabilistic-PCA density assembled here with numpy. ``rng`` is the suite's seeded fixture
(tests/conftest.py; MIXSYNTH_TEST_SEED=N reproduces a run).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixsynth.whitening import (
    ColumnMoments,
    ConstantColumnsWarning,
    Whitener,
    _whitener_from_moments,
)
from mixsynth.whitening.moments import _prescaled_moments
from mixsynth.whitening.pca import DenseCovariance, RowDeviations
from tests.tolerance import assert_close_at_scale, assert_columns_close


def correlated(rng: np.random.Generator, n: int, d: int) -> NDArray[np.float64]:
    """Gaussian rows with a random covariance of condition number 16 (random eigenvectors).

    Bounded conditioning keeps tolerances meaningful on every seed: eigenvectors from a
    covariance matrix lose accuracy in proportion to its condition number.
    """
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return rng.normal(size=(n, d)) @ (np.geomspace(1.0, 4.0, d)[:, None] * Q)


def std_normal_logpdf(Z: NDArray[np.float64]) -> NDArray[np.float64]:
    """log N(z; 0, I): the simplest model density in the whitened space."""
    return -0.5 * np.einsum("ij,ij->i", Z, Z) - 0.5 * Z.shape[1] * np.log(2 * np.pi)


def assert_identity_cov(Z: NDArray[np.float64], atol: float = 1e-9) -> None:
    np.testing.assert_allclose(
        np.cov(Z, rowvar=False).reshape(Z.shape[1], -1), np.eye(Z.shape[1]), atol=atol
    )


# --- scikit-learn contract ---------------------------------------------------------------------


@parametrize_with_checks([Whitener(), Whitener(scale="none"), Whitener(n_components=2)])
def test_sklearn_estimator_checks(estimator: Whitener, check: Callable[[Any], None]) -> None:
    check(estimator)


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"n_components": -1},
        {"n_components": 0.0},
        {"n_components": 1.5},
        {"n_components": "all"},
        {"n_components": True},  # Python's 1: kept one component without a word
        {"scale": "minmax"},
        {"whiten": "yes"},
    ],
)
def test_invalid_parameters_fail_at_fit_not_init(
    params: dict[str, Any], rng: np.random.Generator
) -> None:
    w = Whitener(**params)  # storing is all __init__ does
    with pytest.raises(ValueError, match="parameter of Whitener must be"):
        w.fit(rng.normal(size=(10, 3)))


# --- agreement with PCA, round trips -----------------------------------------------------------


def test_digits_keeps_41_components_and_matches_sklearn_pca() -> None:
    X = load_digits().data
    with pytest.warns(ConstantColumnsWarning, match="column 0"):  # always-blank pixels
        w = Whitener(0.99, whiten=True, scale="none").fit(X)
    pca = PCA(0.99, whiten=True, svd_solver="full").fit(X)
    assert w.n_components_ == pca.n_components_ == 41
    np.testing.assert_allclose(w.explained_variance_, pca.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        w.explained_variance_ratio_, pca.explained_variance_ratio_, rtol=1e-10
    )
    # Same discarded variance; sklearn averages it over 64 - 41 directions, we over the
    # 61 - 41 that are not constant pixels (the density is conditional on those).
    n_varying = int(np.sum(~w.constant_mask_))
    np.testing.assert_allclose(
        w.noise_variance_ * (n_varying - 41), pca.noise_variance_ * (64 - 41), rtol=1e-8
    )
    A, B = w.transform(X), pca.transform(X)
    signs = np.sign(np.sum(A * B, axis=0))  # eigenvectors are defined up to sign
    np.testing.assert_allclose(A * signs, B, atol=1e-8)
    np.testing.assert_allclose(w.components_ * signs[:, None], pca.components_, atol=1e-8)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.8, 0.95])
def test_variance_fraction_rule_matches_sklearn(fraction: float, rng: np.random.Generator) -> None:
    X = rng.normal(size=(300, 8)) * np.geomspace(1, 8, 8)
    w = Whitener(fraction, scale="none").fit(X)
    assert w.n_components_ == PCA(fraction, svd_solver="full").fit(X).n_components_
    assert np.cumsum(w.explained_variance_ratio_)[-1] >= fraction


@pytest.mark.parametrize("scale", ["std", "none"])
@pytest.mark.parametrize("whiten", [True, False])
def test_round_trip_and_whitened_covariance(
    scale: str, whiten: bool, rng: np.random.Generator
) -> None:
    X = correlated(rng, 200, 5) + np.array([0, 5, -7, 1e3, 3])
    if scale == "std":  # per-column units do not matter to a standardising fit
        X *= [1e-3, 1, 10, 1e4, 1]
    w = Whitener(None, whiten=whiten, scale=scale).fit(X)
    assert w.n_components_ == 5
    assert w.noise_variance_ == 0.0
    Z = w.transform(X)
    if whiten:
        assert_identity_cov(Z)
    else:
        np.testing.assert_allclose(np.var(Z, axis=0, ddof=1), w.explained_variance_, rtol=1e-10)
    back = w.inverse_transform(Z)
    assert back.dtype == np.float64
    assert_columns_close(back, X, 1e-10)


def test_variance_fraction_tie_keeps_the_smallest_k() -> None:
    # Eigenvalues 2, 1, 1: cumulative ratios exactly 0.5, 0.75, 1.0.
    args = (
        100,
        np.zeros(3),
        DenseCovariance(np.diag([2.0, 1.0, 1.0])),
        np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype=bool),
        np.zeros(0),
    )
    assert _whitener_from_moments(*args, n_components=0.5, scale="none").components.shape[0] == 1
    assert _whitener_from_moments(*args, n_components=0.75, scale="none").components.shape[0] == 2
    assert _whitener_from_moments(*args, n_components=0.76, scale="none").components.shape[0] == 3


def test_rank_never_exceeds_n_samples_minus_one() -> None:
    # Centred rows span at most n - 1 directions, even if rounding left eigenvalues above the
    # tolerance (this covariance could not come from 2 rows; the bound must hold regardless).
    state = _whitener_from_moments(
        2,
        np.zeros(3),
        DenseCovariance(np.diag([1.0, 0.5, 0.25])),
        np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype=bool),
        np.zeros(0),
        n_components=None,
        scale="none",
    )
    assert state.rank == 1
    assert state.components.shape == (1, 3)
    np.testing.assert_allclose(state.noise_variance, 0.0)


def test_components_sign_convention(rng: np.random.Generator) -> None:
    w = Whitener(None).fit(correlated(rng, 100, 6))
    largest = w.components_[np.arange(w.n_components_), np.argmax(np.abs(w.components_), axis=1)]
    assert np.all(largest > 0)
    np.testing.assert_allclose(w.components_ @ w.components_.T, np.eye(6), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 25),
    d=st.integers(1, 6),
    log_scales=st.lists(st.floats(-150, 150), min_size=6, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from(["std", "none"]),
)
def test_round_trip_property(
    n: int, d: int, log_scales: list[float], seed: int, scale: str
) -> None:
    """Whatever the shape, rank and column magnitudes, keeping every non-null direction is
    lossless and whitens to identity covariance."""
    gen = np.random.default_rng(seed)
    col_scale = 10.0 ** np.array(log_scales[:d])
    if scale == "none":  # PCA mixes the columns; keep them comparable so all are resolvable
        col_scale = np.full(d, col_scale[0])
    X = (gen.normal(size=(n, d)) @ gen.normal(size=(d, d))) * col_scale
    w = Whitener(None, scale=scale).fit(X)
    assert w.n_components_ == min(n - 1, d)  # the rank of generic centred data
    Z = w.transform(X)
    assert np.isfinite(Z).all()
    if n > 1:
        # Eigenvectors of a covariance matrix are accurate to about eps * condition number, and
        # whitening amplifies that by sqrt(condition number) again.
        cond = w.explained_variance_[0] / w.explained_variance_[-1]
        assert_identity_cov(Z, atol=1e-9 + 100 * np.finfo(float).eps * cond**1.5)
    back = w.inverse_transform(Z)
    assert_columns_close(back, X, 1e-9)


def test_fit_is_invariant_to_row_order(rng: np.random.Generator) -> None:
    X = correlated(rng, 150, 4)
    w1 = Whitener(None).fit(X)
    w2 = Whitener(None).fit(X[rng.permutation(len(X))])
    np.testing.assert_allclose(w1.transform(X), w2.transform(X), atol=1e-9)


# --- residual_log_density against independent densities --------------------------------------


@pytest.mark.parametrize("scale", ["std", "none"])
@pytest.mark.parametrize("whiten", [True, False])
def test_residual_log_density_full_rank_equals_gaussian(
    scale: str, whiten: bool, rng: np.random.Generator
) -> None:
    X = correlated(rng, 400, 4) * [1, 10, 0.1, 3] + [10, -3, 0, 1e3]
    X_new = correlated(rng, 50, 4) * [1, 10, 0.1, 3] + [10, -3, 0, 1e3]
    w = Whitener(None, whiten=whiten, scale=scale).fit(X)
    Z = w.transform(X_new)
    if whiten:
        model = std_normal_logpdf(Z)
    else:  # the projected coordinates have variances explained_variance_
        model = multivariate_normal(np.zeros(4), np.diag(w.explained_variance_)).logpdf(Z)
    expected = multivariate_normal(X.mean(axis=0), np.cov(X, rowvar=False)).logpdf(X_new)
    assert_close_at_scale(model + w.residual_log_density(X_new), expected, 1e-9)


def ppca_logpdf(
    X: NDArray[np.float64], X_new: NDArray[np.float64], k: int, standardise: bool
) -> NDArray[np.float64]:
    """Probabilistic PCA density written out by hand: C = W W^T + sigma2 I."""
    mu = X.mean(axis=0)
    s = X.std(axis=0, ddof=1) if standardise else np.ones(X.shape[1])
    S = np.cov((X - mu) / s, rowvar=False)
    lam, V = np.linalg.eigh(S)
    lam, V = lam[::-1], V[:, ::-1]
    sigma2 = lam[k:].mean()
    W = V[:, :k] * np.sqrt(lam[:k] - sigma2)
    C = W @ W.T + sigma2 * np.eye(X.shape[1])
    log_jacobian = -np.log(s).sum()
    return multivariate_normal(np.zeros(X.shape[1]), C).logpdf((X_new - mu) / s) + log_jacobian


@pytest.mark.parametrize("scale", ["std", "none"])
@pytest.mark.parametrize("k", [1, 3])
def test_residual_log_density_with_discarded_directions_equals_ppca(
    scale: str, k: int, rng: np.random.Generator
) -> None:
    X = correlated(rng, 300, 6) * np.geomspace(0.5, 50, 6) + 7.0
    X_new = correlated(rng, 40, 6) * np.geomspace(0.5, 50, 6) + 7.0
    w = Whitener(k, scale=scale).fit(X)
    assert w.n_components_ == k and w.noise_variance_ > 0
    got = std_normal_logpdf(w.transform(X_new)) + w.residual_log_density(X_new)
    assert_close_at_scale(got, ppca_logpdf(X, X_new, k, scale == "std"), 1e-9)


def test_residual_log_density_is_finite_for_rank_deficient_data(rng: np.random.Generator) -> None:
    x = rng.normal(size=100)
    X = np.column_stack([x, 2 * x, rng.normal(size=100)])
    w = Whitener(None).fit(X)
    assert w.n_components_ == 2
    on_plane = w.residual_log_density(X)
    off_plane = w.residual_log_density(X + np.array([0.1, 0.0, 0.0]))
    assert np.isfinite(on_plane).all() and np.isfinite(off_plane).all()
    assert np.all(off_plane < on_plane - 1e3)  # the floor makes leaving the plane very unlikely


# --- bad inputs (shared/BAD_INPUTS.md) ---------------------------------------------------------


def test_nan_and_inf_name_column_and_row(rng: np.random.Generator) -> None:
    X = rng.normal(size=(10, 4))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*column 2, first at row 3"):
        Whitener().fit(X)
    df = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "c"])
    w = Whitener().fit(df)
    df.iloc[5, 1] = np.inf
    with pytest.raises(ValueError, match=r"inf.*column 'b' \(position 1\), first at row 5"):
        w.transform(df)


def test_complex_rejected(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="Complex data not supported"):
        Whitener().fit(rng.normal(size=(10, 3)) + 1j)


def _as_object(X: NDArray[np.float64]) -> Any:
    return X.astype(object)


def _as_fortran(X: NDArray[np.float64]) -> Any:
    return np.asfortranarray(X)


def _as_int(X: NDArray[np.float64]) -> Any:
    return np.round(X * 10).astype(np.int64)


def _as_bool(X: NDArray[np.float64]) -> Any:
    return X > 0


def _as_float32(X: NDArray[np.float64]) -> Any:
    return X.astype(np.float32)


@pytest.mark.parametrize("convert", [_as_object, _as_fortran, _as_int, _as_bool, _as_float32])
def test_accepted_dtypes_and_layouts_compute_in_float64(
    convert: Callable[[NDArray[np.float64]], Any], rng: np.random.Generator
) -> None:
    Xc = convert(correlated(rng, 60, 4))
    reference = np.asarray(Xc, dtype=np.float64)
    w = Whitener(None).fit(Xc)
    Z = w.transform(Xc)
    assert Z.dtype == np.float64 and w.mean_.dtype == np.float64
    np.testing.assert_array_equal(Z, Whitener(None).fit(reference).transform(reference))


def test_read_only_memmap_accepted(tmp_path: Any, rng: np.random.Generator) -> None:
    X = correlated(rng, 50, 3)
    np.save(tmp_path / "x.npy", X)
    X_mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert not X_mm.flags.writeable
    w = Whitener(None).fit(X_mm)
    np.testing.assert_array_equal(w.transform(X_mm), Whitener(None).fit(X).transform(X))
    np.testing.assert_array_equal(np.asarray(X_mm), X)  # the input is never written to


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.empty((0, 3)), r"Found array with 0 sample\(s\)"),
        (np.empty((3, 0)), r"0 feature\(s\)"),
        (np.arange(5.0), "Reshape your data"),
    ],
)
def test_empty_and_1d_input_sklearn_messages(X: NDArray[np.float64], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Whitener().fit(X)


def test_feature_count_mismatch_at_transform(rng: np.random.Generator) -> None:
    w = Whitener().fit(rng.normal(size=(20, 4)))
    expected = "X has 3 features, but Whitener is expecting 4 features as input."
    with pytest.raises(ValueError, match=re.escape(expected)):
        w.transform(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match=re.escape(expected)):
        w.residual_log_density(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="Z has 7 features"):
        w.inverse_transform(rng.normal(size=(5, 7)))


def test_dataframe_feature_names_carried(rng: np.random.Generator) -> None:
    df = pd.DataFrame(correlated(rng, 40, 3), columns=["height", "weight", "age"])
    df["site"] = 4.0
    with pytest.warns(ConstantColumnsWarning, match=r"column 'site' \(position 3\)"):
        w = Whitener(None).fit(df)
    assert list(w.feature_names_in_) == ["height", "weight", "age", "site"]
    assert list(w.get_feature_names_out()) == ["whitener0", "whitener1", "whitener2"]
    out = w.set_output(transform="pandas").transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["whitener0", "whitener1", "whitener2"]


def test_constant_columns_set_aside_and_restored_exactly(rng: np.random.Generator) -> None:
    core = correlated(rng, 80, 3)
    X = np.column_stack([core[:, 0], np.full(80, 0.1), core[:, 1:], np.full(80, -3e7)])
    with pytest.warns(ConstantColumnsWarning, match=r"column 1, column 4"):
        w = Whitener(None).fit(X)
    np.testing.assert_array_equal(w.constant_mask_, [False, True, False, False, True])
    np.testing.assert_array_equal(w.constant_values_, [0.1, -3e7])
    assert np.all(w.components_[:, w.constant_mask_] == 0)
    Z = w.transform(X)
    back = w.inverse_transform(Z)
    np.testing.assert_array_equal(back[:, w.constant_mask_], X[:, w.constant_mask_])
    assert_columns_close(back, X, 1e-10)
    # Constant columns change nothing else: same map and same (conditional) density.
    w_core = Whitener(None).fit(core)
    np.testing.assert_allclose(Z, w_core.transform(core), atol=1e-10)
    assert_close_at_scale(
        w.residual_log_density(X), w_core.residual_log_density(core), 1e-12
    )


@pytest.mark.parametrize("n_rows", [1, 6])
def test_all_rows_identical(n_rows: int) -> None:
    X = np.tile([1.5, -2.0, 1e300, 0.0], (n_rows, 1))
    with pytest.warns(ConstantColumnsWarning, match="4 constant column"):
        w = Whitener().fit(X)
    assert w.n_components_ == 0
    assert w.noise_variance_ == 0.0
    Z = w.transform(X)
    assert Z.shape == (n_rows, 0)
    np.testing.assert_array_equal(w.inverse_transform(Z), X)
    np.testing.assert_array_equal(w.residual_log_density(X), np.zeros(n_rows))
    assert w.get_feature_names_out().shape == (0,)
    assert np.isfinite(w.mean_).all() and np.isfinite(w.scale_).all()


def test_inverse_transform_of_zero_rows(rng: np.random.Generator) -> None:
    w = Whitener(2).fit(rng.normal(size=(30, 5)))
    assert w.inverse_transform(np.empty((0, 2))).shape == (0, 5)


def test_collinear_columns_drop_null_direction(rng: np.random.Generator) -> None:
    x = rng.normal(size=200)
    X = np.column_stack([x, 2 * x, rng.normal(size=200)])
    for n_components in [None, 1.0]:
        w = Whitener(n_components).fit(X)
        assert w.n_components_ == 2
        assert_identity_cov(w.transform(X))
        np.testing.assert_allclose(w.inverse_transform(w.transform(X)), X, atol=1e-12)
    with pytest.warns(UserWarning, match=r"n_components=3 exceeds the rank of the data \(2"):
        w = Whitener(3).fit(X)
    assert w.n_components_ == 2


def test_sklearn_gaussian_mixture_counterexample() -> None:
    X = np.array([[0.0, 0.0], [436907.0, 436907.0]])
    w = Whitener(None, scale="none").fit(X)
    assert w.n_components_ == 1
    np.testing.assert_allclose(w.inverse_transform(w.transform(X)), X, atol=1e-9)


@pytest.mark.parametrize("scale", ["std", "none"])
def test_more_features_than_samples(scale: str, rng: np.random.Generator) -> None:
    X = correlated(rng, 6, 15)
    w = Whitener(None, scale=scale).fit(X)
    assert w.n_components_ == 5  # n - 1 after centring
    Z = w.transform(X)
    assert_identity_cov(Z)
    np.testing.assert_allclose(w.inverse_transform(Z), X, atol=1e-10 * np.abs(X).max())
    assert np.isfinite(w.residual_log_density(X)).all()


def test_large_offset_keeps_precision_of_spread(rng: np.random.Generator) -> None:
    spread = correlated(rng, 500, 3)
    X = 1e12 + spread
    Y = X - 1e12  # exact: the spread exactly as float64 holds it
    w = Whitener(None).fit(X)
    w_y = Whitener(None).fit(Y)
    # A raw-moment variance E[x^2] - E[x]^2 would lose every digit of the spread here.
    np.testing.assert_allclose(w.scale_, Y.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(w.components_, w_y.components_, atol=1e-11)
    np.testing.assert_allclose(w.explained_variance_, w_y.explained_variance_, rtol=1e-11)
    assert np.all(np.abs(w.mean_ - 1e12 - w_y.mean_) <= np.spacing(1e12))
    Z = w.transform(X)
    assert_identity_cov(Z)
    assert np.all(np.abs(w.inverse_transform(Z) - X) <= 2 * np.spacing(1e12))


@pytest.mark.parametrize("magnitude", [1e-200, 1e200, 1e306])  # 100 rows of 1e306 sum to inf
@pytest.mark.parametrize("scale", ["std", "none"])
def test_extreme_magnitudes_match_unit_scale_fit(
    magnitude: float, scale: str, rng: np.random.Generator
) -> None:
    # A power-of-two factor is exact, so the unit-scale fit is an exact reference.
    factor = np.ldexp(1.0, int(np.frexp(magnitude)[1]))
    base = correlated(rng, 100, 3) + np.array([0.0, 3.0, -1.0])
    X = base * factor
    w = Whitener(None, scale=scale).fit(X)  # -W error: an overflow warning fails the test
    w_unit = Whitener(None, scale=scale).fit(base)
    assert not w.constant_mask_.any()
    assert w.n_components_ == 3
    Z = w.transform(X)
    np.testing.assert_allclose(Z, w_unit.transform(base), atol=1e-10)
    np.testing.assert_allclose(
        w.explained_variance_ratio_, w_unit.explained_variance_ratio_, rtol=1e-12
    )
    back = w.inverse_transform(Z)
    np.testing.assert_allclose(back / factor, base, rtol=0, atol=1e-10 * np.abs(base).max())
    residual = w.residual_log_density(X)
    assert np.isfinite(residual).all()
    # The density moves by the log-Jacobian of the factor, nothing else.
    assert_close_at_scale(
        residual, w_unit.residual_log_density(base) - 3 * np.log(factor), 1e-12
    )


def test_mixed_scales_in_one_data_set(rng: np.random.Generator) -> None:
    base = correlated(rng, 200, 4)
    factors = np.ldexp(1.0, [-665, 0, 665, 40])  # ~1e-200, 1, ~1e200, ~1e12
    X = base * factors
    # scale="std" is invariant to per-column units: same whitened data as the unit-scale fit.
    w = Whitener(None).fit(X)
    w_unit = Whitener(None).fit(base)
    Z = w.transform(X)
    np.testing.assert_allclose(Z, w_unit.transform(base), atol=1e-9)
    assert_identity_cov(Z)
    back = w.inverse_transform(Z)
    # each column to within 1e-10 of its own scale: an elementwise rtol failed on a value near
    # zero (MIXSYNTH_TEST_SEED=476474379: -5.4e-7 in a unit column, off by 9e-17)
    assert_columns_close(back, X, 1e-10)
    # Textbook PCA sees only the ~1e200 column; the rest is relatively null, and nothing
    # overflows or turns into NaN on the way.
    w_none = Whitener(None, scale="none").fit(X)
    assert w_none.n_components_ == 1
    back = w_none.inverse_transform(w_none.transform(X))
    assert np.isfinite(back).all()
    assert_columns_close(back[:, 2:3], X[:, 2:3], 1e-10)


@pytest.mark.parametrize("scale", ["std", "none"])
@pytest.mark.parametrize("shape", [(2, 4), (6, 40), (30, 32)])
def test_fewer_rows_than_columns_never_form_the_covariance(rng, scale, shape) -> None:
    """Wide data (issue 14: 10,000 columns of 5 rows ran for minutes in a d×d ``eigh``): the
    covariance is kept as the centred rows and decomposed by their SVD, giving the whitening
    the d'×d' matrix gives, in memory and streamed."""
    n, d = shape
    X = 1e6 + rng.normal(size=(n, d)) * np.geomspace(0.1, 10.0, d)
    X[:, 1] = 5.0  # a constant column is set aside as before
    moments = _prescaled_moments(X)
    assert isinstance(moments[2], RowDeviations)  # the d'×d' matrix is never formed
    assert isinstance(ColumnMoments.from_array(X).scatter, RowDeviations)
    dense = (*moments[:2], DenseCovariance(moments[2].matrix), *moments[3:])
    for n_components in (None, 0.9, 1):
        got = _whitener_from_moments(*moments, n_components=n_components, scale=scale)
        want = _whitener_from_moments(*dense, n_components=n_components, scale=scale)
        assert got.rank == want.rank <= n - 1
        # to the dense eigh's accuracy: a few eps of the largest eigenvalue (the SVD of the
        # rows is the more accurate of the two on the small ones)
        np.testing.assert_allclose(got.explained_variance, want.explained_variance,
                                   rtol=1e-9, atol=1e-14 * want.explained_variance[0])
        # the same directions (a sign is arbitrary where loadings tie, as for two rows)
        signs = np.sign(np.sum(got.components * want.components, axis=1))
        np.testing.assert_allclose(got.components * signs[:, None], want.components,
                                   rtol=0, atol=1e-8)
        np.testing.assert_allclose(got.noise_variance, want.noise_variance, rtol=1e-9,
                                   atol=1e-12 * want.explained_variance[0])
        np.testing.assert_allclose(got.scale, want.scale, rtol=1e-12)
    with pytest.warns(ConstantColumnsWarning):
        fitted = Whitener(n_components=None, scale=scale).fit(X)
    with pytest.warns(ConstantColumnsWarning):
        streamed = Whitener(n_components=None, scale=scale).fit_from_moments(
            ColumnMoments.from_array(X))
    assert streamed.n_components_ == fitted.n_components_ == min(n - 1, d - 1)
    projector = fitted.components_.T @ fitted.components_  # the subspace, whatever the signs
    np.testing.assert_allclose(streamed.components_.T @ streamed.components_, projector,
                               rtol=0, atol=1e-8)
    back = fitted.inverse_transform(fitted.transform(X))
    assert_columns_close(back, X, 1e-9)  # n rows span their own centred subspace
