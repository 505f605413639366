"""Every op checked the same way, from the registry's samples (tests/ops/registry.py).

For each entry and sample: values against the NumPy reference in float64 and float32 (and the
dtype kept), gradients against float64 central differences, second-order gradients against
finite differences of the first gradient, the op's one rule run by the three interpreters (NumPy
for a plain backward, recorded Tensors for create_graph, the tracer) giving the same gradients,
float32 gradients staying float32, a plain backward leaving its operands untouched, and the
Tensor method agreeing with the function. And the registry itself is complete: a public op or a
``Function`` class without an entry fails here.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.compiler import trace_backward
from tests.ops.registry import REGISTRY, OpInfo, Sample

CASES = [(info, sample) for info in REGISTRY for sample in info.samples()]
IDS = [f"{info.name}-{k}-{sample.name}" for info in REGISTRY for k, sample in enumerate(info.samples())]
GRAD_CASES = [(i, s) for i, s in CASES if i.grad]
GRAD_IDS = [n for n, (i, _) in zip(IDS, CASES) if i.grad]
GRADGRAD_CASES = [(i, s) for i, s in GRAD_CASES if i.gradgrad]
GRADGRAD_IDS = [n for n, (i, _) in zip(GRAD_IDS, GRAD_CASES) if i.gradgrad]


def leaves(sample: Sample, dtype=np.float64, requires_grad: bool = True) -> list[cr.Tensor]:
    return [cr.tensor(np.array(a, dtype=dtype), requires_grad=requires_grad) for a in sample.args]


def run(info: OpInfo, tensors: list[cr.Tensor], sample: Sample) -> cr.Tensor:
    out = info.op(*tensors, **sample.kwargs)
    assert isinstance(out, cr.Tensor), f"{info.name} returned {type(out).__name__}"
    return out


def output_gradient(out: cr.Tensor, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)


def gradients(info: OpInfo, sample: Sample, how: str, dtype=np.float64) -> list[np.ndarray | None]:
    """The inputs' gradients of <op(inputs), g> computed by one interpreter: 'plain' (NumPy),
    'recorded' (Tensors, create_graph=True) or 'traced' (the tracer)."""
    tensors = leaves(sample, dtype)
    out = run(info, tensors, sample)
    g = output_gradient(out)
    if how == "traced":
        trace_backward(out, cr.tensor(g))
        return [None if t.grad is None else t.grad.numpy() for t in tensors]
    found = cr.grad(out, tensors, grad_outputs=cr.tensor(g), create_graph=how == "recorded", allow_unused=True)
    return [None if f is None else f.numpy() for f in found]


# ------------------------------------------------------------------ the registry is complete


def _all_functions() -> set[type]:
    for info in pkgutil.walk_packages(cr.__path__, prefix="chainrule."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, todo = set(), [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("chainrule.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return {f for f in found if f.__name__ not in USER_RULE_CARRIERS}


# Nodes that run a rule the user wrote (a custom Function in PyTorch's form), not a rule of ours:
# they have no rule to check here; tests/test_custom_function.py tests them with such functions.
# BackwardHookFunction (an identity whose backward calls a module's backward hooks, the user's code)
# is such a function, with its nodes: tests/nn/test_module_backward_hooks.py checks its gradients
# against finite differences, first and second order, plain and recorded.
USER_RULE_CARRIERS = {"_CustomNode", "_OutputSlot", "_OnceDifferentiated", "BackwardHookFunction"}


def _node_classes(out: cr.Tensor) -> set[type]:
    seen, todo, classes = set(), [out], set()
    while todo:
        t = todo.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        classes.add(type(t.grad_fn))
        todo.extend(t.grad_fn.inputs)
    return classes


def ops_without_entry() -> list[str]:
    covered = {n for info in REGISTRY for n in (info.name, *info.aliases)}
    return sorted(set(cr.ops.__all__) - covered)


def functions_not_exercised() -> list[str]:
    """Function classes (rules) that are a node of no entry's graph nor of its recorded backward."""
    exercised: set[type] = set()
    for info, sample in GRAD_CASES:
        tensors = leaves(sample)
        out = run(info, tensors, sample)
        exercised |= _node_classes(out)
        grads = cr.grad(
            out, tensors, grad_outputs=cr.tensor(output_gradient(out)), create_graph=True, allow_unused=True
        )
        for g in grads:
            if g is not None:
                exercised |= _node_classes(g)
    return sorted(c.__name__ for c in _all_functions() - exercised)


def test_every_public_op_has_a_registry_entry():
    missing = ops_without_entry()
    assert not missing, f"ops without an entry in tests/ops/registry.py: {missing}"


def test_every_primitive_is_exercised_by_the_registry():
    missing = functions_not_exercised()
    assert not missing, f"Function classes no registry entry exercises: {missing}"


