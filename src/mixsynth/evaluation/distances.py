"""Distances to the closest training record: the public blocks, near copies and exact copies.

Columns are divided by a per-column scale (:func:`column_scale`) and constant columns dropped;
the memorisation guard (:mod:`mixsynth.guard`) and realism selection use these same blocks, so
that they measure copies exactly as the report does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.neighbors import NearestNeighbors

from mixsynth.seeding import SeedLike, as_generator

__all__ = ["column_scale", "near_copy_rate", "near_copy_threshold", "nearest_distances"]

Array = NDArray[np.float64]

#: Query rows per block when recomputing neighbour distances exactly (bounds the memory).
_BLOCK_ROWS = 65536


def column_scale(train: ArrayLike) -> Array:
    """Per-column standard deviation of ``train``, 0 for constant columns.

    This is the ``scale`` the distance functions expect: columns are divided by it, and
    columns with scale 0 are dropped. A column is constant when all its values are equal
    (a tiny spread such as 1e-200 is not constant); values near 1e200 do not overflow and a
    large offset (1e12 ± 1) does not cost precision.

    Parameters
    ----------
    train : array-like of shape (n_samples, n_features)

    Returns
    -------
    scale : ndarray of shape (n_features,)
    """
    U, spread, constant = _centred_columns(np.asarray(train, dtype=np.float64))
    scale = np.std(U, axis=0) * spread
    scale[constant] = 0.0
    return scale


def nearest_distances(reference: ArrayLike, query: ArrayLike, *, scale: ArrayLike) -> Array:
    """Euclidean distance from each query row to its nearest reference row.

    Columns are divided by ``scale``; columns whose scale is 0 are dropped (with none left,
    every distance is 0). Neighbours are found with :class:`~sklearn.neighbors.NearestNeighbors`
    and their distance recomputed from the differences, so that an exact copy is at distance
    exactly 0 (the fast ``|x|² - 2 x·y + |y|²`` form leaves rounding noise there).

    Parameters
    ----------
    reference : array-like of shape (n_reference, n_features)
    query : array-like of shape (n_query, n_features)
    scale : array-like of shape (n_features,)
        Typically :func:`column_scale` of the training rows.

    Returns
    -------
    distances : ndarray of shape (n_query,)
        ``inf`` for a query row too far out to be represented after scaling.
    """
    R, Q, s = _kept_columns(reference, query, scale)
    if R.shape[1] == 0:
        return np.zeros(len(Q))
    distances, _ = _kneighbors(R, Q, s, 1)
    return distances[:, 0]


def near_copy_threshold(
    train: ArrayLike,
    *,
    scale: ArrayLike,
    quantile: float = 0.05,
    max_rows: int | None = None,
    random_state: SeedLike = 0,
) -> float:
    """The distance under which a row counts as a near copy of a training row.

    It is the ``quantile`` of the training rows' distances to their nearest *other* training
    row (a duplicated row's nearest other row is at distance 0). A fresh sample from the data's
    distribution lands that close to a training row about ``quantile`` of the time.

    Parameters
    ----------
    train : array-like of shape (n_samples, n_features)
        At least 2 rows.
    scale : array-like of shape (n_features,)
    quantile : float in [0, 1], default=0.05
    max_rows : int, optional
        Measure the distances from at most this many training rows (drawn with
        ``random_state``) to all the others; ``None`` uses every row.
    random_state : None, int or Generator, default=0

    Returns
    -------
    threshold : float
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile!r}.")
    T, _, s = _kept_columns(train, train, scale)
    n = len(T)
    if n < 2:
        raise ValueError(f"near_copy_threshold needs at least 2 training rows, got {n}.")
    if T.shape[1] == 0:
        return 0.0
    rows = np.arange(n)
    if max_rows is not None and n > max_rows:
        rows = np.sort(as_generator(random_state).choice(n, size=max_rows, replace=False))
    distances, indices = _kneighbors(T, T[rows], s, 2)
    # the row itself is one of its two nearest; a duplicate may come first, both at 0
    is_self = indices == rows[:, None]
    other = np.where(is_self, np.inf, distances).min(axis=1)
    return float(np.quantile(other, quantile))


def near_copy_rate(
    train: ArrayLike, query: ArrayLike, *, threshold: float, scale: ArrayLike
) -> float:
    """Fraction of query rows at most ``threshold`` from their nearest training row.

    Parameters
    ----------
    train : array-like of shape (n_train, n_features)
    query : array-like of shape (n_query, n_features)
    threshold : float
        Typically :func:`near_copy_threshold` of ``train``.
    scale : array-like of shape (n_features,)

    Returns
    -------
    rate : float in [0, 1] (0 for no query rows)
    """
    return _rate(nearest_distances(train, query, scale=scale), threshold)


def _rate(distances: Array, threshold: float) -> float:
    # "at most": with a grid of values (pixels, counts) the threshold is often 0, and a
    # strict "<" would then call no row a copy, not even a verbatim one. Ties are common on
    # such grids and the threshold and the distances are computed along different paths, so a
    # few ulps of slack keep an equal distance equal (Hypothesis found a 1-ulp flip).
    if not len(distances):
        return 0.0
    return float(np.mean(distances <= threshold * (1.0 + 16 * np.finfo(np.float64).eps)))


