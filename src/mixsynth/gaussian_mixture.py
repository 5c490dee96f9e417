"""``mixsynth.GaussianMixture``: a drop-in for :class:`sklearn.mixture.GaussianMixture`.

The same parameters, defaults, fitted attributes and methods, over mixsynth's EM core (one loop,
additive per-chunk statistics, no Python loop over components). Beyond scikit-learn:
``fit(X, y=None, sample_weight=None)``, ``sample(n_samples, random_state=None)`` with a per-call
seed and rows returned in random order, and bounded memory through ``chunk_size``.

``fit`` has one path: every input becomes a :class:`~mixsynth.sources.Source` (an array or
DataFrame an :class:`~mixsynth.sources.ArraySource`), and :func:`fit_on_source` runs the
``n_init`` EM runs in lock-step over it, one pass per iteration. The same call streams data
that does not fit in memory (a ``np.memmap``, a path to a ``.npy``, ``.parquet`` or ``.csv``
file, a callable returning an iterator of chunks, a list of arrays) and runs data-parallel on a
dask array or dataframe; only the pass over the data differs.

This module holds the estimator's surface (parameters, ``fit``), its initialisation, its
parameters as attributes and its model-file table; the fit on a source (the ``_SourceFitting``
mixin), scoring and sampling (``_Scoring``), k-means++ seeding, thread limits and the stored
tensors' checks are in :mod:`mixsynth.mixture`. The initialisation stays here with the
constants and helpers it reads (``INIT_CACHE_BYTES``, ``HARD_SCATTER_BYTES``,
``kmeans_plusplus_indices``, ``_KMeansPlusPlus``), which the tests replace on this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.cluster import KMeans
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from mixsynth._saving import SaveMixin
from mixsynth.core import (
    Params,
    Stats,
    accumulate,
    covariances_from_precisions_cholesky,
    covariances_from_stats,
    family,
    precisions_cholesky_from_covariances,
    precisions_cholesky_from_precisions,
    precisions_from_precisions_cholesky,
)
from mixsynth.core.families.factor import Factor, factor_covariances
from mixsynth.core.families.gaussian import Gaussian
from mixsynth.core.missing import has_missing
from mixsynth.mixture.driver import _SourceFitting, fit_on_source, score_on_source
from mixsynth.mixture.families import _factor_precisions, family_name
from mixsynth.mixture.file_checks import (
    _finish_mixture,
    _loadings_shape,
    _precision_cholesky_check,
    _precision_cholesky_shape,
)
from mixsynth.mixture.kmeans import (
    _digest,
    _hard_full_stats,
    _KMeansPlusPlus,
    _state_key,
    kmeans_plusplus_indices,
)
from mixsynth.mixture.scoring import _Scoring
from mixsynth.mixture.threads import blas_threads
from mixsynth.modelfile import Attr, Table, Tensor, register
from mixsynth.modelfile.attributes import _bool, _floats, _int, _lower_bound
from mixsynth.modelfile.tables import (
    _FEATURE_NAMES,
    _positive,
    _probabilities,
    _representable_spread,
)
from mixsynth.sources import Summary
from mixsynth.validation import Counts

__all__ = [
    "GaussianMixture",
    "blas_threads",
    "fit_on_source",
    "kmeans_plusplus_indices",
    "score_on_source",
    "shared_initialisation",
]

Array = NDArray[np.float64]

#: Bytes of initial clusterings a :func:`shared_initialisation` block keeps (oldest dropped first).
INIT_CACHE_BYTES = 256 * 2**20


#: The initial scatter of a k-means start is summed over the packed outer products of the
#: centred rows when they take at most this many bytes (else by ``accumulate``'s tiles).
HARD_SCATTER_BYTES = 64 * 2**20


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


class GaussianMixture(_SourceFitting, _Scoring, SaveMixin, DensityMixin, BaseEstimator):
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
        at ``fit``; ±inf is always an error. Data given in memory only. (Not
        :class:`~mixsynth.Synthesizer`'s ``missing``, which says whether *samples* carry gaps:
        a synthesizer always models the gaps of its data by EM.)
    device : str, optional
        A PyTorch device (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``) where the E-steps of
        ``fit`` run, for data in memory (:class:`~mixsynth.sources.DeviceSource`: the rows are
        copied there once; each iteration sends the parameters and brings back the K·d²
        statistics). The four covariance types run there; k-means' assignments, "factor",
        shrinkage's M-step and rows with missing values run on the processor, as everything
        does by default (``None``). The fit follows the processor's trajectory to rounding.
        Needs PyTorch (``pip install 'mixsynth[torch]'``). Saved with the other parameters;
        ``score_samples``, ``predict`` and ``sample`` run on the processor.

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
        "n_components": [Counts(1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical", "factor"})],
        "shrinkage": [Interval(Real, 0.0, None, closed="left")],
        "n_factors": [Counts(0, None, closed="left"), None],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Counts(0, None, closed="left")],
        "n_init": [Counts(1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Counts(1, None, closed="left")],
        "chunk_size": [Counts(1, None, closed="left"), None],
        "missing": [StrOptions({"error", "em"})],
        "device": [str, None],
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
        device: str | None = None,
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
        self.device = device

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


# ------------------------------------------------------------------------------ model files
# How a GaussianMixture is stored in a model file (mixsynth.modelfile), registered at import.


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
        Tensor("means_", ("K", "d"), _representable_spread),
        Tensor("precisions_cholesky_", _precision_cholesky_shape, _precision_cholesky_check),
        # covariance_type="factor" only (absent otherwise); shrinkage and n_factors are
        # parameters, recorded with the others
        Tensor("loadings_", _loadings_shape, optional=True),
        Tensor("noise_variance_", ("K", "d"), _positive, optional=True),
    ),
    dims=lambda gm: {"K": gm.n_components, "d": gm.n_features_in_},
    finish=_finish_mixture,
    # written only when set: files of models without them keep their bytes
    later_params=(("missing", "error"), ("shrinkage", 0.0), ("n_factors", None),
                  ("device", None)),
)

register("mixture", _MIXTURE, kind="gaussian_mixture", prefix="mixture.",
         fitted=lambda gm: check_is_fitted(gm, "weights_"))
