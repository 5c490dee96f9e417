"""What the numbers were measured on: machine, versions, BLAS."""

from __future__ import annotations

import datetime as dt
import os
import platform
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Environment", "blas_info", "cpu_model", "describe_environment", "total_ram_gib"]


@dataclass(frozen=True)
class Environment:
    """The machine and software of a benchmark run."""

    date: str
    cpu_model: str
    cpu_count: int
    cpus_usable: int
    ram_gib: float
    load_average: tuple[float, float, float]
    python: str
    versions: dict[str, str]
    blas: tuple[dict[str, Any], ...]
    openblas_coretype: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_model() -> str:
    """``model name`` of the first CPU in ``/proc/cpuinfo``, else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def total_ram_gib() -> float:
    """``MemTotal`` of ``/proc/meminfo`` in GiB (nan when unavailable)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def blas_info() -> tuple[dict[str, Any], ...]:
    """The thread pools threadpoolctl sees (BLAS and OpenMP), with the fields that matter."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "num_threads", "architecture",
            "threading_layer", "filepath")  # fmt: skip
    pools = []
    for pool in threadpool_info():
        entry = {k: pool.get(k) for k in keys}
        entry["filepath"] = os.path.basename(str(entry["filepath"]))
        pools.append(entry)
    return tuple(pools)


def _versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn
    import threadpoolctl

    import mixsynth

    return {
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "mixsynth": mixsynth.__version__,
        "threadpoolctl": threadpoolctl.__version__,
    }


def describe_environment() -> Environment:
    """Describe this machine and these libraries, now."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Environment(
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 0,
        cpus_usable=usable or 0,
        ram_gib=total_ram_gib(),
        load_average=os.getloadavg(),
        python=platform.python_version(),
        versions=_versions(),
        blas=blas_info(),
        openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"),
    )
