"""The numeric core: pure functions over arrays.

No I/O, no printing, no scikit-learn, matplotlib or dask: only numpy and scipy. EM is a
map-reduce of additive sufficient statistics (:mod:`~mixsynth.core.stats`), one M-step and one
loop (:mod:`~mixsynth.core.em`). What differs by kind of component (statistics, M-step,
log-density, sampling, parameter count, model-file tensors) is a component family
(:mod:`~mixsynth.core.families`); the four Gaussian covariance types are
:mod:`~mixsynth.core.families.gaussian`, full covariances shrunk toward their diagonals
``"full-shrunk(τ)"`` :mod:`~mixsynth.core.families.shrunk`, mixtures of factor analysers
``"factor(q)"`` :mod:`~mixsynth.core.families.factor`.
"""

from mixsynth.core.em import EMResult, IterationInfo, run_em, run_em_lockstep
from mixsynth.core.families import Family, family, family_names, register, register_parametric
from mixsynth.core.families.categorical import Categorical, categorical_family
from mixsynth.core.families.factor import Factor, factor_name
from mixsynth.core.families.gaussian import (
    COVARIANCE_TYPES,
    covariances_from_precisions_cholesky,
    covariances_from_stats,
    log_det_cholesky,
    precisions_cholesky_from_covariances,
    precisions_cholesky_from_precisions,
    precisions_from_precisions_cholesky,
)
from mixsynth.core.families.shrunk import Shrunk, shrunk_name
from mixsynth.core.kernels import pack_outer
from mixsynth.core.params import Params
from mixsynth.core.sampling import check_temperature, sample_mixture
from mixsynth.core.stats import (
    Stats,
    accumulate,
    e_step,
    estimate_log_prob,
    estimate_weighted_log_prob,
    m_step,
    suffstats,
)

__all__ = [
    "COVARIANCE_TYPES",
    "Categorical",
    "EMResult",
    "Factor",
    "Family",
    "IterationInfo",
    "Params",
    "Shrunk",
    "Stats",
    "accumulate",
    "categorical_family",
    "check_temperature",
    "covariances_from_precisions_cholesky",
    "covariances_from_stats",
    "e_step",
    "estimate_log_prob",
    "estimate_weighted_log_prob",
    "factor_name",
    "family",
    "family_names",
    "log_det_cholesky",
    "m_step",
    "pack_outer",
    "precisions_cholesky_from_covariances",
    "precisions_cholesky_from_precisions",
    "precisions_from_precisions_cholesky",
    "register",
    "register_parametric",
    "run_em",
    "run_em_lockstep",
    "sample_mixture",
    "shrunk_name",
    "suffstats",
]
