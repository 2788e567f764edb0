"""How long the whole part-II store takes to train at the ``cpu`` profile, from measured costs.

The arithmetic behind the ``cpu`` scale of part II (:mod:`osnet_lib.recipes`, "The scale of
part II"). Three steps, each printed:

1. **Rates.** For every network part II trains (Table 5's variants, Table 6's widths and
   resolutions, the torchvision baselines of Table 3, the IN variants and the search's
   supernet), the training images per second of one process with one thread, measured on random
   tensors in memory (the compute bound of :mod:`benchmarks.bench_train`) while a second,
   identical process runs: the arrangement of ``study run --jobs 2 --threads 1`` on a 2-core
   machine.
2. **Calibration.** A whole run costs more than its compute bound (data, evaluation). The ratio
   is read from finished runs of the store (``train_seconds`` against the bound's estimate for
   the same images and epochs) and applied to every planned run.
3. **The plan.** Every study of part II as data (:data:`PLAN`): arms, seeds, training domain
   (its image count read from the world), recipe epochs at the profile. Its total, divided by
   the two processes, is the wall time of regenerating the store from scratch.

The machine may be busy: read the load printed with the rates. Usage::

    python benchmarks/part2_budget.py                 # measure, then compute (about 5 minutes)
    python benchmarks/part2_budget.py --rates FILE    # reuse the rates of an earlier run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "part2_budget"

#: name -> (builder, options): what each kind of run trains, at the profile's width unless named.
NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    "osnet": ("osnet_x0_25", {}),
    "osnet_T1": ("osnet_x0_25", {"T": 1}),
    "osnet_T2": ("osnet_x0_25", {"T": 2}),
    "osnet_T3": ("osnet_x0_25", {"T": 3}),
    "osnet_full_conv": ("osnet_x0_25", {"conv": "full"}),
    "osnet_same_depth": ("osnet_x0_25", {"same_depth": 1}),
    "osnet_concat": ("osnet_x0_25", {"fusion": "concat"}),
    "osnet_x0_5": ("osnet_x0_5", {}),
    "osnet_x0_75": ("osnet_x0_75", {}),
    "osnet_x1_0": ("osnet_x1_0", {}),
    "osnet_ain": ("osnet_ain_x0_25", {}),
    "osnet_ibn": ("osnet_ibn_x0_25", {}),
    "supernet": ("supernet_x0_25", {}),
    "mobilenet_v2": ("torchvision:mobilenet_v2", {}),
    "shufflenet_v2": ("torchvision:shufflenet_v2_x1_0", {}),
    "resnet50": ("torchvision:resnet50", {}),
}
#: Table 5's arms -> the network whose rate stands for them (the fusion variants other than
#: concatenation cost within 1% of model 1: see chapter 7's cost table).
TABLE5 = {1: "osnet", 2: "osnet_full_conv", 3: "osnet_same_depth", 4: "osnet_concat",
          5: "osnet", 6: "osnet", 7: "osnet", 8: "osnet", 9: "osnet_T1", 10: "osnet_T2",
          11: "osnet_T3"}
GAMMAS = (1.0, 0.875, 0.75, 0.5)
BETAS = {1.0: "osnet_x1_0", 0.75: "osnet_x0_75", 0.5: "osnet_x0_5", 0.25: "osnet"}


def plan(seeds: int = 3) -> list[dict[str, Any]]:
    """Every run of part II: ``study``, ``network``, ``domain`` (training), ``recipe``,
    ``runs`` (seeds), ``scale`` (input area relative to the profile's, Table 6's gamma^2)."""
    p: list[dict[str, Any]] = []

    def add(study: str, network: str, domain: str, recipe: str, runs: int,
            scale: float = 1.0) -> None:
        p.append(dict(study=study, network=network, domain=domain, recipe=recipe, runs=runs,
                      scale=scale))

    for net in TABLE5.values():                                     # chapter 7
        add("table5", net, "cuhk03", "scratch", seeds)
    for net in ("osnet", "osnet_T1", "osnet_concat"):
        add("table5-control", net, "cuhk03", "scratch", seeds)
    for net in ("osnet", "mobilenet_v2", "shufflenet_v2"):          # chapter 6, Table 3
        add("table3", net, "market", "scratch", seeds)
    for beta, net in BETAS.items():                                 # chapter 8, Table 6
        for gamma in GAMMAS:
            corner = beta in (1.0, 0.25) and gamma in (1.0, 0.5)
            add("table6", net, "market", "scratch", seeds if corner else 1, gamma ** 2)
    add("ain", "supernet", "msmt", "search", 4)                     # Sec. 3.3, 4.2, Table 7
    for net in ("osnet", "osnet_ibn", "osnet_ain", "osnet_ain"):    # ... the searched genotype
        add("ain", net, "msmt", "cross_domain", seeds)
    for source in ("market", "duke"):                               # Tables 7-9: M <-> D
        for net in ("osnet", "osnet_ibn", "osnet_ain"):
            add("table7", net, source, "cross_domain", seeds)
        for net in ("osnet", "osnet_ain"):                          # Table 8: same domain
            add("table8", net, source, "finetune", seeds)
    for net in ("osnet", "osnet_ain"):                              # Table 10: multi-source
        add("table10", net, "market+duke+cuhk03", "cross_domain", seeds)
    return p


# -- step 1: rates --------------------------------------------------------------------------------
def _build(name: str, num_classes: int = 750) -> Any:
    import torch

    from osnet_lib.models import build_model

    builder, options = NETWORKS[name]
    if builder.startswith("supernet"):
        from osnet_lib.search import build_supernet

        return build_supernet("osnet_x0_25", num_classes)
    if builder.startswith("torchvision:"):
        import torchvision

        net = getattr(torchvision.models, builder.split(":")[1])(weights=None)
        # the book's head on a torchvision trunk: global pooling, a 512-d embedding, classifier
        if hasattr(net, "fc"):
            dim = net.fc.in_features
            net.fc = torch.nn.Sequential(torch.nn.Linear(dim, 512), torch.nn.BatchNorm1d(512),
                                         torch.nn.ReLU(), torch.nn.Linear(512, num_classes))
        else:
            dim = net.classifier[-1].in_features
            net.classifier = torch.nn.Sequential(
                torch.nn.Linear(dim, 512), torch.nn.BatchNorm1d(512), torch.nn.ReLU(),
                torch.nn.Linear(512, num_classes))
        return net
    return build_model(builder, num_classes, **options)


def _rate_one(name: str, height: int, width: int, steps: int) -> float:
    """Training images per second of ``name`` on random tensors, one thread."""
    import torch

    from osnet_lib.engine import build_optimizer, label_smoothing_loss
    from osnet_lib.recipes import get_recipe

    torch.set_num_threads(1)
    torch.manual_seed(0)
    recipe = get_recipe("scratch", "cpu")
    net = _build(name).to(memory_format=torch.channels_last).train()
    opt = build_optimizer(net, recipe)
    x = torch.randn(recipe.batch_size, 3, height, width).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 750, (recipe.batch_size,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = net(x)
        logits = out[0] if isinstance(out, tuple) else out
        label_smoothing_loss(logits.float(), y).backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * recipe.batch_size / (time.perf_counter() - start)


def measure_rates(names: list[str], steps: int) -> dict[str, Any]:
    """Each network's rate as the mean of two identical one-thread processes run at once."""
    from osnet_lib.recipes import get_recipe

    r = get_recipe("scratch", "cpu")
    out: dict[str, Any] = {"height": r.height, "width": r.width, "rates": {}, "load": []}
    for name in names:
        sizes = [(r.height, r.width)]
        if name in BETAS.values():
            sizes += [(round(r.height * g / 8) * 8, round(r.width * g / 8) * 8)
                      for g in GAMMAS[1:]]
        for h, w in sizes:
            cmd = [sys.executable, __file__, "--rate-one", name, str(h), str(w), str(steps)]
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
            rates = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            key = name if (h, w) == sizes[0] else f"{name}@{h}x{w}"
            out["rates"][key] = sum(rates) / 2
            out["load"].append(os.getloadavg()[0])
            print(f"  {key:<28} {out['rates'][key]:7.1f} images/s per process "
                  f"(load {out['load'][-1]:.2f})", flush=True)
    return out


