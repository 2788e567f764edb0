"""Deployment: BatchNorm folding, fast CPU feature extraction and ONNX export.

What is deployed is the 512-d fc embedding that re-ID matches with the cosine distance
(Sec. 4.1), i.e. :meth:`osnet_lib.models.OSNet.embed`. The paper argues that OSNet suits
"efficient deployment in resource-constrained devices" (Sec. 4.1, Table 6); this module is the
engineering that makes that true on a CPU and is not itself part of the paper.

- :func:`fold_batchnorm`: every BatchNorm that follows a convolution (Lite 3x3, Sec. 3.1, Fig. 3;
  the 1x1 layers of the OS block, Fig. 4; the stem and transitions of Table 1) and the one after
  the fc layer is folded into that layer's weights and bias. InstanceNorm (OSNet-AIN, Sec. 3.3;
  OSNet-IBN, Sec. 4.2) normalises each image with its own mean and standard deviation (Sec. 3.3),
  so it is no fixed affine map and cannot be folded; it stays.
- :func:`optimize_for_inference`: a feature extractor for one of the measured
  :data:`BACKENDS`; ``"auto"`` picks the fastest one available (see its docstring for figures).
- :func:`export_onnx` / :func:`check_onnx`: the embedding as an ONNX graph with a dynamic batch,
  checked against PyTorch under ONNX Runtime.

Example::

    from osnet_lib import build_model
    from osnet_lib.deploy import optimize_for_inference
    model = build_model("osnet_x1_0").eval()
    extract = optimize_for_inference(model)          # ONNX Runtime when it is installed
    features = extract(images)                        # (N, 3, 256, 128) -> (N, 512)
"""

import contextlib
import copy
import difflib
import importlib
import importlib.util
import io
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from osnet_lib.layers import ConvNormAct, LiteConv3x3
from osnet_lib.models import OUTPUT_STRIDE, OSNet
from osnet_lib.utils import check_finite, check_int, check_positive_int

log = logging.getLogger(__name__)

Backend = Literal[
    "eager", "folded", "channels_last", "inference_mode", "jit", "compile", "onnxruntime"
]

#: The candidates of :func:`optimize_for_inference`, each a step beyond the previous one for the
#: first four: the plain model under ``torch.no_grad`` (the baseline), BatchNorm folded, the
#: channels-last memory format, ``torch.inference_mode``; then three compilers of the folded
#: channels-last model: TorchScript (trace, freeze, ``torch.jit.optimize_for_inference``),
#: ``torch.compile`` (inductor, with weight freezing) and ONNX Runtime.
BACKENDS: tuple[str, ...] = get_args(Backend)

#: Opset of the exported graphs: supported by every onnxruntime release since 1.14, and by the
#: TorchScript-based exporter (which goes up to 20).
DEFAULT_OPSET = 17
_OPSET_RANGE = (9, 20)
_INPUT_NAME = "images"
_OUTPUT_NAME = "embedding"


class OnnxMismatchError(RuntimeError):
    """An exported graph's output differs from PyTorch's by more than the tolerance."""


# -- BatchNorm folding -----------------------------------------------------------------------------
_Foldable = nn.Conv2d | nn.Linear


def _has_running_stats(bn: nn.modules.batchnorm._BatchNorm) -> bool:
    """Whether ``bn`` normalises with fixed statistics in eval mode, i.e. is an affine map."""
    return bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None


