"""The HTML report: structure, embedded figures, and the page as a person sees it (Chromium)."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import shutil
import signal
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

import mixsynth.report as report_module
from mixsynth import Synthesizer, evaluate
from mixsynth.io import OutputExistsError
from mixsynth.plotting import image_mosaic, marginals_figure, pair_figure
from mixsynth.report import build_report, write_report
from mixsynth.whitening import ConstantColumnsWarning

SECTIONS = ("data", "selection", "samples", "quality", "memorisation", "model")
#: Seconds one Chromium run may take (it takes 2-4 s); killed with its process group past it.
CHROMIUM_TIMEOUT = 30


# ------------------------------------------------------------------------------ fixtures


def _tabular(rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    a = rng.normal(size=n)
    return pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": np.exp(rng.normal(10, 0.4, n)),
        "score": a,
        "score2": 0.7 * a + rng.normal(scale=0.4, size=n),
        "kids": rng.poisson(1.2, n),
        "flag": np.ones(n),  # constant
    })


def _fit(X: Any, y: Any = None, **params: Any) -> Synthesizer:
    params = {"n_components": [1, 2], "criterion": "bic", "random_state": 0, **params}
    return Synthesizer(**params).fit(X, y)


@pytest.fixture
def tabular(rng: np.random.Generator) -> tuple[Synthesizer, pd.DataFrame]:
    data = _tabular(rng)
    with pytest.warns(ConstantColumnsWarning, match="1 constant column"):
        model = _fit(data, random_state=int(rng.integers(2**31)))
    return model, data


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def digits_model(digits: tuple[np.ndarray, np.ndarray]) -> Synthesizer:
    with pytest.warns(ConstantColumnsWarning):  # a few border pixels are always 0
        return _fit(digits[0][:600], n_components=2, scale="none")


@pytest.fixture(scope="module")
def digits_html(digits: tuple[np.ndarray, np.ndarray], digits_model: Synthesizer) -> str:
    return build_report(digits_model, digits[0][:600], image_shape=(8, 8), title="Digits")


# --------------------------------------------------------------------------- HTML parsing


class _Page(HTMLParser):
    """Tags, attributes and text of a document, and whether every element was closed."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input", "source"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []  # what a reader sees: not the style sheet or the title
        self.open: list[str] = []
        self.errors: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if not self.open or self.open[-1] not in ("style", "title"):
            self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _check_document(text: str) -> _Page:
    """The promises every report keeps; returns the parsed page for more checks."""
    assert text.startswith("<!DOCTYPE html>")
    page = _Page(text)
    assert page.errors == [] and page.open == []
    assert page.all("html")[0].get("lang") == "en"
    assert len(page.all("h1")) == 1
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert set(SECTIONS) <= ids
    assert len(page.all("h2")) == len(SECTIONS)
    # self-contained: no script, no style sheet or font from elsewhere, no remote address
    assert "http://" not in text and "https://" not in text
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    assert "url(" not in text and "@import" not in text
    images = page.all("img")
    assert images
    for img in images:
        src = img.get("src") or ""
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG"
            im.verify()
        assert len((img.get("alt") or "").strip()) > 20  # says what the figure shows
        assert int(img.get("width") or 0) > 0 and int(img.get("height") or 0) > 0
    assert page.all("table") and all("scope" in th for th in page.all("th"))
    return page


# ------------------------------------------------------------------------------ structure


