"""Measurements behind the book's foundation chapters (2-5), and their plotting helpers.

Each function measures a claim of Sec. 3 of the paper instead of asserting it:

- Sec. 3.1 cost formulas (:func:`standard_conv_cost`, :func:`separable_conv_cost`) and an
  independent per-layer count (:func:`layer_mult_adds`, :func:`analytic_mult_adds`); what the two
  orders of a Lite 3x3 layer compute (:func:`equivalent_kernel`). Taught in chapter 2.
- The receptive field of a stream, a block or a network, measured from gradients
  (:func:`gradient_receptive_field`), next to the textbook formula
  (:func:`chain_receptive_field`). Taught in chapter 3.
- The aggregation gate of Eq. 3 computed by hand (:func:`manual_gate`, :func:`stream_outputs`)
  and statistics of gate vectors over images (:func:`gate_statistics`). Taught in chapter 4.
- Table 1 stage by stage (:func:`stage_shapes`). Taught in chapter 5.

Nothing here builds a model: models come from :mod:`osnet_lib.models`, blocks from
:mod:`osnet_lib.blocks`. Plotting helpers import matplotlib when called.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from osnet_lib.blocks import OSBlock
from osnet_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from osnet_lib.layers import AggregationGate, LiteConv3x3
from osnet_lib.models import STAGES
from osnet_lib.utils import check_positive_int, eval_mode

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from osnet_lib.models import OSNet

__all__ = [
    "LayerCost", "ReceptiveField", "analytic_mult_adds", "chain_receptive_field",
    "equivalent_kernel", "forward_until", "gate_statistics", "gradient_receptive_field",
    "kernel_params", "layer_mult_adds", "manual_gate", "plot_equivalent_kernels",
    "plot_gate_vectors", "plot_images", "plot_receptive_fields", "procedural_images",
    "separable_conv_cost", "stage_shapes", "standard_conv_cost", "stream_outputs",
]




# -- Sec. 3.1: cost formulas ------------------------------------------------------------------
@dataclass(frozen=True)
class LayerCost:
    """Multiply-adds and kernel weights of one layer (Sec. 3.1 counts no bias or norm)."""

    mult_adds: int
    params: int


def standard_conv_cost(h: int, w: int, k: int, c: int, c_out: int) -> LayerCost:
    """A standard k x k convolution from c to c_out channels on an h x w map (stride 1, same
    padding): ``h*w*k^2*c*c_out`` Mult-Adds and ``k^2*c*c_out`` weights (Sec. 3.1)."""
    h, w, k, c, c_out = (check_positive_int(n, v) for n, v in
                         (("h", h), ("w", w), ("k", k), ("c", c), ("c_out", c_out)))
    return LayerCost(h * w * k * k * c * c_out, k * k * c * c_out)


def separable_conv_cost(h: int, w: int, k: int, c: int, c_out: int,
                        order: str = "pw_dw") -> LayerCost:
    """A depthwise separable convolution (Sec. 3.1).

    ``order="pw_dw"`` (Lite 3x3: pointwise c->c_out, then depthwise k x k on c_out channels)
    costs ``h*w*(k^2 + c)*c_out`` Mult-Adds and ``(k^2 + c)*c_out`` weights: the paper's formula.
    ``order="dw_pw"`` (MobileNet: depthwise on c channels, then pointwise) costs
    ``h*w*(k^2 + c_out)*c`` and ``(k^2 + c_out)*c``. The two agree when ``c == c_out``.
    """
    h, w, k, c, c_out = (check_positive_int(n, v) for n, v in
                         (("h", h), ("w", w), ("k", k), ("c", c), ("c_out", c_out)))
    if order == "pw_dw":
        return LayerCost(h * w * (k * k + c) * c_out, (k * k + c) * c_out)
    if order == "dw_pw":
        return LayerCost(h * w * (k * k + c_out) * c, (k * k + c_out) * c)
    raise ValueError(f"unknown order {order!r}; expected 'pw_dw' or 'dw_pw'")


def kernel_params(module: nn.Module) -> int:
    """Weights and biases of the convolution and linear layers in ``module`` (what the Sec. 3.1
    formulas count); normalisation parameters are left out."""
    return sum(p.numel() for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
               for p in m.parameters(recurse=False))


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters(), torch.empty(0)).device


def _check_chw(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError(f"input_shape must be (channels, height, width), got {shape}")
    return shape  # type: ignore[return-value]


def layer_mult_adds(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Mult-Adds of ``module`` on one input of ``input_shape`` (channels, height, width).

    Counted like :func:`osnet_lib.complexity.count_mult_adds` (FlopCounterMode over
    convolutions and linear layers, divided by 2), for any layer or block rather than a whole
    RGB network. Runs in eval mode and restores the module's mode.
    """
    c, h, w = _check_chw(input_shape)
    counter = FlopCounterMode(display=False)
    with eval_mode(module), counter:
        module(torch.zeros(1, c, h, w, device=_device(module)))
    return counter.get_total_flops() // 2


