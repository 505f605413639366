"""Models exported from PyTorch with ``torch.onnx.export`` (the dynamo exporter, PyTorch's default,
and the TorchScript one, ``dynamo=False``) with a dynamic batch dimension, loaded with
``chainrule.onnx.loader``: the outputs equal PyTorch's at two other batch sizes (1e-5 relative, float32),
and the layers come back under PyTorch's names holding PyTorch's weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.onnx.loader import load

EXPORTERS = ["dynamo", "torchscript"]  # torch.onnx.export's default, and dynamo=False
BATCHES = (3, 7)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 16)
        self.act = torch.nn.GELU(approximate="tanh")
        self.fc2 = torch.nn.Linear(16, 3)

    def forward(self, x):
        return torch.log_softmax(self.fc2(self.act(self.fc1(x))), dim=-1)


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(2, 5, 3, padding=1),
            torch.nn.BatchNorm2d(5),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.flatten = torch.nn.Flatten()
        self.fc = torch.nn.Linear(5 * 4 * 4, 4)

    def forward(self, x):
        return self.fc(self.flatten(self.features(x)))


class LSTMClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 8, batch_first=True)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


class GRUEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 5, bidirectional=True)

    def forward(self, x):
        return self.gru(x)  # (output, h_n)


class StackedLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return out, h, c


class BagOfWords(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(20, 6)
        self.fc = torch.nn.Linear(6, 2)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in eval mode with every parameter and batch-norm statistic drawn at random (so
    that no two are equal: the TorchScript exporter merges equal initializers)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    return model.eval()


def export(model, example, path, exporter, batch_axis=0, folded=True):
    """Export ``model`` to ``path`` with the batch axis dynamic; ``folded=False`` asks the exporter not
    to fold batch normalisation into the convolution before it (TorchScript: no constant folding;
    dynamo: no graph optimisation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":  # PyTorch's default exporter: no dynamo= argument
            shapes = ({batch_axis: torch.export.Dim("batch", min=1, max=64)},)
            torch.onnx.export(model, (example,), str(path), dynamic_shapes=shapes, optimize=folded)
        else:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                input_names=["x"],
                dynamic_axes={"x": {batch_axis: "batch"}},
                do_constant_folding=folded,
            )
    return load(path)


def outputs_match(loaded, model, make_input):
    for batch in BATCHES:
        x = make_input(batch)
        with torch.no_grad():
            theirs = model(x)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        ours = loaded(cr.tensor(x.numpy()))
        ours = ours if isinstance(ours, tuple) else (ours,)
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            t = t.numpy()
            scale = float(np.abs(t).max())
            np.testing.assert_allclose(o.numpy(), t, rtol=1e-5, atol=1e-5 * scale, err_msg=f"batch {batch}")


def same_weights(loaded, model, keys):
    ours, theirs = loaded.state_dict(), model.state_dict()
    for key in keys:
        np.testing.assert_array_equal(ours[key], theirs[key].numpy(), err_msg=key)


def floats(*shape):
    return lambda batch: torch.randn(
        *[batch if d is None else d for d in shape], generator=torch.Generator().manual_seed(batch)
    )


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_mlp(exporter, tmp_path):
    model = randomised(MLP())
    loaded = export(model, torch.randn(2, 6), tmp_path / "mlp.onnx", exporter)
    outputs_match(loaded, model, floats(None, 6))
    assert isinstance(loaded.fc1, nn.Linear) and isinstance(loaded.fc2, nn.Linear)
    assert list(loaded.state_dict()) == list(model.state_dict())
    same_weights(loaded, model, model.state_dict())


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_cnn_with_batchnorm_folded_by_the_exporter(exporter, tmp_path):
    model = randomised(CNN())
    loaded = export(model, torch.randn(2, 2, 8, 8), tmp_path / "cnn.onnx", exporter)
    outputs_match(loaded, model, floats(None, 2, 8, 8))
    assert isinstance(loaded.fc, nn.Linear)
    same_weights(loaded, model, ["fc.weight", "fc.bias"])  # the convolution holds the folded batch norm


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_cnn_with_batchnorm_kept_trains_like_pytorch(exporter, tmp_path):
    model = randomised(CNN())
    loaded = export(model, torch.randn(2, 2, 8, 8), tmp_path / "cnn.onnx", exporter, folded=False)
    outputs_match(loaded, model, floats(None, 2, 8, 8))
    assert isinstance(loaded.features["0"], nn.Conv2d) and isinstance(loaded.features["1"], nn.BatchNorm2d)
    keys = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    assert sorted(k for k in loaded.state_dict() if not k.endswith("num_batches_tracked")) == sorted(keys)
    same_weights(loaded, model, keys)
    # in training mode both use the batch's statistics and update the running ones alike
    x = floats(None, 2, 8, 8)(6)
    model.train()
    loaded.train()
    theirs = model(x).detach().numpy()
    ours = loaded(cr.tensor(x.numpy())).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
    for key in ("features.1.running_mean", "features.1.running_var"):
        np.testing.assert_allclose(loaded.state_dict()[key], model.state_dict()[key].numpy(), rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_lstm(exporter, tmp_path):
    model = randomised(LSTMClassifier())
    loaded = export(model, torch.randn(2, 9, 3), tmp_path / "lstm.onnx", exporter)
    outputs_match(loaded, model, floats(None, 9, 3))
    assert isinstance(loaded.lstm, nn.LSTM)
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())
    same_weights(loaded, model, model.state_dict())  # ONNX's gate order converted back to PyTorch's


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_bidirectional_gru(exporter, tmp_path):
    model = randomised(GRUEncoder())
    loaded = export(model, torch.randn(9, 2, 3), tmp_path / "gru.onnx", exporter, batch_axis=1)
    outputs_match(loaded, model, lambda batch: floats(9, None, 3)(batch))
    assert isinstance(loaded.gru, nn.GRU) and loaded.gru.bidirectional
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())
    same_weights(loaded, model, model.state_dict())


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_stacked_bidirectional_lstm(exporter, tmp_path):
    model = randomised(StackedLSTM())
    loaded = export(model, torch.randn(5, 2, 4), tmp_path / "stacked.onnx", exporter, batch_axis=1)
    outputs_match(loaded, model, floats(5, None, 4))
    layers = [m for m in loaded.modules() if isinstance(m, nn.LSTM)]
    assert len(layers) == 2 and all(m.bidirectional for m in layers)  # ONNX has one node per layer
    ours = layers[0].state_dict()
    for key, value in ours.items():  # the first layer is PyTorch's layer 0
        np.testing.assert_array_equal(value, model.state_dict()[f"lstm.{key}"].numpy(), err_msg=key)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_embedding(exporter, tmp_path):
    model = randomised(BagOfWords())
    ids = lambda batch: torch.randint(0, 20, (batch, 4), generator=torch.Generator().manual_seed(batch))  # noqa: E731
    loaded = export(model, ids(2), tmp_path / "bag.onnx", exporter)
    outputs_match(loaded, model, ids)
    assert isinstance(loaded.emb, nn.Embedding)
    same_weights(loaded, model, model.state_dict())
