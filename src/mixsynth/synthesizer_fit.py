"""How a :class:`~mixsynth.Synthesizer` is fitted on numeric data: the support, the whitener,
the selection sweep and the memorisation guard on any source (:func:`fit_source`), and one
synthesizer per class (:func:`fit_classes`); mixed tables by :mod:`mixsynth.table_model`
(:func:`fit_table`).

The functions take the synthesizer whose settings they read and whose fitted state they set
(``model_``, and ``n_features_in_`` / ``feature_names_in_`` for streamed sources): the
estimator keeps scikit-learn's contract, this module the fitting pipeline.

Why this module is a little over 600 lines: it is the one place that reads the synthesizer's
settings for a fit, and since issue 12 that includes resolving the ``"auto"`` search space
per criterion (:func:`search_space`) and building the (space, shrinkage) groups; the search
itself lives in :mod:`mixsynth.selection.spaces`, the model-file table in
:mod:`mixsynth.synthesizer_file`.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone
from sklearn.utils.validation import column_or_1d

from mixsynth import sources
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.guard import memorization_check
from mixsynth.model import (
    ClassConditional,
    PointMass,
    WhitenedMixture,
    pooled_memorization,
)
from mixsynth.seeding import SeedPlan, as_generator
from mixsynth.selection import (
    Candidate,
    ClusterRunner,
    Evaluator,
    FoldsUnsupportedError,
    HeldOut,
    InformationCriterion,
    ProcessRunner,
    Realism,
    SampleSupport,
    SelectionResult,
    candidate_grid,
    candidate_ks,
    choose_realistic,
    make_folds,
    make_realism_folds,
    select,
)
from mixsynth.selection.checkpoint import SweepCheckpoint, SweepStore, fingerprint
from mixsynth.selection.spaces import SPACES, Group, group_grid, select_groups, space_whitener
from mixsynth.sources import ArraySource, Source, SupportMap
from mixsynth.support import SupportTransform, decimals_of, squeeze_for, widen_bounds
from mixsynth.whitening import Whitener

if TYPE_CHECKING:
    from mixsynth.synthesizer import Synthesizer

__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_REG_COVAR",
    "REALISM_CANDIDATES",
    "REALISM_COLUMNS_MAX",
    "REALISM_MIN_ROWS",
    "REALISM_REG_COVAR",
    "REALISM_SHRINKAGE",
    "REALISM_SPACE",
    "SUPPORTS",
    "fit_classes",
    "fit_source",
    "fit_table",
    "search_space",
]

Array = NDArray[np.float64]

#: ``support=`` options.
SUPPORTS = ("clip", "truncate", None)

#: Candidates tried when ``n_components`` is left to the synthesizer.
DEFAULT_CANDIDATES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32)
#: ``reg_covar="auto"`` for the held-out criterion and AIC / BIC.
DEFAULT_REG_COVAR: tuple[float, ...] = (1e-6, 1e-3, 1e-2, 1e-1)

# What ``"auto"`` / ``None`` mean for criterion="realism" (docs/quality.md has the measurements
# behind them: on digits the least detectable models are many components whose covariances are
# shrunk toward their diagonals, fitted per column without the PCA rotation).
#: ``n_components=None`` with the realism criterion.
REALISM_CANDIDATES: tuple[int, ...] = (10, 25, 50, 100)
#: ``shrinkage="auto"`` with the realism criterion (τ, in rows' worth of prior weight).
REALISM_SHRINKAGE: tuple[float, ...] = (100.0, 300.0, 1000.0)
#: ``space="auto"`` with the realism criterion: per column, when the data has at most
#: :data:`REALISM_COLUMNS_MAX` non-constant columns and no exact linear relation between
#: them; ``"pca"`` otherwise (wide or collinear data: the PCA space drops null directions).
REALISM_SPACE: tuple[str, ...] = ("columns",)
#: Fewer rows than this are selected by held-out likelihood instead of realism (a classifier
#: test on a few dozen rows cannot rank candidates; the memorisation guard needs 100 too).
REALISM_MIN_ROWS = 100
#: The most non-constant columns ``space="auto"`` fits per column (K full d × d covariances).
REALISM_COLUMNS_MAX = 100
#: ``reg_covar="auto"`` with the realism criterion.
REALISM_REG_COVAR: tuple[float, ...] = (1e-3,)


def search_space(s: Synthesizer, criterion: str | None = None
                 ) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]:
    """The spaces, shrinkages and reg_covar values a synthesizer searches, its ``"auto"``
    settings resolved for ``criterion`` (default: its own; a streamed fit, selected by BIC,
    resolves them for BIC), validated."""
    realism = (criterion or s.criterion) == "realism"
    space = s.space
    if isinstance(space, str):
        spaces: tuple[str, ...] = (
            (REALISM_SPACE if realism else ("pca",)) if space == "auto" else (space,))
    else:
        try:
            spaces = tuple(space)
        except TypeError:
            spaces = ()
    if not spaces or any(not isinstance(v, str) or v not in SPACES for v in spaces):
        raise ValueError(f"space must be 'auto', one of {SPACES} or a sequence of them, got "
                         f"{space!r}.")
    shrinkage = _floats("shrinkage", s.shrinkage,
                        REALISM_SHRINKAGE if realism else (0.0,))
    regs = _floats("reg_covar", s.reg_covar,
                   REALISM_REG_COVAR if realism else DEFAULT_REG_COVAR)
    if len(set(spaces)) > 1 and s.criterion in ("aic", "bic"):
        raise ValueError(
            f"space={space!r} compares spaces; AIC and BIC are computed in the fitted space and "
            "do not compare across spaces: use criterion='heldout' or 'realism', or one space.")
    return tuple(dict.fromkeys(spaces)), shrinkage, regs


def _floats(name: str, value: Any, auto: tuple[float, ...]) -> tuple[float, ...]:
    """``"auto"``, a number or a sequence of numbers, each finite and >= 0."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"{name} must be 'auto', a number >= 0 or a sequence of them, "
                             f"got {value!r}.")
        return auto
    try:
        values = ((float(value),) if isinstance(value, (int, float, np.number))
                  else tuple(float(v) for v in value))
    except (TypeError, ValueError):
        values = ()
    if (not values or isinstance(value, bool)
            or any(not np.isfinite(v) or v < 0 for v in values)):
        raise ValueError(f"{name} must be 'auto', a number >= 0 or a sequence of them, got "
                         f"{value!r}.")
    return tuple(dict.fromkeys(values))