# -- step 2: calibration --------------------------------------------------------------------------
def calibrate(rates: dict[str, float]) -> dict[str, Any]:
    """The ratio of a whole run's seconds to its compute bound, from the store's finished
    runs of the table5 studies (models 1 and 9)."""
    from osnet_lib.experiments import Store, get_study, load_study

    rows = []
    for study in ("table5", "table5-control"):
        frame = load_study(get_study(study), "cpu", Store(), arms=["model1", "model9"],
                           stale="ignore")
        for r in frame.itertuples():
            images = _domain_images("cuhk03") * int(r.epochs)
            net = "osnet" if r.arm == "model1" else "osnet_T1"
            rows.append({"study": study, "arm": r.arm, "seed": int(r.seed),
                         "train_seconds": float(r.train_seconds),
                         "bound_seconds": images / rates[net]})
    if not rows:
        raise SystemExit("no finished table5 runs in the cpu store to calibrate against")
    ratio = sum(x["train_seconds"] for x in rows) / sum(x["bound_seconds"] for x in rows)
    return {"runs": rows, "overhead": ratio}


_SIZES: dict[str, int] = {}


def _domain_images(domain: str) -> int:
    """Training images of a domain of the cpu omni world (``a+b``: the sum)."""
    if domain not in _SIZES:
        folder = ROOT / "book" / "data" / "synthetic-cpu-omni"
        _SIZES[domain] = sum(len(list((folder / d / "bounding_box_train").glob("*.jpg")))
                             for d in domain.split("+"))
    return _SIZES[domain]


