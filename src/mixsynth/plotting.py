"""Figures for people: grids of images and model-selection curves.

Only matplotlib's object API is used (:class:`~matplotlib.figure.Figure` on an Agg canvas):
no ``pyplot``, no global state, no GUI backend, so figures can be made from any thread, in a
server or in a test, and are freed when the last reference goes.

The figures are drawn in :mod:`mixsynth.figures`, one module per kind; this module is their one
public import path.
"""

from mixsynth.figures.canvas import REAL_COLOR, SYNTHETIC_COLOR, save_figure
from mixsynth.figures.comparison import marginals_figure, pair_figure
from mixsynth.figures.images import digit_grid, image_moments_figure, image_mosaic, tile_images
from mixsynth.figures.selection import criterion_curve, selection_figure

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

