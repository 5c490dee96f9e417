"""A DataFrame as numbers and category codes, and back in kind.

:class:`TableCodec` learns each column's kind (:mod:`~mixsynth.tables.kinds`) and what restores
it (dtype, observed categories in order, date unit, resolution and time zone, bounds). Then

* :meth:`TableCodec.encode` turns a table into a float block of the numeric columns (NaN for a
  gap) and an int block of the discrete columns' codes (-1 for a gap), both in column order;
* :meth:`TableCodec.decode` turns such blocks back into a DataFrame with the same columns, in
  the same order, with the same dtypes: categories with the same category set and order,
  booleans as bool, integers rounded and clipped to the observed range, dates as dates. A code
  is always one of the observed levels, so no category that was not in the data comes out.

Codecs are plain data (:meth:`TableCodec.to_dict` / :meth:`TableCodec.from_dict`, JSON), so a
model file keeps them without pickling.

The codec itself is here; one column's spec and value conversions are in
:mod:`~mixsynth.tables.columns`, learning a column's kind in :mod:`~mixsynth.tables.inference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mixsynth.tables.columns import ColumnSpec, _dtype_from_json, _from_codes, _to_codes

# table_model.py converts single columns through these two
from mixsynth.tables.columns import _from_numbers as _from_numbers
from mixsynth.tables.columns import _to_numbers as _to_numbers
from mixsynth.tables.inference import _learn
from mixsynth.tables.kinds import ColumnKind

__all__ = ["ColumnSpec", "TableCodec", "is_table"]

Array = NDArray[np.float64]


def is_table(X: Any) -> bool:
    """Whether ``X`` is a DataFrame that needs the table path: a column that is not a plain
    numpy float/int (text, category, bool, nullable, Arrow, dates) or a gap."""
    if not isinstance(X, pd.DataFrame):
        return False
    for dtype in X.dtypes:
        if not (isinstance(dtype, np.dtype) and dtype.kind in "fiu"):
            return True
    return bool(X.isna().to_numpy().any())


class TableCodec:
    """A table's columns as a numeric block and a block of category codes (module docstring).

    Parameters
    ----------
    specs : sequence of ColumnSpec
        One per column, in column order (:meth:`fit` learns them).
    """

    def __init__(self, specs: Sequence[ColumnSpec]) -> None:
        self.specs = tuple(specs)
        self.numeric = [i for i, s in enumerate(self.specs) if not s.is_discrete]
        self.discrete = [i for i, s in enumerate(self.specs) if s.is_discrete]

    # ------------------------------------------------------------------ learning
    @classmethod
    def fit(cls, df: pd.DataFrame, column_kinds: Mapping[Any, str] | None = None) -> TableCodec:
        """Learn the columns of ``df``.

        Raises
        ------
        ValueError
            Naming the column: an all-missing column, an object column mixing types, text that
            does not parse as the dates or numbers asked for, a column of more than
            ``MAX_LEVELS`` levels (:mod:`~mixsynth.tables.kinds`; an identifier-like one only
            warns), an unknown kind or column in ``column_kinds``.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"expected a DataFrame, got {type(df).__name__}.")
        kinds = dict(column_kinds or {})
        unknown = [c for c in kinds if c not in df.columns]
        if unknown:
            raise ValueError(
                f"column_kinds names {unknown[0]!r}, which is not a column; columns are "
                f"{list(df.columns)}."
            )
        if df.columns.has_duplicates:
            dup = df.columns[df.columns.duplicated()][0]
            raise ValueError(f"Column {dup!r} appears more than once; rename it.")
        specs = []
        for name in df.columns:
            if not isinstance(name, (str, int, np.integer)) or isinstance(name, bool):
                raise ValueError(f"Column names must be text or integers, got {name!r}.")
            forced = kinds.get(name)
            kind = None if forced is None else ColumnKind.parse(forced, name)
            specs.append(_learn(name if isinstance(name, str) else int(name), df[name], kind))
        return cls(specs)

    # ------------------------------------------------------------------ layout
    @property
    def columns(self) -> list[Any]:
        return [s.name for s in self.specs]

    @property
    def levels(self) -> tuple[int, ...]:
        """Levels of each discrete column, in order."""
        return tuple(len(self.specs[i].categories) for i in self.discrete)

    def spec(self, name: Any) -> ColumnSpec:
        for s in self.specs:
            if s.name == name:
                return s
        raise ValueError(f"Unknown column {name!r}; columns are {self.columns}.")

    # ------------------------------------------------------------------ encoding
    def encode(self, df: pd.DataFrame) -> tuple[Array, NDArray[np.intp]]:
        """``(numbers (n, numeric columns) with NaN gaps, codes (n, discrete columns) with -1
        gaps)``.

        Raises
        ------
        ValueError
            For missing columns, or a value that is not one of the fitted categories, naming
            the column and the allowed values.
        """
        absent = [s.name for s in self.specs if s.name not in df.columns]
        if absent:
            raise ValueError(f"The feature names should match those seen in fit: column "
                             f"{absent[0]!r} is missing; expected {self.columns}.")
        n = len(df)
        X = np.empty((n, len(self.numeric)))
        for j, i in enumerate(self.numeric):
            X[:, j] = _to_numbers(self.specs[i], df[self.specs[i].name])
        codes = np.empty((n, len(self.discrete)), dtype=np.intp)
        for j, i in enumerate(self.discrete):
            codes[:, j] = _to_codes(self.specs[i], df[self.specs[i].name])
        return X, codes

    def code_of(self, name: Any, value: Any) -> int:
        """The code of one value of a discrete column.

        Raises
        ------
        ValueError
            For an unknown value, naming the column and the allowed values.
        """
        spec = self.spec(name)
        code = int(_to_codes(spec, pd.Series([value], dtype=object))[0])
        if code < 0:
            raise ValueError(f"Column {name!r}: {value!r} is a missing value; give a category "
                             f"among {spec.categories}.")
        return code

    def decode(self, X: Array, codes: NDArray[np.integer]) -> pd.DataFrame:
        """A DataFrame in the fitted columns and dtypes (NaN numbers and -1 codes are gaps)."""
        out: dict[Any, Any] = {}
        num = {i: j for j, i in enumerate(self.numeric)}
        dis = {i: j for j, i in enumerate(self.discrete)}
        for i, s in enumerate(self.specs):
            out[s.name] = (_from_codes(s, np.asarray(codes[:, dis[i]])) if s.is_discrete
                           else _from_numbers(s, np.asarray(X[:, num[i]], dtype=np.float64)))
        return pd.DataFrame(out, columns=pd.Index(self.columns, dtype=object)
                            if any(not isinstance(c, str) for c in self.columns) else None)

    def example(self) -> pd.DataFrame:
        """One row in the fitted columns and dtypes, without a gap: each numeric column at its
        lower bound, each discrete column at its first category (the types of a file of
        generated rows, whichever cells a chunk of them leaves empty)."""
        X = np.array([[self.specs[i].lower for i in self.numeric]]).reshape(1, -1)
        return self.decode(X, np.zeros((1, len(self.discrete)), dtype=np.intp))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The codec as JSON-ready data (NaN bounds as None)."""
        rows = []
        for s in self.specs:
            row = asdict(s)
            for key in ("lower", "upper"):
                row[key] = None if np.isnan(row[key]) else float(row[key])
            rows.append(row)
        return {"columns": rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableCodec:
        """The codec of :meth:`to_dict`'s data.

        Raises
        ------
        ValueError
            When the data does not describe a codec.
        """
        try:
            specs = []
            for row in data["columns"]:
                row = dict(row)
                for key in ("lower", "upper"):
                    row[key] = float("nan") if row.get(key) is None else float(row[key])
                spec = ColumnSpec(**row)
                ColumnKind(spec.kind)
                _dtype_from_json(spec.dtype)
                if spec.is_discrete and not spec.categories:
                    raise ValueError(f"column {spec.name!r} has no categories")
                specs.append(spec)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a table codec: {exc}") from None
        if not specs:
            raise ValueError("not a table codec: no columns")
        return cls(specs)
