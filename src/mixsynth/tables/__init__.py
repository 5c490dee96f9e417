"""Tables with categorical, boolean, integer, date and missing values (the data layer).

:mod:`~mixsynth.tables.kinds` names the column kinds and the rule inferring them from pandas
dtypes; :mod:`~mixsynth.tables.codec` turns a DataFrame into a numeric block and a block of
category codes and back in kind (one column's spec and conversions in
:mod:`~mixsynth.tables.columns`, learning its kind in :mod:`~mixsynth.tables.inference`);
:mod:`~mixsynth.tables.mixture` fits the mixed model (the
:class:`~mixsynth.core.families.categorical.Categorical` family) on those blocks.
"""

from mixsynth.tables.codec import ColumnSpec, TableCodec, is_table
from mixsynth.tables.kinds import ColumnKind, HighCardinalityWarning

__all__ = ["ColumnKind", "ColumnSpec", "HighCardinalityWarning", "TableCodec", "is_table"]
