"""One self-contained HTML page about a fitted :class:`~mixsynth.Synthesizer`.

:func:`build_report` returns the page as a string: the data, the model selection, generated rows
beside real ones, quality metrics, the memorisation guard and a model card. Figures are drawn
with matplotlib's object API on an Agg canvas (:mod:`mixsynth.plotting`) and embedded as
base64 PNG ``data:`` URIs; the style sheet is inline and there is no script, so the file opens
offline, in any browser, forever. Writing it is the caller's business: :func:`write_report` is
the atomic writer for it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import check_is_fitted

from mixsynth._version import __version__
from mixsynth.core import check_temperature
from mixsynth.evaluation import QualityReport, evaluate
from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.io.atomic import atomic_write
from mixsynth.model import PointMass
from mixsynth.plotting import (
    image_moments_figure,
    image_mosaic,
    marginals_figure,
    pair_figure,
    selection_figure,
)
from mixsynth.seeding import SeedLike, as_generator, spawn_seeds
from mixsynth.validation import check_input

if TYPE_CHECKING:
    from mixsynth.synthesizer import Synthesizer

__all__ = ["build_report", "write_report"]

Array = NDArray[np.float64]

#: Figures are rendered at this many pixels per inch and shown at ``_CSS_PPI`` CSS pixels per
#: inch: 1.6 device pixels per CSS pixel keeps text sharp on high-density screens at a
#: fraction of the bytes of 2x.
_DPI = 160
_CSS_PPI = 100
#: Image mosaics are sized at 100 pixels per inch: saved so, every pixel lands exactly.
_MOSAIC_DPI = 100
#: Real rows that enter the figures and the quality metrics (a random subset beyond this).
_MAX_ROWS = 2000
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


# ------------------------------------------------------------------------------- public API


def build_report(
    model: Any,
    data: ArrayLike,
    *,
    quality: QualityReport | None = None,
    title: str | None = None,
    image_shape: tuple[int, int] | None = None,
    random_state: SeedLike = 0,
    n_samples: int | None = None,
    holdout: ArrayLike | None = None,
    temperature: float = 1.0,
) -> str:
    """Describe a fitted synthesizer and its data as one self-contained HTML document.

    Parameters
    ----------
    model : Synthesizer
        Fitted, plain or class-conditional.
    data : array-like or DataFrame of shape (n_samples, n_features)
        The real rows (typically those the model was fitted on). At most 2000 of them, drawn
        at random, enter the figures and the quality metrics.
    quality : QualityReport, optional
        Shown as it is when given; otherwise :func:`~mixsynth.evaluate` compares the real rows
        with ``n_samples`` generated ones (the model's own log-likelihoods included).
    title : str, optional
        The page's title; a description of the data when not given.
    image_shape : (int, int), optional
        The rows are images of this height and width (``(8, 8)`` for the digits): real and
        generated images are shown as grids instead of per-column histograms.
    random_state : None, int, Generator or SeedSequence, default=0
        Seeds the subset of real rows, the generated rows and the metrics; the same seed gives
        the same figures and numbers (the date aside).
    n_samples : int, optional
        Generated rows to compare; as many as the real rows shown (at least 100) when not given.
    holdout : array-like or DataFrame of shape (n_holdout, n_features), optional
        Real rows the model never saw: the metrics that need them (held-out log-likelihood,
        generalisation gap, distances and near copies against fresh rows) are computed
        (at most 2000, drawn at random) instead of skipped. Ignored when ``quality`` is given.
    temperature : float, default=1.0
        The temperature the generated rows are drawn at
        (:meth:`~mixsynth.Synthesizer.sample`); stated in the report and its metrics.

    Returns
    -------
    html : str
        A complete HTML5 document: inline CSS, figures as PNG ``data:`` URIs, no script and no
        external resource. Nothing is written anywhere (see :func:`write_report`).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ValueError
        If ``data`` does not have the model's columns, ``image_shape`` does not match them, or
        ``n_samples`` is not a positive integer.
    """
    check_is_fitted(model, "integer_columns_")
    X, names = _validated_data(model, data)
    d = X.shape[1]
    if image_shape is not None:
        image_shape = (int(image_shape[0]), int(image_shape[1]))
        if image_shape[0] * image_shape[1] != d or min(image_shape) < 1:
            raise ValueError(
                f"image_shape={image_shape!r} needs {image_shape[0] * image_shape[1]} columns; "
                f"the data has {d}."
            )
    if n_samples is not None and (
        isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer))
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")

    temperature = check_temperature(temperature)
    H = None if holdout is None else _validated_data(model, holdout)[0]

    seeds = spawn_seeds(random_state, 4)
    rng = as_generator(seeds[0])
    shown = X if len(X) <= _MAX_ROWS else X[np.sort(rng.choice(len(X), _MAX_ROWS, replace=False))]
    if H is not None and len(H) > _MAX_ROWS:
        H = H[np.sort(rng.choice(len(H), _MAX_ROWS, replace=False))]
    n_synthetic = int(n_samples) if n_samples is not None else max(len(shown), 100)
    synthetic, labels = _sample(model, n_synthetic, seeds[1], temperature)
    computed = quality is None
    if quality is None:
        quality = evaluate(_in_kind(model, shown), _in_kind(model, synthetic),
                           None if H is None else _in_kind(model, H), model=model,
                           random_state=seeds[2], temperature=temperature)

    page = _Page(model=model, X=X, names=names, shown=shown, synthetic=synthetic,
                 labels=labels, quality=quality, computed=computed, image_shape=image_shape,
                 seed=seeds[3])
    heading = title if title is not None else _default_title(model, X, image_shape)
    sections = [
        _data_section(page),
        _selection_section(page),
        _samples_section(page),
        _quality_section(page),
        _memorisation_section(page),
        _model_card_section(page),
    ]
    return _document(heading, page, sections)


def write_report(
    path: str | os.PathLike[str], html_text: str, *, overwrite: bool = False
) -> Path:
    """Write a report (from :func:`build_report`) to ``path`` atomically, as UTF-8.

    Parameters
    ----------
    path : path-like
        The HTML file; its folder must exist.
    html_text : str
        The document.
    overwrite : bool, default=False
        Whether an existing file may be replaced.

    Returns
    -------
    path : Path

    Raises
    ------
    OutputExistsError, OutputError
        As :func:`mixsynth.io.atomic.atomic_write`.
    """
    path = Path(path)
    with atomic_write(path, "w", overwrite=overwrite, encoding="utf-8") as f:
        f.write(html_text)
    return path


# ------------------------------------------------------------------------ data and sampling


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


def _validated_data(model: Any, data: ArrayLike) -> tuple[Array, list[str]]:
    """``data`` as a float array with the model's columns, and the columns' names."""
    fitted_names = getattr(model, "feature_names_in_", None)
    given_names = [str(c) for c in data.columns] if hasattr(data, "columns") else None
    X = check_input(data, name="data", ensure_min_samples=2)
    if X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"data has {X.shape[1]} columns but the model was fitted on {model.n_features_in_}."
        )
    if fitted_names is not None:
        names = [str(c) for c in fitted_names]
        if given_names is not None and given_names != names:
            raise ValueError(
                f"data's columns {given_names[:5]}... differ from the model's {names[:5]}..."
            )
        return X, names
    return X, given_names if given_names is not None else [f"x{j}" for j in range(X.shape[1])]


def _sample(model: Any, n: int, seed: np.random.SeedSequence,
            temperature: float = 1.0) -> tuple[Array, NDArray[Any] | None]:
    """Generated rows as a float array, and their labels for a class-conditional model."""
    out = model.sample(n, random_state=seed, temperature=temperature)
    if isinstance(out, tuple):
        rows, labels = out
        return np.asarray(rows, dtype=np.float64), np.asarray(labels)
    return np.asarray(out, dtype=np.float64), None


def _in_kind(model: Any, X: Array) -> Any:
    """A DataFrame with the model's column names when it was fitted on one, else ``X``."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return X
    import pandas as pd  # present: the model was fitted on a DataFrame

    return pd.DataFrame(X, columns=list(names))


# ---------------------------------------------------------------------------- HTML helpers


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant figures, integers as they are."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}".replace("-", "−")
    if v == round(v) and abs(v) < 1e6:
        return f"{v:,.0f}".replace("-", "−")
    text = f"{v:,.{digits}g}" if abs(v) < 1e4 else f"{v:,.1f}"
    return text.replace("-", "−")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str | None = None,
    row_classes: Sequence[str] | None = None,
    numeric: Sequence[bool] | None = None,
    narrow: bool = False,
) -> str:
    """A table of already-escaped cells; ``numeric`` columns are right-aligned.

    ``narrow`` tables (a few short columns) keep to a readable width instead of the page's.
    """
    numeric = list(numeric) if numeric is not None else [False] * len(header)
    out = [f'<div class="table-wrap{" narrow" if narrow else ""}"><table>']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>")
    num = ' class="num"'
    out += [f'<th scope="col"{num if n else ""}>{h}</th>'
            for h, n in zip(header, numeric, strict=True)]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes is not None else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for j, (cell, n) in enumerate(zip(row, numeric, strict=True)):
            tag = "th" if j == 0 else "td"
            scope = ' scope="row"' if j == 0 else ""
            out.append(f"<{tag}{scope}{num if n else ''}>{cell}</{tag}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _figure(
    fig: Any, alt: str, caption: str | None = None, *, dpi: int = _DPI, pixelated: bool = False
) -> str:
    """The figure as an ``<img>`` with a PNG ``data:`` URI, sized for ``_CSS_PPI``.

    ``pixelated`` images (pixel mosaics) are scaled by the browser without smoothing.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white",
                metadata={"Software": f"mixsynth {__version__}"})
    w_in, h_in = fig.get_size_inches()
    width, height = round(w_in * _CSS_PPI), round(h_in * _CSS_PPI)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    cls = ' class="pixelated"' if pixelated else ""
    return (f'<figure><img{cls} src="data:image/png;base64,{encoded}" alt="{_e(alt)}" '
            f'width="{width}" height="{height}">{cap}</figure>')


def _section(anchor: str, heading: str, body: str, *, lead: str | None = None) -> str:
    intro = f'<p class="lead">{lead}</p>' if lead else ""
    return (f'<section id="{anchor}" aria-labelledby="{anchor}-h">'
            f'<h2 id="{anchor}-h">{heading}</h2>{intro}{body}</section>')


def _cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Key figures as a row of cards: (label, value, note), all escaped already."""
    out = ['<dl class="cards">']
    for label, value, note in items:
        small = f'<span class="note">{note}</span>' if note else ""
        out.append(f'<div class="card"><dt>{label}</dt><dd>{value}{small}</dd></div>')
    out.append("</dl>")
    return "".join(out)


