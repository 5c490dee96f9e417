"""Reading and writing files: every output goes through the one atomic writer.

* :mod:`~mixsynth.io.atomic`: the atomic writer and the output errors;
* :mod:`~mixsynth.io.table`: :class:`Table`, what the readers return;
* :mod:`~mixsynth.io.readers`: :func:`read_data` (CSV, TSV, Parquet, ``.npy``, image folders);
* :mod:`~mixsynth.io.images`: image folders in and out;
* :mod:`~mixsynth.io.writers`: :func:`write_data` and the streaming :func:`write_chunks`.

The readers and writers need numpy and pyarrow; they are imported on first use (PEP 562) so that
importing the atomic writer, as the command line does at start, stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mixsynth.io.atomic import (
    OutputError,
    OutputExistsError,
    atomic_write,
    atomic_write_bytes,
    ensure_can_write,
    ensure_output_dir,
)

if TYPE_CHECKING:
    from mixsynth.io.images import ImageFolderWriter, read_image_folder
    from mixsynth.io.readers import read_data
    from mixsynth.io.table import Table, data_format
    from mixsynth.io.writers import (
        BinaryToTerminalError,
        check_stdout,
        output_format,
        write_chunks,
        write_data,
    )

__all__ = [
    "BinaryToTerminalError",
    "ImageFolderWriter",
    "OutputError",
    "OutputExistsError",
    "Table",
    "atomic_write",
    "atomic_write_bytes",
    "check_stdout",
    "data_format",
    "ensure_can_write",
    "ensure_output_dir",
    "output_format",
    "read_data",
    "read_image_folder",
    "write_chunks",
    "write_data",
]

_LAZY = {
    "Table": "mixsynth.io.table",
    "data_format": "mixsynth.io.table",
    "read_data": "mixsynth.io.readers",
    "ImageFolderWriter": "mixsynth.io.images",
    "read_image_folder": "mixsynth.io.images",
    "BinaryToTerminalError": "mixsynth.io.writers",
    "check_stdout": "mixsynth.io.writers",
    "output_format": "mixsynth.io.writers",
    "write_chunks": "mixsynth.io.writers",
    "write_data": "mixsynth.io.writers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mixsynth.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
