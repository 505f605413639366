"""The op registry: one entry per public op (and per internal primitive), with sample inputs.

PyTorch's OpInfo idea: each ``OpInfo`` names an op, the chainrule function, a NumPy reference and
a list of samples (shapes with broadcasting, keepdims, negative axes, empty and 0-d inputs where
they make sense). ``tests/ops/test_registry.py`` checks every entry the same way: values against
NumPy in float32 and float64, gradients against float64 finite differences, second order, the
plain, recorded and traced interpreters of each rule against one another, a ``cr.compile`` step
replaying the op and its rule against eager, dtypes, the Tensor method against the function, and
that a plain backward leaves its operands alone. A test there
fails when a public op or a primitive (``Function`` class) has no entry here.

A sample's ``args`` are the op's differentiable inputs (float64 arrays: the tests cast them to
float32 or wrap them as leaves); ``kwargs`` are passed as they are (axes, index arrays, targets,
conditions). Data avoid the points where an op is not differentiable (0 for relu and abs, ties
for max, the bounds of clip), where finite differences would straddle a kink.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import chainrule as cr
from chainrule.ops import (
    conv as conv_ops,
    elementwise as elementwise_ops,
    pool as pool_ops,
    shape as shape_ops,
    windows,
)
from tests.ops.references import (
    reference,
    reference_adaptive_avg_pool,
    reference_avg_pool,
    reference_conv,
    reference_conv_transpose,
    reference_max_pool,
    reference_nearest,
    reference_step,
)


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    name: str = ""


@dataclass
class OpInfo:
    """An op and how to test it.

    ``op(*tensors, **kwargs)`` returns one Tensor; ``ref(*arrays, **kwargs)`` the NumPy value.
    ``method`` is the Tensor method that must give the same result (``t.method(*rest, **kwargs)``).
    ``grad`` False: no gradient flows (comparisons, argmax); ``gradgrad`` False: the second-order
    check is skipped, and ``note`` says what a second derivative through the op gives instead.
    """

    name: str
    op: Callable[..., cr.Tensor]
    ref: Callable[..., np.ndarray]
    samples: Callable[[], list[Sample]]
    aliases: tuple[str, ...] = ()
    method: str | Callable[..., cr.Tensor] | None = None
    grad: bool = True
    gradgrad: bool = True
    note: str = ""
    rtol32: float = 2e-5
    atol32: float = 2e-5
    grad_atol: float = 1e-5
    grad_eps: float = 1e-6


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def u(*shape: int, seed: int = 0, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return rng(seed).uniform(low, high, size=shape)


def away(*shape: int, seed: int = 0, gap: float = 0.2) -> np.ndarray:
    """Uniform data in [-2, 2] kept at least ``gap`` from 0 (where relu, abs, ... have a kink)."""
    x = u(*shape, seed=seed)
    return np.where(np.abs(x) < gap, np.sign(x + 1e-12) * gap + x, x)


def distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """A permutation of well-separated values (no ties for max, min or max pooling)."""
    n = math.prod(shape)
    return (rng(seed).permutation(n) * 0.37 - n * 0.17).reshape(shape) if n else np.zeros(shape)


def pos(*shape: int, seed: int = 0) -> np.ndarray:
    return u(*shape, seed=seed, low=0.5, high=2.0)


def unary(*shapes: tuple[int, ...], data: Callable = u) -> Callable[[], list[Sample]]:
    return lambda: [Sample((data(*s, seed=k),), name=str(s)) for k, s in enumerate(shapes)]


BROADCAST = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((4, 1, 3), (2, 1)),
    ((), (2, 2)),
    ((2, 1), ()),
    ((0, 3), (3,)),
    ((), ()),
]


def binary(data_b: Callable = u) -> Callable[[], list[Sample]]:
    return lambda: [Sample((u(*a, seed=1), data_b(*b, seed=2)), name=f"{a}{b}") for a, b in BROADCAST]


def axes_samples(
    shape=(2, 3, 4),
    data: Callable = u,
    keepdims: bool = True,
    extra: dict | None = None,
    axes=(None, 0, -1, (0, 2), (-1, 1)),
) -> Callable[[], list[Sample]]:
    def make() -> list[Sample]:
        out = []
        for k, axis in enumerate(axes):
            for keep in (False, True) if keepdims else (False,):
                kw = {"axis": axis, "keepdims": keep, **(extra or {})}
                out.append(Sample((data(*shape, seed=k),), kw, f"axis={axis},keepdims={keep}"))
        return out

    return make


def flat(*tensors: cr.Tensor | None) -> cr.Tensor:
    """Several outputs as one tensor (each output's gradient then enters the checks)."""
    return cr.concatenate([t.reshape(-1) for t in tensors if t is not None])


def np_flat(*arrays: np.ndarray | None) -> np.ndarray:
    return np.concatenate([a.reshape(-1) for a in arrays if a is not None])


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


np_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + np_erf(x / math.sqrt(2.0)))


def np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_index_add(g, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def np_binary_cross_entropy(p, y, weight=None, reduction="mean"):
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * (1.0 if weight is None else weight)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def np_cross_entropy(logits, target, weight=None, reduction="mean", label_smoothing=0.0):
    logp = np_log_softmax(logits, 1)
    n, c = logits.shape
    w = np.ones(c) if weight is None else weight
    q = np.full((n, c), label_smoothing / c)
    q[np.arange(n), target] += 1.0 - label_smoothing
    per = -(q * w * logp).sum(axis=1)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / w[target].sum()


# ------------------------------------------------------------------ elementwise


def extreme_samples() -> list[Sample]:
    """maximum/minimum operands without ties (where the gradient's split is a convention)."""
    return [
        Sample((distinct(2, 3, seed=1), distinct(2, 3, seed=2) + 0.1)),
        Sample((distinct(2, 3), distinct(3, seed=3) + 0.05), name="broadcast"),
        Sample((distinct(3, 1, seed=4), distinct(4, seed=5) + 0.05), name="both broadcast"),
        Sample((distinct(), distinct(2, 2, seed=6) + 0.1), name="0-d"),
    ]


ELEMENTWISE = [
    OpInfo("add", cr.add, np.add, binary(), method="__add__"),
    OpInfo("sub", cr.sub, np.subtract, binary(), method="__sub__"),
    OpInfo("mul", cr.mul, np.multiply, binary(), method="__mul__"),
    OpInfo("div", cr.div, np.divide, binary(pos), method="__truediv__"),
    OpInfo(
        "pow",
        lambda a, b: cr.pow(a, b),
        lambda a, b: np.power(a, b),
        lambda: [
            Sample((pos(2, 3, seed=1), u(2, 3, seed=2)), name="tensor ** tensor"),
            Sample((pos(2, 3, seed=1), u(3, seed=2)), name="broadcast"),
            Sample((pos(3, 1, seed=1), u(1, 4, seed=2)), name="both broadcast"),
            Sample((pos(seed=1), u(seed=2)), name="0-d"),
            *[Sample((pos(2, 3, seed=3),), {"b": p}, name=f"tensor ** {p}") for p in (2, 3, 0.5, -1.5)],
        ],
        method=lambda t, b: t**b,
    ),
    OpInfo("neg", cr.neg, np.negative, unary((2, 3), (), (0,)), method="__neg__"),
    OpInfo("exp", cr.exp, np.exp, unary((2, 3), (), (0, 2)), method="exp"),
    OpInfo("log", cr.log, np.log, unary((2, 3), (), data=pos), method="log"),
    OpInfo("log1p", cr.log1p, np.log1p, unary((2, 3), (), data=pos), method="log1p"),
    OpInfo("sqrt", cr.sqrt, np.sqrt, unary((2, 3), (), data=pos), method="sqrt"),
    OpInfo("sin", cr.sin, np.sin, unary((2, 3), ()), method="sin"),
    OpInfo("cos", cr.cos, np.cos, unary((2, 3), ()), method="cos"),
    OpInfo("tanh", cr.tanh, np.tanh, unary((2, 3), (), (0,)), method="tanh"),
    OpInfo("sigmoid", cr.sigmoid, sigmoid, unary((2, 3), ()), method="sigmoid"),
    OpInfo(
        "softplus",
        cr.softplus,
        lambda x, beta=1.0, threshold=20.0: np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta),
        lambda: [
            Sample((u(2, 3),), name="beta=1"),
            Sample((u(2, 3, seed=1),), {"beta": 2.0}, "beta=2"),
            # beta x > 0.5 from x = 0.25 on: x itself (the data stays clear of the jump there)
            Sample((np.array([[-1.5, -0.3, 0.1], [0.6, 1.2, 1.9]]),), {"beta": 2.0, "threshold": 0.5}, "threshold"),
        ],
    ),
    OpInfo(
        "gelu",
        cr.gelu,
        np_gelu,
        lambda: unary((2, 3), ())() + [Sample((u(2, 3),), {"approximate": "tanh"}, "tanh")],
    ),
    OpInfo("erf", cr.erf, lambda x: np_erf(x).astype(x.dtype), unary((2, 3), ())),
    OpInfo(
        "remainder",
        cr.remainder,
        np.remainder,
        lambda: [
            Sample((u(2, 3, seed=1) * 4, away(2, 3, seed=2)), name="both"),
            Sample((u(3, seed=3) * 5, away(1, seed=4) + 1.5), name="broadcast divisor"),
        ],
        method=lambda a, b: a % b,
        note="a - floor(a / b) * b: away from the jumps, its second derivative is 0",
    ),
    OpInfo(
        "relu",
        cr.relu,
        lambda x: np.maximum(x, 0),
        unary((2, 3), (), data=away),
        method="relu",
        note="its gradient is a 0/1 mask (0 at 0), so its second derivative is 0",
    ),
    OpInfo(
        "dropout_op",  # (the op under nn.functional.dropout, which checks p and handles training)
        lambda x, p, mask_shape, generator: elementwise_ops.dropout(x, p, mask_shape, generator),
        lambda x, p, mask_shape, generator: (
            x * ((np.random.default_rng(generator).random(mask_shape) >= p) / (1.0 - p)).astype(x.dtype)
        ),
        lambda: [
            Sample((u(3, 4),), {"p": 0.4, "mask_shape": (3, 4), "generator": 5}, name="elementwise"),
            Sample((u(2, 3, 4, seed=1),), {"p": 0.5, "mask_shape": (2, 3, 1), "generator": 7}, name="channels"),
        ],
        note="the mask is drawn from the generator in the forward: a seed gives the same mask on every call",
    ),
    OpInfo(
        "leaky_relu",
        cr.leaky_relu,
        lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
        lambda: [Sample((away(2, 3),)), Sample((away(4, seed=1),), {"negative_slope": 0.2})],
    ),
    OpInfo(
        "elu",
        cr.elu,
        lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1)),
        lambda: [Sample((away(2, 3),)), Sample((away(4, seed=1),), {"alpha": 0.5})],
    ),
    OpInfo("abs", cr.abs, np.abs, unary((2, 3), (), data=away), method="abs"),
    OpInfo(
        "clip",
        cr.clip,
        lambda x, min=None, max=None: np.clip(x, min, max),
        lambda: [
            Sample((u(3, 4),), {"min": -0.55, "max": 0.75}),
            Sample((u(3, 4, seed=1),), {"min": 0.05}),
            Sample((u(3, 4, seed=2),), {"max": -0.35}),
        ],
        aliases=("clamp",),
        method="clip",
    ),
    OpInfo(
        "step",
        cr.step,
        lambda x, value_at_zero=1.0: np.heaviside(x, value_at_zero),
        unary((2, 3), data=away),
        note="its gradient is 0 everywhere (the perceptron does not learn by backpropagation), and so "
        "is every higher derivative",
    ),
    OpInfo(
        "heaviside",
        cr.heaviside,
        lambda x, value_at_zero=0.5: np.heaviside(x, value_at_zero),
        unary((2, 3), data=away),
        note="as step",
    ),
    OpInfo("maximum", cr.maximum, np.maximum, lambda: extreme_samples()),
    OpInfo("minimum", cr.minimum, np.minimum, lambda: extreme_samples()),
    OpInfo(
        "where",
        lambda a, b, condition: cr.where(condition, a, b),
        lambda a, b, condition: np.where(condition, a, b),
        lambda: [
            Sample((u(2, 3, seed=1), u(2, 3, seed=2)), {"condition": u(2, 3, seed=3) > 0}),
            Sample((u(2, 1, seed=1), u(3, seed=2)), {"condition": u(4, 2, 3, seed=3) > 0}, "broadcast"),
            Sample(
                (u(1, 4, seed=1), u(3, 4, seed=2)),
                {"condition": np.array([[True], [False], [True]])},
                "condition broadcast",
            ),
            Sample((u(4, seed=1), u(seed=2)), {"condition": u(3, 4, seed=3) > 0}, "0-d operand"),
        ],
    ),
    OpInfo(
        "cast",
        lambda x, dtype: cr.cast(x, dtype),
        lambda x, dtype: x.astype(dtype),
        lambda: [
            Sample((u(2, 3),), {"dtype": np.float32}, "to float32"),
            Sample((u(2, 3),), {"dtype": np.float64}, "same"),
        ],
        grad_atol=2e-3,
        grad_eps=1e-3,
    ),  # a float32 output: finite differences need a larger step
    OpInfo("clone", cr.clone, np.copy, unary((2, 3), ()), method="clone"),
    OpInfo(
        "sign",
        cr.sign,
        np.sign,
        unary((2, 3), data=away),
        method="sign",
        grad=False,
        note="a constant: no gradient flows through it",
    ),
]

