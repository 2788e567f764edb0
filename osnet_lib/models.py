"""OSNet, OSNet-IBN and OSNet-AIN (Table 1, Sec. 3.4) and the model registry.

Build every network by name::

    from osnet_lib import build_model, list_models
    model = build_model("osnet_x1_0", num_classes=751)          # Table 1, left column
    model = build_model("osnet_ain_x0_25", num_classes=0)        # OSNet-AIN, width 0.25
    model = build_model("osnet_x1_0", num_classes=751, T=1)      # Table 5, model 9

Keyword options are the fields of :class:`osnet_lib.blocks.BlockOptions` (the Table 5 ablations),
``genotype`` (a per-block choice of instance-normalisation candidate, Fig. 5) and
``feature_dim``. Taught in chapter 5 (the architecture).
"""

import difflib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

import torch
from torch import nn

from osnet_lib.blocks import IN_CANDIDATES, BlockOptions, OSBlock
from osnet_lib.layers import ConvNormAct
from osnet_lib.utils import check_int, check_positive_int, eval_mode

if TYPE_CHECKING:  # the baselines build on this module
    from osnet_lib.backbones import TorchvisionReID

# Table 1 as data. Stem: 7x7 conv, stride 2, then 3x3 max pool, stride 2.
STEM_CHANNELS = 64
# stage, output channels at width 1.0, OS blocks, followed by a transition (1x1 conv + 2x2 avg pool)
STAGES: tuple[tuple[str, int, int, bool], ...] = (
    ("conv2", 256, 2, True),
    ("conv3", 384, 2, True),
    ("conv4", 512, 2, False),
)
#: Width of the final fc embedding; the width multiplier never changes it (footnote 4).
FEATURE_DIM = 512
#: Total spatial down-sampling between the input and the last feature maps.
OUTPUT_STRIDE = 16


def scale_width(channels: int, width_mult: float, divisor: int = 4) -> int:
    """Apply the width multiplier beta (Sec. 3.4) to a layer width, rounded to a multiple of
    ``divisor`` so that the bottleneck's 1/4 width stays an integer. Exact for beta in
    {1, 0.75, 0.5, 0.25}: 64, 256, 384, 512 become 48/192/288/384, 32/128/192/256, 16/64/96/128."""
    if width_mult <= 0:
        raise ValueError(f"width multiplier must be positive, got {width_mult}")
    return max(divisor, int(round(channels * width_mult / divisor)) * divisor)


def block_names() -> list[str]:
    """Names of the OS blocks in network order: ``conv2.0``, ``conv2.1``, ..., ``conv4.1``."""
    return [f"{stage}.{i}" for stage, _, n, _ in STAGES for i in range(n)]


