"""The differentiable IN search (Sec. 3.3, Eq. 5-15, Sec. 4.2)."""

import json

import pytest
import torch
from conftest import BLOCK_VARIANTS, randomise_norms

from osnet_lib.blocks import IN_CANDIDATES, BlockOptions, OSBlock
from osnet_lib.data import read_market1501_layout
from osnet_lib.models import Genotype, block_names, build_model
from osnet_lib.recipes import get_recipe
from osnet_lib.search import (
    MixedBlock,
    SearchTrainer,
    build_supernet,
    derive_child,
    gumbel_softmax,
    plot_arch_history,
    select_run,
)


def test_gumbel_softmax_is_a_relaxed_one_hot_sample():
    torch.manual_seed(0)
    logits = torch.tensor([0.5, -1.0, 2.0, 0.0], requires_grad=True)
    alpha = gumbel_softmax(logits, temperature=1.0)
    assert alpha.sum().item() == pytest.approx(1.0) and torch.all(alpha > 0)
    (alpha * torch.arange(4.0)).sum().backward()
    assert logits.grad.abs().sum() > 0  # differentiable in pi


def test_low_temperature_approaches_one_hot_and_argmax_follows_softmax_pi():
    torch.manual_seed(0)
    logits = torch.tensor([0.0, 1.0, -0.5, 0.5])
    peak = {t: torch.stack([gumbel_softmax(logits, t) for _ in range(500)]).max(1).values.mean()
            for t in (10.0, 1.0, 0.1, 0.01, 0.001)}
    assert peak[10.0] < peak[1.0] < peak[0.1] < peak[0.01] <= peak[0.001]
    assert peak[10.0] < 0.35 and peak[0.001] > 0.995
    # P(argmax = w) = softmax(pi)_w (Eq. 7): the Gumbel-max trick
    draws = torch.stack([gumbel_softmax(logits, 1.0) for _ in range(20000)]).argmax(1)
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    torch.testing.assert_close(freq, torch.softmax(logits, 0), atol=0.015, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        gumbel_softmax(logits, 0.0)


def test_mixed_block_candidates_are_the_fig5_blocks():
    """Each candidate computes what an OSBlock with that IN placement computes."""
    torch.manual_seed(0)
    mixed = MixedBlock(32, 64).eval()
    x = torch.randn(2, 32, 8, 4)
    outs = mixed.candidates(x)
    for c in IN_CANDIDATES:
        block = OSBlock(32, 64, instance_norm=c).eval()
        state = {k[len("os."):]: v for k, v in mixed.state_dict().items() if k.startswith("os.")}
        if c in ("in", "in_out"):
            state = {k: v for k, v in state.items() if not k.startswith("conv3.norm.")}
            state.update({f"in_inner.{k}": v for k, v in mixed.in_inner[c].state_dict().items()})
        if c in ("out", "in_out"):
            state.update({f"in_outer.{k}": v for k, v in mixed.in_outer[c].state_dict().items()})
        block.load_state_dict(state)
        torch.testing.assert_close(outs[c], block(x))


@pytest.mark.parametrize("channels", [(32, 64), (64, 64)], ids=["projection", "identity"])
@pytest.mark.parametrize("variant", sorted(BLOCK_VARIANTS))
def test_mixed_block_in_argmax_mode_is_the_os_block_of_its_choice(variant, channels):
    """For every block variant (Table 5 and the other BlockOptions) and every IN candidate, the
    supernet's mixed block in argmax mode computes what an OSBlock with that instance_norm
    computes on the same weights (loaded strictly), in training and in evaluation mode; in
    softmax mode it is the softmax(pi)-weighted sum of those four blocks (Eq. 5)."""
    options = BlockOptions(**BLOCK_VARIANTS[variant])
    torch.manual_seed(0)
    mixed = randomise_norms(MixedBlock(*channels, options), seed=1)
    x = torch.randn(3, channels[0], 8, 4)
    blocks = {}
    for c in IN_CANDIDATES:
        block = OSBlock(*channels, options, instance_norm=c)
        block.load_state_dict(mixed.candidate_state_dict(c))  # strict: the same parameters
        blocks[c] = block
        mixed.mode = "argmax"
        with torch.no_grad():
            mixed.pi.copy_(torch.nn.functional.one_hot(torch.tensor(IN_CANDIDATES.index(c)),
                                                       len(IN_CANDIDATES)).float())
        for training in (False, True):
            mixed.train(training)
            block.train(training)
            with torch.no_grad():
                torch.testing.assert_close(mixed(x), block(x), msg=f"candidate {c}, "
                                           f"training={training}")
    mixed.eval().mode = "softmax"
    for c, block in blocks.items():  # the training passes above moved the running statistics
        block.load_state_dict(mixed.candidate_state_dict(c))
    with torch.no_grad():
        mixed.pi.copy_(torch.randn(len(IN_CANDIDATES)))
        weights = torch.softmax(mixed.pi, 0)
        expected = sum(w * blocks[c].eval()(x) for w, c in zip(weights, IN_CANDIDATES))
        torch.testing.assert_close(mixed(x), expected)


def test_candidate_state_dict_rejects_an_unknown_candidate():
    with pytest.raises(ValueError, match="unknown candidate 'in_in'"):
        MixedBlock(16, 16).candidate_state_dict("in_in")


def test_relaxation_gradient_reaches_pi_and_theta():
    torch.manual_seed(0)
    mixed = MixedBlock(32, 64)
    mixed.temperature = 1.0
    mixed(torch.randn(4, 32, 8, 4)).pow(2).mean().backward()
    assert mixed.pi.grad is not None and mixed.pi.grad.abs().sum() > 0
    assert mixed.os.conv1.conv.weight.grad.abs().sum() > 0
    assert mixed.in_inner["in"].weight.grad.abs().sum() > 0


def test_mixed_block_modes():
    mixed = MixedBlock(16, 16)
    with torch.no_grad():
        mixed.pi.copy_(torch.tensor([0.0, 0.0, 3.0, 0.0]))
    mixed.mode = "argmax"
    assert mixed.alpha().tolist() == [0, 0, 1, 0]
    mixed.mode = "softmax"
    torch.testing.assert_close(mixed.alpha(), torch.softmax(mixed.pi, 0))
    mixed.mode = "greedy"
    with pytest.raises(ValueError, match="unknown mode"):
        mixed.alpha()
    with pytest.raises(ValueError, match="searches the IN placement"):
        MixedBlock(16, 16, instance_norm="in")


def test_supernet_and_its_derived_child():
    torch.manual_seed(0)
    net = build_supernet("osnet_x0_25", num_classes=5)
    assert len(net.arch_parameters()) == 6
    names = dict(net.named_parameters())
    assert all(n in names for n in net.no_weight_decay())
    chosen = ("in", "none", "out", "in_out", "in", "none")
    with torch.no_grad():
        for p, c in zip(net.arch_parameters(), chosen):
            p.zero_()
            p[IN_CANDIDATES.index(c)] = 1.0
    genotype = net.derived_genotype()
    assert genotype == Genotype(chosen, conv1_in=True)
    child = derive_child(net, num_classes=5, inherit_weights=True)
    assert [b.instance_norm for b in child.os_blocks().values()] == list(chosen)
    reference = build_model("osnet_x0_25", 5, genotype=genotype)
    assert child.state_dict().keys() == reference.state_dict().keys()  # no leftovers
    # with inherited weights the child computes what the supernet computes in argmax mode
    net.eval().set_mode("argmax")
    child.eval()
    x = torch.randn(2, 3, 64, 32)
    torch.testing.assert_close(child.embed(x), net.embed(x), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown mode"):
        net.set_mode("random")
    with pytest.raises(ValueError, match="temperature"):
        net.set_temperature(-1)


def test_select_run_by_cross_domain_rank1_then_map():
    runs = [{"metrics": {"B": {"rank1": 0.5, "mAP": 0.3}}},
            {"metrics": {"B": {"rank1": 0.6, "mAP": 0.2}}},
            {"metrics": {"B": {"rank1": 0.6, "mAP": 0.25}}}]
    assert select_run(runs, "B") == 2
    with pytest.raises(ValueError, match="no result on 'C'"):
        select_run(runs, "C")
    with pytest.raises(ValueError, match="no search runs"):
        select_run([], "B")


@pytest.fixture(scope="module")
def tiny(tiny_market):
    return read_market1501_layout(tiny_market, name="tiny")


def _search(tiny, out, seed):
    recipe = get_recipe("search", "quick", batch_size=8, num_workers=0)
    return SearchTrainer(recipe, tiny, out, seed=seed, progress=False).fit()


def test_quick_search_is_deterministic_and_recorded(tiny, tmp_path):
    # (its speed is measured by benchmarks/, never asserted: a shared machine makes a wall-clock
    # bound flaky)
    a = _search(tiny, tmp_path / "a", seed=0)
    b = _search(tiny, tmp_path / "b", seed=0)
    assert a["genotype"] == b["genotype"]
    assert a["arch_history"] == b["arch_history"]
    history = a["arch_history"]
    recipe = get_recipe("search", "quick")
    assert len(history) == recipe.epochs and set(history[0]) == set(block_names())
    assert all(sum(p) == pytest.approx(1.0) for p in history[-1].values())
    assert history[0] != history[-1]  # pi moved
    assert [h["temperature"] for h in a["history"]] == [recipe.temperature_at(e)
                                                         for e in range(recipe.epochs)]
    saved = Genotype.load(tmp_path / "a" / "genotype.json")
    assert saved.to_dict() == a["genotype"]
    assert json.loads((tmp_path / "a" / "results.json").read_text())["genotype"] == a["genotype"]


def test_plot_arch_history_draws_every_block_and_candidate():
    import matplotlib

    matplotlib.use("Agg")
    history = [{b: [0.25, 0.25, 0.25, 0.25] for b in block_names()},
               {b: [0.1, 0.6, 0.2, 0.1] for b in block_names()}]
    fig = plot_arch_history(history, temperatures=[10.0, 5.0])
    panels = fig.axes[:len(block_names())]
    assert [ax.get_title() for ax in panels] == block_names()
    lines = panels[0].get_lines()
    assert len(lines) == len(IN_CANDIDATES)
    assert list(lines[1].get_ydata()) == [0.25, 0.6]  # the OS+IN_in curve of conv2.0
    assert len(fig.axes) == len(block_names()) + 1  # the temperature axis
    with pytest.raises(ValueError, match="empty"):
        plot_arch_history([])
    with pytest.raises(ValueError, match="3 probabilities for 4 candidates"):
        plot_arch_history([{"conv2.0": [0.2, 0.3, 0.5]}])
    with pytest.raises(ValueError, match="epoch 2 records blocks"):
        plot_arch_history([history[0], {"conv2.0": [0.25] * 4}])
    with pytest.raises(ValueError, match="1 temperatures for 2 epochs"):
        plot_arch_history(history, temperatures=[1.0])


def test_search_needs_a_search_recipe(tiny, tmp_path):
    with pytest.raises(ValueError, match="no temperature schedule"):
        SearchTrainer(get_recipe("scratch", "quick", batch_size=8), tiny, tmp_path)


def test_search_over_seeds_selects_on_the_held_out_target(tiny_market, tmp_path, capsys):
    from osnet_lib.__main__ import main

    assert main(["search", "--profile", "quick", "--dataset", "market1501", "--target",
                 "market1501", "--data-root", str(tiny_market), "--seeds", "0", "1",
                 "--epochs", "1", "--batch-size", "8", "--set", "num_workers=0", "--quiet",
                 "--output", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "search.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [0, 1]
    best = select_run(summary["runs"], "market1501")
    assert summary["selected_seed"] == best
    assert Genotype.load(tmp_path / "genotype.json").to_dict() == summary["genotype"]
    assert "OS" in capsys.readouterr().out
