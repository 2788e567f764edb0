"""Differentiable search for instance normalisation: OSNet-AIN (Sec. 3.3, Eq. 5-15, Sec. 4.2).

The supernet is OSNet whose six OS blocks (conv2-conv4) are :class:`MixedBlock` s: each holds
the four candidates of Fig. 5 (OS, OS+IN_in, OS+IN_out, OS+IN_in-out) and an architecture
parameter vector ``pi`` (Eq. 7). A forward pass mixes the candidates' outputs with weights
``alpha`` drawn by the Gumbel-softmax relaxation of Eq. 8 at temperature ``lambda``:

    alpha_w = exp((log p_w + z_w) / lambda) / sum_w' exp((log p_w' + z_w') / lambda),
    p = softmax(pi),  z_w = -log(-log(u_w)),  u_w ~ Uniform(0, 1),

so that the loss is differentiable in both the weights theta and ``pi``, which are trained
jointly, end to end (Eq. 9-15; ``recipe.mc_samples`` is S). The temperature starts at 10 and is
halved every 20 epochs down to 1.7 (:meth:`osnet_lib.recipes.Recipe.temperature_at`). At the end
the argmax of each block's ``pi`` gives a :class:`~osnet_lib.models.Genotype`, and the child
network is built by the model registry like any other model. Taught in the search chapter.

Decisions where the paper is silent:

- The candidates of a block share the OS residual (its 1x1 layers, streams and gate), since
  they differ only in where instance normalisation sits ("we keep the residual learning module
  unchanged", Sec. 3.3); each candidate has its own IN layers. The IN_in candidates read the
  last 1x1 convolution before its BatchNorm, as the released OSNet-AIN does.
- The stem's normalisation is not searched (the search space has 4^6 = 4096 members, Sec. 4.2):
  it is an InstanceNorm, as in the released OSNet-AIN.
- The architecture parameters get no weight decay.
"""

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from osnet_lib.blocks import IN_CANDIDATES, BlockOptions, OSBlock
from osnet_lib.data import ReIDDataset
from osnet_lib.engine import Trainer
from osnet_lib.models import (
    FEATURE_DIM,
    Genotype,
    OSNet,
    block_names,
    build_model,
    model_name,
    parse_model_name,
)
from osnet_lib.provenance import write_json_atomic
from osnet_lib.recipes import Recipe

log = logging.getLogger(__name__)

#: How a mixed block weighs its candidates: a Gumbel-softmax sample (training), the argmax of
#: pi (the derived network) or softmax(pi) (the expectation).
MODES: tuple[str, ...] = ("sample", "argmax", "softmax")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    return mode


def _check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return float(temperature)


