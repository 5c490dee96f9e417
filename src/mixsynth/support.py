"""Support by construction: map bounded and integer columns to the real line before whitening.

A Gaussian mixture puts mass everywhere, so samples of a bounded column (pixels in [0, 16]) leak
outside its range, and clipping them piles mass on the bounds. :class:`SupportTransform` instead
models a transformed column whose every value maps back inside the bounds:

1. integer columns are *dequantised*: ``u = x + U(0, 1)`` at fit (``u = x + 1/2`` when scoring),
   so ``u`` lies in ``[lo, hi + 1)`` and ``floor(u)`` recovers ``x``;
2. a column with finite bounds ``[lo, hi']`` (``hi' = hi + 1`` for integers) is mapped by a
   squeezed logit, ``y = logit(eps + (1 - 2 eps) (u - lo) / (hi' - lo))``, finite even at the
   bounds themselves.

The inverse is exact up to rounding; sampled values are always within the bounds. The density
of ``x`` is that of ``y`` times ``|dy/du|`` (for integers, the dequantised density at the cell's
midpoint approximates the probability of the integer).

**Never zero density inside the domain.** Observed bounds are only what the training rows
reached: a held-out row one step beyond them must still get a finite, proper density. Two
margins see to it (:func:`widen_bounds`, :data:`MARGIN_CELLS`):

- an integer column's logit interval is widened by ``margin`` cells (half a cell by default)
  on each side, ``[lo - m, hi + 1 + m)``, so the integer one beyond each bound has a density of
  its own; samples in the margin are clipped back to ``[lo, hi]`` (rare: the logit's density
  vanishes at the ends);
- observed bounds of continuous columns are widened by :data:`MARGIN_FRACTION` of the range,
  never across zero (a column observed non-negative stays non-negative), when the synthesizer
  records them; bounds the user gives are used as they are.

**The squeeze is chosen from the data** (:func:`squeeze_for`): :data:`SQUEEZE_CELLS` (half)
of a resolution cell of the columns (an integer, or the smallest decimal step observed) as a
fraction of their span, within ``[1e-3, 0.1]``: 1/36 on digits (0..16 with the margins: 18
cells). A whole cell (1/18 on digits, the rule before 2026-12-03 23:30) made the outermost cell
as compact as the others in the logit space, but measured on digits it never made samples
harder to tell from real ones and cost 3-5 nats per digit of held-out log-likelihood (the
mixture's tail beyond the squeezed interval is mass no cell is credited with): classifier AUC
0.959 / 0.953 / 0.946 / 0.953 with a squeeze of 1/18 / 1/36 / 0.01 / 1e-3 for the default's
K = 8, and log-likelihood -96.3 / -93.8 / -91.5 / -91.4 per digit. A fifth of a cell (0.01)
would give 2 more nats, but then a streamed fit of a table with a uniform six-valued count
column lands in a worse optimum at K = 2 than the in-memory fit (tests/test_cli_out_of_core);
docs/quality.md has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from mixsynth.modelfile import Attr, ModelFileError, Table, Tensor, register
from mixsynth.modelfile.values import _short

__all__ = [
    "MARGIN_CELLS",
    "MARGIN_FRACTION",
    "SQUEEZE_CELLS",
    "SupportTransform",
    "decimals_of",
    "squeeze_for",
    "widen_bounds",
]

Array = NDArray[np.float64]

#: Squeeze of the unit interval before the logit, so observed bounds map to finite values
#: (the fallback of :func:`squeeze_for`, and the squeeze of model files written before it).
DEFAULT_EPS = 1e-3

#: Integer columns: cells added to each side of the logit interval (half the spacing).
MARGIN_CELLS = 0.5

#: Continuous columns: observed bounds are widened by this fraction of the observed range.
MARGIN_FRACTION = 0.05

#: The squeeze is this many resolution cells over the span (:func:`squeeze_for`).
SQUEEZE_CELLS = 0.5

#: Bounds of the data-chosen squeeze.
_EPS_RANGE = (1e-3, 0.1)

#: Decimal places tried when detecting a column's precision.
_MAX_DECIMALS = 6


def decimals_of(X: Array) -> NDArray[np.int64]:
    """The decimal places each column is recorded with, or -1 when none up to 6 fits.

    A column has ``p`` decimals when every finite value times ``10**p`` is a whole number up
    to float rounding (64 ulps, so ``0.1 + 0.2`` does not count as a 17th decimal) and
    rounding to ``p`` decimals keeps every distinct value distinct (so data on a scale of
    ``1e-200`` is not "0 decimals"); integer columns have 0.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    ndarray of int of shape (n_features,)
    """
    X = np.asarray(X, dtype=np.float64)
    out = np.full(X.shape[1], -1, dtype=np.int64)
    for j in range(X.shape[1]):
        col = X[:, j][np.isfinite(X[:, j])]
        if col.size == 0:
            continue
        for p in range(_MAX_DECIMALS + 1):
            scaled = col * 10.0**p
            tol = 64 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(scaled))
            if (np.all(np.abs(scaled - np.round(scaled)) <= tol)
                    and np.unique(np.round(col, p)).size == np.unique(col).size):
                out[j] = p
                break
    return out


def widen_bounds(
    lower: Array, upper: Array, integer: NDArray[np.bool_], fraction: float = MARGIN_FRACTION,
    decimals: NDArray[np.int64] | None = None,
) -> tuple[Array, Array]:
    """Observed bounds widened by ``fraction`` of the range (continuous columns only).

    Integer columns keep their observed bounds (their margin is in the transform's interval,
    :data:`MARGIN_CELLS`, and samples stay whole numbers within what was seen); constant
    columns and infinite bounds are left alone. A bound is never moved across zero: a column
    observed non-negative (amounts, concentrations) stays non-negative. With ``decimals``, a
    widened bound is rounded outwards to the column's precision, so values rounded to it stay
    within the bounds.

    Returns
    -------
    lower, upper : ndarray of shape (d,)
    """
    lo, hi = lower.astype(np.float64).copy(), upper.astype(np.float64).copy()
    ok = np.isfinite(lo) & np.isfinite(hi) & (hi > lo) & ~integer
    m = fraction * (hi - lo)
    new_lo = np.where(ok, lo - m, lo)
    new_hi = np.where(ok, hi + m, hi)
    new_lo = np.where((lo >= 0) & (new_lo < 0), 0.0, new_lo)
    new_hi = np.where((hi <= 0) & (new_hi > 0), 0.0, new_hi)
    if decimals is not None:
        for j in np.flatnonzero(ok & (decimals >= 0)):
            step = 10.0 ** -int(decimals[j])
            new_lo[j] = np.round(np.floor(new_lo[j] / step) * step, int(decimals[j]))
            new_hi[j] = np.round(np.ceil(new_hi[j] / step) * step, int(decimals[j]))
    return new_lo, new_hi


def squeeze_for(
    lower: Array, upper: Array, integer: NDArray[np.bool_], decimals: NDArray[np.int64],
    active: NDArray[np.bool_],
) -> float:
    """The logit squeeze ``eps``: :data:`SQUEEZE_CELLS` resolution cells over the span, the
    median over columns.

    A column's cell is 1 for integers and ``10**-p`` for a column with ``p`` decimals; its span
    is that of the transform's interval (margins included). Continuous columns of no detected
    precision fall back to :data:`DEFAULT_EPS`. The result is within ``[1e-3, 0.1]``.
    """
    cols = np.flatnonzero(active)
    if cols.size == 0:
        return DEFAULT_EPS
    span = upper[cols] - lower[cols] + np.where(integer[cols], 1.0 + 2 * MARGIN_CELLS, 0.0)
    cell = np.where(integer[cols], 1.0, np.where(decimals[cols] >= 0,
                                                 10.0 ** -decimals[cols].astype(float), np.nan))
    ratio = SQUEEZE_CELLS * cell / span
    ratio = np.where(np.isfinite(ratio), ratio, DEFAULT_EPS)
    return float(np.clip(np.median(ratio), *_EPS_RANGE))


@dataclass(frozen=True, eq=False)
class SupportTransform:
    """Per-column dequantisation and logit map of bounded columns.

    Attributes
    ----------
    lower, upper : ndarray of shape (d,)
        Bounds of each column (``upper`` of an integer column is its largest value).
    integer : ndarray of bool of shape (d,)
        Columns that are dequantised.
    active : ndarray of bool of shape (d,)
        Columns that are transformed at all: finite bounds with ``upper > lower``.
    eps : float
        The squeeze (:func:`squeeze_for`).
    margin : float
        Cells added to each side of an integer column's interval (0 in model files written
        before margins existed).
    """

    lower: Array
    upper: Array
    integer: NDArray[np.bool_]
    active: NDArray[np.bool_]
    eps: float = DEFAULT_EPS
    margin: float = 0.0

    @classmethod
    def from_bounds(
        cls,
        lower: Array,
        upper: Array,
        integer: NDArray[np.bool_],
        *,
        only: NDArray[np.bool_] | None = None,
        eps: float = DEFAULT_EPS,
        margin: float = MARGIN_CELLS,
    ) -> SupportTransform:
        """Transform the columns with finite, distinct bounds (restricted to ``only`` when
        given); constant columns stay as they are (the whitener sets them aside)."""
        active = np.isfinite(lower) & np.isfinite(upper) & (upper > lower)
        if only is not None:
            active &= only
        return cls(lower.copy(), upper.copy(), integer & active, active, float(eps),
                   float(margin))

    @property
    def margin_(self) -> float:
        """The margin, for model files: absent (an AttributeError) when there is none."""
        if self.margin == 0.0:
            raise AttributeError("no margin")
        return self.margin

    def _start(self) -> Array:
        """Left end of each active column's interval (integers: ``lo - margin``)."""
        return (self.lower - np.where(self.integer, self.margin, 0.0))[self.active]

    def _span(self) -> Array:
        hi = np.where(self.integer, self.upper + 1.0 + self.margin, self.upper)
        lo = self.lower - np.where(self.integer, self.margin, 0.0)
        return (hi - lo)[self.active]

    def forward(self, X: Array, rng: np.random.Generator | None = None) -> tuple[Array, Array]:
        """Map data to the real line.

        Parameters
        ----------
        X : ndarray of shape (n, d)
        rng : Generator, optional
            Dequantisation noise (at fit); without it integers sit at their cell's midpoint.

        Returns
        -------
        Y : ndarray of shape (n, d)
        log_jacobian : ndarray of shape (n,)
            ``sum_j log |dy_j / du_j|``, to add to a log-density of ``Y``.
        """
        Y = X.copy()
        cols = np.flatnonzero(self.active)
        if cols.size == 0:
            return Y, np.zeros(X.shape[0])
        U = X[:, cols]
        ints = self.integer[cols]
        if ints.any():
            noise = (
                np.full((X.shape[0], int(ints.sum())), 0.5) if rng is None
                else rng.uniform(0.0, 1.0, size=(X.shape[0], int(ints.sum())))
            )
            U[:, ints] += noise
        span = self._span()
        t = (U - self._start()) / span
        # values outside the fitted bounds (new data) are clamped into the open interval
        t = np.clip(t, 0.0, 1.0)
        q = self.eps + (1.0 - 2.0 * self.eps) * t
        Y[:, cols] = logit(q)
        # dy/du = (1 - 2 eps) / span / (q (1 - q))
        log_jac = np.log1p(-2.0 * self.eps) - np.log(span) - np.log(q) - np.log1p(-q)
        return Y, log_jac.sum(axis=1)

    def inverse(self, Y: Array) -> Array:
        """Map back: always within ``[lower, upper]``; integer columns are whole numbers."""
        X = Y.copy()
        cols = np.flatnonzero(self.active)
        if cols.size == 0:
            return X
        q = expit(Y[:, cols])
        t = np.clip((q - self.eps) / (1.0 - 2.0 * self.eps), 0.0, 1.0)
        U = self._start() + t * self._span()
        ints = self.integer[cols]
        U[:, ints] = np.floor(U[:, ints])
        X[:, cols] = np.clip(U, self.lower[cols], self.upper[cols])
        return X


