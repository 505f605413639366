"""cr.compile against eager, adversarially: each test runs the same step eagerly and compiled from
the same state (at least five calls, the inputs changing from call to call) and asks for the same
results, or for the step to run eagerly. The bugs these tests pin give a silently different result
(or a needless fall-back with a misleading warning); the last tests pin behaviour that is right."""

from __future__ import annotations

import functools
import warnings

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.compiler import CompileWarning


def _arrays(obj):
    if isinstance(obj, cr.Tensor):
        return [obj.numpy().copy()]
    if isinstance(obj, (list, tuple)):
        return [a for o in obj for a in _arrays(o)]
    if isinstance(obj, np.ndarray):
        return [obj.copy()]
    return [obj]


def _same(a, b):
    a, b = _arrays(a), _arrays(b)
    return len(a) == len(b) and all(
        np.array_equal(x, y, equal_nan=True) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b)
    )


def _eager_and_compiled(make, batches):
    """``make()`` -> (step, state): the results and final state of the step run eagerly and compiled."""
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        step, state = make()
        fn = cr.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CompileWarning)
            outs = [fn(*b) for b in batches]
        runs.append((outs, state()))
    return runs


def _assert_same_as_eager(make, batches):
    (eager, eager_state), (compiled, compiled_state) = _eager_and_compiled(make, batches)
    for i, (e, c) in enumerate(zip(eager, compiled)):
        assert _same(e, c), f"call {i}: eager {_arrays(e)} != compiled {_arrays(c)}"
    assert _same(eager_state, compiled_state), (
        f"state: eager {_arrays(eager_state)} != compiled {_arrays(compiled_state)}"
    )


def _regression_batches(n=6, rows=8, features=3, seed=0):
    rs = np.random.RandomState(seed)
    return [
        (cr.tensor(rs.randn(rows, features).astype("float32")), cr.tensor(rs.randn(rows, 1).astype("float32")))
        for _ in range(n)
    ]


# ---------------------------------------------------------------- bug 1: parameter.detach() / .data folded


def _anchored_step(view):
    def make():
        model = nn.Linear(3, 1)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            w = model.weight
            anchor = w.detach() if view == "detach" else w.data  # shares the parameter's memory
            loss = F.mse_loss(model(x), y) + 0.5 * ((w - 0.5 * anchor) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        return step, lambda: list(model.parameters())

    return make


def test_parameter_detach_in_step_is_read_live_not_folded():
    # the two recordings' detached tensors are different objects over the SAME (live) array, so the
    # comparison finds them equal and folds the parameter's value at the second call into the plan
    _assert_same_as_eager(_anchored_step("detach"), _regression_batches())


def test_parameter_data_in_step_is_read_live_not_folded():
    _assert_same_as_eager(_anchored_step("data"), _regression_batches())


def test_parameter_detach_changed_outside_between_calls():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    step = cr.compile(lambda x: (x * w.detach()).sum())
    xs = [cr.tensor(np.random.RandomState(i).randn(3).astype("float32")) for i in range(5)]
    for i, x in enumerate(xs):
        with cr.no_grad():
            got = step(x).numpy()
            want = (x * w).sum().numpy()
            w += 1.0  # an update made outside the compiled function
        assert np.array_equal(got, want), f"call {i}: compiled {got} != eager {want}"


# ---------------------------------------------------------------- bug 2: arrays made from the data outside ops


def test_boolean_mask_index_whose_positions_agree_on_the_first_two_calls():
    def make():
        w = cr.tensor(np.ones(6, "float32"), requires_grad=True)

        def step(x):
            loss = (x * w)[x > 0].sum()  # the mask becomes np.nonzero(...) before the op: a constant
            loss.backward()
            return loss

        return step, lambda: w.grad

    rows = [[1, 2, 3, -1, -1, -1], [4, 5, 6, -1, -2, -3], [1, 1, 1, 1, -1, -1], [1, -1, -1, -1, -1, -1],
            [2, 3, 1, -1, -2, -2]]  # fmt: skip
    _assert_same_as_eager(make, [(cr.tensor(np.array(r, "float32")),) for r in rows])


def test_hinge_loss_with_cr_maximum_from_zero_weights():
    # cr.maximum's condition is `a._data >= b._data`, computed outside the ops: all True on the first two
    # calls (every margin active at w = 0), so the plan keeps taking 1 - y*o even where it is negative
    rs = np.random.RandomState(0)
    X = rs.randn(48, 5).astype("float32")
    y = np.sign(X @ rs.randn(5)).astype("float32")
    batches = [(cr.tensor(X[i : i + 8]), cr.tensor(y[i : i + 8])) for i in range(0, 48, 8)] * 2

    def make():
        model = nn.Linear(5, 1)
        with cr.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, t):
            opt.zero_grad()
            loss = cr.maximum(1 - t * model(x).reshape(-1), 0.0).mean()
            loss.backward()
            opt.step()
            return loss

        return step, lambda: list(model.parameters())

    _assert_same_as_eager(make, batches)


