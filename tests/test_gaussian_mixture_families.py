"""``GaussianMixture`` with the families beyond scikit-learn's: ``shrinkage=τ`` on "full",
``covariance_type="factor"`` with ``n_factors``, and ``sample(temperature=)``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixsynth import GaussianMixture
from mixsynth.core import family, suffstats
from tests.tolerance import assert_close_at_scale


def _blobs(rng: np.random.Generator, n: int = 600, d: int = 5, K: int = 3) -> np.ndarray:
    parts = []
    for _ in range(K):
        A = rng.normal(size=(d, d)) / np.sqrt(d)
        parts.append(rng.normal(size=(n // K, d)) @ (A + np.eye(d)) + 8.0 * rng.normal(size=d))
    return np.concatenate(parts)


def test_zero_shrinkage_is_the_plain_full_fit(rng):
    X = _blobs(rng)
    a = GaussianMixture(3, random_state=0).fit(X)
    b = GaussianMixture(3, shrinkage=0.0, random_state=0).fit(X)
    assert a.family_ == b.family_ == "full"
    np.testing.assert_array_equal(a.precisions_cholesky_, b.precisions_cholesky_)
    np.testing.assert_array_equal(a.lower_bounds_, b.lower_bounds_)


def test_shrinkage_fits_the_shrunk_family_to_its_fixed_point(rng):
    X = _blobs(rng)
    gm = GaussianMixture(3, shrinkage=80.0, tol=1e-12, max_iter=2000, random_state=0).fit(X)
    assert gm.family_ == "full-shrunk(80)" and gm.params_.covariance_type == "full-shrunk(80)"
    again = family(gm.family_).m_step(suffstats(X, gm.params_), gm.reg_covar)
    np.testing.assert_allclose(again.means, gm.means_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again.precisions_cholesky, gm.precisions_cholesky_, rtol=1e-4,
                               atol=1e-6)
    plain = GaussianMixture(3, tol=1e-12, max_iter=2000, random_state=0).fit(X)
    corr = [np.abs(c / np.sqrt(np.outer(np.diag(c), np.diag(c))) - np.eye(5)).sum()
            for c in (gm.covariances_.sum(0), plain.covariances_.sum(0))]
    assert corr[0] < corr[1]  # the correlations are shrunk
    assert gm.bic(X) > plain.bic(X)  # same parameter count, lower likelihood
    n = X.shape[0]
    assert gm.bic(X) == pytest.approx(
        -2 * gm.score(X) * n + family("full").n_parameters(3, 5) * np.log(n)
    )


def test_factor_fit_attributes_and_density(rng):
    X = _blobs(rng, d=6)
    gm = GaussianMixture(3, covariance_type="factor", n_factors=2, random_state=0).fit(X)
    assert gm.family_ == "factor(2)"
    K, d, q = 3, 6, 2
    assert gm.loadings_.shape == (K, d, q) and gm.noise_variance_.shape == (K, d)
    assert np.all(gm.noise_variance_ > 0)
    W, psi = gm.loadings_, gm.noise_variance_
    assert_close_at_scale(gm.covariances_, W @ np.swapaxes(W, 1, 2) + psi[:, :, None] * np.eye(d),
                          1e-12)
    np.testing.assert_allclose(gm.precisions_ @ gm.covariances_, np.broadcast_to(np.eye(d),
                               (K, d, d)), atol=1e-9)
    P = gm.precisions_cholesky_
    np.testing.assert_allclose(P @ np.swapaxes(P, 1, 2), gm.precisions_, rtol=1e-10,
                               atol=1e-12)
    want = logsumexp(np.stack([
        np.log(gm.weights_[k]) + multivariate_normal(gm.means_[k], gm.covariances_[k]).logpdf(X)
        for k in range(K)
    ]), axis=0)
    assert_close_at_scale(gm.score_samples(X), want, 1e-10)
    n = X.shape[0]
    n_params = K * (d * q - q * (q - 1) // 2 + d) + K * d + K - 1
    assert gm.aic(X) == pytest.approx(-2 * gm.score(X) * n + 2 * n_params)
    assert gm.bic(X) == pytest.approx(-2 * gm.score(X) * n + n_params * np.log(n))
    assert gm.predict(X).shape == (n,) and gm.predict_proba(X).shape == (n, K)


def test_factor_fit_is_the_same_chunked_and_streamed(rng):
    X = _blobs(rng, d=4)
    kw = {"covariance_type": "factor", "n_factors": 1, "random_state": 0, "max_iter": 30,
          "tol": 0.0}
    with pytest.warns(Warning, match="did not converge"):
        whole = GaussianMixture(3, **kw).fit(X)
    with pytest.warns(Warning, match="did not converge"):
        chunked = GaussianMixture(3, chunk_size=97, **kw).fit(X)
    with pytest.warns(Warning, match="did not converge"):
        streamed = GaussianMixture(3, **kw).fit([X[:250], X[250:]])
    for other in (chunked, streamed):
        np.testing.assert_allclose(other.lower_bounds_, whole.lower_bounds_, rtol=1e-10)
        np.testing.assert_allclose(other.loadings_, whole.loadings_, rtol=1e-7, atol=1e-9)


def test_factor_warm_start_continues(rng):
    X = _blobs(rng, d=4)
    gm = GaussianMixture(3, covariance_type="factor", n_factors=1, random_state=0,
                         warm_start=True, tol=1e-5, max_iter=5000).fit(X)
    first = gm.lower_bound_
    gm.fit(X)
    assert gm.n_iter_ <= 2 and gm.lower_bound_ >= first - 1e-9


def test_hundreds_of_dimensions(rng):
    d, q = 300, 5
    W = rng.normal(size=(d, q))
    X = np.concatenate([rng.normal(size=(600, q)) @ W.T + rng.normal(size=(600, d)) + 3 * k
                        for k in range(2)])
    gm = GaussianMixture(2, covariance_type="factor", n_factors=q, tol=1e-2,
                         random_state=0).fit(X)
    assert gm.covariances_.shape == (2, d, d)
    assert gm.score(X) > GaussianMixture(2, covariance_type="diag", random_state=0).fit(X).score(X)


@pytest.mark.parametrize(("kw", "match"), [
    ({"covariance_type": "factor"}, "needs n_factors"),
    ({"covariance_type": "full", "n_factors": 2}, "applies to covariance_type='factor'"),
    ({"covariance_type": "diag", "shrinkage": 5.0}, "applies to covariance_type='full'"),
    ({"covariance_type": "factor", "n_factors": 3}, "smaller than n_features = 3"),
    ({"covariance_type": "factor", "n_factors": 1, "precisions_init": np.ones((2, 3))},
     "precisions_init is not supported"),
    ({"covariance_type": "factor", "n_factors": 1, "missing": "em"}, "not supported"),
])
def test_meaningless_settings_are_refused_at_fit(rng, kw, match):
    gm = GaussianMixture(2, **kw)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        gm.fit(rng.normal(size=(50, 3)))


@pytest.mark.parametrize("kw", [{"shrinkage": -1.0}, {"n_factors": -1},
                                {"covariance_type": "low-rank"}])
def test_parameter_validation(rng, kw):
    with pytest.raises(InvalidParameterError):
        GaussianMixture(2, **kw).fit(rng.normal(size=(50, 3)))


def test_the_families_are_searchable_with_set_params(rng):
    template = GaussianMixture(2, random_state=0)
    assert {"shrinkage", "n_factors"} <= set(template.get_params())
    X = _blobs(rng, d=4)
    names = [clone(template).set_params(**grid).fit(X).family_ for grid in (
        {"shrinkage": 200.0},
        {"covariance_type": "factor", "n_factors": 2},
        {"covariance_type": "diag"},
    )]
    assert names == ["full-shrunk(200)", "factor(2)", "diag"]


@pytest.mark.parametrize("kw", [{}, {"covariance_type": "factor", "n_factors": 2}])
def test_sample_temperature(rng, kw):
    gm = GaussianMixture(3, random_state=0, **kw).fit(_blobs(rng, d=4))
    a, la = gm.sample(200, random_state=5)
    b, _ = gm.sample(200, random_state=5, temperature=1.0)
    np.testing.assert_array_equal(a, b)
    c, lc = gm.sample(200, random_state=5, temperature=0.25)
    np.testing.assert_array_equal(la, lc)
    np.testing.assert_allclose(c - gm.means_[lc], 0.5 * (a - gm.means_[la]), rtol=1e-12,
                               atol=1e-12)
    with pytest.raises(ValueError, match="temperature"):
        gm.sample(5, temperature=0.0)


@pytest.mark.parametrize("kw", [{"shrinkage": 20.0},
                                {"covariance_type": "factor", "n_factors": 2}])
def test_model_files_round_trip_the_families(rng, tmp_path, kw):
    import mixsynth

    X = _blobs(rng, d=4)
    gm = GaussianMixture(3, random_state=0, **kw).fit(X)
    gm.save(tmp_path / "m.msm")
    back = mixsynth.load(tmp_path / "m.msm")
    assert back.family_ == gm.family_ and back.get_params() == gm.get_params()
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
    np.testing.assert_array_equal(back.sample(20, random_state=3, temperature=0.5)[0],
                                  gm.sample(20, random_state=3, temperature=0.5)[0])
    if gm.covariance_type == "factor":
        np.testing.assert_array_equal(back.loadings_, gm.loadings_)
    else:
        assert not hasattr(back, "loadings_")


@parametrize_with_checks(
    [
        GaussianMixture(n_components=2, shrinkage=10.0, random_state=0),
        GaussianMixture(n_components=2, covariance_type="factor", n_factors=0, random_state=0),
        GaussianMixture(n_components=2, covariance_type="factor", n_factors=1, random_state=0),
    ],
    expected_failed_checks=lambda est: {
        # why: tests/test_gaussian_mixture.py::SAMPLE_WEIGHT_XFAIL
        "check_sample_weight_equivalence_on_dense_data": (
            "random initialisation draws land on different rows for shuffled weighted rows "
            "than for repeated rows (as for scikit-learn's KMeans)"),
    },
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("kw", [{"shrinkage": 30.0},
                                {"covariance_type": "factor", "n_factors": 2}])
def test_a_dask_array_fits_the_families_as_in_memory(rng, kw):
    da = pytest.importorskip("dask.array")
    X = _blobs(rng, d=4)
    settings = {"random_state": 0, "tol": 0.0, "max_iter": 8, **kw}
    with pytest.warns(Warning, match="did not converge"):
        a = GaussianMixture(3, **settings).fit(X)
    with pytest.warns(Warning, match="did not converge"):
        b = GaussianMixture(3, **settings).fit(da.from_array(X, chunks=(150, 4)))
    assert a.family_ == b.family_
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=1e-8, atol=1e-10)


def test_a_warm_start_with_other_settings_starts_afresh(rng):
    X = _blobs(rng, d=4)
    gm = GaussianMixture(3, covariance_type="factor", n_factors=1, warm_start=True,
                         random_state=0, tol=1e-3, max_iter=500).fit(X)
    gm.set_params(n_factors=2).fit(X)
    assert gm.family_ == "factor(2)" and gm.loadings_.shape == (3, 4, 2)
    gm.set_params(covariance_type="full", n_factors=None, shrinkage=5.0).fit(X)
    assert gm.family_ == "full-shrunk(5)" and not hasattr(gm, "loadings_")


def test_the_shrunk_family_fits_with_missing_values(rng):
    X = _blobs(rng, d=4)
    X[rng.random(X.shape) < 0.1] = np.nan
    plain = GaussianMixture(3, missing="em", random_state=0).fit(X)
    zero = GaussianMixture(3, missing="em", shrinkage=0.0, random_state=0).fit(X)
    np.testing.assert_array_equal(plain.lower_bounds_, zero.lower_bounds_)
    shrunk = GaussianMixture(3, missing="em", shrinkage=50.0, random_state=0).fit(X)
    assert shrunk.family_ == "full-shrunk(50)" and np.all(np.isfinite(shrunk.score_samples(X)))
    off = ~np.eye(4, dtype=bool)
    assert np.abs(shrunk.covariances_[:, off]).sum() < np.abs(plain.covariances_[:, off]).sum()
