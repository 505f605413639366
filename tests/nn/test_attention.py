"""F.scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer and TransformerEncoder
against NumPy references: values, masks, shapes, gradients (finite differences), errors, saving, reprs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_sdpa(q, k, v, bias=0.0):
    return np_softmax(q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1]) + bias) @ v


def np_mha(attn, q, k, v, bias=0.0):
    """(L, N, E) inputs; ``bias`` broadcastable to (N, heads, L, S), added to the scores."""
    w = attn.in_proj_weight.numpy()
    b = attn.in_proj_bias.numpy()
    e, h = attn.embed_dim, attn.num_heads
    hd = e // h
    qp, kp, vp = (x @ w[i * e : (i + 1) * e].T + b[i * e : (i + 1) * e] for i, x in enumerate((q, k, v)))

    def heads(x):  # (T, N, E) -> (N, H, T, hd)
        return x.reshape(x.shape[0], x.shape[1], h, hd).transpose(1, 2, 0, 3)

    scores = heads(qp) @ heads(kp).transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
    weights = np_softmax(scores)
    out = (weights @ heads(vp)).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return out @ attn.out_proj.weight.numpy().T + attn.out_proj.bias.numpy(), weights


def randomised(attn):
    rng = np.random.default_rng(5)
    for p in attn.parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    return attn


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------ scaled_dot_product_attention


def test_sdpa_values_with_each_mask_kind():
    q, k, v = data(2, 3, 4, 5), data(2, 3, 6, 5, seed=1), data(2, 3, 6, 7, seed=2)
    out = F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v))
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v), rtol=1e-12)
    keep = np.random.default_rng(3).random((4, 6)) > 0.3
    keep[:, 0] = True
    out = F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v), attn_mask=cr.tensor(keep))
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, np.where(keep, 0.0, -np.inf)), rtol=1e-12)
    added = data(4, 6, seed=4)
    out = F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v), attn_mask=cr.tensor(added))
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, added), rtol=1e-12)
    out = F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v), is_causal=True, scale=0.5)
    causal = np.where(np.tril(np.ones((4, 6), bool)), 0.0, -np.inf)
    np.testing.assert_allclose(out.numpy(), np_sdpa(q * 0.5 * math.sqrt(5), k, v, causal), rtol=1e-12)


def test_sdpa_a_query_with_every_key_masked_gets_zeros_and_zero_gradient():
    q = cr.tensor(data(3, 4), requires_grad=True)
    keep = np.ones((3, 3), bool)
    keep[1] = False
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=keep)
    assert not out.numpy()[1].any() and np.isfinite(out.numpy()).all()
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all()


def test_sdpa_gradients_match_finite_differences():
    q, k, v = (cr.tensor(data(2, 3, 4, seed=s), requires_grad=True) for s in range(3))
    mask = cr.tensor(data(3, 3, seed=9))
    assert cr.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask), [q, k, v])


def test_sdpa_errors():
    x = cr.ones(2, 3, 4)
    with pytest.raises(ValueError, match="attn_mask or is_causal"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(ValueError, match="must agree"):
        F.scaled_dot_product_attention(x, cr.ones(2, 3, 5), x)
    with pytest.raises(TypeError, match="boolean or floating"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((3, 3), np.int64))
    with pytest.raises(ValueError, match="does not broadcast"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), bool))


# ------------------------------------------------------------------ MultiheadAttention


def test_mha_values_and_weights_match_numpy():
    attn = randomised(nn.MultiheadAttention(6, 2, dtype="float64"))
    q, k, v = data(4, 3, 6), data(5, 3, 6, seed=1), data(5, 3, 6, seed=2)
    out, weights = attn(cr.tensor(q), cr.tensor(k), cr.tensor(v), average_attn_weights=False)
    want_out, want_w = np_mha(attn, q, k, v)
    np.testing.assert_allclose(out.numpy(), want_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), want_w, rtol=1e-10, atol=1e-12)
    _, mean = attn(cr.tensor(q), cr.tensor(k), cr.tensor(v))
    np.testing.assert_allclose(mean.numpy(), want_w.mean(axis=1), rtol=1e-10)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_match_numpy(need_weights):
    attn = randomised(nn.MultiheadAttention(6, 3, dtype="float64"))
    q, k = data(4, 2, 6), data(5, 2, 6, seed=1)
    causal = np.triu(np.ones((4, 5), bool), 1)
    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])
    bias = np.where(causal[None, None] | pad[:, None, None, :], -np.inf, 0.0)
    want, _ = np_mha(attn, q, k, k, bias)
    out, _ = attn(
        cr.tensor(q), cr.tensor(k), cr.tensor(k), key_padding_mask=pad, attn_mask=causal, need_weights=need_weights
    )
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)
    float_mask = data(2 * 3, 4, 5, seed=7)  # (N * heads, L, S), added per head
    out, _ = attn(cr.tensor(q), cr.tensor(k), cr.tensor(k), attn_mask=cr.tensor(float_mask), need_weights=need_weights)
    want, _ = np_mha(attn, q, k, k, float_mask.reshape(2, 3, 4, 5))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)


def test_mha_shapes_batch_first_and_unbatched():
    attn = nn.MultiheadAttention(8, 4, batch_first=True, kdim=3, vdim=5)
    out, w = attn(cr.randn(2, 7, 8), cr.randn(2, 6, 3), cr.randn(2, 6, 5), average_attn_weights=False)
    assert out.shape == (2, 7, 8) and w.shape == (2, 4, 7, 6)
    out, w = attn(cr.randn(7, 8), cr.randn(6, 3), cr.randn(6, 5))
    assert out.shape == (7, 8) and w.shape == (7, 6)
    out, w = attn(cr.randn(7, 8), cr.randn(6, 3), cr.randn(6, 5), need_weights=False)
    assert out.shape == (7, 8) and w is None
    seq_first = nn.MultiheadAttention(8, 4)
    seq_first.load_state_dict(nn.MultiheadAttention(8, 4, batch_first=True).state_dict())
    x = data(2, 7, 8).astype(np.float32)
    a = nn.MultiheadAttention(8, 4, batch_first=True)
    a.load_state_dict(seq_first.state_dict())
    np.testing.assert_allclose(
        a(cr.tensor(x), cr.tensor(x), cr.tensor(x))[0].numpy(),
        seq_first(*[cr.tensor(x.transpose(1, 0, 2))] * 3)[0].numpy().transpose(1, 0, 2),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "options", [{}, {"kdim": 2, "vdim": 3}, {"add_bias_kv": True, "add_zero_attn": True}, {"bias": False}]
)
def test_mha_gradients_match_finite_differences(options):
    attn = randomised(nn.MultiheadAttention(4, 2, dtype="float64", **options))
    q = cr.tensor(data(3, 2, 4), requires_grad=True)
    k = cr.tensor(data(2, 2, options.get("kdim", 4), seed=1), requires_grad=True)
    v = cr.tensor(data(2, 2, options.get("vdim", 4), seed=2), requires_grad=True)
    pad = np.array([[False, False], [False, True]])
    for need in (True, False):

        def f(*tensors, need=need):
            out, w = attn(*tensors[:3], key_padding_mask=pad, need_weights=need)
            return out if w is None else out.sum() + (w * w).sum()

        assert cr.gradcheck(f, [q, k, v, *attn.parameters()])


def test_mha_parameters_names_shapes_and_initialisation():
    attn = nn.MultiheadAttention(8, 2)
    assert {k: v.shape for k, v in attn.state_dict().items()} == {
        "in_proj_weight": (24, 8),
        "in_proj_bias": (24,),
        "out_proj.weight": (8, 8),
        "out_proj.bias": (8,),
    }
    bound = math.sqrt(6 / (8 + 24))  # Xavier's uniform bound for (3E, E)
    assert np.abs(attn.in_proj_weight.numpy()).max() <= bound
    assert not attn.in_proj_bias.numpy().any() and not attn.out_proj.bias.numpy().any()
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert {k: v.shape for k, v in separate.state_dict().items()} == {
        "q_proj_weight": (8, 8),
        "k_proj_weight": (8, 3),
        "v_proj_weight": (8, 5),
        "bias_k": (1, 1, 8),
        "bias_v": (1, 1, 8),
        "out_proj.weight": (8, 8),
    }
    assert separate.in_proj_weight is None and separate.in_proj_bias is None


def test_mha_errors_are_clear():
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(6, 4)
    attn = nn.MultiheadAttention(4, 2)
    x = cr.ones(3, 2, 4)
    with pytest.raises(ValueError, match="features of size 4"):
        attn(cr.ones(3, 2, 5), x, x)
    with pytest.raises(ValueError, match="2-D"):
        attn(cr.ones(4), cr.ones(4), cr.ones(4))
    with pytest.raises(ValueError, match="3-D too"):
        attn(x, cr.ones(3, 4), x)
    with pytest.raises(ValueError, match="batch size"):
        attn(x, cr.ones(3, 5, 4), cr.ones(3, 5, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\)"):
        attn(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\)"):
        attn(x, x, x, attn_mask=np.zeros((2, 3, 3), bool))
    with pytest.raises(ValueError, match="is_causal=True is a hint"):
        attn(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="boolean and floating-point"):
        attn(x, x, x, attn_mask=np.zeros((3, 3), np.int64))


def test_mha_dropout_on_weights_in_training_only():
    attn = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = cr.randn(3, 2, 4)
    cr.manual_seed(0)
    _, dropped = attn(x, x, x, average_attn_weights=False)
    attn.eval()
    _, w = attn(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-6)
    kept = dropped.numpy() != 0
    assert 0 < kept.mean() < 1  # some dropped, the others scaled by 1 / (1 - p)
    np.testing.assert_allclose(dropped.numpy()[kept], 2 * w.numpy()[kept], rtol=1e-6)


def test_mha_saves_and_loads(tmp_path):
    attn = nn.MultiheadAttention(8, 2, kdim=3, add_zero_attn=True, batch_first=True, dtype="float64")
    cr.save(attn, tmp_path / "m.crm")
    again = cr.load(tmp_path / "m.crm")
    x, k = cr.randn(2, 4, 8, dtype="float64"), cr.randn(2, 5, 3, dtype="float64")
    np.testing.assert_array_equal(
        again(x, k, x[:, :1].expand(2, 5, 8))[0].numpy(), attn(x, k, x[:, :1].expand(2, 5, 8))[0].numpy()
    )
    assert (
        repr(again)
        == repr(attn)
        == (
            "MultiheadAttention(\n"
            "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n)"
        )
    )


# ------------------------------------------------------------------ TransformerEncoderLayer / TransformerEncoder


def np_layer_norm(x, w, b, eps=1e-5):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * w + b


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_numpy(norm_first):
    layer = nn.TransformerEncoderLayer(6, 2, 10, dropout=0.0, norm_first=norm_first, dtype="float64")
    randomised(layer)
    x = data(4, 3, 6)
    pad = np.array([[False] * 4, [False] * 3 + [True], [False] * 2 + [True] * 2])
    p = {k: np.asarray(v) for k, v in layer.state_dict().items()}

    def sa(h):
        return np_mha(layer.self_attn, h, h, h, np.where(pad[:, None, None, :], -np.inf, 0.0))[0]

    def ff(h):
        return np.maximum(h @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]

    def n1(h):
        return np_layer_norm(h, p["norm1.weight"], p["norm1.bias"])

    def n2(h):
        return np_layer_norm(h, p["norm2.weight"], p["norm2.bias"])

    if norm_first:
        h = x + sa(n1(x))
        want = h + ff(n2(h))
    else:
        h = n1(x + sa(x))
        want = n2(h + ff(h))
    np.testing.assert_allclose(layer(cr.tensor(x), src_key_padding_mask=pad).numpy(), want, rtol=1e-10, atol=1e-12)


def test_encoder_copies_the_layer_and_applies_the_norm():
    layer = nn.TransformerEncoderLayer(4, 2, 8, activation="gelu")
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(4))
    assert len(encoder.layers) == 3 and all(m is not layer for m in encoder.layers)
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    np.testing.assert_array_equal(encoder.layers[2].linear1.weight.numpy(), layer.linear1.weight.numpy())
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters())) + 2
    encoder.eval()
    x = cr.randn(5, 2, 4)
    h = x
    for m in encoder.layers:
        h = m(h)
    np.testing.assert_allclose(encoder(x).numpy(), encoder.norm(h).numpy(), rtol=1e-6)


def test_encoder_gradients_match_finite_differences():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype="float64", batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2)
    randomised(encoder)
    x = cr.tensor(data(2, 3, 4), requires_grad=True)
    mask = np.triu(np.ones((3, 3), bool), 1)
    assert cr.gradcheck(lambda t, *ps: encoder(t, mask=mask), [x, *list(encoder.parameters())[:4]])


def test_encoder_causal_mask_detection_and_shapes():
    layer = nn.TransformerEncoderLayer(4, 2, 8, batch_first=True, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 2).eval()
    x = cr.randn(2, 5, 4)
    causal = np.triu(np.ones((5, 5), bool), 1)
    np.testing.assert_allclose(
        encoder(x, mask=causal).numpy(), encoder(x, mask=causal, is_causal=True).numpy(), rtol=1e-6
    )
    assert not np.allclose(encoder(x, mask=causal).numpy(), encoder(x).numpy())
    assert encoder(cr.randn(5, 4)).shape == (5, 4)


def test_encoder_errors_are_clear():
    with pytest.raises(ValueError, match="activation should be 'relu' or 'gelu', not 'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(5, 2)
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)
    layer = nn.TransformerEncoderLayer(4, 2, activation=lambda t: cr.tanh(t))
    with pytest.raises(TypeError, match="cannot be saved"):
        layer.get_config()


@pytest.mark.parametrize("activation", ["relu", "gelu", "module"])
def test_encoder_saves_and_loads(tmp_path, activation):
    layer = nn.TransformerEncoderLayer(
        4, 2, 8, activation=nn.SiLU() if activation == "module" else activation, norm_first=True, bias=False
    )
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4)).eval()
    cr.save(encoder, tmp_path / "m.crm")
    again = cr.load(tmp_path / "m.crm").eval()
    x = cr.randn(3, 2, 4)
    np.testing.assert_array_equal(again(x).numpy(), encoder(x).numpy())
    assert repr(again) == repr(encoder)
    assert "(self_attn): MultiheadAttention(" in repr(encoder) and "(dropout1): Dropout(p=0.1)" in repr(encoder)


def test_encoder_inference_gives_zeros_at_padding_where_pytorch_does():
    """PyTorch's nested-tensor inference path: padded positions are zeros before the final norm,
    in eval mode without gradients, for a batch_first post-LN layer with an even head count."""
    cr.manual_seed(0)
    layer = cr.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    encoder = cr.nn.TransformerEncoder(layer, 2).eval()
    x = cr.randn(2, 4, 8)
    padding = cr.tensor([[False, False, True, True], [False, False, False, False]])
    with cr.no_grad():
        inference = encoder(x, src_key_padding_mask=padding).numpy()
    computed = encoder(x, src_key_padding_mask=padding).numpy()  # gradients on: PyTorch's other path
    assert np.all(inference[0, 2:] == 0) and np.all(computed[0, 2:] != 0)
    np.testing.assert_allclose(inference[0, :2], computed[0, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inference[1], computed[1], rtol=1e-5, atol=1e-6)
    not_left_aligned = cr.tensor([[True, False, False, False], [False, False, False, False]])
    with cr.no_grad():
        assert np.all(encoder(x, src_key_padding_mask=not_left_aligned).numpy()[0, 0] != 0)  # (mask_check)
    odd = cr.nn.TransformerEncoder(cr.nn.TransformerEncoderLayer(8, 1, 16, batch_first=True), 1).eval()
    assert odd.use_nested_tensor is False and encoder.use_nested_tensor is True
