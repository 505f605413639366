"""PyTorch's tensor idioms on chainrule: in-place operations, names, dtypes, devices, factories."""

import warnings

import numpy as np
import pytest

import chainrule as cr

# ------------------------------------------------------------------ in place


def test_manual_update_loop_with_minus_equals_learns():
    """The tutorials' update, `p -= lr * p.grad` under no_grad, changes the parameters themselves."""
    cr.manual_seed(0)
    x = cr.linspace(-1, 1, 50, dtype=cr.float64)
    y = 3.0 * x - 0.5
    w = cr.zeros(1, dtype=cr.float64, requires_grad=True)
    b = cr.zeros(1, dtype=cr.float64, requires_grad=True)
    params = [w, b]
    for _ in range(300):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                p.grad.zero_()
    assert w.item() == pytest.approx(3.0, abs=1e-3)
    assert b.item() == pytest.approx(-0.5, abs=1e-3)
    assert w in params and w.is_leaf and w.requires_grad


def test_model_parameters_update_in_place_through_the_loop_variable():
    model = cr.nn.Linear(3, 1)
    before = model.weight.numpy().copy()
    model(cr.ones(4, 3)).sum().backward()
    with cr.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    np.testing.assert_allclose(model.weight.numpy(), before - 0.5 * 4.0, rtol=1e-6)


@pytest.mark.parametrize(
    "write",
    [
        lambda t: t.__iadd__(1.0),
        lambda t: t.__isub__(1.0),
        lambda t: t.__imul__(2.0),
        lambda t: t.__itruediv__(2.0),
        lambda t: t.add_(1.0),
        lambda t: t.mul_(2.0),
        lambda t: t.zero_(),
        lambda t: t.fill_(3.0),
        lambda t: t.clamp_(0.0, 1.0),
        lambda t: t.uniform_(),
        lambda t: t.normal_(),
        lambda t: t.copy_(cr.zeros(3)),
    ],
)
def test_in_place_on_a_weight_while_recording_is_refused_before_any_change(write):
    w = cr.tensor([0.5, 1.5, 2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        write(w)
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.5, 2.5])


def test_in_place_keeps_the_array_so_views_and_numpy_arrays_see_the_change():
    t = cr.zeros(3)
    shared = t.numpy()
    t += 2.0
    t.mul_(3.0)
    t.sub_(cr.ones(3), alpha=2.0)
    assert t.numpy() is shared
    np.testing.assert_array_equal(shared, [4.0, 4.0, 4.0])


def test_in_place_on_an_intermediate_is_recorded_like_pytorch():
    def f(x):
        y = x * 2.0
        y += 1.0
        y *= y  # reads the old y twice
        y.sub_(x, alpha=0.5)
        y /= x.exp()
        return y

    x = cr.tensor([0.3, -0.7, 1.1], dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(f, [x])
    y = f(x)
    assert repr(y).endswith("grad_fn=<DivBackward0>)")
    y.sum().backward()
    xs = x.numpy()
    expected = (2 * (2 * xs + 1) * 2 - 0.5) / np.exp(xs) - ((2 * xs + 1) ** 2 - 0.5 * xs) / np.exp(xs)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)


def test_in_place_on_a_saved_output_makes_backward_raise_naming_the_op():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = y * 3.0
    with cr.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match=r"modified in place by \+="):
        z.sum().backward()


def test_in_place_on_an_op_output_keeps_the_earlier_gradient_right():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = x.exp()  # exp's rule reads its output: the in-place add must not corrupt it
    y += 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


def test_in_place_refuses_a_change_of_shape_or_kind_before_writing():
    t = cr.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        t += cr.ones(2, 3)
    i = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="dtype int64"):
        i /= 2
    np.testing.assert_array_equal(i.numpy(), [1, 2])
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])


def test_fill_like_methods():
    cr.manual_seed(1)
    t = cr.zeros(2, 2).fill_(7.0)
    np.testing.assert_array_equal(t.numpy(), 7.0)
    assert t.zero_() is t and not t.numpy().any()
    u = cr.empty(20000).uniform_(-2.0, 3.0)
    assert u.numpy().min() >= -2.0 and u.numpy().max() < 3.0
    n = cr.empty(20000, dtype=cr.float64).normal_(1.0, 2.0)
    assert n.numpy().mean() == pytest.approx(1.0, abs=0.05) and n.numpy().std() == pytest.approx(2.0, abs=0.05)
    with pytest.raises(ValueError, match="std"):
        cr.zeros(2).normal_(0.0, -1.0)
    c = cr.zeros(2, 3).copy_(cr.tensor([1, 2, 3]))
    np.testing.assert_array_equal(c.numpy(), [[1, 2, 3], [1, 2, 3]])
    assert c.dtype == np.float32
    np.testing.assert_array_equal(cr.tensor([-3.0, 0.5, 9.0]).clamp_(max=1.0).numpy(), [-3.0, 0.5, 1.0])


def test_copy_into_an_intermediate_is_differentiable_to_the_source():
    src = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    buf = cr.zeros(2, dtype=cr.float64)
    buf.copy_(src * 3.0)
    assert buf.requires_grad
    buf.sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [3.0, 3.0])


# ------------------------------------------------------------------ names


def test_size_is_numpys_count_and_pytorchs_shape():
    t = cr.zeros(2, 3, 4)
    assert t.size == 24 and t.size() == (2, 3, 4) and t.size(0) == 2 and t.size(-1) == 4
    assert t.numel() == 24 and t.dim() == 3 and t.nelement() == 24
    with pytest.raises(IndexError, match="dimension 3"):
        t.size(3)


