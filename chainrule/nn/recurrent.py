"""Recurrent layers: RNN, LSTM, GRU over whole sequences, and the single-step RNNCell, LSTMCell, GRUCell.

Arguments, shapes, parameter names, gate order and initialisation are PyTorch's, so weights copy
across unchanged (``ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})``).
For layer ``k`` the parameters are, with H = hidden_size and G gate blocks (RNN 1, LSTM 4, GRU 3):

    weight_ih_l{k}  (G*H, input_size) for k = 0, (G*H, num_directions * H) above
    weight_hh_l{k}  (G*H, H)
    bias_ih_l{k}, bias_hh_l{k}  (G*H,)

and the same with the suffix ``_reverse`` for the backward direction of a bidirectional layer.
The row blocks are the gates in PyTorch's order: LSTM (i, f, g, o), GRU (r, z, n) with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``. Every parameter starts from
U(-1/sqrt(H), 1/sqrt(H)). The equations are in ``chainrule.ops.recurrent``.

Each layer runs through ``chainrule.ops.recurrent_layer``: one GEMM for the input projection of
all time steps, a loop over time only, and by default one fused NumPy node per layer with a
hand-written backpropagation through time (set ``fused = False`` on a layer to run the composed
ops instead: the same values and gradients, several times slower).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.nn import functional as F, init
from chainrule.nn.checks import InputSpec, parameter_dtype, positive_int, unit_interval
from chainrule.nn.module import Module, Parameter
from chainrule.ops.recurrent import GATES
from chainrule.tensor import Tensor


def _as_tensor(x: Any, like: Tensor) -> Tensor:
    """A Tensor of ``x``, floating (integer data takes the parameters' dtype)."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        x = ops.cast(x, like.dtype)
    return x


class RNNBase(Module):
    """What RNN, LSTM and GRU share: arguments, parameters, init, input checks and the layer loop."""

    _mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        self.num_layers = positive_int(name, "num_layers", num_layers)
        self.dropout = unit_interval(name, "dropout", dropout)
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers only, so with num_layers=1 it does nothing",
                UserWarning,
                stacklevel=3,
            )
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        layout = "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        self.input_spec = InputSpec(
            self._owner(),
            ndim=(3, 2),
            axes={-1: self.input_size},
            expected=f"a 3-D {layout} or a 2-D unbatched (seq_len, input_size) input",
        )
        self.fused = True  # run each layer as one fused NumPy node (False: the composed ops)
        dtype = parameter_dtype(name, dtype, device)
        gates = GATES[self._mode] * self.hidden_size
        directions = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else directions * self.hidden_size
            for suffix in self._suffixes(layer):
                setattr(self, "weight_ih" + suffix, Parameter(np.empty((gates, layer_input), dtype=dtype)))
                setattr(self, "weight_hh" + suffix, Parameter(np.empty((gates, self.hidden_size), dtype=dtype)))
                if self.bias:
                    setattr(self, "bias_ih" + suffix, Parameter(np.empty(gates, dtype=dtype)))
                    setattr(self, "bias_hh" + suffix, Parameter(np.empty(gates, dtype=dtype)))
        self.reset_parameters()

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # PyTorch's default for every recurrent parameter
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _layer_weights(self, layer: int) -> list[tuple[Tensor | None, ...]]:
        return [
            (
                getattr(self, "weight_ih" + s),
                getattr(self, "weight_hh" + s),
                getattr(self, "bias_ih" + s) if self.bias else None,
                getattr(self, "bias_hh" + s) if self.bias else None,
            )
            for s in self._suffixes(layer)
        ]

    def _owner(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _check_input(self, x: Tensor) -> None:
        self.input_spec.check(x)
        if x.shape[1 if x.ndim == 3 and self.batch_first else 0] == 0:
            raise ValueError(f"{self._owner()} got input of shape {x.shape}: the sequence has no time steps")

    def _check_state(self, state: Any, name: str, batch: int | None, like: Tensor) -> Tensor:
        state = _as_tensor(state, like)
        stacked = self.num_layers * self.num_directions
        expected = (stacked, self.hidden_size) if batch is None else (stacked, batch, self.hidden_size)
        if state.shape != expected:
            layout = "(num_layers * num_directions, " + ("" if batch is None else "batch, ") + "hidden_size)"
            raise ValueError(f"{self._owner()} got {name} of shape {state.shape}: expected {expected} = {layout}")
        return state

    def _run(self, x: Any, h0: Any, c0: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        """Check the input and states, run every layer, and stack the final states."""
        weight = self.weight_ih_l0
        x = _as_tensor(x, weight)
        self._check_input(x)
        batched = x.ndim == 3
        batch = (x.shape[0] if self.batch_first else x.shape[1]) if batched else None
        lstm = self._mode == "lstm"
        states = [(h0, "h0"), (c0, "c0")] if lstm else [(h0, "h0")]
        checked = [None if s is None else self._check_state(s, name, batch, weight) for s, name in states]
        batch_axis = 0 if self.batch_first else 1
        if not batched:  # one unbatched (seq_len, input_size) sequence: a batch of one
            x = ops.unsqueeze(x, batch_axis)
            checked = [None if s is None else ops.unsqueeze(s, 1) for s in checked]
            batch = 1
        h0, c0 = checked[0], (checked[1] if lstm else None)
        directions = self.num_directions
        zeros = np.zeros((directions, batch, self.hidden_size), dtype=np.result_type(weight.dtype, x.dtype))
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            rows = slice(layer * directions, (layer + 1) * directions)
            h = Tensor._make(zeros) if h0 is None else h0[rows]
            c = (Tensor._make(zeros) if c0 is None else c0[rows]) if lstm else None
            x, h, c = ops.recurrent_layer(
                self._mode, x, h, self._layer_weights(layer), c, batch_first=self.batch_first, fused=self.fused
            )
            h_n.append(h)
            c_n.append(c)
        h_last = h_n[0] if len(h_n) == 1 else ops.concatenate(h_n, axis=0)
        c_last = (c_n[0] if len(c_n) == 1 else ops.concatenate(c_n, axis=0)) if lstm else None
        if not batched:
            x, h_last = ops.squeeze(x, batch_axis), ops.squeeze(h_last, 1)
            c_last = ops.squeeze(c_last, 1) if lstm else None
        return x, h_last, c_last

    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "dtype": str(self.weight_ih_l0.dtype),
        }

    def extra_repr(self) -> str:  # PyTorch's format: only what differs from the defaults
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """A multi-layer Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or relu).

    Args:
        input_size: features of each time step's input.
        hidden_size: features of the hidden state H.
        num_layers: stacked layers, each reading the previous one's output (default 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: learn ``b_ih`` and ``b_hh`` (default True).
        batch_first: input and output are (batch, seq_len, features) instead of (seq_len, batch,
            features) (default False); the states are (num_layers * num_directions, batch, H) either way.
        dropout: dropout probability on each layer's output except the last, in training only (default 0).
        bidirectional: add a layer reading the sequence backwards; outputs side by side (default False).
        dtype: parameter dtype (float32 by default).

    Shape:
        input (L, N, H_in), or (N, L, H_in) with batch_first, or unbatched (L, H_in);
        h0 (num_layers * D, N, H) (unbatched (num_layers * D, H)), zeros when not given.
        Returns ``(output, h_n)``: output (L, N, D * H) (batch first if asked), h_n like h0.
        D = 2 if bidirectional else 1. Parameters and their layout: see the module docstring.

    Example:
        >>> import chainrule as cr
        >>> rnn = cr.nn.RNN(3, 5, num_layers=2)
        >>> output, h_n = rnn(cr.randn(7, 4, 3))
        >>> output.shape, h_n.shape
        ((7, 4, 5), (2, 4, 5))
    """

    _mode = "rnn_tanh"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype
        )
        self.nonlinearity = nonlinearity
        self._mode = "rnn_" + nonlinearity  # one gate block either way: the parameters are the same

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        # PyTorch's RNN repr omits a relu nonlinearity; shown here (as RNNCell's repr does)
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + f", nonlinearity={self.nonlinearity}"


