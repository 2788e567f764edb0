"""Images per second of a whole `cpu` scratch run: today's eager Trainer, the fast path, and
the pure-compute bound, in one run of this script.

What is measured, for OSNet x0.25 with T=4 and T=1 and OSNet x1.0 (T=4), at 128x64, batch 64,
on the ``market`` domain of the synthetic ``cpu`` world:

- ``eager``: the Trainer as it was before its fast paths (NCHW, no compile, float32, images
  decoded every epoch by two loader workers, features extracted by the eager model);
- ``fast``: the Trainer with the recipe's defaults (``channels_last``, ``cache_images``,
  ``eval_backend``, ... see :class:`osnet_lib.recipes.Recipe`); ``fast_bf16`` and
  ``fast_compile`` add ``autocast_bf16`` or ``torch_compile`` (``--variants`` picks; compiling
  takes minutes on a small CPU the first time; inductor's on-disk cache shortens later runs);
- ``bound``: the eager pure-compute bound, training steps on random tensors held in memory
  (no data, no evaluation), and ``bound_fast`` the same on the fast path's memory format and
  precision;

each as one process with two threads (``1x2``) and as two one-thread processes running at once
(``2x1``, two seeds of a study: the figure is their aggregate). Every measurement is a fresh
process.

A whole run is ``epochs`` (12) epochs over the training set plus one evaluation (features of the
query and gallery images, then CMC/mAP). To keep the script short, each run is *shortened*: it
trains ``--epochs`` epochs (1 by default) on ``--train-images`` training images (all by default)
and evaluates on ``--eval-images`` query+gallery images (all by default); since an epoch's cost
is proportional to its images, the whole run's time is extrapolated as
``setup + 12 x epoch time x (all / used training images) + evaluation time x (all / used
evaluation images) + the rest (image decoding) x (all / used training images)``, and its figure
is ``12 x training images / that time``. The output says which counts stood in for the run.

The machine may be shared: read the ratios between the variants of one run (they are
measured one after the other, with the machine load from ``os.getloadavg`` recorded for each),
not the absolute figures. ``--ops`` adds a torch.profiler split of a training step by operator
kind (depthwise 3x3 and 1x1 convolutions, BatchNorm, the gate's reductions, ...) and of an epoch
into data, forward, backward, optimiser step and evaluation.

Usage::

    python benchmarks/bench_train.py --quick            # a couple of minutes
    python benchmarks/bench_train.py                    # about 20 minutes on a quiet 2-core CPU
    python benchmarks/bench_train.py --ops --configs x0_25-T4 --variants eager,fast
"""

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from osnet_lib.data import (
    DecodedImageDataset,
    ImageDataset,
    ReIDDataset,
    build_dataset,
    build_transforms,
    relabel,
)
from osnet_lib.engine import Trainer, build_optimizer, label_smoothing_loss, seed_everything
from osnet_lib.models import build_model
from osnet_lib.recipes import get_recipe

log = logging.getLogger("bench_train")
RESULTS = Path(__file__).resolve().parent / "results" / "train_cpu"
WORLD = Path(__file__).resolve().parents[1] / "book" / "data" / "synthetic-cpu"

#: The Trainer before its fast paths: the recipe fields that turn each one off.
EAGER = dict(channels_last=False, torch_compile=False, autocast_bf16=False, cache_images=False,
             eval_backend="eager", num_workers=2)
#: name -> (model, model options)
CONFIGS = {"x0_25-T4": ("osnet_x0_25", {"T": 4}), "x0_25-T1": ("osnet_x0_25", {"T": 1}),
           "x1_0-T4": ("osnet_x1_0", {"T": 4})}
#: variant -> the recipe fields it sets (``bound*``: random tensors on that variant's path)
VARIANTS = {"eager": EAGER, "fast": {}, "fast_bf16": {"autocast_bf16": True},
            "fast_compile": {"torch_compile": True}, "bound": EAGER, "bound_fast": {}}
