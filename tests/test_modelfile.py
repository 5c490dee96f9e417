"""The model-file format package: it knows no model class, and finds each class's table in its
registry (filled when the class's module is imported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mixsynth.gaussian_mixture import GaussianMixture
from mixsynth.modelfile import ModelFileError, Table, register
from mixsynth.modelfile.tables import _TABLES
from mixsynth.persistence import load, save

#: Fits and saves a GaussianMixture with its own module imported, nothing else of mixsynth.
_SAVE_A_MIXTURE = """
import sys
import numpy as np
from mixsynth.gaussian_mixture import GaussianMixture
X = np.random.default_rng(0).normal(size=(60, 2))
GaussianMixture(n_components=2, random_state=0).fit(X).save(sys.argv[1])
print("\\n".join(sorted(sys.modules)))
"""


def _run(code: str, *args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def test_the_format_imports_no_model_class():
    loaded = set(_run("import sys, mixsynth.modelfile; print('\\n'.join(sorted(sys.modules)))"))
    for module in ("mixsynth.synthesizer", "mixsynth.gaussian_mixture", "mixsynth.whitening",
                   "mixsynth.support", "mixsynth.selection", "mixsynth.model",
                   "mixsynth.persistence", "sklearn"):
        assert module not in loaded, module


def test_a_mixture_saves_with_only_its_own_module_imported(tmp_path: Path):
    path = tmp_path / "gm.mixsynth"
    loaded = set(_run(_SAVE_A_MIXTURE, str(path)))
    assert "mixsynth.persistence" not in loaded and "mixsynth.synthesizer" not in loaded
    gm = load(path)
    assert isinstance(gm, GaussianMixture)
    again = tmp_path / "again.mixsynth"
    save(gm, again)
    assert again.read_bytes() == path.read_bytes()


def test_a_kind_whose_class_is_not_imported_does_not_load(tmp_path: Path):
    path = tmp_path / "gm.mixsynth"
    _run(_SAVE_A_MIXTURE, str(path))
    code = (
        "import sys\nfrom mixsynth.modelfile import ModelFileError, load_file\n"
        "try:\n    load_file(sys.argv[1])\nexcept ModelFileError as exc:\n    print('refused')\n"
    )
    assert _run(code, str(path)) == ["refused"]


def test_register_refuses_a_name_or_kind_taken_by_another_class():
    other = Table(cls=ModelFileError, attrs=(), tensors=())
    with pytest.raises(ValueError, match="already registered"):
        register("mixture", other)
    with pytest.raises(ValueError, match="already registered"):
        register("not_a_table_yet", other, kind="synthesizer")
    assert "not_a_table_yet" not in _TABLES  # refused before anything was registered
