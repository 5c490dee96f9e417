"""Selection over groups of (space, shrinkage): each group a sweep over K × covariance type ×
reg_covar, all compared in the original data space.

The space a mixture is fitted in decides what its families can express: shrinking a full
covariance toward *its diagonal* (``GaussianMixture(shrinkage=τ)``) helps on digits only when
the diagonal is the pixels' (per-column scaling, no rotation), not the principal directions'
(docs/quality.md). So the synthesizer can search the space (``"pca"``: centred, scaled,
rotated onto the leading principal directions and whitened; ``"columns"``: each column centred
and scaled, no rotation, nothing dropped) and τ beside K and reg_covar. Held-out
log-likelihood and the realism criterion score every candidate in the original space (the
whitener's and the support transform's Jacobians included), so candidates of different groups
compare; AIC and BIC do not (they are in the whitened space) and are refused over several
spaces by the synthesizer.

:func:`select_groups` runs one sweep per group (:func:`~mixsynth.selection.select`) for the
held-out criterion and AIC / BIC. For realism, where a candidate costs a classifier test, it
**screens** every candidate of every group on the first fold only (one fit, a test on that
fold's held-out rows), keeps a short list (:data:`REALISM_SHORTLIST`, the lowest AUCs within
the likelihood floor), evaluates only those on every fold, and chooses among them
(:func:`~mixsynth.selection.choose_realistic`). Screened-out candidates are recorded as
abandoned after one fold: their AUC is not comparable with the short list's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone

from mixsynth.gaussian_mixture import GaussianMixture, shared_initialisation
from mixsynth.seeding import SeedPlan
from mixsynth.selection.evaluators import Evaluator, _fit
from mixsynth.selection.realism import LOGLIK_FLOOR, Realism, choose_realistic
from mixsynth.selection.result import Candidate, Config, ProgressFn, SelectionResult
from mixsynth.selection.runners import Runner, SerialRunner, Task
from mixsynth.selection.select import select
from mixsynth.whitening import Whitener

__all__ = ["REALISM_SHORTLIST", "SPACES", "Group", "group_grid", "select_groups", "space_whitener"]

Array = NDArray[np.float64]

#: The spaces a synthesizer can fit its mixture in.
SPACES: tuple[str, ...] = ("pca", "columns")
#: Realism over several candidates: this many of the screened candidates are evaluated on every
#: fold.
REALISM_SHORTLIST = 2


def space_whitener(space: str, reduce: float | int | None, whiten: bool, scale: str
                   ) -> Whitener:
    """The (unfitted) whitener of a space: ``"pca"`` as the synthesizer's ``reduce``,
    ``whiten`` and ``scale`` say; ``"columns"`` per column (centred, divided by its standard
    deviation, no rotation, no direction dropped: ``Whitener(missing="keep")``)."""
    if space == "pca":
        return Whitener(reduce, whiten=whiten, scale=scale)  # type: ignore[arg-type]
    if space == "columns":
        return Whitener(None, missing="keep")
    raise ValueError(f"space must be one of {SPACES}, got {space!r}.")


@dataclass(frozen=True)
class Group:
    """One (space, shrinkage) group of a sweep.

    Attributes
    ----------
    space : str
    shrinkage : float
    whitener : Whitener
        Fitted on every row (in the support transform's space).
    grid : list of (n_components, covariance_type, reg_covar)
    evaluator : Evaluator
        Scores a candidate of this group on every fold (``Z`` set, for the refit).
    """

    space: str
    shrinkage: float
    whitener: Whitener
    grid: list[Config]
    evaluator: Evaluator


def _labelled(c: Candidate, g: Group) -> Candidate:
    return dataclasses.replace(c, shrinkage=g.shrinkage, space=g.space)


def select_groups(
    groups: Sequence[Group],
    *,
    estimator: GaussianMixture,
    seeds: SeedPlan,
    n_features: int,
    search: str = "auto",
    one_se: bool = False,
    runner: Runner | None = None,
    progress: ProgressFn | None = None,
) -> tuple[SelectionResult, GaussianMixture, Group]:
    """The best candidate over every group, fitted on every row, and its group.

    Parameters
    ----------
    groups : sequence of Group
        Their evaluators share a criterion.
    estimator : GaussianMixture
        The template; each group's candidates get its ``shrinkage``.
    seeds : SeedPlan
    n_features : int
        Columns of the data (realism's likelihood floor is per column).
    search, one_se, runner, progress
        As :func:`~mixsynth.selection.select` (``one_se`` within each group).

    Returns
    -------
    result : SelectionResult
        Every candidate, labelled with its ``space`` and ``shrinkage``.
    mixture : GaussianMixture
    group : Group
        The winner's.
    """
    if not groups:
        raise ValueError("select_groups needs at least one group.")
    criterion = groups[0].evaluator.criterion
    if criterion == "realism":
        return _realism(groups, estimator, seeds, n_features, runner, progress)
    higher = criterion == "heldout"
    cands: list[Candidate] = []
    owner: list[int] = []
    winners: list[tuple[int, GaussianMixture]] = []
    notes: list[str] = []
    n_folds = None
    for gi, g in enumerate(groups):
        result, mixture = select(
            g.grid, g.evaluator, estimator=clone(estimator).set_params(shrinkage=g.shrinkage),
            seeds=seeds, search=search, one_se=one_se, runner=runner, progress=progress,
        )
        n_folds = result.n_folds
        winners.append((len(cands) + result.best_index, mixture))
        cands.extend(_labelled(c, g) for c in result.candidates)
        owner.extend([gi] * len(result.candidates))
        notes.extend(n for n in result.notes if n not in notes)
    sign = 1.0 if higher else -1.0
    best, mixture = max(winners, key=lambda w: sign * cands[w[0]].score)
    notes.append(f"searched {len(groups)} (space, shrinkage) groups; the best of their winners")
    out = SelectionResult(criterion, tuple(cands), best, one_se and higher, n_folds,
                          tuple(notes))
    return out, mixture, groups[owner[best]]


def _realism(
    groups: Sequence[Group],
    estimator: GaussianMixture,
    seeds: SeedPlan,
    n_features: int,
    runner: Runner | None,
    progress: ProgressFn | None,
) -> tuple[SelectionResult, GaussianMixture, Group]:
    """Screen on the first fold, evaluate the short list on every fold, choose."""
    run = SerialRunner() if runner is None else runner
    entries: list[tuple[int, Config]] = [(gi, c) for gi, g in enumerate(groups) for c in g.grid]
    # candidates with the same space and K start from the same clustering (one seed stream)
    first: dict[tuple[str, int], int] = {}
    for i, (gi, c) in enumerate(entries):
        first.setdefault((groups[gi].space, c[0]), i)
    seed_of = [first[(groups[gi].space, c[0])] for gi, c in entries]

    def configured(gi: int, c: Config) -> GaussianMixture:
        k, cov, reg = c
        est: GaussianMixture = clone(estimator).set_params(
            n_components=k, covariance_type=cov, reg_covar=reg,
            shrinkage=groups[gi].shrinkage)
        return est

    def full(g: Group) -> Realism:
        assert isinstance(g.evaluator, Realism)
        return g.evaluator

    n_folds = full(groups[0]).n_folds
    screening = len(entries) > REALISM_SHORTLIST and n_folds > 1
    total = len(entries) + (REALISM_SHORTLIST if screening else 0)
    done = 0

    def tasks(idx: list[int], first_fold_only: bool) -> list[Candidate]:
        nonlocal done
        ts = []
        for i in idx:
            gi, c = entries[i]
            ev = full(groups[gi]).for_tasks()
            if first_fold_only:
                ev = dataclasses.replace(ev, folds=tuple(ev.folds[:1]))
            ts.append(Task(configured(gi, c), seeds.candidate(seed_of[i]), ev, ()))
        out = []
        for i, o in zip(idx, run.run(ts), strict=True):
            cand = _labelled(o.candidate, groups[entries[i][0]])
            out.append(cand)
            done += 1
            if progress is not None:
                progress(done, max(done, total), cand)
        return out

    notes: list[str] = []
    with shared_initialisation():
        if not screening:
            cands = tasks(list(range(len(entries))), False)
        else:
            screened = tasks(list(range(len(entries))), True)
            short = _shortlist(screened, n_features)
            again = dict(zip(short, tasks(short, False), strict=True))
            cands = [
                again[i] if i in again else dataclasses.replace(
                    c, abandoned=True, fold_scores=(c.score,))
                for i, c in enumerate(screened)
            ]
            notes.append(
                f"realism: screened {len(entries)} candidates on 1 of {n_folds} folds; the "
                f"best {len(short)} (lowest AUC within the likelihood floor, passing the "
                "guard first) on every fold")
    first_best = min((i for i, c in enumerate(cands) if not c.abandoned),
                     key=lambda i: cands[i].score)
    result = choose_realistic(
        SelectionResult("realism", tuple(cands), first_best, False, n_folds, tuple(notes)),
        n_features)
    gi, c = entries[result.best_index]
    g = groups[gi]
    ev = full(g)
    if ev.Z is None:
        raise ValueError("select_groups needs each group's evaluator with Z (for the refit).")
    mixture = _fit(configured(gi, c), ev.Z, seeds.int_seed("refit"))
    return result, mixture, g


def _shortlist(screened: list[Candidate], n_features: int) -> list[int]:
    """The candidates evaluated on every fold: within the likelihood floor of the best
    screened one, those passing the memorisation guard first, then by AUC."""
    lls = [c.heldout_loglik if c.heldout_loglik is not None else -math.inf for c in screened]
    floor = max(lls) - LOGLIK_FLOOR * n_features
    ranked = sorted(range(len(screened)),
                    key=lambda i: (lls[i] < floor, screened[i].score >= 1.0, screened[i].score))
    return sorted(ranked[:REALISM_SHORTLIST])


def group_grid(grid: list[Config], shrinkage: float) -> list[Config]:
    """The candidates of ``grid`` a group with this shrinkage can fit (shrinkage is a
    full-covariance family)."""
    return grid if not shrinkage else [c for c in grid if c[1] == "full"]

