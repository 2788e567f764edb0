"""Writes book/drafts/08_width_resolution.ipynb (unexecuted): chapter 8, Table 6.

Run from the repository root: ``python book/_dev/make_08_width_resolution.py [OUTPUT]``.
"""
from nbgen import Cells

notebook = Cells(8)
md, code = notebook.md, notebook.code

md(r"""
# Shrinking the network: width and resolution (Table 6)

A network for a camera or a phone must fit a budget of compute. Sec. 3.4 of
{cite}`zhou2021osnet` gives OSNet two dials, borrowed from MobileNets
{cite}`howard2017mobilenets`: the **width multiplier** $\beta$ scales the channels of every layer
but the last fully connected one, and the **resolution multiplier** $\gamma$ scales the input
image. Table 6 turns both over four values each, sixteen networks from 979 million Mult-Adds down
to 5, and reports that accuracy falls *smoothly*: 94.8% rank-1 on Market1501 at full size, still
79.1% at $\beta = \gamma = 0.25$, with 188 times less compute. The paper does not say how these
networks were trained; its first row repeats its ImageNet-pretrained OSNet of Table 3 (94.8 /
86.7), so they were most likely fine-tuned from ImageNet weights. This chapter trains the
sixteen rows from scratch with one recipe, since the synthetic world has no counterpart of
ImageNet pretraining, and checks the claim with a rule stated before the runs.
""")
notebook.study_parameters("the omni world (under paper: CUHK03, see the study)")
code(r'''
from osnet_lib.experiments import Store, get_study, load_or_run
from osnet_lib.reproduce import resolve_path, start_chapter

run = start_chapter("08_width_resolution", profile, seed=seed, device=device,
                    results_dir=results_dir, data_root=data_root)
store = Store(resolve_path(store_root) if store_root else None)
table6 = get_study("table6")
# what the profile changes: under quick the rows whose input stays at least 16 pixels wide
# (gamma >= 0.5 of quick's 64x32), one seed, trained live
arms = run.setting("arms", full=None,
                   small=[a.name for a in table6.arms if a.gamma >= 0.5])
seeds = run.setting("seeds", full=None, small=[0])
timing_repeats = run.setting("timing_repeats", full=20, small=2)
results = {}
''')
md(r"""
## Overview

After this chapter you can

- say what the width and resolution multipliers change in OSNet, and predict how its
  parameters and Mult-Adds scale with each;
- read an accuracy-against-cost trade-off, in Mult-Adds and in measured CPU time;
- state a rule for "accuracy falls smoothly" that a measurement can fail, and apply it.

**Prerequisites.** Chapter 5 (OSNet's architecture, its parameters and Mult-Adds) and chapter 7
(the verdict rule).
""")
md(r"""
## Two dials

With width $\beta$ a layer of $c_{in}$ to $c_{out}$ channels becomes one of $\beta c_{in}$ to
$\beta c_{out}$: its weights, and its Mult-Adds per position, shrink by about $\beta^2$. With
resolution $\gamma$ every feature map has $\gamma^2$ times the positions, so the Mult-Adds shrink
by $\gamma^2$ and the parameters not at all. The study `table6` holds one arm per row of Table 6:
`beta` picks the registered width (`osnet_x0_75`, ...) and `gamma` scales the profile's input
(256×128 under `paper`, so exactly the paper's sizes; 128×64 under `cpu`, the synthetic world's
native size, so 96×48, 64×32 and 32×16 below it). The corner rows train over three seeds, the
other twelve over one: that is what the budget allows (`osnet_lib.recipes`, "The scale of part
II"). Each network counted and timed (one image, one CPU thread) at its input:
""")
code(r'''
import torch

from osnet_lib import build_model
from osnet_lib.complexity import latency
from osnet_lib.experiments.report import arm_costs

costs = arm_costs(table6, profile, arms=arms)
specs = {s.arm: s for s in table6.runs(profile, arms=arms, seeds=[0])}
threads = torch.get_num_threads()
torch.set_num_threads(1)
costs["ms"] = [latency(build_model(specs[a].recipe.model),
                       (specs[a].recipe.height, specs[a].recipe.width), repeats=timing_repeats)
               for a in costs.index]
torch.set_num_threads(threads)
costs["beta"] = [table6.arm(a).beta for a in costs.index]
costs["gamma"] = [table6.arm(a).gamma for a in costs.index]
print(f"{'beta':>5} {'gamma':>5} {'input':>8} {'params':>8} {'Mult-Adds':>10} {'ms/image':>9}")
for arm, c in costs.iterrows():
    r = specs[arm].recipe
    print(f"{c.beta:>5} {c.gamma:>5} {r.height:>4}x{r.width:<3} {c.params / 1e6:>7.2f}M "
          f"{c.mult_adds / 1e6:>9.1f}M {c.ms:>9.2f}")
results["costs"] = costs.reset_index().to_dict("records")
''')
md(r"""
The parameters follow $\beta^2$ except for the fully connected layer, which $\beta$ leaves at
512 outputs: at $\beta = 0.25$ it holds a third of the network. The Mult-Adds follow
$\beta^2\gamma^2$ up to the layers whose cost is linear in $\beta$ (exercise 8.1). The measured
time is what a deployment cares about, and it need not follow the Mult-Adds: a small layer costs
time to launch whatever its arithmetic. The middle panel of the trade-off figure below shows how
far it follows them on the machine that ran this page.

## The rule, before the runs

The paper's sentence is "by keeping one multiplier fixed and shrinking the other, the R1 drops
off smoothly". It is made testable as two orderings, each judged pair by pair with the book's one
rule (chapter 7): at full resolution, $\beta = 1 > 0.75 > 0.5 > 0.25$; at full width,
$\gamma = 1 > 0.75 > 0.5 > 0.25$. An ordering is *reproduced* when every adjacent pair is, and
*contradicted* when any smaller network is significantly *more* accurate than the larger one
before it. The rule tests the order only: a steep drop between two rows would still count as
reproduced, and the figure below is where to judge how smooth the fall is. It was written in
`osnet_lib.experiments.studies` before any run of this chapter. Every adjacent pair has a row
trained over one seed, so each comparison uses seed 0 alone (the corners' other seeds do not
enter it), and its interval is a bootstrap over the test queries, which measures the test set's
noise, not the training's. The table shows seed 0's rank-1 beside the means for that reason.

## Table 6, measured
""")
code(r'''
frame = load_or_run(table6, profile, store, run.data_root, arms=arms, seeds=seeds,
                    train=train_missing)
print(f"{frame.arm.nunique()} rows, {len(frame)} finished runs")
''')
code(r'''
import numpy as np

from osnet_lib.experiments.report import arm_summary
from osnet_lib.paper import TABLE6

summary = arm_summary(frame, study=table6)
paper = {(b, g): (r1, mAP) for b, _, g, _, r1, mAP in TABLE6}


def pm(mean, sd):
    return f"{mean:5.1f}" + (f" ± {sd:<4.1f}" if np.isfinite(sd) else " " * 7)


seed0 = 100 * frame[(frame.seed == 0)].set_index("arm")["rank1"]
print(f"{'beta':>5} {'gamma':>5} {'seeds':>5} {'rank-1':>12} {'seed 0':>6} {'mAP':>12} "
      f"{'train acc':>9} | {'paper R1':>8} {'mAP':>5}")
for arm, r in summary.iterrows():
    a = table6.arm(arm)
    p_r1, p_map = paper[(a.beta, a.gamma)]
    first = f"{seed0[arm]:6.1f}" if arm in seed0.index else f"{'-':>6}"
    print(f"{a.beta:>5} {a.gamma:>5} {r.seeds:>5} {pm(r.rank1, r.rank1_sd):>12} {first} "
          f"{pm(r.mAP, r.mAP_sd):>12} {r.train_acc:>8.1f}% | {p_r1:>8.1f} {p_map:>5.1f}")
results["table6"] = summary.reset_index().to_dict("records")
''')
md(r"""
The paper's columns are Market1501 at 256×128 and below. Under `cpu` ours are the omni world's
`cuhk03` domain at half those sizes, trained from scratch: only the shapes compare, how fast
accuracy falls along each dial.

## Accuracy against cost

Each row's mean rank-1 against its Mult-Adds (left) and its measured time per image (middle),
lines joining the rows of one width; the paper's rows on the right, against the paper's
Mult-Adds:
""")
code(r'''
import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
colours = {1.0: "tab:blue", 0.75: "tab:orange", 0.5: "tab:green", 0.25: "tab:red"}
for beta, colour in colours.items():
    rows = [a for a in summary.index if table6.arm(a).beta == beta]
    if not rows:
        continue
    for ax, column, scale in ((axes[0], "mult_adds", 1e6), (axes[1], "ms", 1)):
        ordered = sorted(rows, key=lambda a: costs.loc[a, column])
        ax.plot(costs.loc[ordered, column] / scale, summary.loc[ordered, "rank1"], "o-",
                color=colour, label=f"\u03b2 = {beta:g}")
    pts = sorted((m, r1) for b, _, g, m, r1, _ in TABLE6 if b == beta)
    axes[2].plot(*zip(*pts), "s--", color=colour, mfc="none")
axes[0].set(xscale="log", xlabel="Mult-Adds (millions)", ylabel="rank-1 (%), this book")
axes[1].set(xscale="log", xlabel="ms per image (CPU, one thread)")
axes[2].set(xscale="log", xlabel="Mult-Adds (millions), paper", ylabel="rank-1 (%), paper")
for ax in axes:
    ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded labels between the decades
axes[0].legend(fontsize="small")
plt.tight_layout()
plt.show()
''', figure=(
    "fig-table6-tradeoff",
    "Rank-1 against Mult-Adds (left) and against measured time per image (middle) for the "
    "rows of Table 6, one line per width; the paper's rows against the paper's Mult-Adds "
    "(right)."))
