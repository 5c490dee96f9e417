"""Temperature through the public surface (issue 12 point 4): ``Synthesizer.sample`` and
``iter_sample`` (plain, ``given=``, class-conditional, mixed tables), the CLI, the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsynth import Synthesizer
from mixsynth.cli import main

FAST = {"criterion": "bic", "reg_covar": 1e-3, "guard": False}


def _gaussian(rng: np.random.Generator, n: int = 600) -> np.ndarray:
    cov = np.array([[4.0, 1.5, 0.5], [1.5, 2.0, 0.3], [0.5, 0.3, 1.0]])
    return rng.multivariate_normal([1.0, -2.0, 5.0], cov, size=n)


def _one_gaussian(rng: np.random.Generator) -> tuple[Synthesizer, np.ndarray]:
    X = _gaussian(rng)
    s = Synthesizer(n_components=1, support=None, support_transform=None, reduce=None,
                    **FAST, random_state=0).fit(X)
    return s, X


def test_temperature_one_is_the_model_itself_byte_for_byte(rng: np.random.Generator) -> None:
    X = _gaussian(rng, 300)
    s = Synthesizer(n_components=[1, 2], **FAST, random_state=0).fit(X)
    np.testing.assert_array_equal(s.sample(200, random_state=3),
                                  s.sample(200, random_state=3, temperature=1.0))
    np.testing.assert_array_equal(s.sample(50, random_state=3, given={0: 1.0}),
                                  s.sample(50, random_state=3, given={0: 1.0}, temperature=1))
    a = np.concatenate(list(s.iter_sample(70, 4, chunk_size=30)))
    b = np.concatenate(list(s.iter_sample(70, 4, chunk_size=30, temperature=1.0)))
    np.testing.assert_array_equal(a, b)
    y = (X[:, 0] > 1.0).astype(int)
    c = Synthesizer(n_components=[1, 2], **FAST, random_state=0).fit(X, y)
    for u, v in zip(c.sample(80, random_state=5), c.sample(80, random_state=5, temperature=1.0),
                    strict=True):
        np.testing.assert_array_equal(u, v)


def test_temperature_scales_the_within_component_covariance(rng: np.random.Generator) -> None:
    s, _ = _one_gaussian(rng)
    base = np.cov(s.sample(40_000, random_state=1), rowvar=False)
    cold = np.cov(s.sample(40_000, random_state=2, temperature=0.25), rowvar=False)
    np.testing.assert_allclose(cold, 0.25 * base, rtol=0.08, atol=0.02)
    means = s.sample(40_000, random_state=2, temperature=0.25).mean(axis=0)
    np.testing.assert_allclose(means, s.sample(40_000, random_state=1).mean(axis=0), atol=0.05)


def test_temperature_in_iter_sample_and_given(rng: np.random.Generator) -> None:
    s, _ = _one_gaussian(rng)
    chunks = np.concatenate(list(s.iter_sample(20_000, 1, chunk_size=7_000, temperature=0.25)))
    full = np.concatenate(list(s.iter_sample(20_000, 1, chunk_size=7_000)))
    assert np.var(chunks[:, 0]) == pytest.approx(0.25 * np.var(full[:, 0]), rel=0.1)
    # conditioning the tempered model: the conditional covariance shrinks by t too
    g = s.sample(30_000, random_state=4, given={0: 2.0})
    gc = s.sample(30_000, random_state=4, given={0: 2.0}, temperature=0.25)
    assert (gc[:, 0] == 2.0).all()
    np.testing.assert_allclose(np.var(gc[:, 1:], axis=0), 0.25 * np.var(g[:, 1:], axis=0),
                               rtol=0.1)
    np.testing.assert_allclose(gc[:, 1:].mean(axis=0), g[:, 1:].mean(axis=0), atol=0.05)


def test_temperature_of_a_class_conditional_model(rng: np.random.Generator) -> None:
    X = _gaussian(rng, 800)
    y = np.repeat([0, 1], 400)
    s = Synthesizer(n_components=1, support=None, support_transform=None, reduce=None,
                    **FAST, random_state=0).fit(X, y)
    warm, _ = s.sample(30_000, random_state=1, y=1)
    cold, _ = s.sample(30_000, random_state=1, y=1, temperature=0.5)
    np.testing.assert_allclose(np.var(cold, axis=0), 0.5 * np.var(warm, axis=0), rtol=0.1)


@pytest.mark.parametrize("t", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_a_bad_temperature_is_refused_naming_it(rng: np.random.Generator, t: object) -> None:
    s, _ = _one_gaussian(rng)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        s.sample(5, random_state=0, temperature=t)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        next(s.iter_sample(5, 0, temperature=t))  # type: ignore[arg-type]


def _table(rng: np.random.Generator, n: int = 900) -> pd.DataFrame:
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1])),
    })


def test_temperature_on_a_mixed_table_sharpens_the_categories(rng: np.random.Generator) -> None:
    df = _table(rng)
    s = Synthesizer(n_components=1, **FAST, random_state=0).fit(df)
    pd.testing.assert_frame_equal(s.sample(300, random_state=2),
                                  s.sample(300, random_state=2, temperature=1.0))
    theta = np.exp(s.model_.log_theta[0])  # type: ignore[union-attr]
    cats = list(s.model_.codec.spec("colour").categories)  # type: ignore[union-attr]
    for t in (0.5, 2.0):
        expected = theta ** (1 / t) / np.sum(theta ** (1 / t))  # p^(1/t), renormalised
        out = s.sample(40_000, random_state=3, temperature=t)
        got = out["colour"].value_counts(normalize=True).reindex(cats).to_numpy()
        np.testing.assert_allclose(got, expected, atol=0.012)
        assert np.var(out["x"]) == pytest.approx(t * np.var(s.sample(40_000, 4)["x"]), rel=0.1)
    # given=: exact conditioning of the tempered model
    g = s.sample(20_000, random_state=5, given={"colour": "blue"}, temperature=0.5)
    assert (g["colour"] == "blue").all()
    assert np.var(g["x"]) == pytest.approx(0.5 * np.var(s.sample(20_000, 6)["x"]), rel=0.1)
    g = s.sample(20_000, random_state=5, given={"x": 0.3}, temperature=0.5)
    got = g["colour"].value_counts(normalize=True).reindex(cats).to_numpy()
    np.testing.assert_allclose(got, theta**2 / np.sum(theta**2), atol=0.015)


def _fitted_file(tmp_path: Path, rng: np.random.Generator) -> Path:
    data, model = tmp_path / "d.csv", tmp_path / "m.mixsynth"
    pd.DataFrame(_gaussian(rng, 200), columns=["a", "b", "c"]).to_csv(data, index=False)
    assert main(["fit", str(data), "-o", str(model), "--criterion", "bic",
                 "--components", "1,2", "--no-guard", "--seed", "0"]) == 0
    return model


def test_cli_sample_temperature(tmp_path: Path, rng: np.random.Generator) -> None:
    model = _fitted_file(tmp_path, rng)
    plain, one, cold = (tmp_path / f"{n}.csv" for n in ("plain", "one", "cold"))
    assert main(["sample", str(model), "-n", "4000", "-o", str(plain), "--seed", "1"]) == 0
    assert main(["sample", str(model), "-n", "4000", "-o", str(one), "--seed", "1",
                 "--temperature", "1"]) == 0
    assert plain.read_bytes() == one.read_bytes()
    assert main(["sample", str(model), "-n", "4000", "-o", str(cold), "--seed", "1",
                 "--temperature", "0.3"]) == 0
    assert pd.read_csv(cold).var().sum() < 0.6 * pd.read_csv(plain).var().sum()


@pytest.mark.parametrize("t", ["0", "-2", "nan", "inf", "abc"])
def test_cli_sample_refuses_a_bad_temperature_as_a_usage_error(
        tmp_path: Path, rng: np.random.Generator, t: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = _fitted_file(tmp_path, rng)
    out = tmp_path / "o.csv"
    capsys.readouterr()
    assert main(["sample", str(model), "-n", "5", "-o", str(out), "--temperature", t]) == 2
    assert "--temperature" in capsys.readouterr().err
    assert not out.exists()


def test_report_and_evaluate_record_the_temperature(rng: np.random.Generator) -> None:
    from mixsynth.evaluation import evaluate
    from mixsynth.report import build_report

    X = _gaussian(rng, 200)
    s = Synthesizer(n_components=[1, 2], **FAST, random_state=0).fit(X)
    q = evaluate(X, s.sample(200, 1, temperature=0.5), temperature=0.5)
    assert q.temperature == 0.5 and q.to_dict()["temperature"] == 0.5
    assert evaluate(X, s.sample(200, 1)).temperature is None  # not said: not recorded
    page = build_report(s, X, temperature=0.5, n_samples=200)
    assert "temperature 0.5" in page
    assert "temperature 1" in build_report(s, X, n_samples=200)


def test_cli_evaluate_records_the_temperature(tmp_path: Path, rng: np.random.Generator) -> None:
    import json

    model = _fitted_file(tmp_path, rng)
    real, fake, out = tmp_path / "d.csv", tmp_path / "f.csv", tmp_path / "q.json"
    assert main(["sample", str(model), "-n", "200", "-o", str(fake), "--seed", "1",
                 "--temperature", "0.5"]) == 0
    assert main(["evaluate", "--real", str(real), "--synthetic", str(fake), "-o", str(out),
                 "--temperature", "0.5"]) == 0
    assert json.loads(out.read_text())["temperature"] == 0.5
    out.unlink()
    assert main(["evaluate", "--real", str(real), "--synthetic", str(fake), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["temperature"] is None
    assert main(["evaluate", "--real", str(real), "--synthetic", str(fake), "-o", str(out),
                 "--force", "--temperature", "nan"]) == 2
