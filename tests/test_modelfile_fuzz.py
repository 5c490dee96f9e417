"""A short, deterministic run of the model-file fuzzer (``make fuzz`` runs a million).

Every mutated file must raise ``ModelFileError`` at load, or load and then sample and score
without an error, with finite samples and no NaN score.
"""

from __future__ import annotations

import pytest
from benchmarks import fuzz_models as fuzz


@pytest.fixture(scope="module")
def seeds() -> list[fuzz.Seed]:
    return fuzz.make_seeds(0)


@pytest.mark.parametrize("mutator", list(fuzz.MUTATORS))
def test_mutated_files_are_refused_or_work(seeds, seed, monkeypatch, mutator) -> None:
    monkeypatch.setattr(fuzz, "MUTATORS", (mutator,))
    monkeypatch.setattr(fuzz, "WEIGHTS", (1,))
    report = fuzz.fuzz(60.0, seed=seed, mutations=400, seeds=seeds)
    assert report.mutations == 400
    assert report.findings == []


def test_a_denormal_whitener_scale_is_refused_or_works(seeds) -> None:
    """The fuzzer's finding: a whitener scale of 5e-324 (positive, so it loads) made an
    ordinary row overflow when standardised, and ``score_samples`` refused its own whitened
    rows ("Input X contains inf"). A row beyond float64 once whitened now scores -inf."""
    s = next(x for x in seeds if x.name == "synthesizer")
    arrays = {k: v.copy() for k, v in s.arrays.items()}
    arrays["whitener.scale"][0] = 5e-324
    _, finding = fuzz.check(fuzz._sign(s.doc, arrays), s.X)
    assert finding is None, finding


def test_the_fuzzer_finds_an_escape(seeds, monkeypatch) -> None:
    """The oracle can fail: a loader that lets a ValueError escape is reported."""
    def broken(data: bytes):
        raise ValueError("escaped")
    monkeypatch.setattr(fuzz, "_from_bytes", broken)
    report = fuzz.fuzz(60.0, seed=0, mutations=5, seeds=seeds)
    assert len(report.findings) == 5 and "load raised ValueError" in report.findings[0]


def test_means_too_far_apart_for_float64_are_refused_at_load(seeds) -> None:
    """A re-signed file whose component means are 1e300 apart loaded, then scored NaN."""
    from mixsynth.modelfile import ModelFileError
    from mixsynth.modelfile.files import _from_bytes

    s = next(x for x in seeds if x.name == "gm-full")
    arrays = {k: v.copy() for k, v in s.arrays.items()}
    arrays["mixture.means"][0, 0] = 1e300
    with pytest.raises(ModelFileError, match=r"means.*apart, beyond what float64"):
        _from_bytes(fuzz._sign(s.doc, arrays))


def test_a_deprecated_dtype_alias_is_refused_without_a_warning(seeds) -> None:
    """A re-signed document whose class labels' dtype is "a" (numpy's deprecated alias of
    "S") made numpy warn while loading; every dtype name must be exactly as written."""
    import copy

    from mixsynth.modelfile import ModelFileError
    from mixsynth.modelfile.files import _from_bytes

    s = next(x for x in seeds if x.name == "class-conditional")
    doc = copy.deepcopy(s.doc)
    classes = doc["model"]["attrs"]["classes"]
    classes["dtype"] = "a"
    with pytest.raises(ModelFileError, match="deprecated alias"):
        _from_bytes(fuzz._sign(doc, s.arrays))
    classes["dtype"] = "i8"  # an alias the writer never writes (it writes "int64")
    with pytest.raises(ModelFileError, match="not written as 'int64'"):
        _from_bytes(fuzz._sign(doc, s.arrays))
