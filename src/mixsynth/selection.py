"""Model selection over mixture candidates: K × covariance type × reg_covar.

Criteria
--------
``"heldout"`` (the default of :class:`~mixsynth.Synthesizer`)
    k-fold cross-validated mean log-likelihood of the held-out rows, **in the original data
    space**: the :class:`~mixsynth.Whitener` is refitted inside each fold (no leakage) and the
    score of a held-out row ``x`` is ``log p_mix(whiten(x)) + whitener.residual_log_density(x)``
    (whitening Jacobian plus a probabilistic-PCA Gaussian for the discarded directions), so
    models with different reductions compare. Higher is better.
``"aic"``, ``"bic"``
    Information criteria of a fit on all rows, in the whitened space. Lower is better.

The search need not be a full grid: with ``search="auto"`` and more than
:data:`GRID_LIMIT` values of K per (covariance type, reg_covar), K is searched coarse to fine
(a spread of values first, then the values around the best). A held-out candidate whose score
after two folds is hopeless (more than :data:`ABANDON_SE` standard errors below the best so far,
compared fold by fold) is abandoned. Candidate ``i`` of the full grid is always seeded by the
``i``-th child seed, whatever order or process it runs in.

Where the candidates run: in memory, each is a task (this process, ``n_jobs`` worker processes,
or a ``runner`` such as a dask cluster). On a :class:`~mixsynth.sources.Source` (out-of-core or
dask data, AIC / BIC), each batch of candidates **shares its passes** over the data: one pass of
hard assignments for their k-means starts, one pass per EM iteration for every candidate still
running, and one pass to score them all (:func:`~mixsynth.gaussian_mixture.fit_on_source`), with
the results of fitting them one after the other.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from mixsynth.gaussian_mixture import GaussianMixture, fit_on_source, score_on_source
from mixsynth.seeding import SeedLike, spawn_seeds
from mixsynth.sources import Source
from mixsynth.whitening import Whitener

__all__ = [
    "CRITERIA",
    "Candidate",
    "SelectionResult",
    "candidate_grid",
    "make_folds",
    "refit_best",
    "select",
]

#: Criteria known to :func:`select`.
CRITERIA: tuple[str, ...] = ("heldout", "aic", "bic")
#: Up to this many K values per (covariance type, reg_covar) are all tried; more are searched
#: coarse to fine with ``search="auto"``.
GRID_LIMIT = 8
#: A held-out candidate is abandoned after two folds when its per-fold scores, compared fold by
#: fold with the best complete candidate's (paired: folds differ in difficulty far more than
#: candidates do), are this many standard errors below.
ABANDON_SE = 4.0

Array = NDArray[np.float64]
ProgressFn = Callable[[int, int, "Candidate"], None]
Config = tuple[int, str, float]  # (n_components, covariance_type, reg_covar)


@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate of a selection sweep.

    Attributes
    ----------
    n_components : int
    covariance_type : str
    reg_covar : float
    score : float
        The criterion: mean held-out log-likelihood per row (higher is better) or AIC / BIC
        (lower is better).
    score_std : float or None
        Standard deviation of the per-fold held-out scores (held-out criterion only).
    fold_scores : tuple of float
        Per-fold held-out scores (empty for AIC / BIC).
    aic, bic : float
        On the training rows in the whitened space (for held-out: the mean over folds of the
        training-fold values).
    log_likelihood : float
        Mean per-row training log-likelihood in the whitened space (mean over folds).
    n_parameters : int
        Free parameters of the mixture.
    converged : bool
        Every fit of the candidate converged.
    n_iter : int
        EM iterations (largest over folds).
    fit_time : float
        Seconds spent on the candidate in total (for candidates fitted with shared passes, the
        wall time of their batch).
    abandoned : bool
        Stopped early as hopeless; its scores cover only the folds run.
    """

    n_components: int
    covariance_type: str
    reg_covar: float
    score: float
    score_std: float | None
    fold_scores: tuple[float, ...]
    aic: float
    bic: float
    log_likelihood: float
    n_parameters: int
    converged: bool
    n_iter: int
    fit_time: float
    abandoned: bool = False

    @property
    def config(self) -> Config:
        return (self.n_components, self.covariance_type, self.reg_covar)

    @property
    def score_se(self) -> float:
        """Standard error of the held-out mean (0 for AIC / BIC)."""
        if self.score_std is None or len(self.fold_scores) < 2:
            return 0.0
        return self.score_std / math.sqrt(len(self.fold_scores))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fold_scores"] = list(self.fold_scores)
        return out


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of a selection sweep: every candidate, and which one won.

    Attributes
    ----------
    criterion : {"heldout", "aic", "bic"}
    candidates : tuple of Candidate
        In the order they were evaluated.
    best_index : int
        Position of the chosen candidate in ``candidates``.
    one_se : bool
        Whether the one-standard-error rule chose among the candidates.
    n_folds : int or None
    """

    criterion: str
    candidates: tuple[Candidate, ...]
    best_index: int
    one_se: bool = False
    n_folds: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def best(self) -> Candidate:
        """The chosen candidate."""
        return self.candidates[self.best_index]

    @property
    def higher_is_better(self) -> bool:
        return self.criterion == "heldout"

    @property
    def scores(self) -> Array:
        """The criterion of every candidate, in order."""
        return np.array([c.score for c in self.candidates])

    def table(self) -> list[dict[str, Any]]:
        """One row per candidate, sorted by covariance type, reg_covar and K."""
        rows = []
        for i, c in enumerate(self.candidates):
            row = {
                "K": c.n_components,
                "covariance": c.covariance_type,
                "reg_covar": c.reg_covar,
                "score": c.score,
                "score_std": c.score_std,
                "n_parameters": c.n_parameters,
                "aic": c.aic,
                "bic": c.bic,
                "fit_time": c.fit_time,
                "converged": c.converged,
                "abandoned": c.abandoned,
                "best": i == self.best_index,
            }
            rows.append(row)
        return sorted(rows, key=lambda r: (r["covariance"], r["reg_covar"], r["K"]))

    def format_table(self) -> str:
        """The table as aligned text, for terminals and logs."""
        label = "CV loglik" if self.criterion == "heldout" else self.criterion.upper()
        lines = [
            f"{'K':>5} {'cov':>9} {'reg':>8} {label:>20} {'params':>8} {'AIC':>12} "
            f"{'BIC':>12} {'time':>7}"
        ]
        for r in self.table():
            score = f"{r['score']:.3f}"
            if r["score_std"] is not None:
                score += f" ± {r['score_std']:.3f}"
            flag = " *" if r["best"] else ("  (abandoned)" if r["abandoned"] else "")
            lines.append(
                f"{r['K']:>5} {r['covariance']:>9} {r['reg_covar']:>8.0e} {score:>20} "
                f"{r['n_parameters']:>8} {r['aic']:>12.1f} {r['bic']:>12.1f} "
                f"{r['fit_time']:>6.1f}s{flag}"
            )
        return "\n".join(lines)

    def plot(self, **kwargs: Any) -> Any:
        """A matplotlib Figure of the criterion against K (one line per covariance type and
        reg_covar). Convenience around :func:`mixsynth.plotting.selection_figure`."""
        from mixsynth.plotting import selection_figure  # edge layer, imported on demand

        return selection_figure(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "criterion": self.criterion,
            "best_index": self.best_index,
            "one_se": self.one_se,
            "n_folds": self.n_folds,
            "notes": list(self.notes),
            "best": self.best.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SelectionResult:
        cands = []
        for c in data["candidates"]:
            c = dict(c)
            c["fold_scores"] = tuple(c.get("fold_scores", ()))
            cands.append(Candidate(**c))
        return cls(
            criterion=data["criterion"],
            candidates=tuple(cands),
            best_index=int(data["best_index"]),
            one_se=bool(data.get("one_se", False)),
            n_folds=data.get("n_folds"),
            notes=tuple(data.get("notes", ())),
        )


def candidate_grid(
    n_components: int | Iterable[int],
    covariance_type: str | Sequence[str],
    reg_covar: float | Sequence[float] = 1e-6,
) -> list[Config]:
    """All (K, covariance type, reg_covar) triples, K ascending within each group."""
    ks = (
        [int(n_components)]
        if isinstance(n_components, (int, np.integer))
        else [int(k) for k in n_components]
    )
    types = [covariance_type] if isinstance(covariance_type, str) else list(covariance_type)
    regs = [float(reg_covar)] if isinstance(reg_covar, (int, float)) else [
        float(r) for r in reg_covar
    ]
    if not ks:
        raise ValueError("n_components must name at least one candidate.")
    if any(k < 1 for k in ks):
        raise ValueError(f"Every candidate n_components must be >= 1, got {ks}.")
    if not types:
        raise ValueError("covariance_type must name at least one covariance type.")
    unknown = set(types) - {"full", "tied", "diag", "spherical"}
    if unknown:
        raise ValueError(
            f"Unknown covariance type(s) {sorted(unknown)}; use full, tied, diag or spherical."
        )
    if not regs or any(r < 0 for r in regs):
        raise ValueError(f"reg_covar values must be >= 0, got {regs}.")
    return [(k, t, r) for t in types for r in regs for k in sorted(set(ks))]


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Fold:
    """A fold's data, already whitened by a Whitener fitted on its training rows."""

    Z_train: Array
    Z_val: Array
    residual_val: Array


