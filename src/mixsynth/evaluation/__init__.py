"""How good is a synthetic data set? Fidelity, generalisation and memorisation in one report.

:func:`evaluate` compares synthetic rows with the real training rows (and, when given, real
rows held out from training and the fitted model) and returns a frozen :class:`QualityReport`.
Everything is built on scipy and scikit-learn:

* fidelity per column (two-sample Kolmogorov–Smirnov, the "column shapes" score), between
  columns (Pearson correlations) and jointly (a classifier two-sample test and the kernel MMD);
* generalisation of the model (log-likelihood of the training rows against held-out rows);
* memorisation (distance to the closest training record, near and exact copies), with the
  held-out rows as the baseline a fresh real sample gets;
* support (synthetic values outside the observed per-column range).

The distance building blocks (:func:`column_scale`, :func:`nearest_distances`,
:func:`near_copy_threshold`, :func:`near_copy_rate`) are public so that the synthesizer's
memorisation guard measures copies exactly as the report does.

The package: :mod:`~mixsynth.evaluation.quality` (the report and :func:`evaluate`, which
checks the inputs and assembles the metrics), :mod:`~mixsynth.evaluation.distances` (scaled
nearest-neighbour distances, near and exact copies), :mod:`~mixsynth.evaluation.fidelity`
(log-likelihoods and correlations) and :mod:`~mixsynth.evaluation.two_sample` (the classifier
two-sample test and the kernel MMD).

Mixed tables (text, categories, booleans, dates, gaps) get a :class:`TableQualityReport`:
:mod:`~mixsynth.evaluation.tables` holds its metrics (column shapes, pair trends, the
classifier two-sample AUC, missing rates, Gower near copies), which the benchmarks use too,
and :mod:`~mixsynth.evaluation.table_quality` the report and its input checks.
"""

from mixsynth.evaluation.distances import (
    column_scale,
    near_copy_rate,
    near_copy_threshold,
    nearest_distances,
)
from mixsynth.evaluation.quality import QualityReport, evaluate
from mixsynth.evaluation.table_quality import TableQualityReport

__all__ = [
    "QualityReport",
    "TableQualityReport",
    "column_scale",
    "evaluate",
    "near_copy_rate",
    "near_copy_threshold",
    "nearest_distances",
]
