"""The one parser of tabular data files: CSV / TSV, Parquet and ``.npy``, read in blocks of rows.

Data enters mixsynth from a file in two ways: :func:`mixsynth.io.readers.read_data` reads the
whole table into memory, and the file sources of :mod:`mixsynth.sources` read it once per
pass of an out-of-core fit. Both open the file with :func:`open_table`, so that a file gives
the same columns, the same column selection and the same errors either way:

* the columns are the file's own names (``x0, x1, …`` for ``.npy`` arrays); ``columns=``
  selects and orders them, ``label=`` sets one apart (in-memory only);
* only numeric columns (integers, floats, booleans, decimals, all-null) can be features: any
  other selected column is an error that lists them all (with, for CSV, the first text and
  its line);
* CSV: the delimiter is a comma (a tab for ``.tsv`` / ``.tab``) unless ``delimiter=`` says
  otherwise, and a header that reads as one column holding ``;``, a tab or ``|`` is reported
  with a hint; repeated column names, ragged rows and texts in numeric columns are errors
  naming the line; numbers are read as float64 whatever the first block suggested;
* Parquet: nulls become NaN (which the validator then rejects, naming the row);
* ``.npy``: read without unpickling; object, structured, complex, 0-, 1- and 3-D arrays are
  refused with scikit-learn's wording where it has one; big-endian data is converted; rows are
  read with plain file reads (column by column for Fortran order), so a pass never maps the
  whole file into the process.

NaN and inf are not checked here: the one validator (:mod:`mixsynth.validation`) checks every
block, naming the column and the row of the whole file. This module is a leaf (numpy, and
pyarrow imported on use), which is why :mod:`mixsynth.sources`, below the readers, can use it.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.io.table import data_format, select_columns

__all__ = ["CSV_BLOCK_BYTES", "LINES", "TableFile", "open_table"]

#: How messages count. A *line* is a line of the file, counted from 1 with the header as line
#: 1 (what an editor shows); a *row* is a data row, counted from 0 without the header (the
#: index of the row in the array, the DataFrame, or in the whole file when streamed). A message
#: that names a line says so with these words; one naming a row with :data:`ROWS`, the words
#: of :data:`mixsynth.validation.ROWS` (repeated here: this module is a leaf; a test checks
#: they agree), and, for a CSV file, the line as well where it can.
LINES = "(file lines counted from 1, the header is line 1)"
ROWS = "(rows counted from 0)"

#: Bytes per block of the CSV reader (its type inference looks at the first block).
CSV_BLOCK_BYTES = 1 << 22
#: Characters that separate fields in files saved with another convention than the suffix's.
_OTHER_DELIMITERS = (";", "\t", "|", ",")

Array = NDArray[np.float64]
Block = tuple[Array, NDArray[Any] | None]


class TableFile(ABC):
    """A tabular file opened for reading: its columns checked, its rows read in blocks.

    Attributes
    ----------
    path : Path
    source : str
        How messages call it (the path, or ``"<stdin>"``).
    names : list of str
        Every column of the file.
    columns : tuple of str
        The feature columns, in order.
    label : str or None
        The column set apart as class labels (read as text).
    n_rows : int or None
        The number of rows, where the file says so without reading it (Parquet, ``.npy``).
    """

    path: Path
    source: str
    names: list[str]
    columns: tuple[str, ...]
    label: str | None = None
    n_rows: int | None = None
    #: Whether the label column holds integers (labels come back as integers then).
    label_is_integer: bool = False

    @property
    def n_features(self) -> int:
        return len(self.columns)

    @abstractmethod
    def blocks(self, rows: int) -> Iterator[Block]:
        """``(features, labels)`` of about ``rows`` rows at a time, in file order.

        The features are float64 (NaN for missing values, not yet checked for finiteness);
        the labels are ``None`` without a label column.
        """

    @abstractmethod
    def dtype_names(self, is_whole: Callable[[int], bool]) -> tuple[str, ...]:
        """The numpy dtype each feature column came with (generated rows are written back in
        it); ``is_whole(j)`` says whether column ``j`` holds whole numbers only."""

    def estimated_nbytes(self) -> int:
        """Bytes of the features as float64 in memory (an estimate for CSV)."""
        return (self.n_rows or 0) * self.n_features * 8

    def where(self, row: int) -> str:
        """Data row ``row`` (counted from 0) as a message names it."""
        return f"row {row} {ROWS}"


def open_table(
    path: str | os.PathLike[str],
    *,
    columns: Sequence[str] | None = None,
    label: str | None = None,
    delimiter: str | None = None,
    fmt: str | None = None,
    source: str | None = None,
) -> TableFile:
    """Open a CSV / TSV, Parquet or ``.npy`` file and check its columns.

    Parameters
    ----------
    path : path-like
    columns : sequence of str, optional
        The feature columns, in this order; every column but ``label`` when not given.
    label : str, optional
        A column to set apart as class labels (CSV and Parquet).
    delimiter : str, optional
        CSV field separator; a comma (a tab for ``.tsv`` / ``.tab``) when not given.
    fmt : {"csv", "tsv", "parquet", "npy"}, optional
        The format, when not to be told from the suffix.
    source : str, optional
        How messages call the file (default: the path).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        Unknown suffix, a folder, an unreadable file, unknown or non-numeric columns.
    """
    name = os.fspath(path)
    fmt = fmt or data_format(name)
    shown = source or name
    if fmt == "images":
        raise ValueError(f"{shown} is a folder; a table is read from a .csv, .tsv, .parquet or "
                         ".npy file (read image folders with mixsynth.io.read_data).")
    if fmt in ("csv", "tsv"):
        sep = delimiter if delimiter is not None else ("\t" if fmt == "tsv" else ",")
        return _CsvFile(Path(name), shown, sep, columns, label)
    if fmt == "parquet":
        return _ParquetFile(Path(name), shown, columns, label)
    if label is not None:
        raise ValueError(f"{shown} is an .npy array: it has no label column.")
    return _NpyFile(Path(name), shown, columns)


# ------------------------------------------------------------------------------ columns


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(arrow_type) or pat.is_floating(arrow_type)
                or pat.is_boolean(arrow_type) or pat.is_decimal(arrow_type)
                or pat.is_null(arrow_type))


def _non_numeric_error(source: str, bad: list[tuple[str, Any]],
                       example: str = "") -> ValueError:
    listed = ", ".join(f"{name!r} ({arrow_type})" for name, arrow_type in bad)
    return ValueError(
        f"{source} has {len(bad)} non-numeric column(s): {listed}{example}. Numbers with a "
        "stray text (a typo, a missing-value marker): fix or empty those cells. Text columns "
        "are modelled as categories when a CSV or Parquet file is read into memory (mixsynth "
        "fit FILE without --out-of-core, --label or a cluster; Synthesizer().fit), not from "
        "standard input nor by this numeric reader: select the numeric columns (--columns "
        "a,b,c; mixsynth.io.read_data(path, columns=...) in Python) or convert these first."
    )


def _arrow_dtype_name(arrow_type: Any, whole: Callable[[], bool]) -> str:
    """The dtype a column's generated values are written back in."""
    import pyarrow.types as pat

    if pat.is_boolean(arrow_type):
        return "bool"
    if pat.is_integer(arrow_type):
        return str(np.dtype(arrow_type.to_pandas_dtype())) if whole() else "float64"
    if pat.is_floating(arrow_type) and arrow_type.bit_width == 32:
        return "float32"
    return "float64"


