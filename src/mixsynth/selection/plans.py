"""Search plans: which values of K to evaluate, as pure generators.

A plan yields a batch of K values, receives their scores (larger is better) through
``send`` and decides the next batch from them alone; it never fits or stores anything, so the
driver (:func:`~mixsynth.selection.select`) may run the batches of several plans together
(one shared pass over streamed data) or one after the other.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any

from mixsynth.selection.result import Config
from mixsynth.validation import is_count

__all__ = [
    "GRID_LIMIT",
    "Plan",
    "candidate_grid",
    "candidate_ks",
    "coarse_to_fine",
    "coarse_values",
    "expected_count",
    "grid_search",
    "search_plan",
]

#: Up to this many K values per (covariance type, reg_covar) are all tried; more are searched
#: coarse to fine with ``search="auto"``.
GRID_LIMIT = 8

#: Yields batches of K, is sent ``{K: score}`` (larger is better) for each batch.
Plan = Generator[list[int], Mapping[int, float], None]


def candidate_ks(n_components: int | Iterable[int]) -> list[int]:
    """The candidate numbers of components: one integer, or an iterable of them (a range, a
    list), each ``>= 1``; a ValueError naming what was given otherwise (``True``, ``2.5``,
    ``"3"`` and an empty list are not candidates, though Python would convert them)."""
    ks: list[Any] | None = None
    if is_count(n_components):
        ks = [n_components]
    elif isinstance(n_components, Iterable) and not isinstance(n_components, (str, bytes)):
        ks = list(n_components)
    if ks is None or not all(is_count(k) for k in ks):
        raise ValueError(f"n_components must be an integer >= 1 or a sequence of them (a "
                         f"range, a list), got {n_components!r}.")
    if not ks:
        raise ValueError("n_components must name at least one candidate.")
    if any(k < 1 for k in ks):
        raise ValueError(f"Every candidate n_components must be >= 1, got {ks}.")
    return [int(k) for k in ks]


def candidate_grid(
    n_components: int | Iterable[int],
    covariance_type: str | Sequence[str],
    reg_covar: float | Sequence[float] = 1e-6,
) -> list[Config]:
    """All (K, covariance type, reg_covar) triples, K ascending within each group.

    Parameters
    ----------
    n_components : int or iterable of int
    covariance_type : str or sequence of str
    reg_covar : float or sequence of float, default=1e-6

    Returns
    -------
    list of (n_components, covariance_type, reg_covar)
        Grouped by covariance type, then reg_covar.
    """
    ks = candidate_ks(n_components)
    types = [covariance_type] if isinstance(covariance_type, str) else list(covariance_type)
    regs = [float(reg_covar)] if isinstance(reg_covar, (int, float)) else [
        float(r) for r in reg_covar
    ]
    if not types:
        raise ValueError("covariance_type must name at least one covariance type.")
    unknown = set(types) - {"full", "tied", "diag", "spherical"}
    if unknown:
        raise ValueError(
            f"Unknown covariance type(s) {sorted(unknown)}; use full, tied, diag or spherical."
        )
    if not regs or any(r < 0 for r in regs):
        raise ValueError(f"reg_covar values must be >= 0, got {regs}.")
    return [(k, t, r) for t in types for r in regs for k in sorted(set(ks))]


def coarse_values(ks: Sequence[int]) -> list[int]:
    """A spread of about six values of K, the ends included."""
    step = math.ceil(len(ks) / 6)
    idx = sorted({*range(0, len(ks), step), len(ks) - 1})
    return [ks[i] for i in idx]


def grid_search(ks: Sequence[int]) -> Plan:
    """Every value of K, in one batch."""
    yield list(ks)


def coarse_to_fine(ks: Sequence[int], limit: int = GRID_LIMIT) -> Plan:
    """A spread of K first, then the values between the best one's neighbours, until the
    window holds at most ``limit`` values (all evaluated). Ties go to the larger K."""
    lo_i, hi_i = 0, len(ks) - 1
    while True:
        window = list(ks[lo_i : hi_i + 1])
        coarse = window if len(window) <= limit else coarse_values(window)
        scores = yield coarse
        if len(coarse) == len(window):
            return
        best_k = max((scores[k], k) for k in coarse)[1]
        pos = coarse.index(best_k)
        lo_k = coarse[max(pos - 1, 0)]
        hi_k = coarse[min(pos + 1, len(coarse) - 1)]
        lo_i, hi_i = ks.index(lo_k), ks.index(hi_k)


def search_plan(search: str, ks: Sequence[int]) -> Plan:
    """The plan for one (covariance type, reg_covar) group: ``"grid"``, or ``"auto"``
    (coarse to fine above :data:`GRID_LIMIT` values)."""
    if search == "grid" or len(ks) <= GRID_LIMIT:
        return grid_search(ks)
    return coarse_to_fine(ks)


def expected_count(search: str, ks: Sequence[int]) -> int:
    """About how many candidates :func:`search_plan` evaluates (the progress total)."""
    if search == "grid" or len(ks) <= GRID_LIMIT:
        return len(ks)
    return min(len(ks), len(coarse_values(ks)) + 2 * math.ceil(len(ks) / 6))
