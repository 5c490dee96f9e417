"""A figure on an Agg canvas (no pyplot), the colours of real and generated data, saving."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mixsynth.io.atomic import atomic_write_bytes, ensure_can_write

#: Real and synthetic data in every comparison figure: blue and orange of the Okabe–Ito
#: palette, told apart by readers with any common colour-vision deficiency.
REAL_COLOR = "#0072B2"
SYNTHETIC_COLOR = "#E69F00"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)  # attaches itself to fig; no pyplot figure manager involved
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
