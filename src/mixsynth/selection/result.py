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

__all__ = ["CRITERIA", "Candidate", "Config", "ProgressFn", "SelectionResult"]

#: Criteria known to :func:`~mixsynth.selection.select`.
CRITERIA: tuple[str, ...] = ("heldout", "aic", "bic")

Config = tuple[int, str, float]  # (n_components, covariance_type, reg_covar)
ProgressFn = Callable[[int, int, "Candidate"], None]
Array = NDArray[np.float64]


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

    @property
    def config(self) -> Config:
        return (self.n_components, self.covariance_type, self.reg_covar)

    @property
    def score_se(self) -> float:
        """Standard error of the held-out mean (0 for AIC / BIC)."""
        if self.score_std is None or len(self.fold_scores) < 2:
            return 0.0
        return self.score_std / math.sqrt(len(self.fold_scores))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fold_scores"] = list(self.fold_scores)
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
        return self.criterion == "heldout"

    @property
    def scores(self) -> Array:
        """The criterion of every candidate, in order."""
        return np.array([c.score for c in self.candidates])

    def table(self) -> list[dict[str, Any]]:
        """One row per candidate, sorted by covariance type, reg_covar and K."""
        rows = []
        for i, c in enumerate(self.candidates):
            row = {
                "K": c.n_components,
                "covariance": c.covariance_type,
                "reg_covar": c.reg_covar,
                "score": c.score,
                "score_std": c.score_std,
                "n_parameters": c.n_parameters,
                "aic": c.aic,
                "bic": c.bic,
                "fit_time": c.fit_time,
                "converged": c.converged,
                "abandoned": c.abandoned,
                "best": i == self.best_index,
            }
            rows.append(row)
        return sorted(rows, key=lambda r: (r["covariance"], r["reg_covar"], r["K"]))

    def format_table(self) -> str:
        """The table as aligned text, for terminals and logs."""
        label = "CV loglik" if self.criterion == "heldout" else self.criterion.upper()
        lines = [
            f"{'K':>5} {'cov':>9} {'reg':>8} {label:>20} {'params':>8} {'AIC':>12} "
            f"{'BIC':>12} {'time':>7}"
        ]
        for r in self.table():
            score = f"{r['score']:.3f}"
            if r["score_std"] is not None:
                score += f" ± {r['score_std']:.3f}"
            flag = " *" if r["best"] else ("  (abandoned)" if r["abandoned"] else "")
            lines.append(
                f"{r['K']:>5} {r['covariance']:>9} {r['reg_covar']:>8.0e} {score:>20} "
                f"{r['n_parameters']:>8} {r['aic']:>12.1f} {r['bic']:>12.1f} "
                f"{r['fit_time']:>6.1f}s{flag}"
            )
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
