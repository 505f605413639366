"""Small training programs written the way PyTorch's tutorials and examples write them.

Each program is a function of the library: ``program(torch)`` runs it on whatever module is passed
as ``torch`` (``import torch``, or ``import chainrule as torch``), with ``nn = torch.nn``,
``F = torch.nn.functional`` and ``optim = torch.optim`` taken from it. Nothing in a program's body
knows which library it runs on; ``tests/programs`` runs them on chainrule, and
``peer_tests/programs`` runs them on both and compares the losses step by step.

The harness adds these to the programs, and only these:

* ``dtype``: the name of the floating dtype to run in ("float32" by default; the peer tests run
  float32 and float64, and only float64 for L-BFGS, where float32 rounding compounds past 1e-5);
* ``weights``: NumPy arrays by parameter name to start from instead of the library's random
  initialisation (``start_from`` below loads them with ``model.load_state_dict``), so both
  libraries can start from the same point;
* the result: a ``Run`` with the loss of every step, the weights the run started from, and
  whatever else the program measured (an accuracy, a prediction);
* ``folder`` for the programs that save files, and ``data`` for the quickstart, whose
  ``torch.utils.data`` chainrule lacks (a test hands it ``chainrule.data``).

Data never comes from a library's random generator (the two differ): it is made with NumPy from a
fixed seed, or is the 8x8 digits (as NumPy arrays), and handed to the library with
``torch.from_numpy`` / ``torch.tensor``.
"""

# The programs keep the tutorials' loop variables (`for t in range(steps)`), used or not.
# ruff: noqa: B007

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Weights = dict[str, np.ndarray]


@dataclass
class Run:
    """What a program reports: per-step losses, the starting weights and other measurements."""

    losses: list[float]
    start: Weights
    extra: dict[str, Any] = field(default_factory=dict)


def start_from(torch: Any, model: Any, weights: Weights | None) -> Weights:
    """Load ``weights`` into ``model`` when given (PyTorch's way: a state dict of tensors), and
    return the weights the model now starts from, as NumPy arrays by name."""
    if weights is not None:
        model.load_state_dict({name: torch.from_numpy(w.copy()) for name, w in weights.items()})
    return {name: p.detach().numpy().copy() for name, p in model.named_parameters()}


