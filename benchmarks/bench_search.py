"""The OSNet-AIN experiment end to end: search, then cross-domain training of the arms.

Sec. 3.3 and 4.2 of the paper, at a profile (``cpu`` by default) on the synthetic world:

1. **search**: the supernet of Fig. 5 trained once per seed on the source domain
   (``msmt``, standing in for MSMT17 as in the paper); each derived genotype is evaluated
   on held-out domains and the seed with the best rank-1 on the selection domain (``cuhk03``)
   is kept ("run four times with different random seeds and select the one with the best
   cross-domain performance");
2. **arms**: the ``cross_domain`` recipe trains plain OSNet, OSNet-IBN, the searched genotype
   and the released OSNet-AIN genotype (Table 1) on the source domain, each evaluated on the
   target domains (``market`` and ``duke``), which the search selection never looked at;
3. **summary**: one table (printed and written to ``<output>/summary.json``) with rank-1, mAP
   (averaged over the arms' seeds) and the training time of every run.

Every step resumes: finished runs are read back, unfinished ones continue from their last
checkpoint, so the steps can be split over processes::

    python benchmarks/bench_search.py --data-root data/synthetic-cpu --steps search --seeds 0 1
    python benchmarks/bench_search.py --data-root data/synthetic-cpu --steps search --seeds 2 3
    python benchmarks/bench_search.py --data-root data/synthetic-cpu --steps arms \
        --arms osnet osnet_ibn
    python benchmarks/bench_search.py --data-root data/synthetic-cpu   # the rest and the table

The cross-domain recipe of the paper starts from ImageNet weights and first trains the
classifier alone; without ImageNet weights (the ``cpu`` and ``quick`` profiles) the arms are
trained from scratch, so that classifier-only phase is switched off (``fixbase_epochs=0``).
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

from osnet_lib.data import build_dataset
from osnet_lib.engine import Trainer
from osnet_lib.models import Genotype, model_name, parse_model_name
from osnet_lib.provenance import write_json_atomic
from osnet_lib.recipes import get_recipe
from osnet_lib.search import plot_arch_history, run_search

matplotlib.use("Agg")

ARMS = ("osnet", "osnet_ibn", "searched", "osnet_ain")
STEPS = ("search", "arms", "summary")


def _key(domain: str) -> str:
    """Results are keyed by dataset spec, as ``python -m osnet_lib search/train --target``
    keys them, so that runs started from the command line resume here and back."""
    return f"synthetic:domain={domain}"


def _datasets(root: str, domains: list[str]) -> dict[str, Any]:
    return {_key(d): build_dataset("synthetic", root, domain=d) for d in domains}


def search_step(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    recipe = get_recipe("search", args.profile, num_workers=args.num_workers)
    source = build_dataset("synthetic", args.data_root, domain=args.source)
    targets = _datasets(args.data_root, [args.select_on, *args.targets])
    return run_search(recipe, source, targets, args.seeds, out / "search",
                      select_on=_key(args.select_on), progress=not args.quiet)


def _arm_options(arm: str, out: Path) -> tuple[str, dict[str, Any]]:
    """The registered model name and model options of an arm."""
    if arm == "searched":
        path = out / "search" / "genotype.json"
        if not path.is_file():
            raise SystemExit(f"no searched genotype at {path}: run the search step first "
                             "(with all its seeds)")
        return "osnet_ain", {"genotype": Genotype.load(path).to_dict()}
    return arm, {}  # osnet_ain is registered with the released genotype (Table 1)


def arms_step(args: argparse.Namespace, out: Path, arms: list[str]) -> None:
    base = get_recipe("cross_domain", args.profile, num_workers=args.num_workers)
    width = parse_model_name(base.model).width  # the profile's width, e.g. "x0_25"
    source = build_dataset("synthetic", args.data_root, domain=args.source)
    targets = _datasets(args.data_root, args.targets)
    for arm in arms:
        family, options = _arm_options(arm, out)
        overrides = {"model": model_name(family, width)}
        if not base.pretrained:
            overrides["fixbase_epochs"] = 0
        recipe = base.replace(**overrides)
        for seed in args.arm_seeds:
            t0 = time.perf_counter()
            trainer = Trainer(recipe, source, out / "arms" / arm / f"seed{seed}",
                              eval_sets=targets, seed=seed, model_options=options,
                              progress=not args.quiet)
            results = trainer.fit(resume=True)
            print(f"{arm} seed {seed}: " + ", ".join(
                f"{d.split('=')[-1]} R1 {m['rank1']:.1%} mAP {m['mAP']:.1%}"
                for d, m in results["metrics"].items())
                + f" ({time.perf_counter() - t0:.0f} s this session)")


def _train_seconds(history: list[dict[str, Any]]) -> float:
    return sum(h.get("seconds", 0.0) for h in history)


def _mean_metrics(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Rank-1 and mAP per target, averaged over the seeds of an arm."""
    return {t: {m: sum(r[t][m] for r in runs) / len(runs) for m in ("rank1", "mAP")}
            for t in runs[0]}


