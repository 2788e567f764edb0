"""Layers of OSNet: Lite 3x3 (Sec. 3.1, Fig. 3) and the aggregation gate (Eq. 3).

Taught in chapter 2 (depthwise separable convolutions) and chapter 4 (the unified aggregation
gate). The omni-scale block that combines them lives in :mod:`osnet_lib.blocks`.
"""

from typing import Literal

import torch
from torch import nn

Norm = Literal["bn", "in", "none"]
LiteOrder = Literal["pw_dw", "dw_pw"]


def make_norm(kind: Norm, channels: int) -> nn.Module | None:
    """Return a 2-d normalisation layer: BatchNorm (``"bn"``), affine InstanceNorm (``"in"``,
    Sec. 3.3) or nothing (``"none"``)."""
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    if kind == "in":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return None
    raise ValueError(f"unknown normalisation {kind!r}; expected one of 'bn', 'in', 'none'")


class ConvNormAct(nn.Module):
    """Convolution, then normalisation, then (optionally) ReLU.

    With ``relu=False`` this is the *linear* 1x1 layer of the bottleneck (Fig. 4), whose output is
    added to the identity before the block's ReLU.

    Note:
        torchvision's ``Conv2dNormActivation`` builds the same three layers, but as an
        ``nn.Sequential`` whose parameters are named ``0.weight``, ``1.weight``...; the names
        ``conv`` and ``norm`` here are what the authors' weight files map to
        (:func:`osnet_lib.weights.authors_key_to_ours`) and what every saved ``model.pth``
        holds, so this small module is kept.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        norm: Norm = "bn",
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            groups=groups, bias=False,
        )
        self.norm = make_norm(norm, out_channels)
        self.relu = nn.ReLU(inplace=True) if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class LiteConv3x3(nn.Module):
    """Lite 3x3 convolution (Sec. 3.1, Fig. 3b): ReLU(BN((u o v) * x)).

    The default ``order="pw_dw"`` applies the pointwise 1x1 kernel ``v`` (linear, no norm) first and
    then the depthwise 3x3 kernel ``u``, followed by BatchNorm and ReLU; the channel width is
    changed *before* the spatial aggregation (footnote 3). ``order="dw_pw"`` is MobileNet's order,
    depthwise then pointwise, kept for the comparison of chapter 2.

    Cost (Sec. 3.1): ``h*w*(k^2 + c)*c'`` Mult-Adds and ``(k^2 + c)*c'`` weights for the pw-dw
    order, instead of ``h*w*k^2*c*c'`` and ``k^2*c*c'`` for a standard convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, order: LiteOrder = "pw_dw") -> None:
        super().__init__()
        if order == "pw_dw":
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
            self.depthwise = nn.Conv2d(
                out_channels, out_channels, 3, padding=1, groups=out_channels, bias=False
            )
        elif order == "dw_pw":
            self.depthwise = nn.Conv2d(
                in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False
            )
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        else:
            raise ValueError(f"unknown Lite 3x3 order {order!r}; expected 'pw_dw' or 'dw_pw'")
        self.order = order
        self.norm = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "pw_dw":
            x = self.depthwise(self.pointwise(x))
        else:
            x = self.pointwise(self.depthwise(x))
        return self.relu(self.norm(x))

    def extra_repr(self) -> str:
        return f"order={self.order}"


class AggregationGate(nn.Module):
    """The dynamic aggregation gate G of Eq. 3 (Sec. 3.2).

    A mini-network of global average pooling, an MLP with one ReLU hidden layer whose width is
    ``channels // reduction`` (reduction 16 in the paper), and a sigmoid. It returns the gate
    itself, shape ``(N, num_gates, 1, 1)``: ``num_gates = channels`` for the paper's channel-wise
    gate, ``1`` for the stream-wise (scalar) gate of Table 5, model 7. The caller forms the
    Hadamard product ``G(x^t) * x^t``.
    """

    def __init__(self, channels: int, reduction: int = 16, channel_wise: bool = True) -> None:
        super().__init__()
        if reduction < 1:
            raise ValueError(f"gate reduction must be >= 1, got {reduction}")
        hidden = max(channels // reduction, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels if channel_wise else 1, 1, bias=True)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sigmoid(self.fc2(self.relu(self.fc1(self.global_avgpool(x)))))


class StaticGate(nn.Module):
    """A learned-and-fixed channel-wise gate (Table 5, model 8): ``sigmoid(w)``, one learnable
    vector per stream that, after training, is the same for every input image."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits).expand(x.shape[0], -1, -1, -1)
