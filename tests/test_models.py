"""OSNet per Table 1, the registry and the forward API."""

import json

import pytest
import torch

from osnet_lib import build_model, list_models
from osnet_lib.blocks import OSBlock
from osnet_lib.models import (
    FAMILIES,
    OSNET_AIN,
    OSNET_IBN,
    Genotype,
    ModelName,
    OSNet,
    block_names,
    get_model_spec,
    model_name,
    parse_model_name,
    scale_width,
)
from osnet_lib.paper import TABLE1, TABLE5

REQUIRED = ["osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
            "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25"]


def _stage_shapes(model, x):
    shapes = {}
    modules = {"conv1": "conv1", "pool": "maxpool", "conv2": "conv2",
               "transition2": "transition2", "conv3": "conv3", "transition3": "transition3",
               "conv4": "conv4", "conv5": "conv5", "gap": "global_avgpool", "fc": "fc"}
    hooks = [getattr(model, module).register_forward_hook(
        lambda m, i, o, stage=stage: shapes.__setitem__(stage, tuple(o.shape[1:])))
        for stage, module in modules.items()]
    model.eval()
    with torch.no_grad():
        model.embed(x)
    for h in hooks:
        h.remove()
    return shapes


@pytest.mark.parametrize("name,beta", [("osnet_x1_0", 1.0), ("osnet_x0_25", 0.25),
                                       ("osnet_ain_x0_5", 0.5)])
def test_every_table1_stage_has_the_paper_shape(name, beta):
    shapes = _stage_shapes(build_model(name), torch.randn(2, 3, 256, 128))
    for stage, (h, w, c) in TABLE1["stages"].items():
        expected_c = c if stage == "fc" else int(c * beta)
        got = shapes[stage]
        if stage == "fc":
            assert got == (expected_c,), stage
        elif stage == "gap":
            assert got == (expected_c, 1, 1), stage
        else:
            assert got == (expected_c, h, w), stage


@pytest.mark.parametrize("size", [(256, 128), (192, 96), (128, 64), (64, 32), (100, 37), (16, 16)])
def test_any_input_size_gives_a_512_d_embedding(size):
    model = build_model("osnet_x0_25", num_classes=7).eval()
    out = model.forward_all(torch.randn(2, 3, *size))
    assert out.embedding.shape == (2, 512)
    assert out.logits.shape == (2, 7)
    assert out.featuremaps.shape[1] == 128


def test_width_multiplier_scales_every_layer_but_fc():
    assert [scale_width(c, 0.75) for c in (64, 256, 384, 512)] == [48, 192, 288, 384]
    assert [scale_width(c, 0.5) for c in (64, 256, 384, 512)] == [32, 128, 192, 256]
    assert [scale_width(c, 0.25) for c in (64, 256, 384, 512)] == [16, 64, 96, 128]
    model = build_model("osnet_x0_25", num_classes=3)
    assert model.fc[0].out_features == 512 and model.classifier.in_features == 512
    with pytest.raises(ValueError, match="width multiplier"):
        scale_width(64, 0)


def test_registry_lists_the_required_models():
    names = list_models()
    for name in REQUIRED:
        assert name in names
    for name in names:
        assert get_model_spec(name).name == name


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        build_model("osnet_x2_0")
    assert "osnet_x1_0" in str(err.value) and "osnet_ain_x0_25" in str(err.value)
    with pytest.raises(ValueError, match="Did you mean 'osnet_ain_x1_0'"):
        build_model("osnet_ain_x1")


def test_unknown_or_bad_option_is_named():
    with pytest.raises(TypeError, match="'depth'"):
        build_model("osnet_x0_25", depth=3)
    with pytest.raises(ValueError, match="fusion='mean'"):
        build_model("osnet_x0_25", fusion="mean")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("osnet_x0_25", num_classes=-1)
    with pytest.raises(ValueError, match="feature_dim"):
        build_model("osnet_x0_25", feature_dim=0)


