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
DIGITS_FILES: tuple[str, ...] = ("digits.png", "aic.png", "new_digits.png")

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
        support="clip", random_state=seed,
    )
    start = time.perf_counter()
    synth.fit(X, progress=progress)
    fit_seconds = time.perf_counter() - start

    n_pca = int(synth.whitener_.n_components_)
    echo(f"PCA keeps {n_pca} of {X.shape[1]} dimensions ({VARIANCE_KEPT:.0%} of the variance)")
    selection, mixture = synth.selection_, synth.mixture_
    if selection is None or mixture is None:  # only when every column is constant
        raise RuntimeError("the digits data unexpectedly has no varying pixel")
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
    )
