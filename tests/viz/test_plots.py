"""Tests for chainrule.viz.plots: training curves and decision boundaries (matplotlib)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib  # noqa: E402,F401  (a test dependency)
import numpy as np
import pytest

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.train import History, fit  # noqa: E402
from chainrule.viz import (  # noqa: E402
    plot_decision_boundary,
    plot_history,
    plots,  # noqa: E402
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_history(validation: bool = True, extra: tuple[str, ...] = ()) -> History:
    history = History()
    for epoch in range(1, 6):
        logs = {"loss": 1.0 / epoch, "accuracy": 0.5 + 0.08 * epoch, "lr": 0.1}
        if validation:
            logs.update({"val_loss": 1.2 / epoch + (0.1 if epoch == 5 else 0.0), "val_accuracy": 0.45 + 0.08 * epoch})
        logs.update({name: float(epoch) for name in extra})
        history.record(epoch, logs)
    return history


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def three_blobs(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    y = np.repeat(np.arange(3), n)
    X = centres[y] + rng.normal(scale=0.5, size=(3 * n, 2))
    return X.astype(np.float32), y


def linear_module(weight, bias) -> nn.Linear:
    """A Linear(2, k) layer with the given weights (one row per output)."""
    weight = np.asarray(weight, dtype=np.float32)
    layer = nn.Linear(2, weight.shape[0])
    layer.weight.numpy()[...] = weight
    layer.bias.numpy()[...] = np.asarray(bias, dtype=np.float32)
    return layer


# ------------------------------------------------------------------ plot_history


def test_plot_history_one_panel_per_quantity_training_solid_validation_dashed():
    fig = plot_history(make_history())
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]  # 'lr' hidden by default
    loss_ax, acc_ax = fig.axes
    train, val, best = loss_ax.get_lines()
    assert train.get_linestyle() == "-" and val.get_linestyle() == "--"
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(train.get_ydata(), [1.0, 0.5, 1 / 3, 0.25, 0.2])
    assert best.get_xdata()[0] == 4  # the lowest validation loss (epoch 5 went up)
    assert "epoch 4" in best.get_label()
    assert [line.get_label() for line in acc_ax.get_lines()] == ["training", "validation"]
    for ax in fig.axes:
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
        assert ax.get_legend() is not None


def test_plot_history_without_validation_draws_one_line_per_panel():
    fig = plot_history(make_history(validation=False))
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1]


def test_plot_history_metrics_choose_the_panels_after_the_loss():
    history = make_history()
    assert [ax.get_title() for ax in plot_history(history, metrics=["lr"]).axes] == ["Loss", "Lr"]
    assert [ax.get_title() for ax in plot_history(history, metrics="accuracy").axes] == ["Loss", "Accuracy"]
    assert [ax.get_title() for ax in plot_history(history, metrics=["loss"]).axes] == ["Loss"]


def test_plot_history_wraps_panels_into_rows():
    fig = plot_history(make_history(extra=("f1", "precision", "recall")))
    assert len(fig.axes) == 5  # loss, accuracy, f1, precision, recall: 3 + 2, the empty slot removed
    rows = {round(ax.get_position().y0, 2) for ax in fig.axes}
    assert len(rows) == 2


def test_plot_history_unknown_metric_lists_what_was_recorded():
    with pytest.raises(ValueError, match=r"\['f1'\] not recorded.*'val_accuracy'"):
        plot_history(make_history(), metrics=["accuracy", "f1"])


def test_plot_history_empty_history_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        plot_history(History())
    with pytest.raises(TypeError, match="History"):
        plot_history([1, 2, 3])


def test_plot_history_accepts_a_dict_of_lists():
    fig = plot_history({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 2.0]})
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [1, 2, 3])


def test_plot_history_saves_a_png_creating_folders(tmp_path):
    path = tmp_path / "a" / "b" / "curves.png"
    fig = plot_history(make_history(), path=path)
    assert_png(path)
    assert fig is not None


def test_history_plot_calls_plot_history(tmp_path):
    path = tmp_path / "loss.png"
    fig = make_history().plot(metrics=["accuracy"], path=str(path))
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert_png(path)


def test_plot_history_of_a_real_fit():
    cr.manual_seed(0)
    X, y = three_blobs()
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        cr.optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=3,
        validation_split=0.2,
        metrics=["accuracy"],
        verbose=0,
    )
    fig = history.plot()
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 3


def test_figures_display_inline_as_png():
    """Jupyter shows a returned Figure from its PNG: a real picture of the figure's size, not blank."""
    import io

    import matplotlib.image

    figure = plot_history(make_history())
    png = figure._repr_png_()
    assert png[:8] == PNG_MAGIC
    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    width, height = figure.get_size_inches() * figure.dpi  # saved with a tight box: within 10%
    assert abs(pixels.shape[0] - height) <= 0.1 * height and abs(pixels.shape[1] - width) <= 0.1 * width
    assert pixels[..., :3].std() > 0.05  # axes, curves and text drawn, not an empty canvas


