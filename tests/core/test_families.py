"""The component-family seam: every registered family keeps the protocol's promises, and a new
family plugs into the EM loop and the sampler without editing them."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from mixsynth.core import (
    COVARIANCE_TYPES,
    Family,
    Params,
    Stats,
    e_step,
    estimate_log_prob,
    family,
    family_names,
    m_step,
    register,
    run_em,
    sample_mixture,
    suffstats,
)
from mixsynth.core._reference import suffstats_reference
from mixsynth.core.families import unregister
from mixsynth.core.families.gaussian import Full, Gaussian, gaussian
from tests.tolerance import assert_close_at_scale

from ..strategies import random_params

Array = NDArray[np.float64]


def test_the_four_covariance_types_are_the_registered_gaussian_families():
    assert COVARIANCE_TYPES == ("full", "tied", "diag", "spherical")
    assert set(COVARIANCE_TYPES) <= set(family_names())
    for name in COVARIANCE_TYPES:
        assert isinstance(family(name), Gaussian)
        assert family(name).name == name


def test_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown component family 'nope'.*'full'"):
        family("nope")
    with pytest.raises(ValueError, match="already registered"):
        register(_Renamed("full"))


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_tensors_round_trip(rng, name):
    params = random_params(rng, K=3, d=4, covariance_type=name)
    fam = params.family
    tensors = fam.to_tensors(params)
    assert {k: v.shape for k, v in tensors.items()} == fam.tensor_shapes(3, 4)
    back = fam.from_tensors({k: v.copy() for k, v in tensors.items()})
    assert back.covariance_type == name
    for key, value in fam.to_tensors(back).items():
        np.testing.assert_array_equal(value, tensors[key])


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_from_tensors_checks_names_shapes_and_invariants(rng, name):
    params = random_params(rng, K=3, d=4, covariance_type=name)
    fam = params.family
    tensors = fam.to_tensors(params)
    with pytest.raises(ValueError, match="missing tensor"):
        fam.from_tensors({k: v for k, v in tensors.items() if k != "means"})
    with pytest.raises(ValueError, match="'precisions_cholesky' has shape"):
        fam.from_tensors({**tensors, "precisions_cholesky": tensors["precisions_cholesky"][:2]})
    with pytest.raises(ValueError, match="'weights' has shape"):
        fam.from_tensors({**tensors, "weights": np.ones(4) / 4})
    with pytest.raises(ValueError, match="not a probability vector"):
        fam.from_tensors({**tensors, "weights": np.array([0.5, 0.5, 0.5])})
    bad = tensors["precisions_cholesky"].copy()
    bad.reshape(-1)[0] = -1.0  # a negative scale / diagonal entry
    with pytest.raises(ValueError, match="'precisions_cholesky'"):
        fam.from_tensors({**tensors, "precisions_cholesky": bad})
    if name in ("full", "tied"):
        dense = np.ones_like(tensors["precisions_cholesky"])
        with pytest.raises(ValueError, match="not triangular"):
            fam.from_tensors({**tensors, "precisions_cholesky": dense})


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
@pytest.mark.parametrize(("K", "d"), [(1, 1), (3, 4), (10, 7)])
def test_n_parameters_is_scikit_learns(name, K, d):
    sk = SkGaussianMixture(K, covariance_type=name)
    sk.means_ = np.zeros((K, d))
    assert family(name).n_parameters(K, d) == sk._n_parameters()


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_em_through_the_family_equals_em_on_the_textbook_statistics(rng, name):
    """The loop with the family's fast pass follows the trajectory of the textbook
    statistics (every pair, exact forms) to rounding."""
    truth = random_params(rng, K=4, d=3, covariance_type=name, spread=3.0)
    X, _ = sample_mixture(truth, 600, rng)
    w = rng.uniform(0.2, 2.0, size=600)
    start = random_params(rng, K=4, d=3, covariance_type=name, spread=1.0)
    kw = {"reg_covar": 1e-6, "tol": 0.0, "max_iter": 8}
    fast = run_em(lambda p: suffstats(X, p, w), start, **kw)
    slow = run_em(lambda p: suffstats_reference(X, p, w), start, **kw)
    np.testing.assert_allclose(fast.lower_bounds, slow.lower_bounds, rtol=1e-10)
    for attr in ("weights", "means", "precisions_cholesky"):
        np.testing.assert_allclose(
            getattr(fast.params, attr), getattr(slow.params, attr), rtol=1e-7, atol=1e-9
        )


@pytest.mark.parametrize("name", COVARIANCE_TYPES)
def test_public_functions_go_through_the_family(rng, name):
    params = random_params(rng, K=3, d=2, covariance_type=name)
    X = rng.normal(size=(20, 2))
    stats = suffstats(X, params)
    assert stats.family is params.family is family(name)
    assert m_step(stats, 1e-6).covariance_type == name
    np.testing.assert_array_equal(estimate_log_prob(X, params), params.family.log_prob(X, params))


# ------------------------------------------------------------------ a family defined here


class IdentityCovariance(Family):
    """Gaussian components with the identity as covariance: only weights and means are free.

    Written against the protocol alone: the textbook :meth:`Family.statistics` default, no
    precision factors (``precisions_cholesky`` holds ones, shape (K,), unused)."""

    name = "test-identity"

    def n_parameters(self, n_components: int, n_features: int) -> int:
        return n_components * n_features + n_components - 1

    def tensor_shapes(self, n_components: int, n_features: int) -> dict[str, tuple[int, ...]]:
        return {"weights": (n_components,), "means": (n_components, n_features)}

    def to_tensors(self, params: Params) -> dict[str, Array]:
        return {"weights": params.weights, "means": params.means}

    def from_tensors(self, tensors: dict[str, Array]) -> Params:
        weights, means = tensors["weights"], tensors["means"]
        if means.shape != (weights.size, means.shape[1]):
            raise ValueError("shape mismatch")
        return self.params(weights, means)

    def params(self, weights: Array, means: Array) -> Params:
        return Params(weights, means, np.ones(weights.size), self.name)

    def log_prob(self, X: Array, params: Params, packed: Array | None = None) -> Array:
        d = X.shape[1]
        sq = ((X[:, None, :] - params.means[None, :, :]) ** 2).sum(axis=2)
        return -0.5 * sq - 0.5 * d * np.log(2 * np.pi)

    def accumulate(
        self, X: Array, R: Array, centers: Array, *, packed: Array | None = None,
        exact: NDArray[np.bool_] | None = None, loglik: float = 0.0, n: float | None = None,
    ) -> Stats:
        return Stats(
            n=float(R.sum()) if n is None else n, loglik=loglik, nk=R.sum(axis=0),
            sx=R.T @ X, sxx=np.zeros(centers.shape[0]), centers=centers,
            covariance_type=self.name,
        )

    def m_step(self, stats: Stats, reg_covar: float) -> Params:
        nk = stats.nk + 1e-15
        return self.params(nk / nk.sum(), stats.sx / nk[:, None])

    def sample_grouped(
        self, params: Params, counts: NDArray[np.intp], rng: np.random.Generator,
        temperature: float = 1.0,
    ) -> Array:
        labels = np.repeat(np.arange(counts.size), counts)
        noise = rng.standard_normal((labels.size, params.n_features)) * np.sqrt(temperature)
        return params.means[labels] + noise


class _Renamed(IdentityCovariance):
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.fixture
def identity_family():
    fam = register(IdentityCovariance())
    yield fam
    unregister(fam.name)


def test_a_new_family_plugs_into_em_and_sampling(rng, identity_family):
    truth = identity_family.params(np.array([0.3, 0.7]), np.array([[-4.0, 0.0], [4.0, 1.0]]))
    X, labels = sample_mixture(truth, 4000, rng)
    assert X.shape == (4000, 2) and np.count_nonzero(np.diff(labels)) > 10  # shuffled
    n0 = int(np.count_nonzero(labels == 0))
    # six standard errors of a mean (1 / sqrt(n) for unit variances): a bug, not a seed, fails it
    np.testing.assert_allclose(X[labels == 1].mean(axis=0), [4.0, 1.0],
                               atol=6 / np.sqrt(4000 - n0))
    # six standard errors of a sample variance (sqrt(2 / n)): a bug, not a seed, fails it
    np.testing.assert_allclose(np.cov(X[labels == 0].T), np.eye(2), atol=6 * np.sqrt(2 / n0))

    start = identity_family.params(np.array([0.5, 0.5]), np.array([[-1.0, 0.0], [1.0, 0.0]]))
    seen: list[float] = []
    result = run_em(lambda p: suffstats(X, p), start, reg_covar=1e-6, tol=1e-10,
                    max_iter=200, on_iter=lambda info: seen.append(info.lower_bound))
    assert result.converged
    assert result.params.covariance_type == "test-identity"
    assert np.all(np.diff(seen) >= -1e-9 * np.abs(seen[1:]))  # EM never decreases it
    # against the truth within six standard errors (a fixed 0.1 on the means was 3.5 of
    # them for the smaller component: MIXSYNTH_TEST_SEED=1396138716 drew 0.103)
    np.testing.assert_allclose(result.params.weights, [0.3, 0.7],
                               atol=6 * np.sqrt(0.3 * 0.7 / 4000))
    n_k = np.array([n0, 4000 - n0])
    np.testing.assert_array_less(np.abs(result.params.means - truth.means),
                                 np.repeat(6 / np.sqrt(n_k)[:, None], 2, axis=1))
    # and, the components lying 8 standard deviations apart, EM's means are the labelled
    # rows' means up to the few rows between them
    labelled = np.array([X[labels == k].mean(axis=0) for k in (0, 1)])
    np.testing.assert_allclose(result.params.means, labelled, atol=0.05)

    # the log-density is a normalised Gaussian's, and the generic E-step uses it
    want = multivariate_normal(truth.means[0], np.eye(2)).logpdf(X[:5])
    assert_close_at_scale(estimate_log_prob(X[:5], truth)[:, 0], want, 1e-12)
    _, log_resp = e_step(X[:5], truth)
    np.testing.assert_allclose(np.exp(log_resp).sum(axis=1), 1.0, rtol=1e-12)

    back = identity_family.from_tensors(identity_family.to_tensors(result.params))
    np.testing.assert_array_equal(back.means, result.params.means)


def test_conversions_refuse_a_family_without_covariances(identity_family):
    with pytest.raises(ValueError, match="not a Gaussian covariance type"):
        gaussian("test-identity")


class ShrunkFull(Full):
    """Full covariances shrunk toward their diagonals, ``(1 - tau) S + tau diag(S)``: a family
    that estimates differently but stores full factors, so it keeps the fast pass."""

    name = "test-shrunk"

    def __init__(self, tau: float) -> None:
        self.tau = tau

    def _covariance(self, stats, delta, u, nk, reg_covar):
        cov = super()._covariance(stats, delta, u, nk, reg_covar)
        diag = np.einsum("kii->ki", cov).copy()
        cov *= 1.0 - self.tau
        cov[:, np.arange(cov.shape[1]), np.arange(cov.shape[1])] = diag
        return cov


@pytest.fixture
def shrunk_family(request):
    fam = register(ShrunkFull(request.param))
    yield fam
    unregister(fam.name)


@pytest.mark.parametrize("shrunk_family", [0.0, 0.5], indirect=True)
def test_a_family_sharing_a_layout_keeps_the_fast_pass(rng, shrunk_family):
    truth = random_params(rng, K=3, d=4, covariance_type="full", spread=3.0)
    X, _ = sample_mixture(truth, 900, rng)
    start = Params(truth.weights, truth.means + 0.3, truth.precisions_cholesky, "test-shrunk")
    kw = {"reg_covar": 1e-6, "tol": 0.0, "max_iter": 6}
    result = run_em(lambda p: suffstats(X, p), start, **kw)
    assert result.params.covariance_type == "test-shrunk"
    np.testing.assert_allclose(  # the fast pass computes the textbook statistics
        suffstats(X, result.params).sxx, suffstats_reference(X, result.params).sxx,
        rtol=1e-10, atol=1e-10,
    )
    as_full = Params(start.weights, start.means, start.precisions_cholesky, "full")
    full = run_em(lambda p: suffstats(X, p), as_full, **kw)
    if shrunk_family.tau == 0.0:  # no shrinkage: exactly the full family's trajectory
        np.testing.assert_array_equal(result.lower_bounds, full.lower_bounds)
        np.testing.assert_array_equal(result.params.means, full.params.means)
    else:
        cov = shrunk_family.covariances_from_precisions_cholesky(
            result.params.precisions_cholesky)
        off = cov - np.einsum("kii->ki", cov)[:, :, None] * np.eye(4)
        full_cov = gaussian("full").covariances_from_precisions_cholesky(
            full.params.precisions_cholesky)
        full_off = full_cov - np.einsum("kii->ki", full_cov)[:, :, None] * np.eye(4)
        assert np.abs(off).max() < 0.75 * np.abs(full_off).max()


def test_extra_sums_add_like_the_others_and_must_match():
    from mixsynth.core import Stats

    c = np.zeros((2, 1))

    def stats(extra):
        return Stats(1.0, -1.0, np.ones(2), np.ones((2, 1)), np.ones((2, 1)), c, "diag", extra)

    total = stats({"counts": np.array([1.0, 2.0])}) + stats({"counts": np.array([3.0, 4.0])})
    np.testing.assert_array_equal(total.extra["counts"], [4.0, 6.0])
    assert (stats({}) + stats({})).extra == {}
    with pytest.raises(ValueError, match="extra"):
        stats({"counts": np.ones(2)}) + stats({})
