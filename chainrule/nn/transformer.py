"""Transformer encoder: TransformerEncoderLayer and TransformerEncoder, as PyTorch's."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.autograd import is_grad_enabled
from chainrule.nn import functional as F
from chainrule.nn.activation import GELU, ReLU
from chainrule.nn.attention import MultiheadAttention, float_mask
from chainrule.nn.checks import positive_int
from chainrule.nn.dropout import Dropout
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module, ModuleList, module_from_spec, module_to_spec
from chainrule.nn.normalization import LayerNorm
from chainrule.ops.elementwise import lift
from chainrule.tensor import Tensor

_LAYER = "TransformerEncoderLayer"
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _inference_path_possible(layer: Module) -> bool:
    """PyTorch's conditions, checked when a TransformerEncoder is made, for its nested-tensor
    inference path (``use_nested_tensor``)."""
    if not isinstance(layer, TransformerEncoderLayer) or layer.norm_first:
        return False
    attention = layer.self_attn
    activation = layer.activation
    relu_or_gelu = activation in (F.relu, F.gelu) or isinstance(activation, (ReLU, GELU))
    return (
        attention.batch_first
        and attention._qkv_same_embed_dim
        and attention.in_proj_bias is not None
        and relu_or_gelu
        and layer.norm1.eps == layer.norm2.eps
        and attention.num_heads % 2 == 0
    )


def _activation(activation: str | Callable) -> Callable:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"TransformerEncoderLayer: activation should be 'relu' or 'gelu', not {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


class TransformerEncoderLayer(Module):
    """One transformer encoder block, as PyTorch's: self-attention, then a two-layer feed-forward
    network, each with dropout, a residual connection and layer normalisation (after each block by
    default; before it with ``norm_first=True``).

    Args:
        d_model: the model's width.
        nhead: attention heads (``d_model`` must be divisible by it).
        dim_feedforward: the feed-forward network's hidden width (default 2048).
        dropout: dropout probability (default 0.1).
        activation: ``'relu'`` (default), ``'gelu'``, or a callable (a function or a Module).
        layer_norm_eps: the layer norms' eps (default 1e-5).
        batch_first: inputs (N, S, E) rather than (S, N, E).
        norm_first: normalise before attention and the feed-forward network (pre-LN).
        bias: biases in the linear layers and the layer norms (default True).
        device, dtype: PyTorch's factory arguments.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False): masks as
    ``MultiheadAttention``'s ``attn_mask`` and ``key_padding_mask`` (True = not attended).

    Shape:
        src (S, N, E), (N, S, E) with ``batch_first``, or unbatched (S, E); the output has its shape.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
        >>> layer(cr.randn(3, 5, 8)).shape
        (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        function = _activation(activation)
        positive_int("TransformerEncoderLayer", "dim_feedforward", dim_feedforward)
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = function
        self._config = {
            "d_model": d_model,
            "nhead": nhead,
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": bool(batch_first),
            "norm_first": self.norm_first,
            "bias": bool(bias),
        }

    def get_config(self) -> dict[str, Any]:
        activation = self.activation
        names = {f: n for n, f in _ACTIVATIONS.items()}
        if isinstance(activation, Module):
            spec: Any = {"module": module_to_spec(activation)}
        elif activation in names:
            spec = names[activation]
        else:
            raise TypeError(
                f"TransformerEncoderLayer: an activation given as a plain function ({activation!r}) cannot be saved; "
                "give 'relu', 'gelu' or a Module (for example cr.nn.SiLU())"
            )
        return {**self._config, "activation": spec, "dtype": str(self.linear1.weight.dtype)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransformerEncoderLayer:
        config = dict(config)
        if isinstance(config.get("activation"), Mapping):
            config["activation"] = module_from_spec(config["activation"]["module"])
        return cls(**config)

    def forward(
        self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        x = lift(src)
        src_key_padding_mask = float_mask(
            src_key_padding_mask, "TransformerEncoderLayer: src_key_padding_mask", x.dtype
        )
        src_mask = float_mask(src_mask, f"{_LAYER}: src_mask", x.dtype)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        out = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _is_causal_mask(mask: Tensor | None, size: int) -> bool:
    """Whether ``mask`` (a float mask) is the (size, size) causal mask: -inf above the diagonal, 0 elsewhere."""
    if mask is None or tuple(mask.shape) != (size, size):
        return False
    causal = np.triu(np.full((size, size), -np.inf), 1)
    return bool(np.array_equal(np.asarray(mask.numpy()), causal))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (deep copies: each has its own weights,
    all starting from the layer's), then ``norm`` when given, as PyTorch's.

    Args:
        encoder_layer: a TransformerEncoderLayer (copied; the object itself is not used).
        num_layers: how many layers.
        norm: a module applied to the last layer's output (a LayerNorm), or None.
        enable_nested_tensor: PyTorch's inference path, whose outputs at the padded positions of
            ``src_key_padding_mask`` are zeros (before ``norm``). chainrule gives those zeros under
            PyTorch's conditions (default True): a TransformerEncoderLayer with ``batch_first``,
            post-LN, an even head count, relu or gelu, in eval mode, with no gradient asked, a 3-d
            batch, a padding mask and no ``mask``; elsewhere padded positions are computed.
        mask_check: with it (default True) the zeros are given only when each row's padding is at
            its end, as PyTorch checks.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): each layer gets the masks;
    ``is_causal=None`` detects whether ``mask`` is the causal mask, as PyTorch does.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> encoder = cr.nn.TransformerEncoder(layer, num_layers=2, norm=cr.nn.LayerNorm(8))
        >>> encoder(cr.randn(5, 3, 8)).shape
        (5, 3, 8)
        >>> len(encoder.layers), encoder.layers[0] is layer
        (2, False)
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.num_layers = positive_int("TransformerEncoder", "num_layers", num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(self.num_layers)])
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = bool(enable_nested_tensor), bool(mask_check)
        self.use_nested_tensor = self.enable_nested_tensor and _inference_path_possible(encoder_layer)

    def get_config(self) -> dict[str, Any]:
        return {
            "encoder_layer": module_to_spec(self.layers[0]),
            "num_layers": self.num_layers,
            "norm": None if self.norm is None else module_to_spec(self.norm),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransformerEncoder:
        norm = config.get("norm")
        return cls(
            module_from_spec(config["encoder_layer"]),
            config["num_layers"],
            None if norm is None else module_from_spec(norm),
        )

    def forward(
        self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool | None = None
    ) -> Tensor:
        output = lift(src)
        padding = float_mask(src_key_padding_mask, "TransformerEncoder: src_key_padding_mask", output.dtype)
        mask = float_mask(mask, "TransformerEncoder: mask", output.dtype)
        first = self.layers[0]
        batch_first = getattr(getattr(first, "self_attn", None), "batch_first", False)
        seq_len = output.shape[1 if batch_first and output.ndim == 3 else 0]
        if is_causal is None:
            is_causal = _is_causal_mask(mask, seq_len)
        zeros_at_padding = self._inference_path(output, mask, padding)
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=padding)
        if zeros_at_padding is not None:
            output = ops.where(zeros_at_padding, 0.0, output)
        return output if self.norm is None else self.norm(output)

    def _inference_path(self, src: Tensor, mask: Any, padding: Any) -> Tensor | None:
        """Where PyTorch's nested-tensor inference path would give zeros (the padded positions, as
        an (N, S, 1) boolean tensor), or None when PyTorch would not take that path."""
        first = self.layers[0]
        if not self.use_nested_tensor or first.training or src.ndim != 3 or padding is None or mask is not None:
            return None
        if is_grad_enabled() and (src.requires_grad or any(p.requires_grad for p in first.parameters())):
            return None
        left_out = padding._data != 0  # (N, S)
        if self.mask_check and np.any(left_out[:, :-1] & ~left_out[:, 1:]):  # padding before a kept position
            return None
        return ops.reshape(ops.ne(padding, 0.0), (*padding.shape, 1))  # (an op: a compiled step makes it again)