DEFAULT_VARIANTS = ("eager", "fast", "fast_bf16", "bound", "bound_fast")
ARRANGEMENTS = ("1x2", "2x1")  # processes x threads


def load() -> float:
    return round(os.getloadavg()[0], 2)


def _subset(records: list, n: int, seed: int) -> list:
    if not n or n >= len(records):
        return list(records)
    g = torch.Generator().manual_seed(seed)
    return [records[i] for i in sorted(torch.randperm(len(records), generator=g)[:n].tolist())]


def dataset(root: Path, train_images: int, eval_images: int) -> tuple[ReIDDataset, dict]:
    """The market domain, with random subsets of its training and evaluation images."""
    full = build_dataset("synthetic", root, domain="market")
    n_eval = len(full.query) + len(full.gallery)
    share = eval_images / n_eval if eval_images and eval_images < n_eval else 1.0
    ds = ReIDDataset(full.name, relabel(_subset(full.train, train_images, 0)),
                     _subset(full.query, round(share * len(full.query)), 1),
                     _subset(full.gallery, round(share * len(full.gallery)), 2),
                     full.distractor_pids)
    counts = {"train_all": len(full.train), "eval_all": n_eval, "train_used": len(ds.train),
              "eval_used": len(ds.query) + len(ds.gallery)}
    return ds, counts


def recipe_for(spec: dict) -> Any:
    return get_recipe("scratch", "cpu", model=CONFIGS[spec["config"]][0],
                      epochs=spec["epochs"], **VARIANTS[spec["variant"]])


class TimedTrainer(Trainer):
    """A Trainer that adds up the seconds its evaluations take."""

    eval_seconds = 0.0

    def evaluate(self) -> dict:
        start = time.perf_counter()
        out = super().evaluate()
        self.eval_seconds += time.perf_counter() - start
        return out


def measure_run(spec: dict) -> dict:
    """One shortened Trainer run, extrapolated to a whole run of the recipe."""
    ds, counts = dataset(Path(spec["root"]), spec["train_images"], spec["eval_images"])
    recipe = recipe_for(spec)
    full_epochs = get_recipe("scratch", "cpu").epochs
    load0 = load()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        trainer = TimedTrainer(recipe, ds, out, seed=spec["seed"], device="cpu", progress=False,
                               model_options=CONFIGS[spec["config"]][1])
        setup = time.perf_counter() - start
        res = trainer.fit()
        fit = time.perf_counter() - start - setup
    epochs = [h["seconds"] for h in res["history"]]
    trained = len(ds.train) // recipe.batch_size * recipe.batch_size  # drop_last
    rest = fit - sum(epochs) - trainer.eval_seconds
    t_scale = counts["train_all"] / counts["train_used"]
    e_scale = counts["eval_all"] / counts["eval_used"]
    epoch = sum(epochs) / len(epochs) * counts["train_used"] / trained  # per used image
    whole = (setup + full_epochs * epoch * t_scale + trainer.eval_seconds * e_scale
             + rest * t_scale)
    return {**spec, **counts, "full_epochs": full_epochs, "setup_s": setup, "epoch_s": epochs,
            "eval_s": trainer.eval_seconds, "rest_s": rest, "whole_run_s": whole,
            "train_images_per_s": trained / epoch,
            "images_per_s": full_epochs * counts["train_all"] / whole,
            "rank1": res["metrics"][ds.name]["rank1"], "load": [load0, load()]}


