"""The streamed Parquet reader holds about one row group, not the file (issue 14 item 4).

Measured by construction, not by time: a fresh process reads every block of a 10-row-group
file and reports the high-water mark of Arrow's memory pool, which holds every buffer pyarrow
allocates while reading (column chunks, pages, decoded arrays).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

_READ = """
import sys
import pyarrow as pa
from mixsynth.io.formats import open_table
rows = sum(len(block) for block, _ in open_table(sys.argv[1]).blocks(int(sys.argv[2])))
print(rows, pa.default_memory_pool().max_memory())
"""


N_ROWS, N_COLUMNS, N_GROUPS = 200_000, 20, 10


def _file_of_row_groups(tmp_path, rng) -> tuple[object, int]:
    """A Parquet file of N_ROWS x N_COLUMNS floats in N_GROUPS uncompressed row groups, and
    the bytes of one row group as float64."""
    X = rng.normal(size=(N_ROWS, N_COLUMNS))
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(N_COLUMNS)}), path,
                   row_group_size=N_ROWS // N_GROUPS, compression="none")
    return path, X.nbytes // N_GROUPS


def _in_a_fresh_process(code: str, *args: str) -> list[str]:
    """What ``code`` prints, run in a new interpreter (Arrow's pool counts from zero)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env=env).stdout.split()


@pytest.mark.parametrize("asked", [4096, 200_000], ids=["small-blocks", "whole-file-blocks"])
def test_streamed_parquet_reader_holds_about_one_row_group(tmp_path, rng, asked) -> None:
    """Blocks of ``asked`` rows: a block never spans row groups, so asking for the whole
    file still holds one row group at a time."""
    path, group_bytes = _file_of_row_groups(tmp_path, rng)
    out = _in_a_fresh_process(_READ, str(path), str(asked))
    rows, peak = int(out[0]), int(out[1])
    assert rows == N_ROWS
    # one row group as stored, its pages and its decoded arrays: a few times its size (12 MB
    # here); pyarrow's default pre-buffering held 1.5 times the whole file (48 MB)
    assert peak <= 5 * group_bytes, (peak, group_bytes)


_LOOK = """
import sys
import pyarrow as pa
from mixsynth.cli import _mixed_frame, _ReadOptions
frame = _mixed_frame(sys.argv[1], _ReadOptions(), None)
print(frame is None, pa.default_memory_pool().max_memory())
"""


def test_the_command_lines_first_look_at_a_parquet_file_reads_rows_not_the_file(tmp_path,
                                                                                  rng) -> None:
    """``mixsynth fit big.parquet`` first decides whether the table is mixed (read into memory)
    or numbers (streamed when large): that look read the whole file (1.8 GB peak for a
    3,000,000 × 20 file that then streamed within 0.4 GiB); it reads the first rows."""
    path, group_bytes = _file_of_row_groups(tmp_path, rng)
    out = _in_a_fresh_process(_LOOK, str(path))
    assert out[0] == "True"  # numbers only: the usual (streaming) reader
    assert int(out[1]) <= 5 * group_bytes, int(out[1])  # one row group's worth
