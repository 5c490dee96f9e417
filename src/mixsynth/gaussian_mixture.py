"""``mixsynth.GaussianMixture``: a drop-in for :class:`sklearn.mixture.GaussianMixture`.

The same parameters, defaults, fitted attributes and methods, over mixsynth's EM core (one loop,
additive per-chunk statistics, no Python loop over components). Beyond scikit-learn:
``fit(X, y=None, sample_weight=None)``, ``sample(n_samples, random_state=None)`` with a per-call
seed and rows returned in random order, and bounded memory through ``chunk_size``.

``fit`` has one path: every input becomes a :class:`~mixsynth.sources.Source`
(:func:`~mixsynth.sources.as_source`; an array or DataFrame is an
:class:`~mixsynth.sources.ArraySource`), and :func:`fit_on_source` runs the ``n_init`` EM runs in
lock-step over it, one pass per iteration. The same call streams data that does not fit in memory
(a ``np.memmap``, a path to a ``.npy``, ``.parquet`` or ``.csv`` file, a callable returning an
iterator of chunks, a list of arrays) and runs data-parallel on a dask array or dataframe; only
the pass over the data differs.
"""

from __future__ import annotations

import hashlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import cache
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from threadpoolctl import ThreadpoolController

from mixsynth import sources
from mixsynth._saving import SaveMixin
from mixsynth.core import (
    EMResult,
    IterationInfo,
    Params,
    Stats,
    accumulate,
    covariances_from_precisions_cholesky,
    covariances_from_stats,
    e_step,
    estimate_weighted_log_prob,
    factor_name,
    family,
    precisions_cholesky_from_covariances,
    precisions_cholesky_from_precisions,
    precisions_from_precisions_cholesky,
    pruning,
    run_em_lockstep,
    sample_mixture,
    shrunk_name,
)
from mixsynth.core.families.factor import Factor, factor_covariances
from mixsynth.core.families.gaussian import Gaussian, triangular_factor_problem
from mixsynth.core.kernels import pack_outer, unpack_symmetric
from mixsynth.core.missing import has_missing
from mixsynth.modelfile import Attr, ModelFileError, Table, Tensor, register
from mixsynth.modelfile.attributes import _bool, _floats, _int, _lower_bound
from mixsynth.modelfile.tables import _FEATURE_NAMES, Shape, _positive, _probabilities, _same_length
from mixsynth.seeding import SeedLike, as_generator
from mixsynth.sources import ChunkCache, Source, Summary, as_source, is_out_of_core, sample_seed
from mixsynth.validation import check_input

__all__ = [
    "GaussianMixture",
    "blas_threads",
    "fit_on_source",
    "kmeans_plusplus_indices",
    "score_on_source",
    "shared_initialisation",
]

Array = NDArray[np.float64]

#: Working memory of one chunk's E-step temporaries.
CHUNK_BYTES = 128 * 2**20
#: Below this many multiply-adds per EM iteration a fit runs on one BLAS/OpenMP thread: threads
#: only add overhead at that size, and on a busy machine oversubscription made small fits (and
#: scikit-learn's KMeans initialisation) 10-45x slower here.
SINGLE_THREAD_FLOPS = 3e8
#: Bytes of initial clusterings a :func:`shared_initialisation` block keeps (oldest dropped first).
INIT_CACHE_BYTES = 256 * 2**20


@cache
def _controller() -> ThreadpoolController:
    """One thread-pool controller per process: ``threadpool_limits`` scans the loaded libraries
    at every call (~1.3 ms here), a kept controller switches in ~15 us. Made at the first fit,
    after numpy, scipy and scikit-learn (whose OpenMP runtime k-means uses) are loaded."""
    return ThreadpoolController()


def blas_threads(limit: int | None) -> AbstractContextManager[Any]:
    """At most ``limit`` BLAS/OpenMP threads within the block (``None``: no change, no cost)."""
    if limit is None:
        return nullcontext()
    return _controller().limit(limits=limit)


def _squared_distances(A: Array, X: Array, x_sq: Array) -> Array:
    """``|a - x|^2`` of rows of ``A`` to rows of ``X``, by scikit-learn's expression for
    float64 (``sklearn.metrics.pairwise._euclidean_distances``), operation for operation."""
    D = -2 * (A @ X.T)
    D += np.einsum("ij,ij->i", A, A)[:, None]
    D += x_sq[None, :]
    np.maximum(D, 0, out=D)
    return D