def digits(dtype: str, test_size: int = 297) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8x8 digits (scikit-learn's, embedded in chainrule.data as NumPy arrays) as images
    (N, 1, 8, 8) in [0, 1]; a fixed split."""
    from chainrule.data import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X = (X[order] / 16.0).reshape(-1, 1, 8, 8).astype(dtype)
    y = y[order].astype(np.int64)
    return X[:-test_size], y[:-test_size], X[-test_size:], y[-test_size:]


# ------------------------------------------------------------------------------------------------
# 1. Raw tensors and autograd: a cubic fit of sin(x), updated by hand under no_grad.


def polynomial_tensors(torch: Any, steps: int = 2000, dtype: str = "float32", weights: Weights | None = None) -> Run:
    dtype = getattr(torch, dtype)
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    if weights is None:
        torch.manual_seed(0)
        a = torch.randn((), dtype=dtype, requires_grad=True)
        b = torch.randn((), dtype=dtype, requires_grad=True)
        c = torch.randn((), dtype=dtype, requires_grad=True)
        d = torch.randn((), dtype=dtype, requires_grad=True)
    else:
        a, b, c, d = (torch.tensor(weights[k], dtype=dtype, requires_grad=True) for k in "abcd")
    start = {k: t.detach().numpy().copy() for k, t in zip("abcd", (a, b, c, d))}

    learning_rate = 1e-6
    losses = []
    for t in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()

        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    fit = f"y = {a.item():.4f} + {b.item():.4f} x + {c.item():.4f} x^2 + {d.item():.4f} x^3"
    return Run(losses, start, {"fit": fit, "d": d.item()})


# ------------------------------------------------------------------------------------------------
# 2. nn.Sequential, model.zero_grad() and the manual update `param -= lr * param.grad`.


def polynomial_nn(torch: Any, steps: int = 2000, dtype: str = "float32", weights: Weights | None = None) -> Run:
    nn = torch.nn
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    # y is linear in (x, x^2, x^3): a linear layer on those three features.
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)

    model = nn.Sequential(
        nn.Linear(3, 1),
        nn.Flatten(0, 1),
    ).to(dtype)
    start = start_from(torch, model, weights)
    loss_fn = nn.MSELoss(reduction="sum")

    learning_rate = 1e-6
    losses = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())

        model.zero_grad()
        loss.backward()

        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    linear_layer = model[0]
    extra = {
        "xx_dtype": str(xx.dtype),
        "bias": linear_layer.bias.item(),
        "cubic": linear_layer.weight[:, 2].item(),
    }
    return Run(losses, start, extra)


# ------------------------------------------------------------------------------------------------
# 3. An nn.Module subclass with Parameters, trained by an optimiser from torch.optim.

OPTIMIZERS = {
    "SGD": ("SGD", {"lr": 1e-6, "momentum": 0.9}),
    "Adam": ("Adam", {"lr": 1e-2}),
    "RMSprop": ("RMSprop", {"lr": 1e-2}),
}


def polynomial_module(
    torch: Any, optimizer: str = "SGD", steps: int = 2000, dtype: str = "float32", weights: Weights | None = None
) -> Run:
    nn, optim = torch.nn, torch.optim
    dtype = getattr(torch, dtype)

    class Polynomial3(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.randn(()))
            self.b = nn.Parameter(torch.randn(()))
            self.c = nn.Parameter(torch.randn(()))
            self.d = nn.Parameter(torch.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x**2 + self.d * x**3

        def string(self):
            return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"

    torch.manual_seed(0)
    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    model = Polynomial3().to(dtype)
    start = start_from(torch, model, weights)

    criterion = nn.MSELoss(reduction="sum")
    name, options = OPTIMIZERS[optimizer]
    optimizer = getattr(optim, name)(model.parameters(), **options)
    losses = []
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return Run(losses, start, {"fit": model.string()})


# ------------------------------------------------------------------------------------------------
# 4. The quickstart's loop: device, DataLoader, CrossEntropyLoss, train()/test(), accuracy.


def classifier(
    torch: Any, epochs: int = 4, dtype: str = "float32", weights: Weights | None = None, data: Any = None
) -> Run:
    nn = torch.nn
    # PyTorch: `from torch.utils.data import DataLoader, TensorDataset`. `data` lets a test pass
    # another module with the same two classes.
    data = torch.utils.data if data is None else data
    DataLoader, TensorDataset = data.DataLoader, data.TensorDataset
    X_train, y_train, X_test, y_test = digits(dtype)
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)

    training_data = TensorDataset(torch.from_numpy(X_train), torch.tensor(y_train, dtype=torch.long))
    test_data = TensorDataset(torch.from_numpy(X_test), torch.tensor(y_test, dtype=torch.long))

    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(8 * 8, 64),
                nn.ReLU(),
                nn.Linear(64, 64),
                nn.ReLU(),
                nn.Linear(64, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    model = model.to(dtype)
    start = start_from(torch, model, weights)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses, log = [], []

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        seen = 0
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)

            pred = model(X)
            loss = loss_fn(pred, y)

            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

            losses.append(loss.item())
            seen += X.size(0)
            if batch % 10 == 0:
                loss, current = loss.item(), batch * batch_size + len(X)
                log.append(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
        assert seen == size

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        log.append(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        return correct, test_loss

    for t in range(epochs):
        train(train_dataloader, model, loss_fn, optimizer)
        accuracy, test_loss = test(test_dataloader, model, loss_fn)

    probabilities = nn.Softmax(dim=1)(model(torch.from_numpy(X_test[:5]).to(device)))
    return Run(
        losses,
        start,
        {
            "accuracy": accuracy,
            "test_loss": test_loss,
            "log": log,
            "probability_sums": probabilities.sum(dim=1).detach().numpy(),
        },
    )


# ------------------------------------------------------------------------------------------------
# 5. The MNIST example's CNN: Conv2d, F.relu, F.max_pool2d, torch.flatten, log_softmax, nll_loss,
#    SGD with momentum and a StepLR schedule.


def cnn(torch: Any, epochs: int = 3, dtype: str = "float32", weights: Weights | None = None) -> Run:
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    X_train, y_train, X_test, y_test = digits(dtype)
    dtype = getattr(torch, dtype)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.fc1 = nn.Linear(64, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    torch.manual_seed(1)
    device = torch.device("cpu")
    X_train, X_test = torch.from_numpy(X_train), torch.from_numpy(X_test)
    y_train, y_test = torch.tensor(y_train, dtype=torch.long), torch.tensor(y_test, dtype=torch.long)

    model = Net().to(device).to(dtype)
    start = start_from(torch, model, weights)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    batch_size = 64
    losses = []

    def train(model, device, optimizer, epoch):
        model.train()
        for batch_idx in range(math.ceil(X_train.size(0) / batch_size)):
            data = X_train[batch_idx * batch_size : (batch_idx + 1) * batch_size]
            target = y_train[batch_idx * batch_size : (batch_idx + 1) * batch_size]
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    def test(model, device):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            data, target = X_test.to(device), y_test.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(y_test)
        return correct / len(y_test)

    for epoch in range(1, epochs + 1):
        train(model, device, optimizer, epoch)
        accuracy = test(model, device)
        scheduler.step()

    return Run(losses, start, {"accuracy": accuracy, "lr": optimizer.param_groups[0]["lr"]})


# ------------------------------------------------------------------------------------------------
# 6. The sequence-model tutorial's part-of-speech tagger: Embedding, LSTM, Linear, log_softmax.

TAGGED = [
    ("the dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("everybody read that book".split(), ["NN", "V", "DET", "NN"]),
    ("a cat saw the dog".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("that dog read a book".split(), ["DET", "NN", "V", "DET", "NN"]),
]


def lstm_tagger(torch: Any, epochs: int = 50, dtype: str = "float32", weights: Weights | None = None) -> Run:
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    dtype = getattr(torch, dtype)
    torch.manual_seed(1)

    def prepare_sequence(seq, to_ix):
        idxs = [to_ix[w] for w in seq]
        return torch.tensor(idxs, dtype=torch.long)

    word_to_ix = {}
    for sent, tags in TAGGED:
        for word in sent:
            if word not in word_to_ix:
                word_to_ix[word] = len(word_to_ix)
    tag_to_ix = {"DET": 0, "NN": 1, "V": 2}

    EMBEDDING_DIM = 6
    HIDDEN_DIM = 6

    class LSTMTagger(nn.Module):
        def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
            super().__init__()
            self.hidden_dim = hidden_dim
            self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim)
            self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

        def forward(self, sentence):
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            tag_scores = F.log_softmax(tag_space, dim=1)
            return tag_scores

    model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(tag_to_ix)).to(dtype)
    start = start_from(torch, model, weights)
    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.3)

    losses = []
    for epoch in range(epochs):
        for sentence, tags in TAGGED:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = prepare_sequence(tags, tag_to_ix)
            tag_scores = model(sentence_in)
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    with torch.no_grad():
        inputs = prepare_sequence("a dog saw that apple".split(), word_to_ix)
        tag_scores = model(inputs)
        predicted = [int(i) for i in tag_scores.argmax(dim=1)]
    return Run(losses, start, {"predicted": predicted})


# ------------------------------------------------------------------------------------------------
# 7. A custom autograd.Function (ctx.save_for_backward / ctx.saved_tensors) in a training loop,
#    and gradcheck on it and on a two-input Function that looks at ctx.needs_input_grad.


def legendre_class(torch: Any) -> type:
    class LegendrePolynomial3(torch.autograd.Function):
        """P3(x) = (5x^3 - 3x) / 2, with its derivative written by hand: 1.5 (5x^2 - 1)."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 - 1)

    return LegendrePolynomial3


def smooth_abs_class(torch: Any) -> type:
    class SmoothAbs(torch.autograd.Function):
        """sqrt(x^2 + eps): two inputs, gradients only for those that need one."""

        @staticmethod
        def forward(ctx, x, eps):
            out = torch.sqrt(x * x + eps)
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            x, out = ctx.saved_tensors
            grad_x = grad_eps = None
            if ctx.needs_input_grad[0]:
                grad_x = grad_output * x / out
            if ctx.needs_input_grad[1]:
                grad_eps = grad_output * 0.5 / out
            return grad_x, grad_eps

    return SmoothAbs


def custom_function(torch: Any, steps: int = 2000, dtype: str = "float32", weights: Weights | None = None) -> Run:
    dtype = getattr(torch, dtype)
    LegendrePolynomial3 = legendre_class(torch)

    x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = torch.sin(x)

    # Weights must be initialised close enough to the answer for the fit to converge.
    if weights is None:
        weights = {"a": 0.0, "b": -1.0, "c": 0.0, "d": 0.3}
    a, b, c, d = (torch.full((), float(weights[k]), dtype=dtype, requires_grad=True) for k in "abcd")
    start = {k: t.detach().numpy().copy() for k, t in zip("abcd", (a, b, c, d))}

    learning_rate = 5e-6
    losses = []
    for t in range(steps):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()

        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            a.grad.zero_()
            b.grad.zero_()
            c.grad.zero_()
            d.grad.zero_()

    return Run(losses, start, {"fit": f"y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)"})


def custom_function_gradcheck(torch: Any) -> dict[str, Any]:
    """gradcheck in float64 on both Functions, and the needs_input_grad path (eps held fixed)."""
    LegendrePolynomial3, SmoothAbs = legendre_class(torch), smooth_abs_class(torch)
    rng = np.random.default_rng(0)
    input = torch.tensor(rng.standard_normal(20), dtype=torch.double, requires_grad=True)
    x = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.double, requires_grad=True)
    eps = torch.tensor(rng.uniform(0.1, 1.0, (3, 4)), dtype=torch.double, requires_grad=True)
    fixed_eps = eps.detach()

    results = {
        "legendre": torch.autograd.gradcheck(LegendrePolynomial3.apply, (input,), eps=1e-6, atol=1e-4),
        "smooth_abs": torch.autograd.gradcheck(SmoothAbs.apply, (x, eps), eps=1e-6, atol=1e-4),
    }
    # A wrong backward must be caught: gradcheck of a deliberately wrong derivative fails.

    class WrongLegendre(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 + 1)

    results["wrong"] = torch.autograd.gradcheck(WrongLegendre.apply, (input,), raise_exception=False)

    out = SmoothAbs.apply(x, fixed_eps)
    out.sum().backward()
    results["grad_x"] = x.grad.numpy().copy()
    results["expected_grad_x"] = x.detach().numpy() / np.sqrt(x.detach().numpy() ** 2 + fixed_eps.numpy())
    results["fixed_eps_grad"] = fixed_eps.grad
    return results