@dataclass(frozen=True)
class Genotype:
    """Where a network uses instance normalisation: the OSNet-AIN column of Table 1.

    ``conv1_in`` replaces the stem's BatchNorm by an InstanceNorm; ``blocks`` holds one candidate
    of Fig. 5 per OS block (``"none"``, ``"in"``, ``"out"`` or ``"in_out"``), in the order of
    :func:`block_names`. The search of Sec. 3.3 outputs one of these.
    """

    blocks: tuple[str, ...] = ("none",) * 6
    conv1_in: bool = False

    def __post_init__(self) -> None:
        blocks = tuple(self.blocks)
        object.__setattr__(self, "blocks", blocks)
        expected = len(block_names())
        if len(blocks) != expected:
            raise ValueError(f"a genotype needs {expected} block choices, got {len(blocks)}")
        for i, choice in enumerate(blocks):
            if choice not in IN_CANDIDATES:
                raise ValueError(
                    f"block {block_names()[i]}: {choice!r} is not an IN candidate; "
                    f"expected one of {IN_CANDIDATES}"
                )
        if not isinstance(self.conv1_in, bool):
            raise TypeError(f"conv1_in must be a bool, got {self.conv1_in!r}")

    _LABELS = {"none": "OS block", "in": "OS+IN_in block", "out": "OS+IN_out block",
               "in_out": "OS+IN_in-out block"}

    def table(self) -> str:
        """The genotype printed as a column of Table 1."""
        rows = [("conv1", "7x7 conv (IN)" if self.conv1_in else "7x7 conv")]
        rows += [(name, self._LABELS[c]) for name, c in zip(block_names(), self.blocks)]
        return "\n".join(f"{name:<8} {label}" for name, label in rows)

    def to_dict(self) -> dict[str, Any]:
        return {"conv1_in": self.conv1_in, "blocks": list(self.blocks)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Genotype":
        unknown = set(data) - {"conv1_in", "blocks"}
        if unknown or "blocks" not in data:
            raise ValueError(f"not a genotype: expected keys conv1_in, blocks; got {sorted(data)}")
        return cls(blocks=tuple(data["blocks"]), conv1_in=bool(data.get("conv1_in", False)))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Genotype":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"genotype file not found: {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None
        return cls.from_dict(data)


#: Plain OSNet: no instance normalisation.
OSNET = Genotype()
#: OSNet-IBN (Sec. 4.2): IN in the lowest layers, conv1 and conv2, after the residual addition.
OSNET_IBN = Genotype(blocks=("out", "out", "none", "none", "none", "none"), conv1_in=True)
#: OSNet-AIN as found by the search (Table 1, right column).
OSNET_AIN = Genotype(blocks=("in", "in", "none", "in", "in", "none"), conv1_in=True)


class OSNetOutput(NamedTuple):
    """Everything one forward pass computes; ``logits`` is None without a classifier."""

    featuremaps: torch.Tensor  # (N, C, H/16, W/16), the conv5 maps (Fig. 7)
    embedding: torch.Tensor  # (N, feature_dim), the fc features used for matching
    logits: torch.Tensor | None  # (N, num_classes), identity scores for training


def embedding_head(in_channels: int, feature_dim: int = FEATURE_DIM) -> nn.Sequential:
    """The fc layer after global pooling (Table 1, "fc"): Linear ``in_channels -> feature_dim``,
    BatchNorm and ReLU; its output is the embedding matched by cosine distance (Sec. 4.1)."""
    return nn.Sequential(
        nn.Linear(in_channels, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True)
    )


class ReIDModel(nn.Module):
    """What every network of the book offers for re-ID: a trunk, then global average pooling
    and the fc embedding (Sec. 4.1: 512-d, BatchNorm and ReLU), then the identity classifier.

    A subclass builds ``global_avgpool``, ``fc``, ``feature_dim`` and the classifier
    (:meth:`reset_classifier`) and defines ``_trunk``: images ``(N, 3, H, W)`` to the last
    feature maps, in the current mode and with autograd. The forward API below is then shared
    by OSNet (:class:`OSNet`) and the torchvision baselines of Table 3
    (:mod:`osnet_lib.backbones`); see :class:`OSNet` for its inference-mode contract.
    """

    feature_dim: int
    num_classes: int
    fc: nn.Module
    global_avgpool: nn.Module
    classifier: nn.Linear | None

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} defines no trunk")

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the identity classifier (a new training set has other identities)."""
        num_classes = check_int("num_classes", num_classes, low=0)
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.feature_dim, num_classes) if num_classes else None
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, 0, 0.01)
            nn.init.zeros_(self.classifier.bias)

    # -- forward API --------------------------------------------------------------------------
    @staticmethod
    def check_input(x: torch.Tensor, stride: int = OUTPUT_STRIDE) -> None:
        """Raise a ValueError naming the problem unless x is an (N, 3, H, W) float batch with
        sides of at least ``stride`` pixels (the network's down-sampling)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"expected a batch of RGB images of shape (N, 3, H, W), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"expected a floating-point image batch, got dtype {x.dtype}")
        if x.shape[2] < stride or x.shape[3] < stride:
            raise ValueError(
                f"images must be at least {stride}x{stride} pixels "
                f"(the network down-samples by {stride}), got {x.shape[2]}x{x.shape[3]}"
            )

    def _head(self, featuremaps: torch.Tensor) -> torch.Tensor:
        """Global average pooling and the fc layer in the current mode (the training path)."""
        return self.fc(self.global_avgpool(featuremaps).flatten(1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature maps ``(N, C, h, w)``: for OSNet conv5 of Table 1,
        ``(N, C, H/16, W/16)``.

        An extraction entry point: runs in eval mode without autograd (see the class note)."""
        with eval_mode(self):
            return self._trunk(x)

    def forward_head(self, featuremaps: torch.Tensor) -> torch.Tensor:
        """Global average pooling and the fc layer: the ``(N, feature_dim)`` embedding of
        ``(N, C, h, w)`` feature maps. An extraction entry point (eval mode, no autograd)."""
        with eval_mode(self):
            return self._head(featuremaps)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The fc embedding used for matching (cosine distance, Sec. 4.1): ``(N, feature_dim)``.

        An extraction entry point: runs in eval mode without autograd, so an image's
        embedding does not depend on the rest of the batch, a batch of one works, and no
        BatchNorm statistic changes; the model's mode is restored afterwards."""
        with eval_mode(self):
            return self._head(self._trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity logits ``(N, num_classes)``, in training and in evaluation mode alike.

        The training path: it follows the model's mode (batch statistics in training mode) and
        keeps autograd."""
        if self.classifier is None:
            raise RuntimeError(
                "this model has no classifier (num_classes=0): use embed() for features, "
                "or reset_classifier(n) before training"
            )
        return self.classifier(self._head(self._trunk(x)))

    def forward_all(self, x: torch.Tensor) -> OSNetOutput:
        """Feature maps, embedding and logits (None without a classifier) from one pass.

        An extraction entry point (eval mode, no autograd): the logits are the evaluation-mode
        ones."""
        with eval_mode(self):
            maps = self._trunk(x)
            emb = self._head(maps)
            logits = self.classifier(emb) if self.classifier is not None else None
        return OSNetOutput(maps, emb, logits)


class OSNet(ReIDModel):
    """Omni-scale network (Table 1).

    Args:
        num_classes: identities of the training set, for the classifier; 0 builds no classifier.
        width_mult: the width multiplier beta, applied to every layer but the fc (Sec. 3.4).
        block_options: the design of every OS block (Table 5 ablations).
        genotype: instance-normalisation choices (Fig. 5, Table 1's OSNet-AIN column).
        feature_dim: width of the fc embedding (512).
        block: the block class, called as ``block(in_channels, out_channels, block_options,
            instance_norm)``; the search's supernet passes its mixed block here.

    The forward API never depends on ``self.training``: :meth:`forward` returns logits,
    :meth:`embed` the embedding, :meth:`forward_features` the last feature maps,
    :meth:`forward_all` all three, and :meth:`gate_vectors` the aggregation gates.
    Input: ``(N, 3, H, W)`` float images, any H, W >= 16 (256x128 in the paper).

    Note (inference mode):
        :meth:`forward` is the training path: it follows the model's mode (BatchNorm uses the
        batch's statistics in training mode) and keeps autograd. Every *extraction* entry
        point (:meth:`embed`, :meth:`forward_features`, :meth:`forward_head`,
        :meth:`forward_all`, :meth:`gate_vectors`) runs in eval mode without autograd
        (:func:`osnet_lib.utils.eval_mode`) and restores the previous mode of every module:
        what it returns for an image never depends on the rest of the batch, a batch of one
        works, and no running statistic changes. So ``build_model(...).embed(x)`` needs no
        ``.eval()``; features for matching are the same whether the model is training or not.
    """

    def __init__(
        self,
        num_classes: int,
        width_mult: float = 1.0,
        block_options: BlockOptions | None = None,
        genotype: Genotype = OSNET,
        feature_dim: int = FEATURE_DIM,
        block: Callable[..., nn.Module] = OSBlock,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, low=0)
        check_positive_int("feature_dim", feature_dim)
        block_options = block_options or BlockOptions()
        self.width_mult = width_mult
        self.block_options = block_options
        self.genotype = genotype
        self.feature_dim = feature_dim

        stem = scale_width(STEM_CHANNELS, width_mult)
        self.conv1 = ConvNormAct(3, stem, 7, stride=2, padding=3,
                                 norm="in" if genotype.conv1_in else "bn")
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        choices = iter(genotype.blocks)
        in_channels = stem
        for stage, channels, num_blocks, transition in STAGES:
            out_channels = scale_width(channels, width_mult)
            blocks = []
            for i in range(num_blocks):
                blocks.append(block(in_channels if i == 0 else out_channels, out_channels,
                                    block_options, next(choices)))
            self.add_module(stage, nn.Sequential(*blocks))
            if transition:
                self.add_module(
                    "transition" + stage[-1],
                    nn.Sequential(OrderedDict(conv=ConvNormAct(out_channels, out_channels, 1),
                                       pool=nn.AvgPool2d(2, stride=2))),
                )
            in_channels = out_channels
        self.conv5 = ConvNormAct(in_channels, in_channels, 1)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = embedding_head(in_channels, feature_dim)
        self.classifier: nn.Linear | None = None
        self.reset_classifier(num_classes)
        self._init_params()

    # -- construction -----------------------------------------------------------------------
    def _init_params(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)):
                if m.weight is not None:
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    # -- forward --------------------------------------------------------------------------------
    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The conv1..conv5 trunk (Table 1) in the current mode, with autograd (training)."""
        self.check_input(x)
        x = self.maxpool(self.conv1(x))
        for stage, _, _, transition in STAGES:  # Table 1, row by row
            x = getattr(self, stage)(x)
            if transition:
                x = getattr(self, "transition" + stage[-1])(x)
        return self.conv5(x)

    # -- introspection -------------------------------------------------------------------------
    def os_blocks(self) -> dict[str, nn.Module]:
        """The OS blocks by name (``conv2.0`` ... ``conv4.1``)."""
        return {name: self.get_submodule(name) for name in block_names()}

    def gate_vectors(
        self, x: torch.Tensor, blocks: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Aggregation-gate outputs ``G(x^t)`` (Eq. 3) for each named block (all by default).

        Returns ``{name: (N, T, G)}`` with ``G`` the number of gates per stream (the block's
        mid width for channel-wise gates, 1 for stream-wise ones). Fig. 6 concatenates the four
        streams' vectors of the last block (``conv4.1``). An extraction entry point: one forward
        pass in eval mode without autograd, the gates read by forward hooks on each block's
        gate modules (one call per stream, in stream order, whether the streams share one gate
        or not); the model's mode is restored. Taught in chapter 4.

        Raises:
            ValueError: an unknown block name, or a block without gates (concat or add fusion).
        """
        available = self.os_blocks()
        names = list(available) if blocks is None else list(blocks)
        for name in names:
            if name not in available:
                raise ValueError(f"unknown block {name!r}; expected one of {list(available)}")
            if getattr(available[name], "gates", None) is None:
                raise ValueError(
                    f"block {name!r} has no gates (fusion={self.block_options.fusion!r})"
                )
        calls: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        handles = []

        def record(name: str) -> Any:
            def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
                calls[name].append(output.flatten(1))
            return hook

        try:
            for name in names:
                block: Any = available[name]
                for gate in block.gates:
                    handles.append(gate.register_forward_hook(record(name)))
            with eval_mode(self):
                self._head(self._trunk(x))
        finally:
            for handle in handles:
                handle.remove()
        return {name: torch.stack(calls[name], dim=1) for name in names}


# -- registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its builder and metadata (re-measured by the tests)."""

    name: str
    width_mult: float
    genotype: Genotype
    description: str
    params: int  # without the classifier
    mult_adds: int  # at 256x128


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


#: The widths of Table 6 as they appear in a model name, with their multiplier beta.
WIDTHS: dict[str, float] = {"x1_0": 1.0, "x0_75": 0.75, "x0_5": 0.5, "x0_25": 0.25}
_FAMILIES = {
    "osnet": (OSNET, "OSNet (Table 1, left column)"),
    "osnet_ibn": (OSNET_IBN, "OSNet-IBN: IN in conv1 and conv2 (Sec. 4.2)"),
    "osnet_ain": (OSNET_AIN, "OSNet-AIN: IN where the search put it (Table 1, right column)"),
}
#: The model families: where a network uses instance normalisation (its genotype).
FAMILIES: tuple[str, ...] = tuple(_FAMILIES)
# Parameters (without classifier) and Mult-Adds at 256x128, as measured by
# osnet_lib.complexity; tests/test_complexity.py re-measures every entry.
_MEASURED: dict[str, tuple[int, int]] = {
    "osnet_x1_0": (2169508, 978875392),
    "osnet_x0_75": (1285754, 571752192),
    "osnet_x0_5": (630034, 272899328),
    "osnet_x0_25": (201864, 82314880),
    "osnet_ain_x1_0": (2169508, 978875392),
    "osnet_ain_x0_75": (1285754, 571752192),
    "osnet_ain_x0_5": (630034, 272899328),
    "osnet_ain_x0_25": (201864, 82314880),
    "osnet_ibn_x1_0": (2170532, 978875392),
    "osnet_ibn_x0_75": (1286522, 571752192),
    "osnet_ibn_x0_5": (630546, 272899328),
    "osnet_ibn_x0_25": (202120, 82314880),
}


def _unknown(what: str, value: Any, valid: Sequence[str]) -> ValueError:
    """The error for an unknown name: the close matches, then every valid name."""
    close = difflib.get_close_matches(str(value), valid, n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown {what} {value!r}.{hint} Valid names: {', '.join(valid)}")


@dataclass(frozen=True)
class ModelName:
    """A registered model name split into its parts: ``family`` (``"osnet"``, ``"osnet_ibn"``
    or ``"osnet_ain"``), ``width`` (``"x0_25"``) and ``width_mult`` (beta, 0.25).
    :func:`parse_model_name` makes one; :attr:`name` joins it back."""

    family: str
    width: str
    width_mult: float

    @property
    def name(self) -> str:
        return f"{self.family}_{self.width}"

    def __str__(self) -> str:
        return self.name


def model_name(family: str, width: str | float) -> str:
    """The registered name of ``family`` at ``width``, given as in a name (``"x0_25"``) or as
    the multiplier beta (``0.25``): ``model_name("osnet_ain", "x0_25") == "osnet_ain_x0_25"``.

    Raises:
        ValueError: an unknown family or width, with the close matches and the valid ones.
    """
    if family not in _FAMILIES:
        raise _unknown("model family", family, FAMILIES)
    if isinstance(width, str):
        if width not in WIDTHS:
            raise _unknown("model width", width, list(WIDTHS))
    else:
        by_mult = {beta: w for w, beta in WIDTHS.items()}
        if isinstance(width, bool) or width not in by_mult:
            raise ValueError(f"unknown width multiplier {width!r}; registered models have "
                             f"{sorted(by_mult)} (names {list(WIDTHS)})")
        width = by_mult[width]
    return f"{family}_{width}"


def parse_model_name(name: str) -> ModelName:
    """Split a registered model name into family and width:
    ``parse_model_name("osnet_ain_x0_25") == ModelName("osnet_ain", "x0_25", 0.25)``.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: an unknown name, with the close matches and the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"a model name is a string such as 'osnet_x1_0', got {name!r}")
    if name not in _NAMES:
        raise _unknown("model", name, list_models())
    return _NAMES[name]


_NAMES: dict[str, ModelName] = {}
for _family, (_genotype, _desc) in _FAMILIES.items():
    for _width, _beta in WIDTHS.items():
        _parsed = ModelName(_family, _width, _beta)
        _NAMES[_parsed.name] = _parsed
        register_model(ModelSpec(_parsed.name, _beta, _genotype, f"{_desc}, width x{_beta}",
                                 *_MEASURED[_parsed.name]))

_MODEL_OPTIONS = frozenset(BlockOptions.field_names()) | {"genotype", "feature_dim"}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry of a model name; an unknown name raises a ValueError naming the valid
    ones."""
    if name not in _REGISTRY:
        raise _unknown("model", name, list_models())
    return _REGISTRY[name]


def check_model_name(name: str) -> str:
    """``name`` if it is a model :func:`build_model` builds: a registered OSNet
    (:func:`list_models`) or a torchvision baseline family of Table 3
    (:data:`osnet_lib.backbones.BACKBONES`); a ValueError naming the valid ones otherwise."""
    from osnet_lib.backbones import BACKBONES  # the baselines build on this module

    if isinstance(name, str) and name in BACKBONES:
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise _unknown("model", name, list_models() + list(BACKBONES))
    return name


#: The names of Table 3's torchvision baselines (:data:`osnet_lib.backbones.BACKBONES`).
BaselineName = Literal["mobilenet_v2", "shufflenet_v2", "resnet18"]


@overload
def build_model(name: BaselineName, num_classes: int = 0,  # type: ignore[overload-overlap]
                **options: Any) -> "TorchvisionReID": ...
@overload
def build_model(name: str, num_classes: int = 0, **options: Any) -> OSNet: ...
def build_model(name: str, num_classes: int = 0, **options: Any) -> ReIDModel:
    """Build a registered model by name.

    Args:
        name: one of :func:`list_models`, e.g. ``"osnet_x1_0"`` or ``"osnet_ain_x0_25"``, or a
            torchvision baseline of Table 3 (``"mobilenet_v2"``, ``"shufflenet_v2"``,
            ``"resnet18"``: :func:`osnet_lib.backbones.build_backbone`, options ``width_mult``
            and ``feature_dim``).
        num_classes: training identities for the classifier; 0 (default) builds none.
        **options: fields of :class:`~osnet_lib.blocks.BlockOptions` (``T``, ``conv``,
            ``same_depth``, ``fusion``, ``gate_sharing``, ``gate_granularity``, ...),
            ``genotype`` (a :class:`Genotype`, a dict, or a sequence of six IN candidates that
            keeps the name's conv1 choice) and ``feature_dim``.

    Building never downloads anything; load published weights with
    :func:`osnet_lib.weights.load_pretrained`.
    """
    from osnet_lib.backbones import BACKBONES, build_backbone

    if isinstance(name, str) and name in BACKBONES:
        return build_backbone(name, num_classes, **options)
    spec = get_model_spec(name)
    unknown = sorted(set(options) - _MODEL_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown option(s) {unknown} for {name!r}; valid options: {sorted(_MODEL_OPTIONS)}"
        )
    genotype = options.pop("genotype", spec.genotype)
    if isinstance(genotype, dict):
        genotype = Genotype.from_dict(genotype)
    elif not isinstance(genotype, Genotype):
        genotype = Genotype(blocks=tuple(genotype), conv1_in=spec.genotype.conv1_in)
    feature_dim = options.pop("feature_dim", FEATURE_DIM)
    block_options = BlockOptions(**options)
    return OSNet(num_classes, spec.width_mult, block_options, genotype, feature_dim)


__all__ = [
    "FAMILIES", "FEATURE_DIM", "Genotype", "ModelName", "ModelSpec", "OSNET", "OSNET_AIN",
    "OSNET_IBN", "OSNet", "OSNetOutput", "ReIDModel", "STAGES", "WIDTHS", "block_names",
    "build_model", "check_model_name", "embedding_head", "get_model_spec", "list_models",
    "model_name", "parse_model_name", "scale_width",
]
