"""Missing values (NaN) in the Gaussian families: exact EM over the observed coordinates.

A row ``x`` with observed coordinates ``o`` and missing ones ``m`` (NaN) has, under component
``k``, the marginal density ``N(x_o | mu_o, Sigma_oo)``; the E-step's responsibilities come from
it. The M-step takes the expected complete-data statistics: the conditional mean of the missing
coordinates and their conditional covariance,

    x̂_m = mu_m + Sigma_mo Sigma_oo^{-1} (x_o - mu_o) = mu_m - Lambda_mm^{-1} Lambda_mo (x_o - mu_o)
    C    = Sigma_mm - Sigma_mo Sigma_oo^{-1} Sigma_om = Lambda_mm^{-1}

(``Lambda = P P^T``, the precision; the second forms are the block-inverse identities), so that
``E[x] = x̂`` and ``E[(x - c)(x - c)^T] = (x̂ - c)(x̂ - c)^T + C`` (``C`` on the ``mm`` block).
They enter the ordinary additive :class:`~mixsynth.core.stats.Stats` (``sx``, ``sxx`` about the
centers): chunked, out-of-core and distributed fitting are unchanged, and the M-step is the
family's own.

Full and tied work in the *precision* form, which needs a Cholesky factor of ``Lambda_mm``
(``q × q``, ``q`` the number of missing coordinates, typically few) per component and missingness
pattern, batched over components; rows are grouped by pattern so each factor serves all rows that
share it. The marginal log-density follows from the joint density at the completed row:
``log p(x_o) = log p(x_o, x̂_m) - log p(x̂_m | x_o)``, i.e.

    log N(x_o | mu_o, Sigma_oo) = -(p/2) log 2pi + log det P - sum log diag chol(Lambda_mm)
                                  - |(y P)|^2 / 2,        y = x̂ - mu (y_o = x_o - mu_o),

a sum of squares (no cancellation of a Schur complement). Diag and spherical need no patterns:
the conditional mean of a missing coordinate is ``mu`` and its variance ``sigma^2``; every sum
runs over the observed coordinates with a mask.

A row with every coordinate missing has log-density 0 under every component, responsibilities
equal to the weights (in a Gaussian-only mixture), and adds ``r`` to ``nk``, ``r mu_k`` to ``sx``
and ``r Sigma_k`` to ``sxx`` (its exact expected statistics): neutral for the means and
covariances, which keeps ``nk`` one count for the weights and the means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.params import Params, inv_lower_triangular
from mixsynth.core.stats import Stats, normalize_rows

__all__ = [
    "group_patterns",
    "has_missing",
    "missing_accumulate",
    "missing_log_prob",
    "missing_suffstats",
]

Array = NDArray[np.float64]

_LOG_2PI = float(np.log(2.0 * np.pi))

#: The (K, rows, d) temporaries of one block of a pattern's rows stay under this many elements.
_BLOCK_ELEMENTS = 2**22
#: Patterns with fewer rows than this go through the row-wise pass (one q x q factor per row
#: and component, batched over rows of the same q: gaps at random in many columns make most
#: patterns unique); patterns with more rows share one factor per component.
PATTERN_MIN_ROWS = 8


def has_missing(X: Array) -> bool:
    """Whether ``X`` holds a NaN. One sum in the common case (a finite sum has no NaN), a full
    scan only when the sum is not finite."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, or 1e308 + 1e308
        total = X.sum()
    if np.isfinite(total):
        return False
    return bool(np.isnan(X).any())


