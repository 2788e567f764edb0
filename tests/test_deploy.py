"""Tests of osnet_lib.deploy: BatchNorm folding, inference backends, ONNX export and check."""

import copy
import logging
import shutil
import sys

import pytest
import torch
from torch import nn

from osnet_lib.deploy import (
    BACKENDS,
    InferenceModel,
    OnnxMismatchError,
    check_onnx,
    export_onnx,
    fold_batchnorm,
    optimize_for_inference,
)
from osnet_lib.layers import ConvNormAct, LiteConv3x3
from osnet_lib.models import build_model, list_models

SMALL = (64, 32)
ONNX_SIZE = (128, 64)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are small: one thread is as fast as two, and it does not stall (OpenMP
    threads waiting for each other) when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random running statistics and affine parameters, and every affine
    InstanceNorm random parameters, then switch to eval mode. A fresh model's BatchNorm is the
    identity (mean 0, variance 1, gamma 1, beta 0), which would leave folding untested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.InstanceNorm2d)) and m.affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
    return model.eval()


def calibrated(model: nn.Module, seed: int = 0, size: tuple[int, int] = SMALL) -> nn.Module:
    """Random affine parameters, then running statistics measured on random images (as a
    BatchNorm recalibration would): every BatchNorm normalises its input for real."""
    random_norms(model, seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(2):
            model.embed(torch.randn(8, 3, *size, generator=gen))
    return model.eval()


def images(batch: int = 2, size: tuple[int, int] = SMALL, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, *size, generator=torch.Generator().manual_seed(seed))


def embed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.embed(x)


def batchnorms(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


# -- folding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list_models())
def test_fold_matches_every_registered_model(name):
    model = random_norms(build_model(name))
    x = images()
    before = embed(model, x)
    folded = fold_batchnorm(model)
    after = embed(folded, x)
    assert (after - before).abs().max().item() < 1e-4
    assert before.abs().max().item() > 0.1  # features are not trivially small
    assert batchnorms(folded) == []
    assert not folded.training
    # InstanceNorm stays: OSNet-IBN/AIN keep theirs, plain OSNet has none
    n_in = sum(isinstance(m, nn.InstanceNorm2d) for m in model.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in folded.modules()) == n_in
    assert (n_in > 0) == ("ain" in name or "ibn" in name)
    # the original is untouched
    assert len(batchnorms(model)) > 0
    assert torch.equal(embed(model, x), before)


def test_dropping_batchnorm_without_folding_changes_the_features():
    """The statistics of random_norms are far from the identity: a fold that forgot the shift
    (or the scale) would fail the equality tests."""
    model = random_norms(build_model("osnet_x0_25"))
    x = images()
    unshifted = fold_batchnorm(model)
    for m in unshifted.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias = None
    assert (embed(unshifted, x) - embed(model, x)).abs().max().item() > 1e-2
    unscaled = copy.deepcopy(model)
    for name in batchnorms(unscaled):
        unscaled.set_submodule(name, nn.Identity())
    assert (embed(unscaled, x) - embed(model, x)).abs().max().item() > 1e-2


@pytest.mark.parametrize("name", ["osnet_x1_0", "osnet_ain_x0_25", "osnet_ibn_x0_25"])
def test_fold_is_exact_in_float64_with_calibrated_statistics(name):
    """With statistics measured on data every BatchNorm really normalises, and a random
    network's float32 error grows to about 1e-4 (the same for the original and the folded
    model); in float64 folding must be exact to rounding."""
    model = calibrated(build_model(name)).double()
    x = images().double()
    before = embed(model, x)
    after = embed(fold_batchnorm(model), x)
    assert before.abs().max().item() > 0.5
    assert (after - before).abs().max().item() < 1e-9


@pytest.mark.parametrize("options", [
    {"conv": "full"},
    {"conv": "lite_dw_pw"},
    {"fusion": "concat"},
    {"fusion": "static"},
    {"fusion": "add", "T": 2},
    {"gate_sharing": "separate", "gate_granularity": "stream"},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_fold_matches_table5_variants(options):
    model = random_norms(build_model("osnet_x0_25", **options))
    x = images()
    folded = fold_batchnorm(model)
    assert (embed(folded, x) - embed(model, x)).abs().max().item() < 1e-4
    assert batchnorms(folded) == []


@pytest.mark.parametrize("order,second", [("pw_dw", "depthwise"), ("dw_pw", "pointwise")])
def test_lite_conv_folds_into_the_second_convolution(order, second):
    layer = LiteConv3x3(8, 16, order=order)
    with torch.no_grad():
        layer.norm.weight.uniform_(0.5, 1.5)
        layer.norm.bias.normal_(0, 0.5)
        layer.norm.running_mean.normal_(0, 0.5)
        layer.norm.running_var.uniform_(0.5, 2.0)
    layer.eval()
    x = torch.randn(2, 8, 10, 6)
    with torch.no_grad():
        expected = layer(x)
    folded = fold_batchnorm(layer)
    first = "pointwise" if second == "depthwise" else "depthwise"
    assert isinstance(folded.norm, nn.Identity)
    assert getattr(folded, second).bias is not None
    assert getattr(folded, first).bias is None
    assert torch.equal(getattr(folded, first).weight, getattr(layer, first).weight)
    with torch.no_grad():
        assert (folded(x) - expected).abs().max().item() < 1e-5


def test_batchnorm_without_running_stats_is_left_unfolded(caplog):
    model = random_norms(build_model("osnet_x0_25"))
    bn = model.conv2[0].conv1.norm
    bn.track_running_stats = False  # normalises every batch with its own statistics
    bn.running_mean = bn.running_var = None
    x = images(batch=4)
    with caplog.at_level(logging.INFO, logger="osnet_lib.deploy"):
        folded = fold_batchnorm(model)
    assert batchnorms(folded) == ["conv2.0.conv1.norm"]
    assert "conv2.0.conv1.norm" in caplog.text
    assert (embed(folded, x) - embed(model, x)).abs().max().item() < 1e-4


def test_fold_training_mode_model_warns_and_returns_eval_copy(caplog):
    model = random_norms(build_model("osnet_x0_25")).train()
    with caplog.at_level(logging.WARNING, logger="osnet_lib.deploy"):
        folded = fold_batchnorm(model)
    assert "training mode" in caplog.text
    assert model.training and not folded.training
    x = images()
    assert (embed(folded, x) - embed(model.eval(), x)).abs().max().item() < 1e-4


def test_fold_rejects_non_modules():
    with pytest.raises(TypeError, match="dict"):
        fold_batchnorm({"conv.weight": torch.zeros(1)})


# -- inference backends ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model() -> nn.Module:
    return random_norms(build_model("osnet_x0_25"))


@pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:FutureWarning")
@pytest.mark.parametrize("backend", ["eager", "folded", "channels_last", "inference_mode", "jit",
                                     "onnxruntime"])
def test_backends_match_eager(small_model, backend):
    x = images(batch=3)
    extract = optimize_for_inference(small_model, backend=backend, input_size=SMALL)
    assert isinstance(extract, InferenceModel) and extract.backend == backend
    out = extract(x)
    assert out.shape == (3, 512)
    assert (out - embed(small_model, x)).abs().max().item() < 1e-4
    # another batch size works too
    assert (extract(x[:1]) - embed(small_model, x[:1])).abs().max().item() < 1e-4


class TinyEmbedder(nn.Module):
    """A few of OSNet's layers behind an ``embed`` method: enough to exercise a backend's code
    path (folding, channels-last, compilation) in seconds rather than minutes."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(3, 8, 3, stride=2, padding=1), LiteConv3x3(8, 16),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 32), nn.BatchNorm1d(32),
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.slow
def test_compile_backend_on_a_small_network():
    """torch.compile takes minutes on a full OSNet with a small CPU; the benchmark measures it
    there. Here it compiles a few of the same layers."""
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        pytest.skip("inductor needs a C++ compiler")
    model = random_norms(TinyEmbedder())
    x = images(batch=3)
    extract = optimize_for_inference(model, backend="compile", input_size=SMALL)
    out = extract(x)
    assert extract.backend == "compile" and out.shape == (3, 32)
    assert (out - embed(model, x)).abs().max().item() < 1e-4
    assert batchnorms(extract.module) == []


def test_compile_backend_needs_a_compiler(small_model, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="C\\+\\+ compiler"):
        optimize_for_inference(small_model, backend="compile")


def test_auto_backend_prefers_onnxruntime_and_falls_back(small_model, monkeypatch):
    assert optimize_for_inference(small_model, input_size=SMALL).backend == "onnxruntime"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    assert optimize_for_inference(small_model, input_size=SMALL).backend == "inference_mode"
    with pytest.raises(ImportError, match="onnxruntime"):
        optimize_for_inference(small_model, backend="onnxruntime", input_size=SMALL)


def test_unknown_backend_names_the_valid_ones(small_model):
    with pytest.raises(ValueError, match="'onnxruntme'.*Did you mean 'onnxruntime'") as e:
        optimize_for_inference(small_model, backend="onnxruntme")
    for name in BACKENDS:
        assert name in str(e.value)


def test_optimize_bad_arguments(small_model):
    with pytest.raises(ValueError, match="input_size"):
        optimize_for_inference(small_model, backend="eager", input_size=(8, 8))
    with pytest.raises(ValueError, match="num_threads"):
        optimize_for_inference(small_model, backend="eager", num_threads=0)
    with pytest.raises(TypeError, match="embed"):
        optimize_for_inference(nn.Conv2d(3, 3, 1), backend="eager")


def test_onnxruntime_backend_rejects_other_image_sizes(small_model):
    extract = optimize_for_inference(small_model, backend="onnxruntime", input_size=SMALL)
    with pytest.raises(ValueError, match="64x32.*96x32"):
        extract(torch.randn(1, 3, 96, 32))


def test_optimize_training_mode_model_leaves_it_unchanged(caplog):
    model = random_norms(build_model("osnet_x0_25")).train()
    with caplog.at_level(logging.WARNING, logger="osnet_lib.deploy"):
        extract = optimize_for_inference(model, backend="channels_last", input_size=SMALL)
    assert "training mode" in caplog.text and model.training
    x = images()
    assert (extract(x) - embed(model.eval(), x)).abs().max().item() < 1e-4


# -- ONNX --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["osnet_x0_25", "osnet_ain_x0_25"])
def test_export_and_check_onnx_dynamic_batch(name, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = random_norms(build_model(name))
    path = export_onnx(model, tmp_path / f"{name}.onnx", input_size=ONNX_SIZE)
    assert path.is_file()
    worst = check_onnx(model, path, batch_sizes=(1, 3))
    assert 0 <= worst < 1e-4

    graph = onnx.load(str(path)).graph
    ops = {node.op_type for node in graph.node}
    assert "BatchNormalization" not in ops  # folded
    assert ("InstanceNormalization" in ops) == ("ain" in name)
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, *ONNX_SIZE]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = images(batch=3, size=ONNX_SIZE, seed=5)
    out = session.run(None, {"images": x.numpy()})[0]
    assert out.shape == (3, 512)
    assert (torch.from_numpy(out) - embed(model, x)).abs().max().item() < 1e-4

    # the same file against another model's weights: the check must fail and say by how much
    other = random_norms(build_model(name), seed=1)
    with pytest.raises(OnnxMismatchError, match="max abs difference"):
        check_onnx(other, path)


def test_export_fixed_batch_and_training_mode_model(tmp_path, caplog):
    pytest.importorskip("onnxruntime")
    model = random_norms(build_model("osnet_x0_25")).train()
    with caplog.at_level(logging.WARNING, logger="osnet_lib.deploy"):
        path = export_onnx(model, tmp_path / "fixed.onnx", input_size=SMALL, dynamic_batch=False)
    assert "training mode" in caplog.text and model.training
    model.eval()
    assert check_onnx(model, path, batch_sizes=(1,)) < 1e-4
    with pytest.raises(ValueError, match="fixed batch of 1"):
        check_onnx(model, path, batch_sizes=(1, 3))


def test_export_onnx_bad_paths(small_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        export_onnx(small_model, tmp_path / "missing" / "m.onnx")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(NotADirectoryError, match="a_file"):
        export_onnx(small_model, a_file / "m.onnx")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        export_onnx(small_model, tmp_path)
    with pytest.raises(TypeError, match="path"):
        export_onnx(small_model, 42)
    assert list(tmp_path.iterdir()) == [a_file]


def test_export_onnx_bad_parameters(small_model, tmp_path):
    with pytest.raises(ValueError, match="opset"):
        export_onnx(small_model, tmp_path / "m.onnx", opset=99)
    with pytest.raises(ValueError, match="input_size"):
        export_onnx(small_model, tmp_path / "m.onnx", input_size=(256,))
    with pytest.raises(TypeError, match="embed"):
        export_onnx(nn.Linear(2, 2), tmp_path / "m.onnx")


def test_export_onnx_unwritable_folder(small_model, tmp_path, monkeypatch):
    monkeypatch.setattr("os.access", lambda p, mode: False)
    with pytest.raises(PermissionError, match="not writable"):
        export_onnx(small_model, tmp_path / "m.onnx")


def test_missing_onnx_packages_are_named(small_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="'onnx'.*pip install onnx"):
        export_onnx(small_model, tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(ImportError, match="'onnxruntime'"):
        check_onnx(small_model, tmp_path / "m.onnx")


def test_check_onnx_bad_files(small_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        check_onnx(small_model, tmp_path / "nothing.onnx")
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="corrupt.onnx.*not a valid ONNX"):
        check_onnx(small_model, bad)
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="atol"):
        check_onnx(small_model, bad, atol=-1)
    with pytest.raises(ValueError, match="batch_sizes"):
        check_onnx(small_model, bad, batch_sizes=(0,))
