"""Writes book/drafts/06_from_scratch.ipynb (unexecuted): chapter 6, Table 3 from scratch.

Run from the repository root: ``python book/_dev/make_06_from_scratch.py [OUTPUT]``.
"""
from nbgen import Cells

notebook = Cells(6)
md, code = notebook.md, notebook.code

md(r"""
# Training OSNet from scratch (Table 3)

Most re-ID networks of the paper's time start from ImageNet weights: a ResNet-50 pre-trained on a
million images of a thousand object classes, then fine-tuned on the seven to thirty thousand
training images of a re-ID dataset. OSNet is small enough to do without. Table 3 of
{cite}`zhou2021osnet` trains it *from scratch* on each re-ID dataset and sets it beside the few
networks also trained from scratch by their authors, and beside MobileNetV2, which the authors
trained themselves, with 2.2 million parameters like OSNet. OSNet beats that MobileNetV2 by 6.6
rank-1 points on Market1501, 10.6 on CUHK03, 9.5 on Duke and 20.1 on MSMT17.
This chapter repeats that comparison with one recipe and one head for every network, so that
the only difference left is the trunk.
""")
notebook.study_parameters("the omni world (under paper: CUHK03, see the study)")
code(r'''
from osnet_lib.experiments import Store, get_study, load_or_run
from osnet_lib.reproduce import resolve_path, start_chapter

run = start_chapter("06_from_scratch", profile, seed=seed, device=device,
                    results_dir=results_dir, data_root=data_root)
store = Store(resolve_path(store_root) if store_root else None)
# what the profile changes: under quick one seed of every network, trained live
seeds = run.setting("seeds", full=None, small=[0])
timing_repeats = run.setting("timing_repeats", full=30, small=3)
table3 = get_study("table3")
results = {}
''')
md(r"""
## Overview

After this chapter you can

- say what "trained from scratch" asks of a network, and why a small network is the natural
  candidate for it;
- build a torchvision network with OSNet's re-ID head, at OSNet's size, and compare the two on
  parameters, Mult-Adds and measured latency;
- read a training run's curves and a CMC curve, and judge Table 3's claim with the book's rule.

**Prerequisites.** Chapter 1 (rank-1, mAP, the CMC curve), chapter 2 (depthwise separable
convolutions, which MobileNetV2 is built of), chapter 5 (OSNet's architecture and its head). The
rule that judges the paper's claims is recalled where it is used.
""")
md(r"""
## Four trunks, one head

A re-ID network is a *trunk* that turns an image into feature maps and a *head* that turns them
into the embedding matched at test time. OSNet's head (Table 1) pools the last feature maps,
maps them to a 512-dimensional embedding (a fully connected layer, BatchNorm, ReLU), and adds a
classifier over the training identities for the loss. Here every network gets exactly that head,
built by the same library function, and only the trunk changes:

- **OSNet** at the profile's width (x0.25 under `cpu`, x1.0 under `paper`);
- **MobileNetV2** {cite}`sandler2018mobilenetv2`, torchvision's implementation, at the width at
  which it has as many parameters as that OSNet, as the paper's own baseline has. Its width
  multiplier is applied to every layer, the last 1×1 convolution included: torchvision keeps
  that layer at 1,280 channels below width 1, and with it the network never gets below 3.7 times
  OSNet x0.25's parameters;
- **ShuffleNetV2** {cite}`ma2018shufflenetv2`, torchvision's, at the width closest to OSNet's
  size (its smallest, x0.5, is larger than OSNet x0.25);
- **ResNet-18** {cite}`he2016resnet`, the small sibling of the ResNet-50 that most methods of
  Table 3 build on, trained here from scratch as well, over one seed: at 128×64 it has 57 times
  OSNet x0.25's parameters and 14 times its Mult-Adds.

The study `table3` holds them as arms; `width_mult="matched"` resolves to a width at each
profile. The cell below counts each network at the profile's input size and times one image
through it on this machine's CPU (one thread).
""")
code(r'''
import torch

from osnet_lib import build_model
from osnet_lib.complexity import latency
from osnet_lib.experiments.report import arm_costs
from osnet_lib.models import parse_model_name

costs = arm_costs(table3, profile)
specs = {s.arm: s for s in table3.runs(profile, seeds=[0])}
threads = torch.get_num_threads()
torch.set_num_threads(1)
costs["ms"] = [latency(build_model(specs[a].recipe.model, **specs[a].model_options),
                       (specs[a].recipe.height, specs[a].recipe.width), repeats=timing_repeats)
               for a in costs.index]
torch.set_num_threads(threads)
recipe = specs["osnet"].recipe
print(f"input {recipe.height}x{recipe.width}, one CPU thread, batch 1\n")
print(f"{'network':<28} {'width':>6} {'params':>8} {'Mult-Adds':>10} {'ms/image':>9}")
for arm, c in costs.iterrows():
    spec = specs[arm]
    width = (parse_model_name(spec.recipe.model).width_mult if arm == "osnet"
             else spec.model_options.get("width_mult", 1.0))
    print(f"{table3.arm(arm).title:<28} {width:>6} {c.params / 1e3:>7.0f}k "
          f"{c.mult_adds / 1e6:>9.1f}M {c.ms:>9.2f}")
results["costs"] = costs.reset_index().to_dict("records")
''')
md(r"""
At equal parameters the networks are far from equal in compute. Most of OSNet's Mult-Adds are
spent early, in its 7×7 stem and its first stage, on the large maps (chapter 5), where
MobileNetV2 runs a few narrow layers. At the other end, MobileNetV2 and ShuffleNetV2 halve the
image five times (an output stride of 32) and OSNet four times (16), so OSNet's last map has
four times as many positions (exercise 6.2). Latency on a CPU need not follow either count
(many thin layers cost time to launch whatever their arithmetic); the last column says how it
goes on the machine that ran this page.

## The recipe

Every network trains with the `scratch` recipe of Sec. 4.1 at the profile's scale: SGD (momentum
0.9, which the paper does not state), learning rate 0.065, label-smoothing cross-entropy, batch
64, flips, random crops and RandomPatch. The paper trains 350 epochs with the rate cut tenfold
at epochs 150, 225 and 300; the `cpu` profile trains 30 epochs with a cosine schedule
(`osnet_lib.recipes`, "The scale of part II", says why). The data is the `cuhk03` domain of the
omni world, the world of chapter 7, so that OSNet's runs here are chapter 7's model 1: the store
copies them instead of training them twice.
""")
code(r'''
frame = load_or_run(table3, profile, store, run.data_root, seeds=seeds, train=train_missing)
print(f"{frame.arm.nunique()} networks, {len(frame)} finished runs")
''')
md(r"""
## How the networks learn

Each run records its training loss and training accuracy per epoch. The curves are the mean over
seeds; a network whose accuracy is still climbing at the last epoch is not trained to its
plateau, and its test accuracy may be below what a longer schedule would give it.
""")
code(r'''
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from osnet_lib.experiments.report import cmc_curves, training_curves

curves = training_curves(table3, profile, store, seeds=seeds)
mean = curves.groupby(["arm", "epoch"], sort=False)[["loss", "train_acc"]].mean()
fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.2))
for arm in dict.fromkeys(curves.arm):
    m = mean.loc[arm]
    ax.plot(m.index, m.loss, label=table3.arm(arm).title)
    bx.plot(m.index, m.train_acc)
ax.set(xlabel="epoch", ylabel="training loss")
bx.set(xlabel="epoch", ylabel="training accuracy (%)")
for axis in (ax, bx):
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(fontsize="small")
plt.tight_layout()
plt.show()
results["final_train_acc"] = mean.groupby(level=0).train_acc.last().to_dict()
''', figure=(
    "fig-scratch-curves",
    "Training loss (left) and training accuracy (right) per epoch, the mean over each "
    "network's seeds, with the `scratch` recipe of this profile."))
