"""What the quality reports share: JSON-ready values, short numbers, scikit-learn seeds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_value", "int_seed", "plain"]


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
