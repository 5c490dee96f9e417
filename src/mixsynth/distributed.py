"""Dask clusters: candidate sweeps as cluster tasks, sampling at scale.

Everything here needs the optional extra (``pip install 'mixsynth[dask]'``) and is imported only
when dask input is given or a cluster is asked for.

- :func:`cluster`: the context manager behind ``--workers N`` / ``--scheduler-address``; it
  closes what it opened, Ctrl-C included.
- the candidates of a selection sweep run on the cluster through
  :class:`mixsynth.selection.ClusterRunner` whenever a client is current;
- :func:`sample_dask`: a dask array of generated rows, chunk ``i`` seeded exactly as chunk ``i``
  of :meth:`Synthesizer.iter_sample <mixsynth.Synthesizer.iter_sample>`.

Sources of dask data (:class:`~mixsynth.sources.DaskSource`) live in :mod:`mixsynth.sources`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.seeding import SeedLike, spawn_seeds
from mixsynth.sources.dask import _import, current_client

__all__ = ["cluster", "current_client", "sample_dask"]

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- clusters


@contextlib.contextmanager
def cluster(
    workers: int | None = None,
    scheduler_address: str | None = None,
    *,
    set_as_default: bool = True,
) -> Iterator[Any]:
    """A dask cluster for the duration of a ``with`` block; closed on exit, Ctrl-C included.

    Parameters
    ----------
    workers : int, optional
        Start a ``LocalCluster`` of this many worker processes, one thread each, on the loopback
        interface (127.0.0.1) with no dashboard.
    scheduler_address : str, optional
        Connect to a running scheduler instead (``tcp://host:8786``); only the connection is
        closed on exit, never the cluster.
    set_as_default : bool, default=True
        Make the client the default for the block (what fits pick up). ``False`` leaves it to
        ``client.as_current()``.

    Yields
    ------
    client : distributed.Client or None
        ``None`` when neither ``workers`` nor ``scheduler_address`` is given (fits then run
        in-process, or on dask's threads for dask input).
    """
    if workers is not None and scheduler_address is not None:
        raise ValueError("Give either workers or scheduler_address, not both.")
    if workers is None and scheduler_address is None:
        yield None
        return
    distributed = _import("distributed")
    with contextlib.ExitStack() as stack:
        if scheduler_address is not None:
            client = distributed.Client(scheduler_address, set_as_default=set_as_default)
            stack.callback(client.close)
        else:
            assert workers is not None
            if workers < 1:
                raise ValueError(f"workers must be >= 1, got {workers}.")
            local = distributed.LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
                # no dashboard, but the scheduler still serves /health and /metrics: on a free
                # loopback port, not 8787, so two clusters (two runs) never fight over it
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
            stack.callback(local.close)
            client = distributed.Client(local, set_as_default=set_as_default)
            stack.callback(client.close)
        yield client


# --------------------------------------------------------------------------- sampling


def _sample_block(synthesizer: Any, rows: int, seed: np.random.SeedSequence) -> Array:
    return np.asarray(synthesizer.sample(rows, seed), dtype=np.float64)


def sample_dask(
    synthesizer: Any,
    n: int,
    *,
    chunk_size: int = 65_536,
    random_state: SeedLike = None,
) -> Any:
    """Generated rows as a lazy dask array of ``n`` rows in chunks of ``chunk_size``.

    Chunk ``i`` is drawn with the ``i``-th child seed of ``random_state``, exactly as chunk ``i``
    of :meth:`Synthesizer.iter_sample <mixsynth.Synthesizer.iter_sample>`: the array equals
    ``np.concatenate(list(synthesizer.iter_sample(n, random_state, chunk_size=chunk_size)))``
    and any chunk can be recomputed alone, on any worker.

    Parameters
    ----------
    synthesizer : Synthesizer
        Fitted, unconditional (not fitted with ``y``).
    n : int
    chunk_size : int, default=65536
    random_state : None, int or SeedSequence

    Returns
    -------
    dask.array.Array of shape (n, n_features), float64
    """
    da = _import("dask.array")
    from dask import delayed

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}.")
    if getattr(synthesizer, "classes_", None) is not None:
        raise ValueError(
            "sample_dask draws from unconditional synthesizers; for one fitted with y, use "
            "iter_sample(n, y=...)."
        )
    d = int(synthesizer.n_features_in_)
    n_chunks = max(1, -(-int(n) // chunk_size))
    seeds = spawn_seeds(random_state, n_chunks)
    model = delayed(synthesizer, traverse=False)  # one key: shipped once to each worker
    blocks = []
    for i, seed in enumerate(seeds):
        rows = max(0, min(chunk_size, int(n) - i * chunk_size))
        part = delayed(_sample_block, pure=True)(model, rows, seed)
        blocks.append(da.from_delayed(part, shape=(rows, d), dtype=np.float64))
    return da.concatenate(blocks, axis=0)