def test_dim_and_keepdim_are_accepted_wherever_axis_and_keepdims_are():
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    pairs = [
        (x.sum(dim=1, keepdim=True), x.sum(axis=1, keepdims=True)),
        (x.mean(dim=0), x.mean(axis=0)),
        (x.var(dim=1), x.var(axis=1)),
        (x.std(dim=0, keepdim=True), x.std(axis=0, keepdims=True)),
        (x.logsumexp(dim=1), x.logsumexp(axis=1)),
        (x.softmax(dim=0), x.softmax(axis=0)),
        (x.log_softmax(dim=0), x.log_softmax(axis=0)),
        (x.argmax(dim=1), x.argmax(axis=1)),
        (x.argmin(dim=0, keepdim=True), x.argmin(axis=0, keepdims=True)),
        (cr.cat([x, x], dim=1), cr.cat([x, x], axis=1)),
        (cr.stack([x, x], dim=2), cr.stack([x, x], axis=2)),
        (x.unsqueeze(dim=0), x.unsqueeze(0)),
        (x.unsqueeze(dim=0).squeeze(dim=0), x),
        (cr.max(x, axis=0), x.max(dim=0).values),
    ]
    for torch_style, numpy_style in pairs:
        np.testing.assert_array_equal(torch_style.numpy(), numpy_style.numpy())
    assert [p.shape for p in x.split(2, dim=1)] == [(3, 2), (3, 2)]
    with pytest.raises(TypeError, match="both axis=1 and dim=1"):
        x.sum(axis=1, dim=1)
    with pytest.raises(TypeError, match="keepdims= and keepdim="):
        cr.mean(x, keepdims=True, keepdim=True)


def test_var_keeps_numpys_default_and_accepts_pytorchs_unbiased():
    x = cr.tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(1.25)
    assert x.var(unbiased=True).item() == pytest.approx(5 / 3)
    assert x.std(correction=1).item() == pytest.approx((5 / 3) ** 0.5)
    with pytest.raises(TypeError, match="ddof and unbiased"):
        x.var(ddof=1, unbiased=True)


def test_max_with_a_dimension_gives_values_and_indices():
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    _, predicted = x.max(1)  # the MNIST examples' idiom
    np.testing.assert_array_equal(predicted.numpy(), [1, 0])
    result = cr.max(x, 1, keepdim=True)
    assert result.values.shape == (2, 1) and result.indices.shape == (2, 1)
    result.values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    low = x.min(dim=0)
    np.testing.assert_array_equal(low.values.numpy(), [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(low.indices.numpy(), [0, 1, 0])
    assert x.max().item() == 7.0  # no dimension: the value, as in both libraries
    np.testing.assert_array_equal(x.max(axis=1).numpy(), [5.0, 7.0])  # NumPy's form: values
    np.testing.assert_array_equal(cr.max(x, cr.tensor(4.0)).numpy(), [[4, 5, 4], [7, 4, 4]])  # elementwise


def test_sort_and_topk():
    x = cr.tensor([[3.0, 1.0, 2.0], [0.0, 9.0, 4.0]], dtype=cr.float64, requires_grad=True)
    values, indices = x.sort(dim=1, descending=True)
    np.testing.assert_array_equal(values.numpy(), [[3, 2, 1], [9, 4, 0]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 2, 1], [1, 2, 0]])
    top = x.topk(2, dim=0, largest=False)
    np.testing.assert_array_equal(top.values.numpy(), [[0, 1, 2], [3, 9, 4]])
    assert cr.gradcheck(lambda t: t.topk(2).values * cr.tensor([1.0, 10.0], dtype=cr.float64), [x])
    with pytest.raises(ValueError, match="k must be an integer from 0 to 3"):
        x.topk(4)


def test_transpose_with_two_dimensions_swaps_them_as_in_pytorch():
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(0, 1).shape == (3, 2, 4)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)  # NumPy's permutation
    m = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(m.transpose(0, 1).numpy(), [[1, 3], [2, 4]])
    np.testing.assert_array_equal(m.t().numpy(), [[1, 3], [2, 4]])
    with pytest.raises(ValueError, match="at most 2 dimensions"):
        x.t()


def test_more_pytorch_method_names():
    a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(a.mm(a).numpy(), a.numpy() @ a.numpy())
    np.testing.assert_array_equal(a.pow(2).numpy(), a.numpy() ** 2)
    assert a.view_as(cr.zeros(4)).shape == (4,) and cr.ones(2).expand_as(a).shape == (2, 2)
    np.testing.assert_array_equal(a.eq(2.0).numpy(), [[False, True], [False, False]])
    np.testing.assert_array_equal(a.gt(2.0).numpy() | a.le(2.0).numpy(), True)
    np.testing.assert_array_equal(a.add(a, alpha=2).numpy(), 3 * a.numpy())
    with pytest.raises(ValueError, match="mm: expects two 2-D tensors"):
        a.mm(cr.ones(2))


def test_dtype_names_and_conversions():
    assert (cr.float, cr.double, cr.half, cr.long, cr.int, cr.bool) == (
        np.float32,
        np.float64,
        np.float16,
        np.int64,
        np.int32,
        np.bool_,
    )
    t = cr.tensor([1.5, -2.5])
    assert t.long().dtype == np.int64 and t.int().dtype == np.int32 and t.half().dtype == np.float16
    assert t.double().dtype == np.float64 and t.double().float().dtype == np.float32
    assert t.bool().dtype == np.bool_
    assert t.type() == "chainrule.FloatTensor" and t.long().type() == "chainrule.LongTensor"
    assert t.type(cr.double).dtype == np.float64
    assert t.to(cr.float64).dtype == np.float64 and t.to(dtype=cr.long).dtype == np.int64
    assert t.to(t.long()).dtype == np.int64
    with pytest.raises(TypeError, match="not a dtype"):
        t.to(object())
    import builtins

    namespace: dict = {}
    exec("from chainrule import *", namespace)
    assert "float" not in namespace and "int" not in namespace and "bool" not in namespace
    assert builtins.float is float


