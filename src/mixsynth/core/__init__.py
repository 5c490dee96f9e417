"""The numeric core: pure functions over arrays.

No I/O, no printing, no scikit-learn, matplotlib or dask: only numpy and scipy. EM is a
map-reduce of additive sufficient statistics (:mod:`~mixsynth.core.suffstats`), one M-step
(:mod:`~mixsynth.core.mstep`) and one loop (:mod:`~mixsynth.core.em`).
"""

from mixsynth.core.em import EMResult, IterationInfo, run_em, run_em_lockstep
from mixsynth.core.kernels import estimate_log_prob, estimate_weighted_log_prob, pack_outer
from mixsynth.core.mstep import covariances_from_stats, m_step
from mixsynth.core.params import (
    COVARIANCE_TYPES,
    Params,
    covariances_from_precisions_cholesky,
    log_det_cholesky,
    precisions_cholesky_from_covariances,
    precisions_cholesky_from_precisions,
    precisions_from_precisions_cholesky,
)
from mixsynth.core.sampling import sample_mixture
from mixsynth.core.suffstats import Stats, accumulate, e_step, suffstats

__all__ = [
    "COVARIANCE_TYPES",
    "EMResult",
    "IterationInfo",
    "Params",
    "Stats",
    "accumulate",
    "covariances_from_precisions_cholesky",
    "covariances_from_stats",
    "e_step",
    "estimate_log_prob",
    "estimate_weighted_log_prob",
    "log_det_cholesky",
    "m_step",
    "pack_outer",
    "precisions_cholesky_from_covariances",
    "precisions_cholesky_from_precisions",
    "precisions_from_precisions_cholesky",
    "run_em",
    "run_em_lockstep",
    "sample_mixture",
    "suffstats",
]