def _mixture(config: Config, seed: int, params: dict[str, Any]) -> GaussianMixture:
    k, cov_type, reg = config
    return GaussianMixture(
        n_components=k, covariance_type=cov_type, reg_covar=reg, random_state=seed, **params
    )


def _fit_mixture(
    Z: Array | Source, config: Config, seed: int, params: dict[str, Any]
) -> GaussianMixture:
    gm = _mixture(config, seed, params)
    with warnings.catch_warnings():
        # recorded per candidate (``converged``) rather than one warning per fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(Z)
    return gm


def _criterion_candidate(
    config: Config, criterion: str, gm: GaussianMixture, ll: float, n: int, fit_time: float
) -> Candidate:
    """An AIC / BIC candidate from its fit and its mean log-likelihood on the ``n`` rows (the
    expressions of ``gm.aic`` and ``gm.bic``)."""
    p = gm._n_parameters()
    aic = float(-2.0 * ll * n + 2.0 * p)
    bic = float(-2.0 * ll * n + p * np.log(n))
    return Candidate(
        *config, score=aic if criterion == "aic" else bic, score_std=None,
        fold_scores=(), aic=aic, bic=bic, log_likelihood=ll,
        n_parameters=p, converged=gm.converged_, n_iter=gm.n_iter_, fit_time=fit_time,
    )