def test_index_and_format():
    i = cr.tensor(2)
    assert [10, 20, 30][i] == 30 and list(range(cr.tensor(3))) == [0, 1, 2]
    assert np.arange(10)[cr.tensor([1, 2])].tolist() == [1, 2]  # a tensor of indices still indexes
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        [1, 2][cr.tensor(1.0)]
    loss = cr.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{cr.tensor([2.5]):>6.1f}" == "   2.5"
    assert f"{cr.tensor([1.0, 2.0])}" == "tensor([1., 2.])"


# ------------------------------------------------------------------ devices and factories


def test_devices_are_honest():
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    assert device == cr.device("cpu") == "cpu" and str(device) == "cpu" and cr.device("cpu:0") == device
    assert not cr.cuda.is_available() and cr.cuda.device_count() == 0
    assert not cr.backends.mps.is_available()
    cr.backends.cudnn.deterministic = True  # seeding code sets this: harmless
    x = cr.ones(2, device=device)
    assert x.to(device) is x and x.cpu() is x and x.device == device and not x.is_cuda
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="only device is 'cpu'"):
            cr.device(bad)
        with pytest.raises(RuntimeError, match="only device is 'cpu'"):
            x.to(bad)
        with pytest.raises(RuntimeError, match="only device is 'cpu'"):
            cr.zeros(2, device=bad)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        x.cuda()
    with pytest.raises(RuntimeError, match="CUDA device"):
        x.to(0)
    model = cr.nn.Linear(2, 2)
    assert model.to(device) is model and model.cpu() is model
    with pytest.raises(RuntimeError, match="only device is 'cpu'"):
        model.to("cuda")


def test_module_dtype_conversions():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.BatchNorm1d(3))
    model(cr.ones(4, 2)).sum().backward()
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert all(b.dtype == np.float64 for b in model.buffers() if b.dtype.kind == "f")
    assert model(cr.ones(4, 2, dtype=cr.float64)).dtype == np.float64
    assert model.half()[0].weight.dtype == np.float16 and model.float()[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        model.to(cr.long)


def test_module_conversion_makes_an_older_graph_refuse_backward():
    model = cr.nn.Linear(2, 1)
    loss = model(cr.ones(3, 2)).sum()
    model.double()
    with pytest.raises(RuntimeError, match="Module.to"):
        loss.backward()


def test_factories_take_dtype_requires_grad_and_device():
    for make in (
        lambda **k: cr.zeros(2, 3, **k),
        lambda **k: cr.ones((2, 3), **k),
        lambda **k: cr.full((2, 3), 1.5, **k),
        lambda **k: cr.empty(2, 3, **k),
        lambda **k: cr.eye(3, **k),
        lambda **k: cr.arange(0.0, 3.0, **k),
        lambda **k: cr.linspace(0, 1, steps=5, **k),
        lambda **k: cr.randn(2, 3, **k),
        lambda **k: cr.rand(2, 3, **k),
        lambda **k: cr.tensor([1.0, 2.0], **k),
        lambda **k: cr.zeros_like(cr.ones(2), **k),
        lambda **k: cr.ones_like(cr.ones(2), **k),
        lambda **k: cr.full_like(cr.ones(2), 3.0, **k),
    ):
        t = make(dtype=cr.float64, requires_grad=True, device="cpu")
        assert t.dtype == np.float64 and t.requires_grad and t.is_leaf
    assert cr.linspace(0, 1, steps=5).shape == (5,)


def test_from_numpy_shares_and_as_tensor_shares_when_it_can():
    a = np.arange(3.0)
    t = cr.from_numpy(a)
    a[1] = 10.0
    assert t.numpy() is a and t[1].item() == 10.0 and t.dtype == np.float64
    with pytest.raises(TypeError, match="NumPy array"):
        cr.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="real numbers"):
        cr.from_numpy(np.array(["a"]))
    assert cr.as_tensor(a).numpy() is a and cr.as_tensor(t) is t
    assert cr.as_tensor(a, dtype=cr.float32).numpy() is not a
    assert cr.as_tensor([1, 2]).dtype == np.int64


def test_grad_fn_prints_like_pytorch():
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert repr(x.exp()).endswith("grad_fn=<ExpBackward0>)")


def test_a_batch_that_shares_the_dataset_cannot_be_changed_in_place():
    X = np.zeros((4, 2), dtype=np.float32)
    loader = cr.data.DataLoader(cr.data.TensorDataset(X, np.arange(4)), batch_size=2)
    xb, _ = next(iter(loader))
    for write in (lambda t: t.__isub__(1.0), lambda t: t.zero_(), lambda t: t.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match=r"read-only .* t = t.clone\(\)"):
            write(xb)
    copy = xb.clone()
    copy -= 1.0
    assert not X.any() and (copy.numpy() == -1.0).all()
    X[0, 0] = 3.0  # the dataset itself stays writable
    shuffled = cr.data.DataLoader(cr.data.TensorDataset(X, np.arange(4)), batch_size=2, shuffle=True, seed=0)
    for xb, _ in shuffled:  # a shuffled batch is a copy: changing it is allowed and leaves X alone
        xb -= 1.0
    assert X[0, 0] == 3.0 and X.sum() == 3.0


# ------------------------------------------------------------------ .data as PyTorch code uses it


