"""Interrupted selection sweeps resume where they stopped, with the same result."""

from __future__ import annotations

import numpy as np
import pytest

from mixsynth import Synthesizer
from mixsynth.selection import Task


def _data(rng: np.random.Generator) -> np.ndarray:
    return np.r_[rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 6.0]


def _interrupt_after(n: int):
    calls = []

    def progress(done: int, total: int, candidate: object) -> None:
        calls.append(candidate)
        if len(calls) == n:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("criterion", ["heldout", "bic"])
def test_interrupted_sweep_resumes_to_the_same_model(rng, tmp_path, monkeypatch, criterion):
    X = _data(rng)
    kw = dict(n_components=[1, 2, 3, 4], reg_covar=[1e-6, 1e-2], criterion=criterion,
              guard=False, random_state=3)
    ckpt = tmp_path / "sweep.partial"
    with pytest.raises(KeyboardInterrupt):
        Synthesizer(**kw).fit(X, progress=_interrupt_after(3), checkpoint=ckpt)
    assert ckpt.exists()

    evaluated = []
    real = Task.run

    def counting(task, *args):
        evaluated.append(task.config)
        return real(task, *args)

    monkeypatch.setattr(Task, "run", counting)
    resumed = Synthesizer(**kw).fit(X, checkpoint=ckpt)
    assert not ckpt.exists()  # finished: nothing left to resume
    monkeypatch.setattr(Task, "run", real)
    fresh = Synthesizer(**kw).fit(X)

    total = len(fresh.selection_.candidates)
    # the three finished candidates were not fitted again, except the winner when it is one of
    # them: a resume file does not decide the model unchecked. Held-out: they are screening
    # records, and the short list of the screening is then evaluated on every fold.
    finished = {c.config for c in fresh.selection_.candidates[:3]}
    if criterion == "heldout":
        full, rechecked = sum(not c.abandoned for c in fresh.selection_.candidates), 0
    else:
        full, rechecked = 0, int(fresh.selection_.best.config in finished)
    assert len(evaluated) == total - 3 + full + rechecked
    assert resumed.selection_ == fresh.selection_.__class__(
        **{**vars(fresh.selection_), "candidates": resumed.selection_.candidates}
    )
    np.testing.assert_allclose(resumed.selection_.scores, fresh.selection_.scores, rtol=1e-12)
    assert resumed.selection_.best.config == fresh.selection_.best.config
    np.testing.assert_array_equal(resumed.sample(30, random_state=1),
                                  fresh.sample(30, random_state=1))


def test_checkpoint_of_other_data_is_not_used(rng, tmp_path, monkeypatch):
    ckpt = tmp_path / "sweep.partial"
    kw = dict(n_components=[1, 2, 3], reg_covar=1e-6, criterion="bic", guard=False,
              random_state=0)
    with pytest.raises(KeyboardInterrupt):
        Synthesizer(**kw).fit(_data(rng), progress=_interrupt_after(2), checkpoint=ckpt)
    evaluated = []
    real = Task.run
    monkeypatch.setattr(Task, "run", lambda t, *a: evaluated.append(t.config) or real(t, *a))
    Synthesizer(**kw).fit(_data(rng) + 1.0, checkpoint=ckpt)
    assert len(evaluated) == 3


def test_class_conditional_sweeps_resume(rng, tmp_path):
    X = _data(rng)
    y = np.repeat(["a", "b"], 150)
    kw = dict(n_components=[1, 2], criterion="bic", random_state=0)
    ckpt = tmp_path / "classes.partial"
    with pytest.raises(KeyboardInterrupt):  # class "a" done, class "b" interrupted
        Synthesizer(**kw).fit(X, y, progress=_interrupt_after(3), checkpoint=ckpt)
    resumed = Synthesizer(**kw).fit(X, y, checkpoint=ckpt)
    fresh = Synthesizer(**kw).fit(X, y)
    a, _ = resumed.sample(20, random_state=2)
    b, _ = fresh.sample(20, random_state=2)
    np.testing.assert_array_equal(a, b)
    assert not ckpt.exists()


def _resume_file(tmp_path, X, kw, edit):
    """A resume file of an interrupted sweep, its first entry changed by ``edit``."""
    import json

    ckpt = tmp_path / "sweep.partial"
    with pytest.raises(KeyboardInterrupt):
        Synthesizer(**kw).fit(X, progress=_interrupt_after(3), checkpoint=ckpt)
    doc = json.loads(ckpt.read_text())
    (entries,) = doc["sweeps"].values()
    edit(entries)
    ckpt.write_text(json.dumps(doc))
    return ckpt


@pytest.mark.parametrize("criterion", ["heldout", "bic", "heldout-screened"])
def test_a_forged_finished_candidate_does_not_decide_the_model(rng, tmp_path, criterion):
    """A forged winner is re-evaluated; a forged record of a screened sweep (16 candidates,
    searched on 2 folds) only ranks the screening, and the short list is evaluated afresh."""
    import contextlib

    X = _data(rng)
    screened = criterion == "heldout-screened"
    kw = dict(n_components=[1, 2, 3, 4], criterion=criterion.split("-")[0], guard=False,
              random_state=3, **({"reg_covar": 1e-6} if criterion == "heldout" else {}))
    fresh = Synthesizer(**kw).fit(X)
    assert fresh.selection_.best.n_components > 1

    def forge(entries):  # K = 1 claims a score no other candidate can beat
        entries[0]["score"] = 1e6 if criterion.startswith("heldout") else -1e6

    ckpt = _resume_file(tmp_path, X, kw, forge)
    with (contextlib.nullcontext() if screened
          else pytest.warns(UserWarning, match="does not match a re-evaluation")):
        resumed = Synthesizer(**kw).fit(X, checkpoint=ckpt)
    assert resumed.selection_.best.config == fresh.selection_.best.config
    np.testing.assert_allclose(resumed.selection_.scores, fresh.selection_.scores, rtol=1e-12)


def test_a_damaged_entry_is_evaluated_again_with_a_warning(rng, tmp_path):
    X = _data(rng)
    kw = dict(n_components=[1, 2, 3, 4], criterion="bic", guard=False, random_state=3)

    def damage(entries):
        entries[0]["n_components"] = "two"
        entries[1]["score"] = None
        entries[2] = ["not", "a", "candidate"]

    ckpt = _resume_file(tmp_path, X, kw, damage)
    with pytest.warns(UserWarning, match="3 entries of the resume file could not be read"):
        resumed = Synthesizer(**kw).fit(X, checkpoint=ckpt)
    fresh = Synthesizer(**kw).fit(X)
    assert resumed.selection_.best.config == fresh.selection_.best.config
    np.testing.assert_allclose(resumed.selection_.scores, fresh.selection_.scores, rtol=1e-12)