def _evaluate_shared(
    configs: Sequence[Config],
    seeds: Mapping[Config, np.random.SeedSequence],
    *,
    criterion: str,
    Z: Source,
    params: dict[str, Any],
) -> list[tuple[Candidate, GaussianMixture]]:
    """A batch of AIC / BIC candidates on a source, fitted and scored with shared passes; each
    as :func:`_evaluate` would give it alone (same seed, same fit)."""
    t0 = time.perf_counter()
    gms = [_mixture(c, int(seeds[c].generate_state(1)[0]), dict(params)) for c in configs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded per candidate
        fit_on_source(gms, Z)
    lls = score_on_source(gms, Z)
    elapsed = time.perf_counter() - t0
    n = Z.shape[0]
    return [
        (_criterion_candidate(c, criterion, gm, float(ll), n, elapsed), gm)
        for c, gm, ll in zip(configs, gms, lls, strict=True)
    ]


def _evaluate(
    config: Config,
    seed: np.random.SeedSequence,
    *,
    criterion: str,
    Z: Array | Source | None,
    folds: Sequence[_Fold],
    params: dict[str, Any],
    reference: tuple[float, ...] = (),
) -> tuple[Candidate, GaussianMixture | None]:
    """Fit and score one candidate; one task of the sweep (runs in a worker process too)."""
    t0 = time.perf_counter()
    with threadpool_limits(limits=params.pop("_blas_threads", None)):
        if criterion != "heldout":
            assert Z is not None
            gm = _fit_mixture(Z, config, int(seed.generate_state(1)[0]), params)
            ll = float(gm.score(Z))  # one scoring pass (Z may be streamed)
            cand = _criterion_candidate(
                config, criterion, gm, ll, Z.shape[0], time.perf_counter() - t0
            )
            return cand, gm
        seeds = seed.spawn(len(folds))
        scores: list[float] = []
        aics, bics, lls, iters, conv = [], [], [], [], True
        n_params = 0
        abandoned = False
        for fold, s in zip(folds, seeds, strict=True):
            gm = _fit_mixture(fold.Z_train, config, int(s.generate_state(1)[0]), params)
            val = gm.score_samples(fold.Z_val) + fold.residual_val
            scores.append(float(np.mean(val)))
            ll = float(gm.score(fold.Z_train))
            n_params = gm._n_parameters()
            n = fold.Z_train.shape[0]
            aics.append(-2 * ll * n + 2 * n_params)
            bics.append(-2 * ll * n + n_params * math.log(n))
            lls.append(ll)
            iters.append(gm.n_iter_)
            conv = conv and gm.converged_
            if reference and 2 <= len(scores) < len(folds):
                diff = np.array(scores) - np.array(reference[: len(scores)])
                se = float(np.std(diff, ddof=1)) / math.sqrt(len(diff))
                if diff.mean() + ABANDON_SE * se < 0:
                    abandoned = True
                    break
        cand = Candidate(
            *config,
            score=float(np.mean(scores)),
            score_std=float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
            fold_scores=tuple(scores),
            aic=float(np.mean(aics)),
            bic=float(np.mean(bics)),
            log_likelihood=float(np.mean(lls)),
            n_parameters=n_params,
            converged=conv,
            n_iter=max(iters),
            fit_time=time.perf_counter() - t0,
            abandoned=abandoned,
        )
        return cand, None


def make_folds(
    X: Array,
    whitener: Whitener,
    n_folds: int,
    seed: SeedLike,
    *,
    log_jacobian: Array | None = None,
) -> tuple[list[_Fold], list[tuple[NDArray[np.intp], NDArray[np.intp]]]]:
    """Whitened folds: a fresh clone of ``whitener`` is fitted on each fold's training rows.

    ``log_jacobian`` (per row) is added to the held-out residual density when ``X`` is itself
    a transform of the data (the support transform), so scores stay in the original space.
    """
    if n_folds < 2:
        raise ValueError(f"cv must be >= 2 folds, got {n_folds}.")
    if X.shape[0] < n_folds:
        raise ValueError(
            f"Cannot cross-validate {X.shape[0]} rows in {n_folds} folds; use fewer folds or "
            "criterion='bic'."
        )
    rs = int(spawn_seeds(seed, 1)[0].generate_state(1)[0])
    splits = list(KFold(n_folds, shuffle=True, random_state=rs).split(X))
    folds = []
    for train, val in splits:
        w = Whitener(whitener.n_components, whiten=whitener.whiten, scale=whitener.scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # constant columns: said once, at fit
            w.fit(X[train])
        residual = w.residual_log_density(X[val])
        if log_jacobian is not None:
            residual = residual + log_jacobian[val]
        folds.append(_Fold(w.transform(X[train]), w.transform(X[val]), residual))
    return folds, splits


def _coarse(ks: Sequence[int]) -> list[int]:
    """A spread of about six values of K, the ends included."""
    step = math.ceil(len(ks) / 6)
    idx = sorted({*range(0, len(ks), step), len(ks) - 1})
    return [ks[i] for i in idx]


def select(
    grid: Sequence[Config],
    *,
    criterion: str,
    random_state: SeedLike,
    mixture_params: dict[str, Any],
    Z: Array | Source | None = None,
    folds: Sequence[_Fold] = (),
    search: str = "auto",
    one_se: bool = False,
    n_jobs: int | None = None,
    progress: ProgressFn | None = None,
    runner: Any = None,
    known: Mapping[Config, Candidate] | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
    share_passes: bool = True,
) -> tuple[SelectionResult, GaussianMixture | None]:
    """Evaluate candidates and pick the best.

    Parameters
    ----------
    grid : sequence of (n_components, covariance_type, reg_covar)
    criterion : {"heldout", "aic", "bic"}
    random_state : seed
    mixture_params : dict
        Further :class:`GaussianMixture` parameters (tol, max_iter, n_init, init_params).
    Z : ndarray of shape (n_samples, n_features) or Source, optional
        Whitened data (AIC / BIC); a :class:`~mixsynth.sources.Source` is streamed, each batch
        of candidates sharing its passes (see ``share_passes``).
    folds : sequence of folds from :func:`make_folds` (held-out).
    search : {"auto", "grid"}
        ``"auto"`` searches K coarse to fine when there are many values.
    one_se : bool
        Held-out only: choose the candidate with the fewest parameters whose score is within one
        standard error of the best.
    n_jobs : int, optional
        Worker processes (``-1``: one per core); each task is capped at one BLAS thread.
    progress : callable, optional
        ``progress(done, total, candidate)`` after each candidate (total may shrink as the
        coarse-to-fine search skips values).
    runner : object with ``map(tasks) -> results``, optional
        Runs the candidate tasks instead of ``n_jobs`` local processes, e.g.
        :class:`mixsynth.distributed.ClusterRunner` (tasks on a dask cluster).
    known : mapping of config to Candidate, optional
        Candidates already evaluated by an interrupted run of the same sweep (same data,
        settings and seed): taken as they are instead of being fitted again. Seeds are keyed by
        candidate, so a resumed sweep ends exactly as an uninterrupted one would.
    on_candidate : callable, optional
        Called with each newly evaluated candidate (to keep a checkpoint).
    share_passes : bool, default=True
        With a :class:`~mixsynth.sources.Source` as ``Z`` and no ``runner``: fit and score
        each batch of candidates together, every pass over the data serving all of them, with
        the results of fitting them one by one (``n_jobs`` then does not apply: a pass uses
        this process's BLAS threads, or the cluster). ``False`` fits them one after the other
        (in ``n_jobs`` processes), a pass each.

    Returns
    -------
    result : SelectionResult
    mixture : GaussianMixture or None
        For AIC / BIC, the chosen candidate fitted on all of ``Z``; for held-out, ``None`` (the
        caller refits the winner on all rows).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}.")
    if search not in ("auto", "grid"):
        raise ValueError(f"search must be 'auto' or 'grid', got {search!r}.")
    if criterion == "heldout" and not folds:
        raise ValueError("criterion='heldout' needs folds.")
    if criterion != "heldout" and Z is None:
        raise ValueError(f"criterion={criterion!r} needs the whitened data Z.")
    seeds = dict(zip(grid, spawn_seeds(random_state, len(grid)), strict=True))
    higher = criterion == "heldout"
    sign = 1.0 if higher else -1.0  # internally: larger is better
    done: dict[Config, tuple[Candidate, GaussianMixture | None]] = {}
    order: list[Config] = []
    shared = share_passes and runner is None and isinstance(Z, Source)
    if runner is None:
        runner = _Runner(n_jobs)

    groups: dict[tuple[str, float], list[int]] = {}
    for k, t, r in grid:
        groups.setdefault((t, r), []).append(k)

    # the coarse-to-fine search evaluates about this many; progress reports it as the total
    n_expected = sum(
        len(ks) if (search == "grid" or len(ks) <= GRID_LIMIT)
        else min(len(ks), len(_coarse(ks)) + 2 * math.ceil(len(ks) / 6))
        for ks in groups.values()
    )

    def best_complete() -> tuple[float, ...]:
        """Per-fold scores of the best complete held-out candidate so far."""
        complete = [c for c, _ in done.values() if not c.abandoned]
        return max(complete, key=lambda c: c.score).fold_scores if complete else ()

    def run(configs: list[Config]) -> None:
        # the paired-abandonment reference as an uninterrupted run has it: from before this
        # batch, whatever part of it a checkpoint already holds
        reference = best_complete() if higher else ()
        for c in configs:
            if known and c in known and c not in done:  # finished by an interrupted run
                done[c] = (known[c], None)
                order.append(c)
                if progress is not None:
                    progress(len(done), max(len(done), n_expected), known[c])
        todo = [c for c in configs if c not in done]
        if not todo:
            return
        if shared:
            assert isinstance(Z, Source)
            results: Iterable[tuple[Candidate, GaussianMixture | None]] = _evaluate_shared(
                todo, seeds, criterion=criterion, Z=Z, params=mixture_params
            )
        else:
            results = runner.map(_tasks(todo, reference))
        for c, out in zip(todo, results, strict=True):
            done[c] = out
            order.append(c)
            if on_candidate is not None:
                on_candidate(out[0])
            if progress is not None:
                progress(len(done), max(len(done), n_expected), out[0])

    def _tasks(todo: list[Config], reference: tuple[float, ...]) -> list[dict[str, Any]]:
        return [
            dict(
                config=c, seed=seeds[c], criterion=criterion, Z=Z, folds=folds,
                params=dict(mixture_params), reference=reference,
            )
            for c in todo
        ]

    def batches(t: str, r: float, ks: list[int]) -> Iterator[list[Config]]:
        """The batches of one (covariance type, reg_covar) group, each decided from the
        results of those before it."""
        if search == "grid" or len(ks) <= GRID_LIMIT:
            yield [(k, t, r) for k in ks]
            return
        lo_i, hi_i = 0, len(ks) - 1
        while True:
            window = ks[lo_i : hi_i + 1]
            coarse = window if len(window) <= GRID_LIMIT else _coarse(window)
            yield [(k, t, r) for k in coarse]
            if len(coarse) == len(window):
                return
            scored = [(sign * done[(k, t, r)][0].score, k) for k in coarse]
            best_k = max(scored)[1]
            pos = coarse.index(best_k)
            lo_k = coarse[max(pos - 1, 0)]
            hi_k = coarse[min(pos + 1, len(coarse) - 1)]
            lo_i, hi_i = ks.index(lo_k), ks.index(hi_k)

    plans = [batches(t, r, ks) for (t, r), ks in groups.items()]
    if not shared:
        for plan in plans:  # group after group
            for batch in plan:
                run(batch)
    else:
        # the groups advance together: the next batch of every group shares its passes; the
        # candidates are then listed in the order group after group would list them
        rank: dict[Config, tuple[int, int, int]] = {}
        going = list(enumerate(plans))
        stage = 0
        while going:
            merged: list[Config] = []
            still = []
            for g, plan in going:
                try:
                    batch = next(plan)
                except StopIteration:
                    continue
                still.append((g, plan))
                for i, c in enumerate(batch):
                    rank.setdefault(c, (g, stage, i))
                merged.extend(batch)
            going = still
            stage += 1
            if merged:
                run(merged)
        order.sort(key=rank.__getitem__)
    cands = [done[c][0] for c in order]
    complete = [i for i, c in enumerate(cands) if not c.abandoned]
    best_i = max(complete, key=lambda i: sign * cands[i].score)
    notes: list[str] = []
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
    n_folds = len(folds) if higher else None
    result = SelectionResult(criterion, tuple(cands), best_i, one_se and higher, n_folds,
                             tuple(notes))
    mixture = done[order[best_i]][1]
    if mixture is None and not higher:  # the winner came from a checkpoint: refit it alike
        assert Z is not None
        config = order[best_i]
        mixture = _fit_mixture(Z, config, int(seeds[config].generate_state(1)[0]),
                               dict(mixture_params))
    return result, mixture


class _Runner:
    """Runs candidate tasks in this process or in worker processes (joblib/loky)."""

    def __init__(self, n_jobs: int | None) -> None:
        self.n_jobs = n_jobs or 1

    def map(
        self, tasks: list[dict[str, Any]]
    ) -> Iterator[tuple[Candidate, GaussianMixture | None]]:
        """Results in task order, each as soon as it is ready (so a checkpoint keeps every
        finished candidate even when the batch is interrupted)."""
        if self.n_jobs == 1 or len(tasks) == 1:
            return (_evaluate(**t) for t in tasks)
        from joblib import Parallel, delayed

        for t in tasks:
            t["params"]["_blas_threads"] = 1  # n workers × 1 BLAS thread: no oversubscription
        parallel = Parallel(n_jobs=self.n_jobs, return_as="generator")
        return iter(parallel(delayed(_evaluate)(**t) for t in tasks))


def refit_best(
    Z: Array, result: SelectionResult, random_state: SeedLike, mixture_params: dict[str, Any]
) -> GaussianMixture:
    """Fit the chosen configuration on all rows, seeded by its own child seed."""
    best = result.best
    seed = int(spawn_seeds(random_state, 1)[0].spawn(1)[0].generate_state(1)[0])
    return _fit_mixture(Z, best.config, seed, dict(mixture_params))

