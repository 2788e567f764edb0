"""Features in inference mode: every extraction entry point gives an image the same output
whatever else is in its batch, works on a batch of one, changes no buffer (BatchNorm running
statistics) and restores the model's mode, module by module."""

from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from osnet_lib import build_model
from osnet_lib.data import build_transforms
from osnet_lib.engine import classifier_only, extract_features
from osnet_lib.utils import eval_mode
from osnet_lib.viz import activation_maps, gate_descriptors

SIZE = (64, 32)


def _embed(model, x):
    return model.embed(x)


def _features(model, x):
    return model.forward_features(x)


def _head(model, x):
    maps = torch.randn(x.shape[0], 128, 4, 2, generator=torch.Generator().manual_seed(1))
    maps[: len(x)] += x.mean()  # depends on x, so A's row differs from B's
    return model.forward_head(maps[: len(x)])


def _forward_all(model, x):
    out = model.forward_all(x)
    return torch.cat([out.featuremaps.flatten(1), out.embedding, out.logits], dim=1)


def _gates(model, x):
    return torch.cat([g.flatten(1) for g in model.gate_vectors(x).values()], dim=1)


def _activation_maps(model, x):
    return activation_maps(model, x).flatten(1)


def _gate_descriptors(model, x):
    return torch.from_numpy(gate_descriptors(model, x))


ENTRY_POINTS: dict[str, Callable] = {
    "embed": _embed, "forward_features": _features, "forward_all": _forward_all,
    "gate_vectors": _gates, "activation_maps": _activation_maps,
    "gate_descriptors": _gate_descriptors,
}


def _trained_statistics_model() -> torch.nn.Module:
    """A model whose BatchNorm running statistics are no longer the initial ones (as after
    training), in training mode, as a user leaves it after a training loop."""
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=4)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, *SIZE) * 2 + 0.5)
    return model


def _buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_output_does_not_depend_on_the_batch(name):
    fn = ENTRY_POINTS[name]
    model = _trained_statistics_model()
    g = torch.Generator().manual_seed(2)
    a, b, c = (torch.randn(1, 3, *SIZE, generator=g) for _ in range(3))
    with_b = fn(model, torch.cat([a, b]))[0]
    with_c = fn(model, torch.cat([a, c * 3]))[0]
    alone = fn(model, a)[0]  # a batch of one works
    torch.testing.assert_close(with_b, with_c, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(with_b, alone, atol=1e-5, rtol=1e-4)


def test_forward_head_does_not_depend_on_the_batch():
    model = _trained_statistics_model()
    maps = torch.randn(3, 128, 4, 2, generator=torch.Generator().manual_seed(1))
    one = model.forward_head(maps[:1])
    torch.testing.assert_close(model.forward_head(maps)[:1], one, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(model.forward_head(maps[[0, 2]])[:1], one, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", list(ENTRY_POINTS) + ["forward_head"])
def test_no_buffer_changes_and_the_mode_is_restored(name):
    fn = ENTRY_POINTS.get(name, _head)
    model = _trained_statistics_model()
    model.conv1.eval()  # a mixed state, as fine-tuning leaves it: restored module by module
    modes = {n: m.training for n, m in model.named_modules()}
    before = _buffers(model)
    out = fn(model, torch.randn(3, 3, *SIZE))
    assert not out.requires_grad  # no autograd graph kept
    after = _buffers(model)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == []
    assert {n: m.training for n, m in model.named_modules()} == modes


def test_embed_of_one_image_on_a_fresh_model():
    """The issue's instance: a fresh model in training mode, one image."""
    model = build_model("osnet_x0_25")
    assert model.training
    assert model.embed(torch.randn(1, 3, 128, 64)).shape == (1, 512)
    assert model.training


def test_gate_vectors_leave_every_running_statistic_alone():
    model = build_model("osnet_x0_25")
    before = _buffers(model)
    model.gate_vectors(torch.randn(2, 3, *SIZE))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_training_forward_is_unchanged():
    """forward() still follows the mode: batch statistics (and their update) in training."""
    model = _trained_statistics_model()
    x = torch.randn(4, 3, *SIZE)
    before = _buffers(model)
    logits = model(x)
    assert logits.requires_grad
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()
               if "running_mean" in k)
    with eval_mode(model):
        eval_logits = model(x)
    assert not torch.allclose(logits, eval_logits)


def test_eval_mode_restores_on_error_and_nests():
    model = _trained_statistics_model()
    with classifier_only(model, True):  # trunk in eval, classifier training
        modes = {n: m.training for n, m in model.named_modules()}
        with pytest.raises(RuntimeError):
            with eval_mode(model):
                with eval_mode(model):
                    assert not any(m.training for m in model.modules())
                raise RuntimeError("boom")
        assert {n: m.training for n, m in model.named_modules()} == modes


def test_extract_features_does_not_depend_on_the_batch(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (64, 32, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    model = _trained_statistics_model()
    before = _buffers(model)
    _, tf = build_transforms(*SIZE)
    together = extract_features(model, paths, tf, batch_size=3, device="cpu").features
    apart = extract_features(model, paths, tf, batch_size=1, device="cpu").features
    torch.testing.assert_close(together, apart, atol=1e-5, rtol=1e-4)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(model, paths, tf, batch_size=0, device="cpu")
