"""Real against generated rows: overlaid marginal histograms and a scatter matrix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from mixsynth.figures.canvas import REAL_COLOR, SYNTHETIC_COLOR, _new_figure


def _pair(real: ArrayLike, synthetic: ArrayLike, names: Any) -> tuple[Any, Any, list[str]]:
    """Both tables as 2-D float arrays with the same columns, and the column names."""
    R = np.asarray(real, dtype=np.float64)
    S = np.asarray(synthetic, dtype=np.float64)
    if R.ndim != 2 or S.ndim != 2 or R.shape[1] != S.shape[1] or R.shape[1] == 0:
        raise ValueError(
            "real and synthetic must be 2-D with the same, positive number of columns, got "
            f"shapes {R.shape} and {S.shape}"
        )
    if len(R) == 0 or len(S) == 0:
        raise ValueError("real and synthetic need at least one row each")
    labels = [f"x{j}" for j in range(R.shape[1])] if names is None else [str(n) for n in names]
    if len(labels) != R.shape[1]:
        raise ValueError(f"names has {len(labels)} entries for {R.shape[1]} columns")
    return R, S, labels


def _bins(r: Any, s: Any, integer: bool, bins: int) -> Any:
    """Shared histogram edges: one bin per whole number for integer columns of small range."""
    lo = float(min(r.min(), s.min()))
    hi = float(max(r.max(), s.max()))
    if integer and hi - lo <= 2 * bins:
        return np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.0, 1.0)
    if hi == lo:
        return np.array([lo - 0.5, hi + 0.5])
    return np.linspace(lo, hi, bins + 1)


def _overlaid_histograms(ax: Any, r: Any, s: Any, edges: Any) -> None:
    """Real as filled bars, synthetic as an outline over them: both readable where they meet."""
    ax.hist(r, bins=edges, density=True, histtype="stepfilled", facecolor=(REAL_COLOR, 0.35),
            edgecolor=REAL_COLOR, linewidth=0.8)
    ax.hist(s, bins=edges, density=True, histtype="step", color=SYNTHETIC_COLOR, linewidth=1.8)


def _plain_axes(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize="small")


def _legend_handles() -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=REAL_COLOR, alpha=0.5, label="real"),
            Line2D([], [], color=SYNTHETIC_COLOR, linewidth=2, label="synthetic")]


def marginals_figure(
    real: ArrayLike,
    synthetic: ArrayLike,
    *,
    names: Any = None,
    integer: ArrayLike | None = None,
    notes: Any = None,
    ncols: int = 4,
    bins: int = 30,
) -> Figure:
    """Per-column histograms of real and synthetic values, overlaid, as small multiples.

    Parameters
    ----------
    real : array-like of shape (n_real, n_columns)
    synthetic : array-like of shape (n_synthetic, n_columns)
    names : sequence of str, optional
        Column names for the panel titles; ``x0, x1, …`` when not given.
    integer : array-like of bool of shape (n_columns,), optional
        Integer-valued columns get one bin per whole number when their range is small.
    notes : sequence of str, optional
        A short note per column shown under its name (for instance its KS statistic).
    ncols : int, default=4
        Panels per row.
    bins : int, default=30
        Bins per panel for continuous columns; both data sets share the edges.

    Returns
    -------
    fig : Figure
        One axes per column (densities, so different numbers of rows compare), real as
        filled blue bars, synthetic as an orange outline; unused cells are switched off.
    """
    R, S, labels = _pair(real, synthetic, names)
    d = R.shape[1]
    flags = np.zeros(d, dtype=bool) if integer is None else np.asarray(integer, dtype=bool)
    if ncols < 1:
        raise ValueError(f"ncols must be positive, got {ncols!r}")
    ncols = min(ncols, d)
    nrows = math.ceil(d / ncols)
    fig = _new_figure((2.6 * ncols, 2.0 * nrows + 0.45))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= d:
            ax.set_axis_off()
            continue
        _overlaid_histograms(ax, R[:, j], S[:, j], _bins(R[:, j], S[:, j], bool(flags[j]), bins))
        title = labels[j] if notes is None else f"{labels[j]}\n{notes[j]}"
        ax.set_title(title, fontsize="medium", loc="left")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        _plain_axes(ax)
    fig.legend(handles=_legend_handles(), loc="upper right", ncols=2, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (2.0 * nrows + 0.45)))
    return fig


def pair_figure(
    real: ArrayLike,
    synthetic: ArrayLike,
    *,
    names: Any = None,
    integer: ArrayLike | None = None,
    max_points: int = 800,
    random_state: int = 0,
    bins: int = 30,
) -> Figure:
    """A corner scatter matrix of real and synthetic rows, histograms on the diagonal.

    Parameters
    ----------
    real : array-like of shape (n_real, n_columns)
    synthetic : array-like of shape (n_synthetic, n_columns)
        A handful of columns: the matrix has ``n_columns * (n_columns + 1) / 2`` panels.
    names : sequence of str, optional
    integer : array-like of bool of shape (n_columns,), optional
        As in :func:`marginals_figure`, for the diagonal.
    max_points : int, default=800
        At most this many rows of each set are drawn (a random subset), so that neither
        colour buries the other and the image stays small.
    random_state : int, default=0
        Seeds the subset.
    bins : int, default=30

    Returns
    -------
    fig : Figure
        The ``n_columns * (n_columns + 1) / 2`` axes of the lower triangle, row by row; column ``j``
        panels share the x range of column ``j``, row ``i`` scatter panels the y range of
        column ``i``. Real points are drawn first, synthetic ones over them, both translucent.
    """
    R, S, labels = _pair(real, synthetic, names)
    d = R.shape[1]
    flags = np.zeros(d, dtype=bool) if integer is None else np.asarray(integer, dtype=bool)
    rng = np.random.default_rng(random_state)
    if len(R) > max_points:
        R = R[rng.choice(len(R), max_points, replace=False)]
    if len(S) > max_points:
        S = S[rng.choice(len(S), max_points, replace=False)]
    both = np.concatenate([R, S])
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = np.where(hi > lo, 0.04 * (hi - lo), 0.5)
    limits = np.stack([lo - pad, hi + pad], axis=1)
    side = min(2.1 * d, 8.5)
    fig = _new_figure((side, side))
    grid = fig.add_gridspec(d, d)
    points: dict[str, Any] = dict(s=6, linewidths=0, rasterized=True)
    for i in range(d):
        for j in range(i + 1):  # the lower triangle: the upper one would repeat it
            ax = fig.add_subplot(grid[i, j])
            _plain_axes(ax)
            if i == j:
                _overlaid_histograms(ax, R[:, j], S[:, j],
                                     _bins(R[:, j], S[:, j], bool(flags[j]), bins))
                ax.set_yticks([])
                ax.spines["left"].set_visible(False)
                ax.set_title(labels[j], fontsize="medium", loc="left")
            else:
                ax.scatter(R[:, j], R[:, i], color=REAL_COLOR, alpha=0.35, **points)
                ax.scatter(S[:, j], S[:, i], color=SYNTHETIC_COLOR, alpha=0.35, **points)
                ax.set_ylim(*limits[i])
            ax.set_xlim(*limits[j])
            if i < d - 1:
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(labels[j])
            if j > 0:
                ax.tick_params(labelleft=False)
            elif i > 0:
                ax.set_ylabel(labels[i])
    handles = [Line2D([], [], linestyle="none", marker="o", color=REAL_COLOR, label="real"),
               Line2D([], [], linestyle="none", marker="o", color=SYNTHETIC_COLOR,
                      label="synthetic")]
    fig.legend(handles=handles, loc="upper right", frameon=False, fontsize="medium")
    fig.tight_layout()
    return fig


