"""The textbook's "GMM as a generative model" on scikit-learn's handwritten digits.

Load the 1797 digits of 8 x 8 pixels, keep the principal components that explain 99 % of the
variance, choose the number of mixture components by AIC, and draw 100 new digits. The demo
writes three figures, ``digits.png``, ``aic.png`` and ``new_digits.png``, and reports on the way
through a callable, so that the command line decides where the words go.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth._testhooks import pause_point
from mixsynth.io.atomic import ensure_can_write, ensure_output_dir
from mixsynth.plotting import criterion_curve, digit_grid, save_figure

if TYPE_CHECKING:
    from mixsynth.selection import Candidate

__all__ = [
    "DIGITS_FILES",
    "FULL_N_COMPONENTS",
    "QUICK_N_COMPONENTS",
    "TEXTBOOK_REG_COVAR",
    "VARIANCE_KEPT",
    "DigitsDemoResult",
    "run_digits_demo",
]

#: The candidate numbers of components: the textbook's sweep, and a fast one for tests.
FULL_N_COMPONENTS: tuple[int, ...] = tuple(range(50, 201, 10))
QUICK_N_COMPONENTS: tuple[int, ...] = (2, 4, 6)

#: The textbook keeps the principal components explaining 99 % of the pixels' variance.
VARIANCE_KEPT = 0.99
#: scikit-learn's default ``reg_covar``, which the textbook's mixtures use.
TEXTBOOK_REG_COVAR = 1e-6

#: The files the demo writes, in the order it writes them.
DIGITS_FILES: tuple[str, ...] = (
    "digits.png", "aic.png", "new_digits.png", "nearest.png", "by_class.png",
)
#: Rows held back to judge both models (the textbook's and mixsynth's default).
HOLDOUT_FRACTION = 0.25

#: Called after each candidate fit with (candidates done, candidates in all, the candidate).
ProgressCallback = Callable[[int, int, "Candidate"], None]


@dataclass(frozen=True)
class DigitsDemoResult:
    """What the digits demo found and wrote.

    Attributes
    ----------
    data_shape : (int, int)
        Shape of the digits data, (1797, 64).
    n_pca_components : int
        Dimensions kept by the whitening PCA (41 for 99 % of the variance).
    candidates : tuple of Candidate
        The selection's candidates, as the synthesizer reports them.
    criterion : str
        The selection criterion ("aic").
    best_n_components : int
        The chosen number of components.
    min_aic_n_components : int or None
        The number of components with the lowest finite AIC (the chosen one, for AIC
        selection); None when no candidate has a finite AIC.
    converged : bool
        Whether the final fit converged.
    comparison : Comparison
        The textbook's model against mixsynth's default on held-back digits.
    fit_seconds : float
        Wall time of the whole selection and final fit.
    files : tuple of Path
        The figures written: digits, AIC curve, new digits.
    samples : ndarray of shape (100, 64)
        The generated digits.
    """

    data_shape: tuple[int, int]
    n_pca_components: int
    candidates: tuple[Candidate, ...]
    criterion: str
    best_n_components: int
    min_aic_n_components: int | None
    converged: bool
    fit_seconds: float
    files: tuple[Path, ...]
    samples: np.ndarray = field(repr=False, compare=False)
    comparison: Comparison | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (samples left out)."""
        return {
            "data_shape": list(self.data_shape),
            "n_pca_components": self.n_pca_components,
            "criterion": self.criterion,
            "best_n_components": self.best_n_components,
            "min_aic_n_components": self.min_aic_n_components,
            "converged": self.converged,
            "fit_seconds": self.fit_seconds,
            "aic": {int(c.n_components): float(c.aic) for c in self.candidates},
            "files": [str(p) for p in self.files],
            "comparison": None if self.comparison is None else {
                "textbook": vars(self.comparison.textbook),
                "default": vars(self.comparison.default),
                "conditional": vars(self.comparison.conditional),
                "class_recognition": self.comparison.class_recognition,
            },
        }


