"""Adversarial checks of the numba backend (ef321a0): compiled steps with buffers and fused loops
must give what the eager step gives, and the optimisers' compiled loops what their NumPy update
gives (``with chainrule.kernels.disable()``), bit for bit. Each test here failed when written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'


@pytest.fixture(autouse=True)
def _loops_at_any_size(monkeypatch):
    """The optimisers' loops run for parameters of any size here (``kernels.MIN_SIZE``)."""
    monkeypatch.setattr(kernels, "MIN_SIZE", 0)


def _replays(fn, args, calls=4, backend="numba"):
    """``fn`` compiled and called ``calls`` times on ``args`` (the third call onward replays), and
    the same function run eagerly: (compiled results of the last call, eager results)."""
    compiled = cr.compile(fn, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cr.compiler.CompileWarning)  # the step must be replayed
        for _ in range(calls):
            got = compiled(*args)
    assert compiled.stats["replayed"] == calls - 2
    got = [np.array(t.numpy()) for t in (got if isinstance(got, (tuple, list)) else [got])]
    with cr.compiler.disable():
        expected = fn(*args)
    expected = [np.array(t.numpy()) for t in (expected if isinstance(expected, (tuple, list)) else [expected])]
    return got, expected


# ---------------------------------------------------------------- fused loops: 0-d operands
class _ScaleBySaved(cr.Function):
    """``a * k`` whose rule reads the Python number ``k`` back through ``ns.saved``."""

    def forward(self, a, k):
        self.k = k
        return a * k

    def backward(self, ns, grad, a):
        return grad * ns.saved(self, "k")


class _HalfWhole(cr.Function):
    """``a / 2`` whose rule a compiled step calls whole (``traced_rule = False``); on a 0-d input
    NumPy gives the rule's result as a NumPy scalar, not a 0-d array."""

    traced_rule = False

    def forward(self, a):
        return a * 0.5

    def backward(self, ns, grad, a):
        return grad * 0.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fused_loop_takes_a_number_a_custom_rule_reads_through_ns_saved(dtype):
    """A custom op's rule that reads a Python number it saved (``ns.saved(self, "k")``) joins an
    elementwise chain: on replay the value is the Python float itself, which the generated loop
    indexes as a 0-d array (``s0[()]``): numba refuses to compile it (TypingError) instead of the
    step giving the eager gradient."""
    x = cr.tensor(np.linspace(-1, 1, 6), dtype=dtype, requires_grad=True)

    def step(v):
        x.grad = None
        y = _ScaleBySaved.apply(cr.tanh(x * v), k=0.5)
        (y * y).sum().backward()
        return x.grad

    got, expected = _replays(step, (cr.tensor(np.full(6, 1.1), dtype=dtype),))
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[0].dtype == expected[0].dtype


def test_a_fused_loop_takes_the_numpy_scalar_a_whole_rule_returns():
    """A rule called whole (``traced_rule = False``) on a 0-d gradient returns a NumPy scalar; the
    recorder noted it as a 0-d array, and the fused loop of the next rule (MatMul's ``grad * b``
    times tanh's ``1 - y*y``) indexes it with ``[()]``: numba's TypingError on the first replay."""
    x = cr.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    w = cr.tensor(np.linspace(2, 3, 5))

    def step(v):
        x.grad = None
        _HalfWhole.apply(cr.matmul(cr.tanh(x * v), w)).backward()
        return x.grad

    got, expected = _replays(step, (cr.tensor(np.full(5, 1.1)),))
    np.testing.assert_array_equal(got[0], expected[0])


# ---------------------------------------------------------------- fusion: in-place writes
@pytest.mark.parametrize("write", ["zero_", "fill_", "setitem", "grad"])
def test_a_value_written_in_place_after_its_only_read_is_still_computed(write):
    """``a = x * w`` read once (by ``c = a * 2``), then written in place (``a.zero_()``,
    ``a.fill_(3)``, ``a[1] = 5``) or given a ``.grad``: fusion counts the uses of a value in the
    instructions' arguments only, not as the target of a store/fill/setitem/setgrad, so ``a`` is
    computed inside ``c``'s loop and never assigned, and the write raises NameError ('v1')."""
    w = cr.tensor(np.random.default_rng(7).standard_normal(4))

    def step(x):
        a = x * w
        c = a * 2.0
        if write == "zero_":
            a.zero_()
        elif write == "fill_":
            a.fill_(3.0)
        elif write == "setitem":
            a[1] = 5.0
        else:
            a.grad = cr.ones(4, dtype="float64")
        return c

    got, expected = _replays(step, (cr.tensor(np.random.default_rng(1).standard_normal(4)),))
    np.testing.assert_array_equal(got[0], expected[0])


# ---------------------------------------------------------------- buffers: memory order
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_an_argument_in_another_memory_order_at_replay_sums_as_eagerly(backend):
    """Recorded with C-order arguments, replayed with a Fortran-order one of the same shape and
    dtype (the same plan): eagerly each elementwise result follows the argument's memory order and
    the sum adds in that order; the plan's buffers keep the recorded (C) order, so the replayed
    sum rounds differently (float32 loss 1762.8062 vs 1762.8063 eagerly). The plans before the
    buffers (ef321a0^) gave the eager loss bit for bit. Fixed: an argument's strides are part of the
    signature, so the Fortran-order argument is recorded (twice) and replayed by a plan of its own."""
    rng = np.random.default_rng(0)
    w = cr.tensor(rng.standard_normal(1).astype(np.float32), requires_grad=True)

    def step(x):
        w.grad = None
        y = cr.tanh(x * 2.0) * x + x * 0.5
        loss = (y * w).sum()
        loss.backward()
        return loss, w.grad

    compiled = cr.compile(step, backend=backend)
    for k in range(3):  # recorded (and replayed) with C-order arguments
        compiled(cr.tensor(np.random.default_rng(10 + k).standard_normal((64, 300)).astype(np.float32)))
    x = cr.from_numpy(np.asfortranarray(np.random.default_rng(21).standard_normal((64, 300)).astype(np.float32)))
    for _ in range(3):
        got = [t.numpy().copy() for t in compiled(x)]
    assert compiled.stats == {"recorded": 4, "replayed": 2, "eager": 0}
    with cr.compiler.disable():
        expected = [t.numpy().copy() for t in step(x)]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- optimisers' compiled loops
