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


# ======================================================================= the data commands
#
# One small data set (200 rows: two correlated floats, an integer column and a class label),
# fitted once per module with the fast settings; every command runs in-process through main().

FAST = ["--criterion", "bic", "--components", "1:3", "--reg-covar", "1e-6,1e-3"]


def _one_error_line(err: str) -> str:
    """The single stderr line of a failed command (no traceback without -v)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _usage_error_line(err: str) -> str:
    """click's usage block: exactly one ``Error:`` line, no traceback."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, err
    return errors[0]


def _csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.strip().splitlines()]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with data.csv, labelled.csv, holdout.csv and the models fitted on them."""
    import numpy as np

    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(20240601)

    def table(n: int) -> list[str]:
        a = rng.normal(size=n)
        b = 2 * a + 0.3 * rng.normal(size=n)
        c = rng.integers(0, 5, n)
        kind = np.where(a + 0.5 * rng.normal(size=n) > 0, "hi", "lo")
        return [f"{float(a[i])!r},{float(b[i])!r},{c[i]},{kind[i]}" for i in range(n)]

    rows, held = table(200), table(100)
    (folder / "labelled.csv").write_text("a,b,c,kind\n" + "\n".join(rows) + "\n")
    (folder / "data.csv").write_text(
        "a,b,c\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    (folder / "holdout.csv").write_text(
        "a,b,c\n" + "\n".join(r.rsplit(",", 1)[0] for r in held) + "\n")
    assert main(["fit", str(folder / "data.csv"), "-o", str(folder / "m.mixsynth"), *FAST,
                 "-q"]) == 0
    assert main(["fit", str(folder / "labelled.csv"), "--label", "kind", "-o",
                 str(folder / "c.mixsynth"), *FAST, "-q"]) == 0
    return folder


def test_readme_flow_in_subprocesses(work: Path, tmp_path: Path) -> None:
    if not (SRC / "mixsynth" / "report.py").exists():
        pytest.fail("mixsynth/report.py is missing: the README flow needs it")
    model, new, page = tmp_path / "m.mixsynth", tmp_path / "new.parquet", tmp_path / "r.html"
    data = str(work / "data.csv")
    for argv in (["fit", data, "-o", str(model), *FAST],
                 ["sample", str(model), "-n", "1000", "-o", str(new)],
                 ["report", str(model), "--data", data, "-o", str(page)]):
        result = _run_python("-m", "mixsynth", *argv)
        assert result.returncode == 0, result.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(new)
    assert table.num_rows == 1000 and table.column_names == ["a", "b", "c"]
    assert str(table.schema.field("c").type) == "int64"
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


def test_fit_reports_the_selection(work: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.mixsynth"
    assert main(["fit", str(work / "data.csv"), "-o", str(out), *FAST, "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert "data: " in captured.out and "200 rows x 3 columns" in captured.out
    assert "BIC" in captured.out and " *" in captured.out  # the table marks the winner
    assert "chosen: K=" in captured.out
    assert captured.out.rstrip().endswith(f"wrote {out}")
    from mixsynth.persistence import load

    model = load(out)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert model.random_state == 3


def test_quiet_fit_prints_nothing(work: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "fit", str(work / "data.csv"), "-o", str(tmp_path / "m"), *FAST]) == 0
    assert capsys.readouterr().out == ""


def test_inspect_prints_metadata_without_loading_arrays(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import mixsynth.persistence as persistence

    def no_load(path: Any) -> None:
        raise AssertionError("inspect must not load the model")

    monkeypatch.setattr(persistence, "load", no_load)
    assert main(["inspect", str(work / "m.mixsynth")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "mixsynth-model" and doc["kind"] == "synthesizer"
    assert doc["extra"]["columns"] == ["a", "b", "c"]
    assert doc["extra"]["dtypes"] == ["float64", "float64", "int64"]


@pytest.mark.parametrize("name", ["s.csv", "s.tsv", "s.parquet", "s.npy"])
def test_sample_formats_give_the_same_rows(work: Path, tmp_path: Path, name: str,
                                           seed: int) -> None:
    import numpy as np

    from mixsynth.io import read_data

    out = tmp_path / name
    args = ["sample", str(work / "m.mixsynth"), "-n", "300", "--seed", str(seed),
            "--chunk-size", "128"]
    assert main([*args, "-o", str(out)]) == 0
    assert main([*args, "-o", str(tmp_path / "ref.csv")]) == 0
    got, ref = read_data(out), read_data(tmp_path / "ref.csv")
    np.testing.assert_array_equal(got.values, ref.values)
    assert ref.columns == ("a", "b", "c") and ref.dtypes[2] == "int64"


def test_sample_to_stdout(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(work / "m.mixsynth"), "-n", "1e1", "-o", "-", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    rows = _csv_rows(captured.out)
    assert rows[0] == ["a", "b", "c"] and len(rows) == 11
    assert all(r[2].isdigit() for r in rows[1:])  # the integer column stays integer
    assert captured.err == ""


def test_sample_zero_rows_keeps_the_header(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(work / "m.mixsynth"), "-n", "0", "-o", "-"]) == 0
    assert capsys.readouterr().out == "a,b,c\n"


def test_sample_given(work: Path, capsys: pytest.CaptureFixture[str], seed: int) -> None:
    assert main(["sample", str(work / "m.mixsynth"), "-n", "50", "-o", "-", "--seed", str(seed),
                 "--given", "a=1.5", "--given", "c=2"]) == 0
    rows = _csv_rows(capsys.readouterr().out)[1:]
    assert {r[0] for r in rows} == {"1.5"} and {r[2] for r in rows} == {"2"}
    assert len({r[1] for r in rows}) == 50  # b is drawn given a and c


def test_label_and_class(work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(work / "c.mixsynth")
    assert main(["sample", model, "-n", "40", "-o", "-", "--seed", "0", "--class", "hi"]) == 0
    rows = _csv_rows(capsys.readouterr().out)
    assert rows[0] == ["a", "b", "c", "kind"]
    assert {r[3].strip('"') for r in rows[1:]} == {"hi"}
    assert main(["sample", model, "-n", "200", "-o", "-", "--seed", "0"]) == 0
    assert {r[3].strip('"') for r in _csv_rows(capsys.readouterr().out)[1:]} == {"hi", "lo"}
    # evaluate leaves the model's label column out by itself
    assert main(["sample", model, "-n", "200", "-o", str(tmp_path / "s.csv")]) == 0
    assert main(["evaluate", "--real", str(work / "labelled.csv"), "--synthetic",
                 str(tmp_path / "s.csv"), "--model", model, "-o", str(tmp_path / "q.json")]) == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["--class", "nope"], "unknown class 'nope'; the model's classes are ['hi', 'lo']"),
    (["--given", "zz=1"], "unknown column 'zz'"),
    (["--given", "a"], "'a' is not COLUMN=VALUE"),
    (["--given", "a=inf"], "must be finite"),
    (["-o", "x.npy"], "cannot hold the model's text class labels"),
    (["-o", "x.xlsx"], "cannot tell the output format"),
    (["-n", "-3"], "is negative"),
    (["-n", "2.5"], "is not a whole number"),
])
def test_sample_usage_errors(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str], argv: list[str],
                             message: str) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["sample", str(work / "c.mixsynth"), "-n", "5", "-o", "out.csv"]
    assert main([*base, *argv]) == 2
    assert message in _usage_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_class_needs_a_class_conditional_model(work: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(work / "m.mixsynth"), "-n", "5", "-o", "-", "--class", "x"]) == 2
    assert "not class-conditional" in _usage_error_line(capsys.readouterr().err)


def test_binary_to_a_terminal_is_refused(work: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["sample", str(work / "m.mixsynth"), "-n", "5", "-o", "-",
                 "--format", "parquet"]) == 2
    captured = capsys.readouterr()
    assert "use -o FILE" in _usage_error_line(captured.err)
    assert captured.out == ""


def test_sample_progress_bar_on_a_terminal(work: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_module, "_is_terminal", lambda stream: True)
    assert main(["sample", str(work / "m.mixsynth"), "-n", "1000", "--chunk-size", "100",
                 "-o", str(tmp_path / "s.csv")]) == 0
    err = capsys.readouterr().err
    assert "sampling" in err and "100%" in err


def test_evaluate(work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["sample", str(work / "m.mixsynth"), "-n", "200", "--seed", "1", "-o",
                 str(tmp_path / "s.parquet")]) == 0
    report = tmp_path / "q.json"
    argv = ["evaluate", "--real", str(work / "data.csv"), "--synthetic",
            str(tmp_path / "s.parquet"), "--holdout", str(work / "holdout.csv"),
            "--model", str(work / "m.mixsynth")]
    capsys.readouterr()
    assert main([*argv, "-o", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert doc["n_train"] == 200 and doc["n_synthetic"] == 200 and doc["n_holdout"] == 100
    assert doc["columns"] == ["a", "b", "c"] and doc["heldout_log_likelihood"] is not None
    out = capsys.readouterr().out
    assert "column_shapes" in out and "higher is better" in out
    assert main([*argv, "-o", "-", "-q"]) == 0
    assert json.loads(capsys.readouterr().out) == doc  # the same seed, the same report


def test_evaluate_feature_mismatch_exits_65(work: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--real", str(work / "data.csv"), "--synthetic",
                 str(work / "data.csv"), "--columns", "a,b", "--model", str(work / "m.mixsynth"),
                 "-o", str(tmp_path / "q.json")]) == 65
    line = _one_error_line(capsys.readouterr().err)
    assert "expecting 3 features" in line
    assert list(tmp_path.iterdir()) == []


def test_report(work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "r.html"
    assert main(["report", str(work / "c.mixsynth"), "--data", str(work / "labelled.csv"),
                 "-o", str(page), "--title", "Labelled"]) == 0
    text = page.read_text(encoding="utf-8")
    assert "Labelled" in text and "</html>" in text
    assert capsys.readouterr().out == f"wrote {page}\n"


def test_image_folder_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import numpy as np
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(60):
        Image.fromarray((rng.random((6, 5)) * 60 + 100 * (i % 2)).astype(np.uint8),
                        mode="L").save(folder / f"{i:03d}.png")
    model = tmp_path / "i.mixsynth"
    assert main(["fit", str(folder), "-o", str(model), "--criterion", "bic", "--components",
                 "1:2", "--no-guard", "-q"]) == 0
    assert main(["inspect", str(model)]) == 0
    extra = json.loads(capsys.readouterr().out)["extra"]
    assert extra["image_shape"] == [6, 5] and extra["columns"][0] == "p0"
    assert main(["sample", str(model), "-n", "12", "-o", str(tmp_path / "gen"), "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "gen").iterdir())
    assert names == [f"{i:06d}.png" for i in range(12)] + ["contact_sheet.png"]
    with Image.open(tmp_path / "gen" / "000000.png") as im:
        assert im.size == (5, 6)
    # the generated folder reads back as data of the same shape
    assert main(["sample", str(model), "-n", "12", "-o", str(tmp_path / "gen"), "-q"]) == 73
    assert main(["evaluate", "--real", str(folder), "--synthetic", str(tmp_path / "gen"),
                 "--model", str(model), "-o", str(tmp_path / "q.json"), "-q"]) == 0


# --- exit codes of the data commands, one stderr line each ------------------------------


def _commands(work: Path, out: Path) -> dict[str, list[str]]:
    return {
        "fit": ["fit", str(work / "data.csv"), "-o", str(out), *FAST],
        "sample": ["sample", str(work / "m.mixsynth"), "-n", "10", "-o", str(out)],
        "evaluate": ["evaluate", "--real", str(work / "data.csv"), "--synthetic",
                     str(work / "holdout.csv"), "-o", str(out)],
        "report": ["report", str(work / "m.mixsynth"), "--data", str(work / "data.csv"),
                   "-o", str(out)],
    }


@pytest.mark.parametrize("command", ["fit", "sample", "evaluate", "report"])
def test_existing_output_exits_73_and_is_kept(work: Path, tmp_path: Path, command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    out.write_bytes(b"precious\x00bytes")
    assert main(_commands(work, out)[command]) == 73
    assert _one_error_line(capsys.readouterr().err) == (
        f"mixsynth: error: {out} exists; use --force to overwrite")
    assert out.read_bytes() == b"precious\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_force_overwrites(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old")
    assert main([*_commands(work, out)["sample"], "--force", "-q"]) == 0
    assert out.read_text().startswith("a,b,c\n")


def test_missing_output_folder_exits_73(work: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "m.mixsynth"
    assert main(_commands(work, out)["fit"]) == 73
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


@pytest.fixture
def corrupt_models(work: Path, tmp_path: Path) -> dict[str, Path]:
    good = (work / "m.mixsynth").read_bytes()
    flipped = bytearray(good)
    flipped[-9] ^= 0x01  # a tensor byte: the structure holds, the checksum does not
    models = {
        "bit flip": bytes(flipped),
        "truncated": good[: len(good) // 2],
        "text": b"a,b,c\n1,2,3\n",
        "pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
    }
    paths = {}
    for name, data in models.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.mixsynth"
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize(("kind", "command"), [
    *((kind, command) for kind in ("bit flip", "truncated", "text", "pickle")
      for command in ("sample", "report", "evaluate")),
    # inspect reads the header only: a flipped tensor byte is beyond what it checks
    *((kind, "inspect") for kind in ("truncated", "text", "pickle")),
])
def test_corrupted_model_exits_65(work: Path, tmp_path: Path, corrupt_models: dict[str, Path],
                                  kind: str, command: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = str(corrupt_models[kind])
    out = str(tmp_path / "out.csv")
    argv = {
        "sample": ["sample", model, "-n", "5", "-o", out],
        "report": ["report", model, "--data", str(work / "data.csv"), "-o", out],
        "evaluate": ["evaluate", "--real", str(work / "data.csv"), "--synthetic",
                     str(work / "data.csv"), "--model", model, "-o", out],
        "inspect": ["inspect", model],
    }[command]
    assert main(argv) == 65
    assert _one_error_line(capsys.readouterr().err).startswith("mixsynth: error: ")
    assert not Path(out).exists()


@pytest.mark.parametrize("argv", [
    ["fit", "{tmp}/missing.csv", "-o", "{tmp}/m.mixsynth"],
    ["fit", "{tmp}/empty_folder", "-o", "{tmp}/m.mixsynth"],
    ["sample", "{tmp}/missing.mixsynth", "-n", "5", "-o", "{tmp}/s.csv"],
    ["inspect", "{tmp}/missing.mixsynth"],
    ["evaluate", "--real", "{tmp}/missing.csv", "--synthetic", "{tmp}/missing.csv", "-o",
     "{tmp}/q.json"],
    ["report", "{work}/m.mixsynth", "--data", "{tmp}/missing.parquet", "-o", "{tmp}/r.html"],
])
def test_missing_input_exits_66(work: Path, tmp_path: Path, argv: list[str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty_folder").mkdir()
    argv = [a.format(tmp=tmp_path, work=work) for a in argv]
    assert main(argv) == 66
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("mixsynth: error: ")
    assert "missing" in line or "no images in" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty_folder"]


@pytest.mark.parametrize(("content", "message"), [
    # gaps are modelled in memory now (tests/test_surface.py); streamed, refused
    # (tests/test_cli_out_of_core.py)
    ("a,b\n1,2\n3,1e400\n", "contains inf"),
    # a text column is a category now (tests/tables/test_cli_tables.py); streamed, it is
    # refused naming it (tests/test_cli_out_of_core.py)
    ("a,b\n1,2\n3\n", "line 3 has 1 field(s) but the header has 2"),
    ("a;b\n1;2\n3;4\n", "pass --delimiter ';'"),
    ("a,b\n", "Found array with 0 sample(s)"),
    ("a,b\n1,2\n", "Found array with 1 sample(s) (shape=(1, 2)) while a minimum of 2"),
    ("", "is empty"),
])
def test_bad_data_exits_65(tmp_path: Path, content: str, message: str,
                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text(content)
    assert main(["fit", str(data), "-o", str(tmp_path / "m.mixsynth"), *FAST]) == 65
    assert message in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "m.mixsynth").exists()


def test_fit_reads_stdin_and_selects_columns(work: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import io

    text = (work / "labelled.csv").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    out = tmp_path / "m.mixsynth"
    assert main(["fit", "-", "--columns", "b,a", "-o", str(out), *FAST]) == 0
    assert "<stdin>: 200 rows x 2 columns" in capsys.readouterr().out
    assert main(["sample", str(out), "-n", "2", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("b,a\n")


def test_delimiter_option_reads_semicolons(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a;b\n" + "".join(f"{i};{i % 7}\n" for i in range(60)))
    assert main(["fit", str(data), "--delimiter", ";", "-o", str(tmp_path / "m"), *FAST,
                 "-q"]) == 0


def test_verbose_bad_data_shows_the_traceback(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n3,1e400\n")
    assert main(["fit", str(data), "-o", str(tmp_path / "m"), "-v"]) == 65
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.splitlines()[-1].startswith("mixsynth: error:")


@pytest.mark.parametrize(("option", "message"), [
    (["--components", "0"], "must be >= 1"),
    (["--components", "-2,4"], "must be >= 1"),
    (["--components", "5:2"], "below its START"),
    (["--components", "1:9:0"], "STEP"),
    (["--components", "many"], "is not K, START:STOP[:STEP] or K1,K2,..."),
    (["--covariance", "full,banana"], "unknown covariance type 'banana'"),
    (["--reg-covar", "-1e-3"], "must be finite and >= 0"),
    (["--reg-covar", "x"], "not a comma-separated list"),
    (["--tol", "0"], "--tol"),
    (["--tol", "-1"], "--tol"),
    (["--max-iter", "0"], "--max-iter"),
    (["--cv", "1"], "--cv"),
    (["--criterion", "loglik"], "--criterion"),
    (["--reduce", "1.5"], "neither a variance fraction"),
    (["--reduce", "0"], "neither a variance fraction"),
    (["--jobs", "0"], "is not -1"),
    (["--support", "wrap"], "--support"),
    (["--image-size", "8by8"], "WIDTHxHEIGHT"),
    (["--delimiter", ";;"], "not one character"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_hyper_parameters_exit_2(work: Path, tmp_path: Path, option: list[str],
                                     message: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.mixsynth"
    assert main(["fit", str(work / "data.csv"), "-o", str(out), *option]) == 2
    captured = capsys.readouterr()
    assert message in _usage_error_line(captured.err)
    assert captured.out == "" and not out.exists()


@pytest.mark.parametrize("argv", [
    ["fit", "{work}/data.xlsx", "-o", "{tmp}/m"],
    ["fit", "{work}/data.csv", "-o", "{tmp}/m", "--skip-bad"],
    ["fit", "{work}", "-o", "{tmp}/m", "--columns", "a"],
    ["sample", "{work}/m.mixsynth", "-o", "{tmp}/s.csv"],  # -n is required
    ["fit", "{work}/data.csv", "-o", "-"],  # a model is binary
])
def test_other_usage_errors_exit_2(work: Path, tmp_path: Path, argv: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    (work / "data.xlsx").touch()
    assert main([a.format(tmp=tmp_path, work=work) for a in argv]) == 2
    _usage_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_sample_exits_130_without_output(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixsynth.synthesizer import Synthesizer

    real = Synthesizer.iter_sample

    def interrupted(self: Synthesizer, *args: Any, **kwargs: Any) -> Any:
        chunks = real(self, *args, **kwargs)
        yield next(chunks)
        raise KeyboardInterrupt

    monkeypatch.setattr(Synthesizer, "iter_sample", interrupted)
    for name in ("s.csv", "s.parquet", "s.npy"):
        assert main(["sample", str(work / "m.mixsynth"), "-n", "1000", "--chunk-size", "100",
                     "-o", str(tmp_path / name)]) == 130
        assert _one_error_line(capsys.readouterr().err) == "mixsynth: interrupted"
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


def test_interrupted_fit_exits_130_without_a_model(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixsynth.synthesizer import Synthesizer

    def interrupted(self: Synthesizer, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Synthesizer, "fit", interrupted)
    out = tmp_path / "m.mixsynth"
    out.write_bytes(b"old model")
    assert main(["fit", str(work / "data.csv"), "-o", str(out), "--force"]) == 130
    assert _one_error_line(capsys.readouterr().err) == "mixsynth: interrupted"
    assert out.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["m.mixsynth"]


def test_commands_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "sample", "evaluate", "report", "inspect"):
        assert command in out
    assert main(["fit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "most common size" in out and "Lanczos" in out and "--skip-bad" in out


def test_fit_on_a_dask_scheduler(work: Path, tmp_path: Path, dask_client: Any,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--scheduler-address runs the candidates on the cluster; the model is the in-process one."""
    address = dask_client.scheduler.address
    on_cluster, local = tmp_path / "c.mixsynth", tmp_path / "l.mixsynth"
    assert main(["fit", str(work / "data.csv"), "-o", str(on_cluster), *FAST, "--seed", "5",
                 "--scheduler-address", address]) == 0
    assert main(["fit", str(work / "data.csv"), "-o", str(local), *FAST, "--seed", "5"]) == 0
    from mixsynth import load

    a, b = load(on_cluster), load(local)
    assert a.selection_.best.config == b.selection_.best.config
    assert (a.sample(20, random_state=1).to_numpy() == b.sample(20, random_state=1).to_numpy()
            ).all()
    capsys.readouterr()
    assert main(["fit", str(work / "data.csv"), "-o", str(tmp_path / "x.mixsynth"), *FAST,
                 "--workers", "2", "--scheduler-address", address]) == 2
    assert "not both" in capsys.readouterr().err