def test_tabular_report(tabular: tuple[Synthesizer, pd.DataFrame]) -> None:
    model, data = tabular
    text = build_report(model, data, title="People <&> money")
    page = _check_document(text)
    words = page.words
    assert "People <&> money" in words and "People <&> money" not in text  # escaped
    assert "mixsynth report" in words and "Generated" in words
    assert model.selection_ is not None and model.mixture_ is not None
    best = model.selection_.best
    assert f"K={model.mixture_.n_components} full-covariance" in words
    assert "chosen by BIC" in words
    assert "near copies" in words
    # data summary: every column, the constant one flagged
    for name in data.columns:
        assert name in words
    assert "constant" in words and "integer" in words
    # selection: curve and table with the winner highlighted
    assert 'class="best"' in text and "chosen" in words
    assert f"reg_covar = {best.reg_covar:g}" in words
    # samples: marginals and a pair plot; quality computed here
    alts = [img["alt"] or "" for img in page.all("img")]
    assert len(alts) == 3
    assert any(a.startswith("Histograms") for a in alts)
    assert any(a.startswith("Scatter matrix") for a in alts)
    assert "flag" not in alts[1]  # constant columns have no histogram
    assert "Computed here" in words
    assert "Real-vs-synthetic classifier ROC AUC" in words
    # model card
    assert "Model card" in words and "scikit-learn" in words and "numpy" in words
    assert "covariance_type" in words and "support" in words


def test_image_report(digits_html: str, digits_model: Synthesizer) -> None:
    page = _check_document(digits_html)
    words = page.words
    assert "Digits" in words
    alts = [img["alt"] or "" for img in page.all("img")]
    assert len(alts) == 4  # selection curve, real grid, generated grid, pixel moments
    assert sum("grid of 100" in a for a in alts) == 2
    assert "Per-pixel summary (64 columns)" in words  # the pixel table is folded away
    assert f"in {digits_model.whitener_.n_components_} whitened dimensions" in words
    assert len(digits_html.encode()) < 3_000_000


