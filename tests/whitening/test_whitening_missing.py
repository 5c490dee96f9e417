"""``Whitener(missing="keep")``: per-column whitening of data with missing values (NaN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from mixsynth.whitening import ColumnMoments, ConstantColumnsWarning, Whitener
from tests.tolerance import assert_close_at_scale, assert_columns_close


def _gappy(rng: np.random.Generator, n: int = 300, rate: float = 0.3) -> np.ndarray:
    X = rng.normal(size=(n, 4)) @ rng.normal(size=(4, 4)) * [1.0, 10.0, 1e-3, 5.0]
    X += [0.0, 1e6, 3.0, -2.0]
    X[rng.uniform(size=X.shape) < rate] = np.nan
    return X


def test_nan_is_refused_by_default(rng):
    with pytest.raises(ValueError, match=r"contains NaN.*column"):
        Whitener().fit(_gappy(rng))
    w = Whitener().fit(np.nan_to_num(_gappy(rng)))
    with pytest.raises(ValueError, match="contains NaN"):
        w.transform(_gappy(rng))


@pytest.mark.parametrize("scale", ["std", "none"])
@pytest.mark.parametrize("whiten", [True, False])
def test_per_column_whitening_over_observed_values(rng, scale, whiten):
    X = _gappy(rng)
    w = Whitener(missing="keep", scale=scale, whiten=whiten).fit(X)
    # a mean is exact to rounding at the scale of the values summed, not of itself
    assert_columns_close(w.mean_, np.nanmean(X, axis=0), 1e-12, scale=np.nanmax(np.abs(X), axis=0))
    assert w.n_components_ == 4
    np.testing.assert_array_equal(w.components_, np.eye(4))
    Z = w.transform(X)
    assert np.array_equal(np.isnan(Z), np.isnan(X))  # each gap stays in its own coordinate
    want = (X - np.nanmean(X, axis=0)) / (np.nanstd(X, axis=0, ddof=1) if whiten or
                                          scale == "std" else 1.0)
    np.testing.assert_allclose(Z, want, rtol=1e-8, atol=1e-8)
    back = w.inverse_transform(Z)
    assert np.array_equal(np.isnan(back), np.isnan(X))
    assert_columns_close(back, X, 1e-12, equal_nan=True)
    complete = np.where(np.isnan(X[:5]), np.nanmean(X, axis=0), X[:5])
    assert_columns_close(w.inverse_transform(w.transform(complete)), complete, 1e-12)


def test_residual_log_density_is_the_jacobian_of_the_observed_coordinates(rng):
    X = _gappy(rng)
    w = Whitener(missing="keep").fit(X)
    res = w.residual_log_density(X)
    # with N(0, 1) per whitened coordinate the model is N(mean_j, scale_j^2) per column
    Z = w.transform(X)
    lhs = np.nansum(norm.logpdf(Z), axis=1) + res
    rhs = np.nansum(norm.logpdf(X, loc=w.mean_, scale=w.scale_), axis=1)
    assert_close_at_scale(lhs, rhs, 1e-10)
    assert w.residual_log_density(np.full((1, 4), np.nan))[0] == 0.0


def test_constant_columns_with_gaps_are_restored(rng):
    X = _gappy(rng)
    X[:, 2] = np.where(np.isnan(X[:, 2]), np.nan, 7.25)
    with pytest.warns(ConstantColumnsWarning, match="column 2"):
        w = Whitener(missing="keep").fit(X)
    assert w.n_components_ == 3 and w.constant_mask_[2]
    Z = w.transform(X)
    assert Z.shape == (X.shape[0], 3)
    back = w.inverse_transform(Z)
    assert np.all(back[:, 2] == 7.25)


def test_inf_and_all_missing_columns_are_errors(rng):
    X = _gappy(rng)
    Xi = X.copy()
    Xi[:, 3] = 1.0
    Xi[11, 3] = np.inf
    with pytest.raises(ValueError, match=r"contains inf.*column 3, first at row 11"):
        Whitener(missing="keep").fit(Xi)
    df = pd.DataFrame(X, columns=list("abcd"))
    df["c"] = np.nan
    with pytest.raises(ValueError, match="no observed value in column 'c'"):
        Whitener(missing="keep").fit(df)


def test_complete_data_and_streamed_moments_agree(rng):
    X = np.nan_to_num(_gappy(rng, rate=0.0))
    a = Whitener(missing="keep").fit(X)
    b = Whitener(missing="keep").fit_from_moments(
        ColumnMoments.from_array(X[:100]) + ColumnMoments.from_array(X[100:])
    )
    # at the data's scale: a column's mean may lie near zero, and a direction's entries do
    assert_columns_close(b.mean_, a.mean_, 1e-10, scale=np.abs(X).max(axis=0))
    np.testing.assert_allclose(b.components_, a.components_, rtol=1e-10, atol=1e-10)
    for name in ("scale_", "explained_variance_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10)
    np.testing.assert_allclose(a.scale_, X.std(axis=0, ddof=1), rtol=1e-12)