def test_interrupted_sweep_resumes_from_the_partial_file(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mixsynth import load
    from mixsynth.selection import Task

    real = Task.run
    calls: list[Any] = []

    def flaky(task: Task, *args: Any) -> Any:
        calls.append(task.config)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task, *args)

    monkeypatch.setattr(Task, "run", flaky)
    out, partial = tmp_path / "m.mixsynth", tmp_path / "m.mixsynth.partial"
    argv = ["fit", str(work / "data.csv"), "-o", str(out), *FAST, "--no-guard", "--seed", "2"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err and "mixsynth: interrupted" in err
    assert partial.exists() and not out.exists()
    monkeypatch.setattr(Task, "run", real)
    assert main(argv) == 0
    assert out.exists() and not partial.exists()
    fresh = tmp_path / "fresh.mixsynth"
    assert main(["fit", str(work / "data.csv"), "-o", str(fresh), *FAST, "--no-guard",
                 "--seed", "2"]) == 0
    a, b = load(out), load(fresh)
    assert (a.sample(25, random_state=4).to_numpy() == b.sample(25, random_state=4).to_numpy()
            ).all()


def _without_times(value: Any) -> Any:
    """A model document without what differs between two identical fits: wall times."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "fit_time"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.parametrize("argv", [["--components", "1:2", "--cv", "3"],
                                  ["--label", "kind", *FAST]])
def test_api_and_cli_give_the_same_model_file(work: Path, tmp_path: Path,
                                              argv: list[str]) -> None:
    """The same data and seed give the same seed plan, so the same tensors and document."""
    import numpy as np
    from safetensors.numpy import load_file

    from mixsynth.io import read_data
    from mixsynth.persistence import load, read_metadata

    label = argv[argv.index("--label") + 1] if "--label" in argv else None
    path = work / ("labelled.csv" if label else "data.csv")
    cli_file = tmp_path / "cli.mixsynth"
    assert main(["-q", "fit", str(path), "-o", str(cli_file), "--seed", "0", *argv]) == 0
    params = load(cli_file).get_params()
    assert params["random_state"] == 0
    from mixsynth import Synthesizer

    table = read_data(path, label=label)
    api_file = tmp_path / "api.mixsynth"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Synthesizer(**params).fit(table.to_input(), table.labels).save(api_file)
    cli_doc, api_doc = read_metadata(cli_file), read_metadata(api_file)
    assert _without_times(cli_doc["model"]) == _without_times(api_doc["model"])
    cli_tensors, api_tensors = load_file(cli_file), load_file(api_file)
    assert cli_tensors.keys() == api_tensors.keys()
    for name in cli_tensors:
        np.testing.assert_array_equal(cli_tensors[name], api_tensors[name])


def test_the_chosen_line_names_shrinkage_and_space() -> None:
    """A realism sweep's winner is more than K and a covariance type: its shrinkage and, when
    several spaces were searched, its space are part of what was chosen."""
    from types import SimpleNamespace

    from mixsynth.cli import _describe_selection

    best = SimpleNamespace(n_components=25, covariance_type="full", reg_covar=1e-3,
                           shrinkage=300.0, space="columns")
    selection = SimpleNamespace(format_table=lambda: "table", best=best, criterion="realism",
                                notes=())
    part = SimpleNamespace(selection=selection, whitener=SimpleNamespace(n_components_=4),
                           n_features=4)
    lines: list[str] = []
    _describe_selection(part, lines.append)
    assert lines[-1] == ("chosen: K=25, full covariance, shrinkage 300, reg_covar=0.001, "
                         "columns space (criterion realism); 4 of 4 dimensions kept")
    plain = SimpleNamespace(**{**vars(best), "shrinkage": None, "space": None})
    lines.clear()
    _describe_selection(SimpleNamespace(**{**vars(part), "selection": SimpleNamespace(
        **{**vars(selection), "best": plain})}), lines.append)
    assert lines[-1].startswith("chosen: K=25, full covariance, reg_covar=0.001 (criterion")
