"""Model selection over mixture candidates: K × covariance type × reg_covar.

Three parts meet in :func:`select`:

- **plans** (:mod:`~mixsynth.selection.plans`): which K values to try per
  (covariance type, reg_covar) group — the full grid, or coarse to fine when there are more than
  :data:`GRID_LIMIT` — as pure generators fed the scores of each batch;
- **evaluators** (:mod:`~mixsynth.selection.evaluators`): :class:`HeldOut` (k-fold held-out
  log-likelihood in the original space, paired early abandonment),
  :class:`InformationCriterion` (AIC / BIC; on a streamed Source a batch shares its passes) or
  :class:`Realism` (:mod:`~mixsynth.selection.realism`: a classifier two-sample test of the
  candidate's rows against held-out rows, under the memorisation guard, with held-out
  likelihood as floor and tie-breaker; :func:`choose_realistic` makes the final choice);
- **runners** (:mod:`~mixsynth.selection.runners`): :class:`SerialRunner`,
  :class:`ProcessRunner` (worker processes, a BLAS-thread cap per task), :class:`ClusterRunner`
  (a Dask cluster's workers), or any object with ``run(tasks)``.

Candidates are clones of a template :class:`~mixsynth.GaussianMixture` (``set_params``), seeded
by their index in the grid through the fit's :class:`~mixsynth.seeding.SeedPlan`; a store
(:mod:`~mixsynth.selection.checkpoint`, a file) keeps finished candidates across an
interruption. ``select`` always returns the winner fitted on every row. The result objects are in
:mod:`~mixsynth.selection.result`.
"""

from mixsynth.selection.evaluators import (
    ABANDON_SE,
    Evaluator,
    Fold,
    FoldsUnsupportedError,
    HeldOut,
    InformationCriterion,
    Outcome,
    information_criteria,
    make_folds,
)
from mixsynth.selection.plans import GRID_LIMIT, candidate_grid, candidate_ks
from mixsynth.selection.realism import (
    Realism,
    RealismFold,
    SampleSupport,
    choose_realistic,
    make_realism_folds,
    two_sample_auc,
)
from mixsynth.selection.result import CRITERIA, Candidate, Config, ProgressFn, SelectionResult
from mixsynth.selection.runners import ClusterRunner, ProcessRunner, Runner, SerialRunner, Task
from mixsynth.selection.select import CandidateStore, select

__all__ = [
    "ABANDON_SE",
    "CRITERIA",
    "GRID_LIMIT",
    "Candidate",
    "CandidateStore",
    "ClusterRunner",
    "Config",
    "Evaluator",
    "Fold",
    "FoldsUnsupportedError",
    "HeldOut",
    "InformationCriterion",
    "Outcome",
    "ProcessRunner",
    "ProgressFn",
    "Realism",
    "RealismFold",
    "Runner",
    "SampleSupport",
    "SelectionResult",
    "SerialRunner",
    "Task",
    "candidate_grid",
    "candidate_ks",
    "choose_realistic",
    "information_criteria",
    "make_folds",
    "make_realism_folds",
    "select",
    "two_sample_auc",
]