def test_a_new_op_or_rule_without_an_entry_is_noticed(monkeypatch):
    monkeypatch.setattr(cr.ops, "__all__", [*cr.ops.__all__, "brand_new_op"])
    assert ops_without_entry() == ["brand_new_op"]

    class BrandNewRule(Function):
        def forward(self, a):
            return a

        def backward(self, ns, grad, a):
            return grad

    BrandNewRule.__module__ = "chainrule.ops.elementwise"
    assert "BrandNewRule" in functions_not_exercised()
    del BrandNewRule
    gc.collect()  # a class lives in Function.__subclasses__() until collected: leave none behind


def test_registry_names_are_unique():
    names = [n for info in REGISTRY for n in (info.name, *info.aliases)]
    assert len(names) == len(set(names))


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("info, sample", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_values_match_numpy(info, sample, dtype):
    tensors = leaves(sample, dtype, requires_grad=False)
    out = run(info, tensors, sample)
    expected = np.asarray(info.ref(*[np.array(a, dtype=np.float64) for a in sample.args], **sample.kwargs))
    assert out.shape == expected.shape
    if dtype == np.float64:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-7, atol=1e-12)
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=info.rtol32, atol=info.atol32)
    if expected.dtype.kind == "f" and "dtype" not in sample.kwargs:
        assert out.dtype == dtype, f"{info.name} turned {np.dtype(dtype)} into {out.dtype}"
    elif expected.dtype.kind != "f":
        assert out.dtype.kind == expected.dtype.kind


@pytest.mark.parametrize(
    "info, sample",
    [(i, s) for i, s in CASES if i.method is not None],
    ids=[n for n, (i, _) in zip(IDS, CASES) if i.method is not None],
)
def test_method_matches_function(info, sample):
    tensors = leaves(sample, requires_grad=False)
    expected = run(info, tensors, sample).numpy()
    method = info.method if callable(info.method) else getattr(type(tensors[0]), info.method)
    got = method(*tensors, **sample.kwargs)
    np.testing.assert_array_equal(got.numpy(), expected)


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("info, sample", GRAD_CASES, ids=GRAD_IDS)
def test_gradients_match_finite_differences(info, sample):
    tensors = leaves(sample)
    assert cr.gradcheck(lambda *ts: run(info, list(ts), sample), tensors, eps=info.grad_eps, atol=info.grad_atol)


def _second_order_numeric(info: OpInfo, sample: Sample, eps: float = 1e-6):
    """Analytic and finite-difference derivatives of s(x, g) = <grad_x <op(x), g>, v>, in the inputs
    x and in the output's gradient g (as PyTorch's gradgradcheck): in x it is the op's Hessian
    (contracted with g) applied to v; in g it runs the rules of the first gradient's own nodes, so
    a linear op's backward-of-backward (indexing's scatter, a convolution's adjoints) is checked too.
    """
    r = np.random.default_rng(3)
    tensors = leaves(sample)
    out = run(info, tensors, sample)
    g = cr.tensor(output_gradient(out).astype(np.float64), requires_grad=True)
    vs = [r.standard_normal(t.shape) for t in tensors]

    def s():
        first = cr.grad(run(info, tensors, sample), tensors, grad_outputs=g, create_graph=True, allow_unused=True)
        total = cr.tensor(0.0, dtype="float64")
        for f, v in zip(first, vs):
            if f is not None:
                total = total + (f * cr.tensor(v)).sum()
        return total

    wrt = [*tensors, g]
    total = s()
    if total.requires_grad:
        analytic = cr.grad(total, wrt, allow_unused=True)
        analytic = [np.zeros(t.shape) if a is None else a.numpy() for t, a in zip(wrt, analytic)]
    else:  # no first gradient depends on x or g: every second derivative is 0
        analytic = [np.zeros(t.shape) for t in wrt]
    numeric = []
    for t in wrt:
        n = np.empty(t.shape)
        for i in np.ndindex(t.shape):
            original = t.numpy()[i]
            t.numpy()[i] = original + eps
            plus = s().item()
            t.numpy()[i] = original - eps
            minus = s().item()
            t.numpy()[i] = original
            n[i] = (plus - minus) / (2 * eps)
        numeric.append(n)
    return analytic, numeric


@pytest.mark.parametrize("info, sample", GRADGRAD_CASES, ids=GRADGRAD_IDS)
def test_second_order_gradients_match_finite_differences_of_the_first(info, sample):
    analytic, numeric = _second_order_numeric(info, sample, eps=max(info.grad_eps, 1e-6))
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        what = f"input {k}" if k < len(analytic) - 1 else "the output's gradient"
        np.testing.assert_allclose(
            a, n, rtol=1e-3, atol=max(info.grad_atol, 1e-5), err_msg=f"{info.name}: second derivative in {what}"
        )


