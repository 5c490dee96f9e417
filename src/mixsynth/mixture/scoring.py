"""Scoring and sampling a fitted mixture: log-densities, posteriors, labels, AIC/BIC, rows.

:class:`_Scoring` is a mixin of :class:`~mixsynth.gaussian_mixture.GaussianMixture`: every
per-row method runs over E-step-sized chunks of the validated rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from mixsynth.core import Params, e_step, estimate_weighted_log_prob, sample_mixture
from mixsynth.mixture.driver import _rows_per_chunk, score_on_source
from mixsynth.mixture.families import _n_parameters
from mixsynth.seeding import SeedLike, as_generator
from mixsynth.sources import Source, as_source, is_out_of_core
from mixsynth.validation import check_input

if TYPE_CHECKING:
    from mixsynth.gaussian_mixture import GaussianMixture

Array = NDArray[np.float64]


class _Scoring:
    """Per-row scores, labels, information criteria and sampling: a mixin of ``GaussianMixture``.

    Its methods annotate ``self`` as ``GaussianMixture`` and ignore mypy's "erased type of
    self" error on each (``misc``): the mixin is only ever a base of that class, and so its
    bodies are checked against the estimator's attributes.
    """

    def _per_chunk(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike, fn: Callable[[Array, Params], Any], empty: Any
    ) -> Any:
        """``fn(chunk, params)`` over the validated rows of ``X`` in E-step-sized chunks,
        concatenated (``empty`` when there are no rows): the body of every per-row method."""
        check_is_fitted(self)
        X = check_input(X, estimator=self, reset=False, allow_nan=self.missing == "em")
        params = self._params()
        # densities are shift-invariant: work about the mixture's mean, as the fit works about
        # the data's, so the kernels stay accurate (and finite) for data with a large offset
        ref = params.weights @ params.means
        params = replace(params, means=params.means - ref)
        rows = self.chunk_size or _rows_per_chunk(X.shape[1], self.n_components,
                                                  params.covariance_type)
        parts = [fn(X[start : start + rows] - ref, params)
                 for start in range(0, X.shape[0], rows)]
        return np.concatenate(parts) if parts else empty

    def score_samples(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike
    ) -> Array:
        """Log-density of each row, ``log p(x)``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._per_chunk(
            X, lambda c, p: logsumexp(estimate_weighted_log_prob(c, p), axis=1), np.empty(0)
        )

    def score(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: Any, y: Any = None, sample_weight: ArrayLike | None = None
    ) -> float:
        """Mean (weighted) per-sample log-likelihood of ``X`` (out-of-core data is streamed)."""
        if isinstance(X, Source) or is_out_of_core(X):
            return self._score_source(X, sample_weight)
        scores = self.score_samples(X)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, scores[:, None])
        return float(np.average(scores, weights=w))

    def _score_source(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: Any, sample_weight: Any
    ) -> float:
        source = as_source(X, sample_weight)
        try:
            return score_on_source([self], source)[0]
        finally:
            if source is not X:
                source.release()

    def predict_proba(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike
    ) -> Array:
        """Posterior probability of each component for each row, shape (n_samples, K)."""
        return self._per_chunk(
            X, lambda c, p: np.exp(e_step(c, p)[1]), np.empty((0, self.n_components))
        )

    def predict(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike
    ) -> NDArray[np.intp]:
        """Most probable component of each row."""
        return self._per_chunk(
            X, lambda c, p: estimate_weighted_log_prob(c, p).argmax(axis=1),
            np.empty(0, dtype=np.intp),
        )

    def _n_parameters(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture
    ) -> int:
        name = self._params().covariance_type
        return _n_parameters(self.n_components, self.means_.shape[1], name)

    def aic(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike
    ) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return float(-2.0 * self.score(X) * n + 2.0 * self._n_parameters())

    def bic(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X: ArrayLike
    ) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return float(-2.0 * self.score(X) * n + self._n_parameters() * np.log(n))

    def sample(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture,
        n_samples: int = 1, random_state: SeedLike = None, temperature: float = 1.0
    ) -> tuple[Array, NDArray[np.intp]]:
        """Draw rows from the fitted mixture, in random order.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, Generator or SeedSequence
            Per-call seed: the same seed gives the same rows; ``None`` gives fresh rows.
        temperature : float, default=1.0
            ``t > 0``: rows of component ``k`` are drawn from ``N(μ_k, t Σ_k)`` (the weights
            and means are the model's). ``t = 1`` is the model itself (the same rows as
            without the argument); ``t < 1`` trades diversity for typical rows. See
            :func:`mixsynth.core.sample_mixture`.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        params = self._params()
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}.")
        return sample_mixture(
            params, int(n_samples), as_generator(random_state), temperature=temperature
        )
