"""Multi-head attention (PyTorch's ``nn.MultiheadAttention``), composed from linear, matmul, softmax and dropout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn import functional as F, init
from chainrule.nn.checks import parameter_dtype, positive_int, unit_interval
from chainrule.nn.linear import NonDynamicallyQuantizableLinear
from chainrule.nn.module import Module, Parameter
from chainrule.ops.elementwise import lift
from chainrule.tensor import Tensor

_NAME = "MultiheadAttention"


def float_mask(mask: Any, name: str, dtype: np.dtype) -> Tensor | None:
    """A mask as an additive float Tensor of ``dtype`` (PyTorch's ``_canonical_mask``): a boolean
    mask's True entries (the positions NOT to attend) become -inf, its False entries 0; a floating
    mask is kept (in ``dtype``); None stays None."""
    if mask is None:
        return None
    mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    if mask.dtype == bool:
        return ops.where(mask, np.array(-math.inf, dtype=dtype), np.array(0.0, dtype=dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: only boolean and floating-point masks are supported, got dtype {mask.dtype}")
    return mask if mask.dtype == dtype else ops.cast(mask, dtype)


class MultiheadAttention(Module):
    """Attention from a sequence of queries to a sequence of keys and values, in ``num_heads``
    parallel heads, as PyTorch's ``nn.MultiheadAttention`` (same arguments, parameters and state_dict keys).

    Each head projects the query, key and value to ``embed_dim // num_heads`` features, weighs the
    values by softmax(q kᵀ / sqrt(head_dim) + mask), and the heads' outputs are joined and projected
    by ``out_proj``.

    Args:
        embed_dim: the model's width E (the query's features and the output's).
        num_heads: parallel heads; ``embed_dim`` must be divisible by it.
        dropout: dropout on the attention weights in training (default 0.0).
        bias: biases on the input and output projections (default True).
        add_bias_kv: add a learned key and value (``bias_k``, ``bias_v``) at the end of the sequence.
        add_zero_attn: add a zero key and value at the end of the sequence (after the projections).
        kdim, vdim: the key's and value's features (default ``embed_dim``); when either differs, the
            projections are ``q_proj_weight``, ``k_proj_weight`` and ``v_proj_weight`` rather than one
            ``in_proj_weight``.
        batch_first: inputs and outputs are (N, L, E) rather than (L, N, E).
        device, dtype: PyTorch's factory arguments (the CPU; float32 by default).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) returns ``(attn_output, attn_weights)``:

    - ``key_padding_mask`` (N, S): True (or -inf, for a float mask, which is added) marks keys to ignore.
    - ``attn_mask`` (L, S) or (N * num_heads, L, S): True marks a pair not allowed to attend; a
      float mask is added to the scores.
    - ``need_weights``: also return the attention weights, (N, L, S) averaged over the heads when
      ``average_attn_weights``, else (N, num_heads, L, S); None otherwise.
    - ``is_causal``: a hint that ``attn_mask`` is the causal mask (it must be given); as in PyTorch,
      without weights nor a key padding mask the causal mask is then applied in its place.

    A query all of whose keys are masked gives NaN with ``need_weights=True`` and zeros without, as
    PyTorch's two paths do.

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first: (N, L, E) ...), or
        unbatched (L, E), (S, kdim), (S, vdim); output as the query, weights (N, L, S) or unbatched (L, S).

    Initialisation as PyTorch's: the input projections from Xavier's uniform distribution, their
    biases and ``out_proj``'s bias zero, ``out_proj.weight`` as a Linear's; ``bias_k``/``bias_v``
    from Xavier's normal distribution.

    Example:
        >>> import chainrule as cr
        >>> attn = cr.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = cr.randn(3, 5, 8)
        >>> out, weights = attn(x, x, x)
        >>> out.shape, weights.shape
        ((3, 5, 8), (3, 5, 5))
        >>> attn
        MultiheadAttention(
          (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)
        )
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        self.embed_dim = positive_int(_NAME, "embed_dim", embed_dim)
        self.num_heads = positive_int(_NAME, "num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{_NAME}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads}): each head gets "
                "embed_dim // num_heads features"
            )
        self.kdim = self.embed_dim if kdim is None else positive_int(_NAME, "kdim", kdim)
        self.vdim = self.embed_dim if vdim is None else positive_int(_NAME, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = unit_interval(_NAME, "dropout", dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = bool(add_zero_attn)
        dtype = parameter_dtype(_NAME, dtype, device)
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=dtype))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = Parameter(np.empty((e, e), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dtype=dtype))
        self.in_proj_bias = Parameter(np.empty(3 * e, dtype=dtype)) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, e), dtype=dtype))
            self.bias_v = Parameter(np.empty((1, 1, e), dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform input projections, zero biases (``out_proj``'s
        too; its weight as a Linear's), Xavier-normal ``bias_k`` and ``bias_v``."""
        self.out_proj.reset_parameters()
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    _reset_parameters = reset_parameters  # (PyTorch's name)

    def get_config(self) -> dict[str, Any]:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "bias": self.in_proj_bias is not None,
            "add_bias_kv": self.bias_k is not None,
            "add_zero_attn": self.add_zero_attn,
            "kdim": self.kdim,
            "vdim": self.vdim,
            "batch_first": self.batch_first,
            "dtype": str(self.out_proj.weight.dtype),
        }

    # ---------------------------------------------------------------- forward
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        same_kv, same_qk = key is value, query is key
        query, key, value = lift(query), lift(key), lift(value)
        batched = self._check_shapes(query, key, value, key_padding_mask, attn_mask)
        if batched and self.batch_first:
            query, key, value = (ops.swapaxes(t, 0, 1) for t in (query, key, value))
        elif not batched:
            query, key, value = (ops.unsqueeze(t, 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = ops.unsqueeze(lift(key_padding_mask), 0)
        out, weights = self._attend(
            query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal,
            packed=same_kv and same_qk,
        )  # fmt: skip
        if not batched:
            return ops.squeeze(out, 1), None if weights is None else ops.squeeze(weights, 0)
        if self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        return out, weights

    def _check_shapes(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any, attn_mask: Any) -> bool:
        """Whether the input is batched, after PyTorch's checks of the inputs' and masks' dimensions."""
        if query.ndim not in (2, 3):
            raise ValueError(
                f"{_NAME}: query must be unbatched 2-D (L, E) or batched 3-D, got a {query.ndim}-D query of shape "
                f"{query.shape}"
            )
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{_NAME}: for a {query.ndim}-D query, key and value must be {query.ndim}-D too, got shapes "
                f"{key.shape} and {value.shape}"
            )
        for name, t, want in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if t.shape[-1] != want:
                raise ValueError(f"{_NAME}: expected {name} features of size {want}, got {name} of shape {t.shape}")
        seq_axis = 1 if batched and self.batch_first else 0
        batch_axis = 1 - seq_axis
        if key.shape[seq_axis] != value.shape[seq_axis] or (
            batched and not (query.shape[batch_axis] == key.shape[batch_axis] == value.shape[batch_axis])
        ):
            raise ValueError(
                f"{_NAME}: query, key and value must share the batch size and key and value the sequence length, "
                f"got shapes {query.shape}, {key.shape} and {value.shape}"
            )
        n = query.shape[batch_axis] if batched else 1
        length, source = query.shape[seq_axis], key.shape[seq_axis]
        if key_padding_mask is not None:
            want = (n, key.shape[seq_axis]) if batched else (key.shape[seq_axis],)
            if tuple(np.shape(key_padding_mask)) != want:
                raise ValueError(
                    f"{_NAME}: key_padding_mask must have shape {want} (batch, source length), got "
                    f"{tuple(np.shape(key_padding_mask))}"
                )
        if attn_mask is not None:
            shape = tuple(np.shape(attn_mask))
            wants = ((length, source), (n * self.num_heads, length, source))
            if shape not in wants:
                raise ValueError(
                    f"{_NAME}: attn_mask must have shape {wants[0]} or {wants[1]} (batch * num_heads, target length, "
                    f"source length), got {shape}"
                )
        return batched

    def _attend(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any,
        need_weights: bool,
        attn_mask: Any,
        average_attn_weights: bool,
        is_causal: bool,
        packed: bool,
    ) -> tuple[Tensor, Tensor | None]:
        """PyTorch's ``multi_head_attention_forward`` on (L, N, E) inputs."""
        length, n, e = query.shape
        heads, hd = self.num_heads, self.head_dim
        dtype = query.dtype
        key_padding_mask = float_mask(key_padding_mask, f"{_NAME}: key_padding_mask", dtype)
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{_NAME}: is_causal=True is a hint that attn_mask is the causal mask, so attn_mask must be given "
                "(an (L, L) mask with True above the diagonal)"
            )
        if is_causal and key_padding_mask is None and not need_weights:
            attn_mask = None  # (PyTorch's: the causal mask is applied in its place)
        else:
            attn_mask = float_mask(attn_mask, f"{_NAME}: attn_mask", dtype)
            is_causal = is_causal and key_padding_mask is None
        q, k, v = self._project(query, key, value, packed)
        if attn_mask is not None and attn_mask.ndim == 2:
            attn_mask = ops.unsqueeze(attn_mask, 0)
        if self.bias_k is not None:
            k = ops.cat([k, ops.broadcast_to(self.bias_k, (1, n, e))], dim=0)
            v = ops.cat([v, ops.broadcast_to(self.bias_v, (1, n, e))], dim=0)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        q, k, v = (ops.swapaxes(ops.reshape(t, (t.shape[0], n * heads, hd)), 0, 1) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = Tensor(np.zeros((n * heads, 1, hd), dtype=dtype))
            k, v = ops.cat([k, zeros], dim=1), ops.cat([v, zeros], dim=1)
            attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
            key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
        source = k.shape[1]
        if key_padding_mask is not None:
            kpm = ops.reshape(
                ops.broadcast_to(ops.reshape(key_padding_mask, (n, 1, 1, source)), (n, heads, 1, source)),
                (n * heads, 1, source),
            )
            attn_mask = kpm if attn_mask is None else attn_mask + kpm
        p = self.dropout if self.training else 0.0
        if need_weights:
            scores = ops.matmul(q * math.sqrt(1.0 / hd), ops.swapaxes(k, 1, 2))
            if attn_mask is not None:
                scores = attn_mask + scores
            weights = ops.softmax(scores, dim=-1)
            if p > 0.0:
                weights = F.dropout(weights, p)
            out = ops.reshape(ops.swapaxes(ops.matmul(weights, v), 0, 1), (length * n, e))
            weights = ops.reshape(weights, (n, heads, length, source))
            if average_attn_weights:
                weights = ops.mean(weights, 1)
        else:
            if attn_mask is not None:
                attn_mask = (
                    ops.unsqueeze(attn_mask, 0)
                    if attn_mask.shape[0] == 1
                    else ops.reshape(attn_mask, (n, heads, -1, source))
                )
            q, k, v = (ops.reshape(t, (n, heads, t.shape[1], hd)) for t in (q, k, v))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask, p, is_causal)
            out = ops.reshape(ops.permute(out, (2, 0, 1, 3)), (length * n, e))
            weights = None
        out = ops.linear(out, self.out_proj.weight, self.out_proj.bias)
        return ops.reshape(out, (length, n, e)), weights

    def _project(self, query: Tensor, key: Tensor, value: Tensor, packed: bool) -> tuple[Tensor, Tensor, Tensor]:
        """The query, key and value projections (one GEMM for self-attention with a packed weight)."""
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else ops.chunk(b, 3)
        if self._qkv_same_embed_dim:
            if packed:
                return tuple(ops.chunk(ops.linear(query, self.in_proj_weight, b), 3, dim=-1))
            weights = ops.chunk(self.in_proj_weight, 3)
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(ops.linear(x, w, bias) for x, w, bias in zip((query, key, value), weights, biases))
