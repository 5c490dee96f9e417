"""Whitening: centre, scale per column, keep the leading principal directions, whiten.

:class:`Whitener` is the first stage of every mixsynth model. It maps the data to a space in which
a Gaussian mixture is easy to fit (few, decorrelated, unit-variance coordinates), maps generated
points back (:meth:`Whitener.inverse_transform`), and says how densities change on the way
(:meth:`Whitener.residual_log_density`).

The numerics are built for data that break naive PCA:

- every column is first divided by an exact power of two near its largest magnitude, so that no
  sum can overflow (values near 1e300) and nothing underflows (values near 1e-200);
- the mean is taken in that scaled domain and refined by a second pass, then the centred
  deviations are scaled again by a power of two near their largest magnitude *before* anything is
  squared, so a large offset with a small spread (1e12 ± 1) keeps the full precision of the spread;
- exactly constant columns are set aside (remembered and restored exactly), and null directions of
  collinear or short-and-wide data are always dropped.

The principal directions come from the eigendecomposition of the d'×d' covariance matrix
(d' = number of non-constant columns) by :func:`_whitener_from_moments`, a pure function over
moments; for data with fewer rows than columns, from the SVD of the centred rows, the matrix never
formed. A streaming fit summarises each chunk as :class:`ColumnMoments`, merges them pairwise
(``a + b``, the update of Chan, Golub and LeVeque) and calls :meth:`Whitener.fit_from_moments`.

The package: :mod:`~mixsynth.whitening.estimator` (the :class:`Whitener` estimator and its
model-file table), :mod:`~mixsynth.whitening.moments` (column moments of an array, of the
observed values of each column, and :class:`ColumnMoments`, mergeable across chunks) and
:mod:`~mixsynth.whitening.pca` (the whitening learnt from moments: principal directions, null
directions dropped, or per-column standardisation when values are missing).
"""

from mixsynth.whitening.estimator import ConstantColumnsWarning, Whitener
from mixsynth.whitening.moments import ColumnMoments

# not public: the tests check the pure function directly
from mixsynth.whitening.pca import _whitener_from_moments as _whitener_from_moments

__all__ = ["ColumnMoments", "ConstantColumnsWarning", "Whitener"]
