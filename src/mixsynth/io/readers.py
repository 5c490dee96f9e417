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

CSV is parsed by pyarrow's streaming reader, block by block. A row with more or fewer fields
than the header is an error naming its line, and so is a text in a numeric column; a UTF-8 byte
order mark is skipped. The delimiter is a comma (a tab for ``.tsv``) unless ``delimiter=`` says
otherwise: a header that reads as one column holding ``;``, a tab or ``|`` is reported with a
hint rather than read as one text column. Parquet is read in record batches; ``.npy`` files are
memory-mapped (``allow_pickle=False``, so an object array is refused, never unpickled), and a
native float64 array is used in place, without a copy.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.io.table import Table, check_shape, data_format, select_columns
from mixsynth.validation import check_finite

__all__ = ["read_data"]

#: Bytes per block of the streaming CSV reader (its type inference looks at the first block).
CSV_BLOCK_BYTES = 1 << 22
#: Rows per record batch when converting Parquet and ``.npy`` data.
BATCH_ROWS = 65_536
#: Characters that separate fields in files saved with another convention than the suffix's.
_OTHER_DELIMITERS = (";", "\t", "|", ",")

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
                           min_samples=min_samples)
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
    elif fmt in ("csv", "tsv"):
        sep = delimiter if delimiter is not None else ("\t" if fmt == "tsv" else ",")
        table = _read_csv(Path(source), source, sep, columns, label)
    elif fmt == "parquet":
        table = _read_parquet(source, columns, label)
    else:
        if label is not None:
            raise ValueError(f"{source} is an .npy array: it has no label column.")
        table = _read_npy(source, columns)
    return _checked(table, min_samples)


def _checked(table: Table, min_samples: int) -> Table:
    check_shape(table.n_samples, table.n_features, table.source, min_samples=min_samples)
    check_finite(table.values, name=table.source, feature_names=table.columns)
    return table


def _read_stdin(*, columns: Sequence[str] | None, label: str | None, delimiter: str | None,
                min_samples: int) -> Table:
    """CSV on standard input, spooled to a temporary file (the reader reads it twice)."""
    with tempfile.TemporaryDirectory(prefix="mixsynth-stdin-") as folder:
        spool = Path(folder) / "stdin.csv"
        with open(spool, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        table = _read_csv(spool, "<stdin>", delimiter or ",", columns, label)
    return _checked(table, min_samples)


# ------------------------------------------------------------------------------------ CSV


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(arrow_type) or pat.is_floating(arrow_type)
                or pat.is_boolean(arrow_type) or pat.is_decimal(arrow_type)
                or pat.is_null(arrow_type))


def _non_numeric_error(source: str, bad: list[tuple[str, Any]],
                       example: str = "") -> ValueError:
    listed = ", ".join(f"{name!r} ({arrow_type})" for name, arrow_type in bad)
    return ValueError(
        f"{source} has {len(bad)} non-numeric column(s): {listed}{example}. mixsynth models "
        "numbers only: select the numeric columns (--columns a,b,c) or convert these first."
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_text(path: Path, delimiter: str, names: list[str], name: str) -> str:
    """Where column ``name`` first holds a text that is not a number (for the message)."""
    k = names.index(name)
    found: list[str] = []

    def is_text(record: list[str]) -> bool:
        value = record[k].strip() if len(record) > k else ""
        if value and not _is_number(value):
            found.append(value)
            return True
        return False

    line = _find_line(path, delimiter, is_text)
    if line is None or not found:
        return ""
    return f"; {name!r} holds {found[0]!r} at line {line}"


def _dtype_name(arrow_type: Any, values: NDArray[np.float64]) -> str:
    """The dtype a column's generated values are written back in."""
    import pyarrow.types as pat

    if pat.is_boolean(arrow_type):
        return "bool"
    if pat.is_integer(arrow_type):
        finite = values[np.isfinite(values)]
        if np.all(finite == np.round(finite)):
            return str(np.dtype(arrow_type.to_pandas_dtype()))
        return "float64"
    if pat.is_floating(arrow_type) and arrow_type.bit_width == 32:
        return "float32"
    return "float64"


def _open_csv(path: Path, delimiter: str, convert: Any = None) -> Any:
    import pyarrow.csv as pacsv

    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=convert,
    )