@pytest.mark.parametrize(
    "bad,error,match",
    [
        (torch.randn(2, 256, 128), ValueError, r"\(N, 3, H, W\)"),
        (torch.randn(2, 1, 256, 128), ValueError, r"\(2, 1, 256, 128\)"),
        (torch.zeros(2, 3, 64, 32, dtype=torch.uint8), ValueError, "floating-point"),
        (torch.randn(2, 3, 8, 64), ValueError, "at least 16x16"),
        ([[0.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_a_clear_error(bad, error, match):
    model = build_model("osnet_x0_25", num_classes=2)
    with pytest.raises(error, match=match):
        model(bad)


def test_return_type_does_not_depend_on_the_mode():
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=5)
    x = torch.randn(4, 3, 64, 32)
    model.train()
    train_logits, train_emb = model(x), model.embed(x)
    model.eval()
    eval_logits, eval_emb = model(x), model.embed(x)
    assert train_logits.shape == eval_logits.shape == (4, 5)
    assert train_emb.shape == eval_emb.shape == (4, 512)


def test_forward_all_agrees_with_the_separate_methods():
    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=5).eval()
    x = torch.randn(2, 3, 64, 32)
    out = model.forward_all(x)
    torch.testing.assert_close(out.featuremaps, model.forward_features(x))
    torch.testing.assert_close(out.embedding, model.embed(x))
    torch.testing.assert_close(out.logits, model(x))


def test_model_without_classifier():
    model = build_model("osnet_x0_25")
    assert model.classifier is None
    assert model.forward_all(torch.randn(2, 3, 64, 32)).logits is None
    with pytest.raises(RuntimeError, match="no classifier"):
        model(torch.randn(2, 3, 64, 32))
    model.reset_classifier(9)
    assert model(torch.randn(2, 3, 64, 32)).shape == (2, 9)


def test_gate_vectors_of_every_block():
    torch.manual_seed(0)
    model = build_model("osnet_x0_5").eval()
    gates = model.gate_vectors(torch.randn(3, 3, 128, 64))
    assert list(gates) == block_names()
    assert gates["conv2.0"].shape == (3, 4, 32)  # mid width of conv2 at x0.5 = 128 / 4
    assert gates["conv4.1"].shape == (3, 4, 64)
    assert all(torch.all((g > 0) & (g < 1)) for g in gates.values())
    # recording is switched off again and leaves nothing behind
    assert all(not b.record_gates and b.last_gates is None for b in model.os_blocks().values())
    one = model.gate_vectors(torch.randn(2, 3, 128, 64), blocks=["conv4.1"])
    assert list(one) == ["conv4.1"]


def test_gate_vectors_bad_requests():
    with pytest.raises(ValueError, match="unknown block 'conv5.0'"):
        build_model("osnet_x0_25").gate_vectors(torch.randn(1, 3, 64, 32), ["conv5.0"])
    with pytest.raises(ValueError, match="no gates"):
        build_model("osnet_x0_25", fusion="concat").gate_vectors(torch.randn(1, 3, 64, 32))


def test_genotypes_of_osnet_ibn_and_osnet_ain():
    ain = build_model("osnet_ain_x1_0")
    kinds = [b.instance_norm for b in ain.os_blocks().values()]
    labels = {"in": "OS+IN_in", "none": "OS"}
    assert tuple(labels[k] for k in kinds) == TABLE1["osnet_ain_blocks"]
    assert isinstance(ain.conv1.norm, torch.nn.InstanceNorm2d)
    ibn = build_model("osnet_ibn_x1_0")
    assert [b.instance_norm for b in ibn.os_blocks().values()] == list(OSNET_IBN.blocks)
    assert isinstance(ibn.conv1.norm, torch.nn.InstanceNorm2d)
    plain = build_model("osnet_x1_0")
    assert isinstance(plain.conv1.norm, torch.nn.BatchNorm2d)
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in plain.modules())


def test_any_per_block_in_choice_builds_a_network():
    choice = ("in_out", "none", "out", "in", "none", "in_out")
    model = build_model("osnet_x0_25", num_classes=3, genotype=choice)
    assert tuple(b.instance_norm for b in model.os_blocks().values()) == choice
    assert not model.genotype.conv1_in
    model = build_model("osnet_x0_25", genotype=Genotype(choice, conv1_in=True))
    assert isinstance(model.conv1.norm, torch.nn.InstanceNorm2d)
    model = build_model("osnet_x0_25", genotype={"blocks": list(choice), "conv1_in": True})
    assert model.genotype == Genotype(choice, True)


def test_genotype_table_save_load(tmp_path):
    text = OSNET_AIN.table()
    assert text.splitlines()[0].endswith("7x7 conv (IN)")
    assert text.count("OS+IN_in block") == 4 and len(text.splitlines()) == 7
    OSNET_AIN.save(tmp_path / "g.json")
    assert Genotype.load(tmp_path / "g.json") == OSNET_AIN
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Genotype.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Genotype.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"layers": 3}))
    with pytest.raises(ValueError, match="not a genotype"):
        Genotype.load(tmp_path / "other.json")


