"""The parts of :class:`~mixsynth.gaussian_mixture.GaussianMixture` beside its surface.

:mod:`~mixsynth.mixture.driver` (the fit on a source, every EM run advanced together),
:mod:`~mixsynth.mixture.scoring` (per-row scores, labels, AIC/BIC, sampling),
:mod:`~mixsynth.mixture.kmeans` (k-means++ seeding, the statistics of hard assignments),
:mod:`~mixsynth.mixture.families` (the core family of the settings, parameter counts) and
:mod:`~mixsynth.mixture.threads` (BLAS/OpenMP threads of a fit). The estimator, its
initialisation and its model-file table stay in :mod:`mixsynth.gaussian_mixture`.
"""