def _describe_ks(ks: Sequence[int]) -> str:
    steps = {b - a for a, b in itertools.pairwise(ks)}
    if len(ks) > 3 and len(steps) == 1:
        return f"{ks[0]}, {ks[1]}, ..., {ks[-1]}"
    return ", ".join(str(k) for k in ks)


def run_digits_demo(
    out_dir: str | os.PathLike[str],
    *,
    quick: bool = False,
    seed: int = 0,
    overwrite: bool = False,
    echo: Callable[[str], object] = print,
    progress: ProgressCallback | None = None,
) -> DigitsDemoResult:
    """Fit a Gaussian mixture to the digits and draw new ones.

    Parameters
    ----------
    out_dir : path-like
        Folder for the figures; created with its parents if missing.
    quick : bool, default=False
        Try K in (2, 4, 6) instead of 50, 60, ..., 200: seconds instead of minutes, for tests.
        The new digits are blurrier.
    seed : int, default=0
        Seeds the fits and the sampling; the same seed gives the same figures.
    overwrite : bool, default=False
        Whether existing figures may be replaced.
    echo : callable, default=print
        Receives the report, one line per call.
    progress : callable, optional
        ``progress(done, total, candidate)`` after each candidate fit.

    Returns
    -------
    result : DigitsDemoResult

    Raises
    ------
    OutputExistsError
        If one of the figures exists and ``overwrite`` is false; checked before any work.
    OutputError
        If the folder or a figure cannot be written.
    """
    out = Path(out_dir)
    paths = tuple(out / name for name in DIGITS_FILES)
    for path in paths:  # refuse before minutes of fitting, not after
        ensure_can_write(path, overwrite=overwrite)
    ensure_output_dir(out)

    # Imported here, after the cheap checks: the synthesizer pulls in the estimator stack.
    from sklearn.datasets import load_digits

    from mixsynth.synthesizer import Synthesizer

    X = load_digits().data
    echo(f"digits: {X.shape[0]} images of 8 x 8 pixels, X.shape = {X.shape}")
    save_figure(digit_grid(X[:100], title=f"100 of the {X.shape[0]} digits"), paths[0],
                overwrite=overwrite)
    echo(f"wrote {paths[0]}")

    ks = QUICK_N_COMPONENTS if quick else FULL_N_COMPONENTS
    echo(f"fitting Gaussian mixtures with K = {_describe_ks(ks)} components "
         "(full covariance, chosen by AIC) ...")
    # The textbook's recipe: every K on the grid, full covariances with scikit-learn's default
    # regularisation, chosen by AIC; one candidate per K, so one AIC per K to show.
    synth = Synthesizer(
        reduce=VARIANCE_KEPT, whiten=True, scale="none", n_components=list(ks),
        covariance_type="full", criterion="aic", search="grid", reg_covar=TEXTBOOK_REG_COVAR,
        support="clip", support_transform=None, random_state=seed,
    )
    pause_point("demo-fit")  # where the interruption test signals (mixsynth._testhooks)
    start = time.perf_counter()
    synth.fit(X, progress=progress)
    fit_seconds = time.perf_counter() - start

    selection, mixture, whitener = synth.selection_, synth.mixture_, synth.whitener_
    if selection is None or mixture is None or whitener is None:  # every column constant
        raise RuntimeError("the digits data unexpectedly has no varying pixel")
    n_pca = int(whitener.n_components_)
    echo(f"PCA keeps {n_pca} of {X.shape[1]} dimensions ({VARIANCE_KEPT:.0%} of the variance)")
    candidates = tuple(selection.candidates)
    by_k = sorted(candidates, key=lambda c: c.n_components)
    echo("AIC by number of components:")
    for c in by_k:
        note = "" if c.converged else "  (did not converge)"
        echo(f"  K = {c.n_components:3d}  AIC = {c.aic:12.1f}{note}")
    aics = np.array([c.aic for c in by_k], dtype=np.float64)
    min_k: int | None = None
    if np.isfinite(aics).any():
        lowest = by_k[int(np.argmin(np.where(np.isfinite(aics), aics, np.inf)))]
        min_k = lowest.n_components
        echo(f"minimum AIC = {lowest.aic:.1f} at K = {min_k}")
    else:
        echo("minimum AIC: no candidate has a finite AIC")
    best_k = selection.best.n_components
    converged = bool(mixture.converged_)
    echo(f"chosen K = {best_k} by {selection.criterion.upper()}; final fit "
         f"{'converged' if converged else 'did NOT converge'} ({fit_seconds:.1f} s in all)")

    save_figure(
        criterion_curve([c.n_components for c in by_k], aics,
                        label="AIC", best=best_k, title="AIC of the Gaussian mixture on digits"),
        paths[1], overwrite=overwrite,
    )
    echo(f"wrote {paths[1]}")

    samples = np.asarray(synth.sample(100, random_state=seed))
    save_figure(digit_grid(samples, title=f"100 new digits from a {best_k}-component mixture"),
                paths[2], overwrite=overwrite)
    echo(f"wrote {paths[2]}")

    comparison = compare_with_default(
        X, load_digits().target, textbook_k=best_k, quick=quick, seed=seed, echo=echo,
        progress=progress,
    )
    save_figure(
        digit_grid(comparison.nearest_pairs, shape=(3, 20),
                   title="mixsynth default: generated digit | its nearest training digit"),
        paths[3], overwrite=overwrite,
    )
    echo(f"wrote {paths[3]}")
    save_figure(
        digit_grid(comparison.by_class, title="class-conditional: one row per digit 0-9"),
        paths[4], overwrite=overwrite,
    )
    echo(f"wrote {paths[4]}")

    return DigitsDemoResult(
        data_shape=(int(X.shape[0]), int(X.shape[1])),
        n_pca_components=n_pca,
        candidates=candidates,
        criterion=selection.criterion,
        best_n_components=best_k,
        min_aic_n_components=min_k,
        converged=converged,
        fit_seconds=fit_seconds,
        files=paths,
        samples=samples,
        comparison=comparison,
    )


