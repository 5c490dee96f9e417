"""Model files: a fitted :class:`Synthesizer` or :class:`GaussianMixture` in one safetensors file.

The public entry point. The format (file layout, checksum, the checks of a file) is
:mod:`mixsynth.modelfile`, in the foundation layer; how each class is stored is a table kept
next to the class, registered when its module is imported. This module imports
:mod:`mixsynth.synthesizer`, which imports every model class, so that every table is known to
:func:`load`, and delegates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mixsynth import modelfile
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.modelfile import (
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    ModelFileError,
    read_metadata,
)
from mixsynth.synthesizer import Synthesizer  # registers every table through its imports

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_HEADER_BYTES", "ModelFileError", "load",
           "read_metadata", "save"]

Model = Synthesizer | GaussianMixture


def save(
    model: Model,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a fitted model to ``path`` as one safetensors file.

    The file (layout: :mod:`mixsynth.modelfile`) is checked as :func:`load` would check it
    before it is written, atomically: a model that could not be loaded back is never written.

    Parameters
    ----------
    model : Synthesizer or GaussianMixture
        Fitted; class-conditional synthesizers included.
    path : path-like
    overwrite : bool, default=False
        Whether an existing file may be replaced.
    extra : mapping, optional
        JSON-serialisable facts stored beside the model under ``"extra"`` (the command line
        keeps the data source's format and image shape there); :func:`read_metadata` returns
        them.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    NotFittedError
        If the model is not fitted.
    TypeError
        If ``model`` is neither a Synthesizer nor a GaussianMixture.
    ValueError
        If something cannot be stored (class or column labels other than str, int, float or
        bool, a parameter value that is not JSON-like) or the fitted state is invalid.
    """
    modelfile.save(model, path, overwrite=overwrite, extra=extra)


def load(path: str | os.PathLike[str]) -> Model:
    """Read a model written by :func:`save`, checking everything before use.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    model : Synthesizer or GaussianMixture
        Gives the same :meth:`sample` rows (for the same seed) and :meth:`score_samples` as
        the model that was saved.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not a mixsynth model (truncated, another format, a pickle), has a newer
        ``format_version``, fails its checksum, or holds a tensor or attribute that is missing,
        of the wrong dtype or shape, non-finite, or breaks an invariant (weights summing to 1,
        triangular Cholesky factors with a positive diagonal, positive scales and variances).
    """
    model: Model = modelfile.load_file(path)
    return model
