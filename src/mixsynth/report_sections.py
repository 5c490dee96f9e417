"""What the report says: one function per section of the page, and the page around them.

Each section takes the :class:`_Page` (everything computed once by
:func:`mixsynth.report.build_report`) and returns its HTML, written with the helpers of
:mod:`mixsynth.report_html`.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mixsynth._version import __version__
from mixsynth.evaluation import QualityReport
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.model import PointMass
from mixsynth.plotting import (
    image_moments_figure,
    image_mosaic,
    marginals_figure,
    pair_figure,
    selection_figure,
)
from mixsynth.report_html import (
    _callout,
    _cards,
    _e,
    _figure,
    _num,
    _page,
    _pct,
    _section,
    _table,
)
from mixsynth.seeding import as_generator

if TYPE_CHECKING:
    from mixsynth.synthesizer import Synthesizer

Array = NDArray[np.float64]

#: Image mosaics are sized at 100 pixels per inch: saved so, every pixel lands exactly.
_MOSAIC_DPI = 100
#: Columns listed in the data summary; the rest are counted.
_MAX_TABLE_COLUMNS = 20
#: Columns in the marginal histograms and in the scatter matrix (largest variance first).
_MAX_MARGINALS = 12
_MAX_PAIR = 4
#: Candidates listed before the rest fold away under a <details> element.
_MAX_CANDIDATES = 12
#: Classes whose own selection figure is embedded (each costs tens of kilobytes).
_MAX_CLASS_FIGURES = 12

_CRITERIA = {
    "heldout": "held-out log-likelihood",
    "bic": "BIC",
    "aic": "AIC",
    "realism": "classifier two-sample AUC (realism)",
}

#: Human names of the quality metrics; unknown names are shown as they are.
_METRICS = {
    "heldout_log_likelihood": "Held-out log-likelihood per row",
    "heldout_log_likelihood_median": "Held-out log-likelihood per row (median)",
    "train_log_likelihood": "Training log-likelihood per row",
    "generalisation_gap": "Generalisation gap (train − held-out)",
    "column_shapes": "Column shapes (1 − mean KS statistic)",
    "correlation_similarity": "Correlation similarity",
    "classifier_auc": "Real-vs-synthetic classifier ROC AUC",
    "mmd": "Kernel MMD²",
    "dcr_synthetic_median": "Median distance to closest training row: synthetic",
    "dcr_holdout_median": "Median distance to closest training row: held-out real",
    "near_copy_rate": "Near copies among synthetic rows",
    "holdout_near_copy_rate": "Near copies among held-out real rows",
    "exact_copy_rate": "Exact copies among synthetic rows",
    "out_of_bounds_rate": "Synthetic values outside the training range",
    "out_of_bounds_rows": "Synthetic rows with a value outside the range",
}
_PERCENT_METRICS = frozenset({
    "near_copy_rate", "holdout_near_copy_rate", "exact_copy_rate", "out_of_bounds_rate",
    "out_of_bounds_rows",
})


# ------------------------------------------------------------------------ the page's data


@dataclass(frozen=True)
class _Page:
    """Everything the sections draw on, computed once."""

    model: Any
    X: Array  # every real row
    names: list[str]
    shown: Array  # the real rows in the figures and metrics
    synthetic: Array
    labels: NDArray[Any] | None  # labels of the synthetic rows (class-conditional)
    quality: QualityReport
    computed: bool  # the quality report was computed here
    image_shape: tuple[int, int] | None
    seed: np.random.SeedSequence

    @property
    def classes(self) -> NDArray[Any] | None:
        return getattr(self.model, "classes_", None)


# ------------------------------------------------------------------------------ the words


def _criterion(model: Any) -> str:
    return _CRITERIA.get(model.criterion, str(model.criterion))


def _mixtures(model: Synthesizer) -> list[GaussianMixture | PointMass]:
    """The whitened-space density of each single-class part of the model."""
    return [part.mixture for _, _, part in model.model_.parts()]


def _default_title(model: Any, X: Array, image_shape: tuple[int, int] | None) -> str:
    kind = f"{image_shape[0]}×{image_shape[1]} images" if image_shape else "tabular data"
    return f"Synthetic data report: {len(X):,} rows of {kind}"


def _verdict(model: Any) -> tuple[str, bool]:
    """One line on what was fitted and whether it copies, and whether to alarm."""
    parts = _mixtures(model)
    fitted = [gm for gm in parts if isinstance(gm, GaussianMixture)]  # not point masses
    if model.classes_ is not None:
        ks = [gm.n_components for gm in fitted]
        covs = sorted({gm.covariance_type for gm in fitted})
        span = f"K {min(ks)}–{max(ks)}" if ks and min(ks) != max(ks) else f"K={ks[0] if ks else 0}"
        what = (f"{len(parts)} classes, one mixture each ({span}, "
                f"{'/'.join(covs) or 'no'} covariance), chosen by {_criterion(model)}")
    elif not fitted:
        what = "every column is constant: the model repeats the one row it saw"
    else:
        gm = fitted[0]
        k = gm.n_components
        what = (f"K={k} {gm.covariance_type}-covariance component{'s' if k != 1 else ''} in "
                f"{model.whitener_.n_components_} whitened dimensions, chosen by "
                f"{_criterion(model)}")
    guard = getattr(model, "memorization_", None)
    if guard is None:
        return f"{what}; memorisation guard not run.", False
    copies = (f"near copies {_pct(guard['near_copy_rate'])} of generated rows vs "
              f"{_pct(guard['holdout_near_copy_rate'])} of real held-out rows")
    if guard["warned"]:
        return f"Possible memorisation: {copies}. Model: {what}.", True
    return f"{what}; {copies}.", False


# ---------------------------------------------------------------------------- the sections


def _data_section(page: _Page) -> str:
    X, names = page.X, page.names
    n, d = X.shape
    lo, hi = X.min(axis=0), X.max(axis=0)
    constant = lo == hi
    integer = np.all(X == np.round(X), axis=0)
    const_names = [names[j] for j in np.flatnonzero(constant)]
    listed = ", ".join(_e(c) for c in const_names[:8]) + (" …" if len(const_names) > 8 else "")
    cards = _cards([
        ("Rows", _num(n), ""),
        ("Columns", _num(d), ""),
        ("Integer-valued", _num(int(integer.sum())), "rounded when sampling"),
        ("Constant", _num(len(const_names)), listed or "none"),
    ])
    rows, classes = [], []
    for j in range(min(d, _MAX_TABLE_COLUMNS)):
        col = X[:, j]
        kind = "constant" if constant[j] else ("integer" if integer[j] else "continuous")
        rows.append([_e(names[j]), _num(lo[j]), _num(hi[j]), _num(col.mean()), _num(col.std()),
                     kind])
        classes.append("muted" if constant[j] else "")
    more = d - len(rows)
    caption = f"Per-column summary of all {n:,} rows"
    if more:
        caption += f": the first {len(rows)} of {d} columns ({more} more not shown)"
    table = _table(["column", "min", "max", "mean", "std", "kind"], rows, caption=caption,
                   row_classes=classes, numeric=[False, True, True, True, True, False])
    if page.image_shape is not None:  # pixels are better seen as pictures (see below)
        table = (f"<details><summary>Per-pixel summary ({d} columns)</summary>{table}"
                 "</details>")
    return _section("data", "Data", cards + table)


def _selection_section(page: _Page) -> str:
    model = page.model
    if page.classes is not None:
        return _section("selection", "Model selection", _class_selection(page),
                        lead=f"One mixture per class, each chosen by {_criterion(model)}.")
    if model.selection_ is None:
        return _section("selection", "Model selection",
                        _callout("info", "No selection was run: every column is constant."))
    sel = model.selection_
    best = sel.best
    direction = "higher" if sel.higher_is_better else "lower"
    lead = (f"{len(sel.candidates)} candidates scored by {_e(_criterion(model))} "
            f"({direction} is better); the chosen one is K = {best.n_components}, "
            f"{_e(best.covariance_type)} covariance, reg_covar = {best.reg_covar:g}.")
    fig = _figure(selection_figure(sel),
                  alt=(f"Model selection curve: {_criterion(model)} against the number of "
                       f"components K for each covariance setting; the chosen K = "
                       f"{best.n_components} is marked with a gold star."),
                  caption="The criterion against K; the gold star is the chosen candidate.")
    notes = "".join(f"<li>{_e(note)}</li>" for note in sel.notes)
    body = fig + _candidate_table(sel) + (f'<ul class="notes">{notes}</ul>' if notes else "")
    return _section("selection", "Model selection", body, lead=lead)


def _candidate_table(sel: Any) -> str:
    """Candidates best first; the winner highlighted, abandoned ones greyed, the tail folded."""
    sign = -1.0 if sel.higher_is_better else 1.0

    def key(i: int) -> tuple[int, float]:
        c = sel.candidates[i]
        score = c.score if np.isfinite(c.score) else math.inf
        return (int(c.abandoned), sign * score if np.isfinite(score) else math.inf)

    order = sorted(range(len(sel.candidates)), key=key)
    heldout = sel.criterion == "heldout"
    score_head = "held-out log-lik / row ± SE" if heldout else sel.criterion.upper()
    other = [] if heldout else ["AIC" if sel.criterion == "bic" else "BIC"]
    header = ["rank", "K", "covariance", "reg_covar", score_head, *other, "parameters",
              "converged", "fit time"]
    numeric = [True, True, False, True, True, *[True] * len(other), True, False, True]
    rows, classes = [], []
    for rank, i in enumerate(order, start=1):
        c = sel.candidates[i]
        score = _num(c.score, 6)
        if heldout and c.score_se:
            score += f" ± {_num(c.score_se, 2)}"
        extra = [] if heldout else [_num(c.aic if sel.criterion == "bic" else c.bic, 6)]
        flag = ""
        if i == sel.best_index:
            flag = ' <span class="badge">chosen</span>'
        elif c.abandoned:
            flag = ' <span class="badge grey">abandoned</span>'
        rows.append([f"{rank}{flag}", _num(c.n_components), _e(c.covariance_type),
                     f"{c.reg_covar:g}", score, *extra, _num(c.n_parameters),
                     "yes" if c.converged else '<span class="bad">no</span>',
                     f"{c.fit_time:.2f} s"])
        classes.append("best" if i == sel.best_index else ("muted" if c.abandoned else ""))
    caption = "Candidates, best first"
    head = _table(header, rows[:_MAX_CANDIDATES], caption=caption,
                  row_classes=classes[:_MAX_CANDIDATES], numeric=numeric)
    if len(rows) <= _MAX_CANDIDATES:
        return head
    tail = _table(header, rows[_MAX_CANDIDATES:], row_classes=classes[_MAX_CANDIDATES:],
                  numeric=numeric)
    return (head + f"<details><summary>{len(rows) - _MAX_CANDIDATES} more candidates"
            f"</summary>{tail}</details>")


def _class_selection(page: _Page) -> str:
    model = page.model
    rows = []
    for c, prior, m in zip(model.classes_, model.class_priors_, model.class_models_,
                           strict=True):
        gm, sel = m.mixture_, m.selection_
        rows.append([
            _e(_plain(c)), _pct(prior),
            _num(gm.n_components) if gm is not None else "—",
            _e(gm.covariance_type) if gm is not None else "—",
            f"{sel.best.reg_covar:g}" if sel is not None else "—",
            _num(m.whitener_.n_components_), _num(m.n_parameters_),
            _num(sel.best.score, 6) if sel is not None else "—",
            "yes" if gm is None or gm.converged_ else '<span class="bad">no</span>',
        ])
    table = _table(["class", "share", "K", "covariance", "reg_covar", "PCA dims", "parameters",
                    _e(_criterion(model)), "converged"], rows,
                   caption="The chosen mixture of each class",
                   numeric=[False, True, True, False, True, True, True, True, False])
    folded = []
    for c, m in list(zip(model.classes_, model.class_models_, strict=True))[:_MAX_CLASS_FIGURES]:
        if m.selection_ is None:
            continue
        fig = _figure(selection_figure(m.selection_),
                      alt=f"Model selection curve of class {_plain(c)}: {_criterion(model)} "
                          f"against K; the chosen K = {m.selection_.best.n_components} is "
                          "marked with a gold star.")
        folded.append(f"<details><summary>Class {_e(_plain(c))}: K = "
                      f"{m.selection_.best.n_components}, {len(m.selection_.candidates)} "
                      f"candidates</summary>{fig}{_candidate_table(m.selection_)}</details>")
    return table + "".join(folded)


def _samples_section(page: _Page) -> str:
    body = _image_samples(page) if page.image_shape is not None else _tabular_samples(page)
    lead = (f"{len(page.shown):,} real rows against {len(page.synthetic):,} generated rows "
            "(blue: real, orange: synthetic)." if page.image_shape is None else
            "Real images on the left, generated ones on the right, on the same grey scale.")
    return _section("samples", "Generated vs real", body, lead=lead)


def _image_samples(page: _Page) -> str:
    model, shape = page.model, page.image_shape
    assert shape is not None
    vmin = float(np.min(model.lower_bounds_))
    vmax = float(np.max(model.upper_bounds_))
    if vmax <= vmin:
        vmax = vmin + 1.0
    rng = as_generator(page.seed)
    n_real = min(100, len(page.shown))
    real = page.shown[rng.choice(len(page.shown), n_real, replace=False)]
    caption_gen = "100 generated images, in random order"
    generated = page.synthetic[:100]
    classes = page.classes
    if classes is not None and len(classes) <= 10:
        # one row per class shows that every class is learnt
        rows = [np.asarray(model.sample(10, random_state=rng, y=c)[0], dtype=np.float64)
                for c in classes]
        generated = np.concatenate(rows)
        caption_gen = ("Generated images, one row per class: "
                       + ", ".join(_e(_plain(c)) for c in classes))
    # a zoom that makes a row of 10 tiles about 500 pixels wide, whatever the image size
    zoom = max(1, round(48 / max(shape)))
    grid_real = _figure(
        image_mosaic(real, shape=(max(1, math.ceil(n_real / 10)), 10), image_shape=shape,
                     vmin=vmin, vmax=vmax, zoom=zoom),
        alt=f"A grid of {n_real} real images of {shape[0]} by {shape[1]} pixels, dark ink on "
            "white.",
        caption=f"{n_real} real images, drawn at random", dpi=_MOSAIC_DPI, pixelated=True)
    grid_gen = _figure(
        image_mosaic(generated, shape=(max(1, math.ceil(len(generated) / 10)), 10),
                     image_shape=shape, vmin=vmin, vmax=vmax, zoom=zoom),
        alt=f"A grid of {len(generated)} generated images of {shape[0]} by {shape[1]} pixels, "
            "on the same grey scale as the real ones.",
        caption=caption_gen, dpi=_MOSAIC_DPI, pixelated=True)
    moments = _figure(
        image_moments_figure(page.shown, page.synthetic, image_shape=shape),
        alt="Per-pixel mean and standard deviation of the real images beside those of the "
            "generated images; similar pictures mean the pixels' first two moments match.",
        caption="Per-pixel mean and standard deviation, real beside synthetic.")
    return f'<div class="pair">{grid_real}{grid_gen}</div>{moments}'


def _tabular_samples(page: _Page) -> str:
    R, S, names = page.shown, page.synthetic, page.names
    variance = R.var(axis=0)
    varying = np.flatnonzero(variance > 0)
    if len(varying) == 0:
        return _callout("info", "Every column is constant: there is nothing to compare.")
    # the most variable columns, shown in the data's own order
    by_variance = varying[np.argsort(-variance[varying], kind="stable")]
    cols = np.sort(by_variance[:_MAX_MARGINALS])
    integer = page.model.integer_columns_
    ks = page.quality.ks_statistics
    notes = [f"KS {ks[names[j]]:.3f}" if names[j] in ks else "" for j in cols]
    chosen = (f"all {len(cols)} non-constant columns" if len(cols) == len(varying) else
              f"the {len(cols)} of {len(varying)} non-constant columns with the largest variance")
    marg = _figure(
        marginals_figure(R[:, cols], S[:, cols], names=[names[j] for j in cols],
                         integer=integer[cols], notes=notes),
        alt=(f"Histograms of {chosen}, real values as filled blue bars and synthetic values "
             "as an orange outline; matching shapes mean matching marginal distributions."),
        caption=(f"Marginal distributions of {_e(chosen)}; under each name the "
                 "Kolmogorov–Smirnov statistic (0 = identical, 1 = disjoint)."))
    if len(varying) < 2:
        return marg
    pcols = _most_related(R, varying, _MAX_PAIR)
    pair_names = [names[j] for j in pcols]
    pair = _figure(
        pair_figure(R[:, pcols], S[:, pcols], names=pair_names, integer=integer[pcols]),
        alt=(f"Scatter matrix of the columns {', '.join(pair_names)}: real rows in blue and "
             "synthetic rows in orange, overlapping clouds mean matching joint distributions; "
             "histograms on the diagonal."),
        caption=(f"Pairs of the {len(pcols)} columns most correlated with the others (real "
                 "data); marginal histograms on the diagonal."))
    return marg + pair


def _most_related(R: Array, varying: NDArray[np.intp], k: int) -> NDArray[np.intp]:
    """The ``k`` columns whose correlations with the others are strongest, in data order.

    A scatter matrix earns its space by showing dependence; ranking columns by the sum of their
    squared correlations finds it whatever the columns' units (variance would not).
    """
    if len(varying) <= k:
        return np.sort(varying)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(R[:, varying], rowvar=False))
    strength = (corr**2).sum(axis=0) - 1.0
    return np.sort(varying[np.argsort(-strength, kind="stable")[:k]])


def _quality_section(page: _Page) -> str:
    q = page.quality
    rows = []
    for name, _, direction in q.summary():
        raw = getattr(q, name, None)
        if raw is None:
            shown = '<span class="skip">skipped</span>'
        else:
            shown = _pct(raw) if name in _PERCENT_METRICS else _num(raw)
        label = _METRICS.get(name, name)
        rows.append([f'{_e(label)}<br><code>{_e(name)}</code>', shown, _e(direction)])
    if page.computed:
        held = f" and {q.n_holdout:,} held-out real rows" if q.n_holdout else ""
        source = (f"Computed here: {q.n_train:,} real rows{held} against {q.n_synthetic:,} "
                  f"rows generated for this report at temperature {q.temperature:g}, with "
                  "the model's own log-likelihoods.")
    else:
        at = "" if q.temperature is None else f" (drawn at temperature {q.temperature:g})"
        source = (f"As given: {q.n_train:,} training rows, {q.n_synthetic:,} synthetic rows"
                  f"{at} and {q.n_holdout:,} held-out rows.")
    cards = _cards([
        ("Classifier AUC", _num(q.classifier_auc, 3), "0.5: indistinguishable"),
        ("Column shapes", _num(q.column_shapes, 3), "1: identical marginals"),
        ("Correlations", _num(q.correlation_similarity, 3), "1: identical"),
        ("Out of range", _pct(q.out_of_bounds_rows), "of synthetic rows"),
    ])
    table = _table(["metric", "value", "what is better"], rows, caption="Quality metrics",
                   numeric=[False, True, False])
    skipped = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in q.skipped.items())
    extra = (f'<details><summary>{len(q.skipped)} metrics skipped</summary>'
             f'<ul class="notes">{skipped}</ul></details>' if skipped else "")
    return _section("quality", "Quality", cards + table + extra, lead=_e(source))


def _memorisation_section(page: _Page) -> str:
    model = page.model
    guard = getattr(model, "memorization_", None)
    title = "Memorisation guard"
    if guard is None:
        return _section("memorisation", title, _callout(
            "info", f"The guard did not run: {_e(_guard_reason(model))}."))
    rate, base = guard["near_copy_rate"], guard["holdout_near_copy_rate"]
    if guard["warned"]:
        status = _callout("warn", (
            f"<strong>Possible memorisation.</strong> {_pct(rate)} of generated rows are near "
            f"copies of training rows, against {_pct(base)} of real rows held out from "
            "training. Prefer criterion='heldout', fewer components or a larger reg_covar."))
    else:
        status = _callout("ok", (
            f"<strong>No sign of memorisation.</strong> {_pct(rate)} of generated rows are "
            f"near copies of training rows, against {_pct(base)} of real held-out rows."))
    explain = ("The guard refits the chosen configuration on 80 % of the rows, generates rows, "
               "and counts how many land closer to a training row than 95 % of training rows "
               "are to their own nearest neighbour; the 20 % held back measure what fresh real "
               "rows get.")
    labels = {
        "near_copy_rate": ("Near copies among generated rows", _pct),
        "holdout_near_copy_rate": ("Near copies among held-out real rows", _pct),
        "threshold": ("Near-copy distance threshold", _num),
        "dcr_synthetic_median": ("Median distance to closest training row: generated", _num),
        "dcr_holdout_median": ("Median distance to closest training row: held-out", _num),
        "n_train": ("Training rows", _num),
        "n_holdout": ("Held-out rows", _num),
        "n_synthetic": ("Generated rows", _num),
    }
    rows = [[_e(label), fmt(guard[key])] for key, (label, fmt) in labels.items() if key in guard]
    body = status + f"<p>{explain}</p>" + _table(["measure", "value"], rows,
                                                  numeric=[False, True], narrow=True)
    per_class = guard.get("per_class")
    if per_class is not None and page.classes is not None:
        crow, ccls = [], []
        for c, part in zip(page.classes, per_class, strict=True):
            crow.append([_e(_plain(c)), _pct(part["near_copy_rate"]),
                         _pct(part["holdout_near_copy_rate"]),
                         '<span class="bad">warned</span>' if part["warned"] else "ok"])
            ccls.append("warn" if part["warned"] else "")
        body += _table(["class", "generated near copies", "held-out near copies", "result"],
                       crow, caption="Per class (the rates above are weighted by class share)",
                       row_classes=ccls, numeric=[False, True, True, False], narrow=True)
    return _section("memorisation", title, body)


def _guard_reason(model: Any) -> str:
    """Why ``memorization_`` is ``None``, in the synthesizer's own terms."""
    if not model.get_params().get("guard", True):
        return "the guard is off (guard=False)"
    parts = _mixtures(model)
    if any(isinstance(gm, PointMass) for gm in parts):
        return "there is no mixture to probe (every column is constant)"
    where = " in every class" if len(parts) > 1 else ""
    return (f"it needs at least 100 rows{where}, and a chosen configuration it can refit on "
            "80 % of them")


