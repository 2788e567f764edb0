"""Table 3's from-scratch baselines: torchvision networks with the book's re-ID head.

Table 3 sets OSNet beside MobileNetV2 of the same size trained from scratch (the paper's own
reproduction, marked with a dagger: 2.2 M parameters like OSNet). Here a torchvision network's
convolutional trunk, randomly initialised as torchvision initialises it (no pretrained weights),
is followed by exactly OSNet's head (:class:`osnet_lib.models.ReIDModel`): global average
pooling, the 512-d fc with BatchNorm and ReLU, and the identity classifier. A comparison with
OSNet then changes the trunk only, and every tool of the book (the engine, the metrics, the
store, :func:`osnet_lib.complexity.complexity`) treats the baselines like OSNet::

    from osnet_lib import build_model
    net = build_model("mobilenet_v2", num_classes=751, width_mult=0.85)

Families (:data:`BACKBONES`):

- ``mobilenet_v2``: MobileNetV2 at a width multiplier that is a multiple of 0.05 in [0.1, 1].
  The multiplier applies to every layer, the last 1x1 convolution included (``1280 w``
  channels): torchvision keeps 1280 channels below width 1, which with the head alone would
  hold 0.7 M parameters, far more than OSNet x0.25's 0.2 M. At width 1 it is torchvision's
  network.
- ``shufflenet_v2``: ShuffleNetV2 at torchvision's four widths (0.5, 1, 1.5, 2).
- ``resnet18``: ResNet-18 (width 1 only), the usual re-ID backbone's small sibling; its last
  stage keeps torchvision's stride 2.

All three down-sample by 32 (OSNet by 16). :func:`matched_width` picks the width at which a
family has as many parameters as a given network: "MobileNetV2 at OSNet's size".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from osnet_lib.models import FEATURE_DIM, ReIDModel, embedding_head
from osnet_lib.utils import check_int, check_positive_int

#: MobileNetV2's channels are rounded to multiples of 8 (its paper's implementation).
_DIVISOR = 8


def _round_channels(channels: float) -> int:
    """MobileNetV2's rounding of a scaled channel count: the nearest multiple of 8, at least 8,
    and never more than 10% below the unrounded count."""
    rounded = max(_DIVISOR, int(channels + _DIVISOR / 2) // _DIVISOR * _DIVISOR)
    return rounded + _DIVISOR if rounded < 0.9 * channels else rounded


def _mobilenet_v2(width_mult: float) -> tuple[nn.Module, int]:
    from torchvision.models import mobilenet_v2
    from torchvision.ops.misc import Conv2dNormActivation

    features = mobilenet_v2(weights=None, width_mult=width_mult).features
    last = features[-1][0]
    channels = _round_channels(1280 * width_mult)
    if last.out_channels != channels:  # below width 1: scale the last 1x1 conv as well
        conv = Conv2dNormActivation(last.in_channels, channels, kernel_size=1,
                                    norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
        nn.init.kaiming_normal_(conv[0].weight, mode="fan_out")  # torchvision's initialisation
        features[-1] = conv
    return features, channels


def _shufflenet_v2(width_mult: float) -> tuple[nn.Module, int]:
    from torchvision import models

    name = {0.5: "x0_5", 1.0: "x1_0", 1.5: "x1_5", 2.0: "x2_0"}[width_mult]
    net = getattr(models, f"shufflenet_v2_{name}")(weights=None)
    trunk = nn.Sequential(net.conv1, net.maxpool, net.stage2, net.stage3, net.stage4, net.conv5)
    return trunk, net.fc.in_features


def _resnet18(width_mult: float) -> tuple[nn.Module, int]:
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool,
                          net.layer1, net.layer2, net.layer3, net.layer4)
    return trunk, net.fc.in_features


@dataclass(frozen=True)
class Backbone:
    """A torchvision family: its widths and how to build its trunk at one of them.

    ``build(width_mult)`` returns the trunk (images ``(N, 3, H, W)`` to feature maps
    ``(N, C, H/stride, W/stride)``) and ``C``."""

    name: str
    description: str
    widths: tuple[float, ...]
    build: Callable[[float], tuple[nn.Module, int]]
    stride: int = 32


#: The baseline families by name (the model names :func:`osnet_lib.build_model` accepts
#: besides OSNet's).
BACKBONES: MappingProxyType[str, Backbone] = MappingProxyType({b.name: b for b in (
    Backbone("mobilenet_v2", "MobileNetV2 (torchvision), every layer scaled by the width",
             tuple(round(0.05 * k, 2) for k in range(2, 21)), _mobilenet_v2),
    Backbone("shufflenet_v2", "ShuffleNetV2 (torchvision)", (0.5, 1.0, 1.5, 2.0),
             _shufflenet_v2),
    Backbone("resnet18", "ResNet-18 (torchvision)", (1.0,), _resnet18),
)})


def get_backbone(name: str) -> Backbone:
    """The family called ``name`` (ValueError naming the families otherwise)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; valid: {list(BACKBONES)}")
    return BACKBONES[name]


def check_width(name: str, width_mult: Any) -> float:
    """``width_mult`` as one of the family's widths (ValueError listing them otherwise)."""
    widths = get_backbone(name).widths
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not any(
            abs(width_mult - w) < 1e-9 for w in widths):
        raise ValueError(f"{name}: width_mult must be one of {list(widths)}, got {width_mult!r}")
    return min(widths, key=lambda w: abs(w - width_mult))


class TorchvisionReID(ReIDModel):
    """A torchvision trunk with OSNet's head (see the module note).

    Args:
        family: a key of :data:`BACKBONES`.
        num_classes: training identities for the classifier; 0 builds none.
        width_mult: one of the family's widths.
        feature_dim: the fc embedding's width (512, as OSNet's).

    The forward API is :class:`~osnet_lib.models.ReIDModel`'s: :meth:`forward` gives logits,
    :meth:`embed` the ``(N, feature_dim)`` embedding in eval mode without autograd.
    Input: ``(N, 3, H, W)`` float images with both sides at least 32.
    """

    def __init__(self, family: str, num_classes: int = 0, width_mult: float = 1.0,
                 feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        check_int("num_classes", num_classes, low=0)
        check_positive_int("feature_dim", feature_dim)
        spec = get_backbone(family)
        self.family = family
        self.width_mult = check_width(family, width_mult)
        self.stride = spec.stride
        self.feature_dim = feature_dim
        self.trunk, channels = spec.build(self.width_mult)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = embedding_head(channels, feature_dim)
        linear = self.fc[0]
        assert isinstance(linear, nn.Linear)
        nn.init.normal_(linear.weight, 0, 0.01)  # the head initialised as OSNet's
        nn.init.zeros_(linear.bias)
        self.classifier = None
        self.reset_classifier(num_classes)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x, self.stride)
        return self.trunk(x)


def build_backbone(name: str, num_classes: int = 0, **options: Any) -> TorchvisionReID:
    """Build a baseline by family name with options ``width_mult`` and ``feature_dim``.

    Raises:
        ValueError: an unknown family or width. TypeError: another option.
    """
    get_backbone(name)
    unknown = sorted(set(options) - {"width_mult", "feature_dim"})
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for {name!r}; valid options: "
                        "['feature_dim', 'width_mult']")
    return TorchvisionReID(name, num_classes, **options)


def parameter_count(name: str, width_mult: float) -> int:
    """Parameters of the baseline at ``width_mult`` without its classifier (as Table 3
    counts them)."""
    return _parameter_count(name, check_width(name, width_mult))


@cache
def _parameter_count(name: str, width_mult: float) -> int:
    net = build_backbone(name, 0, width_mult=width_mult)
    return sum(p.numel() for p in net.parameters())


def matched_width(name: str, params: int) -> float:
    """The width of family ``name`` whose parameter count (without classifier) is closest to
    ``params``: ``matched_width("mobilenet_v2", 2_169_508)`` is MobileNetV2 at OSNet x1.0's
    size."""
    check_positive_int("params", params)
    return min(get_backbone(name).widths,
               key=lambda w: (abs(_parameter_count(name, w) - params), w))


__all__ = ["BACKBONES", "Backbone", "TorchvisionReID", "build_backbone", "check_width",
           "get_backbone", "matched_width", "parameter_count"]