def analytic_mult_adds(module: nn.Module, input_shape: Sequence[int],
                       forward: Callable[[torch.Tensor], Any] | None = None) -> int:
    """Mult-Adds from the Sec. 3.1 formula applied to every layer, without a FLOP counter.

    Every ``nn.Conv2d`` contributes ``h_out*w_out*k_h*k_w*(c_in/groups)*c_out`` and every
    ``nn.Linear`` ``in*out``, with the output sizes read by forward hooks during one pass of a
    ``(1, *input_shape)`` zero tensor through ``forward`` (``module`` itself by default; pass
    ``model.embed`` to count a network up to its embedding as the paper does).
    """
    c, h, w = _check_chw(input_shape)
    total = 0

    def conv_hook(m: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out.shape[2] * out.shape[3] * kh * kw * (m.in_channels // m.groups) \
            * m.out_channels

    def linear_hook(m: nn.Linear, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        with eval_mode(module):
            (forward or module)(torch.zeros(1, c, h, w, device=_device(module)))
    finally:
        for handle in handles:
            handle.remove()
    return total


def equivalent_kernel(layer: LiteConv3x3) -> torch.Tensor:
    """The standard convolution kernel ``(c_out, c_in, 3, 3)`` that a Lite 3x3 layer's two
    linear convolutions compose to (before its BatchNorm and ReLU; footnote 3).

    Pointwise then depthwise (``pw_dw``): ``W[o, i] = v[o, i] * u[o]``, one spatial filter per
    *output* channel applied to a mix of the inputs. Depthwise then pointwise (``dw_pw``):
    ``W[o, i] = v[o, i] * u[i]``, one spatial filter per *input* channel, mixed afterwards.
    """
    if not isinstance(layer, LiteConv3x3):
        raise TypeError(f"expected a LiteConv3x3 layer, got {type(layer).__name__}")
    v = layer.pointwise.weight.detach()[:, :, 0, 0]  # (c_out, c_in)
    u = layer.depthwise.weight.detach()[:, 0]  # (c_out or c_in, 3, 3)
    if layer.order == "pw_dw":
        return v[:, :, None, None] * u[:, None]
    return v[:, :, None, None] * u[None, :]


# -- Sec. 3.2: receptive fields -----------------------------------------------------------------
def chain_receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field of a chain of layers given as ``(kernel, stride)`` pairs: each layer adds
    ``(kernel - 1) * jump`` where ``jump`` is the product of the strides before it. A stack of t
    stride-1 3x3 layers gives ``2t + 1`` (Sec. 3.2)."""
    rf, jump = 1, 1
    for i, pair in enumerate(layers):
        if len(pair) != 2:
            raise ValueError(f"layer {i}: expected (kernel, stride), got {pair!r}")
        k, s = (check_positive_int(f"layer {i} kernel", pair[0]),
                check_positive_int(f"layer {i} stride", pair[1]))
        rf += (k - 1) * jump
        jump *= s
    return rf


@dataclass
class ReceptiveField:
    """A receptive field measured from gradients.

    ``height`` and ``width`` span the input pixels whose gradient is non-zero; ``gradient`` is
    the ``(H, W)`` map of summed absolute gradients (the *effective* receptive field);
    ``clipped`` is True when the field reaches the border of the input, so the true field may be
    larger than measured.
    """

    height: int
    width: int
    gradient: np.ndarray
    clipped: bool

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    def border_share(self) -> tuple[float, float]:
        """The outermost ring of the measured field: its share of the field's pixels and its
        share of the gradient. A gradient that falls off towards the rim (the effective
        receptive field of Luo et al., 2016) gives the ring less gradient than pixels."""
        rows, cols = np.nonzero(self.gradient)
        if rows.size == 0:
            raise ValueError("the gradient map is empty")
        box = self.gradient[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        inner = box[1:-1, 1:-1]
        pixels = 1 - inner.size / box.size
        return float(pixels), float(1 - inner.sum() / box.sum())

    def mass_radius(self, fraction: float = 0.9) -> float:
        """Radius (in pixels, Chebyshev distance from the centre of the field) of the smallest
        square around the centre that holds ``fraction`` of the gradient magnitude: a measure of
        the effective receptive field, which is often much smaller than the theoretical one."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        g = self.gradient
        rows, cols = np.nonzero(g)
        if rows.size == 0:
            return 0.0
        cy, cx = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
        yy, xx = np.indices(g.shape)
        dist = np.maximum(np.abs(yy - cy), np.abs(xx - cx)).ravel()
        order = np.argsort(dist, kind="stable")
        cum = np.cumsum(g.ravel()[order])
        idx = int(np.searchsorted(cum, fraction * cum[-1]))
        return float(dist[order][min(idx, len(order) - 1)])


def gradient_receptive_field(
    fn: Callable[[torch.Tensor], torch.Tensor],
    input_shape: Sequence[int],
    batch: int = 4,
    seed: int = 0,
    position: tuple[int, int] | None = None,
    dtype: torch.dtype = torch.float32,
) -> ReceptiveField:
    """Measure the receptive field of the output unit at ``position`` (the centre of the output
    map by default) from the gradient of that unit with respect to the input.

    A batch of ``batch`` random inputs of ``input_shape`` (channels, height, width) is passed
    through ``fn`` (which must return ``(N, C, H', W')``); the output at ``position``, summed over
    channels and batch, is back-propagated; the input pixels with a non-zero gradient in any image
    form the receptive field. Several random inputs make a pixel that a ReLU or a max-pool switched
    off in one image count when it matters in another. Run ``fn``'s module in eval mode, with
    parameters of ``dtype``.
    """
    c, h, w = _check_chw(input_shape)
    batch = check_positive_int("batch", batch)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c, h, w, generator=g, dtype=dtype).requires_grad_(True)
    out = fn(x)
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"fn must return an (N, C, H, W) tensor, got {shape}")
    oh, ow = out.shape[2], out.shape[3]
    py, px = position if position is not None else (oh // 2, ow // 2)
    if not (0 <= py < oh and 0 <= px < ow):
        raise ValueError(f"position {(py, px)} is outside the {oh}x{ow} output map")
    out[:, :, py, px].sum().backward()
    if x.grad is None:
        raise ValueError("fn must be differentiable with respect to its input (no gradient "
                         "reached it)")
    grad = x.grad.abs().sum(dim=(0, 1)).numpy()
    rows, cols = np.nonzero(grad)
    if rows.size == 0:
        raise ValueError("the output does not depend on the input (all gradients are zero)")
    clipped = bool(rows.min() == 0 or cols.min() == 0 or rows.max() == h - 1
                   or cols.max() == w - 1)
    return ReceptiveField(int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1),
                          grad, clipped)


# -- Sec. 3.2, Eq. 3: the aggregation gate by hand -------------------------------------------
def stream_outputs(block: OSBlock, x: torch.Tensor) -> list[torch.Tensor]:
    """The stream outputs ``x^t = F^t(conv1(x))``, t = 1..T, of an OS block (Eq. 3), as the
    block computes them (:meth:`osnet_lib.blocks.OSBlock.stream_outputs`)."""
    if not isinstance(block, OSBlock):
        raise TypeError(f"expected an OSBlock, got {type(block).__name__}")
    return block.stream_outputs(x)


def manual_gate(gate: AggregationGate, x: torch.Tensor) -> torch.Tensor:
    """``G(x)`` of Eq. 3 written out with tensor algebra from the gate's weights: global average
    pooling, ``W2 ReLU(W1 p + b1) + b2``, sigmoid. Returns ``(N, num_gates)``."""
    if not isinstance(gate, AggregationGate):
        raise TypeError(f"expected an AggregationGate, got {type(gate).__name__}")
    if x.dim() != 4:
        raise ValueError(f"expected an (N, C, H, W) tensor, got {tuple(x.shape)}")
    p = x.mean(dim=(2, 3))  # (N, C)
    w1, b1 = gate.fc1.weight[:, :, 0, 0], gate.fc1.bias
    w2, b2 = gate.fc2.weight[:, :, 0, 0], gate.fc2.bias
    hidden = torch.clamp(p @ w1.T + _bias(b1), min=0)
    return torch.sigmoid(hidden @ w2.T + _bias(b2))


def _bias(b: torch.Tensor | None) -> torch.Tensor | float:
    return 0.0 if b is None else b


def gate_statistics(gates: torch.Tensor) -> dict[str, Any]:
    """Summarise gate vectors ``(N images, T streams, G gates)`` as returned by
    :meth:`osnet_lib.models.OSNet.gate_vectors` for one block.

    Returns ``stream_mean`` (mean gate of each stream), ``across_image_std`` (standard
    deviation over images, averaged over streams and gates: zero for static gates),
    ``dominant_stream_share`` (for each stream, the share of (image, gate) pairs where it has the
    largest weight) and ``varying_dominant`` (the share of gates whose dominant stream is not
    the same for every image).
    """
    if not isinstance(gates, torch.Tensor) or gates.dim() != 3:
        shape = tuple(gates.shape) if isinstance(gates, torch.Tensor) else type(gates).__name__
        raise ValueError(f"expected gates of shape (N, T, G), got {shape}")
    g = gates.detach().double()
    n, t, _ = g.shape
    dominant = g.argmax(dim=1)  # (N, G)
    share = torch.stack([(dominant == s).double().mean() for s in range(t)])
    varying = (dominant != dominant[:1]).any(dim=0).double().mean() if n > 1 else torch.zeros(())
    std = g.std(dim=0, unbiased=False).mean() if n > 1 else torch.zeros(())
    return {
        "images": n,
        "streams": t,
        "stream_mean": g.mean(dim=(0, 2)).tolist(),
        "across_image_std": float(std),
        "dominant_stream_share": share.tolist(),
        "varying_dominant": float(varying),
    }


# -- Table 1 -----------------------------------------------------------------------------------
def _trunk() -> tuple[str, ...]:
    """The modules of Table 1's trunk in forward order, read from :data:`osnet_lib.models.STAGES`:
    the stem, each stage of OS blocks and its transition, then conv5."""
    names = ["conv1", "maxpool"]
    for stage, _, _, transition in STAGES:
        names += [stage, "transition" + stage[-1]] if transition else [stage]
    return (*names, "conv5")


#: The trunk of Table 1 in order: the modules :func:`forward_until` runs through.
_TRUNK: tuple[str, ...] = _trunk()


def _stage_modules() -> tuple[tuple[str, str], ...]:
    """Every row of Table 1 that :func:`stage_shapes` reports, as (label, module path): the
    trunk, with each transition's 1x1 convolution and pooling apart, then the head."""
    rows = []
    for name in _TRUNK:
        if name.startswith("transition"):
            rows += [(f"{name} (1x1 conv)", f"{name}.conv"), (f"{name} (avg pool)", f"{name}.pool")]
        else:
            rows.append(("pool" if name == "maxpool" else name, name))
    return (*rows, ("gap", "global_avgpool"), ("fc", "fc"))


_STAGE_MODULES: tuple[tuple[str, str], ...] = _stage_modules()


def stage_shapes(model: "OSNet", input_size: Sequence[int] = (256, 128)
                 ) -> list[tuple[str, tuple[int, int, int]]]:
    """Output shape ``(height, width, channels)`` of every stage of Table 1, read by forward
    hooks during one pass of a ``(1, 3, *input_size)`` batch."""
    if len(input_size) != 2 or min(input_size) < 1:
        raise ValueError(f"input_size must be (height, width), got {tuple(input_size)}")
    shapes: dict[str, tuple[int, int, int]] = {}
    handles = []
    for label, path in _STAGE_MODULES:
        try:
            module = model.get_submodule(path)
        except AttributeError:
            raise ValueError(f"the model has no {path!r} module: not an OSNet of Table 1") from None

        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor, label: str = label) -> None:
            shapes[label] = ((out.shape[2], out.shape[3], out.shape[1]) if out.dim() == 4
                             else (1, 1, out.shape[1]))

        handles.append(module.register_forward_hook(hook))
    try:
        with eval_mode(model):
            model.embed(torch.zeros(1, 3, *input_size, device=_device(model)))
    finally:
        for handle in handles:
            handle.remove()
    return [(label, shapes[label]) for label, _ in _STAGE_MODULES]