# ------------------------------------------------------------------------------------------------
# 8. optim.LBFGS with a closure: a small network fitted to a curve, multinomial logistic
#    regression on the digits (convex), and the Rosenbrock function.


def lbfgs_regression(
    torch: Any,
    steps: int = 50,
    dtype: str = "float32",
    weights: Weights | None = None,
    line_search_fn: str | None = "strong_wolfe",
) -> Run:
    nn, optim = torch.nn, torch.optim
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)

    rng = np.random.default_rng(0)
    x_np = np.linspace(-2, 2, 100).reshape(-1, 1)
    y_np = np.sin(2 * x_np) + 0.05 * rng.standard_normal(x_np.shape)
    x = torch.tensor(x_np, dtype=dtype)
    y = torch.tensor(y_np, dtype=dtype)

    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)
    start = start_from(torch, model, weights)
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=1, max_iter=10, history_size=10, line_search_fn=line_search_fn)

    losses = []
    for step in range(steps):

        def closure():
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        losses.append(loss.item())
    with torch.no_grad():
        final = criterion(model(x), y).item()
    return Run(losses, start, {"final": final})


def lbfgs_logistic(torch: Any, steps: int = 50, dtype: str = "float64", weights: Weights | None = None) -> Run:
    nn = torch.nn
    X_train, y_train, X_test, y_test = digits(dtype)
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)

    X = torch.from_numpy(X_train).flatten(1)
    y = torch.tensor(y_train, dtype=torch.long)

    model = nn.Linear(64, 10).to(dtype)
    start = start_from(torch, model, weights)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=5, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        return loss

    losses = []
    for step in range(steps):
        loss = optimizer.step(closure)
        losses.append(loss.item())

    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X_test).flatten(1))
        accuracy = (logits.argmax(dim=1) == torch.tensor(y_test)).float().mean().item()
    return Run(losses, start, {"accuracy": accuracy})