def kmeans_plusplus_indices(
    X: Array, n_clusters: int, random_state: np.random.RandomState,
    sample_weight: Array | None = None,
) -> tuple[Array, NDArray[np.intp]]:
    """k-means++ seeding: the centres and rows :func:`sklearn.cluster.kmeans_plusplus` chooses
    from the same ``random_state`` (left in the same state), without its validation per step.

    The same draws (``choice``, then ``uniform`` of ``2 + int(log K)`` trials per centre) and
    the same float64 operations in the same order (squared distances, cumulative potentials,
    ``searchsorted``, ``argmin``), so the same indices, bit for bit; the tests compare them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    n_clusters : int
    random_state : RandomState
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
    """
    n = X.shape[0]
    if n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}.")
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    x_sq = np.einsum("ij,ij->i", X, X)
    trials = 2 + int(np.log(n_clusters))
    indices = np.full(n_clusters, -1, dtype=int)
    center_id = random_state.choice(n, p=w / w.sum())
    indices[0] = center_id
    closest = _squared_distances(X[center_id, np.newaxis], X, x_sq)
    current_pot = closest @ w
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=trials) * current_pot
        candidates = np.searchsorted(np.cumsum(w * closest), rand_vals)
        np.clip(candidates, None, closest.size - 1, out=candidates)
        dist = _squared_distances(X[candidates], X, x_sq)
        np.minimum(closest, dist, out=dist)
        pots = dist @ w.reshape(-1, 1)
        best = np.argmin(pots)
        current_pot = pots[best]
        closest = dist[best]
        indices[c] = candidates[best]
    return X[indices], indices


@dataclass(frozen=True)
class _KMeansPlusPlus:
    """``KMeans(init=...)``: k-means++ on the rows KMeans hands over (its centred copy), with
    the row weights KMeans does not pass to a callable."""

    sample_weight: Array | None

    def __call__(self, X: Array, n_clusters: int, random_state: Any) -> Array:
        return kmeans_plusplus_indices(X, n_clusters, random_state, self.sample_weight)[0]


#: The initial scatter of a k-means start is summed over the packed outer products of the
#: centred rows when they take at most this many bytes (else by ``accumulate``'s tiles).
HARD_SCATTER_BYTES = 64 * 2**20


def _hard_full_stats(X: Array, R: Array, labels: NDArray[np.intp], centers: Array) -> Stats:
    """The statistics ``accumulate(X, R, centers, "full")`` gives for responsibilities ``R``
    with one nonzero per row (at ``labels``; the row's weight): the exact centred scatter
    ``Σ r (x - c)(x - c)^T`` of each component, as the segment sums of the packed outer
    products of ``sqrt(r) (x - c_label)``, rows sorted by label (equal to rounding)."""
    K, d = centers.shape
    r = R[np.arange(X.shape[0]), labels]
    order = np.argsort(labels, kind="stable")
    W = X[order] - centers[labels[order]]
    W *= np.sqrt(r[order])[:, None]
    counts = np.bincount(labels, minlength=K)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    used = np.flatnonzero(counts)
    sums = np.add.reduceat(pack_outer(W).T, starts[used], axis=1)  # (d(d+1)/2, used)
    sxx = np.zeros((K, d, d))
    sxx[used] = unpack_symmetric(np.ascontiguousarray(sums.T), d)
    return Stats(n=float(R.sum()), loglik=0.0, nk=R.sum(axis=0), sx=R.T @ X, sxx=sxx,
                 centers=centers, covariance_type="full")


def _blas_threads_now() -> int:
    """The BLAS threads a product would use now (the largest over the loaded BLAS libraries)."""
    info = _controller().select(user_api="blas").info()
    return max((int(lib["num_threads"]) for lib in info), default=1)


@contextmanager
def _pass_threads(limit: int | None) -> Iterator[None]:
    """At most ``limit`` BLAS threads, and the E-step told how many it has (its choice of
    pass depends on it: :func:`mixsynth.core.pruning.pruning_may_pay`) and how to hold BLAS
    to one thread for its pruned pass."""
    with blas_threads(limit):
        threads = pruning.BLAS_THREADS.set(limit if limit is not None else _blas_threads_now())
        one = pruning.ONE_THREAD.set(_one_blas_thread)
        try:
            yield
        finally:
            pruning.ONE_THREAD.reset(one)
            pruning.BLAS_THREADS.reset(threads)


def _one_blas_thread() -> AbstractContextManager[Any]:
    return blas_threads(1)


@dataclass(eq=False)
class _InitCache:
    """Initial clusterings of one :func:`shared_initialisation` block, by what determines them."""

    entries: dict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=dict)
    nbytes: int = 0
    hits: int = 0

    def put(self, key: tuple[Any, ...], value: tuple[Any, ...], size: int) -> None:
        self.entries[key] = value
        self.nbytes += size
        while self.nbytes > INIT_CACHE_BYTES and len(self.entries) > 1:
            old = next(iter(self.entries))
            self.nbytes -= self.entries.pop(old)[-1]


