"""ArraySource: in-memory data as a source, validated once, fitted as fast as an array."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from mixsynth import GaussianMixture
from mixsynth.sources import ArraySource, as_source, kernels


def test_as_source_is_total(rng):
    X = rng.normal(size=(20, 2))
    source = as_source(X)
    assert isinstance(source, ArraySource) and source.in_memory
    assert as_source(source) is source
    assert source.materialize() is X  # the data as given
    frame = pd.DataFrame(X, columns=["a", "b"])
    named = as_source(frame)
    assert list(named.feature_names) == ["a", "b"] and named.materialize() is frame


@pytest.mark.parametrize(("X", "message"), [
    (np.empty((0, 3)), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1"),
    (np.arange(3.0), "Expected 2D array, got 1D array instead"),
    (np.array([[1.0, 2.0], [3.0, np.nan]]), r"column 1, first at row 1"),
])
def test_validated_at_construction(X, message):
    with pytest.raises(ValueError, match=message):
        ArraySource(X)


def test_estimator_validation_names_the_estimator():
    with pytest.raises(ValueError, match="minimum of 2 is required by GaussianMixture"):
        GaussianMixture().fit(np.ones((1, 2)))


def test_input_is_neither_copied_nor_written(rng):
    X = rng.normal(size=(200, 3))
    X.flags.writeable = False
    source = ArraySource(X)
    assert source.X is X
    GaussianMixture(2, random_state=0).fit(source)


def test_a_source_fits_as_its_array(rng):
    X = np.r_[rng.normal(size=(150, 2)), rng.normal(loc=6.0, size=(150, 2))]
    w = rng.uniform(0.5, 2.0, size=len(X))
    want = GaussianMixture(2, n_init=2, random_state=0).fit(X, sample_weight=w)
    got = GaussianMixture(2, n_init=2, random_state=0).fit(ArraySource(X, w))
    np.testing.assert_array_equal(got.means_, want.means_)
    np.testing.assert_array_equal(got.covariances_, want.covariances_)


def test_the_fit_packs_each_cut_once(rng, monkeypatch):
    """The fit's kernels keep the packed outer products across iterations and restarts."""
    calls = []
    real = kernels.pack_outer
    monkeypatch.setattr(kernels, "pack_outer", lambda X: calls.append(len(X)) or real(X))
    X = rng.normal(size=(1000, 3))
    gm = GaussianMixture(3, n_init=2, max_iter=4, tol=0.0, chunk_size=300, random_state=0)
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    assert calls == [300, 300, 300, 100]


def test_subset_is_held_out_rows(rng):
    X = rng.normal(size=(30, 2))
    w = np.arange(30.0) + 1
    part = ArraySource(X, w).subset(np.arange(30) % 3 == 0)
    np.testing.assert_array_equal(part.X, X[::3])
    np.testing.assert_array_equal(part.sample_weight, w[::3])
