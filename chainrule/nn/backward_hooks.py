"""Modules' backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``).

A call of a module that has backward hooks passes the tensors it is given (positional arguments
that require grad) and the tensors it returns through one identity node each, ``BackwardHookFunction``, as
PyTorch's ``BackwardHook`` does. The output's node runs when the gradients of all the outputs are
known: it calls the pre-hooks (which may replace them) and keeps them. The input's node runs when
the gradients of all the inputs are known, the module's own backward done: it calls the hooks with
both (which may replace the inputs' gradients). So each hook sees the gradients that flow through
this call of the module, not those of other uses of the same tensors.

The boundary's outputs are views of the tensors that went in: changing one in place is refused
(in PyTorch too), since the change would bypass the node that calls the hooks.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.tensor import Tensor

_IN_PLACE = (
    "this tensor passes through a backward hook of a module (register_full_backward_hook or "
    "register_full_backward_pre_hook: the module's input or output), and it may not be changed in place "
    "while the hooks are registered, as in PyTorch. Change a copy (t = t.clone()), use the layer's "
    "out-of-place form (e.g. ReLU() rather than ReLU(inplace=True)), or remove the hook"
)


class BackwardHookFunction(Function):
    """Identity on the tensors of one module call; its backward calls ``ctx.call`` with their
    gradients (a tuple, None where a tensor got none) and passes on what that returns."""

    @staticmethod
    def forward(ctx: Any, call: Any, *tensors: Tensor) -> tuple[Tensor, ...]:
        ctx.call = call
        ctx.set_materialize_grads(False)
        return tuple(Tensor._make(t._data.view()) for t in tensors)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        return (None, *ctx.call(grads))


# The nodes of the boundary refuse in-place writes to its outputs (Tensor._in_place reads this).
BackwardHookFunction._node_class.in_place_refusal = _IN_PLACE
BackwardHookFunction._slot_class.in_place_refusal = _IN_PLACE


def _check_replacement(what: str, hook: Any, result: Any, originals: tuple, tensor_at: list[bool]) -> tuple:
    """What a hook returned in place of the gradients ``originals``: a tuple or list of as many,
    each None or a Tensor of the original's shape and dtype (None only where ``tensor_at`` is
    False, an argument that is not a tensor)."""
    if not isinstance(result, (tuple, list)):
        raise RuntimeError(
            f"{what}: the hook {hook!r} returned a {type(result).__name__}; a backward hook returns None or a "
            f"tuple of {len(originals)} gradient(s), one per {'input' if 'grad_input' in what else 'output'} "
            "(None where there is none)"
        )
    if len(result) != len(originals):
        raise RuntimeError(
            f"{what}: the hook {hook!r} returned {len(result)} gradient(s), but {len(originals)} were expected "
            "(one per positional argument for grad_input, one per output for grad_output)"
        )
    for i, (new, old) in enumerate(zip(result, originals)):
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise RuntimeError(
                f"{what}: the hook {hook!r} returned a {type(new).__name__} at position {i}; expected a Tensor or None"
            )
        if not tensor_at[i]:
            raise RuntimeError(
                f"{what}: the hook {hook!r} returned a gradient at position {i}, which is not a tensor; "
                "return None there"
            )
        if old is not None and (new.shape != old.shape or new.dtype != old.dtype):
            raise RuntimeError(
                f"{what}: the hook {hook!r} changed the gradient at position {i} from shape {old.shape}, dtype "
                f"{old.dtype} to shape {new.shape}, dtype {new.dtype}; a replacement has the same shape and dtype"
            )
    return tuple(result)


class ModuleCall:
    """The backward hooks of one call of a module: the hooks registered when it was called, the
    call's positional arguments, and the gradients of its outputs once they are known."""

    def __init__(self, module: Any, hooks: list, pre_hooks: list, args: tuple) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.name = type(module).__name__
        self.tensor_at = [isinstance(a, Tensor) for a in args]
        # a zero gradient for each tensor argument, as PyTorch gives one for a tensor that gets no gradient
        self.zeros = [(a.shape, a.dtype) if isinstance(a, Tensor) else None for a in args]
        self.wrapped: list[int] = []  # positions of the arguments that went through the boundary
        self.outputs: list[int] = []  # positions (in the output tuple) of the outputs that did
        self.output_count = 0
        self.output_tensors: list[bool] = []  # which outputs are tensors
        self.grad_outputs: tuple | None = None

    # ---------------------------------------------------------------- forward
    def wrap_inputs(self, args: tuple) -> tuple:
        """The arguments, those that require grad passed through one boundary node."""
        self.wrapped = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad]
        if not self.wrapped:
            return args
        views = BackwardHookFunction.apply(self._inputs_done, *[args[i] for i in self.wrapped])
        args = list(args)
        for i, v in zip(self.wrapped, views):
            args[i] = v
        return tuple(args)

    def wrap_outputs(self, result: Any) -> Any:
        """The output (a Tensor or a tuple), its tensors that require grad passed through one boundary."""
        single = isinstance(result, Tensor)
        if not single and not isinstance(result, tuple):
            warnings.warn(
                f"{self.name}: its backward hooks are not called, because its forward returned a "
                f"{type(result).__name__}; as in PyTorch, they need the output to be a Tensor or a tuple of "
                "Tensors",
                stacklevel=4,
            )
            return result
        items = [result] if single else list(result)
        self.output_count = len(items)
        # (a gradient a pre-hook gives an output that requires no grad goes nowhere, as in PyTorch)
        self.output_tensors = [isinstance(o, Tensor) for o in items]
        self.outputs = [j for j, o in enumerate(items) if isinstance(o, Tensor) and o._requires_grad]
        if not self.outputs:
            return result
        views = BackwardHookFunction.apply(self._outputs_done, *[items[j] for j in self.outputs])
        for j, v in zip(self.outputs, views):
            items[j] = v
        if single:
            return items[0]
        return tuple(items) if type(result) is tuple else type(result)(*items)  # (a namedtuple stays one)

    # ---------------------------------------------------------------- backward
    def _outputs_done(self, grads: tuple) -> tuple:
        """The outputs' gradients are known: the pre-hooks, then (no argument requiring grad) the hooks."""
        grad_output = tuple(
            grads[self.outputs.index(j)] if j in self.outputs else None for j in range(self.output_count)
        )
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                what = f"{self.name}: a backward pre-hook's grad_output"
                grad_output = _check_replacement(what, hook, result, grad_output, self.output_tensors)
        if self.wrapped:
            self.grad_outputs = grad_output  # for the hooks, once the inputs' gradients are known
        elif self.hooks:
            warnings.warn(
                f"{self.name}: its full backward hooks are called when the gradients of its outputs are known, "
                "with grad_input all None, because none of its inputs requires grad (as in PyTorch)",
                stacklevel=2,
            )
            grad_input = tuple(None for _ in self.tensor_at)
            for hook in self.hooks:
                result = hook(self.module, grad_input, grad_output)
                if result is not None and any(r is not None for r in result):
                    raise RuntimeError(
                        f"{self.name}: a full backward hook returned gradients for its inputs, but none of them "
                        "requires grad (grad_input is all None); such a hook must return None"
                    )
        return tuple(grad_output[j] for j in self.outputs)

    def _inputs_done(self, grads: tuple) -> tuple:
        """The inputs' gradients through this call are known: the hooks, given the outputs' too."""
        grad_output, self.grad_outputs = self.grad_outputs, None
        if grad_output is None:  # a gradient reached the inputs without going through the outputs
            return grads  # (a second-order backward, or a wrapped input kept elsewhere): as in PyTorch
        found: list = []
        for i, is_tensor in enumerate(self.tensor_at):
            g = grads[self.wrapped.index(i)] if i in self.wrapped else None
            if g is None and is_tensor:  # (PyTorch too gives zeros for a tensor with no gradient)
                g = Tensor._make(np.zeros(*self.zeros[i]))
            found.append(g)
        grad_input = tuple(found)
        for hook in self.hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                grad_input = _check_replacement(
                    f"{self.name}: a full backward hook's grad_input", hook, result, grad_input, self.tensor_at
                )
        return tuple(grad_input[i] for i in self.wrapped)  # (an unused input gets the zeros, as in PyTorch)
