"""Figures: structure, colour scaling, PNG files written atomically."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.image import imread

import mixsynth.plotting as plotting_module
from mixsynth.io import OutputExistsError
from mixsynth.plotting import criterion_curve, digit_grid, save_figure, selection_figure
from mixsynth.selection import Candidate, SelectionResult
from mixsynth.synthesizer import Synthesizer


@pytest.fixture
def images(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 17, size=(100, 64)).astype(float)


def _tile(canvas: np.ndarray, i: int, cols: int, image_shape: tuple[int, int] = (8, 8),
          zoom: int = 4, gap: int = 3) -> np.ndarray:
    """Tile ``i`` of a digit grid's canvas, back at one value per image pixel."""
    r, c = divmod(i, cols)
    h, w = image_shape[0] * zoom, image_shape[1] * zoom
    top, left = gap + r * (h + gap), gap + c * (w + gap)
    return canvas[top:top + h:zoom, left:left + w:zoom]


def test_digit_grid_one_image_colour_limits_and_tiles(images: np.ndarray) -> None:
    fig = digit_grid(images, title="digits")
    assert tuple(fig.get_size_inches()) == pytest.approx((8.0, 8.4))
    (ax,) = fig.axes
    (im,) = ax.get_images()
    assert im.get_clim() == (0, 16)
    assert im.get_cmap().name == "binary"
    canvas = np.ma.filled(im.get_array(), np.nan)
    for i, row in enumerate(images):
        np.testing.assert_array_equal(_tile(canvas, i, 10), row.reshape(8, 8))
    assert not ax.axison
    assert fig.get_suptitle() == "digits"


def test_digit_grid_accepts_3d_and_blanks_missing_tiles(images: np.ndarray) -> None:
    fig = digit_grid(images[:5].reshape(5, 8, 8), shape=(2, 3), cmap="gray", vmax=10)
    (im,) = fig.axes[0].get_images()
    assert im.get_clim() == (0, 10)
    assert im.get_cmap().name == "gray"
    canvas = np.ma.filled(im.get_array(), np.nan)
    np.testing.assert_array_equal(_tile(canvas, 4, 3), images[4].reshape(8, 8))
    assert np.isnan(_tile(canvas, 5, 3)).all()  # the sixth tile: background (masked: grey)


def test_digit_grid_shows_only_the_first_tiles(images: np.ndarray) -> None:
    fig = digit_grid(images, shape=(2, 2))
    canvas = np.ma.filled(fig.axes[0].get_images()[0].get_array(), np.nan)
    assert canvas.shape == (2 * (32 + 3) + 3, 2 * (32 + 3) + 3)
    np.testing.assert_array_equal(_tile(canvas, 3, 2), images[3].reshape(8, 8))


def test_digit_grid_other_image_shape() -> None:
    fig = digit_grid(np.zeros((3, 6)), shape=(1, 3), image_shape=(2, 3))
    canvas = np.ma.filled(fig.axes[0].get_images()[0].get_array(), np.nan)
    assert _tile(canvas, 0, 3, image_shape=(2, 3)).shape == (2, 3)


def test_tile_images_is_the_one_layout() -> None:
    """digit_grid, image_mosaic and the image folder's contact sheet share one layout."""
    from mixsynth.io.images import contact_sheet
    from mixsynth.plotting import tile_images

    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 10
    canvas = tile_images(images, shape=(2, 2), image_shape=(2, 2), zoom=2, gap=1,
                         background=128)
    assert canvas.shape == (2 * (4 + 1) + 1, 2 * (4 + 1) + 1) and canvas.dtype == np.uint8
    np.testing.assert_array_equal(canvas[1:5:2, 6:10:2], images[1])
    assert (canvas[6:10, 6:10] == 128).all()  # no fourth image: background
    sheet = np.asarray(contact_sheet(images, gap=1))
    np.testing.assert_array_equal(
        sheet, tile_images(images, shape=(2, 2), image_shape=(2, 2), zoom=32, gap=1,
                           background=128))
    colour = tile_images(np.zeros((1, 4, 3)), shape=(1, 1), image_shape=(2, 2, 3),
                         background=(1.0, 0.5, 0.0))
    assert colour.shape == (2, 2, 3)
    with pytest.raises(ValueError, match="images must have shape"):
        tile_images(np.zeros((2, 5)), shape=(1, 2), image_shape=(2, 2))


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (np.zeros((4, 63)), {}, r"images must have shape \(n_images, 64\)"),
        (np.zeros(64), {}, "images must have shape"),
        (np.zeros((4, 64)), {"shape": (0, 3)}, "shape must be two positive"),
        (np.zeros((4, 64)), {"image_shape": (0, 8)}, "image_shape must be"),
        (np.zeros((4, 64), dtype=complex), {}, "complex"),
    ],
)
def test_digit_grid_rejects_bad_input(data: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        digit_grid(data, **kwargs)


def test_criterion_curve_marks_best() -> None:
    ks = [2, 4, 6, 8]
    values = [10.0, 5.0, 7.0, float("nan")]
    fig = criterion_curve(ks, values, label="BIC", best=4, title="selection")
    (ax,) = fig.axes
    curve, star = ax.get_lines()[:2]
    np.testing.assert_array_equal(curve.get_xdata(), ks)
    assert curve.get_marker() == "o"
    assert np.asarray(star.get_xdata()).tolist() == [4]
    assert np.asarray(star.get_ydata()).tolist() == [5.0]
    assert ax.get_ylabel() == "BIC"
    assert ax.get_title() == "selection"
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["BIC", "chosen K = 4"]


def test_criterion_curve_without_best_marks_nothing() -> None:
    fig = criterion_curve(np.array([1, 2]), np.array([3.0, 1.0]))
    assert len(fig.axes[0].get_lines()) == 1


@pytest.mark.parametrize(
    ("ks", "values", "best", "message"),
    [
        ([1, 2], [1.0], None, "same length"),
        ([], [], None, "non-empty"),
        ([1, 2], [1.0, 2.0], 3, "best=3 is not one of ks"),
    ],
)
def test_criterion_curve_rejects_bad_input(
    ks: list[int], values: list[float], best: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        criterion_curve(ks, values, best=best)


def test_save_figure_writes_decodable_png(tmp_path: Path, images: np.ndarray) -> None:
    path = save_figure(digit_grid(images), tmp_path / "digits.png")
    assert path == tmp_path / "digits.png"
    pixels = imread(path)
    assert pixels.shape[:2] == (800, 800)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.png"]

    path = save_figure(criterion_curve([1, 2], [2.0, 1.0]), tmp_path / "c.png", dpi=50)
    assert imread(path).shape[:2] == (200, 320)


def test_save_figure_refuses_existing_before_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"keep me")
    fig = criterion_curve([1, 2], [2.0, 1.0])
    rendered: list[object] = []
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: rendered.append(a))
    with pytest.raises(OutputExistsError, match="use --force"):
        save_figure(fig, target)
    assert rendered == []
    assert target.read_bytes() == b"keep me"


