"""Reading and writing data: every format's round trip and every bad input of BAD_INPUTS.md."""

from __future__ import annotations

import io
import os
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import mixsynth.io.formats as formats
from mixsynth.io import (
    BinaryToTerminalError,
    ImageFolderWriter,
    OutputError,
    OutputExistsError,
    data_format,
    output_format,
    read_data,
    read_image_folder,
    write_chunks,
    write_data,
)


def _write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _png(path: Path, array: Any, mode: str | None = None) -> Path:
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)
    return path


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------ formats by path


def test_data_format_by_suffix_and_folder(tmp_path: Path) -> None:
    for name, fmt in [("a.csv", "csv"), ("a.TSV", "tsv"), ("a.parquet", "parquet"),
                      ("a.pq", "parquet"), ("a.npy", "npy")]:
        (tmp_path / name).touch()
        assert data_format(str(tmp_path / name)) == fmt
    assert data_format(str(tmp_path)) == "images"
    assert data_format("-") == "csv"
    (tmp_path / "a.xlsx").touch()
    with pytest.raises(ValueError, match=r"cannot tell the format .*'\.xlsx'"):
        data_format(str(tmp_path / "a.xlsx"))
    with pytest.raises(FileNotFoundError):
        read_data(tmp_path / "missing.csv")


def test_output_format() -> None:
    assert output_format("x.csv") == "csv"
    assert output_format("x.pq") == "parquet"
    assert output_format("-") == "csv"
    assert output_format("-", "parquet") == "parquet"
    assert output_format("out", image_shape=(8, 8)) == "images"
    with pytest.raises(ValueError, match="cannot tell the output format"):
        output_format("out")
    with pytest.raises(ValueError, match="needs image data"):
        output_format("out", "images")


# ------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.parquet", "t.npy"])
def test_round_trip(tmp_path: Path, name: str, rng: np.random.Generator) -> None:
    n = 50
    ints = rng.integers(-5, 5, n).astype(float)
    floats = rng.normal(size=n) * 1e-7 + 3.0
    values = np.column_stack([ints, floats])
    dtypes = ("int64", "float64") if not name.endswith(".npy") else ("float64", "float64")
    path = tmp_path / name
    assert write_data(path, values, columns=["k", "x"], dtypes=dtypes) == n
    table = read_data(path)
    np.testing.assert_array_equal(table.values, values)  # floats round-trip exactly
    if not name.endswith(".npy"):
        assert table.columns == ("k", "x")
        assert table.dtypes == dtypes
    assert table.image_shape is None


def test_parquet_keeps_integer_and_bool_types(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({
        "u8": pa.array([0, 255, 7], pa.uint8()),
        "i32": pa.array([-1, 2, 3], pa.int32()),
        "flag": pa.array([True, False, True]),
        "f32": pa.array([0.5, 1.5, 2.5], pa.float32()),
    }), src)
    table = read_data(src)
    assert table.dtypes == ("uint8", "int32", "bool", "float32")
    out = tmp_path / "out.parquet"
    write_data(out, table.values, columns=table.columns, dtypes=table.dtypes)
    schema = pq.read_schema(out)
    assert [str(t) for t in schema.types] == ["uint8", "int32", "bool", "float"]
    np.testing.assert_array_equal(read_data(out).values, table.values)


