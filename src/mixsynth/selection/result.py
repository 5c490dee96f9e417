"""What a selection sweep gives back: every :class:`Candidate` and the :class:`SelectionResult`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.modelfile.values import _from_json, _short, _to_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CRITERIA", "OPTIONAL_FIELDS", "Candidate", "Config", "ProgressFn", "SelectionResult"]

#: Criteria known to :func:`~mixsynth.selection.select`.
CRITERIA: tuple[str, ...] = ("heldout", "aic", "bic", "realism")

Config = tuple[int, str, float]  # (n_components, covariance_type, reg_covar)
ProgressFn = Callable[[int, int, "Candidate"], None]
Array = NDArray[np.float64]


#: Candidate fields written to a dictionary only when measured.
OPTIONAL_FIELDS = ("heldout_loglik", "heldout_median", "auc", "auc_se", "near_copy_rate",
             "holdout_near_copy_rate", "shrinkage", "space")


@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate of a selection sweep.

    Attributes
    ----------
    n_components : int
    covariance_type : str
    reg_covar : float
    score : float
        The criterion: mean held-out log-likelihood per row (higher is better) or AIC / BIC
        (lower is better).
    score_std : float or None
        Standard deviation of the per-fold held-out scores (held-out criterion only).
    fold_scores : tuple of float
        Per-fold held-out scores (empty for AIC / BIC).
    aic, bic : float
        On the training rows in the whitened space (for held-out: the mean over folds of the
        training-fold values).
    log_likelihood : float
        Mean per-row training log-likelihood in the whitened space (mean over folds).
    n_parameters : int
        Free parameters of the mixture.
    converged : bool
        Every fit of the candidate converged.
    n_iter : int
        EM iterations (largest over folds).
    fit_time : float
        Seconds spent on the candidate in total (for candidates fitted with shared passes, the
        wall time of their batch).
    abandoned : bool
        Stopped early as hopeless; its scores cover only the folds run.
    heldout_loglik, heldout_median : float or None
        Mean and median held-out log-likelihood per row over every fold's held-out rows
        (held-out and realism criteria; the median is robust to a few extreme rows).
    auc, auc_se : float or None
        Realism: the classifier two-sample AUC of the candidate's rows against held-out rows,
        and its standard error.
    near_copy_rate, holdout_near_copy_rate : float or None
        Realism: near copies of the folds' training rows among generated and held-out rows.
    shrinkage : float or None
        The shrinkage τ of the candidate's covariances toward their diagonals, when the sweep
        searched it (``None``: not recorded, as in files written before it existed: 0).
    space : {"pca", "columns"} or None
        The space the candidate was fitted in (``Synthesizer(space=...)``), when the sweep
        searched more than one (``None``: the synthesizer's only space).
    """

    n_components: int
    covariance_type: str
    reg_covar: float
    score: float
    score_std: float | None
    fold_scores: tuple[float, ...]
    aic: float
    bic: float
    log_likelihood: float
    n_parameters: int
    converged: bool
    n_iter: int
    fit_time: float
    abandoned: bool = False
    heldout_loglik: float | None = None
    heldout_median: float | None = None
    auc: float | None = None
    auc_se: float | None = None
    near_copy_rate: float | None = None
    holdout_near_copy_rate: float | None = None
    shrinkage: float | None = None
    space: str | None = None

    @property
    def config(self) -> Config:
        return (self.n_components, self.covariance_type, self.reg_covar)

    @property
    def n_folds_run(self) -> int:
        """Held-out folds the score covers (0 for AIC / BIC)."""
        return len(self.fold_scores)

    @property
    def score_se(self) -> float:
        """Standard error of the held-out mean (0 for AIC / BIC)."""
        if self.score_std is None or len(self.fold_scores) < 2:
            return 0.0
        return self.score_std / math.sqrt(len(self.fold_scores))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; the optional measurements are left out when absent, so a
        candidate of a criterion without them is written as before they existed."""
        out = asdict(self)
        out["fold_scores"] = list(self.fold_scores)
        for name in OPTIONAL_FIELDS:
            if out[name] is None:
                del out[name]
        return out


@dataclass(frozen=True)
class SelectionResult:
    """The outcome of a selection sweep: every candidate, and which one won.

    Attributes
    ----------
    criterion : {"heldout", "aic", "bic"}
    candidates : tuple of Candidate
        In the order they were evaluated.
    best_index : int
        Position of the chosen candidate in ``candidates``.
    one_se : bool
        Whether the one-standard-error rule chose among the candidates.
    n_folds : int or None
    """

    criterion: str
    candidates: tuple[Candidate, ...]
    best_index: int
    one_se: bool = False
    n_folds: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def best(self) -> Candidate:
        """The chosen candidate."""
        return self.candidates[self.best_index]

    @property
    def higher_is_better(self) -> bool:
        """Held-out log-likelihood: higher; AIC, BIC and realism's AUC: lower."""
        return self.criterion == "heldout"

    @property
    def scores(self) -> Array:
        """The criterion of every candidate, in order."""
        return np.array([c.score for c in self.candidates])

    def table(self) -> list[dict[str, Any]]:
        """One row per candidate, sorted by covariance type, reg_covar and K.

        ``score_se`` is the standard error of ``score`` (held-out: of the mean over folds;
        realism: of the AUC); ``n_folds_run`` the folds an abandoned candidate's partial
        score covers.
        """
        rows = []
        for i, c in enumerate(self.candidates):
            row = {
                "K": c.n_components,
                "covariance": c.covariance_type,
                "reg_covar": c.reg_covar,
                "shrinkage": c.shrinkage,
                "space": c.space,
                "score": c.score,
                "score_std": c.score_std,
                "score_se": c.auc_se if self.criterion == "realism" else (
                    c.score_se if c.score_std is not None else None),
                "n_folds_run": c.n_folds_run,
                "heldout_loglik": c.heldout_loglik,
                "heldout_median": c.heldout_median,
                "auc": c.auc,
                "near_copy_rate": c.near_copy_rate,
                "holdout_near_copy_rate": c.holdout_near_copy_rate,
                "n_parameters": c.n_parameters,
                "aic": c.aic,
                "bic": c.bic,
                "fit_time": c.fit_time,
                "converged": c.converged,
                "abandoned": c.abandoned,
                "best": i == self.best_index,
            }
            rows.append(row)
        return sorted(rows, key=lambda r: (r["space"] or "", r["covariance"],
                                           r["shrinkage"] or 0.0, r["reg_covar"], r["K"]))

    def k_edge(self) -> str | None:
        """A sentence when the winner's K is the largest (or, above 1, the smallest) K searched
        in its group, where the best may lie beyond the range; ``None`` otherwise."""
        b = self.best
        ks = [c.n_components for c in self.candidates
              if (c.covariance_type, c.reg_covar, c.shrinkage, c.space)
              == (b.covariance_type, b.reg_covar, b.shrinkage, b.space)]
        if len(ks) < 2:
            return None
        if b.n_components == max(ks):
            return (f"the chosen K={b.n_components} is the largest searched: a larger K may be "
                    "better (widen n_components)")
        if b.n_components == min(ks) and b.n_components > 1:
            return (f"the chosen K={b.n_components} is the smallest searched: a smaller K may "
                    "be better (widen n_components)")
        return None

    def format_table(self) -> str:
        """The table as aligned text, for terminals and logs.

        ``±`` is always one standard error of the score (held-out: of the mean over the folds;
        realism: of the AUC), said under the table. An abandoned candidate's partial mean
        (fewer folds) is not shown beside complete means: its row says after how many folds it
        was stopped. Held-out log-likelihoods are shown as mean and median (robust to a few
        extreme rows). A note says when the winner sits at the edge of the searched K.
        """
        realism = self.criterion == "realism"
        label = {"heldout": "CV loglik", "realism": "AUC"}.get(self.criterion,
                                                               self.criterion.upper())
        held = realism or self.criterion == "heldout"
        head = f"{'K':>5} {'cov':>9} {'reg':>8} {label:>20}"
        if held:
            head += f" {'LL mean':>9} {'LL median':>9}"
        if realism:
            head += f" {'copies':>7}"
        lines = [head + f" {'params':>8} {'AIC':>12} {'BIC':>12} {'time':>7}"]
        for r in self.table():
            if r["abandoned"]:
                score = f"stopped {r['n_folds_run']}/{self.n_folds or '?'} folds"
            else:
                score = f"{r['score']:.3f}"
                if r["score_se"] is not None:
                    score += f" ± {r['score_se']:.3f}"
            cov = r["covariance"]
            if r["shrinkage"]:
                cov += f" τ{r['shrinkage']:g}"
            if r["space"] is not None:
                cov = f"{r['space']}:{cov}"
            line = f"{r['K']:>5} {cov:>9} {r['reg_covar']:>8.0e} {score:>20}"
            if held:
                line += (f" {_num(None if r['abandoned'] else r['heldout_loglik'], 9)}"
                         f" {_num(None if r['abandoned'] else r['heldout_median'], 9)}")
            if realism:
                nc = r["near_copy_rate"]
                line += f" {'-' if nc is None else f'{nc:.1%}':>7}"
            flag = " *" if r["best"] else ("  (abandoned)" if r["abandoned"] else "")
            lines.append(
                line + f" {r['n_parameters']:>8} {r['aic']:>12.1f} {r['bic']:>12.1f} "
                f"{r['fit_time']:>6.1f}s{flag}"
            )
        if self.criterion == "heldout":
            lines.append("± : one standard error of the mean over the folds; abandoned "
                         "candidates were stopped early (their partial means are not comparable)")
        elif realism:
            lines.append("AUC: classifier two-sample test against held-out rows (0.5: "
                         "indistinguishable; lower is better); ± : one standard error; copies: "
                         "near copies of training rows among generated rows")
        edge = self.k_edge()
        if edge:
            lines.append(f"note: {edge}")
        return "\n".join(lines)

    def plot(self, **kwargs: Any) -> Figure:
        """A matplotlib Figure of the criterion against K (one line per covariance type and
        reg_covar). Convenience around :func:`mixsynth.plotting.selection_figure`."""
        from mixsynth.plotting import selection_figure  # matplotlib, imported on demand

        return selection_figure(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "criterion": self.criterion,
            "best_index": self.best_index,
            "one_se": self.one_se,
            "n_folds": self.n_folds,
            "notes": list(self.notes),
            "best": self.best.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SelectionResult:
        cands = []
        for c in data["candidates"]:
            c = dict(c)
            c["fold_scores"] = tuple(c.get("fold_scores", ()))
            cands.append(Candidate(**c))
        return cls(
            criterion=data["criterion"],
            candidates=tuple(cands),
            best_index=int(data["best_index"]),
            one_se=bool(data.get("one_se", False)),
            n_folds=data.get("n_folds"),
            notes=tuple(data.get("notes", ())),
        )


# ------------------------------------------------------------------------------ model files
# How a SelectionResult (a Synthesizer's ``selection_``) is stored in a model file: the codec
# of that attribute in the Synthesizer's table (mixsynth.modelfile).


def _encode_selection(selection: SelectionResult | None) -> Any:
    return None if selection is None else _to_json(selection.to_dict())


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "float | None": lambda v: v is None or _FIELD_CHECKS["float"](v),
    "int | None": lambda v: v is None or _FIELD_CHECKS["int"](v),
    "tuple[float, ...]": lambda v: isinstance(v, list) and all(map(_FIELD_CHECKS["float"], v)),
    "str | None": lambda v: v is None or isinstance(v, str),
    "tuple[str, ...]": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
}


def _check_fields(cls: type, data: dict[str, Any]) -> None:
    """Values of the right JSON types for the dataclass ``cls`` (unknown fields: TypeError)."""
    for f in fields(cls):
        check = _FIELD_CHECKS.get(str(f.type))
        if f.name in data and check is not None and not check(data[f.name]):
            raise TypeError(f"{cls.__name__}.{f.name} = {_short(data[f.name])}")


def _selection(value: Any) -> SelectionResult | None:
    if value is None:
        return None
    data = _from_json(value, objects=True)
    if not isinstance(data, dict) or not isinstance(data.get("candidates"), list):
        raise ValueError("expected SelectionResult.to_dict()")
    for cand in data["candidates"]:
        if not isinstance(cand, dict):
            raise TypeError("a candidate is not an object")
        _check_fields(Candidate, cand)
    _check_fields(SelectionResult, data)
    result = SelectionResult.from_dict(data)
    if result.criterion not in CRITERIA or not 0 <= result.best_index < len(result.candidates):
        raise ValueError("criterion or best_index out of range")
    return result


def _num(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"