def test_class_conditional_report(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = digits
    keep = y < 3
    with pytest.warns(ConstantColumnsWarning):
        model = _fit(X[keep], y[keep], scale="none")
    text = build_report(model, X[keep], image_shape=(8, 8))
    page = _check_document(text)
    words = page.words
    assert "3 classes, one mixture each" in words
    assert "The chosen mixture of each class" in words
    assert "one row per class: 0, 1, 2" in words
    assert "Classes and priors" in words
    assert words.count("Class 0: K =") == 1  # each class's own selection, folded
    assert "Per class (the rates above are weighted by class share)" in words
    # selection curve per class + real grid + generated grid + moments
    assert len(page.all("img")) == 3 + 3


def test_class_conditional_tabular_report(rng: np.random.Generator) -> None:
    data = _tabular(rng).drop(columns="flag")
    labels = np.where(data["score"] > 0, "high", "low")
    model = _fit(data, labels)
    page = _check_document(build_report(model, data))
    assert "2 classes, one mixture each" in page.words
    assert "high" in page.words and "low" in page.words


def test_given_quality_is_shown_as_is(
    tabular: tuple[Synthesizer, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, data = tabular
    train, holdout = data.iloc[:200], data.iloc[200:]
    quality = evaluate(train, model.sample(150, 1), holdout, model=model)

    def no_evaluate(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the report must not re-evaluate a given quality report")

    monkeypatch.setattr(report_module, "evaluate", no_evaluate)
    text = build_report(model, data, quality=quality)
    words = _check_document(text).words
    assert "As given: 200 training rows, 150 synthetic rows and 100 held-out rows" in words
    heldout = next(v for k, v, _ in quality.summary() if k == "heldout_log_likelihood")
    assert heldout in words.replace("−", "-")


def test_quality_is_computed_on_at_most_2000_rows(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = rng.normal(size=(2500, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]])
    model = _fit(data)
    seen: list[tuple[int, int]] = []

    def spy(real: Any, synthetic: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((len(real), len(synthetic)))
        return evaluate(real[:300], synthetic[:300], *args, **kwargs)

    monkeypatch.setattr(report_module, "evaluate", spy)
    words = _check_document(build_report(model, data)).words
    assert seen == [(2000, 2000)]
    assert "Computed here" in words

    seen.clear()
    build_report(model, data[:50], n_samples=120)
    assert seen == [(50, 120)]


def test_memorisation_warning_is_flagged(tabular: tuple[Synthesizer, pd.DataFrame]) -> None:
    model, data = tabular
    assert model.memorization_ is not None and not model.memorization_["warned"]
    calm = build_report(model, data)
    assert "No sign of memorisation" in calm and 'role="alert"' not in calm
    model.model_ = dataclasses.replace(  # the fitted model object is frozen: a new one
        model.model_, memorization={**model.memorization_, "near_copy_rate": 0.4, "warned": True}
    )
    text = build_report(model, data)
    page = _check_document(text)
    alerts = [attrs for _, attrs in page.tags if attrs.get("role") == "alert"]
    assert len(alerts) == 2  # the verdict at the top and the guard's own section
    assert 'class="verdict warn"' in text
    assert "Possible memorisation: near copies 40.0 % of generated rows" in page.words


def test_guard_off_is_said(rng: np.random.Generator) -> None:
    data = rng.normal(size=(200, 3))
    model = _fit(data, guard=False)
    words = _check_document(build_report(model, data)).words
    assert "memorisation guard not run" in words
    assert "The guard did not run: the guard is off (guard=False)." in words


def test_wide_data_is_truncated(rng: np.random.Generator) -> None:
    data = rng.normal(size=(150, 30)) * np.arange(1, 31)  # column j has variance (j + 1)²
    model = _fit(data, n_components=1, reduce=5)
    text = build_report(model, data)
    words = _check_document(text).words
    assert "the first 20 of 30 columns (10 more not shown)" in words
    assert "the 12 of 30 non-constant columns with the largest variance" in words
    assert "x19" in words and "x20" not in words
    marginals = next(a for a in _Page(text).all("img") if (a["alt"] or "").startswith("Hist"))
    assert marginals["alt"] is not None and "12 of 30" in marginals["alt"]


def test_same_seed_same_report(tabular: tuple[Synthesizer, pd.DataFrame]) -> None:
    model, data = tabular

    def undated(text: str) -> str:
        return re.sub(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", text)

    one = build_report(model, data, random_state=3)
    assert undated(one) == undated(build_report(model, data, random_state=3))
    assert undated(one) != undated(build_report(model, data, random_state=4))


def test_array_data_for_a_dataframe_model(tabular: tuple[Synthesizer, pd.DataFrame]) -> None:
    model, data = tabular
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "feature names" warning from scikit-learn
        words = _check_document(build_report(model, data.to_numpy())).words
    assert "income" in words


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_shape": (8, 8)}, "image_shape=.* needs 64 columns; the data has 6"),
        ({"n_samples": 0}, "n_samples must be a positive integer"),
        ({"n_samples": 2.5}, "n_samples must be a positive integer"),
    ],
)
def test_rejects_bad_arguments(
    tabular: tuple[Synthesizer, pd.DataFrame], kwargs: dict[str, Any], message: str
) -> None:
    model, data = tabular
    with pytest.raises(ValueError, match=message):
        build_report(model, data, **kwargs)


def test_rejects_other_data_and_unfitted_models(
    tabular: tuple[Synthesizer, pd.DataFrame],
) -> None:
    model, data = tabular
    with pytest.raises(ValueError, match="data has 5 columns but the model was fitted on 6"):
        build_report(model, data.iloc[:, :5])
    with pytest.raises(ValueError, match="differ from the model's"):
        build_report(model, data.rename(columns={"age": "years"}))
    with pytest.raises(NotFittedError):
        build_report(Synthesizer(), data)


def test_write_report_is_atomic_and_refuses_to_clobber(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert write_report(target, "<p>µ ≥ σ</p>") == target
    assert target.read_text(encoding="utf-8") == "<p>µ ≥ σ</p>"
    with pytest.raises(OutputExistsError):
        write_report(target, "other")
    assert target.read_text(encoding="utf-8") == "<p>µ ≥ σ</p>"
    write_report(target, "other", overwrite=True)
    assert target.read_text(encoding="utf-8") == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


# ------------------------------------------------------------------ the report's figures


def test_image_mosaic_lands_every_pixel() -> None:
    images = np.zeros((3, 4))
    images[1] = 16.0  # an all-ink tile
    fig = image_mosaic(images, shape=(2, 2), image_shape=(2, 2), zoom=3, gap=1)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    pixels = np.asarray(Image.open(buffer).convert("L"))
    assert pixels.shape == (2 * (6 + 1) + 1, 2 * (6 + 1) + 1)
    assert (pixels[1:7, 1:7] == 255).all()  # empty tile: white
    assert (pixels[1:7, 8:14] == 0).all()  # ink: black
    assert 200 < pixels[0, 0] < 255 and pixels[7, 3] == pixels[0, 0]  # grey gutters
    assert pixels[8:14, 8:14].std() == 0  # the missing fourth tile: background only


def test_marginals_and_pairs_figures(rng: np.random.Generator) -> None:
    real, synthetic = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    fig = marginals_figure(real, synthetic, names=["a", "b", "c"], ncols=2, notes=["1", "2", "3"])
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.axison]
    assert titles == ["a\n1", "b\n2", "c\n3"]
    fig = pair_figure(real, synthetic, names=["a", "b", "c"], max_points=30)
    shown = fig.axes
    assert len(shown) == 6  # the lower triangle and the diagonal
    assert [np.shape(c.get_offsets())[0] for c in shown[1].collections] == [30, 30]
    with pytest.raises(ValueError, match="same, positive number of columns"):
        marginals_figure(real, synthetic[:, :2])


# ------------------------------------------------------------------- as a person sees it

#: Appended to a copy of the page: whether every image decoded, once the page has loaded.
_PROBE = (
    "<script>addEventListener('load', () => {"
    " const images = [...document.images];"
    " document.body.dataset.images = images.length;"
    " document.body.dataset.loaded = images.length > 0"
    " && images.every(i => i.complete && i.naturalWidth > 0); });</script>"
)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser; skipped locally when missing, a failure on CI (CI=true)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "Chromium is not installed (Debian: apt-get install chromium)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}; CI must have it: .ci/run installs it.")
    pytest.skip(message)


def _run_chromium(chromium: str, tmp_path: Path, *args: str) -> str:
    """Run headless Chromium with a fresh profile; its whole process group dies on timeout."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--no-first-run", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium took more than {CHROMIUM_TIMEOUT} s: {' '.join(command)}")
    assert process.returncode == 0, err[-2000:]
    return out


def _loaded_images(chromium: str, tmp_path: Path, text: str) -> tuple[bool, int]:
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _run_chromium(chromium, tmp_path, "--dump-dom", probe.as_uri())
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    count = re.search(r'data-images="(\d+)"', body.group())
    assert count is not None, f"the page did not finish loading: {body.group()}"
    return 'data-loaded="true"' in body.group(), int(count.group(1))


def _screenshot(chromium: str, tmp_path: Path, page: Path) -> np.ndarray:
    shot = tmp_path / "screenshot.png"
    _run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000",
                  page.as_uri())
    assert shot.exists()
    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        return np.asarray(im.convert("L"), dtype=np.float64)


def _assert_looks_like_a_report(pixels: np.ndarray) -> None:
    assert pixels.std() > 15  # not blank: text, tables and figures
    top = pixels[:400]
    assert (top < 80).mean() > 0.005  # dark heading text at the top
    assert (pixels > 230).mean() > 0.5  # a light theme
    # content all the way down: every 500-pixel band has ink in it
    for band in np.array_split(pixels, 8):
        assert band.std() > 5


@pytest.mark.parametrize("kind", ["tabular", "image"])
def test_chromium_shows_the_report(
    chromium: str, kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # the fixtures are asked for only now, so that a missing browser skips before any fit
    if kind == "image":
        text = request.getfixturevalue("digits_html")
    else:
        model, data = request.getfixturevalue("tabular")
        text = build_report(model, data)
    page = tmp_path / "report.html"
    write_report(page, text)
    _assert_looks_like_a_report(_screenshot(chromium, tmp_path, page))
    loaded, count = _loaded_images(chromium, tmp_path, text)
    assert loaded
    assert count == len(_Page(text).all("img"))


def test_chromium_probe_catches_a_broken_image(chromium: str, tmp_path: Path) -> None:
    broken = ('<!DOCTYPE html><html lang="en"><body><img alt="broken" '
              'src="data:image/png;base64,iVBORw0KGgo="></body></html>')
    assert _loaded_images(chromium, tmp_path, broken) == (False, 1)
