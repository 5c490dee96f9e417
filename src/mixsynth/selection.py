"""Model selection: fit every candidate (K × covariance type) and keep the best by a criterion."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.seeding import SeedLike, spawn_seeds

__all__ = ["CRITERIA", "Candidate", "SelectionResult", "select"]

#: Criteria known to :func:`select`; lower is better for each.
CRITERIA: tuple[str, ...] = ("aic", "bic")

ProgressFn = Callable[[int, int, "Candidate"], None]


@dataclass(frozen=True)
class Candidate:
    """One fitted candidate of a selection sweep.

    Attributes
    ----------
    n_components : int
    covariance_type : str
    score : float
        The criterion's value (lower is better for AIC and BIC).
    aic, bic : float
        On the training data, in the space the mixture was fitted in.
    log_likelihood : float
        Mean per-sample log-likelihood on the training data (same space).
    n_parameters : int
        Free parameters of the mixture.
    converged : bool
    n_iter : int
    fit_time : float
        Seconds.
    """

    n_components: int
    covariance_type: str
    score: float
    aic: float
    bic: float
    log_likelihood: float
    n_parameters: int
    converged: bool
    n_iter: int
    fit_time: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of a selection sweep: every candidate, and which one won.

    Attributes
    ----------
    criterion : str
    candidates : tuple of Candidate
        In the order they were fitted.
    best_index : int
        Position of the chosen candidate in ``candidates``.
    """

    criterion: str
    candidates: tuple[Candidate, ...]
    best_index: int

    @property
    def best(self) -> Candidate:
        """The chosen candidate."""
        return self.candidates[self.best_index]

    @property
    def scores(self) -> NDArray[np.float64]:
        """The criterion of every candidate, in order."""
        return np.array([c.score for c in self.candidates])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "criterion": self.criterion,
            "best_index": self.best_index,
            "best": self.best.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


def candidate_grid(
    n_components: int | Iterable[int], covariance_type: str | Sequence[str]
) -> list[tuple[int, str]]:
    """All (K, covariance type) pairs, K ascending within each covariance type."""
    ks = [int(n_components)] if isinstance(n_components, (int, np.integer)) else [
        int(k) for k in n_components
    ]
    types = [covariance_type] if isinstance(covariance_type, str) else list(covariance_type)
    if not ks:
        raise ValueError("n_components must name at least one candidate.")
    if any(k < 1 for k in ks):
        raise ValueError(f"Every candidate n_components must be >= 1, got {ks}.")
    if not types:
        raise ValueError("covariance_type must name at least one covariance type.")
    return [(k, t) for t in types for k in sorted(set(ks))]


def select(
    Z: NDArray[np.float64],
    grid: Sequence[tuple[int, str]],
    *,
    criterion: str,
    random_state: SeedLike,
    mixture_params: dict[str, Any],
    progress: ProgressFn | None = None,
) -> tuple[SelectionResult, GaussianMixture]:
    """Fit every candidate on ``Z`` and pick the best by an information criterion.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Data in the space the mixtures are fitted in (whitened).
    grid : sequence of (n_components, covariance_type)
    criterion : {"aic", "bic"}
    random_state : seed
        Candidate ``i`` is seeded by the ``i``-th child of this seed, whatever order the
        candidates run in.
    mixture_params : dict
        Further :class:`GaussianMixture` parameters (tol, reg_covar, max_iter, n_init, …).
    progress : callable, optional
        ``progress(done, total, candidate)`` after each candidate.

    Returns
    -------
    result : SelectionResult
    mixture : GaussianMixture
        The chosen candidate, fitted on all of ``Z``.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}.")
    seeds = spawn_seeds(random_state, len(grid))
    candidates: list[Candidate] = []
    best: tuple[float, int, GaussianMixture] | None = None
    for i, (k, cov_type) in enumerate(grid):
        t0 = time.perf_counter()
        gm = GaussianMixture(
            n_components=k,
            covariance_type=cov_type,
            random_state=int(seeds[i].generate_state(1)[0]),
            **mixture_params,
        )
        with warnings.catch_warnings():
            # recorded per candidate (``converged``) instead of one warning per fit
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(Z)
        fit_time = time.perf_counter() - t0
        aic, bic = gm.aic(Z), gm.bic(Z)
        cand = Candidate(
            n_components=k,
            covariance_type=cov_type,
            score=aic if criterion == "aic" else bic,
            aic=aic,
            bic=bic,
            log_likelihood=float(gm.score(Z)),
            n_parameters=gm._n_parameters(),
            converged=gm.converged_,
            n_iter=gm.n_iter_,
            fit_time=fit_time,
        )
        candidates.append(cand)
        if best is None or cand.score < best[0]:
            best = (cand.score, i, gm)
        if progress is not None:
            progress(i + 1, len(grid), cand)
    assert best is not None
    return SelectionResult(criterion, tuple(candidates), best[1]), best[2]