def _read_csv(path: Path, source: str, delimiter: str, columns: Sequence[str] | None,
              label: str | None) -> Table:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if len(delimiter) != 1:
        raise ValueError(f"the delimiter must be one character, got {delimiter!r}.")
    try:
        with _open_csv(path, delimiter) as reader:
            schema = reader.schema  # types inferred from the first block
    except pa.ArrowInvalid as exc:
        raise _csv_error(exc, path, source, delimiter, []) from None
    names = list(schema.names)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{source} has repeated column names: {repeated}.")
    if len(names) == 1 and not _is_numeric(schema.field(0).type):
        others = [d for d in _OTHER_DELIMITERS if d != delimiter and d in names[0]]
        if others:
            raise ValueError(
                f"{source} reads as a single column {names[0]!r} with delimiter {delimiter!r}; "
                f"it looks {others[0]!r}-separated: pass --delimiter {others[0]!r}."
            )
    features = [names[j] for j in select_columns(names, columns, label, source)]
    types = {name: schema.field(name).type for name in names}
    bad = [(name, types[name]) for name in features if not _is_numeric(types[name])]
    if bad:
        raise _non_numeric_error(source, bad, _first_text(path, delimiter, names, bad[0][0]))

    # Numbers are read as float64 whatever the first block suggested: an integer column whose
    # later rows hold "1.5" is a float column, not an error.
    column_types: dict[str, Any] = {
        name: pa.bool_() if pa.types.is_boolean(types[name]) else pa.float64()
        for name in features
    }
    if label is not None:
        column_types[label] = pa.string()
    convert = pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True,
                                   include_columns=[*features, *([label] if label else [])])
    blocks: list[NDArray[np.float64]] = []
    label_blocks: list[NDArray[Any]] = []
    try:
        with _open_csv(path, delimiter, convert) as reader:
            for batch in reader:
                block = np.empty((batch.num_rows, len(features)))
                for j, name in enumerate(features):
                    col = pc.cast(batch.column(name), pa.float64())
                    block[:, j] = col.to_numpy(zero_copy_only=False)
                blocks.append(block)
                if label is not None:
                    label_blocks.append(batch.column(label).to_numpy(zero_copy_only=False))
    except pa.ArrowInvalid as exc:
        raise _csv_error(exc, path, source, delimiter, names) from None
    values = np.concatenate(blocks) if blocks else np.empty((0, len(features)))
    dtypes = tuple(_dtype_name(types[name], values[:, j]) for j, name in enumerate(features))
    labels = None
    if label is not None:
        raw = np.concatenate(label_blocks) if label_blocks else np.empty(0, dtype=object)
        labels = _labels(raw, label, source, integer=pa.types.is_integer(types[label]))
    return Table(values, tuple(features), dtypes, labels=labels, label=label, source=source)


def _csv_error(exc: Exception, path: Path, source: str, delimiter: str,
               names: list[str]) -> ValueError:
    """A pyarrow parse error as one line naming the file and, where it can, the line."""
    text = str(exc)
    if "Empty CSV file" in text:
        return ValueError(f"{source} is empty: Found array with 0 sample(s) (shape=(0, 0)) "
                          "while a minimum of 1 is required.")
    ragged = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if ragged:
        expected, got = int(ragged[1]), int(ragged[2])
        line = _find_line(path, delimiter, lambda record: len(record) != expected)
        where = f"line {line}" if line is not None else "a row"
        return ValueError(
            f"{source}: {where} has {got} field(s) but the header has {expected}; check the "
            "delimiter (--delimiter) and the quoting."
        )
    conversion = re.search(r"column #(\d+): CSV conversion error to \w+: invalid value '(.*)'",
                           text, re.DOTALL)
    if conversion and names:
        k, value = int(conversion[1]), conversion[2]
        name = names[k] if k < len(names) else f"#{k}"
        line = _find_line(path, delimiter, lambda record: len(record) > k and record[k] == value)
        where = f" at line {line}" if line is not None else ""
        return ValueError(
            f"{source}: column {name!r} is not numeric: {value!r}{where}. Select the numeric "
            "columns (--columns a,b,c) or fix the value."
        )
    return ValueError(f"{source}: cannot read it as CSV: {' '.join(text.split())}")


def _find_line(path: Path, delimiter: str,
               is_bad: Callable[[list[str]], bool]) -> int | None:
    """The line number of the first record after the header for which ``is_bad`` holds."""
    with contextlib.suppress(OSError, csv.Error), \
            open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader, None)
        for record in reader:
            if record and is_bad(record):
                return reader.line_num
    return None


def _labels(raw: NDArray[Any], label: str, source: str, *, integer: bool) -> NDArray[Any]:
    """Class labels: no missing value; integers when every label is one, else strings."""
    missing = np.flatnonzero([v is None or (isinstance(v, float) and v != v) for v in raw])
    if len(missing):
        raise ValueError(f"{source}: the label column {label!r} has {len(missing)} missing "
                         f"value(s), first at row {int(missing[0])}.")
    if raw.dtype.kind in "biuf":
        return raw
    texts = [str(v) for v in raw]
    if integer:
        with contextlib.suppress(ValueError, OverflowError):
            return np.array([int(t) for t in texts], dtype=np.int64)
    return np.array(texts, dtype=str)


