"""DeviceSource: the E-steps of a fit on a PyTorch device, against the processor's pass they
replace. The device is ``"cpu"`` (the same torch code a GPU runs) unless MIXSYNTH_TEST_DEVICE
names another (``MIXSYNTH_TEST_DEVICE=cuda`` on a machine with a GPU)."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest

from mixsynth import GaussianMixture
from mixsynth.core import Params
from mixsynth.core.families.shrunk import shrunk_name
from mixsynth.persistence import load, save
from mixsynth.sources import ArraySource, DeviceSource
from mixsynth.sources.kernels import LabelKernel

from ..strategies import COV_TYPES, random_params

torch = pytest.importorskip("torch")

DEVICE = os.environ.get("MIXSYNTH_TEST_DEVICE", "cpu")
#: A few blocks per pass: (K, rows, d) temporaries of ~2,000 float64.
SMALL_BLOCKS = 16_000


def _close(a, b, rtol: float = 1e-10) -> None:
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.max(np.abs(b), initial=1)))


def _overlapping(rng: np.random.Generator, n: int = 900, d: int = 3) -> np.ndarray:
    """Three overlapping clusters: EM takes tens of iterations, not two."""
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[0.0] * d, [2.0] + [0.0] * (d - 1), [0.0, 2.0] + [0.0] * (d - 2)])
    return centres[labels] + rng.normal(size=(n, d)) @ np.triu(rng.uniform(0.3, 1.0, (d, d)))


@pytest.mark.parametrize("cov", [*COV_TYPES, "shrunk"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_device_statistics_equal_the_processors(rng, cov: str, weighted: bool) -> None:
    K, d, n = 4, 5, 700
    layout = "full" if cov == "shrunk" else cov
    p = random_params(rng, K, d, layout)
    if cov == "shrunk":  # the E-step of the full layout, the statistics of the shrunk family
        p = Params(p.weights, p.means, p.precisions_cholesky, shrunk_name(25.0))
    X = rng.normal(scale=3.0, size=(n, d)) + 40.0
    w = rng.uniform(0.1, 3.0, size=n) if weighted else None
    shift = X.mean(axis=0)
    here = ArraySource(X, w).stats(p, shift, rows=128)
    there = DeviceSource(X, w, device=DEVICE, block_bytes=SMALL_BLOCKS).stats(p, shift, rows=128)
    assert there.covariance_type == here.covariance_type == p.covariance_type
    assert there.centers is p.means and not there.extra
    assert there.sxx.shape == here.sxx.shape
    _close(there.n, here.n)
    _close(there.loglik, here.loglik)
    _close(there.nk, here.nk)
    _close(there.sx, here.sx)
    _close(there.sxx, here.sxx)
    ll_here = ArraySource(X, w).loglik(p, rows=100)
    ll_there = DeviceSource(X, w, device=DEVICE, block_bytes=SMALL_BLOCKS).loglik(p, rows=100)
    _close(ll_there, ll_here)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_a_fit_on_the_device_follows_the_processors_trajectory(rng, cov: str) -> None:
    X = _overlapping(rng)
    kw = dict(n_components=3, covariance_type=cov, tol=1e-7, max_iter=500, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a slow run may stop at max_iter: both alike
        cpu = GaussianMixture(**kw).fit(X)
        dev = GaussianMixture(device=DEVICE, **kw).fit(X)
    # a trajectory, not a single step (tied took 5 iterations on seed 116, others tens)
    assert dev.n_iter_ == cpu.n_iter_ and cpu.n_iter_ >= 3
    _close(dev.lower_bounds_, cpu.lower_bounds_, 1e-9)
    _close(dev.means_, cpu.means_, 1e-7)
    _close(dev.covariances_, cpu.covariances_, 1e-7)
    assert dev.device == DEVICE


def test_a_ready_made_device_source_and_the_parameter_give_one_fit(rng) -> None:
    X = _overlapping(rng, n=400)
    w = rng.uniform(0.5, 2.0, size=len(X))
    a = GaussianMixture(3, random_state=1).fit(DeviceSource(X, w, device=DEVICE))
    b = GaussianMixture(3, random_state=1, device=DEVICE).fit(X, sample_weight=w)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.means_, b.means_)


class _Counting(DeviceSource):
    """Counts the kernels computed on the device."""

    calls = 0

    def _stats(self, X, params):
        type(self).calls += 1
        return super()._stats(X, params)


def test_what_the_device_does_not_run_goes_to_the_processor(rng) -> None:
    X = _overlapping(rng, n=300)
    _Counting.calls = 0
    GaussianMixture(3, random_state=0).fit(_Counting(X, device=DEVICE))
    assert _Counting.calls > 0  # the E-steps ran there
    # rows with missing values: the processor's exact EM over observed coordinates
    gaps = X.copy()
    gaps[rng.random(gaps.shape) < 0.1] = np.nan
    _Counting.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = GaussianMixture(3, random_state=0, missing="em").fit(
            _Counting(gaps, device=DEVICE, allow_nan=True))
        cpu = GaussianMixture(3, random_state=0, missing="em").fit(gaps)
    assert _Counting.calls == 0
    np.testing.assert_array_equal(dev.means_, cpu.means_)
    # another family (factor analysers), and k-means' hard assignments, in one mixed pass
    source = _Counting(X, device=DEVICE)
    p = random_params(rng, 3, X.shape[1], "diag")
    label = LabelKernel(X[:3], "full", None, 64)
    _Counting.calls = 0
    out = source.run_pass([label])
    assert _Counting.calls == 0
    _close(out[0].nk, ArraySource(X).run_pass([label])[0].nk)
    fa = GaussianMixture(2, covariance_type="factor", n_factors=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fa.fit(source)
    assert _Counting.calls == 0 and np.isfinite(fa.lower_bound_)
    assert source.stats(p, None, 64).nk.sum() == pytest.approx(len(X))
    assert _Counting.calls == 1


def test_subsets_and_mapped_rows_stay_on_the_device(rng) -> None:
    X = rng.normal(size=(50, 3))
    w = rng.uniform(0.5, 2.0, size=50)
    source = DeviceSource(X, w, device=DEVICE, block_bytes=SMALL_BLOCKS)
    part = source.subset(np.arange(10))
    moved = source.mapped(lambda A, index: A * 2.0)
    for s, rows, weights in ((part, X[:10], w[:10]), (moved, X * 2.0, w)):
        assert isinstance(s, DeviceSource) and s.device == source.device
        assert s.block_bytes == SMALL_BLOCKS
        np.testing.assert_array_equal(s._Xd.cpu().numpy(), rows)
        np.testing.assert_array_equal(s._wd.cpu().numpy(), weights)


def test_device_errors_are_one_line_and_name_the_device(rng, monkeypatch, tmp_path) -> None:
    X = rng.normal(size=(30, 2))
    with pytest.raises(ValueError, match=r"device='nowhere' cannot be used: ") as info:
        GaussianMixture(2, device="nowhere").fit(X)
    assert "\n" not in str(info.value)
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match=r"device='\w+' runs the E-steps of data held in memory"):
        GaussianMixture(2, device=DEVICE).fit(tmp_path / "x.npy")
    with pytest.raises(ValueError, match="block_bytes must be a positive integer"):
        DeviceSource(X, device=DEVICE, block_bytes=0)
    monkeypatch.setitem(sys.modules, "torch", None)  # PyTorch not installed
    with pytest.raises(ImportError, match=r"pip install 'mixsynth\[torch\]'"):
        GaussianMixture(2, device=DEVICE).fit(X)


def test_the_device_is_a_parameter_the_model_file_keeps(rng, tmp_path) -> None:
    X = rng.normal(size=(200, 2))
    gm = GaussianMixture(2, random_state=0, device=DEVICE).fit(X)
    save(gm, tmp_path / "dev.mixsynth")
    again = load(tmp_path / "dev.mixsynth")
    assert again.device == DEVICE
    np.testing.assert_array_equal(again.score_samples(X), gm.score_samples(X))
    plain = GaussianMixture(2, random_state=0).fit(X)
    save(plain, tmp_path / "plain.mixsynth")
    assert load(tmp_path / "plain.mixsynth").device is None


def test_read_only_rows_are_taken_without_a_warning(rng) -> None:
    X = rng.normal(size=(40, 2))
    X.setflags(write=False)  # a memory map opened read-only, a frame's buffer...
    source = DeviceSource(X, device=DEVICE)  # the suite's warnings are errors
    np.testing.assert_array_equal(source._Xd.cpu().numpy(), X)


def test_a_synthesizer_runs_its_candidates_e_steps_on_the_device(rng, tmp_path,
                                                                  monkeypatch) -> None:
    """``Synthesizer(device=)`` hands the device to every candidate (the held-out folds are
    in-memory sources made device sources): the same selection and model as on the processor."""
    from mixsynth import Synthesizer

    X = _overlapping(rng, n=300)
    kw = dict(n_components=[2, 3], criterion="heldout", cv=3, random_state=0)
    calls = []
    on_device = DeviceSource._stats
    monkeypatch.setattr(DeviceSource, "_stats",
                        lambda self, X, p: calls.append(1) or on_device(self, X, p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = Synthesizer(**kw).fit(X)
        assert not calls
        dev = Synthesizer(device=DEVICE, **kw).fit(X)
    assert len(calls) > 10  # every candidate's iterations, on every fold
    assert dev.selection_.best.n_components == cpu.selection_.best.n_components
    _close([c.score for c in dev.selection_.candidates],
           [c.score for c in cpu.selection_.candidates], 1e-9)
    np.testing.assert_allclose(dev.sample(50, random_state=1), cpu.sample(50, random_state=1),
                               rtol=1e-7, atol=1e-7)
    save(dev, tmp_path / "s.mixsynth")
    assert load(tmp_path / "s.mixsynth").device == DEVICE
    with pytest.raises(ValueError, match="device must be None or a PyTorch device name"):
        Synthesizer(device=3).fit(X)


def test_an_in_memory_source_is_moved_to_the_device(rng) -> None:
    X = _overlapping(rng, n=200)
    a = GaussianMixture(3, random_state=0, device=DEVICE).fit(ArraySource(X))
    b = GaussianMixture(3, random_state=0).fit(X)
    _close(a.means_, b.means_, 1e-9)


def test_the_command_line_fits_on_a_device(rng, tmp_path) -> None:
    from mixsynth.cli import main

    X = _overlapping(rng, n=200)
    data = tmp_path / "d.csv"
    np.savetxt(data, X, delimiter=",", header="a,b,c", comments="")
    model = tmp_path / "m.mixsynth"
    args = ["fit", str(data), "-o", str(model), "--components", "2", "--criterion", "bic", "-q"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*args, "--device", DEVICE]) == 0
    assert load(model).device == DEVICE
    assert main([*args, "--device", "nowhere", "--force"]) == 2  # a usage error, nothing read
    assert main([*args, "--device", DEVICE, "--out-of-core", "--force"]) == 2
