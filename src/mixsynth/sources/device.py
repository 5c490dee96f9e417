"""Rows held in an accelerator's memory: the E-steps of a fit run there (PyTorch).

A :class:`DeviceSource` is an :class:`~mixsynth.sources.ArraySource` whose rows are also copied
once to a PyTorch device (``"cuda"``, ``"mps"``, or ``"cpu"``, which runs the same code on the
processor); its :meth:`~DeviceSource.run_pass` computes there the kernels that dominate a fit,
the E-step statistics and the log-likelihood of the four Gaussian covariance types
(:class:`~mixsynth.sources.kernels.StatsKernel`, :class:`~mixsynth.sources.kernels.LogLikKernel`),
and hands every other kernel (k-means' hard assignments, other component families, rows with
missing values) to the processor's pass, as an ``ArraySource`` does. What comes back is the same
:class:`~mixsynth.core.Stats`, in float64: the M-step, the convergence rule, selection and
everything else above the source are unchanged, so a fit on the device follows the processor's
trajectory to rounding (the same sums in another order; tested to 1e-9).

Per pass, only the parameters go to the device and only the K·d² statistics come back; the rows
stay there. A block of rows is sized so that its largest temporary, the (K, rows, d) centred
rows, takes about ``block_bytes``.

Why a source and not a flag on the estimator: the source is where the arithmetic of a pass
already lives (in memory, chunk by chunk from a file, or on Dask), so a device is one more
place for it, and every fit built on sources (``GaussianMixture.fit``, ``Synthesizer.fit``,
shared-pass sweeps) takes it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth.core import Params, Stats
from mixsynth.core.families.gaussian import Gaussian
from mixsynth.sources.kernels import ChunkKernel, LogLik, LogLikKernel, StatsKernel
from mixsynth.sources.maps import RowMap
from mixsynth.sources.memory import ArraySource

__all__ = ["DeviceSource", "check_device"]

Array = NDArray[np.float64]

#: Default size of a block's largest temporary on the device.
BLOCK_BYTES = 512 * 2**20


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            "DeviceSource needs PyTorch: pip install 'mixsynth[torch]' (or torch itself)."
        ) from None
    return torch


def check_device(device: Any) -> Any:
    """``device`` as a ``torch.device`` that takes a float64 tensor now.

    Raises
    ------
    ImportError
        Without PyTorch.
    ValueError
        One line naming the device and saying why it cannot be used.
    """
    torch = _torch()
    try:
        out = torch.device(device)
        torch.zeros(1, dtype=torch.float64, device=out)
    except (RuntimeError, AssertionError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"device={device!r} cannot be used: {first}") from None
    return out


class DeviceSource(ArraySource):
    """An array or DataFrame in memory, also held on a PyTorch device where the E-steps run.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Numeric; validated as :class:`~mixsynth.sources.ArraySource` validates it, then copied
        to ``device`` as float64.
    sample_weight : array-like of shape (n_samples,), optional
    device : str or torch.device, default="cuda"
        Where the E-steps run: ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``...
    block_bytes : int, default=512 MiB
        About the largest temporary of one block of rows on the device.
    seed, estimator, ensure_min_samples, allow_nan
        As for :class:`~mixsynth.sources.ArraySource`. Rows with missing values are
        accepted (``allow_nan=True``); their kernels run on the processor.

    Examples
    --------
    >>> from mixsynth import GaussianMixture
    >>> from mixsynth.sources import DeviceSource
    >>> gm = GaussianMixture(n_components=50).fit(DeviceSource(X, device="cuda"))  # doctest: +SKIP
    """

    kind = "on device"

    def __init__(
        self,
        X: Any,
        sample_weight: Any = None,
        *,
        device: Any = "cuda",
        block_bytes: int = BLOCK_BYTES,
        seed: int = 0,
        estimator: Any = None,
        ensure_min_samples: int = 1,
        allow_nan: bool = False,
    ) -> None:
        _torch()
        super().__init__(X, sample_weight, seed=seed, estimator=estimator,
                         ensure_min_samples=ensure_min_samples, allow_nan=allow_nan)
        self._set_device(device, block_bytes)
        self._to_device()

    def _set_device(self, device: Any, block_bytes: int) -> None:
        """Check and keep the device and the block size."""
        if not (isinstance(block_bytes, int | np.integer) and block_bytes > 0):
            raise ValueError(f"block_bytes must be a positive integer, got {block_bytes!r}.")
        self.device = check_device(device)
        self.block_bytes = int(block_bytes)

    @classmethod
    def of_array_source(cls, source: ArraySource, device: Any,
                        block_bytes: int = BLOCK_BYTES) -> DeviceSource:
        """The rows (already validated) of ``source`` on ``device``."""
        out = cls.__new__(cls)
        out.__dict__.update(source.__dict__)
        out._set_device(device, block_bytes)
        out._to_device()
        return out

    def _to_device(self) -> None:
        self._Xd = self._tensor(self.X)
        self._wd = None if self.sample_weight is None else self._tensor(self.sample_weight)
        self._complete = not bool(np.isnan(self.X).any())

    def _like(self, other: ArraySource) -> DeviceSource:
        """``other`` (rows derived from these) on the same device."""
        return type(self).of_array_source(other, self.device, self.block_bytes)

    def subset(self, rows: Any) -> DeviceSource:
        return self._like(super().subset(rows))

    def mapped(self, fn: RowMap) -> DeviceSource:
        return self._like(super().mapped(fn))

    def release(self) -> None:
        """The device's copy stays while the source lives (it is the source's data)."""

    # ------------------------------------------------------------------------- passes

    def _on_device(self, kernel: ChunkKernel) -> bool:
        params = getattr(kernel, "params", None)
        return (
            self._complete
            and isinstance(kernel, StatsKernel | LogLikKernel)
            and params is not None
            and isinstance(params.family, Gaussian)  # the four types, and shrunk "full"
            and not params.extra
        )

    def run_pass(self, kernels: Sequence[ChunkKernel]) -> list[Any]:
        here = [i for i, k in enumerate(kernels) if self._on_device(k)]
        there = [i for i, k in enumerate(kernels) if i not in set(here)]
        out: list[Any] = [None] * len(kernels)
        if there:
            for i, result in zip(there, super().run_pass([kernels[i] for i in there]),
                                 strict=True):
                out[i] = result
        if not here or self.X.shape[0] == 0:
            return out
        shifted: dict[int, Any] = {}
        for i in here:
            k = kernels[i]
            shift = k.shift
            if id(shift) not in shifted:
                shifted[id(shift)] = self._Xd if shift is None else self._Xd - self._tensor(
                    shift)
            X = shifted[id(shift)]
            params: Params = k.params  # type: ignore[attr-defined]
            out[i] = (self._stats(X, params) if isinstance(k, StatsKernel)
                      else self._loglik(X, params))
        return out

    def _tensor(self, a: Array) -> Any:
        """``a`` on the device as float64 (on ``"cpu"``, sharing its memory: never written)."""
        torch = _torch()
        a = np.ascontiguousarray(a, dtype=np.float64)
        if not a.flags.writeable:  # torch warns about (and cannot mark) read-only arrays
            a = a.copy()
        return torch.as_tensor(a, dtype=torch.float64, device=self.device)

    def _block_rows(self, params: Params) -> int:
        K, d = params.n_components, params.n_features
        return max(1, self.block_bytes // (8 * K * max(d, 1)))

    def _blocks(self, X: Any, params: Params) -> Any:
        step = self._block_rows(params)
        for start in range(0, X.shape[0], step):
            w = None if self._wd is None else self._wd[start : start + step]
            yield X[start : start + step], w

    def _loglik(self, X: Any, params: Params) -> LogLik:
        torch = _torch()
        kernel = _GaussianKernel(params, self._tensor)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for Xb, wb in self._blocks(X, params):
            _, ll = kernel.log_resp(Xb)
            total += ll.sum() if wb is None else ll @ wb
        weight = float(X.shape[0]) if self._wd is None else float(self._wd.sum().item())
        return LogLik(float(total.item()), weight)

    def _stats(self, X: Any, params: Params) -> Stats:
        torch = _torch()
        K, d = params.n_components, params.n_features
        kernel = _GaussianKernel(params, self._tensor)
        f64, dev = torch.float64, self.device
        loglik = torch.zeros((), dtype=f64, device=dev)
        nk = torch.zeros(K, dtype=f64, device=dev)
        sx = torch.zeros((K, d), dtype=f64, device=dev)
        layout = _layout(params)
        sxx = torch.zeros((d, d) if layout == "tied" else (K, d, d) if layout == "full"
                          else (K, d), dtype=f64, device=dev)
        for Xb, wb in self._blocks(X, params):
            D, ll = kernel.log_resp(Xb)  # D: (K, b, d) centred rows; kernel.R: (b, K)
            R = kernel.R
            if wb is not None:
                R = R * wb[:, None]
                loglik += ll @ wb
            else:
                loglik += ll.sum()
            nk += R.sum(0)
            sx += R.T @ Xb
            if layout in ("full", "tied"):
                scatter = torch.bmm((D * R.T[:, :, None]).transpose(1, 2), D)
                sxx += scatter.sum(0) if layout == "tied" else scatter
            else:
                sxx += torch.einsum("bk,kbd->kd", R, D * D)
        n = float(X.shape[0]) if self._wd is None else float(self._wd.sum().item())
        return Stats(
            n=n,
            loglik=float(loglik.item()),
            nk=nk.cpu().numpy(),
            sx=sx.cpu().numpy(),
            sxx=sxx.cpu().numpy(),
            centers=params.means,
            covariance_type=params.covariance_type,
        )


def _layout(params: Params) -> str:
    """"full", "tied", "diag" or "spherical": the layout of the factors (a shrunk "full"
    family's E-step is the full one's; only its M-step differs)."""
    return str(params.family.layout)  # type: ignore[attr-defined]


class _GaussianKernel:
    """Log-densities of one Gaussian mixture's components on the device, by covariance type
    (the layouts of :mod:`mixsynth.core.families.gaussian`: ``|(x - mu_k) P_k|^2`` and
    ``log det P_k``)."""

    def __init__(self, params: Params, tensor: Any) -> None:
        torch = _torch()
        self.type = _layout(params)
        d = params.n_features
        self.mu = tensor(params.means)
        pc = tensor(params.precisions_cholesky)
        self.pc = pc
        if self.type == "full":
            logdet = torch.log(torch.diagonal(pc, dim1=-2, dim2=-1)).sum(-1)
        elif self.type == "tied":
            logdet = torch.log(torch.diagonal(pc)).sum().expand(params.n_components)
        elif self.type == "diag":
            logdet = torch.log(pc).sum(-1)
        else:  # spherical
            logdet = d * torch.log(pc)
        with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf
            log_w = tensor(np.log(params.weights))
        self.const = log_w + logdet - 0.5 * d * math.log(2 * math.pi)  # (K,)
        self.R: Any = None

    def log_resp(self, Xb: Any) -> tuple[Any, Any]:
        """The centred rows ``(K, b, d)`` and each row's log-likelihood ``(b,)``; the
        responsibilities ``(b, K)`` are left in :attr:`R`."""
        torch = _torch()
        D = Xb[None, :, :] - self.mu[:, None, :]
        if self.type == "full":
            Y = torch.bmm(D, self.pc)
        elif self.type == "tied":
            Y = D @ self.pc
        elif self.type == "diag":
            Y = D * self.pc[:, None, :]
        else:
            Y = D * self.pc[:, None, None]
        wlp = (self.const[:, None] - 0.5 * (Y * Y).sum(-1)).T  # (b, K)
        ll = torch.logsumexp(wlp, dim=1)
        finite = torch.isfinite(ll)
        self.R = torch.where(finite[:, None], torch.exp(wlp - torch.where(
            finite, ll, torch.zeros_like(ll))[:, None]), torch.zeros_like(wlp))
        return D, ll
