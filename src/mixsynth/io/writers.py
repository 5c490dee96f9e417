"""Writing rows: CSV / TSV, Parquet, ``.npy`` and image folders, whole or streamed in chunks.

Every file goes through the one atomic writer (:func:`mixsynth.io.atomic.atomic_write`): the rows
go to a temporary file beside the target, which takes the target's name only once complete; an
image folder is written under a temporary name and renamed (:class:`ImageFolderWriter`). So an
interruption, at any chunk, leaves no partial output and an existing file untouched.

:func:`write_chunks` streams: it holds one chunk at a time (CSV appends, Parquet writes one row
group per chunk, ``.npy`` writes its header up front and appends raw rows), so generating a
hundred million rows takes the memory of one chunk. ``"-"`` writes to standard output: CSV or
TSV text, or a binary format when standard output is not a terminal.

The types are kept. A DataFrame chunk goes to Parquet through pandas' own Arrow conversion,
with pandas' metadata, in one schema for the whole file (``like=``, a model's example rows, or
the first chunk's), so ``pandas.read_parquet`` gives each dtype back: nullable, Arrow-backed,
``string``, categories with their set and order, dates, durations. CSV has no types: its text
parses back (``pandas.read_csv``, then the model's dtypes) to the same values (see
:class:`_CsvSink`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.io.atomic import atomic_write

__all__ = [
    "BINARY_FORMATS",
    "OUTPUT_FORMATS",
    "BinaryToTerminalError",
    "check_stdout",
    "output_format",
    "write_chunks",
    "write_data",
]

#: Formats :func:`write_chunks` writes.
OUTPUT_FORMATS = ("csv", "tsv", "parquet", "npy", "images")
#: Formats that are not text.
BINARY_FORMATS = ("parquet", "npy")
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv",
             ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}

Columns = list[tuple[str, NDArray[Any]]]


class BinaryToTerminalError(ValueError):
    """A binary format was to be written to a terminal."""


def output_format(path: str | os.PathLike[str], fmt: str | None = None, *,
                  image_shape: Sequence[int] | None = None) -> str:
    """The format to write ``path`` in: ``fmt`` when given, else by suffix.

    ``"-"`` (standard output) is CSV; a path without a known suffix is an image folder when
    ``image_shape`` is given.

    Raises
    ------
    ValueError
        For an unknown format, a suffix that names none, or images without ``image_shape``.
    """
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {OUTPUT_FORMATS}.")
        if fmt == "images" and image_shape is None:
            raise ValueError("the images format needs image data (a model fitted on images).")
        if fmt == "images" and os.fspath(path) == "-":
            raise ValueError("an image folder cannot be written to standard output.")
        return fmt
    if os.fspath(path) == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if image_shape is not None and (suffix == "" or Path(path).is_dir()):
        return "images"
    known = ", ".join(sorted(_SUFFIXES))
    folder = " (or a folder name, for image models)" if image_shape is not None else ""
    raise ValueError(f"cannot tell the output format of {os.fspath(path)} from its suffix "
                     f"{suffix or '(none)'!r}: use one of {known}{folder}, or --format.")


def check_stdout(fmt: str, stream: Any = None) -> None:
    """Refuse a binary format bound for a terminal (it would garble it)."""
    stream = sys.stdout if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    if fmt in BINARY_FORMATS and tty:
        raise BinaryToTerminalError(
            f"refusing to write {fmt} (binary) to a terminal: use -o FILE, or pipe the output."
        )


def _cast(values: NDArray[Any], dtype: str) -> NDArray[Any]:
    """Generated values in the column's dtype: integers rounded and kept in range."""
    dt = np.dtype(dtype)
    if values.dtype == dt:
        return values
    if dt.kind == "b":
        return np.asarray(np.rint(values.astype(np.float64)) != 0)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        v = np.rint(values.astype(np.float64))
        return np.clip(v, info.min, info.max).astype(dt)
    return values.astype(dt)


def _columns_of(chunk: Any, columns: Sequence[str] | None, dtypes: Sequence[str] | None,
                label: str | None) -> Columns:
    """A chunk — an array, a DataFrame, or ``(X, y)`` with labels — as named 1-D arrays (a
    DataFrame's columns in their own dtypes: numpy arrays, or pandas' extension arrays)."""
    X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
    if _is_frame(X):
        out = [(str(c), _frame_values(X[c], dt)) for c, dt in _frame_dtypes(X, dtypes)]
    else:
        A = np.asarray(X)
        if A.ndim != 2:
            raise ValueError(f"rows must be a 2-D array, got shape {A.shape}.")
        d = A.shape[1]
        names = list(columns) if columns is not None else [f"x{j}" for j in range(d)]
        kinds = list(dtypes) if dtypes is not None else ["float64"] * d
        if len(names) != d or len(kinds) != d:
            raise ValueError(f"rows have {d} columns, but {len(names)} names and {len(kinds)} "
                             "dtypes were given.")
        out = [(names[j], _cast(A[:, j], kinds[j])) for j in range(d)]
    if y is not None:
        out.append((label or "label", np.asarray(y)))
    return out


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes")


