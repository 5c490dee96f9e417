"""The dtype matrix (issue 14 item 3): every pandas dtype a user has × fit / sample / save /
load, and the command line's Parquet round trip. Each works end to end with the dtype
preserved, or is refused at ``fit`` with one line naming the column. Tiny tables, K = 1."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from csv import reader

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.cli import main
from mixsynth.persistence import load, save

pa = pytest.importorskip("pyarrow")

N = 24
Maker = Callable[[np.random.Generator], pd.Series]


def _ints(dtype: str) -> Maker:
    return lambda r: pd.Series(r.integers(0, 5, N), dtype=dtype)


def _texts(dtype: str) -> Maker:
    return lambda r: pd.Series(r.choice(list("abc"), N), dtype=dtype)


DTYPES: dict[str, Maker] = {
    "float32": lambda r: pd.Series(r.normal(size=N), dtype="float32"),
    "float64": lambda r: pd.Series(r.normal(size=N)),
    **{t: _ints(t) for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                             "uint64", "Int64", "int64[pyarrow]")},
    "Float64": lambda r: pd.Series(r.normal(size=N), dtype="Float64"),
    "double[pyarrow]": lambda r: pd.Series(r.normal(size=N), dtype="double[pyarrow]"),
    "bool": lambda r: pd.Series(r.random(N) > 0.5),
    "boolean": lambda r: pd.Series(r.random(N) > 0.5, dtype="boolean"),
    "bool[pyarrow]": lambda r: pd.Series(r.random(N) > 0.5, dtype="bool[pyarrow]"),
    "category": _texts("category"),
    "category-ordered": lambda r: pd.Series(pd.Categorical(
        r.choice(list("abc"), N), categories=list("cab"), ordered=True)),
    "string": _texts("string"),
    "string[pyarrow]": _texts("string[pyarrow]"),
    "dictionary[pyarrow]": lambda r: pd.Series(pd.arrays.ArrowExtensionArray(
        pa.array(r.choice(list("abc"), N)).dictionary_encode())),
    "datetime64[ns]": lambda r: pd.Series(pd.date_range("2020-01-01", periods=N, freq="D")),
    "datetime64[ns, UTC]": lambda r: pd.Series(
        pd.date_range("2020-01-01", periods=N, freq="h", tz="UTC")),
    "date32[pyarrow]": lambda r: pd.Series(pd.arrays.ArrowExtensionArray(pa.array(
        [dt.date(2020, 1, 1) + dt.timedelta(days=int(i)) for i in r.integers(0, 90, N)]))),
    "timedelta64[ns]": lambda r: pd.Series(pd.to_timedelta(r.integers(0, 100, N), unit="h")),
}
#: Refused at fit, with the message's words.
REFUSED: dict[str, tuple[Maker, str]] = {
    "object-mixed": (lambda r: pd.Series([1, "a", 2.5, None] * (N // 4), dtype=object),
                     r"Column 'c' mixes value types"),
}


def _frame(make: Maker, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({"x": rng.normal(size=N), "c": make(rng)})


@pytest.mark.parametrize("name", list(DTYPES))
def test_fit_sample_save_load_keep_the_dtype(name: str, rng, tmp_path) -> None:
    df = _frame(DTYPES[name], rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence / constant columns on 24 rows
        s = Synthesizer(n_components=1, random_state=0).fit(df)
    out = s.sample(6, random_state=1)
    assert list(out.columns) == ["x", "c"]
    assert out["c"].dtype == df["c"].dtype
    save(s, tmp_path / "m.mixsynth")
    again = load(tmp_path / "m.mixsynth").sample(6, random_state=1)
    assert again["c"].dtype == df["c"].dtype
    pd.testing.assert_frame_equal(again, out)  # same seed, same rows after the round trip


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_at_fit_naming_the_column(name: str, rng) -> None:
    make, message = REFUSED[name]
    with pytest.raises(ValueError, match=message) as info:
        Synthesizer(n_components=1).fit(_frame(make, rng))
    assert "\n" not in str(info.value)


def _read_parquet(path, name: str) -> pd.DataFrame:
    """A Parquet file as pandas reads it. pandas writes ``dictionary[pyarrow]`` under a dtype
    name it cannot read back (``TypeError: data type 'dictionary<...>[pyarrow]' not
    understood``, pandas 3.1 / pyarrow 26): that dtype is read with the Arrow backend."""
    if name == "dictionary[pyarrow]":
        return pd.read_parquet(path, dtype_backend="pyarrow")
    return pd.read_parquet(path)


def _cli_fit(df: pd.DataFrame, tmp_path) -> tuple[object, object]:
    data = tmp_path / "in.parquet"
    df.to_parquet(data)
    model = tmp_path / "m.mixsynth"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", str(data), "-o", str(model), "--components", "1", "--criterion",
                     "bic", "--no-guard", "-q"]) == 0
    return data, model


@pytest.mark.parametrize("name", list(DTYPES))
def test_cli_parquet_round_trip_keeps_the_dtype(name: str, rng, tmp_path) -> None:
    data, model = _cli_fit(_frame(DTYPES[name], rng), tmp_path)
    expected = _read_parquet(data, name)["c"].dtype
    out = tmp_path / "out.parquet"
    assert main(["sample", str(model), "-n", "6", "-o", str(out), "-q"]) == 0
    assert _read_parquet(out, name)["c"].dtype == expected
    pd.read_parquet(out)  # pandas' default reader reads every file mixsynth writes


@pytest.mark.parametrize("name", list(DTYPES))
def test_cli_csv_round_trip_parses_back_to_the_dtype(name: str, rng, tmp_path) -> None:
    """CSV has no types: its text parses back (pandas.read_csv, what ``mixsynth fit`` reads a
    table with) to the same values in the model's dtypes: integers without ".0", gaps as empty
    fields, booleans as true/false, dates ISO, durations as pandas writes them, categories as
    their labels. Compared with the Parquet file of the same seed."""
    df = _frame(DTYPES[name], rng)
    df.loc[df.index[::5], "x"] = np.nan  # gaps come back as empty fields
    _, model = _cli_fit(df, tmp_path)
    csv, parquet = tmp_path / "out.csv", tmp_path / "out.parquet"
    for out in (csv, parquet):
        assert main(["sample", str(model), "-n", "40", "-o", str(out), "--seed", "3",
                     "--chunk-size", "7", "-q"]) == 0
    expected = pd.concat(list(load(model).iter_sample(40, 3, chunk_size=7)), ignore_index=True)
    with csv.open(newline="") as f:
        cells = [row[1] for row in reader(f)][1:]
    assert not any(c.lower() == "nan" for c in csv.read_text().replace("\n", ",").split(","))
    if pd.api.types.is_integer_dtype(expected["c"].dtype):
        assert not any(c.endswith(".0") for c in cells)
    parsed = pd.read_csv(csv).astype(expected.dtypes.to_dict())
    pd.testing.assert_frame_equal(parsed, expected)
    back = _read_parquet(parquet, name)  # 6 row groups, one per chunk, in one schema
    if name == "dictionary[pyarrow]":
        back = back.astype(expected.dtypes.to_dict())
    pd.testing.assert_frame_equal(back, expected)


@pytest.mark.parametrize("name", list(DTYPES))
def test_a_first_look_at_a_parquet_file_reads_the_dtypes_of_the_whole(name: str, rng,
                                                                      tmp_path) -> None:
    """The command line decides "mixed table or numbers?" from the first rows of a Parquet file
    (``read_parquet_frame(nrows=)``): the dtypes must be those of the whole file."""
    from mixsynth.io.readers import read_parquet_frame

    df = _frame(DTYPES[name], rng)
    path = tmp_path / "in.parquet"
    df.to_parquet(path, row_group_size=7)
    whole = read_parquet_frame(path)
    first = read_parquet_frame(path, nrows=10)
    assert len(first) == 10
    pd.testing.assert_series_equal(first.dtypes, whole.dtypes)
    pd.testing.assert_frame_equal(first, whole.iloc[:10])
    only_c = read_parquet_frame(path, columns=["c"], nrows=3)
    assert list(only_c.columns) == ["c"] and only_c["c"].dtype == whole["c"].dtype
    with pytest.raises(ValueError, match="no column 'nope'"):
        read_parquet_frame(path, columns=["nope"], nrows=3)
