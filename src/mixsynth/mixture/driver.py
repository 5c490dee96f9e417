"""The fit on a source: the EM runs of every estimator advanced together, one pass each.

:func:`fit_on_source` (and :func:`score_on_source`) drive the passes; :class:`_SourceFitting`
holds the estimator's side of it (first pass and checks, the runs' starts, keeping the best),
a mixin of :class:`~mixsynth.gaussian_mixture.GaussianMixture`.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from mixsynth import sources
from mixsynth.core import EMResult, IterationInfo, Params, Stats, family, run_em_lockstep
from mixsynth.mixture.threads import _pass_threads
from mixsynth.sources import ChunkCache, Source, Summary, as_source, sample_seed
from mixsynth.validation import check_representable_spread

if TYPE_CHECKING:
    from mixsynth.gaussian_mixture import GaussianMixture

Array = NDArray[np.float64]


#: Working memory of one chunk's E-step temporaries.
CHUNK_BYTES = 128 * 2**20


#: Below this many multiply-adds per EM iteration a fit runs on one BLAS/OpenMP thread: threads
#: only add overhead at that size, and on a busy machine oversubscription made small fits (and
#: scikit-learn's KMeans initialisation) 10-45x slower here.
SINGLE_THREAD_FLOPS = 3e8


@dataclass(eq=False)
class _SourceRun:
    """One EM run of a fit on a source: its estimator, its start and its pass settings."""

    estimator: GaussianMixture
    shift: Array
    rows: int
    cache: ChunkCache | None  # the kernels' cache, for rows held in memory
    params0: Params | None
    centers: Array | None  # k-means centres awaiting the pass of hard assignments
    lower_bound0: float
    t0: float = field(default_factory=time.perf_counter)


def fit_on_source(estimators: Sequence[GaussianMixture], source: Source) -> None:
    """Fit every estimator on ``source`` as ``estimator.fit(source)`` would, sharing passes.

    All the EM runs (every initialisation of every estimator) advance in lock-step
    (:func:`~mixsynth.core.run_em_lockstep`): one pass of hard assignments for every k-means
    start on a partial sample, then one pass per EM iteration for every run still going; a run
    that converges leaves the later passes. Each run's trajectory, and so each estimator's fit,
    is the one it has alone, to the order of summation (exactly, for runs with the same
    ``chunk_size``). Memory: one chunk of data at a time, plus each run's K × d × d statistics.

    Parameters
    ----------
    estimators : sequence of GaussianMixture
        Unfitted or fitted (a warm start continues from the fit); they may differ in every
        parameter.
    source : Source
        The data (:func:`mixsynth.sources.as_source`); not released here.
    """
    setups = [est._source_setup(source) for est in estimators]
    # one BLAS thread when every run would have one alone: a shared pass is the runs' E-steps
    # one after the other, each as small as it is alone
    small = all(
        summary.n_samples * est.n_components * summary.n_features**2 < SINGLE_THREAD_FLOPS
        for est, (summary, _, _, _) in zip(estimators, setups, strict=True)
    )
    with _pass_threads(1 if small else None):
        runs: list[_SourceRun] = []
        for est, (summary, shift, rows, cache) in zip(estimators, setups, strict=True):
            runs.extend(est._source_starts(summary, shift, rows, cache))
        waiting = [r for r in runs if r.centers is not None]
        if waiting:
            label_stats = source.label_stats_many(
                [r.centers for r in waiting if r.centers is not None],
                [r.shift for r in waiting],
                [r.estimator._family_name() for r in waiting],
                [r.rows for r in waiting],
            )
            for r, stats in zip(waiting, label_stats, strict=True):
                r.params0 = r.estimator._params_from_initial_stats(stats, r.shift)

        def stats_fn(active: Sequence[int], params: Sequence[Params]) -> list[Stats]:
            return source.stats_many(
                params,
                [runs[i].shift for i in active],
                [runs[i].rows for i in active],
                [runs[i].cache for i in active],
            )

        callbacks = [
            r.estimator._verbose_callback(r.t0) if r.estimator.verbose >= 2 else None
            for r in runs
        ]

        def on_iter(i: int, info: IterationInfo) -> None:
            callback = callbacks[i]
            if callback is not None:
                callback(info)

        starts = [r.params0 for r in runs]
        assert all(p is not None for p in starts)
        results = run_em_lockstep(
            stats_fn,
            [p for p in starts if p is not None],
            reg_covar=[r.estimator.reg_covar for r in runs],
            tol=[r.estimator.tol for r in runs],
            max_iter=[r.estimator.max_iter for r in runs],
            lower_bound0=[r.lower_bound0 for r in runs],
            on_iter=on_iter if any(c is not None for c in callbacks) else None,
        )
    for est, (_, shift, _, _) in zip(estimators, setups, strict=True):
        mine = [res for r, res in zip(runs, results, strict=True) if r.estimator is est]
        if est.verbose:
            for r, res in zip([r for r in runs if r.estimator is est], mine, strict=True):
                est._print_init_result(res, r.t0)
        est._keep_best(mine, shift, stacklevel=5)


def score_on_source(estimators: Sequence[GaussianMixture], source: Source) -> list[float]:
    """``estimator.score(source)`` of every fitted estimator, in one pass over ``source``."""
    params, rows = [], []
    for est in estimators:
        params.append(est._params())
        d = est.n_features_in_
        if source.n_features is not None and source.n_features != d:
            raise ValueError(
                f"X has {source.n_features} features, but {type(est).__name__} is expecting "
                f"{d} features as input."
            )
        name = params[-1].covariance_type
        rows.append(est.chunk_size or _rows_per_chunk(d, est.n_components, name))
    scores = []
    for ll, n in source.loglik_many(params, rows):
        if n <= 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        scores.append(ll / n)
    return scores


def _rows_per_chunk(d: int, K: int, covariance_type: str) -> int:
    """Rows whose per-chunk temporaries fit in :data:`CHUNK_BYTES`.

    :func:`~mixsynth.core.suffstats.suffstats` visits a chunk in cache-sized blocks of rows, so
    a chunk holds only a few ``(rows, K)`` arrays (the pruning bounds, the sort order) besides
    its rows; the packed outer products are built per block.
    """
    per_row = 8 * (4 * K + 2 * d)
    return max(256, CHUNK_BYTES // per_row)


class _SourceFitting:
    """The estimator's side of :func:`fit_on_source`: a mixin of ``GaussianMixture``.

    Its methods annotate ``self`` as ``GaussianMixture`` and ignore mypy's "erased type of
    self" error on each (``misc``): the mixin is only ever a base of that class, and so its
    bodies are checked against the estimator's attributes.
    """

    def _fit(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, X_in: Any, sample_weight_in: Any
    ) -> None:
        """The one fit path: the data as a source (an array is validated here, with
        scikit-learn's messages), then the shared-pass fit over it."""
        source = as_source(
            X_in, sample_weight_in, seed=sample_seed(self.random_state), estimator=self,
            ensure_min_samples=2, allow_nan=self.missing == "em", device=self.device,
        )
        owned = source is not X_in  # a source handed in (by Synthesizer) is its owner's
        try:
            fit_on_source([self], source)
        finally:
            if owned:
                source.release()

    def _source_setup(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, source: Source
    ) -> tuple[Summary, Array, int, ChunkCache | None]:
        """The first pass of a fit on ``source`` and the checks on what it found: the summary,
        the shift the fit works about (the weighted mean: the expanded kernels stay accurate
        for data with a large offset, and the fit is shift-equivariant), the rows per E-step
        chunk, and for rows held in memory the cache the fit's kernels keep between passes."""
        K, cov_type = self.n_components, self._family_name()
        summary = source.summary(max(sources.SAMPLE_ROWS, 50 * K))
        n, d = summary.n_samples, summary.n_features
        if n < 2 or d < 1:
            what = "sample(s)" if n < 2 else "feature(s)"
            raise ValueError(
                f"Found array with {n if n < 2 else d} {what} (shape=({n}, {d})) while a "
                f"minimum of {2 if n < 2 else 1} is required by GaussianMixture."
            )
        if summary.moments is not None:
            check_representable_spread(summary.moments.minimum, summary.moments.maximum, n,
                                       source.feature_names)
        self.n_features_in_ = d
        names = source.feature_names
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self.covariance_type == "factor" and self.n_factors is not None \
                and self.n_factors >= d:
            raise ValueError(
                f"n_factors={self.n_factors} must be smaller than n_features = {d} "
                "(n_factors = n_features - 1 already allows any covariance)."
            )
        if self.covariance_type == "factor" and self.missing != "error":
            raise ValueError(
                f"missing={self.missing!r} is not supported with covariance_type='factor' "
                "yet (EM over observed coordinates exists for the Gaussian covariance types); "
                "use missing='error' or another covariance type."
            )
        self._check_initial_parameters(d)
        self._check_supports_k(summary)
        rows = self.chunk_size or _rows_per_chunk(d, K, cov_type)
        cache = None
        if source.in_memory:  # the centred rows (and packed products) kept across iterations
            packs = getattr(family(cov_type), "layout", None) == "full"
            cache = ChunkCache(packs and ChunkCache.packs_fit(n, d))
        return summary, summary.weighted_mean, rows, cache

    def _source_starts(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, summary: Summary, shift: Array, rows: int, cache: ChunkCache | None
    ) -> list[_SourceRun]:
        """The EM runs of a fit on a source (``n_init``, or one for a warm start), in order;
        k-means starts on a partial sample still await their pass of hard assignments."""
        # a warm start continues the fitted family only (new settings: a fresh start)
        do_init = not (self.warm_start and hasattr(self, "converged_")
                       and getattr(self, "family_", None) == self._family_name())
        if not do_init:
            if self.verbose:
                print("Initialization 0")
            fitted = self._params()
            params = replace(fitted, means=fitted.means - shift)
            return [
                _SourceRun(self, shift, rows, cache, params, None, float(self.lower_bound_))
            ]
        random_state = check_random_state(self.random_state)
        runs = []
        for init in range(self.n_init):
            t0 = time.perf_counter()
            if self.verbose:
                print(f"Initialization {init}")
            start = self._initial_start_source(summary, shift, random_state)
            if isinstance(start, Params):
                runs.append(_SourceRun(self, shift, rows, cache, start, None, -np.inf, t0))
            else:
                runs.append(_SourceRun(self, shift, rows, cache, None, start, -np.inf, t0))
        return runs

    def _print_init_result(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, result: EMResult, t0: float
    ) -> None:
        state = "converged" if result.converged else "did not converge"
        print(
            f"Initialization {state}. time lapse {time.perf_counter() - t0:.5f}s\t "
            f"lower bound {result.lower_bound:.5f}"
        )

    def _keep_best(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, results: Sequence[EMResult], shift: Array, stacklevel: int
    ) -> None:
        """Set the fitted attributes from the best of the initialisations' EM runs."""
        best: tuple[float, Any] | None = None
        for result in results:
            if best is None or result.lower_bound > best[0] or best[0] == -np.inf:
                best = (result.lower_bound, result)
        assert best is not None
        result = best[1]
        if not result.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        p = result.params
        self._set_params(replace(p, means=p.means + shift))
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = list(result.lower_bounds)

    def _verbose_callback(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, t0: float
    ) -> Any:
        def on_iter(info: IterationInfo) -> None:
            if info.n_iter % self.verbose_interval == 0:
                print(
                    f"  Iteration {info.n_iter}\t time lapse {time.perf_counter() - t0:.5f}s\t "
                    f"ll change {info.change:.5f}"
                )
                sys.stdout.flush()

        return on_iter

    def _check_supports_k(  # type: ignore[misc]  # a mixin of GaussianMixture
        self: GaussianMixture, summary: Summary
    ) -> None:
        """Enough distinct rows (of positive weight) for ``n_components``: counted on the data
        when the summary's sample is the data, else on the uniform sample."""
        K, n = self.n_components, summary.n_samples
        if n < K:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {K}, "
                f"n_samples = {n}"
            )
        rows, w = summary.sample, summary.sample_weight
        if summary.complete:
            rows = rows if w is None else rows[w > 0]
            # a prefix with K distinct rows settles it cheaply; else count them all
            if len(np.unique(rows[: 20 * K], axis=0)) >= K:
                return
        n_distinct = len(np.unique(rows, axis=0))
        if n_distinct >= K:
            return
        if summary.complete:
            raise ValueError(
                f"n_components={K} is larger than the number of distinct rows with positive "
                f"weight ({n_distinct}); decrease n_components."
            )
        raise ValueError(
            f"n_components={K} is larger than the number of distinct rows ({n_distinct}) "
            f"in a uniform sample of {len(rows)} of the {n} rows; decrease n_components."
        )
