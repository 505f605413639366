"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoder(Layer) against torch with
torch's weights copied through the state_dict: outputs, attention weights and the gradients of the
inputs and every parameter, in float64, eval mode, with each kind of mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TOL = 1e-6


def copy_weights(source: torch.nn.Module, target: nn.Module) -> None:
    state = {k: v.detach().numpy().copy() for k, v in source.state_dict().items()}
    assert list(state) == list(target.state_dict())
    target.load_state_dict(state)


def both(value):
    """A mask (or a setting) as torch's and chainrule's."""
    if isinstance(value, np.ndarray):
        return torch.tensor(value), cr.tensor(value)
    return value, value


def close(a, b) -> None:
    np.testing.assert_allclose(b.numpy(), a.detach().numpy(), rtol=TOL, atol=TOL)


def causal(length, source, n, heads):
    return np.triu(np.ones((length, source), bool), 1)


def padding(length, source, n, heads):
    return np.array([[False] * (source - k) + [True] * k for k in range(n)])


MASKS = {
    "none": {},
    "bool attn_mask (L, S)": {"attn_mask": causal},
    "float attn_mask (L, S)": {"attn_mask": lambda L, S, N, H: np.random.default_rng(1).standard_normal((L, S))},
    "float attn_mask (N*H, L, S)": {
        "attn_mask": lambda L, S, N, H: np.random.default_rng(2).standard_normal((N * H, L, S))
    },
    "bool attn_mask (N*H, L, S)": {
        "attn_mask": lambda L, S, N, H: np.random.default_rng(3).random((N * H, L, S)) > 0.7
    },
    "bool key_padding_mask": {"key_padding_mask": padding},
    "float key_padding_mask and attn_mask": {
        "key_padding_mask": lambda L, S, N, H: np.random.default_rng(4).standard_normal((N, S)),
        "attn_mask": lambda L, S, N, H: np.random.default_rng(5).standard_normal((L, S)),
    },
    "both bool": {"key_padding_mask": padding, "attn_mask": causal},
}


def run_mha(options, call, length=4, source=5, n=3, e=6, heads=2, batched=True, self_attention=False):
    ref = torch.nn.MultiheadAttention(e, heads, dtype=torch.float64, **options).eval()
    ours = nn.MultiheadAttention(e, heads, dtype="float64", **options).eval()
    copy_weights(ref, ours)
    rng = np.random.default_rng(0)
    source = length if self_attention else source
    kdim, vdim = options.get("kdim") or e, options.get("vdim") or e

    def shape(steps, features):
        if not batched:
            return (steps, features)
        return (n, steps, features) if options.get("batch_first") else (steps, n, features)

    arrays = [rng.standard_normal(shape(length, e)), rng.standard_normal(shape(source, kdim))]
    arrays.append(rng.standard_normal(shape(source, vdim)))
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    if self_attention:
        ts, cs = [ts[0]] * 3, [cs[0]] * 3
    kt, kc = {}, {}
    for name, value in call.items():
        kt[name], kc[name] = both(value(length, source, n, heads) if callable(value) else value)
    out_t, w_t = ref(*ts, **kt)
    out_c, w_c = ours(*cs, **kc)
    close(out_t, out_c)
    assert (w_t is None) == (w_c is None)
    g = rng.standard_normal(tuple(out_t.shape))
    loss_t, loss_c = (out_t * torch.tensor(g)).sum(), (out_c * cr.tensor(g)).sum()
    if w_t is not None:
        close(w_t, w_c)
        gw = rng.standard_normal(tuple(w_t.shape))
        loss_t, loss_c = loss_t + (w_t * torch.tensor(gw)).sum(), loss_c + (w_c * cr.tensor(gw)).sum()
    loss_t.backward()
    loss_c.backward()
    for a, b in zip(ts, cs):
        close(a.grad, b.grad)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        close(ref_params[name].grad, p.grad)


