"""Pictures of attributions: what each panel shows, in order, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import explain, nn
from chainrule.viz import plot_feature_importances, plot_image_attributions, plot_lime, plot_signal_attributions

RNG = np.random.default_rng(0)


def test_image_heat_maps_one_row_per_method_and_the_images_first(tmp_path):
    images = RNG.random((3, 1, 8, 8))
    fig = plot_image_attributions(
        images, {"IG": images - 0.5, "occlusion": -images}, titles=["a", "b", "c"], path=tmp_path / "f.png"
    )
    panels = fig.axes[:-1]
    assert len(panels) == 9 and [ax.get_title() for ax in panels[:3]] == ["a", "b", "c"]
    assert [panels[3].get_ylabel(), panels[6].get_ylabel()] == ["IG", "occlusion"]
    heat = panels[3].get_images()[1]  # the image, then the heat-map over it
    np.testing.assert_allclose(heat.get_array(), (images[0, 0] - 0.5))
    assert heat.get_clim()[0] == -heat.get_clim()[1]  # centred on 0
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_rgb_and_channel_less_images():
    assert len(plot_image_attributions(RNG.random((2, 3, 5, 5)), RNG.random((2, 3, 5, 5))).axes) == 5
    assert len(plot_image_attributions(RNG.random((2, 5, 5)), RNG.random((2, 5, 5))).axes) == 5


def test_signals_are_coloured_by_their_attributions():
    signals, att = RNG.standard_normal((2, 1, 30)), RNG.standard_normal((2, 1, 30))
    fig = plot_signal_attributions(signals, att, titles=["x", "y"])
    points = fig.axes[0].collections[0]
    np.testing.assert_allclose(points.get_array(), att[0, 0])
    np.testing.assert_allclose(points.get_offsets()[:, 1], signals[0, 0])
    assert fig.axes[1].get_title() == "y"


def test_feature_importances_ranked_with_names_and_several_methods():
    fig = plot_feature_importances({"IG": np.array([[1.0, -3.0, 0.5]] * 2), "LIME": [0.2, 0.9, 0.1]}, ["a", "b", "c"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]  # by the first method, largest on top
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["IG", "LIME"]
    lin = nn.Linear(3, 1, dtype="float64")
    X = RNG.standard_normal((50, 3))
    result = explain.permutation_importance(lin, X, lin(X).numpy()[:, 0], seed=0)
    ax = plot_feature_importances(result, ["p", "q", "r"], top=2).axes[0]
    assert len(ax.get_yticklabels()) == 2


def test_lime_weights_of_one_row():
    result = explain.LimeExplanation(np.zeros((2, 3)), np.array([[0.1, -0.5, 0.3], [1, 2, 3]]), np.zeros(2), np.ones(2))
    ax = plot_lime(result, row=0, feature_names=["a", "b", "c"]).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "b"]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.1, 0.3, -0.5])


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"attributions 'attribution' have shape \(2, 4\), the inputs \(2, 5\)"):
        plot_signal_attributions(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="images must be"):
        plot_image_attributions(np.zeros((2, 2, 4, 4)), np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match="2 feature names for 3 features"):
        plot_feature_importances([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError, match="row 5 is out of range"):
        plot_lime(explain.LimeExplanation(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1), np.ones(1)), row=5)


def test_colour_images_are_rescaled_to_what_imshow_draws():
    """Standardised RGB images (values outside [0, 1]) were clipped by matplotlib: black and white."""
    images = RNG.standard_normal((2, 3, 5, 5))
    fig = plot_image_attributions(images, images)
    drawn = fig.axes[0].get_images()[0].get_array()
    expected = (np.moveaxis(images[0], 0, -1) - images.min()) / (images.max() - images.min())
    np.testing.assert_allclose(drawn, expected)


def test_what_cannot_be_drawn_truthfully_is_a_clear_error():
    """NaN attributions were drawn as blank (a colour scale of 1), NaN importances ranked anywhere,
    top=-1 dropped the smallest bar, top=0 showed all, and a string of names gave its letters."""
    nan = np.where(np.eye(4, 5, dtype=bool), np.nan, 0.0)
    with pytest.raises(ValueError, match="attributions 'IG' hold NaN"):
        plot_signal_attributions(np.zeros((4, 5)), {"IG": nan})
    with pytest.raises(ValueError, match="images hold NaN"):
        plot_image_attributions(nan[:, None, :, None], np.zeros((4, 1, 5, 1)))
    with pytest.raises(ValueError, match="images are empty"):
        plot_image_attributions(np.zeros((0, 1, 4, 4)), np.zeros((0, 1, 4, 4)))
    with pytest.raises(ValueError, match="importances 'importance' hold NaN"):
        plot_feature_importances([0.1, np.nan, 0.3])
    for top in (0, -1, 1.5):
        with pytest.raises(ValueError, match="top must be a positive int"):
            plot_feature_importances([0.1, 0.2, 0.3], top=top)
    with pytest.raises(ValueError, match="std must be 3 values >= 0"):
        plot_feature_importances([0.1, 0.2, 0.3], std=[0.1, 0.2])
    with pytest.raises(ValueError, match="feature_names must be a sequence of strings"):
        plot_feature_importances([0.1, 0.2], "ab")
    with pytest.raises(ValueError, match="no importances given"):
        plot_feature_importances({})
    lime = explain.LimeExplanation(np.zeros((2, 2)), np.array([[np.nan, 1.0], [0.5, 1.0]]), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="the weights of row 0 hold NaN"):
        plot_lime(lime, 0)
    for row in (True, 1.0, -1):
        with pytest.raises(ValueError, match="it must be an int in 0..1"):
            plot_lime(lime, row)