_INIT_CACHE: ContextVar[_InitCache | None] = ContextVar("mixsynth_init_cache", default=None)


@contextmanager
def shared_initialisation() -> Iterator[_InitCache]:
    """Fits within this block share their initial clustering when it is the same computation.

    The k-means (``"kmeans"``) or seeding (``"k-means++"``, ``"random_from_data"``) result of an
    initialisation depends only on the rows, their weights, ``n_components``, ``init_params``
    and the random state, not on ``covariance_type`` or ``reg_covar``. Fits that repeat it (the
    candidates of a sweep that differ only in those, on the same fold, from the same seed) take
    the result of the first, and leave their random state where computing it would have: every
    fit is exactly the fit made without the block. Nested blocks share the outer one's cache.
    """
    current = _INIT_CACHE.get()
    if current is not None:
        yield current
        return
    box = _InitCache()
    token = _INIT_CACHE.set(box)
    try:
        yield box
    finally:
        _INIT_CACHE.reset(token)


def _digest(a: NDArray[Any] | None) -> bytes | None:
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(a.tobytes(), digest_size=16)
    h.update(repr((a.shape, a.dtype.str)).encode())
    return h.digest()


def _state_key(random_state: np.random.RandomState) -> tuple[Any, ...]:
    state = random_state.get_state(legacy=True)
    assert isinstance(state, tuple)
    return (str(state[0]), _digest(np.asarray(state[1])), int(state[2]), int(state[3]),
            float(state[4]))


