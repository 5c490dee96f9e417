"""The ``save`` method shared by the fitted models (a mixin).

It calls the format machinery, :func:`mixsynth.modelfile.save`, which finds the class's table in
its registry: each model module registers its table when imported, so nothing here (or in
``mixsynth.modelfile``) imports a model class.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mixsynth import modelfile

__all__ = ["SaveMixin"]


class SaveMixin:
    """Adds ``save(path, *, overwrite=False, extra=None)``."""

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the fitted model to one safetensors file; read it back with
        :func:`mixsynth.load`. See :func:`mixsynth.persistence.save`."""
        modelfile.save(self, path, overwrite=overwrite, extra=extra)