def group_patterns(missing: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.intp],
                                                        NDArray[np.intp]]:
    """Rows grouped by missingness pattern.

    Parameters
    ----------
    missing : ndarray of bool of shape (n, d)

    Returns
    -------
    patterns : ndarray of bool of shape (P, d)
        The distinct patterns (``True`` = missing).
    order : ndarray of int of shape (n,)
        Row indices sorted by pattern: rows ``order[bounds[i]:bounds[i+1]]`` have pattern ``i``.
    bounds : ndarray of int of shape (P + 1,)
    """
    n, d = missing.shape
    if n == 0:
        return np.zeros((0, d), dtype=bool), np.zeros(0, dtype=np.intp), np.zeros(1, np.intp)
    keys = np.ascontiguousarray(np.packbits(missing, axis=1))
    keys_void = keys.view(np.dtype((np.void, keys.shape[1]))).ravel()
    _, first, inverse = np.unique(keys_void, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable").astype(np.intp)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=first.size))])
    return missing[first], order, bounds.astype(np.intp)


# ---------------------------------------------------------------------------------- the forms
class _Model:
    """What every pattern needs from the parameters, computed once per call."""

    def __init__(self, params: Params, layout: str) -> None:
        self.layout = layout
        self.means = params.means
        self.K, self.d = params.means.shape
        pc = params.precisions_cholesky
        if layout in ("full", "tied"):
            P = pc if layout == "full" else pc[None]
            self.P = P  # (K or 1, d, d)
            self.prec = P @ np.swapaxes(P, 1, 2)  # Lambda = P P^T
            logdet = np.sum(np.log(np.diagonal(P, axis1=1, axis2=2)), axis=1)
            self.logdet = np.broadcast_to(logdet, (self.K,))
        else:
            scale = pc if layout == "diag" else np.broadcast_to(pc[:, None], (self.K, self.d))
            self.scale = np.asarray(scale, dtype=np.float64)  # (K, d): 1 / sigma
            self.log_scale = np.log(self.scale)


def _blocks(n: int, K: int, d: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(1, K * d))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _small_lower_inverse(L: NDArray[np.floating[Any]]) -> Array:
    """Inverse of a stack of small lower-triangular matrices by forward substitution, row by
    row, vectorised over the stack: ``X[i] = (e_i - L[i, :i] X[:i]) / L[i, i]``. For the
    q x q blocks of missing coordinates (q <= 32) this is 3-6x faster than LAPACK's batched
    general inverse, whose per-matrix overhead dominates at that size."""
    q = L.shape[-1]
    X = np.zeros_like(L)
    inv_diag = 1.0 / np.diagonal(L, axis1=-2, axis2=-1)
    for i in range(q):
        row = -np.einsum("...j,...jk->...k", L[..., i, :i], X[..., :i, :])
        row[..., i] += 1.0
        X[..., i, :] = row * inv_diag[..., i : i + 1]
    return X


class _Pattern:
    """One missingness pattern of full/tied: the Cholesky factor of ``Lambda_mm`` per
    component (one for tied), batched."""

    def __init__(self, model: _Model, miss: NDArray[np.bool_]) -> None:
        self.model = model
        self.m = np.flatnonzero(miss)
        self.o = np.flatnonzero(~miss)
        prec = model.prec
        self.lam_om = prec[:, self.o[:, None], self.m[None, :]]  # (K', p, q)
        if self.m.size == 0:  # a complete row: the joint density
            self.minv = np.zeros((prec.shape[0], 0, 0))
            self.log_det_mm = np.zeros(prec.shape[0])
            return
        lam_mm = prec[:, self.m[:, None], self.m[None, :]]  # (K', q, q)
        try:
            chol = np.linalg.cholesky(lam_mm)
        except np.linalg.LinAlgError:  # pragma: no cover - a principal block of an SPD matrix
            raise ValueError(
                "A component's precision is not positive definite on the missing coordinates; "
                "increase reg_covar."
            ) from None
        # M^{-1}, Lambda_mm^{-1} = M^{-T} M^{-1}
        q = self.m.size
        self.minv = _small_lower_inverse(chol) if q <= 32 else inv_lower_triangular(chol)
        self.log_det_mm = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)

    def fill(self, Xp: Array, y: Array) -> Array:
        """Write the centred completed rows ``y = x̂ - mu`` of ``Xp`` into ``y`` (K, n, d);
        return the constant of their marginal log-density per component (K,)."""
        mod = self.model
        yo = Xp[None, :, self.o] - mod.means[:, None, self.o]  # (K, n, p)
        y[:, :, self.o] = yo
        if self.m.size:
            if self.o.size:
                t = yo @ self.lam_om  # (K, n, q): rows (Lambda_mo y_o)^T
                s = t @ np.swapaxes(self.minv, 1, 2)  # M^{-1} t
                y[:, :, self.m] = -(s @ self.minv)  # -Lambda_mm^{-1} Lambda_mo y_o
            else:
                y[:, :, self.m] = 0.0
        return -0.5 * self.o.size * _LOG_2PI + mod.logdet - self.log_det_mm

    def conditional_cov(self) -> Array:
        """``C = Lambda_mm^{-1}`` per component (K', q, q)."""
        return np.swapaxes(self.minv, 1, 2) @ self.minv