def fit_source(
    s: Synthesizer,
    source: Source,
    progress: Callable[[int, int, Candidate], None] | None,
    ckpt: SweepCheckpoint | None,
    plan: SeedPlan,
) -> Synthesizer:
    """Fit on any source: its first pass gives the support and the whitener, then the
    selection runs over the whitened data.

    What needs the rows in memory is a capability of in-memory sources, checked here once:
    held-out folds and the memorisation guard (streamed data is selected by BIC, or AIC if
    asked, and ``selection_.notes`` says so). Streamed passes: one first pass (bounds,
    integer columns, moments, reservoir sample), one more for the moments after a support
    transform, then the candidates of each batch of the sweep share their passes.
    """
    in_memory = isinstance(source, ArraySource)
    if hasattr(source, "persist_data"):
        source.persist_data = False  # read twice at most; the whitened data is persisted
    held: list[Source] = [source]
    try:
        summary = source.summary(sources.SAMPLE_ROWS)
        n, d = summary.n_samples, summary.n_features
        if n < 2:
            raise ValueError(
                f"Found array with {n} sample(s) (shape=({n}, {d})) while a minimum of 2 is "
                "required by Synthesizer."
            )
        assert summary.moments is not None and summary.integer_columns is not None
        if not in_memory:  # in memory, validation did scikit-learn's bookkeeping
            s.n_features_in_ = d
            if source.feature_names is not None:
                s.feature_names_in_ = source.feature_names
            elif hasattr(s, "feature_names_in_"):
                del s.feature_names_in_
        # recorded precision: from every row in memory, from the sample when streamed
        decimals = decimals_of(source.X if isinstance(source, ArraySource)
                               else summary.sample)
        lower, upper, integer, given = _support_bounds(s,
            summary.moments.minimum, summary.moments.maximum, summary.integer_columns,
            decimals,
        )
        transform = _make_support_transform(s, lower, upper, integer, given, decimals)
        # what "auto" means: for the criterion the selection will use (streamed: BIC)
        used = s.criterion if in_memory or s.criterion in ("aic", "bic") else "bic"
        few = used == "realism" and n < REALISM_MIN_ROWS
        if few:  # too few rows for a classifier test: held-out likelihood, "auto" for it
            used = "heldout"
        spaces, shrinkages, _ = search_space(s, used)
        whitener = space_whitener(spaces[0], s.reduce, s.whiten, s.scale)
        Z: Array | Source
        Xt: Array | None = None
        log_jac: Array | None = None
        if isinstance(source, ArraySource):
            # dequantisation noise from the plan's generator; the rows stay in memory
            Xt, log_jac = (
                (source.X, np.zeros(n)) if transform is None
                else transform.forward(source.X, as_generator(plan.stream("support_noise")))
            )
            if s.space == "auto" and spaces == ("columns",) and not _columns_suit(Xt):
                spaces = ("pca",)
                whitener = space_whitener("pca", s.reduce, s.whiten, s.scale)
            Z = whitener.fit(Xt).transform(Xt)
        else:
            # noise keyed by row (the same at every pass); moments from one more pass
            model = source
            if transform is not None:
                seed = int(plan.stream("support_noise").generate_state(1, np.uint64)[0] >> 1)
                model = source.mapped(SupportMap(transform, seed))
                if hasattr(model, "persist_data"):
                    model.persist_data = False
                held.append(model)
            moments = model.summary(sources.SAMPLE_ROWS).moments
            assert moments is not None
            whitener.fit_from_moments(moments)
            if whitener.n_components_ > 0:
                Z = model.whitened(whitener)
                held.append(Z)
        if whitener.n_components_ == 0:  # every column constant: the data is one point
            s.model_ = WhitenedMixture(
                whitener, PointMass(), transform, lower, upper, integer, s.support,
                decimals=decimals,
            )
            return s
        # distinct rows of the data itself, before dequantisation (a sample when streamed)
        grid = _grid(s, summary.sample, used)
        notes: list[str] = []
        if few:
            notes.append(f"criterion 'realism' needs at least {REALISM_MIN_ROWS} rows for its "
                         f"classifier test; {n} rows were selected by held-out likelihood")
        evaluator: Evaluator | None = None
        chosen_space, chosen_shrinkage = spaces[0], shrinkages[0]
        found: tuple[SelectionResult, GaussianMixture] | None = None
        several = len(spaces) * len(shrinkages) > 1
        if several and not isinstance(source, ArraySource):
            notes.append(f"fitted out of core: only space {spaces[0]!r} and shrinkage "
                         f"{shrinkages[0]:g} searched (the others need the rows in memory)")
        elif several and isinstance(source, ArraySource):
            assert Xt is not None and log_jac is not None
            runner = ClusterRunner.current()
            try:
                selection, mixture, group = select_groups(
                    _groups(s, used, spaces, shrinkages, grid, source.X, Xt, log_jac,
                            SampleSupport(transform, lower, upper, integer, s.support,
                                          decimals), plan),
                    estimator=_template(s, 0.0), seeds=plan, n_features=d, search=s.search,
                    one_se=s.one_se, runner=runner or ProcessRunner(s.n_jobs),
                    progress=progress,
                )
                found = selection, mixture
                whitener, chosen_space = group.whitener, group.space
                chosen_shrinkage = group.shrinkage
            except FoldsUnsupportedError as e:  # tiny data: BIC over all rows, first space
                notes.append(f"criterion {s.criterion!r} needs folds the data cannot give "
                             f"({e}); selected by BIC in space {spaces[0]!r} instead")
                evaluator = InformationCriterion("bic", Z)
            finally:
                if runner is not None:
                    runner.close()
        if found is not None:
            selection, mixture = found
        else:
            grid = group_grid(grid, chosen_shrinkage)
            selection, mixture = _select_one(s, used, source, grid, evaluator, Xt, log_jac, Z,
                                             whitener, transform,
                                             (lower, upper, integer, decimals), plan,
                                             progress, ckpt, notes, chosen_shrinkage)
    finally:
        for part in reversed(held):
            part.release()
    _warn_if_not_converged(s, mixture, stacklevel=4)
    memorization = None
    if isinstance(source, ArraySource) and s.guard:
        best = selection.best
        probe = clone(s).set_params(  # the winner alone, refitted on 80 % of rows
            n_components=best.n_components, covariance_type=best.covariance_type,
            reg_covar=best.reg_covar, criterion="bic", guard=False,
            space=chosen_space, shrinkage=chosen_shrinkage,
        )
        memorization = memorization_check(source.X, probe, plan, best.n_components)
    if notes:
        selection = dataclasses.replace(selection, notes=(*selection.notes, *notes))
    s.model_ = WhitenedMixture(
        whitener, mixture, transform, lower, upper, integer, s.support, selection,
        memorization, decimals,
    )
    if isinstance(source, ArraySource) and s.support is not None:  # heaped columns' map
        s.model_ = s.model_.with_heaps(source.X, as_generator(plan.stream("heaps")))
    return s


