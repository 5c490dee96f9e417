"""``mixsynth.Synthesizer``: whiten → select → fit → sample back in the original space."""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted, column_or_1d

from mixsynth import sources
from mixsynth._saving import SaveMixin
from mixsynth.conditional import condition, full_covariances
from mixsynth.evaluation import column_scale, near_copy_threshold, nearest_distances
from mixsynth.seeding import SeedLike, as_generator, spawn_seeds
from mixsynth.selection import Candidate, candidate_grid, make_folds, refit_best, select
from mixsynth.sources import Source, StoragePolicy, SupportMap, as_source, is_out_of_core
from mixsynth.support import SupportTransform
from mixsynth.validation import check_input
from mixsynth.whitening import Whitener

__all__ = ["MemorizationWarning", "Synthesizer"]


class MemorizationWarning(UserWarning):
    """Generated rows sit closer to the training rows than fresh data does."""

Array = NDArray[np.float64]

#: Candidates tried when ``n_components`` is left to the synthesizer.
DEFAULT_CANDIDATES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32)

#: A row closer to a training row than this fraction of training rows are to their own nearest
#: neighbour is a near copy.
NEAR_COPY_QUANTILE = 0.05

#: The guard needs at least this many held-back rows (a fifth of the data) to say anything.
_GUARD_MIN_HOLDOUT = 20