def test_dataframe_chunks_keep_their_dtypes(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": np.array([1, 2, 3], dtype=np.int64), "b": [0.5, 1.5, 2.5]})
    write_data(tmp_path / "o.parquet", df)
    assert [str(t) for t in pq.read_schema(tmp_path / "o.parquet").types] == ["int64", "double"]
    table = read_data(tmp_path / "o.parquet")
    frame = table.to_input()
    assert list(frame.columns) == ["a", "b"] and str(frame["a"].dtype) == "int64"


def test_integers_are_rounded_and_kept_in_range(tmp_path: Path) -> None:
    values = np.array([[0.4, 254.6, 1.0], [-3.0, 300.0, 0.2]])
    write_data(tmp_path / "o.csv", values, columns=["i", "u", "b"],
               dtypes=["int64", "uint8", "bool"])
    assert (tmp_path / "o.csv").read_text() == "i,u,b\n0,255,true\n-3,255,false\n"


def test_labels_round_trip(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.csv", "a,kind\n1,x\n2,y\n3,x\n")
    table = read_data(path, label="kind")
    assert table.columns == ("a",)
    assert table.labels is not None and table.labels.tolist() == ["x", "y", "x"]
    out = tmp_path / "o.parquet"
    write_data(out, table.values, columns=table.columns, dtypes=table.dtypes,
               labels=table.labels, label="kind")
    back = read_data(out, label="kind")
    assert back.labels is not None and back.labels.tolist() == ["x", "y", "x"]
    ints = read_data(_write(tmp_path / "i.csv", "a,c\n1,3\n2,4\n"), label="c")
    assert ints.labels is not None and ints.labels.dtype.kind == "i"
    with pytest.raises(ValueError, match=r"label column 'kind' has 1 missing value"):
        read_data(_write(tmp_path / "m.csv", "a,kind\n1,x\n2,\n"), label="kind")


def test_column_selection(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "name,a,b,when\nx,1,2,2020-01-01\ny,3,4,2020-01-02\n")
    table = read_data(path, columns=["b", "a"])
    assert table.columns == ("b", "a")
    np.testing.assert_array_equal(table.values, [[2, 1], [4, 3]])
    with pytest.raises(ValueError, match=r"has no column 'z'"):
        read_data(path, columns=["a", "z"])


def test_stdin_is_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"a,b\n1,2\n3,4\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    table = read_data("-")
    assert table.source == "<stdin>" and table.values.shape == (2, 2)


# ------------------------------------------------------------------------- CSV bad inputs


@pytest.mark.parametrize(("text", "kind"), [
    ("NaN", "NaN"), ("nan", "NaN"), ("", "NaN"), ("NA", "NaN"),
    ("inf", "inf"), ("-inf", "inf"), ("1e400", "inf"), ("-1e400", "inf"),
])
def test_non_finite_csv_texts_are_rejected_naming_the_column(
    tmp_path: Path, text: str, kind: str
) -> None:
    path = _write(tmp_path / "d.csv", f"a,b\n1,2\n3,{text}\n5,6\n")
    with pytest.raises(ValueError, match=rf"contains {kind} .*column 'b' .*first at row 1"):
        read_data(path)


def test_non_numeric_columns_are_all_listed(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "name,a,when\nx,1,2020-01-01\ny,2,2020-01-02\n")
    with pytest.raises(ValueError, match=r"2 non-numeric column\(s\): 'name' \(string\), "
                                         r"'when' \(date32\[day\]\); 'name' holds 'x' at line 2"):
        read_data(path)
    assert read_data(path, columns=["a"]).values.tolist() == [[1.0], [2.0]]


def test_text_in_a_later_block_names_the_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "CSV_BLOCK_BYTES", 256)
    rows = [f"{i},{i}" for i in range(200)]
    rows[150] = "150,oops"
    path = _write(tmp_path / "d.csv", "a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"column 'b' is not numeric: 'oops' at line 152"):
        read_data(path)


def test_integer_column_with_later_decimals_is_float(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "CSV_BLOCK_BYTES", 256)
    rows = [f"{i},{i}" for i in range(200)] + ["1.5,7"]
    table = read_data(_write(tmp_path / "d.csv", "a,b\n" + "\n".join(rows) + "\n"))
    assert table.dtypes == ("float64", "int64")
    assert table.values[-1, 0] == 1.5 and table.n_samples == 201


@pytest.mark.parametrize(("text", "message"), [
    ("", r"is empty: Found array with 0 sample\(s\) \(shape=\(0, 0\)\)"),
    ("a,b\n", r"Found array with 0 sample\(s\) \(shape=\(0, 2\)\) while a minimum of 1"),
])
def test_empty_and_header_only(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_data(_write(tmp_path / "d.csv", text))


def test_one_row_is_read(tmp_path: Path) -> None:
    table = read_data(_write(tmp_path / "d.csv", "a,b\n1,2\n"))
    assert table.values.shape == (1, 2)
    with pytest.raises(ValueError, match=r"Found array with 1 sample\(s\)"):
        read_data(_write(tmp_path / "d.csv", "a,b\n1,2\n"), min_samples=2)


def test_bom_is_skipped(tmp_path: Path) -> None:
    table = read_data(_write(tmp_path / "d.csv", "a,b\n1,2\n", bom=True))
    assert table.columns == ("a", "b")


def test_semicolons_need_the_delimiter(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "a;b\n1;2\n3;4\n")
    with pytest.raises(ValueError, match=r"looks ';'-separated: pass --delimiter ';'"):
        read_data(path)
    table = read_data(path, delimiter=";")
    assert table.columns == ("a", "b") and table.values.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("block", [1 << 22, 64])
def test_ragged_rows_name_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   block: int) -> None:
    monkeypatch.setattr(formats, "CSV_BLOCK_BYTES", block)
    rows = [f"{i},{i},{i}" for i in range(30)]
    rows[20] = "20,20"
    path = _write(tmp_path / "d.csv", "a,b,c\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"line 22 has 2 field\(s\) but the header has 3"):
        read_data(path)


def test_repeated_header_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"repeated column names: \['a'\]"):
        read_data(_write(tmp_path / "d.csv", "a,a\n1,2\n"))


# --------------------------------------------------------------------- Parquet bad inputs


def test_nullable_integers_with_nulls_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "n": pa.array([1, None, 3], pa.int64())}),
                   path)
    with pytest.raises(ValueError, match=r"contains NaN .*column 'n' \(position 1\), first at "
                                         r"row 1"):
        read_data(path)


