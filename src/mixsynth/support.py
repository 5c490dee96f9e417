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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from mixsynth.modelfile import ModelFileError, Table, Tensor, register
from mixsynth.modelfile.values import _short

__all__ = ["SupportTransform"]

Array = NDArray[np.float64]

#: Squeeze of the unit interval before the logit, so observed bounds map to finite values.
DEFAULT_EPS = 1e-3


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
    """

    lower: Array
    upper: Array
    integer: NDArray[np.bool_]
    active: NDArray[np.bool_]
    eps: float = DEFAULT_EPS

    @classmethod
    def from_bounds(
        cls,
        lower: Array,
        upper: Array,
        integer: NDArray[np.bool_],
        *,
        only: NDArray[np.bool_] | None = None,
        eps: float = DEFAULT_EPS,
    ) -> SupportTransform:
        """Transform the columns with finite, distinct bounds (restricted to ``only`` when
        given); constant columns stay as they are (the whitener sets them aside)."""
        active = np.isfinite(lower) & np.isfinite(upper) & (upper > lower)
        if only is not None:
            active &= only
        return cls(lower.copy(), upper.copy(), integer & active, active, float(eps))

    def _span(self) -> Array:
        hi = np.where(self.integer, self.upper + 1.0, self.upper)
        return (hi - self.lower)[self.active]

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
        t = (U - self.lower[cols]) / span
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
        U = self.lower[cols] + t * self._span()
        ints = self.integer[cols]
        U[:, ints] = np.floor(U[:, ints])
        X[:, cols] = np.clip(U, self.lower[cols], self.upper[cols])
        return X


# ------------------------------------------------------------------------------ model files
# How a SupportTransform is stored in a model file (mixsynth.modelfile), registered at import.


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
    attrs=(),
    tensors=(
        Tensor("lower", ("d",), finite=False),
        Tensor("upper", ("d",), finite=False),
        Tensor("integer", ("d",), mask=True),
        Tensor("active", ("d",), mask=True),
    ),
    check_params=_check_support_params,
    finish=_finish_support,
    record_params=("eps",),
    build=lambda t: SupportTransform(t.lower, t.upper, t.integer, t.active, t.eps),
)

register("support", _SUPPORT)
