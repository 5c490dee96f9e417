"""Data held in memory as a :class:`~mixsynth.sources.Source`: the smallest source.

An :class:`ArraySource` validates its rows once, at construction (scikit-learn's messages, NaN
and inf named by column and row), and then visits them as one piece per pass: each kernel cuts
its own chunks, and a fit's kernels keep the centred cuts (and, for full covariances, their
packed outer products) in their :class:`~mixsynth.sources.kernels.ChunkCache` from one EM
iteration to the next. Its summary is *complete*: the sample is every row, so a fit initialises
on all of them, exactly as an array fit always has. It is the one source with :meth:`subset`
(held-out folds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import _check_sample_weight, _get_feature_names

from mixsynth.sources.base import Source
from mixsynth.sources.kernels import ChunkKernel, apply_kernels
from mixsynth.sources.maps import RowMap
from mixsynth.sources.summary import Summary
from mixsynth.validation import check_input
from mixsynth.whitening import ColumnMoments

__all__ = ["ArraySource"]

Array = NDArray[np.float64]


class ArraySource(Source):
    """An array or DataFrame in memory, as a source.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Numeric; validated here into a float64 array (not copied when it already is one; never
        written to).
    sample_weight : array-like of shape (n_samples,), optional
    seed : int
        Kept for the sources derived from this one (the sample is every row: no reservoir).
    estimator : estimator, optional
        Validate as this estimator's ``fit`` does: scikit-learn's feature bookkeeping
        (``n_features_in_``, ``feature_names_in_``) and its name in messages.
    ensure_min_samples : int, default=1
    allow_nan : bool, default=False
        NaN marks a missing value (``missing="em"``); ±inf and all-missing columns are errors.
    """

    kind = "in memory"
    in_memory = True

    def __init__(
        self,
        X: Any,
        sample_weight: Any = None,
        *,
        seed: int = 0,
        estimator: Any = None,
        ensure_min_samples: int = 1,
        allow_nan: bool = False,
    ) -> None:
        super().__init__(seed)
        self._given = X
        self.X = check_input(
            X, estimator=estimator, reset=True, ensure_min_samples=ensure_min_samples,
            allow_nan=allow_nan,
        )
        self.sample_weight = (
            None if sample_weight is None else _check_sample_weight(sample_weight, self.X)
        )
        names = (
            getattr(estimator, "feature_names_in_", None) if estimator is not None
            else _get_feature_names(X)
        )
        self._names: NDArray[Any] | None = names

    @classmethod
    def _of_rows(
        cls, X: Array, w: Array | None, seed: int, names: NDArray[Any] | None
    ) -> ArraySource:
        """A source of rows already validated (subsets, mapped rows)."""
        out = cls.__new__(cls)
        Source.__init__(out, seed)
        out._given, out.X, out.sample_weight, out._names = X, X, w, names
        return out

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def feature_names(self) -> NDArray[Any] | None:
        return self._names

    @property
    def nbytes_hint(self) -> int:
        return int(self.X.nbytes)

    def _summarise(self, sample_size: int) -> Summary:
        X, w = self.X, self.sample_weight
        if w is not None and not w.sum() > 0:
            raise ValueError("The sample weights sum to zero; at least one must be positive.")
        return Summary(
            n_samples=X.shape[0],
            n_features=X.shape[1],
            moments=ColumnMoments.from_array(X),
            weighted_mean=_weighted_mean(X, w),
            weight_sum=float(X.shape[0]) if w is None else float(w.sum()),
            integer_columns=np.all((X == np.round(X)) | np.isnan(X), axis=0),
            sample=X,  # every row: the fit initialises on all of them
            sample_weight=w,
            complete=True,
        )

    def run_pass(self, kernels: Sequence[ChunkKernel]) -> list[Any]:
        # one piece: each kernel cuts it to its own rows, the cuts of an in-memory fit
        return apply_kernels([(self.X, self.sample_weight, 0)], kernels)

    def materialize(self) -> Any:
        """The data as it was given (an array or a DataFrame)."""
        return self._given

    def materialize_weights(self) -> Array | None:
        return self.sample_weight

    def subset(self, rows: Any) -> ArraySource:
        """The source of ``rows`` (indices or a boolean mask): a held-out fold."""
        w = None if self.sample_weight is None else self.sample_weight[rows]
        return ArraySource._of_rows(self.X[rows], w, self.seed, self._names)

    def mapped(self, fn: RowMap) -> ArraySource:
        """The rows mapped by ``fn`` now (they are in memory), weights kept."""
        index = np.arange(self.X.shape[0], dtype=np.uint64)
        return ArraySource._of_rows(
            np.ascontiguousarray(fn(self.X, index), dtype=np.float64), self.sample_weight,
            self.seed, None,
        )


def _weighted_mean(X: Array, w: Array | None) -> Array:
    """The (weighted) column means, over each column's observed (non-NaN) values."""
    if not X.shape[0]:
        return np.zeros(X.shape[1])
    observed = ~np.isnan(X)
    if observed.all():
        return np.asarray(np.average(X, axis=0, weights=w))
    mass = observed if w is None else observed * w[:, None]
    total = mass.sum(axis=0)
    sums = np.where(observed, X, 0.0)
    sums = sums.sum(axis=0) if w is None else w @ sums
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, sums / np.where(total > 0, total, 1.0), 0.0)
