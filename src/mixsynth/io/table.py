"""What a reader returns: a numeric table, its column names and kinds, and where it came from.

Every reader (:mod:`mixsynth.io.readers`, :mod:`mixsynth.io.images`) produces a :class:`Table`:
the values as one float64 array, which is what the estimators compute in, plus what is needed
to give the data back in kind — column names, the dtype of each column (integer columns come
back as integers), the image shape of pixel data and, for class-conditional fitting, the labels
of a label column kept apart from the features.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NotARegularFileError", "Table", "check_regular_file", "check_shape", "data_format",
           "select_columns"]

#: Input file suffixes and the format each names; a folder is an image folder.
INPUT_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npy": "npy",
}


@dataclass(frozen=True, eq=False)
class Table:
    """A numeric data set read from a file.

    Attributes
    ----------
    values : ndarray of shape (n_samples, n_features), float64
        The features, finite.
    columns : tuple of str
        The feature names: the file's own, ``x0, x1, …`` for ``.npy`` arrays, ``p0, p1, …``
        (pixels in row-major order, channels last) for image folders.
    dtypes : tuple of str
        The numpy dtype name each column came with (``"int64"``, ``"uint8"``, ``"bool"``,
        ``"float64"`` …): generated rows are written back in these dtypes.
    image_shape : tuple of int, optional
        ``(height, width)`` or ``(height, width, channels)`` of an image folder's images.
    labels : ndarray of shape (n_samples,), optional
        The values of the label column (``label=``), for class-conditional fitting.
    label : str, optional
        The name of the label column.
    source : str
        The path it was read from (``"<stdin>"`` for standard input), for messages.
    """

    values: NDArray[np.float64]
    columns: tuple[str, ...]
    dtypes: tuple[str, ...]
    image_shape: tuple[int, ...] | None = None
    labels: NDArray[Any] | None = None
    label: str | None = None
    source: str = ""

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.values.shape[1])

    @property
    def image_mode(self) -> str | None:
        """The PIL mode of image data: ``"L"`` (grayscale) or ``"RGB"``; ``None`` otherwise."""
        if self.image_shape is None:
            return None
        return "RGB" if len(self.image_shape) == 3 else "L"

    def to_input(self) -> Any:
        """What to give an estimator: a DataFrame for tabular data, the array for images.

        A DataFrame carries the column names and dtypes into the fitted model (its
        ``feature_names_in_``), so that generated rows come back with the same names and integer
        columns as integers. Pixels need neither, and thousands of pixel columns are handled
        faster as one array. Needs pandas for tabular data.
        """
        if self.image_shape is not None:
            return self.values
        import pandas as pd

        data = {
            name: _column(self.values[:, j], np.dtype(dtype))
            for j, (name, dtype) in enumerate(zip(self.columns, self.dtypes, strict=True))
        }
        return pd.DataFrame(data, columns=list(self.columns))

    def info(self) -> dict[str, Any]:
        """Facts about the data source worth keeping with a model fitted on it (JSON-ready)."""
        out: dict[str, Any] = {"columns": list(self.columns), "dtypes": list(self.dtypes)}
        if self.image_shape is not None:
            out["image_shape"] = list(self.image_shape)
            out["image_mode"] = self.image_mode
        if self.label is not None:
            out["label"] = self.label
        if self.source:
            out["source"] = self.source
        return out


class NotARegularFileError(OSError):
    """An input path names a FIFO, a socket or a device rather than a file (CLI exit 66).

    Opening a FIFO that nobody writes to waits for ever, so such inputs are refused up front;
    data can be piped through standard input (``-``) instead.
    """


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_regular_file(path: str | os.PathLike[str], *, what: str = "data") -> None:
    """Refuse a path that exists but is not a regular file (a folder is the caller's business).

    Raises
    ------
    NotARegularFileError
        For a FIFO, socket or device, naming the path and what it is.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: the open that follows says so
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    hint = (" pipe data through standard input instead ('-')" if what == "data" else
            f" {what} is read from regular files only")
    raise NotARegularFileError(errno.EINVAL, f"it is {kind}, not a regular file (reading it "
                               f"could wait for ever);{hint}", os.fspath(path))


def data_format(path: str) -> str:
    """The input format of ``path``: ``"csv"``, ``"tsv"``, ``"parquet"``, ``"npy"`` or ``"images"``.

    ``"-"`` is CSV on standard input; a folder is an image folder.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    NotARegularFileError
        If ``path`` is a FIFO, a socket or a device.
    ValueError
        If the suffix names no supported format.
    """
    if path == "-":
        return "csv"
    if os.path.isdir(path):
        return "images"
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    check_regular_file(path)
    fmt = INPUT_SUFFIXES.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(INPUT_SUFFIXES))
        raise ValueError(
            f"cannot tell the format of {path} from its suffix {suffix or '(none)'!r}: "
            f"expected one of {known}, or a folder of images."
        )
    return fmt


def select_columns(
    available: Sequence[str], columns: Sequence[str] | None, label: str | None, source: str
) -> list[int]:
    """Positions of the feature columns: ``columns`` in that order, else all but ``label``.

    Raises
    ------
    ValueError
        For an unknown or repeated name, or the label among the features.
    """
    names = list(available)
    wanted = [label] if label is not None else []
    if columns is not None:
        wanted += list(columns)
    unknown = [c for c in wanted if c not in names]
    if unknown:
        shown = names if len(names) <= 20 else [*names[:20], "..."]
        raise ValueError(f"{source} has no column {', '.join(map(repr, unknown))}; "
                         f"its columns are {shown}.")
    if columns is None:
        return [j for j, c in enumerate(names) if c != label]
    repeated = sorted({c for c in columns if list(columns).count(c) > 1})
    if repeated:
        raise ValueError(f"columns repeated in the selection: {repeated}.")
    if label is not None and label in columns:
        raise ValueError(f"the label column {label!r} cannot also be a feature column.")
    return [names.index(c) for c in columns]


def check_shape(n_samples: int, n_features: int, source: str, *, min_samples: int = 1) -> None:
    """scikit-learn's messages for a table without rows or columns."""
    shape = (n_samples, n_features)
    if n_samples < min_samples:
        raise ValueError(f"{source}: Found array with {n_samples} sample(s) (shape={shape}) while "
                         f"a minimum of {min_samples} is required.")
    if n_features < 1:
        raise ValueError(f"{source}: Found array with 0 feature(s) (shape={shape}) while a "
                         "minimum of 1 is required.")


def _column(values: NDArray[np.float64], dtype: np.dtype[Any]) -> Any:
    """A column in its dtype; with gaps (NaN, read with ``allow_nan``), integers and booleans
    become pandas' nullable ``Int64`` / ``boolean``, which hold them (a numpy cast would turn
    a gap into garbage)."""
    gaps = np.isnan(values)
    if not gaps.any() or dtype.kind == "f":
        return values.astype(dtype, copy=False)
    import pandas as pd

    nullable = "boolean" if dtype.kind == "b" else "Int64"
    out = pd.array(np.where(gaps, 0, values).astype(dtype), dtype=nullable)
    out[gaps] = pd.NA
    return out
