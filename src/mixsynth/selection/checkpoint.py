"""Resumable selection sweeps: finished candidates kept across an interruption.

A :class:`SweepCheckpoint` is a small JSON file. Each sweep in it is keyed by a fingerprint of
what determines its results (the data's bytes, the synthesizer's parameters, the library
version); after every candidate the file is rewritten atomically. A rerun of the same fit finds
its fingerprint, takes the finished candidates as they are and evaluates only the rest: since
every candidate is seeded by its index, the resumed sweep ends exactly as an uninterrupted one.
Other fingerprints in the file (other classes of a class-conditional fit) are kept; a file from
different data or settings simply does not match.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mixsynth._version import __version__
from mixsynth.core.families import family_names
from mixsynth.io.atomic import atomic_write
from mixsynth.selection.result import OPTIONAL_FIELDS, Candidate, Config

__all__ = ["SweepCheckpoint", "SweepStore", "fingerprint"]

_FORMAT = "mixsynth-sweep-checkpoint"


def _number(value: Any, *, finite: bool = True) -> bool:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return ok and (math.isfinite(value) or not finite)


def _candidate(raw: Any) -> Candidate | None:
    """A candidate from its JSON form, or ``None`` when any field is not what it must be."""
    names = {f.name for f in fields(Candidate)}
    # the optional measurements (realism's AUC, the held-out median) are written when measured
    if not isinstance(raw, dict) or not names - set(OPTIONAL_FIELDS) <= set(raw) <= names:
        return None
    if not all(raw[k] is None or _number(raw[k]) for k in OPTIONAL_FIELDS if k in raw):
        return None
    folds = raw["fold_scores"]
    checks = (
        isinstance(raw["n_components"], int) and not isinstance(raw["n_components"], bool)
        and raw["n_components"] >= 1,
        isinstance(raw["covariance_type"], str) and raw["covariance_type"] in family_names(),
        _number(raw["reg_covar"]) and raw["reg_covar"] >= 0,
        _number(raw["score"]),
        raw["score_std"] is None or (_number(raw["score_std"]) and raw["score_std"] >= 0),
        isinstance(folds, list) and all(_number(f) for f in folds),
        all(_number(raw[k]) for k in ("aic", "bic", "log_likelihood", "fit_time")),
        isinstance(raw["n_parameters"], int) and not isinstance(raw["n_parameters"], bool),
        isinstance(raw["n_iter"], int) and not isinstance(raw["n_iter"], bool),
        isinstance(raw["converged"], bool) and isinstance(raw["abandoned"], bool),
    )
    if not all(checks):
        return None
    return Candidate(**{**raw, "fold_scores": tuple(float(f) for f in folds)})


def fingerprint(X: NDArray[np.float64], params: dict[str, Any]) -> str:
    """sha256 of the data and of the settings that decide a sweep's results."""
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(str(X.shape).encode())
    h.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    h.update(json.dumps(params, sort_keys=True, default=repr).encode())
    return h.hexdigest()


class SweepCheckpoint:
    """Finished candidates of one or more sweeps, in one JSON file.

    Parameters
    ----------
    path : path-like
        The checkpoint file; created on the first finished candidate.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._sweeps: dict[str, list[dict[str, Any]]] = self._read()

    def _read(self) -> dict[str, list[dict[str, Any]]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or foreign: start afresh (it is rewritten on the next save)
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            return {}
        sweeps = doc.get("sweeps")
        return sweeps if isinstance(sweeps, dict) else {}

    def known(self, key: str) -> dict[Config, Candidate]:
        """The finished candidates of the sweep ``key``.

        Every entry is checked field by field; one that is not a well-formed candidate
        (another version's, or a damaged file's) is left out with a warning, and that
        candidate is evaluated again.
        """
        out: dict[Config, Candidate] = {}
        bad = 0
        for raw in self._sweeps.get(key, []):
            cand = _candidate(raw)
            if cand is None:
                bad += 1
                continue
            out[cand.config] = cand
        if bad:
            warnings.warn(
                f"{self.path}: {bad} entr{'y' if bad == 1 else 'ies'} of the resume file "
                "could not be read and will be evaluated again.",
                UserWarning,
                stacklevel=3,
            )
        return out

    def record(self, key: str, candidate: Candidate) -> None:
        """Add a finished candidate and rewrite the file atomically."""
        self._sweeps.setdefault(key, []).append(candidate.to_dict())
        doc = {"format": _FORMAT, "library_version": __version__, "sweeps": self._sweeps}
        with atomic_write(self.path, "w", overwrite=True) as fh:
            json.dump(doc, fh)

    def store(self, key: str) -> SweepStore:
        """The sweep ``key`` as a :class:`~mixsynth.selection.CandidateStore` for ``select``."""
        return SweepStore(self, key)

    def discard(self) -> None:
        """Remove the file: the fit it served has finished."""
        self._sweeps = {}
        self.path.unlink(missing_ok=True)


class SweepStore:
    """One sweep of a :class:`SweepCheckpoint`: the ``known`` / ``record`` store that
    :func:`mixsynth.selection.select` takes.

    Parameters
    ----------
    checkpoint : SweepCheckpoint
    key : str
        The sweep's fingerprint (:func:`fingerprint`).
    """

    def __init__(self, checkpoint: SweepCheckpoint, key: str) -> None:
        self.checkpoint = checkpoint
        self.key = key

    def known(self) -> dict[Config, Candidate]:
        """The finished candidates of this sweep."""
        return self.checkpoint.known(self.key)

    def record(self, candidate: Candidate) -> None:
        """Add a finished candidate (the file is rewritten atomically)."""
        self.checkpoint.record(self.key, candidate)