def gumbel_softmax(logits: torch.Tensor, temperature: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. 8: a relaxed one-hot sample from the categorical distribution ``softmax(logits)``
    (Eq. 7) at temperature ``temperature``; differentiable in ``logits``."""
    _check_temperature(temperature)
    u = torch.rand(logits.shape, generator=generator, device=logits.device,
                   dtype=logits.dtype).clamp_(1e-10, 1 - 1e-10)
    z = -torch.log(-torch.log(u))
    return F.softmax((F.log_softmax(logits, dim=-1) + z) / temperature, dim=-1)


class MixedBlock(nn.Module):
    """One layer of the search space (Fig. 5): ``y = sum_w alpha_w w(x)`` over the four IN
    candidates (Eq. 5), with ``alpha`` relaxed by :func:`gumbel_softmax`.

    ``mode`` is ``"sample"`` (a fresh Gumbel-softmax sample per forward pass: training),
    ``"argmax"`` (the one-hot choice of the largest ``pi``: the derived network) or
    ``"softmax"`` (the expectation ``softmax(pi)``).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 options: BlockOptions | None = None, instance_norm: str = "none") -> None:
        super().__init__()
        if instance_norm != "none":
            raise ValueError("a mixed block searches the IN placement itself; "
                             f"got instance_norm={instance_norm!r}")
        self.os = OSBlock(in_channels, out_channels, options, "none")
        self.in_inner = nn.ModuleDict({c: nn.InstanceNorm2d(out_channels, affine=True)
                                       for c in ("in", "in_out")})
        self.in_outer = nn.ModuleDict({c: nn.InstanceNorm2d(out_channels, affine=True)
                                       for c in ("out", "in_out")})
        self.pi = nn.Parameter(torch.zeros(len(IN_CANDIDATES)))
        self.temperature = 10.0
        self.mode = "sample"
        self.last_alpha: torch.Tensor | None = None

    @property
    def gates(self):  # so that OSNet.gate_vectors works on the supernet too
        return self.os.gates

    def alpha(self) -> torch.Tensor:
        """The weights of the candidates, ``(4,)`` in the order of IN_CANDIDATES, as
        :attr:`mode` says."""
        _check_mode(self.mode)
        if self.mode == "sample":
            return gumbel_softmax(self.pi, self.temperature)
        if self.mode == "argmax":
            return F.one_hot(self.pi.argmax(), len(IN_CANDIDATES)).to(self.pi.dtype)
        return F.softmax(self.pi, dim=0)

    def candidates(self, x: torch.Tensor,
                   which: Sequence[str] = IN_CANDIDATES) -> dict[str, torch.Tensor]:
        """The outputs of the candidates of Fig. 5 (all four by default) for input x, each
        ``(N, out_channels, H, W)``. The OS residual is computed once, by the shared
        :class:`~osnet_lib.blocks.OSBlock`'s own pieces, and each candidate adds its IN layers:
        IN_in on the last 1x1 convolution before its BatchNorm, IN_out after the addition."""
        b = self.os
        conv_out = b.residual(x, before_norm=True)
        identity = b.shortcut(x)
        out = {}
        for c in which:
            residual = (self.in_inner[c](conv_out) if c in self.in_inner
                        else b.normalise_residual(conv_out))
            out[c] = b.merge(identity, residual,
                             self.in_outer[c] if c in self.in_outer else None)
        return out

    def candidate_state_dict(self, candidate: str) -> dict[str, torch.Tensor]:
        """The weights of ``candidate`` as the state dict of an
        ``OSBlock(in_channels, out_channels, options, instance_norm=candidate)``: the shared OS
        residual plus that candidate's IN layers (the IN_in candidates have no BatchNorm after
        the last 1x1 convolution)."""
        if candidate not in IN_CANDIDATES:
            raise ValueError(f"unknown candidate {candidate!r}; expected one of {IN_CANDIDATES}")
        state = dict(self.os.state_dict())
        if candidate in self.in_inner:
            state = {k: v for k, v in state.items() if not k.startswith("conv3.norm.")}
            state.update({f"in_inner.{k}": v
                          for k, v in self.in_inner[candidate].state_dict().items()})
        if candidate in self.in_outer:
            state.update({f"in_outer.{k}": v
                          for k, v in self.in_outer[candidate].state_dict().items()})
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha()
        self.last_alpha = alpha.detach()
        if self.mode == "argmax":
            choice = IN_CANDIDATES[int(alpha.argmax())]
            return self.candidates(x, [choice])[choice]
        outs = self.candidates(x)
        return torch.stack([a * outs[c] for a, c in zip(alpha, IN_CANDIDATES)]).sum(0)


class SuperNet(OSNet):
    """OSNet with a :class:`MixedBlock` in place of each OS block (the over-parameterised
    network of Sec. 4.2). Build it with :func:`build_supernet`."""

    def mixed_blocks(self) -> dict[str, MixedBlock]:
        return {name: cast(MixedBlock, self.get_submodule(name)) for name in block_names()}

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture parameters pi of every block."""
        return [b.pi for b in self.mixed_blocks().values()]

    def no_weight_decay(self) -> set[str]:
        return {f"{name}.pi" for name in block_names()}

    def set_temperature(self, temperature: float) -> None:
        temperature = _check_temperature(temperature)
        for b in self.mixed_blocks().values():
            b.temperature = temperature

    def set_mode(self, mode: str) -> None:
        _check_mode(mode)
        for b in self.mixed_blocks().values():
            b.mode = mode

    def probabilities(self) -> dict[str, list[float]]:
        """softmax(pi) of every block (Eq. 7), by block name, in the order of IN_CANDIDATES."""
        return {n: F.softmax(b.pi.detach(), 0).tolist() for n, b in self.mixed_blocks().items()}

    def derived_genotype(self) -> Genotype:
        """The derived architecture: the candidate with the largest pi in each block (Sec. 3.3,
        "Search Outcome"), with the stem's IN of OSNet-AIN."""
        return Genotype(tuple(IN_CANDIDATES[int(b.pi.argmax())]
                              for b in self.mixed_blocks().values()), conv1_in=True)


