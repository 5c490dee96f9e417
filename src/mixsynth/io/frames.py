"""A CSV, TSV or Parquet file as a pandas DataFrame, for the mixed-table model, and the first
look that decides whether a file is such a table.

``mixsynth fit FILE`` and ``Synthesizer().fit(path)`` decide alike (:func:`table_frame`): a file
with a column of categories (text that is mostly not numbers), booleans, dates, nullable or
Arrow numbers, or a column without values is read as a DataFrame and fitted by the table model;
numbers only (gaps included) go to the numeric reader (:mod:`mixsynth.io.formats`), which
streams. A column of numbers with a stray text value (a typo, a missing-value marker) is
refused naming it and its line, whatever the other columns hold: modelled as categories it
would turn every number into a level.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

from mixsynth.io.table import data_format

__all__ = [
    "PROBE_ROWS", "is_mixed", "read_parquet_frame", "stray_text", "stray_text_columns",
    "table_frame",
]

PathLike = str | os.PathLike[str]

#: Rows of a CSV or Parquet file read to decide whether it is a mixed table.
PROBE_ROWS = 10_000

#: At least this share of a text column's values parse as numbers: a column of numbers with
#: stray text (a typo), not a column of categories.
NUMERIC_SHARE = 0.5


def table_frame(path: PathLike, *, columns: Sequence[str] | None = None,
                delimiter: str | None = None, force: bool = False) -> Any:
    """The file as a DataFrame for the table model, or ``None`` when the numeric reader is its
    reader (numbers only, not a CSV / TSV / Parquet file, a ragged CSV, a file the first look
    cannot parse: that reader says what is wrong).

    ``force``: read it as a DataFrame whatever it holds (when another table of the same task
    is mixed, or column kinds were declared); a stray text value is then the codec's to judge.

    Raises
    ------
    ValueError
        A column of numbers with stray text, naming the column, the text and its line.
    """
    import pandas as pd

    path = os.fspath(path)
    try:
        fmt = data_format(path)
    except ValueError:
        return None
    if fmt not in ("csv", "tsv", "parquet") or not os.path.isfile(path):
        return None
    sep = delimiter or ("\t" if fmt == "tsv" else ",")
    if not force:  # a first look decides
        try:
            probe = (read_parquet_frame(path, columns=columns, nrows=PROBE_ROWS)
                     if fmt == "parquet" else
                     pd.read_csv(path, sep=sep, usecols=columns, nrows=PROBE_ROWS))
        except (ValueError, OSError, ImportError):
            return None
        stray = stray_text_columns(probe)
        if stray:
            from mixsynth.io.formats import open_table

            for _ in open_table(path, columns=stray, delimiter=delimiter).blocks(PROBE_ROWS):
                pass  # the numeric reader names the first stray text and its line, as streamed
            raise ValueError(f"{path}: column {stray[0]!r} holds numbers and text that is not a "
                             "number.")  # not reached
        if not is_mixed(probe):
            return None
    if fmt == "parquet":
        return read_parquet_frame(path, columns=columns)
    if _ragged(path, sep):
        return None  # pandas would fill a short row with gaps: the numeric reader refuses it
    frame = pd.read_csv(path, sep=sep, usecols=columns)
    return frame if columns is None else frame[list(columns)]


def stray_text_columns(frame: Any) -> list[Any]:
    """The text columns of ``frame`` whose values are mostly numbers (at least
    :data:`NUMERIC_SHARE`) but not all: numbers with a typo or a missing-value marker."""
    import pandas as pd

    return [c for c in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_bool_dtype(frame[c].dtype)
            and stray_text(frame[c].dropna()) is not None]


def stray_text(values: Any) -> int | None:
    """The position in ``values`` (observed text, a pandas Series) of the first value that is
    not a number when at least :data:`NUMERIC_SHARE` of them are numbers; ``None`` otherwise
    (categories, all numbers, or not all text)."""
    import numpy as np
    import pandas as pd

    if len(values) == 0 or not all(isinstance(v, str) for v in values):
        return None
    numeric = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").notna()
    if NUMERIC_SHARE <= numeric.mean() < 1.0:
        return int(np.flatnonzero(~numeric.to_numpy())[0])
    return None


def is_mixed(frame: Any) -> bool:
    """Whether a table is for the mixed model: a column of categories (text, booleans, dates),
    nullable or Arrow numbers (a Parquet file's pandas metadata, given back in their dtype as
    ``fit(df)`` does), or a column without values (the codec names it). Numbers only (gaps
    included: the numeric reader's policy, the same streamed or not) and one text column that
    reads as another delimiter's columns go to the numeric reader and its message."""
    import numpy as np
    import pandas as pd

    if len(frame) == 0 or (
            len(frame.columns) == 1 and any(ch in str(frame.columns[0]) for ch in ";\t|")):
        return False
    if frame.isna().all().any():
        return True
    if any(pd.api.types.is_numeric_dtype(t) and not isinstance(t, np.dtype)
           for t in frame.dtypes):
        return True
    return any(not pd.api.types.is_numeric_dtype(frame[c].dtype)
               or pd.api.types.is_bool_dtype(frame[c].dtype) for c in frame.columns)


def _ragged(path: str, sep: str) -> bool:
    """Whether a row of a CSV file has another number of fields than its header."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f, delimiter=sep)
        width = len(next(rows, []))
        return any(len(row) != width for row in rows if row)


def read_parquet_frame(path: PathLike, *, columns: Sequence[str] | None = None,
                       nrows: int | None = None) -> Any:
    """A Parquet file as a DataFrame in the dtypes its pandas metadata records (a mixed table).

    ``nrows`` reads only the first rows (a first look at a file that may be larger than memory:
    one batch, not the file), in the same dtypes.

    pandas records an Arrow dictionary column (``dictionary<...>[pyarrow]``) under a dtype name
    its own reader refuses (``TypeError: data type ... not understood``, pandas 3.1 / pyarrow
    26): such a column is read in that Arrow dtype, the others as pandas reads them.

    Raises
    ------
    ValueError, OSError
        As :func:`pandas.read_parquet` does.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = None if columns is None else list(columns)
    if nrows is None:
        try:
            return pd.read_parquet(path, columns=columns)
        except TypeError as exc:
            error = exc
        table = pq.read_table(path, columns=wanted)
    else:
        with pq.ParquetFile(path, pre_buffer=False) as file:  # not the next row groups
            batches, rows = [], 0
            for batch in file.iter_batches(batch_size=max(int(nrows), 1), columns=wanted):
                batches.append(batch)  # a batch stops at a row group's end: maybe short
                rows += batch.num_rows
                if rows >= nrows:
                    break
            names = file.schema_arrow.names
            unknown = [c for c in wanted or () if c not in names]
            if unknown:
                raise ValueError(f"no column {unknown[0]!r} in {path}")
            schema = file.schema_arrow if wanted is None else pa.schema(
                [file.schema_arrow.field(c) for c in wanted], metadata=file.schema_arrow.metadata)
        table = (pa.Table.from_batches(batches).slice(0, nrows) if batches else
                 schema.empty_table()).replace_schema_metadata(schema.metadata)
        try:
            return table.to_pandas()
        except TypeError as exc:
            error = exc
    return _frame_of_arrow_dtypes(table, error)


def _frame_of_arrow_dtypes(table: Any, error: TypeError) -> Any:
    """``table`` as a DataFrame, the columns whose recorded pandas dtype pandas refuses read in
    their Arrow dtype; ``error`` (pandas' own) when no recorded dtype is to blame."""
    import json

    import pandas as pd

    doc = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    arrow: list[str] = []
    for col in doc.get("columns", []):
        name = col.get("field_name", col.get("name"))
        try:
            pd.api.types.pandas_dtype(str(col.get("numpy_type")))
        except TypeError:
            if name in table.schema.names:
                arrow.append(name)
                col["numpy_type"] = "object"
    if not arrow:
        raise error  # not the metadata: pandas' own error
    table = table.replace_schema_metadata(
        {**table.schema.metadata, b"pandas": json.dumps(doc).encode()})
    frame = table.to_pandas()
    for name in arrow:
        frame[name] = pd.arrays.ArrowExtensionArray(table.column(name))
    return frame
