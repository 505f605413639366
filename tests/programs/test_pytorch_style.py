"""Programs written as PyTorch's tutorials write them (tests/programs/programs.py) run on chainrule,
passed in where the programs say ``torch``, and learn.

Each program's body is the same code the peer tests run on PyTorch; nothing in it was changed for
chainrule. Where a program needs what chainrule lacks, the test runs it as written and is marked
``xfail(strict=True)`` with the failing line and PyTorch's behaviour, so it turns into a failure
(to be unmarked) the day chainrule gains the feature.
"""

import numpy as np
import pytest

import chainrule as cr
from tests.programs import programs


def drop(losses):
    """How many times smaller the last loss is than the first."""
    return losses[0] / losses[-1]


# 1. raw tensors, manual `w -= lr * w.grad` under no_grad, `w.grad = None`


def test_manual_update_of_raw_tensors_under_no_grad_learns():
    run = programs.polynomial_tensors(cr, steps=500)
    assert len(run.losses) == 500
    assert drop(run.losses) > 50, run.losses[::100]
    # plain gradient descent with a small step: every step lowers the loss
    assert np.all(np.diff(run.losses) < 0)
    # the fit heads for sin's Taylor coefficients (x - x^3/6 ...): the cubic term turns negative
    assert run.extra["d"] < -0.02, run.extra["fit"]
    assert run.extra["fit"].startswith("y = ")


# 2. nn.Sequential(Linear, Flatten(0, 1)), model.zero_grad(), `for param in ...: param -= lr * grad`


def test_manual_update_of_module_parameters_learns():
    run = programs.polynomial_nn(cr, steps=500)
    assert drop(run.losses) > 50, run.losses[::100]
    assert np.all(np.diff(run.losses) < 0)
    # x.unsqueeze(-1).pow(tensor([1, 2, 3])) stays float32, as in PyTorch (int exponents)
    assert run.extra["xx_dtype"] == "float32"
    assert run.extra["cubic"] < -0.02


# 3. an nn.Module subclass with nn.Parameter attributes, trained by torch.optim


@pytest.mark.parametrize(("optimizer", "factor"), [("SGD", 500), ("Adam", 500), ("RMSprop", 300)])
def test_module_subclass_with_optimizer_learns(optimizer, factor):
    run = programs.polynomial_module(cr, optimizer, steps=500)
    assert drop(run.losses) > factor, run.losses[::100]
    assert run.extra["fit"].startswith("y = ") and " x^3" in run.extra["fit"]
    assert set(run.start) == {"a", "b", "c", "d"}


# 4. the quickstart's loop: device, DataLoader, .to(device), CrossEntropyLoss, argmax(1), size(0)


def test_quickstart_loop_with_device_and_dataloader_learns():
    # The program takes its DataLoader and TensorDataset from `torch.utils.data` (chainrule.utils.data)
    run = programs.classifier(cr, epochs=4)
    assert len(run.losses) == 4 * 24  # 1500 training digits in batches of 64
    assert np.mean(run.losses[-5:]) < np.mean(run.losses[:5]) / 5
    assert run.extra["accuracy"] > 0.8
    assert run.extra["test_loss"] < 0.6
    assert run.extra["log"][0] == f"loss: {run.losses[0]:>7f}  [   64/ 1500]"
    assert run.extra["log"][-1].startswith("Test Error: \n Accuracy: ")
    np.testing.assert_allclose(run.extra["probability_sums"], 1.0, rtol=1e-6)


def test_quickstart_loop_imports_torch_utils_data():
    assert cr.utils.data.DataLoader is cr.data.DataLoader
    run = programs.classifier(cr, epochs=1)
    assert len(run.losses) == 24 and np.mean(run.losses[-5:]) < np.mean(run.losses[:5])


# 5. the MNIST example's CNN: Conv2d, F.relu, F.max_pool2d, torch.flatten, log_softmax, nll_loss,
#    SGD(momentum=0.9), StepLR; targets as torch.long; argmax(dim=1, keepdim=True), eq, view_as


def test_cnn_with_momentum_and_steplr_learns():
    run = programs.cnn(cr, epochs=3)
    assert len(run.losses) == 3 * 24
    assert np.mean(run.losses[-5:]) < np.mean(run.losses[:5]) / 3
    assert run.extra["accuracy"] > 0.75
    assert run.extra["lr"] == pytest.approx(0.1 * 0.7**3)


# 6. the LSTM part-of-speech tagger: Embedding, LSTM, Linear, log_softmax(dim=1), NLLLoss


def test_lstm_tagger_learns_the_tags():
    run = programs.lstm_tagger(cr)
    assert drop(run.losses) > 10, run.losses[::20]
    # "a dog saw that apple": DET NN V DET NN, though "saw" and "apple" were each seen once
    assert run.extra["predicted"] == [0, 1, 2, 0, 1]
    assert {"word_embeddings.weight", "lstm.weight_ih_l0", "lstm.bias_hh_l0", "hidden2tag.weight"} <= set(run.start)


# 7. a custom autograd.Function with ctx: in a training loop, and under gradcheck


def test_custom_function_in_a_training_loop_learns():
    run = programs.custom_function(cr, steps=500)
    assert drop(run.losses) > 5, run.losses[::100]
    assert np.all(np.diff(run.losses) < 0)
    assert "* P3(" in run.extra["fit"]


def test_custom_function_passes_gradcheck_and_a_wrong_backward_does_not():
    results = programs.custom_function_gradcheck(cr)
    assert results["legendre"] is True
    assert results["smooth_abs"] is True
    assert results["wrong"] is False
    np.testing.assert_allclose(results["grad_x"], results["expected_grad_x"], rtol=1e-12)
    # eps did not require grad: needs_input_grad[1] was False, and eps got no gradient
    assert results["fixed_eps_grad"] is None


# 8. optim.LBFGS with a closure


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
def test_lbfgs_fits_a_small_network(line_search_fn):
    run = programs.lbfgs_regression(cr, steps=30, line_search_fn=line_search_fn)
    assert run.losses[0] > 0.3
    assert run.extra["final"] < 0.01  # the noise alone costs 0.0025


def test_lbfgs_logistic_regression_on_digits():
    run = programs.lbfgs_logistic(cr, steps=20)
    assert run.losses[0] > 2.0  # about log(10) from a random start
    assert run.losses[-1] < 0.01
    assert run.extra["accuracy"] > 0.9


def test_lbfgs_minimises_rosenbrock():
    run = programs.lbfgs_rosenbrock(cr, steps=50)
    assert run.losses[0] == pytest.approx(12.5)  # (1 + 1.5)^2 + 100 (2 - 2.25)^2
    assert run.losses[-1] < 1e-8
    np.testing.assert_allclose(run.extra["xy"], [1.0, 1.0], atol=1e-4)


# 9. saving and loading: the quickstart's state_dict file, and a checkpoint a run resumes from


def test_checkpoint_with_optimizer_state_resumes_the_run_exactly(tmp_path):
    resumed = programs.checkpoint_resume(cr, str(tmp_path))
    straight = programs.checkpoint_resume(cr, None)
    assert (tmp_path / "model.pt").exists()
    assert resumed.extra == {"epoch": 25, "loss": resumed.losses[24]}
    assert resumed.losses == straight.losses  # Adam's moments came back with the weights
    assert drop(resumed.losses) > 5, resumed.losses[::10]


def test_quickstart_saves_and_loads_the_state_dict(tmp_path):
    run = programs.save_and_load_weights(cr, str(tmp_path))
    assert (tmp_path / "model.pth").exists()
    np.testing.assert_array_equal(run.extra["after"], run.extra["before"])
