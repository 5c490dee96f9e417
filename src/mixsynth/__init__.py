"""mixsynth: learn a data set's distribution with a Gaussian mixture and generate new rows.

Public names are imported lazily (PEP 562) so that ``import mixsynth.cli`` and
``mixsynth --help`` do not pay for numpy, scikit-learn and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mixsynth._version import __version__

if TYPE_CHECKING:
    from mixsynth.evaluation import QualityReport, TableQualityReport, evaluate
    from mixsynth.gaussian_mixture import GaussianMixture
    from mixsynth.persistence import ModelFileError, load, read_metadata
    from mixsynth.selection import Candidate, SelectionResult
    from mixsynth.synthesizer import MemorizationWarning, Synthesizer
    from mixsynth.whitening import Whitener

__all__ = [
    "Candidate",
    "GaussianMixture",
    "MemorizationWarning",
    "ModelFileError",
    "QualityReport",
    "SelectionResult",
    "Synthesizer",
    "TableQualityReport",
    "Whitener",
    "__version__",
    "evaluate",
    "load",
    "read_metadata",
]

_LAZY = {
    "GaussianMixture": "mixsynth.gaussian_mixture",
    "Whitener": "mixsynth.whitening",
    "Synthesizer": "mixsynth.synthesizer",
    "MemorizationWarning": "mixsynth.synthesizer",
    "SelectionResult": "mixsynth.selection",
    "Candidate": "mixsynth.selection",
    "evaluate": "mixsynth.evaluation",
    "QualityReport": "mixsynth.evaluation",
    "TableQualityReport": "mixsynth.evaluation",
    "ModelFileError": "mixsynth.persistence",
    "load": "mixsynth.persistence",
    "read_metadata": "mixsynth.persistence",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mixsynth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