@dataclass(frozen=True)
class ModelScore:
    """How one model fares on held-back digits."""

    name: str
    n_components: int
    heldout_log_likelihood: float
    near_copy_rate: float
    holdout_near_copy_rate: float
    out_of_range_pixels: float
    classifier_auc: float | None


@dataclass(frozen=True, eq=False)
class Comparison:
    """The textbook model against mixsynth's default, on the same 75/25 split."""

    textbook: ModelScore
    default: ModelScore
    conditional: ModelScore
    class_recognition: float
    nearest_pairs: np.ndarray = field(repr=False)
    by_class: np.ndarray = field(repr=False)

    def table(self) -> str:
        rows = [
            ("model", lambda m: m.name),
            ("K (per class for class-conditional)", lambda m: str(m.n_components)),
            ("held-out log-likelihood / digit", lambda m: f"{m.heldout_log_likelihood:,.1f}"),
            ("near copies of training digits", lambda m: f"{m.near_copy_rate:.1%}"),
            ("  (real held-out digits)", lambda m: f"{m.holdout_near_copy_rate:.1%}"),
            ("pixels outside [0, 16]", lambda m: f"{m.out_of_range_pixels:.1%}"),
            ("two-sample AUC (0.5 = indistinguishable)",
             lambda m: "n/a" if m.classifier_auc is None else f"{m.classifier_auc:.3f}"),
        ]
        width = max(len(r[0]) for r in rows)
        out = []
        models = (self.textbook, self.default, self.conditional)
        for label, get in rows:
            out.append(f"  {label:<{width}}" + "".join(f"  {get(m):>22}" for m in models))
        return "\n".join(out)


