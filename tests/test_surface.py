"""The public surface agrees with itself (issues 11 and 14 point 10): file paths fitted as the
DataFrames they hold, gaps in numeric files modelled on the command line, ``report --holdout``,
``given=`` outside the data's range, the guard's skip said, one row numbering in messages."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.cli import main
from mixsynth.guard import GuardSkippedWarning

FAST = {"criterion": "bic", "n_components": [1, 2], "reg_covar": 1e-3, "guard": False}
CLI_FAST = ["--criterion", "bic", "--components", "1,2", "--no-guard", "--seed", "0"]


def _frame(rng: np.random.Generator, n: int = 240) -> pd.DataFrame:
    x = rng.normal(size=n)
    return pd.DataFrame({"height": np.round(170 + 8 * x, 1),
                         "weight": np.round(70 + 6 * x + rng.normal(size=n), 1),
                         "age": rng.integers(18, 80, n)})


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("out_of_core", [None, True])
def test_a_file_is_fitted_as_the_dataframe_it_holds(
        tmp_path: Path, rng: np.random.Generator, suffix: str, out_of_core: bool | None) -> None:
    # fit("data.csv") then sample() gave a bare array (fit(df) gives a DataFrame)
    df = _frame(rng)
    path = tmp_path / f"d{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    s = Synthesizer(**FAST, random_state=0).fit(str(path), out_of_core=out_of_core)
    out = s.sample(50, random_state=1)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["height", "weight", "age"]
    assert out["age"].dtype == np.int64 and out["height"].dtype == np.float64
    assert list(s.feature_names_in_) == ["height", "weight", "age"]
    g = s.sample(20, random_state=1, given={"height": 171.0})
    assert (g["height"] == 171.0).all()
    if out_of_core is None:  # loaded: the same model as fit(df)
        ref = Synthesizer(**FAST, random_state=0).fit(df)
        pd.testing.assert_frame_equal(out, ref.sample(50, random_state=1))


def test_cli_models_the_gaps_of_a_numbers_only_csv(tmp_path: Path, rng: np.random.Generator,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # mixsynth fit refused a numbers-only CSV with empty cells ("does not impute"), while
    # Synthesizer().fit(df) models the gaps by EM
    df = _frame(rng, 400).astype({"age": "float64"})
    rates = {"height": 0.10, "weight": 0.0, "age": 0.25}
    for c, r in rates.items():
        df.loc[rng.random(len(df)) < r, c] = np.nan
    data, model, out = tmp_path / "d.csv", tmp_path / "m.mixsynth", tmp_path / "o.csv"
    df.to_csv(data, index=False)
    assert ",," in data.read_text() or ",\n" in data.read_text()  # empty cells
    assert main(["fit", str(data), "-o", str(model), *CLI_FAST]) == 0
    assert "missing values modelled in: height, age" in capsys.readouterr().out
    assert main(["sample", str(model), "-n", "4000", "-o", str(out), "--seed", "1"]) == 0
    back = pd.read_csv(out)
    assert list(back.columns) == list(df.columns)
    for c in df.columns:  # gaps at about the real rate
        assert abs(back[c].isna().mean() - df[c].isna().mean()) < 0.04, c
    assert back["weight"].notna().all()
    # --missing complete: complete rows
    assert main(["fit", str(data), "-o", str(model), "--force", "--missing", "complete",
                 *CLI_FAST]) == 0
    assert main(["sample", str(model), "-n", "500", "-o", str(out), "--force"]) == 0
    assert pd.read_csv(out).notna().all().all()


def test_cli_report_holdout_computes_the_heldout_metrics(
        tmp_path: Path, rng: np.random.Generator) -> None:
    df = _frame(rng, 300)
    train, hold = tmp_path / "t.csv", tmp_path / "h.csv"
    df.iloc[:200].to_csv(train, index=False)
    df.iloc[200:].to_csv(hold, index=False)
    model, page, plain = tmp_path / "m.mixsynth", tmp_path / "r.html", tmp_path / "p.html"
    assert main(["fit", str(train), "-o", str(model), *CLI_FAST]) == 0
    assert main(["report", str(model), "--data", str(train), "-o", str(plain)]) == 0
    assert "needs real_holdout" in plain.read_text()
    assert main(["report", str(model), "--data", str(train), "--holdout", str(hold),
                 "-o", str(page), "--temperature", "0.8"]) == 0
    text = page.read_text()
    assert "needs real_holdout" not in text and "needs model and real_holdout" not in text
    assert "100 held-out real rows" in text and "temperature 0.8" in text


def test_given_outside_the_data_range_is_an_error_naming_the_column_and_range(
        tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    # --given body_mass_g=99999 (ten times the maximum) was accepted without a word
    df = _frame(rng)
    s = Synthesizer(**FAST, random_state=0).fit(df)
    far = 10 * df["height"].max()
    with pytest.raises(ValueError, match=r"given value .* for column 'height' is outside the "
                                         r"data's range \[\d+\.\d+, \d+\.\d+\]"):
        s.sample(5, 0, given={"height": far})
    s.sample(5, 0, given={"height": float(df["height"].max())})  # the edge is inside
    a = Synthesizer(**FAST, random_state=0).fit(df.to_numpy())
    with pytest.raises(ValueError, match="for column 0 is outside the data's range"):
        a.sample(5, 0, given={0: -far})
    c = Synthesizer(**FAST, random_state=0).fit(df, (df["age"] > 50).to_numpy())
    with pytest.raises(ValueError, match="for column 'weight' is outside"):
        c.sample(5, 0, given={"weight": 1e6})
    # mixed tables said so already; the command line says it as a usage error, for both
    t = df.assign(kind=pd.Categorical(rng.choice(["a", "b"], len(df))))
    with pytest.raises(ValueError, match="for column 'height' is outside the data's range"):
        Synthesizer(**FAST, random_state=0).fit(t).sample(5, 0, given={"height": far})
    for frame, name in ((df, "plain"), (t, "mixed")):
        data, model = tmp_path / f"{name}.csv", tmp_path / f"{name}.mixsynth"
        frame.to_csv(data, index=False)
        assert main(["fit", str(data), "-o", str(model), *CLI_FAST]) == 0
        out = tmp_path / f"{name}-o.csv"
        capsys.readouterr()
        assert main(["sample", str(model), "-n", "5", "-o", str(out),
                     "--given", f"height={far}"]) == 2
        err = capsys.readouterr().err
        assert "--given" in err and "'height'" in err and "outside the data's range" in err
        assert not out.exists()


def test_the_guard_says_when_it_is_skipped(rng: np.random.Generator) -> None:
    # under 100 rows memorization_ was None without a word
    X = _frame(rng, 60).to_numpy(dtype=float)
    with pytest.warns(GuardSkippedWarning, match=r"at least 100 rows; the data has 60"):
        s = Synthesizer(n_components=[1, 2], criterion="bic", random_state=0).fit(X)
    assert s.memorization_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Synthesizer(**FAST, random_state=0).fit(X).memorization_ is None  # asked: quiet
    # on 300 rows the guard runs: no word of skipping (what it finds is its own business: a
    # two-component model of a uniform `age` column can be flagged, seed 961422578)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        big = Synthesizer(n_components=[1, 2], criterion="bic", random_state=0).fit(
            _frame(rng, 300))
    assert not [w for w in caught if issubclass(w.category, GuardSkippedWarning)]
    assert big.memorization_ is not None


def test_cli_says_the_guard_is_skipped(tmp_path: Path, rng: np.random.Generator,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data, model = tmp_path / "d.csv", tmp_path / "m.mixsynth"
    _frame(rng, 60).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), "--criterion", "bic",
                 "--components", "1,2"]) == 0
    assert "warning: memorisation guard skipped" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["em", "error", "impute", None])
def test_synthesizer_missing_is_checked_and_told_apart_from_gaussian_mixture(
        rng: np.random.Generator, value: object) -> None:
    # Synthesizer(missing="em") was accepted silently on numeric data (it means "what the
    # samples carry": "model" or "complete"; GaussianMixture's missing= is "error" or "em")
    from mixsynth import GaussianMixture

    X = _frame(rng, 120).to_numpy(dtype=float)
    with pytest.raises(ValueError, match=r"missing must be one of \('model', 'complete'\)"
                                         + (r".*GaussianMixture's missing=" if value in
                                            ("em", "error") else "")):
        Synthesizer(**FAST, missing=value).fit(X)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"missing.*'e(m|rror)'.*'e(m|rror)'"):
        GaussianMixture(2, missing="model").fit(X)
    for ok in ("model", "complete"):
        Synthesizer(**FAST, missing=ok).fit(X)


@pytest.mark.parametrize("content", [
    "a,b\n1,2\n3,4\n5,1e400\n",  # a value: a data row
    "a,b\n1,2\n3,4,5\n",  # a ragged line: a file line
    "a,b\n1,2\n3,x\n4,5\n",  # text in a number column: a file line
])
@pytest.mark.parametrize("mode", ["--in-memory", "--out-of-core"])
def test_every_row_or_line_number_says_how_it_counts(
        tmp_path: Path, content: str, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 14: "line 2" (file lines from 1) and "row 3" (data rows from 0) in one file's
    # errors, neither saying which
    import re

    data = tmp_path / "d.csv"
    data.write_text(content)
    assert main(["fit", str(data), "-o", str(tmp_path / "m"), mode, *CLI_FAST]) == 65
    err = capsys.readouterr().err.splitlines()[-1]
    lines, rows = "(file lines counted from 1, the header is line 1)", "(rows counted from 0"
    said = re.findall(r"\b(row|line) \d+", err.replace(lines, ""))
    assert said, err
    for word in said:  # each number comes with the way it counts
        assert (rows if word == "row" else lines) in err, err