md(r"""
## The claims, judged
""")
code(r'''
from osnet_lib.experiments import claims_of, verdict
from osnet_lib.experiments.report import plot_verdicts

done = set(frame.arm)
verdicts = [verdict(c, profile, store, frame) for c in claims_of("table6")
            if set(c.order) <= done]
for v in verdicts:
    print(v.summary())
results["verdicts"] = [v.as_dict() for v in verdicts]
if verdicts:
    labels = [f"{table6.arm(c.better).title} > {table6.arm(c.worse).title}"
              for v in verdicts for c in v.comparisons]
    ax = plot_verdicts(verdicts, labels=labels)
    ax.set_title("rank-1 differences between adjacent rows: ours and the paper's")
    plt.tight_layout()
    plt.show()
''', figure=(
    "fig-table6-verdicts",
    "The rank-1 differences between adjacent rows of the two orderings: our mean with its 95%"
    " interval, and the paper's difference on Market1501."))
md(r"""
## Summary
""")
code(r'''
from IPython.display import Markdown

lines = []
for v in verdicts:
    steps = "; ".join(f"{table6.arm(c.better).title} > {table6.arm(c.worse).title}: "
                      f"{c.mean:+.1f} [{c.low:+.1f}, {c.high:+.1f}]" for c in v.comparisons)
    lines.append(f"- *{v.claim.statement}* **{v.verdict}** (adjacent rows: {steps} points).")
Markdown("\n".join(lines) or "No ordering has all its rows at this profile.")
''')
code(r'''
results_file = run.write_results(results)
''', tags=["remove-cell"])
md(r"""
## Exercises

:::{admonition} Exercise 8.1
OSNet x1.0 at 256×128 costs 978.9 million Mult-Adds. Predict the cost at $\beta = \gamma = 0.5$
from the scaling rules above, then count it. Why is the count above the prediction?
:::
""")
md(r"""
:::{admonition} Solution 8.1
:class: dropdown
$\beta^2\gamma^2 = 1/16$ predicts 61.2 million; the count is 68.3 million (Table 6 prints the
same). Not every layer's cost falls with $\beta^2$: a depthwise 3×3 convolution filters each
channel on its own ($9c$ Mult-Adds per position), the first convolution always reads 3 colour
channels, and the fully connected layer always writes 512 outputs. Their costs fall with $\beta$
only, and make up the difference.
:::
""", tags=["solution"])
code(r'''
from osnet_lib.complexity import count_mult_adds

answers = {"ex8_1_predicted_m": 978.875392 / 16,
           "ex8_1_counted_m": count_mult_adds(build_model("osnet_x0_5"), (128, 64)) / 1e6}
print({k: round(v, 1) for k, v in answers.items()})
''', tags=["solution", "hide-cell"])
md(r"""
:::{admonition} Exercise 8.2
Under the `cpu` profile the row $\gamma = 0.25$ trains on 32×16 images. What is the size of
OSNet's last feature map there, and why can the `quick` profile (64×32) not run that row?
:::
""")
md(r"""
:::{admonition} Solution 8.2
:class: dropdown
OSNet down-samples by 16: a 32×16 image ends in a 2×1 map, a single column. At `quick`,
$\gamma = 0.25$ would give 16×8 images, narrower than the output stride; the study refuses the
row with an error naming the sizes before any training starts.
:::
""", tags=["solution"])
code(r'''
answers["ex8_2_map"] = list(build_model("osnet_x0_25").forward_features(
    torch.zeros(1, 3, 32, 16)).shape[2:])
try:
    table6.runs("quick", arms=["b0.25-g0.25"])
except ValueError as e:
    answers["ex8_2_quick_refused"] = True
    print(e)
print(answers["ex8_2_map"])
''', tags=["solution", "hide-cell"])
code(r'''
exercises_file = run.write_results(answers, "exercises.json")
''', tags=["solution", "remove-cell"])

notebook.write("book/drafts/08_width_resolution.ipynb")
