"""Fig. 6 (gate clusters), Fig. 7 (activation maps) and ranked lists."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from osnet_lib import build_model
from osnet_lib.viz import (
    activation_maps,
    cluster_gates,
    cluster_purity,
    denormalize,
    gate_descriptors,
    mass_inside,
    overlay,
    plot_activation_maps,
    plot_gate_clusters,
    plot_ranked_list,
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("osnet_x0_25").eval()


def test_activation_maps_follow_the_definition(model):
    x = torch.randn(3, 3, 64, 32)
    small = activation_maps(model, x, upsample=False)
    expected = model.forward_features(x).abs().sum(1)
    expected = expected / expected.flatten(1).norm(dim=1).view(-1, 1, 1)
    torch.testing.assert_close(small, expected)
    torch.testing.assert_close(small.flatten(1).norm(dim=1), torch.ones(3))
    assert activation_maps(model, x).shape == (3, 64, 32)
    assert not model.training


def test_mass_inside_a_mask():
    maps = np.zeros((2, 4, 4))
    maps[0, :2] = 1.0  # all mass in the top half
    maps[1] = 1.0  # uniform
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[:, :2] = True
    np.testing.assert_allclose(mass_inside(maps, masks), [1.0, 0.5])
    with pytest.raises(ValueError, match="same shape"):
        mass_inside(maps, masks[:, :3])


def test_gate_descriptors_concatenate_the_streams(model):
    d = gate_descriptors(model, torch.randn(5, 3, 64, 32), batch_size=2)
    assert d.shape == (5, 4 * 32)  # conv4.1 of x0.25: 128 / 4 = 32 channels per stream
    assert np.all((d > 0) & (d < 1))


def test_cluster_gates_and_purity():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    truth = np.repeat([0, 1, 2], 20)
    x = centres[truth] + rng.normal(scale=0.3, size=(60, 2))
    clusters = cluster_gates(x, k=3, top=5)
    assert cluster_purity(clusters.labels, truth) == 1.0
    assert all(len(n) == 5 for n in clusters.nearest)
    for c, idx in enumerate(clusters.nearest):
        assert set(clusters.labels[idx]) == {c}
    assert cluster_purity(np.zeros(60, int), truth) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least k=3"):
        cluster_gates(x[:2], k=3)
    with pytest.raises(ValueError, match="differ in shape"):
        cluster_purity(clusters.labels, truth[:5])


def test_figures(model):
    x = torch.randn(4, 3, 64, 32)
    pics = denormalize(x)
    assert pics.shape == (4, 64, 32, 3) and pics.min() >= 0 and pics.max() <= 1
    assert overlay(pics[0], np.random.rand(64, 32)).shape == (64, 32, 3)
    fig = plot_activation_maps(x[:2], {"OSNet": activation_maps(model, x[:2])})
    assert len(fig.axes) == 4
    clusters = cluster_gates(gate_descriptors(model, x), k=2, top=2)
    assert len(plot_gate_clusters(x, clusters, per_row=2).axes) == 4
    fig = plot_ranked_list(x[0], x[1:], [True, False, True], [0.1, 0.2, 0.3])
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="match flags"):
        plot_ranked_list(x[0], x[1:], [True])


def test_figure_layouts_side_by_side_and_captions(model):
    x = torch.randn(3, 3, 64, 32)
    maps = {"A": activation_maps(model, x), "B": activation_maps(model, x)}
    fig = plot_activation_maps(x, maps, titles=["p", "q", "r"], per_row=2)
    # two rows of two (image, map A, map B) groups; the unused group is blank
    assert len(fig.axes) == 2 * 2 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["p", "A", "B"]
    with pytest.raises(ValueError, match="titles"):
        plot_activation_maps(x, maps, titles=["p"])
    with pytest.raises(ValueError, match="maps of 'A'"):
        plot_activation_maps(x, {"A": maps["A"][:2]})
    clusters = cluster_gates(gate_descriptors(model, x), k=2, top=2)
    fig = plot_gate_clusters(x, clusters, per_row=2, captions=["first", "second"])
    assert {t.get_text() for t in fig.texts} == {"first", "second"}
    with pytest.raises(ValueError, match="captions"):
        plot_gate_clusters(x, clusters, captions=["only one"])
