"""A write that the kernel refuses (disk full, file too large) is exit 73 naming the file.

A full disk is made real without root: the child runs with a file-size limit (RLIMIT_FSIZE)
and SIGXFSZ ignored, so a write past the limit fails with EFBIG, as a write to a full disk
fails with ENOSPC; both reach the same code (``io.atomic``), unlike a mock.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from mixsynth.cli import main

from .interrupting import child_env

resource = pytest.importorskip("resource")
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX limits"),
              pytest.mark.filterwarnings("ignore::mixsynth.whitening.ConstantColumnsWarning")]

LIMIT = 512  # bytes: every output below is larger


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (150, 3)), rng.normal(4, 1, (150, 3))])
    data = root / "data.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in X)
                    + "\n")
    model = root / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), "--components", "1:2", "--criterion",
                 "bic", "--no-guard", "-q"]) == 0
    synthetic = root / "synthetic.csv"
    assert main(["sample", str(model), "-n", "300", "-o", str(synthetic), "-q"]) == 0
    return {"data": data, "model": model, "synthetic": synthetic}


@pytest.mark.parametrize("command", ["sample", "fit", "evaluate", "report"])
def test_write_refused_by_the_kernel_is_exit_73_naming_the_file(
        command: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "out"
    out.mkdir()
    target = out / {"sample": "rows.csv", "fit": "new.mixsynth", "evaluate": "q.json",
                    "report": "r.html"}[command]
    args = {
        "sample": ["sample", str(inputs["model"]), "-n", "5000", "-o", str(target)],
        "fit": ["fit", str(inputs["data"]), "-o", str(target), "--components", "1:2",
                "--criterion", "bic", "--no-guard"],
        "evaluate": ["evaluate", "--real", str(inputs["data"]), "--synthetic",
                     str(inputs["synthetic"]), "--model", str(inputs["model"]), "-o",
                     str(target), "--max-rows", "200"],
        "report": ["report", str(inputs["model"]), "--data", str(inputs["data"]), "-o",
                   str(target), "--samples", "200"],
    }[command]
    done = subprocess.run([sys.executable, "-m", "mixsynth", *args], capture_output=True,
                          text=True, env=child_env(), preexec_fn=_limited, timeout=300)
    assert done.returncode == 73, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mixsynth: error: cannot write "), done.stderr
    assert str(out) in last and "File too large" in last
    assert "Traceback" not in done.stderr
    # Nothing partial, no temp file; fit keeps the candidates it finished (MODEL.partial, a
    # complete file written before the limit was reached) so that a rerun resumes.
    kept = [f"{target.name}.partial"] if command == "fit" else []
    assert [p.name for p in out.iterdir() if p.name not in kept] == []
