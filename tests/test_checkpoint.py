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
    # held-out: the short list of the screening is then evaluated on every fold
    complete = sum(not c.abandoned for c in fresh.selection_.candidates)
    full = complete if criterion == "heldout" else 0
    assert len(evaluated) == total - 3 + full  # the three finished were not fitted again
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