def forward_until(model: "OSNet", stage: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function that runs ``model`` from its input up to and including ``stage`` (one of
    ``conv1``, ``maxpool``, ``conv2``, ``transition2``, ``conv3``, ``transition3``, ``conv4``,
    ``conv5``) and returns that stage's feature maps, e.g. to measure their receptive field."""
    if stage not in _TRUNK:
        raise ValueError(f"unknown stage {stage!r}; expected one of {_TRUNK}")
    modules = [model.get_submodule(name) for name in _TRUNK[:_TRUNK.index(stage) + 1]]

    def run(x: torch.Tensor) -> torch.Tensor:
        for module in modules:
            x = module(x)
        return x

    return run


# -- inputs ------------------------------------------------------------------------------------

def _blur(img: np.ndarray, passes: int) -> np.ndarray:
    for _ in range(passes):
        img = (img + np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1)
               + np.roll(img, -1, 1)) / 5
    return img


def procedural_images(n: int, size: Sequence[int] = (256, 128), seed: int = 0,
                      normalise: bool = True) -> torch.Tensor:
    """``n`` procedural scenes ``(n, 3, H, W)``, different in content and scale: a lit
    background, a ground plane, and textured shapes (stripes and checks of random period,
    smooth blobs) of random size, colour and position, slightly blurred, with sensor noise.

    A stand-in for natural images that needs no download. With ``normalise`` the pixels
    (in [0, 1]) are normalised with the ImageNet mean and standard deviation, as the network's
    inputs are.
    """
    n = check_positive_int("n", n)
    if len(size) != 2:
        raise ValueError(f"size must be (height, width), got {tuple(size)}")
    h, w = (check_positive_int("height", size[0]), check_positive_int("width", size[1]))
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    images = np.empty((n, 3, h, w), dtype=np.float32)
    for i in range(n):
        top, bottom = rng.uniform(0.2, 0.9, 3), rng.uniform(0.1, 0.7, 3)
        horizon = rng.uniform(0.4, 0.8) * h
        t = np.clip(yy / max(h - 1, 1), 0, 1)[..., None]
        img = top * (1 - t) + bottom * t
        img = np.where((yy > horizon)[..., None], img * rng.uniform(0.5, 0.9), img)
        for _ in range(rng.integers(3, 7)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.05, 0.35) * h, rng.uniform(0.08, 0.5) * w
            colour, colour2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
            kind = rng.integers(0, 3)
            if kind == 0:  # stripes of a random period and angle
                period, angle = rng.uniform(3, 24), rng.uniform(0, np.pi)
                phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
                pattern = (np.sin(2 * np.pi * phase) > 0)[..., None]
            elif kind == 1:  # checks
                cell = rng.uniform(3, 16)
                pattern = (((yy // cell) + (xx // cell)) % 2 == 0)[..., None]
            else:  # smooth blob
                pattern = np.exp(-((yy - cy) ** 2 / (2 * ry ** 2) + (xx - cx) ** 2
                                   / (2 * rx ** 2)))[..., None] > 0.5
            tex = np.where(pattern, colour, colour2)
            if rng.random() < 0.5:
                mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
            else:
                mask = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
            img = np.where(mask[..., None], tex, img)
        img = _blur(img, int(rng.integers(0, 3)))
        img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
        images[i] = img.transpose(2, 0, 1)
    x = torch.from_numpy(images)
    if normalise:
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x


# -- plotting helpers ---------------------------------------------------------------------------
def plot_images(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8,
                scale: float = 1.2) -> "Figure":
    """A grid of ``(N, 3, H, W)`` images (normalised or in [0, 1]; each is rescaled to
    [0, 1] for display)."""
    import matplotlib.pyplot as plt

    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) images, got {tuple(images.shape)}")
    n = images.shape[0]
    ncols = min(check_positive_int("ncols", ncols), n)
    nrows = -(-n // ncols)
    h, w = images.shape[2:]
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * h / w + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        img = images[i].detach().float()
        img = (img - img.min()) / (img.max() - img.min()).clamp_min(1e-8)
        axes.flat[i].imshow(img.permute(1, 2, 0).numpy())
        if titles is not None:
            axes.flat[i].set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_equivalent_kernels(layers: dict[str, LiteConv3x3]) -> "Figure":
    """For each named Lite 3x3 layer, its :func:`equivalent_kernel` as a grid of 3x3 tiles:
    one row per output channel, one column per input channel (each row scaled to its largest
    magnitude, so that the shape of the filters, not their size, shows)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(layers), figsize=(3.6 * len(layers), 3.4), squeeze=False)
    for ax, (title, layer) in zip(axes.flat, layers.items()):
        W = equivalent_kernel(layer).numpy()
        c_out, c_in = W.shape[:2]
        W = W / np.abs(W).reshape(c_out, -1).max(axis=1)[:, None, None, None].clip(1e-12)
        mosaic = np.full((c_out * 4 - 1, c_in * 4 - 1), np.nan)
        for o in range(c_out):
            for i in range(c_in):
                mosaic[o * 4:o * 4 + 3, i * 4:i * 4 + 3] = W[o, i]
        ax.imshow(mosaic, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"input channel i (c = {c_in})")
        ax.set_ylabel(f"output channel o (c' = {c_out})")
        ax.set_xticks([i * 4 + 1 for i in range(c_in)], [str(i) for i in range(c_in)])
        ax.set_yticks([o * 4 + 1 for o in range(c_out)], [str(o) for o in range(c_out)])
    fig.tight_layout()
    return fig


def plot_receptive_fields(fields: Sequence[ReceptiveField], titles: Sequence[str],
                          crop: int | None = None) -> "Figure":
    """Gradient maps of measured receptive fields side by side, each with its measured extent
    drawn as a rectangle; ``crop`` shows only the central ``crop x crop`` pixels."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if len(fields) != len(titles):
        raise ValueError(f"got {len(fields)} fields but {len(titles)} titles")
    fig, axes = plt.subplots(1, len(fields), figsize=(2.3 * len(fields), 2.6), squeeze=False)
    for ax, field, title in zip(axes.flat, fields, titles):
        g = field.gradient
        rows, cols = np.nonzero(g)
        cy, cx = (rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2
        y0 = x0 = 0
        if crop is not None:
            y0, x0 = max(cy - crop // 2, 0), max(cx - crop // 2, 0)
            g = g[y0:y0 + crop, x0:x0 + crop]
        ax.imshow(g / g.max(), cmap="magma")
        ax.add_patch(Rectangle((cols.min() - x0 - 0.5, rows.min() - y0 - 0.5), field.width,
                               field.height, fill=False, edgecolor="cyan", linewidth=1))
        ax.set_title(f"{title}\n{field.height}x{field.width}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_gate_vectors(gates: dict[str, torch.Tensor], max_gates: int = 32,
                      centre: bool = False) -> "Figure":
    """Heat maps of gate vectors, one panel per entry of ``gates`` (``(N, T, G)`` each), panels
    stacked so that the figure fits a book's column: rows are images, columns are the first
    ``max_gates`` gates of each stream, streams side by side. With ``centre`` each gate's mean
    over the images is subtracted, so that the panel shows how the gate changes from image to
    image, on a symmetric colour scale of its own; a panel whose gates do not change at all says
    so instead of stretching a colour scale over nothing."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(gates), 1, figsize=(6.4, 2.4 * len(gates)), squeeze=False)
    for ax, (title, g) in zip(axes.flat, gates.items()):
        if g.dim() != 3:
            raise ValueError(f"{title}: expected gates of shape (N, T, G), got {tuple(g.shape)}")
        n, t, k = g.shape
        k = min(k, max_gates)
        data = g[:, :, :k].reshape(n, t * k).detach().double().numpy()
        if centre:
            data = data - data.mean(axis=0, keepdims=True)
            limit = float(np.abs(data).max())
            im = ax.imshow(data, aspect="auto", cmap="RdBu_r", vmin=-(limit or 1.0),
                           vmax=limit or 1.0, interpolation="nearest")
            if limit == 0.0:
                ax.text(0.5, 0.5, "the same for every image", transform=ax.transAxes,
                        ha="center", va="center")
        else:
            im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                           interpolation="nearest")
        for s in range(1, t):
            ax.axvline(s * k - 0.5, color="white", linewidth=1)
        ax.set_xticks([s * k + k / 2 - 0.5 for s in range(t)], [f"t={s + 1}" for s in range(t)])
        ax.set_ylabel("image")
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig
