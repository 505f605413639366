"""The package's import structure: every module imports, and no import cycle runs through it.

Two rules, checked on the import statements of every module (``if TYPE_CHECKING:`` blocks aside):

- no cycle among modules, counting imports inside functions too (a lazy import that closes a
  loop is still a loop: ``train/history.py -> viz/plots.py -> train/loop.py`` was one);
- no cycle among subpackages through module-level imports (what runs when ``chainrule`` is
  imported), and nothing imported at module level from a later layer (CONTRIBUTING.md, "Layers
  of the package": ops never import nn, train never imports viz or cli, io nothing after it).

The engine (``tensor``, ``autograd``, ``interpreters``, ``ops``, ``random``) is one unit: a
Tensor's methods call ops and ops make Tensors, the natural cycle (as in PyTorch); ``random``
makes Tensors and a Tensor's ``normal_`` draws from its generator. A function-level import of a
later layer (``History.plot`` calling ``chainrule.viz``) is allowed.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import defaultdict
from pathlib import Path

import pytest

import chainrule

PACKAGE = Path(chainrule.__file__).parent
ENGINE = {"chainrule.tensor", "chainrule.autograd", "chainrule.interpreters", "chainrule.ops", "chainrule.random"}
# the package's layers, in order: each may import at module level only from those before it
LAYERS = [
    "chainrule._version",
    "chainrule.memory",
    "chainrule.devices",
    "chainrule.kernels",
    "engine",
    "chainrule.linalg",
    "chainrule.compiler",
    "chainrule.nn",
    "chainrule.optim",
    "chainrule.data",
    "chainrule.utils",
    "chainrule.io",
    "chainrule.distributed",
    "chainrule.train",
    "chainrule.estimators",
    "chainrule.explain",
    "chainrule.onnx",
    "chainrule.viz",
    "chainrule",
    "chainrule.cli",
    "chainrule.__main__",
]  # fmt: skip  (chainrule: the package's own __init__, the facade the CLI reads as cr)


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["chainrule", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def unit(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to; the engine is one unit."""
    top = ".".join(module.split(".")[:2])
    return "engine" if top in ENGINE else top


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported chainrule module, line, at module level) for every import statement of a file."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # imports only for annotations do not run
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    top_level = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        found += [(n, node.lineno, id(node) in top_level) for n in names if n in MODULES]
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def graph(group, module_level_only: bool) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    edges, where = defaultdict(set), {}
    for name, path in MODULES.items():
        for target, line, top in imports(path):
            a, b = group(name), group(target)
            if a != b and (top or not module_level_only):
                edges[a].add(b)
                where.setdefault((a, b), f"{name}:{line}")
    return edges, where


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    if name != "chainrule.__main__":  # importing it runs the command line
        importlib.import_module(name)


def test_no_import_cycle_among_modules():
    edges, where = graph(lambda m: "engine" if unit(m) == "engine" else m, module_level_only=False)
    found = cycles(edges)
    detail = [[f"{a} -> {b} ({where[a, b]})" for a in c for b in c if (a, b) in where] for c in found]
    assert not found, f"import cycles among modules: {detail}"


def test_no_import_cycle_among_subpackages_at_module_level():
    edges, where = graph(unit, module_level_only=True)
    found = cycles(edges)
    detail = [[f"{a} -> {b} ({where[a, b]})" for a in c for b in c if (a, b) in where] for c in found]
    assert not found, f"module-level import cycles among subpackages: {detail}"


def test_nothing_is_imported_at_module_level_from_a_later_layer():
    edges, where = graph(unit, module_level_only=True)
    rank = {name: i for i, name in enumerate(LAYERS)}
    missing = sorted({u for a, bs in edges.items() for u in (a, *bs)} - set(rank))
    assert not missing, f"units missing from LAYERS (add them in the layers' order): {missing}"
    upward = [f"{a} -> {b} ({where[a, b]})" for a, bs in edges.items() for b in bs if rank[b] > rank[a]]
    assert not upward, f"module-level imports from a later layer: {upward}"


def test_the_checks_notice_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_package_module_is_found():
    walked = {i.name for i in pkgutil.walk_packages(chainrule.__path__, prefix="chainrule.")}
    assert walked <= set(MODULES)
