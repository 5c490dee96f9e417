"""Quality targets on digits: ``python -m benchmarks.quality [--quick] [--out docs/quality.md]``.

Digits, 25 % held back (stratified, seed 0), default settings. Measures, for the textbook recipe,
the best plain scikit-learn configuration over the same candidate grid, mixsynth's default and
mixsynth's default given the labels: held-out log-likelihood per digit in the original space,
near copies of training digits, generated pixels outside [0, 16], classifier two-sample AUC, and
how often a classifier trained on real digits recognises class-conditional digits.

The scikit-learn baseline is as generous as it can be: textbook PCA (99 %, whitened) and
``sklearn.mixture.GaussianMixture`` for every K and reg_covar of mixsynth's default grid, and the
configuration with the best *test* log-likelihood is reported (an oracle choice). Its density
in the original space uses the same convention as mixsynth's (whitening Jacobian plus a
probabilistic-PCA Gaussian for the discarded directions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

TARGETS = {
    "near_copy": 0.01,
    "out_of_range": 0.0,
    "auc": 0.90,
    "recognition": 0.90,
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grids (for a smoke run)")
    parser.add_argument("--out", default="docs/quality.md")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    import mixsynth
    from mixsynth import Synthesizer, Whitener, evaluate
    from mixsynth.io.atomic import atomic_write
    from mixsynth.synthesizer import DEFAULT_CANDIDATES

    warnings.simplefilter("ignore", UserWarning)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    train, hold, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    n_new = len(hold)
    ks = (1, 2, 4, 8) if args.quick else DEFAULT_CANDIDATES
    regs = (1e-6, 1e-1) if args.quick else (1e-6, 1e-3, 1e-2, 1e-1)
    rows: list[tuple[str, dict[str, float | str]]] = []

    def judge(name: str, model: object, samples: np.ndarray, k: str, seconds: float) -> None:
        rep = evaluate(train, samples, hold, random_state=0, max_rows=2000)
        ll = float(model.score(hold))  # type: ignore[attr-defined]
        rows.append((name, {
            "K": k, "ll": ll, "near": rep.near_copy_rate or 0.0,
            "hold_near": rep.holdout_near_copy_rate or 0.0,
            "oor": float(np.mean((samples < 0) | (samples > 16))),
            "auc": rep.classifier_auc if rep.classifier_auc is not None else float("nan"),
            "seconds": seconds,
        }))
        _log(f"{name}: K={k} held-out ll {ll:.1f}, AUC {rows[-1][1]['auc']:.3f}")

    # 1. the textbook: AIC over K = 50..200 on the training part, raw samples
    t0 = time.perf_counter()
    textbook = Synthesizer(
        reduce=0.99, scale="none", support=None, support_transform=None, guard=False,
        n_components=(list(range(50, 201, 50)) if args.quick else list(range(50, 201, 10))),
        criterion="aic", search="grid", reg_covar=1e-6, random_state=0,
    ).fit(train)
    judge("textbook (PCA 99 %, AIC)", textbook, np.asarray(textbook.sample(n_new, 0)),
          str(textbook.mixture_.n_components), time.perf_counter() - t0)

    # 2. best plain scikit-learn configuration over the same grid (oracle choice on the test)
    t0 = time.perf_counter()
    w = Whitener(0.99, whiten=True, scale="none").fit(train)
    z_train, z_hold = w.transform(train), w.transform(hold)
    residual = w.residual_log_density(hold)
    best: tuple[float, SkGaussianMixture, float] | None = None
    for k in ks:
        for reg in regs:
            gm = SkGaussianMixture(k, reg_covar=reg, random_state=0).fit(z_train)
            ll = float(np.mean(gm.score_samples(z_hold) + residual))
            if best is None or ll > best[0]:
                best = (ll, gm, reg)
    assert best is not None

    class _Sk:  # the fitted scikit-learn pipeline, scored in the original space
        def score(self, Xh: np.ndarray) -> float:
            return float(np.mean(best[1].score_samples(w.transform(Xh))
                                 + w.residual_log_density(Xh)))

    sk_samples = np.clip(np.round(w.inverse_transform(best[1].sample(n_new)[0])), 0, 16)
    judge(f"best scikit-learn over the grid (reg {best[2]:g}), clipped", _Sk(), sk_samples,
          str(best[1].n_components), time.perf_counter() - t0)

    # 3. mixsynth's default, and the default given the labels
    quick_grid = dict(n_components=list(ks), reg_covar=list(regs)) if args.quick else {}
    t0 = time.perf_counter()
    default = Synthesizer(random_state=0, **quick_grid).fit(train)  # type: ignore[arg-type]
    judge("mixsynth default", default, np.asarray(default.sample(n_new, random_state=0)),
          str(default.mixture_.n_components), time.perf_counter() - t0)
    t0 = time.perf_counter()
    cond = Synthesizer(random_state=0, **quick_grid).fit(train, y_train)  # type: ignore[arg-type]
    new, _ = cond.sample(n_new, random_state=0)
    ks_cond = "/".join(str(m.mixture_.n_components) for m in cond.class_models_)
    judge("mixsynth default, fit(X, y)", cond, np.asarray(new), ks_cond,
          time.perf_counter() - t0)
    many, many_labels = cond.sample(2000, random_state=1)
    recognition = float(np.mean(SVC(gamma=0.001).fit(train, y_train).predict(many)
                                == many_labels))
    _log(f"recognition {recognition:.3f}")

    # --- the document
    by = dict(rows)
    d_default, d_cond = by["mixsynth default"], by["mixsynth default, fit(X, y)"]
    sk_name = next(name for name, _ in rows if name.startswith("best scikit-learn"))

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    lines = [
        "# Quality on digits",
        "",
        f"Generated by `python -m benchmarks.quality{' --quick' if args.quick else ''}` on "
        f"{dt.date.today().isoformat()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; mixsynth {mixsynth.__version__}."
        + (" **Quick run: small grids, not the reference numbers.**" if args.quick else ""),
        "",
        "Digits (1797 × 64), 25 % held back (stratified, seed 0); every model is fitted on the "
        "other 75 % and judged on the held-back digits. The scikit-learn row is an oracle: the "
        "best of every K × reg_covar of mixsynth's default grid, chosen by its test score.",
        "",
        "| model | K | held-out log-likelihood / digit | near copies | pixels outside [0, 16] "
        "| two-sample AUC | fit time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['K']} | {r['ll']:,.1f} | {r['near']:.1%} | {r['oor']:.1%} | "
            f"{r['auc']:.3f} | {r['seconds']:.0f} s |"
        )
    lines += [
        "",
        f"Real held-out digits are near copies of training digits {d_default['hold_near']:.1%} "
        "of the time (the threshold is the 5th percentile of training digits' distances to "
        "their nearest neighbour).",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| near-copy rate ≤ 1 % | default {d_default['near']:.1%}, fit(X, y) "
        f"{d_cond['near']:.1%} | {verdict(max(d_default['near'], d_cond['near']) <= 0.01)} |",
        f"| out-of-range pixels 0 % | default {d_default['oor']:.1%}, fit(X, y) "
        f"{d_cond['oor']:.1%} | {verdict(max(d_default['oor'], d_cond['oor']) == 0.0)} |",
        f"| two-sample AUC ≤ 0.90 (aim 0.85) | default {d_default['auc']:.3f}; fit(X, y) "
        f"{d_cond['auc']:.3f} | {verdict(d_default['auc'] <= 0.90)} without labels, "
        f"{verdict(d_cond['auc'] <= 0.90)} with them |",
        f"| held-out log-likelihood ≥ best scikit-learn over the grid "
        f"({by[sk_name]['ll']:,.1f}) | default {d_default['ll']:,.1f}, fit(X, y) "
        f"{d_cond['ll']:,.1f} | {verdict(d_default['ll'] >= by[sk_name]['ll'])} |",
        f"| class-conditional digits recognised ≥ 90 % | {recognition:.1%} "
        f"| {verdict(recognition >= 0.90)} |",
        "",
        "## Reading the numbers",
        "",
        "- mixsynth's default dequantises the integer pixels and maps them through a logit "
        "(`support_transform='auto'`), so its held-out log-likelihood is that of the dequantised "
        "density at each pixel's cell midpoint: close to the log-probability of the integer "
        "digit. The textbook and scikit-learn rows model the pixels as continuous values; their "
        "log-densities at integer points are the usual, directly comparable number for those "
        "models, and the comparison favours them slightly (a density can exceed the mass of a "
        "unit cell).",
        "- Without labels the default's digits stay distinguishable from real ones by a gradient-"
        "boosted classifier (AUC above 0.9): one mixture of a handful of components over all ten "
        "classes blurs the strokes. Given the labels, one model per class, the same default "
        "settings reach the AUC target.",
        "- The textbook's AIC choice has more free parameters than the training digits have "
        "numbers; its held-out log-likelihood collapses and a quarter of its pixels fall outside "
        "[0, 16].",
    ]
    with atomic_write(Path(args.out), "w", overwrite=True) as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
