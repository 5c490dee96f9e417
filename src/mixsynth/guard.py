"""The memorisation guard: do generated rows sit closer to the training rows than fresh data?

The chosen configuration is refitted on 80 % of the rows by a probe synthesizer; its generated
rows and the 20 % held back are compared by their distance to the closest training row, against
a near-copy threshold (a low quantile of the training rows' own nearest-neighbour distances).
Every random draw comes from the fit's seed plan, stream ``"guard"`` (parts 0-3: the split,
the probe's fit, its rows, the threshold).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.evaluation import column_scale, near_copy_threshold, nearest_distances
from mixsynth.seeding import SeedPlan, as_generator

if TYPE_CHECKING:
    from mixsynth.synthesizer import Synthesizer

__all__ = ["NEAR_COPY_QUANTILE", "GuardSkippedWarning", "MemorizationWarning",
           "memorization_check"]


class MemorizationWarning(UserWarning):
    """Generated rows sit closer to the training rows than fresh data does."""


class GuardSkippedWarning(UserWarning):
    """The memorisation guard could not measure anything on this data (the message says why);
    ``memorization_`` is ``None``. ``guard=False`` (CLI ``--no-guard``) asks for no guard."""


def _skipped(why: str) -> None:
    warnings.warn(f"memorisation guard skipped: {why}; memorization_ is None (guard=False "
                  "silences this).", GuardSkippedWarning, stacklevel=4)


#: A row closer to a training row than this fraction of training rows are to their own nearest
#: neighbour is a near copy.
NEAR_COPY_QUANTILE = 0.05

#: The guard needs at least this many held-back rows (a fifth of the data) to say anything.
_GUARD_MIN_HOLDOUT = 20


def memorization_check(
    X: NDArray[np.float64], probe: Synthesizer, seeds: SeedPlan, n_components: int
) -> dict[str, Any] | None:
    """Near copies of generated rows vs of held-back real rows, both against the rest.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training rows.
    probe : Synthesizer
        Unfitted, set to the chosen configuration (one candidate, ``criterion="bic"``, no
        guard); it is fitted here on 80 % of the rows.
    seeds : SeedPlan
        The fit's plan; the guard draws from its ``"guard"`` stream.
    n_components : int
        The probe's K (the guard needs twice that many training rows).

    Returns
    -------
    dict or None
        ``near_copy_rate``, ``holdout_near_copy_rate``, ``threshold``,
        ``dcr_synthetic_median``, ``dcr_holdout_median``, ``n_train``, ``n_holdout``,
        ``n_synthetic``, ``warned``; ``None`` when there are too few rows to say anything,
        with a :class:`GuardSkippedWarning` saying why.
    """
    n = X.shape[0]
    n_hold = n // 5
    if n_hold < _GUARD_MIN_HOLDOUT:  # too few rows to measure a near-copy rate on
        _skipped(f"it holds back a fifth of the rows and needs at least {_GUARD_MIN_HOLDOUT} "
                 f"of them, so at least {5 * _GUARD_MIN_HOLDOUT} rows; the data has {n}")
        return None
    if n - n_hold < 2 * max(2, n_components):
        _skipped(f"its refit on {n - n_hold} rows needs at least {2 * max(2, n_components)} "
                 f"(twice the {n_components} components)")
        return None
    order = as_generator(seeds.stream("guard", 0)).permutation(n)
    hold, train = X[order[:n_hold]], X[order[n_hold:]]
    probe.set_params(random_state=seeds.stream("guard", 1))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            probe.fit(train)
    except ValueError as exc:  # e.g. K above the distinct rows of the smaller part
        _skipped(f"its refit on 80 % of the rows failed ({exc})")
        return None
    synthetic, _ = probe.model_.sample(max(n_hold, 200), as_generator(seeds.stream("guard", 2)),
                                       {})
    scale = column_scale(train)
    if not np.any(scale > 0):
        _skipped("every column is constant, so no row is nearer than another")
        return None
    threshold = near_copy_threshold(
        train, scale=scale, quantile=NEAR_COPY_QUANTILE, random_state=seeds.stream("guard", 3)
    )
    d_syn = nearest_distances(train, synthetic, scale=scale)
    d_hold = nearest_distances(train, hold, scale=scale)
    rate = float(np.mean(d_syn <= threshold))
    base = float(np.mean(d_hold <= threshold))
    # A fresh sample is a near copy about NEAR_COPY_QUANTILE of the time by construction of
    # the threshold; the held-back rows measure it, noisily when they are few. Warn when the
    # generated rate is over twice that and significantly above the held-back rate.
    expected = max(base, NEAR_COPY_QUANTILE)
    se = np.sqrt(rate * (1 - rate) / len(d_syn) + expected * (1 - expected) / len(d_hold))
    warned = bool(rate > 2.0 * expected and (rate - base) > 3.0 * se)
    if warned:
        warnings.warn(
            f"Possible memorisation: {rate:.1%} of generated rows are near copies of "
            f"training rows, against {base:.1%} of held-out real rows. Prefer "
            "criterion='heldout', fewer components or a larger reg_covar.",
            MemorizationWarning,
            stacklevel=3,
        )
    return {
        "near_copy_rate": rate,
        "holdout_near_copy_rate": base,
        "threshold": float(threshold),
        "dcr_synthetic_median": float(np.median(d_syn)),
        "dcr_holdout_median": float(np.median(d_hold)),
        "n_train": int(train.shape[0]),
        "n_holdout": int(n_hold),
        "n_synthetic": int(synthetic.shape[0]),
        "warned": bool(warned),
    }