def test_save_figure_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    save_figure(criterion_curve([1, 2], [2.0, 1.0]), target, overwrite=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_save_figure_rejects_bad_dpi(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dpi"):
        save_figure(criterion_curve([1], [1.0]), tmp_path / "f.png", dpi=0)


def test_plotting_never_loads_pyplot(tmp_path: Path) -> None:
    code = (
        "import sys, mixsynth.plotting as p\n"
        "p.save_figure(p.digit_grid([[0.0] * 64]), sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m == 'matplotlib.pyplot'))\n"
    )
    src = str(Path(plotting_module.__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "one.png")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": src},
        check=False, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert imread(tmp_path / "one.png").shape[:2] == (800, 800)


def _candidate(k: int, cov: str, score: float, **kw: Any) -> Candidate:
    fields: dict[str, Any] = dict(
        n_components=k, covariance_type=cov, reg_covar=1e-6, score=score, score_std=None,
        fold_scores=(), aic=score, bic=score, log_likelihood=0.0, n_parameters=10 * k,
        converged=True, n_iter=5, fit_time=0.1,
    )
    fields.update(kw)
    return Candidate(**fields)


def test_selection_figure_one_line_per_covariance_type() -> None:
    cands = (
        _candidate(4, "full", 30.0), _candidate(2, "full", 50.0), _candidate(6, "full", 40.0),
        _candidate(2, "diag", 60.0), _candidate(4, "diag", 55.0),
    )
    selection = SelectionResult(criterion="bic", candidates=cands, best_index=0)
    fig = selection_figure(selection, title="sweep")
    (ax,) = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["diag", "full",
                                                          "chosen: K = 4, full"]
    (bars,) = [b for b in ax.containers if b.get_label() == "full"]
    assert isinstance(bars, ErrorbarContainer)
    full = bars.lines[0]
    assert np.asarray(full.get_xdata()).tolist() == [2, 4, 6]  # sorted by K
    assert np.asarray(full.get_ydata()).tolist() == [50.0, 30.0, 40.0]
    assert ax.get_ylabel() == "BIC (lower is better)"
    assert ax.get_title() == "sweep"


def test_selection_figure_heldout_error_bars_and_abandoned() -> None:
    cands = (
        _candidate(2, "full", -10.0, score_std=1.0, fold_scores=(-9.0, -11.0)),
        _candidate(4, "full", -8.0, score_std=2.0, fold_scores=(-6.0, -10.0)),
        _candidate(6, "full", -30.0, score_std=1.0, fold_scores=(-30.0, -30.0),
                   abandoned=True),
        _candidate(2, "full", -12.0, reg_covar=1e-3, score_std=1.0, fold_scores=(-12.0, -12.0)),
    )
    selection = SelectionResult(criterion="heldout", candidates=cands, best_index=1, n_folds=2)
    fig = selection_figure(selection)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[union-attr]
    assert labels == ["full, reg_covar=1e-06", "full, reg_covar=0.001",
                      "abandoned (scored on fewer folds)",
                      "chosen: K = 4, full, reg_covar=1e-06"]
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]
    assert [np.asarray(line.get_xdata()).tolist() for line in hollow] == [[6]]
    assert ax.get_ylabel().startswith("held-out log-likelihood")
    assert len(ax.collections) >= 1  # the error bars
    assert selection.plot().axes  # the convenience method draws the same figure


def test_selection_figure_of_a_real_fit(tmp_path: Path, rng: np.random.Generator) -> None:
    X = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    synth = Synthesizer(n_components=[1, 2, 3], criterion="bic", random_state=0).fit(X)
    assert synth.selection_ is not None
    path = save_figure(selection_figure(synth.selection_), tmp_path / "sel.png")
    height, width = imread(path).shape[:2]
    assert (height, width) in {(400, 640), (450, 900)}  # legend beside when many lines
