"""The graph walk: chain rule, accumulation, freeing, no_grad, grad(), gradcheck, anomaly detection."""

from __future__ import annotations

import gc
import math
import threading
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.autograd import Function
from tests.helpers import FAST, broadcastable_pair, leaf, positive, rand

# ------------------------------------------------------------------ the seed's worked examples


def test_seed_example_J_equals_4_times_x_plus_yz():
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    J = 4 * (x + y * z)
    J.backward()
    assert J.item() == 56.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (4.0, 16.0, 12.0)


@pytest.mark.parametrize("y_true", [0.0, 1.0])
def test_seed_example_logistic_regression_neuron(y_true):
    x1, x2 = 1.5, -0.7
    w1, w2, b = (cr.tensor(v, dtype="float64", requires_grad=True) for v in (0.4, -1.2, 0.3))
    z = w1 * x1 + w2 * x2 + b
    z.retain_grad()
    a = cr.sigmoid(z)
    L = -(y_true * cr.log(a) + (1 - y_true) * cr.log(1 - a))
    L.backward()
    a_val = 1 / (1 + math.exp(-(0.4 * x1 - 1.2 * x2 + 0.3)))
    assert a.item() == pytest.approx(a_val, rel=1e-12)
    assert z.grad.item() == pytest.approx(a_val - y_true, rel=1e-12)
    assert w1.grad.item() == pytest.approx((a_val - y_true) * x1, rel=1e-12)
    assert w2.grad.item() == pytest.approx((a_val - y_true) * x2, rel=1e-12)
    assert b.grad.item() == pytest.approx(a_val - y_true, rel=1e-12)


# ------------------------------------------------------------------ accumulation


def test_a_tensor_used_twice_accumulates():
    x = leaf(3.0)
    y = x * x + x
    y.backward()
    assert x.grad.item() == 7.0  # 2x + 1


def test_diamond_graph_accumulates():
    x = leaf(0.5)
    a = cr.sin(x)
    y = a * a + a * cr.cos(x) + x
    y.backward()
    expected = 2 * math.sin(0.5) * math.cos(0.5) + math.cos(0.5) ** 2 - math.sin(0.5) ** 2 + 1
    assert x.grad.item() == pytest.approx(expected, rel=1e-12)


def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])


def test_a_second_backward_adds_into_the_same_grad_in_place_as_pytorch():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    grad, memory = x.grad, x.grad.numpy()
    (x * x).sum().backward()
    assert x.grad is grad and x.grad.numpy() is memory  # (it made a new .grad: a kept reference went stale)
    np.testing.assert_array_equal(grad.numpy(), [5.0, 7.0])
    w = leaf([1.0, 1.0])
    uses_grad = (w * x.grad).sum()  # a graph that saved x.grad for w's gradient
    (x * 1).sum().backward()  # adds into x.grad in place ...
    with pytest.raises(RuntimeError, match="modified in place by gradient accumulation"):
        uses_grad.backward()  # ... so that graph's gradient would be wrong: refused, as PyTorch


def test_a_retained_gradient_is_replaced_not_written_as_pytorchs_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    (y * 3).sum().backward(retain_graph=True)
    kept = y.grad
    (y * 1).sum().backward()
    assert y.grad is not kept and kept.tolist() == [3.0, 3.0] and y.grad.tolist() == [4.0, 4.0]


def test_a_hook_writing_a_grad_in_place_leaves_the_gradient_on_the_other_edge_alone():
    x, p = leaf([1.0, 2.0]), leaf([0.0, 0.0])
    p.register_post_accumulate_grad_hook(lambda t: t.grad.numpy().__imul__(0.0))  # an optimiser step in backward
    (5 * (p + x * x)).sum().backward()  # Add's rule hands one array to p and to x * x
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0])  # (it was [0, 0]: p's .grad was that array)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])


def test_a_grad_that_cannot_take_the_sum_in_place_is_replaced():
    x = leaf([1.0, 2.0])
    x.grad = cr.tensor(np.broadcast_to(np.array(1.0), (2,)))  # read-only
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])
    y = leaf(np.array([1.0, 2.0], dtype="float32"))
    y.grad = cr.tensor(np.array([1.0, 1.0], dtype="float16"))  # a narrower dtype: NumPy's promotion, as before
    kept = y.grad
    (y * 3).sum().backward()
    assert y.grad is not kept and kept.tolist() == [1.0, 1.0] and y.grad.tolist() == [4.0, 4.0]


