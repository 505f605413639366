"""Write the API reference pages (docs/reference/*.md): one page per part of the package, one
section per public module, each public name rendered from its docstring by mkdocstrings.

The pages are made from the package itself, so that they list every public name: the tests check
that the committed pages are what this script writes (``tests/docs/test_site.py``), and that the
built site documents every name of ``chainrule.__all__`` and of each module here. Run
``python scripts/docs_reference.py`` after adding a public name or module.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"

# page -> (title, what it covers, its modules in order)
PAGES: dict[str, tuple[str, str, list[str]]] = {
    "chainrule": (
        "chainrule: tensors, ops and autograd",
        "The top-level package: `Tensor` and its creation functions, every differentiable op, "
        "autograd (`backward`, `grad`, `no_grad`, `Function`, `gradcheck`), random numbers, and the "
        "interpreters that run the gradient rules.",
        [
            "chainrule",
            "chainrule.linalg",
            "chainrule.random",
            "chainrule.interpreters",
            "chainrule.memory",
            "chainrule.utils",
        ],
    ),
    "engine": (
        "The engine: autograd, primitives, kernels, devices",
        "How chainrule computes, for readers of the source: the graph walk and `Function`, the "
        "primitive ops that carry a gradient rule (everything else is composed from them), the "
        "numba kernels of the extra `fast`, and the device model (the CPU).",
        ["chainrule.autograd", "chainrule.ops.primitives", "chainrule.kernels", "chainrule.devices"],
    ),
    "nn": (
        "chainrule.nn: layers and losses",
        "Modules, layers, losses, the functional forms, initialisers.",
        [
            "chainrule.nn",
            "chainrule.nn.functional",
            "chainrule.nn.init",
            "chainrule.nn.utils",
        ],
    ),  # fmt: skip
    "optim": (
        "chainrule.optim: optimisers",
        "Optimisers, learning-rate schedules, gradient clipping.",
        [
            "chainrule.optim",
            "chainrule.optim.lr_scheduler",
        ],
    ),  # fmt: skip
    "data": (
        "chainrule.data: datasets and loaders",
        "Datasets, the DataLoader, embedded datasets.",
        ["chainrule.data"],
    ),
    "train": (
        "chainrule.train: fit and its callbacks",
        "fit, evaluate, predict, callbacks, metrics, summary.",
        [
            "chainrule.train",
            "chainrule.train.metrics",
        ],
    ),  # fmt: skip
    "estimators": (
        "chainrule.estimators: scikit-learn estimators",
        "One-neuron models and MLPs as estimators.",
        [
            "chainrule.estimators",
        ],
    ),  # fmt: skip
    "explain": (
        "chainrule.explain: explaining models",
        "Attributions and loss landscapes.",
        [
            "chainrule.explain",
            "chainrule.explain.landscape",
        ],
    ),  # fmt: skip
    "viz": (
        "chainrule.viz: pictures",
        "Graphs of computations, the chain rule traced, training plots.",
        [
            "chainrule.viz",
            "chainrule.viz.chain_rule",
            "chainrule.viz.training",
        ],
    ),  # fmt: skip
    "io": (
        "chainrule.io: saving and loading",
        "save/load (safetensors + JSON) and atomic file writes.",
        [
            "chainrule.io",
            "chainrule.io.files",
        ],
    ),  # fmt: skip
    "compiler": (
        "chainrule.compiler: compiled steps",
        "cr.compile: record a step once, replay it.",
        [
            "chainrule.compiler",
        ],
    ),  # fmt: skip
    "distributed": ("chainrule.distributed: many processes", "MPI data parallelism.", ["chainrule.distributed"]),
    "onnx": ("chainrule.onnx: ONNX export and import", "Export to and load from ONNX files.", ["chainrule.onnx"]),
    "cli": ("chainrule.cli: the command line", "The `chainrule` command's entry point.", ["chainrule.cli"]),
}


def public_names(module_name: str) -> list[str]:
    """The module's public names: its ``__all__`` (constants too; not submodules, which have their
    own sections, nor NumPy's dtypes, which NumPy documents), or else the classes and functions it
    defines."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return [n for n in names if not inspect.ismodule(getattr(module, n)) and not _foreign_class(getattr(module, n))]
    return [
        n
        for n, o in vars(module).items()
        if not n.startswith("_")
        and getattr(o, "__module__", None) == module_name
        and (inspect.isclass(o) or inspect.isroutine(o))
    ]


def _foreign_class(obj: object) -> bool:
    return inspect.isclass(obj) and not getattr(obj, "__module__", "").startswith("chainrule")


def canonical(module_name: str, name: str) -> str | None:
    """Where a name must be rendered from, when its path in ``module_name`` does not lead to it: a
    function named like a submodule (``chainrule.tensor``, the function, beside the module
    ``chainrule.tensor``), or a name the module provides through ``__getattr__``. None otherwise."""
    module = importlib.import_module(module_name)
    obj = getattr(module, name)
    shadowed = importlib.util.find_spec(f"{module_name}.{name}") is not None if hasattr(module, "__path__") else False
    if (shadowed or name not in vars(module)) and hasattr(obj, "__qualname__"):
        return f"{obj.__module__}.{obj.__qualname__}"
    return None


def render(page: str) -> str:
    title, summary, modules = PAGES[page]
    lines = [f"# {title}", "", summary, ""]
    for module_name in modules:
        names = public_names(module_name)
        members = [n for n in names if canonical(module_name, n) is None]
        elsewhere = [canonical(module_name, n) for n in names if canonical(module_name, n) is not None]
        lines += [f"::: {module_name}", "    options:"]  # the module's own heading, then its names
        if members:
            lines.append("      members:")
            lines += [f"        - {name}" for name in members]
        else:
            lines.append("      members: false")
        lines.append("")
        for path in elsewhere:  # rendered from where they are defined, under the module
            lines += [f"::: {path}", "    options:", "      heading_level: 3", ""]
    return "\n".join(lines)


def index() -> str:
    lines = ["# API reference", "", "Every public module, class and function, grouped as the package is:", ""]
    lines += [f"- [{title}]({page}.md): {summary}" for page, (title, summary, _) in PAGES.items()]
    return "\n".join(lines) + "\n"


def expected() -> dict[str, str]:
    """Each reference page's text, by file name."""
    pages = {f"{page}.md": render(page) for page in PAGES}
    pages["index.md"] = index()
    return pages


def main() -> int:
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for name, text in expected().items():
        (REFERENCE / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