def test_plots_leave_pyplot_and_the_backend_alone(tmp_path):
    """No pyplot import, no backend change: the user's matplotlib settings are theirs."""
    code = textwrap.dedent(f"""
        import sys
        import matplotlib
        matplotlib.use("svg")
        import numpy as np
        import chainrule.viz as viz
        assert "matplotlib.pyplot" not in sys.modules
        viz.plot_history({{"loss": [2.0, 1.0]}}, path={str(tmp_path / "h.png")!r})
        viz.plot_decision_boundary(lambda p: p[:, 0] > 0, np.array([[-1.0, 0.0], [1.0, 1.0]]), np.array([0, 1]),
                                   path={str(tmp_path / "d.png")!r}, resolution=20)
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert_png(tmp_path / "h.png")
    assert_png(tmp_path / "d.png")


def test_importing_chainrule_viz_does_not_import_matplotlib():
    code = "import sys, chainrule, chainrule.viz; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "call",
    [
        lambda: plot_history(make_history()),
        lambda: make_history().plot(),
        lambda: plot_decision_boundary(lambda p: p[:, 0] > 0, np.zeros((2, 2)), np.array([0, 1])),
    ],
)
def test_missing_matplotlib_says_how_to_install_it(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "chainrule\[viz\]"'):
        call()


# ------------------------------------------------------------------ plot_decision_boundary


def scatter_count(ax) -> int:
    return sum(
        len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets") and c.get_label().startswith("class")
    )


def test_decision_boundary_for_a_multiclass_module():
    X, y = three_blobs()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
    fit(model, nn.CrossEntropyLoss(), cr.optim.Adam(model.parameters(), lr=0.05), X, y, epochs=30, verbose=0)
    fig = plot_decision_boundary(model, X, y, resolution=60, title="blobs")
    (ax,) = fig.axes
    assert ax.get_title() == "blobs"
    assert scatter_count(ax) == len(X)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]
    grid_labels = plots._labeller(model, y)(X.astype(np.float64))
    assert np.mean(grid_labels == y) > 0.95  # the regions agree with the data they were fitted to


def test_module_with_one_output_column_is_thresholded():
    logit = linear_module([[1.0, 0.0]], [0.0])  # class 1 where x1 > 0
    points = np.array([[-1.0, 5.0], [0.5, -5.0], [2.0, 0.0]])
    np.testing.assert_array_equal(plots._labeller(logit, np.array([0, 1]))(points), [0, 1, 1])
    # with labels -1/+1 (a linear SVM's), the classes are those labels
    np.testing.assert_array_equal(plots._labeller(logit, np.array([-1, 1]))(points), [-1, 1, 1])
    # a model ending in Sigmoid outputs probabilities: the threshold is 0.5
    prob = nn.Sequential(linear_module([[1.0, 0.0]], [-1.0]), nn.Sigmoid())  # p > 0.5 where x1 > 1
    np.testing.assert_array_equal(plots._labeller(prob, np.array([0, 1]))(points), [0, 0, 1])


def test_decision_boundary_for_a_binary_module_with_one_column(tmp_path):
    X = np.array([[-1.0, 0.0], [-0.5, 1.0], [0.5, -1.0], [1.0, 0.0]])
    y = np.array([[0.0], [0.0], [1.0], [1.0]])  # a column, as BCEWithLogitsLoss takes
    fig = plot_decision_boundary(linear_module([[1.0, 0.0]], [0.0]), X, y, path=tmp_path / "binary.png", resolution=40)
    assert scatter_count(fig.axes[0]) == 4
    assert_png(tmp_path / "binary.png")


def test_decision_boundary_for_a_sklearn_estimator(tmp_path):
    from sklearn import linear_model

    X, y = three_blobs()
    estimator = linear_model.LogisticRegression().fit(X, y)
    path = tmp_path / "sk" / "boundary.png"
    fig = plot_decision_boundary(estimator, X, y, path=path, resolution=50)
    assert len(fig.axes) == 1 and scatter_count(fig.axes[0]) == len(X)
    assert_png(path)
    np.testing.assert_array_equal(plots._labeller(estimator, y)(X), estimator.predict(X))


def test_decision_boundary_for_a_function_returning_labels():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    calls = []

    def xor(points):
        calls.append(points.shape)
        return ((points[:, 0] > 0.5) ^ (points[:, 1] > 0.5)).astype(int)

    fig = plot_decision_boundary(xor, X, y, resolution=30)
    assert calls == [(900, 2)]  # one call over the whole 30 x 30 grid
    ax = fig.axes[0]
    assert ax.get_title() == "Decision boundary"
    assert scatter_count(ax) == 4
    xmin, xmax = ax.get_xlim()
    assert xmin < 0.0 and xmax > 1.0  # the grid reaches past the data


def test_decision_boundary_function_returning_scores_or_tensors():
    X = np.array([[-1.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1])
    scores = plots._as_labels(np.array([[0.9, 0.1], [0.2, 0.8]]), 2, y)
    np.testing.assert_array_equal(scores, [0, 1])
    from_tensor = plots._labeller(lambda p: cr.tensor((p[:, 0] > 0).astype(np.int64)), y)(X)
    np.testing.assert_array_equal(from_tensor, [0, 1])


def test_decision_boundary_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    X, y = three_blobs(10)
    fig = Figure()
    left, right = fig.subplots(1, 2)
    returned = plot_decision_boundary(lambda p: (p[:, 0] > 0).astype(int), X, y, ax=right, resolution=20, title="right")
    assert returned is fig
    assert right.get_title() == "right" and left.get_title() == ""
    assert len(fig.axes) == 2


@pytest.mark.parametrize(
    "X, y, resolution, message",
    [
        (np.zeros((4, 3)), np.zeros(4), 50, r"X must have shape \(n_samples, 2\), got \(4, 3\)"),
        (np.zeros((4, 2)), np.zeros(3), 50, r"one label per sample, shape \(4,\), got \(3,\)"),
        (np.zeros((4, 2)), np.zeros(4), 1, "resolution must be an integer >= 2"),
    ],
)
def test_decision_boundary_bad_input_is_named(X, y, resolution, message):
    with pytest.raises(ValueError, match=message):
        plot_decision_boundary(lambda p: np.zeros(len(p)), X, y, resolution=resolution)


def test_decision_boundary_rejects_what_cannot_classify():
    with pytest.raises(TypeError, match="Module, an estimator with .predict, or a function"):
        plot_decision_boundary(42, np.zeros((2, 2)), np.array([0, 1]))


def test_figures_pickle_and_come_back():
    import pickle

    fig = plot_history(make_history())
    again = pickle.loads(pickle.dumps(fig))
    assert [ax.get_title() for ax in again.axes] == ["Loss", "Accuracy"]
    assert again._repr_png_()[:8] == PNG_MAGIC