md(r"""
Rank-1 is measured once, after the last epoch: evaluating every epoch would add a test-set pass
to each of them. What the test set says is the CMC curve of chapter 1, the share of queries whose
first true match is within the top $k$, averaged over seeds:
""")
code(r'''
cmc = cmc_curves(table3, profile, store, max_rank=20, seeds=seeds)
fig, ax = plt.subplots(figsize=(5, 3.2))
for arm, row in cmc.iterrows():
    ax.plot(row.index, row.values, marker="o", ms=3, label=table3.arm(arm).title)
ax.set(xlabel="rank k", ylabel="matching rate (%)", xticks=[1, 5, 10, 15, 20])
ax.legend(fontsize="small")
plt.tight_layout()
plt.show()
results["cmc"] = {arm: [float(v) for v in row] for arm, row in cmc.iterrows()}
''', figure=(
    "fig-scratch-cmc",
    "CMC curves on the test set: the share of queries whose first true match is within the "
    "top k, averaged over seeds."))
md(r"""
## Table 3, measured

Our rank-1 and mAP (mean ± standard deviation over seeds) beside the paper's from-scratch rows
on CUHK03, the dataset our `cuhk03` domain stands in for. Under `cpu` the paper's numbers belong
to another dataset, a longer training and a four times wider network at twice the resolution:
compare differences between rows, not the rows.
""")
code(r'''
import numpy as np

from osnet_lib.experiments.report import arm_summary
from osnet_lib.paper import TABLE3_SCRATCH

summary = arm_summary(frame, study=table3)
paper_rows = {"osnet": "OSNet", "mobilenet_v2": "MobileNetV2"}


def pm(mean, sd):
    return f"{mean:5.1f}" + (f" ± {sd:<4.1f}" if np.isfinite(sd) else " " * 7)


print(f"{'network':<28} {'seeds':>5} {'rank-1':>12} {'mAP':>12} {'params':>8} | "
      f"{'paper params':>12} {'R1':>5} {'mAP':>5}")
for arm, r in summary.iterrows():
    name = paper_rows.get(arm)
    paper = TABLE3_SCRATCH[name] if name else None
    p = (f"{paper[1]:>11.1f}M {paper[2]['CUHK03'][0]:>5.1f} {paper[2]['CUHK03'][1]:>5.1f}"
         if paper else f"{'-':>12} {'-':>5} {'-':>5}")
    print(f"{r.label:<28} {r.seeds:>5} {pm(r.rank1, r.rank1_sd):>12} {pm(r.mAP, r.mAP_sd):>12} "
          f"{costs.loc[arm, 'params'] / 1e3:>7.0f}k | {p}")
results["table3"] = summary.reset_index().to_dict("records")
''')
md(r"""
## The claim, judged

"OSNet beats MobileNetV2 of the same size, both trained from scratch" (Table 3) is judged by the
book's one rule for claims, `osnet_lib.experiments.verdict`, fixed in code before any run: for
each seed, the rank-1 difference of the two networks trained with that seed; a 95% Student-t
interval over the seeds (with fewer than three seeds, a bootstrap over the test queries, which
measures the test set's noise only); and **reproduced** if the interval lies on the paper's side
of zero, **contradicted** if it lies on the other, **inconclusive** otherwise. Chapter 7 uses
the same rule on every ablation of the paper.
""")
code(r'''
from osnet_lib.experiments import claims_of, verdict
from osnet_lib.experiments.report import plot_verdicts

done = set(frame.arm)
verdicts = [verdict(c, profile, store, frame) for c in claims_of("table3")
            if set(c.order) <= done]
for v in verdicts:
    print(v.summary())
results["verdicts"] = [v.as_dict() for v in verdicts]
if verdicts:
    ax = plot_verdicts(verdicts, labels=["OSNet > MobileNetV2"])
    ax.set_title("rank-1 difference: ours (95% interval) and the paper's (CUHK03)")
    plt.tight_layout()
    plt.show()
''', figure=(
    "fig-scratch-verdict",
    "OSNet's rank-1 advantage over MobileNetV2 of the same size: our mean paired difference "
    "with its 95% interval, and the paper's difference on CUHK03."))
