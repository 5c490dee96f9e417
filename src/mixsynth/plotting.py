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
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from mixsynth.io.atomic import atomic_write_bytes, ensure_can_write

if TYPE_CHECKING:
    from mixsynth.selection import Candidate, SelectionResult

__all__ = [
    "REAL_COLOR",
    "SYNTHETIC_COLOR",
    "criterion_curve",
    "digit_grid",
    "image_moments_figure",
    "image_mosaic",
    "marginals_figure",
    "pair_figure",
    "save_figure",
    "selection_figure",
    "tile_images",
]

#: Real and synthetic data in every comparison figure: blue and orange of the Okabe–Ito
#: palette, told apart by readers with any common colour-vision deficiency.
REAL_COLOR = "#0072B2"
SYNTHETIC_COLOR = "#E69F00"

#: Canvas pixels per image pixel, and between tiles, in :func:`digit_grid`.
_DIGIT_ZOOM, _DIGIT_GAP = 4, 3
#: The background of image grids: white ink-free tiles stand out on it.
_FRAME_GREY = (0.82, 0.84, 0.87, 1.0)

_CRITERION_LABELS = {
    "heldout": "held-out log-likelihood per row (higher is better)",
    "aic": "AIC (lower is better)",
    "bic": "BIC (lower is better)",
    "realism": "classifier AUC, generated vs held-out rows (lower is better)",
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

    # 0.8 inch per tile: 8 x 8 inches for the textbook's 10 x 10 grid. One image of the
    # tiled canvas (tile_images), not one axes per tile: the same look, drawn at once.
    title_room = 0.4 if title else 0.0
    fig = _new_figure((0.8 * cols, 0.8 * rows + title_room))
    top = 1.0 - title_room / (0.8 * rows + title_room) if title else 0.98
    ax = fig.add_axes((0.02, 0.02, 0.96, top - 0.02), xticks=[], yticks=[])
    ax.set_axis_off()
    canvas = tile_images(data, shape=(rows, cols), image_shape=(height, width),
                         zoom=_DIGIT_ZOOM, gap=_DIGIT_GAP, background=np.nan)
    # the background (gutters, missing tiles) light grey, as image_mosaic's frame
    colours = (colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(
        bad=_FRAME_GREY)
    ax.imshow(np.ma.masked_invalid(canvas), cmap=colours, vmin=vmin, vmax=vmax,
              interpolation="nearest", aspect="auto")
    if title:
        fig.suptitle(title)
    return fig


def tile_images(
    images: ArrayLike,
    *,
    shape: tuple[int, int],
    image_shape: tuple[int, ...],
    zoom: int = 1,
    gap: int = 0,
    background: float | tuple[float, ...] = 0.0,
) -> np.ndarray:
    """The one image-grid layout: images side by side, row by row, on a background.

    :func:`digit_grid`, :func:`image_mosaic` (the report's grids) and the contact sheet of an
    image folder output (:func:`mixsynth.io.images.contact_sheet`) all draw with it.

    Parameters
    ----------
    images : array-like of shape (n_images, prod(image_shape)) or (n_images, *image_shape)
        The first ``rows * cols`` are placed; missing tiles show the background.
    shape : (int, int)
        Rows and columns of tiles.
    image_shape : (int, int) or (int, int, int)
        Height, width and, optionally, channels of each image.
    zoom : int, default=1
        Each image pixel becomes ``zoom × zoom`` canvas pixels (nearest neighbour).
    gap : int, default=0
        Canvas pixels of background between tiles and around them.
    background : float or tuple of float, default=0.0
        The background value (one per channel for colour images); NaN for "no data".

    Returns
    -------
    canvas : ndarray of shape (H, W) or (H, W, channels)
        ``H = rows * (zoom * height + gap) + gap``, ``W = cols * (zoom * width + gap) + gap``;
        of the images' dtype (float64 when the background is NaN and the images are integers).
    """
    rows, cols = (int(n) for n in shape)
    dims = tuple(int(n) for n in image_shape)
    if rows < 1 or cols < 1 or len(dims) not in (2, 3) or min(dims) < 1 or zoom < 1 or gap < 0:
        raise ValueError("shape, image_shape and zoom must be positive and gap non-negative, "
                         f"got {shape!r}, {image_shape!r}, {zoom!r}, {gap!r}")
    data = np.asarray(images)
    if data.ndim >= 2 and math.prod(data.shape[1:]) == math.prod(dims):
        data = data.reshape(len(data), *dims)
    if data.ndim != len(dims) + 1 or data.shape[1:] != dims:
        raise ValueError(f"images must have shape (n_images, {math.prod(dims)}) or (n_images, "
                         f"{', '.join(map(str, dims))}), got {np.shape(images)}")
    height, width = dims[0] * zoom, dims[1] * zoom
    dtype = np.result_type(data.dtype, np.float64) if np.isnan(background).any() else data.dtype
    canvas = np.empty((rows * (height + gap) + gap, cols * (width + gap) + gap, *dims[2:]),
                      dtype=dtype)
    canvas[...] = background
    for i in range(min(len(data), rows * cols)):
        r, c = divmod(i, cols)
        top, left = gap + r * (height + gap), gap + c * (width + gap)
        canvas[top:top + height, left:left + width] = data[i].repeat(zoom, 0).repeat(zoom, 1)
    return canvas


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


def image_mosaic(
    images: ArrayLike,
    *,
    shape: tuple[int, int] = (10, 10),
    image_shape: tuple[int, int] = (8, 8),
    vmin: float = 0,
    vmax: float = 16,
    cmap: str | Colormap = "binary",
    zoom: int = 6,
    gap: int = 3,
) -> Figure:
    """The images of :func:`digit_grid` as one picture: tiles on a grey background.

    One axes and one ``imshow`` instead of one axes per tile, so a 10 × 10 grid is drawn in
    milliseconds rather than seconds. Each image pixel becomes ``zoom × zoom`` pixels and the
    figure is sized at 100 pixels per inch: saved at ``dpi=100`` every pixel lands exactly,
    with no resampling blur.

    Parameters
    ----------
    images : array-like of shape (n_images, height * width) or (n_images, height, width)
        The first ``rows * cols`` are shown, row by row; missing tiles are left grey.
    shape : (int, int), default=(10, 10)
        Rows and columns of tiles.
    image_shape : (int, int), default=(8, 8)
    vmin, vmax : float, default=0, 16
        Colour limits shared by every tile.
    cmap : str or Colormap, default="binary"
    zoom : int, default=6
        Screen pixels per image pixel.
    gap : int, default=3
        Pixels of background between tiles and around them.

    Returns
    -------
    fig : Figure
        One axes without frame covering the whole figure.
    """
    from matplotlib.colors import Normalize

    rows, cols = (int(n) for n in shape)
    height, width = (int(n) for n in image_shape)
    if rows < 1 or cols < 1 or height < 1 or width < 1 or zoom < 1 or gap < 0:
        raise ValueError("shape, image_shape and zoom must be positive and gap non-negative, "
                         f"got {shape!r}, {image_shape!r}, {zoom!r}, {gap!r}")
    data = np.asarray(images, dtype=np.float64)
    if data.ndim == 3:
        data = data.reshape(len(data), -1)
    if data.ndim != 2 or data.shape[1] != height * width:
        raise ValueError(f"images must have shape (n_images, {height * width}), got "
                         f"{np.shape(images)}")
    colour = colormaps[cmap] if isinstance(cmap, str) else cmap
    rgba = colour(Normalize(vmin=vmin, vmax=vmax, clip=True)(data))  # (n, h*w, 4)
    canvas = tile_images(rgba, shape=(rows, cols), image_shape=(height, width, 4), zoom=zoom,
                         gap=gap, background=_FRAME_GREY)
    fig = _new_figure((canvas.shape[1] / 100, canvas.shape[0] / 100))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.imshow(canvas, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    return fig


def image_moments_figure(
    real: ArrayLike,
    synthetic: ArrayLike,
    *,
    image_shape: tuple[int, int] = (8, 8),
    cmap: str | Colormap = "binary",
) -> Figure:
    """The mean and the standard deviation of every pixel, real beside synthetic.

    Parameters
    ----------
    real : array-like of shape (n_real, height * width)
    synthetic : array-like of shape (n_synthetic, height * width)
    image_shape : (int, int), default=(8, 8)
    cmap : str or Colormap, default="binary"

    Returns
    -------
    fig : Figure
        Four image axes (real mean, synthetic mean, real std, synthetic std) and two colour
        bars; each pair shares its colour limits, so equal shades mean equal values.
    """
    R, S, _ = _pair(real, synthetic, None)
    height, width = (int(n) for n in image_shape)
    if R.shape[1] != height * width:
        raise ValueError(f"images must have {height * width} columns for image_shape="
                         f"{image_shape!r}, got {R.shape[1]}")
    fig = _new_figure((8.0, 2.4))
    fig.set_layout_engine("constrained")  # room for the two colour bars without guessing
    axes = fig.subplots(1, 4, subplot_kw={"xticks": [], "yticks": []})
    moments = (("mean", R.mean(axis=0), S.mean(axis=0)), ("std", R.std(axis=0), S.std(axis=0)))
    for (name, r, s), pair_axes in zip(moments, (axes[:2], axes[2:]), strict=True):
        vmax = float(max(r.max(), s.max())) or 1.0
        for ax, values, who in zip(pair_axes, (r, s), ("real", "synthetic"), strict=True):
            im = ax.imshow(values.reshape(height, width), cmap=cmap, vmin=0.0, vmax=vmax,
                           interpolation="nearest")
            ax.set_title(f"{who} {name}", fontsize="medium")
        fig.colorbar(im, ax=list(pair_axes), fraction=0.05, pad=0.03)
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
