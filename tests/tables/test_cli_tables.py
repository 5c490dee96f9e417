"""The command line on mixed tables: CSV and Parquet with text, booleans, dates and gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth.cli import main
from mixsynth.persistence import load
from tests.tables.penguins import penguins

FAST = ["--criterion", "bic", "--reg-covar", "0.01", "--components", "1,2,3", "--no-guard"]


def _table(rng: np.random.Generator, n: int = 150) -> pd.DataFrame:
    df = penguins(rng, n)
    df["alive"] = rng.random(n) < 0.7
    df["seen"] = (pd.Timestamp("2008-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"))
    return df


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_fit_and_sample_keep_the_types(tmp_path: Path, rng: np.random.Generator,
                                       suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    df = _table(rng)
    data = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        df.to_csv(data, index=False)
    else:
        df.to_parquet(data)
    model, out = tmp_path / "m.mixsynth", tmp_path / f"out{suffix}"
    assert main(["fit", str(data), "-o", str(model), "--categorical", "year", *FAST]) == 0
    said = capsys.readouterr().out
    assert "categorical: species, island, sex, year" in said
    assert "missing values modelled in: sex" in said
    assert main(["sample", str(model), "-n", "300", "-o", str(out), "--seed", "1"]) == 0
    back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(back.columns) == list(df.columns)
    assert set(back["species"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert set(back["year"]) <= {2007, 2008, 2009}
    assert back["alive"].dtype == bool
    assert back["sex"].isna().any() and back["sex"].notna().any()
    if suffix == ".parquet":  # the Arrow types of the file: categories, dates, integers
        assert isinstance(back["species"].dtype, pd.CategoricalDtype)
        assert back["seen"].dtype.kind == "M" and back["body_mass_g"].dtype == np.int64
    else:
        assert pd.to_datetime(back["seen"]).notna().all()
        assert (back["body_mass_g"] == back["body_mass_g"].round()).all()
    m = load(model)
    assert m.model_.codec.spec("year").kind == "categorical"  # type: ignore[union-attr]


def test_given_a_category(tmp_path: Path, rng: np.random.Generator) -> None:
    data, model, out = tmp_path / "d.csv", tmp_path / "m.mixsynth", tmp_path / "o.csv"
    _table(rng).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    assert main(["sample", str(model), "-n", "50", "-o", str(out), "--given", "species=Gentoo",
                 "--given", "year=2008"]) == 0
    back = pd.read_csv(out)
    assert (back["species"] == "Gentoo").all() and (back["year"] == 2008).all()


def test_unknown_category_is_a_usage_error(tmp_path: Path, rng: np.random.Generator,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data, model, out = tmp_path / "d.csv", tmp_path / "m.mixsynth", tmp_path / "o.csv"
    _table(rng).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    code = main(["sample", str(model), "-n", "5", "-o", str(out), "--given",
                 "species=Emperor"])
    assert code == 2 and not out.exists()
    assert "'Emperor' is not a category of column 'species'" in capsys.readouterr().err


@pytest.mark.parametrize(("column", "message"), [
    (["a", "2", "b", "c"] * 10, None),  # text with a number: still text, fine
    ([None] * 40, "Column 'bad' has no values"),
    (["2020-01-01", "2020-02-30", "2020-01-03", "2020-01-04"] * 10,
     "Column 'bad': '2020-02-30' is not a date"),
    ([f"id{i}" for i in range(1001)], "Column 'bad' has 1001 distinct values"),
])
def test_bad_columns_exit_65_naming_them(tmp_path: Path, rng: np.random.Generator,
                                         capsys: pytest.CaptureFixture[str], column: list[object],
                                         message: str | None) -> None:
    n = len(column)
    df = pd.DataFrame({"x": rng.normal(size=n), "bad": column})
    data, model = tmp_path / "d.csv", tmp_path / "m.mixsynth"
    df.to_csv(data, index=False)
    code = main(["fit", str(data), "-o", str(model), *FAST])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0
        return
    assert code == 65 and not model.exists()
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_identifier_column_fits_with_a_one_line_warning(
        tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame({"x": rng.normal(size=80), "name": [f"id{i}" for i in range(80)]})
    data, model, out = tmp_path / "d.csv", tmp_path / "m.mixsynth", tmp_path / "s.csv"
    df.to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "'name'" in line]
    assert len(warned) == 1 and "80 distinct values in 80 rows" in warned[0]
    assert main(["sample", str(model), "-n", "50", "-o", str(out)]) == 0
    assert set(pd.read_csv(out)["name"]) <= set(df["name"])


def test_numeric_csv_keeps_its_path(tmp_path: Path, rng: np.random.Generator) -> None:
    data, model = tmp_path / "d.csv", tmp_path / "m.mixsynth"
    pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"]).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    assert load(model).whitener_ is not None
    assert main(["fit", str(data), "-o", str(model), "--force", "--categorical", "nope",
                 *FAST]) == 2


def test_numeric_gaps_in_a_mixed_csv(tmp_path: Path, rng: np.random.Generator,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A table with categories and gaps in numeric columns (palmerpenguins as shipped): the
    gaps are modelled (the missing-value EM) and generated at their rate."""
    df = _table(rng, 300)
    df.loc[rng.random(300) < 0.1, "bill_depth_mm"] = np.nan
    data, model, out = tmp_path / "d.csv", tmp_path / "m.mixsynth", tmp_path / "o.csv"
    df.to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 0
    assert "missing values modelled in: bill_depth_mm, sex" in capsys.readouterr().out
    assert main(["sample", str(model), "-n", "4000", "-o", str(out), "--seed", "0"]) == 0
    back = pd.read_csv(out)
    assert abs(back["bill_depth_mm"].isna().mean() - df["bill_depth_mm"].isna().mean()) < 0.03


def test_a_ragged_row_in_a_mixed_csv_is_refused(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, model = tmp_path / "d.csv", tmp_path / "m.mixsynth"
    data.write_text("a,s\n" + "".join(f"{i},t{i % 3}\n" for i in range(50)) + "7\n")
    assert main(["fit", str(data), "-o", str(model), *FAST]) == 65
    assert "line 52 has 1 field(s) but the header has 2" in capsys.readouterr().err
    assert not model.exists()


def test_a_typo_in_a_column_of_numbers_is_named_alone(
        tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    """A mixed table whose numeric column holds one stray text: the error named every text
    column (the categories too) and said "mixsynth models numbers only"; it names the typo's
    column, value and line, and the categories are not at fault."""
    df = _table(rng).astype({"bill_length_mm": object})
    df.loc[7, "bill_length_mm"] = "39,1"
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(tmp_path / "m.mixsynth"), *FAST]) == 65
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "1 non-numeric column(s): 'bill_length_mm'" in err
    assert "'39,1' at line 9" in err and "species" not in err
    assert "numbers only" not in err
    # declared categorical, the column is modelled (as text levels) and the fit goes on
    assert main(["fit", str(data), "-o", str(tmp_path / "m.mixsynth"), "--categorical",
                 "bill_length_mm", "--force", *FAST]) == 0