WEIGHTS = [(True, True), (True, False), (False, True)]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights, average", WEIGHTS)
@pytest.mark.parametrize("masks", sorted(MASKS))
def test_multihead_attention_matches_torch(batch_first, need_weights, average, masks):
    call = {"need_weights": need_weights, "average_attn_weights": average, **MASKS[masks]}
    run_mha({"batch_first": batch_first}, call)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "options, masks",
    [
        ({}, "none"),
        ({"kdim": 4, "vdim": 3}, "bool key_padding_mask"),
        ({"bias": False}, "both bool"),
        ({"add_bias_kv": True}, "both bool"),
        ({"add_zero_attn": True}, "both bool"),
        ({"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}, "float key_padding_mask and attn_mask"),
    ],
)
def test_multihead_attention_options_match_torch(options, masks, need_weights):
    run_mha(options, {"need_weights": need_weights, **MASKS[masks]})


@pytest.mark.parametrize("need_weights", [True, False])
def test_self_attention_and_the_is_causal_hint_match_torch(need_weights):
    run_mha({}, {"need_weights": need_weights}, self_attention=True)
    run_mha({"batch_first": True}, {"need_weights": need_weights, "attn_mask": causal, "is_causal": True}, 4, 4)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_multihead_attention_matches_torch(batch_first):
    run_mha({"batch_first": batch_first}, {}, batched=False)
    masks = {
        "attn_mask": lambda L, S, N, H: np.random.default_rng(6).standard_normal((H, L, S)),
        "key_padding_mask": lambda L, S, N, H: np.array([False, True, False, False, True]),
    }
    run_mha({"batch_first": batch_first}, masks, batched=False)


def test_multihead_attention_repr_keys_shapes_and_init_statistics_match_torch():
    torch.manual_seed(0)
    for options in ({}, {"kdim": 3, "vdim": 5, "add_bias_kv": True}, {"bias": False}):
        ref, ours = torch.nn.MultiheadAttention(8, 2, **options), nn.MultiheadAttention(8, 2, **options)
        assert repr(ours) == repr(ref)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
            k: tuple(v.shape) for k, v in ref.state_dict().items()
        }
        for name, p in ours.named_parameters():
            if name.endswith("bias") and name not in ("bias_k", "bias_v"):
                assert not p.numpy().any() and not ref.state_dict()[name].any()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"is_causal": True}, {"attn_mask": "bool"}, {"attn_mask": "float"}, {"scale": 0.3}, {"enable_gqa": True}],
)
def test_scaled_dot_product_attention_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    heads_kv = 1 if kwargs.get("enable_gqa") else 3
    arrays = [rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, heads_kv, 6, 5))]
    arrays.append(rng.standard_normal((2, heads_kv, 6, 7)))
    mask = {"bool": rng.random((4, 6)) > 0.4, "float": rng.standard_normal((2, 1, 4, 6))}
    mask["bool"][1] = False  # a query with no key: zeros, as torch's
    mask["float"][0, 0, 2] = -np.inf
    kt, kc = {}, {}
    for name, value in kwargs.items():
        kt[name], kc[name] = both(mask[value] if name == "attn_mask" else value)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out_t = torch.nn.functional.scaled_dot_product_attention(*ts, **kt)
    out_c = F.scaled_dot_product_attention(*cs, **kc)
    close(out_t, out_c)
    g = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    out_c.backward(cr.tensor(g))
    for a, b in zip(ts, cs):
        close(a.grad, b.grad)


ENCODER_MASKS = {
    "none": {},
    "bool causal mask": {"mask": lambda s, n: np.triu(np.ones((s, s), bool), 1)},
    "float causal mask": {"mask": lambda s, n: np.triu(np.full((s, s), -np.inf), 1)},
    "causal hint": {"mask": lambda s, n: np.triu(np.ones((s, s), bool), 1), "is_causal": True},
    "padding": {"src_key_padding_mask": lambda s, n: np.array([[False] * (s - k) + [True] * k for k in range(n)])},
    "float mask": {"mask": lambda s, n: np.random.default_rng(1).standard_normal((s, s))},
}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", sorted(ENCODER_MASKS))
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_matches_torch(batch_first, norm_first, masks, activation):
    run_encoder({"batch_first": batch_first, "norm_first": norm_first, "activation": activation}, ENCODER_MASKS[masks])


