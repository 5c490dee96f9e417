"""``mixsynth evaluate`` and ``mixsynth report`` on mixed tables (text, booleans, dates, gaps)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth.cli import main
from tests.tables.penguins import penguins

FAST = ["--criterion", "bic", "--reg-covar", "0.01", "--components", "1,2,3", "--no-guard"]


def _table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    df = penguins(rng, n)
    df["alive"] = rng.random(n) < 0.7
    df["seen"] = (pd.Timestamp("2008-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"))
    df.loc[rng.random(n) < 0.1, "bill_depth_mm"] = np.nan  # gaps in a number too
    return df


@pytest.fixture
def files(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.csv" for name in ("real", "holdout")}
    _table(rng, 200).to_csv(paths["real"], index=False)
    _table(rng, 80).to_csv(paths["holdout"], index=False)
    return paths


def test_fit_sample_evaluate_writes_the_table_report(tmp_path: Path, files: dict[str, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    model, synth, out = tmp_path / "m.mixsynth", tmp_path / "s.parquet", tmp_path / "q.json"
    assert main(["fit", str(files["real"]), "-o", str(model), *FAST]) == 0
    assert main(["sample", str(model), "-n", "200", "-o", str(synth), "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--real", str(files["real"]), "--synthetic", str(synth),
                 "--holdout", str(files["holdout"]), "--model", str(model), "-o", str(out),
                 "--max-rows", "150"]) == 0
    assert "column_shapes" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["classifier_auc_against"] == "real_holdout"
    assert report["column_kinds"]["species"] == "categorical"
    assert report["column_kinds"]["seen"] == "categorical"  # CSV dates read as text, both sides
    assert math.isfinite(report["heldout_log_likelihood"])
    assert report["missing_real"]["bill_depth_mm"] > 0
    assert set(report["column_shape_scores"]) == set(pd.read_csv(files["real"]).columns)


def test_without_a_model_or_holdout(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "q.json"
    assert main(["evaluate", "--real", str(files["real"]), "--synthetic",
                 str(files["holdout"]), "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["classifier_auc_against"] == "real_train"
    assert report["heldout_log_likelihood"] is None
    assert "heldout_log_likelihood" in report["skipped"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.rename(columns={"island": "isle"}), "synthetic has no column 'island'"),
    (lambda d: d.assign(body_mass_g="heavy"), "Column 'body_mass_g' is continuous"),
])
def test_mismatched_synthetic_exits_65_naming_the_column(
        tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str],
        change: object, message: str) -> None:
    bad, out = tmp_path / "bad.csv", tmp_path / "q.json"
    change(pd.read_csv(files["holdout"])).to_csv(bad, index=False)  # type: ignore[operator]
    capsys.readouterr()
    code = main(["evaluate", "--real", str(files["real"]), "--synthetic", str(bad),
                 "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 65 and not out.exists()
    assert message in err and len(err.strip().splitlines()) == 1


def test_report_on_a_table_model_writes_the_table_page(
        tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, page = tmp_path / "m.mixsynth", tmp_path / "r.html"
    assert main(["fit", str(files["real"]), "-o", str(model), *FAST]) == 0
    assert main(["report", str(model), "--data", str(files["real"]), "--holdout",
                 str(files["holdout"]), "-o", str(page), "--samples", "150"]) == 0
    html = page.read_text()
    for anchor in ("data", "selection", "samples", "quality", "memorisation", "model"):
        assert f'id="{anchor}"' in html
    assert "<script" not in html and "numbers only" not in html
    assert "vs real_holdout" in html and "150 generated rows" in html
    assert "<code>bill_depth_mm</code>" in html  # the per-column table


def test_report_of_a_numbers_model_on_a_mixed_table_exits_65(
        tmp_path: Path, files: dict[str, Path], rng: np.random.Generator,
        capsys: pytest.CaptureFixture[str]) -> None:
    numbers, model, page = tmp_path / "n.csv", tmp_path / "m.mixsynth", tmp_path / "r.html"
    pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"]).to_csv(numbers, index=False)
    assert main(["fit", str(numbers), "-o", str(model), *FAST]) == 0
    capsys.readouterr()
    code = main(["report", str(model), "--data", str(files["real"]), "-o", str(page)])
    err = capsys.readouterr().err
    assert code == 65 and not page.exists()
    assert "the model was fitted on plain numbers" in err and len(err.strip().splitlines()) == 1
