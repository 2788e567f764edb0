"""How long the whole part-II store takes to train at the ``cpu`` profile, from measured costs.

The arithmetic behind the ``cpu`` scale of part II (:mod:`osnet_lib.recipes`, "The scale of
part II"). Three steps, each printed:

1. **Rates.** For every network part II trains at its input size (Table 5's variants, Table
   6's widths and resolutions, the torchvision baselines of Table 3, the IN variants and the
   search's supernet), the training images per second of one process with one thread,
   measured on random tensors in memory (the compute bound of :mod:`benchmarks.bench_train`)
   while a second, identical process runs: the arrangement of ``study run --jobs 2 --threads
   1`` on a 2-core machine.
2. **Calibration.** A whole run costs more than its compute bound (data, evaluation). The ratio
   is read from finished runs of the store (``train_seconds`` against the bound's estimate for
   the same images and epochs) and applied to every planned run.
3. **The plan.** Every run of the defined studies as ``study run`` would train it (a copied
   twin counted once), and the later chapters' planned runs (:data:`LATER`): network, training
   domain (its image count read from the world), recipe epochs at the profile. Its total, divided by
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

#: The studies of part II that are defined (:mod:`osnet_lib.experiments.studies`): their runs
#: are read from the study itself, so the plan is what ``study run`` would train.
DEFINED = ("table5", "table5-control", "table3", "table6", "ain")
#: Studies of later chapters not defined yet: (study, network, domain, recipe, runs).
LATER = (
    [("table7", net, source, "cross_domain", 3) for source in ("market", "duke")
     for net in ("osnet_x0_25", "osnet_ibn_x0_25", "osnet_ain_x0_25")]
    + [("table8", net, source, "finetune", 3) for source in ("market", "duke")
       for net in ("osnet_x0_25", "osnet_ain_x0_25")]
    + [("table10", net, "market+duke+cuhk03", "cross_domain", 3)
       for net in ("osnet_x0_25", "osnet_ain_x0_25")]
)


def network_key(model: str, options: dict[str, Any], height: int, width: int,
                kind: str = "train") -> str:
    """What a run's cost depends on: the network, its options and its input size."""
    opts = ",".join(f"{k}={v}" for k, v in sorted(options.items()) if k != "genotype")
    name = "supernet_" + model if kind == "search" else model
    return f"{name}{'[' + opts + ']' if opts else ''}@{height}x{width}"


def parse_key(key: str) -> tuple[str, dict[str, Any], int, int, str]:
    """The inverse of :func:`network_key`."""
    import yaml

    net, size = key.rsplit("@", 1)
    h, w = (int(v) for v in size.split("x"))
    options: dict[str, Any] = {}
    if "[" in net:
        net, opts = net[:-1].split("[", 1)
        for item in opts.split(","):
            k, v = item.split("=", 1)
            options[k] = yaml.safe_load(v)
    kind = "search" if net.startswith("supernet_") else "train"
    return net.removeprefix("supernet_"), options, h, w, kind


def plan() -> list[dict[str, Any]]:
    """Every run of part II at the ``cpu`` profile: ``study``, ``arm``, ``network`` (a
    :func:`network_key`), ``domain`` (training), ``epochs`` and ``runs``. A run that is the
    same computation as an earlier one (a copied twin, e.g. table3's OSNet = table5's model 1)
    is counted once."""
    from osnet_lib.experiments import fingerprint, get_study
    from osnet_lib.recipes import get_recipe

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in DEFINED:
        for spec in get_study(name).runs("cpu"):
            twin = str(sorted(fingerprint(spec).items()))
            if twin in seen:
                continue
            seen.add(twin)
            r = spec.recipe
            rows.append(dict(study=name, arm=spec.arm, network=network_key(
                r.model, spec.model_options, r.height, r.width, spec.kind),
                domain=spec.source, epochs=r.epochs, runs=1))
    for study, net, domain, recipe, runs in LATER:
        r = get_recipe(recipe, "cpu")
        rows.append(dict(study=study, arm=net, network=network_key(net, {}, r.height, r.width),
                         domain=domain, epochs=r.epochs, runs=runs))
    return rows