def test_bad_genotypes_are_named():
    with pytest.raises(ValueError, match="6 block choices"):
        Genotype(("in",) * 5)
    with pytest.raises(ValueError, match="conv3.0: 'bn'"):
        Genotype(("none", "none", "bn", "none", "none", "none"))


@pytest.mark.parametrize("number", sorted(TABLE5))
def test_gradient_flows_through_every_table5_network(number):
    torch.manual_seed(number)
    model = build_model("osnet_x0_5", num_classes=4, **TABLE5[number][-1])
    x = torch.randn(4, 3, 64, 32)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    without = [n for n, p in model.named_parameters() if p.grad is None]
    assert without == []
    # every block's streams receive gradient
    for block in model.modules():
        if isinstance(block, OSBlock):
            for stream in block.streams:
                assert stream[0].norm.weight.grad.abs().sum() > 0


def test_osnet_constructor_validates():
    with pytest.raises(ValueError, match="num_classes"):
        OSNet(num_classes=False)  # a bool is not a class count
    with pytest.raises(ValueError, match="num_classes"):
        OSNet(num_classes=2.5)


def test_a_model_name_parses_into_family_and_width_and_back():
    for name in list_models():
        parsed = parse_model_name(name)
        assert parsed.name == str(parsed) == name
        assert model_name(parsed.family, parsed.width) == name
        assert model_name(parsed.family, parsed.width_mult) == name
        assert parsed.width_mult == get_model_spec(name).width_mult
        assert build_model(name).width_mult == parsed.width_mult
    assert parse_model_name("osnet_ain_x0_25") == ModelName("osnet_ain", "x0_25", 0.25)
    assert parse_model_name("osnet_x1_0") == ModelName("osnet", "x1_0", 1.0)
    assert sorted(FAMILIES) == ["osnet", "osnet_ain", "osnet_ibn"]


def test_unknown_name_parts_raise_with_close_matches():
    with pytest.raises(ValueError, match="Did you mean 'osnet_ain_x0_25'") as err:
        parse_model_name("osnet_ain_x025")
    assert "osnet_ibn_x1_0" in str(err.value)  # the valid names follow
    with pytest.raises(ValueError, match="unknown model family 'osnet_aim'.*'osnet_ain'"):
        model_name("osnet_aim", "x1_0")
    with pytest.raises(ValueError, match="unknown model width 'x0_3'.*Valid names: x1_0"):
        model_name("osnet", "x0_3")
    with pytest.raises(ValueError, match="width multiplier 0.3"):
        model_name("osnet", 0.3)
    with pytest.raises(TypeError, match="a model name is a string"):
        parse_model_name(["osnet", "x1_0"])


def _init_digest(name: str, options: dict) -> str:
    import hashlib

    torch.manual_seed(0)
    model = build_model(name, 7, **options)
    h = hashlib.sha256()
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def test_osnet_builds_as_before_the_baselines_came():
    """The evidence of the store's code-equivalence declaration (experiments.study.
    EQUIVALENT_CODE): every registered OSNet and every Table 5 variant builds exactly the
    weights it built before the torchvision baselines joined the registry (digests recorded
    then, in tests/fixtures/osnet_init_digests.json)."""
    from pathlib import Path

    recorded = json.loads((Path(__file__).parent / "fixtures" / "osnet_init_digests.json")
                          .read_text())
    if not torch.__version__.startswith(recorded["torch"]):
        pytest.skip(f"digests recorded with torch {recorded['torch']}")
    cases = [(n, {}) for n in list_models()]
    cases += [("osnet_x0_25", dict(row[-1])) for row in TABLE5.values() if row[-1]]
    assert len(recorded["digests"]) == len(cases)
    for name, options in cases:
        key = name + ("|" + ",".join(f"{k}={v}" for k, v in sorted(options.items()))
                      if options else "")
        assert _init_digest(name, options) == recorded["digests"][key], key
