"""Figures for people: grids of images and model-selection curves.

Only matplotlib's object API is used (:class:`~matplotlib.figure.Figure` on an Agg canvas):
no ``pyplot``, no global state, no GUI backend, so figures can be made from any thread, in a
server or in a test, and are freed when the last reference goes.
"""

from __future__ import annotations

import io
import math
import os
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from mixsynth.io.atomic import atomic_write_bytes, ensure_can_write

if TYPE_CHECKING:
    from mixsynth.selection import Candidate, SelectionResult

__all__ = ["criterion_curve", "digit_grid", "save_figure", "selection_figure"]

_CRITERION_LABELS = {
    "heldout": "held-out log-likelihood per row (higher is better)",
    "aic": "AIC (lower is better)",
    "bic": "BIC (lower is better)",
}


def _new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)  # attaches itself to fig; no pyplot figure manager involved
    return fig


def digit_grid(
    images: ArrayLike,
    *,
    shape: tuple[int, int] = (10, 10),
    image_shape: tuple[int, int] = (8, 8),
    vmin: float = 0,
    vmax: float = 16,
    cmap: str | Colormap = "binary",
    title: str | None = None,
) -> Figure:
    """Show images as a grid of small tiles without ticks, like the digits of the textbook.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width) or (n_images, height, width)
        The images, one per row. The first ``rows * cols`` are shown; when there are fewer,
        the remaining tiles are left blank.
    shape : (int, int), default=(10, 10)
        Rows and columns of the grid.
    image_shape : (int, int), default=(8, 8)
        Height and width of each image.
    vmin, vmax : float, default=0, 16
        The colour limits shared by every tile (the pixel range of scikit-learn's digits), so
        that the same value has the same shade in every tile.
    cmap : str or Colormap, default="binary"
        Colour map; "binary" draws dark ink on white.
    title : str, optional
        A title above the grid.

    Returns
    -------
    fig : Figure
        One axes per tile, ``rows * cols`` in all, in row-major order.

    Raises
    ------
    ValueError
        If the grid shape is not positive or the images do not have ``image_shape``.
    """
    rows, cols = (int(n) for n in shape)
    height, width = (int(n) for n in image_shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be two positive integers, got {shape!r}")
    if height < 1 or width < 1:
        raise ValueError(f"image_shape must be two positive integers, got {image_shape!r}")
    data = np.asarray(images)
    if data.ndim == 3 and data.shape[1:] == (height, width):
        data = data.reshape(len(data), height * width)
    if data.ndim != 2 or data.shape[1] != height * width:
        raise ValueError(
            f"images must have shape (n_images, {height * width}) or (n_images, {height}, "
            f"{width}) for image_shape={image_shape!r}, got {data.shape}"
        )
    if np.iscomplexobj(data):
        raise ValueError("images must be real numbers, got complex values")
    data = data.astype(np.float64, copy=False)

    # 0.8 inch per tile: 8 x 8 inches for the textbook's 10 x 10 grid.
    title_room = 0.4 if title else 0.0
    fig = _new_figure((0.8 * cols, 0.8 * rows + title_room))
    axes = fig.subplots(rows, cols, squeeze=False, subplot_kw={"xticks": [], "yticks": []})
    top = 1.0 - title_room / (0.8 * rows + title_room) if title else 0.98
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=top, hspace=0.05, wspace=0.05)
    for i, ax in enumerate(axes.flat):
        if i >= len(data):
            ax.set_axis_off()
            continue
        ax.imshow(data[i].reshape(height, width), cmap=cmap, vmin=vmin, vmax=vmax,
                  interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


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


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    dpi: float = 100,
) -> Path:
    """Render ``fig`` as PNG and write it atomically.

    The image is rendered in memory first, so an error while drawing never touches the file.

    Parameters
    ----------
    fig : Figure
        The figure.
    path : path-like
        The PNG file to write; its folder must exist.
    overwrite : bool, default=False
        Whether an existing file may be replaced.
    dpi : float, default=100
        Pixels per inch: an 8 x 8 inch figure gives an 800 x 800 image.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false (checked before rendering).
    OutputError
        If the file cannot be written.
    """
    if not (math.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    path = ensure_can_write(path, overwrite=overwrite)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getbuffer(), overwrite=overwrite)