def _n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters: covariances + means + (K - 1) weights, as the family named
    ``covariance_type`` counts them (:meth:`mixsynth.core.Family.n_parameters`)."""
    return family(covariance_type).n_parameters(n_components, n_features)


def family_name(covariance_type: str, shrinkage: float = 0.0, n_factors: int | None = None
                ) -> str:
    """The core family (:func:`mixsynth.core.family`) of the estimator's settings.

    ``("full", 0)`` → ``"full"``; ``("full", 200)`` → ``"full-shrunk(200)"``;
    ``("factor", n_factors=5)`` → ``"factor(5)"``; the other types are their own names.

    Raises
    ------
    ValueError
        For a combination that means nothing: shrinkage with a type other than "full",
        ``n_factors`` with a type other than "factor", "factor" without ``n_factors``.
    """
    if shrinkage and covariance_type != "full":
        raise ValueError(
            f"shrinkage={shrinkage!r} applies to covariance_type='full' only, got "
            f"covariance_type={covariance_type!r}; set shrinkage=0."
        )
    if covariance_type == "factor":
        if n_factors is None:
            raise ValueError(
                "covariance_type='factor' needs n_factors, the number of factors per "
                "component (an integer >= 0; 0 is a diagonal covariance)."
            )
        return factor_name(n_factors)
    if n_factors is not None:
        raise ValueError(
            f"n_factors={n_factors!r} applies to covariance_type='factor' only, got "
            f"covariance_type={covariance_type!r}; set n_factors=None."
        )
    if covariance_type == "full":
        return shrunk_name(shrinkage)
    return covariance_type


class GaussianMixture(SaveMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    Parameters are those of :class:`sklearn.mixture.GaussianMixture`, with the same defaults.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical", "factor"}, default="full"
        The four of scikit-learn, and "factor": a mixture of factor analysers,
        ``Σ_k = W_k W_k^T + Ψ_k`` with ``n_factors`` columns in ``W_k`` and ``Ψ_k`` diagonal
        (:mod:`mixsynth.core.families.factor`), EM in ``O(n K d q)`` per iteration.
    shrinkage : float, default=0.0
        ``τ >= 0``, "full" only: each covariance is shrunk toward its own diagonal,
        ``Σ_k = (N_k S_k + τ diag S_k) / (N_k + τ)`` (MAP under a conjugate prior worth ``τ``
        rows; :mod:`mixsynth.core.families.shrunk`). ``0`` is plain maximum likelihood. AIC and
        BIC count the parameters of "full" (the prior removes none).
    n_factors : int, optional
        ``q >= 0``, required by "factor" and refused by the other types; ``0`` is a diagonal
        covariance. AIC and BIC count ``K (d q - q (q - 1) / 2 + d)`` covariance parameters.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean per-sample log-likelihood.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance; keeps them positive definite.
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations to run; the one with the highest lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
    weights_init : array-like of shape (n_components,), optional
    means_init : array-like of shape (n_components, n_features), optional
    precisions_init : array-like, optional
        Shape by covariance type as in scikit-learn.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation.
    warm_start : bool, default=False
        Start from the previous fit's parameters (``n_init`` is then ignored).
    verbose : int, default=0
        1 prints the initialisations, 2 also every ``verbose_interval`` iterations (to stdout,
        as scikit-learn does).
    verbose_interval : int, default=10
    chunk_size : int, optional
        Rows per chunk of the E-step; by default chosen to keep temporaries near 128 MiB.
        Memory, not results, depends on it.
    missing : {"error", "em"}, default="error"
        What NaN in ``X`` means. "error" (scikit-learn's behaviour): NaN is refused, naming its
        column and first row. "em": NaN marks a missing value, handled by exact EM over each
        row's observed coordinates (the E-step uses the marginal density of the observed
        values, the M-step the conditional expectations of the missing ones; see
        docs/engine.md, "Missing values"); nothing is imputed. The k-means initialisation runs
        on the rows with each missing value replaced by its column's observed mean (a start
        only: EM then works on the observed values). ``score_samples``, ``score``,
        ``predict_proba`` and ``predict`` use the marginal density over each row's observed
        values (0 for a row with none observed). A column with no observed value is an error
        at ``fit``; ±inf is always an error. Data given in memory only.

    Attributes
    ----------
    family_ : str
        The core component family fitted (:func:`mixsynth.core.family`): "full", "tied",
        "diag", "spherical", ``"full-shrunk(τ)"`` or ``"factor(q)"``.
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape by covariance type as in scikit-learn; "factor": ``W W^T + Ψ``,
        (n_components, n_features, n_features).
    precisions_ : ndarray
        The inverses of ``covariances_`` ("factor": by Woodbury's identity).
    precisions_cholesky_ : ndarray
        ``precision = P @ P.T`` ("factor": the lower Cholesky factors of ``precisions_``).
    loadings_ : ndarray of shape (n_components, n_features, n_factors)
        "factor" only: ``W``.
    noise_variance_ : ndarray of shape (n_components, n_features)
        "factor" only: the diagonal of ``Ψ``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean per-sample log-likelihood of the best initialisation, from its last E-step.
    lower_bounds_ : list of float
        Lower bound after each iteration of the best initialisation.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from mixsynth import GaussianMixture
    >>> X = np.r_[np.random.default_rng(0).normal(size=(100, 2)), [[10, 10]] * 3]
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.sample(5, random_state=1)[0].shape
    (5, 2)
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012 - scikit-learn's contract
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical", "factor"})],
        "shrinkage": [Interval(Real, 0.0, None, closed="left")],
        "n_factors": [Interval(Integral, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "missing": [StrOptions({"error", "em"})],
    }

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        shrinkage: float = 0.0,
        n_factors: int | None = None,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: ArrayLike | None = None,
        means_init: ArrayLike | None = None,
        precisions_init: ArrayLike | None = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        chunk_size: int | None = None,
        missing: str = "error",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.shrinkage = shrinkage
        self.n_factors = n_factors
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.chunk_size = chunk_size
        self.missing = missing

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> Any:
        """Estimate the parameters with EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), out-of-core data, or Source
            Any input is made a :class:`~mixsynth.sources.Source` and fitted the same way
            (:func:`fit_on_source`). In memory: an array or DataFrame. Streamed with bounded
            memory: a ``np.memmap``, a path to a ``.npy``, ``.parquet`` or ``.csv`` file, a
            callable returning a fresh iterator of 2-D chunks (called once per pass), or a list
            of 2-D arrays. Data-parallel
            on the current ``distributed.Client`` (else dask's threads): a dask array or
            dataframe. A streamed fit initialises from a uniform sample of
            ``max(20000, 50 K)`` rows (k-means on the sample, then one pass of hard assignments
            over all rows) and then reads the data once per EM iteration; from the same
            initial parameters it gives the in-memory result to rounding.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight acts as repeating the row (a dask array for
            dask input).

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(
        self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None
    ) -> NDArray[np.intp]:
        """Fit, then label each row with its most probable component."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _fit(self, X_in: Any, sample_weight_in: Any) -> None:
        """The one fit path: the data as a source (an array is validated here, with
        scikit-learn's messages), then the shared-pass fit over it."""
        source = as_source(
            X_in, sample_weight_in, seed=sample_seed(self.random_state), estimator=self,
            ensure_min_samples=2, allow_nan=self.missing == "em",
        )
        owned = source is not X_in  # a source handed in (by Synthesizer) is its owner's
        try:
            fit_on_source([self], source)
        finally:
            if owned:
                source.release()

    def _source_setup(self, source: Source) -> tuple[Summary, Array, int, ChunkCache | None]:
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

    def _source_starts(
        self, summary: Summary, shift: Array, rows: int, cache: ChunkCache | None
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

    def _print_init_result(self, result: EMResult, t0: float) -> None:
        state = "converged" if result.converged else "did not converge"
        print(
            f"Initialization {state}. time lapse {time.perf_counter() - t0:.5f}s\t "
            f"lower bound {result.lower_bound:.5f}"
        )

    def _keep_best(self, results: Sequence[EMResult], shift: Array, stacklevel: int) -> None:
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

    def _verbose_callback(self, t0: float) -> Any:
        def on_iter(info: IterationInfo) -> None:
            if info.n_iter % self.verbose_interval == 0:
                print(
                    f"  Iteration {info.n_iter}\t time lapse {time.perf_counter() - t0:.5f}s\t "
                    f"ll change {info.change:.5f}"
                )
                sys.stdout.flush()

        return on_iter

    def _check_supports_k(self, summary: Summary) -> None:
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

    def _family_name(self) -> str:
        """The core family of the settings (:func:`family_name`); raises on a combination
        that means nothing."""
        return family_name(self.covariance_type, self.shrinkage, self.n_factors)

    def _check_initial_parameters(self, d: int) -> None:
        K, cov_type = self.n_components, self.covariance_type
        if cov_type == "factor" and self.precisions_init is not None:
            raise ValueError(
                "precisions_init is not supported with covariance_type='factor' (its "
                "covariances are loadings and noise variances); leave it None."
            )
        if self.weights_init is not None:
            wts = np.asarray(self.weights_init, dtype=np.float64)
            if wts.shape != (K,):
                raise ValueError(
                    f"The parameter 'weights' should have the shape of ({K},), but got "
                    f"{wts.shape}"
                )
            if np.any(wts < 0) or np.any(wts > 1):
                raise ValueError("The parameter 'weights' should be in the range [0, 1].")
            if not np.isclose(wts.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    "The parameter 'weights' should be normalized, but got "
                    f"sum(weights) = {wts.sum():.5f}"
                )
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=np.float64)
            if m.shape != (K, d):
                raise ValueError(
                    f"The parameter 'means' should have the shape of ({K}, {d}), but got "
                    f"{m.shape}"
                )
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=np.float64)
            expected = {
                "full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,),
            }[cov_type]
            if p.shape != expected:
                raise ValueError(
                    f"The parameter '{cov_type} precision' should have the shape of "
                    f"{expected}, but got {p.shape}"
                )
            if cov_type in ("full", "tied"):
                mats = p.reshape(-1, d, d)
                if not np.allclose(mats, np.swapaxes(mats, 1, 2)):
                    raise ValueError(f"'{cov_type} precision' should be symmetric")
                if np.any(np.linalg.eigvalsh(mats) <= 0):
                    raise ValueError(f"'{cov_type} precision' should be positive-definite")
            elif np.any(p <= 0):
                raise ValueError(f"'{cov_type} precision' should be positive")

    def _initial_resp(self, X: Array, w: Array | None, random_state: Any) -> Array:
        """Initial responsibilities, shared within a :func:`shared_initialisation` block."""
        cache = _INIT_CACHE.get()
        if cache is None or self.init_params == "random":
            return self._initial_resp_computed(X, w, random_state)
        key = (self.init_params, self.n_components, _digest(X), _digest(w),
               _state_key(random_state))
        hit = cache.entries.get(key)
        if hit is None:
            resp = self._initial_resp_computed(X, w, random_state)
            rows, cols = np.nonzero(resp)  # one-hot: a label per row, or K seeded rows
            rows, cols = rows.astype(np.int32), cols.astype(np.int32)
            cache.put(key, (rows, cols, random_state.get_state(), rows.nbytes + cols.nbytes),
                      rows.nbytes + cols.nbytes)
            return resp
        rows, cols, after, _ = hit
        cache.hits += 1
        random_state.set_state(after)
        resp = np.zeros((X.shape[0], self.n_components))
        resp[rows, cols] = 1.0
        return resp

    def _initial_resp_computed(self, X: Array, w: Array | None, random_state: Any) -> Array:
        n, K = X.shape[0], self.n_components
        if self.init_params == "kmeans":
            # scikit-learn's k-means, seeded by the same k-means++ without its per-step
            # validation: the callable receives KMeans' own centred rows and random state
            labels = (
                KMeans(n_clusters=K, n_init=1, random_state=random_state,
                       init=_KMeansPlusPlus(w))
                .fit(X, sample_weight=w)
                .labels_
            )
            resp = np.zeros((n, K))
            resp[np.arange(n), labels] = 1.0
        elif self.init_params == "random":
            resp = random_state.uniform(size=(n, K))
            resp /= resp.sum(axis=1)[:, None]
        elif self.init_params == "random_from_data":
            resp = np.zeros((n, K))
            p = None if w is None else w / w.sum()
            idx = random_state.choice(n, size=K, replace=False, p=p)
            resp[idx, np.arange(K)] = 1.0
        else:  # k-means++
            resp = np.zeros((n, K))
            _, idx = kmeans_plusplus_indices(X, K, random_state, w)
            resp[idx, np.arange(K)] = 1.0
        return resp

    def _initial_params(
        self, X: Array, w: Array | None, shift: Array, random_state: Any
    ) -> Params:
        """Parameters from initial responsibilities, then overridden by any ``*_init``."""
        resp = self._initial_resp(X, w, random_state)
        R = resp if w is None else resp * w[:, None]
        # centres of the second moments: the initial means, so the scatter is computed exactly
        nk = R.sum(axis=0) + 10 * np.finfo(np.float64).eps
        centers = (R.T @ X) / nk[:, None]
        d = X.shape[1]
        if (self.init_params == "kmeans" and self._family_name() == "full"
                and X.shape[0] * d * (d + 1) // 2 * 8 <= HARD_SCATTER_BYTES):
            # one component per row: the exact centred scatter by sorted rows
            stats = _hard_full_stats(X, R, resp.argmax(axis=1), centers)
        else:
            stats = accumulate(X, R, centers, self._family_name())  # exact centred form
        return self._params_from_initial_stats(stats, shift)

    def _initial_start_source(
        self, summary: Summary, shift: Array, random_state: Any
    ) -> Params | Array:
        """The start of a streamed fit, from the reservoir sample: initial parameters, or the
        k-means centres of the sample when a pass over all rows must finish them.

        When the sample is the whole data this is :meth:`_initial_params` itself. Otherwise
        k-means runs on the sample and one full pass assigns every row to its nearest centre
        (:meth:`Source.label_stats <mixsynth.sources.Source.label_stats>`, then
        :meth:`_params_from_initial_stats`): the initial weights and covariances then come from
        all rows, as in memory.
        """
        S = summary.sample - shift
        if self.missing == "em" and has_missing(S):
            # k-means needs complete rows: a missing value starts at its column's observed
            # mean (the shift, so 0 here); EM then uses only the observed values
            S = np.where(np.isnan(S), 0.0, S)
        overridden = (
            self.weights_init is not None and self.means_init is not None
            and self.precisions_init is not None
        )
        if summary.complete or self.init_params != "kmeans" or overridden:
            # a weighted sample is already drawn in proportion to the weights
            w = summary.sample_weight if summary.complete else None
            return self._initial_params(S, w, shift, random_state)
        resp = self._initial_resp(S, None, random_state)
        nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
        return np.asarray((resp.T @ S) / nk[:, None])

    def _params_from_initial_stats(self, stats: Stats, shift: Array) -> Params:
        """Initial parameters from statistics, then overridden by any ``*_init``."""
        K, d = self.n_components, stats.sx.shape[1]
        if not isinstance(stats.family, Gaussian):
            # another family's own start (factor: probabilistic PCA of the scatter)
            params = stats.family.m_step(stats, self.reg_covar)
            if self.weights_init is not None:
                params = replace(
                    params, weights=np.asarray(self.weights_init, dtype=np.float64).copy()
                )
            if self.means_init is not None:
                params = replace(
                    params, means=np.asarray(self.means_init, dtype=np.float64) - shift
                )
            return params
        cov_type = stats.covariance_type
        weights, means, cov = covariances_from_stats(stats, self.reg_covar)
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64).copy()
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64) - shift
        if self.precisions_init is None:
            pc = precisions_cholesky_from_covariances(cov, cov_type)
        else:
            pc = precisions_cholesky_from_precisions(
                np.asarray(self.precisions_init, dtype=np.float64), cov_type
            )
        assert means.shape == (K, d)
        return Params(weights, means, pc, cov_type)

    lower_bound_: float

    def _set_params(self, params: Params) -> None:
        """The fitted attributes from core parameters of any family.

        Parameters named by the bare covariance type (as a model file's reader rebuilds a
        Gaussian fit) take the family of the estimator's settings: a shrunk fit stores the
        full family's factors and scores and samples like them.
        """
        name = params.covariance_type
        self.family_ = self._family_name() if name == self.covariance_type else name
        self.weights_ = params.weights
        self.means_ = params.means
        fam = family(name)
        if isinstance(fam, Factor):
            W, psi = params.extra["loadings"], params.extra["noise_variance"]
            self.loadings_, self.noise_variance_ = W, psi
            self.covariances_ = factor_covariances(W, psi)
            self.precisions_ = _factor_precisions(W, psi)
            self.precisions_cholesky_ = np.asarray(
                np.linalg.cholesky(self.precisions_), dtype=np.float64
            )
            return
        for stale in ("loadings_", "noise_variance_"):  # from an earlier fit as "factor"
            if hasattr(self, stale):
                delattr(self, stale)
        # C order, as a loaded model has it: the kernels' rounding depends on the layout, and a
        # model must score and sample the same rows before saving and after loading
        self.precisions_cholesky_ = np.ascontiguousarray(params.precisions_cholesky)
        self.precisions_ = precisions_from_precisions_cholesky(params.precisions_cholesky, name)
        self.covariances_ = covariances_from_precisions_cholesky(params.precisions_cholesky, name)

    def _params(self) -> Params:
        check_is_fitted(self)
        name = getattr(self, "family_", None) or self._family_name()
        fam = family(name)
        if isinstance(fam, Factor):
            return fam.params(self.weights_, self.means_, self.loadings_, self.noise_variance_)
        return Params(self.weights_, self.means_, self.precisions_cholesky_, name)

    @property
    def params_(self) -> Params:
        """The fitted parameters as core :class:`~mixsynth.core.Params` (family name in
        ``covariance_type``, a family's own arrays in ``extra``):
        ``mixsynth.core.family(gm.family_).to_tensors(gm.params_)`` are the model-file
        tensors of any family, and ``gm._set_params(family(name).from_tensors(tensors))``
        restores them."""
        return self._params()


    # ---------------------------------------------------------------- inference

    def _per_chunk(self, X: ArrayLike, fn: Callable[[Array, Params], Any], empty: Any) -> Any:
        """``fn(chunk, params)`` over the validated rows of ``X`` in E-step-sized chunks,
        concatenated (``empty`` when there are no rows): the body of every per-row method."""
        check_is_fitted(self)
        X = check_input(X, estimator=self, reset=False, allow_nan=self.missing == "em")
        params = self._params()
        rows = self.chunk_size or _rows_per_chunk(
            X.shape[1], self.n_components, self._params().covariance_type
        )
        parts = [fn(X[start : start + rows], params) for start in range(0, X.shape[0], rows)]
        return np.concatenate(parts) if parts else empty

    def score_samples(self, X: ArrayLike) -> Array:
        """Log-density of each row, ``log p(x)``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._per_chunk(
            X, lambda c, p: logsumexp(estimate_weighted_log_prob(c, p), axis=1), np.empty(0)
        )

    def score(self, X: Any, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Mean (weighted) per-sample log-likelihood of ``X`` (out-of-core data is streamed)."""
        if isinstance(X, Source) or is_out_of_core(X):
            return self._score_source(X, sample_weight)
        scores = self.score_samples(X)
        w = None if sample_weight is None else _check_sample_weight(sample_weight, scores[:, None])
        return float(np.average(scores, weights=w))

    def _score_source(self, X: Any, sample_weight: Any) -> float:
        source = as_source(X, sample_weight)
        try:
            return score_on_source([self], source)[0]
        finally:
            if source is not X:
                source.release()

    def predict_proba(self, X: ArrayLike) -> Array:
        """Posterior probability of each component for each row, shape (n_samples, K)."""
        return self._per_chunk(
            X, lambda c, p: np.exp(e_step(c, p)[1]), np.empty((0, self.n_components))
        )

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Most probable component of each row."""
        return self._per_chunk(
            X, lambda c, p: estimate_weighted_log_prob(c, p).argmax(axis=1),
            np.empty(0, dtype=np.intp),
        )

    def _n_parameters(self) -> int:
        name = self._params().covariance_type
        return _n_parameters(self.n_components, self.means_.shape[1], name)

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return float(-2.0 * self.score(X) * n + 2.0 * self._n_parameters())

    def bic(self, X: ArrayLike) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return float(-2.0 * self.score(X) * n + self._n_parameters() * np.log(n))

    def sample(
        self, n_samples: int = 1, random_state: SeedLike = None, temperature: float = 1.0
    ) -> tuple[Array, NDArray[np.intp]]:
        """Draw rows from the fitted mixture, in random order.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : None, int, Generator or SeedSequence
            Per-call seed: the same seed gives the same rows; ``None`` gives fresh rows.
        temperature : float, default=1.0
            ``t > 0``: rows of component ``k`` are drawn from ``N(μ_k, t Σ_k)`` (the weights
            and means are the model's). ``t = 1`` is the model itself (the same rows as
            without the argument); ``t < 1`` trades diversity for typical rows. See
            :func:`mixsynth.core.sample_mixture`.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        params = self._params()
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise ValueError(f"n_samples must be a non-negative integer, got {n_samples!r}.")
        return sample_mixture(
            params, int(n_samples), as_generator(random_state), temperature=temperature
        )


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