def build_supernet(model: str = "osnet_x1_0", num_classes: int = 0,
                   **options: Any) -> SuperNet:
    """The supernet at the width of a registered model name (e.g. ``"osnet_x0_25"``; the
    family is not used: the supernet searches where instance normalisation goes)."""
    width_mult = parse_model_name(model).width_mult
    feature_dim = options.pop("feature_dim", FEATURE_DIM)
    # the genotype argument fixes what is not searched: the stem's InstanceNorm
    return SuperNet(num_classes, width_mult, BlockOptions(**options),
                    Genotype(conv1_in=True), feature_dim, block=MixedBlock)


def derive_child(supernet: SuperNet, num_classes: int = 0, inherit_weights: bool = False,
                 name: str | None = None) -> OSNet:
    """Build the derived network through the registry. With ``inherit_weights`` the child starts
    from the supernet's weights of the chosen candidates (the paper retrains it instead)."""
    name = name or model_name("osnet", supernet.width_mult)
    options = {f: getattr(supernet.block_options, f) for f in BlockOptions.field_names()}
    child = build_model(name, num_classes, genotype=supernet.derived_genotype(), **options)
    if inherit_weights:
        child.load_state_dict(_child_state(supernet, child), strict=False)
    return child


def _child_state(supernet: SuperNet, child: OSNet) -> dict[str, torch.Tensor]:
    """The supernet's weights under the child's names: every block's chosen candidate
    (:meth:`MixedBlock.candidate_state_dict`), and the layers outside the blocks as they are."""
    source = supernet.state_dict()
    target = child.state_dict()
    for name, c in zip(block_names(), supernet.derived_genotype().blocks):
        block: MixedBlock = supernet.get_submodule(name)  # type: ignore[assignment]
        block_state = block.candidate_state_dict(c)
        source.update({f"{name}.{k}": v for k, v in block_state.items()})
    return {k: source[k] for k in target if k in source and source[k].shape == target[k].shape}


class SearchTrainer(Trainer):
    """The search of Sec. 4.2: the engine's loop on a supernet, with the temperature schedule
    and a record of softmax(pi) per block after every epoch (``history[i]["arch"]``)."""

    def __init__(self, recipe: Recipe, train_set: ReIDDataset, output_dir: str | Path,
                 eval_sets: Mapping[str, ReIDDataset] | None = None, seed: int = 0,
                 device: str | torch.device = "auto", progress: bool = True,
                 model_options: Mapping[str, Any] | None = None) -> None:
        if recipe.temperature is None:
            raise ValueError(f"recipe {recipe.name!r} has no temperature schedule; use the "
                             "'search' recipe")
        torch.manual_seed(seed)
        supernet = build_supernet(recipe.model, train_set.num_train_pids, **(model_options or {}))
        super().__init__(recipe, train_set, output_dir, eval_sets=eval_sets, seed=seed,
                         device=device, progress=progress, model=supernet,
                         model_options=model_options)

    @property
    def supernet(self) -> SuperNet:
        return self.net  # type: ignore[return-value]

    def on_epoch_start(self, epoch: int) -> None:
        self.supernet.set_mode("sample")
        self.supernet.set_temperature(self.recipe.temperature_at(epoch))

    def on_epoch_end(self, epoch: int, stats: dict[str, Any]) -> None:
        stats["temperature"] = self.recipe.temperature_at(epoch)
        stats["arch"] = self.supernet.probabilities()

    def evaluate(self) -> dict[str, dict[str, Any]]:
        """Evaluate the derived architecture inside the supernet (argmax of each pi)."""
        self.supernet.set_mode("argmax")
        try:
            return super().evaluate()
        finally:
            self.supernet.set_mode("sample")

    def fit(self, resume: bool = False, force: bool = False) -> dict[str, Any]:
        results = super().fit(resume=resume, force=force)
        if self.dist.is_main:
            genotype = self.supernet.derived_genotype()
            genotype.save(self.output_dir / "genotype.json")
            results["genotype"] = genotype.to_dict()
            results["arch_history"] = [h["arch"] for h in self.history]
            write_json_atomic(self.output_dir / "results.json", results)
        return results


