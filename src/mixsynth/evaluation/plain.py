"""What the quality reports share: JSON-ready values and their export, short numbers,
scikit-learn seeds."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import Any

import numpy as np

__all__ = ["JSONReport", "format_value", "int_seed", "plain"]


def plain(value: Any) -> Any:
    """Turn numpy scalars, tuples and non-finite floats into what :func:`json.dumps` takes
    (NaN and ±inf become ``None``; dictionary keys become strings)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def format_value(value: float) -> str:
    """A metric for a summary table: four significant digits."""
    return f"{value:.4g}"


def int_seed(seed: np.random.SeedSequence) -> int:
    """An int for scikit-learn's ``random_state``, which takes no SeedSequence."""
    return int(seed.generate_state(1)[0])


class JSONReport:
    """A frozen dataclass of metrics exported as JSON (mixed into both quality reports)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary: plain floats, ints, str and lists; NaN and ±inf → ``None``."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def to_json(self, **kwargs: Any) -> str:
        """The report as strict JSON (no ``NaN``); ``kwargs`` go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)
