"""Break gradient rules on purpose, one at a time, and check that the tests notice every one.

Each mutation flips a sign or drops a term in one op's rule (the one rule the op has: the same
code runs a plain backward, a recorded one and a trace). For each, the script edits the source,
runs the tests that check rules (the op registry, the networks' second-order tests, the tracer,
the layer tests) in a fresh process, records whether they failed and which test failed first,
and restores the file. A mutation the tests do not notice is a hole in the tests.

    python scripts/break_rules.py            # every mutation (a few minutes)
    python scripts/break_rules.py Softmax    # only the mutations whose name contains "Softmax"

Run it on a clean tree: it refuses to start when the tests fail without any mutation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/ops/test_registry.py", "tests/test_higher_order.py", "tests/compile", "tests/nn"]

# (name, file, the rule's text, the broken text)
MUTATIONS = [
    (
        "Softmax: drop the sum term",
        "chainrule/ops/reduce.py",
        "return s * (grad - ns.sum(grad * s, (self.axis,), keepdims=True))",
        "return s * grad",
    ),
    (
        "LogSoftmax: flip the sign of the softmax term",
        "chainrule/ops/reduce.py",
        "return grad - ns.exp(ns.output(self)) * ns.sum(grad, (self.axis,), keepdims=True)",
        "return grad + ns.exp(ns.output(self)) * ns.sum(grad, (self.axis,), keepdims=True)",
    ),
    (
        "Relu: drop the mask",
        "chainrule/ops/elementwise.py",
        "return grad * (a > 0)  # the mask",
        "return grad  # the mask",
    ),
    (
        "Neg: flip the sign",
        "chainrule/ops/elementwise.py",
        "    def backward(self, ns, grad, a):\n        return -grad\n",
        "    def backward(self, ns, grad, a):\n        return grad\n",
    ),
    (
        "Tanh: 1 + y^2 for 1 - y^2",
        "chainrule/ops/elementwise.py",
        "return grad * (1.0 - y * y)",
        "return grad * (1.0 + y * y)",
    ),
    (
        "Sigmoid: drop the (1 - y) factor",
        "chainrule/ops/elementwise.py",
        "return grad * (y * (1.0 - y))",
        "return grad * y",
    ),
    (
        "Div: flip the sign of the divisor's gradient",
        "chainrule/ops/elementwise.py",
        "return grad_a, (-(grad_a * ns.output(self)) if self.needs(1) else None)",
        "return grad_a, ((grad_a * ns.output(self)) if self.needs(1) else None)",
    ),
    (
        "Pow: drop log(a) from the exponent's gradient",
        "chainrule/ops/elementwise.py",
        "grad_b = ns.where(positive, grad * ns.output(self) * safe_log, 0.0)",
        "grad_b = ns.where(positive, grad * ns.output(self), 0.0)",
    ),
    ("Sin: cos -> sin", "chainrule/ops/elementwise.py", "return grad * ns.cos(a)", "return grad * ns.sin(a)"),
    (
        "LogSumExp: drop the output",
        "chainrule/ops/reduce.py",
        "return _expand_back(ns, grad, a.shape, self.axes) * ns.exp(a - out)",
        "return _expand_back(ns, grad, a.shape, self.axes) * ns.exp(a)",
    ),
    (
        "MatMul: flip the sign of the right operand's gradient",
        "chainrule/ops/linalg.py",
        "grad_b = ns.swapaxes(a, -1, -2) @ grad if need_b else None",
        "grad_b = -(ns.swapaxes(a, -1, -2) @ grad) if need_b else None",
    ),
    (
        "Linear: drop the bias gradient's sum over the batch",
        "chainrule/ops/linalg.py",
        "grad_b = ns.sum(grad, tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad",
        "grad_b = grad[0] if grad.ndim > 1 else grad",
    ),
    (
        "CrossEntropy: add the target term instead of subtracting it",
        "chainrule/ops/loss.py",
        "return ns.add_at(local, (rows, target), -ns.reshape(scale, (-1,))), None",
        "return ns.add_at(local, (rows, target), ns.reshape(scale, (-1,))), None",
    ),
    (
        "Conv: double the weight gradient",
        "chainrule/ops/conv.py",
        "gw = ns.bind(ConvWeightGrad, x, grad, geometry=g, cols=ns.cache(self.cols))",
        "gw = ns.bind(ConvWeightGrad, x, grad, geometry=g, cols=ns.cache(self.cols)) * 2.0",
    ),
    (
        "ConvWeightGrad: drop the gradient of its x (second order of a conv)",
        "chainrule/ops/conv.py",
        "d_x = ns.bind(ConvInputGrad, gy, grad, geometry=g) if self.needs(0) else None",
        "d_x = None",
    ),
    (
        "AvgPool: the adjoint without its divisor",
        "chainrule/ops/pool.py",
        "        return ns.bind(AvgPoolAdjoint, grad, geometry=self.geometry, divisor=self.divisor)",
        "        return ns.bind(AvgPoolAdjoint, grad, geometry=self.geometry, divisor=1.0)",
    ),
    (
        "Index: scatter to the wrong place (flip the gradient's sign)",
        "chainrule/ops/shape.py",
        '        return ns.index_add(grad, ns.saved(self, "index"), a.shape)',
        '        return ns.index_add(-grad, ns.saved(self, "index"), a.shape)',
    ),
    (
        "RecurrentLayer (LSTM): the cell gradient through the input gate instead of the forget gate",
        "chainrule/ops/recurrent.py",
        "dc = ns.imul(dc, f)",
        "dc = ns.imul(dc, i)",
    ),
    (
        "RecurrentLayer (GRU): drop the direct path h -> h'",
        "chainrule/ops/recurrent.py",
        "dh_direct = dh * z  # the direct path",
        "dh_direct = dh * 0.0  # the direct path",
    ),
]


def run_tests() -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    return done.returncode == 0, failed[0][len("FAILED ") :] if failed else done.stdout.strip().splitlines()[-1]


def main() -> None:
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    ok, summary = run_tests()
    if not ok:
        sys.exit(f"break_rules: the tests fail before any mutation ({summary}); run it on a clean tree")
    print(f"{'mutation':<80} noticed  first failing test")
    missed = 0
    for name, file, old, new in MUTATIONS:
        if wanted not in name:
            continue
        path = ROOT / file
        source = path.read_text()
        if source.count(old) != 1:
            sys.exit(f"break_rules: the text of '{name}' is not found exactly once in {file}: update the script")
        try:
            path.write_text(source.replace(old, new))
            passed, summary = run_tests()
        finally:
            path.write_text(source)
        missed += passed
        print(f"{name:<80} {'no ' if passed else 'yes'}      {'' if passed else summary}", flush=True)
    if missed:
        sys.exit(f"break_rules: {missed} broken rule(s) went unnoticed")


if __name__ == "__main__":
    main()
