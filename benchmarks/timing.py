"""Timed fits through the public API of both libraries, and the statistics of noisy timings.

Timings on shared machines are noisy: every figure the benchmarks report is a median, and the
two libraries are timed alternately (``alternating``) so that a slow spell hits both.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LIBRARIES",
    "alternating",
    "estimator_class",
    "median",
    "quiet_convergence",
    "ratio",
    "relative_difference",
    "timed",
    "timed_fit",
]

#: The two libraries compared, in table order.
LIBRARIES: tuple[str, str] = ("sklearn", "mixsynth")


def estimator_class(library: str) -> type:
    """``GaussianMixture`` of ``library`` ("sklearn" or "mixsynth")."""
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture as SklearnGM

        return SklearnGM
    if library == "mixsynth":
        from mixsynth import GaussianMixture as MixsynthGM

        return MixsynthGM
    raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")


@contextlib.contextmanager
def quiet_convergence() -> Iterator[None]:
    """Silence ``ConvergenceWarning``: ``tol=0`` fits stop at ``max_iter`` on purpose."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()``, with the cyclic garbage collector paused, and its result."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()
    return seconds, out


def timed_fit(library: str, X: NDArray[np.float64], **params: Any) -> tuple[float, Any]:
    """Seconds to construct and fit ``library``'s ``GaussianMixture(**params)`` on ``X``, and the
    fitted estimator."""
    cls = estimator_class(library)
    with quiet_convergence():
        return timed(lambda: cls(**params).fit(X))


def alternating(repeat: int) -> tuple[str, str]:
    """Library order for repeat number ``repeat``: swapped every other repeat."""
    return LIBRARIES if repeat % 2 == 0 else (LIBRARIES[1], LIBRARIES[0])


def median(values: Sequence[float]) -> float:
    """Median of ``values`` (nan when empty)."""
    return float(statistics.median(values)) if values else math.nan


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, nan when either is not a positive finite number (a timing
    difference drowned in noise can come out negative)."""
    if not (numerator > 0 and denominator > 0 and math.isfinite(numerator + denominator)):
        return math.nan
    return numerator / denominator


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``, 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale
