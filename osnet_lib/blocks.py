"""The omni-scale residual block (Sec. 3.2, Eq. 1-3, Fig. 4) and its variants.

One :class:`OSBlock` covers the paper's block, every ablation of Table 5 and the four
instance-normalisation candidates of Fig. 5; they are values of :class:`BlockOptions`, not
separate classes. Taught in chapters 3 (streams and the exponent t) and 4 (the aggregation gate).

Table 5 as options (model number: options)::

    1  T=4 + unified AG (primary)     BlockOptions()
    2  T=4 w/ full conv + unified AG  BlockOptions(conv="full")
    3  T=4 (same depth) + unified AG  BlockOptions(same_depth=1)
    4  T=4 + concatenation            BlockOptions(fusion="concat")
    5  T=4 + addition                 BlockOptions(fusion="add")
    6  T=4 + separate AGs             BlockOptions(gate_sharing="separate")
    7  T=4 + unified AG (stream-wise) BlockOptions(gate_granularity="stream")
    8  T=4 + learned-and-fixed gates  BlockOptions(fusion="static")
    9  T=1                            BlockOptions(T=1)
    10 T=2 + unified AG               BlockOptions(T=2)
    11 T=3 + unified AG               BlockOptions(T=3)
"""

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args, get_origin

import torch
from torch import nn
from torch.nn import functional as F

from osnet_lib.layers import AggregationGate, ConvNormAct, LiteConv3x3, StaticGate

ConvKind = Literal["lite", "lite_dw_pw", "full"]
Fusion = Literal["gate", "static", "concat", "add"]
GateSharing = Literal["unified", "separate"]
GateGranularity = Literal["channel", "stream"]
INPlacement = Literal["none", "in", "out", "in_out"]

#: The four candidates of the search space (Fig. 5a-d), in the paper's order.
IN_CANDIDATES: tuple[str, ...] = get_args(INPlacement)


