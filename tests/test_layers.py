"""Lite 3x3 (Sec. 3.1, Fig. 3) and the gates of Eq. 3."""

import pytest
import torch
from torch import nn

from osnet_lib.complexity import count_mult_adds, count_params
from osnet_lib.layers import AggregationGate, ConvNormAct, LiteConv3x3, StaticGate, make_norm


class _Wrap(nn.Module):
    """Expose a layer through ``embed`` so that complexity.count_mult_adds can count it."""

    def __init__(self, layer: nn.Module, channels: int) -> None:
        super().__init__()
        self.layer, self.channels = layer, channels

    def embed(self, x):
        return self.layer(x[:, :1].expand(-1, self.channels, -1, -1).contiguous())


@pytest.mark.parametrize("c,c_out,h,w", [(64, 64, 64, 32), (16, 48, 8, 4), (96, 32, 5, 7)])
def test_lite_cost_formulas_of_sec_3_1(c, c_out, h, w):
    """(k^2 + c) * c' weights and h*w*(k^2 + c)*c' Mult-Adds, versus k^2*c*c' for a full conv."""
    k = 3
    lite = LiteConv3x3(c, c_out)
    conv_weights = lite.pointwise.weight.numel() + lite.depthwise.weight.numel()
    assert conv_weights == (k * k + c) * c_out
    assert count_mult_adds(_Wrap(lite, c), (h, w)) == h * w * (k * k + c) * c_out
    full = ConvNormAct(c, c_out, 3, padding=1)
    assert full.conv.weight.numel() == k * k * c * c_out
    assert count_mult_adds(_Wrap(full, c), (h, w)) == h * w * k * k * c * c_out
    assert count_params(lite) < count_params(full)


def test_lite_orders_compute_in_the_stated_order():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 5)
    pw_dw = LiteConv3x3(8, 16, order="pw_dw").eval()
    assert pw_dw.depthwise.groups == 16 and pw_dw.depthwise.in_channels == 16
    expected = torch.relu(pw_dw.norm(pw_dw.depthwise(pw_dw.pointwise(x))))
    torch.testing.assert_close(pw_dw(x), expected)
    dw_pw = LiteConv3x3(8, 16, order="dw_pw").eval()
    assert dw_pw.depthwise.groups == 8 and dw_pw.depthwise.in_channels == 8
    expected = torch.relu(dw_pw.norm(dw_pw.pointwise(dw_pw.depthwise(x))))
    torch.testing.assert_close(dw_pw(x), expected)
    # footnote 3: pw->dw widens before the spatial aggregation, so it has more depthwise filters
    assert pw_dw.depthwise.weight.numel() > dw_pw.depthwise.weight.numel()


def test_lite_bad_order():
    with pytest.raises(ValueError, match="order"):
        LiteConv3x3(4, 4, order="dw-first")


def test_make_norm_kinds():
    assert isinstance(make_norm("bn", 4), nn.BatchNorm2d)
    inorm = make_norm("in", 4)
    assert isinstance(inorm, nn.InstanceNorm2d) and inorm.affine
    assert make_norm("none", 4) is None
    with pytest.raises(ValueError, match="layernorm"):
        make_norm("layernorm", 4)


def test_aggregation_gate_is_a_channel_wise_sigmoid_of_pooled_input():
    torch.manual_seed(0)
    gate = AggregationGate(64, reduction=16)
    assert gate.fc1.out_channels == 4  # hidden width = channels / 16
    x = torch.randn(3, 64, 7, 5)
    g = gate(x)
    assert g.shape == (3, 64, 1, 1)
    assert torch.all((g > 0) & (g < 1))
    # depends on the input only through its global average (GAP first)
    shuffled = x.flatten(2)[:, :, torch.randperm(35)].view_as(x)
    torch.testing.assert_close(gate(shuffled), g)
    # dynamic: different images get different gates
    assert not torch.allclose(g[0], g[1])


def test_stream_wise_gate_outputs_one_scalar():
    g = AggregationGate(32, channel_wise=False)(torch.randn(2, 32, 4, 4))
    assert g.shape == (2, 1, 1, 1)


def test_gate_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        AggregationGate(16, reduction=0)


def test_static_gate_ignores_the_input():
    gate = StaticGate(8)
    with torch.no_grad():
        gate.logits.normal_()
    a, b = gate(torch.randn(2, 8, 3, 3)), gate(torch.randn(2, 8, 3, 3) * 10)
    assert a.shape == (2, 8, 1, 1)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[0], a[1])