def plot_arch_history(arch_history: Sequence[Mapping[str, Sequence[float]]],
                      temperatures: Sequence[float] | None = None, title: str | None = None):
    """How the search made up its mind: softmax(pi) (Eq. 7) of each block after every epoch,
    one panel per block, one line per candidate of Fig. 5 (the ``arch_history`` of a search's
    results). With ``temperatures`` the Gumbel-softmax temperature of each epoch is drawn on a
    second axis of the last panel."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not arch_history:
        raise ValueError("arch_history is empty: no epoch was recorded")
    blocks = list(arch_history[0])
    for epoch, probs in enumerate(arch_history):
        if list(probs) != blocks:
            raise ValueError(f"epoch {epoch + 1} records blocks {list(probs)}, expected {blocks}")
        for name, p in probs.items():
            if len(p) != len(IN_CANDIDATES):
                raise ValueError(f"epoch {epoch + 1}, block {name}: {len(p)} probabilities for "
                                 f"{len(IN_CANDIDATES)} candidates")
    if temperatures is not None and len(temperatures) != len(arch_history):
        raise ValueError(f"{len(temperatures)} temperatures for {len(arch_history)} epochs")
    labels = {"none": "OS", "in": "OS+IN$_{in}$", "out": "OS+IN$_{out}$",
              "in_out": "OS+IN$_{in-out}$"}
    epochs = range(1, len(arch_history) + 1)
    fig, axes = plt.subplots(1, len(blocks), figsize=(2.1 * len(blocks), 2.4), sharey=True,
                             squeeze=False)
    for ax, name in zip(axes[0], blocks):
        for k, c in enumerate(IN_CANDIDATES):
            ax.plot(epochs, [h[name][k] for h in arch_history], label=labels[c])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel(r"softmax($\pi$)", fontsize=8)
    if temperatures is not None:
        twin = axes[0, -1].twinx()
        twin.plot(epochs, temperatures, color="grey", linestyle=":", label=r"$\lambda$")
        twin.set_ylabel(r"temperature $\lambda$", fontsize=8, color="grey")
        twin.tick_params(labelsize=7, colors="grey")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def select_run(runs: Sequence[Mapping[str, Any]], target: str) -> int:
    """Index of the search run with the best cross-domain result on ``target`` (rank-1, then
    mAP), as the paper selects among four seeds (Sec. 3.4)."""
    if not runs:
        raise ValueError("no search runs to select from")
    for i, run in enumerate(runs):
        if target not in run.get("metrics", {}):
            raise ValueError(f"run {i} has no result on {target!r}; it has "
                             f"{sorted(run.get('metrics', {}))}")
    return max(range(len(runs)), key=lambda i: (runs[i]["metrics"][target]["rank1"],
                                                 runs[i]["metrics"][target]["mAP"]))


def run_search(recipe: Recipe, train_set: ReIDDataset, targets: Mapping[str, ReIDDataset],
               seeds: Sequence[int], output_dir: str | Path, select_on: str | None = None,
               device: str | torch.device = "auto", progress: bool = True) -> dict[str, Any]:
    """Search once per seed (``output_dir/seed<k>``) and keep the genotype with the best
    cross-domain result on ``select_on`` (the first target by default), as Sec. 3.4 does with
    four seeds. Writes ``output_dir/search.json`` and ``output_dir/genotype.json``."""
    if not seeds:
        raise ValueError("give at least one seed")
    if not targets:
        raise ValueError("give at least one held-out target dataset to select on")
    select_on = select_on or next(iter(targets))
    if select_on not in targets:
        raise ValueError(f"select_on={select_on!r} is not one of the targets {list(targets)}")
    out = Path(output_dir)
    runs = []
    for seed in seeds:
        trainer = SearchTrainer(recipe, train_set, out / f"seed{seed}", eval_sets=targets,
                                seed=seed, device=device, progress=progress)
        res = trainer.fit(resume=True)
        runs.append({"seed": seed, "genotype": res["genotype"], "metrics": res["metrics"],
                     "arch_history": res["arch_history"]})
    best = select_run(runs, select_on)
    summary = {"selected_seed": runs[best]["seed"], "select_on": select_on,
               "genotype": runs[best]["genotype"], "runs": runs, "recipe": recipe.to_dict()}
    write_json_atomic(out / "search.json", summary)
    Genotype.from_dict(runs[best]["genotype"]).save(out / "genotype.json")
    return summary


__all__ = ["MODES", "MixedBlock", "SearchTrainer", "SuperNet", "build_supernet", "derive_child",
           "gumbel_softmax", "plot_arch_history", "run_search", "select_run"]
