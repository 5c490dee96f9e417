"""Comparisons at the scale of the numbers compared, for floating-point results of random data.

Rounding errors of a sum, a reconstruction or a log-density are absolute, of the order of
the terms that made them; ``assert_allclose(..., rtol)`` alone measures each element against
itself, so an element that happens to land near zero (a centred value, an off-diagonal
covariance, a log-density crossing 0) fails on one seed in a few thousand. These compare each
element against the scale of its column, or of the whole array, instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def assert_columns_close(
    actual: ArrayLike, desired: ArrayLike, rel: float, scale: ArrayLike | None = None, **kwargs
) -> None:
    """``actual == desired`` to within ``rel`` times each column's scale: by default its largest
    magnitude in ``desired`` (the last axis is the column); give ``scale`` when the values
    summarise others (a column's mean is exact to rounding at the scale of its data)."""
    a, b = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    if scale is None:
        scale = np.nanmax(np.abs(b.reshape(-1, b.shape[-1])), axis=0) if b.size else 1.0
    col = np.asarray(scale, dtype=float)
    col = np.where((col == 0) | ~np.isfinite(col), 1.0, col)
    np.testing.assert_allclose(a / col, b / col, rtol=0, atol=rel, **kwargs)


def assert_close_at_scale(actual: ArrayLike, desired: ArrayLike, rel: float, **kwargs) -> None:
    """``actual == desired`` to within ``rel`` times the largest magnitude in ``desired``, for
    values of one kind (log-densities of rows, entries of a covariance)."""
    b = np.asarray(desired, dtype=float)
    scale = float(np.nanmax(np.abs(b))) if b.size else 1.0
    np.testing.assert_allclose(actual, b, rtol=rel, atol=rel * (scale or 1.0), **kwargs)
