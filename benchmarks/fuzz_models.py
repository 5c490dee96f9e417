"""Model-file loader fuzzing: ``make fuzz`` (``python -m benchmarks.fuzz_models``).

Mutates valid model files and checks the loader's promise: every mutated file either raises
:class:`~mixsynth.modelfile.ModelFileError` at load, or loads and then samples and scores without
an error and with finite numbers. Mutations:

- ``flip``: one bit of one byte;
- ``truncate``: the file cut at a random length;
- ``splice``: a byte range of one seed file written over (or into) another's;
- ``header``: the JSON of the safetensors header edited as bytes (a digit, a quote, a brace);
- ``document``: one value of the model document replaced (another type, 0, -1, 10**18, a huge
  float, an empty list or object, a key dropped), *then the checksum recomputed*, so that the
  checks behind the checksum are what is tested;
- ``tensor``: one value or the shape of one tensor changed (NaN, ±inf, 0, -1, 1e300, a sign),
  checksum recomputed likewise.

Seed files are small fitted models (every covariance type, a bare GaussianMixture, a
Synthesizer with the command line's ``extra`` facts, a class-conditional one). The run is
deterministic for a seed and stops after ``--seconds`` or ``--mutations``, whichever first.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import safetensors.numpy

from mixsynth import GaussianMixture, Synthesizer
from mixsynth.modelfile import ModelFileError
from mixsynth.modelfile.files import _digest, _from_bytes, _to_bytes
from mixsynth.modelfile.values import _canonical

MUTATORS = ("flip", "truncate", "splice", "header", "document", "tensor")
#: How often each mutator is drawn: the re-signed ones load and run a model, so they cost
#: a hundred times more; the cheap ones make up the bulk of the million.
WEIGHTS = (40, 10, 10, 20, 12, 8)


@dataclass
class Seed:
    """A valid model file, its parts, and rows to score its mutants on."""

    name: str
    data: bytes
    doc: dict[str, Any]
    arrays: dict[str, np.ndarray]
    X: np.ndarray


@dataclass
class Report:
    """What a run did and found."""

    mutations: int = 0
    seconds: float = 0.0
    by_mutator: Counter[str] = field(default_factory=Counter)
    loaded: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.mutations / self.seconds if self.seconds else 0.0
        lines = [f"{self.mutations} mutations in {self.seconds:.1f} s ({rate:.0f}/s); "
                 f"{len(self.findings)} findings"]
        for m in MUTATORS:
            lines.append(f"  {m:9s} {self.by_mutator[m]:9d} tried, {self.loaded[m]:7d} loaded "
                         "and ran")
        lines += [f"  FINDING {f}" for f in self.findings[:20]]
        return "\n".join(lines)


def _split(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    doc = json.loads(header["__metadata__"]["mixsynth"])
    return doc, dict(safetensors.numpy.load(data))


def _sign(doc: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """The file of ``doc`` and ``arrays`` with a correct checksum (as the writer makes it)."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    pool = {n: ("U8" if a.dtype == np.uint8 else "F64", a.shape, a.tobytes())
            for n, a in arrays.items()}
    try:
        body["sha256"] = _digest(_canonical(body), pool)
        text = _canonical(body)
    except ValueError:  # a value JSON cannot hold: keep the file unsigned
        text = json.dumps(body)
    return bytes(safetensors.numpy.save(arrays, metadata={"mixsynth": text}))