# -- step 1: rates --------------------------------------------------------------------------------
def _build(key: str, num_classes: int = 750) -> Any:
    from osnet_lib.models import build_model

    model, options, _, _, kind = parse_key(key)
    if kind == "search":
        from osnet_lib.search import build_supernet

        return build_supernet(model, num_classes)
    return build_model(model, num_classes, **options)


def _rate_one(key: str, steps: int) -> float:
    """Training images per second of the network ``key`` on random tensors, one thread."""
    import torch

    from osnet_lib.engine import build_optimizer, label_smoothing_loss
    from osnet_lib.recipes import get_recipe

    torch.set_num_threads(1)
    torch.manual_seed(0)
    recipe = get_recipe("scratch", "cpu")
    _, _, height, width, _ = parse_key(key)
    net = _build(key).to(memory_format=torch.channels_last).train()
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


def measure_rates(keys: list[str], steps: int) -> dict[str, Any]:
    """Each network's rate as the mean of two identical one-thread processes run at once."""
    out: dict[str, Any] = {"rates": {}, "load": []}
    for key in keys:
        cmd = [sys.executable, __file__, "--rate-one", key, str(steps)]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        rates = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        out["rates"][key] = sum(rates) / 2
        out["load"].append(os.getloadavg()[0])
        print(f"  {key:<44} {out['rates'][key]:7.1f} images/s per process "
              f"(load {out['load'][-1]:.2f})", flush=True)
    return out


# -- step 2: calibration --------------------------------------------------------------------------
def calibrate(rates: dict[str, float]) -> dict[str, Any]:
    """The ratio of a whole run's seconds to its compute bound, from every finished run of the
    defined studies in the store whose network was measured."""
    from osnet_lib.experiments import Store, get_study, load_study

    rows = []
    for name in DEFINED:
        study = get_study(name)
        specs = {(s.arm, s.seed): s for s in study.runs("cpu")}
        frame = load_study(study, "cpu", Store(), stale="ignore")
        for r in frame.drop_duplicates(["arm", "seed"]).itertuples():
            spec = specs[(r.arm, int(r.seed))]
            key = network_key(spec.recipe.model, spec.model_options, spec.recipe.height,
                              spec.recipe.width, spec.kind)
            if key not in rates or spec.kind == "search":
                continue
            images = _domain_images(spec.source) * int(r.epochs)
            rows.append({"study": name, "arm": r.arm, "seed": int(r.seed),
                         "train_seconds": float(r.train_seconds),
                         "bound_seconds": images / rates[key]})
    if not rows:
        raise SystemExit("no finished run in the cpu store to calibrate against")
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
def cost(plan_rows: list[dict[str, Any]], rates: dict[str, float], overhead: float,
         jobs: int = 2) -> dict[str, Any]:
    """Process-hours per study and in all, and the wall hours on ``jobs`` cores."""
    per_study: dict[str, float] = {}
    for row in plan_rows:
        seconds = (row["runs"] * row["epochs"] * _domain_images(row["domain"])
                   / rates[row["network"]] * overhead)
        per_study[row["study"]] = per_study.get(row["study"], 0.0) + seconds
    total = sum(per_study.values())
    return {"runs": sum(r["runs"] for r in plan_rows),
            "per_study_hours": {k: v / 3600 for k, v in per_study.items()},
            "process_hours": total / 3600, "wall_hours": total / 3600 / jobs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default=None, help="a rates JSON of an earlier run")
    p.add_argument("--steps", type=int, default=6, help="training steps per measurement")
    p.add_argument("--output", default=str(RESULTS / "part2_budget.json"))
    p.add_argument("--rate-one", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rate_one:
        key, steps = args.rate_one
        print(_rate_one(key, int(steps)))
        return
    if args.rates:
        rates = json.loads(Path(args.rates).read_text())["rates"]  # {"rates": ..., "load": ...}
    else:
        print("1. rates (two one-thread processes at once, random tensors):")
        rates = measure_rates(sorted({r["network"] for r in plan()}), args.steps)
    missing = sorted({r["network"] for r in plan()} - set(rates["rates"]))
    if missing:
        raise SystemExit(f"the rates file has no rate for {missing}; measure them again")
    cal = calibrate(rates["rates"])
    print(f"2. a whole run takes {cal['overhead']:.2f}x its compute bound "
          f"({len(cal['runs'])} finished runs of the store)")
    result = cost(plan(), rates["rates"], cal["overhead"])
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
