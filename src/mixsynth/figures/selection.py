"""Model-selection figures: a criterion against K, and every candidate of a sweep."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from mixsynth.figures.canvas import _new_figure

if TYPE_CHECKING:
    from mixsynth.selection import Candidate, SelectionResult

_CRITERION_LABELS = {
    "heldout": "held-out log-likelihood per row (higher is better)",
    "aic": "AIC (lower is better)",
    "bic": "BIC (lower is better)",
    "realism": "classifier AUC, generated vs held-out rows (lower is better)",
}


def criterion_curve(
    ks: ArrayLike,
    values: ArrayLike,
    *,
    label: str = "AIC",
    best: int | None = None,
    title: str | None = None,
) -> Figure:
    """Plot a model-selection criterion against the number of components.

    Parameters
    ----------
    ks : array-like of shape (n_candidates,)
        Numbers of components, in the order to draw them.
    values : array-like of shape (n_candidates,)
        The criterion for each K. NaN (a candidate that failed) leaves a gap.
    label : str, default="AIC"
        Name of the criterion, for the y axis and the legend.
    best : int, optional
        The chosen K, marked on the curve. Nothing is marked when it is not given: whether the
        lowest or the highest value is best depends on the criterion, so the caller says.
    title : str, optional
        Title of the axes.

    Returns
    -------
    fig : Figure
        A figure with one axes.

    Raises
    ------
    ValueError
        If ``ks`` and ``values`` are empty, of different lengths, not 1-D, or if ``best`` is not
        one of ``ks``.
    """
    k = np.asarray(ks)
    v = np.asarray(values, dtype=np.float64)
    if k.ndim != 1 or v.ndim != 1 or len(k) != len(v) or len(k) == 0:
        raise ValueError(
            "ks and values must be 1-D, non-empty and of the same length, got shapes "
            f"{k.shape} and {v.shape}"
        )
    fig = _new_figure((6.4, 4.0))
    ax = fig.add_subplot()
    ax.plot(k, v, marker="o", label=label)
    if best is not None:
        hits = np.flatnonzero(k == best)
        if len(hits) == 0:
            raise ValueError(f"best={best!r} is not one of ks {k.tolist()}")
        i = int(hits[0])
        ax.plot([k[i]], [v[i]], linestyle="none", marker="*", markersize=16, color="tab:red",
                label=f"chosen K = {best}", zorder=3)
        ax.axvline(k[i], color="tab:red", linestyle=":", linewidth=1)
    ax.set_xlabel("number of components K")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def selection_figure(selection: SelectionResult, *, title: str | None = None) -> Figure:
    """Plot a selection sweep: the criterion against K, one line per covariance type.

    Parameters
    ----------
    selection : SelectionResult
        The sweep, e.g. ``Synthesizer(...).fit(X).selection_``.
    title : str, optional
        Title of the axes.

    Returns
    -------
    fig : Figure
        One axes. Each (covariance type, reg_covar) is a line with markers, with error bars of
        one standard error for the held-out criterion; abandoned candidates (scored on fewer
        folds) are hollow markers off the lines; the chosen candidate is a gold star. With more
        than three lines the legend sits beside the axes.
    """
    candidates = list(selection.candidates)
    if not candidates:
        raise ValueError("the selection has no candidates to plot")
    several_regs = len({c.reg_covar for c in candidates}) > 1

    def group(c: Candidate) -> tuple[str, float]:
        return (c.covariance_type, c.reg_covar)

    groups = [(key, sorted(members, key=lambda c: c.n_components))
              for key, members in groupby(sorted(candidates, key=group), key=group)]
    many = len(groups) > 3  # then the legend goes beside the axes, not over the curves
    fig = _new_figure((9.0, 4.5) if many else (6.4, 4.0))
    ax = fig.add_subplot()
    handles: list[Any] = []  # legend entries in drawing order (errorbars would go last)
    for (covariance, reg), ordered in groups:
        label = f"{covariance}, reg_covar={reg:g}" if several_regs else covariance
        done = [c for c in ordered if not c.abandoned]
        color = None
        if done:
            errors = [c.score_se for c in done]
            bars = ax.errorbar([c.n_components for c in done], [c.score for c in done],
                               yerr=errors if any(errors) else None, marker="o", capsize=3,
                               label=label)
            handles.append(bars)
            color = bars.lines[0].get_color()
        dropped = [c for c in ordered if c.abandoned]
        if dropped:
            ax.plot([c.n_components for c in dropped], [c.score for c in dropped],
                    linestyle="none", marker="o", markerfacecolor="none",
                    color=color or "tab:gray")
    if any(c.abandoned for c in candidates):
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                              color="tab:gray", label="abandoned (scored on fewer folds)"))
    best = selection.best
    chosen = f"chosen: K = {best.n_components}, {best.covariance_type}"
    if several_regs:
        chosen += f", reg_covar={best.reg_covar:g}"
    # Gold with a black edge: red is one of the line colours once there are four lines.
    handles += ax.plot([best.n_components], [best.score], linestyle="none", marker="*",
                       markersize=18, color="gold", markeredgecolor="black", zorder=3,
                       label=chosen)
    ax.set_xlabel("number of components K")
    ax.set_ylabel(_CRITERION_LABELS.get(selection.criterion, selection.criterion))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if many:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  fontsize="small", borderaxespad=0.0)
    else:
        ax.legend(handles=handles)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