# ------------------------------------------------------------------------------ model files
# How a SupportTransform is stored in a model file (mixsynth.modelfile), registered at import.


def _margin(value: Any) -> float:
    if not isinstance(value, float) or not 0.0 < value <= 1.0:
        raise ValueError(f"margin must be a float in (0, 1], got {_short(value)}")
    return value


def _check_support_params(t: Any) -> None:
    eps = getattr(t, "eps", None)
    if not isinstance(eps, float) or not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be a float in (0, 0.5), got {_short(eps)}")


def _finish_support(t: Any, where: str) -> None:
    active = t.active
    if np.any(t.integer & ~active):
        raise ModelFileError(f"tensor '{where}.integer' marks a column that is not active")
    lo, hi = t.lower[active], t.upper[active]
    if not (np.all(np.isfinite(lo) & np.isfinite(hi)) and np.all(hi > lo)):
        raise ModelFileError(
            f"tensor '{where}.active' marks a column without finite, distinct bounds"
        )


_SUPPORT = Table(
    cls=SupportTransform,
    # the margin is written only when there is one, so a transform without one (every file
    # written before margins existed) saves back to the same bytes
    attrs=(Attr("margin_", _margin, optional=True),),
    tensors=(
        Tensor("lower", ("d",), finite=False),
        Tensor("upper", ("d",), finite=False),
        Tensor("integer", ("d",), mask=True),
        Tensor("active", ("d",), mask=True),
    ),
    check_params=_check_support_params,
    finish=_finish_support,
    record_params=("eps",),
    # files written before margins existed have none: their transforms had no margin
    build=lambda t: SupportTransform(t.lower, t.upper, t.integer, t.active, t.eps,
                                     float(getattr(t, "margin_", 0.0))),
)

register("support", _SUPPORT)