def test_data_is_a_detached_tensor_sharing_the_memory():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), w.numpy())
    w.data.add_(cr.tensor([1.0, 1.0]), alpha=0.5)  # the old tutorials' update
    w.data -= 1.0
    w.data.mul_(2.0)
    np.testing.assert_array_equal(w.numpy(), [1.0, 3.0])
    assert w.requires_grad and w.is_leaf  # the tensor itself is untouched otherwise


def test_assigning_data_replaces_the_values_of_the_same_object():
    model = cr.nn.Linear(2, 1)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    weight = model.weight
    model.weight.data = cr.tensor([[3.0, 4.0]])
    assert model.weight is weight and model.weight.requires_grad
    model(cr.ones(1, 2)).sum().backward()
    optimizer.step()  # the optimiser holds the same object: it updates the new values
    np.testing.assert_allclose(model.weight.numpy(), [[2.9, 3.9]], rtol=1e-6)
    weight.data = np.zeros((3, 2), dtype=np.float32)  # the shape may change, as in PyTorch
    assert weight.shape == (3, 2)
    with pytest.raises(TypeError, match="real numbers|not supported"):
        weight.data = ["a", "b"]
    with pytest.raises(TypeError, match="floating-point"):
        weight.data = cr.tensor([1, 2])


def test_init_through_data_as_dcgan_writes_it():
    cr.manual_seed(0)
    conv = cr.nn.Conv2d(3, 8, 3)
    conv.weight.data.normal_(0.0, 0.02)
    conv.bias.data.fill_(0)
    assert abs(conv.weight.numpy().std() - 0.02) < 0.005 and not conv.bias.numpy().any()


def test_a_write_through_data_after_a_graph_used_the_tensor_makes_backward_raise():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data.zero_()
    with pytest.raises(RuntimeError, match="modified in place by zero_"):
        loss.backward()
    loss = (w * w).sum()
    w.data = cr.tensor([5.0, 5.0])
    with pytest.raises(RuntimeError, match=r"modified in place by \.data ="):
        loss.backward()


# ------------------------------------------------------------------ found by an adversarial review


def test_writing_a_recorded_value_into_a_buffer_without_grad_is_refused_not_dropped():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    out = cr.zeros(3, 2)
    with pytest.raises(RuntimeError, match="the value requires grad but this tensor does not"):
        out[0] = w * 2.0  # PyTorch records it; chainrule used to drop the value's gradient silently
    for write in (lambda v: v.copy_(w * 2.0), lambda v: v.add_(w)):
        with pytest.raises(RuntimeError, match="a view of another one's memory"):
            write(out[1])
    assert not out.numpy().any()
    rows = cr.stack([w * (t + 1) for t in range(3)])  # what to write instead
    ((rows * rows).sum() + w.sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), [29.0, 57.0])  # PyTorch's value


@pytest.mark.parametrize(
    "write",
    [
        lambda h: h[:, 0].mul_(10.0),
        lambda h: h.T.mul_(2.0),
        lambda h: h.unsqueeze(0).mul_(3.0),
        lambda h: h.reshape(4).__iadd__(1.0),
    ],
)
def test_a_recorded_change_through_a_view_of_a_graph_tensor_is_refused_before_writing(write):
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x @ cr.eye(2)
    before = h.numpy().copy()
    with pytest.raises(RuntimeError, match="a view of another one's memory"):
        write(h)
    np.testing.assert_array_equal(h.numpy(), before)


def test_a_view_of_a_weight_is_not_changed_while_recording_but_is_under_no_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="view"):
        x[0:2].mul_(2.0)
    with pytest.raises(RuntimeError, match="view"):
        x.reshape(3, 1).add_(1.0)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])
    with cr.no_grad():
        x[0:2].mul_(2.0)
    np.testing.assert_array_equal(x.numpy(), [2.0, 4.0, 3.0])