def _columns_suit(X: Array) -> bool:
    """Whether ``space="auto"`` may fit in the per-column space: at most
    :data:`REALISM_COLUMNS_MAX` non-constant columns, and no exact linear relation between
    them (the PCA space keeps such a relation exactly; per column it would be blurred)."""
    spread = np.ptp(X, axis=0) > 0
    if not 0 < int(spread.sum()) <= REALISM_COLUMNS_MAX:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant columns: said at the fit
        w = Whitener(None, whiten=False).fit(X[:, spread])
    return bool(w.n_components_ == int(spread.sum()))


def _select_one(
    s: Synthesizer, criterion: str, source: Source, grid: list[tuple[int, str, float]],
    evaluator: Evaluator | None, Xt: Array | None, log_jac: Array | None, Z: Array | Source,
    whitener: Whitener, transform: SupportTransform | None,
    support: tuple[Array, Array, NDArray[np.bool_], NDArray[np.int64]], plan: SeedPlan,
    progress: Callable[[int, int, Candidate], None] | None, ckpt: SweepCheckpoint | None,
    notes: list[str], shrinkage: float,
) -> tuple[SelectionResult, GaussianMixture]:
    """One sweep over K × covariance type × reg_covar in one space with one shrinkage (the
    criterion's evaluator made here unless given); ``notes`` gains what the reader must know."""
    in_memory = isinstance(source, ArraySource)
    try:
        if evaluator is not None:
            pass
        elif isinstance(source, ArraySource) and criterion == "heldout":
            assert Xt is not None
            folds = make_folds(Xt, whitener, s.cv, plan, log_jacobian=log_jac)[0]
            evaluator = HeldOut(folds, np.asarray(Z))
        elif isinstance(source, ArraySource) and criterion == "realism":
            assert Xt is not None
            evaluator = Realism(
                make_realism_folds(source.X, Xt, whitener, s.cv, plan, log_jacobian=log_jac),
                SampleSupport(transform, *support[:3], s.support, support[3]),
                np.asarray(Z),
            )
    except FoldsUnsupportedError as e:  # tiny or nearly constant data: BIC over all rows
        notes.append(f"criterion {criterion!r} needs folds the data cannot give "
                     f"({e}); selected by BIC instead")
        evaluator = InformationCriterion("bic", Z)
    if evaluator is None:
        if not in_memory:
            notes.append(f"fitted out of core ({source.kind}, {source.shape[0]} rows)")
            asked = s._criterion()
            if asked in ("heldout", "realism"):
                notes.append(
                    f"criterion {asked!r} needs the rows in memory; out-of-core "
                    "selection used BIC (consistent, and close to held-out scores at "
                    "this many rows)"
                )
                criterion = "bic"
            if s.guard:
                notes.append("memorisation guard skipped: it needs the rows in memory")
        evaluator = InformationCriterion(criterion, Z)
    # in memory the candidates are tasks (local processes, or the current cluster's);
    # streamed, each batch of them shares its passes over the source (the cluster's)
    runner = ClusterRunner.current() if in_memory else None
    template = _template(s, shrinkage)
    try:
        selection, mixture = select(
            grid, evaluator, estimator=template, seeds=plan,
            search=s.search, one_se=s.one_se,
            runner=(runner or ProcessRunner(s.n_jobs)) if in_memory else None,
            store=(_sweep_store(s, ckpt, source.X) if isinstance(source, ArraySource)
                   else None),
            progress=progress,
        )
        if isinstance(evaluator, Realism):
            selection, mixture = _realistic(s, selection, evaluator, mixture, plan,
                                            source.shape[1], template)
    finally:
        if runner is not None:
            runner.close()
    return selection, mixture


def _groups(
    s: Synthesizer, criterion: str, spaces: tuple[str, ...], shrinkages: tuple[float, ...],
    grid: list[tuple[int, str, float]], X: Array, Xt: Array, log_jac: Array,
    support: SampleSupport, plan: SeedPlan,
) -> list[Group]:
    """One group per (space, shrinkage): the space's whitener on every row, its folds (the
    same split in every space: the plan's ``"folds"`` stream) and the criterion's evaluator."""
    groups = []
    for space in spaces:
        whitener = space_whitener(space, s.reduce, s.whiten, s.scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # constant columns: said at the first
            Z = whitener.fit(Xt).transform(Xt)
        evaluator: Evaluator
        if criterion == "realism":
            evaluator = Realism(make_realism_folds(X, Xt, whitener, s.cv, plan,
                                                   log_jacobian=log_jac), support, Z)
        elif criterion == "heldout":
            evaluator = HeldOut(make_folds(Xt, whitener, s.cv, plan, log_jacobian=log_jac)[0],
                                Z)
        else:
            evaluator = InformationCriterion(criterion, Z)
        for tau in shrinkages:
            g = group_grid(grid, tau)
            if g:
                groups.append(Group(space, tau, whitener, g, evaluator))
    return groups


def _realistic(
    s: Synthesizer, selection: SelectionResult, evaluator: Realism, mixture: GaussianMixture,
    plan: SeedPlan, n_features: int, template: GaussianMixture,
) -> tuple[SelectionResult, GaussianMixture]:
    """The realism choice (:func:`~mixsynth.selection.choose_realistic`: likelihood floor,
    guard, lowest AUC, ties by likelihood); the winner is refitted when it differs from
    the sweep's lowest score."""
    chosen = choose_realistic(selection, n_features)
    if chosen.best_index == selection.best_index:
        return chosen, mixture
    b = chosen.best
    est = clone(template).set_params(
        n_components=b.n_components, covariance_type=b.covariance_type,
        reg_covar=b.reg_covar,
    )
    return chosen, evaluator.refit(est, plan.candidate(0), plan)


def _warn_if_not_converged(s: Synthesizer, mixture: GaussianMixture, stacklevel: int) -> None:
    if not mixture.converged_:
        warnings.warn(
            f"The selected mixture (K={mixture.n_components}) did not converge in "
            f"max_iter={s.max_iter} iterations; increase max_iter or tol.",
            UserWarning,
            stacklevel=stacklevel,
        )


def _sweep_store(s: Synthesizer, ckpt: SweepCheckpoint | None, X: Array) -> SweepStore | None:
    """This sweep's store in the checkpoint, keyed by the data and the settings."""
    if ckpt is None:
        return None
    return ckpt.store(fingerprint(X, s.get_params()))


def _template(s: Synthesizer, shrinkage: float) -> GaussianMixture:
    """The estimator every candidate is cloned from (``set_params`` sets its K,
    covariance type and reg_covar)."""
    return GaussianMixture(tol=s.tol, max_iter=s.max_iter, n_init=s.n_init,
                           init_params=s.init_params, shrinkage=shrinkage, device=s.device)


def fit_classes(
    s: Synthesizer,
    X: Array,
    y: ArrayLike,
    progress: Callable[[int, int, Candidate], None] | None,
    ckpt: SweepCheckpoint | None,
    plan: SeedPlan,
) -> Synthesizer:
    """One synthesizer per class, each with its own selection and seed plan (the plan's
    ``for_class(c)`` stream)."""
    labels = column_or_1d(y, warn=True)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has {labels.shape[0]} labels but X has {X.shape[0]} rows; they must match."
        )
    classes, counts = np.unique(labels, return_counts=True)
    need = max(2, s.cv if s.criterion in ("heldout", "realism") else 2)
    small = [(c, n) for c, n in zip(classes, counts, strict=True) if n < need]
    if small:
        shown = ", ".join(f"{_plain(c)!r} ({n} rows)" for c, n in small[:5])
        raise ValueError(
            f"Every class needs at least {need} rows to be fitted on its own; too few: "
            f"{shown}. Merge or drop those classes, or use criterion='bic'."
        )
    models = []
    for i, c in enumerate(classes):
        seed = plan.for_class(i)
        sub = clone(s).set_params(random_state=seed)
        sub._fit(X[labels == c], None, progress, ckpt, None, SeedPlan.from_random_state(seed))
        models.append(sub)
    priors = counts / counts.sum()
    memorization = pooled_memorization([m.memorization_ for m in models], priors)
    s.model_ = ClassConditional(classes, priors, tuple(models), memorization)
    return s


