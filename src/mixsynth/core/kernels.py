"""The Gaussian families' E-step kernels: weighted log-densities of every row under every
component.

No Python loop over components: each covariance type is a handful of matrix products.

Full covariance uses the *packed outer products* of the data: with ``A = P P^T`` (the precision)
the Mahalanobis term expands as ``x^T A x - 2 (A mu)^T x + mu^T A mu`` and ``x^T A x`` is one
product of the chunk's packed upper triangle of ``x x^T`` (n × d(d+1)/2) with the packed
precisions (d(d+1)/2 × K): half the flops of the centred form ``|(x - mu) P|^2`` and a single
large GEMM. The expansion cancels when a component is tight and far from the rows, so a guard
sends such components through the exact centred form (see :func:`packed_is_accurate`).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dtrmm as _trmm

from mixsynth.core.params import Params

if TYPE_CHECKING:
    from mixsynth.core.families.gaussian import Gaussian

__all__ = [
    "PACKED_MAX_AMPLIFICATION",
    "LogDensity",
    "layout",
    "pack_outer",
    "pack_symmetric",
    "packed_is_accurate",
    "precision_norms",
    "triu_indices",
    "unpack_symmetric",
]

Array = NDArray[np.float64]

#: The packed expansion loses about ``log10(amplification)`` of float64's ~16 digits, where
#: amplification = (|x|^2 + |mu|^2) * ||A|| / d. 1e6 keeps ~1e-10 relative accuracy.
PACKED_MAX_AMPLIFICATION = 1e6
#: The projected form ``x P - mu P`` (scikit-learn's) loses about
#: ``log10(||P|| (|x| + |mu|))`` digits of each coordinate, the square root of the above; beyond
#: this the exact centred form ``(x - mu) P`` is used.
PROJECTED_MAX_AMPLIFICATION = 1e6
#: Temporaries of the projected and centred forms are kept under this many bytes per block of
#: components (cache-sized blocks measured faster than one large batched product).
BLOCK_BYTES = 8 * 2**20

_LOG_2PI = np.log(2.0 * np.pi)


@cache
def triu_indices(d: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column indices of the upper triangle (diagonal included), cached per ``d``."""
    iu, ju = np.triu_indices(d)
    iu.setflags(write=False)
    ju.setflags(write=False)
    return iu, ju


