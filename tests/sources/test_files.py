"""Files fitted by path through the Python API agree with ``mixsynth fit``: a file read into
memory with empty cells is the DataFrame ``read_data(allow_nan=True).to_input()`` gives, and
its gaps are modelled by EM; a streamed file with gaps is refused, naming the column and row.
A streamed pass holds its chunk and bounded temporaries, never a chunk's packed products."""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth import GaussianMixture, Synthesizer
from mixsynth.cli import main
from mixsynth.persistence import load
from mixsynth.sources import ChunkKernel, apply_kernels, kernels

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


# --------------------------------------------------------- a streamed pass: bounded temporaries


class _Spy(ChunkKernel):
    """A packing kernel that records the packed products it is handed."""

    packs = True

    def __init__(self, rows: int) -> None:
        self.shift, self.rows, self.seen = None, rows, []

    def __call__(self, X, w, packed=None):  # type: ignore[no-untyped-def]
        self.seen.append(None if packed is None else packed.nbytes)
        return float(X.sum())


def test_kernels_share_packed_products_only_within_the_budget(rng: np.random.Generator,
                                                              monkeypatch) -> None:
    X = rng.normal(size=(3000, 10))  # 55 packed columns: 1,320,000 bytes for the whole cut
    spies = [_Spy(rows=3000), _Spy(rows=3000)]
    apply_kernels([(X, None, 0)], spies)
    assert [s.seen for s in spies] == [[3000 * 55 * 8]] * 2  # small: built once, shared
    monkeypatch.setattr(kernels, "SHARED_PACK_BYTES", 1_000_000)
    spies = [_Spy(rows=3000), _Spy(rows=3000)]
    assert apply_kernels([(X, None, 0)], spies) == [X.sum()] * 2
    assert [s.seen for s in spies] == [[None]] * 2  # each packs block by block itself


def test_a_chunk_loglik_is_summed_over_blocks(rng: np.random.Generator, monkeypatch) -> None:
    X = rng.normal(size=(5000, 6))
    gm = GaussianMixture(3, random_state=0).fit(X)
    want = (float(gm.score_samples(X).sum()), 5000.0)
    rows: list[int] = []
    real = kernels.estimate_weighted_log_prob

    def spy(Xb, params):  # type: ignore[no-untyped-def]
        rows.append(len(Xb))
        return real(Xb, params)

    monkeypatch.setattr(kernels, "estimate_weighted_log_prob", spy)
    monkeypatch.setattr(kernels, "LOGLIK_BLOCK_BYTES", 8 * 1000 * (21 + 6))
    got = kernels.chunk_loglik(X, None, gm._params())
    assert rows == [1000] * 5  # never the whole chunk at once
    np.testing.assert_allclose(got, want, rtol=1e-12)
    w = rng.random(5000)
    got_w = kernels.chunk_loglik(X, w, gm._params())
    np.testing.assert_allclose(got_w, (float(gm.score_samples(X) @ w), float(w.sum())),
                               rtol=1e-12)


def test_a_streamed_npy_fit_never_holds_the_packed_products_of_a_chunk(
        tmp_path: Path, rng: np.random.Generator) -> None:
    """A streamed fit's E-step chunk of an .npy file is the whole file here (60,000 rows, fewer
    than the chunk's row budget). The scoring pass packed the outer products of the whole chunk
    (96 MiB at d = 20; the traced peak was 139 MiB, 66 MiB since), and so did kernels sharing
    them: the 1,000,000 x 20 file peaked at 969 MiB RSS against 579 MiB for Parquet, whose
    blocks stop at a row group."""
    n, d = 60_000, 20
    np.save(tmp_path / "x.npy", rng.normal(size=(n, d)))
    whole_chunk_packed = n * d * (d + 1) // 2 * 8
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Synthesizer(n_components=2, max_iter=2, guard=False, random_state=0).fit(
                tmp_path / "x.npy", out_of_core=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < whole_chunk_packed, (peak, whole_chunk_packed)
