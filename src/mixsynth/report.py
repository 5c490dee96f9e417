"""One self-contained HTML page about a fitted :class:`~mixsynth.Synthesizer`.

:func:`build_report` returns the page as a string: the data, the model selection, generated rows
beside real ones, quality metrics, the memorisation guard and a model card. Figures are drawn
with matplotlib's object API on an Agg canvas (:mod:`mixsynth.plotting`) and embedded as
base64 PNG ``data:`` URIs; the style sheet is inline and there is no script, so the file opens
offline, in any browser, forever. Writing it is the caller's business: :func:`write_report` is
the atomic writer for it.
the atomic writer for it.

The page is assembled from two sibling modules: :mod:`mixsynth.report_sections` (what the page
says: the data, the selection, generated against real rows, quality, memorisation, the model
card) and :mod:`mixsynth.report_html` (how it is written: escaped cells, tables, cards, figures
as ``data:`` URIs, the inline style sheet).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import check_is_fitted

from mixsynth.core import check_temperature
from mixsynth.evaluation import QualityReport, TableQualityReport, evaluate
from mixsynth.evaluation.table_quality import is_table_input
from mixsynth.io.atomic import atomic_write
from mixsynth.report_sections import (
    _data_section,
    _default_title,
    _document,
    _memorisation_section,
    _model_card_section,
    _Page,
    _quality_section,
    _samples_section,
    _selection_section,
)
from mixsynth.seeding import SeedLike, as_generator, spawn_seeds
from mixsynth.validation import check_input, is_count

__all__ = ["build_report", "write_report"]

Array = NDArray[np.float64]

#: Real rows that enter the figures and the quality metrics (a random subset beyond this).
_MAX_ROWS = 2000

#: A mixed table (text, categories, dates, gaps) given with a model fitted on plain numbers.
MIXED_TABLES = ("data is a mixed table (text, categories, dates or gaps) but the model was "
                "fitted on plain numbers: give the data it was fitted on.")


# ------------------------------------------------------------------------------- public API


def build_report(
    model: Any,
    data: ArrayLike,
    *,
    quality: QualityReport | TableQualityReport | None = None,
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
        at random, enter the figures and the quality metrics. A mixed table (text,
        categories, dates, gaps), for a model fitted on one, gets the page of
        :mod:`mixsynth.report_tables` (no figures; the metrics of a
        :class:`~mixsynth.evaluation.TableQualityReport`).
    quality : QualityReport or TableQualityReport, optional
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
    if is_table_input(data, model):
        return _table_report(model, data, quality=quality, title=title,
                             image_shape=image_shape, random_state=random_state,
                             n_samples=n_samples, holdout=holdout, temperature=temperature)
    if quality is not None and not isinstance(quality, QualityReport):
        raise ValueError("quality must be a QualityReport for a model of plain numbers "
                         f"(got {type(quality).__name__}).")
    X, names = _validated_data(model, data)
    d = X.shape[1]
    if image_shape is not None:
        image_shape = (int(image_shape[0]), int(image_shape[1]))
        if image_shape[0] * image_shape[1] != d or min(image_shape) < 1:
            raise ValueError(
                f"image_shape={image_shape!r} needs {image_shape[0] * image_shape[1]} columns; "
                f"the data has {d}."
            )
    _check_n_samples(n_samples)
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
        numeric = evaluate(_in_kind(model, shown), _in_kind(model, synthetic),
                           None if H is None else _in_kind(model, H), model=model,
                           random_state=seeds[2], temperature=temperature)
        assert isinstance(numeric, QualityReport)  # arrays of numbers: mixed tables refused
        quality = numeric

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


def _check_n_samples(n_samples: Any) -> None:
    if n_samples is not None and (not is_count(n_samples) or n_samples < 1):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")


def _table_report(model: Any, data: Any, *, quality: Any, title: str | None,
                  image_shape: Any, random_state: SeedLike, n_samples: int | None,
                  holdout: Any, temperature: float) -> str:
    """The page of a mixed table (:mod:`mixsynth.report_tables`), its arguments checked."""
    import pandas as pd

    from mixsynth.evaluation import TableQualityReport
    from mixsynth.report_tables import build_table_report

    if getattr(model, "_table", lambda: None)() is None:
        raise ValueError(MIXED_TABLES)
    for name, frame in (("data", data), ("holdout", holdout)):
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{name} must be a DataFrame with the columns the model was "
                             f"fitted on (got {type(frame).__name__}).")
    if image_shape is not None:
        raise ValueError("image_shape applies to images, not to a mixed table.")
    if quality is not None and not isinstance(quality, TableQualityReport):
        raise ValueError("quality must be the TableQualityReport of a mixed table "
                         f"(got {type(quality).__name__}).")
    _check_n_samples(n_samples)
    return build_table_report(model, data, quality=quality, title=title,
                              random_state=random_state, n_samples=n_samples,
                              holdout=holdout, temperature=check_temperature(temperature))


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