def random_tensor_step(model: torch.nn.Module, recipe: Any, batch_size: int) -> Any:
    """One training step of ``model`` on a fixed batch of random tensors in memory, on the
    recipe's path (memory format, bf16 autocast): what the compute bound and the operator
    profile time."""
    fmt = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = build_optimizer(model, recipe)
    x = torch.randn(batch_size, 3, recipe.height, recipe.width).contiguous(memory_format=fmt)
    y = torch.randint(0, 750, (batch_size,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.autocast_bf16):
            logits = model(x)
        label_smoothing_loss(logits.float(), y).backward()
        opt.step()

    return step


def measure_bound(spec: dict) -> dict:
    """Training steps on random tensors in memory: the pure-compute bound of a path."""
    recipe = recipe_for(spec)
    model_name, options = CONFIGS[spec["config"]]
    seed_everything(spec["seed"])
    model = build_model(model_name, 750, **options)
    step = random_tensor_step(model, recipe, recipe.batch_size)
    for _ in range(2):
        step()
    load0, start = load(), time.perf_counter()
    for _ in range(spec["steps"]):
        step()
    seconds = time.perf_counter() - start
    return {**spec, "images_per_s": spec["steps"] * recipe.batch_size / seconds,
            "seconds": seconds, "load": [load0, load()]}


def run_one(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    if spec["variant"].startswith("bound"):
        return measure_bound(spec)
    return measure_run(spec)


def launch(spec: dict, arrangement: str) -> dict:
    """Run ``spec`` in fresh processes: one with two threads, or two with one thread each
    (seeds 0 and 1) at once; the figure of ``2x1`` is their aggregate images per second."""
    procs, threads = (1, 2) if arrangement == "1x2" else (2, 1)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONHASHSEED": "0"}
    running = []
    start = time.perf_counter()
    for k in range(procs):
        one = {**spec, "threads": threads, "seed": k}
        running.append(subprocess.Popen(
            [sys.executable, __file__, "--run-one", json.dumps(one)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in running:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{spec} failed:\n{err[-3000:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return {"config": spec["config"], "variant": spec["variant"], "arrangement": arrangement,
            "images_per_s": sum(o["images_per_s"] for o in outs), "runs": outs,
            "wall_s": time.perf_counter() - start}


# -- where the time goes ---------------------------------------------------------------------------
def _conv_kind(weight_shape: list[int]) -> str:
    _, per_group, kh, kw = weight_shape
    if kh == kw == 1:
        return "conv 1x1"
    if per_group == 1:
        return "conv depthwise 3x3"
    return "conv other (stem 7x7, full 3x3)"


def op_kind(name: str, shapes: list) -> str:
    """The operator kind of a profiler event (self time is attributed to it)."""
    if "convolution" in name and shapes:
        weight = shapes[1] if "backward" not in name else (shapes[2] if len(shapes) > 2 else [])
        if isinstance(weight, list) and len(weight) == 4:
            return _conv_kind(weight)
        return "conv (other)"
    if "batch_norm" in name:
        return "BatchNorm"
    if any(k in name for k in ("mean", "adaptive_avg_pool", "sum")):
        return "reductions (the gate's GAP, ...)"
    if any(k in name for k in ("sigmoid", "mul")):
        return "gate sigmoid / scaling"
    if any(k in name for k in ("relu", "threshold", "clamp")):
        return "ReLU"
    if "pool" in name:
        return "pooling"
    if any(k in name for k in ("add", "copy", "cat", "fill", "zero", "empty", "clone")):
        return "add, copy, fill"
    if any(k in name for k in ("mm", "addmm", "linear")):
        return "fc / classifier"
    return "other"


def profile_ops(config: str, variant: str, steps: int, threads: int) -> dict:
    """Self CPU time per operator kind over ``steps`` training steps on random tensors."""
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(threads)
    recipe = recipe_for({"config": config, "variant": variant, "epochs": 1})
    model_name, options = CONFIGS[config]
    model = build_model(model_name, 750, **options)
    step = random_tensor_step(model, recipe, 64)
    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    kinds: dict[str, float] = defaultdict(float)
    for ev in prof.events():
        if ev.name.startswith("aten::") and ev.self_cpu_time_total > 0:
            kinds[op_kind(ev.name, list(ev.input_shapes or []))] += ev.self_cpu_time_total
    total = sum(kinds.values())
    return {k: round(v / total, 3) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}


def epoch_split(root: Path, config: str, variant: str, batches: int, threads: int) -> dict:
    """Seconds per training image spent loading data, in forward, backward and the optimiser
    step (over ``batches`` batches of the recipe's loader), and evaluating (per evaluated
    image), on one process."""
    torch.set_num_threads(threads)
    recipe = recipe_for({"config": config, "variant": variant, "epochs": 1})
    ds, _ = dataset(root, 0, 2048)
    seed_everything(0)
    model_name, options = CONFIGS[config]
    fmt = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = build_model(model_name, ds.num_train_pids, **options).to(memory_format=fmt).train()
    opt = build_optimizer(model, recipe)
    train_tf, _ = build_transforms(recipe.height, recipe.width, augment=recipe.augment)
    start = time.perf_counter()
    data = (DecodedImageDataset(ds.train, recipe.height, recipe.width, train_tf)
            if recipe.cache_images else ImageDataset(ds.train, train_tf))
    decode = time.perf_counter() - start
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, drop_last=True,
                                         num_workers=recipe.num_workers)
    times = defaultdict(float)
    it = iter(loader)
    for i in range(batches + 1):
        t0 = time.perf_counter()
        batch = next(it)
        imgs = batch["img"].contiguous(memory_format=fmt)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.autocast_bf16):
            logits = model(imgs)
        loss = label_smoothing_loss(logits.float(), batch["pid"])
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if i:  # the first batch warms up
            for k, v in (("data", t1 - t0), ("forward", t2 - t1), ("backward", t3 - t2),
                         ("optimiser", t4 - t3)):
                times[k] += v
    del it
    with tempfile.TemporaryDirectory() as out:
        trainer = TimedTrainer(recipe, ds, out, device="cpu", progress=False,
                               model_options=options)
        trainer.evaluate()
    n = batches * 64
    per_image = {k: v / n for k, v in times.items()}
    per_image["decode once (per training image)"] = decode / len(ds.train)
    per_image["evaluate (per evaluated image)"] = trainer.eval_seconds / (
        len(ds.query) + len(ds.gallery))
    return {k: round(1000 * v, 3) for k, v in per_image.items()}  # ms per image


# -- the study -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a couple of minutes: x0.25 T=4 only, on 512 training and evaluation "
                        "images")
    p.add_argument("--root", default=str(WORLD), help="the synthetic cpu world (%(default)s)")
    p.add_argument("--epochs", type=int, default=1, help="epochs the shortened runs train")
    p.add_argument("--train-images", type=int, default=None,
                   help="training images of a shortened x0.25 run (0: all; x1.0: 1/16)")
    p.add_argument("--eval-images", type=int, default=None,
                   help="query+gallery images of a shortened x0.25 run (0: all; x1.0: 1/16)")
    p.add_argument("--configs", default=None,
                   help=f"some of {', '.join(CONFIGS)} (default: all; --quick: x0_25-T4)")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"some of {', '.join(VARIANTS)} (default: %(default)s)")
    p.add_argument("--arrangements", default=",".join(ARRANGEMENTS))
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat every measurement, in reversed order every other round; the "
                        "table shows the median over rounds (a shared machine's load varies)")
    p.add_argument("--bound-steps", type=int, default=None, help="steps of a bound measurement")
    p.add_argument("--ops", action="store_true", help="also the profiler splits")
    p.add_argument("--output", default=None, help="JSON file (default: results/train_cpu/)")
    p.add_argument("--run-one", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run_one:
        print(json.dumps(run_one(json.loads(args.run_one))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    root = Path(args.root)
    if not (root / "market").is_dir():
        raise SystemExit(f"no synthetic cpu world at {root}; generate it with "
                         "data_scripts/make_synthetic.py --profile cpu or pass --root")
    train_n = args.train_images if args.train_images is not None else (512 if args.quick else 0)
    eval_n = args.eval_images if args.eval_images is not None else (512 if args.quick else 0)
    bound_steps = args.bound_steps or (4 if args.quick else 12)
    record: dict[str, Any] = {
        "command": " ".join([Path(sys.argv[0]).name,
                             *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                    "torch": torch.__version__, "load_at_start": load()},
        "shortened": {"epochs": args.epochs, "train_images": train_n or "all",
                      "eval_images": eval_n or "all"},
        "results": [], "ops": {}, "epoch_split": {}}
    variants = [v for v in args.variants.split(",") if v]
    configs = args.configs or ("x0_25-T4" if args.quick else ",".join(CONFIGS))
    for config in configs.split(","):
        small = config.startswith("x1_0")
        for round_index, arrangement, variant in (
                (rnd, a, v) for rnd in range(args.rounds) for a in args.arrangements.split(",")
                for v in (variants if rnd % 2 == 0 else variants[::-1])):
                spec = {"config": config, "variant": variant, "root": str(root),
                        "epochs": args.epochs,
                        "train_images": max(256, (train_n or 12081) // 16) if small else train_n,
                        "eval_images": max(256, (eval_n or 16391) // 16) if small else eval_n,
                        "steps": max(2, bound_steps // (4 if small else 1))}
                res = {**launch(spec, arrangement), "round": round_index}
                log.info("%-9s %-12s %s  %7.1f images/s  (round %d, load %s)", config, variant,
                         arrangement, res["images_per_s"], round_index,
                         [r["load"] for r in res["runs"]])
                record["results"].append(res)
        if args.ops:
            for variant in ("eager", "fast", "fast_bf16"):
                key = f"{config}/{variant}"
                record["ops"][key] = profile_ops(config, variant, 2 if small else 4, 1)
                record["epoch_split"][key] = epoch_split(root, config, variant,
                                                         2 if small else 16, 1)
                log.info("%s ops %s\n%s epoch ms/image %s", key, record["ops"][key], key,
                         record["epoch_split"][key])
    record["machine"]["load_at_end"] = load()
    for res in record["results"]:  # the world's folder relative to the repository
        for one in res["runs"]:
            one["root"] = os.path.relpath(one["root"], WORLD.parents[2])
    table(record)
    out = Path(args.output) if args.output else RESULTS / (
        f"bench_train{'_quick' if args.quick else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    log.info("wrote %s", out)
    return 0


def table(record: dict) -> None:
    """Print images/s per config and variant, with the ratio to the eager Trainer (1x2)."""
    s = record["shortened"]
    print(f"\nwhole cpu scratch run (12 epochs + evaluation), images/s; shortened runs of "
          f"{s['epochs']} epoch(s) on {s['train_images']} training and {s['eval_images']} "
          f"evaluation images (x1.0: 1/16, at least 256) stood in, extrapolated")
    rounds = defaultdict(list)
    for r in record["results"]:
        rounds[(r["config"], r["variant"], r["arrangement"])].append(r["images_per_s"])
    by = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"{'config':10} {'variant':12} {'1x2':>8} {'2x1':>8} {'x eager':>8} "
          f"{'x bound':>8}   (ratios: best arrangement over eager's and bound's best)")
    for config in dict.fromkeys(r["config"] for r in record["results"]):
        base = max((v for (c, var, _), v in by.items() if c == config and var == "eager"),
                   default=None)
        bound = max((v for (c, var, _), v in by.items() if c == config and var == "bound"),
                    default=None)
        for variant in VARIANTS:
            vals = [by.get((config, variant, a)) for a in ARRANGEMENTS]
            if all(v is None for v in vals):
                continue
            best = max(v for v in vals if v is not None)
            ratio = f"{best / base:.2f}" if base else "-"
            vs_bound = f"{best / bound:.2f}" if bound else "-"
            print(f"{config:10} {variant:12} " + " ".join(
                f"{v:8.1f}" if v is not None else f"{'-':>8}" for v in vals)
                + f" {ratio:>8} {vs_bound:>8}")
    m = record["machine"]
    print(f"load average (1 min): {m['load_at_start']} at start, {m.get('load_at_end')} at end")


if __name__ == "__main__":
    sys.exit(main())