def test_where_with_an_integer_condition_from_the_data():
    # cr.where turns a non-bool condition into cond.astype(bool) outside the ops: a constant of the plan
    rs = np.random.RandomState(0)
    xs = [cr.tensor(rs.randn(8, 5).astype("float32")) for _ in range(6)]
    labels = [np.array([1, 0, 1, 1, 0, 0, 1, 0])] * 2 + [rs.randint(0, 2, 8) for _ in range(4)]

    def make():
        model = nn.Linear(5, 1)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, t):
            opt.zero_grad()
            o = model(x).reshape(-1)
            loss = F.softplus(-cr.where(t, o, -o)).mean()
            loss.backward()
            opt.step()
            return loss

        return step, lambda: list(model.parameters())

    _assert_same_as_eager(make, [(x, cr.tensor(t)) for x, t in zip(xs, labels)])


# ---------------------------------------------------------------- bug 3: a rule's Python-float residual baked in


_WEIGHTED_LABELS = [[0, 1, 2, 0], [2, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 2], [2, 2, 1, 0]]  # sums agree twice


def test_weighted_cross_entropy_denominator_is_not_a_constant():
    # CrossEntropy keeps `self.denominator = float(sum of the targets' weights)`; the tracer reads it
    # as a number, so the plan divides every later batch's gradient by the second batch's sum
    rs = np.random.RandomState(0)
    weight = np.array([0.5, 2.0, 1.0], "float32")

    def make():
        model = nn.Linear(3, 3)
        opt = cr.optim.SGD(model.parameters(), lr=0.5)

        def step(x, t):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), t, weight=weight)
            loss.backward()
            opt.step()
            return loss

        return step, lambda: list(model.parameters())

    batches = [(cr.tensor(rs.randn(4, 3).astype("float32")), cr.tensor(np.array(t))) for t in _WEIGHTED_LABELS]
    _assert_same_as_eager(make, batches)


def test_fit_with_a_class_weighted_cross_entropy_loss_matches_compile_false():
    from chainrule.train.loop import fit

    rs = np.random.RandomState(0)
    X = rs.randn(20, 3).astype("float32")
    y = np.array(sum(_WEIGHTED_LABELS, []))

    def run(compile):
        cr.manual_seed(0)
        model = nn.Linear(3, 3)
        opt = cr.optim.SGD(model.parameters(), lr=0.5)
        loss_fn = nn.CrossEntropyLoss(weight=cr.tensor([0.5, 2.0, 1.0]))
        fit(model, loss_fn, opt, X, y, batch_size=4, epochs=1, shuffle=False, verbose=0, compile=compile)
        return [p.numpy() for p in model.parameters()]

    for eager, compiled in zip(run(False), run(True)):
        np.testing.assert_array_equal(compiled, eager)


# ---------------------------------------------------------------- bug 4: chainrule's generator reseeded in the step


