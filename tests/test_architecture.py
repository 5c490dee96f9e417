"""The promises of the package's shape: layering and the public names."""

from __future__ import annotations

import subprocess
import sys

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
         "QualityReport", "SelectionResult", "Synthesizer", "Whitener", "__version__",
         "evaluate", "load", "read_metadata"]
    )
    for name in mixsynth.__all__:
        assert getattr(mixsynth, name) is not None
    assert mixsynth.GaussianMixture.__module__ == "mixsynth.gaussian_mixture"
