"""Reference paths for tests and benchmarks; not library API.

- :func:`suffstats_reference`: the textbook statistics (every pair, exact centred forms, no
  pruning) that the fast passes are tested against;
- :func:`dense_only`: run full covariance as its dense flop count says, to benchmark the dense
  kernels (``benchmarks/measurements.py``, the "pruning off" row) and to test that the
  statistics do not depend on the path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

from mixsynth.core.families import Family
from mixsynth.core.params import Params
from mixsynth.core.pruning import PRUNING
from mixsynth.core.stats import Stats

__all__ = ["dense_only", "suffstats_reference"]

Array = NDArray[np.float64]


def suffstats_reference(
    X: Array, params: Params, sample_weight: Array | None = None
) -> Stats:
    """The textbook statistics: :meth:`Family.statistics`'s default (every pair through the
    family's log-density, then its ``accumulate`` with exact centred forms), whatever faster
    pass the family overrides it with."""
    return Family.statistics(params.family, X, params, sample_weight)


@contextmanager
def dense_only() -> Iterator[None]:
    """Within the block, full covariance runs the dense formulation: no pruned pass, and the
    M-step's packed GEMM even for sparse responsibilities (components the accuracy guard
    rejects excepted). The statistics are the same to rounding.

    It sets :data:`mixsynth.core.pruning.PRUNING`, a context variable: threads started inside
    the block do not see it.
    """
    token = PRUNING.set(False)
    try:
        yield
    finally:
        PRUNING.reset(token)
