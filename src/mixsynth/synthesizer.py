"""``mixsynth.Synthesizer``: whiten → select → fit → sample back in the original space."""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted, column_or_1d

from mixsynth import sources
from mixsynth._saving import SaveMixin
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.guard import MemorizationWarning, memorization_check
from mixsynth.model import (
    ClassConditional,
    PointMass,
    WhitenedMixture,
    pooled_memorization,
)
from mixsynth.modelfile import Attr, Child, ModelFileError, Table, Tensor, register
from mixsynth.modelfile.attributes import (
    _bool_array,
    _bound_array,
    _classes,
    _dtypes,
    _encode_classes,
    _encode_columns,
    _encode_dtypes,
    _int,
    _labels_or_none,
)
from mixsynth.modelfile.tables import _FEATURE_NAMES, _probabilities, _same_length
from mixsynth.modelfile.values import _from_json, _short
from mixsynth.seeding import SeedLike, SeedPlan, as_generator
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
    choose_realistic,
    make_folds,
    make_realism_folds,
    select,
)
from mixsynth.selection.checkpoint import SweepCheckpoint, SweepStore, fingerprint
from mixsynth.selection.result import _encode_selection, _selection
from mixsynth.sources import ArraySource, Source, StoragePolicy, SupportMap, as_source
from mixsynth.support import SupportTransform, decimals_of, squeeze_for, widen_bounds
from mixsynth.table_model import TableMixture  # registers its model-file table
from mixsynth.validation import check_input
from mixsynth.whitening import Whitener

__all__ = ["MemorizationWarning", "Synthesizer"]


Array = NDArray[np.float64]

#: Candidates tried when ``n_components`` is left to the synthesizer.
DEFAULT_CANDIDATES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32)


SUPPORTS = ("clip", "truncate", None)