def _callout(kind: str, text: str) -> str:
    role = ' role="alert"' if kind == "warn" else ""
    return f'<p class="callout {kind}"{role}>{text}</p>'


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

_CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d8dee4;--bg:#f6f8fa;--card:#fff;--accent:#0a58ca;
--real:#0072B2;--syn:#E69F00;--ok:#1a7f37;--ok-bg:#e9f7ec;--warn:#b42318;--warn-bg:#fdecea;
--best:#fff4cc}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main,header.top,footer{max-width:1120px;margin:0 auto;padding:0 24px}
header.top{padding-top:32px;padding-bottom:8px}
.eyebrow{margin:0;color:var(--muted);font-size:.85rem;letter-spacing:.08em;text-transform:uppercase}
h1{font-size:2rem;line-height:1.2;margin:.2rem 0 .4rem}
h2{font-size:1.4rem;margin:0 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);margin:0 0 1rem}
.verdict{font-size:1.1rem;margin:0 0 1rem;padding:.8rem 1rem;border-radius:8px;
background:var(--ok-bg);border-left:5px solid var(--ok)}
.verdict.warn{background:var(--warn-bg);border-left-color:var(--warn)}
nav ol{list-style:none;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;padding:0;margin:0 0 1rem}
nav a{color:var(--accent);text-decoration:none}
nav a:hover,nav a:focus{text-decoration:underline}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:20px 24px;margin:0 0 20px}
.lead{color:var(--muted);margin-top:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;
margin:0 0 16px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fbfcfd}
.card dt{color:var(--muted);font-size:.85rem}
.card dd{margin:0;font-size:1.5rem;font-weight:600;font-variant-numeric:tabular-nums}
.card .note{display:block;font-size:.8rem;font-weight:400;color:var(--muted)}
.table-wrap{overflow-x:auto;margin:0 0 16px}
.table-wrap.narrow{max-width:720px}
table{border-collapse:collapse;width:100%;font-size:.92rem;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:0 0 6px}
th,td{padding:6px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
thead th{background:#eef1f4;border-bottom:2px solid var(--line);white-space:nowrap}
tbody th{font-weight:500}
tbody tr:nth-child(even){background:#f6f8fa}
.num{text-align:right}
tr.best{background:var(--best)!important;font-weight:600}
tr.muted{color:#8c959f}
tr.warn{background:var(--warn-bg)!important}
.badge{display:inline-block;font-size:.72rem;font-weight:600;padding:1px 7px;border-radius:9px;
background:#f0b400;color:#1f2328;vertical-align:1px}
.badge.grey{background:#d8dee4;color:#424a53}
.bad{color:var(--warn);font-weight:600}
.skip{color:#8c959f;font-style:italic}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#424a53}
figure{margin:0 0 16px;text-align:center}
figure img{max-width:100%;height:auto;display:inline-block}
img.pixelated{image-rendering:pixelated}
figcaption{color:var(--muted);font-size:.9rem;margin-top:4px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.columns{display:grid;grid-template-columns:1fr 1fr;gap:24px}
@media (max-width:760px){.pair,.columns{grid-template-columns:1fr}}
.callout{padding:.7rem 1rem;border-radius:8px;border-left:5px solid var(--accent);
background:#eef4ff}
.callout.ok{border-left-color:var(--ok);background:var(--ok-bg)}
.callout.warn{border-left-color:var(--warn);background:var(--warn-bg)}
details{margin:0 0 12px}
summary{cursor:pointer;color:var(--accent);padding:4px 0}
ul.notes{color:var(--muted);font-size:.9rem}
footer{color:var(--muted);font-size:.85rem;padding-bottom:32px}
@media print{body{background:#fff}section{border:none;padding:0;break-inside:avoid-page}}
"""


def _document(heading: str, page: _Page, sections: Sequence[str]) -> str:
    verdict, alarm = _verdict(page.model)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    n, d = page.X.shape
    nav = [("data", "Data"), ("selection", "Model selection"), ("samples", "Generated vs real"),
           ("quality", "Quality"), ("memorisation", "Memorisation"), ("model", "Model card")]
    links = "".join(f'<li><a href="#{a}">{t}</a></li>' for a, t in nav)
    icon = "⚠ " if alarm else ""
    role = ' role="alert"' if alarm else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="mixsynth {__version__}">'
        f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
        '<header class="top"><p class="eyebrow">mixsynth report</p>'
        f"<h1>{_e(heading)}</h1>"
        f'<p class="meta">Generated {when} · mixsynth {__version__} · '
        f"{n:,} rows × {d:,} columns</p>"
        f'<p class="verdict{" warn" if alarm else ""}"{role}>{icon}{_e(verdict)}</p>'
        f'<nav aria-label="Contents"><ol>{links}</ol></nav></header>'
        f'<main>{"".join(sections)}</main>'
        f"<footer>Made by mixsynth {__version__}. This page is self-contained: no scripts and "
        "no external resources; figures are embedded PNG images.</footer>"
        "</body></html>\n"
    )
