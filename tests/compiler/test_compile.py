"""cr.compile: 50 compiled training steps give what 50 eager steps give, for every layer family
and optimiser, with a scheduler changing the learning rate every step, dropout, clipping and
BatchNorm; re-recording on a new batch size and on every change a plan assumes; the cases that
run eagerly (with one warning) instead of being replayed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.compiler import CompileWarning
from chainrule.random import default_generator

STEPS = 50


def mlp(dtype):
    return nn.Sequential(
        nn.Linear(12, 16, dtype=dtype), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 16, dtype=dtype), nn.Tanh(),
        nn.Linear(16, 3, dtype=dtype),
    )  # fmt: skip


def cnn1d(dtype):
    return nn.Sequential(
        _Reshape((1, 12)),
        nn.Conv1d(1, 4, 3, padding=1, dtype=dtype), nn.BatchNorm1d(4, dtype=dtype), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(4, 4, 3, stride=2, dtype=dtype), nn.ReLU(), nn.Flatten(), nn.Dropout(0.1),
        nn.Linear(8, 3, dtype=dtype),
    )  # fmt: skip


def cnn2d(dtype):
    return nn.Sequential(
        _Reshape((1, 4, 3)),
        nn.Conv2d(1, 3, 3, padding=1, dtype=dtype), nn.BatchNorm2d(3, dtype=dtype), nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True), nn.Dropout2d(0.2), nn.Conv2d(3, 2, 1, dtype=dtype), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(2, 3, dtype=dtype),
    )  # fmt: skip


def activations(dtype):
    return nn.Sequential(
        nn.Linear(12, 16, dtype=dtype), nn.SiLU(), nn.Linear(16, 16, dtype=dtype), nn.Hardswish(),
        nn.PReLU(16, dtype=dtype), nn.Mish(), nn.Softshrink(0.1), nn.Linear(16, 16, dtype=dtype),
        nn.SELU(inplace=True), nn.CELU(0.5), nn.Hardtanh(-1.5, 1.5), nn.GLU(), nn.Linear(8, 3, dtype=dtype),
    )  # fmt: skip


class _Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape((x.shape[0], *self.shape))


class _Recurrent(nn.Module):
    def __init__(self, kind, dtype):
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(2, 5, num_layers=2, batch_first=True, bidirectional=True, dropout=0.2, dtype=dtype)
        self.out = nn.Linear(10, 3, dtype=dtype)

    def forward(self, x):
        seq, _ = self.rnn(x.reshape((x.shape[0], 6, 2)))
        return self.out(seq[:, -1])


MODELS = {
    "mlp": mlp,
    "cnn1d": cnn1d,
    "cnn2d": cnn2d,
    "activations": activations,
    "rnn": lambda dtype: _Recurrent("rnn", dtype),
    "lstm": lambda dtype: _Recurrent("lstm", dtype),
    "gru": lambda dtype: _Recurrent("gru", dtype),
}

OPTIMIZERS = {
    "sgd": lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: cr.optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: cr.optim.AdamW(ps, lr=0.01),
    "rmsprop": lambda ps: cr.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda ps: cr.optim.Adagrad(ps, lr=0.05),
    "nadam": lambda ps: cr.optim.NAdam(ps, lr=0.01, weight_decay=1e-3, decoupled_weight_decay=True),
    "radam": lambda ps: cr.optim.RAdam(ps, lr=0.01, betas=(0.9, 0.9)),
    "adamax": lambda ps: cr.optim.Adamax(ps, lr=0.01),
    "adadelta": lambda ps: cr.optim.Adadelta(ps),
    "rprop": lambda ps: cr.optim.Rprop(ps, lr=0.01),
    "asgd": lambda ps: cr.optim.ASGD(ps, lr=0.05, t0=2),
}


def batches(dtype, sizes=(8,) * STEPS, seed=1):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal((n, 12)), dtype=dtype), cr.tensor(rng.integers(0, 3, n))) for n in sizes]


def train(model_name, opt_name, dtype, compiled, data, scheduler_inside=True):
    cr.manual_seed(0)
    model = MODELS[model_name](dtype)
    opt = OPTIMIZERS[opt_name](model.parameters())
    sched = cr.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1.0 + 0.05 * epoch))

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if scheduler_inside:
            sched.step()
        return loss

    fn = cr.compile(step) if compiled else step
    losses = []
    for x, y in data:
        losses.append(fn(x, y).item())
        if not scheduler_inside:
            sched.step()
    state = [np.array(v) for v in model.state_dict().values()]
    return losses, state, default_generator().bit_generator.state, fn


def assert_same_run(eager, compiled, dtype):
    rtol = 1e-12 if dtype == "float64" else 1e-5  # (relative, with no absolute term: the tolerances)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=rtol, atol=0)
    for a, b in zip(eager[1], compiled[1]):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=0)
    assert compiled[2] == eager[2]  # the random state: the same dropout masks were drawn


def run_steps(step, model, data, compiled):
    """``step`` on each tuple of arguments in ``data``, compiled or eagerly: the losses, ``model``'s
    state, the random state and the function (what ``assert_same_run`` compares)."""
    fn = cr.compile(step) if compiled else step
    losses = [fn(*args).item() for args in data]
    state = [np.array(v) for v in model.state_dict().values()]
    return losses, state, default_generator().bit_generator.state, fn


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_steps_match_eager_steps(model_name, dtype):
    data = batches(dtype)
    eager = train(model_name, "sgd", dtype, False, data)
    compiled = train(model_name, "sgd", dtype, True, data)
    assert_same_run(eager, compiled, dtype)
    assert compiled[3].stats == {"recorded": 2, "replayed": STEPS - 2, "eager": 0}


@pytest.mark.parametrize("opt_name", [o for o in OPTIMIZERS if o != "sgd"])
@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_optimizer_on_every_model_with_a_scheduler(model_name, opt_name, dtype):
    """Every optimiser on every model, in both dtypes: float64 with the scheduler stepped inside the
    compiled step, float32 with it stepped outside (the test above does SGD both ways)."""
    data = batches(dtype)
    inside = dtype == "float64"
    eager = train(model_name, opt_name, dtype, False, data, scheduler_inside=inside)
    compiled = train(model_name, opt_name, dtype, True, data, scheduler_inside=inside)
    assert_same_run(eager, compiled, dtype)
    assert compiled[3].stats == {"recorded": 2, "replayed": STEPS - 2, "eager": 0}


PER_BATCH_SCHEDULES = {
    "OneCycleLR": lambda opt: cr.optim.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS, three_phase=True),
    "CyclicLR": lambda opt: cr.optim.CyclicLR(opt, 0.001, 0.05, step_size_up=7, mode="triangular2"),
    "SequentialLR": lambda opt: cr.optim.SequentialLR(
        opt,
        [cr.optim.LinearLR(opt, 0.1, total_iters=5), cr.optim.CosineAnnealingWarmRestarts(opt, T_0=6, T_mult=2)],
        milestones=[5],
    ),  # fmt: skip
}


def train_with_schedule(opt_name, make_sched, compiled, data):
    """train()'s MLP in float64 with a per-batch schedule stepped inside the step; also returns the
    rate and momentum (or betas) of every group after every step."""
    cr.manual_seed(0)
    model = MODELS["mlp"]("float64")
    opt = OPTIMIZERS[opt_name](model.parameters())
    sched = make_sched(opt)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss

    fn = cr.compile(step) if compiled else step
    losses, hypers = [], []
    for x, y in data:
        losses.append(fn(x, y).item())
        hypers.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
    state = [np.array(v) for v in model.state_dict().values()]
    return losses, state, default_generator().bit_generator.state, fn, hypers


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("sched_name", PER_BATCH_SCHEDULES)
def test_a_per_batch_schedule_inside_the_step_is_called_live_on_each_replay(sched_name, opt_name):
    """OneCycleLR and CyclicLR change the rate and the momentum (Adam's beta1) at every step; the
    replayed plan calls their step() live, so the compiled run is the eager run."""
    data = batches("float64")
    eager = train_with_schedule(opt_name, PER_BATCH_SCHEDULES[sched_name], False, data)
    compiled = train_with_schedule(opt_name, PER_BATCH_SCHEDULES[sched_name], True, data)
    assert_same_run(eager[:3], compiled[:3], "float64")
    assert compiled[4] == eager[4]  # the same rates and momenta, step by step
    rates = [h[0][0] for h in compiled[4]]
    assert sum(a != b for a, b in zip(rates, rates[1:])) > STEPS // 2  # (the rate changed at most steps)
    assert compiled[3].stats == {"recorded": 2, "replayed": STEPS - 2, "eager": 0}


def test_a_short_last_batch_records_its_own_plan():
    sizes = ([8] * 9 + [3]) * 3  # three epochs of 75 samples in batches of 8
    data = batches("float32", sizes)
    eager = train("mlp", "adam", "float32", False, data)
    compiled = train("mlp", "adam", "float32", True, data)
    assert_same_run(eager, compiled, "float32")
    assert compiled[3].stats == {"recorded": 2 + 2, "replayed": 30 - 4, "eager": 0}  # 8 rows and 3 rows


def test_the_plan_reads_as_code():
    _, _, _, step = train("mlp", "sgd", "float32", True, batches("float32", [8] * 3))
    text = str(step.plan)
    assert text.startswith("# 7 forward ops, ") and "\ndef plan(args, B):\n" in text
    for what in ("# Linear", "# Relu", "# Dropout", "(gradient)", "# into .grad", "# Optimizer.step"):
        assert what in text, what
    assert "Parameter 0.weight (16, 12) float32" in text  # the legend names the model's parameters
    assert "forward ops" in repr(step.plan)


# ------------------------------------------------------------------ what makes a plan record again


def _simple():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    @cr.compile
    def step(x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def _calls(step, n=3, rows=5):
    rng = np.random.default_rng(len(step.stats) + step.stats["recorded"])
    for _ in range(n):
        step(cr.tensor(rng.standard_normal((rows, 3))))


def test_train_and_eval_modes_keep_a_plan_each():
    model, _, step = _simple()
    _calls(step)
    model.eval()
    _calls(step)
    model.train()
    _calls(step)
    assert step.stats == {"recorded": 4, "replayed": 5, "eager": 0}
    assert "Dropout" in str(step.plan)


@pytest.mark.parametrize(
    "change",
    [
        lambda model, opt: setattr(model[0], "weight", nn.Parameter(np.ones((4, 3), np.float32))),  # replaced
        lambda model, opt: model.add_module("extra", nn.ReLU()),  # a module added
        lambda model, opt: setattr(model[2].bias, "data", cr.zeros(2)),  # a new shape
        lambda model, opt: opt.add_param_group({"params": [nn.Parameter(np.ones(2, np.float32))]}),
        lambda model, opt: model[2].weight.requires_grad_(False),  # frozen
        lambda model, opt: setattr(model[1], "p", 0.0),  # a module's setting
    ],
    ids=["parameter replaced", "module added", "new shape", "param group added", "frozen", "setting"],
)
def test_a_change_the_plan_assumed_makes_it_record_again(change):
    model, opt, step = _simple()
    _calls(step)
    change(model, opt)
    if model[2].bias.shape == (2,):
        with pytest.raises(ValueError):  # recorded again, eagerly: the new shape does not fit
            _calls(step, n=1)
        return
    _calls(step, n=1)
    assert step.stats["recorded"] == 3  # recorded again, eagerly, with what changed
    if not model[2].weight.requires_grad:
        assert model[2].weight.grad is None  # frozen: no old plan wrote its gradient


def test_data_assigned_with_the_same_shape_is_read_live():
    model = nn.Linear(3, 1)
    forward = cr.compile(model)
    x = cr.ones(2, 3)
    with cr.no_grad():
        for _ in range(3):
            forward(x)
        model.bias.data = cr.tensor([5.0])
        out = forward(x)
        assert forward.stats == {"recorded": 2, "replayed": 2, "eager": 0}
        np.testing.assert_array_equal(out.numpy(), model(x).numpy())


def test_a_replaced_parameter_is_the_one_trained():
    model, _, step = _simple()
    _calls(step)
    old = model[0].weight
    new = nn.Parameter(np.ones((4, 3), np.float32))
    model[0].weight = new
    opt = cr.optim.SGD(model.parameters(), lr=0.1)  # noqa: F841  (the step's optimiser still holds the old one)
    before_old, before_new = old.numpy().copy(), new.numpy().copy()
    _calls(step, n=4)
    assert step.stats["recorded"] == 4
    # as in PyTorch: the step's optimiser holds the old weight, which gets no gradient now and is
    # not updated; the new one gets a gradient, and no optimiser updates it
    assert old.grad is None and np.array_equal(old.numpy(), before_old)
    assert new.grad is not None and np.array_equal(new.numpy(), before_new)


# ------------------------------------------------------------------ what runs eagerly, and says so


@pytest.mark.parametrize(
    "body, reason",
    [
        (lambda loss: loss if loss.item() > 0 else -loss, "Tensor.item()"),
        (lambda loss: loss if loss.numpy() > 0 else -loss, "Tensor.numpy()"),
        (lambda loss: loss if loss > 0 else -loss, "a branch on a tensor"),
        (lambda loss: print(loss) or loss, "printing a tensor"),
        (lambda loss: loss * cr.tensor(np.random.rand()), "draws numbers from np.random"),
    ],
    ids=["item", "numpy", "branch", "print", "numpy random"],
)
def test_a_step_that_reads_values_runs_eagerly_with_one_warning(body, reason, capsys):
    w = cr.tensor([1.0, -2.0], requires_grad=True)

    @cr.compile
    def step(x):
        loss = body((w * x).sum())
        loss.backward()
        return loss

    results = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(5):
            w.grad = None
            x = cr.tensor([1.0 + i, 2.0])
            results.append(step(x).item())
            assert w.grad is not None and np.isfinite(w.grad.numpy()).all()
            if "random" not in reason:  # the gradient is +-x
                assert np.allclose(np.abs(w.grad.numpy()), [1.0 + i, 2.0])
    messages = [str(c.message) for c in caught if issubclass(c.category, CompileWarning)]
    assert len(messages) == 1 and reason in messages[0] and "runs eagerly" in messages[0]
    assert step.stats["replayed"] == 0
    assert step.stats["eager"] >= 3


def test_a_draw_from_pythons_random_says_another_thread_may_have_drawn_when_there_are_threads():
    import random
    import threading

    w = cr.tensor([1.0], requires_grad=True)
    step = cr.compile(lambda x: ((w * x).sum() * random.random()).backward())
    messages, others = {}, {}
    for threads in (0, 1):
        release = threading.Event()
        waiting = [threading.Thread(target=release.wait) for _ in range(threads)]
        for t in waiting:
            t.start()
        try:
            others[threads] = threading.active_count() - 1  # (earlier tests may have left some: tqdm's monitor)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step.reset()
                step(cr.tensor([2.0]))
        finally:
            release.set()
            for t in waiting:
                t.join()
        messages[threads] = [str(c.message) for c in caught if issubclass(c.category, CompileWarning)]
    plain = "draws numbers from Python's random module, which a plan would not draw again"
    if others[0] == 0:
        assert messages[0][0].endswith(plain)
    assert plain in messages[1][0]
    assert f"or one of the other {others[1]} threads of this process drew from it" in messages[1][0]


def test_a_pytorch_form_function_and_forward_hooks_run_eagerly():
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    w = cr.tensor([1.0], requires_grad=True)
    step = cr.compile(lambda x: Double.apply(w * x).sum().backward())
    with pytest.warns(CompileWarning, match="custom Function Double in PyTorch's form"):
        for i in range(3):
            step(cr.tensor([float(i)]))
    assert w.grad.item() == 2 * (0 + 1 + 2)

    model = nn.Linear(1, 1)
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(1))
    forward = cr.compile(model)
    with pytest.warns(CompileWarning, match="has hooks"), cr.no_grad():
        for i in range(4):
            forward(cr.tensor([[float(i)]]))
    assert len(seen) == 4  # every call ran the hook


def test_a_forward_whose_graph_is_returned_runs_eagerly_and_compiles_under_no_grad():
    model = nn.Linear(2, 1)
    forward = cr.compile(model)
    with pytest.warns(CompileWarning, match="graph is still there"):
        out = forward(cr.ones(3, 2))
    out.sum().backward()  # the caller's backward works: the call was eager
    assert model.weight.grad is not None
    with cr.no_grad():
        for i in range(4):
            y = forward(cr.full((3, 2), float(i)))
    expected = model(cr.full((3, 2), 3.0))
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    assert forward.stats["replayed"] == 2


def test_inputs_that_stay_the_same_are_checked_before_each_replay():
    # full-batch training: the same data every call, so two recordings cannot tell a constant
    # computed from the data from a true constant; new data is recorded and compared again
    w = cr.tensor([1.0, 1.0], requires_grad=True)

    @cr.compile
    def step(x):
        signs = cr.tensor(np.sign(np.asarray(x._data)))  # NumPy on the data: a constant in a plan
        loss = (w * x * signs).sum()
        loss.backward()
        return loss

    x = cr.tensor([1.0, -2.0])
    for _ in range(3):
        assert step(x).item() == 3.0
    assert step.stats["replayed"] == 1
    with pytest.warns(CompileWarning, match="differs from one call to the next"):
        assert step(cr.tensor([-1.0, -2.0])).item() == 3.0  # eager, right
    assert step(cr.tensor([-4.0, 2.0])).item() == 6.0


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="expected a function or a Module, got int"):
        cr.compile(3)
    with pytest.raises(ValueError, match="cache_size must be a positive integer, got 0"):
        cr.compile(lambda: None, cache_size=0)


def test_the_cache_keeps_cache_size_signatures():
    w = cr.tensor([1.0], requires_grad=True)
    step = cr.compile(lambda x: (w * x).sum(), cache_size=2)
    with cr.no_grad():
        for n in (1, 2, 3, 1):  # 1 was dropped when 3 came
            for _ in range(2):
                step(cr.ones(n))
    assert step.stats["recorded"] == 8


def test_a_module_made_inside_the_step_runs_it_eagerly():
    x = cr.ones(2, 3)
    step = cr.compile(lambda x: nn.Linear(3, 1)(x).sum().backward())  # new random weights each call
    with pytest.warns(CompileWarning, match=r"creates or changes the modules it calls \(Linear\.in_features = ...\)"):
        for _ in range(3):
            step(x)
    assert step.stats["replayed"] == 0


def test_modules_made_elsewhere_leave_the_plans_alone():
    model, _, step = _simple()
    _calls(step)
    nn.Sequential(nn.Linear(3, 3), nn.ReLU())  # another model, built while this one trains
    _calls(step, n=2)
    assert step.stats == {"recorded": 2, "replayed": 3, "eager": 0}


def test_a_compiled_step_with_pytorchs_other_losses_replays_as_eagerly():
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.SiLU(), nn.Linear(8, 4)).to("float64")
        opt = cr.optim.SGD(model.parameters(), lr=0.05)
        signs = cr.tensor([1.0, -1.0] * 4, dtype="float64")

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = (
                F.kl_div(F.log_softmax(out, 1), F.softmax(y, 1), reduction="batchmean")
                + F.triplet_margin_loss(out[:4], out[4:], y[:4], swap=True)
                + F.gaussian_nll_loss(out, y, F.softplus(out) + 0.1)
                + F.poisson_nll_loss(out, cr.abs(y), full=True)
                + F.cosine_embedding_loss(out, y, signs)
                + F.margin_ranking_loss(out[:, 0], out[:, 1], signs, 0.1)
                + F.hinge_embedding_loss(cr.abs(out), signs[:, None] * cr.ones(8, 4, dtype="float64"))
                + F.soft_margin_loss(out, cr.sign(y))
            )
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(1)
        data = [(cr.tensor(rng.standard_normal((8, 6))), cr.tensor(rng.standard_normal((8, 4)))) for _ in range(6)]
        return run_steps(step, model, data, compiled)

    eager, compiled = run(False), run(True)
    assert_same_run(eager, compiled, "float64")
    assert compiled[3].stats == {"recorded": 2, "replayed": 4, "eager": 0}


def test_a_compiled_step_with_group_instance_and_layer_norms_replays_as_eagerly():
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(
            nn.Conv1d(3, 6, 3), nn.GroupNorm(3, 6), nn.LogSigmoid(),
            nn.InstanceNorm1d(6, affine=True, track_running_stats=True, momentum=0.2),
            nn.Flatten(), nn.Linear(24, 8), nn.LayerNorm(8, bias=False),
        ).to("float64")  # fmt: skip
        opt = cr.optim.SGD(model.parameters(), lr=0.05)
        cos = nn.CosineSimilarity()

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = (1.0 - cos(out, y)).mean() + F.mse_loss(F.normalize(out), F.normalize(y, p=1.0))
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(1)
        data = [(cr.tensor(rng.standard_normal((5, 3, 6))), cr.tensor(rng.standard_normal((5, 8)))) for _ in range(6)]
        return run_steps(step, model, data, compiled)

    eager, compiled = run(False), run(True)
    assert len(eager[1]) == len(compiled[1]) == 12 and np.abs(eager[1][9]).min() > 0  # running mean moved
    assert_same_run(eager, compiled, "float64")
    assert compiled[3].stats == {"recorded": 2, "replayed": 4, "eager": 0}


def test_a_compiled_step_with_parameter_containers_padding_and_unflatten_replays_as_eagerly():
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Module()
        model.ws = nn.ParameterList([nn.Parameter(cr.randn(6, 6, dtype="float64") * 0.5) for _ in range(2)])
        model.extra = nn.ParameterDict({"scale": nn.Parameter(cr.ones(1, 2, 3, dtype="float64"))})
        layers = nn.Sequential(nn.Unflatten(1, (2, 3)), nn.ZeroPad1d((1, 0)), nn.ConstantPad1d((0, -1), 0.5))
        opt = cr.optim.Adam(model.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            for w in model.ws:
                x = cr.tanh(x @ w)
            out = layers(x) * F.pad(model.extra["scale"], (1, 1, 0, 0), mode="replicate")[..., 1:-1]
            loss = F.mse_loss(F.pad(out, (1, 1), mode="reflect"), y)
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(1)
        data = [(cr.tensor(rng.standard_normal((4, 6))), cr.tensor(rng.standard_normal((4, 2, 5)))) for _ in range(6)]
        return run_steps(step, model, data, compiled)

    eager, compiled = run(False), run(True)
    assert_same_run(eager, compiled, "float64")
    assert compiled[3].stats == {"recorded": 2, "replayed": 4, "eager": 0}


def test_a_compiled_step_with_multihead_attention_and_masks_replays_as_eagerly():
    def run(compiled):
        cr.manual_seed(0)
        attn = nn.MultiheadAttention(8, 2, batch_first=True, dtype="float64")
        head = nn.Linear(8, 1, dtype="float64")
        opt = cr.optim.Adam([*attn.parameters(), *head.parameters()], lr=0.01)
        causal = cr.tensor(np.triu(np.ones((5, 5), bool), 1))

        def step(x, y, pad):
            opt.zero_grad()
            out, w = attn(x, x, x, key_padding_mask=pad, attn_mask=causal)
            loss = F.mse_loss(head(out).sum(dim=1), y) + (w * w).mean()
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(1)
        data = [
            (
                cr.tensor(rng.standard_normal((4, 5, 8))),
                cr.tensor(rng.standard_normal((4, 1))),
                cr.tensor((rng.random((4, 5)) > 0.6) & (np.arange(5) > 0)),  # a new padding mask each step
            )
            for _ in range(6)
        ]
        return run_steps(step, attn, data, compiled)

    eager, compiled = run(False), run(True)
    assert_same_run(eager, compiled, "float64")
    assert compiled[3].stats == {"recorded": 2, "replayed": 4, "eager": 0}


def test_random_numbers_drawn_inside_the_step_are_drawn_anew_by_each_replay():
    """cr.randn_like, cr.rand, cr.randint and cr.randperm inside a step (noise on the inputs, a
    VAE's reparameterisation) are replayed as draws from chainrule's generator: 50 compiled steps
    give the eager losses, weights and random state, and a draw whose value is not used still
    advances the state (it was folded into a constant of the plan, or left out, before)."""

    def run(compiled):
        cr.manual_seed(0)
        model = mlp("float64")
        opt = cr.optim.SGD(model.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            noisy = x + 0.1 * cr.randn_like(x) + 0.01 * cr.rand(x.shape, dtype=x.dtype)
            order = cr.randperm(x.shape[0])
            cr.randn(3)  # (not used: still drawn)
            shift = cr.randint(0, 2, (1,)).to(x.dtype)
            loss = F.cross_entropy(model(noisy[order] + shift), y[order])
            loss.backward()
            opt.step()
            return loss

        return run_steps(step, model, batches("float64"), compiled)

    eager, compiled = run(False), run(True)
    assert_same_run(eager, compiled, "float64")
    assert compiled[3].stats == {"recorded": 2, "replayed": STEPS - 2, "eager": 0}