def _model_card_section(page: _Page) -> str:
    import matplotlib
    import scipy
    import sklearn

    model = page.model
    fitted: list[tuple[str, str]] = []
    if page.classes is not None:
        fitted.append(("Kind", f"class-conditional: {len(page.classes)} classes"))
        shares = ", ".join(f"{_e(_plain(c))}: {_pct(p)}"
                           for c, p in zip(page.classes, model.class_priors_, strict=True))
        fitted.append(("Classes and priors", shares))
    else:
        fitted.append(("Kind", "one mixture"))
    gm = getattr(model, "mixture_", None)
    if gm is not None:
        fitted += [
            ("Components K", _num(gm.n_components)),
            ("Covariance type", _e(gm.covariance_type)),
            ("reg_covar", f"{model.selection_.best.reg_covar:g}" if model.selection_ else "—"),
            ("Converged", f"{'yes' if gm.converged_ else 'no'} ({gm.n_iter_} EM iterations)"),
        ]
    if getattr(model, "whitener_", None) is not None:
        w = model.whitener_
        kept = float(np.sum(w.explained_variance_ratio_)) if w.n_components_ else 0.0
        fitted.append(("PCA dimensions",
                       f"{w.n_components_} of {model.n_features_in_} columns "
                       f"({100 * kept:.1f} % of the variance)"))
    fitted += [
        ("Free parameters", _num(model.n_parameters_)),
        ("Selection criterion", _e(_criterion(model))),
        ("Seed (random_state)", _e(repr(model.random_state))),
        ("Integer-valued columns", _num(int(np.sum(model.integer_columns_)))),
    ]
    params = [[f"<code>{_e(k)}</code>", f"<code>{_e(repr(v))}</code>"]
              for k, v in sorted(model.get_params(deep=False).items())]
    versions = [
        ("mixsynth", __version__), ("numpy", np.__version__), ("scipy", scipy.__version__),
        ("scikit-learn", sklearn.__version__), ("matplotlib", matplotlib.__version__),
        ("Python", platform.python_version()),
    ]
    body = (
        '<div class="columns"><div>'
        + _table(["fitted", "value"], [[k, v] for k, v in fitted], caption="The fitted model")
        + _table(["package", "version"], [[k, _e(v)] for k, v in versions], caption="Versions")
        + "</div><div>"
        + _table(["parameter", "value"], params, caption="Settings (<code>get_params()</code>)")
        + "</div></div>"
    )
    return _section("model", "Model card", body)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------------------ the page


def _document(heading: str, page: _Page, sections: Sequence[str]) -> str:
    verdict, alarm = _verdict(page.model)
    nav = [("data", "Data"), ("selection", "Model selection"), ("samples", "Generated vs real"),
           ("quality", "Quality"), ("memorisation", "Memorisation"), ("model", "Model card")]
    return _page(heading, page.X.shape, verdict, alarm, nav, sections, figures=True)