def _train(cls, kwargs, fused, dtype="float32", steps=5, init=None, grad_of=None):
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (5,)]
    params = [
        cr.nn.Parameter(cr.tensor(rng.standard_normal(s) if init is None else init(s), dtype=dtype)) for s in shapes
    ]
    opt = cls(params, **kwargs)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(steps):
            for p in params:
                p.grad = grad_of(p) if grad_of else cr.tensor(rng.standard_normal(p.shape).astype(dtype))
            if fused:
                opt.step()
            else:
                with kernels.disable():
                    opt.step()
    state = [np.array(v) for s in opt.state_dict()["state"].values() for v in s.values()]
    return [p.numpy().copy() for p in params], state


def _assert_same_training(cls, kwargs, **options):
    fused, fused_state = _train(cls, kwargs, True, **options)
    plain, plain_state = _train(cls, kwargs, False, **options)
    for a, b in zip(fused + fused_state, plain + plain_state):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


NUMPY_SCALARS = [
    (cr.optim.SGD, dict(lr=np.float64(0.1))),
    (cr.optim.SGD, dict(lr=0.1, momentum=np.float64(0.9))),
    (cr.optim.Adam, dict(lr=0.01, betas=(np.float64(0.9), np.float64(0.999)))),
    (cr.optim.AdamW, dict(lr=np.float64(0.01), weight_decay=np.float64(0.1))),
    (cr.optim.RMSprop, dict(lr=np.float64(0.01))),
    (cr.optim.RMSprop, dict(lr=0.01, alpha=np.float64(0.9))),
    (cr.optim.Adagrad, dict(lr=np.float64(0.1))),
    (cr.optim.NAdam, dict(lr=np.float64(0.01))),
    (cr.optim.RAdam, dict(lr=0.01, betas=(np.float64(0.9), 0.9))),
    (cr.optim.Adamax, dict(lr=np.float64(0.01))),
    (cr.optim.Adadelta, dict(rho=np.float64(0.8))),
    (cr.optim.Rprop, dict(etas=(np.float64(0.3), 1.7))),
    (cr.optim.ASGD, dict(lr=0.01, lambd=np.float64(0.1))),
]


@pytest.mark.parametrize(
    ("cls", "kwargs"), NUMPY_SCALARS, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(NUMPY_SCALARS)]
)
def test_numpy_float64_hyper_parameters_update_a_float32_parameter_as_numpy_does(cls, kwargs):
    """Hyper-parameters given as NumPy float64 scalars (``lr`` from ``np.logspace``, a grid, a
    config read with NumPy) are accepted, and the NumPy update computes ``buf *= np.float64(0.9)``
    in float64 (a NumPy scalar is not a weak Python number under NEP 50) before rounding into the
    float32 array; the compiled loop first casts every hyper-parameter to float32
    (``np.array(..., dtype=param.dtype)`` in ``_fused``): results differ in the last bit, so a
    float32 run depends on whether numba is installed."""
    _assert_same_training(cls, kwargs)


def test_rmsprop_momentum_that_rounds_to_zero_in_float32_keeps_the_numpy_momentum_buffer():
    """``momentum=1e-46`` (> 0, but 0 as a float32): the NumPy update takes the momentum branch
    (``momentum > 0`` on the Python number) and writes the momentum buffer; the compiled loop
    tests the float32-cast value (``h[4] > 0``), skips it and leaves the buffer at zeros, so the
    optimiser's state differs."""
    _assert_same_training(cls=cr.optim.RMSprop, kwargs=dict(lr=0.01, momentum=1e-46))


@pytest.mark.parametrize("cls", [cr.optim.SGD, cr.optim.Adagrad])
def test_weight_decay_that_rounds_to_zero_in_float32_still_decays_as_numpy_does(cls):
    """``weight_decay=1e-46`` on an infinite float32 parameter: NumPy adds ``param * 1e-46``
    (inf * 0 = nan in float32) because ``weight_decay != 0`` on the Python number; the compiled
    loop's ``_effective`` tests the float32-cast value, finds 0 and skips the decay (inf vs nan)."""
    _assert_same_training(cls, dict(lr=0.1, weight_decay=1e-46), init=lambda s: np.full(s, np.inf))


def test_adamw_with_a_gradient_that_shares_its_parameters_memory():
    """``p.grad = p.detach()`` (the gradient of ||p||^2 / 2, written by hand): AdamW's NumPy update
    shrinks the parameter in place first (``param *= 1 - lr * wd``) and then reads the gradient,
    which is that same memory; the compiled loop reads the gradient's element before writing the
    parameter, so it uses the value before the decay."""
    _assert_same_training(cr.optim.AdamW, dict(lr=0.1, weight_decay=0.5), grad_of=lambda p: p.detach())
