"""One pass of the Gaussian families' E-step over a chunk, as additive statistics.

The chunk is visited in cache-sized blocks of rows: each block's log-densities
(:class:`~mixsynth.core.kernels.LogDensity`) are normalised in place into responsibilities and
added to the running sums (:class:`_Sums`) at once, so no (n, K) array is ever built. Full
covariance first tries the pruned pass (:mod:`~mixsynth.core.pruning`); components the accuracy
guard rejects are refined pair by pair (:func:`_refine_guarded`); exact centred scatters go by
tiles (:mod:`~mixsynth.core.tiles`). How and why: docs/engine.md.

This is the implementation of :meth:`Family.statistics <mixsynth.core.families.Family.statistics>`
and :meth:`~mixsynth.core.families.Family.accumulate` for "full", "tied", "diag" and "spherical"
(:mod:`~mixsynth.core.families.gaussian`); the rest of the package reaches it through
:func:`mixsynth.core.suffstats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.kernels import (
    LogDensity,
    layout,
    pack_outer,
    packed_is_accurate,
    precision_norms,
    unpack_symmetric,
)
from mixsynth.core.params import Params
from mixsynth.core.pruning import PRUNING, one_blas_thread, pruned_full_sums
from mixsynth.core.stats import PRUNE_LOG_RATIO, Stats, normalize_rows
from mixsynth.core.tiles import DENSE_FRACTION, centred_scatter, pairs_mahalanobis

__all__ = ["gaussian_accumulate", "gaussian_suffstats"]

Array = NDArray[np.float64]

#: Rows of a block are chosen so that its (rows × K) arrays are about this size: small enough to
#: stay in cache from the E-step through the normaliser to the M-step (measured at n=100 000,
#: d=50, K=100: 1 MiB blocks 20-25 % faster than 8 MiB for tied, diag and spherical) ...
_BLOCK_BYTES = 1 * 2**20
#: ... and its packed outer products (full covariance) about this size ...
_PACKED_BLOCK_BYTES = 8 * 2**20
#: ... but never fewer rows than this, which keeps the packed products at GEMM speed.
_MIN_BLOCK_ROWS = 256
#: From this many features the dense full-covariance E-step uses the centred triangular form
#: instead of the packed product: at d = 200 forming a block's packed rows took longer than
#: the product itself (0.22 s against 0.06 s for 1 024 rows, K = 50, one thread), while the
#: triangular form took 0.05 s; the overlapping (20k, 200, 50) problem, issue 13 point 4.
CENTRED_MIN_FEATURES = 128


class _Sums:
    """Running sums of one chunk's statistics, block by block of rows.

    Components whose second moments may use the expanded form add ``Σ r x x^T`` (packed for
    full, the diagonal for diag/spherical) to ``raw``, with the matching ``nk``/``sx`` parts
    kept apart for the shift to ``centers`` at the end; the others add their exact centred
    scatter to ``centred``. Tied needs only ``Σ w x x^T``.
    """

    def __init__(self, centers: Array, covariance_type: str, layout: str) -> None:
        K, d = centers.shape
        self.centers, self.covariance_type = centers, covariance_type
        self.loglik = 0.0
        self.nk = np.zeros(K)
        self.sx = np.zeros((K, d))
        self.full = layout == "full"
        self.tied = layout == "tied"
        if self.tied:
            self.raw = np.zeros((d, d))
        else:
            width = d * (d + 1) // 2 if self.full else d
            self.raw = np.zeros((K, width))
            self.nk_raw = np.zeros(K)
            self.sx_raw = np.zeros((K, d))
            self.centred = np.zeros((K, d, d) if self.full else (K, d))

    def add(
        self, X: Array, R: Array, fast: NDArray[np.bool_], packed: Array | None = None,
        w: Array | None = None, aug: Array | None = None,
    ) -> Array | None:
        """Add the rows ``X`` with responsibilities ``R`` (sample weights already applied;
        ``w``: the weights themselves, tied only). ``fast``: components allowed the expanded
        form. ``packed`` (full) or ``aug = [X**2, X]`` (diag, spherical): the rows' features
        if the caller has them.

        Returns the responsibilities still owed an exact centred scatter (``R`` with the
        columns done here zeroed), or ``None``; the caller gathers them over its whole chunk
        for :meth:`add_centred`, where each component's rows form long segments.
        """
        nk = R.sum(axis=0)
        self.nk += nk
        if aug is not None and not self.full and fast.all():
            # diagonal second moments and first moments in one product: R^T [x^2, x]
            d = X.shape[1]
            both = (aug.T @ R).T
            self.sx += both[:, d:]
            self.raw += both[:, :d]
            self.nk_raw += nk
            self.sx_raw += both[:, d:]
            return None
        sx = R.T @ X
        self.sx += sx
        if self.tied:
            # Σ_k r_nk = w_n, so Σ_k Σ_n r x x^T = X^T diag(w) X, whatever the responsibilities
            self.raw += (X.T @ X) if w is None else (X * w[:, None]).T @ X
            return None
        if self.full and PRUNING.get() and np.count_nonzero(R) < DENSE_FRACTION * R.size:
            # mostly exact zeros (separated components): the exact centred scatter over the
            # nonzero pairs is both cheaper than the dense product and free of cancellation
            return R
        if not fast.any():
            return R
        all_fast = bool(fast.all())
        Rf = R if all_fast else R[:, fast]
        if self.full and packed is None:
            # the rows' packed outer products, a bounded sub-block at a time (a block of the
            # centred E-step can be larger than a packed one)
            d = X.shape[1]
            sub = max(_MIN_BLOCK_ROWS, _PACKED_BLOCK_BYTES // (4 * d * (d + 1)))
            raw = sum(Rf[i : i + sub].T @ pack_outer(X[i : i + sub])
                      for i in range(0, X.shape[0], sub))  # fmt: skip
        else:
            raw = Rf.T @ (packed if self.full and packed is not None else X * X)
        if all_fast:
            self.raw += raw
            self.nk_raw += nk
            self.sx_raw += sx
            return None
        self.raw[fast] += raw
        self.nk_raw[fast] += nk[fast]
        self.sx_raw[fast] += sx[fast]
        rest = R.copy()
        rest[:, fast] = 0.0
        return rest

    def add_rows_loglik(
        self, log_prob: Array, R: Array, sample_weight: Array | None, rows: Any
    ) -> Array | None:
        """Add the (weighted) log-likelihood of a block's rows and weight its responsibilities
        ``R`` in place; returns the block's sample weights (``None`` when unweighted)."""
        if sample_weight is None:
            self.loglik += float(log_prob.sum())
            return None
        w = sample_weight[rows]
        R *= w[:, None]
        self.loglik += float(log_prob @ w)
        return w

    def add_centred(self, X: Array, R: Array) -> None:
        """Add the exact centred scatter of the rows ``X`` with responsibilities ``R`` (their
        ``nk`` and ``sx`` already added by :meth:`add`)."""
        used = np.flatnonzero(R.any(axis=0))
        if used.size:
            with one_blas_thread():  # many small products: threads only slow them down
                self.centred[used] += centred_scatter(
                    X, R[:, used], self.centers[used], diag=not self.full
                )

    def stats(self, n: float) -> Stats:
        c = self.centers
        if self.tied:
            cs = c.T @ self.sx  # Σ_k c_k sx_k^T
            sxx = self.raw - cs - cs.T + (c * self.nk[:, None]).T @ c
        elif self.full:
            cs = c[:, :, None] * self.sx_raw[:, None, :]
            sxx = unpack_symmetric(self.raw, c.shape[1]) - cs - np.swapaxes(cs, 1, 2)
            sxx += self.nk_raw[:, None, None] * (c[:, :, None] * c[:, None, :])
            sxx += self.centred
        else:
            sxx = self.raw - 2.0 * c * self.sx_raw + self.nk_raw[:, None] * c * c
            sxx += self.centred
        return Stats(
            n=n, loglik=self.loglik, nk=self.nk, sx=self.sx, sxx=sxx, centers=c,
            covariance_type=self.covariance_type,
        )