def lbfgs_rosenbrock(torch: Any, steps: int = 50, dtype: str = "float64", weights: Weights | None = None) -> Run:
    dtype = getattr(torch, dtype)
    start = {"xy": np.array([-1.5, 2.0]) if weights is None else weights["xy"]}
    xy = torch.tensor(start["xy"], dtype=dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([xy], lr=1, max_iter=5, line_search_fn="strong_wolfe")

    def rosenbrock(xy):
        x, y = xy[0], xy[1]
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(xy)
        loss.backward()
        return loss

    losses = []
    for step in range(steps):
        losses.append(optimizer.step(closure).item())
    return Run(losses, start, {"xy": xy.detach().numpy().copy()})


# ------------------------------------------------------------------------------------------------
# 9. Saving and loading: the quickstart's state_dict to a file and back, and the general
#    checkpoint (epoch, model and optimizer state, loss) that a run resumes from.


def save_and_load_weights(torch: Any, folder: str, dtype: str = "float32", weights: Weights | None = None) -> Run:
    nn = torch.nn
    dtype_name, dtype = dtype, getattr(torch, dtype)
    torch.manual_seed(0)

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(nn.Linear(8 * 8, 16), nn.ReLU(), nn.Linear(16, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    model = NeuralNetwork().to(dtype)
    start = start_from(torch, model, weights)
    path = f"{folder}/model.pth"
    x = torch.from_numpy(digits(dtype_name)[2][:8])

    model.eval()
    with torch.no_grad():
        before = model(x)

    torch.save(model.state_dict(), path)

    model = NeuralNetwork().to(dtype)
    model.load_state_dict(torch.load(path, weights_only=True))

    model.eval()
    with torch.no_grad():
        pred = model(x)
    return Run([], start, {"before": before.numpy().copy(), "after": pred.numpy().copy()})


def checkpoint_resume(
    torch: Any, folder: str | None, steps: int = 50, dtype: str = "float32", weights: Weights | None = None
) -> Run:
    """Train ``steps`` steps of Adam; with a ``folder``, stop halfway, save a checkpoint, build a
    new model and optimiser, load the checkpoint into them and train the rest."""
    nn, optim = torch.nn, torch.optim
    dtype = getattr(torch, dtype)
    torch.manual_seed(0)

    rng = np.random.default_rng(1)
    X_np = rng.standard_normal((64, 4))
    X = torch.tensor(X_np, dtype=dtype)
    y = torch.tensor(np.tanh(X_np @ [1.0, -2.0, 0.5, 0.0])[:, None], dtype=dtype)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 16)
            self.fc2 = nn.Linear(16, 1)

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))

    model = Net().to(dtype)
    start = start_from(torch, model, weights)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.MSELoss()
    losses = []

    def train(model, optimizer, epochs):
        model.train()
        for epoch in range(epochs):
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    if folder is None:
        train(model, optimizer, steps)
        return Run(losses, start)

    EPOCH = steps // 2
    train(model, optimizer, EPOCH)
    PATH = f"{folder}/model.pt"
    torch.save(
        {
            "epoch": EPOCH,
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": losses[-1],
        },
        PATH,
    )

    model = Net().to(dtype)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    checkpoint = torch.load(PATH)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    epoch = checkpoint["epoch"]
    loss = checkpoint["loss"]

    train(model, optimizer, steps - epoch)
    return Run(losses, start, {"epoch": epoch, "loss": loss})