def _centred_columns(X: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Columns minus their mean, divided by their largest deviation; constant columns are 0.

    Returns ``(U, spread, constant)`` with ``X = U * spread + mean``. Centring comes first so
    that an offset (1e12 ± 1) loses no precision to the division; the division keeps squares
    of values near 1e200 from overflowing. A column is constant when all its values are equal
    (the mean of equal values can round off their value, so the deviations are not used).
    """
    constant = np.ptp(X, axis=0) == 0
    magnitude = np.max(np.abs(X), axis=0)
    magnitude[magnitude == 0] = 1.0
    centre = np.mean(X / magnitude, axis=0) * magnitude  # a mean whose sum cannot overflow
    D = X - centre
    spread = np.max(np.abs(D), axis=0)
    spread[constant | (spread == 0)] = 1.0
    U = D / spread
    U[:, constant] = 0.0
    return U, spread, constant


def _kept_columns(
    reference: ArrayLike, query: ArrayLike, scale: ArrayLike
) -> tuple[Array, Array, Array]:
    """Both arrays and the scale, restricted to the columns whose scale is positive."""
    R = np.asarray(reference, dtype=np.float64)
    Q = np.asarray(query, dtype=np.float64)
    s = np.asarray(scale, dtype=np.float64)
    if R.ndim != 2 or Q.ndim != 2 or s.ndim != 1:
        raise ValueError("reference and query must be 2-D and scale 1-D.")
    if not R.shape[1] == Q.shape[1] == len(s):
        raise ValueError(
            f"query has {Q.shape[1]} features, but reference is expecting {R.shape[1]} "
            f"features as input (and scale has {len(s)})."
        )
    if len(R) == 0:
        raise ValueError("reference has no rows.")
    keep = s > 0
    return R[:, keep], Q[:, keep], s[keep]


def _standardised(R: Array, Q: Array, s: Array) -> tuple[Array, Array]:
    """Both arrays centred on the reference mean and divided by ``s``.

    Distances do not change with the centre; centring keeps the fast Euclidean form of the
    neighbour search from cancelling on data with a large offset (1e12 ± 1).
    """
    centre = R.mean(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        return (R - centre) / s, (Q - centre) / s


def _kneighbors(R: Array, Q: Array, s: Array, k: int) -> tuple[Array, NDArray[np.intp]]:
    """The ``k`` nearest rows of ``R`` to each row of ``Q`` (columns divided by ``s``), sorted.

    The search runs on standardised rows; the distances of the neighbours found are then
    recomputed from the raw differences, so that equal gaps on a grid (pixels, counts) give
    bit-identical distances and ties with a threshold are not broken by rounding.
    """
    distances = np.full((len(Q), k), np.inf)
    indices = np.full((len(Q), k), -1, dtype=np.intp)
    Rs, Qs = _standardised(R, Q, s)
    finite = np.flatnonzero(np.isfinite(Qs).all(axis=1))
    if len(finite) == 0:
        return distances, indices
    nn = NearestNeighbors(n_neighbors=k).fit(Rs)
    for start in range(0, len(finite), _BLOCK_ROWS):
        rows = finite[start : start + _BLOCK_ROWS]
        idx = nn.kneighbors(Qs[rows], return_distance=False)
        with np.errstate(over="ignore"):
            exact = np.sqrt(np.sum(((Q[rows, None, :] - R[idx]) / s) ** 2, axis=2))
        order = np.argsort(exact, axis=1, kind="stable")
        distances[rows] = np.take_along_axis(exact, order, axis=1)
        indices[rows] = np.take_along_axis(idx, order, axis=1)
    return distances, indices


# ---------------------------------------------------------------------- memorisation metrics


def _distances(
    T: Array,
    S: Array,
    H: Array | None,
    scale: Array,
    max_rows: int,
    seed: np.random.SeedSequence,
    skipped: dict[str, str],
) -> dict[str, float | None]:
    names = ("near_copy_threshold", "dcr_synthetic_median", "near_copy_rate",
             "dcr_holdout_median", "holdout_near_copy_rate")
    out: dict[str, float | None] = dict.fromkeys(names)
    if not np.any(scale > 0):
        for name in names:
            skipped[name] = "every real_train column is constant"
        return out
    threshold = near_copy_threshold(T, scale=scale, max_rows=max_rows, random_state=seed)
    d_syn = nearest_distances(T, S, scale=scale)
    out["near_copy_threshold"] = threshold
    out["dcr_synthetic_median"] = float(np.median(d_syn))
    out["near_copy_rate"] = _rate(d_syn, threshold)
    if H is None:
        skipped["dcr_holdout_median"] = skipped["holdout_near_copy_rate"] = "needs real_holdout"
        return out
    d_hold = nearest_distances(T, H, scale=scale)
    out["dcr_holdout_median"] = float(np.median(d_hold))
    out["holdout_near_copy_rate"] = _rate(d_hold, threshold)
    return out


def _exact_copy_rate(T: Array, S: Array) -> float:
    """Fraction of rows of ``S`` equal to some row of ``T``, by hashing whole rows."""
    return float(np.mean(np.isin(_row_keys(S), _row_keys(T))))


def _row_keys(X: Array) -> NDArray[np.void]:
    X = np.ascontiguousarray(X + 0.0)  # -0.0 + 0.0 is +0.0: equal values, equal bytes
    return X.view(np.dtype((np.void, X.itemsize * X.shape[1]))).ravel()
