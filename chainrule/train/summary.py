"""summary(model, input_shape): layers, output shapes, parameter counts, depth and width."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.autograd import no_grad
from chainrule.nn.module import Module, _evaluating
from chainrule.tensor import Tensor


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...] | None
    params: int
    trainable: int
    units: int | None


@dataclass
class ModelSummary:
    """The result of ``summary``: print it for the table, or read its numbers.

    depth: the number of layers with weights (the input layer is not counted).
    width: the largest number of units in a layer, the input layer included (its features).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.train import summary
        >>> s = summary(cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 2)), input_shape=(4,))
        >>> s.total_params, s.depth, s.width  # 4*3+3 + 3*2+2 weights, 2 layers with weights, widest 4
        (23, 2, 4)
    """

    rows: list[LayerRow]
    input_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    depth: int
    width: int

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        body = [
            (
                f"{r.name} ({r.kind})",
                "-" if r.output_shape is None else str((None,) + r.output_shape[1:]),
                f"{r.params:,}",
            )
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header] + body) + 2 for i in range(3)]
        line = "=" * sum(widths)
        fmt = lambda row: "".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
        out = [line, fmt(header), line] + [fmt(row) for row in body] + [line]
        out += [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Depth (layers with weights): {self.depth}",
            f"Width (most units in a layer): {self.width}",
            line,
        ]
        return "\n".join(out)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the table
        printer.text(str(self))


def _units(module: Module) -> int | None:
    for attr in ("out_features", "out_channels", "hidden_size", "embedding_dim"):
        value = getattr(module, attr, None)
        if isinstance(value, int):
            return value
    return None


def summary(model: Module, input_shape: Sequence[int], dtype: Any = None) -> ModelSummary:
    """Describe ``model`` by running one zero batch of shape ``(1, *input_shape)`` through it.

    One row per leaf layer (a layer with no sub-layers) in the order they ran, with its output
    shape and parameter count.

    Example (the 4-3-2-1 network: 15 + 8 + 3 = 26 parameters, depth 3, width 4):
        >>> import chainrule as cr
        >>> from chainrule.train import summary
        >>> net = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 2), cr.nn.Sigmoid(),
        ...                        cr.nn.Linear(2, 1), cr.nn.Sigmoid())
        >>> s = summary(net, (4,))
        >>> [r.params for r in s.rows if r.params], s.total_params, s.depth, s.width
        ([15, 8, 3], 26, 3, 4)
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a chainrule.nn.Module, got {type(model).__name__}")
    input_shape = tuple(int(n) for n in input_shape)
    names = {id(m): name for name, m in model.named_modules()}
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    rows: dict[int, LayerRow] = {}

    def record(module: Module, inputs: tuple, output: Any) -> None:
        if id(module) not in rows:
            params = list(module.parameters(recurse=False))
            rows[id(module)] = LayerRow(
                names.get(id(module)) or type(module).__name__,
                type(module).__name__,
                tuple(output.shape) if isinstance(output, Tensor) else None,
                sum(p.size for p in params),
                sum(p.size for p in params if p.requires_grad),
                _units(module) if params else None,
            )

    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        param_dtype = next((p.dtype for p in model.parameters()), np.dtype(np.float32))
        x = Tensor._make(np.zeros((1,) + input_shape, dtype=np.dtype(dtype) if dtype else param_dtype))
        with no_grad(), _evaluating([model]):  # each module's own mode back afterwards
            model(x)
    except Exception as e:
        raise ValueError(f"summary: the model failed on an input of shape {(1,) + input_shape}: {e}") from e
    finally:
        for h in handles:
            h.remove()
    ordered = list(rows.values())
    # layers that did not run (unused) still hold parameters: list them at the end
    for m in leaves:
        if id(m) not in rows and any(True for _ in m.parameters(recurse=False)):
            record(m, (), None)
            ordered.append(rows[id(m)])
    total = model.num_parameters()
    trainable = model.num_parameters(trainable_only=True)
    weighted = [r for r in ordered if r.params]
    widths = [r.units for r in weighted if r.units] + [input_shape[-1] if input_shape else 1]
    if len(input_shape) > 1:  # images or sequences: the input layer's units are its channels
        widths[-1] = input_shape[0]
    return ModelSummary(ordered, input_shape, total, trainable, total - trainable, len(weighted), max(widths))
