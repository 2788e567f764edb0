"""Command-line entry point: ``python -m osnet_lib <command>`` (or ``osnet <command>``)."""

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any


def _cmd_models(args: argparse.Namespace) -> int:
    from osnet_lib.models import get_model_spec, list_models

    for name in list_models():
        spec = get_model_spec(name)
        print(f"{name:<18} {spec.params / 1e6:5.2f}M params {spec.mult_adds / 1e6:8.1f}M "
              f"Mult-Adds  {spec.description}")
    return 0


def _cmd_complexity(args: argparse.Namespace) -> int:
    from osnet_lib.complexity import table6

    print(f"{'beta':>5} {'gamma':>5} {'input':>8} {'params':>8} {'paper':>6} "
          f"{'Mult-Adds':>10} {'paper':>7}")
    for r in table6():
        h, w = r["input_size"]
        print(f"{r['beta']:>5} {r['gamma']:>5} {h:>4}x{w:<3} {r['params_m']:>7.1f}M "
              f"{r['paper_params_m']:>5.1f}M {r['mult_adds_m']:>9.1f}M "
              f"{r['paper_mult_adds_m']:>6.1f}M")
    return 0


def _cmd_smoke(args: argparse.Namespace) -> int:
    """Build every registered model and run one forward pass: a quick check of an install."""
    import torch

    from osnet_lib.models import build_model, list_models

    torch.manual_seed(0)
    x = torch.randn(2, 3, 128, 64)
    for name in list_models():
        model = build_model(name, num_classes=10).eval()
        out = model.forward_all(x)
        print(f"{name:<18} featuremaps {tuple(out.featuremaps.shape)} "
              f"embedding {tuple(out.embedding.shape)} logits {tuple(out.logits.shape)}")
    return _cmd_complexity(args)