# -------------------------------------------------------------------------------- Parquet


def _read_parquet(source: str, columns: Sequence[str] | None, label: str | None) -> Table:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise
        raise ValueError(f"{source} is not a valid Parquet file: {exc}") from None
    with contextlib.closing(pf):
        schema = pf.schema_arrow
        names = list(schema.names)
        features = [names[j] for j in select_columns(names, columns, label, source)]
        types = {name: schema.field(name).type for name in names}
        bad = [(name, types[name]) for name in features if not _is_numeric(types[name])]
        if bad:
            raise _non_numeric_error(source, bad)
        n = pf.metadata.num_rows
        values = np.empty((n, len(features)))
        label_parts: list[NDArray[Any]] = []
        row = 0
        wanted = [*features, *([label] if label else [])]
        try:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
                stop = row + batch.num_rows
                for j, name in enumerate(features):
                    col = pc.cast(batch.column(name), pa.float64())  # nulls become NaN
                    values[row:stop, j] = col.to_numpy(zero_copy_only=False)
                if label is not None:
                    label_parts.append(
                        np.asarray(batch.column(label).to_pylist(), dtype=object))
                row = stop
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{source}: cannot read it as Parquet: {exc}") from None
    dtypes = tuple(_dtype_name(types[name], values[:, j]) for j, name in enumerate(features))
    labels = None
    if label is not None:
        raw = np.concatenate(label_parts) if label_parts else np.empty(0, dtype=object)
        labels = _labels(raw, label, source, integer=pa.types.is_integer(types[label]))
    return Table(values, tuple(features), dtypes, labels=labels, label=label, source=source)


# ------------------------------------------------------------------------------------ npy


def _read_npy(source: str, columns: Sequence[str] | None) -> Table:
    with open(source, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ValueError(f"{source} is not an .npy file (it does not start with the .npy "
                             "magic string).")
    try:
        array = np.load(source, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        text = str(exc)
        if "object" in text.lower() or "pickle" in text.lower():
            raise ValueError(
                f"{source} holds Python objects (dtype=object or pickled data); mixsynth loads "
                ".npy files without unpickling: save a numeric array (e.g. X.astype(float))."
            ) from None
        raise ValueError(f"{source} is not a valid .npy file: {text}") from None
    except EOFError:
        raise ValueError(f"{source} is not a valid .npy file: it is empty or truncated.") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{source} is not a single .npy array.")
    _check_npy_array(array, source)
    native = array.dtype.newbyteorder("=")  # big-endian data is converted to native order
    names = [f"x{j}" for j in range(array.shape[1])]
    picked = select_columns(names, columns, None, source)
    if (array.dtype == np.dtype(np.float64) and array.flags.c_contiguous
            and picked == list(range(array.shape[1]))):
        values = array  # the read-only memory map itself: no copy of a large file
    else:
        values = np.empty((array.shape[0], len(picked)))
        for start, stop in _row_blocks(array.shape[0]):
            values[start:stop] = np.asarray(array[start:stop][:, picked], dtype=np.float64)
    dtype = "bool" if native.kind == "b" else str(native)
    return Table(values, tuple(names[j] for j in picked), (dtype,) * len(picked), source=source)


def _check_npy_array(array: NDArray[Any], source: str) -> None:
    kind = array.dtype.kind
    if array.dtype.names is not None:
        raise ValueError(f"{source} holds a structured array ({array.dtype}); save a plain "
                         "2-D numeric array.")
    if kind == "c":
        raise ValueError(f"{source} holds complex numbers ({array.dtype}); mixsynth models real "
                         "values: split them into real and imaginary columns.")
    if kind not in "biuf":
        raise ValueError(f"{source} holds non-numeric values of dtype {array.dtype}; save a "
                         "numeric array.")
    if array.ndim == 0:
        raise ValueError(f"{source}: Expected 2D array, got scalar array instead.")
    if array.ndim == 1:
        raise ValueError(
            f"{source}: Expected 2D array, got 1D array instead (shape={array.shape}). Reshape "
            "your data either using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    if array.ndim > 2:
        raise ValueError(
            f"{source}: Found array with dim {array.ndim} (shape={array.shape}); mixsynth needs "
            "a 2-D array of shape (n_samples, n_features): reshape it, e.g. "
            "X.reshape(len(X), -1), or save images as a folder of image files."
        )


def _row_blocks(n: int, size: int = BATCH_ROWS) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)
