"""``mixsynth fit`` streams large files: the same model, the same metadata, the same errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixsynth.io.formats as formats
from mixsynth import load, read_metadata
from mixsynth.cli import main

FAST = ["--criterion", "bic", "--components", "1:3", "--reg-covar", "1e-6"]
STREAM = ["--memory-budget", "1K"]  # every test file is "large"


def _frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centre = np.repeat([[0.0, 0.0], [6.0, 3.0]], n // 2, axis=0)
    xy = centre + rng.normal(size=(len(centre), 2)) @ np.array([[1.0, 0.4], [0.0, 0.8]])
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1],
                         "count": rng.integers(0, 6, size=len(xy))})


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path)
    else:
        np.save(path, df.to_numpy(dtype=float))
    return path


def _notes(model_path: Path) -> list[str]:
    return list(read_metadata(model_path)["model"]["attrs"]["selection"]["notes"])


def _extra(model_path: Path) -> dict[str, object]:
    extra = read_metadata(model_path)["extra"]
    assert isinstance(extra, dict)
    return extra


def test_a_large_csv_is_streamed_and_fits_as_in_memory(tmp_path, capsys):
    df = _frame()
    df.insert(1, "name", "row")  # a text column, left out by --columns
    data = _write(df, tmp_path / "d.csv")
    columns = ["--columns", "x,y,count"]
    streamed, loaded = tmp_path / "streamed.mixsynth", tmp_path / "loaded.mixsynth"
    assert main(["fit", str(data), "-o", str(streamed), *FAST, *STREAM, *columns]) == 0
    err = capsys.readouterr().err
    assert "above the memory budget of 1.0 KiB" in err and "fitting out of core" in err
    assert main(["fit", str(data), "-o", str(loaded), *FAST, *STREAM, *columns,
                 "--in-memory"]) == 0
    assert "out of core" not in capsys.readouterr().err

    assert any(n.startswith("fitted out of core (out-of-core, 1500 rows)")
               for n in _notes(streamed))
    assert not any("out of core" in n for n in _notes(loaded))
    s_extra, l_extra = _extra(streamed), _extra(loaded)
    assert s_extra.pop("streamed") is True
    assert s_extra == l_extra == {"columns": ["x", "y", "count"],
                                  "dtypes": ["float64", "float64", "int64"],
                                  "source": str(data)}

    X = df[["x", "y", "count"]]
    a, b = load(streamed), load(loaded)
    assert a.mixture_.n_components == b.mixture_.n_components == 2
    assert list(a.feature_names_in_) == list(b.feature_names_in_) == ["x", "y", "count"]
    np.testing.assert_allclose(a.score(X), b.score(X), atol=0.02)  # same fit, other seeds
    order_a, order_b = (np.argsort(m.mixture_.means_[:, 0]) for m in (a, b))
    np.testing.assert_allclose(a.mixture_.weights_[order_a], b.mixture_.weights_[order_b],
                               atol=0.01)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_sample_evaluate_and_inspect_work_on_a_streamed_model(tmp_path, capsys, suffix):
    df = _frame(600)
    data = _write(df, tmp_path / f"d{suffix}")
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST, "--out-of-core"]) == 0
    capsys.readouterr()
    names = ["x", "y", "count"] if suffix != ".npy" else ["x0", "x1", "x2"]
    assert _extra(model)["columns"] == names

    rows = tmp_path / "rows.csv"
    assert main(["sample", str(model), "-n", "200", "-o", str(rows), "--seed", "1",
                 "--given", f"{names[0]}=1.5"]) == 0
    out = pd.read_csv(rows)
    assert list(out.columns) == names and len(out) == 200
    assert (out[names[0]] == 1.5).all()
    if suffix != ".npy":  # integer columns come back as integers
        assert out["count"].dtype.kind == "i"

    report = tmp_path / "q.json"
    assert main(["evaluate", "--real", str(data), "--synthetic", str(rows), "--model",
                 str(model), "-o", str(report)]) == 0
    assert "heldout_loglik" in report.read_text() or json.loads(report.read_text())
    assert "warning" not in capsys.readouterr().err
    assert main(["inspect", str(model)]) == 0
    assert json.loads(capsys.readouterr().out)["extra"]["streamed"] is True


def test_small_files_are_read_into_memory_by_default(tmp_path, capsys):
    data = _write(_frame(300), tmp_path / "d.npy")
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    assert "out of core" not in capsys.readouterr().err
    assert "streamed" not in _extra(model)
    assert _extra(model)["source"] == str(data)


BAD_CSV = {
    "text in a later block": ("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(400))
                              ).replace("350,0\n", "350,oops\n"),
    "ragged row": "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(400)).replace(
        "300,6\n", "300,6,1\n"),
    "inf": "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(400)).replace("200,4\n",
                                                                         "200,1e400\n"),
    "semicolons": "a;b\n" + "".join(f"{i};{i % 7}\n" for i in range(400)),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_gives_the_same_error_streamed_or_not(tmp_path, capsys, monkeypatch, case):
    monkeypatch.setattr(formats, "CSV_BLOCK_BYTES", 512)  # errors past the first block too
    data = tmp_path / "bad.csv"
    data.write_text(BAD_CSV[case])
    errors = []
    for mode in ("--in-memory", "--out-of-core"):
        model = tmp_path / "m.mixsynth"
        assert main(["fit", str(data), "-o", str(model), *FAST, mode]) == 65
        errors.append(capsys.readouterr().err.splitlines()[-1])  # after the streaming note
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]  # nothing left
    assert errors[0] == errors[1]
    assert errors[0].startswith("mixsynth: error: ")


def test_gaps_are_modelled_in_memory_and_refused_streamed(tmp_path, capsys):
    """In memory a numbers-only file with empty cells is fitted by the model of gaps (EM);
    streamed, the rows must be complete, and the error names the column, the row and where
    gaps are modelled."""
    data = tmp_path / "d.csv"
    data.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(400)).replace(
        "100,2\n", "100,\n"))
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST, "--in-memory"]) == 0
    assert "missing values modelled in: b" in capsys.readouterr().out
    model.unlink()
    assert main(["fit", str(data), "-o", str(model), *FAST, "--out-of-core"]) == 65
    err = capsys.readouterr().err.splitlines()[-1]
    assert "contains NaN" in err and "column 'b'" in err and "row 100" in err
    assert "fitted in memory" in err
    assert not model.exists()


def test_a_text_column_is_a_category_in_memory_and_refused_streamed(tmp_path, capsys):
    """In memory a text column is modelled as categories (the mixed model); streamed, the
    rows are numbers only, and the error names the column."""
    data = tmp_path / "d.csv"
    data.write_text("a,b,s\n" + "".join(f"{i},{i % 7},t{i % 3}\n" for i in range(400)))
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST, "--in-memory"]) == 0
    assert "categorical: s" in capsys.readouterr().out
    model.unlink()
    assert main(["fit", str(data), "-o", str(model), *FAST, "--out-of-core"]) == 65
    assert "non-numeric column(s): 's'" in capsys.readouterr().err
    assert not model.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--label", "y"], "--label needs the rows in memory"),
    (["--memory-budget", "lots"], "is not a size"),
])
def test_streaming_refuses_what_needs_memory(tmp_path, capsys, args, message):
    data = _write(_frame(200), tmp_path / "d.csv")
    assert main(["fit", str(data), "-o", str(tmp_path / "m"), "--out-of-core", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_standard_input_is_never_streamed(tmp_path, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a,b\n1,2\n3,4\n")))
    assert main(["fit", "-", "-o", str(tmp_path / "m"), "--out-of-core"]) == 2
    assert "standard input" in capsys.readouterr().err


def test_memory_budget_sizes(tmp_path, capsys):
    data = _write(_frame(300), tmp_path / "d.parquet")  # 300 x 3 x 8 = 7.0 KiB
    for budget, streamed in (("8K", False), ("7000", True), ("0.001MiB", True)):
        model = tmp_path / f"m{budget}"
        assert main(["fit", str(data), "-o", str(model), *FAST, "--memory-budget", budget]) == 0
        assert ("fitting out of core" in capsys.readouterr().err) is streamed, budget


def test_csv_with_workers_streams_in_process(tmp_path, capsys):
    data = _write(_frame(300), tmp_path / "d.csv")
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST, "--out-of-core",
                 "--workers", "2"]) == 0
    assert "cannot be split into blocks" in capsys.readouterr().err
    assert any("(out-of-core, 300 rows)" in n for n in _notes(model))


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_workers_fit_a_streamed_file_data_parallel(tmp_path, capsys, suffix):
    pytest.importorskip("distributed")
    df = _frame(800)
    data = tmp_path / f"d{suffix}"
    if suffix == ".parquet":
        df.to_parquet(data, row_group_size=300)  # three row groups: three blocks
    else:
        _write(df, data)
    model = tmp_path / "m.mixsynth"
    assert main(["fit", str(data), "-o", str(model), *FAST, "--out-of-core",
                 "--workers", "2"]) == 0
    capsys.readouterr()
    assert any(n.startswith("fitted out of core (dask, 800 rows)") for n in _notes(model))
    in_process = tmp_path / "p.mixsynth"
    assert main(["fit", str(data), "-o", str(in_process), *FAST, "--out-of-core"]) == 0
    X = df.to_numpy(dtype=float)
    a, b = load(model), load(in_process)
    if suffix == ".parquet":
        assert list(a.feature_names_in_) == ["x", "y", "count"]
        X = df
    np.testing.assert_allclose(a.score(X), b.score(X), atol=0.02)
