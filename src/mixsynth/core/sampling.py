"""Drawing rows from a mixture of any family."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params

__all__ = ["sample_mixture"]

Array = NDArray[np.float64]


def sample_mixture(
    params: Params, n_samples: int, rng: np.random.Generator
) -> tuple[Array, NDArray[np.intp]]:
    """Draw ``n_samples`` rows and their component labels, in random order.

    The counts per component are multinomial; the family draws each component's rows
    (:meth:`~mixsynth.core.families.Family.sample_grouped`); the rows are then shuffled, since
    rows grouped by component would bias any ``head()`` or subsample.

    Returns
    -------
    X : ndarray of shape (n_samples, d)
    labels : ndarray of shape (n_samples,)
    """
    K = params.n_components
    weights = params.weights / params.weights.sum()  # guard against rounding in stored weights
    counts = rng.multinomial(n_samples, weights)
    labels = np.repeat(np.arange(K), counts)
    X = params.family.sample_grouped(params, counts, rng)
    order = rng.permutation(n_samples)
    return X[order], labels[order]
