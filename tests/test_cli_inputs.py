"""Hostile parameters and paths on the command line (issue 14, item 7): a usage error (exit 2)
before any work, or an unreadable input (exit 66) with one clear line, never a hang or an
"out of memory"."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsynth.cli import main

FAST = ["--components", "1:2", "--criterion", "bic", "--no-guard", "-q"]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_inputs")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    (folder / "data.csv").write_text("a,b\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in X) + "\n")
    assert main(["fit", str(folder / "data.csv"), "-o", str(folder / "m.mixsynth"), *FAST]) == 0
    return folder


def _error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith(("Error:", "mixsynth: error"))]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("option", "message"), [
    (["--components", "1:10000000000"], "at most 1,000"),
    (["--components", "1:100000:1"], "at most 1,000"),
    (["--tol", "nan"], "--tol"),
    (["--tol", "inf"], "--tol"),
    (["--jobs", "0"], "is not -1"),
])
def test_bad_options_are_usage_errors(work: Path, tmp_path: Path, option: list[str],
                                      message: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.mixsynth"
    assert main(["fit", str(work / "data.csv"), "-o", str(out), *option]) == 2
    line = _error_line(capsys.readouterr().err)
    assert message in line and "finite" in line if option[0] == "--tol" else message in line
    assert not out.exists()


def test_a_wide_but_reasonable_range_is_accepted(work: Path, tmp_path: Path) -> None:
    from mixsynth.cli import _components

    assert _components(None, None, "1:1000") == list(range(1, 1001))  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "mkfifo"), reason="FIFOs")
@pytest.mark.parametrize("role", ["data", "model", "inspect", "evaluate-real"])
def test_a_fifo_without_a_writer_is_refused_not_waited_on(
        work: Path, tmp_path: Path, role: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Opening a FIFO that nobody writes to blocks for ever: refuse non-regular files."""
    fifo = tmp_path / ("in.csv" if role != "model" and role != "inspect" else "m.mixsynth")
    os.mkfifo(fifo)
    argv = {
        "data": ["fit", str(fifo), "-o", str(tmp_path / "out.mixsynth"), *FAST],
        "model": ["sample", str(fifo), "-n", "5", "-o", str(tmp_path / "s.csv")],
        "inspect": ["inspect", str(fifo)],
        "evaluate-real": ["evaluate", "--real", str(fifo), "--synthetic",
                          str(work / "data.csv"), "-o", str(tmp_path / "q.json")],
    }[role]
    assert main(argv) == 66
    line = _error_line(capsys.readouterr().err)
    assert str(fifo) in line and "not a regular file" in line and "FIFO" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == [fifo.name]
