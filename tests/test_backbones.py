"""Table 3's torchvision baselines: built by name like OSNet, with OSNet's head, at the width
that matches OSNet's size; bad names, widths and inputs are refused with a clear error."""

import pytest
import torch

from osnet_lib.backbones import (
    BACKBONES,
    TorchvisionReID,
    build_backbone,
    matched_width,
    parameter_count,
)
from osnet_lib.complexity import complexity
from osnet_lib.models import ReIDModel, build_model, check_model_name, get_model_spec
from osnet_lib.recipes import get_recipe


@pytest.mark.parametrize("name, width", [("mobilenet_v2", 0.15), ("shufflenet_v2", 0.5),
                                         ("resnet18", 1.0)])
def test_a_baseline_has_osnets_forward_api_and_head(name, width):
    torch.manual_seed(0)
    net = build_model(name, num_classes=11, width_mult=width)
    assert isinstance(net, TorchvisionReID) and isinstance(net, ReIDModel)
    x = torch.rand(4, 3, 128, 64)
    assert net.train()(x).shape == (4, 11)
    emb = net.embed(x)
    assert emb.shape == (4, 512) and net.training  # extraction restores the mode
    assert torch.allclose(net.embed(x[:1]), emb[:1], atol=1e-5)  # independent of the batch
    maps = net.forward_features(x)
    assert maps.shape[2:] == (4, 2)  # down-sampled by 32
    out = net.forward_all(x)
    assert torch.allclose(out.embedding, emb, atol=1e-6) and out.logits.shape == (4, 11)
    # the head is OSNet's: fc 512 with BatchNorm and ReLU, initialised as OSNet's
    assert net.fc[0].out_features == 512 and isinstance(net.fc[1], torch.nn.BatchNorm1d)
    assert net.fc[0].weight.std().item() == pytest.approx(0.01, rel=0.2)
    no_classifier = build_model(name, width_mult=width)
    with pytest.raises(RuntimeError, match="no classifier"):
        no_classifier(x)


def test_mobilenet_v2_at_width_one_is_torchvisions_network():
    from torchvision.models import mobilenet_v2

    tv = mobilenet_v2(weights=None).features
    ours = build_backbone("mobilenet_v2", width_mult=1.0)
    assert [tuple(p.shape) for p in ours.trunk.parameters()] == [
        tuple(p.shape) for p in tv.parameters()]
    # below width 1 the last 1x1 conv is scaled too (torchvision keeps its 1280 channels)
    small = build_backbone("mobilenet_v2", width_mult=0.5)
    assert small.trunk[-1][0].out_channels == 640
    assert small.fc[0].in_features == 640


def test_matched_width_gives_mobilenet_v2_osnets_size():
    for osnet in ("osnet_x0_25", "osnet_x1_0"):
        target = get_model_spec(osnet).params
        w = matched_width("mobilenet_v2", target)
        own = abs(parameter_count("mobilenet_v2", w) - target)
        widths = BACKBONES["mobilenet_v2"].widths
        assert all(own <= abs(parameter_count("mobilenet_v2", v) - target)
                   for v in widths if abs(v - w) < 0.11)  # no neighbour is closer
        assert own / target < 0.15
    assert matched_width("mobilenet_v2", get_model_spec("osnet_x1_0").params) == 0.85
    assert matched_width("resnet18", 1) == 1.0


def test_a_recipe_trains_a_baseline_and_complexity_counts_it():
    recipe = get_recipe("scratch", "cpu", model="mobilenet_v2")
    assert recipe.model == "mobilenet_v2"
    net = build_model("mobilenet_v2", 0, width_mult=0.15)
    c = complexity(net, (128, 64))
    assert c.params == sum(p.numel() for p in net.parameters())
    assert 0 < c.mult_adds < complexity(build_model("osnet_x0_25"), (128, 64)).mult_adds


def test_bad_baseline_names_widths_options_and_inputs_are_named():
    with pytest.raises(ValueError, match="unknown model 'mobilenet_v3'"):
        check_model_name("mobilenet_v3")
    with pytest.raises(ValueError, match="mobilenet_v2"):
        get_recipe("scratch", "cpu", model="mobilenetv2")
    with pytest.raises(ValueError, match=r"width_mult must be one of \[0.5, 1.0, 1.5, 2.0\]"):
        build_model("shufflenet_v2", width_mult=0.25)
    with pytest.raises(ValueError, match="width_mult"):
        build_model("mobilenet_v2", width_mult=0.33)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['T'\]"):
        build_model("resnet18", T=1)
    with pytest.raises(ValueError, match="at least 32x32 pixels"):
        build_model("resnet18").embed(torch.rand(1, 3, 64, 16))
    with pytest.raises(ValueError, match="params"):
        matched_width("mobilenet_v2", 0)


def test_the_typed_baseline_names_are_the_registered_families():
    from typing import get_args

    from osnet_lib.models import BaselineName

    assert set(get_args(BaselineName)) == set(BACKBONES)