class Synthesizer(SaveMixin, BaseEstimator):
    """Learn a data set's distribution and generate new rows from it.

    The pipeline is a :class:`Whitener` (centre, scale, PCA, whiten), a sweep over mixture
    candidates (``n_components`` × ``covariance_type``) scored by ``criterion``, and a
    :class:`GaussianMixture`. :meth:`sample` draws in the whitened space, maps rows back, and
    applies the data's support: observed per-column bounds and integer-valued columns.

    Parameters
    ----------
    reduce : float, int or None, default=0.99
        Variance fraction (float in (0, 1]) or number of PCA directions (int) to keep;
        ``None`` keeps every non-null direction.
    whiten : bool, default=True
    scale : {"std", "none"}, default="std"
        Per-column scaling before PCA: ``"std"`` for tabular data in mixed units; ``"none"`` for
        homogeneous data such as pixels (the textbook recipe).
    n_components : int, iterable of int or None, default=None
        Candidate numbers of components; ``None`` tries :data:`DEFAULT_CANDIDATES` capped by the
        number of distinct rows. A single int is fitted as given (an error if the data has fewer
        distinct rows).
    covariance_type : str or sequence of str, default="full"
        Candidate covariance types.
    criterion : {"heldout", "realism", "bic", "aic"}, default="heldout"
        ``"heldout"``: ``cv``-fold cross-validated mean log-likelihood of held-out rows in the
        original data space, the whitener refitted inside each fold (higher is better).
        ``"realism"``: a classifier two-sample test (gradient-boosting AUC) of each candidate's
        generated rows against the ``cv`` folds' held-out rows, under the memorisation guard,
        with held-out log-likelihood as a floor and a tie-breaker
        (:mod:`mixsynth.selection.realism`; lower AUC is better).
        ``"bic"`` / ``"aic"``: information criteria on the whitened training data (lower is
        better); AIC is the textbook recipe and overfits mixtures with many components.
    cv : int, default=5
        Folds of the held-out criterion.
    search : {"auto", "grid"}, default="auto"
        ``"auto"`` searches many values of K coarse to fine; ``"grid"`` tries them all.
    one_se : bool, default=False
        Held-out: choose the simplest candidate within one standard error of the best.
    n_jobs : int, optional
        Worker processes for the candidates (``-1``: one per core), one BLAS thread each.
    support : {"clip", "truncate"} or None, default="clip"
        ``"clip"`` reflects a value beyond a bound back inside (then clips), so no mass piles
        up at the bounds; ``"truncate"`` redraws rows outside them; both round integer-valued
        columns, and columns recorded with a few decimals to that precision
        (:func:`~mixsynth.support.decimals_of`). ``None`` returns raw draws.
    support_transform : {"auto", "logit"} or None, default="auto"
        Map bounded columns to the real line before whitening
        (:class:`~mixsynth.support.SupportTransform`: integers dequantised, then a squeezed
        logit, its squeeze chosen from the data: :func:`~mixsynth.support.squeeze_for`), so
        samples respect the bounds by construction instead of by clipping. ``"auto"``
        transforms integer-valued columns (counts, pixels, ratings: bounded by nature) and
        columns given finite ``bounds``; ``"logit"`` every column with finite bounds, observed
        ones included (it distorts continuous columns whose range is only what was observed);
        ``None`` models the columns as they are.
    bounds : dict or tuple of array-like (lower, upper), optional
        Bounds to use instead of the observed ones: ``{column: (lo, hi)}`` (column names for
        a DataFrame, positions otherwise; other columns keep their observed bounds), or
        ``(lower, upper)`` for every column (``±inf`` for unbounded). Observed bounds of
        continuous columns are widened by :data:`~mixsynth.support.MARGIN_FRACTION` of the
        range (never across zero), and the support transform gives integer columns half a cell
        of margin, so rows slightly outside the training range keep a finite density; given
        bounds are used as they are.
    reg_covar : float or sequence of float, default=(1e-6, 1e-3, 1e-2, 1e-1)
        Candidate covariance regularisations, in whitened units (a fraction of unit variance).
        Regularisation matters for generalisation: on digits, full K=20 went from -125 to -100
        held-out log-likelihood per row as it rose from 1e-6 to 0.1.
    tol, max_iter, n_init, init_params
        Passed to every :class:`GaussianMixture`.
    guard : bool, default=True
        Memorisation guard: after fitting, refit the chosen configuration on 80 % of the rows,
        generate rows and compare how often they are near copies of those training rows with
        how often the held-back 20 % are; the result is recorded in ``memorization_`` and a
        :class:`MemorizationWarning` is raised when generated rows sit closer to the training
        data than fresh data does.
    column_kinds : dict of str to str, optional
        DataFrames: the kind of some columns ("continuous", "integer", "categorical",
        "ordered", "boolean", "datetime", "timedelta"), overriding the rule that infers it from
        the dtype (:mod:`mixsynth.tables.kinds`). A DataFrame with a column that is not plain
        numpy numbers (text, category, bool, nullable, Arrow, dates) or with gaps is fitted by
        the mixed model of :mod:`mixsynth.table_model`: a Gaussian over the numeric columns
        times a categorical distribution per discrete column, in every component.
    missing : {"model", "complete"}, default="model"
        Mixed tables with gaps: ``"model"`` samples rows with gaps at the data's rate and in
        its co-occurrence (missingness indicators are modelled in the mixture);
        ``"complete"`` samples complete rows.
    random_state : None, int, SeedSequence or Generator
        Seeds the fit: :meth:`fit` makes one :class:`~mixsynth.seeding.SeedPlan` from it, a
        named stream per use (candidates, folds, refit, guard, support noise, reservoir,
        classes). The same int gives the same model, through the API or the command line.

    Attributes
    ----------
    model_ : WhitenedMixture or ClassConditional
        The fitted model (:mod:`mixsynth.model`) that :meth:`sample` and :meth:`score_samples`
        delegate to: a mixture in whitened space (over a
        :class:`~mixsynth.model.PointMass` when every column is constant), or, after
        ``fit(X, y)``, one synthesizer per class with the class priors. The attributes below
        are read-only views of it.
    whitener_ : Whitener or None
        ``None`` for a class-conditional synthesizer (each class has its own).
    mixture_ : GaussianMixture or None
        ``None`` when every column is constant (the model is a point mass) and for a
        class-conditional synthesizer.
    selection_ : SelectionResult or None
    support_transform_ : SupportTransform or None
    classes_ : ndarray or None
        The class labels of a class-conditional synthesizer (``fit(X, y)``), else ``None``.
    class_priors_ : ndarray of shape (n_classes,)
        Class-conditional only: the training class proportions.
    class_models_ : tuple of Synthesizer
        Class-conditional only: the synthesizer of each class.
    memorization_ : dict or None
        The guard's measurements: ``near_copy_rate`` (generated rows),
        ``holdout_near_copy_rate`` (held-back real rows), ``threshold``, the medians
        ``dcr_synthetic_median`` / ``dcr_holdout_median`` of distances to the closest training
        row, ``n_train``, ``n_holdout``, ``n_synthetic``, ``warned``. ``None`` when the guard
        is off or there are fewer than 100 rows.
    lower_bounds_, upper_bounds_ : ndarray of shape (n_features,)
        Class-conditional: the widest over the classes.
    integer_columns_ : ndarray of bool of shape (n_features,)
        Columns whose observed values are all whole numbers; samples are rounded there.
    decimals_ : ndarray of int of shape (n_features,)
        Decimal places each column was recorded with (-1: none detected); samples are rounded
        to them. Not for a class-conditional synthesizer (each class model has its own).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When fitted on a DataFrame with string column names.
    """

    model_: WhitenedMixture | ClassConditional

    def __init__(
        self,
        *,
        reduce: float | int | None = 0.99,
        whiten: bool = True,
        scale: Literal["std", "none"] = "std",
        n_components: int | Iterable[int] | None = None,
        covariance_type: str | Sequence[str] = "full",
        criterion: str = "heldout",
        cv: int = 5,
        search: str = "auto",
        one_se: bool = False,
        n_jobs: int | None = None,
        support: str | None = "clip",
        support_transform: str | None = "auto",
        bounds: tuple[ArrayLike, ArrayLike] | Mapping[Any, tuple[float, float]] | None = None,
        reg_covar: float | Sequence[float] = (1e-6, 1e-3, 1e-2, 1e-1),
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        guard: bool = True,
        column_kinds: Mapping[str, str] | None = None,
        missing: str = "model",
        random_state: SeedLike = None,
    ) -> None:
        self.reduce = reduce
        self.whiten = whiten
        self.scale = scale
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.cv = cv
        self.search = search
        self.one_se = one_se
        self.n_jobs = n_jobs
        self.support = support
        self.support_transform = support_transform
        self.bounds = bounds
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.guard = guard
        self.column_kinds = column_kinds
        self.missing = missing
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        progress: Callable[[int, int, Candidate], None] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        out_of_core: bool | None = None,
    ) -> Synthesizer:
        """Fit the whitener, select the mixture, record the data's support.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or out-of-core data
            Also a ``np.memmap``, a path to a ``.npy``, ``.parquet`` or ``.csv`` file, a callable
            returning a fresh iterator of 2-D chunks, a list of 2-D arrays, or a dask array or
            dataframe. Such data below ``sources.IN_MEMORY_BYTES`` (256 MiB) is loaded and
            fitted as an array. Larger data is streamed, in bounded memory or
            data-parallel on dask: bounds, integer columns and the whitener come from one first
            pass, each EM iteration of each candidate reads the data once, and candidates are
            scored by BIC (AIC if asked) since held-out folds would need the rows in memory;
            ``selection_.notes`` says so. ``y`` and the memorisation guard need the data in
            memory. When a ``distributed.Client`` is current (see
            :func:`mixsynth.distributed.cluster`), the candidates of an in-memory sweep run as
            tasks on its cluster (instead of ``n_jobs`` local processes), with the same results.
        y : array-like of shape (n_samples,), optional
            Class labels: one model is selected and fitted per class (class-conditional), and
            :meth:`sample` then returns ``(X, y)``.
        progress : callable, optional
            ``progress(done, total, candidate)`` after each candidate of the sweep.
        checkpoint : path-like, optional
            Keep every finished candidate in this JSON file (rewritten atomically), so that an
            interrupted sweep (Ctrl-C, a crash) resumes where it stopped when the same fit is run
            again: same data and settings give the same fingerprint, and the resumed fit ends
            exactly as an uninterrupted one. The file is removed when the fit finishes. In-memory
            data only.
        out_of_core : bool, optional
            For out-of-core data (a path, a memmap, chunks, dask): ``True`` streams it whatever
            its size, ``False`` loads it into memory whatever its size; by default it is loaded
            when below ``sources.IN_MEMORY_BYTES``. Ignored for in-memory data.

        Returns
        -------
        self : Synthesizer
        """
        ckpt = None
        if checkpoint is not None:
            ckpt = SweepCheckpoint(checkpoint)
        self._fit(X, y, progress, ckpt, out_of_core, SeedPlan.from_random_state(self.random_state))
        if ckpt is not None:
            ckpt.discard()  # the fit finished: nothing to resume
        return self

    def _fit(
        self,
        X: Any,
        y: Any,
        progress: Callable[[int, int, Candidate], None] | None,
        ckpt: SweepCheckpoint | None,
        out_of_core: bool | None,
        plan: SeedPlan,
    ) -> Synthesizer:
        """The one fit path: any input becomes a :class:`~mixsynth.sources.Source`, the storage
        policy keeps it in memory or streams it, and :meth:`_fit_source` fits it."""
        self._check_settings()
        if _is_table(X) or (self.column_kinds and _is_frame(X)):
            if y is not None:
                raise ValueError("Class-conditional fitting (y=...) takes numeric columns only; "
                                 "fit one Synthesizer per class on that class's rows instead.")
            return self._fit_table(X, plan)
        source = as_source(X, seed=plan.reservoir_seed(), estimator=self, ensure_min_samples=2)
        if not source.in_memory and not StoragePolicy(out_of_core=out_of_core).streams(source):
            try:  # small enough: loaded, then validated as in-memory data is
                loaded = source.materialize()
            finally:
                source.release()
            source = as_source(loaded, seed=plan.reservoir_seed(), estimator=self,
                               ensure_min_samples=2)
        if y is not None:
            if not isinstance(source, ArraySource):
                source.release()
                raise ValueError(
                    "Class-conditional fitting (y=...) needs the data in memory; fit one "
                    "Synthesizer per class on that class's rows instead."
                )
            self._remember_columns(source.materialize())
            return self._fit_classes(source.X, y, progress, ckpt, plan)
        self._remember_columns(source.materialize() if source.in_memory else None)
        return self._fit_source(source, progress, ckpt, plan)

    def _fit_table(self, df: Any, plan: SeedPlan) -> Synthesizer:
        """A table with categorical, boolean, date or nullable columns, or gaps: the mixed
        model of :mod:`mixsynth.table_model` (its module docstring has the design)."""
        from mixsynth.table_model import fit_table

        n = self.n_components
        ks = None if n is None else [int(n)] if isinstance(n, (int, np.integer)) else [
            int(k) for k in n]
        covs = [self.covariance_type] if isinstance(self.covariance_type, str) else list(
            self.covariance_type)
        regs = [float(self.reg_covar)] if isinstance(self.reg_covar, (int, float)) else [
            float(r) for r in self.reg_covar]
        # the table model answers what code reading ``model_`` generically asks (parts,
        # bounds, n_parameters, memorization); sample and score_samples branch on it first
        self.model_ = fit_table(  # type: ignore[assignment]
            df, column_kinds=self.column_kinds, missing=self.missing, ks=ks,
            covariance_types=covs, reg_covars=regs, criterion=self._criterion(), cv=self.cv,
            tol=self.tol, max_iter=self.max_iter, n_init=self.n_init,
            rng=as_generator(plan.stream("table")), default_ks=DEFAULT_CANDIDATES,
        )
        self.n_features_in_ = df.shape[1]
        if all(isinstance(c, str) for c in df.columns):
            self.feature_names_in_ = np.asarray(df.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._remember_columns(None)  # the model's codec restores the columns
        return self

    @property
    def _table_state(self) -> TableMixture | None:
        """The table model (model files store it as the child ``table``)."""
        return self._table()

    def _table(self) -> TableMixture | None:
        """The table model, when the synthesizer was fitted on a mixed table."""
        model = self.model_
        return model if type(model).__name__ == "TableMixture" else None  # type: ignore[return-value]

    def _check_settings(self) -> None:
        if self.support not in SUPPORTS:
            raise ValueError(f"support must be one of {SUPPORTS}, got {self.support!r}.")
        if self.support_transform not in (None, "auto", "logit"):
            raise ValueError(
                "support_transform must be 'auto', 'logit' or None, got "
                f"{self.support_transform!r}."
            )
        self._criterion()
        if isinstance(self.cv, bool) or not isinstance(self.cv, int | np.integer) or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2 (folds), got {self.cv!r}.")
        if self.n_jobs is not None and (
            isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int | np.integer)
            or self.n_jobs == 0
        ):
            raise ValueError(
                f"n_jobs must be None, a positive number of processes or -1 (one per core), "
                f"got {self.n_jobs!r}."
            )

    def _fit_source(
        self,
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
                self.n_features_in_ = d
                if source.feature_names is not None:
                    self.feature_names_in_ = source.feature_names
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            # recorded precision: from every row in memory, from the sample when streamed
            decimals = decimals_of(source.X if isinstance(source, ArraySource)
                                   else summary.sample)
            lower, upper, integer, given = self._support_bounds(
                summary.moments.minimum, summary.moments.maximum, summary.integer_columns,
                decimals,
            )
            transform = self._make_support_transform(lower, upper, integer, given, decimals)
            whitener = Whitener(self.reduce, whiten=self.whiten, scale=self.scale)
            Z: Array | Source
            if isinstance(source, ArraySource):
                # dequantisation noise from the plan's generator; the rows stay in memory
                Xt, log_jac = (
                    (source.X, np.zeros(n)) if transform is None
                    else transform.forward(source.X, as_generator(plan.stream("support_noise")))
                )
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
                self.model_ = WhitenedMixture(
                    whitener, PointMass(), transform, lower, upper, integer, self.support,
                    decimals=decimals,
                )
                return self
            # distinct rows of the data itself, before dequantisation (a sample when streamed)
            grid = self._grid(summary.sample)
            notes: list[str] = []
            evaluator: Evaluator | None = None
            try:
                if isinstance(source, ArraySource) and self.criterion == "heldout":
                    folds = make_folds(Xt, whitener, self.cv, plan, log_jacobian=log_jac)[0]
                    evaluator = HeldOut(folds, np.asarray(Z))
                elif isinstance(source, ArraySource) and self.criterion == "realism":
                    evaluator = Realism(
                        make_realism_folds(source.X, Xt, whitener, self.cv, plan,
                                           log_jacobian=log_jac),
                        SampleSupport(transform, lower, upper, integer, self.support, decimals),
                        np.asarray(Z),
                    )
            except FoldsUnsupportedError as e:  # tiny or nearly constant data: BIC over all rows
                notes.append(f"criterion {self.criterion!r} needs folds the data cannot give "
                             f"({e}); selected by BIC instead")
                evaluator = InformationCriterion("bic", Z)
            if evaluator is None:
                criterion = self._criterion()
                if not in_memory:
                    notes.append(f"fitted out of core ({source.kind}, {n} rows)")
                    if criterion in ("heldout", "realism"):
                        notes.append(
                            f"criterion {criterion!r} needs the rows in memory; out-of-core "
                            "selection used BIC (consistent, and close to held-out scores at "
                            "this many rows)"
                        )
                        criterion = "bic"
                    if self.guard:
                        notes.append("memorisation guard skipped: it needs the rows in memory")
                evaluator = InformationCriterion(criterion, Z)
            # in memory the candidates are tasks (local processes, or the current cluster's);
            # streamed, each batch of them shares its passes over the source (the cluster's)
            runner = ClusterRunner.current() if in_memory else None
            try:
                selection, mixture = select(
                    grid, evaluator, estimator=self._template(), seeds=plan,
                    search=self.search, one_se=self.one_se,
                    runner=(runner or ProcessRunner(self.n_jobs)) if in_memory else None,
                    store=(self._store(ckpt, source.X) if isinstance(source, ArraySource)
                           else None),
                    progress=progress,
                )
                if isinstance(evaluator, Realism):
                    selection, mixture = self._realistic(selection, evaluator, mixture, plan, d)
            finally:
                if runner is not None:
                    runner.close()
        finally:
            for part in reversed(held):
                part.release()
        self._warn_if_not_converged(mixture, stacklevel=4)
        memorization = None
        if isinstance(source, ArraySource) and self.guard:
            best = selection.best
            probe = clone(self).set_params(  # the winner alone, refitted on 80 % of rows
                n_components=best.n_components, covariance_type=best.covariance_type,
                reg_covar=best.reg_covar, criterion="bic", guard=False,
            )
            memorization = memorization_check(source.X, probe, plan, best.n_components)
        if notes:
            selection = dataclasses.replace(selection, notes=(*selection.notes, *notes))
        self.model_ = WhitenedMixture(
            whitener, mixture, transform, lower, upper, integer, self.support, selection,
            memorization, decimals,
        )
        return self

    def _realistic(
        self, selection: SelectionResult, evaluator: Realism, mixture: GaussianMixture,
        plan: SeedPlan, n_features: int,
    ) -> tuple[SelectionResult, GaussianMixture]:
        """The realism choice (:func:`~mixsynth.selection.choose_realistic`: likelihood floor,
        guard, lowest AUC, ties by likelihood); the winner is refitted when it differs from
        the sweep's lowest score."""
        chosen = choose_realistic(selection, n_features)
        if chosen.best_index == selection.best_index:
            return chosen, mixture
        b = chosen.best
        est = clone(self._template()).set_params(
            n_components=b.n_components, covariance_type=b.covariance_type,
            reg_covar=b.reg_covar,
        )
        return chosen, evaluator.refit(est, plan.candidate(0), plan)

    def _warn_if_not_converged(self, mixture: GaussianMixture, stacklevel: int) -> None:
        if not mixture.converged_:
            warnings.warn(
                f"The selected mixture (K={mixture.n_components}) did not converge in "
                f"max_iter={self.max_iter} iterations; increase max_iter or tol.",
                UserWarning,
                stacklevel=stacklevel,
            )

    def _store(self, ckpt: SweepCheckpoint | None, X: Array) -> SweepStore | None:
        """This sweep's store in the checkpoint, keyed by the data and the settings."""
        if ckpt is None:
            return None
        return ckpt.store(fingerprint(X, self.get_params()))

    def _template(self) -> GaussianMixture:
        """The estimator every candidate is cloned from (``set_params`` sets its K,
        covariance type and reg_covar)."""
        return GaussianMixture(tol=self.tol, max_iter=self.max_iter, n_init=self.n_init,
                               init_params=self.init_params)

    def _criterion(self) -> str:
        if self.criterion not in ("heldout", "realism", "aic", "bic"):
            raise ValueError(
                "criterion must be one of ('heldout', 'realism', 'aic', 'bic'), got "
                f"{self.criterion!r}."
            )
        return self.criterion

    def _fit_classes(
        self,
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
        need = max(2, self.cv if self.criterion in ("heldout", "realism") else 2)
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
            sub = clone(self).set_params(random_state=seed)
            sub._fit(X[labels == c], None, progress, ckpt, None, SeedPlan.from_random_state(seed))
            models.append(sub)
        priors = counts / counts.sum()
        memorization = pooled_memorization([m.memorization_ for m in models], priors)
        self.model_ = ClassConditional(classes, priors, tuple(models), memorization)
        return self

    def _make_support_transform(
        self, lower: Array, upper: Array, integer: NDArray[np.bool_],
        given: NDArray[np.bool_], decimals: NDArray[np.int64],
    ) -> SupportTransform | None:
        """The support transform, its squeeze chosen from the data
        (:func:`~mixsynth.support.squeeze_for`: one resolution cell over the span)."""
        if self.support_transform is None:
            return None
        only = None
        if self.support_transform == "auto":
            # integer columns, and bounds the user stated (not merely observed)
            only = integer | (given & np.isfinite(lower) & np.isfinite(upper))
        t = SupportTransform.from_bounds(lower, upper, integer, only=only)
        if not t.active.any():
            return None
        return dataclasses.replace(t, eps=squeeze_for(lower, upper, integer, decimals, t.active))

    def _feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        return [] if names is None else [str(c) for c in names]

    def _remember_columns(self, X: Any) -> None:
        """Column dtypes of a DataFrame, to return samples in kind."""
        self._columns = None
        self._dtypes = None
        if hasattr(X, "columns") and hasattr(X, "dtypes"):
            self._columns = list(X.columns)
            self._dtypes = list(X.dtypes)

    def _support_bounds(
        self, lo: Array, hi: Array, integer: NDArray[np.bool_], decimals: NDArray[np.int64]
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
        if isinstance(self.bounds, Mapping):
            lo, hi = lo.copy(), hi.copy()
            for key, pair in self.bounds.items():
                j = self._bound_position(key, d)
                try:
                    a, b = (float(v) for v in pair)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"bounds[{key!r}] must be a pair (lo, hi) of numbers, got {pair!r}."
                    ) from None
                lo[j], hi[j], given[j] = a, b, True
        elif self.bounds is not None:
            try:
                lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), (d,)).copy()
                          for b in self.bounds)
            except (TypeError, ValueError):
                raise ValueError(
                    f"bounds must be (lower, upper), each a number or one per column ({d}), "
                    f"or {{column: (lo, hi)}}, got {self.bounds!r}."
                ) from None
            given[:] = True
        for j in map(int, np.flatnonzero(given)):
            name = self._column_name(j)
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

    def _bound_position(self, key: Any, d: int) -> int:
        """The column of a ``bounds`` key: a fitted column name, or a position."""
        names = self._columns if self._columns is not None else self._feature_names()
        if names and key in names:
            return list(names).index(key)
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < d:
            return int(key)
        if isinstance(key, str) and key.isdigit() and int(key) < d and not names:
            return int(key)
        raise ValueError(f"bounds: unknown column {key!r}; columns are "
                         f"{list(names) if names else list(range(d))}.")

    def _grid(self, X: Array) -> list[tuple[int, str, float]]:
        n_distinct = len(np.unique(X, axis=0))
        if self.criterion in ("heldout", "realism"):
            # every training fold must hold K distinct rows
            n_distinct = min(n_distinct, n_distinct * (self.cv - 1) // self.cv)
        if self.n_components is None:
            ks = [k for k in DEFAULT_CANDIDATES if k <= n_distinct]
            return candidate_grid(ks, self.covariance_type, self.reg_covar)
        if isinstance(self.n_components, (int, np.integer)):
            if self.n_components > n_distinct:
                raise ValueError(
                    f"n_components={self.n_components} is larger than the number of distinct "
                    f"rows ({n_distinct}); decrease n_components."
                )
            return candidate_grid(self.n_components, self.covariance_type, self.reg_covar)
        ks = [int(k) for k in self.n_components]
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
        return candidate_grid(kept, self.covariance_type, self.reg_covar)

    # ---------------------------------------------------------------- sampling

    def sample(
        self,
        n: int,
        random_state: SeedLike = None,
        *,
        given: Mapping[Any, float] | None = None,
        y: Any = None,
    ) -> Any:
        """Generate ``n`` new rows in the original space, in random order.

        Rows are drawn from exactly the density :meth:`score_samples` evaluates: the mixture in
        whitened space mapped back, plus the probabilistic-PCA residual in the discarded
        directions; then the support is applied (``support``).

        Parameters
        ----------
        n : int
            Number of rows (0 gives an empty table with the right columns).
        random_state : None, int, Generator or SeedSequence
            Per-call seed: the same seed gives the same rows; ``None`` gives fresh rows.
        given : mapping, optional
            ``{column: value}`` (column names for a synthesizer fitted on a DataFrame, integer
            positions otherwise): the other columns are drawn from the model's exact conditional
            distribution given these values, which are returned exactly.
        y : label, optional
            Class-conditional synthesizers only: draw rows of this class. Without it, labels are
            drawn in the training class proportions.

        Returns
        -------
        X : ndarray of shape (n, n_features), or a DataFrame with the fitted columns and dtypes
            when the synthesizer was fitted on one.
        y : ndarray of shape (n,)
            Only for a class-conditional synthesizer (fitted with ``y``): the rows' labels.
        """
        check_is_fitted(self, "model_")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        rng = as_generator(random_state)
        table = self._table()
        if table is not None:
            if y is not None:
                raise ValueError("y= is for class-conditional synthesizers; fit with fit(X, y) "
                                 "first.")
            return table.sample_frame(int(n), rng, given)
        fixed = self._resolve_given(given)
        X, labels = self.model_.sample(int(n), rng, fixed, y, self._column_name)
        return self._wrap(X) if labels is None else (self._wrap(X), labels)

    def iter_sample(
        self,
        n: int,
        random_state: SeedLike = None,
        *,
        chunk_size: int = 65_536,
        given: Mapping[Any, float] | None = None,
        y: Any = None,
    ) -> Iterator[Any]:
        """Generate ``n`` rows in chunks of at most ``chunk_size``, with bounded memory.

        Chunk ``i`` is drawn with the ``i``-th child of ``random_state``, so the rows are the same
        whatever the consumer does between chunks, and any chunk can be regenerated alone.
        Yields what :meth:`sample` returns for each chunk.
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
        n_chunks = max(1, -(-int(n) // chunk_size))
        plan = SeedPlan.from_random_state(random_state)
        for i in range(n_chunks):  # each chunk's seed made when it is drawn: no list of seeds
            rows = min(chunk_size, int(n) - i * chunk_size)
            yield self.sample(max(rows, 0), plan.chunk(i), given=given, y=y)

    def _resolve_given(self, given: Mapping[Any, float] | None) -> dict[int, float]:
        """``{position: value}`` from user keys (names for DataFrames, positions otherwise)."""
        if not given:
            return {}
        out: dict[int, float] = {}
        for key, value in given.items():
            if self._columns is not None:
                if key not in self._columns:
                    raise ValueError(
                        f"Unknown column {key!r} in given=; columns are {self._columns}."
                    )
                j = self._columns.index(key)
            elif isinstance(key, str) and key in self._feature_names():
                j = self._feature_names().index(key)  # a table streamed from a file
            else:
                if not isinstance(key, (int, np.integer)) or not 0 <= key < self.n_features_in_:
                    raise ValueError(
                        f"given= keys are column positions 0..{self.n_features_in_ - 1} for a "
                        f"synthesizer fitted on an array; got {key!r}."
                    )
                j = int(key)
            v = float(value)
            if not np.isfinite(v):
                raise ValueError(f"given value for column {key!r} must be finite, got {value!r}.")
            out[j] = v
        return out

    def _column_name(self, j: int) -> str:
        return repr(self._columns[j]) if self._columns is not None else str(j)

    def _wrap(self, X: Array) -> Any:
        if self._columns is None:
            return X
        import pandas as pd

        df = pd.DataFrame(X, columns=self._columns)
        assert self._dtypes is not None
        for col, dtype in zip(self._columns, self._dtypes, strict=True):
            if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
                df[col] = df[col].round().astype(dtype)
            elif dtype != np.float64:  # float32 (float16) columns come back as they went in
                df[col] = df[col].astype(dtype)
        return df


    # ---------------------------------------------------------------- densities

    def score_samples(self, X: ArrayLike) -> Array:
        """Log-density of each row in the original space.

        ``log p(x) = log p_mixture(whiten(x)) + log |Jacobian of the whitening|
        + log N(residual; 0, sigma^2 I)``, where the residual is the part of ``x`` in the
        discarded PCA directions and ``sigma^2`` the mean discarded variance (probabilistic PCA).
        Constant columns carry no density: the result is over the other columns.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        table = self._table()
        if table is not None:
            if not _is_frame(X):
                raise ValueError("This synthesizer was fitted on a table: score a DataFrame "
                                 f"with its columns {table.codec.columns}.")
            return table.score_samples(X)
        return self.model_.score_samples(check_input(X, estimator=self, reset=False))

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density per row in the original space."""
        return float(np.mean(self.score_samples(X)))

    @property
    def n_parameters_(self) -> int:
        """Free parameters of the fitted model (class-conditional: of every class model, and
        the class priors)."""
        check_is_fitted(self, "model_")
        return self.model_.n_parameters

    # ------------------------------------------------- the fitted model, read-only views

    @property
    def whitener_(self) -> Whitener | None:
        return self.model_.whitener

    @property
    def mixture_(self) -> GaussianMixture | None:
        """The whitened-space mixture; ``None`` for a point mass (every column constant) and
        for a class-conditional synthesizer."""
        m = self.model_.mixture
        return m if isinstance(m, GaussianMixture) else None

    @property
    def selection_(self) -> SelectionResult | None:
        return self.model_.selection

    @property
    def support_transform_(self) -> SupportTransform | None:
        return self.model_.support_transform

    @property
    def memorization_(self) -> dict[str, Any] | None:
        return self.model_.memorization

    @property
    def classes_(self) -> NDArray[Any] | None:
        return self.model_.classes

    @property
    def class_priors_(self) -> Array:
        """Class-conditional only (an AttributeError otherwise, as for any absent attribute)."""
        return self._class_model().priors

    @property
    def class_models_(self) -> tuple[Synthesizer, ...]:
        """Class-conditional only (an AttributeError otherwise)."""
        return self._class_model().models

    def _class_model(self) -> ClassConditional:
        model = self.model_
        if not isinstance(model, ClassConditional):
            raise AttributeError("a synthesizer fitted without y has no classes")
        return model

    @property
    def lower_bounds_(self) -> Array:
        return self.model_.lower_bounds

    @property
    def upper_bounds_(self) -> Array:
        return self.model_.upper_bounds

    @property
    def integer_columns_(self) -> NDArray[np.bool_]:
        return self.model_.integer_columns

    @property
    def decimals_(self) -> NDArray[np.int64]:
        """Decimal places each column was recorded with (-1: none detected); samples are
        rounded to them. An AttributeError for a class-conditional synthesizer (each class
        has its own) and for models saved before decimals were recorded."""
        check_is_fitted(self, "model_")
        decimals = getattr(self.model_, "decimals", None)
        if decimals is None:
            raise AttributeError("this synthesizer records no decimal places")
        return np.asarray(decimals)


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


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for messages (``'a'`` rather than ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------------------ model files
# How a Synthesizer is stored in a model file (mixsynth.modelfile), registered at import.


def _check_synthesizer_params(s: Synthesizer) -> None:
    if s.support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {s.support!r}")
    if s.scale not in ("std", "none") or not isinstance(s.whiten, bool):
        raise ValueError("scale must be 'std' or 'none' and whiten a bool")


def _finish_synthesizer(s: Synthesizer, where: str) -> None:
    d = s.n_features_in_
    _same_length(where, s, d, "feature_names_in_", "_columns", "_dtypes", "lower_bounds_",
                 "upper_bounds_", "integer_columns_", "decimals_")
    if (s._columns is None) != (s._dtypes is None):
        raise ModelFileError(f"{where}: columns and dtypes must both be given or both be null")
    if not np.all(s.lower_bounds_ <= s.upper_bounds_):
        raise ModelFileError(f"{where}: a lower bound exceeds its upper bound")
    single = (s.whitener_, s.mixture_, s.selection_, s.support_transform_)
    table = getattr(s, "_table_state", None)
    if table is not None:
        if any(x is not None for x in single) or s.classes_ is not None:
            raise ModelFileError(f"{where}: a table synthesizer has no whitener, mixture, "
                                 "selection, support transform or classes of its own")
        if table.n_features != d:
            raise ModelFileError(f"{where}: the table model has {table.n_features} columns, "
                                 f"expected {d}")
        del s.class_priors_
        return
    if s.classes_ is None:
        if s.whitener_ is None or hasattr(s, "class_models_") or s.class_priors_ is not None:
            raise ModelFileError(f"{where}: a synthesizer needs a whitener and no classes")
        if s.whitener_.n_features_in_ != d:
            raise ModelFileError(f"{where}: the whitener has {s.whitener_.n_features_in_} "
                                 f"features, expected {d}")
        k = s.whitener_.n_components_
        if (s.mixture_ is None) != (k == 0):
            raise ModelFileError(f"{where}: the mixture must be null exactly when the whitener "
                                 "keeps no direction")
        if s.mixture_ is not None and s.mixture_.n_features_in_ != k:
            raise ModelFileError(f"{where}: the mixture has {s.mixture_.n_features_in_} "
                                 f"features, expected {k} (the whitened directions)")
        del s.class_priors_  # not an attribute of an ordinary synthesizer
        return
    models = getattr(s, "class_models_", None)
    if any(x is not None for x in single) or models is None or s.class_priors_ is None:
        raise ModelFileError(f"{where}: a class-conditional synthesizer needs class models and "
                             "priors, and no whitener, mixture, selection or support transform "
                             "of its own")
    if len(models) != len(s.classes_):
        raise ModelFileError(f"{where}: {len(models)} class models for {len(s.classes_)} classes")
    for i, m in enumerate(models):
        if m.classes_ is not None or m.n_features_in_ != d:
            raise ModelFileError(f"{where}: class model {i} must be a plain synthesizer over "
                                 f"{d} features")


def _decimals_array(value: Any) -> NDArray[np.int64]:
    """Decimal places per column: whole numbers from -1 (none detected) to 15."""
    out = np.array([_int(-1)(v) for v in _from_json(value)], dtype=np.int64)
    if out.ndim != 1 or np.any(out > 15):
        raise ValueError("decimal places must be a list of whole numbers from -1 to 15")
    return out


def _build_synthesizer(ns: SimpleNamespace) -> Synthesizer:
    """A synthesizer from its checked parameters and fitted pieces: its model object is a
    :class:`~mixsynth.model.ClassConditional` when the file has classes, else a
    :class:`~mixsynth.model.WhitenedMixture` (over a point mass when the mixture is null)."""
    # parameters added since a file was written (column_kinds, missing) take their defaults
    s = Synthesizer(**{k: getattr(ns, k) for k in _SYNTHESIZER.param_names() if hasattr(ns, k)})
    s.n_features_in_ = ns.n_features_in_
    if hasattr(ns, "feature_names_in_"):
        s.feature_names_in_ = ns.feature_names_in_
    s._columns, s._dtypes = ns._columns, ns._dtypes
    memorization = getattr(ns, "memorization_", None)
    if getattr(ns, "_table_state", None) is not None:
        s.model_ = ns._table_state
    elif ns.classes_ is not None:
        s.model_ = ClassConditional(ns.classes_, ns.class_priors_, ns.class_models_,
                                    memorization)
    else:  # the file stores a point mass as a null mixture
        mixture = PointMass() if ns.mixture_ is None else ns.mixture_
        s.model_ = WhitenedMixture(
            ns.whitener_, mixture, ns.support_transform_, ns.lower_bounds_, ns.upper_bounds_,
            ns.integer_columns_, s.support, ns.selection_, memorization,
            getattr(ns, "decimals_", None),
        )
    return s


def _memorization(value: Any) -> dict[str, Any] | None:
    out = _from_json(value, objects=True)
    if out is not None and not isinstance(out, dict):
        raise TypeError(f"expected an object or null, got {_short(value)}")
    return out


_SYNTHESIZER = Table(
    cls=Synthesizer,
    attrs=(
        Attr("n_features_in_", _int(1)),
        _FEATURE_NAMES,
        Attr("_columns", _labels_or_none, _encode_columns),
        Attr("_dtypes", _dtypes, _encode_dtypes),
        Attr("lower_bounds_", _bound_array),
        Attr("upper_bounds_", _bound_array),
        Attr("integer_columns_", _bool_array),
        Attr("decimals_", _decimals_array, optional=True),  # files before decimals: none
        Attr("classes_", _classes, _encode_classes),
        Attr("selection_", _selection, _encode_selection),
        Attr("memorization_", _memorization, optional=True),
    ),
    tensors=(
        Tensor("class_priors_", ("C",), _probabilities, optional=True),
    ),
    dims=lambda s: {"d": s.n_features_in_, "C": 0 if s.classes_ is None else len(s.classes_)},
    children=(
        Child("support_transform_", "support", "support_transform", "support_transform"),
        Child("whitener_", "whitener", "whitener", "whitener"),
        Child("mixture_", "mixture", "mixture", "mixture"),
        Child("class_models_", "synthesizer", "class_models", "class", many=True),
        Child("_table_state", "table", "table", "table", optional=True),
    ),
    check_params=_check_synthesizer_params,
    finish=_finish_synthesizer,
    build=_build_synthesizer,  # its fitted state is a model object, built from the pieces
    later_params=(("column_kinds", None), ("missing", "model")),
)

register("synthesizer", _SYNTHESIZER, kind="synthesizer",
         fitted=lambda s: check_is_fitted(s, "integer_columns_"))