def summary_step(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    search = json.loads((out / "search" / "search.json").read_text())
    rows = []
    for run in search["runs"]:
        results = json.loads((out / "search" / f"seed{run['seed']}" / "results.json").read_text())
        rows.append({"what": f"search seed {run['seed']}", "seed": run["seed"],
                     "genotype": run["genotype"], "metrics": run["metrics"],
                     "train_seconds": _train_seconds(results["history"]),
                     "arch_history": run["arch_history"],
                     "temperatures": [h["temperature"] for h in results["history"]]})
    arms = {}
    for arm in ARMS:
        runs = []
        for path in sorted((out / "arms" / arm).glob("seed*/results.json")):
            results = json.loads(path.read_text())
            runs.append({"seed": results["provenance"]["seed"], "metrics": results["metrics"],
                         "train_seconds": _train_seconds(results["history"])})
        if runs:
            arms[arm] = {"model": results["provenance"]["recipe"]["model"],
                         "model_options": results["provenance"].get("model_options", {}),
                         "seeds": [r["seed"] for r in runs], "runs": runs,
                         "metrics": _mean_metrics([r["metrics"] for r in runs]),
                         "train_seconds": sum(r["train_seconds"] for r in runs) / len(runs)}
    summary = {"profile": args.profile, "source": args.source, "select_on": args.select_on,
               "targets": args.targets, "selected_seed": search["selected_seed"],
               "genotype": search["genotype"], "search_runs": rows, "arms": arms}
    write_json_atomic(out / "summary.json", summary)
    selected = next(r for r in rows if r["seed"] == search["selected_seed"])
    fig = plot_arch_history(selected["arch_history"], selected["temperatures"],
                            title=f"search on {args.source}, seed {selected['seed']}")
    fig.savefig(out / "arch_history.png", dpi=120)

    print(f"selected seed {search['selected_seed']} (best rank-1 on {args.select_on}):")
    print(Genotype.from_dict(search["genotype"]).table())
    domains = [args.select_on, *args.targets]
    cols = [_key(d) for d in domains]
    print(f"\n{'run':<20}" + "".join(f"{d + ' R1/mAP':>20}" for d in domains) + f"{'train':>9}")
    for row in rows:
        print(f"{row['what']:<20}" + "".join(
            f"{row['metrics'][c]['rank1']:>10.1%}/{row['metrics'][c]['mAP']:<8.1%}"
            if c in row["metrics"] else f"{'-':>20}" for c in cols)
            + f"{row['train_seconds'] / 60:>7.1f}m")
    for arm, row in arms.items():
        what = f"{arm} ({len(row['seeds'])} seed{'s' * (len(row['seeds']) > 1)})"
        print(f"{what:<20}" + "".join(
            f"{row['metrics'][c]['rank1']:>10.1%}/{row['metrics'][c]['mAP']:<8.1%}"
            if c in row["metrics"] else f"{'-':>20}" for c in cols)
            + f"{row['train_seconds'] / 60:>7.1f}m")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="the synthetic world's folder")
    parser.add_argument("--output", default="runs/ain", help="folder for every run")
    parser.add_argument("--profile", default="cpu", choices=("quick", "cpu", "paper"))
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--arm-seeds", type=int, nargs="+", default=[0],
                        help="train every arm once per seed (default: 0)")
    parser.add_argument("--source", default="msmt")
    parser.add_argument("--select-on", default="cuhk03")
    parser.add_argument("--targets", nargs="+", default=["market", "duke"])
    parser.add_argument("--num-workers", type=int, default=1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.select_on in args.targets or args.source in [args.select_on, *args.targets]:
        parser.error("the source, the selection domain and the targets must all differ")
    out = Path(args.output)
    if "search" in args.steps:
        search_step(args, out)
    if "arms" in args.steps:
        arms_step(args, out, args.arms)
    if "summary" in args.steps:
        summary_step(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