def pack_outer(X: Array, out: Array | None = None) -> Array:
    """Packed upper triangles of the outer products ``x x^T`` of each row.

    Built feature by feature in a (d(d+1)/2, n) buffer and returned transposed: every write is
    a contiguous row product, with no gathered temporaries (5x faster than fancy indexing at
    n=20 000, d=50). The result is Fortran-ordered, which BLAS takes as it is.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    out : ndarray of shape (d(d+1)/2, n), optional
        A buffer to fill (reused block after block, it saves the page faults of a fresh
        allocation); its transpose is returned.

    Returns
    -------
    ndarray of shape (n, d(d+1)/2)
    """
    n, d = X.shape
    XT = np.ascontiguousarray(X.T)
    if out is None:
        out = np.empty((d * (d + 1) // 2, n))
    start = 0
    for i in range(d):  # a loop over features, not components: d short vector products
        np.multiply(XT[i], XT[i:], out=out[start : start + d - i])
        start += d - i
    return out.T


def pack_symmetric(A: Array) -> Array:
    """Packed upper triangles of symmetric matrices with off-diagonals doubled, so that
    ``pack_outer(x) @ pack_symmetric(A) == x^T A x``.

    Parameters
    ----------
    A : ndarray of shape (K, d, d)

    Returns
    -------
    ndarray of shape (K, d(d+1)/2)
    """
    iu, ju = triu_indices(A.shape[-1])
    return A[:, iu, ju] * np.where(iu == ju, 1.0, 2.0)


def unpack_symmetric(S: Array, d: int) -> Array:
    """Inverse of the plain packing: (K, d(d+1)/2) upper triangles → (K, d, d) symmetric."""
    iu, ju = triu_indices(d)
    out = np.empty((S.shape[0], d, d))
    out[:, iu, ju] = S
    out[:, ju, iu] = S
    return out


def layout(params: Params) -> str:
    """The precision factors' layout ("full", "tied", "diag" or "spherical") of a Gaussian
    family: which of this module's forms apply. Families that differ only in estimation (a
    shrunk full covariance, say) share a layout and so the whole fast pass."""
    return cast("Gaussian", params.family).layout


def precision_norms(params: Params) -> Array:
    """Frobenius norm of each component's precision matrix, shape (K,)."""
    pc, cov_type, d = params.precisions_cholesky, layout(params), params.n_features
    if cov_type == "full":
        prec = pc @ np.swapaxes(pc, 1, 2)
        return np.sqrt(np.einsum("kij,kij->k", prec, prec))
    if cov_type == "tied":
        prec = pc @ pc.T
        return np.full(params.n_components, np.sqrt(np.sum(prec * prec)))
    if cov_type == "diag":
        return np.sqrt(np.sum(pc**4, axis=1))
    return np.sqrt(d) * pc**2


def packed_is_accurate(sq_norm_max: float, means: Array, norms: Array) -> NDArray[np.bool_]:
    """Per component: is the expanded (raw-moment) form accurate enough for these rows?

    The absolute rounding error of ``x^T A x - 2 mu^T A x + mu^T A mu`` is about
    ``eps * ||A|| * (|x| + |mu|)^2`` while the quantity that matters is of order ``d`` (a
    chi-square); ``||A||`` is bounded by its Frobenius norm ``norms``. The same bound holds for
    the shifted second moments of the M-step.
    """
    d = means.shape[1]
    with np.errstate(over="ignore"):  # a bound beyond float64 is inf: "not accurate", rightly
        scale = 2.0 * (sq_norm_max + np.einsum("ki,ki->k", means, means))
        return scale * norms / d <= PACKED_MAX_AMPLIFICATION


def _component_blocks(K: int, n: int, d: int) -> range:
    step = max(1, int(BLOCK_BYTES // max(1, 8 * n * d)))
    return range(0, K, step)


def _mahalanobis_full_projected(X: Array, means: Array, pc: Array) -> Array:
    """``|x P_k - mu_k P_k|^2``: one GEMM of the rows against the components' factors side by
    side (scikit-learn's formula without its loop); accurate unless ``|P| |x|`` is huge."""
    K, d = means.shape
    n = X.shape[0]
    out = np.empty((n, K))
    mp = np.einsum("ki,kij->kj", means, pc)
    for start in _component_blocks(K, n, d):
        sl = slice(start, min(K, start + max(1, int(BLOCK_BYTES // max(1, 8 * n * d)))))
        kb = sl.stop - sl.start
        factors = np.swapaxes(pc[sl], 0, 1).reshape(d, kb * d)  # [P_a | P_b | ...]
        Y = (X @ factors).reshape(n, kb, d) - mp[sl][None, :, :]
        out[:, sl] = np.einsum("nkd,nkd->nk", Y, Y)
    return out


def _mahalanobis_full_centred(X: Array, means: Array, pc: Array) -> Array:
    """``|(x - mu_k) P_k|^2``, subtracting first: exact even for a tight component far from
    the rows. An upper-triangular ``P_k`` (a Cholesky factor, as every fit has) is applied by
    the triangular product (BLAS ``trmm``: ``n d^2`` flops, half a general product's); other
    factors by blocks of components, which bound the (block, n, d) temporaries."""
    K, d = means.shape
    n = X.shape[0]
    out = np.empty((n, K))
    if d > 1 and not np.any(pc[:, np.tri(d, d, -1, dtype=bool)]):
        for k in range(K):
            # (x - mu) P as P^T (x - mu)^T: the F-ordered transpose is overwritten in place
            diff_t = (X - means[k]).T
            Yt = _trmm(1.0, np.asfortranarray(pc[k]), diff_t, side=0, lower=0, trans_a=1,
                       overwrite_b=1)  # fmt: skip
            out[:, k] = np.einsum("dn,dn->n", Yt, Yt)
        return out
    for start in _component_blocks(K, n, d):
        sl = slice(start, min(K, start + max(1, int(BLOCK_BYTES // max(1, 8 * n * d)))))
        Y = np.matmul(X[None, :, :] - means[sl, None, :], pc[sl])
        out[:, sl] = np.einsum("knd,knd->nk", Y, Y)
    return out


class LogDensity:
    """``log pi_k + log N(x | mu_k, Sigma_k)`` for rows within a known radius, prepared once.

    Everything that depends on the parameters alone (precisions, packed precisions, the tier of
    each full-covariance component, log-determinants) is computed here once per chunk or per
    iteration, so that calling it on many small blocks of rows costs only their products.

    Parameters
    ----------
    params : Params
    sq_norm_max : float
        The largest ``|x|^2`` of the rows it will see (the accuracy guard's radius).
    weighted : bool, default=True
        Add ``log pi_k`` (``False``: plain component log-densities).
    expand_all : bool, default=False
        Full covariance: compute *every* component with the packed product, including those
        the accuracy guard rejects (``guarded_idx``), whose values are then approximate within
        :meth:`guard_error`; the caller recomputes the pairs that matter exactly (see
        :func:`~mixsynth.core.gaussian_pass.gaussian_suffstats`) or calls :meth:`exact_guarded`.
    centred_all : bool, default=False
        Full covariance: compute every component by the exact centred form (triangular
        products, :func:`_mahalanobis_full_centred`), with no packed outer products of the rows:
        for wide rows, where forming those costs more than the E-step's product itself.
    """

    def __init__(
        self, params: Params, sq_norm_max: float, *, weighted: bool = True,
        expand_all: bool = False, centred_all: bool = False,
    ) -> None:
        self.params = params
        means, pc = params.means, params.precisions_cholesky
        gaussian = cast("Gaussian", params.family)  # this kernel is the Gaussian families'
        self.layout = cov_type = gaussian.layout
        K, d = means.shape
        const = -0.5 * d * _LOG_2PI + gaussian.log_det_cholesky(pc, d)
        if weighted:
            with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
                const = const + np.log(params.weights)
        self.const = np.broadcast_to(np.asarray(const, dtype=np.float64), (K,)).copy()
        empty = np.empty(0, dtype=np.intp)
        self.packed_idx = self.projected_idx = self.centred_idx = self.guarded_idx = empty
        if cov_type == "full":
            prec = pc @ np.swapaxes(pc, 1, 2)
            norms = np.sqrt(np.einsum("kij,kij->k", prec, prec))
            ok = packed_is_accurate(sq_norm_max, means, norms)
            bad = np.flatnonzero(~ok)
            #: components whose expanded (packed) form the accuracy guard rejects
            self.expanded_rejects = bad
            if centred_all:  # every component by the exact centred form, no packed rows
                self.centred_idx = np.arange(K)
                self._all_packed = False
                return
            # middle tier: the projected form loses only the square root of the digits
            pnorm = np.sqrt(np.einsum("kij,kij->k", pc[bad], pc[bad]))
            with np.errstate(over="ignore"):  # huge means: an inf reach picks the exact tier
                reach = np.sqrt(sq_norm_max) + np.linalg.norm(means[bad], axis=1)
                near = pnorm * reach <= PROJECTED_MAX_AMPLIFICATION
            self.projected_idx, self.centred_idx = bad[near], bad[~near]
            if expand_all:
                self.guarded_idx = bad
                ok = np.ones(K, dtype=bool)
                # rounding bound of the expanded form: (P + d) terms, each at most
                # ||A||_F (|x| + |mu|)^2 in sum, halved in the log-density
                P = d * (d + 1) // 2
                self._err_coef = (P + d) * np.finfo(np.float64).eps * norms[bad]
                with np.errstate(over="ignore"):
                    self._mu_norm = np.linalg.norm(means[bad], axis=1)
            self.packed_idx = np.flatnonzero(ok)
            a = prec[ok]
            self._amu = np.einsum("kij,kj->ki", a, means[ok])
            self._muamu = np.einsum("ki,ki->k", means[ok], self._amu)
            # (K_packed, P): the E-step product is formed as (A_packed @ packed^T)^T, the layout
            # measured fastest with the packed rows' (P, n) buffer
            self._packed_prec = np.ascontiguousarray(pack_symmetric(a))
            self._all_packed = self.packed_idx.size == K
        elif cov_type == "tied":
            self._M = means @ pc
            self._m_sq = np.einsum("ij,ij->i", self._M, self._M)
        elif cov_type == "diag":
            self._prec = pc**2
            self._mp = (-2.0 * means * self._prec).T.copy()
            self._m_term = np.sum(means**2 * self._prec, axis=1)
            # [x^2, x] @ [prec; -2 mu prec]: one product when the caller has the squares
            self._aug_weights = np.vstack([self._prec.T, self._mp])
        else:
            self._prec = pc**2
            self._m_sq = np.einsum("ij,ij->i", means, means)

    @property
    def needs_packed(self) -> bool:
        """Whether :meth:`__call__` uses the packed outer products of the rows."""
        return self.packed_idx.size > 0

    def mahalanobis(
        self, X: Array, packed: Array | None = None, aug: Array | None = None
    ) -> Array:
        """Squared Mahalanobis distances of every row to every component, shape (n, K).

        ``packed``: the rows' packed outer products (full); ``aug``: ``[X**2, X]`` (diag), if
        the caller has them."""
        p = self.params
        means, pc, cov_type = p.means, p.precisions_cholesky, self.layout
        if cov_type == "full":
            out = np.empty((X.shape[0], means.shape[0]))
            if self.packed_idx.size:
                if packed is None:
                    packed = pack_outer(X)
                quad = (self._packed_prec @ packed.T).T
                quad -= 2.0 * (X @ self._amu.T)
                quad += self._muamu
                if self._all_packed:
                    out = quad
                else:
                    out[:, self.packed_idx] = quad
            if not self.guarded_idx.size:  # otherwise the packed product covered them
                self._exact_tiers(X, out)
        elif cov_type == "tied":
            Y = X @ pc
            out = Y @ (-2.0 * self._M.T)
            out += np.einsum("ij,ij->i", Y, Y)[:, None]
            out += self._m_sq
        elif cov_type == "diag":
            if aug is not None:
                out = aug @ self._aug_weights
            else:
                out = (X * X) @ self._prec.T
                out += X @ self._mp
            out += self._m_term
        else:  # spherical
            out = X @ (-2.0 * means.T)
            out += np.einsum("ij,ij->i", X, X)[:, None]
            out += self._m_sq
            out *= self._prec
        # rounding can push a tiny distance below zero; a distance is never negative
        return np.maximum(out, 0.0, out=out)

    def _exact_tiers(self, X: Array, out: Array) -> None:
        """The guarded components' columns of ``out`` by the projected or centred forms."""
        means, pc = self.params.means, self.params.precisions_cholesky
        if self.projected_idx.size:
            mid = self.projected_idx
            out[:, mid] = _mahalanobis_full_projected(X, means[mid], pc[mid])
        if self.centred_idx.size:
            far = self.centred_idx
            out[:, far] = _mahalanobis_full_centred(X, means[far], pc[far])

    def guard_error(self, X: Array) -> Array:
        """Bound on the absolute error of the expanded log-densities of the guarded
        components (``expand_all``), shape (n, len(guarded_idx))."""
        reach = np.sqrt(np.einsum("ij,ij->i", X, X))[:, None] + self._mu_norm
        reach *= reach
        reach *= 0.5 * self._err_coef
        return reach

    def exact_guarded(self, X: Array) -> Array:
        """Exact weighted log-densities of the guarded components, shape (n, len(guarded_idx))
        (the tiers a default instance would use)."""
        out = np.empty((X.shape[0], self.params.n_components))
        self._exact_tiers(X, out)
        g = out[:, self.guarded_idx]
        np.maximum(g, 0.0, out=g)
        g *= -0.5
        g += self.const[self.guarded_idx]
        return g

    def __call__(
        self, X: Array, packed: Array | None = None, aug: Array | None = None
    ) -> Array:
        """Weighted log-densities of the rows, shape (n, K)."""
        out = self.mahalanobis(X, packed, aug)
        out *= -0.5
        out += self.const
        return out