def _factor_precisions(W: Array, psi: Array) -> Array:
    """``(W W^T + Ψ)^{-1} = Ψ^{-1} - Ψ^{-1} W (I + W^T Ψ^{-1} W)^{-1} W^T Ψ^{-1}`` (Woodbury),
    shape (K, d, d): for the fitted attributes, not EM."""
    _, d, q = W.shape
    scaled = W / psi[:, :, None]
    M = np.swapaxes(W, 1, 2) @ scaled
    M[:, np.arange(q), np.arange(q)] += 1.0
    prec = -(scaled @ np.linalg.solve(M, np.swapaxes(scaled, 1, 2)))
    prec[:, np.arange(d), np.arange(d)] += 1.0 / psi
    return np.asarray(0.5 * (prec + np.swapaxes(prec, 1, 2)))


# ------------------------------------------------------------------------------ model files
# How a GaussianMixture is stored in a model file (mixsynth.modelfile), registered at import.


def _precision_cholesky_shape(gm: GaussianMixture) -> Shape:
    K, d = gm.n_components, gm.n_features_in_
    return {
        "full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,),
        "factor": (K, d, d),  # the Cholesky factors of the precisions, kept for scikit-learn
    }[gm.covariance_type]


def _loadings_shape(gm: GaussianMixture) -> Shape:
    return (gm.n_components, gm.n_features_in_, int(gm.n_factors or 0))