def test_manual_seed_inside_the_step_is_replayed_or_runs_eagerly():
    # the recorder watches Python's random and np.random, not chainrule's generator: the plan skips the
    # reseeding, so each replayed dropout mask differs from eager's (the same mask on every call)
    def make():
        drop = nn.Dropout(0.5)

        def step(x):
            cr.manual_seed(123)
            return drop(x)

        return step, lambda: cr.randn(3)

    rs = np.random.RandomState(0)
    with cr.no_grad():
        _assert_same_as_eager(make, [(cr.tensor(rs.randn(10).astype("float32")),) for _ in range(5)])


# ---------------------------------------------------------------- bug 5: arguments keyed by id()


def test_a_new_object_argument_that_reuses_a_dead_objects_id_is_not_replayed():
    # the signature holds id(obj) only; a partial made per call is freed and the next one usually gets
    # the same id, so the plan of margin 1.0 is replayed for every later margin
    w = cr.tensor([1.0, 2.0])

    def step(x, loss):
        return loss(x * w)

    compiled = cr.compile(step)
    x = cr.tensor([0.5, -0.25])
    deltas = [1.0, 1.0, 0.1, 0.2, 0.3, 0.4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        eager = [step(x, functools.partial(F.huber_loss, target=cr.zeros(2), delta=d)).numpy() for d in deltas]
        got = [compiled(x, functools.partial(F.huber_loss, target=cr.zeros(2), delta=d)).numpy() for d in deltas]
    np.testing.assert_array_equal(np.array(got), np.array(eager))


# ---------------------------------------------------------------- bug 6: aliased arguments


def test_the_same_tensor_given_twice_then_two_tensors():
    # recorder.input binds the one tensor to the last argument's number; the signature does not record
    # that two arguments were one object, so (p, q) replays as (q, q)
    w = cr.tensor([1.0, 2.0])

    def step(a, b):
        return (a * w).sum() - 2 * (b * w).sum()

    compiled = cr.compile(step)
    x1, x2 = cr.tensor([1.0, 1.0]), cr.tensor([2.0, 3.0])
    p, q = cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0])
    calls = [(x1, x1), (x2, x2), (p, q), (q, p), (p, p)]
    with cr.no_grad():
        eager = [step(*c).numpy() for c in calls]
        got = [compiled(*c).numpy() for c in calls]
    np.testing.assert_array_equal(np.array(got), np.array(eager))


# ---------------------------------------------------------------- bug 7: shared mutable constants handed out


def test_a_returned_array_is_not_shared_between_replays():
    def step(x):
        return x * 2, np.zeros(3)

    compiled = cr.compile(step)
    with cr.no_grad():
        outs = [compiled(cr.tensor([float(i)]))[1] for i in range(5)]
        outs[-1] += 1.0  # the caller owns what it was given
        again = compiled(cr.tensor([9.0]))[1]
    np.testing.assert_array_equal(again, np.zeros(3))


def test_a_grad_set_to_a_fresh_tensor_in_the_step_is_fresh_on_each_replay():
    # `p.grad = cr.zeros_like(p)` is folded into a constant and handed to .grad itself (no copy) on
    # every replay: a change to the gradient made after one call shows up in the next
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Linear(3, 1)
        unused = nn.Parameter(cr.zeros(2))  # no gradient reaches it: its .grad stays the assigned tensor
        params = [*model.parameters(), unused]
        opt = cr.optim.SGD(params, lr=0.1)

        def step(x, y):
            for p in params:
                p.grad = cr.zeros_like(p)
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = cr.compile(step) if compiled else step
        for i, (x, y) in enumerate(_regression_batches()):
            fn(x, y)
            if i >= 2:
                unused.grad.add_(1.0)  # e.g. noise added to the gradients between steps
        return unused.grad.numpy()

    np.testing.assert_array_equal(run(True), run(False))


# ---------------------------------------------------------------- bug 8: a Python float's sign in the signature