def _fused(layer: _Foldable, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module | None:
    """``layer`` with ``bn`` (eval mode) folded in, by torch's own
    :func:`torch.nn.utils.fusion.fuse_conv_bn_eval` / ``fuse_linear_bn_eval``; None where it
    cannot be done (no running statistics, or widths that differ).

    ``BN(Wx + b) = s * (Wx + b - mu) + beta`` with ``s = gamma / sqrt(var + eps)``, so the folded
    layer has weights ``s * W`` (scaled per output channel) and bias ``s * (b - mu) + beta``.
    """
    out = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
    if not _has_running_stats(bn) or bn.num_features != out:
        return None
    layer, bn = layer.eval(), bn.eval()
    if isinstance(layer, nn.Conv2d):
        return fuse_conv_bn_eval(layer, bn)
    return fuse_linear_bn_eval(layer, bn)


def _fold_child(parent: nn.Module, layer_name: str, bn_name: str) -> None:
    layer, bn = getattr(parent, layer_name), getattr(parent, bn_name)
    if isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
        fused = _fused(layer, bn)
        if fused is not None:
            setattr(parent, layer_name, fused)
            setattr(parent, bn_name, nn.Identity())


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) with its BatchNorm layers folded into the preceding
    convolution or fc layer. The original model is not changed.

    Folded (each BatchNorm is replaced by ``nn.Identity``):

    - :class:`~osnet_lib.layers.ConvNormAct` (stem, 1x1 layers of the OS block, transitions,
      conv5): the BatchNorm follows ``conv``.
    - :class:`~osnet_lib.layers.LiteConv3x3` (Sec. 3.1, Fig. 3b): the BatchNorm follows the
      *second* convolution, the depthwise 3x3 for the paper's pointwise-depthwise order and the
      pointwise 1x1 for the depthwise-pointwise order.
    - A ``Conv2d`` or ``Linear`` directly followed by a ``BatchNorm2d``/``BatchNorm1d`` inside an
      ``nn.Sequential``: the fc embedding layer (Table 1) is ``Linear, BatchNorm1d, ReLU``.

    Left as they are: InstanceNorm (it normalises each image with its own statistics, Sec. 3.3)
    and any BatchNorm without running statistics (``track_running_stats=False`` normalises every
    batch with its own statistics, so it is no fixed affine map); those left are logged.

    In eval mode the folded model computes the same function; in float32 its embeddings differ
    from the original's by rounding only, about as much as float32 differs from float64 for the
    original itself (measured: at most 1e-6 for every registered model with random statistics;
    up to a few 1e-4 for a randomly initialised network whose statistics were measured on data,
    which is badly conditioned, for the original and the folded model alike). A model in
    training mode is folded with its running statistics, i.e. as it behaves in eval mode, and a
    warning says so.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"fold_batchnorm expects an nn.Module, got {type(model).__name__}")
    if model.training:
        log.warning(
            "fold_batchnorm: the model is in training mode; the folded copy uses the running "
            "statistics, i.e. it reproduces the model in eval mode, and is returned in eval mode"
        )
    folded = copy.deepcopy(model).eval()
    for module in list(folded.modules()):
        if isinstance(module, ConvNormAct):
            _fold_child(module, "conv", "norm")
        elif isinstance(module, LiteConv3x3):
            _fold_child(module, "depthwise" if module.order == "pw_dw" else "pointwise", "norm")
        elif isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                layer, bn = module[i], module[i + 1]
                fused = None
                if (isinstance(layer, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)) or (
                        isinstance(layer, nn.Linear) and isinstance(bn, nn.BatchNorm1d)):
                    fused = _fused(layer, bn)
                if fused is not None:
                    module[i] = fused
                    module[i + 1] = nn.Identity()
    left = [
        name for name, m in folded.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    if left:
        log.info("fold_batchnorm: %d BatchNorm layer(s) left unfolded: %s", len(left),
                 ", ".join(left))
    return folded


# -- internals -------------------------------------------------------------------------------------
def _require(package: str, purpose: str) -> Any:
    """Import ``package`` or raise an ImportError that names it and how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(
            f"{purpose} needs the '{package}' package, which is not installed; "
            f"install it with: pip install {package}"
        ) from None


def _check_model(model: Any, caller: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{caller} expects an nn.Module, got {type(model).__name__}")
    if not callable(getattr(model, "embed", None)):
        raise TypeError(
            f"{caller} expects a model with an embed() method (an OSNet from build_model), "
            f"got {type(model).__name__}"
        )
    return model


def _eval_copy(model: nn.Module, caller: str) -> nn.Module:
    """An eval-mode copy of ``model``; a model in training mode is reported, not changed."""
    if model.training:
        log.warning(
            "%s: the model is in training mode; using an eval-mode copy (BatchNorm with running "
            "statistics), as deployment does; the model itself is left unchanged", caller
        )
    return copy.deepcopy(model).eval()


def _check_input_size(input_size: Any) -> tuple[int, int]:
    if (
        not isinstance(input_size, Sequence) or len(input_size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in input_size)
    ):
        raise ValueError(f"input_size must be a (height, width) pair of ints, got {input_size!r}")
    h, w = input_size
    if h < OUTPUT_STRIDE or w < OUTPUT_STRIDE:
        raise ValueError(
            f"input_size must be at least {OUTPUT_STRIDE}x{OUTPUT_STRIDE}, got {h}x{w}"
        )
    return h, w


class _Embedding(nn.Module):
    """Wraps a model so that ``forward`` is its ``embed`` (what tracers and exporters see)."""

    model: OSNet

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = cast(OSNet, model)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.embed(images)


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Silence the expected warnings of tracing an OSNet: the input-shape checks of
    ``check_input`` become constants of the trace (the batch size stays dynamic), the exporter
    notes that InstanceNorm always uses per-image statistics (as it must), and that the
    TorchScript-based exporter is deprecated (see :func:`export_onnx` for why it is used)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*instance_norm.*train=True.*")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*The feature will be removed.*")
        yield


# -- ONNX ------------------------------------------------------------------------------------------
def _export(module: nn.Module, f: str | io.BytesIO, input_size: tuple[int, int],
            dynamic_batch: bool, opset: int) -> None:
    _require("onnx", "ONNX export")
    example = torch.randn(1, 3, *input_size)
    dynamic_axes = (
        {_INPUT_NAME: {0: "batch"}, _OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    )
    with _quiet_tracing(), torch.no_grad():
        torch.onnx.export(
            _Embedding(module).eval(), (example,), f,  # type: ignore[arg-type]  # also a file
            dynamo=False,
            input_names=[_INPUT_NAME], output_names=[_OUTPUT_NAME],
            dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
        )


def _check_opset(opset: Any) -> int:
    return check_int("opset", opset, *_OPSET_RANGE)


def _check_output_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write the ONNX file: {path} is a folder")
    parent = path.parent
    if not parent.exists():
        # a parent that is a file shows up as missing too; name the culprit
        for ancestor in parent.parents:
            if ancestor.exists() and not ancestor.is_dir():
                raise NotADirectoryError(
                    f"cannot write {path}: {ancestor} is a file, not a folder"
                )
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"cannot write {path}: the folder {parent} is not writable")
    return path


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    input_size: tuple[int, int] = (256, 128),
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    fold_bn: bool = True,
) -> Path:
    """Export the embedding of ``model`` (``embed``: images ``(N, 3, H, W)`` to the ``(N, 512)``
    fc features of Sec. 4.1) to an ONNX file.

    The graph has one input ``images`` of shape ``(batch, 3, H, W)`` with ``(H, W) =
    input_size`` (256x128 in the paper) and one output ``embedding``; with ``dynamic_batch`` the
    batch size is free. Any registered model exports, OSNet-AIN included: its InstanceNorm layers
    become ``InstanceNormalization`` nodes. With ``fold_bn`` the BatchNorm layers are folded
    first (:func:`fold_batchnorm`), so the graph holds no ``BatchNormalization``.

    A model in training mode is exported as an eval-mode copy (BatchNorm with running
    statistics), with a warning; the model itself is not changed.

    Uses the TorchScript-based exporter (``dynamo=False``; torch marks it deprecated, and its
    deprecation warning is silenced here): the torch.export-based one needs the ``onnxscript``
    package, which is not a dependency. It traces ``embed`` once, at batch 1.

    Returns:
        The path written.

    Raises:
        ImportError: ``onnx`` is not installed.
        FileNotFoundError / NotADirectoryError / IsADirectoryError / PermissionError: ``path``
            cannot be written (missing folder, a file where a folder should be, a folder where
            the file should be, a read-only folder).
        ValueError: a bad ``input_size`` or ``opset``.
        TypeError: ``model`` is not a module with an ``embed`` method.
    """
    model = _check_model(model, "export_onnx")
    path = _check_output_path(path)
    size = _check_input_size(input_size)
    opset = _check_opset(opset)
    _require("onnx", "ONNX export")
    module = _eval_copy(model, "export_onnx")
    if fold_bn:
        module = fold_batchnorm(module)
    partial = path.with_name(path.name + ".partial")
    try:
        _export(module, str(partial), size, dynamic_batch, opset)
        partial.replace(path)  # never leave a half-written file under the final name
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported %s embedding to %s (input %dx%d, opset %d, dynamic batch: %s)",
             type(model).__name__, path, *size, opset, dynamic_batch)
    return path


def _ort_session(model_bytes_or_path: bytes | str, num_threads: int | None) -> Any:
    ort = _require("onnxruntime", "Running ONNX graphs")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = num_threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes_or_path, options, providers=["CPUExecutionProvider"])


def check_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    atol: float = 1e-4,
    batch_sizes: Sequence[int] = (1, 3),
    seed: int = 0,
) -> float:
    """Run the ONNX file at ``path`` under ONNX Runtime (CPU) and compare its embeddings with
    ``model.embed`` in eval mode on random images of the file's input size, for each batch size.

    Returns:
        The largest absolute difference over all batch sizes.

    Raises:
        OnnxMismatchError: the difference exceeds ``atol`` (the message names it), or the output
            shape differs.
        ImportError: ``onnxruntime`` is not installed.
        FileNotFoundError: ``path`` does not exist. ValueError: it is not a valid ONNX model,
            its input is not ``(batch, 3, H, W)``, or a batch size differs from a fixed batch.
    """
    model = _check_model(model, "check_onnx")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    check_finite("atol", atol, low=0)
    sizes = [check_positive_int("batch_sizes entry", b) for b in batch_sizes]
    if not sizes:
        raise ValueError(f"batch_sizes must be positive integers, got {batch_sizes!r}")
    _require("onnxruntime", "check_onnx")
    try:
        session = _ort_session(str(path), None)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ValueError(f"{path} is not a valid ONNX model for onnxruntime: {e}") from None
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else None
    if shape is None or len(shape) != 4 or shape[1] != 3 or not all(
        isinstance(v, int) for v in shape[2:]
    ):
        raise ValueError(
            f"{path}: expected one input of shape (batch, 3, H, W) with fixed H and W, got "
            f"{[(i.name, i.shape) for i in inputs]}"
        )
    fixed_batch = shape[0] if isinstance(shape[0], int) else None
    if fixed_batch is not None and any(b != fixed_batch for b in sizes):
        raise ValueError(
            f"{path} was exported with a fixed batch of {fixed_batch} (dynamic_batch=False); "
            f"it cannot run batch sizes {sizes}"
        )
    reference = cast(OSNet, _eval_copy(model, "check_onnx"))
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for b in sizes:
        images = torch.randn(b, 3, shape[2], shape[3], generator=generator)
        with torch.inference_mode():
            expected = reference.embed(images)
        got = torch.from_numpy(session.run(None, {inputs[0].name: images.numpy()})[0])
        if got.shape != expected.shape:
            raise OnnxMismatchError(
                f"{path}: output shape {tuple(got.shape)} differs from PyTorch's "
                f"{tuple(expected.shape)} at batch {b}"
            )
        diff = (got - expected).abs().max().item()
        worst = max(worst, diff)
        if not diff <= atol:  # also catches NaN
            raise OnnxMismatchError(
                f"{path}: onnxruntime and PyTorch embeddings differ by a max abs difference of "
                f"{diff:.3g} at batch {b}, more than atol={atol:g}"
            )
    log.info("check_onnx: %s matches PyTorch (max abs difference %.3g, batches %s)",
             path, worst, sizes)
    return worst


# -- fast feature extraction -----------------------------------------------------------------------
class InferenceModel:
    """A deployed feature extractor: ``extract(images)`` maps ``(N, 3, H, W)`` float images to
    ``(N, D)`` embeddings, without autograd. ``backend`` names the chosen backend.

    Outputs of the torch backends other than ``"eager"``/``"folded"``/``"channels_last"`` are
    inference tensors (``torch.inference_mode``): fine for matching, not for autograd.
    """

    def __init__(self, backend: str, run: Callable[[torch.Tensor], torch.Tensor],
                 module: nn.Module | None = None,
                 input_size: tuple[int, int] | None = None) -> None:
        self.backend = backend
        self.module = module
        self.input_size = input_size
        self._run = run

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        OSNet.check_input(images)
        if self.input_size is not None and tuple(images.shape[2:]) != self.input_size:
            raise ValueError(
                f"the {self.backend} backend was built for {self.input_size[0]}x"
                f"{self.input_size[1]} images, got {images.shape[2]}x{images.shape[3]}"
            )
        return self._run(images)

    def __repr__(self) -> str:
        return f"InferenceModel(backend={self.backend!r})"


def _torch_runner(module: Callable[[torch.Tensor], torch.Tensor], channels_last: bool,
                  inference_mode: bool
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
    grad_mode = torch.inference_mode if inference_mode else torch.no_grad
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def run(images: torch.Tensor) -> torch.Tensor:
        with grad_mode():
            return module(images.contiguous(memory_format=fmt))

    return run


def _have(*packages: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in packages)


def _resolve_backend(backend: Any) -> str:
    if backend == "auto":
        if _have("onnx", "onnxruntime"):
            return "onnxruntime"
        log.info("onnx/onnxruntime not installed: falling back to the inference_mode backend")
        return "inference_mode"
    if backend not in BACKENDS:
        close = difflib.get_close_matches(str(backend), BACKENDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown backend {backend!r}.{hint} Valid backends: 'auto', {', '.join(BACKENDS)}"
        )
    return backend


def optimize_for_inference(
    model: nn.Module,
    backend: Backend | Literal["auto"] = "auto",
    input_size: tuple[int, int] = (256, 128),
    num_threads: int | None = None,
) -> InferenceModel:
    """A fast CPU feature extractor for ``model.embed`` (the 512-d features of Sec. 4.1).

    Backends (:data:`BACKENDS`), with the speed-up over ``"eager"`` that
    ``benchmarks/bench_inference.py`` measured for OSNet x1.0 at 256x128, batch 32, on 2 CPU
    threads (median of six runs on a shared 2-core machine; the spread was wide, so read them as
    a ranking; range in brackets):

    - ``"eager"``: the model as it is, under ``torch.no_grad``. The baseline (6.7 images/s).
    - ``"folded"``: :func:`fold_batchnorm`, which removes 80 BatchNorm passes over the feature
      maps: 1.13x (0.89-1.43).
    - ``"channels_last"``: folded, in the NHWC memory format, which oneDNN convolutions use
      natively (NCHW costs a layout reorder around every convolution, and the depthwise 3x3 of
      Lite 3x3 is memory bound): 1.70x (1.20-2.40).
    - ``"inference_mode"``: the same under ``torch.inference_mode`` (no autograd bookkeeping):
      1.77x (1.23-2.38).
    - ``"jit"``: the folded channels-last model traced, frozen and passed through
      ``torch.jit.optimize_for_inference`` (oneDNN weight prepacking and fusion): 1.69x
      (1.23-2.70). TorchScript is deprecated in recent torch, which warns.
    - ``"compile"``: ``torch.compile`` (inductor, weight freezing) of the folded channels-last
      model: 2.29x (1.36-3.06). It needs a C++ compiler, compiles on the first call (43 s here
      with a cold cache) and again for a new batch size.
    - ``"onnxruntime"``: the folded embedding exported to ONNX (in memory, a few seconds) and run
      by ONNX Runtime's CPU provider with all graph optimisations (blocked layouts, fused
      convolution and activation): 3.52x (3.02-6.88), the fastest in every run. The image size
      is fixed to ``input_size``; the batch size is free.

    ``"auto"`` (default) picks ``"onnxruntime"`` when ``onnx`` and ``onnxruntime`` are installed,
    and otherwise ``"inference_mode"``, the fastest torch backend that needs no compiler. Every
    backend's embeddings equal the eager model's to 4.1e-7 (max abs) in those runs.

    Args:
        model: an OSNet (anything with ``embed``); it is copied, never changed. A model in
            training mode is used in eval mode, with a warning.
        backend: ``"auto"`` or one of :data:`BACKENDS`.
        input_size: ``(H, W)`` to trace, compile or export at; fixed for ``"onnxruntime"``.
        num_threads: ONNX Runtime intra-op threads (default: ``torch.get_num_threads()``); the
            torch backends use torch's global setting.

    Raises:
        ValueError: an unknown backend (the message lists the valid ones) or a bad input_size.
        ImportError: ``onnx``/``onnxruntime`` missing for the ``"onnxruntime"`` backend.
        RuntimeError: no C++ compiler for the ``"compile"`` backend.
    """
    model = _check_model(model, "optimize_for_inference")
    name = _resolve_backend(backend)
    size = _check_input_size(input_size)
    if num_threads is not None:
        check_positive_int("num_threads", num_threads)
    if name == "onnxruntime":
        _require("onnx", "the onnxruntime backend")
        _require("onnxruntime", "the onnxruntime backend")
    if name == "compile" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        raise RuntimeError("the compile backend (inductor on CPU) needs a C++ compiler "
                           "(g++ or clang++) on the PATH; none was found")

    base = _eval_copy(model, "optimize_for_inference")
    if name == "eager":
        module = _Embedding(base).eval()
        return InferenceModel(name, _torch_runner(module, False, False), module)
    folded = fold_batchnorm(base)
    module = _Embedding(folded).eval()
    if name == "folded":
        return InferenceModel(name, _torch_runner(module, False, False), module)
    module = module.to(memory_format=torch.channels_last)
    if name == "channels_last":
        return InferenceModel(name, _torch_runner(module, True, False), module)
    if name == "inference_mode":
        return InferenceModel(name, _torch_runner(module, True, True), module)
    if name == "jit":
        example = torch.randn(1, 3, *size).contiguous(memory_format=torch.channels_last)
        with _quiet_tracing(), torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
            scripted = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        return InferenceModel(name, _torch_runner(scripted, True, True), module)
    if name == "compile":
        compiled = torch.compile(module, backend="inductor", options={"freezing": True})
        return InferenceModel(name, _torch_runner(compiled, True, True), module)
    # onnxruntime
    buffer = io.BytesIO()
    _export(folded, buffer, size, dynamic_batch=True, opset=DEFAULT_OPSET)
    session = _ort_session(buffer.getvalue(), num_threads)

    def run(images: torch.Tensor) -> torch.Tensor:
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(session.run(None, {_INPUT_NAME: array})[0])

    return InferenceModel(name, run, module, input_size=size)


__all__ = [
    "BACKENDS", "DEFAULT_OPSET", "InferenceModel", "OnnxMismatchError", "check_onnx",
    "export_onnx", "fold_batchnorm", "optimize_for_inference",
]