@pytest.mark.parametrize("options", [{"bias": False}, {"layer_norm_eps": 0.1, "dim_feedforward": 5}])
def test_transformer_encoder_options_match_torch(options):
    run_encoder(options, ENCODER_MASKS["padding"], norm=False)
    run_encoder(options, {}, batched=False)


def run_encoder(options, call, n=3, s=5, e=8, batched=True, norm=True):
    options = {"dim_feedforward": 16, **options}
    ref_layer = torch.nn.TransformerEncoderLayer(e, 2, dtype=torch.float64, **options)
    layer = nn.TransformerEncoderLayer(e, 2, dtype="float64", **options)
    ref = torch.nn.TransformerEncoder(
        ref_layer, 2, torch.nn.LayerNorm(e, dtype=torch.float64) if norm else None, enable_nested_tensor=False
    ).eval()
    ours = nn.TransformerEncoder(layer, 2, nn.LayerNorm(e, dtype="float64") if norm else None).eval()
    copy_weights(ref, ours)
    shape = ((n, s, e) if options.get("batch_first") else (s, n, e)) if batched else (s, e)
    x = np.random.default_rng(0).standard_normal(shape)
    xt, xc = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    kt, kc = {}, {}
    for name, value in call.items():
        kt[name], kc[name] = both(value(s, n) if callable(value) else value)
    out_t, out_c = ref(xt, **kt), ours(xc, **kc)
    close(out_t, out_c)
    g = np.random.default_rng(1).standard_normal(shape)
    (out_t * torch.tensor(g)).sum().backward()
    (out_c * cr.tensor(g)).sum().backward()
    close(xt.grad, xc.grad)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        close(ref_params[name].grad, p.grad)


def test_an_encoder_layer_alone_matches_torch_with_masks():
    ref = torch.nn.TransformerEncoderLayer(8, 2, 16, dtype=torch.float64).eval()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dtype="float64").eval()
    copy_weights(ref, ours)
    x = np.random.default_rng(0).standard_normal((5, 3, 8))
    mask = np.triu(np.ones((5, 5), bool), 1)
    pad = np.array([[False] * 5, [False] * 4 + [True], [False] * 3 + [True] * 2])
    close(
        ref(torch.tensor(x), src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(pad)),
        ours(cr.tensor(x), src_mask=cr.tensor(mask), src_key_padding_mask=cr.tensor(pad)),
    )
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]


@pytest.mark.parametrize(
    "batch_first, nhead, norm_first", [(True, 2, False), (False, 2, False), (True, 1, False), (True, 2, True)]
)
def test_encoder_inference_with_padding_gives_torchs_outputs(batch_first, nhead, norm_first):
    """In eval mode without gradients PyTorch takes its nested-tensor path where it can (batch_first,
    post-LN, an even head count, ...): zeros at padded positions, before the final norm."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, nhead, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=True).eval()
    ours_layer = cr.nn.TransformerEncoderLayer(
        8, nhead, 16, dropout=0.0, batch_first=batch_first, norm_first=norm_first
    )
    ours = cr.nn.TransformerEncoder(ours_layer, 2, norm=cr.nn.LayerNorm(8)).eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    padding = np.array([[False, False, True, True], [False, False, False, False]])
    x = np.random.default_rng(0).normal(size=(2, 4, 8)).astype(np.float32)
    if not batch_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    with torch.no_grad():
        expected = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(padding)).numpy()
    with cr.no_grad():
        got = ours(cr.tensor(x), src_key_padding_mask=cr.tensor(padding)).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-6)