def test_clamp_with_tensor_bounds_is_differentiable_in_both():
    x = cr.tensor([1.0, 5.0, 2.0], requires_grad=True)
    high = cr.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.clamp(min=cr.tensor(0.0), max=high).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])  # the bound included, as PyTorch
    np.testing.assert_array_equal(high.grad.numpy(), [0.0, 1.0, 0.0])
    h = x * 1.0
    h.clamp_(max=cr.tensor([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(h.numpy(), [1.0, 2.0, 2.0])


def test_top_level_transpose_takes_two_dimensions_and_tensor_dataset_gives_tensors():
    assert cr.transpose(cr.ones(2, 3, 4), 0, 2).shape == (4, 3, 2)
    dataset = cr.data.TensorDataset(np.zeros((4, 2), dtype=np.float32), np.arange(4))
    xb, yb = dataset[0:2]
    assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor) and dataset[3][1].item() == 3
    with pytest.raises(RuntimeError, match="read-only"):
        xb.mul_(2.0)


def test_inplace_layers_give_the_same_values_and_gradients_as_the_others():
    def run(inplace):
        cr.manual_seed(0)
        model = cr.nn.Sequential(
            cr.nn.Linear(3, 8),
            cr.nn.ReLU(inplace=inplace),
            cr.nn.Dropout(0.3, inplace=inplace),
            cr.nn.Linear(8, 2),
            cr.nn.LeakyReLU(0.1, inplace=inplace),
        ).double()
        x = cr.tensor(np.linspace(-1, 1, 15).reshape(5, 3), requires_grad=True)
        out = model(x)
        out.sum().backward()
        return out.numpy(), x.grad.numpy(), [p.grad.numpy() for p in model.parameters()]

    plain, inplace = run(False), run(True)
    np.testing.assert_allclose(inplace[0], plain[0], rtol=1e-12)
    np.testing.assert_allclose(inplace[1], plain[1], rtol=1e-12)
    for a, b in zip(inplace[2], plain[2]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert repr(cr.nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    x = cr.tensor([-1.0, 2.0])
    assert cr.nn.functional.relu(x, inplace=True) is x and x.numpy().tolist() == [0.0, 2.0]
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        cr.nn.ReLU(inplace=True)(cr.tensor([1.0], requires_grad=True))  # as PyTorch refuses


def test_masked_fill_and_new_factories():
    scores = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    mask = cr.tensor([[True, False], [False, True]])
    filled = (scores * 2.0).masked_fill(mask, -1e9)
    np.testing.assert_array_equal(filled.numpy(), [[-1e9, 4.0], [6.0, -1e9]])
    filled.sum().backward()
    np.testing.assert_array_equal(scores.grad.numpy(), [[0.0, 2.0], [2.0, 0.0]])
    h = scores * 1.0
    h.masked_fill_(mask, 0.0)
    np.testing.assert_array_equal(h.numpy(), [[0.0, 2.0], [3.0, 0.0]])
    with pytest.raises(TypeError, match="mask must be boolean"):
        scores.masked_fill(cr.tensor([[1, 0], [0, 1]]), 0.0)
    assert scores.new_zeros(2, 3).dtype == np.float32 and scores.new_ones((2,)).numpy().tolist() == [1.0, 1.0]
    assert scores.new_full((2,), 7.0).numpy().tolist() == [7.0, 7.0] and scores.new_tensor([1, 2]).dtype == np.float32
    t = cr.tensor([-1.0, 0.5])
    assert t.relu_() is t and t.numpy().tolist() == [0.0, 0.5]
    np.testing.assert_allclose(cr.tensor([0.0]).sigmoid_().numpy(), [0.5])


# ------------------------------------------------------------------ habits a gap hunt found (this stop)


def test_an_f_string_of_a_0d_tensor_is_its_number_as_in_pytorch():
    loss = cr.tensor(0.125, dtype=cr.float64)
    assert f"loss {loss}" == "loss 0.125" and f"{loss:.2f}" == "0.12"
    assert f"{cr.tensor(3)}" == "3"
    assert f"{cr.tensor([0.5])}" == "tensor([0.5])"  # (one element, not 0-d: the repr, as in PyTorch)


def test_contiguous_gives_the_tensor_or_a_contiguous_copy_that_carries_gradients():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.contiguous() is x and x.is_contiguous()
    t = x.permute(1, 0)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist() and not np.shares_memory(c.numpy(), x.numpy())
    (c.view(-1) * cr.tensor(np.arange(6.0))).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]


def test_invert_is_logical_for_booleans_bitwise_for_integers_refused_for_floats():
    assert (~cr.tensor([True, False])).tolist() == [False, True]
    assert (~cr.tensor([1, 0, -3])).tolist() == [-2, -1, 2]  # (was a logical not: [False, True, False])
    with pytest.raises(TypeError, match="needs a boolean or integer tensor"):
        ~cr.tensor([1.0, 0.0])


def test_full_takes_its_dtype_from_the_fill_value_as_in_pytorch():
    assert cr.full((2,), -100).dtype == np.int64  # (was float32: labels compared to ignore_index)
    assert cr.full((2,), True).dtype == np.bool_
    assert cr.full((2,), 0.5).dtype == np.float32
    assert cr.full((2,), 7, dtype=cr.float64).dtype == np.float64


def test_squeeze_of_a_named_axis_longer_than_one_changes_nothing_as_in_pytorch():
    x = cr.ones(2, 1, 3)
    assert x.squeeze(0).shape == (2, 1, 3) and x.squeeze(1).shape == (2, 3) and x.squeeze((0, 1)).shape == (2, 3)


def test_a_modules_zero_grad_takes_set_to_none_as_pytorchs():
    model = cr.nn.Linear(2, 1)
    model(cr.ones(3, 2)).sum().backward()
    grad = model.weight.grad
    model.zero_grad(set_to_none=False)  # (it took no argument: PyTorch code raised TypeError)
    assert model.weight.grad is grad and grad.tolist() == [[0.0, 0.0]] and model.bias.grad.tolist() == [0.0]
    model(cr.ones(3, 2)).sum().backward()  # accumulates into the zeros, in place
    assert model.weight.grad is grad and grad.tolist() == [[3.0, 3.0]]
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None
    with pytest.raises(TypeError, match="zero_grad: set_to_none must be True or False"):
        model.zero_grad(set_to_none=None)


def test_zero_grad_set_to_none_and_a_state_of_ones_own():
    p = cr.nn.Parameter(cr.ones(2))
    opt = cr.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * 3.0).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad(set_to_none=True)
    assert p.grad is None
    with pytest.raises(TypeError, match="set_to_none must be True or False"):
        opt.zero_grad(set_to_none="yes")
    assert opt.state[p] == {}  # (a defaultdict, as PyTorch's: reading makes an empty entry)
    (p * 3.0).sum().backward()
    opt.step()  # the empty entry is filled as a new state, not used as one
    assert "momentum_buffer" in opt.state[p] or len(opt.state[p]) > 0
    assert p.tolist() == pytest.approx([0.7, 0.7])


def test_inference_mode_records_nothing_and_decorates():
    w = cr.tensor([1.0], requires_grad=True)
    with cr.inference_mode():
        assert not (w * 2).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad

    @cr.inference_mode()
    def f():
        return (w * 2).requires_grad

    @cr.inference_mode
    def g():
        return (w * 2).requires_grad

    assert f() is False and g() is False
    with pytest.raises(TypeError, match="mode must be True or False"):
        cr.inference_mode("no")


def test_random_factories_of_pytorch():
    cr.manual_seed(3)
    a = cr.randint(10, (4,))
    cr.manual_seed(3)
    b = cr.randint(0, 10, size=(4,))
    assert a.tolist() == b.tolist() and a.dtype == np.int64
    assert sorted(cr.randperm(6).tolist()) == list(range(6))
    t = cr.zeros(2, 3, dtype=cr.float64)
    assert cr.randn_like(t).shape == (2, 3) and cr.randn_like(t).dtype == np.float64
    u = cr.rand_like(t)
    assert bool(((u >= 0) & (u < 1)).all())
    with pytest.raises(ValueError, match="low < high"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match=r"randint\(high, size\)"):
        cr.randint(5)


def test_a_dataloader_takes_pytorchs_worker_options_and_checks_them_as_pytorch():
    from chainrule.data import DataLoader

    data = (np.arange(10.0), np.arange(10))
    plain = [yb.tolist() for _, yb in DataLoader(data, batch_size=4)]
    workers = DataLoader(data, batch_size=4, num_workers=2, pin_memory=True, persistent_workers=True, prefetch_factor=2)
    assert [yb.tolist() for _, yb in workers] == plain
    with pytest.raises(ValueError, match="persistent_workers=True needs num_workers > 0"):
        DataLoader(data, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(data, prefetch_factor=2)
    with pytest.raises(ValueError, match="num_workers must be a whole number"):
        DataLoader(data, num_workers=-1)
    with pytest.raises(TypeError, match="pin_memory must be True or False"):
        DataLoader(data, pin_memory="yes")


@pytest.mark.parametrize(
    "layer", [cr.nn.Linear(3, 2), cr.nn.Conv1d(3, 2, 1), cr.nn.LayerNorm(3)], ids=["Linear", "Conv1d", "LayerNorm"]
)
def test_a_layer_given_a_tuple_of_tensors_raises_instead_of_stacking_it(layer):
    x = cr.ones(4, 3) if not isinstance(layer, cr.nn.Conv1d) else cr.ones(4, 3, 5)
    with pytest.raises(TypeError, match=r"got a tuple of 1 tensor\(s\) or array\(s\) as its input.*xb, yb = batch"):
        layer((x,))  # (it stacked the tuple into a batch of one: shape (1, 4, 2))
    assert layer([[1.0, 2.0, 3.0]]).shape == (1, 2) if isinstance(layer, cr.nn.Linear) else True  # lists of numbers


def test_a_softmax_without_dim_on_3d_or_4d_input_takes_pytorchs_implicit_dim_and_warns():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    F = cr.nn.functional
    for a, axis in ((x, 1), (x[0], 0)):
        expected = np.exp(a) / np.exp(a).sum(axis=axis, keepdims=True)
        with pytest.warns(UserWarning, match=f"dim={axis} is used, PyTorch's implicit"):
            np.testing.assert_allclose(F.softmax(cr.tensor(a)).numpy(), expected, rtol=1e-12)
        with pytest.warns(UserWarning, match=f"dim={axis} is used"):
            np.testing.assert_allclose(F.log_softmax(cr.tensor(a)).numpy(), np.log(expected), rtol=1e-12)
    two = x[0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (up to 2-d: the last axis, no warning, as PyTorch)
        np.testing.assert_allclose(F.softmax(cr.tensor(two)).numpy().sum(axis=1), 1.0)


def test_one_hot_and_the_index_ops_refuse_what_pytorch_refuses():
    F = cr.nn.functional
    assert F.one_hot(cr.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert F.one_hot(cr.tensor([[1], [3]])).shape == (2, 1, 4) and F.one_hot(cr.tensor([1])).dtype == np.int64
    with pytest.raises(ValueError, match="not smaller than num_classes=2"):
        F.one_hot(cr.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match=">= 0"):
        F.one_hot(cr.tensor([-1]))
    with pytest.raises(TypeError, match="integers"):
        F.one_hot(cr.tensor([1.0]))
    x = cr.ones(2, 3)
    with pytest.raises(IndexError, match="index -1 is out of bounds for dimension 1 with size 3"):
        cr.gather(x, 1, cr.tensor([[-1], [0]]))  # (NumPy would have wrapped it silently)
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        x.index_select(1, cr.tensor([3]))
    with pytest.raises(ValueError, match="index has 1 dimensions but the tensor has 2"):
        cr.gather(x, 0, cr.tensor([0]))
    with pytest.raises(ValueError, match="bmm: expects two 3-D tensors with the same batch size"):
        cr.bmm(cr.ones(2, 2, 3), cr.ones(3, 3, 2))
    with pytest.raises(ValueError, match="tril: needs a tensor of at least 2 dimensions"):
        cr.tril(cr.ones(3))
    assert [p.shape for p in cr.ones(6).chunk(4)] == [(2,), (2,), (2,)]  # (PyTorch's count: 3 pieces)


# ------------------------------------------------------------------ found by the review of this stop's changes


def test_default_collate_takes_the_kind_of_every_number_as_torch_tensor_does():
    from collections import defaultdict

    from chainrule.data import default_collate

    mixed = default_collate([1, 2.5, 3])  # (the first int made an int64 batch: [1, 2, 3])
    assert mixed.tolist() == [1.0, 2.5, 3.0] and mixed.dtype == np.float32
    assert default_collate([{"y": 1}, {"y": 2.7}])["y"].tolist() == pytest.approx([1.0, 2.7])
    assert default_collate([True, 2]).tolist() == [1, 2]
    assert default_collate([2.0, 1]).dtype == np.float64
    kept = default_collate([defaultdict(int, a=1), defaultdict(int, a=2)])
    assert isinstance(kept, defaultdict) and kept["a"].tolist() == [1, 2]


def test_zero_grad_without_none_detaches_a_recorded_gradient_and_refuses_its_stale_graph():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    (w**3).sum().backward(create_graph=True)
    penalty = (w.grad**2).sum()
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and w.grad.grad_fn is None and not w.grad.requires_grad
    with pytest.raises(RuntimeError, match="modified in place by zero_grad"):
        penalty.backward()  # (it gave [0, 0] silently; PyTorch raises too)
    v = cr.tensor(2.0, requires_grad=True)
    broadcast = cr.tensor([1.0, 2.0], requires_grad=True)
    opt2 = cr.optim.SGD([broadcast, v], lr=0.1)
    (broadcast * v).sum().backward(create_graph=True)
    opt2.zero_grad(set_to_none=False)  # (a read-only gradient array raised NumPy's error half-way)
    assert broadcast.grad.tolist() == [0.0, 0.0] and v.grad.item() == 0.0


def test_lbfgs_steps_after_its_state_was_read():
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
    opt = cr.optim.LBFGS([w])
    assert opt.state[w] == {}

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)  # (KeyError: 'func_evals')
    assert abs(w.numpy()).max() < 1e-6


def test_a_custom_functions_constant_input_changed_in_place_afterwards_is_allowed():
    class Triple(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, t):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            return g * 3, None

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([5.0, 5.0], requires_grad=True)
    t = cr.zeros(2)
    y = Triple.apply(x, t)
    t.add_(w)  # recorded: t now has a node, but it was no edge of Triple's
    (y.sum() + t.sum()).backward()
    assert x.grad.tolist() == [3.0, 3.0] and w.grad.tolist() == [1.0, 1.0]


def test_a_leafs_tensor_hook_runs_when_its_gradient_is_complete_whatever_other_hooks_exist():
    for post in (False, True):
        order = []
        x = cr.tensor([1.0], requires_grad=True)
        w = cr.tensor([2.0], requires_grad=True)
        t = w * 3
        t.register_hook(lambda g, order=order: order.append("t"))
        y = x * t
        x.register_hook(lambda g, order=order: order.append("x"))
        if post:
            w.register_post_accumulate_grad_hook(lambda p: None)
        y.sum().backward()
        assert order == ["x", "t"], post  # PyTorch's order, with or without a post-accumulate hook


def test_smaller_habits_found_by_the_review():
    with pytest.raises(TypeError, match="draws floats"):
        cr.rand_like(cr.tensor([1, 2]))
    assert cr.randn_like(cr.tensor([1, 2]), dtype=cr.float32).dtype == np.float32
    with pytest.raises(TypeError, match="complex numbers"):
        cr.full((2,), 1j)  # (the imaginary part was dropped silently)
    assert cr.full((2,), cr.tensor(2)).dtype == np.int64
    with pytest.raises(ValueError, match="does not fit in int32"):
        cr.randint(0, 2**40, (2,), dtype="int32")
    assert cr.tensor(3.0).squeeze(0).shape == ()
    layer = cr.nn.Linear(2, 1)
    with pytest.raises(TypeError, match="array"):
        layer((np.ones((4, 2), dtype=np.float32),))  # (an as_numpy batch, stacked silently)
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="dim=0 is used"):
        np.testing.assert_allclose(cr.nn.Softmax()(cr.tensor(x)).numpy().sum(axis=0), 1.0)  # (as PyTorch's)
    from chainrule.data import DataLoader

    loader = DataLoader((np.arange(4.0), np.arange(4)), batch_size=2, num_workers=2, worker_init_fn=print)
    assert len(list(loader)) == 2


def test_fit_reads_a_dataset_of_lists():
    from chainrule.data import Dataset

    class Pairs(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return [np.array([i, 1.0], dtype=np.float32), np.array([2.0 * i], dtype=np.float32)]

    from chainrule.data import DataLoader

    model = cr.nn.Linear(2, 1)
    history = cr.train.fit(
        model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.01), DataLoader(Pairs(), batch_size=4), verbose=0
    )
    assert len(history.history["loss"]) == 1


# ------------------------------------------------------------------ more habits of the gap hunt


def test_remainder_and_floor_divide_operators():
    a = cr.tensor([5.0, -5.0, 7.5], requires_grad=True)
    b = cr.tensor([3.0, 3.0, -2.0], requires_grad=True)
    r = a % b
    assert r.tolist() == [2.0, 1.0, -0.5]  # the divisor's sign, as Python
    r.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0] and b.grad.tolist() == [-1.0, 2.0, 4.0]  # -floor(a / b)
    assert (cr.tensor([7, -7]) // 2).tolist() == [3, -4] and (7 // cr.tensor([2])).tolist() == [3]
    assert (cr.tensor([7, -7]) % 3).tolist() == [1, 2] and (10 % cr.tensor([4.0])).tolist() == [2.0]


def test_nonzero_and_where_of_a_condition_alone():
    x = cr.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert cr.nonzero(x).tolist() == [[0, 1], [1, 0]] and x.nonzero().dtype == np.int64
    rows, cols = cr.where(x > 0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert [t.tolist() for t in x.nonzero(as_tuple=True)] == [[0, 1], [1, 0]]
    with pytest.raises(TypeError, match="give the condition alone"):
        cr.where(x > 0, x)


def test_sum_and_mean_cast_first_with_dtype():
    ints = cr.tensor([1, 2])
    assert ints.sum(dtype=cr.float64).dtype == np.float64 and ints.mean(dtype=cr.float32).item() == 1.5
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.sum(w, dtype=cr.float64).backward()
    assert w.grad.tolist() == [1.0, 1.0] and w.grad.dtype == np.float32


def test_pytorch_keywords_and_names_found_missing():
    assert cr.add(cr.ones(2), cr.ones(2), alpha=3).tolist() == [4.0, 4.0]
    assert cr.randn(size=(2, 3)).shape == (2, 3) and cr.rand(size=(4,)).shape == (4,)
    with pytest.raises(TypeError, match="give the shape once"):
        cr.randn(2, size=(2,))
    w = cr.zeros(2)
    assert cr.nn.init.constant_(w, val=0.5).tolist() == [0.5, 0.5]
    with pytest.raises(TypeError, match="give the value once"):
        cr.nn.init.constant_(w)
    with pytest.raises(TypeError, match=r"legacy constructor.*cr.zeros\(2, 3\)"):
        cr.Tensor(2, 3)  # (was NumPy's "Cannot interpret '3' as a data type")
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sequential(cr.nn.ReLU()))
    assert model.get_submodule("1.0").__class__ is cr.nn.ReLU and model.get_submodule("") is model
    with pytest.raises(AttributeError, match=r"Sequential 1 has no submodule '5'"):
        model.get_submodule("1.5")
    with cr.autograd.set_detect_anomaly(True):
        assert cr.autograd.is_anomaly_enabled()
        x = cr.tensor([0.0], requires_grad=True)
        with pytest.raises(FloatingPointError, match="produced NaN"):
            cr.sqrt(x).backward(cr.tensor([0.0]))
    assert not cr.autograd.is_anomaly_enabled()


# ------------------------------------------------------------------ found by the review of the newest additions


def test_descending_sorts_put_nan_first_keep_ties_in_order_and_do_not_overflow():
    nan = float("nan")
    assert cr.argsort(cr.tensor([3.0, nan, 1.0]), descending=True).tolist() == [1, 0, 2]  # (NaN went last)
    assert cr.argsort(cr.tensor([True, False, True, False]), descending=True).tolist() == [0, 2, 1, 3]
    smallest = np.iinfo(np.int64).min
    assert cr.argsort(cr.tensor([smallest, 5, smallest]), descending=True).tolist() == [1, 0, 2]  # (-min overflowed)
    values, indices = cr.sort(cr.tensor([[2.0, 1.0, 2.0], [0.0, 0.0, 3.0]]), descending=True)
    assert indices.tolist() == [[0, 2, 1], [2, 0, 1]] and values.tolist() == [[2.0, 2.0, 1.0], [3.0, 0.0, 0.0]]


def test_amax_over_no_named_dim_reduces_everything_as_pytorch():
    t = cr.tensor([[1.0, 5.0], [5.0, 2.0]], requires_grad=True)
    top = cr.amax(t, ())
    top.backward()
    assert top.item() == 5.0 and t.grad.tolist() == [[0.0, 0.5], [0.5, 0.0]]


def test_float_remainder_is_exact_and_integer_division_by_zero_raises():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(2000) * 100).astype(np.float32)
    b = rng.standard_normal(2000).astype(np.float32)
    np.testing.assert_array_equal((cr.tensor(a) % cr.tensor(b)).numpy(), np.remainder(a, b))  # (was a - floor(a/b) b)
    assert (cr.tensor([5.0]) % float("inf")).tolist() == [5.0]
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        cr.tensor([5, 3]) % 0
    with pytest.raises(ZeroDivisionError):
        cr.tensor([5]) // cr.tensor([0])
    assert (cr.tensor([5.0]) // 0.0).tolist() == [float("inf")]  # (floats: inf, as PyTorch)


def test_review_of_the_newest_additions_smaller_findings():
    with pytest.raises(ValueError, match="do not fit in uint8"):
        cr.randperm(300, dtype=cr.uint8)
    assert [p.shape for p in cr.zeros(0, 3).chunk(2)] == [(0, 3), (0, 3)]
    assert cr.gelu(cr.tensor([1.0], dtype="float16")).dtype == np.float16  # (was float64)
    assert cr.erf(cr.tensor([1])).dtype == np.float32
    assert cr.tensor([100, 100], dtype="int8").sum(dtype=cr.int8).dtype == np.int8
    with pytest.raises(TypeError, match="is not a float"):
        cr.tensor([1.5, 2.5]).mean(dtype=cr.int64)
    with pytest.raises(TypeError, match="would cut the gradient"):
        cr.tensor([1.5], requires_grad=True).sum(dtype=cr.int64)
    assert cr.ones(2, 3).flip(dims=(0,)).shape == (2, 3)
    with pytest.raises(ValueError, match="name an axis twice"):
        cr.flip(cr.ones(2), (0, 0))
    with pytest.raises(TypeError, match="give the dims"):
        cr.ones(2).flip()
    with pytest.raises(NotImplementedError, match="check_nan"):
        cr.autograd.set_detect_anomaly(True, check_nan=False)


def test_nonzero_in_a_compiled_step_runs_eagerly_and_index_select_replays():
    w = cr.tensor([3.0, 0.5, -1.0, -1.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.2)

    @cr.compile
    def step(x):
        opt.zero_grad()
        (i,) = cr.where(w > 0)
        loss = (cr.gather(w, 0, i) * x[:1]).sum()
        loss.backward()
        opt.step()
        return loss

    with pytest.warns(cr.compiler.CompileWarning, match="nonzero"):
        for _ in range(4):
            step(cr.ones(4))  # (the 4th call crashed: the plan's shapes no longer held)
    table = cr.tensor(np.arange(12.0).reshape(4, 3))
    pick = cr.compile(lambda idx: cr.index_select(table, 0, idx))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [pick(cr.tensor([k, 0])).tolist() for k in (1, 2, 3)]
    assert results == [
        [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]],
        [[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]],
        [[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]],
    ]
    assert pick.stats["replayed"] >= 1


def test_sub_takes_pytorchs_alpha():
    assert cr.sub(cr.ones(2), cr.ones(2), alpha=3).tolist() == [-2.0, -2.0]
