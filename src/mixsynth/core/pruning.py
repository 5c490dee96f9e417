"""The pruned pass of the full-covariance E-step: only the (row, component) pairs that matter.

Cheap bounds prove most responsibilities negligible on separated data; the pairs left get the
exact centred forms. :func:`pruned_full_sums` declines (and the dense pass of
:mod:`~mixsynth.core.gaussian_pass` runs) when the bounds would keep too many pairs. See
docs/engine.md, "The pruned pass".
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params
from mixsynth.core.stats import PRUNE_LOG_RATIO, normalize_rows
from mixsynth.core.tiles import pairs_mahalanobis

if TYPE_CHECKING:
    from mixsynth.core.gaussian_pass import _Sums

__all__ = [
    "BLAS_THREADS",
    "ONE_THREAD",
    "PRUNING",
    "one_blas_thread",
    "pruned_full_sums",
    "pruning_may_pay",
]

Array = NDArray[np.float64]

#: Whether full covariance may take the pruned pass and the sparse exact scatter. On by default;
#: ``mixsynth.core._reference.dense_only`` turns it off within a block (benchmarks of the dense
#: kernels, tests). A context variable: setting it affects only the current thread or task.
PRUNING: ContextVar[bool] = ContextVar("mixsynth_core_pruning", default=True)

#: Rows per block of the pruned pass: small enough that a block of rows sorted by component
#: spans few components (measured at n=100 000, d=50, K=100: 512 rows ≈ 3 components per row,
#: 2 600 rows ≈ 8).
_PRUNED_BLOCK_ROWS = 512
#: The pruned pass runs when its bounds keep at most this fraction of the (row, component) pairs.
_PRUNE_MAX_FRACTION = 0.2
#: The bounds need the precisions' eigenvalues (``~10 K d^3`` flops); below this many rows per
#: feature that would cost a sizeable part of the dense E-step (``n K d^2``) it might save.
_PRUNE_MIN_ROWS_PER_FEATURE = 100
#: Rows of the optimistic first test of the pruned pass.
_PRUNE_SAMPLE_ROWS = 2048
#: Safety margins of the pruning bounds: eigenvalues (relative, per feature) and expanded
#: squared distances (relative to the largest squared norms, per feature).
_EIG_SLACK = 1e-12
_DIST_SLACK = 1e-13

#: BLAS threads the dense pass's matrix products run on, as the caller set the thread pools
#: (``core`` imports only numpy and scipy: the estimator, which manages the pools, sets this).
BLAS_THREADS: ContextVar[int] = ContextVar("mixsynth_blas_threads", default=1)
#: A context-manager factory that holds BLAS to one thread, given by the caller that manages
#: the thread pools (``None``: nothing to hold). The pruned pass runs under it: its products
#: are many small ones (on the (100k, 50, 100) problem the default measured 0.82 s per iteration
#: at 2 threads, issue 13, against 0.48 s at 1, docs/benchmarks.md).
ONE_THREAD: ContextVar[Callable[[], AbstractContextManager[Any]] | None] = ContextVar(
    "mixsynth_one_thread", default=None
)

#: The cost model of the choice of pass, in ns per row at one thread (measured here with
#: ``time.process_time`` at n = 20 000, d = 5..32, K = 16 and 64, 1 BLAS thread; only their
#: ratios matter). Dense: per row, plus per (row, component) pair an elementwise part and the
#: two packed products' part per packed column, which threads divide ...
_DENSE_ROW_NS, _DENSE_PAIR_NS, _DENSE_PACKED_NS = 150.0, 13.0, 0.085
#: ... pruned: per row (sort, gathers), per pair the bound (``n K d`` distances, elementwise),
#: and per kept pair the exact centred forms, on one thread.
_PRUNED_ROW_NS, _BOUND_PAIR_NS, _BOUND_PAIR_D_NS = 300.0, 14.0, 0.13
_KEPT_PAIR_NS, _KEPT_PAIR_D2_NS = 60.0, 0.12


def _dense_ns(d: int, K: int, threads: int) -> float:
    """Modelled time of the dense pass per row."""
    packed = d * (d + 1) / 2
    return _DENSE_ROW_NS + K * (_DENSE_PAIR_NS + _DENSE_PACKED_NS * packed / max(threads, 1))


def _pruned_ns(d: int, K: int, kept_per_row: float) -> float:
    """Modelled time of the pruned pass per row keeping ``kept_per_row`` components."""
    return (_PRUNED_ROW_NS + K * (_BOUND_PAIR_NS + _BOUND_PAIR_D_NS * d)
            + kept_per_row * (_KEPT_PAIR_NS + _KEPT_PAIR_D2_NS * d * d))


def _max_kept_per_row(d: int, K: int, threads: int) -> float:
    """Components per row below which the pruned pass is modelled faster than the dense pass
    (at most ``_PRUNE_MAX_FRACTION`` of them); below 1 it never is."""
    spare = _dense_ns(d, K, threads) - _pruned_ns(d, K, 0.0)
    return min(_PRUNE_MAX_FRACTION * K, spare / (_KEPT_PAIR_NS + _KEPT_PAIR_D2_NS * d * d))


def one_blas_thread() -> AbstractContextManager[Any]:
    """BLAS held to one thread (:data:`ONE_THREAD`) when the caller gave it more: for passes
    made of many small products (the pruned pass, the sparse exact scatter)."""
    hold = ONE_THREAD.get()
    return hold() if hold is not None and BLAS_THREADS.get() > 1 else nullcontext()


def pruning_may_pay(n_features: int, n_components: int, threads: int | None = None) -> bool:
    """Whether the pruned pass can beat the dense pass at all, keeping one component per row
    (its best case), at ``threads`` BLAS threads (default :data:`BLAS_THREADS`).

    The dense pass's packed products run at BLAS speed on every thread; the pruned pass's
    bounds and gathers are elementwise work on one thread. So small ``d`` (the elementwise
    bound costs as much as the dense pair: d <= ~12) and more threads favour the dense pass.
    """
    t = BLAS_THREADS.get() if threads is None else threads
    return n_components >= 2 and _max_kept_per_row(n_features, n_components, t) >= 1.0


#: Each parameter set's eigenvalue bounds, shared by every chunk of its iteration.
_PRUNING_CACHE: weakref.WeakKeyDictionary[Params, Array] = weakref.WeakKeyDictionary()


def pruned_full_sums(
    X: Array, params: Params, sample_weight: Array | None, sums: _Sums
) -> bool:
    """Full-covariance statistics over the (row, component) pairs that matter, into ``sums``.

    Cheap bounds prune the pairs: with ``D = |x - mu_k|^2`` (one ``n × K × d`` product) and
    the smallest eigenvalue of the precision, ``lam_min D <= (x - mu)^T A (x - mu)``. A
    component whose upper bound on the weighted log-density falls ``PRUNE_LOG_RATIO``
    below the row's best exact value has a responsibility under ``exp(-PRUNE_LOG_RATIO)``
    (~1e-28) and is skipped (as :func:`normalize_rows` would zero it anyway). Rows are sorted
    by their most likely component, so a block of rows needs only a few components: their
    log-densities and centred scatters use the exact centred form, ``|(x - mu) P|^2`` and
    ``W^T W`` with ``W = sqrt(r)(x - mu)``, at ``2 d^2`` flops per kept pair each.

    Returns ``False`` (and leaves ``sums`` untouched) when the pruned pass would not be the
    faster: by the cost model (:func:`pruning_may_pay`, no work at all when even one kept
    component per row would not pay), or when on a sample of rows the bounds keep more pairs
    than the model allows at the current :data:`BLAS_THREADS` (overlapping components, or
    bounds too loose). The dense pass is then used. The pass itself runs its small products on
    one thread (:data:`ONE_THREAD`).
    """
    n, d = X.shape
    K = params.n_components
    if not PRUNING.get() or K < 2 or n < _PRUNE_MIN_ROWS_PER_FEATURE * d:
        return False
    threads = BLAS_THREADS.get()
    if not pruning_may_pay(d, K, threads):
        return False
    with one_blas_thread():
        return _pruned_full_sums(X, params, sample_weight, sums,
                                 _max_kept_per_row(d, K, threads) / K)


def _pruned_full_sums(
    X: Array, params: Params, sample_weight: Array | None, sums: _Sums, max_fraction: float
) -> bool:
    """The body of :func:`pruned_full_sums` once the cost model allows it."""
    n = X.shape[0]
    K = params.n_components
    means, pc = params.means, params.precisions_cholesky
    # Would pruning pay? Estimated on a sample of rows against each row's *exact* best value
    # (as the pass itself compares), first with optimistic bounds: a precision's smallest
    # diagonal entry is at least its smallest eigenvalue, so if even that keeps too many pairs
    # the true bound does too, and the K d^3 eigenvalues are never computed.
    pc_diag = np.einsum("kij,kij->ki", pc, pc)  # A_ii = |row i of P|^2
    const = _log_density_constants(params)
    sample = X[:: max(1, n // _PRUNE_SAMPLE_ROWS)]
    limit = max_fraction * sample.shape[0] * K
    if _kept_pairs(sample, params, pc_diag.min(axis=1), const) > limit:
        return False
    lam_min = _eigen_bounds(params)
    if _kept_pairs(sample, params, lam_min, const) > limit:
        return False
    upper, best = _upper_bounds(X, means, lam_min, const)
    order = np.argsort(best, kind="stable")
    step = _PRUNED_BLOCK_ROWS
    for start in range(0, n, step):
        idx = order[start : start + step]
        Xb = X[idx]
        first = np.unique(best[idx])
        L1, D1 = _centred_log_density(Xb, means[first], pc[first], const[first])
        top = L1.max(axis=1)
        keep = upper[idx] >= (top - PRUNE_LOG_RATIO)[:, None]
        keep[:, first] = False
        more = np.flatnonzero(keep.any(axis=0))
        if more.size:
            L2, D2 = _centred_log_density(Xb, means[more], pc[more], const[more])
            comps = np.concatenate([first, more])
            L, D = np.concatenate([L1, L2], axis=1), np.concatenate([D1, D2], axis=0)
        else:
            comps, L, D = first, L1, D1
        R = L
        sums.add_rows_loglik(normalize_rows(L), R, sample_weight, idx)
        sums.nk[comps] += R.sum(axis=0)
        sums.sx[comps] += R.T @ Xb
        D *= np.sqrt(R).T[:, :, None]  # W = sqrt(r) (x - mu)
        sums.centred[comps] += np.matmul(np.swapaxes(D, 1, 2), D)
    return True


def _log_density_constants(params: Params) -> Array:
    """``log pi_k - d log(2 pi) / 2 + log det P_k`` (full covariance)."""
    d = params.n_features
    with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
        return np.asarray(
            np.log(params.weights) - 0.5 * d * np.log(2.0 * np.pi)
            + np.sum(np.log(np.diagonal(params.precisions_cholesky, axis1=1, axis2=2)), axis=1)
        )


def _eigen_bounds(params: Params) -> Array:
    """A safe lower bound of each precision's smallest eigenvalue, computed once per parameter
    set (every chunk of an iteration shares it)."""
    cached = _PRUNING_CACHE.get(params)
    if cached is None:
        pc, d = params.precisions_cholesky, params.n_features
        lam = np.linalg.eigvalsh(pc @ np.swapaxes(pc, 1, 2))  # ascending
        cached = np.maximum(lam[:, 0] - _EIG_SLACK * d * lam[:, -1], 0.0)
        _PRUNING_CACHE[params] = cached
    return cached


def _upper_bounds(
    X: Array, means: Array, lam_min: Array, const: Array
) -> tuple[Array, NDArray[np.intp]]:
    """Upper bounds of every weighted log-density, ``const - lam_min |x - mu|^2 / 2``, shape
    (n, K), and each row's most likely component by them."""
    d = X.shape[1]
    sq = np.einsum("ij,ij->i", X, X)
    mu_sq = np.einsum("ij,ij->i", means, means)
    # squared distances by the expanded form, widened by its rounding error
    tol = _DIST_SLACK * d * (float(sq.max(initial=0.0)) + float(mu_sq.max()))
    upper = X @ (2.0 * means.T)
    upper -= sq[:, None]
    upper -= mu_sq  # = -D
    np.minimum(upper + tol, 0.0, out=upper)  # -(D - tol)+
    upper *= 0.5 * lam_min
    upper += const
    return upper, upper.argmax(axis=1)


def _kept_pairs(X: Array, params: Params, lam_min: Array, const: Array) -> int:
    """How many (row, component) pairs the pruned pass would keep with these bounds: those
    whose upper bound reaches within ``PRUNE_LOG_RATIO`` of the exact log-density of the
    row's most likely component."""
    upper, best = _upper_bounds(X, params.means, lam_min, const)
    order = np.argsort(best, kind="stable")
    exact = np.empty(X.shape[0])
    exact[order] = const[best[order]] - 0.5 * pairs_mahalanobis(
        X, order, best[order], params.means, params.precisions_cholesky
    )
    return int(np.count_nonzero(upper >= (exact - PRUNE_LOG_RATIO)[:, None]))


def _centred_log_density(
    X: Array, means: Array, pc: Array, const: Array
) -> tuple[Array, Array]:
    """Exact weighted log-densities ``const - |(x - mu) P|^2 / 2`` of rows under a few
    components, shape (n, k), and the differences ``x - mu``, shape (k, n, d)."""
    diff = X[None, :, :] - means[:, None, :]
    Y = np.matmul(diff, pc)
    out = np.einsum("knd,knd->nk", Y, Y)
    out *= -0.5
    out += const
    return out, diff

