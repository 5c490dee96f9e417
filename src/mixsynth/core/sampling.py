"""Drawing rows from a mixture of any family."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params

__all__ = ["check_temperature", "sample_mixture"]

Array = NDArray[np.float64]


def check_temperature(temperature: object) -> float:
    """``temperature`` as a float, checked: a finite number ``> 0`` (not a bool or a string).

    Raises
    ------
    ValueError
        Naming the value, otherwise.
    """
    if not (isinstance(temperature, (int, float, np.integer, np.floating))
            and not isinstance(temperature, (bool, np.bool_))
            and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}.")
    return float(temperature)


def sample_mixture(
    params: Params, n_samples: int, rng: np.random.Generator, temperature: float = 1.0
) -> tuple[Array, NDArray[np.intp]]:
    """Draw ``n_samples`` rows and their component labels, in random order.

    The counts per component are multinomial; the family draws each component's rows
    (:meth:`~mixsynth.core.families.Family.sample_grouped`); the rows are then shuffled, since
    rows grouped by component would bias any ``head()`` or subsample.

    Parameters
    ----------
    params : Params
    n_samples : int
    rng : numpy.random.Generator
    temperature : float, default=1.0
        ``t > 0``. Scales each component's within-component spread: a Gaussian component's
        covariance becomes ``t Σ_k`` (its draws' noise is scaled by ``sqrt(t)``), a categorical
        one's log-probabilities are divided by ``t`` (see
        :class:`~mixsynth.core.families.Family`). The weights are not tempered. ``t = 1``
        is the model itself and draws exactly what it draws without the argument; ``t < 1``
        trades diversity for typicality.

    Raises
    ------
    ValueError
        When ``temperature`` is not a finite positive number.

    Returns
    -------
    X : ndarray of shape (n_samples, d)
    labels : ndarray of shape (n_samples,)
    """
    temperature = check_temperature(temperature)
    K = params.n_components
    weights = params.weights / params.weights.sum()  # guard against rounding in stored weights
    counts = rng.multinomial(n_samples, weights)
    labels = np.repeat(np.arange(K), counts)
    X = params.family.sample_grouped(params, counts, rng, temperature=temperature)
    order = rng.permutation(n_samples)
    return X[order], labels[order]
