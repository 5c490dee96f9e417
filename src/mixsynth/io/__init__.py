"""Reading and writing files: every output goes through the one atomic writer."""

from mixsynth.io.atomic import (
    OutputError,
    OutputExistsError,
    atomic_write,
    atomic_write_bytes,
    ensure_can_write,
    ensure_output_dir,
)

__all__ = [
    "OutputError",
    "OutputExistsError",
    "atomic_write",
    "atomic_write_bytes",
    "ensure_can_write",
    "ensure_output_dir",
]