def _precision_cholesky_check(a: NDArray[np.float64], gm: GaussianMixture) -> str | None:
    if gm.covariance_type in ("diag", "spherical"):
        return _positive(a, gm)
    return triangular_factor_problem(a)


def _finish_mixture(gm: GaussianMixture, where: str) -> None:
    _same_length(where, gm, gm.n_features_in_, "feature_names_in_")
    try:
        name = gm._family_name()  # the recorded covariance_type, shrinkage and n_factors
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    is_factor = gm.covariance_type == "factor"
    for attr in ("loadings_", "noise_variance_"):
        if (getattr(gm, attr, None) is None) == is_factor:
            raise ModelFileError(
                f"tensor '{where}.{attr.strip('_')}' is "
                f"{'missing' if is_factor else 'present'} for covariance_type="
                f"{gm.covariance_type!r}"
            )
        if not is_factor and hasattr(gm, attr):
            delattr(gm, attr)  # the optional tensor was absent: no attribute, as after fit
    if is_factor:
        try:
            params = family(name).from_tensors({
                "weights": gm.weights_, "means": gm.means_, "loadings": gm.loadings_,
                "noise_variance": gm.noise_variance_,
            })
        except ValueError as exc:
            raise ModelFileError(f"{where}: {exc}") from None
        with np.errstate(all="ignore"):
            gm._set_params(params)
        return
    with np.errstate(all="ignore"):
        gm._set_params(Params(gm.weights_, gm.means_, gm.precisions_cholesky_,
                              gm.covariance_type))
    if not (np.all(np.isfinite(gm.precisions_)) and np.all(np.isfinite(gm.covariances_))):
        raise ModelFileError(
            f"tensor '{where}.precisions_cholesky': the precisions or covariances it implies "
            "are not finite"
        )


_MIXTURE = Table(
    cls=GaussianMixture,
    attrs=(
        Attr("n_features_in_", _int(1)),
        _FEATURE_NAMES,
        Attr("converged_", _bool),
        Attr("n_iter_", _int(0)),
        Attr("lower_bound_", _lower_bound),
        Attr("lower_bounds_", _floats),
    ),
    tensors=(
        Tensor("weights_", ("K",), _probabilities),
        Tensor("means_", ("K", "d")),
        Tensor("precisions_cholesky_", _precision_cholesky_shape, _precision_cholesky_check),
        # covariance_type="factor" only (absent otherwise); shrinkage and n_factors are
        # parameters, recorded with the others
        Tensor("loadings_", _loadings_shape, optional=True),
        Tensor("noise_variance_", ("K", "d"), _positive, optional=True),
    ),
    dims=lambda gm: {"K": gm.n_components, "d": gm.n_features_in_},
    finish=_finish_mixture,
    # written only when set: files of models without them keep their bytes
    later_params=(("missing", "error"), ("shrinkage", 0.0), ("n_factors", None)),
)

register("mixture", _MIXTURE, kind="gaussian_mixture", prefix="mixture.",
         fitted=lambda gm: check_is_fitted(gm, "weights_"))