# ------------------------------------------------------------------ PyTorch's other activations (composed)


def avoiding(*kinks: float, scale: float = 1.0, gap: float = 0.1) -> Callable[..., np.ndarray]:
    """Data u * ``scale`` kept at least ``gap`` from each kink (finite differences would straddle it)."""

    def make(*shape: int, seed: int = 0) -> np.ndarray:
        x = u(*shape, seed=seed) * scale
        for k in kinks:
            x = np.where(np.abs(x - k) < gap, k + np.where(x >= k, gap, -gap), x)
        return x

    return make


SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def np_elu(x, alpha=1.0, scale=1.0, input_scale=1.0):
    return np.where(x > 0, scale * x, scale * alpha * np.expm1(np.minimum(x, 0) * input_scale))


def np_hardtanh(x, min_val=-1.0, max_val=1.0):
    return np.clip(x, min_val, max_val)


def np_softmin(x, dim):
    return np.exp(np_log_softmax(-x, dim))


def np_glu(x, dim=-1):
    a, b = np.split(x, 2, axis=dim)
    return a * sigmoid(b)


def np_prelu(x, weight):
    w = weight.reshape(weight.shape + (1,) * (x.ndim - 2)) if weight.size > 1 else weight.reshape(())
    return np.where(x > 0, x, w * x)


def np_softshrink(x, lambd=0.5):
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0.0))


def np_hardshrink(x, lambd=0.5):
    return np.where(np.abs(x) > lambd, x, 0.0)


def _shapes(data: Callable, extra: dict | None = None) -> Callable[[], list[Sample]]:
    return lambda: [
        Sample((data(2, 3, seed=1),), dict(extra or {}), "(2, 3)"),
        Sample((data(seed=2),), dict(extra or {}), "0-d"),
        Sample((data(0, 3, seed=3),), dict(extra or {}), "empty"),
    ]


ACTIVATIONS = [
    OpInfo("silu", cr.silu, lambda x: x * sigmoid(x), _shapes(u)),
    OpInfo("mish", cr.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), _shapes(u)),
    OpInfo("selu", cr.selu, lambda x: np_elu(x, SELU_ALPHA, SELU_SCALE), _shapes(away), note="kink at 0 left out"),
    OpInfo(
        "celu",
        cr.celu,
        lambda x, alpha=1.0: np_elu(x, alpha, 1.0, 1.0 / alpha),
        lambda: _shapes(away)() + [Sample((away(4, seed=4),), {"alpha": 2.0}, "alpha=2")],
    ),
    OpInfo(
        "hardtanh",
        cr.hardtanh,
        np_hardtanh,
        lambda: (
            _shapes(avoiding(-1.0, 1.0))()
            + [Sample((avoiding(-0.5, 1.5, scale=1.5)(5, seed=4),), {"min_val": -0.5, "max_val": 1.5}, "bounds")]
        ),
        note="piecewise linear: its second derivative is 0",
    ),
    OpInfo("relu6", cr.relu6, lambda x: np.clip(x, 0.0, 6.0), _shapes(avoiding(0.0, 6.0, scale=4.0))),
    OpInfo(
        "hardsigmoid",
        cr.hardsigmoid,
        lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
        _shapes(avoiding(-3.0, 3.0, scale=2.5)),
    ),
    OpInfo(
        "hardswish",
        cr.hardswish,
        lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
        _shapes(avoiding(-3.0, 3.0, scale=2.5)),
    ),
    OpInfo("softsign", cr.softsign, lambda x: x / (1.0 + np.abs(x)), _shapes(away)),
    OpInfo(
        "softmin",
        cr.softmin,
        np_softmin,
        lambda: [
            Sample((u(2, 3, seed=1),), {"dim": 1}, "dim=1"),
            Sample((u(2, 3, 4, seed=2),), {"dim": 0}, "dim=0"),
            Sample((u(4, seed=3),), {"dim": -1}, "1-d"),
        ],
    ),
    OpInfo(
        "glu",
        cr.glu,
        np_glu,
        lambda: [
            Sample((u(2, 4, seed=1),), {}, "last"),
            Sample((u(4, 3, seed=2),), {"dim": 0}, "dim=0"),
            Sample((u(2, 2, 3, seed=3),), {"dim": 1}, "dim=1"),
        ],
    ),
    OpInfo(
        "threshold",
        cr.threshold,
        lambda x, threshold, value: np.where(x > threshold, x, value),
        lambda: [Sample((avoiding(0.3)(2, 3, seed=1),), {"threshold": 0.3, "value": -5.0})],
    ),
    OpInfo("logsigmoid", cr.logsigmoid, lambda x: -np.logaddexp(0.0, -x), _shapes(u)),
    OpInfo("tanhshrink", cr.tanhshrink, lambda x: x - np.tanh(x), _shapes(u)),
    OpInfo(
        "softshrink",
        cr.softshrink,
        np_softshrink,
        lambda: _shapes(avoiding(-0.5, 0.5))() + [Sample((avoiding(-1.0, 1.0)(5, seed=4),), {"lambd": 1.0})],
    ),
    OpInfo(
        "hardshrink",
        cr.hardshrink,
        np_hardshrink,
        lambda: _shapes(avoiding(-0.5, 0.5))() + [Sample((avoiding(-1.0, 1.0)(5, seed=4),), {"lambd": 1.0})],
    ),
    OpInfo(
        "prelu",
        cr.prelu,
        np_prelu,
        lambda: [
            Sample((away(2, 3, 4, seed=1), pos(3, seed=2)), {}, "per channel"),
            Sample((away(5, seed=3), pos(1, seed=4)), {}, "one slope"),
            Sample((away(seed=5), pos(1, seed=6)), {}, "0-d"),
            Sample((away(2, 3, seed=7), pos(3, seed=8)), {}, "(N, C)"),
        ],
    ),
]


COMPARISONS = (
    [
        OpInfo(
            name,
            getattr(cr, name),
            ref,
            lambda: [Sample((u(2, 3, seed=1), u(3, seed=2)))],
            grad=False,
            note="a boolean constant: no gradient",
        )
        for name, ref in [
            ("eq", np.equal),
            ("ne", np.not_equal),
            ("lt", np.less),
            ("le", np.less_equal),
            ("gt", np.greater),
            ("ge", np.greater_equal),
        ]
    ]
    + [
        OpInfo(
            "logical_and",
            lambda a, b: cr.logical_and(a > 0, b > 0),
            lambda a, b: np.logical_and(a > 0, b > 0),
            lambda: [Sample((u(2, 3, seed=1), u(2, 3, seed=2)))],
            grad=False,
            note="a boolean constant",
        ),
        OpInfo(
            "logical_or",
            lambda a, b: cr.logical_or(a > 0, b > 0),
            lambda a, b: np.logical_or(a > 0, b > 0),
            lambda: [Sample((u(2, 3, seed=1), u(2, 3, seed=2)))],
            grad=False,
            note="a boolean constant",
        ),
    ]
    + [
        OpInfo(
            name,
            getattr(cr, name),
            ref,
            lambda: [
                Sample((u(2, 3),), name="finite"),
                Sample((np.array([1.0, np.nan, -np.inf, np.inf, 0.0]),), name="nan and inf"),
            ],
            method=name,
            grad=False,
            note="a boolean constant",
        )
        for name, ref in [("isnan", np.isnan), ("isfinite", np.isfinite)]
    ]
    + [
        OpInfo(
            "floor_divide",
            cr.floor_divide,
            np.floor_divide,
            lambda: [Sample((u(2, 3, seed=1) * 4, away(2, 3, seed=2)))],
            method=lambda a, b: a // b,
            grad=False,
            note="a step function: no gradient (as PyTorch's floor_divide)",
        ),
        OpInfo(
            "nonzero",
            lambda a: cr.nonzero(a > 0),
            lambda a: np.argwhere(a > 0),
            unary((2, 3), (5,)),
            grad=False,
            note="integer indices",
        ),
    ]
    + [
        OpInfo(
            "logical_not",
            lambda a: cr.logical_not(a > 0),
            lambda a: np.logical_not(a > 0),
            unary((2, 3)),
            grad=False,
            note="a boolean constant",
        ),
    ]
)

# ------------------------------------------------------------------ reductions


def reduce_samples(data: Callable = u) -> Callable[[], list[Sample]]:
    """axes_samples, then reducing over no axes (``axis=()``: the identity) and a 0-d input."""
    return lambda: (
        axes_samples(data=data)()
        + axes_samples(data=data, axes=((),))()
        + [Sample((data(),), {"axis": None, "keepdims": False}, "0-d")]
    )


def softmax_samples() -> list[Sample]:
    return [Sample((u(2, 3, 4, seed=k),), {"axis": a}, f"axis={a}") for k, a in enumerate((0, 1, -1, -2))] + [
        Sample((u(5),), {"axis": 0}, "1-d"),
        Sample((u(3, 4),), {}, "default axis (the last)"),
    ]


def arg_samples() -> list[Sample]:
    return [
        Sample((distinct(3, 4),), {"axis": a, "keepdims": k}, f"axis={a},keepdims={k}")
        for a in (None, 0, -1)
        for k in (False, True)
    ]


REDUCTIONS = [
    OpInfo(
        "sum",
        cr.sum,
        lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
        lambda: reduce_samples()() + [Sample((u(0, 3),), {"axis": 0, "keepdims": False}, "empty")],
        method="sum",
    ),
    OpInfo(
        "mean",
        cr.mean,
        lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
        reduce_samples(),
        method="mean",
    ),
    OpInfo(
        "var",
        cr.var,
        lambda x, axis, keepdims, ddof=0: np.var(x, axis=axis, keepdims=keepdims, ddof=ddof),
        lambda: axes_samples()() + axes_samples(axes=((),))() + axes_samples(extra={"ddof": 1}, keepdims=False)(),
        method="var",
    ),  # over no axes: 0 everywhere, and so are its gradients
    # no axis=() sample: the std over no axes is sqrt(0), which has no derivative (test_reduce.py checks its value)
    OpInfo(
        "std",
        cr.std,
        lambda x, axis, keepdims, ddof=0: np.std(x, axis=axis, keepdims=keepdims, ddof=ddof),
        lambda: axes_samples()() + axes_samples(extra={"ddof": 1}, keepdims=False)(),
        method="std",
    ),
    OpInfo(
        "max",
        cr.max,
        lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
        reduce_samples(data=distinct),
        method="max",
        note="the gradient goes to the maximum (shared evenly among ties): its second derivative is 0",
    ),
    OpInfo(
        "min",
        cr.min,
        lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
        reduce_samples(data=distinct),
        method="min",
    ),
    OpInfo(
        "logsumexp",
        cr.logsumexp,
        lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
        reduce_samples(),
        method="logsumexp",
    ),
    OpInfo(
        "softmax", cr.softmax, lambda x, axis=-1: np.exp(np_log_softmax(x, axis)), softmax_samples, method="softmax"
    ),
    OpInfo("log_softmax", cr.log_softmax, np_log_softmax, softmax_samples, method="log_softmax"),
    OpInfo(
        "sort",
        lambda x, dim=-1, descending=False: cr.sort(x, dim, descending).values,
        lambda x, dim=-1, descending=False: (
            np.flip(np.sort(x, axis=dim), axis=dim) if descending else np.sort(x, axis=dim)
        ),
        lambda: [
            Sample((distinct(3, 4),), {"dim": d, "descending": desc}, f"dim={d},descending={desc}")
            for d in (0, -1)
            for desc in (False, True)
        ],
        method=lambda x, dim=-1, descending=False: x.sort(dim, descending).values,
        note="a permutation of the input: its second derivative is 0",
    ),
    OpInfo(
        "topk",
        lambda x, k=1, dim=-1, largest=True: cr.topk(x, k, dim, largest).values,
        lambda x, k=1, dim=-1, largest=True: np.take(
            np.flip(np.sort(x, axis=dim), axis=dim) if largest else np.sort(x, axis=dim), np.arange(k), axis=dim
        ),
        lambda: [
            Sample((distinct(3, 4),), {"k": k, "dim": d, "largest": big}, f"k={k},dim={d},largest={big}")
            for k in (1, 2)
            for d in (0, -1)
            for big in (True, False)
        ],
        method=lambda x, k=1, dim=-1, largest=True: x.topk(k, dim, largest).values,
        note="values picked from the input: its second derivative is 0",
    ),
    OpInfo(
        "argmax",
        cr.argmax,
        lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
        arg_samples,
        method="argmax",
        grad=False,
        note="an integer constant: no gradient",
    ),
    OpInfo(
        "argmin",
        cr.argmin,
        lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
        arg_samples,
        method="argmin",
        grad=False,
        note="an integer constant: no gradient",
    ),
    OpInfo(
        "amax",
        cr.amax,
        lambda x, dim=None, keepdim=False: np.max(x, axis=dim, keepdims=keepdim),
        lambda: [
            Sample((distinct(3, 4, 2),), {"dim": d, "keepdim": k}, f"dim={d},keepdim={k}")
            for d in (None, 0, -1, (0, 2))
            for k in (False, True)
        ],
        method="amax",
        note="the gradient goes to the maximum (shared evenly among ties): its second derivative is 0",
    ),
    OpInfo(
        "amin",
        cr.amin,
        lambda x, dim=None, keepdim=False: np.min(x, axis=dim, keepdims=keepdim),
        lambda: [Sample((distinct(3, 4, seed=1),), {"dim": d}, f"dim={d}") for d in (None, 1, (0, 1))],
        method="amin",
    ),
    OpInfo(
        "argsort",
        lambda x, dim=-1, descending=False: cr.argsort(x, dim, descending),
        lambda x, dim=-1, descending=False: np.argsort(-x if descending else x, axis=dim, kind="stable"),
        lambda: [
            Sample((distinct(3, 4),), {"dim": d, "descending": desc}, f"dim={d},descending={desc}")
            for d in (0, -1)
            for desc in (False, True)
        ],
        method=lambda x, dim=-1, descending=False: x.argsort(dim, descending),
        grad=False,
        note="integer indices: no gradient",
    ),
]


