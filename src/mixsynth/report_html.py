"""How the report is written: escaped cells, numbers, tables, cards, figures, the style sheet.

Every helper returns a fragment of HTML; cells given to :func:`_table` and :func:`_cards` are
escaped already. Figures become PNG ``data:`` URIs, so the page needs no other file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mixsynth._version import __version__

#: Figures are rendered at this many pixels per inch and shown at ``_CSS_PPI`` CSS pixels per
#: inch: 1.6 device pixels per CSS pixel keeps text sharp on high-density screens at a
#: fraction of the bytes of 2x.
_DPI = 160
_CSS_PPI = 100


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


# ------------------------------------------------------------------------ the style sheet

def _page(heading: str, shape: tuple[int, int], verdict: str, alarm: bool,
          nav: Sequence[tuple[str, str]], sections: Sequence[str], *, figures: bool) -> str:
    """The whole self-contained page: head, header (eyebrow, title, when and what, the
    verdict, contents), the sections, and a footer saying what the page holds."""
    import datetime as dt

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = "".join(f'<li><a href="#{a}">{t}</a></li>' for a, t in nav)
    role = ' role="alert"' if alarm else ""
    embedded = "; figures are embedded PNG images" if figures else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="mixsynth {__version__}">'
        f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
        '<header class="top"><p class="eyebrow">mixsynth report</p>'
        f"<h1>{_e(heading)}</h1>"
        f'<p class="meta">Generated {when} · mixsynth {__version__} · '
        f"{shape[0]:,} rows × {shape[1]:,} columns</p>"
        f'<p class="verdict{" warn" if alarm else ""}"{role}>{"⚠ " if alarm else ""}'
        f"{_e(verdict)}</p>"
        f'<nav aria-label="Contents"><ol>{links}</ol></nav></header>'
        f'<main>{"".join(sections)}</main>'
        f"<footer>Made by mixsynth {__version__}. This page is self-contained: no scripts and "
        f"no external resources{embedded}.</footer>"
        "</body></html>\n"
    )


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