def test_negative_zero_argument_is_its_own_signature():
    def step(x, s):
        return cr.tensor(1.0) / (x * s)

    compiled = cr.compile(step)
    x = cr.tensor([1.0])
    with cr.no_grad(), np.errstate(divide="ignore"):
        eager = [step(x, s).numpy() for s in (0.0, 0.0, -0.0)]
        got = [compiled(x, s).numpy() for s in (0.0, 0.0, -0.0)]
    np.testing.assert_array_equal(np.array(got), np.array(eager))  # inf, inf, -inf


# ---------------------------------------------------------------- bug 9: the returned loss loses requires_grad


def test_returned_loss_requires_grad_as_eagerly():
    (eager, _), (compiled, _) = _eager_and_compiled(_anchored_step_plain, _regression_batches())
    assert [t.requires_grad for t in compiled] == [t.requires_grad for t in eager]


def _anchored_step_plain():
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, lambda: list(model.parameters())


# ---------------------------------------------------------------- bug 10: in-place writes never replay


def test_an_in_place_write_to_a_tensor_the_step_made_is_replayed():
    # compare() tests a Ref target with `is` (program._same_target): two equal Refs are different objects,
    # so every store/setitem/fill on a value of the step ends in "setitem on one call and setitem on the next"
    rs = np.random.RandomState(0)
    model = nn.Linear(3, 1)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        with cr.no_grad():
            t = x.clone()
            t[:, 0] = 1.0
            t.mul_(2.0)
        opt.zero_grad()
        loss = F.mse_loss(model(t), y)
        loss.backward()
        opt.step()
        return loss

    compiled = cr.compile(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            compiled(cr.tensor(rs.randn(4, 3).astype("float32")), cr.tensor(rs.randn(4, 1).astype("float32")))
    assert compiled.stats["eager"] == 0, [str(w.message) for w in caught]


def test_requires_grad_on_a_tensor_made_in_the_step_does_not_record_every_call():
    # Tensor.requires_grad_ bumps the global _writes.structure, so the step's own input-gradient tensor
    # invalidates its plan on every call: it is recorded each time, with a warning that blames modules
    model = nn.Linear(3, 1)

    def step(x):
        x = x.detach()
        x.requires_grad = True
        model(x).sum().backward()
        return x.grad

    compiled = cr.compile(step)
    rs = np.random.RandomState(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(6):
            compiled(cr.tensor(rs.randn(4, 3).astype("float32")))
    assert compiled.stats["recorded"] <= 3, compiled.stats
    assert not any("modules" in str(w.message) for w in caught), [str(w.message) for w in caught]


# ---------------------------------------------------------------- right behaviour, pinned


def test_pinned_boolean_mask_with_changing_counts_runs_eagerly_or_matches():
    def make():
        w = cr.tensor(np.ones(6, "float32"), requires_grad=True)

        def step(x):
            loss = (x * w)[x > 0].mean()
            loss.backward()
            return loss

        return step, lambda: w.grad

    rs = np.random.RandomState(1)
    xs = [np.abs(rs.randn(6)) * np.where(np.arange(6) < k, 1, -1) for k in (3, 3, 4, 1, 5, 2)]  # 3, 3, 4, ... > 0
    _assert_same_as_eager(make, [(cr.tensor(rs.permutation(x).astype("float32")),) for x in xs])


def test_pinned_embedding_id_out_of_range_on_a_replay_raises_as_eagerly():
    model = nn.Sequential(nn.Embedding(10, 3), nn.Flatten(), nn.Linear(6, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = cr.compile(step)
    rs = np.random.RandomState(0)
    for _ in range(4):
        compiled(cr.tensor(rs.randint(0, 10, (4, 2))), cr.tensor(rs.randint(0, 3, 4)))
    bad = cr.tensor(np.array([[0, 1], [2, -1], [3, 4], [5, 6]]))
    try:
        compiled(bad, cr.tensor(rs.randint(0, 3, 4)))
    except IndexError as e:
        assert "got id -1" in str(e)
    else:
        raise AssertionError("a replay took id -1 (the last row) where eager raises")
    compiled(cr.tensor(rs.randint(0, 10, (4, 2))), cr.tensor(rs.randint(0, 3, 4)))  # and goes on


def test_pinned_manual_sgd_with_grad_none_matches_eager():
    def make():
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

        def step(x, y):
            for p in model.parameters():
                p.grad = None
            loss = F.mse_loss(model(x), y)
            loss.backward()
            with cr.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
            return loss

        return step, lambda: list(model.parameters())

    _assert_same_as_eager(make, _regression_batches())
    _assert_same_as_eager(make, _regression_batches()[:1] * 6)


def test_pinned_gradient_accumulation_without_zero_grad_and_two_backwards():
    def make():
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))

        def step(x, y):
            F.mse_loss(model(x), y).backward()
            model(2 * x).abs().mean().backward()
            return [p.grad for p in model.parameters()]

        return step, lambda: [p.grad for p in model.parameters()]

    _assert_same_as_eager(make, _regression_batches())


WATCHED_GLOBAL = [1, 2]


def _closure():
    """A function with two closure cells (a list, a number) and a global list it names."""
    box, value = [0], 1

    def fn(x):
        return x * value + box[0] + len(WATCHED_GLOBAL)

    def set_cell(v):
        nonlocal value
        value = v

    fn.cell, fn.set_cell = box, set_cell
    return fn


def test_a_replays_check_of_the_watched_state_agrees_with_the_snapshot_it_replaces():
    """Before each replay the watched objects' Python state is compared where it lies
    (``_changed_since``), not by making a new snapshot; both say the same for every kind of change:
    an attribute, a dict item or its order, a list item or length, a tuple, a number's type,
    a container become a number and back, a closure cell, a global the function names."""
    from chainrule.compiler import api

    class Loss:
        pass

    def changes():  # (the change, whether it is one)
        yield (lambda o, f: None), False
        yield (lambda o, f: setattr(o, "weight", 2.0)), True
        yield (lambda o, f: setattr(o, "weight", 1)), False  # 1 == 1.0: the same number
        yield (lambda o, f: setattr(o, "new", 0)), True
        yield (lambda o, f: o.settings.__setitem__("a", 5)), True
        yield (lambda o, f: o.settings.__setitem__("c", 5)), True
        yield (lambda o, f: o.settings.update(b=o.settings.pop("b"))), False  # the same items, the same order
        yield (lambda o, f: o.settings.update(a=o.settings.pop("a"))), True  # another order
        yield (lambda o, f: o.items.append(3)), True
        yield (lambda o, f: o.items.__setitem__(0, 9)), True
        yield (lambda o, f: setattr(o, "pair", (1, 3))), True
        yield (lambda o, f: setattr(o, "pair", [1, 2])), True  # a list now
        yield (lambda o, f: setattr(o, "items", 7)), True  # a container become a number
        yield (lambda o, f: setattr(o, "weight", [1.0])), True  # a number become a container
        yield (lambda o, f: setattr(o, "weight", "1.0")), True
        yield (lambda o, f: f.cell.__setitem__(0, 1)), True
        yield (lambda o, f: f.set_cell(5)), True
        yield (lambda o, f: WATCHED_GLOBAL.append(3)), True

    for change, changed in changes():
        obj = Loss()
        obj.weight, obj.settings, obj.items, obj.pair = 1.0, {"a": 1, "b": 2}, [1, 2], (1, 2)
        fn = _closure()
        watched = (obj, fn)
        before = api._attributes(watched)
        change(obj, fn)
        seen = api._changed_since(before, watched)
        assert seen == api._attributes_changed(before, api._attributes(watched))
        assert (seen is not None) is changed, (seen, changed)
        WATCHED_GLOBAL[:] = [1, 2]