class _ArrowTable(TableFile):
    """CSV and Parquet: columns from an Arrow schema."""

    types: dict[str, Any]

    def _select(self, names: list[str], types: dict[str, Any], columns: Sequence[str] | None,
                label: str | None) -> list[tuple[str, Any]]:
        import pyarrow.types as pat

        self.names, self.types, self.label = names, types, label
        self.columns = tuple(names[j] for j in select_columns(names, columns, label,
                                                              self.source))
        self.label_is_integer = label is not None and bool(pat.is_integer(types[label]))
        return [(name, types[name]) for name in self.columns if not _is_numeric(types[name])]

    def dtype_names(self, is_whole: Callable[[int], bool]) -> tuple[str, ...]:
        return tuple(_arrow_dtype_name(self.types[name], functools.partial(is_whole, j))
                     for j, name in enumerate(self.columns))


# ---------------------------------------------------------------------------------- CSV


class _CsvFile(_ArrowTable):
    """A CSV file with a header row, parsed by pyarrow's streaming reader."""

    def __init__(self, path: Path, source: str, delimiter: str,
                 columns: Sequence[str] | None, label: str | None) -> None:
        import pyarrow as pa

        if len(delimiter) != 1:
            raise ValueError(f"the delimiter must be one character, got {delimiter!r}.")
        self.path, self.source, self.delimiter = path, source, delimiter
        try:
            with self._open(CSV_BLOCK_BYTES) as reader:
                schema = reader.schema  # types inferred from the first block
        except pa.ArrowInvalid as exc:
            raise self._error(exc, []) from None
        names = list(schema.names)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{source} has repeated column names: {repeated}.")
        if len(names) == 1 and not _is_numeric(schema.field(0).type):
            others = [d for d in _OTHER_DELIMITERS if d != delimiter and d in names[0]]
            if others:
                raise ValueError(
                    f"{source} reads as a single column {names[0]!r} with delimiter "
                    f"{delimiter!r}; it looks {others[0]!r}-separated: pass --delimiter "
                    f"{others[0]!r} (delimiter= in Python)."
                )
        bad = self._select(names, {n: schema.field(n).type for n in names}, columns, label)
        if bad:
            raise _non_numeric_error(source, bad, self._first_text(bad[0][0]))

    def _open(self, block_bytes: int, convert: Any = None) -> Any:
        import pyarrow.csv as pacsv

        return pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(block_size=block_bytes),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
            convert_options=convert,
        )

    def blocks(self, rows: int) -> Iterator[Block]:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        # Numbers are read as float64 whatever the first block suggested: an integer column
        # whose later rows hold "1.5" is a float column, not an error.
        column_types: dict[str, Any] = {
            name: pa.bool_() if pa.types.is_boolean(self.types[name]) else pa.float64()
            for name in self.columns
        }
        if self.label is not None:
            column_types[self.label] = pa.string()
        convert = pacsv.ConvertOptions(
            column_types=column_types, strings_can_be_null=True,
            include_columns=[*self.columns, *([self.label] if self.label else [])],
        )
        try:  # blocks of CSV_BLOCK_BYTES (the streaming sources cut them to `rows` rows)
            with self._open(CSV_BLOCK_BYTES, convert) as reader:
                for batch in reader:
                    X = np.empty((batch.num_rows, len(self.columns)))
                    for j, name in enumerate(self.columns):
                        col = pc.cast(batch.column(name), pa.float64())
                        X[:, j] = col.to_numpy(zero_copy_only=False)
                    labels = None
                    if self.label is not None:
                        labels = batch.column(self.label).to_numpy(zero_copy_only=False)
                    yield X, labels
        except pa.ArrowInvalid as exc:
            raise self._error(exc, self.names) from None

    def estimated_nbytes(self) -> int:
        """From the file size and the length of the first lines (a CSV has no row count)."""
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(1 << 20)
        lines = head.count(b"\n")
        if lines <= 1 or len(head) >= size:
            rows = max(0, lines - 1)
        else:
            first_line = head.index(b"\n") + 1
            rows = int((size - first_line) / ((len(head) - first_line) / (lines - 1)))
        return rows * self.n_features * 8

    def _first_text(self, name: str) -> str:
        """Where column ``name`` first holds a text that is not a number (for the message)."""
        k = self.names.index(name)
        found: list[str] = []

        def is_text(record: list[str]) -> bool:
            value = record[k].strip() if len(record) > k else ""
            if value and not _is_number(value):
                found.append(value)
                return True
            return False

        line = self._find_line(is_text)
        if line is None or not found:
            return ""
        return f"; {name!r} holds {found[0]!r} at line {line} {LINES}"

    def _error(self, exc: Exception, names: list[str]) -> ValueError:
        """A pyarrow parse error as one line naming the file and, where it can, the line."""
        text = str(exc)
        source = self.source
        if "Empty CSV file" in text:
            return ValueError(f"{source} is empty: Found array with 0 sample(s) (shape=(0, 0)) "
                              "while a minimum of 1 is required.")
        ragged = re.search(r"Expected (\d+) columns, got (\d+)", text)
        if ragged:
            expected, got = int(ragged[1]), int(ragged[2])
            line = self._find_line(lambda record: len(record) != expected)
            where = f"line {line}" if line is not None else "a row"
            return ValueError(
                f"{source}: {where} has {got} field(s) but the header has {expected} {LINES}; "
                "check the delimiter (--delimiter) and the quoting."
            )
        conversion = re.search(
            r"column #(\d+): CSV conversion error to \w+: invalid value '(.*)'", text, re.DOTALL
        )
        if conversion and names:
            k, value = int(conversion[1]), conversion[2]
            name = names[k] if k < len(names) else f"#{k}"
            line = self._find_line(lambda record: len(record) > k and record[k] == value)
            where = f" at line {line} {LINES}" if line is not None else ""
            return ValueError(
                f"{source}: column {name!r} is not numeric: {value!r}{where}. Select the "
                "numeric columns (--columns a,b,c) or fix the value."
            )
        return ValueError(f"{source}: cannot read it as CSV: {' '.join(text.split())}")

    def where(self, row: int) -> str:
        """Data row ``row``, and the line of the file it is on."""
        count = -1

        def is_row(record: list[str]) -> bool:
            nonlocal count
            count += 1
            return count == row

        line = self._find_line(is_row)
        if line is None:
            return f"row {row} {ROWS}"
        return f"row {row} {ROWS[:-1]}; line {line} of the file, the header is line 1)"

    def _find_line(self, is_bad: Callable[[list[str]], bool]) -> int | None:
        """The line number of the first record after the header for which ``is_bad`` holds."""
        with contextlib.suppress(OSError, csv.Error), \
                open(self.path, newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            next(reader, None)
            for record in reader:
                if record and is_bad(record):
                    return reader.line_num
        return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------ Parquet


class _ParquetFile(_ArrowTable):
    """A Parquet file read by record batches (or by row groups, for Dask tasks)."""

    def __init__(self, path: Path, source: str, columns: Sequence[str] | None,
                 label: str | None) -> None:
        self.path, self.source = path, source
        with self._open() as pf:
            schema = pf.schema_arrow
            self.n_rows = int(pf.metadata.num_rows)
            self.row_groups = [int(pf.metadata.row_group(i).num_rows)
                               for i in range(pf.metadata.num_row_groups)]
        names = list(schema.names)
        bad = self._select(names, {n: schema.field(n).type for n in names}, columns, label)
        if bad:
            raise _non_numeric_error(source, bad)

    @contextlib.contextmanager
    def _open(self) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            # pre_buffer=False: pyarrow's default pre-buffers the column chunks of the row
            # groups ahead of the batch being read (a 1,000,000 x 20 file with 10 row groups
            # held 248 MiB in Arrow's pool); without it one row group at a time (76 MiB)
            pf = pq.ParquetFile(self.path, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            if isinstance(exc, FileNotFoundError | PermissionError):
                raise
            raise ValueError(f"{self.source} is not a valid Parquet file: {exc}") from None
        with contextlib.closing(pf):
            yield pf

    def _block(self, batch: Any) -> Block:
        import pyarrow as pa
        import pyarrow.compute as pc

        X = np.empty((batch.num_rows, len(self.columns)))
        for j, name in enumerate(self.columns):
            # safe=False: integers beyond 2**53 round to the nearest float64, as a CSV's do
            # (pyarrow's safe cast refused them without naming the column); those beyond the
            # column's dtype are refused by the reader, naming column and row
            column = pc.cast(batch.column(name), pa.float64(), safe=False)
            X[:, j] = column.to_numpy(zero_copy_only=False)
        labels = None
        if self.label is not None:
            labels = np.asarray(batch.column(self.label).to_pylist(), dtype=object)
        return X, labels

    def blocks(self, rows: int) -> Iterator[Block]:
        import pyarrow as pa

        wanted = [*self.columns, *([self.label] if self.label else [])]
        with self._open() as pf:
            # a batch within one row group: one spanning several makes pyarrow hold them all
            # (reading 1,000,000 x 20 in 209,715-row batches over 100,000-row groups peaked
            # at 368 MB RSS, at 275 MB capped)
            groups = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
            rows = max(1, min(rows, max(groups, default=rows)))
            try:
                for batch in pf.iter_batches(batch_size=rows, columns=wanted):
                    yield self._block(batch)  # nulls become NaN
            except (pa.ArrowException, OSError) as exc:
                raise ValueError(f"{self.source}: cannot read it as Parquet: {exc}") from None

    def read_row_group(self, i: int) -> Array:
        """The features of row group ``i`` (a Dask task reads one)."""
        with self._open() as pf:
            return self._block(pf.read_row_group(i, columns=list(self.columns)))[0]


# ---------------------------------------------------------------------------------- npy


class _NpyFile(TableFile):
    """A ``.npy`` file: the header checked, rows read with plain file reads."""

    def __init__(self, path: Path, source: str, columns: Sequence[str] | None) -> None:
        self.path, self.source = path, source
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise ValueError(f"{source} is not an .npy file (it does not start with the "
                                 ".npy magic string).")
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            text = str(exc)
            if "object" in text.lower() or "pickle" in text.lower():
                raise ValueError(
                    f"{source} holds Python objects (dtype=object or pickled data); mixsynth "
                    "loads .npy files without unpickling: save a numeric array (e.g. "
                    "X.astype(float))."
                ) from None
            raise ValueError(f"{source} is not a valid .npy file: {text}") from None
        except EOFError:
            raise ValueError(f"{source} is not a valid .npy file: it is empty or "
                             "truncated.") from None
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{source} is not a single .npy array.")
        _check_npy_array(array, source)
        self.shape: tuple[int, int] = (int(array.shape[0]), int(array.shape[1]))
        self.dtype = array.dtype
        self.offset = int(getattr(array, "offset", 0))
        self.fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous)
        mm = getattr(array, "_mmap", None)
        del array
        if mm is not None:
            mm.close()
        self.names = [f"x{j}" for j in range(self.shape[1])]
        self.picked = select_columns(self.names, columns, None, source)
        self.columns = tuple(self.names[j] for j in self.picked)
        self.n_rows = self.shape[0]

    @property
    def maps_in_place(self) -> bool:
        """Native float64 in C order, every column: the memory map is the table itself."""
        return (self.dtype == np.dtype(np.float64) and not self.fortran
                and self.picked == list(range(self.shape[1])))

    def memmap(self) -> Array:
        """The read-only memory map of the array (for :attr:`maps_in_place` files)."""
        return np.load(self.path, mmap_mode="r", allow_pickle=False)

    def dtype_names(self, is_whole: Callable[[int], bool]) -> tuple[str, ...]:
        native = self.dtype.newbyteorder("=")
        return ("bool" if native.kind == "b" else str(native),) * self.n_features

    def read_rows(self, start: int, stop: int) -> Array:
        """Rows ``start:stop`` of the selected columns, as float64 (native byte order)."""
        n, d = self.shape
        count = max(0, min(stop, n) - start)
        size = self.dtype.itemsize
        with open(self.path, "rb") as f:
            if self.fortran:  # each column's rows are contiguous
                X = np.empty((count, len(self.picked)))
                for j, k in enumerate(self.picked):
                    f.seek(self.offset + (k * n + start) * size)
                    X[:, j] = self._read(f, count)
                return X
            f.seek(self.offset + start * d * size)
            flat = self._read(f, count * d).reshape(count, d)
        if self.picked != list(range(d)):
            flat = flat[:, self.picked]
        return np.asarray(flat, dtype=np.float64)

    def _read(self, f: Any, count: int) -> NDArray[Any]:
        flat = np.fromfile(f, dtype=self.dtype, count=count)
        if flat.size != count:
            raise ValueError(f"{self.source} is truncated: it holds fewer values than its "
                             f"header's shape {self.shape}.")
        return flat

    def blocks(self, rows: int) -> Iterator[Block]:
        for start in range(0, self.shape[0], rows):
            yield self.read_rows(start, start + rows), None


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