def test_parquet_non_numeric_and_nested_columns_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1, 2], "s": ["x", "y"], "l": [[1], [2, 3]]}), path)
    with pytest.raises(ValueError, match=r"'s' \(string\), 'l' \(list<element: int64>\)"):
        read_data(path)
    assert read_data(path, columns=["a"]).values.tolist() == [[1], [2]]


def test_parquet_zero_rows_and_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.float64())}), path)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\) \(shape=\(0, 1\)\)"):
        read_data(path)
    _write(tmp_path / "x.parquet", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a valid Parquet file"):
        read_data(tmp_path / "x.parquet")


# ------------------------------------------------------------------------- npy bad inputs


def test_npy_object_arrays_are_refused_without_unpickling(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"holds Python objects .*without unpickling"):
        read_data(tmp_path / "o.npy")


@pytest.mark.parametrize(("shape", "message"), [
    ((4, 2, 2), r"Found array with dim 3 .*reshape it"),
    ((5,), r"Expected 2D array, got 1D array instead .*Reshape your data"),
    ((5, 0), r"Found array with 0 feature\(s\) \(shape=\(5, 0\)\)"),
    ((0, 3), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"),
])
def test_npy_shapes(tmp_path: Path, shape: tuple[int, ...], message: str) -> None:
    np.save(tmp_path / "a.npy", np.zeros(shape))
    with pytest.raises(ValueError, match=message):
        read_data(tmp_path / "a.npy")


def test_npy_big_endian_and_dtypes(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", np.arange(6, dtype=">i4").reshape(3, 2))
    table = read_data(tmp_path / "b.npy")
    assert table.dtypes == ("int32", "int32") and table.columns == ("x0", "x1")
    np.testing.assert_array_equal(table.values, [[0, 1], [2, 3], [4, 5]])
    np.save(tmp_path / "c.npy", np.ones((2, 2), dtype=np.complex128))
    with pytest.raises(ValueError, match="complex"):
        read_data(tmp_path / "c.npy")
    np.save(tmp_path / "n.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match=r"contains NaN .*column 'x1'"):
        read_data(tmp_path / "n.npy")
    _write(tmp_path / "t.npy", "not numpy")
    with pytest.raises(ValueError, match=r"not an \.npy file"):
        read_data(tmp_path / "t.npy")


# ---------------------------------------------------------------------------- image folders


@pytest.fixture
def digits_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        _png(folder / f"{i:02d}.png", rng.integers(0, 256, (8, 6)), "L")
    return folder


def test_image_folder_reads_sorted_grayscale_pixels(digits_folder: Path) -> None:
    (digits_folder / ".DS_Store").write_bytes(b"junk")  # hidden files are ignored
    (digits_folder / "sub").mkdir()  # and so are folders
    table = read_image_folder(digits_folder)
    assert table.image_shape == (8, 6) and table.values.shape == (6, 48)
    assert table.columns[:2] == ("p0", "p1") and set(table.dtypes) == {"uint8"}
    with Image.open(digits_folder / "00.png") as im:
        first = np.asarray(im)
    np.testing.assert_array_equal(table.values[0], first.reshape(-1))
    assert read_data(digits_folder).values.shape == (6, 48)


def test_image_modes_are_converted(digits_folder: Path) -> None:
    _png(digits_folder / "rgb.png", np.full((8, 6, 3), 200), "RGB")
    _png(digits_folder / "rgba.png", np.full((8, 6, 4), 100), "RGBA")
    Image.new("P", (6, 8)).save(digits_folder / "pal.png")
    table = read_image_folder(digits_folder)
    assert table.values.shape == (9, 48)
    colour = read_image_folder(digits_folder, mode="RGB")
    assert colour.image_shape == (8, 6, 3) and colour.values.shape == (9, 144)
    assert colour.image_mode == "RGB"


def test_mixed_sizes_take_the_most_common(digits_folder: Path) -> None:
    _png(digits_folder / "big.png", np.zeros((16, 12)), "L")
    with pytest.warns(UserWarning, match=r"resized 1 of 7 images .* to 6x8, the most common"):
        table = read_image_folder(digits_folder)
    assert table.image_shape == (8, 6)
    fixed = read_image_folder(digits_folder, image_size=(4, 5))  # asked for: no warning
    assert fixed.image_shape == (5, 4)


def test_bad_image_files_are_listed_or_skipped(digits_folder: Path) -> None:
    good = (digits_folder / "00.png").read_bytes()
    (digits_folder / "cut.png").write_bytes(good[: len(good) - 30])  # truncated pixel data
    (digits_folder / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (digits_folder / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"3 of 9 files in .* are not readable images: "
                                         r"cut.png \(.*\), junk.png \(.*\), notes.txt "
                                         r"\(not an image\).*--skip-bad"):
        read_image_folder(digits_folder)
    with pytest.warns(UserWarning, match=r"skipped 3 of 9 files .*cut.png"):
        table = read_image_folder(digits_folder, skip_bad=True)
    assert table.n_samples == 6


def test_decompression_bomb_is_a_bad_file(digits_folder: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _png(digits_folder / "bomb.png", np.zeros((40, 40)), "L")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40 x 40 is over it, 8 x 6 is not
    with pytest.raises(ValueError, match=r"bomb.png \(decompression bomb\)"):
        read_image_folder(digits_folder)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # over twice the limit: an error
    with pytest.raises(ValueError, match=r"bomb.png \(decompression bomb\)"):
        read_image_folder(digits_folder)


def test_empty_image_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no images in"):
        read_image_folder(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    with pytest.warns(UserWarning, match="skipped 1 of 1"), \
            pytest.raises(FileNotFoundError, match="no images in"):
        read_image_folder(tmp_path, skip_bad=True)


@pytest.mark.parametrize("shape", [(8, 6), (5, 4, 3)])
def test_image_folder_round_trip(tmp_path: Path, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 256, (12, int(np.prod(shape)))).astype(float)
    out = tmp_path / "gen"
    assert write_data(out, values, image_shape=shape) == 12
    names = sorted(p.name for p in out.iterdir())
    assert names[:2] == ["000000.png", "000001.png"] and "contact_sheet.png" in names
    assert len(names) == 13
    table = read_image_folder(out, mode="RGB" if len(shape) == 3 else "L")
    np.testing.assert_array_equal(table.values, values)  # the contact sheet is not read
    assert _no_temp_files(tmp_path)


def test_image_folder_output_refuses_existing_and_foreign_folders(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    write_data(out, np.zeros((2, 4)), image_shape=(2, 2))
    with pytest.raises(OutputExistsError):
        write_data(out, np.zeros((3, 4)), image_shape=(2, 2))
    write_data(out, np.zeros((3, 4)), image_shape=(2, 2), overwrite=True)
    assert len(list(out.glob("0*.png"))) == 3
    (out / "precious.txt").write_text("keep")
    with pytest.raises(OutputError, match="holds files other than generated images"):
        write_data(out, np.zeros((3, 4)), image_shape=(2, 2), overwrite=True)
    assert (out / "precious.txt").read_text() == "keep"
    assert _no_temp_files(tmp_path)


# ----------------------------------------------------------------------------------- writing


def test_existing_output_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="use --force"):
        write_data(path, np.zeros((2, 2)))
    assert path.read_bytes() == b"old"
    write_data(path, np.zeros((2, 2)), overwrite=True)
    assert path.read_text().startswith("x0,x1\n")


def _chunks(n: int, size: int, d: int = 4) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        rows = min(size, n - start)
        yield np.arange(start, start + rows, dtype=np.float64)[:, None] + np.zeros((1, d))


@pytest.mark.parametrize("name", ["big.csv", "big.parquet", "big.npy"])
def test_streaming_writer_bounded_memory(tmp_path: Path, name: str) -> None:
    n, size, d = 200_000, 10_000, 4
    full_bytes = n * d * 8
    tracemalloc.start()
    try:
        written = write_chunks(tmp_path / name, _chunks(n, size, d), dtypes=["int64"] * d,
                               n_rows=n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == n
    assert peak < full_bytes / 4, peak  # about one chunk, never the whole table
    table = read_data(tmp_path / name)
    assert table.values.shape == (n, d)
    np.testing.assert_array_equal(table.values[:, 0], np.arange(n))
    if name.endswith(".parquet"):
        assert pq.ParquetFile(tmp_path / name).num_row_groups == n // size


def test_interrupted_stream_leaves_nothing(tmp_path: Path) -> None:
    def chunks() -> Iterator[np.ndarray]:
        yield np.zeros((10, 2))
        raise KeyboardInterrupt

    for name in ("o.csv", "o.parquet", "o.npy"):
        with pytest.raises(KeyboardInterrupt):
            write_chunks(tmp_path / name, chunks(), n_rows=20)
    with pytest.raises(KeyboardInterrupt):
        write_chunks(tmp_path / "gen", chunks(), image_shape=(1, 2))
    assert list(tmp_path.iterdir()) == []


def test_zero_rows_keep_the_columns(tmp_path: Path) -> None:
    write_data(tmp_path / "o.csv", np.empty((0, 2)), columns=["a", "b"])
    assert (tmp_path / "o.csv").read_text() == "a,b\n"
    write_data(tmp_path / "o.parquet", np.empty((0, 2)), columns=["a", "b"])
    assert pq.read_schema(tmp_path / "o.parquet").names == ["a", "b"]
    write_data(tmp_path / "o.npy", np.empty((0, 2)))
    assert np.load(tmp_path / "o.npy").shape == (0, 2)


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty
        self.buffer = io.BytesIO()

    def isatty(self) -> bool:
        return self.tty


def test_stdout(tmp_path: Path) -> None:
    text = _Stream(tty=True)
    write_data("-", np.array([[1.0, 2.0]]), columns=["a", "b"], stdout=text)
    assert text.buffer.getvalue() == b"a,b\n1,2\n"
    with pytest.raises(BinaryToTerminalError, match=r"use -o FILE"):
        write_data("-", np.zeros((1, 1)), fmt="parquet", stdout=_Stream(tty=True))
    pipe = _Stream(tty=False)
    write_data("-", np.zeros((3, 1)), fmt="parquet", stdout=pipe)
    assert pq.read_table(io.BytesIO(pipe.buffer.getvalue())).num_rows == 3


def test_npy_refuses_text_labels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one numeric array"):
        write_data(tmp_path / "o.npy", np.zeros((2, 1)), labels=np.array(["a", "b"]),
                   label="kind")
    assert list(tmp_path.iterdir()) == []


def test_image_folder_writer_needs_its_parent(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        ImageFolderWriter(tmp_path / "missing" / "gen", (2, 2))


def test_float64_npy_is_used_in_place(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.arange(12.0).reshape(6, 2))
    table = read_data(tmp_path / "f.npy")
    assert isinstance(table.values, np.memmap) and not table.values.flags.writeable
    assert read_data(tmp_path / "f.npy", columns=["x1"]).values.tolist() == [
        [1.0], [3.0], [5.0], [7.0], [9.0], [11.0]]


# --- one parser: read into memory or streamed, a file reads alike ----------------------------


def _table_file(tmp_path: Path, suffix: str) -> Path:
    df = pd.DataFrame({"a": [1.5, 2.5, 3.5, 4.5], "n": [1, 2, 3, 4], "b": [True, False, True,
                                                                            True]})
    path = tmp_path / f"t{suffix}"
    if suffix in (".csv", ".tsv"):
        df.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".parquet":
        df.to_parquet(path)
    else:
        np.save(path, df.to_numpy(dtype=float))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".npy"])
def test_read_data_and_the_streamed_source_read_alike(tmp_path: Path, suffix: str) -> None:
    from mixsynth.sources import file_source

    path = _table_file(tmp_path, suffix)
    picked = ["b", "a"] if suffix != ".npy" else ["x2", "x0"]
    for columns in (None, picked):
        table = read_data(path, columns=columns)
        source = file_source(path, columns=columns)
        np.testing.assert_array_equal(source.materialize(), table.values)
        if suffix == ".npy":
            assert source.feature_names is None  # an array's columns are positions
        else:
            assert source.feature_names is not None
            assert tuple(source.feature_names) == table.columns


BAD_FILES = {
    "text": ("t.csv", "a,b\n1,2\n3,x\n"),
    "ragged": ("t.csv", "a,b\n1,2\n3,4,5\n"),
    "semicolons": ("t.csv", "a;b\n1;2\n3;4\n"),
    "repeated names": ("t.csv", "a,a\n1,2\n"),
    "empty": ("t.csv", ""),
    "inf": ("t.csv", "a,b\n1,2\n3,1e400\n"),
    "missing": ("t.tsv", "a\tb\n1\t2\n3\t\n"),
    "unknown column": ("t.csv", "a,b\n1,2\n"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_give_the_same_error_read_or_streamed(tmp_path: Path, case: str) -> None:
    from mixsynth.sources import file_source

    name, text = BAD_FILES[case]
    path = _write(tmp_path / name, text)
    columns = ["a", "z"] if case == "unknown column" else None
    with pytest.raises(ValueError) as read:
        read_data(path, columns=columns)
    with pytest.raises(ValueError) as streamed:
        file_source(path, columns=columns).summary()
    if case == "empty":
        assert "Found array with 0 sample(s)" in str(streamed.value)
    else:
        assert str(streamed.value) == str(read.value)


@pytest.mark.parametrize("make", [
    lambda X: X.astype(">f8"), lambda X: np.asfortranarray(X), lambda X: X.astype(np.int16),
])
def test_npy_layouts_stream_as_they_read(tmp_path: Path, make: Any) -> None:
    from mixsynth.sources import file_source

    X = make(np.arange(60.0).reshape(20, 3))
    np.save(tmp_path / "x.npy", X)
    want = read_data(tmp_path / "x.npy", columns=["x2", "x1"]).values
    np.testing.assert_array_equal(want, np.asarray(X, dtype=float)[:, [2, 1]])
    got = file_source(tmp_path / "x.npy", columns=["x2", "x1"]).materialize()
    np.testing.assert_array_equal(got, want)


# --- integers float64 cannot keep within their dtype (issue 14, item 6) -------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "npy"])
def test_int64_near_two_to_the_63_is_refused_not_wrapped(tmp_path: Path, fmt: str) -> None:
    """2**63 - 1 becomes 2.0**63 as float64, which cast back to int64 wrapped to -2**63 (with
    only a cast warning): the model learnt a value of the opposite sign."""
    big = np.iinfo(np.int64).max
    ids = np.array([1, 2, big, 4], dtype=np.int64)
    a = np.array([1.5, 2.5, 3.5, 4.5])
    if fmt == "csv":
        path = _write(tmp_path / "d.csv", "a,id\n" + "".join(f"{x},{i}\n" for x, i in
                                                           zip(a, ids, strict=True)))
        where, column = "row 2 (rows counted from 0; line 4 of the file", "'id'"
    elif fmt == "parquet":
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({"a": a, "id": ids}), path)
        where, column = "row 2 (rows counted from 0)", "'id'"
    else:
        path = tmp_path / "d.npy"
        np.save(path, np.array([[1, 2], [3, big], [5, 6]], dtype=np.int64))
        where, column = "row 1 (rows counted from 0)", "'x1'"
    with pytest.raises(ValueError) as info:
        read_data(path)
    message = str(info.value)
    assert column in message and where in message and "int64" in message, message
    assert "--columns" in message


def test_inf_in_an_integer_column_is_the_validators_to_report(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "id\n1\n2\ninf\n")
    with pytest.raises(ValueError, match=r"contains inf .*column 'id'.*first at row 2"):
        read_data(path)


def test_int64_just_inside_the_range_is_read(tmp_path: Path) -> None:
    top = 2**63 - 1024  # the largest int64 whose float64 is below 2**63
    path = _write(tmp_path / "d.csv", f"id\n1\n{top}\n")
    table = read_data(path)
    assert table.dtypes == ("int64",)
    assert table.to_input()["id"].tolist() == [1, top]


def test_cli_refuses_the_wrapping_column_with_exit_65(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from mixsynth.cli import main

    rows = "".join(f"{i * 0.5},{i}\n" for i in range(30)) + f"1.0,{2**63 - 1}\n"
    path = _write(tmp_path / "d.csv", "a,id\n" + rows)
    assert main(["fit", str(path), "-o", str(tmp_path / "m.mixsynth")]) == 65
    err = capsys.readouterr().err
    assert err.startswith("mixsynth: error: ") and "'id'" in err and "Traceback" not in err
    assert not (tmp_path / "m.mixsynth").exists()


# --- one way to count: file lines from 1, data rows from 0, each message says which ----------


@pytest.mark.parametrize(("text", "expected"), [
    # the bad value is in the third line of the file, the second data row, each time
    ("a,b\n1,2\n3,x\n", "at line 3 (file lines counted from 1, the header is line 1)"),
    ("a,b\n1,2\n3,4,5\n", "line 3 has 3 field(s) but the header has 2 (file lines counted "
                          "from 1, the header is line 1)"),
    ("a,b\n1,2\n3,inf\n", "first at row 1 (rows counted from 0)"),
    ("a,b\n1,2\n3,\n", "first at row 1 (rows counted from 0)"),
    ("a,b,name\n1,2,u\n3,4,x7\n", "'name' holds 'u' at line 2 (file lines counted from 1, "
                                  "the header is line 1)"),
])
def test_every_message_says_how_it_counts(tmp_path: Path, text: str, expected: str) -> None:
    """'line 3' (a file line, from 1) and 'row 1' (a data row, from 0) named one place in the
    file without saying which is which; each message now says how it counts."""
    path = _write(tmp_path / "d.csv", text)
    with pytest.raises(ValueError) as info:
        read_data(path)
    assert expected in str(info.value)


def test_the_row_wording_is_the_validators() -> None:
    from mixsynth.validation import ROWS

    assert formats.ROWS == ROWS


# ----------------------------------------------------------- DataFrame chunks: dtypes kept


_CAT = pd.CategoricalDtype(["z", "y", "x"], ordered=True)  # unused "z": the set and order kept


def _typed_chunk(rows: int, start: int, gaps: bool) -> pd.DataFrame:
    i = np.arange(start, start + rows)
    return pd.DataFrame({
        "i": pd.array(i, dtype="Int64"),
        "f": pd.array(i / 2, dtype="Float64"),
        "b": pd.array(i % 2 == 0, dtype="boolean"),
        "s": pd.Series(np.where(i % 3 == 0, "p", "q"), dtype="string"),
        "c": pd.Series(np.where(i % 2 == 0, "y", "x"), dtype=_CAT),
        "a": pd.Series(i, dtype="int64[pyarrow]"),
        "t": pd.Series(np.where(gaps, None, "u").repeat(rows), dtype=object),
        "d": pd.to_timedelta(i, unit="h"),
    })


def _with_gaps(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in ("i", "f", "b", "s", "c", "a", "d"):
        out.loc[out.index[::4], c] = None
    return out


def test_parquet_of_dataframe_chunks_keeps_every_dtype(tmp_path: Path) -> None:
    """Nullable, ``string``, category (its unused levels and order), Arrow and duration columns
    come back from pandas.read_parquet in their dtypes, gaps where they were, one row group per
    chunk; a text column that the first chunk holds only gaps of takes the types of ``like``."""
    chunks = [_with_gaps(_typed_chunk(5, 5 * k, gaps=k == 0)) for k in range(3)]
    like = _typed_chunk(1, 0, gaps=False)
    write_chunks(tmp_path / "o.parquet", iter(chunks), like=like)
    back = pd.read_parquet(tmp_path / "o.parquet")
    whole = pd.concat(chunks, ignore_index=True)
    assert pq.ParquetFile(tmp_path / "o.parquet").num_row_groups == 3
    for c in whole.columns:
        if c == "t":  # object text: pandas 3 reads text as its string dtype (as its own files)
            assert back[c].isna().tolist() == whole[c].isna().tolist()
            continue
        assert back[c].dtype == whole[c].dtype, c
        pd.testing.assert_series_equal(back[c], whole[c], check_dtype=False)


def test_a_text_column_first_seen_empty_needs_like(tmp_path: Path) -> None:
    chunks = [_typed_chunk(3, 0, gaps=True), _typed_chunk(3, 3, gaps=False)]
    for name in ("o.parquet", "o.csv"):
        with pytest.raises(ValueError, match=r"column 't' held only gaps .* give like="):
            write_chunks(tmp_path / name, iter(chunks))
        write_chunks(tmp_path / name, iter(chunks), like=chunks[1])
    assert pd.read_csv(tmp_path / "o.csv")["t"].isna().tolist() == [True] * 3 + [False] * 3


def test_csv_text_parses_back_in_the_dtypes(tmp_path: Path) -> None:
    """CSV has no types: the text reads back (pandas.read_csv, cast to the dtypes) to the same
    values: integers without '.0', gaps as empty fields, durations as pandas writes them."""
    chunks = [_with_gaps(_typed_chunk(4, 4 * k, gaps=False)) for k in range(2)]
    write_chunks(tmp_path / "o.csv", iter(chunks))
    whole = pd.concat(chunks, ignore_index=True)
    text = (tmp_path / "o.csv").read_text()
    assert "nan" not in text.lower() and "<NA>" not in text and ".0," not in text
    assert "0 days 01:00:00" in text
    parsed = pd.read_csv(tmp_path / "o.csv").astype(whole.dtypes.to_dict())
    pd.testing.assert_frame_equal(parsed, whole)


def test_streamed_dataframe_chunks_are_let_go(tmp_path: Path) -> None:
    """The writer holds one chunk at a time (one row group per chunk), whatever the dtypes: when
    chunk k is asked for, chunk k - 2 is gone, and Arrow's memory holds about one chunk."""
    import gc
    import weakref

    n_chunks, rows = 12, 20_000
    gone: list[weakref.ref[pd.DataFrame]] = []
    arrow_peak = 0

    def chunks() -> Iterator[pd.DataFrame]:
        nonlocal arrow_peak
        for k in range(n_chunks):
            gc.collect()
            if k >= 2:
                assert gone[k - 2]() is None, f"chunk {k - 2} still held at chunk {k}"
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())
            df = _typed_chunk(rows, k * rows, gaps=False)
            gone.append(weakref.ref(df))
            yield df

    one_chunk = _typed_chunk(rows, 0, gaps=False).memory_usage(deep=True).sum()
    write_chunks(tmp_path / "o.parquet", chunks())
    assert pq.ParquetFile(tmp_path / "o.parquet").num_row_groups == n_chunks
    assert arrow_peak < 3 * one_chunk, (arrow_peak, one_chunk)  # not n_chunks of them
