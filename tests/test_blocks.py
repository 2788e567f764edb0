"""The omni-scale block (Eq. 1-3, Fig. 4), its Table 5 variants and the IN candidates of Fig. 5."""

import dataclasses
import typing

import pytest
import torch
from conftest import BLOCK_VARIANTS, randomise_norms

from osnet_lib.blocks import IN_CANDIDATES, BlockOptions, OSBlock
from osnet_lib.complexity import count_params
from osnet_lib.layers import LiteConv3x3, StaticGate
from osnet_lib.paper import TABLE5

TABLE5_OPTIONS = {number: row[-1] for number, row in TABLE5.items()}


def _grads_reach_every_parameter(module, x):
    module.zero_grad()
    out = module(x)
    (out * torch.randn_like(out)).sum().backward()
    return [n for n, p in module.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]


@pytest.mark.parametrize("number", sorted(TABLE5_OPTIONS))
def test_every_table5_variant_builds_runs_and_trains(number):
    torch.manual_seed(number)
    # 256 output channels: mid width 64, gate hidden width 4 (a 1-unit hidden layer can be dead)
    block = OSBlock(32, 256, BlockOptions(**TABLE5_OPTIONS[number]))
    x = torch.randn(4, 32, 12, 6)
    assert block(x).shape == (4, 256, 12, 6)
    assert _grads_reach_every_parameter(block, x) == []


@pytest.mark.parametrize("placement", IN_CANDIDATES)
def test_every_in_candidate_builds_runs_and_trains(placement):
    torch.manual_seed(1)
    block = OSBlock(64, 256, instance_norm=placement)
    x = torch.randn(3, 64, 8, 4)
    assert block(x).shape == (3, 256, 8, 4)
    assert _grads_reach_every_parameter(block, x) == []


def test_streams_follow_the_exponent_t():
    block = OSBlock(64, 64)
    assert [len(s) for s in block.streams] == [1, 2, 3, 4]
    assert all(isinstance(layer, LiteConv3x3) for s in block.streams for layer in s)
    assert block.conv1.conv.out_channels == 16  # bottleneck: out / 4
    assert [len(s) for s in OSBlock(64, 64, BlockOptions(T=2)).streams] == [1, 2]
    assert [len(s) for s in OSBlock(64, 64, BlockOptions(same_depth=3)).streams] == [3, 3, 3, 3]


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_stream_t_has_receptive_field_2t_plus_1(t):
    """Measured from gradients: the centre output of stream t sees a (2t+1)x(2t+1) window."""
    torch.manual_seed(0)
    block = OSBlock(16, 16).eval()
    x = torch.randn(1, 4, 21, 21, requires_grad=True)
    out = block.streams[t - 1](x)
    out[0, :, 10, 10].sum().backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)))
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)))
    assert int(rows.max() - rows.min()) + 1 == 2 * t + 1
    assert int(cols.max() - cols.min()) + 1 == 2 * t + 1


def test_unified_gate_size_is_independent_of_T_and_separate_gates_are_not():
    def gate_params(**opts):
        return count_params(OSBlock(64, 64, BlockOptions(**opts)).gates)

    assert gate_params(T=1) == gate_params(T=2) == gate_params(T=4)
    assert gate_params(gate_sharing="separate") == 4 * gate_params()
    assert len(OSBlock(64, 64, BlockOptions(fusion="static")).gates) == 4
    assert isinstance(OSBlock(64, 64, BlockOptions(fusion="static")).gates[0], StaticGate)
    assert OSBlock(64, 64, BlockOptions(fusion="add")).gates is None


def test_fusion_by_concatenation_widens_the_last_1x1():
    block = OSBlock(64, 128, BlockOptions(fusion="concat"))
    assert block.conv3.conv.in_channels == 4 * 32


def test_fusion_by_addition_is_the_plain_sum_of_eq2():
    torch.manual_seed(0)
    block = OSBlock(32, 32, BlockOptions(fusion="add")).eval()
    streams = [torch.randn(2, 8, 4, 4) for _ in range(4)]
    torch.testing.assert_close(block.fuse(streams), sum(streams))


def test_gated_fusion_is_eq3_with_one_shared_gate():
    torch.manual_seed(0)
    block = OSBlock(32, 32).eval()
    streams = [torch.randn(2, 8, 4, 4) for _ in range(4)]
    expected = sum(block.gates[0](s) * s for s in streams)
    torch.testing.assert_close(block.fuse(streams), expected)


