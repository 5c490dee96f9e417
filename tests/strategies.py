"""Hypothesis strategies and small problem generators, kept in one place."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from mixsynth.core import Params, precisions_cholesky_from_covariances

COV_TYPES = ("full", "tied", "diag", "spherical")


def random_covariances(
    rng: np.random.Generator, K: int, d: int, covariance_type: str, *, correlated: bool = True
) -> np.ndarray:
    """Well-conditioned random covariances of the given type."""
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d)) if correlated else np.zeros((K, d, d))
        return A @ np.swapaxes(A, 1, 2) / d + np.eye(d) * rng.uniform(0.2, 1.0, size=(K, 1, 1))
    if covariance_type == "tied":
        A = rng.normal(size=(d, d))
        return A @ A.T / d + 0.5 * np.eye(d)
    if covariance_type == "diag":
        return rng.uniform(0.2, 2.0, size=(K, d))
    return rng.uniform(0.2, 2.0, size=K)


def random_params(
    rng: np.random.Generator, K: int, d: int, covariance_type: str, *, spread: float = 3.0
) -> Params:
    w = rng.dirichlet(np.ones(K) * 2.0)
    means = rng.normal(scale=spread, size=(K, d))
    cov = random_covariances(rng, K, d, covariance_type)
    return Params(w, means, precisions_cholesky_from_covariances(cov, covariance_type),
                  covariance_type)


@st.composite
def chunkings(draw: st.DrawFn, n: int) -> list[int]:
    """Split points of ``range(n)`` into chunks, empty chunks allowed."""
    cuts = draw(st.lists(st.integers(0, n), max_size=6))
    return sorted(cuts)


#: The kinds of mess :func:`messy_tables` draws, each a way a careless user's table breaks
#: a naive fit (issue 14 item 6).
MESS = ("outlier", "duplicates", "tiny", "huge", "tiny_scale", "offset", "mixed_scales",
        "constant_column", "collinear", "one_odd_row", "all_identical")


@st.composite
def messy_tables(draw: st.DrawFn, max_rows: int = 40, max_cols: int = 4) -> tuple[str, np.ndarray]:
    """``(kind, X)``: a small numeric table with one or two kinds of mess from :data:`MESS`.

    The values come from a generator seeded by the draw (so shrinking keeps the table whole);
    tiny tables go down to 2 rows, below every default number of folds.
    """
    kinds = draw(st.lists(st.sampled_from(MESS), min_size=1, max_size=2, unique=True))
    n = draw(st.integers(2, max_rows))
    d = draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(n, d))
    for kind in kinds:
        n = X.shape[0]  # "tiny" may have cut the rows
        if kind == "outlier":
            X[rng.integers(n)] = rng.normal(size=d) * 10.0 ** rng.integers(3, 9)
        elif kind == "duplicates":
            X = X[rng.integers(0, max(1, n // 4), size=n)]
        elif kind == "tiny":
            X = X[: draw(st.integers(2, 4))]
        elif kind == "huge":
            X = X * 1e150
        elif kind == "tiny_scale":
            X = X * 1e-150
        elif kind == "offset":
            X = X + 1e12
        elif kind == "mixed_scales":
            X = X * np.logspace(-100, 150, X.shape[1])
        elif kind == "constant_column":
            X[:, rng.integers(X.shape[1])] = rng.normal()
        elif kind == "collinear" and X.shape[1] > 1:
            X[:, -1] = 2.0 * X[:, 0] + 1.0
        elif kind == "one_odd_row":
            X = np.repeat(X[:1], X.shape[0], axis=0)
            X[-1] += 1.0
        elif kind == "all_identical":
            X = np.repeat(X[:1], X.shape[0], axis=0)
    return "+".join(kinds), np.ascontiguousarray(X)


@st.composite
def messy_mixed_tables(draw: st.DrawFn, max_rows: int = 40) -> tuple[str, pd.DataFrame]:
    """``(kind, df)``: a :func:`messy_tables` table (zero to three numeric columns) beside one or
    two text columns of one to four levels, with or without gaps in them and in a numeric
    column: the mixed model's inputs at their messiest."""
    import pandas as pd

    kind, X = draw(messy_tables(max_rows=max_rows, max_cols=3))
    X = X[:, : draw(st.integers(0, X.shape[1]))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = X.shape[0]
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    one_point = "identical" in kind or "one_odd_row" in kind
    for j in range(draw(st.integers(1, 2))):
        levels = [f"l{i}" for i in range(draw(st.integers(1, 4)))]
        col = pd.Series(rng.choice(levels[:1] if one_point else levels, n), dtype=object)
        if draw(st.booleans()):
            col[rng.random(n) < 0.2] = None
        df[f"c{j}"] = col
    if X.shape[1] and draw(st.booleans()):
        df.iloc[int(rng.integers(n)), 0] = np.nan
    return kind, df
