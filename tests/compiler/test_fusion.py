"""What a plan does with a step's arrays: the buffers it keeps (values that never leave the step)
and, with numba, the elementwise chains fused into compiled loops. Both backends must give what
the eager step gives, and nothing a caller keeps may be overwritten by a later replay."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import kernels
from chainrule.compiler import fusion

from .test_compile import assert_same_run, batches, train

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'


def _mlp_step(backend="numba", dtype="float32"):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8, dtype=dtype), nn.ReLU(), nn.Linear(8, 3, dtype=dtype))
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, cr.compile(step, backend=backend)


def _data(n=10, rows=5, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    return [
        (cr.tensor(rng.standard_normal((rows, 6)), dtype=dtype), cr.tensor(rng.integers(0, 3, rows))) for _ in range(n)
    ]


def test_the_plan_shows_its_fused_loops_and_buffers():
    _, step = _mlp_step()
    for x, y in _data(3):
        step(x, y)
    text = str(step.plan)
    assert step.plan.fused and "fused loop (numba): x0 * (x1 > 0)" in text  # ReLU's gradient, one loop
    assert "# fused: " in text and "= buffer (5, 8) float32" in text
    assert "def kernel(" in step.plan.fused[0].source and "numba.njit(cache=True" in step.plan.fused[0].source
    assert ".forward_into(B[" in step.plan.source  # the hidden Linear writes its output into a kept buffer
    # the loss's gradient seed (1, scaled by 1/N for the mean) is computed once, not on each replay
    assert step.plan.folded >= 1 and f"{step.plan.folded} folded into constants" in text


def test_the_numpy_backend_keeps_buffers_and_fuses_nothing():
    _, step = _mlp_step(backend="numpy")
    for x, y in _data(3):
        step(x, y)
    assert not step.plan.fused and step.plan.buffered
    assert "out=B[" in step.plan.source and "fused loop (numba)" not in str(step.plan)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("model_name", ["mlp", "cnn1d", "cnn2d", "gru"])
def test_both_backends_train_as_the_eager_steps_do(model_name, backend, monkeypatch):
    original = cr.compile
    monkeypatch.setattr(cr, "compile", lambda fn: original(fn, backend=backend))
    for dtype in ("float32", "float64"):
        data = batches(dtype)
        eager = train(model_name, "adam", dtype, False, data)
        compiled = train(model_name, "adam", dtype, True, data)
        assert_same_run(eager, compiled, dtype)
        assert compiled[3].stats["replayed"] == len(data) - 2
        assert bool(compiled[3].plan.fused) == (backend == "numba")


def test_a_backend_that_is_not_known_or_not_installed_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="backend must be 'auto', 'numba' or 'numpy'"):
        cr.compile(lambda x: x, backend="jit")
    monkeypatch.setattr(kernels, "_found", False)
    with pytest.raises(ValueError, match=r'pip install "chainrule\[fast\]"'):
        cr.compile(lambda x: x, backend="numba")
    assert cr.compile(lambda x: x).backend == "auto"  # auto runs without numba: NumPy only


def test_auto_fuses_large_chains_only_and_nothing_inside_kernels_disable():
    _, step = _mlp_step(backend="auto")
    for x, y in _data(3):
        step(x, y)
    assert not step.plan.fused and step.plan.buffered  # (5, 8) values: below kernels.MIN_SIZE
    _, step = _mlp_step(backend="auto")
    rows = -(-kernels.MIN_SIZE // 8)  # hidden values of rows x 8 >= MIN_SIZE numbers
    for x, y in _data(3, rows=rows):
        step(x, y)
    assert step.plan.fused
    _, step = _mlp_step(backend="auto")
    with kernels.disable():
        for x, y in _data(3):
            step(x, y)
    assert not step.plan.fused and step.plan.buffered


def test_what_a_caller_keeps_is_never_overwritten_by_a_later_replay():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))

    @cr.compile
    def step(x):
        for p in model.parameters():
            p.grad = None
        h = model(x)
        loss = (h * h).sum()
        loss.backward()
        return loss, h, [p.grad for p in model.parameters()]

    kept = []
    for x, _ in _data(6):
        out = step(x)
        kept.append((out[0].item(), out[1].numpy().copy(), out, [g.numpy().copy() for g in out[2]]))
    assert step.stats["replayed"] == 4 and step.plan.buffered
    for loss, h, out, grads in kept:  # each call's results, read after every later call
        assert out[0].item() == loss and np.array_equal(out[1].numpy(), h)
        assert all(np.array_equal(g.numpy(), k) for g, k in zip(out[2], grads))


def test_a_replay_while_the_buffers_are_in_use_gets_its_own():
    data = _data(5, dtype="float64")
    eager_model, eager_step = _mlp_step(dtype="float64")
    model, step = _mlp_step(dtype="float64")
    for k, (x, y) in enumerate(data):
        with cr.compiler.disable():
            eager_step(x, y)
        if k >= 3:
            with step.plan._lock:  # another thread (or this one, nested) is writing into the plan's buffers
                step(x, y)
        else:
            step(x, y)
    assert step.stats["replayed"] == 3
    for a, b in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_threads_replaying_one_plan_get_the_eager_results():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32, dtype="float64"), nn.ReLU(), nn.Linear(32, 3, dtype="float64"))

    @cr.compile
    def grads(x):
        for p in model.parameters():
            p.grad = None
        (model(x) ** 2).sum().backward()
        return [p.grad for p in model.parameters()]

    def eager(x):
        with cr.compiler.disable():
            return [g.numpy().copy() for g in grads(x)]

    xs = [cr.tensor(np.random.default_rng(s).standard_normal((64, 6))) for s in range(8)]
    for x in xs[:3]:
        grads(x)  # recorded twice, then a plan
    expected = [eager(x) for x in xs]
    got: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(k):
        try:
            for _ in range(20):
                got[k] = [g.numpy().copy() for g in grads(xs[k])]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    # (each thread's .grad is set to None and written by its own replay; the grads a replay
    # returns are its own arrays, computed from its own input, which shared buffers would break)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(len(xs)):
        for a, b in zip(got[k], expected[k]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_non_contiguous_argument_is_read_right_by_a_fused_loop():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6, dtype="float64"), nn.ReLU(), nn.Linear(6, 2, dtype="float64"))

    def grads(x):
        for p in model.parameters():
            p.grad = None
        y = model(x)
        (y * x[:, :2] * 0.5 + y).sum().backward()
        return [p.grad for p in model.parameters()]

    compiled = cr.compile(grads, backend="numba")
    rng = np.random.default_rng(3)
    for _ in range(3):
        compiled(cr.tensor(rng.standard_normal((6, 6))))
    assert compiled.plan.fused
    x = cr.from_numpy(rng.standard_normal((6, 6)).T)  # same shape, Fortran order
    assert not x.numpy().flags.c_contiguous
    got = [g.numpy().copy() for g in compiled(x)]
    for a, b in zip(got, grads(x)):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-13, atol=1e-15)


def test_a_division_by_zero_in_a_fused_loop_gives_inf_as_numpy_does():
    x = cr.tensor([0.0, 1.0, 2.0], requires_grad=True)

    def grads(v):
        x.grad = None
        (cr.log(x * v) * 3.0).sum().backward()
        return x.grad

    compiled = cr.compile(grads, backend="numba")
    with np.errstate(divide="ignore", invalid="ignore"):
        results = [compiled(cr.tensor([1.0, 2.0, 3.0])).numpy().copy() for _ in range(4)]
        eager = grads(cr.tensor([1.0, 2.0, 3.0])).numpy()
    assert compiled.stats["replayed"] == 2
    np.testing.assert_array_equal(results[-1], eager)
    assert np.isinf(eager[0])


def test_a_float32_chain_computes_in_float32_as_numpy_does():
    """A Python number meets a float32 array in float32 (NumPy's rule): the fused loop casts it."""
    x = cr.tensor(np.linspace(-2, 2, 101, dtype=np.float32), requires_grad=True)

    def grads(v):
        x.grad = None
        (cr.tanh(x * v) * 0.1 + cr.sigmoid(x) * 0.3).sum().backward()
        return x.grad

    v = cr.tensor(np.full(101, 1.1, dtype=np.float32))
    compiled = cr.compile(grads, backend="numba")
    results = [compiled(v).numpy().copy() for _ in range(3)]
    assert compiled.plan.fused and results[-1].dtype == np.float32
    np.testing.assert_allclose(results[-1], grads(v).numpy(), rtol=2e-7, atol=1e-8)


def test_buffers_keep_the_recorded_memory_order():
    """A ufunc's output follows its input's memory order, and a reduction's rounding follows that:
    a buffer has the recorded array's strides, so the replay sums in the eager order."""
    spec = ((2, 3, 4), np.dtype(np.float32), (4, 32, 8))  # axes 0 and 1 swapped in memory
    a = fusion.allocate(spec)
    assert a.shape == (2, 3, 4) and a.strides == (4, 32, 8)
    assert fusion.allocate(((3, 4), np.dtype(np.float64), (0, 8))) is None  # a broadcast view: no dense array has it


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_relu_reads_a_constant_array_laid_out_as_its_input_and_gives_the_eager_values(backend):
    """NumPy's maximum with a number is 3-4x slower than with an array laid out as the other
    operand: the plan gives ReLU a kept zeros array in its input's memory order (a convolution's
    output is channels-last), and the values stay the eager ones bit for bit (NaN, -0.0 included)."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8, 3), nn.ReLU())

    def forward(x):
        return model(x) * 1.0

    step = cr.compile(forward, backend=backend)
    x = cr.randn(5, 2, 10)
    x._data[0, 0, :4] = [np.nan, -0.0, 0.0, -np.inf]  # (NaN stays NaN, -0.0 and 0.0 give 0.0)
    with cr.no_grad(), np.errstate(invalid="ignore"):  # (the NaN reaches a GEMM)
        eager = forward(x).numpy()
        for _ in range(3):
            out = step(x).numpy()
    np.testing.assert_array_equal(out, eager)
    assert np.array_equal(np.signbit(out), np.signbit(eager))
    constants = [v for v in step.plan.scope.values() if isinstance(v, np.ndarray) and v.ndim == 3]
    assert constants and all(not c.flags.writeable and not c.any() for c in constants)
    conv_out = model[0](x)._data
    assert constants[0].strides == conv_out.strides  # (channels-last, as the convolution's output)
