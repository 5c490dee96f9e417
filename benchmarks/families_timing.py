"""Per-iteration time of a mixture of factor analysers against full covariance (issue 12).

One EM iteration (the E-step statistics over all rows, then the M-step) at n = 20,000,
d = 200, K = 20, q = 5, for ``"factor(5)"`` and ``"full"``, each the median of 3 runs, on data
drawn from a mixture of factor analysers, from parameters near the truth (as EM sees them after
its first iterations). Run: ``python -m benchmarks.families_timing [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from statistics import median

import numpy as np
from threadpoolctl import threadpool_limits

from mixsynth.core import Params, Stats, m_step, precisions_cholesky_from_covariances, suffstats
from mixsynth.core.families.factor import factor, factor_covariances


def _iteration(X: np.ndarray, params: Params) -> Callable[[], Stats]:
    def run() -> Stats:
        stats = suffstats(X, params)
        m_step(stats, 1e-6)
        return stats

    return run


def _median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times), times


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--K", type=int, default=20)
    parser.add_argument("--q", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    n, d, K, q = args.n, args.d, args.K, args.q
    rng = np.random.default_rng(0)
    truth = factor(q).params(
        rng.dirichlet(np.full(K, 5.0)), rng.normal(scale=2.0, size=(K, d)),
        rng.normal(size=(K, d, q)), rng.uniform(0.5, 1.5, size=(K, d)),
    )
    X = np.empty((n, d))
    labels = rng.choice(K, size=n, p=truth.weights)
    for k in range(K):
        rows = labels == k
        Z = rng.normal(size=(int(rows.sum()), q))
        X[rows] = (truth.means[k] + Z @ truth.extra["loadings"][k].T
                   + rng.normal(size=(int(rows.sum()), d))
                   * np.sqrt(truth.extra["noise_variance"][k]))
    start_fa = factor(q).params(
        truth.weights, truth.means + 0.1 * rng.normal(size=(K, d)),
        truth.extra["loadings"] * 1.1, truth.extra["noise_variance"] * 0.9,
    )
    cov = factor_covariances(start_fa.extra["loadings"], start_fa.extra["noise_variance"])
    start_full = Params(start_fa.weights, start_fa.means,
                        precisions_cholesky_from_covariances(cov, "full"), "full")
    out: dict[str, object] = {"n": n, "d": d, "K": K, "q": q, "repeats": args.repeats,
                              "threads": args.threads}
    with threadpool_limits(args.threads) if args.threads else threadpool_limits(None):
        for name, params in (("factor", start_fa), ("full", start_full)):
            med, times = _median_seconds(_iteration(X, params), args.repeats)
            out[f"{name}_seconds_median"] = round(med, 3)
            out[f"{name}_seconds"] = [round(t, 3) for t in times]
    out["full_over_factor"] = round(
        float(out["full_seconds_median"]) / float(out["factor_seconds_median"]), 1  # type: ignore[arg-type]
    )
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
