"""Imports point down only, and the package has no import cycle.

Every module of ``mixsynth`` is assigned a layer (:data:`LAYERS`, the picture drawn in
docs/architecture.md). Every import of a ``mixsynth`` module, at module level or inside a
function, must go to a module of the same or a lower layer, and the graph of those imports must
have no cycle. Imports under ``if TYPE_CHECKING:`` are annotations only (they never run) and are
left out, so that real types can replace ``Any`` without creating a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mixsynth"

#: Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("mixsynth.core",)),
    ("foundation", (
        "mixsynth._version", "mixsynth._testhooks", "mixsynth.seeding", "mixsynth.validation",
        "mixsynth.io",
        "mixsynth.io.atomic", "mixsynth.io.formats", "mixsynth.io.frames", "mixsynth.io.table",
        "mixsynth.modelfile",
    )),
    ("data", ("mixsynth.sources", "mixsynth.whitening", "mixsynth.support", "mixsynth.heaps",
              "mixsynth.tables")),
    ("estimators", ("mixsynth.gaussian_mixture", "mixsynth.mixture", "mixsynth._saving")),
    ("workflows", (
        "mixsynth.selection", "mixsynth.synthesizer", "mixsynth.synthesizer_fit",
        "mixsynth.synthesizer_file", "mixsynth.conditional",
        "mixsynth.evaluation", "mixsynth.model", "mixsynth.guard", "mixsynth.plotting",
        "mixsynth.figures",
        "mixsynth.table_model",
    )),
    ("edges", (
        "mixsynth.persistence", "mixsynth.io.readers",
        "mixsynth.io.writers", "mixsynth.io.images", "mixsynth.io.dask_files",
        "mixsynth.distributed", "mixsynth.report", "mixsynth.report_html",
        "mixsynth.report_sections", "mixsynth.report_tables",
    )),
    ("application", ("mixsynth", "mixsynth.cli", "mixsynth.demo", "mixsynth.__main__")),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # the root package names itself only, not every module below it
            below = prefix != "mixsynth" and module.startswith(prefix + ".")
            if (module == prefix or below) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS (and the docs)")
    return best


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that can run: the bodies of ``if TYPE_CHECKING:`` are skipped."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The ``mixsynth`` modules that ``module`` imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one, else
            # a name of ``pkg`` itself
            subs = [f"{target}.{a.name}" for a in node.names]
            names = [s for s in subs if s in known]
            if len(names) < len(subs):
                names.append(target)
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("mixsynth") and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: imports_of(m, p, known) for m, p in modules.items()}


def test_every_module_has_a_layer():
    for module in _modules():
        layer_of(module)


def test_imports_point_down_only():
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, targets in _graph().items()
        for t in sorted(targets)
        if layer_of(t) > layer_of(m)
    ]
    assert upward == [], "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected


def test_the_import_scanner_sees_function_level_imports_and_skips_type_checking(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mixsynth.cli import main\n"
        "def f():\n    from mixsynth.persistence import load\n",
        encoding="utf-8",
    )
    known = {"mixsynth.cli", "mixsynth.persistence", "mixsynth.core"}
    assert imports_of("mixsynth.core.x", src, known) == {"mixsynth.persistence"}