def with_zeros(*shape: int, seed: int = 0, at: tuple = (slice(None), -1)) -> np.ndarray:
    """Data away from 0 with zeros at ``at``: the products and norms whose gradients need care there."""
    x = away(*shape, seed=seed)
    x[at] = 0.0
    return x


def np_norm(x, ord=2, dim=None, keepdim=False):
    """The vector ``ord``-norm over ``dim`` in NumPy (the reference of norm and vector_norm)."""
    a = np.abs(x)
    if ord == np.inf:
        return np.max(a, axis=dim, keepdims=keepdim)
    if ord == -np.inf:
        return np.min(a, axis=dim, keepdims=keepdim)
    if ord == 0:
        return np.sum(a != 0, axis=dim, keepdims=keepdim).astype(x.dtype)
    return np.sum(a**ord, axis=dim, keepdims=keepdim) ** (1.0 / ord)


SCANS_AND_NORMS = [
    OpInfo(
        "cumsum",
        lambda x, dim: cr.cumsum(x, dim),
        lambda x, dim: np.cumsum(x, axis=dim if x.ndim else None).reshape(x.shape),
        lambda: [
            Sample((u(3, 4),), {"dim": 0}, "dim=0"),
            Sample((u(2, 3, 4, seed=1),), {"dim": -1}, "dim=-1"),
            Sample((u(seed=2),), {"dim": 0}, "0-d"),
            Sample((u(0, 3),), {"dim": 1}, "empty"),
        ],
        method=lambda x, dim: x.cumsum(dim),
    ),
    OpInfo(
        "cumprod",
        lambda x, dim: cr.cumprod(x, dim),
        lambda x, dim: np.cumprod(x, axis=dim if x.ndim else None).reshape(x.shape),
        lambda: [
            Sample((away(3, 4),), {"dim": 0}, "dim=0"),
            Sample((away(2, 3, 4, seed=1),), {"dim": -1}, "dim=-1"),
            Sample((with_zeros(3, 4, seed=2),), {"dim": 1}, "a zero last in each row"),
            Sample((away(seed=3),), {"dim": 0}, "0-d"),
        ],
        method=lambda x, dim: x.cumprod(dim),
    ),
    OpInfo(
        "cumprod, zeros inside",
        lambda x, dim: cr.cumprod(x, dim),
        lambda x, dim: np.cumprod(x, axis=dim),
        lambda: [
            Sample((with_zeros(3, 5, seed=4, at=(slice(None), 2)),), {"dim": 1}, "one zero inside each row"),
            Sample((with_zeros(4, 3, seed=5, at=(slice(1, 3), slice(None))),), {"dim": 0}, "two zeros per column"),
            Sample((with_zeros(3, 4, seed=6, at=(0, 0)),), {"dim": -1}, "a zero first"),
        ],
        gradgrad=False,
        note="exact first derivatives; the second derivative in a zero misses the terms of the entries after it",
    ),
    OpInfo(
        "prod, zeros inside",
        lambda x, dim=None: cr.prod(x, dim),
        lambda x, dim=None: np.prod(x, axis=dim),
        lambda: [
            Sample((with_zeros(3, 4, seed=4, at=(1, 2)),), name="one zero, all"),
            Sample((with_zeros(3, 4, seed=5, at=(slice(None), 1)),), {"dim": 1}, "a zero inside each row"),
        ],
        gradgrad=False,
        note="the last running product of cumprod: its second derivative in a zero (see 'cumprod, zeros inside')",
    ),
    OpInfo(
        "prod",
        lambda x, dim=None, keepdim=False: cr.prod(x, dim, keepdim),
        lambda x, dim=None, keepdim=False: np.prod(x, axis=dim, keepdims=keepdim),
        lambda: [
            Sample((away(3, 4),), name="all"),
            Sample((away(3, 4, seed=1),), {"dim": 0}, "dim=0"),
            Sample((away(2, 3, 4, seed=2),), {"dim": -1, "keepdim": True}, "dim=-1,keepdim"),
            Sample((with_zeros(3, 4, seed=3),), {"dim": 1}, "a zero in each row"),
            Sample((with_zeros(3, 4, seed=4, at=(2, 3)),), name="one zero (the last), all"),
            Sample((u(2, 0),), {"dim": 1}, "empty: 1"),
        ],
        method=lambda x, dim=None, keepdim=False: x.prod(dim, keepdim),
    ),
    OpInfo(
        "norm",
        lambda x, p="fro", dim=None, keepdim=False: cr.norm(x, p, dim, keepdim),
        lambda x, p="fro", dim=None, keepdim=False: np_norm(x, 2 if p == "fro" else p, dim, keepdim),
        lambda: [
            Sample((away(3, 4),), name="fro"),
            Sample((away(3, 4, seed=1),), {"p": 2, "dim": 1}, "p=2,dim=1"),
            Sample((away(2, 3, 4, seed=2),), {"dim": (0, -1), "keepdim": True}, "fro,two dims,keepdim"),
            Sample((away(3, 4, seed=3),), {"p": 1, "dim": -1}, "p=1"),
            Sample((distinct(3, 4, seed=4),), {"p": math.inf, "dim": 0}, "p=inf"),
            Sample((distinct(3, 4, seed=5),), {"p": -math.inf}, "p=-inf"),
            Sample((away(3, 4, seed=6),), {"p": 3, "dim": 1, "keepdim": True}, "p=3"),
            Sample((away(3, 4, seed=7),), {"p": 0.5, "dim": 0}, "p=0.5"),
        ],
        method=lambda x, p="fro", dim=None, keepdim=False: x.norm(p, dim, keepdim),
    ),
    OpInfo(
        "linalg.vector_norm",
        lambda x, ord=2, dim=None, keepdim=False: cr.linalg.vector_norm(x, ord, dim, keepdim),
        np_norm,
        lambda: [
            Sample((away(3, 4),), name="all"),
            Sample((away(2, 3, 4, seed=1),), {"dim": (1, 2)}, "two dims"),
            Sample((away(3, 4, seed=2),), {"ord": 0, "dim": 1}, "ord=0"),
        ],
    ),
    OpInfo(
        "linalg.matrix_norm",
        lambda x, ord="fro", dim=(-2, -1), keepdim=False: cr.linalg.matrix_norm(x, ord, dim, keepdim),
        lambda x, ord="fro", dim=(-2, -1), keepdim=False: np.linalg.norm(x, ord, dim, keepdim),
        lambda: [
            Sample((away(3, 4),), name="fro"),
            Sample((distinct(2, 3, 4, seed=1),), {"ord": 1}, "ord=1, stacked"),
            Sample((distinct(3, 4, seed=2),), {"ord": -1, "keepdim": True}, "ord=-1,keepdim"),
            Sample((distinct(3, 4, seed=3),), {"ord": math.inf, "dim": (1, 0)}, "ord=inf,dims swapped"),
            Sample((distinct(3, 4, seed=4),), {"ord": -math.inf}, "ord=-inf"),
        ],
    ),
    OpInfo(
        "linalg.norm",
        lambda x, ord=None, dim=None, keepdim=False: cr.linalg.norm(x, ord, dim, keepdim),
        lambda x, ord=None, dim=None, keepdim=False: np.linalg.norm(x, ord, dim, keepdim),
        lambda: [
            Sample((away(2, 3, 4),), name="flattened"),
            Sample((away(3, 4, seed=1),), {"ord": 1, "dim": 1}, "vector, ord=1"),
            Sample((distinct(3, 4, seed=2),), {"ord": math.inf}, "matrix, ord=inf"),
        ],
    ),
]

# ------------------------------------------------------------------ more of PyTorch's elementwise functions


