"""Column kinds, and the rule that infers a column's kind from its pandas dtype.

=================== ========================================================================
kind                inferred from
=================== ========================================================================
``continuous``      float dtypes (numpy, nullable ``Float64``, Arrow floats)
``integer``         integer dtypes (numpy, nullable ``Int64``..., Arrow integers): modelled
                    as numbers, rounded and clipped to the observed range when sampled
``categorical``     ``object`` / ``str`` / ``string`` (any storage), Arrow strings and
                    dictionaries, unordered ``category``
``ordered``         ordered ``category`` (the order is kept; the model treats the levels as
                    categories)
``boolean``         ``bool``, nullable ``boolean``, Arrow booleans
``datetime``        ``datetime64`` of any unit, tz-aware too, Arrow timestamps; and text
                    columns whose first value looks like an ISO date (``2024-01-31``,
                    ``2024-01-31 12:00``): numbers in their resolution (days, seconds...),
                    restored to the dtype (text columns: to text in the same format)
``timedelta``       ``timedelta64``: numbers in their resolution, restored to the dtype
=================== ========================================================================

An ``object`` column must hold one type of value: text (categorical), booleans (boolean) or
numbers (continuous); mixing them is an error naming the column. ``column_kinds`` overrides the
rule per column (``{"year": "categorical"}`` models a low-cardinality integer column as
categories, ``{"code": "continuous"}`` parses a text column as numbers).

High cardinality
----------------
A column *inferred* categorical with more than :data:`MAX_LEVELS` levels is refused with an
error naming it: each level costs one parameter per component. One with fewer levels that
nevertheless covers most of its rows (more than :data:`MIN_LEVELS_FOR_FRACTION` levels and
more than :data:`DISTINCT_FRACTION` of the observed rows: an identifier, a free-text field, a
small table's many species) is modelled as categorical with a :class:`HighCardinalityWarning`
naming it: its sampled values are copies of observed ones, which for an identifier means
real identifiers (drop such a column). Naming a column in ``column_kinds`` models it whatever
its levels (the warning then says what it costs).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DISCRETE_KINDS",
    "DISTINCT_FRACTION",
    "MAX_LEVELS",
    "MIN_LEVELS_FOR_FRACTION",
    "NUMERIC_KINDS",
    "ColumnKind",
    "HighCardinalityWarning",
]


class ColumnKind(StrEnum):
    """How a column is modelled (and restored)."""

    CONTINUOUS = "continuous"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    ORDERED = "ordered"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TIMEDELTA = "timedelta"

    @classmethod
    def parse(cls, value: str | ColumnKind, column: object) -> ColumnKind:
        """A kind from its name, or a ValueError naming the column and the known kinds."""
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise ValueError(
                f"Unknown kind {value!r} for column {column!r} in column_kinds; known: {known}."
            ) from None


#: Kinds modelled in the Gaussian block.
NUMERIC_KINDS = frozenset(
    {ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME, ColumnKind.TIMEDELTA}
)
#: Kinds modelled as categories.
DISCRETE_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.ORDERED, ColumnKind.BOOLEAN})

#: An inferred categorical column with more levels than this is refused.
MAX_LEVELS = 1000
#: One whose levels cover more than this fraction of its observed rows, when it has more than
#: :data:`MIN_LEVELS_FOR_FRACTION` levels, is modelled with a warning (identifier-like).
DISTINCT_FRACTION = 0.5
MIN_LEVELS_FOR_FRACTION = 50


class HighCardinalityWarning(UserWarning):
    """A categorical column has many levels (identifier-like, or forced by ``column_kinds``):
    it is modelled, at the cost of one parameter per level and component."""