def _score(name: str, model: Any, samples: np.ndarray, train: np.ndarray,
           holdout: np.ndarray, k: int, seed: int) -> ModelScore:
    from mixsynth.evaluation import evaluate

    report = evaluate(train, samples, holdout, random_state=seed, max_rows=2000)
    lo, hi = 0.0, 16.0
    return ModelScore(
        name=name,
        n_components=k,
        heldout_log_likelihood=float(model.score(holdout)),
        near_copy_rate=float(report.near_copy_rate or 0.0),
        holdout_near_copy_rate=float(report.holdout_near_copy_rate or 0.0),
        out_of_range_pixels=float(np.mean((samples < lo) | (samples > hi))),
        classifier_auc=report.classifier_auc,
    )


def compare_with_default(
    X: np.ndarray,
    y: np.ndarray,
    *,
    textbook_k: int,
    quick: bool = False,
    seed: int = 0,
    echo: Callable[[str], object] = print,
    progress: ProgressCallback | None = None,
) -> Comparison:
    """The textbook's model (AIC's K, raw samples) against ``Synthesizer()``'s default, both
    fitted on 75 % of the digits and judged on the other 25 %; then a class-conditional model.
    """
    import warnings

    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    from mixsynth.evaluation import column_scale
    from mixsynth.synthesizer import Synthesizer

    train, hold, y_train, _ = train_test_split(
        X, y, test_size=HOLDOUT_FRACTION, random_state=seed, stratify=y
    )
    n_new = len(hold)
    echo(f"judging on {len(hold)} held-back digits (fitted on {len(train)}) ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant pixels, said above
        textbook = Synthesizer(
            reduce=VARIANCE_KEPT, whiten=True, scale="none", n_components=textbook_k,
            criterion="aic", reg_covar=TEXTBOOK_REG_COVAR, support=None, guard=False,
            support_transform=None, random_state=seed,
        ).fit(train)
        quick_grid: dict[str, Any] = (
            dict(n_components=[1, 2, 3], reg_covar=[1e-6, 1e-1], cv=3) if quick else {}
        )
        default = Synthesizer(random_state=seed, **quick_grid).fit(train, progress=progress)
    k_default = default.model_.n_components
    scores = (
        _score(f"textbook (AIC, K={textbook_k})", textbook,
               np.asarray(textbook.sample(n_new, random_state=seed)), train, hold, textbook_k,
               seed),
        _score("mixsynth default", default,
               np.asarray(default.sample(n_new, random_state=seed)), train, hold, k_default,
               seed),
    )
    # the same default given the labels: one selection per digit class
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        quick_classes: dict[str, Any] = (
            dict(n_components=[1, 2], criterion="bic") if quick else {}
        )
        by_class_model = Synthesizer(random_state=seed, **quick_classes).fit(train, y_train)
    k_classes = max(m.model_.n_components for m in by_class_model.class_models_)
    conditional = _score(
        "mixsynth default, fit(X, y)", by_class_model,
        np.asarray(by_class_model.sample(n_new, random_state=seed)[0]), train, hold, k_classes,
        seed,
    )
    rows = [by_class_model.sample(10, random_state=seed + c, y=c)[0] for c in range(10)]
    by_class = np.concatenate(rows)
    new, labels = by_class_model.sample(1000, random_state=seed)
    recognition = float(np.mean(SVC(gamma=0.001).fit(train, y_train).predict(new) == labels))
    # each of 30 generated digits beside its nearest training digit
    gen = np.asarray(default.sample(30, random_state=seed + 1))
    scale = column_scale(train)
    keep = scale > 0
    diffs = ((gen[:, None, keep] - train[None, :, keep]) / scale[keep]) ** 2
    nearest = train[np.argmin(diffs.sum(axis=2), axis=1)]  # the report's standardised metric
    pairs = np.empty((60, X.shape[1]))
    pairs[0::2], pairs[1::2] = gen, nearest
    comparison = Comparison(scores[0], scores[1], conditional, recognition, pairs, by_class)
    echo("textbook recipe vs mixsynth default (fitted on 75 %, judged on 25 %):")
    for line in comparison.table().splitlines():
        echo(line)
    echo(f"class-conditional digits recognised by a classifier trained on real digits: "
         f"{recognition:.1%}")
    return comparison