def make_seeds(seed: int = 0) -> list[Seed]:
    """Small fitted models of every kind the loader reads."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(40, 3)), rng.normal(4.0, 1.0, size=(40, 3))])
    X[:, 2] = np.round(X[:, 2])  # an integer column: bounds and dequantisation
    models: list[tuple[str, Any, dict[str, Any] | None]] = []
    for ct in ("full", "tied", "diag", "spherical"):
        models.append((f"gm-{ct}", GaussianMixture(n_components=2, covariance_type=ct,
                                                   random_state=1).fit(X), None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synthesizer(n_components=[1, 2], random_state=2).fit(X)
        y = (X[:, 0] > 1.5).astype(int)
        c = Synthesizer(n_components=[1, 2], criterion="bic", random_state=3).fit(X, y)
    models.append(("synthesizer", s, {"columns": ["a", "b", "c"],
                                      "dtypes": ["float64", "float32", "int64"],
                                      "source": "data.csv"}))
    models.append(("class-conditional", c, None))
    seeds = []
    for name, model, extra in models:
        data = _to_bytes(model, extra)
        doc, arrays = _split(data)
        seeds.append(Seed(name, data, doc, arrays, X[:7]))
    return seeds


# ------------------------------------------------------------------ mutators

def _flip(r: random.Random, s: Seed, _: list[Seed]) -> bytes:
    b = bytearray(s.data)
    b[r.randrange(len(b))] ^= 1 << r.randrange(8)
    return bytes(b)


def _truncate(r: random.Random, s: Seed, _: list[Seed]) -> bytes:
    return s.data[: r.randrange(len(s.data))]


def _splice(r: random.Random, s: Seed, seeds: list[Seed]) -> bytes:
    other = r.choice(seeds).data
    a = r.randrange(len(other))
    piece = other[a : a + r.randint(1, 64)]
    at = r.randrange(len(s.data))
    if r.random() < 0.5:  # overwrite in place, or insert (shifting what follows)
        return s.data[:at] + piece + s.data[at + len(piece) :]
    return s.data[:at] + piece + s.data[at:]


_HEADER_BYTES = b'0123456789-+.eE"{}[],: \\'


def _header(r: random.Random, s: Seed, _: list[Seed]) -> bytes:
    n = int.from_bytes(s.data[:8], "little")
    b = bytearray(s.data)
    for _i in range(r.randint(1, 3)):
        b[8 + r.randrange(n)] = r.choice(_HEADER_BYTES)
    return bytes(b)


_REPLACEMENTS: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2, 10**18, -(10**18), 2**64, 0.0, -0.0, 0.5, 1e300, -1e300,
    1e-320, "", "x", "nan", [], [0], [[]], {}, {"$float": "nan"}, {"$float": "inf"},
    {"$seed_sequence": {}}, [1.0, 2.0], ["a", "b", "c"], "float64", "object", "<U1",
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _document(r: random.Random, s: Seed, _: list[Seed]) -> bytes:
    doc = json.loads(json.dumps(s.doc))
    paths = [p for p in _paths(doc) if p[0] not in ("sha256",)]
    path = r.choice(paths)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    last = path[-1]
    choice = r.random()
    if (choice < 0.1 and isinstance(parent, dict)) or (choice < 0.2 and isinstance(parent, list)):
        del parent[last]
    elif choice < 0.3 and isinstance(parent[last], int | float) \
            and not isinstance(parent[last], bool):
        parent[last] = parent[last] * r.choice((-1, 2, 10, 0.5, 1e12)) + r.choice((0, 1, -1))
    else:
        parent[last] = r.choice(_REPLACEMENTS)
    return _sign(doc, s.arrays)


def _tensor(r: random.Random, s: Seed, _: list[Seed]) -> bytes:
    arrays = {k: v.copy() for k, v in s.arrays.items()}
    name = r.choice(sorted(arrays))
    a = arrays[name]
    choice = r.random()
    if choice < 0.15 and a.ndim:
        arrays[name] = a[: max(0, a.shape[0] - 1)].copy()
    elif choice < 0.25:
        arrays[name] = np.ascontiguousarray(a.reshape(-1))
    elif choice < 0.3:
        del arrays[name]
    elif a.size:
        flat = a.reshape(-1)
        i = r.randrange(flat.size)
        if a.dtype == np.uint8:
            flat[i] = r.choice((0, 1, 2, 255))
        else:
            flat[i] = r.choice((np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, -flat[i],
                                flat[i] * 1e10, 5e-324))
    return _sign(s.doc, arrays)


_MUTATE: dict[str, Callable[[random.Random, Seed, list[Seed]], bytes]] = {
    "flip": _flip, "truncate": _truncate, "splice": _splice, "header": _header,
    "document": _document, "tensor": _tensor,
}


def check(data: bytes, X: np.ndarray) -> tuple[bool, str | None]:
    """``(loaded, finding)``: a finding is any way the loader's promise broke."""
    try:
        model = _from_bytes(data)
    except ModelFileError:
        return False, None
    except Exception as exc:
        return False, f"load raised {type(exc).__name__}: {exc}"
    try:
        with warnings.catch_warnings():
            # an overflow warning while scoring a far-away row is the density's true limit
            # (-inf); what counts is an exception, a non-finite sample or a NaN score
            warnings.simplefilter("ignore")
            out = model.sample(5)
            rows = out[0] if isinstance(out, tuple) else out
            scores = model.score_samples(X[:, : model.n_features_in_]
                                         if X.shape[1] >= model.n_features_in_
                                         else np.zeros((3, model.n_features_in_)))
    except Exception as exc:
        return True, f"loaded, then raised {type(exc).__name__}: {exc}"
    if not np.all(np.isfinite(np.asarray(rows, dtype=np.float64))):
        return True, "loaded, then sampled non-finite values"
    if np.isnan(scores).any():
        return True, "loaded, then scored NaN"
    return True, None


def fuzz(seconds: float, *, seed: int = 0, mutations: int | None = None,
         seeds: list[Seed] | None = None) -> Report:
    """Run mutations for ``seconds`` (or until ``mutations``), deterministically for ``seed``."""
    seeds = seeds if seeds is not None else make_seeds(seed)
    r = random.Random(seed)
    report = Report()
    t0 = time.perf_counter()
    names = list(MUTATORS)
    while True:
        if report.mutations % 64 == 0 and time.perf_counter() - t0 >= seconds:
            break
        if mutations is not None and report.mutations >= mutations:
            break
        s = r.choice(seeds)
        m = r.choices(names, WEIGHTS)[0]
        data = _MUTATE[m](r, s, seeds)
        loaded, finding = check(data, s.X)
        report.mutations += 1
        report.by_mutator[m] += 1
        report.loaded[m] += loaded
        if finding is not None:
            report.findings.append(f"{m} on {s.name} (#{report.mutations}): {finding[:300]}")
    report.seconds = time.perf_counter() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.fuzz_models --seconds 600``; exit 1 when anything was found."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--mutations", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    report = fuzz(args.seconds, seed=args.seed, mutations=args.mutations)
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
