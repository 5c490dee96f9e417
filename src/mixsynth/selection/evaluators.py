"""How a candidate is scored: held-out folds, or an information criterion (AIC / BIC).

An evaluator fits one configured :class:`~mixsynth.GaussianMixture` (a clone of the sweep's
template with the candidate's ``n_components``, ``covariance_type`` and ``reg_covar``) from the
candidate's own seed stream, and returns its :class:`~mixsynth.selection.Candidate`;
:meth:`refit` fits the winner on every row.

``HeldOut``
    k-fold cross-validated mean log-likelihood of the held-out rows, **in the original data
    space**: the :class:`~mixsynth.Whitener` is refitted inside each fold (no leakage) and the
    score of a held-out row ``x`` is ``log p_mix(whiten(x)) + whitener.residual_log_density(x)``,
    so models with different reductions compare. Higher is better. A candidate whose paired
    per-fold scores after two folds are :data:`ABANDON_SE` standard errors below the best so far
    is abandoned.
``InformationCriterion``
    AIC or BIC of a fit on all rows, in the whitened space. Lower is better. On a
    :class:`~mixsynth.sources.Source` a batch of candidates can share its passes.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from mixsynth.gaussian_mixture import GaussianMixture, fit_on_source, score_on_source
from mixsynth.seeding import SeedLike, SeedPlan, as_int, child
from mixsynth.selection.result import CRITERIA, Candidate, Config
from mixsynth.sources import Source
from mixsynth.whitening import Whitener

__all__ = [
    "ABANDON_SE",
    "Evaluator",
    "Fold",
    "FoldsUnsupportedError",
    "HeldOut",
    "InformationCriterion",
    "Outcome",
    "information_criteria",
    "make_folds",
]

#: A held-out candidate is abandoned after two folds when its per-fold scores, compared fold by
#: fold with the best complete candidate's (paired: folds differ in difficulty far more than
#: candidates do), are this many standard errors below.
ABANDON_SE = 4.0

Array = NDArray[np.float64]


class FoldsUnsupportedError(ValueError):
    """The data cannot give the folds asked for: fewer rows than folds, or a fold whose training
    rows are all one point (no direction left to fit a mixture in). A selection may fall back to
    an information criterion over all rows and say so; the message names the reason."""


class Outcome(NamedTuple):
    """An evaluated candidate, with its fit on all rows when the evaluation made one."""

    candidate: Candidate
    mixture: GaussianMixture | None


def information_criteria(log_likelihood: float, n: int, n_parameters: int) -> tuple[float, float]:
    """``(AIC, BIC)`` from the mean per-row log-likelihood of ``n`` rows.

    ``AIC = -2 n ll + 2 p`` and ``BIC = -2 n ll + p log n`` (the expressions of
    :meth:`GaussianMixture.aic` and :meth:`GaussianMixture.bic`), written once here.
    """
    aic = float(-2.0 * log_likelihood * n + 2.0 * n_parameters)
    bic = float(-2.0 * log_likelihood * n + n_parameters * math.log(n))
    return aic, bic


def _fit(estimator: GaussianMixture, Z: Array | Source, seed: int) -> GaussianMixture:
    """A fresh clone of ``estimator`` fitted on ``Z`` with ``random_state=seed``."""
    gm = clone(estimator).set_params(random_state=seed)
    with warnings.catch_warnings():
        # recorded per candidate (``converged``) rather than one warning per fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(Z)
    return gm


def _config(estimator: GaussianMixture) -> Config:
    return (estimator.n_components, estimator.covariance_type, estimator.reg_covar)


class FoldFits:
    """One candidate's fits on the folds and what the fold criteria record of each: the
    held-out rows' scores (in the original space) and the training fits' AIC, BIC and
    log-likelihood. Held-out and realism share it."""

    def __init__(self) -> None:
        self.scores: list[float] = []
        self.per_row: list[Array] = []
        self.aics: list[float] = []
        self.bics: list[float] = []
        self.lls: list[float] = []
        self.iters: list[int] = []
        self.converged = True
        self.n_parameters = 0

    def fit(self, estimator: GaussianMixture, fold: Fold, seed: int) -> GaussianMixture:
        """Fit ``estimator`` on the fold's training rows, score its held-out rows, record."""
        gm = _fit(estimator, fold.Z_train, seed)
        val = gm.score_samples(fold.Z_val) + fold.residual_val
        self.per_row.append(val)
        self.scores.append(float(np.mean(val)))
        ll = float(gm.score(fold.Z_train))
        self.n_parameters = gm._n_parameters()
        aic, bic = information_criteria(ll, fold.Z_train.shape[0], self.n_parameters)
        self.aics.append(aic)
        self.bics.append(bic)
        self.lls.append(ll)
        self.iters.append(gm.n_iter_)
        self.converged = self.converged and gm.converged_
        return gm

    def summary(self) -> dict[str, Any]:
        """The :class:`Candidate` fields the folds decide (means over the folds run)."""
        rows = np.concatenate(self.per_row)
        return dict(
            aic=float(np.mean(self.aics)),
            bic=float(np.mean(self.bics)),
            log_likelihood=float(np.mean(self.lls)),
            n_parameters=self.n_parameters,
            converged=self.converged,
            n_iter=max(self.iters),
            heldout_loglik=float(np.mean(rows)),
            heldout_median=float(np.median(rows)),
        )


