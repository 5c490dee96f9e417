"""The figures, one module per kind; :mod:`mixsynth.plotting` is their public face.

:mod:`~mixsynth.figures.canvas` (a figure on an Agg canvas, the two colours, saving),
:mod:`~mixsynth.figures.images` (grids of images and their pixel moments),
:mod:`~mixsynth.figures.selection` (model-selection curves) and
:mod:`~mixsynth.figures.comparison` (real against generated rows: marginals, scatter matrix).
"""