md(r"""
## Summary
""")
code(r'''
from IPython.display import Markdown

lines = []
for v in verdicts:
    c = v.comparisons[0]
    lines.append(f"- *{v.claim.statement}* **{v.verdict}**: {c.mean:+.1f} "
                 f"[{c.low:+.1f}, {c.high:+.1f}] rank-1 points over {len(c.seeds)} "
                 f"seed{'s' * (len(c.seeds) > 1)} (paper, CUHK03: {c.paper_difference:+.1f}).")
Markdown("\n".join(lines) or "The claim's two networks have no finished run at this profile.")
''')
code(r'''
results_file = run.write_results(results)
''', tags=["remove-cell"])
md(r"""
## Exercises

Each exercise is followed by its solution, folded: open the dropdown for the reasoning, and the
toggle under it for the code that checks it.

:::{admonition} Exercise 6.1
At which width multiplier does MobileNetV2, with the book's head and its last layer scaled, have
as many parameters as OSNet x1.0 (2.17 million)? Search the widths 0.1, 0.15, ..., 1.0 and
compare the nearest two.
:::
""")
md(r"""
:::{admonition} Solution 6.1
:class: dropdown
Width 0.85 gives 2.19 million parameters, 1% above OSNet; width 0.8 gives 1.97 million. At
width 1.0 the network would have 2.88 million: the head's fully connected layer from 1,280
channels to 512 alone holds 655 thousand. The paper's MobileNetV2 has 2.2 million parameters,
as torchvision's network at width 1.0 has without any fully connected layer; the paper does not
describe its head.
:::
""", tags=["solution"])
code(r'''
from osnet_lib.backbones import matched_width, parameter_count
from osnet_lib.models import get_model_spec

target = get_model_spec("osnet_x1_0").params
answers = {"ex6_1_width": matched_width("mobilenet_v2", target),
           "ex6_1_params": parameter_count("mobilenet_v2", matched_width("mobilenet_v2",
                                                                          target))}
for w in (0.8, 0.85, 0.9, 1.0):
    print(f"width {w}: {parameter_count('mobilenet_v2', w):,} parameters")
print(f"OSNet x1.0: {target:,}")
''', tags=["solution", "hide-cell"])
md(r"""
:::{admonition} Exercise 6.2
At the `cpu` input size, 128×64, what is the height and width of the last feature map of OSNet
and of MobileNetV2? A cue that covers a twentieth of the image's height: how many rows of each
map does it fall on?
:::
""")
md(r"""
:::{admonition} Solution 6.2
:class: dropdown
OSNet down-samples by 16: an 8×4 map. MobileNetV2 by 32: 4×2. A cue of 6 or 7 pixels' height
spans under half a row of OSNet's last map and under a quarter of MobileNetV2's. Both maps mix
it with its surroundings, but MobileNetV2's has 8 positions against OSNet's 32, so each of its
positions averages a larger patch of the body.
:::
""", tags=["solution"])
code(r'''
x = torch.zeros(1, 3, 128, 64)
answers["ex6_2_osnet_map"] = list(build_model("osnet_x0_25").forward_features(x).shape[2:])
small = matched_width("mobilenet_v2", get_model_spec("osnet_x0_25").params)
answers["ex6_2_mobilenet_map"] = list(build_model("mobilenet_v2", width_mult=small)
                                      .forward_features(x).shape[2:])
print(answers)
''', tags=["solution", "hide-cell"])
code(r'''
exercises_file = run.write_results(answers, "exercises.json")
''', tags=["solution", "remove-cell"])

notebook.write("book/drafts/06_from_scratch.ipynb")
