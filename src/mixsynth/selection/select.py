"""The selection driver: search plans × an evaluator × a runner, with an optional store."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from sklearn.base import clone

from mixsynth.gaussian_mixture import GaussianMixture, shared_initialisation
from mixsynth.seeding import SeedPlan
from mixsynth.selection.evaluators import Evaluator, HeldOut, InformationCriterion, Outcome
from mixsynth.selection.plans import Plan, expected_count, search_plan
from mixsynth.selection.result import Candidate, Config, ProgressFn, SelectionResult
from mixsynth.selection.runners import Runner, SerialRunner, Task

__all__ = ["SCREEN_FOLDS", "SHORTLIST", "CandidateStore", "select"]

#: A held-out sweep of more than :data:`SHORTLIST` candidates over more than this many folds
#: is searched on its first ``SCREEN_FOLDS`` folds; then ...
SCREEN_FOLDS = 2
#: ... this many of the best are evaluated on every fold, and the winner is the best of them.
#: (Measured: digits and a diamonds-like table chose the same model as the full search.)
SHORTLIST = 4


class CandidateStore(Protocol):
    """Finished candidates kept across an interruption (``checkpoint.SweepCheckpoint.store``)."""

    def known(self) -> Mapping[Config, Candidate]:
        """Candidates an interrupted run of the same sweep finished."""
        ...

    def record(self, candidate: Candidate) -> None:
        """Keep a newly finished candidate."""
        ...


def select(
    grid: Sequence[Config],
    evaluator: Evaluator,
    *,
    estimator: GaussianMixture,
    seeds: SeedPlan,
    search: str = "auto",
    one_se: bool = False,
    runner: Runner | None = None,
    store: CandidateStore | None = None,
    progress: ProgressFn | None = None,
    share_passes: bool = True,
) -> tuple[SelectionResult, GaussianMixture]:
    """Evaluate candidates, pick the best, and return it fitted on every row.

    Parameters
    ----------
    grid : sequence of (n_components, covariance_type, reg_covar)
        Candidate ``i`` is seeded by ``seeds.candidate(j)``, ``j`` the first candidate of the
        grid with the same ``n_components`` (so that candidates differing only in covariance
        type or reg_covar start from the same clustering, computed once per K and fold:
        :func:`~mixsynth.gaussian_mixture.shared_initialisation`), whatever order or process it
        runs in; the groups of one (covariance type, reg_covar) are searched by a plan
        (:mod:`mixsynth.selection.plans`).
    evaluator : HeldOut or InformationCriterion
        How a candidate is scored (:mod:`mixsynth.selection.evaluators`).
    estimator : GaussianMixture
        The template: each candidate is a clone with its ``n_components``,
        ``covariance_type`` and ``reg_covar`` set (``tol``, ``max_iter``, ``n_init``,
        ``init_params`` come from the template).
    seeds : SeedPlan
        The fit's seed plan: candidate streams, and the ``"refit"`` stream of the held-out
        winner's fit on every row.
    search : {"auto", "grid"}
        ``"auto"`` searches K coarse to fine when a group has many values.
    one_se : bool
        Held-out only: choose the candidate with the fewest parameters whose score is within one
        standard error of the best.
    runner : Runner, optional
        Runs the candidate tasks (:mod:`mixsynth.selection.runners`): default
        :class:`SerialRunner`; :class:`ProcessRunner` for worker processes;
        :class:`ClusterRunner` for a Dask cluster.
    store : CandidateStore, optional
        Candidates an interrupted run finished are taken as they are (their seeds and the
        abandonment reference are those of an uninterrupted run, so the sweep ends the same);
        every newly evaluated candidate is recorded.
    progress : callable, optional
        ``progress(done, total, candidate)`` after each candidate (total may shrink as the
        coarse-to-fine search skips values).
    share_passes : bool, default=True
        With an :class:`InformationCriterion` on a streamed Source and no ``runner``: fit and
        score each batch of candidates together, each pass over the data serving all of them,
        with the results of fitting them one by one. ``False`` fits them one after the other.

    Returns
    -------
    result : SelectionResult
    mixture : GaussianMixture
        The chosen candidate fitted on every row: for AIC / BIC its own fit (refitted from its
        seed when it came from the store); for held-out, a fit seeded by the ``"refit"`` stream.
    """
    if search not in ("auto", "grid"):
        raise ValueError(f"search must be 'auto' or 'grid', got {search!r}.")
    with shared_initialisation():
        return _select(grid, evaluator, estimator, seeds, search, one_se, runner, store,
                       progress, share_passes)


def _select(
    grid: Sequence[Config],
    evaluator: Evaluator,
    estimator: GaussianMixture,
    seeds: SeedPlan,
    search: str,
    one_se: bool,
    runner: Runner | None,
    store: CandidateStore | None,
    progress: ProgressFn | None,
    share_passes: bool,
) -> tuple[SelectionResult, GaussianMixture]:
    """The body of :func:`select`, within one :func:`shared_initialisation` block."""
    first_of_k: dict[int, int] = {}
    for i, (k, _, _) in enumerate(grid):
        first_of_k.setdefault(k, i)
    # the seed index of each candidate: the first candidate with its K (see ``grid``)
    index = {c: first_of_k[c[0]] for c in grid}
    higher = evaluator.criterion == "heldout"
    sign = 1.0 if higher else -1.0  # internally: larger is better
    shared = (share_passes and runner is None and isinstance(evaluator, InformationCriterion)
              and evaluator.shares_passes)
    run_tasks = SerialRunner() if runner is None else runner
    screen = _screening(evaluator, grid, one_se)
    # what travels with each task: the screening folds while screening
    task_evaluator = (screen or evaluator).for_tasks()
    known = store.known() if store is not None else {}
    done: dict[Config, Outcome] = {}
    order: list[Config] = []
    from_store: set[Config] = set()  # candidates whose outcome is a record of the store

    def configured(c: Config) -> GaussianMixture:
        k, cov, reg = c
        est: GaussianMixture = clone(estimator).set_params(
            n_components=k, covariance_type=cov, reg_covar=reg
        )
        return est

    groups: dict[tuple[str, float], list[int]] = {}
    for k, t, r in grid:
        groups.setdefault((t, r), []).append(k)
    n_expected = sum(expected_count(search, ks) for ks in groups.values())

    def finished(c: Config, out: Outcome, new: bool) -> None:
        done[c] = out
        order.append(c)
        if new and store is not None:
            store.record(out.candidate)
        if progress is not None:
            progress(len(done), max(len(done), n_expected), out.candidate)

    def best_complete() -> tuple[float, ...]:
        """Per-fold scores of the best complete held-out candidate so far."""
        complete = [o.candidate for o in done.values() if not o.candidate.abandoned]
        return max(complete, key=lambda c: c.score).fold_scores if complete else ()

    def run(configs: list[Config]) -> None:
        # the paired-abandonment reference as an uninterrupted run has it: from before this
        # batch, whatever part of it the store already holds
        reference = best_complete() if higher else ()
        for c in configs:
            if c in known and c not in done:  # finished by an interrupted run
                finished(c, Outcome(known[c], None), new=False)
                from_store.add(c)
        todo = [c for c in configs if c not in done]
        if not todo:
            return
        results: Iterable[Outcome]
        if shared:
            assert isinstance(evaluator, InformationCriterion)
            results = evaluator.evaluate_together(
                [configured(c) for c in todo], [seeds.candidate(index[c]) for c in todo]
            )
        else:
            results = run_tasks.run([
                Task(configured(c), seeds.candidate(index[c]), task_evaluator, reference)
                for c in todo
            ])
        for c, out in zip(todo, results, strict=True):
            finished(c, out, new=True)

    def stage_score(c: Config) -> float:
        """The score the search goes by: while screening, the mean over the screening folds
        (also of a candidate an interrupted run had finished on every fold)."""
        cand = done[c].candidate
        if screen is None:
            return sign * cand.score
        return float(np.mean(cand.fold_scores[:SCREEN_FOLDS]))

    def scores(t: str, r: float, ks: list[int]) -> dict[int, float]:
        return {k: stage_score((k, t, r)) for k in ks}

    plans: list[tuple[tuple[str, float], Plan]] = [
        (g, search_plan(search, ks)) for g, ks in groups.items()
    ]
    if not shared:
        for (t, r), plan in plans:  # group after group
            ks = next(plan)
            while True:
                run([(k, t, r) for k in ks])
                try:
                    ks = plan.send(scores(t, r, ks))
                except StopIteration:
                    break
    else:
        # the groups advance together: the next batch of every group shares its passes; the
        # candidates are then listed in the order group after group would list them
        rank: dict[Config, tuple[int, int, int]] = {}
        last: dict[int, list[int]] = {}
        going = list(enumerate(plans))
        stage = 0
        while going:
            merged: list[Config] = []
            still = []
            for g, ((t, r), plan) in going:
                try:
                    ks = next(plan) if g not in last else plan.send(scores(t, r, last[g]))
                except StopIteration:
                    continue
                last[g] = ks
                still.append((g, ((t, r), plan)))
                for i, k in enumerate(ks):
                    rank.setdefault((k, t, r), (g, stage, i))
                merged.extend((k, t, r) for k in ks)
            going = still
            stage += 1
            if merged:
                run(merged)
        order.sort(key=rank.__getitem__)
    notes: tuple[str, ...] = ()
    if screen is not None:
        # the short list on every fold, each as the full evaluation gives it alone (fold j
        # from the j-th child of its seed: its first folds are those it was screened on)
        n_folds = len(screen.folds) if evaluator.n_folds is None else evaluator.n_folds
        ranked = sorted(order, key=lambda c: -stage_score(c))
        short = ranked[:SHORTLIST]
        full = [c for c in short
                if len(done[c].candidate.fold_scores) < n_folds
                and not (c in known and len(known[c].fold_scores) == n_folds)]
        for c in short:
            if c not in full and len(done[c].candidate.fold_scores) < n_folds:
                done[c] = Outcome(known[c], None)  # finished by an interrupted run
                from_store.add(c)
        outcomes = run_tasks.run([
            Task(configured(c), seeds.candidate(index[c]), evaluator.for_tasks(), ())
            for c in full
        ])
        for c, out in zip(full, outcomes, strict=True):
            done[c] = out
            from_store.discard(c)  # its screening record was, this one is not
            if store is not None:
                store.record(out.candidate)
            if progress is not None:
                progress(len(done), len(done), out.candidate)
        for c in ranked[SHORTLIST:]:  # screened out: scores over the screening folds only
            cand = done[c].candidate
            folds_run = cand.fold_scores[:SCREEN_FOLDS]  # (a store's record: what it ranked by)
            done[c] = Outcome(dataclasses.replace(
                cand, abandoned=True, fold_scores=folds_run, score=float(np.mean(folds_run)),
                score_std=float(np.std(folds_run, ddof=1))), None)
        notes = (f"screened every candidate on {SCREEN_FOLDS} of {n_folds} folds; "
                 f"the best {min(SHORTLIST, len(order))} on all folds",)
    result, mixture = _choose(grid, order, done, evaluator, one_se, configured, seeds, index,
                              notes)
    best = result.best
    if best.config in from_store:
        # The winner was taken from the store: a resume file is not trusted to decide the
        # model. Its record is checked by evaluating it again (one candidate; seeds make it
        # exact; on every fold); a record that does not match discards what the store held.
        again = Task(configured(best.config), seeds.candidate(index[best.config]),
                     evaluator.for_tasks()).run()
        if not math.isclose(again.candidate.score, best.score, rel_tol=1e-9, abs_tol=1e-9):
            warnings.warn(
                f"The resume file's record of candidate {best.config} does not match a "
                f"re-evaluation (score {best.score!r} recorded, {again.candidate.score!r} "
                "now); its records are ignored and the sweep is run again.",
                UserWarning,
                stacklevel=3,
            )
            return select(grid, evaluator, estimator=estimator, seeds=seeds, search=search,
                          one_se=one_se, runner=runner, store=_Untrusted(store),
                          progress=progress, share_passes=share_passes)
    return result, mixture


class _Untrusted:
    """A store whose records are not taken (they failed a check); new ones are kept."""

    def __init__(self, store: CandidateStore | None) -> None:
        self.store = store

    def known(self) -> Mapping[Config, Candidate]:
        return {}

    def record(self, candidate: Candidate) -> None:
        if self.store is not None:
            self.store.record(candidate)


def _screening(evaluator: Evaluator, grid: Sequence[Config], one_se: bool) -> HeldOut | None:
    """The screening evaluator of a held-out sweep (its first :data:`SCREEN_FOLDS` folds), or
    ``None`` when every candidate is evaluated on every fold: few candidates or folds, or the
    one-standard-error rule (which needs every candidate's full score)."""
    if (not isinstance(evaluator, HeldOut) or one_se or evaluator.n_folds <= SCREEN_FOLDS
            or len(grid) <= SHORTLIST):
        return None
    return dataclasses.replace(evaluator, folds=tuple(evaluator.folds[:SCREEN_FOLDS]))


def _choose(
    grid: Sequence[Config],
    order: list[Config],
    done: Mapping[Config, Outcome],
    evaluator: Evaluator,
    one_se: bool,
    configured: Callable[[Config], GaussianMixture],
    seeds: SeedPlan,
    index: Mapping[Config, int],
    stage_notes: tuple[str, ...] = (),
) -> tuple[SelectionResult, GaussianMixture]:
    """The best candidate (or the one-SE choice), the result, and the winner on every row."""
    higher = evaluator.criterion == "heldout"
    sign = 1.0 if higher else -1.0
    cands = [done[c].candidate for c in order]
    complete = [i for i, c in enumerate(cands) if not c.abandoned]
    best_i = max(complete, key=lambda i: sign * cands[i].score)
    notes: list[str] = list(stage_notes)
    if one_se and higher:
        b = cands[best_i]
        close = [i for i in complete if cands[i].score >= b.score - b.score_se]
        best_i = min(close, key=lambda i: (cands[i].n_parameters, -cands[i].score))
        notes.append(
            f"one-standard-error rule: the simplest candidate within {b.score_se:.3g} of the best"
        )
    skipped = len(grid) - len(order)
    if skipped:
        notes.append(f"coarse-to-fine search skipped {skipped} of {len(grid)} candidates")
    result = SelectionResult(evaluator.criterion, tuple(cands), best_i, one_se and higher,
                             evaluator.n_folds, tuple(notes))
    best = order[best_i]
    mixture = done[best].mixture
    if mixture is None:  # held-out, or the winner came from the store
        mixture = evaluator.refit(configured(best), seeds.candidate(index[best]), seeds)
    return result, mixture