def _make_support_transform(
    s: Synthesizer, lower: Array, upper: Array, integer: NDArray[np.bool_],
    given: NDArray[np.bool_], decimals: NDArray[np.int64],
) -> SupportTransform | None:
    """The support transform, its squeeze chosen from the data
    (:func:`~mixsynth.support.squeeze_for`: one resolution cell over the span)."""
    if s.support_transform is None:
        return None
    only = None
    if s.support_transform == "auto":
        # integer columns, and bounds the user stated (not merely observed)
        only = integer | (given & np.isfinite(lower) & np.isfinite(upper))
    t = SupportTransform.from_bounds(lower, upper, integer, only=only)
    if not t.active.any():
        return None
    return dataclasses.replace(t, eps=squeeze_for(lower, upper, integer, decimals, t.active))


def _support_bounds(
    s: Synthesizer, lo: Array, hi: Array, integer: NDArray[np.bool_], decimals: NDArray[np.int64]
) -> tuple[Array, Array, NDArray[np.bool_], NDArray[np.bool_]]:
    """The bounds, the integer columns and which bounds the user gave.

    Observed bounds are widened (:func:`~mixsynth.support.widen_bounds`); bounds the user
    gave (a ``(lower, upper)`` pair for every column, or ``{column: (lo, hi)}``) are used
    as they are.
    """
    d = lo.shape[0]
    given = np.zeros(d, dtype=bool)
    seen_lo, seen_hi = lo, hi
    lo, hi = widen_bounds(lo, hi, integer, decimals=decimals)
    if isinstance(s.bounds, Mapping):
        lo, hi = lo.copy(), hi.copy()
        for key, pair in s.bounds.items():
            j = _bound_position(s, key, d)
            try:
                a, b = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise ValueError(
                    f"bounds[{key!r}] must be a pair (lo, hi) of numbers, got {pair!r}."
                ) from None
            lo[j], hi[j], given[j] = a, b, True
    elif s.bounds is not None:
        try:
            lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), (d,)).copy()
                      for b in s.bounds)
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds must be (lower, upper), each a number or one per column ({d}), "
                f"or {{column: (lo, hi)}}, got {s.bounds!r}."
            ) from None
        given[:] = True
    for j in map(int, np.flatnonzero(given)):
        name = s._column_name(j)
        if np.isnan(lo[j]) or np.isnan(hi[j]):
            raise ValueError(f"bounds for column {name} are NaN; use -inf / inf for "
                             "no bound.")
        if lo[j] > hi[j]:
            raise ValueError(f"bounds for column {name}: the lower bound {lo[j]!r} "
                             f"exceeds the upper bound {hi[j]!r}.")
        if seen_lo[j] < lo[j] or seen_hi[j] > hi[j]:
            # allowed (samples are then held inside them), but never silently
            warnings.warn(
                f"bounds for column {name} are [{lo[j]!r}, {hi[j]!r}] but the data "
                f"holds values from {seen_lo[j]!r} to {seen_hi[j]!r}; samples stay "
                "inside the bounds, so they will not look like those rows.",
                UserWarning,
                stacklevel=5,
            )
    return lo, hi, integer, given


