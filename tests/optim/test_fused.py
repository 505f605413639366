"""The optimisers' compiled loops (numba, the extra ``fast``) give the NumPy update bit for bit,
and the library falls back to NumPy where a loop cannot run (no numba, CHAINRULE_NUMBA=0, an
array that is not C-contiguous, a dtype the loops do not take)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import kernels
from chainrule.optim import _fused

assert kernels.available(), 'numba is part of the test extra: pip install -e ".[test]"'


@pytest.fixture(autouse=True)
def _loops_at_any_size(monkeypatch, request):
    """The loops run for parameters of any size here, but where a test checks the size rule."""
    if "size" not in request.node.name:
        monkeypatch.setattr(kernels, "MIN_SIZE", 0)


CASES = [
    (cr.optim.SGD, dict(lr=0.1)),
    (cr.optim.SGD, dict(lr=0.1, weight_decay=0.1, maximize=True)),
    (cr.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (cr.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (cr.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True, weight_decay=0.1)),
    (cr.optim.Adam, dict(lr=0.01)),
    (cr.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    (cr.optim.AdamW, dict(lr=0.01)),
    (cr.optim.AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.2)),
    (cr.optim.RMSprop, dict(lr=0.01)),
    (cr.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    (cr.optim.Adagrad, dict(lr=0.1)),
    (cr.optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    (cr.optim.NAdam, dict(lr=0.01)),
    (cr.optim.NAdam, dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01, maximize=True)),
    (cr.optim.NAdam, dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True)),
    (cr.optim.RAdam, dict(lr=0.01, betas=(0.9, 0.9))),  # (rectified from step 4: both branches in 6 steps)
    (cr.optim.RAdam, dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    (cr.optim.RAdam, dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.2, decoupled_weight_decay=True)),
    (cr.optim.Adamax, dict(lr=0.01)),
    (cr.optim.Adamax, dict(lr=0.01, weight_decay=0.1, maximize=True)),
    (cr.optim.Adadelta, dict()),
    (cr.optim.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    (cr.optim.Rprop, dict(lr=0.01)),
    (cr.optim.Rprop, dict(lr=0.01, etas=(0.3, 1.7), step_sizes=(5e-3, 0.03), maximize=True)),
    (cr.optim.ASGD, dict(lr=0.01)),
    (cr.optim.ASGD, dict(lr=0.01, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
]


def run(cls, kwargs, dtype, fused, grads=None, steps=6):
    rng = np.random.default_rng(0)
    params = [cr.nn.Parameter(cr.tensor(rng.standard_normal(s), dtype=dtype)) for s in [(40, 30), (7, 5), (5,), ()]]
    opt = cls(params, **kwargs)
    for _ in range(steps):
        for p in params:
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = cr.tensor(grads(g) if grads else g)
        if fused:
            opt.step()
        else:
            with kernels.disable():
                opt.step()
    state = [np.array(v) for s in opt.state_dict()["state"].values() for v in s.values()]
    return [p.numpy().copy() for p in params], state


@pytest.mark.parametrize(("cls", "kwargs"), CASES, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_compiled_loop_gives_the_numpy_update_bit_for_bit(cls, kwargs, dtype):
    fused, fused_state = run(cls, kwargs, dtype, True)
    plain, plain_state = run(cls, kwargs, dtype, False)
    for a, b in zip(fused + fused_state, plain + plain_state):
        np.testing.assert_array_equal(a, b)
    assert fused[0].dtype == np.dtype(dtype)


def test_the_loops_run_when_numba_is_on_for_parameters_of_min_size(monkeypatch):
    calls = []
    loop = _fused.sgd
    monkeypatch.setattr(_fused, "sgd", lambda *a: calls.append(a) or loop(*a))
    w = cr.nn.Parameter(cr.ones(kernels.MIN_SIZE))
    w.grad = cr.ones(kernels.MIN_SIZE)
    cr.optim.SGD([w], lr=0.1).step()
    assert len(calls) == 1
    with kernels.disable():
        cr.optim.SGD([w], lr=0.1).step()
    small = cr.nn.Parameter(cr.ones(kernels.MIN_SIZE - 1))
    small.grad = cr.ones(kernels.MIN_SIZE - 1)
    cr.optim.SGD([small], lr=0.1).step()  # below the size where numba pays: NumPy
    assert len(calls) == 1 and w.numpy()[0] == pytest.approx(0.8) and small.numpy()[0] == pytest.approx(0.9)


def test_nan_and_inf_go_through_as_numpy_has_them():
    def poisoned(g):
        g = g.copy()
        g.flat[0], g.flat[-1] = np.nan, np.inf
        return g

    for cls, kwargs in CASES:
        with np.errstate(invalid="ignore"):  # (NumPy warns where it makes a NaN; a small SGD parameter is NumPy's)
            fused, _ = run(cls, kwargs, "float64", True, grads=poisoned, steps=2)
            plain, _ = run(cls, kwargs, "float64", False, grads=poisoned, steps=2)
        for a, b in zip(fused, plain):
            np.testing.assert_array_equal(a, b)


def test_a_gradient_that_is_not_contiguous_takes_the_numpy_path():
    w = cr.nn.Parameter(cr.tensor(np.arange(12.0).reshape(3, 4)))
    grad = np.ones((4, 3)).T  # Fortran order
    assert not _fused.usable(w.numpy(), grad)
    w.grad = cr.from_numpy(grad)
    cr.optim.Adam([w], lr=0.5).step()
    np.testing.assert_allclose(w.numpy(), np.arange(12.0).reshape(3, 4) - 0.5)


def test_float16_and_integer_parameters_are_not_looped():
    assert not _fused.usable(np.zeros(3, np.float16), np.zeros(3, np.float16))
    assert _fused.usable(np.zeros(3), np.zeros(3)) and not _fused.usable(np.zeros(3), np.zeros(3, np.float32))


@pytest.mark.parametrize("value", ["0", "off"])
def test_chainrule_numba_0_turns_the_loops_off(value):
    code = (
        "import chainrule as cr, sys\n"
        "from chainrule import kernels\n"
        "w = cr.nn.Parameter(cr.tensor([1.0])); w.grad = cr.tensor([1.0])\n"
        "cr.optim.SGD([w], lr=0.5).step()\n"
        "print(kernels.available(), kernels.enabled(), 'numba' in sys.modules, w.tolist())\n"
    )
    env = {**os.environ, kernels.ENV: value}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False", "[0.5]"]


def test_the_loops_are_cached_on_disk_for_the_next_process(tmp_path):
    """A second process loads the compiled optimiser loop and a plan's fused loop from disk."""
    code = (
        "import numpy as np, chainrule as cr\n"
        "from chainrule import kernels\n"
        "from chainrule.optim import _fused\n"
        "kernels.MIN_SIZE = 0\n"
        "m = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 1))\n"
        "opt = cr.optim.Adam(m.parameters())\n"
        "@cr.compile(backend='numba')\n"
        "def step(x):\n"
        "    opt.zero_grad(); loss = (m(x) ** 2).mean(); loss.backward(); opt.step(); return loss\n"
        "for _ in range(3): step(cr.ones(2, 3))\n"
        "k = step.plan.fused[0].fn\n"
        "print(_fused.ADAM.compiled.stats.cache_hits.__len__() > 0, sum(k.stats.cache_hits.values()))\n"
    )
    env = {**os.environ, "CHAINRULE_CACHE": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert first.split()[1] == "0" and second.split() == ["True", "1"]
    assert list((tmp_path / "kernels").glob("chainrule_kernel_*.py"))
    assert list((tmp_path / "kernels" / "__pycache__").glob("*.nbi"))


def test_a_generated_module_is_written_whole_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    source = "import numba\n\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    f = kernels.generated(source, "twice")
    assert f(3) == 6 and kernels.generated(source, "twice") is f
    files = list((tmp_path / "kernels").iterdir())
    assert [p.suffix for p in files if p.is_file()] == [".py"]  # no temporary file left behind


def test_disable_nests_and_is_per_thread():
    import threading

    seen = []
    with kernels.disable():
        with kernels.disable():
            assert not kernels.enabled()
        assert not kernels.enabled()
        t = threading.Thread(target=lambda: seen.append(kernels.enabled()))
        t.start()
        t.join()
    assert kernels.enabled() and seen == [True]


def test_every_optimiser_with_a_loop_is_in_the_cases():
    looped = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"}
    assert {cls.__name__ for cls, _ in CASES} == looped
    assert set(cr.optim.__all__) >= looped
    assert {
        n
        for n in cr.optim.__all__
        if isinstance(getattr(cr.optim, n), type) and issubclass(getattr(cr.optim, n), cr.optim.Optimizer)
    } == looped | {"Optimizer", "LBFGS", "GD"}


def test_import_chainrule_does_not_import_numba():
    """numba (a quarter of a second to import) is imported only when a loop first runs."""
    code = "import sys, chainrule as cr\ncr.nn.Linear(2, 1)(cr.ones(1, 2))\nprint('numba' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
def test_the_new_optimisers_run_their_loop(monkeypatch, name):
    """Each optimiser hands a large parameter to its compiled loop (a loop that is never called
    would pass the bit-for-bit test trivially)."""
    calls = []
    loop = getattr(_fused, name.lower())
    monkeypatch.setattr(_fused, name.lower(), lambda *a: calls.append(a) or loop(*a))
    w = cr.nn.Parameter(cr.ones(50))
    w.grad = cr.ones(50)
    opt = getattr(cr.optim, name)([w])
    opt.step()
    opt.step()
    assert len(calls) == 2 and not np.array_equal(w.numpy(), np.ones(50))


def test_a_sign_flip_in_rprop_is_looped_as_numpy_does():
    """Gradients that flip sign, vanish or repeat exercise each of Rprop's branches in both paths."""
    signs = iter([1.0, 1.0, -1.0, 0.0, 1.0, -1.0])
    fused, fused_state = run(cr.optim.Rprop, dict(lr=0.01), "float64", True, grads=lambda g: g * next(signs, 1.0))
    signs = iter([1.0, 1.0, -1.0, 0.0, 1.0, -1.0])
    plain, plain_state = run(cr.optim.Rprop, dict(lr=0.01), "float64", False, grads=lambda g: g * next(signs, 1.0))
    for a, b in zip(fused + fused_state, plain + plain_state):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (cr.optim.ASGD, dict(lr=0.1)),
        (cr.optim.NAdam, dict(lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)),
        (cr.optim.RAdam, dict(lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)),
    ],
)
def test_a_gradient_sharing_the_parameters_memory_takes_the_numpy_path(cls, kwargs):
    """``p.grad = p.detach()``: the NumPy update shrinks the parameter before it reads the
    gradient (the same memory); the loop would read it first, so these take NumPy's path."""
    results = []
    for fused in (True, False):
        w = cr.nn.Parameter(cr.tensor(np.linspace(-1, 1, 30)))
        opt = cls([w], **kwargs)
        for _ in range(3):
            w.grad = w.detach()
            if fused:
                opt.step()
            else:
                with kernels.disable():
                    opt.step()
        results.append(w.numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])