def test_leaf_gradients_own_writable_memory():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = leaf([[1.0, 2.0]])
    (a + b + c.reshape(2)).sum().backward()  # Add hands one array to both inputs; Sum a broadcast view
    for t in (a, b, c):
        assert t.grad.numpy().flags.writeable and t.grad.numpy().flags.owndata
    a.grad.numpy()[0] = 100.0  # an optimiser updating one gradient in place
    assert b.grad.numpy()[0] == 1.0 and c.grad.numpy()[0, 0] == 1.0
    x = leaf([1.0, 2.0])
    x.sum().backward()
    x.grad.numpy()[:] *= 2.0  # not a read-only broadcast
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_leaf_gradient_does_not_alias_the_callers_gradient():
    x = leaf([1.0, 2.0])
    g = np.array([1.0, 1.0])
    x.backward(g)
    x.grad.numpy()[0] = 5.0
    assert g[0] == 1.0


def test_gradient_accumulated_into_a_reshaped_leaf():
    w = leaf(rand(2, 3))
    (w.reshape(6) * cr.tensor(np.arange(6.0))).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.arange(6.0).reshape(2, 3))


# ------------------------------------------------------------------ retain_graph and freeing


def test_second_backward_through_a_freed_graph_is_a_clear_error():
    x = leaf(2.0)
    y = cr.exp(x) * 3
    y.backward()
    with pytest.raises(RuntimeError, match="freed by an earlier backward.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = cr.exp(x) * 3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(6 * math.exp(2.0))


def test_backward_frees_intermediate_tensors():
    x = leaf(rand(3))
    h = cr.tanh(x * 2)
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    gc.collect()
    assert ref() is not None  # the graph holds it
    loss.backward()
    gc.collect()
    assert ref() is None  # freed with the graph


def test_cr_grad_frees_the_graph_unless_retained():
    x = leaf(2.0)
    y = x * x
    cr.grad(y, x, retain_graph=True)
    cr.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.grad(y, x)


# ------------------------------------------------------------------ backward arguments


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(
        RuntimeError, match=r"backward: the output has shape \(2,\); .*only for a scalar output.*gradient="
    ):
        (x * 2).backward()
    assert x.grad is None


@pytest.mark.parametrize(
    "gradient",
    [
        cr.tensor([1.0, -2.0], dtype="float64"),
        np.array([1.0, -2.0]),
        [1.0, -2.0],
        np.array([1.0, -2.0], dtype=np.float32),
    ],
    ids=["tensor", "ndarray", "list", "float32-array"],
)
def test_backward_with_a_gradient(gradient):
    x = leaf([1.0, 2.0])
    (x * x).backward(gradient)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -8.0])
    assert x.grad.dtype == np.float64


def test_backward_of_a_scalar_with_a_number_gradient():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward(2.0)
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_backward_gradient_of_the_wrong_shape():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"backward: gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="backward: this tensor does not require grad"):
        cr.tensor([1.0]).sum().backward()


def test_backward_of_several_roots():
    x = leaf([1.0, 2.0])
    a, b = (x * 2).sum(), x * x
    cr.backward([a, b], [None, np.array([1.0, 1.0])])
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0])


def test_backward_of_roots_that_depend_on_each_other():
    x = leaf(2.0)
    y = x * x
    z = y * 3
    cr.backward([y, z])  # dy/dx + dz/dx = 2x + 6x
    assert x.grad.item() == 16.0


def test_backward_of_several_roots_needs_one_gradient_each():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="backward: got 1 gradients for 2 outputs"):
        cr.backward([x * 2, x * 3], [np.ones(2)])
    with pytest.raises(RuntimeError, match="backward: got 1 gradients for 2 outputs"):
        cr.backward([x * 2, x * 3], np.ones(2))


def test_gradient_dtype_matches_each_leaf():
    x32 = cr.tensor([1.0, 2.0], requires_grad=True)
    x64 = cr.tensor(np.array([3.0]), requires_grad=True)
    (x32 * x64).sum().backward(np.float64(1.0))
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


def test_backward_with_create_graph_gives_differentiable_grads():
    x = leaf(0.7)
    cr.sin(x).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    assert g.item() == pytest.approx(math.cos(0.7))
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(-math.sin(0.7))


# ------------------------------------------------------------------ retain_grad


def test_retain_grad_on_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    hidden = x * 4
    (h * h + hidden).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), 6 * h.numpy() + 4)
    assert hidden.grad is None  # not retained


