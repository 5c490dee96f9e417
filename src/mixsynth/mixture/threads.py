"""BLAS/OpenMP threads of a fit: a kept controller, limits, and the E-step told its count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController

from mixsynth.core import pruning


@cache
def _controller() -> ThreadpoolController:
    """One thread-pool controller per process: ``threadpool_limits`` scans the loaded libraries
    at every call (~1.3 ms here), a kept controller switches in ~15 us. Made at the first fit,
    after numpy, scipy and scikit-learn (whose OpenMP runtime k-means uses) are loaded."""
    return ThreadpoolController()


def blas_threads(limit: int | None) -> AbstractContextManager[Any]:
    """At most ``limit`` BLAS/OpenMP threads within the block (``None``: no change, no cost)."""
    if limit is None:
        return nullcontext()
    return _controller().limit(limits=limit)


def _blas_threads_now() -> int:
    """The BLAS threads a product would use now (the largest over the loaded BLAS libraries)."""
    info = _controller().select(user_api="blas").info()
    return max((int(lib["num_threads"]) for lib in info), default=1)


@contextmanager
def _pass_threads(limit: int | None) -> Iterator[None]:
    """At most ``limit`` BLAS threads, and the E-step told how many it has (its choice of
    pass depends on it: :func:`mixsynth.core.pruning.pruning_may_pay`) and how to hold BLAS
    to one thread for its pruned pass."""
    with blas_threads(limit):
        threads = pruning.BLAS_THREADS.set(limit if limit is not None else _blas_threads_now())
        one = pruning.ONE_THREAD.set(_one_blas_thread)
        try:
            yield
        finally:
            pruning.ONE_THREAD.reset(one)
            pruning.BLAS_THREADS.reset(threads)


def _one_blas_thread() -> AbstractContextManager[Any]:
    return blas_threads(1)