def _bound_position(s: Synthesizer, key: Any, d: int) -> int:
    """The column of a ``bounds`` key: a fitted column name, or a position."""
    names = s._columns if s._columns is not None else s._feature_names()
    if names and key in names:
        return list(names).index(key)
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < d:
        return int(key)
    if isinstance(key, str) and key.isdigit() and int(key) < d and not names:
        return int(key)
    raise ValueError(f"bounds: unknown column {key!r}; columns are "
                     f"{list(names) if names else list(range(d))}.")


def _grid(s: Synthesizer, X: Array, criterion: str) -> list[tuple[int, str, float]]:
    n_distinct = len(np.unique(X, axis=0))
    if s.criterion in ("heldout", "realism"):
        # every training fold must hold K distinct rows
        n_distinct = min(n_distinct, n_distinct * (s.cv - 1) // s.cv)
    regs = search_space(s, criterion)[2]
    if s.n_components is None:
        default = REALISM_CANDIDATES if criterion == "realism" else DEFAULT_CANDIDATES
        ks = [k for k in default if k <= n_distinct] or [
            k for k in DEFAULT_CANDIDATES if k <= n_distinct]
        return candidate_grid(ks, s.covariance_type, regs)
    if isinstance(s.n_components, (int, np.integer)):
        if s.n_components > n_distinct:
            raise ValueError(
                f"n_components={s.n_components} is larger than the number of distinct "
                f"rows ({n_distinct}); decrease n_components."
            )
        return candidate_grid(s.n_components, s.covariance_type, regs)
    ks = candidate_ks(s.n_components)
    kept = [k for k in ks if k <= n_distinct]
    if not kept:
        raise ValueError(
            f"Every candidate n_components {ks} is larger than the number of distinct rows "
            f"({n_distinct}); use fewer components."
        )
    if len(kept) < len(ks):
        warnings.warn(
            f"Dropped candidates n_components > {n_distinct} (the number of distinct rows).",
            UserWarning,
            stacklevel=3,
        )
    return candidate_grid(kept, s.covariance_type, regs)


def fit_table(s: Synthesizer, df: Any, plan: SeedPlan) -> Synthesizer:
    """A table with categorical, boolean, date or nullable columns, or gaps: the mixed
    model of :mod:`mixsynth.table_model` (its module docstring has the design)."""
    from mixsynth.table_model import fit_table as fit_mixed

    n = s.n_components
    ks = None if n is None else candidate_ks(n)
    covs = [s.covariance_type] if isinstance(s.covariance_type, str) else list(
        s.covariance_type)
    # the table model has no realism criterion yet: held-out log-likelihood instead
    criterion = "heldout" if s.criterion == "realism" else s._criterion()
    regs = list(search_space(s, criterion)[2])
    # the table model answers what code reading ``model_`` generically asks (parts,
    # bounds, n_parameters, memorization); sample and score_samples branch on it first
    s.model_ = fit_mixed(  # type: ignore[assignment]
        df, column_kinds=s.column_kinds, missing=s.missing, ks=ks,
        covariance_types=covs, reg_covars=regs, criterion=criterion, cv=s.cv,
        tol=s.tol, max_iter=s.max_iter, n_init=s.n_init,
        rng=as_generator(plan.stream("table")), default_ks=DEFAULT_CANDIDATES,
    )
    s.n_features_in_ = df.shape[1]
    if all(isinstance(c, str) for c in df.columns):
        s.feature_names_in_ = np.asarray(df.columns, dtype=object)
    elif hasattr(s, "feature_names_in_"):
        del s.feature_names_in_
    s._remember_columns(None)  # the model's codec restores the columns
    return s


def _is_frame(X: Any) -> bool:
    """A pandas DataFrame (pandas is not imported for it)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _is_table(X: Any) -> bool:
    """A DataFrame that needs the table model: a column that is not plain numpy numbers, or a
    gap (:func:`mixsynth.tables.is_table`). Arrays and plain numeric frames keep their path."""
    if not _is_frame(X):
        return False
    from mixsynth.tables import is_table

    return is_table(X)


def _column_dtypes(source: Source, whole: Sequence[bool] | NDArray[np.bool_]) -> list[str]:
    """The dtype each column of a source came with: a file's own (integers where whole), or
    float64 (``whole[j]``: column ``j`` holds whole numbers only)."""
    table = getattr(source, "table", None)  # a file source's open table
    if table is not None and hasattr(table, "dtype_names"):
        return list(table.dtype_names(lambda j: bool(whole[j])))
    return ["float64"] * len(whole)


def _named_frame(source: Source, X: Array) -> Any:
    """Rows loaded from a source that names its columns as the DataFrame ``fit(df)`` takes:
    the names, and the file's dtypes (as :meth:`mixsynth.io.Table.to_input` gives them)."""
    import pandas as pd

    names = list(source.feature_names)  # type: ignore[arg-type]
    whole = np.all((X == np.round(X)) | np.isnan(X), axis=0)
    dtypes = _column_dtypes(source, whole)
    return pd.DataFrame({n: X[:, j].astype(np.dtype(t), copy=False)
                         for j, (n, t) in enumerate(zip(names, dtypes, strict=True))},
                        columns=names)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for messages (``'a'`` rather than ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value