def _frame_dtypes(X: Any, dtypes: Sequence[str] | None) -> list[tuple[Any, str | None]]:
    """Each column of a DataFrame with the dtype it is written in: ``dtypes`` for numpy
    columns when one is given per column (integers rounded), else its own."""
    given: Sequence[str | None] = (
        dtypes if dtypes is not None and len(dtypes) == len(X.columns) else [None] * len(X.columns))
    return list(zip(X.columns, given, strict=True))


def _frame_values(column: Any, dtype: str | None) -> Any:
    values = column.array if not isinstance(column.dtype, np.dtype) else column.to_numpy()
    if dtype is not None and isinstance(values, np.ndarray):
        values = _cast(values, dtype)
    return values


def _arrow_table(chunk: Any, columns: Sequence[str] | None, dtypes: Sequence[str] | None,
                 label: str | None) -> Any:
    """A chunk as an Arrow table. A DataFrame goes through pandas' own conversion and keeps
    pandas' metadata, so that ``pandas.read_parquet`` gives every dtype back (nullable, Arrow,
    ``string``, categories with their order); arrays go column by column. A gap (NaN, None,
    ``pd.NA``) is an Arrow null either way."""
    import pyarrow as pa

    X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
    if not _is_frame(X):
        cols = _columns_of(chunk, columns, dtypes, label)
        return pa.table({name: pa.array(v, from_pandas=True) for name, v in cols})
    import pandas as pd

    frame = pd.DataFrame({str(c): _frame_values(X[c], dt) for c, dt in _frame_dtypes(X, dtypes)})
    if y is not None:
        frame[label or "label"] = np.asarray(y)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _readable(schema: Any) -> Any:
    """``schema`` with pandas' metadata made readable by pandas itself.

    pandas records an Arrow dictionary column (``dictionary<...>[pyarrow]``) under that dtype
    name, which its own reader then refuses (``TypeError: data type ... not understood``,
    pandas 3.1 / pyarrow 26): such a column is recorded as a ``category`` column is, and comes
    back as one (``dtype_backend="pyarrow"`` gives the Arrow dictionary dtype back).
    """
    import json

    import pandas as pd

    meta = (schema.metadata or {}).get(b"pandas")
    if meta is None:
        return schema
    doc = json.loads(meta)
    changed = False
    for col in doc.get("columns", []):
        name = col.get("field_name", col.get("name"))
        kind = str(col.get("numpy_type", ""))
        if not kind.endswith("[pyarrow]") or name not in schema.names:
            continue
        try:
            pd.api.types.pandas_dtype(kind)
        except TypeError:
            arrow_type = schema.field(name).type
            col["numpy_type"] = (str(arrow_type.index_type) if hasattr(arrow_type, "index_type")
                                 else "object")
            changed = True
    if not changed:
        return schema
    return schema.with_metadata({**schema.metadata, b"pandas": json.dumps(doc).encode()})


def _conformed(table: Any, schema: Any) -> Any:
    """``table`` in the fixed ``schema`` of a streamed file: every chunk is written in the
    types the first one (or the model's example, ``like``) set."""
    import pyarrow as pa

    if table.schema.equals(schema, check_metadata=False):
        return table
    if table.schema.names != schema.names:
        raise ValueError(f"a chunk has the columns {table.schema.names}, but the file has "
                         f"{schema.names}.")
    for name, field in zip(schema.names, schema, strict=True):
        have = table.schema.field(name).type
        if have != field.type and pa.types.is_null(field.type):
            raise ValueError(
                f"column {name!r} held only gaps in the first chunk written (no type to give "
                f"the file) and now holds {have} values: give like= (rows with a value in "
                "every column) to set the file's types.")
    return table.cast(schema)


