"""The command line: exit codes, one-line errors, light start, progress on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mixsynth.cli as cli_module
import mixsynth.demo as demo_module
from mixsynth import __version__
from mixsynth.cli import main
from mixsynth.io import OutputError

SRC = Path(cli_module.__file__).resolve().parents[1]
HEAVY = ("numpy", "scipy", "sklearn", "matplotlib", "pandas", "tqdm", "mixsynth.synthesizer")


def _run_python(*args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": path}, check=False)


@pytest.fixture
def fake_demo(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[dict[str, Any]]]:
    """Replace the demo by ``action(**kwargs)``; returns the list of calls."""

    def install(action: Callable[..., object] = lambda **kw: None) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def fake(out_dir: Path, **kwargs: Any) -> None:
            calls.append({"out_dir": out_dir, **kwargs})
            action(**kwargs)

        monkeypatch.setattr(demo_module, "run_digits_demo", fake)
        return calls

    return install


def _raise(exc: BaseException) -> Callable[..., None]:
    def action(**kwargs: Any) -> None:
        raise exc

    return action


# --- the front door ------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"mixsynth {__version__}\n"


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: mixsynth" in out
    assert "demo" in out
    for code in ("65", "66", "73", "130"):
        assert f"  {code} " in out
    assert cli_module.__doc__ is not None and "130  interrupted" in cli_module.__doc__


def test_import_and_help_stay_light() -> None:
    code = (
        "import sys\n"
        "from mixsynth.cli import main\n"
        "code = main(['--help'])\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY', heavy, code)\n"
    )
    result = _run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY [] 0"


def test_python_dash_m(tmp_path: Path) -> None:
    result = _run_python("-m", "mixsynth", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mixsynth {__version__}\n"
    (tmp_path / "digits.png").write_bytes(b"keep")
    result = _run_python("-m", "mixsynth", "demo", "digits", "--out", str(tmp_path))
    assert result.returncode == 73
    assert result.stderr.count("\n") == 1


# --- usage errors: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["no-such-command"],
        ["demo", "no-such-demo"],
        ["demo", "digits"],  # --out is required
        ["demo", "digits", "--out", "x", "--seed", "-1"],
        ["demo", "digits", "--out", "x", "--seed", "one"],
        ["demo", "digits", "--out", "x", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str],
                             fake_demo: Callable[..., list[dict[str, Any]]]) -> None:
    calls = fake_demo()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Usage: mixsynth" in captured.err
    assert argv == [] or "Error:" in captured.err  # no arguments: the help, on stderr
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert calls == []


def test_out_must_not_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").touch()
    assert main(["demo", "digits", "--out", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


# --- outputs: exit 73 ----------------------------------------------------------------------


def test_existing_output_without_force_exits_73(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real demo: it refuses before loading anything heavy.
    (tmp_path / "aic.png").write_bytes(b"keep me")
    assert main(["demo", "digits", "--quick", "--out", str(tmp_path), "--no-progress"]) == 73
    captured = capsys.readouterr()
    assert captured.err == (
        f"mixsynth: error: {tmp_path / 'aic.png'} exists; use --force to overwrite\n"
    )
    assert captured.out == ""
    assert (tmp_path / "aic.png").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aic.png"]


def test_output_folder_that_cannot_be_created_exits_73(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").touch()
    assert main(["demo", "digits", "--out", str(tmp_path / "file" / "sub")]) == 73
    err = capsys.readouterr().err
    assert err.startswith("mixsynth: error: cannot create output folder")
    assert err.count("\n") == 1


def test_permission_error_on_output_exits_73(
    capsys: pytest.CaptureFixture[str], fake_demo: Callable[..., list[dict[str, Any]]]
) -> None:
    fake_demo(_raise(OutputError("cannot write out/a.png: Permission denied", errno_=13)))
    assert main(["demo", "digits", "--out", "out"]) == 73
    assert capsys.readouterr().err == "mixsynth: error: cannot write out/a.png: Permission denied\n"


# --- exceptions from the library -----------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (ValueError("Input X contains NaN: column 3, first at row 7."), 65,
         "mixsynth: error: Input X contains NaN: column 3, first at row 7."),
        (ValueError("first line\n  second line"), 65, "mixsynth: error: first line second line"),
        (FileNotFoundError(2, "No such file or directory", "data.csv"), 66,
         "mixsynth: error: cannot read data.csv: No such file or directory"),
        (PermissionError(13, "Permission denied", "data.csv"), 66,
         "mixsynth: error: cannot read data.csv: Permission denied"),
        (RuntimeError("oops"), 1,
         "mixsynth: error: internal error: RuntimeError: oops "
         "(please report it with the output of -v)"),
    ],
)
def test_exceptions_map_to_exit_codes(
    exc: Exception, code: int, line: str, capsys: pytest.CaptureFixture[str],
    fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    fake_demo(_raise(exc))
    assert main(["demo", "digits", "--out", "out"]) == code
    captured = capsys.readouterr()
    assert captured.err == line + "\n"
    assert captured.out == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_shows_the_traceback(
    where: str, capsys: pytest.CaptureFixture[str],
    fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    fake_demo(_raise(ValueError("bad pixel")))
    argv = ["demo", "digits", "--out", "out"]
    argv = ["-v", *argv] if where == "before" else [*argv, "--verbose"]
    assert main(argv) == 65
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "ValueError: bad pixel" in err
    assert err.splitlines()[-1] == "mixsynth: error: bad pixel"


def test_keyboard_interrupt_exits_130(
    capsys: pytest.CaptureFixture[str], fake_demo: Callable[..., list[dict[str, Any]]]
) -> None:
    fake_demo(_raise(KeyboardInterrupt()))
    assert main(["demo", "digits", "--out", "out"]) == 130
    captured = capsys.readouterr()
    assert "mixsynth: interrupted" in captured.err
    assert "Traceback" not in captured.err


# --- options reach the demo ----------------------------------------------------------------


def test_options_are_passed_to_the_demo(
    capsys: pytest.CaptureFixture[str], fake_demo: Callable[..., list[dict[str, Any]]]
) -> None:
    def action(echo: Callable[[str], object], **kwargs: Any) -> None:
        echo("report line")

    calls = fake_demo(action)
    assert main(["demo", "digits", "--out", "d", "--quick", "--seed", "7", "--force",
                 "--no-progress"]) == 0
    (call,) = calls
    assert call["out_dir"] == Path("d")
    assert (call["quick"], call["seed"], call["overwrite"], call["progress"]) == (True, 7, True,
                                                                                 None)
    assert capsys.readouterr().out == "report line\n"


def test_quiet_silences_the_report(
    capsys: pytest.CaptureFixture[str], fake_demo: Callable[..., list[dict[str, Any]]]
) -> None:
    fake_demo(lambda echo, **kw: echo("report line"))
    assert main(["-q", "demo", "digits", "--out", "d"]) == 0
    assert capsys.readouterr() == ("", "")


def test_warnings_become_one_stderr_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    monkeypatch.setattr(sys, "warnoptions", [])  # as when run without -W
    fake_demo(lambda **kw: warnings.warn("column 3 is constant\nit is kept", UserWarning,
                                         stacklevel=1))
    assert main(["demo", "digits", "--out", "d"]) == 0
    assert capsys.readouterr().err == "mixsynth: warning: column 3 is constant it is kept\n"


# --- progress ------------------------------------------------------------------------------


def _candidates(progress: Callable[[int, int, Any], None] | None, **kwargs: Any) -> None:
    assert progress is not None
    for i, k in enumerate((2, 4, 6), start=1):
        progress(i, 3, SimpleNamespace(n_components=k, covariance_type="full", fit_time=0.5))


def test_progress_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    monkeypatch.setattr(cli_module, "_is_terminal", lambda stream: True)
    fake_demo(_candidates)
    assert main(["demo", "digits", "--out", "d"]) == 0
    captured = capsys.readouterr()
    assert "3/3" in captured.err
    assert "K=6 full 0.5 s" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("flag", ["--no-progress", "-q"])
def test_no_bar_when_asked(
    flag: str, monkeypatch: pytest.MonkeyPatch, fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    monkeypatch.setattr(cli_module, "_is_terminal", lambda stream: True)
    calls = fake_demo()
    assert main(["demo", "digits", "--out", "d", flag]) == 0
    assert calls[0]["progress"] is None


def test_no_bar_when_stderr_is_not_a_terminal(
    fake_demo: Callable[..., list[dict[str, Any]]],
) -> None:
    calls = fake_demo()
    assert main(["demo", "digits", "--out", "d"]) == 0  # pytest captures stderr: not a tty
    assert calls[0]["progress"] is None


def test_verbose_logs_candidates_without_a_terminal(
    capsys: pytest.CaptureFixture[str], fake_demo: Callable[..., list[dict[str, Any]]]
) -> None:
    fake_demo(_candidates)
    assert main(["demo", "digits", "--out", "d", "-v"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("mixsynth: fitted candidate 1/3: K=2 full")
    assert len(lines) == 3
