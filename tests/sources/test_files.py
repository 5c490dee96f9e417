"""Files fitted by path through the Python API agree with ``mixsynth fit``: a file read into
memory with empty cells is the DataFrame ``read_data(allow_nan=True).to_input()`` gives, and
its gaps are modelled by EM; a streamed file with gaps is refused, naming the column and row."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.cli import main
from mixsynth.persistence import load

FAST = {"criterion": "bic", "n_components": [1, 2], "reg_covar": 1e-3, "guard": False}
CLI_FAST = ["--criterion", "bic", "--components", "1,2", "--reg-covar", "1e-3", "--no-guard",
            "--seed", "0", "-q"]


def _gappy(rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    x = rng.normal(size=n)
    df = pd.DataFrame({"h": np.round(170 + 8 * x, 1), "w": np.round(70 + 6 * x, 1),
                       "age": rng.integers(18, 80, n).astype(np.float64)})
    df.loc[rng.random(n) < 0.2, "h"] = np.nan
    df.loc[rng.random(n) < 0.3, "age"] = np.nan
    return df


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        df.to_parquet(path)
    else:
        np.save(path, df.to_numpy())
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_a_file_with_gaps_is_fitted_as_the_cli_fits_it(
        tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    # Synthesizer().fit("gaps.csv") refused ("contains NaN"), while mixsynth fit modelled them
    df = _gappy(rng)
    path = _write(df, tmp_path / f"d{suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EM convergence on a small table
        s = Synthesizer(**FAST, random_state=0).fit(str(path))
        assert main(["fit", str(path), "-o", str(tmp_path / "m.mixsynth"), *CLI_FAST]) == 0
    out = s.sample(3000, random_state=1)
    names = list(df.columns) if suffix != ".npy" else ["x0", "x1", "x2"]
    assert list(out.columns) == names
    for j, c in enumerate(names):  # gaps generated at about the data's rate
        assert abs(out[c].isna().mean() - df.iloc[:, j].isna().mean()) < 0.04, c
    # the same model as the command line's, row for row
    pd.testing.assert_frame_equal(out, load(tmp_path / "m.mixsynth").sample(3000, 1))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_a_streamed_file_with_gaps_is_refused_naming_column_and_row(
        tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    df = _gappy(rng)
    first = int(np.flatnonzero(df["h"].isna())[0])
    path = _write(df, tmp_path / f"d{suffix}")
    name = "h" if suffix != ".npy" else "x0"
    with pytest.raises(ValueError, match=rf"NaN.*column '{name}' \(position 0\), first at row "
                                         rf"{first} "):
        Synthesizer(**FAST, random_state=0).fit(str(path), out_of_core=True)


def test_an_array_with_gaps_is_still_refused(rng: np.random.Generator) -> None:
    X = _gappy(rng).to_numpy()
    with pytest.raises(ValueError, match=r"NaN"):
        Synthesizer(**FAST).fit(X)