class _CsvSink:
    """CSV text that parses back to the same values in the model's dtypes (CSV has no types):
    numbers as the shortest text that reads back exactly (integers without ".0"), a gap as an
    empty field, booleans as ``true`` / ``false``, dates and times ISO 8601 (``Z`` for UTC),
    durations as pandas writes them (``0 days 05:00:00``), categories as their labels."""

    def __init__(self, f: IO[bytes], delimiter: str, like: Any = None) -> None:
        self.f, self.delimiter = f, delimiter
        self.writer: Any = None
        self.schema: Any = None if like is None else _text_table(like).schema

    def write(self, table: Any) -> None:
        import pyarrow.csv as pacsv

        table = _text_table(table)
        if self.writer is None:
            # The header by the csv module: pyarrow would quote every name.
            text = io.StringIO()
            csv.writer(text, delimiter=self.delimiter, lineterminator="\n").writerow(
                table.schema.names)
            self.f.write(text.getvalue().encode("utf-8"))
            options = pacsv.WriteOptions(include_header=False, delimiter=self.delimiter,
                                         quoting_style="needed")
            self.schema = table.schema if self.schema is None else self.schema
            self.writer = pacsv.CSVWriter(self.f, self.schema, write_options=options)
        if table.num_rows:
            self.writer.write_table(_conformed(table, self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _text_table(table: Any) -> Any:
    """A table with what CSV cannot say as Arrow writes it turned to text: categories as their
    labels (not codes), durations as pandas writes them (Arrow writes a bare count)."""
    import pyarrow as pa

    columns = []
    for column in table.columns:
        t = column.type
        if pa.types.is_dictionary(t):
            column = column.cast(t.value_type)
        elif pa.types.is_duration(t):
            column = _duration_text(column)
        columns.append(column)
    return pa.table(columns, names=table.schema.names)


def _duration_text(column: Any) -> Any:
    import pandas as pd
    import pyarrow as pa

    values = pd.Series(column.to_pandas())
    text = values.astype(str).astype(object).where(values.notna(), None)
    return pa.array(text.to_numpy(), type=pa.string())


class _ParquetSink:
    """One row group per chunk, every chunk in one schema: the model's example's (``like``),
    else the first chunk's, with pandas' metadata."""

    def __init__(self, f: IO[bytes], like: Any = None) -> None:
        self.f = f
        self.writer: Any = None
        self.schema: Any = None if like is None else _readable(like.schema)

    def write(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.schema = _readable(table.schema) if self.schema is None else self.schema
            self.writer = pq.ParquetWriter(self.f, self.schema)
        self.writer.write_table(_conformed(table, self.schema))  # one row group per chunk

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _NpySink:
    def __init__(self, f: IO[bytes], n_rows: int | None) -> None:
        if n_rows is None:
            raise ValueError("streaming .npy output needs the number of rows up front.")
        self.f, self.n_rows = f, n_rows
        self.dtype: np.dtype[Any] | None = None
        self.written = 0

    def write(self, cols: Columns) -> None:
        if self.dtype is None:
            for name, v in cols:
                if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
                    raise ValueError(f"an .npy file holds one numeric array, but column {name!r} "
                                     f"holds {v.dtype} values: write .csv or .parquet instead.")
            self.dtype = np.result_type(*(v.dtype for _, v in cols))
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                      "fortran_order": False, "shape": (self.n_rows, len(cols))}
            np.lib.format.write_array_header_2_0(self.f, header)
        block = np.empty((len(cols[0][1]), len(cols)), dtype=self.dtype)
        for j, (_, v) in enumerate(cols):
            block[:, j] = v
        self.f.write(block.tobytes())
        self.written += len(block)

    def close(self) -> None:
        if self.written != self.n_rows:
            raise RuntimeError(f"wrote {self.written} rows to an .npy file announcing "
                               f"{self.n_rows}.")


Sink = _CsvSink | _ParquetSink | _NpySink


def _sink(fmt: str, f: IO[bytes], n_rows: int | None, like: Any) -> Sink:
    if fmt in ("csv", "tsv"):
        return _CsvSink(f, "\t" if fmt == "tsv" else ",", like)
    if fmt == "parquet":
        return _ParquetSink(f, like)
    return _NpySink(f, n_rows)


def _pour(sink: Sink, chunks: Iterable[Any], columns: Sequence[str] | None,
          dtypes: Sequence[str] | None, label: str | None) -> int:
    """Write every chunk to ``sink`` and finish it; rows written."""
    n = 0
    try:
        for chunk in chunks:
            if isinstance(sink, _NpySink):
                cols = _columns_of(chunk, columns, dtypes, label)
                sink.write(cols)
                n += len(cols[0][1]) if cols else 0
            else:
                table = _arrow_table(chunk, columns, dtypes, label)
                sink.write(table)
                n += table.num_rows
    except BaseException:
        # Close the format's writer while its file is still open (the file is thrown away);
        # left to the garbage collector it would write to a closed file.
        if not isinstance(sink, _NpySink):
            with contextlib.suppress(Exception):
                sink.close()
        raise
    sink.close()
    return n


def write_chunks(
    path: str | os.PathLike[str],
    chunks: Iterable[Any],
    *,
    columns: Sequence[str] | None = None,
    dtypes: Sequence[str] | None = None,
    label: str | None = None,
    n_rows: int | None = None,
    overwrite: bool = False,
    image_shape: Sequence[int] | None = None,
    fmt: str | None = None,
    stdout: Any = None,
    like: Any = None,
) -> int:
    """Write chunks of rows to one output, atomically, holding one chunk at a time.

    Parameters
    ----------
    path : path-like or "-"
        The output; ``"-"`` is standard output.
    chunks : iterable
        Arrays of shape (n_rows_i, n_columns), DataFrames, or ``(X, y)`` pairs whose ``y`` is
        written as the column ``label``.
    columns : sequence of str, optional
        Column names of array chunks (``x0, x1, …`` when not given).
    dtypes : sequence of str, optional
        The dtype each column is written in; integer columns are rounded.
    label : str, optional
        Name of the label column of ``(X, y)`` chunks.
    n_rows : int, optional
        The number of rows in all; needed for ``.npy``, and for the names of image files.
    overwrite : bool, default=False
        Replace an existing output.
    image_shape : sequence of int, optional
        The rows are images of this shape (an image folder can be written).
    fmt : {"csv", "tsv", "parquet", "npy", "images"}, optional
        The format; by suffix when not given (:func:`output_format`).
    stdout : text or binary stream, optional
        Standard output, for ``"-"`` (``sys.stdout`` when not given).
    like : DataFrame, optional
        A few rows with every column of the output, in its dtype, without gaps (a model's
        example rows):
        CSV and Parquet write every chunk in its Arrow types. Without it the first chunk's
        types are the file's, and a text column that chunk holds only gaps of cannot take
        text later.

    Returns
    -------
    n : int
        Rows written.

    Raises
    ------
    OutputExistsError, OutputError
        The output exists (and not ``overwrite``), or cannot be written.
    BinaryToTerminalError
        A binary format to a terminal.
    """
    fmt = output_format(path, fmt, image_shape=image_shape)
    n = 0
    if fmt == "images":
        from mixsynth.io.images import ImageFolderWriter

        assert image_shape is not None  # output_format checked it
        with ImageFolderWriter(path, tuple(image_shape), overwrite=overwrite,
                               n_rows=n_rows) as folder:
            for chunk in chunks:
                X, y = chunk if isinstance(chunk, tuple) else (chunk, None)
                folder.write(np.asarray(X, dtype=np.float64), y)
                n += len(X)
        return n
    if os.fspath(path) == "-":
        stream: Any = sys.stdout if stdout is None else stdout
        check_stdout(fmt, stream)
        if hasattr(stream, "buffer"):
            stream.flush()
            stream = stream.buffer
        n = _pour(_sink(fmt, stream, n_rows, _like(like, columns, dtypes)), chunks,
                  columns, dtypes, label)
        stream.flush()
        return n
    with atomic_write(path, "wb", overwrite=overwrite) as f:
        n = _pour(_sink(fmt, f, n_rows, _like(like, columns, dtypes)), chunks, columns,
                  dtypes, label)
    return n


def _like(like: Any, columns: Sequence[str] | None, dtypes: Sequence[str] | None) -> Any:
    return None if like is None else _arrow_table(like, columns, dtypes, None)


def write_data(
    path: str | os.PathLike[str],
    X: Any,
    *,
    columns: Sequence[str] | None = None,
    dtypes: Sequence[str] | None = None,
    labels: Any = None,
    label: str | None = None,
    overwrite: bool = False,
    image_shape: Sequence[int] | None = None,
    fmt: str | None = None,
    stdout: Any = None,
) -> int:
    """Write one table of rows (see :func:`write_chunks`; ``labels`` adds the ``label`` column).

    Returns
    -------
    n : int
        Rows written.
    """
    chunk = (X, labels) if labels is not None else X
    return write_chunks(path, [chunk], columns=columns, dtypes=dtypes, label=label,
                        n_rows=len(X), overwrite=overwrite, image_shape=image_shape, fmt=fmt,
                        stdout=stdout)