def _scaled_complete(model: _Model, Xb: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Diag/spherical: centred completed rows (K, n, d) (zero on missing coordinates), marginal
    log-densities (n, K) and the observed mask (n, d)."""
    obs = ~np.isnan(Xb)
    y = np.where(obs[None], Xb[None] - model.means[:, None, :], 0.0)
    z = y * model.scale[:, None, :]
    quad = np.einsum("knd,knd->kn", z, z)
    logdet = obs.astype(np.float64) @ model.log_scale.T  # (n, K)
    log_dens = (-0.5 * _LOG_2PI) * obs.sum(axis=1)[:, None] + logdet - 0.5 * quad.T
    return y, log_dens, obs


# ---------------------------------------------------------------------------------- sums
class _MissingSums:
    def __init__(self, model: _Model, centers: Array, covariance_type: str) -> None:
        self.model, self.centers, self.covariance_type = model, centers, covariance_type
        K, d = model.K, model.d
        self.shift = model.means - centers  # y about the centers = y + shift
        self.has_shift = bool(np.any(self.shift))
        self.nk = np.zeros(K)
        self.sx = np.zeros((K, d))
        self.loglik = 0.0
        self.full = model.layout in ("full", "tied")
        self.sxx = np.zeros((K, d, d) if self.full else (K, d))

    def add(self, y: Array, R: Array) -> None:
        """Add completed rows ``y`` (about the means) with weighted responsibilities ``R``."""
        nk = R.sum(axis=0)
        self.nk += nk
        RT = R.T
        ry = (RT[:, None, :] @ y)[:, 0, :]  # Σ r y, (K, d)
        self.sx += ry + nk[:, None] * self.model.means
        if self.has_shift:
            y = y + self.shift[:, None, :]
        if self.full:
            self.sxx += np.swapaxes(y * RT[:, :, None], 1, 2) @ y
        else:
            self.sxx += np.einsum("kn,knd->kd", RT, y * y)

    def stats(self, n: float) -> Stats:
        sxx = self.sxx.sum(axis=0) if self.model.layout == "tied" else self.sxx
        return Stats(n=n, loglik=self.loglik, nk=self.nk, sx=self.sx, sxx=sxx,
                     centers=self.centers, covariance_type=self.covariance_type)


def _pattern_walk(
    X: Array, params: Params, layout: str, sums: _MissingSums | None,
    R_given: Array | None, sample_weight: Array | None, out_log: Array | None,
) -> None:
    """Full/tied: the walk over the rows of ``X`` (NaN = missing), pattern by pattern. With
    ``sums``: the E-step's responsibilities (or ``R_given``) weighted and added; with
    ``out_log``: the marginal log-densities written there."""
    model = _Model(params, layout)
    K, d = model.K, model.d
    log_w = None
    if sums is not None and R_given is None:
        with np.errstate(divide="ignore"):
            log_w = np.log(params.weights)

    def handle(rows: NDArray[np.intp] | slice, y: Array, log_dens: Array) -> Array | None:
        if out_log is not None:
            out_log[rows] = log_dens
        if sums is None:
            return None
        if R_given is not None:
            R = R_given[rows]
        else:
            assert log_w is not None  # set whenever no responsibilities are given
            R = log_dens + log_w
            log_norm = normalize_rows(R)
            if sample_weight is None:
                sums.loglik += float(log_norm.sum())
            else:
                w = sample_weight[rows]
                R *= w[:, None]
                sums.loglik += float(log_norm @ w)
        sums.add(y, R)
        return R

    # Rows of several patterns share one buffer, so the products over rows (the quadratic
    # forms, the M-step's second moments) are large batched GEMMs even when most patterns
    # hold one row (gaps at random in many columns); per pattern remain only the q x q factors.
    step = max(1, _BLOCK_ELEMENTS // max(1, K * d))
    Y = np.empty((K, min(step, X.shape[0]), d))
    const = np.empty((K, Y.shape[1]))
    rows_buf = np.empty(Y.shape[1], dtype=np.intp)
    held: list[tuple[_Pattern, int, int]] = []  # pattern, its rows' span in the buffer
    used = 0

    def flush() -> None:
        nonlocal used
        if not used:
            return
        y = Y[:, :used]
        z = y @ model.P  # |y^T P|^2 = y^T Lambda y, a sum of squares
        quad = np.einsum("knd,knd->kn", z, z)
        log_dens = (const[:, :used] - 0.5 * quad).T
        for pat, a, b in held:
            if pat.o.size == 0:  # nothing observed: density 1 under every component
                log_dens[a:b] = 0.0
        R = handle(rows_buf[:used], y, log_dens)
        if R is not None and sums is not None:
            # + nk C on the missing block: E[(x - c)(x - c)^T] = (x̂ - c)(x̂ - c)^T + C
            for pat, a, b in held:
                if not pat.m.size:
                    continue
                nk_pat = R[a:b].sum(axis=0)
                C = pat.conditional_cov()
                if model.layout == "tied":
                    sums.sxx[0][np.ix_(pat.m, pat.m)] += nk_pat.sum() * C[0]
                else:
                    sums.sxx[:, pat.m[:, None], pat.m[None, :]] += nk_pat[:, None, None] * C
        held.clear()
        used = 0

    patterns, order, bounds = group_patterns(np.isnan(X))
    counts = np.diff(bounds)
    rowwise = (counts < PATTERN_MIN_ROWS) & patterns.any(axis=1)
    if rowwise.any():
        rows = np.concatenate(
            [order[bounds[i]:bounds[i + 1]] for i in np.flatnonzero(rowwise)]
        )
        _rowwise_walk(model, X, rows, handle, sums)
    for i in np.flatnonzero(~rowwise):
        pat = _Pattern(model, patterns[i])
        seg = order[bounds[i]:bounds[i + 1]]
        for start in range(0, seg.size, step):
            rows = seg[start:start + step]
            if used + rows.size > step:
                flush()
            a, b = used, used + rows.size
            const[:, a:b] = pat.fill(X[rows], Y[:, a:b])[:, None]
            rows_buf[a:b] = rows
            held.append((pat, a, b))
            used = b
    flush()


def _rowwise_walk(
    model: _Model, X: Array, rows: NDArray[np.intp],
    handle: Callable[[NDArray[np.intp], Array, Array], Array | None],
    sums: _MissingSums | None,
) -> None:
    """Full/tied, rows whose pattern is rare: each row its own q x q factors, rows with the same
    number q of missing values batched together (rows x components in one Cholesky call, one
    vectorised triangular inverse, einsum products), so unique patterns cost no Python loop."""
    K, d = model.K, model.d
    prec = model.prec
    Kp = prec.shape[0]
    miss = np.isnan(X[rows])
    q_of = miss.sum(axis=1)
    for q in np.unique(q_of):
        q = int(q)
        p = d - q
        sel = q_of == q
        these = rows[sel]
        # observed coordinates first, then the missing ones, each in column order
        idx = np.argsort(miss[sel], axis=1, kind="stable")
        step = max(1, _BLOCK_ELEMENTS // max(1, K * (q * q + p * q + d)))
        for start in range(0, these.size, step):
            r = these[start:start + step]
            o, m = idx[start:start + step, :p], idx[start:start + step, p:]
            B = r.size
            b = np.arange(B)[:, None]
            lam_mm = prec[:, m[:, :, None], m[:, None, :]]  # (K', B, q, q)
            try:
                chol = np.linalg.cholesky(lam_mm)
            except np.linalg.LinAlgError:  # pragma: no cover - blocks of an SPD matrix
                raise ValueError(
                    "A component's precision is not positive definite on the missing "
                    "coordinates; increase reg_covar."
                ) from None
            minv = _small_lower_inverse(chol) if q <= 32 else inv_lower_triangular(chol)
            log_det_mm = np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
            y = np.zeros((K, B, d))
            y[:, b, o] = X[r[:, None], o][None] - model.means[:, o]  # y_o, 0 on m
            if p:
                # Lambda_mo y_o = (Lambda y0)_m with y0 zero on m: one GEMM, no per-row gather
                # of Lambda_om
                t = np.take_along_axis(y @ prec, np.broadcast_to(m, (K, B, q)), axis=2)
                mv = np.broadcast_to(minv, (K, B, q, q))
                s = (mv @ t[..., None])[..., 0]  # M^{-1} t
                # -Lambda_mm^{-1} Lambda_mo y_o = -M^{-T} M^{-1} t
                y[:, b, m] = -(s[..., None, :] @ mv)[..., 0, :]
                z = y @ model.P  # |y^T P|^2, a sum of squares
                quad = np.einsum("knd,knd->kn", z, z)
                const = -0.5 * p * _LOG_2PI + model.logdet[:, None] - log_det_mm
                log_dens = (const - 0.5 * quad).T
            else:  # nothing observed: density 1, completed row = the mean
                y[:, b, m] = 0.0
                log_dens = np.zeros((B, K))
            R = handle(r, y, log_dens)
            if R is None or sums is None:
                continue
            # + Σ_b r_bk C_bk on each row's missing block, C = M^{-T} M^{-1}, by one bincount
            C = np.swapaxes(minv, -1, -2) @ minv  # (K', B, q, q)
            w = R.T if Kp == K else R.sum(axis=1)[None]
            lin = (np.arange(Kp)[:, None, None, None] * (d * d)
                   + m[None, :, :, None] * d + m[None, :, None, :])
            add = np.bincount(lin.ravel(), weights=(C * w[:, :, None, None]).ravel(),
                              minlength=Kp * d * d)
            sums.sxx[:Kp] += add.reshape(Kp, d, d)


def _scaled_walk(
    X: Array, params: Params, layout: str, sums: _MissingSums | None,
    R_given: Array | None, sample_weight: Array | None, out_log: Array | None,
) -> None:
    """Diag/spherical: rows in blocks, masks instead of patterns."""
    model = _Model(params, layout)
    K, d = model.K, model.d
    var = 1.0 / model.scale**2  # (K, d)
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    for blk in _blocks(X.shape[0], K, d):
        y, log_dens, obs = _scaled_complete(model, X[blk])
        if out_log is not None:
            out_log[blk] = log_dens
        if sums is None:
            continue
        if R_given is not None:
            R = R_given[blk]
        else:
            R = log_dens + log_w
            log_norm = normalize_rows(R)
            if sample_weight is None:
                sums.loglik += float(log_norm.sum())
            else:
                w = sample_weight[blk]
                R *= w[:, None]
                sums.loglik += float(log_norm @ w)
        sums.add(y, R)
        # + r sigma^2 on each missing coordinate: its conditional variance
        sums.sxx += (R.T @ (~obs).astype(np.float64)) * var


def _walk(
    X: Array, params: Params, layout: str, sums: _MissingSums | None,
    R_given: Array | None, sample_weight: Array | None, out_log: Array | None,
) -> None:
    if layout in ("full", "tied"):
        _pattern_walk(X, params, layout, sums, R_given, sample_weight, out_log)
    else:
        _scaled_walk(X, params, layout, sums, R_given, sample_weight, out_log)


# ---------------------------------------------------------------------------------- API
def missing_log_prob(X: Array, params: Params, layout: str) -> Array:
    """Marginal log-density over each row's observed coordinates, ``log N(x_o | mu_o,
    Sigma_oo)``, under every component; 0 for a row with no observed coordinate.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Rows with NaN for missing values (complete rows work too, more slowly than the fast
        pass).
    params : Params
        Parameters of a Gaussian family.
    layout : {"full", "tied", "diag", "spherical"}
        The family's precision-factor layout.

    Returns
    -------
    ndarray of shape (n, K)
    """
    out = np.empty((X.shape[0], params.n_components))
    _walk(X, params, layout, None, None, None, out)
    return out


def missing_suffstats(
    X: Array, params: Params, layout: str, sample_weight: Array | None = None
) -> Stats:
    """The exact E-step on rows with missing values, as additive statistics about
    ``params.means`` (responsibilities from the marginal densities over the observed
    coordinates, second moments from the conditional expectations).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing value.
    params : Params
    layout : {"full", "tied", "diag", "spherical"}
    sample_weight : ndarray of shape (n,), optional
    """
    sums = _MissingSums(_Model(params, layout), params.means, params.covariance_type)
    _walk(X, params, layout, sums, None, sample_weight, None)
    total = float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))
    return sums.stats(total)


def missing_accumulate(
    X: Array,
    R: Array,
    params: Params,
    layout: str,
    *,
    centers: Array | None = None,
    loglik: float = 0.0,
    n: float | None = None,
) -> Stats:
    """M-step statistics of rows with missing values from given responsibilities.

    For a family that combines the Gaussian block with other evidence (categorical columns):
    the responsibilities come from its own E-step, the conditional expectations of the missing
    coordinates from ``params``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        NaN marks a missing value.
    R : ndarray of shape (n, K)
        Responsibilities, sample weights already applied.
    params : Params
        The Gaussian parameters of the E-step (conditional means and covariances).
    layout : {"full", "tied", "diag", "spherical"}
    centers : ndarray of shape (K, d), optional
        Reference points of the second moments; ``params.means`` by default.
    loglik, n : float
        Passed through; ``n`` defaults to ``R.sum()``.
    """
    c = params.means if centers is None else centers
    sums = _MissingSums(_Model(params, layout), c, params.covariance_type)
    _walk(X, params, layout, sums, np.asarray(R, dtype=np.float64), None, None)
    sums.loglik = loglik
    return sums.stats(float(R.sum()) if n is None else n)
