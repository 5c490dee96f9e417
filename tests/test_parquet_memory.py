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


@pytest.mark.parametrize("asked", [4096, 200_000], ids=["small-blocks", "whole-file-blocks"])
def test_streamed_parquet_reader_holds_about_one_row_group(tmp_path, rng, asked) -> None:
    """Blocks of ``asked`` rows: a block never spans row groups, so asking for the whole
    file still holds one row group at a time."""
    n, d, groups = 200_000, 20, 10
    X = rng.normal(size=(n, d))
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(d)}), path,
                   row_group_size=n // groups, compression="none")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", _READ, str(path), str(asked)], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    rows, peak = int(out[0]), int(out[1])
    assert rows == n
    group_bytes = X.nbytes // groups
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
    n, d, groups = 200_000, 20, 10
    X = rng.normal(size=(n, d))
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(d)}), path,
                   row_group_size=n // groups, compression="none")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", _LOOK, str(path)], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    assert out[0] == "True"  # numbers only: the usual (streaming) reader
    assert int(out[1]) <= 5 * X.nbytes // groups, int(out[1])  # one row group's worth
