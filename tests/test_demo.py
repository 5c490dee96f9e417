"""The digits demo, end to end with the quick sweep (K = 2, 4, 6)."""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from mixsynth.cli import main
from mixsynth.demo import DIGITS_FILES, QUICK_N_COMPONENTS, run_digits_demo
from mixsynth.io import OutputExistsError

from .interrupting import interrupt_at

pytestmark = pytest.mark.slow



def expected_warnings(test: Any) -> Any:
    """Warnings the demo may give and a test of the demo does not care about."""
    # Digits have always-blank border pixels; the whitener says so.
    test = pytest.mark.filterwarnings("ignore::mixsynth.whitening.ConstantColumnsWarning")(test)
    # Whether the final fit converges is reported, not asserted, and depends on the seed.
    return pytest.mark.filterwarnings("ignore:The selected mixture.*did not converge")(test)


def test_quick_demo_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing" / "parent"  # created, parents included
    # -v without a terminal: one log line per candidate instead of a bar.
    assert main(["demo", "digits", "--quick", "--out", str(out), "-v"]) == 0
    captured = capsys.readouterr()
    assert "(1797, 64)" in captured.out
    assert re.search(r"\b41\b", captured.out)
    for k in QUICK_N_COMPONENTS:
        assert re.search(rf"K = +{k} +AIC = +\d+\.\d", captured.out), captured.out
    assert "chosen K = " in captured.out
    assert "Traceback" not in captured.err
    assert "mixsynth: error" not in captured.err
    logged = [line for line in captured.err.splitlines() if "fitted candidate" in line]
    assert [line.split(":")[1].strip() for line in logged][:3] == [
        "fitted candidate 1/3", "fitted candidate 2/3", "fitted candidate 3/3"
    ]  # then the default model's own selection, for the comparison
    assert all(line.startswith("mixsynth: ") for line in captured.err.splitlines())

    sizes = {name: imread(out / name).shape[:2] for name in DIGITS_FILES}
    assert sizes == {
        "digits.png": (840, 800), "aic.png": (400, 640), "new_digits.png": (840, 800),
        "nearest.png": (280, 1600), "by_class.png": (840, 800),
    }
    before = {name: (out / name).read_bytes() for name in DIGITS_FILES}

    # A second run refuses, before any work, and touches nothing.
    assert main(["demo", "digits", "--quick", "--out", str(out), "--no-progress"]) == 73
    captured = capsys.readouterr()
    refused = f"mixsynth: error: {out / 'digits.png'} exists; use --force to overwrite\n"
    assert captured.err == refused
    assert captured.out == ""
    assert {name: (out / name).read_bytes() for name in DIGITS_FILES} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(DIGITS_FILES)


@expected_warnings
def test_quick_demo_api_overwriting(tmp_path: Path, seed: int) -> None:
    for name in DIGITS_FILES:
        (tmp_path / name).write_bytes(b"old")
    lines: list[str] = []
    calls: list[tuple[int, int, Any]] = []
    result = run_digits_demo(tmp_path, quick=True, seed=seed, overwrite=True, echo=lines.append,
                             progress=lambda done, total, c: calls.append((done, total, c)))

    assert result.data_shape == (1797, 64)
    assert result.n_pca_components == 41
    assert result.criterion == "aic"
    assert [c.n_components for c in result.candidates] == list(QUICK_N_COMPONENTS)
    assert result.best_n_components in QUICK_N_COMPONENTS
    assert result.min_aic_n_components == result.best_n_components  # AIC chooses the minimum
    assert isinstance(result.converged, bool)
    assert result.files == tuple(tmp_path / name for name in DIGITS_FILES)
    for path in result.files:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the textbook sweep first, then the default model's selection for the comparison
    assert [(done, total) for done, total, _ in calls][:3] == [(1, 3), (2, 3), (3, 3)]
    assert len(calls) > 3
    assert [c.n_components for _, _, c in calls][:3] == list(QUICK_N_COMPONENTS)

    # New digits: 100 rows of 64 whole-number pixels in [0, 16].
    samples = result.samples
    assert samples.shape == (100, 64)
    assert samples.min() >= 0 and samples.max() <= 16
    np.testing.assert_array_equal(samples, np.round(samples))

    assert any("(1797, 64)" in line for line in lines)
    assert all("\n" not in line for line in lines)
    summary = json.loads(json.dumps(result.to_dict()))
    assert summary["best_n_components"] == result.best_n_components
    assert sorted(summary["aic"]) == [str(k) for k in QUICK_N_COMPONENTS]


def test_demo_refuses_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "new_digits.png").write_bytes(b"mine")
    lines: list[str] = []
    with pytest.raises(OutputExistsError, match=r"new_digits\.png exists"):
        run_digits_demo(tmp_path, quick=True, echo=lines.append)
    assert lines == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new_digits.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_the_fit_exits_130_and_leaves_no_partial_file(tmp_path: Path) -> None:
    # The demo stops where the sweep starts (a test-only pause point) and says so; only then
    # is SIGINT sent, so the signal always lands mid-fit however loaded the machine is.
    out = tmp_path / "out"
    outcome = interrupt_at("demo-fit", ["demo", "digits", "--quick", "--out", str(out)],
                           signal.SIGINT, tmp_path)
    assert outcome.returncode == 130, outcome.stderr
    assert outcome.stderr.strip().splitlines()[-1] == "mixsynth: interrupted"
    assert "Traceback" not in outcome.stderr
    assert "fitting" in outcome.stdout
    # The figure written before the fit is whole; nothing after it, no temp files.
    assert sorted(p.name for p in out.iterdir()) == ["digits.png"]
    assert imread(out / "digits.png").shape[:2] == (840, 800)
