"""The promises of the package's shape: layering and the public names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mixsynth


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_core_imports_no_sklearn_plotting_or_dask():
    loaded = _modules_after_import("mixsynth.core")
    forbidden_modules = ("sklearn", "matplotlib", "dask", "distributed", "torch", "pandas", "tqdm")
    for forbidden in forbidden_modules:
        assert not any(m == forbidden or m.startswith(forbidden + ".") for m in loaded), forbidden


def test_import_mixsynth_is_light():
    loaded = _modules_after_import("mixsynth")
    assert "numpy" not in loaded and "sklearn" not in loaded


def test_public_names():
    assert sorted(mixsynth.__all__) == sorted(
        ["Candidate", "GaussianMixture", "MemorizationWarning", "ModelFileError",
         "QualityReport", "SelectionResult", "Synthesizer", "TableQualityReport", "Whitener",
         "__version__", "evaluate", "load", "read_metadata"]
    )
    for name in mixsynth.__all__:
        assert getattr(mixsynth, name) is not None
    assert mixsynth.GaussianMixture.__module__ == "mixsynth.gaussian_mixture"


SIZE_LIMIT = 600  # lines; "about 600", so a module may run to 610 without a word
SIZE_SLACK = 10


def _oversized(src: Path) -> list[str]:
    """Modules over the limit whose docstring does not say why they are that long."""
    out = []
    for path in sorted(src.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= SIZE_LIMIT + SIZE_SLACK:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Why" not in doc:
            out.append(f"{path.relative_to(src)} ({text.count(chr(10))} lines)")
    return out


def test_no_module_over_600_lines_without_a_reason_at_its_top():
    src = Path(mixsynth.__file__).parent
    assert _oversized(src) == []


def test_the_size_check_finds_a_long_module_without_a_reason(tmp_path):
    (tmp_path / "short.py").write_text('"""Short."""\n')
    (tmp_path / "long.py").write_text('"""Long."""\n' + "x = 1\n" * 700)
    (tmp_path / "kept.py").write_text('"""Kept.\n\nWhy one module: ..."""\n' + "x = 1\n" * 700)
    assert _oversized(tmp_path) == ["long.py (701 lines)"]
