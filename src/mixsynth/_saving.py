"""The ``save`` method shared by the fitted models (a mixin: persistence imports the models)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

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
        from mixsynth.persistence import save  # persistence imports the model modules

        save(self, path, overwrite=overwrite, extra=extra)  # type: ignore[arg-type]