def test_retained_gradient_accumulates_like_a_leaf():
    x = leaf([1.0])
    h = x * 3
    h.retain_grad()
    y = (h * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert h.grad.item() == 4.0 and x.grad.item() == 12.0


def test_retain_grad_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        cr.tensor([1.0]).retain_grad()


# ------------------------------------------------------------------ no_grad and grad mode


def test_no_grad_context_manager():
    x = leaf([1.0])
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            z = x * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_no_grad_decorator():
    @cr.no_grad()
    def predict(x):
        assert not cr.is_grad_enabled()
        return x * 2

    x = leaf([1.0])
    assert not predict(x).requires_grad
    assert not predict(x).requires_grad  # the decorator can be used again
    assert cr.is_grad_enabled()


def test_no_grad_decorator_without_parentheses():
    @cr.no_grad
    def predict(x):
        """Doubles x."""
        return x * 2

    assert not predict(leaf([1.0])).requires_grad
    assert predict.__name__ == "predict" and predict.__doc__ == "Doubles x."
    assert cr.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with cr.no_grad():
            raise ZeroDivisionError
    assert cr.is_grad_enabled()


def test_set_grad_enabled():
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
        with cr.set_grad_enabled(True):
            assert cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with cr.no_grad():
        t = threading.Thread(target=lambda: seen.append(cr.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_ops_on_tensors_without_grad_record_nothing():
    y = cr.exp(cr.tensor([1.0])) * 2
    assert not y.requires_grad and y.grad_fn is None


# ------------------------------------------------------------------ cr.grad


def test_grad_does_not_touch_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (gx, gw) = cr.grad((x * w).sum(), [x, w])
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x, unused = leaf(1.0), leaf(2.0)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(\)\) was not used.*allow_unused=True"):
        cr.grad(y, [x, unused], retain_graph=True)
    gx, gu = cr.grad(y, [x, unused], allow_unused=True)
    assert gx.item() == 3.0 and gu is None


def test_grad_with_respect_to_an_intermediate():
    x = leaf(2.0)
    h = x * x
    y = h * 3 + h
    (gh,) = cr.grad(y, h)
    assert gh.item() == 4.0


def test_grad_with_grad_outputs_and_several_outputs():
    x = leaf([1.0, 2.0])
    (g,) = cr.grad(x * x, x, grad_outputs=[1.0, 10.0])
    np.testing.assert_array_equal(g.numpy(), [2.0, 40.0])
    (g,) = cr.grad([(x * 2).sum(), (x * 3).sum()], [x])
    np.testing.assert_array_equal(g.numpy(), [5.0, 5.0])


def test_grad_errors():
    x = leaf(1.0)
    with pytest.raises(RuntimeError, match=r"grad: input 0 \(shape \(1,\)\) does not require grad"):
        cr.grad(x * 2, cr.tensor([1.0]))
    with pytest.raises(RuntimeError, match="grad: an output does not require grad"):
        cr.grad(cr.tensor(1.0) * 2, x)
    with pytest.raises(RuntimeError, match=r"grad: the output has shape \(2,\); .*only for a scalar output"):
        cr.grad(cr.stack([x, x]), x)


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    H = A + A.T
    v = rng.standard_normal(3)
    x = leaf(rng.standard_normal(3))
    f = (x * (cr.tensor(A) @ x)).sum()  # x^T A x
    (g,) = cr.grad(f, x, create_graph=True)
    (hv,) = cr.grad((g * cr.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), H @ v, rtol=1e-12)


# ------------------------------------------------------------------ deep graphs


def test_a_chain_of_100000_ops_backprops_without_recursion_error():
    x = cr.tensor(1.0, dtype="float64", requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001**100_000, rel=1e-9)


def test_a_deep_graph_can_be_dropped_without_backward():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    first, last = weakref.ref(x + 0.0), weakref.ref(y.grad_fn)  # a node at each end of the chain
    del y  # deallocating a long chain must not overflow the C stack (the process would crash)
    gc.collect()
    assert first() is None and last() is None, "the chain was not freed"
    assert x.grad is None and x.grad_fn is None  # the leaf is untouched


# ------------------------------------------------------------------ error messages from forward


def test_broadcast_failure_names_the_op_and_both_shapes():
    a = leaf(np.ones((3, 2)))
    for expr, op in [
        (lambda: a + cr.ones(4), "Add"),
        (lambda: a * np.ones(4), "Mul"),
        (lambda: a - cr.ones(2, 3), "Sub"),
        (lambda: a / cr.ones(4), "Div"),
    ]:
        with pytest.raises(
            ValueError, match=rf"^{op}: inputs of shapes \(3, 2\) and \((4|2, 3),?\): .*could not be broadcast"
        ):
            expr()
    assert a.grad is None and a.is_leaf


def test_where_broadcast_failure_names_the_op():
    with pytest.raises(ValueError, match=r"^Where: inputs of shapes \(3,\) and \(3,\)"):
        cr.where(np.ones(2, dtype=bool), cr.ones(3), cr.ones(3))


def test_errors_that_already_name_the_op_pass_through_unchanged():
    with pytest.raises(ValueError, match=r"^matmul: shapes \(32, 40\) and \(50, 10\) do not align \(40 != 50\)$"):
        cr.ones(32, 40) @ cr.ones(50, 10)


class _Fails(Function):
    def forward(self, a, message):
        raise ValueError(message)


def test_a_custom_function_forward_error_is_named():
    with pytest.raises(ValueError, match=r"^_Fails: input of shape \(2,\): something is off$"):
        _Fails.apply(cr.ones(2), message="something is off")
    with pytest.raises(ValueError, match=r"^myop: already named$"):
        _Fails.apply(cr.ones(2), message="myop: already named")


class _NoBackward(Function):
    def forward(self, a):
        return a * 2


def test_a_missing_backward_rule_fails_naming_the_op():
    x = leaf([1.0])
    with pytest.raises(NotImplementedError, match="_NoBackward has no backward rule"):
        _NoBackward.apply(x).sum().backward()


class _Cube(Function):
    """x^3, its one rule logging which interpreter ran it."""

    calls: list[str] = []

    def forward(self, a):
        return a**3

    def backward(self, ns, grad, a):
        _Cube.calls.append(ns.name)
        return grad * 3.0 * a * a


def test_a_plain_backward_runs_the_rule_on_numpy_and_create_graph_on_tensors():
    x = leaf([1.0, 2.0])
    _Cube.calls.clear()
    _Cube.apply(x).sum().backward()
    assert _Cube.calls == ["numpy"]
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    (g,) = cr.grad(_Cube.apply(x).sum(), x, create_graph=True)
    assert _Cube.calls == ["numpy", "tensor"]
    assert g.requires_grad
    (h,) = cr.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_a_rule_in_the_old_form_is_refused_when_the_class_is_defined():
    with pytest.raises(TypeError, match=r"_OldStyle.backward\(self, grad\).*backward\(self, ns, grad, \*inputs\)"):

        class _OldStyle(Function):
            def forward(self, a):
                return a * a

            def backward(self, grad):
                return grad * 2.0 * self.inputs[0]


@pytest.mark.parametrize("signature", ["self, grad, *rest", "self, grad, scale=2.0", "self, grad_output"])
def test_old_form_rules_are_refused_in_every_spelling(signature):
    with pytest.raises(TypeError, match=r"backward\(self, ns, grad, \*inputs\)"):
        type("_Old", (Function,), {"forward": lambda self, a: a, "backward": eval(f"lambda {signature}: None")})


def test_an_old_form_rule_inherited_from_a_mixin_is_refused():
    class Mixin:
        def backward(self, grad):
            return grad

    with pytest.raises(TypeError, match="_Mixed.backward"):

        class _Mixed(Mixin, Function):
            def forward(self, a):
                return a


def test_a_rule_that_cannot_take_the_ops_inputs_says_so_when_it_runs():
    class _TooFew(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, ns, grad, a):
            return grad

    with pytest.raises(
        TypeError, match=r"_TooFew.backward cannot take the op's 2 input\(s\).*backward\(self, ns, grad"
    ):
        _TooFew.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_a_rule_calling_numpy_on_tensors_is_refused_when_recorded():
    """A NumPy call inside a rule would make the recorded gradient a constant: gradients of
    gradients through it would silently be wrong."""

    class _NumpyInside(Function):
        def forward(self, a):
            return np.sin(a)

        def backward(self, ns, grad, a):
            return grad * np.cos(a)

    x = leaf([0.5])
    _NumpyInside.apply(x).sum().backward()  # plain: arrays, fine
    np.testing.assert_allclose(x.grad.numpy(), [math.cos(0.5)])
    with pytest.raises(RuntimeError, match="NumPy function on a Tensor that requires grad.*ns.exp"):
        cr.grad(_NumpyInside.apply(x).sum(), x, create_graph=True)
    np.asarray(x)  # outside a rule NumPy reads tensors as always


class _SumLast(Function):
    """sum over the last axis, keepdims; its rule uses negative axes with ns's primitives."""

    def forward(self, a):
        return a.sum(axis=-1, keepdims=True)

    def backward(self, ns, grad, a):
        doubled = ns.concat([grad, grad], -1)  # (..., 2), then back to (..., 1): negative axes
        return ns.broadcast_to(ns.sum(doubled, (-1,), keepdims=True) * 0.5, a.shape)


def test_a_user_rule_with_negative_axes_is_differentiable_twice():
    x = leaf(rand(2, 3))
    assert cr.gradcheck(lambda t: _SumLast.apply(t * t), x)

    def first(t):
        (g,) = cr.grad((_SumLast.apply(t * t) ** 2).sum(), t, create_graph=True)
        return g

    assert cr.gradcheck(first, x)


def test_a_rule_returning_the_wrong_number_of_gradients_fails_naming_the_op():
    class _TwoForOne(Function):
        def forward(self, a):
            return a * 2.0

        def backward(self, ns, grad, a):
            return grad, grad

    with pytest.raises(RuntimeError, match="the rule of _TwoForOne returned 2 gradients for 1 inputs"):
        _TwoForOne.apply(leaf([1.0])).sum().backward()


def test_a_plain_backward_of_an_mlp_records_no_node(monkeypatch):
    """Linear, ReLU and the fused cross-entropy compute their gradients on bare arrays."""
    applied = []
    original = Function.__dict__["apply"]

    def counting(cls, *args, **kwargs):
        applied.append(cls.__name__)
        return original.__func__(cls, *args, **kwargs)

    w1, b1, w2 = leaf(rand(5, 4, seed=1)), leaf(rand(5, seed=2)), leaf(rand(3, 5, seed=3))
    loss = cr.nn.functional.cross_entropy(
        cr.linear(cr.relu(cr.linear(cr.tensor(rand(6, 4)), w1, b1)), w2), cr.tensor([0, 2, 1, 1, 0, 2])
    )
    monkeypatch.setattr(Function, "apply", classmethod(counting))
    loss.backward()
    assert applied == []
    assert w1.grad.shape == (5, 4) and b1.grad.shape == (5,) and w2.grad.shape == (3, 5)


# ------------------------------------------------------------------ detect_anomaly


def test_detect_anomaly_names_the_op_producing_nan():
    x = leaf([0.0, 1.0])
    with cr.detect_anomaly():
        y = cr.sqrt(x) * 0.0  # d sqrt / dx = inf at 0, times 0 gives NaN
        with pytest.raises(
            FloatingPointError,
            match=r"detect_anomaly: the backward of PowScalar produced NaN .*input 0 \(shape \(2,\)\)",
        ):
            with np.errstate(all="ignore"):
                y.sum().backward()


def test_detect_anomaly_names_log_of_zero_times_zero():
    x = leaf([0.0])
    with np.errstate(all="ignore"):
        y = cr.log(x) * 0.0
        with cr.detect_anomaly(), pytest.raises(FloatingPointError, match="backward of Log produced NaN"):
            y.backward(np.array([1.0]))


def test_without_detect_anomaly_nan_flows_silently():
    x = leaf([0.0])
    with np.errstate(all="ignore"):
        (cr.sqrt(x) * 0.0).backward(np.array([1.0]))
    assert np.isnan(x.grad.numpy()).all()


def test_detect_anomaly_as_decorator_restores_the_mode():
    @cr.detect_anomaly()
    def run():
        x = leaf([0.0])
        with np.errstate(all="ignore"):
            (cr.sqrt(x) * 0.0).backward(np.array([1.0]))

    with pytest.raises(FloatingPointError):
        run()
    x = leaf([0.0])
    with np.errstate(all="ignore"):
        (cr.sqrt(x) * 0.0).backward(np.array([1.0]))  # anomaly mode is off again


# ------------------------------------------------------------------ gradcheck


class _WrongSquare(Function):
    """x**2 with a deliberately wrong backward (x instead of 2x)."""

    def forward(self, a):
        return a * a

    def backward(self, ns, grad, a):
        return grad * a


class _RightSquare(_WrongSquare):
    def backward(self, ns, grad, a):
        return grad * a * 2.0


def test_gradcheck_passes_a_correct_function():
    assert cr.gradcheck(lambda t: _RightSquare.apply(t), [leaf([0.1, -0.2, 3.0])])


def test_gradcheck_fails_a_wrong_function_naming_the_worst_index():
    x = leaf([[0.1, -0.2], [3.0, 0.5]])
    with pytest.raises(
        cr.GradcheckError, match=r"gradcheck: gradients differ for input 0 at index \(1, 0\): analytic .*numerical"
    ):
        cr.gradcheck(lambda t: _WrongSquare.apply(t).sum(), [x])
    assert cr.gradcheck(lambda t: _WrongSquare.apply(t).sum(), [x], raise_exception=False) is False
    assert issubclass(cr.GradcheckError, AssertionError)


def test_gradcheck_names_which_input_is_wrong():
    a, b = leaf([1.0, 2.0]), leaf([0.5, 1.5])
    with pytest.raises(cr.GradcheckError, match=r"input 1 at index \(1,\)"):
        cr.gradcheck(lambda a, b: a * _WrongSquare.apply(b), [a, b])


def test_gradcheck_leaves_inputs_unchanged():
    x = leaf([0.3, 0.4])
    before = x.numpy().copy()
    cr.gradcheck(lambda t: cr.exp(t), [x])
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


def test_gradcheck_input_errors():
    with pytest.raises(TypeError, match="gradcheck: inputs must be float64.*got float32"):
        cr.gradcheck(cr.exp, [cr.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        cr.gradcheck(cr.exp, [cr.tensor(np.array([1.0]))])
    with pytest.raises(cr.GradcheckError, match="does not depend on any input"):
        cr.gradcheck(lambda t: cr.tensor(np.array([1.0])), [leaf([1.0])])
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        cr.gradcheck(lambda t: 1.0, [leaf([1.0])])


def test_gradcheck_with_a_constant_input_alongside():
    c = cr.tensor(np.array([2.0, 3.0]))
    assert cr.gradcheck(lambda x, c: x * c, [leaf([1.0, 2.0]), c])


# ------------------------------------------------------------------ composite expressions, random shapes


@FAST
@given(shapes=broadcastable_pair(), seed=st.integers(0, 2**16))
def test_composite_expression_random_broadcast_shapes(shapes, seed):
    shape_a, shape_b = shapes.input_shapes
    a, b = leaf(rand(*shape_a, seed=seed)), leaf(positive(*shape_b, seed=seed + 1))

    def f(a, b):
        h = cr.tanh(a * b + a) * b / (1.0 + b * b)
        return cr.log_softmax(h.reshape(-1), axis=0) + cr.sigmoid(a).sum() - cr.sqrt(b).mean()

    assert cr.gradcheck(f, [a, b])


@FAST
@given(shapes=broadcastable_pair(), seed=st.integers(0, 2**16))
def test_second_order_composite_random_broadcast_shapes(shapes, seed):
    shape_a, shape_b = shapes.input_shapes
    a, b = leaf(rand(*shape_a, seed=seed)), leaf(positive(*shape_b, seed=seed + 1))

    def first(a, b):
        ga, gb = cr.grad((cr.exp(a * 0.5) * cr.log(b) + a * a * b).sum(), [a, b], create_graph=True)
        return ga.sum() + (gb * gb).sum()

    assert cr.gradcheck(first, [a, b])


def test_gradcheck_nudges_non_contiguous_inputs():
    x = cr.Tensor(np.arange(6.0).reshape(2, 3).T, requires_grad=True)  # a transposed view
    assert not x.numpy().flags.c_contiguous
    assert cr.gradcheck(lambda t: t * t * cr.tensor(np.arange(6.0).reshape(3, 2)), [x])


def test_grad_computes_only_the_gradients_on_a_path_to_what_it_asks_for():
    """As in PyTorch: grad(y, x) runs no rule for the parameters' gradients (they are not asked
    for), which makes input gradients (saliency, integrated gradients, penalties) cheaper."""
    seen = []

    class Mul(cr.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, ns, grad, a, b):
            seen.append((self.needs(0), self.needs(1)))
            return (grad * b if self.needs(0) else None, grad * a if self.needs(1) else None)

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = cr.grad(Mul.apply(x, w).sum(), x)
    assert seen == [(True, False)] and w.grad is None
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    seen.clear()
    h = Mul.apply(x, w)
    (gh,) = cr.grad(Mul.apply(h, w).sum(), h)  # a wanted non-leaf: nothing below it runs
    assert seen == [(True, False)]
    np.testing.assert_array_equal(gh.numpy(), [3.0, 4.0])
    seen.clear()
    Mul.apply(x, w).sum().backward()  # backward: every gradient
    assert seen == [(True, True)]
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])
    seen.clear()
    gx, gw = cr.grad(Mul.apply(x, w).sum(), [x, w])
    assert seen == [(True, True)]


def test_a_walk_inside_a_rule_gives_the_rule_back_its_recording_flag():
    """A custom backward that calls grad() (here with create_graph) is still recorded afterwards:
    NumPy on a Tensor that requires grad must raise, not make a second derivative of 0. (The walk
    used to set the flag to False at its end instead of putting the caller's value back.)"""

    class Sine(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a.sin()

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            b = cr.tensor([1.0, 2.0], requires_grad=True)
            cr.grad((b * b).sum(), b, create_graph=True)  # a walk of its own, then back here
            return g * (a * 0.0 + cr.tensor(np.cos(a)))  # NumPy on a: wrong once differentiated

    x = cr.tensor([0.3, 0.7], dtype="float64", requires_grad=True)
    with pytest.raises(RuntimeError, match="Sine.backward used NumPy on a Tensor"):
        cr.grad(Sine.apply(x).sum(), x, create_graph=True)


def test_a_plain_walk_inside_a_recorded_rule_is_not_recorded():
    """The converse: a plain grad() inside a recorded rule runs plain rules, where a custom
    backward may use NumPy (it used to inherit the outer walk's flag and raise)."""

    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * cr.tensor(2.0 * np.asarray(a))

    class Sine(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a.sin()

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            b = cr.tensor([1.0, 2.0], requires_grad=True)
            (gb,) = cr.grad(Square.apply(b).sum(), b)  # 2 b: sums to 6
            return g * a.cos() * (gb.sum() / 6.0)

    x = cr.tensor([0.3, 0.7], dtype="float64", requires_grad=True)
    (gx,) = cr.grad(Sine.apply(x).sum(), x, create_graph=True)
    (hx,) = cr.grad(gx.sum(), x)
    np.testing.assert_allclose(hx.numpy(), -np.sin([0.3, 0.7]))


def test_no_grad_decorator_entered_by_two_threads_puts_back_each_threads_mode():
    """One decorated function, one context manager, two threads whose calls interleave (A enters,
    B enters, A leaves, B leaves): each thread gets its own mode back. The modes used to be kept on
    one shared stack, so A left recording inside its no_grad and B left with recording off."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    @cr.no_grad
    def work(thread):
        if thread == "A":
            a_in.set()
            b_in.wait(5)
        else:
            b_in.set()
            a_out.wait(5)

    def a():
        with cr.no_grad():
            work("A")
            seen["A"] = cr.is_grad_enabled()
        a_out.set()

    def b():
        a_in.wait(5)
        work("B")
        seen["B"] = cr.is_grad_enabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"A": False, "B": True}


def test_backward_with_create_graph_keeps_the_graph_by_default():
    """PyTorch's idiom: loss.backward(create_graph=True), then differentiate x.grad. Tensor.backward
    passed retain_graph=False, freeing the forward graph the recorded gradient goes through (the
    function cr.backward already kept it by default, as PyTorch does)."""
    x = cr.tensor([0.5, 1.0], dtype="float64", requires_grad=True)
    (x.tanh() * x).sum().backward(create_graph=True)
    (second,) = cr.grad(x.grad.sum(), x)  # d/dx (tanh x + x (1 - tanh^2 x))
    t = np.tanh([0.5, 1.0])
    np.testing.assert_allclose(second.numpy(), 2 * (1 - t**2) - 2 * np.array([0.5, 1.0]) * t * (1 - t**2))
    y = (x * x).sum()
    y.backward()  # without create_graph the graph is still freed
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        y.backward()


def test_grad_of_a_recurrent_layer_wrt_its_input_computes_no_weight_gradients(monkeypatch):
    """The fused recurrent rule asks needs(i) too: an input gradient (e.g. for attributions)
    runs no weight-gradient GEMMs; backward still computes them all."""
    from chainrule.ops import recurrent

    asked = []
    original = recurrent._layer_backward

    def spy(ns, layout, grad, saved, needs):
        asked.append(list(needs))
        return original(ns, layout, grad, saved, needs)

    monkeypatch.setattr(recurrent, "_layer_backward", spy)
    lstm = cr.nn.LSTM(2, 3, batch_first=True)
    x = cr.randn(4, 5, 2, requires_grad=True)
    (gx,) = cr.grad(lstm(x)[0].sum(), x)
    assert asked[-1][0] is True and not any(asked[-1][-4:]), asked  # x wanted; the 4 weights not
    assert gx.shape == (4, 5, 2) and all(p.grad is None for p in lstm.parameters())
    lstm(x)[0].sum().backward()
    assert all(asked[-1][-4:])
    np.testing.assert_allclose(x.grad.numpy(), gx.numpy(), rtol=1e-6)


def test_a_node_prints_as_the_tensor_shows_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    assert repr(y.grad_fn) == "<MulBackward0>"
    assert f"grad_fn={y.grad_fn!r}" in repr(y)


# ------------------------------------------------------------------ Tensor.register_hook


def test_register_hook_sees_and_changes_a_gradient_on_its_way_back():
    x = cr.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.register_hook(lambda g: g * 0.5)  # halves what goes on to x
    (h * h).sum().backward()
    np.testing.assert_array_equal(seen[0], [6.0, -12.0])  # dL/dh = 2h
    np.testing.assert_array_equal(x.grad.numpy(), [9.0, -18.0])  # 3 * 0.5 * 2h


def test_a_leaf_hook_runs_before_grad_and_post_accumulate_hooks_see_its_result():
    w = cr.tensor([3.0, -4.0], dtype="float64", requires_grad=True)
    after = []
    w.register_hook(lambda g: g.clip(-1.0, 1.0))
    w.register_post_accumulate_grad_hook(lambda p: after.append(p.grad.numpy().copy()))
    (w * 5).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(after[0], [1.0, 1.0])


def test_a_removed_hook_and_the_hooks_errors():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.register_hook(lambda g: cr.zeros(3))
    with pytest.raises(RuntimeError, match=r"shape \(2,\) returned a gradient of shape \(3,\)"):
        (x * 2).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        cr.tensor([1.0], requires_grad=True).register_hook(3)


def test_a_kept_gradient_is_not_the_array_grad_is_updated_in():
    w = cr.tensor([1.0, 1.0], requires_grad=True)
    kept = []
    w.register_hook(lambda g: kept.append(g))
    (w * 2).sum().backward()
    w.grad.mul_(10)  # an in-place change of .grad (an optimiser's)
    np.testing.assert_array_equal(kept[0].numpy(), [2.0, 2.0])


def test_hooks_run_in_grad_and_in_a_recorded_backward():
    x = cr.tensor([2.0], dtype="float64", requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * x)  # the hook's own ops are recorded under create_graph
    (gx,) = cr.grad(y.sum(), x, create_graph=True)  # d/dx: 2x * x = 8
    assert gx.item() == 8.0
    (ggx,) = cr.grad(gx.sum(), x)  # d/dx (2x * x) = 4x = 8
    assert ggx.item() == 8.0


def test_a_compiled_step_with_a_hook_runs_eagerly_and_says_so():
    w = cr.tensor([1.0, -1.0], requires_grad=True)

    @cr.compile
    def step(x):
        y = w * x
        y.register_hook(lambda g: g * 2)
        loss = y.sum()
        loss.backward()
        return loss

    with pytest.warns(cr.compiler.CompileWarning, match="register_hook"):
        step(cr.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("on", ["parameter", "argument"])
def test_a_hook_registered_after_a_step_was_compiled_makes_it_run_eagerly_until_removed(on):
    """A plan recorded without hooks would not run one registered later on a tensor it uses (it
    did not: the hook was skipped in silence); the step records again, runs eagerly and says so."""
    w = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
    opt = cr.optim.SGD([w], lr=0.5)
    x = cr.tensor([1.0, 1.0], requires_grad=True)

    @cr.compile
    def step(x):
        opt.zero_grad()
        loss = (w * w * x).sum()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(x)
    assert step.stats["replayed"] == 1
    before, x_grad = w.numpy().copy(), x.grad.numpy().copy()
    handle = (w if on == "parameter" else x).register_hook(lambda g: g * 0)
    with pytest.warns(cr.compiler.CompileWarning, match="register_hook"):
        step(x)
    if on == "parameter":
        np.testing.assert_array_equal(w.numpy(), before)  # the hook zeroed the gradient: no step
    else:
        np.testing.assert_array_equal(x.grad.numpy(), x_grad)  # nothing added to x's .grad
    handle.remove()
    replayed = step.stats["replayed"]
    step(x)
    assert step.stats["replayed"] == replayed + 1


def test_the_walk_runs_the_nodes_made_last_first_as_pytorchs_engine():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    order = []
    a, b, c = x * 1.0, x * 2.0, x * 3.0
    for name, t in (("a", a), ("b", b), ("c", c)):
        t.register_hook(lambda g, name=name: order.append(name))
    ((a + b) + c).sum().backward()
    assert order == ["c", "b", "a"]  # (depth-first, it was a, b, c)
    assert x.grad.tolist() == [6.0, 6.0]


def test_a_leafs_gradient_is_complete_when_its_post_accumulate_hook_runs_right_after_its_last_use():
    w1 = cr.tensor([1.0], requires_grad=True)
    w2 = cr.tensor([2.0], requires_grad=True)
    events = []
    w1.register_post_accumulate_grad_hook(lambda p: events.append(("w1", p.grad.item())))
    w2.register_post_accumulate_grad_hook(lambda p: events.append(("w2", p.grad.item())))
    h = w1 * 3.0  # w1's only use, made first
    out = (h * w2) * w2  # w2 used twice, after
    t = out.sum()
    t.register_hook(lambda g: events.append("sum"))
    t.backward()
    assert events == ["sum", ("w2", 2 * 3.0 * 2.0), ("w1", 3.0 * 4.0)]


def test_a_node_without_a_number_keeps_the_depth_first_order_and_the_same_gradients():
    x = cr.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    y = (x * x).exp()
    z = (y + x.sin()).sum()
    expected = (2 * x.numpy() * np.exp(x.numpy() ** 2) + np.cos(x.numpy())).tolist()
    y.grad_fn._seq = None  # (as a node made outside Function.apply would be)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), expected)


def _names(fn):
    """The graph below node ``fn`` as nested (name, children), walked through next_functions."""
    if fn is None:
        return None
    return (fn.name(), [_names(f) for f, _ in fn.next_functions])


def test_next_functions_show_pytorchs_view_of_the_graph():
    w = cr.tensor([2.0], requires_grad=True)
    b = cr.tensor([1.0], requires_grad=True)
    x = cr.tensor([3.0])
    loss = cr.tanh(w * x + b).sum()
    assert loss.grad_fn.name == "Sum" and loss.grad_fn.name() == "SumBackward0"
    acc = ("AccumulateGrad", [])
    assert _names(loss.grad_fn) == (
        "SumBackward0",
        [("TanhBackward0", [("AddBackward0", [("MulBackward0", [acc, None]), acc])])],
    )
    mul = loss.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    assert mul.next_functions[0][0].variable is w and mul.next_functions[1] == (None, 0)
    # a leaf used twice is one node while the walk holds it
    y = w * w
    first, second = y.grad_fn.next_functions
    assert first[0] is second[0]


def test_next_functions_name_each_output_of_a_custom_function():
    class Two(cr.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, a * 3

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2 * 3

    a = cr.tensor([1.0], requires_grad=True)
    u, v = Two.apply(a)
    (nu, iu), (nv, iv) = (u + v).grad_fn.next_functions
    assert nu is nv and (iu, iv) == (0, 1) and nu.name() == "TwoBackward0"


def test_next_functions_after_backward_say_the_graph_was_freed():
    w = cr.tensor([2.0], requires_grad=True)
    loss = (w * 3.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed by backward.*retain_graph=True"):
        _ = loss.grad_fn.next_functions
    kept = (w * 3.0).sum()
    kept.backward(retain_graph=True)
    assert kept.grad_fn.next_functions[0][0].name() == "MulBackward0"