def gaussian_accumulate(
    X: Array,
    R: Array,
    centers: Array,
    covariance_type: str,
    layout: str,
    *,
    packed: Array | None = None,
    exact: NDArray[np.bool_] | None = None,
    loglik: float = 0.0,
    n: float | None = None,
) -> Stats:
    """M-step statistics of a chunk from its weighted responsibilities (the parameters are
    those of :func:`mixsynth.core.accumulate`; ``layout``: :func:`~mixsynth.core.kernels.layout`
    of the family named ``covariance_type``)."""
    sums = _Sums(centers, covariance_type, layout)
    fast = np.zeros(centers.shape[0], dtype=bool) if exact is None else ~exact
    rest = sums.add(X, R, fast, packed, w=R.sum(axis=1) if sums.tied else None)
    if rest is not None:
        sums.add_centred(X, rest)
    sums.loglik = loglik
    return sums.stats(float(R.sum()) if n is None else n)


def _block_rows(n_cols: int) -> int:
    """Rows per block so that a block's widest temporary stays cache-sized."""
    return max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (8 * max(1, n_cols)))


def gaussian_suffstats(
    X: Array,
    params: Params,
    sample_weight: Array | None = None,
    packed: Array | None = None,
) -> Stats:
    """E-step on one chunk, returned as additive sufficient statistics about ``params.means``.

    The chunk is visited in cache-sized blocks of rows: each block's log-densities are
    normalised in place into responsibilities and added to the sums at once, so no (n, K)
    array is ever built. Full covariance first tries the *pruned* pass
    (:func:`~mixsynth.core.pruning.pruned_full_sums`), which skips the (row, component) pairs
    whose responsibility is provably negligible.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    params : Params
        Parameters of the E-step; their means are the reference points of the second moments.
    sample_weight : ndarray of shape (n,), optional
    packed : ndarray of shape (n, d(d+1)/2), optional
        Cached ``pack_outer(X)``, reused across EM iterations when memory allows.
    """
    n, d = X.shape
    cov_type = layout(params)
    total = float(n) if sample_weight is None else float(sample_weight.sum())
    sums = _Sums(params.means, params.covariance_type, cov_type)
    if cov_type == "full" and pruned_full_sums(X, params, sample_weight, sums):
        return sums.stats(total)
    sq_max = float(np.einsum("ij,ij->i", X, X).max(initial=0.0))
    # wide rows: the packed outer products cost more to form than the E-step's product, and
    # the M-step often needs none (sparse responsibilities): the centred triangular form
    centred = cov_type == "full" and packed is None and d >= CENTRED_MIN_FEATURES
    density = LogDensity(params, sq_max, expand_all=not centred, centred_all=centred)
    K = params.n_components
    if cov_type == "full":
        fast = np.ones(K, dtype=bool)  # the expanded M-step only where the guard allows it
        fast[density.expanded_rejects] = False
    elif cov_type == "tied":  # no guard: one product about the (centred) origin
        fast = np.ones(K, dtype=bool)
    else:
        fast = packed_is_accurate(sq_max, params.means, precision_norms(params))
    step = _block_rows(K)
    if density.needs_packed:
        step = min(step, max(_MIN_BLOCK_ROWS, _PACKED_BLOCK_BYTES // (4 * d * (d + 1))))
    owed: Array | None = None  # responsibilities owed an exact scatter, over the whole chunk
    buffer = None
    if packed is None and density.needs_packed:
        buffer = np.empty((d * (d + 1) // 2, min(n, step)))  # reused by every block
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        Xb = X[rows]
        pb = packed[rows] if packed is not None else None
        if buffer is not None:
            # once per block, for the E-step and the M-step
            pb = pack_outer(Xb, buffer[:, : Xb.shape[0]])
        aug = None
        if cov_type in ("diag", "spherical"):  # [x^2, x], for the E-step and the M-step
            aug = np.empty((Xb.shape[0], 2 * d))
            np.multiply(Xb, Xb, out=aug[:, :d])
            aug[:, d:] = Xb
        R = density(Xb, pb, aug)
        if density.guarded_idx.size:
            _refine_guarded(Xb, R, density)
        wb = sums.add_rows_loglik(normalize_rows(R), R, sample_weight, rows)
        rest = sums.add(Xb, R, fast, pb, wb, aug)
        if rest is not None:
            if owed is None:
                owed = np.zeros((n, K))
            owed[rows] = rest
    if owed is not None:
        sums.add_centred(X, owed)
    return sums.stats(total)



def _refine_guarded(X: Array, L: Array, density: LogDensity) -> None:
    """Make the guarded components' expanded log-densities in ``L`` exact where they matter.

    The packed product gave every component a value, the guarded ones within
    ``density.guard_error`` of the truth. A pair whose value, error included, falls
    ``PRUNE_LOG_RATIO`` below its row's best lower bound has a responsibility under
    ``exp(-PRUNE_LOG_RATIO)``: it is set to ``-inf`` (as :func:`normalize_rows` would zero it);
    the others, typically one or two per row, are recomputed exactly by
    :func:`pairs_mahalanobis`. When too many pairs matter (overlapping components), the
    guarded columns are recomputed by the exact tiered forms instead.
    """
    G = density.guarded_idx
    err = density.guard_error(X)
    guarded = L[:, G]
    lower = L.copy()
    lower[:, G] -= err
    top = lower.max(axis=1)
    guarded += err
    matters = guarded >= (top - PRUNE_LOG_RATIO)[:, None]
    if np.count_nonzero(matters) > DENSE_FRACTION * matters.size:
        L[:, G] = density.exact_guarded(X)
        return
    cols, rows = np.nonzero(matters.T)  # component-major
    comps = G[cols]
    p = density.params
    values = pairs_mahalanobis(X, rows, comps, p.means, p.precisions_cholesky)
    L[:, G] = -np.inf
    L[rows, comps] = density.const[comps] - 0.5 * values

