"""The fitted model objects a synthesizer delegates to: types instead of modes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mixsynth import GaussianMixture, Synthesizer
from mixsynth.model import ClassConditional, PointMass, WhitenedMixture
from mixsynth.whitening import ConstantColumnsWarning


def test_constant_data_is_a_point_mass(rng: np.random.Generator) -> None:
    X = np.tile([1.5, -2.0], (20, 1))
    with pytest.warns(ConstantColumnsWarning):
        s = Synthesizer(random_state=0).fit(X)
    assert isinstance(s.model_, WhitenedMixture) and isinstance(s.model_.mixture, PointMass)
    assert s.mixture_ is None and s.selection_ is None and s.classes_ is None
    np.testing.assert_array_equal(s.sample(5, random_state=1), X[:5])
    assert s.n_parameters_ == 0 and s.model_.n_components == 1
    assert np.all(np.isfinite(s.score_samples(X[:3])))
    with pytest.raises(ValueError, match="constant"):
        s.sample(2, given={0: 3.0})


def test_point_mass_stands_where_a_mixture_would() -> None:
    Z, labels = PointMass().sample(4)
    assert Z.shape == (4, 0) and np.all(labels == 0)
    np.testing.assert_array_equal(PointMass().score_samples(np.zeros((3, 0))), np.zeros(3))
    assert PointMass()._n_parameters() == 0


def test_a_plain_fit_is_a_whitened_mixture(rng: np.random.Generator) -> None:
    X = rng.normal(size=(80, 3))
    s = Synthesizer(n_components=[1, 2], criterion="bic", guard=False, random_state=0).fit(X)
    m = s.model_
    assert isinstance(m, WhitenedMixture) and isinstance(m.mixture, GaussianMixture)
    assert s.mixture_ is m.mixture and s.whitener_ is m.whitener and s.selection_ is m.selection
    assert s.n_parameters_ == m.mixture._n_parameters()
    with pytest.raises(AttributeError):
        s.class_models_  # noqa: B018 (the attribute of a class-conditional fit only)
    with pytest.raises(AttributeError):
        s.class_priors_  # noqa: B018
    with pytest.raises(ValueError, match="class-conditional"):
        s.sample(3, y="a")
    with pytest.raises(AttributeError):
        s.mixture_ = None  # type: ignore[misc]  # read-only views of model_
    np.testing.assert_array_equal(s.sample(6, random_state=2)[:, 0],
                                  m.sample(6, np.random.default_rng(2), {})[0][:, 0])


def test_class_conditional_is_a_composite(rng: np.random.Generator) -> None:
    X = np.r_[rng.normal(size=(60, 2)), rng.normal(size=(40, 2)) + 6.0]
    y = np.repeat([3, 7], [60, 40])
    s = Synthesizer(n_components=[1, 2], criterion="bic", guard=False, random_state=0).fit(X, y)
    m = s.model_
    assert isinstance(m, ClassConditional)
    assert s.whitener_ is None and s.mixture_ is None and s.selection_ is None
    np.testing.assert_array_equal(s.classes_, [3, 7])
    np.testing.assert_allclose(s.class_priors_, [0.6, 0.4])
    assert all(isinstance(c.model_, WhitenedMixture) for c in s.class_models_)
    np.testing.assert_array_equal(
        s.lower_bounds_, np.min([c.lower_bounds_ for c in s.class_models_], axis=0))
    assert np.all(s.lower_bounds_ <= X.min(axis=0))
    Xs, ys = s.sample(50, random_state=1, y=7)
    assert np.all(ys == 7) and Xs.shape == (50, 2)
    with pytest.raises(ValueError, match="Unknown class 5"):
        s.sample(2, y=5)
    assert m.n_parameters == sum(c.n_parameters_ for c in s.class_models_) + 1
    assert dataclasses.replace(m, memorization=None).n_components == m.n_components
    parts = m.parts()
    assert [label for label, _, _ in parts] == [3, 7]
    assert [prior for _, prior, _ in parts] == pytest.approx([0.6, 0.4])
    assert [part for _, _, part in parts] == [c.model_ for c in s.class_models_]
    single = s.class_models_[0].model_
    assert single.parts() == ((None, 1.0, single),)