def test_gate_recording_shapes():
    block = OSBlock(64, 64, BlockOptions(gate_granularity="stream"))
    block.record_gates = True
    block(torch.randn(2, 64, 8, 4))
    assert block.last_gates.shape == (2, 4, 1)


def test_in_candidates_put_instance_norm_where_fig5_says():
    none, inner, outer, both = (OSBlock(64, 64, instance_norm=p) for p in IN_CANDIDATES)
    assert none.in_inner is None and none.in_outer is None and none.conv3.norm is not None
    assert inner.in_inner is not None and inner.in_outer is None and inner.conv3.norm is None
    assert outer.in_inner is None and outer.in_outer is not None and outer.conv3.norm is not None
    assert both.in_inner is not None and both.in_outer is not None


def test_in_out_normalises_each_image_after_the_addition():
    """With IN after the addition (Fig. 5c), each image's channels leave the addition with zero
    spatial mean (the affine parameters start at weight 1, bias 0)."""
    torch.manual_seed(0)
    block = OSBlock(16, 16, instance_norm="out").eval()
    captured = {}
    block.in_outer.register_forward_hook(lambda m, i, o: captured.setdefault("o", o))
    block(torch.randn(2, 16, 8, 8))
    o = captured["o"]
    torch.testing.assert_close(o.mean(dim=(2, 3)), torch.zeros(2, 16), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "opts,match",
    [
        ({"T": 0}, "T must be a positive integer"),
        ({"T": 2.5}, "T must be a positive integer"),
        ({"conv": "separable"}, "conv='separable'"),
        ({"fusion": "max"}, "fusion='max'"),
        ({"gate_sharing": "shared"}, "gate_sharing"),
        ({"gate_granularity": "pixel"}, "gate_granularity"),
        ({"fusion": "add", "gate_sharing": "separate"}, "only to fusion='gate'"),
        ({"same_depth": 0}, "same_depth"),
        ({"gate_reduction": -1}, "gate_reduction"),
    ],
)
def test_bad_block_options_are_named(opts, match):
    with pytest.raises(ValueError, match=match):
        BlockOptions(**opts)


def test_bad_block_arguments_are_named():
    with pytest.raises(ValueError, match="instance_norm='before'"):
        OSBlock(64, 64, instance_norm="before")
    with pytest.raises(ValueError, match="out_channels=30"):
        OSBlock(64, 30)


def test_block_variants_cover_every_option_and_choice():
    """BLOCK_VARIANTS, which the tests of the block's pieces (and of the search's mixed block)
    sweep, must exercise every field of BlockOptions and every value of every choice: a new
    option fails here until a variant uses it."""
    defaults = BlockOptions()
    for f in dataclasses.fields(BlockOptions):
        used = {v[f.name] for v in BLOCK_VARIANTS.values() if f.name in v}
        if typing.get_origin(f.type) is typing.Literal:
            missing = set(typing.get_args(f.type)) - used - {getattr(defaults, f.name)}
            assert not missing, f"no block variant uses {f.name}={sorted(missing)}"
        else:
            assert used - {getattr(defaults, f.name)}, f"no block variant changes {f.name}"
    for options in BLOCK_VARIANTS.values():
        BlockOptions(**options)  # every variant is valid


@pytest.mark.parametrize("variant", sorted(BLOCK_VARIANTS))
def test_forward_is_the_merge_of_the_shortcut_and_the_residual(variant):
    """The public pieces of the block are what its forward pass computes: the output of the
    last 1x1 convolution (read by a hook during forward) is ``residual(x, before_norm=True)``,
    and merging the shortcut with the normalised residual gives the block's output, for every
    IN candidate."""
    options = BlockOptions(**BLOCK_VARIANTS[variant])
    x = torch.randn(2, 32, 8, 4)
    for c in IN_CANDIDATES:
        torch.manual_seed(0)
        block = randomise_norms(OSBlock(32, 64, options, c), seed=1).eval()
        seen = {}
        block.conv3.conv.register_forward_hook(
            lambda m, i, o, seen=seen: seen.setdefault("conv3", o))
        with torch.no_grad():
            y = block(x)
            pre = block.residual(x, before_norm=True)
            torch.testing.assert_close(pre, seen["conv3"])
            torch.testing.assert_close(block.normalise_residual(pre), block.residual(x))
            merged = block.merge(block.shortcut(x), block.normalise_residual(pre), block.in_outer)
        torch.testing.assert_close(merged, y)
        assert (block.in_inner is not None) == (c in ("in", "in_out"))
        assert (block.in_outer is not None) == (c in ("out", "in_out"))
