"""``mixsynth.Synthesizer``: whiten → select → fit → sample back in the original space.

Why this module is a little over 600 lines: it holds one public class, whose docstring (the
user's reference for every parameter and fitted attribute, ~140 lines) is most of the excess.
The fitting pipeline lives in :mod:`mixsynth.synthesizer_fit` and the model-file table in
:mod:`mixsynth.synthesizer_file`; what remains here is the estimator's surface (parameters,
``fit``, sampling, scoring, the fitted attributes as views of :attr:`Synthesizer.model_`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from numbers import Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from mixsynth._saving import SaveMixin
from mixsynth.core import check_temperature
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.guard import GuardSkippedWarning, MemorizationWarning
from mixsynth.heaps import HeapMap
from mixsynth.model import (
    ClassConditional,
    WhitenedMixture,
)
from mixsynth.modelfile import register
from mixsynth.seeding import SeedLike, SeedPlan, as_generator
from mixsynth.selection import (
    Candidate,
    SelectionResult,
    candidate_ks,
)
from mixsynth.selection.checkpoint import SweepCheckpoint
from mixsynth.sources import ArraySource, StoragePolicy, as_source
from mixsynth.support import SupportTransform
from mixsynth.synthesizer_file import synthesizer_table
from mixsynth.synthesizer_fit import (
    SUPPORTS,
    _column_dtypes,
    _is_frame,
    _is_table,
    _named_frame,
    _plain,
    fit_classes,
    fit_source,
    fit_table,
    search_space,
)
from mixsynth.table_model import MISSING, TableMixture  # registers its model-file table
from mixsynth.validation import check_input, is_count
from mixsynth.whitening import Whitener

__all__ = ["GuardSkippedWarning", "MemorizationWarning", "Synthesizer"]


Array = NDArray[np.float64]




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
    space : {"auto", "pca", "columns"} or sequence of them, default="auto"
        The space the mixture is fitted in. ``"pca"``: the columns centred, scaled
        (``scale``), rotated onto their leading principal directions (``reduce``) and
        whitened. ``"columns"``: each column centred and divided by its standard deviation,
        no rotation and no direction dropped (``reduce``, ``whiten`` and ``scale`` do not
        apply), so a covariance shrunk toward its diagonal (``shrinkage``) is shrunk toward the
        columns' own variances. A sequence is searched (held-out or realism criterion only:
        they score in the original space; AIC and BIC do not compare across spaces).
        ``"auto"``: for ``criterion="realism"``, ``"columns"`` when the data has at most
        :data:`~mixsynth.synthesizer_fit.REALISM_COLUMNS_MAX` (100) non-constant columns and
        no exact linear relation between them, else ``"pca"``; ``"pca"`` for the other
        criteria.
    shrinkage : "auto", float or sequence of float, default="auto"
        Candidate strengths τ >= 0 of the shrinkage of each full covariance toward its own
        diagonal, ``Σk = (Nk Sk + τ diag Sk) / (Nk + τ)``
        (:class:`~mixsynth.GaussianMixture`'s ``shrinkage``; 0: none). Applies to
        ``covariance_type="full"`` candidates only. ``"auto"``:
        :data:`~mixsynth.synthesizer_fit.REALISM_SHRINKAGE` (100, 300, 1000) for
        ``criterion="realism"``, 0 otherwise.
    n_components : int, iterable of int or None, default=None
        Candidate numbers of components; ``None`` tries
        :data:`~mixsynth.synthesizer_fit.DEFAULT_CANDIDATES` (1 to 32), or for
        ``criterion="realism"`` :data:`~mixsynth.synthesizer_fit.REALISM_CANDIDATES`
        (10 to 100), capped by the number of distinct rows. A single int is fitted as given
        (an error if the data has fewer distinct rows).
    covariance_type : str or sequence of str, default="full"
        Candidate covariance types.
    criterion : {"realism", "heldout", "bic", "aic"}, default="realism"
        ``"heldout"``: ``cv``-fold cross-validated mean log-likelihood of held-out rows in the
        original data space, the whitener refitted inside each fold (higher is better).
        ``"realism"``: a classifier two-sample test (gradient-boosting AUC) of each candidate's
        generated rows against the ``cv`` folds' held-out rows, under the memorisation guard,
        with held-out log-likelihood as a floor and a tie-breaker
        (:mod:`mixsynth.selection.realism`; lower AUC is better). Over several
        (space, shrinkage) groups every candidate is screened on one fold and the best
        :data:`~mixsynth.selection.spaces.REALISM_SHORTLIST` are evaluated on all
        (:mod:`mixsynth.selection.spaces`).
        ``"bic"`` / ``"aic"``: information criteria on the whitened training data (lower is
        better); AIC is the textbook recipe and overfits mixtures with many components.
        Realism is the default since 2026-12-04 (docs/quality.md: on digits it halves the
        classifier's margin over held-out likelihood, 0.96 to about 0.83, within the 60 s
        budget); held-out likelihood was before. Data streamed out of core is selected by
        BIC (``"auto"`` settings resolved for it); a mixed table by held-out likelihood
        (the table model has no realism criterion yet).
    cv : int, default=5
        Folds of the held-out criterion.
    search : {"auto", "grid"}, default="auto"
        ``"auto"`` searches many values of K coarse to fine; ``"grid"`` tries them all.
    one_se : bool, default=False
        Held-out: choose the simplest candidate within one standard error of the best.
    n_jobs : int, optional
        Worker processes for the candidates (``-1``: one per core), one BLAS thread each.
    device : str, optional
        A PyTorch device (``"cuda"``, ``"mps"``...) where the candidates' E-steps run
        (:class:`~mixsynth.GaussianMixture`'s ``device``): data fitted in memory only (a
        streamed fit is refused with it). Needs ``pip install 'mixsynth[torch]'``.
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
    reg_covar : "auto", float or sequence of float, default="auto"
        Candidate covariance regularisations, in whitened units (a fraction of unit variance).
        ``"auto"``: (1e-6, 1e-3, 1e-2, 1e-1)
        (:data:`~mixsynth.synthesizer_fit.DEFAULT_REG_COVAR`), or 1e-3 for
        ``criterion="realism"`` (:data:`~mixsynth.synthesizer_fit.REALISM_REG_COVAR`).
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
        What the *samples* carry when the data has gaps (NaN, None, NA in a DataFrame or a
        file fitted in memory); the gaps themselves are always modelled by EM, never imputed.
        ``"model"`` samples rows with gaps at the data's rate and in its co-occurrence
        (missingness indicators are modelled in the mixture); ``"complete"`` samples complete
        rows. Not :class:`~mixsynth.GaussianMixture`'s ``missing`` (``"error"`` / ``"em"``:
        whether its ``fit`` accepts NaN at all); those values are refused here, naming both.
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
        is off, and when it cannot measure (fewer than 100 rows, among others: a
        :class:`~mixsynth.guard.GuardSkippedWarning` says why). Mixed tables have no guard
        yet: ``None``.
    lower_bounds_, upper_bounds_ : ndarray of shape (n_features,)
        Class-conditional: the widest over the classes.
    integer_columns_ : ndarray of bool of shape (n_features,)
        Columns whose observed values are all whole numbers; samples are rounded there.
    decimals_ : ndarray of int of shape (n_features,)
        Decimal places each column was recorded with (-1: none detected); samples are rounded
        to them. Not for a class-conditional synthesizer (each class model has its own).
    heaps_ : HeapMap
        Heaped columns (at most 5 % of the rows distinct values: whole numbers with a few
        halves, popular values, pixel levels): their samples are mapped through the model's
        marginal to the training marginal, so the heaps are reproduced and the mixture's ranks
        kept (:mod:`mixsynth.heaps`). Data fitted in memory with a ``support``; absent when
        no column is heaped.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When fitted on a DataFrame with string column names.
    """

    model_: WhitenedMixture | ClassConditional
    _columns: list[Any] | None
    _dtypes: list[Any] | None

    def __init__(
        self,
        *,
        reduce: float | int | None = 0.99,
        whiten: bool = True,
        scale: Literal["std", "none"] = "std",
        space: str | Sequence[str] = "auto",
        shrinkage: str | float | Sequence[float] = "auto",
        n_components: int | Iterable[int] | None = None,
        covariance_type: str | Sequence[str] = "full",
        criterion: str = "realism",
        cv: int = 5,
        search: str = "auto",
        one_se: bool = False,
        n_jobs: int | None = None,
        device: str | None = None,
        support: str | None = "clip",
        support_transform: str | None = "auto",
        bounds: tuple[ArrayLike, ArrayLike] | Mapping[Any, tuple[float, float]] | None = None,
        reg_covar: str | float | Sequence[float] = "auto",
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
        self.space = space
        self.shrinkage = shrinkage
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.cv = cv
        self.search = search
        self.one_se = one_se
        self.n_jobs = n_jobs
        self.device = device
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
            dataframe. A CSV or Parquet file with text, boolean or date columns is read as
            ``mixsynth fit`` reads it and fitted as its DataFrame would be
            (:func:`mixsynth.io.frames.table_frame`). Other such data below
            ``sources.IN_MEMORY_BYTES`` (256 MiB) is loaded and fitted as an array. Larger data is
            streamed, in bounded memory or data-parallel on dask: bounds, integer columns and the
            whitener come from one first pass, each EM iteration of each candidate reads the data
            once, and candidates are scored by BIC (AIC if asked) since held-out folds would need
            the rows in memory; ``selection_.notes`` says so. ``y`` and the memorisation guard need
            the data in memory. When a ``distributed.Client`` is current (see
            :func:`mixsynth.distributed.cluster`), the candidates of an in-memory sweep run as tasks
            on its cluster (instead of ``n_jobs`` local processes), with the same results.
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
        if isinstance(X, str | os.PathLike) and out_of_core is not True and y is None:
            from mixsynth.io.frames import table_frame

            frame = table_frame(X, force=bool(self.column_kinds))  # as `mixsynth fit` reads it
            if frame is not None:
                X = frame
        if _is_table(X) or (self.column_kinds and _is_frame(X)):
            if y is not None:
                raise ValueError("Class-conditional fitting (y=...) takes numeric columns only; "
                                 "fit one Synthesizer per class on that class's rows instead.")
            fit_table(self, X, plan)
            return self
        source = as_source(X, seed=plan.reservoir_seed(), estimator=self, ensure_min_samples=2)
        named = None if source.in_memory else source  # a file or frame naming its columns
        if not source.in_memory and not StoragePolicy(out_of_core=out_of_core).streams(source):
            try:  # small enough: loaded (a file as `mixsynth fit` reads it, gaps included),
                loaded = source.load()  # then fitted as in-memory data is
                if source.feature_names is not None and not _is_frame(loaded):
                    loaded = _named_frame(source, loaded)  # fitted as fit(df) would be
            finally:
                source.release()
            return self._fit(loaded, y, progress, ckpt, None, plan)
        if y is not None:
            if not isinstance(source, ArraySource):
                source.release()
                raise ValueError(
                    "Class-conditional fitting (y=...) needs the data in memory; fit one "
                    "Synthesizer per class on that class's rows instead."
                )
            self._remember_columns(source.materialize())
            fit_classes(self, source.X, y, progress, ckpt, plan)
            return self
        self._remember_columns(source.materialize() if source.in_memory else None)
        fit_source(self, source, progress, ckpt, plan)
        if named is not None and named.feature_names is not None:  # streamed, with names
            names = list(named.feature_names)
            self._columns = names
            self._dtypes = [np.dtype(t) for t in _column_dtypes(named, self.integer_columns_)]
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
        _, shrinkages, _ = search_space(self)
        types = ([self.covariance_type] if isinstance(self.covariance_type, str)
                 else list(self.covariance_type))
        if any(shrinkages) and "full" not in types:
            raise ValueError(f"shrinkage={self.shrinkage!r} applies to covariance_type='full' "
                             f"only, and the candidates are {types}; add 'full' or set "
                             "shrinkage=0.")
        if self.missing not in MISSING:
            hint = (" (that is GaussianMixture's missing=, whether its fit accepts NaN; a "
                    "Synthesizer always models gaps by EM)"
                    if self.missing in ("em", "error") else "")
            raise ValueError(f"missing must be one of {MISSING} (what the samples carry where "
                             f"the data has gaps), got {self.missing!r}{hint}.")
        if not is_count(self.cv) or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2 (folds), got {self.cv!r}.")
        # checked here for every model family: the mixed tables' EM has no estimator of
        # scikit-learn's to check them, and Python would take True for 1
        if self.n_components is not None:
            candidate_ks(self.n_components)
        for name, low in (("max_iter", 0), ("n_init", 1)):
            value = getattr(self, name)
            if not is_count(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if isinstance(self.tol, bool) or not isinstance(self.tol, Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}.")
        if self.device is not None and not isinstance(self.device, str):
            raise ValueError(f"device must be None or a PyTorch device name such as 'cuda', "
                             f"got {self.device!r}.")
        if self.n_jobs is not None and (not is_count(self.n_jobs) or self.n_jobs == 0):
            raise ValueError(
                f"n_jobs must be None, a positive number of processes or -1 (one per core), "
                f"got {self.n_jobs!r}."
            )

    def _criterion(self) -> str:
        if self.criterion not in ("heldout", "realism", "aic", "bic"):
            raise ValueError(
                "criterion must be one of ('heldout', 'realism', 'aic', 'bic'), got "
                f"{self.criterion!r}."
            )
        return self.criterion

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

    # ---------------------------------------------------------------- sampling

    def sample(
        self,
        n: int,
        random_state: SeedLike = None,
        *,
        given: Mapping[Any, float] | None = None,
        y: Any = None,
        temperature: float = 1.0,
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
        temperature : float, default=1.0
            ``t > 0`` (finite). ``t = 1`` is the model itself: exactly the rows drawn without
            the argument. Otherwise each component's within-component spread is tempered
            while the component weights and means stay the model's: a Gaussian block's
            covariance becomes ``t Σ_k`` (in the space the mixture is fitted in: after the
            support transform, the probabilistic-PCA residual included), and, on a mixed
            table, each categorical distribution of a component (the missingness patterns
            included) becomes ``p^(1/t)`` renormalised: ``t < 1`` sharpens it toward its
            most likely level (fewer gaps where gaps are rare), ``t > 1`` flattens it.
            ``t < 1`` trades diversity for typical rows. With ``given=`` the tempered model
            is conditioned exactly; class priors are not tempered.

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
        t = check_temperature(temperature)
        rng = as_generator(random_state)
        table = self._table()
        if table is not None:
            if y is not None:
                raise ValueError("y= is for class-conditional synthesizers; fit with fit(X, y) "
                                 "first.")
            return table.sample_frame(int(n), rng, given, temperature=t)
        fixed = self._resolve_given(given)
        X, labels = self.model_.sample(int(n), rng, fixed, y, self._column_name, t)
        return self._wrap(X) if labels is None else (self._wrap(X), labels)

    def iter_sample(
        self,
        n: int,
        random_state: SeedLike = None,
        *,
        chunk_size: int = 65_536,
        given: Mapping[Any, float] | None = None,
        y: Any = None,
        temperature: float = 1.0,
    ) -> Iterator[Any]:
        """Generate ``n`` rows in chunks of at most ``chunk_size``, with bounded memory.

        Chunk ``i`` is drawn with the ``i``-th child of ``random_state``, so the rows are the same
        whatever the consumer does between chunks, and any chunk can be regenerated alone.
        Yields what :meth:`sample` returns for each chunk (``given``, ``y`` and
        ``temperature`` as there).
        """
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        check_temperature(temperature)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
        n_chunks = max(1, -(-int(n) // chunk_size))
        plan = SeedPlan.from_random_state(random_state)
        for i in range(n_chunks):  # each chunk's seed made when it is drawn: no list of seeds
            rows = min(chunk_size, int(n) - i * chunk_size)
            yield self.sample(max(rows, 0), plan.chunk(i), given=given, y=y,
                              temperature=temperature)

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
            lo, hi = self.lower_bounds_[j], self.upper_bounds_[j]
            # the model has (next to) no mass there: say so rather than draw (a constant
            # column's own message comes from the model)
            if lo < hi and not lo <= v <= hi:
                raise ValueError(
                    f"given value {_plain(value)!r} for column {_plain(key)!r} is outside the "
                    "data's range "
                    f"[{_plain(lo)!r}, {_plain(hi)!r}] (the observed values, widened by the "
                    "support's margin, or the bounds given)."
                )
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
    def heaps_(self) -> HeapMap:
        """The heaped columns (few distinct values) whose samples take the training marginal
        (:mod:`mixsynth.heaps`). An AttributeError when there are none, for a
        class-conditional synthesizer (each class has its own) and for models saved before
        2026-12-04."""
        check_is_fitted(self, "model_")
        heaps = self.model_.heaps if isinstance(self.model_, WhitenedMixture) else None
        if heaps is None:  # a table model keeps its own (model_.heaps)
            raise AttributeError("this synthesizer maps no heaped column")
        return heaps

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


# How a Synthesizer is stored in a model file: mixsynth.synthesizer_file, registered at import.
register("synthesizer", synthesizer_table(Synthesizer), kind="synthesizer",
         fitted=lambda s: check_is_fitted(s, "integer_columns_"))
