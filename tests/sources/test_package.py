"""The package's shape: its public names, and the core below it."""

from __future__ import annotations

import subprocess
import sys

import mixsynth.sources as sources


def test_public_names_resolve():
    for name in sources.__all__:
        assert getattr(sources, name) is not None, name


def test_core_does_not_import_sources():
    code = (
        "import sys, mixsynth.core; "
        "print(any(m.startswith('mixsynth.sources') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_sources_do_not_load_dask_until_asked():
    code = "import sys, mixsynth.sources; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
