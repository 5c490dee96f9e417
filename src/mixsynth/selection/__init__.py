"""Model selection over mixture candidates: K × covariance type × reg_covar.

Three parts meet in :func:`select`:

- **plans** (:mod:`~mixsynth.selection.plans`): which K values to try per
  (covariance type, reg_covar) group — the full grid, or coarse to fine when there are more than
  :data:`GRID_LIMIT` — as pure generators fed the scores of each batch;
- **evaluators** (:mod:`~mixsynth.selection.evaluators`): :class:`HeldOut` (k-fold held-out
  log-likelihood in the original space, paired early abandonment) or
  :class:`InformationCriterion` (AIC / BIC; on a streamed Source a batch shares its passes);
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
    HeldOut,
    InformationCriterion,
    Outcome,
    information_criteria,
    make_folds,
)
from mixsynth.selection.plans import GRID_LIMIT, candidate_grid
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
    "HeldOut",
    "InformationCriterion",
    "Outcome",
    "ProcessRunner",
    "ProgressFn",
    "Runner",
    "SelectionResult",
    "SerialRunner",
    "Task",
    "candidate_grid",
    "information_criteria",
    "make_folds",
    "select",
]