#: ``support="truncate"`` gives up when fewer than this fraction of draws land in bounds.
_MIN_ACCEPTANCE = 1e-3

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
    criterion : {"heldout", "bic", "aic"}, default="heldout"
        ``"heldout"``: ``cv``-fold cross-validated mean log-likelihood of held-out rows in the
        original data space, the whitener refitted inside each fold (higher is better).
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
        ``"clip"`` clips samples to the observed bounds, ``"truncate"`` redraws rows outside
        them; both round integer-valued columns. ``None`` returns raw draws.
    support_transform : {"auto", "logit"} or None, default="auto"
        Map bounded columns to the real line before whitening
        (:class:`~mixsynth.support.SupportTransform`: integers dequantised, then a squeezed
        logit), so samples respect the bounds by construction instead of by clipping. On digits
        it raised the held-out log-likelihood from -117.6 to -90.9 per digit. ``"auto"``
        transforms integer-valued columns (counts, pixels, ratings: bounded by nature) and
        columns given finite ``bounds``; ``"logit"`` every column with finite bounds, observed
        ones included (it distorts continuous columns whose range is only what was observed);
        ``None`` models the columns as they are.
    bounds : tuple of array-like (lower, upper), optional
        Per-column bounds to use instead of the observed ones (``±inf`` for unbounded).
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
    random_state : None, int or Generator
        Seeds the selection and the final fit.

    Attributes
    ----------
    whitener_ : Whitener
    mixture_ : GaussianMixture or None
        ``None`` only when every column is constant.
    selection_ : SelectionResult or None
    memorization_ : dict or None
        The guard's measurements: ``near_copy_rate`` (generated rows),
        ``holdout_near_copy_rate`` (held-back real rows), ``threshold``, the medians
        ``dcr_synthetic_median`` / ``dcr_holdout_median`` of distances to the closest training
        row, ``n_train``, ``n_holdout``, ``n_synthetic``, ``warned``. ``None`` when the guard
        is off or there are fewer than 100 rows.
    lower_bounds_, upper_bounds_ : ndarray of shape (n_features,)
    integer_columns_ : ndarray of bool of shape (n_features,)
        Columns whose observed values are all whole numbers; samples are rounded there.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When fitted on a DataFrame with string column names.
    """

    lower_bounds_: Array
    upper_bounds_: Array
    integer_columns_: NDArray[np.bool_]

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
        bounds: tuple[ArrayLike, ArrayLike] | None = None,
        reg_covar: float | Sequence[float] = (1e-6, 1e-3, 1e-2, 1e-1),
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        guard: bool = True,
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
            from mixsynth.checkpoint import SweepCheckpoint

            ckpt = SweepCheckpoint(checkpoint)
        self._fit(X, y, progress, ckpt, out_of_core)
        if ckpt is not None:
            ckpt.discard()  # the fit finished: nothing to resume
        return self

    def _fit(
        self,
        X: Any,
        y: Any,
        progress: Callable[[int, int, Candidate], None] | None,
        ckpt: Any,
        out_of_core: bool | None = None,
    ) -> Synthesizer:
        if self.support not in SUPPORTS:
            raise ValueError(f"support must be one of {SUPPORTS}, got {self.support!r}.")
        if self.support_transform not in (None, "auto", "logit"):
            raise ValueError(
                "support_transform must be 'auto', 'logit' or None, got "
                f"{self.support_transform!r}."
            )
        if is_out_of_core(X):
            reservoir_seed, noise_seed = spawn_seeds(self.random_state, 7)[5:]
            source = as_source(X, seed=int(reservoir_seed.generate_state(1, np.uint64)[0] >> 1))
            assert source is not None
            X = self._in_memory_if_small(source, out_of_core)
            if X is None:
                return self._fit_out_of_core(source, y, progress, noise_seed)
        runner = _cluster_runner()
        self._remember_columns(X)
        Xv = check_input(X, estimator=self, reset=True, ensure_min_samples=2)
        if y is not None:
            return self._fit_classes(Xv, y, progress, ckpt)
        self.classes_: NDArray[Any] | None = None
        self._fit_support(Xv)
        self.support_transform_ = self._make_support_transform()
        Xt, log_jac = self._to_model_space(Xv, as_generator(spawn_seeds(self.random_state, 2)[1]))

        self.whitener_ = Whitener(self.reduce, whiten=self.whiten, scale=self.scale).fit(Xt)
        Z = self.whitener_.transform(Xt)
        mixture_params = dict(
            tol=self.tol, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params,
        )
        self.memorization_: dict[str, Any] | None = None
        if Z.shape[1] == 0:  # every column constant: the data is one point
            self.mixture_, self.selection_ = None, None
            return self
        grid = self._grid(Xv)  # distinct rows of the data itself, before dequantisation
        heldout = self.criterion == "heldout"
        folds = (
            make_folds(Xt, self.whitener_, self.cv, self.random_state, log_jacobian=log_jac)[0]
            if heldout else ()
        )
        try:
            self.selection_, mixture = select(
                grid, criterion=self.criterion, random_state=self.random_state,
                mixture_params=mixture_params, Z=None if heldout else Z, folds=folds,
                search=self.search, one_se=self.one_se, n_jobs=self.n_jobs, progress=progress,
                runner=runner, **self._checkpoint_hooks(ckpt, Xv),
            )
        finally:
            if runner is not None:
                runner.close()
        if mixture is None:  # held-out: the winner is refitted on every row
            mixture = refit_best(Z, self.selection_, self.random_state, mixture_params)
        self.mixture_ = mixture
        if not self.mixture_.converged_:
            warnings.warn(
                f"The selected mixture (K={self.mixture_.n_components}) did not converge in "
                f"max_iter={self.max_iter} iterations; increase max_iter or tol.",
                UserWarning,
                stacklevel=2,
            )
        if self.guard:
            self.memorization_ = self._memorization_check(Xv)
        return self

    def _in_memory_if_small(self, source: Source, out_of_core: bool | None = None) -> Any:
        """The data in memory unless the storage policy streams it (``sources.StoragePolicy``:
        by ``sources.IN_MEMORY_BYTES``, or as ``out_of_core`` says), else ``None``."""
        if StoragePolicy(out_of_core=out_of_core).streams(source):
            return None
        try:
            return source.materialize()
        finally:
            source.release()

    def _fit_out_of_core(
        self,
        source: Source,
        y: Any,
        progress: Callable[[int, int, Candidate], None] | None,
        noise_seed: np.random.SeedSequence,
    ) -> Synthesizer:
        """Fit on data too large for memory: streamed, or data-parallel on a dask cluster.

        Passes: one first pass (bounds, integer columns, moments, reservoir sample), one more
        for the moments after a support transform, then per candidate a pass of hard
        assignments, one per EM iteration and one to score it; the whitened data is persisted
        on a dask cluster when it fits.
        """
        if y is not None:
            raise ValueError(
                "Class-conditional fitting (y=...) needs the data in memory; fit one "
                "Synthesizer per class on that class's rows instead."
            )
        if hasattr(source, "persist_data"):
            source.persist_data = False  # read twice at most; the whitened data is persisted
        model: Source = source
        Z: Source | None = None
        try:
            summary = source.summary(sources.SAMPLE_ROWS)
            n, d = summary.n_samples, summary.n_features
            if n < 2:
                raise ValueError(
                    f"Found array with {n} sample(s) (shape=({n}, {d})) while a minimum of 2 is "
                    "required by Synthesizer."
                )
            assert summary.moments is not None and summary.integer_columns is not None
            self.n_features_in_ = d
            if source.feature_names is not None:
                self.feature_names_in_ = source.feature_names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self._remember_columns(None)  # samples come back as arrays
            self.classes_ = None
            self._set_support(
                summary.moments.minimum, summary.moments.maximum, summary.integer_columns
            )
            self.support_transform_ = self._make_support_transform()
            moments = summary.moments
            if self.support_transform_ is not None:
                seed = int(noise_seed.generate_state(1, np.uint64)[0] >> 1)
                model = source.mapped(SupportMap(self.support_transform_, seed))
                if hasattr(model, "persist_data"):
                    model.persist_data = False
                mapped = model.summary(sources.SAMPLE_ROWS).moments
                assert mapped is not None
                moments = mapped
            self.whitener_ = Whitener(
                self.reduce, whiten=self.whiten, scale=self.scale
            ).fit_from_moments(moments)
            self.memorization_ = None
            if self.whitener_.n_components_ == 0:  # every column constant
                self.mixture_, self.selection_ = None, None
                return self
            grid = self._grid(summary.sample)
            notes = [f"fitted out of core ({source.kind}, {n} rows)"]
            criterion = self.criterion
            if criterion == "heldout":
                criterion = "bic"
                notes.append(
                    "criterion 'heldout' needs the rows in memory; out-of-core selection used "
                    "BIC (consistent, and close to held-out scores at this many rows)"
                )
            if self.guard:
                notes.append("memorisation guard skipped: it needs the rows in memory")
            Z = model.whitened(self.whitener_)
            mixture_params = dict(
                tol=self.tol, max_iter=self.max_iter, n_init=self.n_init,
                init_params=self.init_params,
            )
            result, mixture = select(
                grid, criterion=criterion, random_state=self.random_state,
                mixture_params=mixture_params, Z=Z, search=self.search, one_se=self.one_se,
                n_jobs=None if source.kind == "dask" else self.n_jobs, progress=progress,
            )
        finally:
            for held in (Z, model, source):
                if held is not None:
                    held.release()
        assert mixture is not None
        self.selection_ = dataclasses.replace(result, notes=(*result.notes, *notes))
        self.mixture_ = mixture
        if not mixture.converged_:
            warnings.warn(
                f"The selected mixture (K={mixture.n_components}) did not converge in "
                f"max_iter={self.max_iter} iterations; increase max_iter or tol.",
                UserWarning,
                stacklevel=3,
            )
        return self

    def _memorization_check(self, X: Array) -> dict[str, Any] | None:
        """Near copies of generated rows vs of held-back real rows, both against the rest."""
        n = X.shape[0]
        n_hold = n // 5
        if n_hold < _GUARD_MIN_HOLDOUT:
            return None  # too few rows to measure a near-copy rate on
        if n - n_hold < 2 * max(2, self.mixture_.n_components if self.mixture_ else 1):
            return None
        seeds = spawn_seeds(self.random_state, 4)
        order = as_generator(seeds[3]).permutation(n)
        hold, train = X[order[:n_hold]], X[order[n_hold:]]
        best = self.selection_.best if self.selection_ is not None else None
        if best is None:
            return None
        probe = clone(self).set_params(
            n_components=best.n_components, covariance_type=best.covariance_type,
            reg_covar=best.reg_covar, criterion="bic", guard=False, random_state=seeds[3],
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                probe.fit(train)
        except ValueError:
            return None  # e.g. K above the distinct rows of the smaller part
        synthetic = probe._sample_array(max(n_hold, 200), as_generator(seeds[3]), {})
        scale = column_scale(train)
        if not np.any(scale > 0):
            return None
        threshold = near_copy_threshold(
            train, scale=scale, quantile=NEAR_COPY_QUANTILE, random_state=seeds[3]
        )
        d_syn = nearest_distances(train, synthetic, scale=scale)
        d_hold = nearest_distances(train, hold, scale=scale)
        rate = float(np.mean(d_syn <= threshold))
        base = float(np.mean(d_hold <= threshold))
        # A fresh sample is a near copy about NEAR_COPY_QUANTILE of the time by construction of
        # the threshold; the held-back rows measure it, noisily when they are few. Warn when the
        # generated rate is over twice that and significantly above the held-back rate.
        expected = max(base, NEAR_COPY_QUANTILE)
        se = np.sqrt(rate * (1 - rate) / len(d_syn) + expected * (1 - expected) / len(d_hold))
        warned = bool(rate > 2.0 * expected and (rate - base) > 3.0 * se)
        if warned:
            warnings.warn(
                f"Possible memorisation: {rate:.1%} of generated rows are near copies of "
                f"training rows, against {base:.1%} of held-out real rows. Prefer "
                "criterion='heldout', fewer components or a larger reg_covar.",
                MemorizationWarning,
                stacklevel=3,
            )
        return {
            "near_copy_rate": rate,
            "holdout_near_copy_rate": base,
            "threshold": float(threshold),
            "dcr_synthetic_median": float(np.median(d_syn)),
            "dcr_holdout_median": float(np.median(d_hold)),
            "n_train": int(train.shape[0]),
            "n_holdout": int(n_hold),
            "n_synthetic": int(synthetic.shape[0]),
            "warned": bool(warned),
        }

    def _checkpoint_hooks(self, ckpt: Any, X: Array) -> dict[str, Any]:
        """``known`` and ``on_candidate`` for :func:`select`, from a sweep checkpoint."""
        if ckpt is None:
            return {}
        from mixsynth.checkpoint import fingerprint

        key = fingerprint(X, self.get_params())

        def record(candidate: Candidate) -> None:
            ckpt.record(key, candidate)

        return {"known": ckpt.known(key), "on_candidate": record}

    def _fit_classes(
        self,
        X: Array,
        y: ArrayLike,
        progress: Callable[[int, int, Candidate], None] | None,
        ckpt: Any = None,
    ) -> Synthesizer:
        """One synthesizer per class, each with its own selection; seeds keyed by class index."""
        labels = column_or_1d(y, warn=True)
        if labels.shape[0] != X.shape[0]:
            raise ValueError(
                f"y has {labels.shape[0]} labels but X has {X.shape[0]} rows; they must match."
            )
        classes, counts = np.unique(labels, return_counts=True)
        need = max(2, self.cv if self.criterion == "heldout" else 2)
        small = [(c, n) for c, n in zip(classes, counts, strict=True) if n < need]
        if small:
            shown = ", ".join(f"{_plain(c)!r} ({n} rows)" for c, n in small[:5])
            raise ValueError(
                f"Every class needs at least {need} rows to be fitted on its own; too few: "
                f"{shown}. Merge or drop those classes, or use criterion='bic'."
            )
        seeds = spawn_seeds(self.random_state, len(classes))
        models = []
        for c, seed in zip(classes, seeds, strict=True):
            sub = clone(self).set_params(random_state=seed)
            sub._fit(X[labels == c], None, progress, ckpt)
            models.append(sub)
        self.classes_ = classes
        self.class_priors_ = counts / counts.sum()
        self.class_models_ = tuple(models)
        self.whitener_, self.mixture_, self.selection_ = None, None, None
        self.support_transform_ = None
        self.memorization_ = _pooled_memorization(models, self.class_priors_)
        self.lower_bounds_ = np.min([m.lower_bounds_ for m in models], axis=0)
        self.upper_bounds_ = np.max([m.upper_bounds_ for m in models], axis=0)
        self.integer_columns_ = np.all([m.integer_columns_ for m in models], axis=0)
        return self

    def _make_support_transform(self) -> SupportTransform | None:
        if self.support_transform is None:
            return None
        only = None
        if self.support_transform == "auto":
            only = self.integer_columns_.copy()
            if self.bounds is not None:  # bounds the user stated, not merely observed
                only |= np.isfinite(self.lower_bounds_) & np.isfinite(self.upper_bounds_)
        t = SupportTransform.from_bounds(
            self.lower_bounds_, self.upper_bounds_, self.integer_columns_, only=only
        )
        return t if t.active.any() else None

    def _to_model_space(
        self, X: Array, rng: np.random.Generator | None = None
    ) -> tuple[Array, Array]:
        """The support transform, when there is one: data and log-Jacobian per row."""
        if self.support_transform_ is None:
            return X, np.zeros(X.shape[0])
        return self.support_transform_.forward(X, rng)

    def _from_model_space(self, Y: Array) -> Array:
        t = self.support_transform_
        return Y if t is None else t.inverse(Y)

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

    def _fit_support(self, X: Array) -> None:
        self._set_support(X.min(axis=0), X.max(axis=0), np.all(X == np.round(X), axis=0))

    def _set_support(self, lo: Array, hi: Array, integer: NDArray[np.bool_]) -> None:
        """The observed bounds and integer columns, or the bounds the user gave."""
        if self.bounds is None:
            self.lower_bounds_, self.upper_bounds_ = lo, hi
        else:
            lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), (lo.shape[0],)).copy()
                      for b in self.bounds)
            if np.any(lo > hi):
                raise ValueError("bounds: every lower bound must be <= its upper bound.")
            self.lower_bounds_, self.upper_bounds_ = lo, hi
        self.integer_columns_ = integer

    def _grid(self, X: Array) -> list[tuple[int, str, float]]:
        n_distinct = len(np.unique(X, axis=0))
        if self.criterion == "heldout":
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
        check_is_fitted(self, "integer_columns_")
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        rng = as_generator(random_state)
        fixed = self._resolve_given(given)
        if self.classes_ is None:
            if y is not None:
                raise ValueError(
                    "y= is for class-conditional synthesizers; fit with fit(X, y) first."
                )
            return self._wrap(self._sample_array(int(n), rng, fixed))
        if y is not None:
            matches = np.flatnonzero(self.classes_ == y)
            if len(matches) == 0:
                known = [_plain(c) for c in self.classes_]
                raise ValueError(f"Unknown class {_plain(y)!r}; known classes: {known}.")
            counts = np.zeros(len(self.classes_), dtype=np.int64)
            counts[matches[0]] = n
        else:
            counts = rng.multinomial(int(n), self.class_priors_)
        children = rng.spawn(len(self.classes_))
        parts = [
            m._sample_array(int(c), g, fixed)
            for m, c, g in zip(self.class_models_, counts, children, strict=True)
        ]
        X = np.concatenate(parts) if parts else np.empty((0, self.n_features_in_))
        labels = np.repeat(self.classes_, counts)
        order = rng.permutation(int(n))
        return self._wrap(X[order]), labels[order]

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
        seeds = spawn_seeds(random_state, n_chunks)
        for i, seed in enumerate(seeds):
            rows = min(chunk_size, int(n) - i * chunk_size)
            yield self.sample(max(rows, 0), seed, given=given, y=y)

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

    def _sample_array(self, n: int, rng: np.random.Generator, fixed: dict[int, float]) -> Array:
        """Rows in the original space with the support applied (no DataFrame wrapping)."""
        draw = self._sampler(fixed)
        if self.support == "truncate":
            return self._sample_truncated(n, rng, draw, fixed)
        return self._apply_support(draw(n, rng), fixed)

    def _sampler(self, fixed: dict[int, float]) -> Callable[[int, np.random.Generator], Array]:
        """A function drawing raw rows (before the support) given the fixed columns."""
        w = self.whitener_
        const = w.constant_mask_
        for j, v in fixed.items():
            if const[j] and v != w.mean_[j]:
                raise ValueError(
                    f"Column {self._column_name(j)} is constant ({w.mean_[j]!r}) in the training "
                    f"data; the model gives no probability to {v!r}."
                )
        free_fixed = [j for j in fixed if not const[j]]
        if not free_fixed or self.mixture_ is None:
            def draw_plain(n: int, rng: np.random.Generator) -> Array:
                Z = (
                    np.zeros((n, 0)) if self.mixture_ is None
                    else self.mixture_.sample(n, random_state=rng)[0]
                )
                X = self._from_model_space(
                    w.inverse_transform(Z) + self._residual_noise(n, rng)
                )
                for j, v in fixed.items():
                    X[:, j] = v
                return X

            return draw_plain
        weights, means, covs, cols = self._data_space_mixture()
        pos = {c: i for i, c in enumerate(cols)}
        given_idx = np.array([pos[j] for j in free_fixed])
        row = self.lower_bounds_.copy()[None, :]
        for j, v in fixed.items():
            row[0, j] = v
        row = self._to_model_space(np.nan_to_num(row))[0]  # given values in model space
        values = row[0, free_fixed]
        cond = condition(weights, means, covs, given_idx, values)
        free_cols = np.setdiff1d(np.arange(len(cols)), given_idx)

        def draw_conditional(n: int, rng: np.random.Generator) -> Array:
            X = np.empty((n, self.n_features_in_))
            X[:, const] = w.constant_values_
            X[:, cols[free_cols]] = cond.sample(n, rng)
            X[:, cols[given_idx]] = values
            X = self._from_model_space(X)
            for j, v in fixed.items():
                X[:, j] = v
            return X

        return draw_conditional

    def _column_name(self, j: int) -> str:
        return repr(self._columns[j]) if self._columns is not None else str(j)

    def _residual_noise(self, n: int, rng: np.random.Generator) -> Array:
        """Probabilistic-PCA noise in the discarded directions, in the original columns."""
        w = self.whitener_
        noise = np.zeros((n, self.n_features_in_))
        varying = ~w.constant_mask_
        d_var = int(varying.sum())
        if w.noise_variance_ <= 0.0 or d_var <= w.n_components_:
            return noise
        V = w.components_[:, varying]
        E = rng.standard_normal((n, d_var)) * np.sqrt(w.noise_variance_)
        E -= (E @ V.T) @ V  # project on the discarded directions
        noise[:, varying] = E * w.scale_[varying]
        return noise

    def _data_space_mixture(self) -> tuple[Array, Array, Array, NDArray[np.intp]]:
        """The mixture over the non-constant columns: ``N(A mu_k + b, A S_k A^T + N)``.

        Returns weights (K,), means (K, d'), covariances (K, d', d') and the positions of the
        d' non-constant columns.
        """
        w, gm = self.whitener_, self.mixture_
        assert gm is not None
        cols = np.flatnonzero(~w.constant_mask_)
        scale = w.scale_[cols]
        C = w.components_[:, cols]  # (k, d')
        load = np.sqrt(w.explained_variance_) if w.whiten else np.ones(C.shape[0])
        A = (C * load[:, None]).T * scale[:, None]  # x' = A z + b
        b = w.mean_[cols]
        k = C.shape[0]
        S = full_covariances(gm.covariances_, gm.covariance_type, gm.n_components, k)
        covs = A @ S @ A.T
        if w.noise_variance_ > 0 and len(cols) > k:
            P = np.eye(len(cols)) - C.T @ C
            covs = covs + w.noise_variance_ * (scale[:, None] * P * scale[None, :])
        means = gm.means_ @ A.T + b
        return gm.weights_, means, covs, cols

    def _round(self, X: Array, free: NDArray[np.bool_]) -> Array:
        if self.support is not None:
            cols = self.integer_columns_ & free
            X[:, cols] = np.round(X[:, cols])
        return X

    def _free_mask(self, fixed: dict[int, float]) -> NDArray[np.bool_]:
        free = np.ones(self.n_features_in_, dtype=bool)
        free[list(fixed)] = False
        return free

    def _apply_support(self, X: Array, fixed: dict[int, float]) -> Array:
        free = self._free_mask(fixed)
        X = self._round(X, free)
        if self.support is not None:
            X[:, free] = np.clip(
                X[:, free], self.lower_bounds_[free], self.upper_bounds_[free]
            )
        return X

    def _sample_truncated(
        self,
        n: int,
        rng: np.random.Generator,
        draw: Callable[[int, np.random.Generator], Array],
        fixed: dict[int, float],
    ) -> Array:
        """Rejection sampling: redraw rows outside the bounds until ``n`` are inside."""
        free = self._free_mask(fixed)
        lo, hi = self.lower_bounds_[free], self.upper_bounds_[free]
        kept: list[Array] = []
        have, drawn = 0, 0
        batch = max(n, 64)
        while have < n:
            X = self._round(draw(batch, rng), free)
            ok = X[np.all((X[:, free] >= lo) & (X[:, free] <= hi), axis=1)]
            kept.append(ok)
            have += len(ok)
            drawn += batch
            rate = have / drawn
            if drawn >= 100 * max(n, 64) and rate < _MIN_ACCEPTANCE:
                raise RuntimeError(
                    f"support='truncate' accepted only {rate:.2%} of draws; the model puts "
                    "little mass inside the bounds. Use support='clip' or wider bounds."
                )
            batch = int(min(max(64, 1.2 * (n - have) / max(rate, _MIN_ACCEPTANCE)), 10 * n + 64))
        return np.concatenate(kept)[:n] if kept else np.empty((0, self.n_features_in_))

    def _wrap(self, X: Array) -> Any:
        if self._columns is None:
            return X
        import pandas as pd

        df = pd.DataFrame(X, columns=self._columns)
        assert self._dtypes is not None
        for col, dtype in zip(self._columns, self._dtypes, strict=True):
            if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
                df[col] = df[col].round().astype(dtype)
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
        check_is_fitted(self, "integer_columns_")
        Xv = check_input(X, estimator=self, reset=False)
        if self.classes_ is not None:  # log sum_c pi_c p(x | c)
            per_class = np.stack([m.score_samples(Xv) for m in self.class_models_], axis=1)
            return logsumexp(per_class + np.log(self.class_priors_), axis=1)
        Xt, log_jac = self._to_model_space(Xv)
        residual = self.whitener_.residual_log_density(Xt) + log_jac
        if self.mixture_ is None:
            return residual
        return self.mixture_.score_samples(self.whitener_.transform(Xt)) + residual

    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Mean log-density per row in the original space."""
        return float(np.mean(self.score_samples(X)))

    @property
    def n_parameters_(self) -> int:
        """Free parameters of the selected mixture."""
        check_is_fitted(self, "integer_columns_")
        if self.classes_ is not None:
            return sum(m.n_parameters_ for m in self.class_models_) + len(self.classes_) - 1
        return 0 if self.mixture_ is None else self.mixture_._n_parameters()


def _cluster_runner() -> Any:
    """Runs the candidates of a sweep as tasks on the current ``distributed.Client``; ``None``
    when there is none (``distributed`` is not even imported unless something loaded it)."""
    if "distributed" not in sys.modules:
        return None
    from mixsynth.distributed import ClusterRunner, current_client  # the edge layer, on demand

    client = current_client()
    return None if client is None else ClusterRunner(client)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for messages (``'a'`` rather than ``np.str_('a')``)."""
    return value.item() if isinstance(value, np.generic) else value


def _pooled_memorization(models: Sequence[Synthesizer], priors: Array) -> dict[str, Any] | None:
    """The class models' guard results, weighted by the class priors."""
    parts = [(m.memorization_, p) for m, p in zip(models, priors, strict=True)]
    if any(part is None for part, _ in parts):
        return None
    keys = ("near_copy_rate", "holdout_near_copy_rate")
    out: dict[str, Any] = {
        k: float(sum(p * part[k] for part, p in parts if part is not None)) for k in keys
    }
    out["warned"] = any(part["warned"] for part, _ in parts if part is not None)
    out["per_class"] = [part for part, _ in parts]
    return out
