"""Reading data into a :class:`~mixsynth.io.table.Table`: CSV / TSV, Parquet, ``.npy``, images.

:func:`read_data` picks the reader from the path: ``.csv`` / ``.txt`` (comma), ``.tsv`` /
``.tab`` (tab), ``.parquet`` / ``.pq``, ``.npy``, a folder (images, :mod:`mixsynth.io.images`),
and ``-`` for CSV on standard input. Whatever the format, the result is checked the same way:

* only numeric columns (integers, floats, booleans) are features; any other column (strings,
  dates, nested values) is an error that lists them all, unless the selection (``columns=``)
  leaves it out — a column is never dropped silently;
* missing values (empty CSV fields, ``NA``, Parquet nulls) become NaN, and CSV texts such as
  ``inf``, ``-inf``, ``NaN`` or ``1e400`` (which overflows to inf) are parsed as floats: the one
  input validator (:func:`mixsynth.validation.check_finite`) then rejects any of them naming
  the column and the first row;
* no rows, or no columns, is an error with scikit-learn's wording.

CSV / TSV, Parquet and ``.npy`` files are parsed by :mod:`mixsynth.io.formats`, the parser the
out-of-core file sources of :mod:`mixsynth.sources` use too: a file gives the same columns and
the same errors whether it is read here or streamed. A row with more or fewer fields than the
header is an error naming its line, and so is a text in a numeric column; a UTF-8 byte order
mark is skipped. The delimiter is a comma (a tab for ``.tsv``) unless ``delimiter=`` says
otherwise: a header that reads as one column holding ``;``, a tab or ``|`` is reported with a
hint rather than read as one text column. ``.npy`` files are read without unpickling (an object
array is refused), and a native float64 array is used in place, memory-mapped, without a copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from mixsynth._testhooks import pause_point
from mixsynth.io.formats import TableFile, _NpyFile, open_table
from mixsynth.io.frames import read_parquet_frame
from mixsynth.io.table import Table, check_shape, data_format
from mixsynth.validation import ROWS, check_finite, unreturnable_integers

__all__ = ["read_data", "read_parquet_frame"]  # the latter from mixsynth.io.frames

#: Rows per block when reading a table into memory.
BATCH_ROWS = 65_536

PathLike = str | os.PathLike[str]


def read_data(
    path: PathLike,
    *,
    columns: Sequence[str] | None = None,
    label: str | None = None,
    delimiter: str | None = None,
    skip_bad: bool = False,
    image_size: tuple[int, int] | None = None,
    image_mode: str = "L",
    min_samples: int = 1,
    allow_nan: bool = False,
) -> Table:
    """Read a data set as a numeric table.

    Parameters
    ----------
    path : path-like or "-"
        ``.csv``, ``.txt``, ``.tsv``, ``.tab``, ``.parquet``, ``.pq``, ``.npy``, a folder of
        images, or ``"-"`` for CSV on standard input.
    columns : sequence of str, optional
        The feature columns, in this order; all columns (but ``label``) when not given. ``.npy``
        columns are called ``x0, x1, …``.
    label : str, optional
        A column to keep apart as class labels (any type; no missing values).
    delimiter : str, optional
        CSV field separator; a comma (a tab for ``.tsv`` / ``.tab``) when not given.
    skip_bad, image_size, image_mode
        Image folders only: see :func:`mixsynth.io.images.read_image_folder`.
    min_samples : int, default=1
        Fewer rows is an error.
    allow_nan : bool, default=False
        Missing values (NaN) pass, for a model of the gaps (the mixed model of
        :mod:`mixsynth.table_model`); ±inf is still an error.

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist, or an image folder holds no images.
    ValueError
        Unknown suffix, unreadable or ragged file, non-numeric columns, NaN or inf, no rows
        or no columns (messages name the file, the column and the line or row).
    """
    if path == "-":
        return _read_stdin(columns=columns, label=label, delimiter=delimiter,
                           min_samples=min_samples, allow_nan=allow_nan)
    source = os.fspath(path)
    fmt = data_format(source)
    if fmt != "images" and (skip_bad or image_size is not None):
        raise ValueError("skip_bad and image_size apply to image folders only.")
    if fmt == "images":
        from mixsynth.io.images import read_image_folder

        if columns is not None or label is not None:
            raise ValueError(f"{source} is a folder of images: columns and label do not apply.")
        table = read_image_folder(source, mode=image_mode, image_size=image_size,
                                  skip_bad=skip_bad)
    else:
        table = _read_table(open_table(source, fmt=fmt, columns=columns, label=label,
                                       delimiter=delimiter))
    return _checked(table, min_samples, allow_nan)


def _checked(table: Table, min_samples: int, allow_nan: bool = False) -> Table:
    check_shape(table.n_samples, table.n_features, table.source, min_samples=min_samples)
    check_finite(table.values, name=table.source, feature_names=table.columns,
                 allow_nan=allow_nan)
    return table


def _read_stdin(*, columns: Sequence[str] | None, label: str | None, delimiter: str | None,
                min_samples: int, allow_nan: bool = False) -> Table:
    """CSV on standard input, spooled to a temporary file (the reader reads it twice)."""
    with _spooled(sys.stdin.buffer) as spool:
        table = _read_table(open_table(spool, fmt="csv", columns=columns, label=label,
                                       delimiter=delimiter or ",", source="<stdin>"))
    return _checked(table, min_samples, allow_nan)


@contextlib.contextmanager
def _spooled(stream: BinaryIO) -> Iterator[Path]:
    """A path holding what ``stream`` holds, for as long as the ``with`` block runs.

    The spool holds the user's data, so it must not outlive the process, even one killed with
    SIGKILL (nothing runs then): on Linux it is an *unnamed* temporary file (``O_TMPFILE``, or
    created and unlinked at once), read back through its ``/proc/self/fd`` link, which the
    kernel frees with the process. Elsewhere a named temporary folder, removed on the way out
    (SIGINT and SIGTERM included; not at SIGKILL).
    """
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        with tempfile.TemporaryFile(prefix="mixsynth-stdin-") as f:
            shutil.copyfileobj(stream, f)
            f.flush()
            pause_point("stdin-spooled")
            yield fds / str(f.fileno())
        return
    with tempfile.TemporaryDirectory(prefix="mixsynth-stdin-") as folder:
        spool = Path(folder) / "stdin.csv"
        with open(spool, "wb") as f:
            shutil.copyfileobj(stream, f)
        pause_point("stdin-spooled")
        yield spool


# ------------------------------------------------------------------------------- tables


def _read_table(table: TableFile) -> Table:
    """Every row of an opened file, as one float64 array (the memory map itself for a native
    float64 ``.npy`` file: no copy of a large file)."""
    if isinstance(table, _NpyFile) and table.maps_in_place:
        values: NDArray[np.float64] = table.memmap()
        label_blocks: list[NDArray[Any]] = []
    elif table.n_rows is not None:  # filled in place: no second copy to concatenate
        values = np.empty((table.n_rows, table.n_features))
        label_blocks = []
        row = 0
        for X, labels in table.blocks(BATCH_ROWS):
            values[row : row + len(X)] = X
            row += len(X)
            if labels is not None:
                label_blocks.append(labels)
    else:
        blocks: list[NDArray[np.float64]] = []
        label_blocks = []
        for X, labels in table.blocks(BATCH_ROWS):
            blocks.append(X)
            if labels is not None:
                label_blocks.append(labels)
        values = np.concatenate(blocks) if blocks else np.empty((0, table.n_features))

    def is_whole(j: int) -> bool:
        column = values[:, j]
        finite = column[np.isfinite(column)]
        return bool(np.all(finite == np.round(finite)))

    labels = None
    if table.label is not None:
        raw = np.concatenate(label_blocks) if label_blocks else np.empty(0, dtype=object)
        labels = _labels(raw, table.label, table.source, integer=table.label_is_integer)
    dtypes = table.dtype_names(is_whole)
    _check_integer_range(values, dtypes, table)
    return Table(values, table.columns, dtypes, labels=labels, label=table.label,
                 source=table.source)


def _check_integer_range(values: NDArray[np.float64], dtypes: Sequence[str],
                         table: TableFile) -> None:
    """Refuse an integer column whose float64 values fall outside its dtype.

    Values are modelled (and held here) as float64, and generated rows go back to the
    column's dtype. An int64 within 512 of 2**63 - 1 rounds to 2.0**63, which cast back to
    int64 wrapped round to -2**63 (with only a cast warning): refused, naming the column and
    the row. Such values are ids or sentinels, not quantities to model.
    """
    for j, name in enumerate(dtypes):
        dtype = np.dtype(name)
        column = values[:, j]
        bad = unreturnable_integers(column, dtype)
        if len(bad) == 0:
            continue
        row = int(bad[0])
        raise ValueError(
            f"{table.source}: column {table.columns[j]!r} holds {column[row]:.6g} at "
            f"{table.where(row)}, an integer too large for float64, the numbers mixsynth "
            f"models, to bring back as {dtype} (it would wrap round to "
            f"{'0' if dtype.kind == 'u' else '-2**63'}); an id or a sentinel value? Leave "
            "the column out (--columns; mixsynth.io.read_data(path, columns=...) in Python) or "
            "convert it to float first."
        )


def _labels(raw: NDArray[Any], label: str, source: str, *, integer: bool) -> NDArray[Any]:
    """Class labels: no missing value; integers when every label is one, else strings."""
    missing = np.flatnonzero([v is None or (isinstance(v, float) and v != v) for v in raw])
    if len(missing):
        raise ValueError(f"{source}: the label column {label!r} has {len(missing)} missing "
                         f"value(s), first at row {int(missing[0])} {ROWS}.")
    if raw.dtype.kind in "biuf":
        return raw
    texts = [str(v) for v in raw]
    if integer:
        with contextlib.suppress(ValueError, OverflowError):
            return np.array([int(t) for t in texts], dtype=np.int64)
    return np.array(texts, dtype=str)
