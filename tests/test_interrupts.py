"""The signal matrix: every writer × SIGINT / SIGTERM / SIGKILL × with and without an existing
target, each in a subprocess stopped at a deterministic point (``tests/interrupting.py``).

What must hold (docs/bad-inputs.md, "Kill or crash mid-write"): an existing target is
byte-identical afterwards, a new target does not appear, no temporary file or folder is left
in the target's folder or the temp dir, SIGINT exits 130 and SIGTERM 143 with one line and no
traceback. Nothing runs at SIGKILL: leftovers must be impossible (unnamed files) or swept by
the next writer (image folders).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsynth.cli import main

from .interrupting import SIGNALS, Outcome, interrupt_at

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.filterwarnings("ignore::mixsynth.whitening.ConstantColumnsWarning"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small table, a model of it and a model of a small image folder (fitted in process)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(5, 1, (100, 3))])
    data = root / "data.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in X)
                    + "\n")
    table_model = root / "table.mixsynth"
    assert main(["fit", str(data), "-o", str(table_model), "--components", "1:2",
                 "--criterion", "bic", "--no-guard", "-q"]) == 0
    folder = root / "imgs"
    folder.mkdir()
    for i in range(30):
        Image.fromarray((rng.random((4, 3)) * 60 + 100 * (i % 2)).astype(np.uint8),
                        mode="L").save(folder / f"{i:03d}.png")
    image_model = root / "images.mixsynth"
    assert main(["fit", str(folder), "-o", str(image_model), "--components", "1",
                 "--criterion", "bic", "--no-guard", "-q"]) == 0
    return {"data": data, "table": table_model, "images": image_model}


def _snapshot(folder: Path) -> dict[str, bytes | dict[str, bytes]]:
    """Every entry of ``folder`` (hidden ones included) with its bytes, one level of folders."""
    out: dict[str, bytes | dict[str, bytes]] = {}
    for p in sorted(folder.iterdir()):
        out[p.name] = ({q.name: q.read_bytes() for q in sorted(p.iterdir())} if p.is_dir()
                       else p.read_bytes())
    return out


def _check_exit(outcome: Outcome, sig: int) -> None:
    if sig == signal.SIGKILL:
        assert outcome.returncode == -signal.SIGKILL
        return
    code, line = ((130, "mixsynth: interrupted") if sig == signal.SIGINT
                  else (143, "mixsynth: terminated"))
    assert outcome.returncode == code, outcome.stderr
    assert outcome.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in outcome.stderr


# writer: (the command's arguments but the target, the target's name, the pause point)
_FILE_WRITERS = {
    "csv": (["sample", "{table}", "-n", "500", "--chunk-size", "100"], "out.csv",
            "atomic-publish:out.csv"),
    "parquet": (["sample", "{table}", "-n", "500", "--chunk-size", "100"], "out.parquet",
                "atomic-publish:out.parquet"),
    "npy": (["sample", "{table}", "-n", "500", "--chunk-size", "100"], "out.npy",
            "atomic-publish:out.npy"),
    "model": (["fit", "{data}", "--components", "1:2", "--criterion", "bic", "--no-guard"],
              "m.mixsynth", "atomic-publish:m.mixsynth"),
    "report": (["report", "{table}", "--data", "{data}", "--samples", "100"], "r.html",
               "atomic-publish:r.html"),
}


def _args(template: list[str], models: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in models.items()}) for a in template]


def _matrix(writers: list[str]) -> list[tuple[str, str, bool]]:
    """Every writer × signal × existing target (with ``--force``) or not: the full matrix (it
    was SIGTERM over an old file only for Parquet, .npy and the report)."""
    return [(w, s, e) for w in writers for s in SIGNALS for e in (False, True)]


@pytest.mark.parametrize(("writer", "sig", "existing"), _matrix(list(_FILE_WRITERS)))
def test_single_file_writers(writer: str, sig: str, existing: bool, models: dict[str, Path],
                            tmp_path: Path) -> None:
    template, name, point = _FILE_WRITERS[writer]
    out = tmp_path / "out"
    out.mkdir()
    if existing:
        (out / name).write_bytes(b"the old file\n")
    before = _snapshot(out)
    args = [*_args(template, models), "-o", str(out / name), *(["--force"] if existing else [])]
    outcome = interrupt_at(point, args, SIGNALS[sig], tmp_path)
    _check_exit(outcome, SIGNALS[sig])
    assert _snapshot(out) == before  # the old file byte-identical, no new file, no temp file


@pytest.mark.parametrize("sig", list(SIGNALS))
def test_fit_from_stdin_leaves_no_spool(sig: str, models: dict[str, Path],
                                        tmp_path: Path) -> None:
    """``fit -`` spools standard input; the spool holds the user's data and must not outlive
    the process, even at SIGKILL."""
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    args = ["fit", "-", "-o", str(out / "m.mixsynth"), "--components", "1:2",
            "--criterion", "bic", "--no-guard"]
    outcome = interrupt_at("stdin-spooled", args, SIGNALS[sig], tmp_path,
                           stdin=models["data"].read_bytes(), env={"TMPDIR": str(temp)})
    _check_exit(outcome, SIGNALS[sig])
    assert list(temp.iterdir()) == []
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("existing", [False, True], ids=["new", "force-over-old"])
@pytest.mark.parametrize("sig", list(SIGNALS))
def test_image_folder_writer(sig: str, existing: bool, models: dict[str, Path],
                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if existing:
        (out / "gen").mkdir()
        for name in ("000000.png", "000001.png", "contact_sheet.png"):
            (out / "gen" / name).write_bytes(b"an old output\n")
    before = _snapshot(out)
    args = ["sample", str(models["images"]), "-n", "50", "--chunk-size", "10", "-o",
            str(out / "gen"), *(["--force"] if existing else [])]
    outcome = interrupt_at("images-write", args, SIGNALS[sig], tmp_path)
    _check_exit(outcome, SIGNALS[sig])
    if SIGNALS[sig] == signal.SIGKILL:
        # Nothing runs at SIGKILL: the half-written temporary folder (named with the dead
        # writer's pid) stays until the next image writer in this folder sweeps it.
        left = [p.name for p in out.iterdir() if p.name not in before]
        assert len(left) == 1 and left[0].startswith(".gen.") and left[0].endswith(".tmp")
        assert any((out / left[0]).iterdir())  # PNGs were written before the kill
        args = ["sample", str(models["images"]), "-n", "3", "-o", str(out / "next"), "-q"]
        assert main(args) == 0
        assert sorted(p.name for p in (out / "next").iterdir()) == [
            "000000.png", "000001.png", "000002.png", "contact_sheet.png"]
        shutil.rmtree(out / "next")
    assert _snapshot(out) == before


def test_the_sweep_spares_live_writers_and_other_folders(tmp_path: Path) -> None:
    from mixsynth.io.images import ImageFolderWriter

    live = tmp_path / f".a.{os.getpid()}.abcd1234.tmp"  # this process: running
    mine = tmp_path / ".b.999999999.abcd1234.tmp"  # no such process, but not only images
    for folder in (live, mine):
        folder.mkdir()
        (folder / "000000.png").write_bytes(b"x")
    (mine / "notes.txt").write_text("mine")
    with ImageFolderWriter(tmp_path / "c", (2, 2)) as writer:
        writer.write(np.zeros((1, 4)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name, "c"])


def test_ctrl_c_at_the_terminal_during_a_dask_fit(models: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """Ctrl-C reaches every process of the terminal's group, Dask's workers included: one
    line, exit 130, no traceback from any process, no process left."""
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    out.mkdir()
    args = ["fit", str(models["data"]), "-o", str(out / "m.mixsynth"), "--workers", "2",
            "--components", "1:2", "--criterion", "bic", "--no-guard"]
    outcome = interrupt_at("fit", args, signal.SIGINT, tmp_path, group=True)
    assert outcome.returncode == 130, outcome.stderr
    assert [line for line in outcome.stderr.splitlines() if line.strip()] == [
        "mixsynth: interrupted"]
    assert list(out.iterdir()) == []


def test_a_child_gets_sigint_even_when_the_test_run_ignores_it(
    models: dict[str, Path], tmp_path: Path,
) -> None:
    """A suite started in the background (``make test &``) inherits SIGINT ignored; the child
    must still get Ctrl-C's default handling, or it sleeps through the test's signal."""
    out = tmp_path / "out"
    out.mkdir()
    args = [*_args(_FILE_WRITERS["csv"][0], models), "-o", str(out / "out.csv")]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = interrupt_at("atomic-publish:out.csv", args, signal.SIGINT, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    _check_exit(outcome, signal.SIGINT)
    assert list(out.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine not in ("x86_64", "aarch64"),
                    reason="tgkill: a signal to one thread of another process (Linux)")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_delivered_to_another_thread_still_interrupts(
    sig: str, models: dict[str, Path], tmp_path: Path,
) -> None:
    """The kernel delivers a process-directed signal to any thread; when it picks a BLAS or
    OpenMP thread, the main thread must still act on it promptly (a SIGTERM test hung under
    load when the paused process slept through it)."""
    out = tmp_path / "out"
    out.mkdir()
    args = [*_args(_FILE_WRITERS["csv"][0], models), "-o", str(out / "out.csv")]
    outcome = interrupt_at("atomic-publish:out.csv", args, SIGNALS[sig], tmp_path,
                           env={"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
                           to_a_thread=True)
    _check_exit(outcome, SIGNALS[sig])
    assert list(out.iterdir()) == []
