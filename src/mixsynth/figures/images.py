"""Grids of images (digits, mosaics, contact sheets) and their pixel moments."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from mixsynth.figures.canvas import _new_figure
from mixsynth.figures.comparison import _pair

#: Canvas pixels per image pixel, and between tiles, in :func:`digit_grid`.
_DIGIT_ZOOM, _DIGIT_GAP = 4, 3
#: The background of image grids: white ink-free tiles stand out on it.
_FRAME_GREY = (0.82, 0.84, 0.87, 1.0)


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