def _parse_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _key_values(items: Sequence[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: {what} must look like key=value, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME`` or ``NAME:key=value,key=value`` (e.g. ``synthetic:domain=B``)."""
    name, _, opts = spec.partition(":")
    return name, _key_values([o for o in opts.split(",") if o], "a dataset option")


def _load_datasets(specs: Sequence[str], root: str) -> list[Any]:
    from osnet_lib.data import build_dataset

    datasets = []
    for spec in specs:
        name, opts = parse_dataset_spec(spec)
        datasets.append(build_dataset(name, root, **opts))
    return datasets


def _cmd_train(args: argparse.Namespace) -> int:
    from osnet_lib.data import combine_datasets
    from osnet_lib.engine import Trainer
    from osnet_lib.recipes import get_recipe

    overrides = _key_values(args.set, "--set")
    for key in ("model", "epochs", "batch_size", "lr", "pretrained"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    recipe = get_recipe(args.recipe, args.profile, **overrides)
    sources = _load_datasets(args.dataset, args.data_root)
    train_set = sources[0] if len(sources) == 1 else combine_datasets(sources)
    targets = _load_datasets(args.target, args.data_root) if args.target else sources
    eval_sets = {spec: ds for spec, ds in zip(args.target or args.dataset, targets)}
    trainer = Trainer(recipe, train_set, args.output, eval_sets=eval_sets, seed=args.seed,
                      device=args.device, model_options=_key_values(args.model_option,
                                                                    "--model-option"),
                      progress=not args.quiet)
    results = trainer.fit(resume=args.resume)
    if results:
        for name, metrics in results["metrics"].items():
            print(f"{name}: R1 {metrics['rank1']:.1%} mAP {metrics['mAP']:.1%}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from osnet_lib.models import Genotype
    from osnet_lib.recipes import get_recipe
    from osnet_lib.search import run_search

    overrides = _key_values(args.set, "--set")
    for key in ("model", "epochs", "batch_size", "lr"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    recipe = get_recipe("search", args.profile, **overrides)
    (train_set,) = _load_datasets([args.dataset], args.data_root)
    targets = dict(zip(args.target, _load_datasets(args.target, args.data_root)))
    summary = run_search(recipe, train_set, targets, args.seeds, args.output,
                         device=args.device, progress=not args.quiet)
    print(f"selected seed {summary['selected_seed']} (best on {summary['select_on']}):")
    print(Genotype.from_dict(summary["genotype"]).table())
    return 0


def _model_from_args(args: argparse.Namespace) -> Any:
    from osnet_lib.models import build_model
    from osnet_lib.weights import load_pretrained

    model = build_model(args.model, 0, **_key_values(args.model_option, "--model-option"))
    if args.weights:
        load_pretrained(model, args.weights, load_classifier=False)
    return model.eval()


def _cmd_eval(args: argparse.Namespace) -> int:
    from osnet_lib.engine import evaluate_model
    from osnet_lib.provenance import provenance, write_json_atomic

    model = _model_from_args(args)
    results = {}
    for spec, ds in zip(args.dataset, _load_datasets(args.dataset, args.data_root)):
        res = evaluate_model(model, ds, args.height, args.width, flip=args.flip,
                             distance=args.distance, device=args.device)
        results[spec] = res.as_dict()
        print(f"{spec}: {res}")
    if args.output:
        write_json_atomic(args.output, {"metrics": results, "provenance": provenance(
            {"model": args.model, "weights": args.weights, "height": args.height,
             "width": args.width, "flip": args.flip, "distance": args.distance})})
    return 0


def _image_list(source: str) -> list[str]:
    from pathlib import Path

    path = Path(source)
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*")
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    elif path.is_file():
        files = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    else:
        raise SystemExit(f"error: {source} is neither a folder of images nor a list file")
    if not files:
        raise SystemExit(f"error: no images found in {source}")
    return files


def _cmd_features(args: argparse.Namespace) -> int:
    import numpy as np

    from osnet_lib.data import build_transforms
    from osnet_lib.engine import extract_features

    model = _model_from_args(args)
    _, tf = build_transforms(args.height, args.width)
    feats = extract_features(model, _image_list(args.images), tf, flip=args.flip,
                             device=args.device)
    np.save(args.output, feats.features.numpy())
    with open(str(args.output) + ".paths.txt", "w") as f:
        f.write("\n".join(feats.paths) + "\n")
    print(f"wrote {tuple(feats.features.shape)} features to {args.output}")
    return 0


def _cmd_rank(args: argparse.Namespace) -> int:
    from osnet_lib.data import build_transforms
    from osnet_lib.engine import extract_features, rank_gallery
    from osnet_lib.provenance import write_json_atomic

    model = _model_from_args(args)
    _, tf = build_transforms(args.height, args.width)
    q = extract_features(model, _image_list(args.query), tf, flip=args.flip, device=args.device)
    g = extract_features(model, _image_list(args.gallery), tf, flip=args.flip, device=args.device)
    idx, dist = rank_gallery(q.features, g.features, args.top_k, args.distance)
    ranking = {qp: [{"path": g.paths[j], "distance": float(d)} for j, d in zip(row, drow)]
               for qp, row, drow in zip(q.paths, idx.tolist(), dist.tolist())}
    write_json_atomic(args.output, ranking)
    print(f"ranked {len(g.paths)} gallery images for {len(q.paths)} queries into {args.output}")
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="osnet_x1_0", help="registered model name (default "
                   "%(default)s; see the 'models' command)")
    p.add_argument("--weights", help="weight file to load: a model.pth written by 'train', or a "
                   "file published by the paper's authors")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model option such as T=1 or fusion=concat (repeatable)")
    p.add_argument("--height", type=int, default=256, help="input height (default %(default)s)")
    p.add_argument("--width", type=int, default=128, help="input width (default %(default)s)")
    p.add_argument("--flip", action="store_true",
                   help="average each image's features with its mirror image's")
    p.add_argument("--distance", default="cosine", choices=("cosine", "euclidean"),
                   help="matching distance (default %(default)s, as in the paper)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m osnet_lib",
        description="OSNet and OSNet-AIN for person re-identification (Zhou et al., TPAMI 2021).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    sub.add_parser("models", help="list the registered models with their size and cost"
                   ).set_defaults(func=_cmd_models)
    sub.add_parser("complexity", help="Table 6 as measured next to the paper's figures"
                   ).set_defaults(func=_cmd_complexity)
    sub.add_parser("smoke", help="build every model, run a forward pass, print Table 6"
                   ).set_defaults(func=_cmd_smoke)

    from osnet_lib.recipes import list_recipes

    t = sub.add_parser(
        "train", help="train a model with a named recipe",
        description="Train with a recipe of the paper (scratch, finetune, cross_domain) at a "
        "profile (quick, cpu, paper). Run it under torchrun for several GPUs or machines.")
    t.add_argument("--recipe", default="scratch",
                   choices=[r for r in list_recipes() if r != "search"],
                   help="training recipe (default %(default)s)")
    t.add_argument("--profile", default="paper", choices=("quick", "cpu", "paper"),
                   help="scale of the recipe (default %(default)s: the paper's own)")
    t.add_argument("--dataset", action="append", required=True, metavar="NAME[:K=V,...]",
                   help="training dataset, e.g. market1501 or synthetic:domain=A; repeat it for "
                   "multi-source training (one classifier over all identities)")
    t.add_argument("--target", action="append", default=[], metavar="NAME[:K=V,...]",
                   help="evaluation dataset (repeatable; default: the training datasets)")
    t.add_argument("--data-root", default="data", help="folder holding the datasets")
    t.add_argument("--output", required=True, help="run folder: checkpoint, weights, results")
    t.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the run folder's last checkpoint")
    t.add_argument("--model", help="override the recipe's model")
    t.add_argument("--epochs", type=int, help="override the recipe's epochs")
    t.add_argument("--batch-size", dest="batch_size", type=int, help="override the batch size")
    t.add_argument("--lr", type=float, help="override the learning rate")
    t.add_argument("--pretrained", help="start from this weight file (e.g. ImageNet weights)")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any recipe field, e.g. --set eval_freq=5 (repeatable)")
    t.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model option such as T=1 or fusion=concat (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser(
        "search", help="search where to put instance normalisation (OSNet-AIN, Sec. 3.3)",
        description="Train the supernet of Fig. 5 with the Gumbel-softmax relaxation once per "
        "seed, and keep the genotype with the best result on a held-out target domain.")
    s.add_argument("--profile", default="paper", choices=("quick", "cpu", "paper"),
                   help="scale of the search recipe (default %(default)s)")
    s.add_argument("--dataset", required=True, metavar="NAME[:K=V,...]",
                   help="source dataset to search on (MSMT17 in the paper)")
    s.add_argument("--target", action="append", required=True, metavar="NAME[:K=V,...]",
                   help="held-out dataset(s) to evaluate on; the first selects the seed")
    s.add_argument("--data-root", default="data", help="folder holding the datasets")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3],
                   help="one search per seed (default: four, as the paper)")
    s.add_argument("--output", required=True, help="folder for the runs and the genotype")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    s.add_argument("--model", help="width of the supernet, e.g. osnet_x0_25")
    s.add_argument("--epochs", type=int, help="override the recipe's epochs")
    s.add_argument("--batch-size", dest="batch_size", type=int, help="override the batch size")
    s.add_argument("--lr", type=float, help="override the learning rate")
    s.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any recipe field (repeatable)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=_cmd_search)

    e = sub.add_parser("eval", help="evaluate a model on datasets (CMC, mAP, mINP)")
    _add_model_args(e)
    e.add_argument("--dataset", action="append", required=True, metavar="NAME[:K=V,...]",
                   help="dataset to evaluate on (repeatable)")
    e.add_argument("--data-root", default="data", help="folder holding the datasets")
    e.add_argument("--output", help="write the metrics as JSON here")
    e.set_defaults(func=_cmd_eval)

    f = sub.add_parser("features", help="512-d embeddings of your own images")
    _add_model_args(f)
    f.add_argument("--images", required=True, help="a folder of images or a file listing paths")
    f.add_argument("--output", required=True, help=".npy file for the (N, 512) features; the "
                   "image paths go to OUTPUT.paths.txt")
    f.set_defaults(func=_cmd_features)

    k = sub.add_parser("rank", help="rank a gallery of your own images for each query image")
    _add_model_args(k)
    k.add_argument("--query", required=True, help="folder or list file of query images")
    k.add_argument("--gallery", required=True, help="folder or list file of gallery images")
    k.add_argument("--top-k", dest="top_k", type=int, default=10, help="default %(default)s")
    k.add_argument("--output", required=True, help="JSON file for the ranked lists")
    k.set_defaults(func=_cmd_rank)

    from osnet_lib.experiments.cli import add_study_parser

    add_study_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