def np_lerp(start, end, weight):
    return np.where(np.abs(weight) < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


def in_unit(*shape: int, seed: int = 0) -> np.ndarray:
    return u(*shape, seed=seed, low=0.05, high=0.95)


MORE_ELEMENTWISE = [
    *[
        OpInfo(
            name,
            getattr(cr, name),
            ref,
            unary((2, 3), (), (0,)),
            method=name,
            note="a step function: its gradient is 0 (as PyTorch's), and so is every higher derivative",
        )
        for name, ref in [("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc)]
    ],
    OpInfo(
        "round",
        lambda x, decimals=0: cr.round(x, decimals=decimals),
        lambda x, decimals=0: np.round(x, decimals),
        lambda: [
            Sample((u(2, 3),), name="whole"),
            Sample((u(2, 3, seed=1) * 10,), {"decimals": 1}, "decimals=1"),
            Sample((u(4, seed=2) * 300,), {"decimals": -2}, "decimals=-2"),
        ],
        method=lambda x, decimals=0: x.round(decimals=decimals),
        note="a step function: gradient 0",
    ),
    OpInfo("frac", cr.frac, lambda x: x - np.trunc(x), unary((2, 3), ()), method="frac"),
    OpInfo("reciprocal", cr.reciprocal, np.reciprocal, unary((2, 3), (), data=away), method="reciprocal"),
    OpInfo("rsqrt", cr.rsqrt, lambda x: 1 / np.sqrt(x), unary((2, 3), (), data=pos), method="rsqrt"),
    OpInfo("expm1", cr.expm1, np.expm1, unary((2, 3), (), (0,)), method="expm1"),
    OpInfo("log2", cr.log2, np.log2, unary((2, 3), (), data=pos), method="log2"),
    OpInfo("log10", cr.log10, np.log10, unary((2, 3), (), data=pos), method="log10"),
    OpInfo("exp2", cr.exp2, np.exp2, unary((2, 3), ()), method="exp2"),
    OpInfo("sinh", cr.sinh, np.sinh, unary((2, 3), ()), method="sinh"),
    OpInfo("cosh", cr.cosh, np.cosh, unary((2, 3), ()), method="cosh"),
    OpInfo("atan2", cr.atan2, np.arctan2, binary(), aliases=("arctan2",), method="atan2"),
    OpInfo("hypot", cr.hypot, np.hypot, binary(away), method="hypot"),
    OpInfo(
        "logit",
        lambda x, eps=None: cr.logit(x, eps),
        lambda x, eps=None: (
            np.log(np.clip(x, eps, 1 - eps) / (1 - np.clip(x, eps, 1 - eps)))
            if eps is not None
            else np.log(x / (1 - x))
        ),
        lambda: [
            Sample((in_unit(2, 3),), name="inside"),
            Sample((u(3, 4, seed=1, low=-0.5, high=1.5),), {"eps": 0.1}, "eps clamps"),
            Sample((in_unit(seed=2),), name="0-d"),
        ],
        method=lambda x, eps=None: x.logit(eps),
    ),
    OpInfo(
        "nan_to_num",
        lambda x, **kw: cr.nan_to_num(x, **kw),
        lambda x, **kw: np.nan_to_num(x, **kw),
        lambda: [
            Sample((u(2, 3),), name="finite"),
            Sample(
                (np.array([1.0, np.nan, np.inf, -np.inf, -2.0]),),
                {"nan": 0.5, "posinf": 9.0, "neginf": -9.0},
                "nan and inf",
            ),
        ],
        method=lambda x, **kw: x.nan_to_num(**kw),
    ),
    OpInfo(
        "fmod",
        cr.fmod,
        np.fmod,
        lambda: [
            Sample((u(2, 3, seed=1) * 4, away(2, 3, seed=2)), name="both"),
            Sample((u(3, seed=3) * 5, -away(1, seed=4) - 1.5), name="negative broadcast divisor"),
        ],
        method="fmod",
        note="a - trunc(a / b) * b: away from the jumps, its second derivative is 0",
    ),
    OpInfo(
        "lerp",
        lambda a, b, weight: cr.lerp(a, b, weight),
        np_lerp,
        lambda: [
            Sample((u(2, 3, seed=1), u(2, 3, seed=2)), {"weight": 0.25}, "weight below one half"),
            Sample((u(2, 3, seed=1), u(3, seed=2)), {"weight": 0.75}, "weight above one half"),
        ],
        method=lambda a, b, weight: a.lerp(b, weight),
    ),
    OpInfo(
        "lerp, tensor weight",
        lambda a, b, w: cr.lerp(a, b, w),
        np_lerp,
        lambda: [Sample((u(2, 3, seed=1), u(2, 3, seed=2), u(2, 3, seed=3, low=-0.4, high=1.4)))],
        method=lambda a, b, w: a.lerp(b, w),
    ),
    OpInfo(
        "addcmul",
        lambda a, b, c, value=1: cr.addcmul(a, b, c, value=value),
        lambda a, b, c, value=1: a + value * b * c,
        lambda: [
            Sample((u(2, 3, seed=1), u(2, 3, seed=2), u(3, seed=3))),
            Sample((u(3, seed=1), u(2, 3, seed=2), u(2, 1, seed=3)), {"value": -0.5}, "value"),
        ],
        method=lambda a, b, c, value=1: a.addcmul(b, c, value=value),
    ),
    OpInfo(
        "addcdiv",
        lambda a, b, c, value=1: cr.addcdiv(a, b, c, value=value),
        lambda a, b, c, value=1: a + value * b / c,
        lambda: [
            Sample((u(2, 3, seed=1), u(2, 3, seed=2), pos(3, seed=3))),
            Sample((u(3, seed=1), u(2, 3, seed=2), pos(2, 1, seed=3)), {"value": 2.0}, "value"),
        ],
        method=lambda a, b, c, value=1: a.addcdiv(b, c, value=value),
    ),
    OpInfo(
        "logical_xor",
        lambda a, b: cr.logical_xor(a > 0, b > 0),
        lambda a, b: np.logical_xor(a > 0, b > 0),
        lambda: [Sample((u(2, 3, seed=1), u(3, seed=2)))],
        grad=False,
        note="a boolean constant",
    ),
]

# ------------------------------------------------------------------ tests over entries


def with_zero_entries(*shape: int, seed: int = 0) -> np.ndarray:
    x = u(*shape, seed=seed)
    return np.where(x > 0.5, 0.0, x)


ENTRY_TESTS = [
    *[
        OpInfo(
            name,
            lambda x, name=name, **kw: getattr(cr, name)(x, **kw),
            lambda x, name=name, dim=None, keepdim=False: getattr(np, name)(
                x, axis=dim if dim is None or isinstance(dim, int) else tuple(dim), keepdims=keepdim
            ),
            lambda: [
                Sample((with_zero_entries(3, 4),), name="all"),
                Sample((with_zero_entries(3, 4, seed=1) > 1.0,), {"dim": 1}, "dim=1"),
                Sample((np.zeros((2, 3)),), {"dim": (0, 1), "keepdim": True}, "zeros, two dims, keepdim"),
                Sample((with_zero_entries(2, 3, 4, seed=2),), {"dim": -1, "keepdim": True}, "dim=-1, keepdim"),
            ],
            method=lambda x, name=name, **kw: getattr(x, name)(**kw),
            grad=False,
            note="a boolean constant",
        )
        for name in ("any", "all")
    ],
    OpInfo(
        "count_nonzero",
        lambda x, dim=None: cr.count_nonzero(x, dim),
        lambda x, dim=None: np.asarray(np.count_nonzero(x, axis=dim)),
        lambda: [
            Sample((with_zero_entries(3, 4),), name="all"),
            Sample((with_zero_entries(2, 3, 4, seed=1),), {"dim": (0, 2)}, "two dims"),
        ],
        method=lambda x, dim=None: x.count_nonzero(dim),
        grad=False,
        note="an integer count",
    ),
    OpInfo(
        "isclose",
        lambda a, b, **kw: cr.isclose(a, b, **kw),
        lambda a, b, **kw: np.isclose(a, b, **kw),
        lambda: [
            Sample((u(2, 3), u(2, 3) + np.array([0.0, 1e-6, 1e-2])), name="near and far"),
            Sample((u(3), u(3) * 1.01), {"rtol": 0.05}, "rtol"),
        ],
        method=lambda a, b, **kw: a.isclose(b, **kw),
        grad=False,
        note="a boolean constant",
    ),
    OpInfo(
        "allclose",
        lambda a, b, **kw: cr.tensor(cr.allclose(a, b, **kw)),
        lambda a, b, **kw: np.asarray(np.allclose(a, b, **kw)),
        lambda: [Sample((u(2, 3), u(2, 3) + 1e-9), name="close"), Sample((u(3), u(3) + 1e-3), name="far")],
        method=lambda a, b, **kw: cr.tensor(a.allclose(b, **kw)),
        grad=False,
        note="a Python bool",
    ),
    OpInfo(
        "equal",
        lambda a, b: cr.tensor(cr.equal(a, b)),
        lambda a, b: np.asarray(np.array_equal(a, b)),
        lambda: [Sample((u(2, 3), u(2, 3)), name="same"), Sample((u(3), u(3, seed=1)), name="different")],
        method=lambda a, b: cr.tensor(a.equal(b)),
        grad=False,
        note="a Python bool",
    ),
]

# ------------------------------------------------------------------ more of PyTorch's shape functions


def np_diag(x, diagonal=0):
    return np.diag(x, diagonal)


def np_tensor_split(x, indices_or_sections, dim=0):
    return np_flat(*np.array_split(x, indices_or_sections, axis=dim))


MORE_SHAPES = [
    OpInfo(
        "masked_fill",
        lambda x, mask, value: cr.masked_fill(x, mask, value),
        lambda x, mask, value: np.where(mask, value, x),
        lambda: [
            Sample((u(2, 3),), {"mask": u(2, 3, seed=1) > 0, "value": -1.5}, "same shape"),
            Sample((u(2, 3),), {"mask": np.array([True, False, True]), "value": float("-inf")}, "broadcast mask, -inf"),
            Sample((u(3),), {"mask": u(2, 3, seed=2) > 0, "value": 0.0}, "mask broadcasts the input"),
            Sample((u(),), {"mask": np.array(True), "value": 2.0}, "0-d"),
        ],
        method=lambda x, mask, value: x.masked_fill(mask, value),
    ),
    OpInfo(
        "masked_fill, tensor value",
        lambda x, v, mask: cr.masked_fill(x, mask, v),
        lambda x, v, mask: np.where(mask, v, x),
        lambda: [Sample((u(3, 4), u(seed=1)), {"mask": u(3, 4, seed=2) > 0}, "0-d value with a gradient")],
        method=lambda x, v, mask: x.masked_fill(mask, v),
    ),
    OpInfo(
        "unbind",
        lambda x, dim=0: flat(*cr.unbind(x, dim)),
        lambda x, dim=0: np_flat(*np.moveaxis(x, dim, 0)),
        lambda: [Sample((u(3, 4),), name="dim=0"), Sample((u(2, 3, 4, seed=1),), {"dim": -1}, "dim=-1")],
        method=lambda x, dim=0: flat(*x.unbind(dim)),
    ),
    OpInfo(
        "repeat_interleave",
        lambda x, repeats, dim=None: cr.repeat_interleave(x, repeats, dim),
        lambda x, repeats, dim=None: np.repeat(x, repeats, axis=dim),
        lambda: [
            Sample((u(2, 3),), {"repeats": 2}, "flattened"),
            Sample((u(2, 3, seed=1),), {"repeats": 3, "dim": 1}, "dim=1"),
            Sample((u(3, 2, seed=2),), {"repeats": cr.tensor([2, 0, 1]), "dim": 0}, "tensor of repeats"),
            Sample((u(2, 3, seed=3),), {"repeats": [1, 2, 3], "dim": -1}, "list of repeats"),
        ],
        method=lambda x, repeats, dim=None: x.repeat_interleave(repeats, dim),
    ),
    OpInfo(
        "tile",
        lambda x, dims: cr.tile(x, dims),
        lambda x, dims: np.tile(x, dims),
        lambda: [
            Sample((u(2, 3),), {"dims": (2,)}, "fewer dims"),
            Sample((u(2, 3, seed=1),), {"dims": (2, 1, 2)}, "more dims"),
            Sample((u(),), {"dims": (3,)}, "0-d"),
        ],
        method=lambda x, dims: x.tile(dims),
    ),
    OpInfo(
        "movedim",
        lambda x, source, destination: cr.movedim(x, source, destination),
        np.moveaxis,
        lambda: [
            Sample((u(2, 3, 4),), {"source": 0, "destination": -1}, "one"),
            Sample((u(2, 3, 4, seed=1),), {"source": (0, 1), "destination": (2, 0)}, "two"),
        ],
        aliases=("moveaxis",),
        method=lambda x, source, destination: x.moveaxis(source, destination),
    ),
    OpInfo(
        "narrow",
        lambda x, dim, start, length: cr.narrow(x, dim, start, length),
        lambda x, dim, start, length: np.take(x, np.arange(start % x.shape[dim], start % x.shape[dim] + length), dim),
        lambda: [
            Sample((u(3, 4),), {"dim": 1, "start": 1, "length": 2}),
            Sample((u(3, 4, seed=1),), {"dim": 0, "start": -2, "length": 2}, "negative start"),
        ],
        method=lambda x, dim, start, length: x.narrow(dim, start, length),
    ),
    OpInfo(
        "tensor_split",
        lambda x, indices_or_sections, dim=0: flat(*cr.tensor_split(x, indices_or_sections, dim)),
        np_tensor_split,
        lambda: [
            Sample((u(7, 2),), {"indices_or_sections": 3}, "sections"),
            Sample((u(2, 7, seed=1),), {"indices_or_sections": [1, 5, 3], "dim": 1}, "indices, one empty piece"),
        ],
        method=lambda x, indices_or_sections, dim=0: flat(*x.tensor_split(indices_or_sections, dim)),
    ),
    OpInfo(
        "hstack",
        lambda *xs: cr.hstack(xs),
        lambda *xs: np.hstack(xs),
        lambda: [
            Sample((u(2, 3), u(2, 1, seed=1)), name="2-d"),
            Sample((u(3, seed=2), u(seed=3)), name="1-d and 0-d"),
        ],
    ),
    OpInfo(
        "vstack",
        lambda *xs: cr.vstack(xs),
        lambda *xs: np.vstack(xs),
        lambda: [
            Sample((u(2, 3), u(3, seed=1)), name="2-d and 1-d"),
            Sample((u(seed=2), u(seed=3)), name="0-d"),
        ],
    ),
    OpInfo(
        "diag",
        lambda x, diagonal=0: cr.diag(x, diagonal),
        np_diag,
        lambda: [
            Sample((u(3),), name="vector"),
            Sample((u(3, seed=1),), {"diagonal": 2}, "vector, above"),
            Sample((u(2, seed=2),), {"diagonal": -1}, "vector, below"),
            Sample((u(3, 4, seed=3),), name="matrix"),
            Sample((u(3, 4, seed=4),), {"diagonal": 1}, "matrix, above"),
            Sample((u(4, 3, seed=5),), {"diagonal": -2}, "matrix, below"),
            Sample((u(2, 3, seed=6),), {"diagonal": 5}, "matrix, empty diagonal"),
        ],
        method=lambda x, diagonal=0: x.diag(diagonal),
    ),
    OpInfo(
        "trace",
        cr.trace,
        np.trace,
        lambda: [Sample((u(3, 3),)), Sample((u(2, 4, seed=1),), name="wide")],
        method="trace",
    ),
]

# ------------------------------------------------------------------ shapes and indexing

MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
INDICES = [
    (1, "int"),
    ((slice(None), 2), "column"),
    ((slice(None, None, -1), slice(1, 3)), "reversed slice"),
    (np.array([0, 2, 2, 1]), "repeated rows"),
    ((np.array([0, 2, 0]), np.array([1, 3, 1])), "repeated pairs"),
    (MASK, "mask"),
    ((None, Ellipsis, 1), "None and Ellipsis"),
    ((-1, np.array([3, 0])), "mixed"),
]
# more index forms, on a (4, 5, 3) tensor: Python lists, steps, None and Ellipsis in other places,
# advanced indices apart (their axes go first), partial boolean masks, and an int index of every axis
ROWS = np.array([True, False, True, True])
INDICES_3D = [
    ((1, 2), "ints"),
    ((-1, -2, 0), "an int per axis: 0-d"),
    (slice(None, None, 2), "step"),
    (slice(3, 0, -2), "negative step"),
    ((1, Ellipsis), "trailing Ellipsis"),
    ((slice(None), None, 2), "None inside"),
    ((Ellipsis, None), "None last"),
    ([0, 0, 2], "list"),
    (([0, 0, 3], [1, 1, 4]), "lists"),
    (([[0, 1], [1, 0]],), "2-d index"),
    ((slice(None), [2, 2, 0]), "slice then list"),
    ((1, [0, 0], slice(1, None)), "int, list, slice"),
    (([0, 0], slice(None), [1, 1]), "lists apart"),
    ((None, [1, 1]), "None then list"),
    (ROWS, "mask of the first axis"),
    ([True, False, True, True], "list of bools"),
    ((ROWS, slice(None), 1), "mask, slice, int"),
    ((slice(None), np.array([True, False, False, True, True])), "mask of axis 1"),
    ((ROWS, [0, 0, 4]), "mask and list"),
]


def np_split_weighted(x, sections, axis):
    return np.concatenate([(i + 1.0) * p for i, p in enumerate(np.split(x, sections, axis=axis))], axis=axis)


def np_sections(n, size):
    return list(range(size, n, size)) if isinstance(size, int) else list(np.cumsum(size)[:-1])


SHAPES = [
    OpInfo(
        "reshape",
        lambda x, shape: cr.reshape(x, shape),
        lambda x, shape: x.reshape(shape),
        lambda: [
            Sample((u(2, 3, 4),), {"shape": (4, 6)}),
            Sample((u(2, 3, 4),), {"shape": (-1, 2)}),
            Sample((u(6),), {"shape": (2, 1, 3)}),
            Sample((u(),), {"shape": (1, 1)}, "0-d"),
            Sample((u(0, 3),), {"shape": (3, 0)}, "empty"),
        ],
        method=lambda t, shape: t.reshape(*shape),
    ),
    OpInfo(
        "flatten",
        cr.flatten,
        lambda x, start_dim=0, end_dim=-1: x.reshape(
            x.shape[: start_dim % max(x.ndim, 1)] + (-1,) + x.shape[end_dim % max(x.ndim, 1) + 1 :]
        ),
        lambda: [
            Sample((u(2, 3, 4),)),
            Sample((u(2, 3, 4),), {"start_dim": 1}),
            Sample((u(2, 3, 4, 2),), {"start_dim": 1, "end_dim": 2}),
            Sample((u(2, 3, 4),), {"start_dim": -2, "end_dim": -1}, "negative dims"),
            Sample((u(),), name="0-d"),
        ],
        method="flatten",
    ),
    OpInfo(
        "transpose",
        lambda x, axes=None: cr.transpose(x, axes),
        lambda x, axes=None: np.transpose(x, axes),
        lambda: [
            Sample((u(2, 3),)),
            Sample((u(2, 3, 4),), {"axes": (1, 2, 0)}),
            Sample((u(2, 3, 4),), {"axes": (-1, 0, 1)}),
            Sample((u(2, 3, 4),), name="3-d, axes reversed"),
        ],
        aliases=("permute",),
    ),
    OpInfo(
        "swapaxes",
        cr.swapaxes,
        np.swapaxes,
        lambda: [Sample((u(2, 3, 4),), {"axis1": 0, "axis2": 2}), Sample((u(2, 3),), {"axis1": -1, "axis2": 0})],
        method="swapaxes",
    ),
    OpInfo(
        "squeeze",
        cr.squeeze,
        lambda x, axis=None: np.squeeze(x, axis),
        lambda: [
            Sample((u(1, 3, 1),)),
            Sample((u(1, 3, 1),), {"axis": -1}),
            Sample((u(2, 1, 1),), {"axis": (1, 2)}),
            Sample((u(1),), name="to 0-d"),
        ],
        method="squeeze",
    ),
    OpInfo(
        "unsqueeze",
        cr.unsqueeze,
        np.expand_dims,
        lambda: [
            Sample((u(2, 3),), {"axis": 0}),
            Sample((u(2, 3),), {"axis": -1}),
            Sample((u(),), {"axis": 0}, "0-d"),
            Sample((u(2, 3, 4),), {"axis": 2}, "middle"),
            Sample((u(2, 3, 4),), {"axis": -4}, "negative, first"),
        ],
        method="unsqueeze",
    ),
    OpInfo(
        "broadcast_to",
        cr.broadcast_to,
        lambda x, shape: np.broadcast_to(
            x, tuple(x.shape[i - (len(shape) - x.ndim)] if n == -1 else n for i, n in enumerate(shape))
        ),
        lambda: [
            Sample((u(3),), {"shape": (2, 3)}),
            Sample((u(2, 1),), {"shape": (4, 2, 5)}),
            Sample((u(),), {"shape": (2, 2)}, "0-d"),
            Sample((u(2, 1),), {"shape": (-1, 3)}, "keep -1"),
            Sample((u(3, 4),), {"shape": (3, 4)}, "same shape"),
        ],
        aliases=("expand",),
        method="broadcast_to",
    ),
    OpInfo(
        "index",
        cr.index,
        lambda x, idx: x[idx],
        lambda: (
            [Sample((u(3, 4, seed=k),), {"idx": idx}, name) for k, (idx, name) in enumerate(INDICES)]
            + [Sample((u(3, 4),), {"idx": np.array([], dtype=np.int64)}, "empty")]
            + [Sample((u(4, 5, 3, seed=k),), {"idx": idx}, name) for k, (idx, name) in enumerate(INDICES_3D)]
        ),
        method=lambda t, idx: t[idx],
    ),
    OpInfo(
        "concatenate",
        lambda *xs, axis=0: cr.concatenate(xs, axis),
        lambda *xs, axis=0: np.concatenate(xs, axis),
        lambda: [
            Sample((u(2, 3, seed=1), u(1, 3, seed=2)), {"axis": 0}),
            Sample((u(2, 3, seed=1), u(2, 1, seed=2), u(2, 2, seed=3)), {"axis": -1}),
            Sample((u(2, 3, seed=1), u(2, 0, seed=2)), {"axis": 1}, "empty piece"),
            Sample((u(2, 1, 4, seed=1), u(2, 2, 4, seed=2), u(2, 3, 4, seed=3)), {"axis": 1}, "3-d, middle axis"),
            Sample((u(1, 3, 4, seed=1), u(2, 3, 4, seed=2)), {"axis": -3}, "negative, first"),
        ],
        aliases=("cat", "concat"),
    ),
    OpInfo(
        "stack",
        lambda *xs, axis=0: cr.stack(xs, axis),
        lambda *xs, axis=0: np.stack(xs, axis),
        lambda: (
            [Sample((u(2, 3, seed=1), u(2, 3, seed=2)), {"axis": a}, f"axis={a}") for a in (0, 1, 2, -1, -3)]
            + [Sample((u(seed=1), u(seed=2)), {"axis": 0}, "0-d")]
        ),
    ),
    OpInfo(
        "split",
        lambda x, size, axis=0: cr.concatenate([(i + 1.0) * p for i, p in enumerate(cr.split(x, size, axis))], axis),
        lambda x, size, axis=0: np_split_weighted(x, np_sections(x.shape[axis], size), axis),
        lambda: [
            Sample((u(5, 2),), {"size": 2}),
            Sample((u(2, 6),), {"size": [1, 2, 3], "axis": -1}),
            Sample((u(2, 4),), {"size": [2, 0, 2], "axis": 1}, "empty piece"),
        ],
    ),
    OpInfo(
        "chunk",
        lambda x, chunks, dim=0: cr.concatenate([(i + 1.0) * p for i, p in enumerate(cr.chunk(x, chunks, dim))], dim),
        lambda x, chunks, dim=0: np_split_weighted(x, np_sections(x.shape[dim], -(-x.shape[dim] // chunks)), dim),
        lambda: [
            Sample((u(5, 2),), {"chunks": 3}, "uneven"),
            Sample((u(2, 6),), {"chunks": 2, "dim": -1}, "even"),
            Sample((u(2, 3),), {"chunks": 5, "dim": 1}, "fewer pieces than asked"),
        ],
        method=lambda x, chunks, dim=0: cr.concatenate(
            [(i + 1.0) * p for i, p in enumerate(x.chunk(chunks, dim))], dim
        ),
    ),
    OpInfo(
        "gather",
        lambda x, dim, index: cr.gather(x, dim, index),
        lambda x, dim, index: np.take_along_axis(
            x[tuple(slice(None) if d == dim % x.ndim else slice(n) for d, n in enumerate(index.shape))], index, dim
        ),
        lambda: [
            Sample((u(3, 4),), {"dim": 1, "index": np.array([[0, 0], [3, 1], [2, 2]])}, "repeats"),
            Sample((u(3, 4),), {"dim": 0, "index": np.array([[2, 0, 1, 1]])}, "smaller than the tensor"),
            Sample((u(2, 3, 4),), {"dim": -1, "index": rng(3).integers(0, 4, (2, 3, 5))}, "3-d, longer"),
        ],
        method=lambda x, dim, index: x.gather(dim, index),
        note="a selection of the input: its second derivative is 0",
    ),
    OpInfo(
        "index_select",
        lambda x, dim, index: cr.index_select(x, dim, index),
        lambda x, dim, index: np.take(x, index, axis=dim),
        lambda: [
            Sample((u(3, 4),), {"dim": 1, "index": np.array([3, 0, 3])}, "repeats"),
            Sample((u(3, 4, 2),), {"dim": 0, "index": np.array([], dtype=np.int64)}, "empty"),
        ],
        method=lambda x, dim, index: x.index_select(dim, index),
    ),
    OpInfo(
        "flip",
        lambda x, dims: cr.flip(x, dims),
        lambda x, dims: np.flip(x, dims),
        lambda: [Sample((u(3, 4, 2),), {"dims": d}, f"dims={d}") for d in (0, -1, (0, 2))],
        method=lambda x, dims: x.flip(dims),
    ),
    OpInfo(
        "roll",
        lambda x, shifts, dims=None: cr.roll(x, shifts, dims),
        lambda x, shifts, dims=None: np.roll(x, shifts, dims),
        lambda: [
            Sample((u(3, 4),), {"shifts": 1, "dims": 1}),
            Sample((u(3, 4),), {"shifts": (-1, 5), "dims": (0, 1)}, "two dims, past the size"),
            Sample((u(3, 4),), {"shifts": 2}, "flattened"),
        ],
        method=lambda x, shifts, dims=None: x.roll(shifts, dims),
    ),
    OpInfo(
        "tril",
        lambda x, diagonal=0: cr.tril(x, diagonal),
        lambda x, diagonal=0: np.tril(x, diagonal),
        lambda: [Sample((u(3, 4),)), Sample((u(2, 3, 3),), {"diagonal": -1}, "stacked, below")],
        method=lambda x, diagonal=0: x.tril(diagonal),
    ),
    OpInfo(
        "triu",
        lambda x, diagonal=0: cr.triu(x, diagonal),
        lambda x, diagonal=0: np.triu(x, diagonal),
        lambda: [Sample((u(4, 3),)), Sample((u(2, 3, 3),), {"diagonal": 1}, "stacked, above")],
        method=lambda x, diagonal=0: x.triu(diagonal),
    ),
    OpInfo(
        "pad",
        cr.pad,
        lambda x, pad_width, value=0.0: np.pad(x, pad_width, constant_values=value),
        lambda: [
            Sample((u(2, 3),), {"pad_width": 1}),
            Sample((u(2, 3),), {"pad_width": ((0, 2), (1, 0)), "value": -1.5}),
            Sample((u(2, 3),), {"pad_width": 0}, "no padding"),
        ],
    ),
    OpInfo(
        "repeat",
        lambda x, repeats: cr.repeat(x, repeats),
        lambda x, repeats: np.tile(x, repeats),
        lambda: [
            Sample((u(2, 3),), {"repeats": (2, 1)}),
            Sample((u(3),), {"repeats": (2, 3)}),
            Sample((u(),), {"repeats": (4,)}, "0-d"),
        ],
        method=lambda t, repeats: t.repeat(*repeats),
    ),
    OpInfo(
        "index_add",
        lambda g, index, shape: shape_ops.IndexAdd.apply(g, index=index, shape=shape),
        lambda g, index, shape: np_index_add(g, index, shape),
        lambda: [
            Sample((u(4, 3),), {"index": np.array([0, 2, 2, 1]), "shape": (3, 3)}, "repeats"),
            Sample((u(2),), {"index": (slice(1, 3),), "shape": (4,)}, "slice"),
        ],
    ),
]

# ------------------------------------------------------------------ linear algebra

MATMUL_SHAPES = [
    ((2, 3), (3, 4)),
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 2, 3), (3, 4)),
    ((4, 1, 2, 3), (2, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((0, 3), (3, 2)),
    ((1, 3), (3, 1)),
    ((3, 1), (1, 2)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 3), (2, 3, 4)),
]
LINALG = [
    OpInfo(
        "matmul",
        cr.matmul,
        np.matmul,
        lambda: [Sample((u(*a, seed=1), u(*b, seed=2)), name=f"{a}@{b}") for a, b in MATMUL_SHAPES],
        method="matmul",
    ),
    OpInfo("dot", cr.dot, np.dot, lambda: [Sample((u(4, seed=1), u(4, seed=2)))], method="dot"),
    OpInfo("outer", cr.outer, np.outer, lambda: [Sample((u(3, seed=1), u(4, seed=2)))]),
    OpInfo(
        "einsum",
        lambda *xs, equation: cr.einsum(equation, *xs),
        lambda *xs, equation: np.einsum(equation, *xs),
        lambda: [
            Sample((u(2, 3, seed=1), u(3, 4, seed=2)), {"equation": "ij,jk->ik"}, "matmul"),
            Sample((u(3, 3, seed=3),), {"equation": "ii->i"}, "diagonal"),
            Sample((u(3, 3, seed=4),), {"equation": "ii"}, "trace, implicit"),
            Sample((u(2, 1, 2, 3, seed=5), u(4, 3, 2, seed=6)), {"equation": "...ij,...jk"}, "batched, broadcast"),
            Sample((u(3, seed=7), u(4, seed=8)), {"equation": "i,j->ij"}, "outer"),
            Sample((u(2, 3, seed=9), u(2, 3, seed=10)), {"equation": "ij,ij"}, "elementwise, implicit"),
            Sample((u(2, 3, 4, seed=11),), {"equation": "ijk->kji"}, "transpose"),
            Sample((u(2, 3, seed=12), u(3, 4, seed=13), u(4, 2, seed=14)), {"equation": "ij,jk,kl->il"}, "chain"),
            Sample((u(2, 3, seed=15), u(3, seed=16)), {"equation": "ij,j->"}, "to a number"),
            Sample((u(2, 3, seed=17), u(4, seed=18)), {"equation": "ij,k->j"}, "letters only one operand sums"),
            Sample((u(2, 2, 3, seed=19), u(3, seed=20)), {"equation": "iij,j->ij"}, "a diagonal and a product"),
        ],
    ),
    OpInfo("mm", cr.mm, np.matmul, lambda: [Sample((u(2, 3, seed=1), u(3, 4, seed=2)))], method="mm"),
    OpInfo("bmm", cr.bmm, np.matmul, lambda: [Sample((u(2, 2, 3, seed=1), u(2, 3, 4, seed=2)))], method="bmm"),
    OpInfo(
        "linear",
        cr.linear,
        lambda x, w, b=None: x @ w.T + (0.0 if b is None else b),
        lambda: [
            Sample((u(5, 3, seed=1), u(2, 3, seed=2), u(2, seed=3)), name="bias"),
            Sample((u(5, 3, seed=1), u(2, 3, seed=2)), name="no bias"),
            Sample((u(2, 4, 3, seed=1), u(2, 3, seed=2), u(2, seed=3)), name="3-d input"),
            Sample((u(3, seed=1), u(2, 3, seed=2), u(2, seed=3)), name="1-d input"),
            Sample((u(2, 4, 3, seed=1), u(2, 3, seed=2)), name="3-d input, no bias"),
            Sample((u(3, seed=1), u(2, 3, seed=2)), name="1-d input, no bias"),
        ],
    ),
    OpInfo(
        "cross_entropy",
        cr.nn.functional.cross_entropy,
        lambda x, target, **kw: np_cross_entropy(x, target, **kw),
        lambda: [
            Sample((u(5, 4),), {"target": np.array([0, 3, 1, 1, 2])}, "mean"),
            Sample((u(5, 4),), {"target": np.array([0, 3, 1, 1, 2]), "reduction": "sum"}, "sum"),
            Sample((u(5, 4),), {"target": np.array([0, 3, 1, 1, 2]), "reduction": "none"}, "none"),
            Sample((u(5, 4),), {"target": np.array([0, 3, 1, 1, 2]), "weight": pos(4, seed=5)}, "class weights"),
            Sample((u(5, 4),), {"target": np.array([0, 3, 1, 1, 2]), "label_smoothing": 0.2}, "smoothing"),
            Sample(
                (u(5, 4),),
                {
                    "target": np.array([0, 3, 1, 1, 2]),
                    "weight": pos(4, seed=5),
                    "label_smoothing": 0.1,
                    "reduction": "none",
                },
                "weights, smoothing, none",
            ),
        ],
    ),
    OpInfo(
        "binary_cross_entropy",
        cr.nn.functional.binary_cross_entropy,
        lambda p, y, **kw: np_binary_cross_entropy(p, y, **kw),
        lambda: [
            Sample((u(3, 4, low=0.05, high=0.95), u(3, 4, seed=1, low=0.0, high=1.0)), {}, "mean"),
            Sample((u(5, low=0.05, high=0.95), u(5, seed=1, low=0.0, high=1.0)), {"reduction": "none"}, "none"),
            Sample(
                (u(2, 3, low=0.05, high=0.95), u(2, 3, seed=1, low=0.0, high=1.0)),
                {"weight": pos(2, 3, seed=5), "reduction": "sum"},
                "weights, sum",
            ),
        ],
    ),
]

# ------------------------------------------------------------------ convolution, pooling, resizing


def _conv_sample(d, cin, cout, size, kernel, bias=True, seed=0, **kw):
    """Input (2, cin, *size), weight (cout, cin/groups, *kernel): ``size`` and ``kernel`` an int per
    axis or a tuple."""
    size, kernel = ((v,) * d if isinstance(v, int) else v for v in (size, kernel))
    args = (u(2, cin, *size, seed=seed), u(cout, cin // kw.get("groups", 1), *kernel, seed=seed + 1))
    return Sample(
        args + ((u(cout, seed=seed + 2),) if bias else ()),
        kw,
        ",".join(f"{k}={v}" for k, v in kw.items()) + ("" if bias else ",no bias"),
    )


def _tuples(d, **kw):
    return {k: ((v,) * d if isinstance(v, int) else v) for k, v in kw.items()}


def _ref_conv(d):
    def ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        padding = padding if isinstance(padding, str) else _tuples(d, p=padding)["p"]
        return reference_conv(x, w, b, _tuples(d, s=stride)["s"], padding, _tuples(d, p=dilation)["p"], groups)

    return ref


def _ref_conv_t(d):
    def ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        t = _tuples(d, s=stride, p=padding, o=output_padding, di=dilation)
        return reference_conv_transpose(x, w, b, t["s"], t["p"], t["o"], groups, t["di"])

    return ref


def _conv_samples(d, more=()):
    """Four square geometries, then ``more``: (cin, cout, size, kernel, options), where a size or a
    kernel is an int or a tuple per axis."""
    return lambda: (
        [
            _conv_sample(d, 2, 3, 6, 3),
            _conv_sample(d, 2, 2, 7, 3, bias=False, seed=1, stride=2, padding=1),
            _conv_sample(d, 2, 2, 7, 2, seed=2, padding="same", dilation=2),
            _conv_sample(d, 4, 2, 5, 3, seed=3, groups=2),
        ]
        + [
            _conv_sample(d, cin, cout, size, kernel, seed=4 + k, **kw)
            for k, (cin, cout, size, kernel, kw) in enumerate(more)
        ]
    )


# per axis: other strides, paddings and dilations; non-square inputs and kernels; an even kernel with
# 'same' (the extra zero goes after); 'valid'; groups with several outputs each; depthwise
CONV1D_MORE = [
    (2, 2, 11, 3, {"stride": 3, "padding": 2, "dilation": 2}),
    (2, 3, 8, 4, {"padding": "same"}),
    (4, 4, 9, 2, {"padding": "valid", "groups": 4}),
    (4, 2, 10, 3, {"stride": 2, "padding": 1, "groups": 2}),
]
CONV2D_MORE = [
    (2, 3, (6, 5), (3, 2), {"padding": (1, 0), "bias": False}),
    (3, 2, (7, 8), (2, 3), {"stride": (2, 1), "padding": (0, 2)}),
    (2, 3, (6, 7), (2, 2), {"padding": "same"}),
    (2, 2, (6, 6), (3, 3), {"padding": "same", "dilation": (2, 1), "bias": False}),
    (3, 2, (5, 6), (3, 3), {"padding": "valid"}),
    (4, 6, (6, 5), (3, 2), {"stride": (1, 2), "padding": 1, "groups": 2}),
    (3, 3, (6, 6), (3, 3), {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 3}),
    (4, 2, (5, 7), (1, 3), {"padding": (0, 1), "groups": 2, "bias": False}),
    (4, 6, (7, 6), (3, 2), {"stride": 2, "padding": 1, "dilation": (1, 2), "groups": 2}),
    (4, 4, (5, 4), (2, 3), {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}),
]


def _conv_t_samples(d, more=()):
    """Three square geometries, then ``more``: (cin, cout per group, size, kernel, options), where a
    size or a kernel is an int or a tuple per axis."""

    def make():
        out = []
        for k, (cin, cout, size, kernel, kw) in enumerate(
            [
                (2, 3, 4, 3, {}),
                (2, 2, 3, 2, {"stride": 2, "padding": 1, "output_padding": 1}),
                (4, 1, 3, 3, {"groups": 2, "dilation": 2}),
                *more,
            ]
        ):
            groups = kw.get("groups", 1)
            size, kernel = ((v,) * d if isinstance(v, int) else v for v in (size, kernel))
            x, w, b = u(2, cin, *size, seed=k), u(cin, cout, *kernel, seed=k + 1), u(cout * groups, seed=k + 2)
            out.append(Sample((x, w, b), kw, str(kw)))
        return out

    return make


CONV_T2D_MORE = [
    (2, 2, (3, 4), (3, 2), {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0)}),
    (
        4,
        2,
        (3, 3),
        (2, 2),
        {"stride": (3, 2), "padding": (0, 1), "output_padding": (2, 0), "groups": 2, "dilation": (1, 2)},
    ),
]


def _max_pool_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d = x.ndim - 2
    t = _tuples(d, k=kernel_size, p=padding, di=dilation)
    s = t["k"] if stride is None else _tuples(d, s=stride)["s"]
    return reference_max_pool(x, t["k"], s, t["p"], t["di"], ceil_mode)[0]


def _avg_pool_ref(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    d = x.ndim - 2
    t = _tuples(d, k=kernel_size, p=padding)
    s = t["k"] if stride is None else _tuples(d, s=stride)["s"]
    return reference_avg_pool(x, t["k"], s, t["p"], ceil_mode, count_include_pad, divisor_override)


def _pool_samples(d, data, cases, more=(), size=None):
    """``cases`` on a (2, 2, 7, ...) input; ``more`` on a (2, 2, *size) one."""
    return lambda: (
        [Sample((data(2, 2, *(7,) * d, seed=k),), kw, str(kw)) for k, kw in enumerate(cases)]
        + [Sample((data(2, 2, *size, seed=k),), kw, f"{size}: {kw}") for k, kw in enumerate(more)]
    )


MAX_POOL_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 2, "stride": 1, "dilation": 2},
    {"kernel_size": 2, "ceil_mode": True},
]
AVG_POOL_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 2, "ceil_mode": True},
]
# ceil_mode with padding, dilation with ceil_mode, and per-axis kernels, strides, paddings, dilations
MAX_POOL1D_MORE = [
    {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
    {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True},
]
MAX_POOL2D_MORE = [
    {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 0)},
    {"kernel_size": (2, 3), "stride": 2, "padding": (0, 1), "ceil_mode": True},
    {"kernel_size": 3, "stride": (3, 2), "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "stride": 1, "padding": (0, 1), "dilation": (2, 1)},
]
AVG_POOL1D_MORE = [
    {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
]
AVG_POOL2D_MORE = [
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": (1, 0), "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (2, 3), "stride": (1, 2), "ceil_mode": True},
    # divisor_override: every window's sum over it (partial and padded windows too), a negative one as given
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False, "divisor_override": 4},
    {"kernel_size": (2, 3), "divisor_override": -5},
]


def _geometry(x_shape, kernel, stride):
    d = len(x_shape) - 2
    return windows.WindowGeometry(x_shape, (kernel,) * d, (stride,) * d, (1,) * d, ((0, 0),) * d, "test")


def _max_pool_arg(x, kernel, stride):
    """Which kernel offset wins each window of x (what MaxPool saves), for the scatter/gather entries."""
    fn = pool_ops.MaxPool.__new__(pool_ops.MaxPool)
    fn.forward(x, geometry=_geometry(x.shape, kernel, stride))
    return fn.arg


_POOL_X = distinct(2, 2, 6, 6, seed=9)
_POOL_G = _geometry(_POOL_X.shape, 2, 2)
_POOL_ARG = _max_pool_arg(_POOL_X, 2, 2)


def _np_scatter(gy, geometry, arg):
    out = np.zeros((geometry.batch, geometry.channels, *geometry.in_size))
    for k, where in enumerate(geometry.offsets()):
        out[(slice(None), slice(None), *where)] += gy * (arg == k)
    return out


def _np_gather(a, geometry, arg):
    return sum(a[(slice(None), slice(None), *where)] * (arg == k) for k, where in enumerate(geometry.offsets()))


def _np_avg_adjoint(gy, geometry, divisor):
    out = np.zeros((geometry.batch, geometry.channels, *geometry.in_size))
    for where in geometry.offsets():
        out[(slice(None), slice(None), *where)] += gy / divisor
    return out


def _np_weight_grad(x, gy, geometry):
    """d <conv(x, w), gy> / d w, by the reference: conv of x (padded as the geometry says, before and
    after) against each unit weight."""
    o, cg = geometry.out_channels, geometry.in_per_group
    xp = np.pad(x, [(0, 0), (0, 0), *geometry.pads])
    grad = np.zeros((o, cg, *geometry.kernel))
    for idx in np.ndindex(*grad.shape):
        unit = np.zeros_like(grad)
        unit[idx] = 1.0
        y = reference_conv(
            xp, unit, None, geometry.stride, (0,) * len(geometry.kernel), geometry.dilation, geometry.groups
        )
        grad[idx] = (y * gy).sum()
    return grad


def _np_input_grad(gy, w, geometry):
    """d <conv(x, w), gy> / d x, by a loop: each output position's gradient times the weight, added
    over the window it read."""
    g = geometry
    xp = np.zeros((g.batch, g.channels, *g.padded_size))
    og = g.out_channels // g.groups
    for i, oc in np.ndindex(g.batch, g.out_channels):
        first = (oc // og) * g.in_per_group
        for at in np.ndindex(*g.out_size):
            for k in np.ndindex(*g.kernel):
                where = tuple(p * s + kk * di for p, s, kk, di in zip(at, g.stride, k, g.dilation))
                xp[(i, slice(first, first + g.in_per_group)) + where] += gy[(i, oc) + at] * w[(oc, slice(None)) + k]
    return xp[(slice(None), slice(None), *g.interior())]


_CONV_G = windows.WindowGeometry((2, 2, 5, 5), (2, 2), (1, 1), (1, 1), ((1, 1), (1, 1)), "test", out_channels=3)
# stride, dilation and padding different per axis, more padding after than before, groups
_CONV_G2 = windows.WindowGeometry(
    (2, 4, 6, 5), (3, 2), (2, 1), (1, 2), ((1, 1), (0, 1)), "test", out_channels=6, groups=2
)

CONV = [
    OpInfo("conv1d", cr.conv1d, _ref_conv(1), _conv_samples(1, CONV1D_MORE)),
    OpInfo("conv2d", cr.conv2d, _ref_conv(2), _conv_samples(2, CONV2D_MORE)),
    OpInfo("conv_transpose1d", cr.conv_transpose1d, _ref_conv_t(1), _conv_t_samples(1)),
    OpInfo("conv_transpose2d", cr.conv_transpose2d, _ref_conv_t(2), _conv_t_samples(2, CONV_T2D_MORE)),
    OpInfo(
        "conv_weight_grad",
        lambda x, gy, geometry: conv_ops.ConvWeightGrad.apply(x, gy, geometry=geometry),
        lambda x, gy, geometry: _np_weight_grad(x, gy, geometry),
        lambda: [
            Sample((u(2, 2, 5, 5, seed=1), u(2, 3, 6, 6, seed=2)), {"geometry": _CONV_G}),
            Sample((u(2, 4, 6, 5, seed=3), u(2, 6, *_CONV_G2.out_size, seed=4)), {"geometry": _CONV_G2}, "G2"),
        ],
    ),
    OpInfo(
        "conv_input_grad",
        lambda gy, w, geometry: conv_ops.ConvInputGrad.apply(gy, w, geometry=geometry),
        lambda gy, w, geometry: _np_input_grad(gy, w, geometry),
        lambda: [
            Sample((u(2, 3, 6, 6, seed=1), u(3, 2, 2, 2, seed=2)), {"geometry": _CONV_G}),
            Sample((u(2, 6, *_CONV_G2.out_size, seed=3), u(6, 2, 3, 2, seed=4)), {"geometry": _CONV_G2}, "G2"),
        ],
    ),
    OpInfo(
        "max_pool1d",
        cr.max_pool1d,
        _max_pool_ref,
        _pool_samples(1, distinct, MAX_POOL_CASES, MAX_POOL1D_MORE, (11,)),
        note="as max: the gradient goes to each window's maximum, the second derivative is 0",
    ),
    OpInfo(
        "max_pool2d", cr.max_pool2d, _max_pool_ref, _pool_samples(2, distinct, MAX_POOL_CASES, MAX_POOL2D_MORE, (7, 6))
    ),
    OpInfo("avg_pool1d", cr.avg_pool1d, _avg_pool_ref, _pool_samples(1, u, AVG_POOL_CASES, AVG_POOL1D_MORE, (10,))),
    OpInfo("avg_pool2d", cr.avg_pool2d, _avg_pool_ref, _pool_samples(2, u, AVG_POOL_CASES, AVG_POOL2D_MORE, (7, 6))),
    OpInfo(
        "adaptive_avg_pool1d",
        cr.adaptive_avg_pool1d,
        lambda x, output_size: reference_adaptive_avg_pool(x, (output_size,)),
        lambda: [Sample((u(2, 3, 7),), {"output_size": o}) for o in (1, 7, 3, 4)],
    ),
    OpInfo(
        "adaptive_avg_pool2d",
        cr.adaptive_avg_pool2d,
        lambda x, output_size: reference_adaptive_avg_pool(
            x,
            tuple(
                n if o is None else o
                for o, n in zip(output_size if isinstance(output_size, tuple) else (output_size,) * 2, x.shape[2:])
            ),
        ),
        lambda: (
            [Sample((u(2, 3, 6, 5),), {"output_size": o}) for o in (1, (3, 5), (4, 2))]
            + [
                Sample((u(2, 3, 4, 6),), {"output_size": (None, 4)}, "None keeps the size"),
                Sample((u(2, 3, 3, 3),), {"output_size": (5, 4)}, "larger than the input"),
            ]
        ),
    ),
    OpInfo(
        "interpolate",
        cr.interpolate,
        reference_nearest,
        lambda: [
            Sample((u(2, 2, 3, 4),), {"scale_factor": 2}),
            Sample((u(2, 2, 5),), {"scale_factor": 0.6}),
            Sample((u(2, 2, 3, 4),), {"size": (5, 3)}),
            Sample((u(2, 2, 4, 3),), {"scale_factor": 1.5}),
            Sample((u(2, 2, 4, 3),), {"scale_factor": (1, 3)}),
            Sample((u(2, 2, 5, 4),), {"scale_factor": (0.5, 1.5)}),
            Sample((u(2, 2, 5, 4),), {"size": 10}),
            Sample((u(2, 2, 4, 3),), {"size": 2}),
            Sample((u(2, 2, 7),), {"scale_factor": 0.5}),
            Sample((u(2, 2, 7),), {"size": 3}),
            Sample((u(2, 2, 7),), {"size": 11}),
        ],
    ),
    OpInfo(
        "max_pool_scatter",
        lambda gy, arg: pool_ops.MaxPoolScatter.apply(gy, geometry=_POOL_G, arg=arg),
        lambda gy, arg: _np_scatter(gy, _POOL_G, arg),
        lambda: [Sample((u(2, 2, 3, 3),), {"arg": _POOL_ARG})],
    ),
    OpInfo(
        "max_pool_gather",
        lambda a, arg: pool_ops.MaxPoolGather.apply(a, geometry=_POOL_G, arg=arg),
        lambda a, arg: _np_gather(a, _POOL_G, arg),
        lambda: [Sample((u(2, 2, 6, 6),), {"arg": _POOL_ARG})],
    ),
    OpInfo(
        "avg_pool_adjoint",
        lambda gy: pool_ops.AvgPoolAdjoint.apply(gy, geometry=_POOL_G, divisor=4.0),
        lambda gy: _np_avg_adjoint(gy, _POOL_G, 4.0),
        lambda: [Sample((u(2, 2, 3, 3),))],
    ),
]

# ------------------------------------------------------------------ recurrent


def _cell_sample(gates, bias=True, seed=0, batch=2, inputs=3, hidden=2, lstm=False):
    x, h = u(batch, inputs, seed=seed), u(batch, hidden, seed=seed + 1, low=-1, high=1)
    w = (
        u(gates * hidden, inputs, seed=seed + 2, low=-1, high=1),
        u(gates * hidden, hidden, seed=seed + 3, low=-1, high=1),
    )
    b = (
        (u(gates * hidden, seed=seed + 4, low=-1, high=1), u(gates * hidden, seed=seed + 5, low=-1, high=1))
        if bias
        else ()
    )
    c = (u(batch, hidden, seed=seed + 6, low=-1, high=1),) if lstm else ()
    return Sample((x, h, *c, *w, *b), name="bias" if bias else "no bias")


def _np_cell(mode):
    def ref(x, h, *rest):
        c = rest[0] if mode == "lstm" else None
        w = rest[1:] if mode == "lstm" else rest
        b_ih, b_hh = (w[2], w[3]) if len(w) == 4 else (0.0, 0.0)
        h2, c2 = reference_step(mode, x, h, c, w[0], w[1], b_ih, b_hh)
        return h2 if c2 is None else np_flat(h2, c2)

    return ref


def _layer(mode, bidirectional=False, batch_first=False, bias=True, steps=3, batch=2, inputs=2, hidden=2, seed=0):
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[mode]
    directions = 2 if bidirectional else 1
    x = u(*((batch, steps) if batch_first else (steps, batch)), inputs, seed=seed)
    states = [u(directions, batch, hidden, seed=seed + 1, low=-1, high=1)]
    if mode == "lstm":
        states.append(u(directions, batch, hidden, seed=seed + 2, low=-1, high=1))
    params = []
    for d in range(directions):
        s = seed + 10 * (d + 1)
        params += [
            u(gates * hidden, inputs, seed=s, low=-1, high=1),
            u(gates * hidden, hidden, seed=s + 1, low=-1, high=1),
        ]
        if bias:
            params += [u(gates * hidden, seed=s + 2, low=-1, high=1), u(gates * hidden, seed=s + 3, low=-1, high=1)]
    return Sample(
        (x, *states, *params),
        {"mode": mode, "batch_first": batch_first, "bias": bias},
        f"{mode},{'bi' if bidirectional else 'uni'},{'bf' if batch_first else 'tf'},{'bias' if bias else 'nobias'}",
    )


def _cr_layer(x, h0, *rest, mode, batch_first, bias):
    c0 = rest[0] if mode == "lstm" else None
    params = rest[1:] if mode == "lstm" else rest
    per = 4 if bias else 2
    weights = [tuple(params[k : k + per]) + ((None, None) if not bias else ()) for k in range(0, len(params), per)]
    return flat(*cr.recurrent_layer(mode, x, h0, weights, c0=c0, batch_first=batch_first))


def _np_layer(x, h0, *rest, mode, batch_first, bias):
    c0 = rest[0] if mode == "lstm" else None
    params = rest[1:] if mode == "lstm" else rest
    per = 4 if bias else 2
    named = {}
    for d, k in enumerate(range(0, len(params), per)):
        suffix = "_l0" + ("_reverse" if d else "")
        named["weight_ih" + suffix], named["weight_hh" + suffix] = params[k], params[k + 1]
        if bias:
            named["bias_ih" + suffix], named["bias_hh" + suffix] = params[k + 2], params[k + 3]
    out, h_n, c_n = reference(mode, x, named, 1, len(params) // per == 2, batch_first, h0=h0, c0=c0)
    return np_flat(out, h_n, c_n)


RECURRENT = [
    OpInfo(
        "rnn_cell",
        lambda x, h, *w, nonlinearity="tanh": cr.rnn_cell(x, h, *w, nonlinearity=nonlinearity),
        lambda x, h, *w, nonlinearity="tanh": _np_cell("rnn_" + nonlinearity)(x, h, *w),
        lambda: [
            _cell_sample(1),
            _cell_sample(1, bias=False, seed=1),
            Sample(_cell_sample(1, seed=2).args, {"nonlinearity": "relu"}, "relu"),
        ],
    ),
    OpInfo(
        "lstm_cell",
        lambda x, h, c, *w: flat(*cr.lstm_cell(x, (h, c), *w)),
        _np_cell("lstm"),
        lambda: [_cell_sample(4, lstm=True), _cell_sample(4, bias=False, seed=1, lstm=True)],
    ),
    OpInfo("gru_cell", cr.gru_cell, _np_cell("gru"), lambda: [_cell_sample(3), _cell_sample(3, bias=False, seed=1)]),
    OpInfo(
        "recurrent_layer",
        _cr_layer,
        _np_layer,
        lambda: [
            _layer("rnn_tanh"),
            _layer("rnn_relu", bidirectional=True, seed=1),
            _layer("lstm", batch_first=True, seed=2),
            _layer("lstm", bidirectional=True, bias=False, seed=3),
            _layer("gru", seed=4),
            _layer("gru", bidirectional=True, batch_first=True, seed=5),
        ],
    ),
]


# ------------------------------------------------------------------ more of PyTorch's losses (composed)


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def np_kl_div(x, y, reduction="mean", log_target=False):
    loss = np.exp(y) * (y - x) if log_target else np.where(y == 0, 0.0, y * np.log(np.where(y == 0, 1.0, y))) - y * x
    return loss.sum() / x.shape[0] if reduction == "batchmean" else np_reduce(loss, reduction)


def np_pairwise(a, b, p=2.0, eps=1e-6):
    d = np.abs(a - b + eps)
    return d.max(axis=-1) if p == float("inf") else (d**p).sum(axis=-1) ** (1.0 / p)


def np_cosine_embedding(a, b, target, margin=0.0, reduction="mean"):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    return np_reduce(
        np.where(target == 1, 1 - cos, 0.0) + np.where(target == -1, np.maximum(cos - margin, 0), 0.0), reduction
    )


def np_gaussian_nll(x, y, var, full=False, eps=1e-6, reduction="mean"):
    if var.shape == x.shape[:-1]:
        var = var[..., None]
    var = np.maximum(var, eps)
    loss = 0.5 * (np.log(var) + (x - y) ** 2 / var) + (0.5 * math.log(2 * math.pi) if full else 0.0)
    return np_reduce(loss, reduction)


def np_poisson_nll(x, target, log_input=True, full=False, reduction="mean", eps=1e-8):
    loss = np.exp(x) - target * x if log_input else x - target * np.log(x + eps)
    if full:
        y = np.where(target <= 1, 2.0, target)
        loss = loss + np.where(target <= 1, 0.0, y * np.log(y) - y + 0.5 * np.log(2 * math.pi * y))
    return np_reduce(loss, reduction)


def np_triplet(a, p_, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    d_neg = np_pairwise(a, n, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, np_pairwise(p_, n, p, eps))
    return np_reduce(np.maximum(np_pairwise(a, p_, p, eps) - d_neg + margin, 0), reduction)


SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
LOSSES = [
    OpInfo(
        "kl_div",
        cr.nn.functional.kl_div,
        np_kl_div,
        lambda: (
            [
                Sample((u(4, 3), u(4, 3, seed=1, low=0.1, high=1.0)), {"reduction": r}, r)
                for r in ("batchmean", "sum", "none")
            ]
            + [Sample((u(4, 3), u(4, 3, seed=2)), {"log_target": True, "reduction": "batchmean"}, "log target")]
        ),
    ),
    OpInfo(
        "pairwise_distance",
        cr.nn.functional.pairwise_distance,
        np_pairwise,
        lambda: [
            Sample((u(4, 3, seed=1), u(4, 3, seed=2)), {}, "p=2"),
            Sample((away(4, 3, seed=1), u(4, 3, seed=2) * 0), {"p": 1.0}, "p=1"),
            Sample((u(4, 3, seed=1), u(4, 3, seed=2)), {"p": 3.0}, "p=3"),
            Sample((distinct(4, 3, seed=1), u(4, 3, seed=2) * 0), {"p": float("inf")}, "p=inf"),
            Sample((u(3, seed=3), u(3, seed=4)), {}, "1-d"),
        ],
    ),
    OpInfo(
        "margin_ranking_loss",
        lambda a, b, target, **kw: cr.nn.functional.margin_ranking_loss(a, b, target, **kw),
        lambda a, b, target, margin=0.0, reduction="mean": np_reduce(
            np.maximum(-target * (a - b) + margin, 0), reduction
        ),
        lambda: [
            Sample((u(4, seed=1), u(4, seed=2) + 0.05), {"target": SIGNS, "margin": 0.1}, "mean"),
            Sample((u(4, seed=1), u(4, seed=2) + 0.05), {"target": SIGNS, "reduction": "none"}, "none"),
        ],
    ),
    OpInfo(
        "hinge_embedding_loss",
        lambda x, target, **kw: cr.nn.functional.hinge_embedding_loss(x, target, **kw),
        lambda x, target, margin=1.0, reduction="mean": np_reduce(
            np.where(target == 1, x, np.maximum(margin - x, 0)), reduction
        ),
        lambda: [
            Sample((pos(4),), {"target": SIGNS, "margin": 1.3}),
            Sample((pos(4),), {"target": SIGNS, "reduction": "sum"}),
        ],
    ),
    OpInfo(
        "soft_margin_loss",
        lambda x, target, **kw: cr.nn.functional.soft_margin_loss(x, target, **kw),
        lambda x, target, reduction="mean": np_reduce(np.logaddexp(0, -x * target), reduction),
        lambda: [
            Sample((u(4),), {"target": SIGNS}),
            Sample((u(2, 2),), {"target": SIGNS.reshape(2, 2), "reduction": "none"}),
        ],
    ),
    OpInfo(
        "cosine_embedding_loss",
        lambda a, b, target, **kw: cr.nn.functional.cosine_embedding_loss(a, b, target, **kw),
        np_cosine_embedding,
        lambda: [
            Sample((u(4, 3, seed=1), u(4, 3, seed=2)), {"target": SIGNS, "margin": -0.5}, "mean"),
            Sample((u(4, 3, seed=1), u(4, 3, seed=2)), {"target": SIGNS, "reduction": "none", "margin": -0.9}, "none"),
        ],
    ),
    OpInfo(
        "gaussian_nll_loss",
        cr.nn.functional.gaussian_nll_loss,
        np_gaussian_nll,
        lambda: [
            Sample((u(4, 3), u(4, 3, seed=1), pos(4, 3, seed=2)), {}, "same shape"),
            Sample((u(4, 3), u(4, 3, seed=1), pos(4, seed=2)), {"full": True, "reduction": "sum"}, "one per row, full"),
            Sample((u(4, 3), u(4, 3, seed=1), pos(1, 3, seed=2)), {"reduction": "none"}, "shared along dim 0"),
        ],
    ),
    OpInfo(
        "poisson_nll_loss",
        lambda x, target, **kw: cr.nn.functional.poisson_nll_loss(x, target, **kw),
        np_poisson_nll,
        lambda: [
            Sample((u(4, 3),), {"target": np.floor(pos(4, 3, seed=1) * 2)}, "log input"),
            Sample((u(4, 3),), {"target": np.floor(pos(4, 3, seed=1) * 2), "full": True, "reduction": "sum"}, "full"),
            Sample((pos(4, 3),), {"target": np.floor(pos(4, 3, seed=1) * 2), "log_input": False}, "rates"),
        ],
    ),
    OpInfo(
        "triplet_margin_loss",
        cr.nn.functional.triplet_margin_loss,
        np_triplet,
        lambda: [
            Sample((u(4, 3, seed=1), u(4, 3, seed=2), u(4, 3, seed=3)), {"margin": 2.0}, "p=2"),
            Sample(
                (u(4, 3, seed=1), u(4, 3, seed=2), u(4, 3, seed=3)), {"margin": 2.0, "p": 3.0, "swap": True}, "swap"
            ),
            Sample((u(4, 3, seed=1), u(4, 3, seed=2), u(4, 3, seed=3)), {"margin": 2.0, "reduction": "none"}, "none"),
        ],
    ),
]


# ------------------------------------------------------------------ normalisation and similarity (composed)


def np_standardize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def np_channel(t, ndim):
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def np_group_norm(x, weight=None, bias=None, num_groups=1, eps=1e-5):
    out = np_standardize(x.reshape(x.shape[0], num_groups, -1), 2, eps).reshape(x.shape)
    return out * np_channel(weight, x.ndim) + np_channel(bias, x.ndim) if weight is not None else out


def np_instance_norm(x, weight=None, bias=None, eps=1e-5):
    out = np_standardize(x, tuple(range(2, x.ndim)), eps)
    return out * np_channel(weight, x.ndim) + np_channel(bias, x.ndim) if weight is not None else out


def np_layer_norm(x, weight=None, bias=None, normalized_shape=(), eps=1e-5):
    out = np_standardize(x, tuple(range(x.ndim - len(normalized_shape), x.ndim)), eps)
    return out * weight + bias if weight is not None else out


def np_normalize(x, p=2.0, dim=1, eps=1e-12):
    return x / np.maximum((np.abs(x) ** p).sum(axis=dim, keepdims=True) ** (1.0 / p), eps)


def np_cosine_similarity(a, b, dim=1, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.sqrt((a * a).sum(axis=dim, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(axis=dim, keepdims=True)), eps)
    return ((a / na) * (b / nb)).sum(axis=dim)


def np_pad(x, *args, **kwargs):
    """np.pad, a negative width cropping (F.pad's constant mode)."""
    widths = args[0]
    out = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], *args[1:], **kwargs)
    return out[tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi), n in zip(widths, out.shape))]


NORMALIZATION = [
    OpInfo(
        "functional.pad",
        lambda x, **kw: cr.nn.functional.pad(x, **kw),
        lambda x, pad, mode="constant", value=None: np_pad(
            x,
            [(0, 0)] * (x.ndim - len(pad) // 2) + [tuple(pad[i : i + 2]) for i in range(len(pad) - 2, -1, -2)],
            **(
                {"mode": "constant", "constant_values": value or 0.0}
                if mode == "constant"
                else {"mode": {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]}
            ),
        ),
        lambda: [
            Sample((u(2, 3, 4),), {"pad": (1, 2)}, "last dim"),
            Sample((u(2, 3, 4),), {"pad": (1, -2)}, "cropped"),
            Sample((u(2, 3, 4),), {"pad": (1, 0, 2, 1), "value": 1.5}, "two dims"),
            Sample((u(2, 3, 4),), {"pad": (2, 1, 1, 1), "mode": "reflect"}, "reflect"),
            Sample((u(2, 3, 4),), {"pad": (2, 1), "mode": "replicate"}, "replicate"),
            Sample((u(2, 3, 4),), {"pad": (2, 3), "mode": "circular"}, "circular"),
        ],
    ),
    OpInfo(
        "group_norm",
        lambda x, weight=None, bias=None, **kw: cr.nn.functional.group_norm(
            x, kw.pop("num_groups"), weight, bias, **kw
        ),
        np_group_norm,
        lambda: [
            Sample((u(2, 4, 3), pos(4, seed=1), u(4, seed=2)), {"num_groups": 2}, "affine"),
            Sample((u(3, 6, 2, 2),), {"num_groups": 3, "eps": 0.1}, "2-d positions"),
            Sample((u(2, 3),), {"num_groups": 1}, "(N, C)"),
        ],
    ),
    OpInfo(
        "instance_norm",
        lambda x, weight=None, bias=None, **kw: cr.nn.functional.instance_norm(x, weight=weight, bias=bias, **kw),
        np_instance_norm,
        lambda: [
            Sample((u(2, 3, 4), pos(3, seed=1), u(3, seed=2)), {}, "affine"),
            Sample((u(2, 2, 3, 2),), {"eps": 0.1}, "2-d positions"),
        ],
    ),
    OpInfo(
        "layer_norm",
        lambda x, weight=None, bias=None, **kw: cr.nn.functional.layer_norm(
            x, kw.pop("normalized_shape"), weight, bias, **kw
        ),
        np_layer_norm,
        lambda: [
            Sample((u(3, 4), pos(4, seed=1), u(4, seed=2)), {"normalized_shape": (4,)}, "affine"),
            Sample((u(2, 3, 4),), {"normalized_shape": (3, 4), "eps": 0.1}, "two dims"),
        ],
    ),
    OpInfo(
        "normalize",
        cr.nn.functional.normalize,
        np_normalize,
        lambda: [
            Sample((u(3, 4),), {}, "p=2"),
            Sample((away(3, 4),), {"p": 1.0, "dim": 0}, "p=1"),
            Sample((u(2, 3, 4),), {"p": 3.0, "dim": -1}, "p=3"),
            Sample((u(3, 4) * 0.01,), {"eps": 1.0}, "clamped"),
        ],
    ),
    OpInfo(
        "cosine_similarity",
        cr.nn.functional.cosine_similarity,
        np_cosine_similarity,
        lambda: [
            Sample((u(4, 3, seed=1), u(4, 3, seed=2)), {}, "dim=1"),
            Sample((u(4, 3, seed=1), u(1, 3, seed=2)), {"dim": -1}, "broadcast"),
            Sample((u(2, 4, 3, seed=1), u(4, 3, seed=2)), {"dim": 0}, "dim=0"),
        ],
    ),
]


def np_sdpa(q, k, v, attn_mask=None, is_causal=False, scale=None):
    scores = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if is_causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], bool)), scores, -np.inf)
    if attn_mask is not None:
        scores = np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool else scores + attn_mask
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


ATTENTION = [
    OpInfo(
        "scaled_dot_product_attention",
        cr.nn.functional.scaled_dot_product_attention,
        np_sdpa,
        lambda: [
            Sample((u(2, 3, 4), u(2, 5, 4, seed=1), u(2, 5, 3, seed=2)), {}, "plain"),
            Sample((u(3, 4), u(3, 4, seed=1), u(3, 2, seed=2)), {"is_causal": True, "scale": 0.5}, "causal"),
            Sample(
                (u(2, 3, 4), u(2, 5, 4, seed=1), u(2, 5, 3, seed=2)),
                {"attn_mask": np.arange(15).reshape(3, 5) % 4 != 1},
                "boolean mask",
            ),
        ],
    ),
]

REGISTRY: list[OpInfo] = (
    ELEMENTWISE
    + MORE_ELEMENTWISE
    + ACTIVATIONS
    + COMPARISONS
    + ENTRY_TESTS
    + REDUCTIONS
    + SCANS_AND_NORMS
    + SHAPES
    + MORE_SHAPES
    + LINALG
    + CONV
    + RECURRENT
    + LOSSES
    + NORMALIZATION
    + ATTENTION
)
BY_NAME = {info.name: info for info in REGISTRY}
