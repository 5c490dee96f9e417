"""The HTML report of a synthesizer fitted on a mixed table (text, categories, dates, gaps).

:func:`mixsynth.report.build_report` comes here when its data is a mixed table or the model
was fitted on one (:func:`mixsynth.evaluation.table_quality.is_table_input`). The page has the
sections of the numeric report that apply: the columns, the model and its candidates, real and
generated rows side by side, the quality metrics of :class:`~mixsynth.evaluation.
TableQualityReport` (per column, the weakest pairs), near copies, and a model card. It draws no
figure: the per-column scores and missing rates stand where the histograms are.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth._version import __version__
from mixsynth.evaluation import TableQualityReport, evaluate
from mixsynth.report_html import _callout, _cards, _e, _num, _page, _pct, _section, _table
from mixsynth.seeding import SeedLike, spawn_seeds

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_table_report"]

#: Real rows that enter the metrics, at most (as the numeric report).
_MAX_ROWS = 2000
#: Rows of each table shown side by side.
_SHOWN_ROWS = 8
#: Pairs of columns listed, the weakest first.
_WEAKEST_PAIRS = 10
#: A near-copy rate this far above the held-out rate (absolute) is flagged.
_COPY_MARGIN = 0.05


def build_table_report(
    model: Any,
    data: pd.DataFrame,
    *,
    quality: TableQualityReport | None = None,
    title: str | None = None,
    random_state: SeedLike = 0,
    n_samples: int | None = None,
    holdout: pd.DataFrame | None = None,
    temperature: float = 1.0,
) -> str:
    """The page for a mixed table; the parameters are :func:`mixsynth.report.build_report`'s
    (which checks them), with ``data`` and ``holdout`` as DataFrames."""
    seeds = spawn_seeds(random_state, 4)
    rng = np.random.default_rng(seeds[0])
    shown = _some(data, rng)
    held = None if holdout is None else _some(holdout, rng)
    n_synthetic = int(n_samples) if n_samples is not None else max(len(shown), 100)
    synthetic = model.sample(n_synthetic, random_state=seeds[1], temperature=temperature)
    computed = quality is None
    if quality is None:
        got = evaluate(shown, synthetic, held, model=model, random_state=seeds[2],
                       temperature=temperature)
        if not isinstance(got, TableQualityReport):  # is_table_input chose this page
            raise TypeError("expected the table report")  # pragma: no cover
        quality = got
    heading = title if title is not None else (
        f"Synthetic data report: {len(data):,} rows of a mixed table")
    sections = [
        _data_section(model, data, quality),
        _model_section(model),
        _rows_section(shown, synthetic),
        _quality_section(quality, computed),
        _copies_section(quality),
        _card_section(model),
    ]
    return _document(heading, data, _verdict(model, quality), sections)


def _some(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if len(df) <= _MAX_ROWS:
        return df.reset_index(drop=True)
    keep = np.sort(rng.choice(len(df), _MAX_ROWS, replace=False))
    return df.iloc[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------- the sections


def _data_section(model: Any, data: pd.DataFrame, q: TableQualityReport) -> str:
    table = model._table()
    rows = []
    for c in q.columns:
        spec = table.codec.spec(c) if c in table.codec.columns else None
        kind = spec.kind if spec is not None else q.column_kinds[c]
        levels = f"{len(spec.categories):,} levels" if spec is not None and spec.is_discrete else ""
        rows.append([f"<code>{_e(c)}</code>", _e(kind), _e(str(data[c].dtype)), levels,
                     _pct(q.missing_real.get(c)), _pct(q.missing_synthetic.get(c)),
                     _num(q.column_shape_scores.get(c), 3)])
    body = _table(["column", "modelled as", "dtype", "levels", "missing (real)",
                   "missing (generated)", "shape score"], rows,
                  caption="Columns: how each is modelled, its gaps, and how well its marginal "
                  "distribution is reproduced (1 − KS, or 1 − total variation for categories)",
                  numeric=[False, False, False, True, True, True, True])
    lead = (f"{len(data):,} rows × {len(data.columns):,} columns; "
            f"{sum(k == 'categorical' for k in q.column_kinds.values())} categorical "
            "(text, categories, booleans) for the metrics, the rest numbers or dates.")
    return _section("data", "Data", body, lead=_e(lead))


def _model_section(model: Any) -> str:
    table = model._table()
    candidates = table.candidates or ()
    rows = []
    folds = any(cand.get("folds") for cand in candidates)  # files before it: no folds
    # the winner: the best score among the candidates scored on the most folds
    most = max((c.get("folds") or 0 for c in candidates), default=0)
    scored = [c for c in candidates if c.get("score") is not None and (c.get("folds") or 0) == most]
    best = max(scored, key=lambda c: c["score"]) if scored else None
    for cand in candidates:
        score = cand.get("score")
        row = [_num(cand.get("n_components")) + (" *" if cand is best else ""),
               _e(cand.get("covariance_type", "")), _num(cand.get("reg_covar")),
               "failed" if score is None else _num(score)]
        rows.append([*row, _num(cand.get("folds"))] if folds else row)
    body = _cards([
        ("Components K", _num(table.n_components), ""),
        ("Free parameters", _num(table.n_parameters), ""),
        ("Candidates", _num(len(candidates)), ""),
    ])
    if rows:
        header = ["K", "covariance", "reg_covar", "score"] + (["folds"] if folds else [])
        caption = ("Candidates (held-out mean log-likelihood over the folds shown: one for a "
                   "screened-out candidate; or minus BIC / AIC); * the chosen model"
                   if folds else "Candidates (held-out mean log-likelihood, or minus BIC / AIC)")
        body += _table(header, rows, caption=caption, numeric=[True, False, True, True, True][
            :len(header)], narrow=True)
    lead = (f"A mixture over the numbers (standardised), the categories and the pattern of "
            f"gaps of each row: family <code>{_e(table.family_name)}</code>.")
    return _section("selection", "Model", body, lead=lead)


def _rows_section(shown: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    def rows(df: pd.DataFrame) -> list[list[str]]:
        return [[_e(_cell(v)) for v in row] for row in df.head(_SHOWN_ROWS).itertuples(
            index=False, name=None)]

    header = [f"<code>{_e(c)}</code>" for c in shown.columns]
    flags = [False] * len(header)
    body = (_table(header, rows(shown), caption="Real rows", numeric=flags)
            + _table(header, rows(synthetic[list(shown.columns)]), caption="Generated rows",
                     numeric=flags))
    return _section("samples", "Generated vs real", body,
                    lead=f"The first {_SHOWN_ROWS} rows of each (an empty cell is a gap).")


def _cell(value: Any) -> str:
    try:
        if value is None or bool(value != value):  # NaN, NaT, pd.NA
            return ""
    except (TypeError, ValueError):  # pd.NA's truth value
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


_PERCENTS = {"missing_gap_mean", "missing_gap_max", "near_copy_rate", "holdout_near_copy_rate"}


def _quality_section(q: TableQualityReport, computed: bool) -> str:
    rows = []
    for name, _, direction in q.summary():
        raw = getattr(q, name)
        shown = ('<span class="skip">skipped</span>' if raw is None
                 else _pct(raw) if name in _PERCENTS else _num(raw))
        rows.append([f"<code>{_e(name)}</code>", shown, _e(direction)])
    cards = _cards([
        ("Classifier AUC", _num(q.classifier_auc, 3),
         f"0.5: indistinguishable (vs {_e(q.classifier_auc_against)})"),
        ("Column shapes", _num(q.column_shapes, 3), "1: identical marginals"),
        ("Pair trends", _num(q.pair_trends, 3), "1: identical"),
        ("Missing rates", _pct(q.missing_gap_max), "largest gap, real vs generated"),
    ])
    pairs = sorted(((v, k) for k, v in q.pair_trend_scores.items() if v is not None))
    weakest = [[_e(k), _num(v, 3)] for v, k in pairs[:_WEAKEST_PAIRS]]
    body = cards + _table(["metric", "value", "what is better"], rows,
                          caption="Quality metrics", numeric=[False, True, False])
    if weakest:
        body += _table(["pair", "trend score"], weakest, numeric=[False, True], narrow=True,
                       caption="The weakest pairs of columns (correlation or contingency "
                       "similarity; 1: identical)")
    skipped = "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in q.skipped.items())
    if skipped:
        body += (f'<details><summary>{len(q.skipped)} metrics skipped</summary>'
                 f'<ul class="notes">{skipped}</ul></details>')
    held = f" and {q.n_holdout:,} held-out real rows" if q.n_holdout else ""
    t = "" if q.temperature is None else f" at temperature {q.temperature:g}"
    source = (f"{'Computed here' if computed else 'As given'}: {q.n_train:,} real rows{held} "
              f"against {q.n_synthetic:,} generated rows{t}.")
    return _section("quality", "Quality", body, lead=_e(source))


def _copies_section(q: TableQualityReport) -> str:
    rate, base = q.near_copy_rate, q.holdout_near_copy_rate
    if rate is None:
        status = _callout("info", "Near copies were not measured.")
    elif base is None:
        status = _callout("info", (
            f"{_pct(rate)} of generated rows are near copies of real rows; give held-out rows "
            "(<code>--holdout</code>) for the rate fresh real rows get."))
    elif rate > base + _COPY_MARGIN:
        status = _callout("warn", (
            f"<strong>Possible memorisation.</strong> {_pct(rate)} of generated rows are near "
            f"copies of real rows, against {_pct(base)} of held-out real rows."))
    else:
        status = _callout("ok", (
            f"<strong>No sign of memorisation.</strong> {_pct(rate)} of generated rows are "
            f"near copies of real rows, against {_pct(base)} of held-out real rows."))
    explain = ("A near copy lies closer (Gower distance: numbers by their range, categories "
               "equal or not, a gap against a value counts as different) to a real row than "
               "95 % of real rows are to their own nearest neighbour.")
    rows = [[_e(label), fmt(value)] for label, fmt, value in (
        ("Near copies among generated rows", _pct, rate),
        ("Near copies among held-out real rows", _pct, base),
        ("Near-copy distance threshold", _num, q.near_copy_threshold),
        ("Median distance to closest real row: generated", _num, q.dcr_synthetic_median),
        ("Median distance to closest real row: held-out", _num, q.dcr_holdout_median),
    )]
    body = status + f"<p>{explain}</p>" + _table(["measure", "value"], rows,
                                                  numeric=[False, True], narrow=True)
    return _section("memorisation", "Near copies", body)


def _card_section(model: Any) -> str:
    import scipy
    import sklearn

    params = [[f"<code>{_e(k)}</code>", f"<code>{_e(repr(v))}</code>"]
              for k, v in sorted(model.get_params(deep=False).items())]
    versions = [("mixsynth", __version__), ("numpy", np.__version__),
                ("scipy", scipy.__version__), ("scikit-learn", sklearn.__version__),
                ("Python", platform.python_version())]
    body = ('<div class="columns"><div>'
            + _table(["package", "version"], [[k, _e(v)] for k, v in versions],
                     caption="Versions")
            + "</div><div>"
            + _table(["parameter", "value"], params, caption="Settings (<code>get_params()</code>)")
            + "</div></div>")
    return _section("model", "Model card", body)


# ------------------------------------------------------------------------------ the page


def _verdict(model: Any, q: TableQualityReport) -> tuple[str, bool]:
    table = model._table()
    k = table.n_components
    what = f"K={k} mixed component{'s' if k != 1 else ''} over {len(q.columns)} columns"
    rate, base = q.near_copy_rate, q.holdout_near_copy_rate
    if rate is None or base is None or math.isnan(rate):
        return f"{what}; near copies not compared with held-out rows.", False
    copies = (f"near copies {_pct(rate)} of generated rows vs {_pct(base)} of real held-out "
              "rows")
    if rate > base + _COPY_MARGIN:
        return f"Possible memorisation: {copies}. Model: {what}.", True
    return f"{what}; {copies}.", False


def _document(heading: str, data: pd.DataFrame, verdict: tuple[str, bool],
              sections: Sequence[str]) -> str:
    text, alarm = verdict
    nav = [("data", "Data"), ("selection", "Model"), ("samples", "Generated vs real"),
           ("quality", "Quality"), ("memorisation", "Near copies"), ("model", "Model card")]
    return _page(heading, data.shape, text, alarm, nav, sections, figures=False)