@dataclass(frozen=True)
class BlockOptions:
    """Design choices of the omni-scale block, shared by every block of a network.

    Attributes:
        T: number of streams; stream t stacks t Lite 3x3 layers (receptive field 2t+1, Eq. 2).
        conv: ``"lite"`` (Lite 3x3, pointwise then depthwise, Fig. 3b), ``"lite_dw_pw"``
            (depthwise then pointwise) or ``"full"`` (a standard 3x3 convolution, Fig. 3a).
        same_depth: ``None`` for the scale-incremental streams of Eq. 2; an integer d gives every
            stream the same depth d (the ResNeXt-like model 3 of Table 5 uses d=1, see the note).
        fusion: ``"gate"`` (dynamic aggregation gate, Eq. 3), ``"static"`` (learned-and-fixed
            channel-wise gates, one per stream), ``"concat"`` (concatenation, then the 1x1 layer)
            or ``"add"`` (plain sum, Eq. 2).
        gate_sharing: ``"unified"`` (one AG shared by all streams) or ``"separate"`` (one per
            stream). Only for ``fusion="gate"``.
        gate_granularity: ``"channel"`` (a vector per stream) or ``"stream"`` (a scalar per
            stream). Only for ``fusion="gate"``.
        gate_reduction: reduction ratio of the gate's hidden layer (16 in the paper).
        bottleneck_reduction: the first 1x1 layer reduces the width by this factor (4).

    Note:
        The paper does not state the depth of the "same depth" streams of Table 5, model 3. We use
        depth 1 by default (four parallel single Lite 3x3 streams, as ResNeXt's parallel branches
        each hold one 3x3 convolution); ``same_depth`` accepts any depth.
    """

    T: int = 4
    conv: ConvKind = "lite"
    same_depth: int | None = None
    fusion: Fusion = "gate"
    gate_sharing: GateSharing = "unified"
    gate_granularity: GateGranularity = "channel"
    gate_reduction: int = 16
    bottleneck_reduction: int = 4

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # a choice's valid values are those of its Literal
            if get_origin(f.type) is Literal and getattr(self, f.name) not in get_args(f.type):
                raise ValueError(f"{f.name}={getattr(self, f.name)!r} is not valid; expected one "
                                 f"of {get_args(f.type)}")
        for name in ("T", "gate_reduction", "bottleneck_reduction"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.same_depth is not None and (
            not isinstance(self.same_depth, int) or self.same_depth < 1
        ):
            raise ValueError(
                f"same_depth must be None or a positive integer, got {self.same_depth!r}")
        if self.fusion != "gate" and (
            self.gate_sharing != "unified" or self.gate_granularity != "channel"
        ):
            raise ValueError(
                "gate_sharing and gate_granularity apply only to fusion='gate', "
                f"not to fusion={self.fusion!r}"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def stream_depths(self) -> list[int]:
        """Depth of each stream: ``[1, 2, ..., T]``, or ``[d] * T`` with ``same_depth=d``."""
        if self.same_depth is not None:
            return [self.same_depth] * self.T
        return list(range(1, self.T + 1))


def _conv3x3(kind: ConvKind, channels: int) -> nn.Module:
    if kind == "full":
        return ConvNormAct(channels, channels, 3, padding=1)
    return LiteConv3x3(channels, channels, order="pw_dw" if kind == "lite" else "dw_pw")


class OSBlock(nn.Module):
    """Omni-scale residual block (Fig. 4b) with an instance-normalisation placement (Fig. 5).

    ``y = ReLU(x + x~)`` with the residual ``x~ = conv3(sum_t G(x^t) * x^t)`` and
    ``x^t = F^t(conv1(x))`` (Eq. 3), where ``F^t`` stacks t Lite 3x3 layers.

    ``instance_norm`` picks one of the four candidates of Fig. 5:

    - ``"none"``: the plain OS block (Fig. 5a).
    - ``"in"``: OS+IN_in, IN on the residual just before the addition (Fig. 5b). The last 1x1
      layer then has no BatchNorm: the IN right after it would cancel it (as in the authors'
      released OSNet-AIN).
    - ``"out"``: OS+IN_out, IN after the addition, before the ReLU (Fig. 5c).
    - ``"in_out"``: OS+IN_in-out, both (Fig. 5d).

    The forward pass is ``merge(shortcut(x), residual(x), in_outer)``; code that needs the
    block's pieces (the search's supernet, the analysis of streams) calls these public methods
    (:meth:`stream_outputs`, :meth:`fuse`, :meth:`residual`, :meth:`shortcut`, :meth:`merge`)
    instead of re-implementing the forward pass.

    Shapes: input ``(N, in_channels, H, W)``, output ``(N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        options: BlockOptions | None = None,
        instance_norm: INPlacement = "none",
    ) -> None:
        super().__init__()
        options = options or BlockOptions()
        if instance_norm not in IN_CANDIDATES:
            raise ValueError(
                f"instance_norm={instance_norm!r} is not valid; expected one of {IN_CANDIDATES}"
            )
        r = options.bottleneck_reduction
        if out_channels < r or out_channels % r:
            raise ValueError(
                f"out_channels={out_channels} must be a positive multiple of "
                f"bottleneck_reduction={r}"
            )
        mid = out_channels // r
        self.options = options
        self.instance_norm = instance_norm
        self.record_gates = False
        self.last_gates: torch.Tensor | None = None

        self.conv1 = ConvNormAct(in_channels, mid, 1)
        self.streams = nn.ModuleList(
            nn.Sequential(*[_conv3x3(options.conv, mid) for _ in range(depth)])
            for depth in options.stream_depths()
        )
        num_gates = 1 if options.gate_sharing == "unified" else options.T
        if options.fusion == "gate":
            self.gates = nn.ModuleList(
                AggregationGate(
                    mid, options.gate_reduction, options.gate_granularity == "channel"
                )
                for _ in range(num_gates)
            )
        elif options.fusion == "static":
            self.gates = nn.ModuleList(StaticGate(mid) for _ in range(options.T))
        else:
            self.gates = None  # type: ignore[assignment]  # concat and add fuse without gates
        fused = mid * options.T if options.fusion == "concat" else mid
        in_inner = instance_norm in ("in", "in_out")
        self.conv3 = ConvNormAct(fused, out_channels, 1, norm="none" if in_inner else "bn",
                                 relu=False)
        self.in_inner = nn.InstanceNorm2d(out_channels, affine=True) if in_inner else None
        self.downsample = (
            ConvNormAct(in_channels, out_channels, 1, relu=False)
            if in_channels != out_channels
            else None
        )
        self.in_outer = (
            nn.InstanceNorm2d(out_channels, affine=True)
            if instance_norm in ("out", "in_out")
            else None
        )

    # -- the block's pieces: forward() is merge(shortcut(x), residual(x)) ------------------------
    def stream_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stream outputs ``x^t = F^t(conv1(x))``, t = 1..T (Eq. 3), each
        ``(N, mid, H, W)`` with ``mid = out_channels // bottleneck_reduction``."""
        x1 = self.conv1(x)
        return [stream(x1) for stream in self.streams]

    def fuse(self, streams: list[torch.Tensor]) -> torch.Tensor:
        """Combine the stream outputs x^t into one tensor (Eq. 3, or a Table 5 baseline):
        ``(N, mid, H, W)``, or ``(N, T * mid, H, W)`` for ``fusion="concat"``."""
        fusion = self.options.fusion
        if fusion == "concat":
            return torch.cat(streams, dim=1)
        if fusion == "add":
            return torch.stack(streams).sum(0)
        gates = [
            self.gates[0 if len(self.gates) == 1 else t](x_t) for t, x_t in enumerate(streams)
        ]
        if self.record_gates:
            self.last_gates = torch.stack([g.flatten(1) for g in gates], dim=1)
        return torch.stack([g * x_t for g, x_t in zip(gates, streams)]).sum(0)

    def residual(self, x: torch.Tensor, before_norm: bool = False) -> torch.Tensor:
        """The residual branch ``x~ = conv3(fuse(x^1..x^T))`` of Eq. 3, ``(N, out_channels, H,
        W)``: the last (linear) 1x1 convolution followed by its BatchNorm, or by IN_in for the
        ``"in"`` and ``"in_out"`` candidates (Fig. 5b, 5d).

        With ``before_norm`` the output of that 1x1 convolution is returned before any
        normalisation; :meth:`normalise_residual` finishes it. The search's IN_in candidates
        (:class:`osnet_lib.search.MixedBlock`) normalise it with their own IN."""
        out = self.conv3.conv(self.fuse(self.stream_outputs(x)))
        return out if before_norm else self.normalise_residual(out)

    def normalise_residual(self, conv_out: torch.Tensor) -> torch.Tensor:
        """The normalisation after the last 1x1 convolution: IN_in where this block has it (which
        replaces the BatchNorm), else the BatchNorm."""
        if self.in_inner is not None:
            return self.in_inner(conv_out)
        return self.conv3.norm(conv_out)  # type: ignore[misc]

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The identity branch: ``x`` itself, or a linear 1x1 projection (with BatchNorm) when
        the block changes the number of channels. ``(N, out_channels, H, W)``."""
        return x if self.downsample is None else self.downsample(x)

    @staticmethod
    def merge(identity: torch.Tensor, residual: torch.Tensor,
              in_outer: nn.Module | None = None) -> torch.Tensor:
        """The residual addition of Eq. 1 and the block's ReLU: ``ReLU(identity + residual)``,
        with ``in_outer`` (the IN_out of Fig. 5c, 5d; None for the candidates without it) applied
        between the two. A block merges with its own: ``block.merge(i, r, block.in_outer)``."""
        out = identity + residual
        if in_outer is not None:
            out = in_outer(out)
        return F.relu(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(self.shortcut(x), self.residual(x), self.in_outer)

    def extra_repr(self) -> str:
        o = self.options
        return (
            f"T={o.T}, depths={o.stream_depths()}, conv={o.conv}, fusion={o.fusion}, "
            f"gates={o.gate_sharing}/{o.gate_granularity}, instance_norm={self.instance_norm}"
        )
