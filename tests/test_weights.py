"""Loading the weights published by the authors (their key names) and our own files."""

import json
import pickle
from pathlib import Path

import pytest
import torch

from osnet_lib import build_model
from osnet_lib.weights import (
    WeightMismatchError,
    authors_key_to_ours,
    load_pretrained,
    read_state_dict,
    save_weights,
)

FIXTURE = Path(__file__).parent / "fixtures" / "authors_state_dict_keys.json"
AUTHORS = json.loads(FIXTURE.read_text())["models"]


def _authors_file(tmp_path, name, num_classes=1000, drop=(), extra=None, seed=0, wrap=None):
    """A file with the authors' key names and shapes for ``name`` and random values."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in AUTHORS[name]:
        if key in drop:
            continue
        if key.startswith("classifier."):
            shape = [num_classes] + shape[1:]
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.1
    state.update(extra or {})
    path = tmp_path / f"{name}.pth"
    torch.save(wrap(state) if wrap else state, path)
    return path, state


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_every_published_layout_loads_with_nothing_missing_or_left_over(tmp_path, name):
    path, state = _authors_file(tmp_path, name)
    model = build_model(name, num_classes=1000)
    report = load_pretrained(model, path)
    assert report.loaded == len(state)
    assert report.skipped_classifier == []
    ours = model.state_dict()
    scheme = report.scheme
    for key, value in state.items():
        torch.testing.assert_close(ours[authors_key_to_ours(key, scheme)], value)


@pytest.mark.parametrize(
    "name,theirs,ours",
    [
        ("osnet_x1_0", "conv2.0.conv2a.conv1.weight", "conv2.0.streams.0.0.pointwise.weight"),
        ("osnet_x1_0", "conv3.1.conv2d.3.conv2.weight", "conv3.1.streams.3.3.depthwise.weight"),
        ("osnet_x1_0", "conv2.2.0.bn.running_mean", "transition2.conv.norm.running_mean"),
        ("osnet_x1_0", "conv4.0.gate.fc2.bias", "conv4.0.gates.0.fc2.bias"),
        ("osnet_ibn_x1_0", "conv2.1.IN.weight", "conv2.1.in_outer.weight"),
        ("osnet_ibn_x1_0", "conv1.bn.weight", "conv1.norm.weight"),
        ("osnet_ain_x1_0", "conv2.0.conv2.2.layers.1.bn.weight", "conv2.0.streams.2.1.norm.weight"),
        ("osnet_ain_x1_0", "pool3.0.conv.weight", "transition3.conv.conv.weight"),
        ("osnet_ain_x1_0", "conv4.0.IN.bias", "conv4.0.in_inner.bias"),
        ("osnet_ain_x1_0", "conv4.0.conv3.conv.weight", "conv4.0.conv3.conv.weight"),
        ("osnet_ain_x1_0", "fc.1.running_var", "fc.1.running_var"),
    ],
)
def test_key_mapping_examples(name, theirs, ours):
    scheme = "osnet_ain" if "ain" in name else "osnet"
    assert theirs in dict(AUTHORS[name])
    assert authors_key_to_ours(theirs, scheme) == ours


def test_classifier_of_another_size_is_skipped_and_reported(tmp_path):
    path, _ = _authors_file(tmp_path, "osnet_x0_25", num_classes=1000)
    model = build_model("osnet_x0_25", num_classes=751)
    before = model.classifier.weight.clone()
    report = load_pretrained(model, path)
    assert report.skipped_classifier == ["classifier.bias", "classifier.weight"]
    torch.testing.assert_close(model.classifier.weight, before)
    assert "classifier not loaded" in str(report)
    with pytest.raises(WeightMismatchError, match="classifier cannot be loaded"):
        load_pretrained(model, path, load_classifier=True)


def test_classifier_can_be_left_out_on_request(tmp_path):
    path, state = _authors_file(tmp_path, "osnet_x0_25")
    model = build_model("osnet_x0_25", num_classes=1000)
    report = load_pretrained(model, path, load_classifier=False)
    assert report.loaded == len(state) - 2
    assert not torch.equal(model.classifier.weight, state["classifier.weight"])


def test_a_file_of_another_width_names_the_shapes(tmp_path):
    path, _ = _authors_file(tmp_path, "osnet_x0_25")
    with pytest.raises(WeightMismatchError) as err:
        load_pretrained(build_model("osnet_x1_0", num_classes=1000), path)
    msg = str(err.value)
    assert "shape mismatch" in msg
    assert "conv1.conv.weight: file (16, 3, 7, 7) vs model (64, 3, 7, 7)" in msg


def test_a_file_of_another_family_names_the_keys(tmp_path):
    path, _ = _authors_file(tmp_path, "osnet_ain_x0_25")
    with pytest.raises(WeightMismatchError) as err:
        load_pretrained(build_model("osnet_x0_25", num_classes=1000), path)
    msg = str(err.value)
    assert "missing in the file" in msg and "conv2.0.conv3.norm.weight" in msg
    assert "not in the model" in msg and "conv2.0.in_inner.weight" in msg


def test_missing_and_unexpected_keys_are_named(tmp_path):
    extra = {"conv2.0.conv2e.0.conv1.weight": torch.zeros(1)}
    path, _ = _authors_file(tmp_path, "osnet_x0_25", drop=("conv5.conv.weight",), extra=extra)
    with pytest.raises(WeightMismatchError) as err:
        load_pretrained(build_model("osnet_x0_25", num_classes=1000), path)
    assert "conv5.conv.weight" in str(err.value)
    assert "conv2.0.conv2e.0.conv1.weight" in str(err.value)


def test_checkpoints_with_state_dict_and_module_prefix(tmp_path):
    def wrap(state):
        return {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 350,
                "rank1": 0.948}

    path, state = _authors_file(tmp_path, "osnet_x0_25", wrap=wrap)
    report = load_pretrained(build_model("osnet_x0_25", num_classes=1000), path)
    assert report.loaded == len(state)


def test_files_without_num_batches_tracked_load(tmp_path):
    names = [k for k, _ in AUTHORS["osnet_x0_25"] if k.endswith("num_batches_tracked")]
    path, state = _authors_file(tmp_path, "osnet_x0_25", drop=names)
    assert load_pretrained(build_model("osnet_x0_25", num_classes=1000), path).loaded == len(state)


def test_our_own_files_round_trip(tmp_path):
    torch.manual_seed(0)
    a = build_model("osnet_ain_x0_25", num_classes=5).eval()
    save_weights(a, tmp_path / "sub" / "w.pth")
    b = build_model("osnet_ain_x0_25", num_classes=5).eval()
    assert load_pretrained(b, tmp_path / "sub" / "w.pth").scheme == "osnet_lib"
    x = torch.randn(2, 3, 64, 32)
    torch.testing.assert_close(a(x), b(x))


class _Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_untrusted_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.conv.weight": _Exploit()}, f)
    with pytest.raises(ValueError, match="weights_only=True"):
        read_state_dict(path)


def test_missing_corrupt_and_non_tensor_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        read_state_dict(tmp_path / "nowhere.pth")
    (tmp_path / "junk.pth").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        read_state_dict(tmp_path / "junk.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="state dict of tensors"):
        read_state_dict(tmp_path / "list.pth")


def test_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        authors_key_to_ours("conv1.conv.weight", "resnet")


# -- checkpoints of this library and of torchreid; broken weights ----------------------------
def test_a_training_checkpoint_of_this_library_loads(tmp_path):
    """``eval --weights runs/x/checkpoint.pth``: an interrupted run can be evaluated."""
    import numpy as np

    from osnet_lib.__main__ import main
    from osnet_lib.engine import save_checkpoint

    torch.manual_seed(0)
    source = build_model("osnet_x0_25", num_classes=3)
    opt = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    save_checkpoint(tmp_path / "checkpoint.pth", {"epoch": 1, "model": source.state_dict(),
                                                  "optimizer": opt.state_dict(), "seed": 0})
    target = build_model("osnet_x0_25")
    report = load_pretrained(target, tmp_path / "checkpoint.pth")
    assert report.loaded > 0 and report.skipped_classifier == ["classifier.bias",
                                                               "classifier.weight"]
    for k, v in target.state_dict().items():
        assert torch.equal(v, source.state_dict()[k]), k
    images = tmp_path / "imgs"
    images.mkdir()
    from PIL import Image
    Image.fromarray(np.zeros((64, 32, 3), dtype=np.uint8)).save(images / "a.png")
    assert main(["features", "--model", "osnet_x0_25", "--height", "64", "--width", "32",
                 "--weights", str(tmp_path / "checkpoint.pth"), "--images", str(images),
                 "--output", str(tmp_path / "f.npy"), "--device", "cpu"]) == 0


def test_a_torchreid_checkpoint_with_numpy_metadata_loads(tmp_path):
    import numpy as np

    model = build_model("osnet_x0_25")
    authors = {k: v for k, v in model.state_dict().items()}
    torch.save({"state_dict": {f"module.{k}": v for k, v in authors.items()}, "epoch": 60,
                "rank1": np.float64(0.874), "mAP": np.float32(0.7), "history": np.arange(3),
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.0015}]}},
               tmp_path / "model.pth.tar-60")
    state = read_state_dict(tmp_path / "model.pth.tar-60")
    assert state.keys() == authors.keys()


def test_arbitrary_objects_beside_the_weights_are_still_refused(tmp_path):
    import numpy as np

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"state_dict": build_model("osnet_x0_25").state_dict(), "x": Evil()},
               tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="weights_only=True"):
        read_state_dict(tmp_path / "evil.pth")
    torch.save({"state_dict": build_model("osnet_x0_25").state_dict(),
                "ids": np.array([Evil()], dtype=object)}, tmp_path / "objects.pth")
    with pytest.raises(ValueError, match="weights_only=True"):  # an object array: refused
        read_state_dict(tmp_path / "objects.pth")


def test_non_finite_weights_are_refused_by_name(tmp_path):
    model = build_model("osnet_x0_25")
    state = model.state_dict()
    state["conv1.conv.weight"] = torch.full_like(state["conv1.conv.weight"], float("nan"))
    state["fc.0.bias"][0] = float("inf")
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(ValueError, match=r"non-finite.*2 tensor\(s\): conv1.conv.weight, "
                                         r"fc.0.bias"):
        load_pretrained(build_model("osnet_x0_25"), tmp_path / "nan.pth")