class LSTM(RNNBase):
    """A multi-layer long short-term memory network (Hochreiter & Schmidhuber, 1997).

    Each step: i, f, o = sigmoid(.), g = tanh(.) of ``W_ih x_t + b_ih + W_hh h_{t-1} + b_hh`` split in
    four (PyTorch's order i, f, g, o); ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``. The
    additive path through ``c`` lets gradients reach far-back time steps (a plain RNN's vanish).

    Args: as ``RNN`` without ``nonlinearity``.

    Shape:
        input (L, N, H_in) (or batch first, or unbatched (L, H_in)); ``hx = (h0, c0)``, each
        (num_layers * D, N, H), zeros when not given. Returns ``(output, (h_n, c_n))``.

    Example:
        >>> import chainrule as cr
        >>> lstm = cr.nn.LSTM(3, 5, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(cr.randn(4, 7, 3))
        >>> output.shape, h_n.shape, c_n.shape
        ((4, 7, 10), (2, 4, 5), (2, 4, 5))
        >>> lstm
        LSTM(3, 5, batch_first=True, bidirectional=True)
    """

    _mode = "lstm"

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._owner()}: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            h0, c0 = hx
        output, h_n, c_n = self._run(input, h0, c0)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A multi-layer gated recurrent unit network (Cho et al., 2014).

    Each step: r, z = sigmoid(.) of the first two thirds of ``W_ih x_t + b_ih`` and ``W_hh h + b_hh``,
    ``n = tanh(W_in x_t + b_in + r * (W_hn h + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.

    Args: as ``RNN`` without ``nonlinearity``.

    Shape:
        input (L, N, H_in) (or batch first, or unbatched (L, H_in)); h0 (num_layers * D, N, H),
        zeros when not given. Returns ``(output, h_n)``.

    Example:
        >>> import chainrule as cr
        >>> gru = cr.nn.GRU(1, 6, batch_first=True, bidirectional=True)
        >>> output, h_n = gru(cr.randn(100, 40, 1))
        >>> output.shape, h_n.shape
        ((100, 40, 12), (2, 100, 6))
    """

    _mode = "gru"

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


# ------------------------------------------------------------------ single steps


class RNNCellBase(Module):
    """What RNNCell, LSTMCell and GRUCell share: parameters ``weight_ih, weight_hh, bias_ih, bias_hh``."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        n = self.input_size
        self.input_spec = InputSpec(
            self._owner(), ndim=(2, 1), axes={-1: n}, expected=f"(batch, {n}) or unbatched ({n},)"
        )
        dtype = parameter_dtype(name, dtype, device)
        gates = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype=dtype))
        self.bias_ih = Parameter(np.empty(gates, dtype=dtype)) if self.bias else None
        self.bias_hh = Parameter(np.empty(gates, dtype=dtype)) if self.bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)  # PyTorch's default
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _owner(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _check(self, x: Any, state: Any, name: str) -> tuple[Tensor, Tensor]:
        x = self.input_spec.check(_as_tensor(x, self.weight_ih))
        expected = x.shape[:-1] + (self.hidden_size,)
        if state is None:
            return x, Tensor._make(np.zeros(expected, dtype=np.result_type(x.dtype, self.weight_hh.dtype)))
        state = _as_tensor(state, self.weight_ih)
        if state.shape != expected:
            raise ValueError(
                f"{self._owner()} got {name} of shape {state.shape}: expected {expected} "
                f"for an input of shape {x.shape}"
            )
        return x, state

    def get_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "bias": self.bias,
            "dtype": str(self.weight_ih.dtype),
        }

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu).

    Args:
        input_size, hidden_size: features of the input and of the hidden state.
        bias: learn ``bias_ih`` and ``bias_hh`` (default True).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        input (N, H_in) or (H_in,); hx (N, H) or (H,), zeros when not given -> h' like hx.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.RNNCell(3, 5)
        >>> h = None
        >>> for x in cr.randn(6, 2, 3):  # loop over time yourself
        ...     h = cell(x, h)
        >>> h.shape
        (2, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, h = self._check(input, hx, "hx")
        return ops.rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + f", nonlinearity={self.nonlinearity}"


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h, c) -> (h', c')``, gates in PyTorch's order i, f, g, o.

    Shape:
        input (N, H_in) or (H_in,); hx = (h, c), each (N, H) or (H,), zeros when not given.
        Returns ``(h', c')``.

    Example:
        >>> import chainrule as cr
        >>> h, c = cr.nn.LSTMCell(3, 5)(cr.randn(2, 3))
        >>> h.shape, c.shape
        ((2, 5), (2, 5))
    """

    _gates = 4

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        h = c = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._owner()}: hx must be a tuple (h, c), got {type(hx).__name__}")
            h, c = hx
        x, h = self._check(input, h, "h")
        _, c = self._check(x, c, "c")
        return ops.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step, gates in PyTorch's order r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

    Shape:
        input (N, H_in) or (H_in,); hx (N, H) or (H,), zeros when not given -> h' like hx.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.GRUCell(3, 5)(cr.randn(2, 3)).shape
        (2, 5)
    """

    _gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, h = self._check(input, hx, "hx")
        return ops.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