class Evaluator(Protocol):
    """What :func:`~mixsynth.selection.select` needs of a criterion."""

    @property
    def criterion(self) -> str: ...

    @property
    def n_folds(self) -> int | None: ...

    def evaluate(
        self,
        estimator: GaussianMixture,
        seed: np.random.SeedSequence,
        reference: tuple[float, ...] = (),
    ) -> Outcome:
        """Fit and score one configured estimator from the candidate's seed stream."""
        ...

    def refit(
        self, estimator: GaussianMixture, seed: np.random.SeedSequence, seeds: SeedPlan
    ) -> GaussianMixture:
        """The winner fitted on every row."""
        ...

    def for_tasks(self) -> Evaluator:
        """What a task needs to evaluate a candidate (shipped to workers): no refit data."""
        ...


@dataclass(frozen=True)
class Fold:
    """A fold's data, already whitened by a Whitener fitted on its training rows.

    Attributes
    ----------
    Z_train : ndarray of shape (n_train, k)
    Z_val : ndarray of shape (n_val, k)
    residual_val : ndarray of shape (n_val,)
        The held-out rows' log-density outside the whitened directions (and the support
        transform's log-Jacobian), so scores are in the original space.
    """

    Z_train: Array
    Z_val: Array
    residual_val: Array


def make_folds(
    X: Array,
    whitener: Whitener,
    n_folds: int,
    seed: SeedLike | SeedPlan,
    *,
    log_jacobian: Array | None = None,
) -> tuple[list[Fold], list[tuple[NDArray[np.intp], NDArray[np.intp]]]]:
    """Whitened folds: a fresh clone of ``whitener`` is fitted on each fold's training rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    whitener : Whitener
        Its settings are used; it is not fitted here.
    n_folds : int
    seed : seed or SeedPlan
        The split is drawn from the plan's ``"folds"`` stream.
    log_jacobian : ndarray of shape (n_samples,), optional
        Added to the held-out residual density when ``X`` is itself a transform of the data
        (the support transform), so scores stay in the original space.

    Returns
    -------
    folds : list of Fold
    splits : list of (train indices, validation indices)
    """
    if n_folds < 2:
        raise ValueError(f"cv must be >= 2 folds, got {n_folds}.")
    if X.shape[0] < n_folds:
        raise FoldsUnsupportedError(
            f"Cannot cross-validate {X.shape[0]} rows in {n_folds} folds; use fewer folds or "
            "criterion='bic'."
        )
    rs = SeedPlan.from_random_state(seed).int_seed("folds")
    splits = list(KFold(n_folds, shuffle=True, random_state=rs).split(X))
    folds: list[Fold] = []
    for train, val in splits:
        w = Whitener(whitener.n_components, whiten=whitener.whiten, scale=whitener.scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # constant columns: said once, at fit
            w.fit(X[train])
        if w.n_components_ == 0:
            raise FoldsUnsupportedError(
                f"Cannot cross-validate in {n_folds} folds: the training rows of fold "
                f"{len(folds) + 1} are all one point (the data has too few distinct rows); use "
                "fewer folds or criterion='bic'."
            )
        residual = w.residual_log_density(X[val])
        if log_jacobian is not None:
            residual = residual + log_jacobian[val]
        folds.append(Fold(w.transform(X[train]), w.transform(X[val]), residual))
    return folds, splits


@dataclass(frozen=True)
class HeldOut:
    """The held-out criterion over ``folds``; ``Z`` (every row, whitened) is for the refit.

    Parameters
    ----------
    folds : sequence of Fold
    Z : ndarray of shape (n_samples, k), optional
        Needed only by :meth:`refit` (a worker evaluating candidates does without it).
    """

    folds: Sequence[Fold]
    Z: Array | None = None

    criterion = "heldout"

    def __post_init__(self) -> None:
        if not self.folds:
            raise ValueError("criterion='heldout' needs folds.")

    @property
    def n_folds(self) -> int:
        return len(self.folds)

    def evaluate(
        self,
        estimator: GaussianMixture,
        seed: np.random.SeedSequence,
        reference: tuple[float, ...] = (),
    ) -> Outcome:
        """Fit fold ``j`` from the ``j``-th child of ``seed``; abandon a hopeless candidate
        (paired comparison with ``reference``, the best complete candidate's fold scores)."""
        t0 = time.perf_counter()
        fits = FoldFits()
        scores = fits.scores
        abandoned = False
        for j, fold in enumerate(self.folds):
            fits.fit(estimator, fold, as_int(child(seed, j)))
            if reference and 2 <= len(scores) < len(self.folds):
                diff = np.array(scores) - np.array(reference[: len(scores)])
                se = float(np.std(diff, ddof=1)) / math.sqrt(len(diff))
                if diff.mean() + ABANDON_SE * se < 0:
                    abandoned = True
                    break
        cand = Candidate(
            *_config(estimator),
            score=float(np.mean(scores)),
            score_std=float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
            fold_scores=tuple(scores),
            fit_time=time.perf_counter() - t0,
            abandoned=abandoned,
            **fits.summary(),
        )
        return Outcome(cand, None)

    def for_tasks(self) -> HeldOut:
        """The folds only: the rows for the refit stay in this process."""
        return dataclasses.replace(self, Z=None)

    def refit(
        self, estimator: GaussianMixture, seed: np.random.SeedSequence, seeds: SeedPlan
    ) -> GaussianMixture:
        """The winner on every row, seeded by the plan's ``"refit"`` stream."""
        if self.Z is None:
            raise ValueError("HeldOut.refit needs Z, every row whitened.")
        return _fit(estimator, self.Z, seeds.int_seed("refit"))


@dataclass(frozen=True)
class InformationCriterion:
    """AIC or BIC of a fit on all of ``Z`` (an array, or a streamed Source).

    Parameters
    ----------
    criterion : {"aic", "bic"}
    Z : ndarray of shape (n_samples, k) or Source
    """

    criterion: str
    Z: Array | Source

    n_folds = None

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA or self.criterion not in ("aic", "bic"):
            raise ValueError(f"criterion must be 'aic' or 'bic', got {self.criterion!r}.")

    @property
    def shares_passes(self) -> bool:
        """A batch of candidates can be fitted together, each pass serving all of them."""
        return isinstance(self.Z, Source)

    def _candidate(self, gm: GaussianMixture, ll: float, fit_time: float) -> Candidate:
        p = gm._n_parameters()
        aic, bic = information_criteria(ll, self.Z.shape[0], p)
        return Candidate(
            *_config(gm), score=aic if self.criterion == "aic" else bic, score_std=None,
            fold_scores=(), aic=aic, bic=bic, log_likelihood=ll,
            n_parameters=p, converged=gm.converged_, n_iter=gm.n_iter_, fit_time=fit_time,
        )

    def evaluate(
        self,
        estimator: GaussianMixture,
        seed: np.random.SeedSequence,
        reference: tuple[float, ...] = (),
    ) -> Outcome:
        """Fit on all rows from ``seed`` and score (one scoring pass: ``Z`` may stream)."""
        t0 = time.perf_counter()
        gm = _fit(estimator, self.Z, as_int(seed))
        ll = float(gm.score(self.Z))
        return Outcome(self._candidate(gm, ll, time.perf_counter() - t0), gm)

    def evaluate_together(
        self,
        estimators: Sequence[GaussianMixture],
        seeds: Sequence[np.random.SeedSequence],
    ) -> list[Outcome]:
        """A batch on a Source, fitted and scored with shared passes; each as
        :meth:`evaluate` gives it alone (same seed, same fit)."""
        assert isinstance(self.Z, Source)
        t0 = time.perf_counter()
        gms = [clone(e).set_params(random_state=as_int(s))
               for e, s in zip(estimators, seeds, strict=True)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # recorded per candidate
            fit_on_source(gms, self.Z)
        lls = score_on_source(gms, self.Z)
        elapsed = time.perf_counter() - t0
        return [Outcome(self._candidate(gm, float(ll), elapsed), gm)
                for gm, ll in zip(gms, lls, strict=True)]

    def for_tasks(self) -> InformationCriterion:
        return self

    def refit(
        self, estimator: GaussianMixture, seed: np.random.SeedSequence, seeds: SeedPlan
    ) -> GaussianMixture:
        """The winner again (its fit came from a checkpoint): the candidate's own seed."""
        return _fit(estimator, self.Z, as_int(seed))