@pytest.mark.parametrize("info, sample", GRAD_CASES, ids=GRAD_IDS)
def test_plain_recorded_and_traced_gradients_agree(info, sample):
    plain = gradients(info, sample, "plain")
    for how in ("recorded", "traced"):
        other = gradients(info, sample, how)
        for k, (p, o) in enumerate(zip(plain, other)):
            assert (p is None) == (o is None), f"{info.name}: input {k} has a gradient in one interpreter only"
            if p is not None:
                np.testing.assert_allclose(o, p, rtol=1e-10, atol=1e-12, err_msg=f"{info.name} {how}, input {k}")


def _compiled_and_eager(info: OpInfo, sample: Sample, calls: int = 4):
    """The op's outputs and its inputs' gradients of <op(inputs), g> over ``calls`` calls with other
    input values (the sample's arrays scaled by 1 + k/100: signs, ties and kinks stay where the
    sample put them), once through ``cr.compile`` (two recordings, then replays) and once eagerly."""
    g = output_gradient(run(info, leaves(sample), sample))

    def step(*tensors):
        out = run(info, list(tensors), sample)
        if out.requires_grad:
            out.backward(cr.tensor(g))
        return out

    compiled = cr.compile(step, backend="numba")  # (fused loops whatever the size: auto fuses large chains only)
    results = []
    for fn in (compiled, step):
        got = []
        for k in range(calls):
            tensors = [
                cr.tensor(np.array(a, dtype=np.float64) * (1 + k / 100), requires_grad=True) for a in sample.args
            ]
            out = fn(*tensors)
            got.append((out.numpy().copy(), [None if t.grad is None else t.grad.numpy().copy() for t in tensors]))
        results.append(got)
    return results, compiled


@pytest.mark.parametrize("info, sample", CASES, ids=IDS)
def test_a_compiled_step_replays_the_op_and_its_rule_as_eagerly(info, sample):
    # the fourth interpreter of the rules: cr.compile's step tracer, whose plan reads what a rule
    # needs from the replayed forward's nodes; a case it cannot replay runs eagerly, also right
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", cr.compiler.CompileWarning)
        (compiled, eager), step = _compiled_and_eager(info, sample)
    for k, ((out_c, grads_c), (out_e, grads_e)) in enumerate(zip(compiled, eager)):
        np.testing.assert_array_equal(out_c, out_e, err_msg=f"{info.name}: output of call {k}")
        for i, (a, b) in enumerate(zip(grads_c, grads_e)):
            assert (a is None) == (b is None), f"{info.name}: input {i} has a gradient one way only"
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"{info.name}: call {k}, input {i}")
    # replayed, unless the op's shapes depend on the data (a boolean mask, nonzero, a tensor of repeats), which
    # runs eagerly
    reasons = [str(w.message) for w in caught if issubclass(w.category, cr.compiler.CompileWarning)]
    if step.stats["replayed"] != 2:
        data_shaped = {
            "index": "a boolean mask selects elements",
            "nonzero": "as many indices as the data has",
            "repeat_interleave": "repeat_interleave with a tensor of repeats",
            "allclose": "allclose reads a tensor's value",  # (a Python bool: a decision a plan cannot replay)
            "equal": "equal reads a tensor's value",
        }
        assert info.name in data_shaped and reasons and data_shaped[info.name] in reasons[0], (
            f"{info.name}: {step.stats}, {reasons}"
        )


@pytest.mark.parametrize("info, sample", GRAD_CASES, ids=GRAD_IDS)
def test_float32_gradients_stay_float32(info, sample):
    tensors = leaves(sample, np.float32)
    out = run(info, tensors, sample)
    if not out.requires_grad:
        pytest.fail(f"{info.name}: the output does not require grad")
    out.backward(cr.tensor(output_gradient(out)))
    for t in tensors:
        assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape


@pytest.mark.parametrize("info, sample", GRAD_CASES, ids=GRAD_IDS)
def test_a_plain_backward_leaves_its_operands_alone(info, sample):
    """Rules may work in place only on arrays they made: never on the inputs, the output or the
    incoming gradient."""
    tensors = leaves(sample)
    out = run(info, tensors, sample)
    g = output_gradient(out)
    before = [t.numpy().copy() for t in tensors] + [out.numpy().copy(), g.copy()]
    out.backward(g)
    for k, (b, a) in enumerate(zip(before, [t.numpy() for t in tensors] + [out.numpy(), g])):
        np.testing.assert_array_equal(a, b, err_msg=f"{info.name}: operand {k} changed by the backward")


@pytest.mark.parametrize("info", [i for i in REGISTRY if not i.grad], ids=lambda i: i.name)
def test_ops_without_gradient_record_nothing(info):
    for sample in info.samples():
        out = run(info, leaves(sample), sample)
        assert not out.requires_grad and out.grad_fn is None, info.name
        assert info.note, f"{info.name}: say in the registry what a derivative through it gives"
