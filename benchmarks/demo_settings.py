"""Which setting moves the digits demo's numbers: ``python -m benchmarks.demo_settings``.

On the demo's split (75/25, stratified, seed 0) it fits ``Synthesizer(random_state=0)`` with
one setting changed at a time and prints the chosen K, the held-out log-likelihood per digit
(mean, median, non-finite count) and the classifier AUC of ``mixsynth.evaluate(train,
samples, held_out, random_state=0, max_rows=2000)`` over ``--draws`` draws (mean ± sd):

    python -m benchmarks.demo_settings SETTINGS [--classes] [--fixed K,REG] [--draws N]

``SETTINGS`` is ``none`` or a comma list of ``squeeze=VALUE`` (a fixed logit squeeze instead
of the data's), ``cells=VALUE`` (``support.SQUEEZE_CELLS``), ``nomargin`` (no integer margin),
``noscreen`` (every held-out candidate on every fold), ``realism`` (``criterion="realism"``).
``--fixed K,REG`` fits that one configuration (BIC, no guard) instead of selecting;
``--classes`` also fits the class-conditional model ``fit(X, y)``. Results of 2026-12-03 are in
docs/quality.md. Private names are patched here: a measuring script, not an API.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings")
    parser.add_argument("--classes", action="store_true")
    parser.add_argument("--fixed", default=None)
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import mixsynth.selection.select as select_module
    import mixsynth.synthesizer as synthesizer_module
    from mixsynth import evaluate, support

    settings = set(args.settings.split(",")) - {"none"}
    params: dict[str, Any] = {}
    for s in settings:
        if s.startswith("squeeze="):
            value = float(s.split("=")[1])
            synthesizer_module.squeeze_for = lambda *a, v=value, **k: v  # type: ignore[misc]
        elif s.startswith("cells="):
            support.SQUEEZE_CELLS = float(s.split("=")[1])
        elif s == "nomargin":
            make = synthesizer_module.Synthesizer._make_support_transform

            def no_margin(self: Any, *a: Any, make: Any = make, **k: Any) -> Any:
                t = make(self, *a, **k)
                return None if t is None else dataclasses.replace(t, margin=0.0)

            synthesizer_module.Synthesizer._make_support_transform = no_margin  # type: ignore[method-assign]
        elif s == "noscreen":
            select_module._screening = lambda *a, **k: None
        elif s == "realism":
            params["criterion"] = "realism"
        else:
            parser.error(f"unknown setting {s!r}")
    if args.fixed:
        k, reg = args.fixed.split(",")
        params.update(n_components=int(k), reg_covar=float(reg), criterion="bic", guard=False)

    X, y = load_digits(return_X_y=True)
    train, hold, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    label = ",".join(sorted(settings)) or "none"

    def judge(name: str, model: Any, draw: Callable[[int], np.ndarray]) -> None:
        ll = model.score_samples(hold)
        aucs = [evaluate(train, draw(s), hold, random_state=0, max_rows=2000).classifier_auc
                for s in range(args.draws)]
        print(f"{name} [{label}]: log-lik. mean {np.mean(ll):.2f} median {np.median(ll):.2f} "
              f"non-finite {int(np.sum(~np.isfinite(ll)))}; AUC first draw {aucs[0]:.3f}, "
              f"{args.draws} draws {np.mean(aucs):.3f} ± {np.std(aucs):.3f}", flush=True)

    Synthesizer = synthesizer_module.Synthesizer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t0 = time.perf_counter()
        m = Synthesizer(random_state=0, **params).fit(train)
        b, st = m.selection_.best, m.support_transform_
        print(f"default: {time.perf_counter() - t0:.0f} s, K={b.n_components}, reg "
              f"{b.reg_covar:g}, squeeze {st.eps:.4g}, margin {st.margin:g}")
        judge("default", m, lambda s: np.asarray(m.sample(len(hold), random_state=s)))
        if args.classes:
            t0 = time.perf_counter()
            c = Synthesizer(random_state=0, **params).fit(train, y_train)
            ks = sorted({(mm.selection_.best.n_components, mm.selection_.best.reg_covar)
                         for mm in c.class_models_})
            print(f"fit(X, y): {time.perf_counter() - t0:.0f} s, (K, reg) per class {ks}")
            judge("fit(X, y)", c, lambda s: np.asarray(c.sample(len(hold), random_state=s)[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