# -- step 3: the plan -----------------------------------------------------------------------------
def cost(plan_rows: list[dict[str, Any]], rates: dict[str, Any], overhead: float,
         jobs: int = 2) -> dict[str, Any]:
    from osnet_lib.recipes import get_recipe

    h, w = rates["height"], rates["width"]
    per_study: dict[str, float] = {}
    runs = 0
    for row in plan_rows:
        epochs = get_recipe(row["recipe"], "cpu").epochs
        net = row["network"]
        key = net
        if row["scale"] != 1.0:
            g = row["scale"] ** 0.5
            key = f"{net}@{round(h * g / 8) * 8}x{round(w * g / 8) * 8}"
        rate = rates["rates"][key]
        seconds = row["runs"] * epochs * _domain_images(row["domain"]) / rate * overhead
        per_study[row["study"]] = per_study.get(row["study"], 0.0) + seconds
        runs += row["runs"]
    total = sum(per_study.values())
    return {"runs": runs, "per_study_hours": {k: v / 3600 for k, v in per_study.items()},
            "process_hours": total / 3600, "wall_hours": total / 3600 / jobs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default=None, help="a rates JSON of an earlier run")
    p.add_argument("--steps", type=int, default=6, help="training steps per measurement")
    p.add_argument("--output", default=str(RESULTS / "part2_budget.json"))
    p.add_argument("--rate-one", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rate_one:
        name, h, w, steps = args.rate_one
        print(_rate_one(name, int(h), int(w), int(steps)))
        return
    if args.rates:
        rates = json.loads(Path(args.rates).read_text())["rates"]
    else:
        print("1. rates (two one-thread processes at once, random tensors):")
        rates = measure_rates(sorted({r["network"] for r in plan()}), args.steps)
    cal = calibrate(rates["rates"])
    print(f"2. a whole run takes {cal['overhead']:.2f}x its compute bound "
          f"({len(cal['runs'])} finished runs of the store)")
    result = cost(plan(), rates, cal["overhead"])
    print(f"3. the part-II store: {result['runs']} runs, {result['process_hours']:.1f} "
          f"process-hours, {result['wall_hours']:.1f} h on 2 cores")
    for study, hours in result["per_study_hours"].items():
        print(f"   {study:<16} {hours:6.1f} process-hours")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": " ".join(sys.argv), "rates": rates,
                               "calibration": cal, "plan": plan(), "result": result},
                              indent=1))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
