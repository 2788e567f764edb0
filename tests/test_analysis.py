"""The measurements behind chapters 2-5 (osnet_lib.analysis), each against an independent oracle."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import BLOCK_VARIANTS, randomise_norms  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from osnet_lib import build_model  # noqa: E402
from osnet_lib.analysis import (  # noqa: E402
    ReceptiveField,
    analytic_mult_adds,
    chain_receptive_field,
    equivalent_kernel,
    forward_until,
    gate_statistics,
    gradient_receptive_field,
    kernel_params,
    layer_mult_adds,
    manual_gate,
    plot_equivalent_kernels,
    plot_gate_vectors,
    plot_images,
    plot_receptive_fields,
    procedural_images,
    separable_conv_cost,
    stage_shapes,
    standard_conv_cost,
    stream_outputs,
)
from osnet_lib.blocks import IN_CANDIDATES, BlockOptions, OSBlock  # noqa: E402
from osnet_lib.complexity import count_mult_adds  # noqa: E402
from osnet_lib.layers import LiteConv3x3  # noqa: E402
from osnet_lib.paper import TABLE1  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# -- Sec. 3.1 costs ------------------------------------------------------------------------------
@pytest.mark.parametrize("h,w,k,c,c_out", [(8, 4, 3, 5, 7), (16, 8, 5, 12, 3), (3, 3, 1, 2, 2)])
def test_standard_cost_matches_the_counted_convolution(h, w, k, c, c_out):
    conv = nn.Conv2d(c, c_out, k, padding=k // 2, bias=False)
    cost = standard_conv_cost(h, w, k, c, c_out)
    # brute force: one multiply-add per kernel weight per output position
    assert cost.mult_adds == h * w * c_out * (c * k * k)
    assert cost.mult_adds == layer_mult_adds(conv, (c, h, w))
    assert cost.params == conv.weight.numel() == kernel_params(conv)


@pytest.mark.parametrize("order", ["pw_dw", "dw_pw"])
@pytest.mark.parametrize("c,c_out", [(6, 6), (4, 10), (10, 4)])
def test_separable_cost_matches_the_counted_lite_layer(order, c, c_out):
    layer = LiteConv3x3(c, c_out, order=order)
    cost = separable_conv_cost(9, 5, 3, c, c_out, order=order)
    assert cost.mult_adds == layer_mult_adds(layer, (c, 9, 5))
    assert cost.params == kernel_params(layer)  # BatchNorm's 2*c_out are not kernel weights
    assert kernel_params(layer) < sum(p.numel() for p in layer.parameters())


def test_the_two_orders_differ_by_hwk2_times_the_width_change():
    a = separable_conv_cost(7, 3, 3, 4, 12, "pw_dw").mult_adds
    b = separable_conv_cost(7, 3, 3, 4, 12, "dw_pw").mult_adds
    assert a - b == 7 * 3 * 9 * (12 - 4)
    same_width = [separable_conv_cost(7, 3, 3, 8, 8, order) for order in ("pw_dw", "dw_pw")]
    assert same_width[0] == same_width[1]


@pytest.mark.parametrize("bad", [dict(h=0), dict(k=-3), dict(c=2.5), dict(c_out=True)])
def test_cost_formulas_reject_bad_shapes(bad):
    args = dict(h=4, w=4, k=3, c=2, c_out=2) | bad
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        standard_conv_cost(**args)
    with pytest.raises(ValueError, match=name):
        separable_conv_cost(**args)


def test_unknown_order_is_rejected():
    with pytest.raises(ValueError, match="'sideways'"):
        separable_conv_cost(4, 4, 3, 2, 2, order="sideways")


@pytest.mark.parametrize("shape", [(3, 8), (3, 0, 8), (3, 8, 8, 8)])
def test_layer_counters_reject_a_bad_input_shape(shape):
    with pytest.raises(ValueError, match="channels, height, width"):
        layer_mult_adds(nn.Conv2d(3, 3, 1), shape)
    with pytest.raises(ValueError, match="channels, height, width"):
        analytic_mult_adds(nn.Conv2d(3, 3, 1), shape)


def test_analytic_count_agrees_with_the_flop_counter_on_a_whole_network():
    model = build_model("osnet_x0_25").train()
    formula = analytic_mult_adds(model, (3, 128, 64), forward=model.embed)
    assert formula == count_mult_adds(model, (128, 64))
    assert model.training  # mode restored


def test_layer_count_restores_training_mode():
    layer = LiteConv3x3(4, 4).train()
    layer_mult_adds(layer, (4, 8, 8))
    assert layer.training


# -- what each order computes ------------------------------------------------------------------
@pytest.mark.parametrize("order", ["pw_dw", "dw_pw"])
def test_equivalent_kernel_reproduces_the_two_convolutions(order):
    layer = LiteConv3x3(5, 7, order=order)
    x = torch.randn(2, 5, 9, 9)
    two = (layer.depthwise(layer.pointwise(x)) if order == "pw_dw"
           else layer.pointwise(layer.depthwise(x)))
    torch.testing.assert_close(F.conv2d(x, equivalent_kernel(layer), padding=1), two,
                               rtol=1e-4, atol=1e-5)


def test_equivalent_kernel_ranks_follow_the_order():
    w_pd = equivalent_kernel(LiteConv3x3(6, 8, "pw_dw"))
    w_dp = equivalent_kernel(LiteConv3x3(6, 8, "dw_pw"))
    assert {int(torch.linalg.matrix_rank(w_pd[o].reshape(6, 9))) for o in range(8)} == {1}
    assert {int(torch.linalg.matrix_rank(w_dp[o].reshape(6, 9))) for o in range(8)} == {6}


def test_equivalent_kernel_needs_a_lite_layer():
    with pytest.raises(TypeError, match="Conv2d"):
        equivalent_kernel(nn.Conv2d(3, 3, 3))


# -- receptive fields ------------------------------------------------------------------------
@pytest.mark.parametrize("t", [1, 2, 3, 5])
def test_chain_formula_gives_2t_plus_1_for_stacked_3x3(t):
    assert chain_receptive_field([(3, 1)] * t) == 2 * t + 1


def test_chain_formula_with_strides():
    # 7x7/2 then 3x3/2 then 3x3/1: 1 + 6 + 2*2 + 2*4
    assert chain_receptive_field([(7, 2), (3, 2), (3, 1)]) == 19
    assert chain_receptive_field([]) == 1


@pytest.mark.parametrize("bad", [[(3,)], [(0, 1)], [(3, -1)]])
def test_chain_formula_rejects_bad_layers(bad):
    with pytest.raises(ValueError, match="layer 0"):
        chain_receptive_field(bad)


def test_gradient_field_of_stacked_convolutions():
    convs = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 5, padding=2))
    field = gradient_receptive_field(convs, (2, 21, 21))
    assert field.size == (7, 7) and not field.clipped
    strided = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    assert gradient_receptive_field(strided, (1, 31, 31)).size == (7, 7)


def test_gradient_field_reports_clipping_and_the_chosen_position():
    conv = nn.Conv2d(1, 1, 5, padding=2)
    field = gradient_receptive_field(conv, (1, 4, 4))
    assert field.clipped
    corner = gradient_receptive_field(conv, (1, 12, 12), position=(0, 0))
    assert corner.size == (3, 3) and corner.clipped


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_os_block_stream_t_has_a_2t_plus_1_field(t):
    block = OSBlock(32, 32).eval()
    field = gradient_receptive_field(lambda x: block.streams[t - 1](block.conv1(x)), (32, 21, 21))
    assert field.size == (2 * t + 1, 2 * t + 1)


def test_gradient_field_rejects_bad_functions_and_positions():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gradient_receptive_field(lambda x: x.flatten(1), (1, 5, 5))
    with pytest.raises(ValueError, match="outside"):
        gradient_receptive_field(nn.Identity(), (1, 5, 5), position=(9, 0))
    with pytest.raises(ValueError, match="does not depend"):
        gradient_receptive_field(lambda x: x * 0, (1, 5, 5))
    with pytest.raises(ValueError, match="batch"):
        gradient_receptive_field(nn.Identity(), (1, 5, 5), batch=0)


def test_mass_radius_measures_spread():
    point = np.zeros((9, 9))
    point[4, 4] = 1.0
    assert ReceptiveField(1, 1, point, False).mass_radius() == 0.0
    flat = np.ones((9, 9))
    assert ReceptiveField(9, 9, flat, False).mass_radius(1.0) == 4.0
    with pytest.raises(ValueError, match="fraction"):
        ReceptiveField(9, 9, flat, False).mass_radius(0)


def test_border_share_compares_the_rim_with_its_area():
    g = np.zeros((7, 7))
    g[1:6, 1:6] = 1.0  # a flat 5x5 field: the rim holds 16 of 25 pixels and as much gradient
    pixels, grad = ReceptiveField(5, 5, g, False).border_share()
    assert pixels == pytest.approx(16 / 25) and grad == pytest.approx(16 / 25)
    g[2:5, 2:5] = 10.0  # a peaked field puts less of its gradient on the rim
    assert ReceptiveField(5, 5, g, False).border_share()[1] == pytest.approx(16 / (16 + 90))
    with pytest.raises(ValueError, match="empty"):
        ReceptiveField(0, 0, np.zeros((3, 3)), False).border_share()


def test_forward_until_stops_at_each_stage():
    model = build_model("osnet_x0_25").eval()
    x = torch.randn(1, 3, 64, 32)
    assert forward_until(model, "conv2")(x).shape == (1, 64, 16, 8)
    torch.testing.assert_close(forward_until(model, "conv5")(x), model.forward_features(x))
    with pytest.raises(ValueError, match="'conv9'"):
        forward_until(model, "conv9")


# -- the gate ----------------------------------------------------------------------------------
def test_manual_gate_and_streams_rebuild_the_block_fusion():
    block = OSBlock(64, 64).eval()
    x = torch.randn(3, 64, 8, 4)
    streams = stream_outputs(block, x)
    assert len(streams) == 4
    by_hand = sum(manual_gate(block.gates[0], s)[:, :, None, None] * s for s in streams)
    torch.testing.assert_close(by_hand, block.fuse(streams))


@pytest.mark.parametrize("variant", sorted(BLOCK_VARIANTS))
def test_stream_outputs_are_the_streams_the_block_computes(variant):
    """stream_outputs gives the tensors that the block's own forward pass feeds into its fusion
    (read by forward hooks on each stream), for every block variant and IN candidate."""
    options = BlockOptions(**BLOCK_VARIANTS[variant])
    x = torch.randn(2, 32, 8, 4)
    for c in IN_CANDIDATES:
        torch.manual_seed(0)
        block = randomise_norms(OSBlock(32, 64, options, c), seed=2).eval()
        seen = {}
        for t, stream in enumerate(block.streams):
            stream.register_forward_hook(lambda m, i, o, t=t, seen=seen: seen.setdefault(t, o))
        with torch.no_grad():
            block(x)
            streams = stream_outputs(block, x)
        assert len(streams) == options.T == len(seen)
        for t, s in enumerate(streams):
            torch.testing.assert_close(s, seen[t])


def test_gate_helpers_reject_wrong_types():
    with pytest.raises(TypeError, match="OSBlock"):
        stream_outputs(nn.Identity(), torch.zeros(1, 4, 4, 4))
    with pytest.raises(TypeError, match="AggregationGate"):
        manual_gate(nn.Identity(), torch.zeros(1, 4, 4, 4))
    with pytest.raises(ValueError, match="N, C, H, W"):
        manual_gate(OSBlock(64, 64).gates[0], torch.zeros(4, 16))


def test_gate_statistics_on_constructed_gates():
    # two images, two streams, three gates: stream 0 wins gates 0 and 1 in image 0
    g = torch.tensor([[[0.9, 0.8, 0.1], [0.1, 0.2, 0.9]],
                      [[0.9, 0.1, 0.1], [0.1, 0.8, 0.9]]])
    s = gate_statistics(g)
    assert s["dominant_stream_share"] == pytest.approx([3 / 6, 3 / 6])
    assert s["varying_dominant"] == pytest.approx(1 / 3)  # only gate 1 changes winner
    assert s["across_image_std"] > 0
    static = gate_statistics(g[:1].expand(5, -1, -1))
    assert static["across_image_std"] == 0.0 and static["varying_dominant"] == 0.0
    with pytest.raises(ValueError, match=r"\(N, T, G\)"):
        gate_statistics(torch.zeros(2, 3))


def test_static_gates_do_not_vary_and_dynamic_ones_do():
    x = procedural_images(6, (64, 32), seed=1)
    dynamic = build_model("osnet_x0_25").eval().gate_vectors(x, ["conv4.1"])["conv4.1"]
    static = build_model("osnet_x0_25", fusion="static").eval().gate_vectors(x, ["conv4.1"])
    assert gate_statistics(dynamic)["across_image_std"] > 0
    assert gate_statistics(static["conv4.1"])["across_image_std"] == 0


# -- Table 1 -----------------------------------------------------------------------------------
def test_stage_shapes_match_table1_at_every_width():
    for name, beta in (("osnet_x1_0", 1.0), ("osnet_x0_25", 0.25)):
        shapes = dict(stage_shapes(build_model(name), (256, 128)))
        for stage, (h, w, c) in TABLE1["stages"].items():
            key = f"{stage} (avg pool)" if stage.startswith("transition") else stage
            got = shapes[key]
            assert got[:2] == (h, w), (name, stage)
            # footnote 4: the width multiplier applies to every layer but the 512-d fc
            assert got[2] == (512 if stage == "fc" else int(c * beta)), (name, stage)


def test_stage_shapes_rejects_other_models_and_sizes():
    with pytest.raises(ValueError, match="conv1"):
        stage_shapes(nn.Sequential(nn.Conv2d(3, 3, 1)), (32, 16))
    with pytest.raises(ValueError, match="input_size"):
        stage_shapes(build_model("osnet_x0_25"), (32,))


# -- inputs and plots --------------------------------------------------------------------------
def test_procedural_images_are_deterministic_varied_and_in_range():
    a = procedural_images(4, (48, 24), seed=3, normalise=False)
    assert a.shape == (4, 3, 48, 24) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    torch.testing.assert_close(a, procedural_images(4, (48, 24), seed=3, normalise=False))
    assert not torch.equal(a, procedural_images(4, (48, 24), seed=4, normalise=False))
    assert (a[0] - a[1]).abs().mean() > 0.05  # different scenes
    normed = procedural_images(4, (48, 24), seed=3)
    assert not torch.allclose(normed, a)
    for bad in (dict(n=0), dict(n=2, size=(0, 4)), dict(n=2, size=(4,))):
        with pytest.raises(ValueError):
            procedural_images(**bad)


def test_plot_helpers_draw_one_panel_per_item():
    from matplotlib import pyplot as plt

    fig = plot_images(torch.rand(5, 3, 16, 8), ncols=3)
    assert len(fig.axes) == 6
    fields = [gradient_receptive_field(nn.Conv2d(1, 1, 3, padding=1), (1, 9, 9))] * 2
    assert len(plot_receptive_fields(fields, ["a", "b"], crop=5).axes) == 2
    fig = plot_gate_vectors({"x": torch.rand(4, 2, 6), "y": torch.rand(4, 2, 6)}, centre=True)
    assert len(fig.axes) == 4  # two panels and their colour bars
    assert len(plot_equivalent_kernels({"a": LiteConv3x3(2, 3)}).axes) == 1
    with pytest.raises(ValueError, match="titles"):
        plot_receptive_fields(fields, ["a"])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        plot_images(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, T, G\)"):
        plot_gate_vectors({"x": torch.rand(4, 6)})
    plt.close("all")
