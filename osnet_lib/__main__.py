"""Command-line entry point: ``python -m osnet_lib <command>`` (or ``osnet <command>``).

Every value is checked before any work starts (argument types here, then the recipe, the
datasets and the output paths). A user error (a bad value, a missing or unreadable file, a
dataset that cannot make a re-ID protocol, a run folder in use) ends the command with one line
on standard error, ``error: <what is wrong and what to do>``, and exit status 2, as argparse
does for a bad option; ``--debug`` shows the Python traceback instead.
"""

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

#: Exit status of a command stopped by a user error (the status argparse uses for usage errors).
USER_ERROR = 2
#: What a user error is: a bad value or type, a file problem, a missing optional package, or a
#: refusal (a run folder in use). Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError,
                                                 RuntimeError)


class UserError(SystemExit):
    """Ends the command with status :data:`USER_ERROR`; ``str()`` is the message printed."""

    def __init__(self, message: str) -> None:
        super().__init__(USER_ERROR)
        self.message = message

    def __str__(self) -> str:
        return self.message


def one_line(error: BaseException) -> str:
    """An exception's message on one line (a multi-line message joined with ``; ``)."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


# -- argument types: checked by argparse, before any work ----------------------------------------
def _int_at_least(low: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{what}: must be at least {low}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite positive number, got {text!r}")
    return value


_positive_float.__name__ = "float"
_POSITIVE = _int_at_least(1, "a positive count")
_SEED = _int_at_least(0, "a seed")
_IMAGE_SIDE = _int_at_least(16, "an image side in pixels (the network down-samples by 16)")
_BATCH = _int_at_least(2, "a training batch (BatchNorm needs two images or more)")


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file the command can write: its folder exists and is writable and it is
    not a folder itself. Checked before any work, so a typo never costs a run.

    Raises:
        ValueError: the message names the path and what is wrong.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"output {path} is a folder; give a file name inside it")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"output folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {folder} is not writable")
    return path


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder the command can create or write into.

    Raises:
        ValueError: it is a file, or it (or the nearest existing folder above it) is not
            writable; the message names it.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"output {path} is a file, not a folder; give a folder for the run")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"output {path} lies under {existing}, which is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"output folder {existing} is not writable")
    return path


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
        logits = tuple(out.logits.shape) if out.logits is not None else None
        print(f"{name:<18} featuremaps {tuple(out.featuremaps.shape)} "
              f"embedding {tuple(out.embedding.shape)} logits {logits}")
    return _cmd_complexity(args)


def _parse_value(text: str) -> Any:
    """A YAML value (``true``, ``[1, 2]``, ``0.1``), with numbers such as ``1e-3`` (a string in
    YAML 1.1) read as numbers."""
    import yaml

    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _key_values(items: Sequence[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must look like key=value, got {item!r}")
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

    check_output_dir(args.output)
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
    results = trainer.fit(resume=args.resume, force=args.force)
    if results:
        for name, metrics in results["metrics"].items():
            print(f"{name}: R1 {metrics['rank1']:.1%} mAP {metrics['mAP']:.1%}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from osnet_lib.models import Genotype
    from osnet_lib.recipes import get_recipe
    from osnet_lib.search import run_search

    check_output_dir(args.output)
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

    if args.output:
        check_output_file(args.output)
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
    """The images of a folder (searched recursively by :func:`osnet_lib.data.scan_images`, the
    scanner the dataset loaders use) or of a list file (one path a line, relative to the list's
    folder unless absolute). Every listed file must exist."""
    from osnet_lib.data import scan_images

    path = Path(source).expanduser()
    if path.is_dir():
        files = [str(p) for p in scan_images(path, recursive=True)]
    elif path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text file listing image paths (one a line), "
                             "nor a folder of images") from None
        files = [str(p if p.is_absolute() else path.parent / p)
                 for p in (Path(line.strip()).expanduser() for line in lines if line.strip())]
        absent = [f for f in files if not os.path.isfile(f)]
        if absent:
            raise FileNotFoundError(f"{len(absent)} image(s) listed in {path} do not exist, "
                                    f"e.g. {absent[0]}")
    else:
        raise ValueError(f"{source} is neither a folder of images nor a list file")
    if not files:
        raise ValueError(f"no images found in {source}")
    return files


def _cmd_features(args: argparse.Namespace) -> int:
    import numpy as np

    from osnet_lib.data import build_transforms
    from osnet_lib.engine import extract_features
    from osnet_lib.provenance import atomic_write

    output = check_output_file(args.output)
    images = _image_list(args.images)
    model = _model_from_args(args)
    _, tf = build_transforms(args.height, args.width)
    feats = extract_features(model, images, tf, flip=args.flip, device=args.device)
    atomic_write(output, lambda f: np.save(f, feats.features.numpy()))
    paths = "\n".join(feats.paths) + "\n"
    atomic_write(str(output) + ".paths.txt", lambda f: f.write(paths.encode()))
    print(f"wrote {tuple(feats.features.shape)} features to {output}")
    return 0


def _cmd_rank(args: argparse.Namespace) -> int:
    from osnet_lib.data import build_transforms
    from osnet_lib.engine import extract_features, rank_gallery
    from osnet_lib.provenance import write_json_atomic

    output = check_output_file(args.output)
    queries, gallery = _image_list(args.query), _image_list(args.gallery)
    model = _model_from_args(args)
    _, tf = build_transforms(args.height, args.width)
    q = extract_features(model, queries, tf, flip=args.flip, device=args.device)
    g = extract_features(model, gallery, tf, flip=args.flip, device=args.device)
    idx, dist = rank_gallery(q.features, g.features, args.top_k, args.distance)
    ranking = {qp: [{"path": g.paths[j], "distance": float(d)} for j, d in zip(row, drow)]
               for qp, row, drow in zip(q.paths, idx.tolist(), dist.tolist())}
    write_json_atomic(output, ranking)
    print(f"wrote the {idx.shape[1]} nearest of {len(g.paths)} gallery images for each of "
          f"{len(q.paths)} queries to {output}")
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="osnet_x1_0", help="registered model name (default "
                   "%(default)s; see the 'models' command)")
    p.add_argument("--weights", help="weight file to load: a model.pth written by 'train', or a "
                   "file published by the paper's authors")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model option such as T=1 or fusion=concat (repeatable)")
    p.add_argument("--height", type=_IMAGE_SIDE, default=256,
                   help="input height (default %(default)s)")
    p.add_argument("--width", type=_IMAGE_SIDE, default=128,
                   help="input width (default %(default)s)")
    p.add_argument("--flip", action="store_true",
                   help="average each image's features with its mirror image's")
    p.add_argument("--distance", default="cosine", choices=("cosine", "euclidean"),
                   help="matching distance (default %(default)s, as in the paper)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``error: <problem> (<prog> --help lists the options)``,
    exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} ({self.prog} --help lists the options)", file=sys.stderr)
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m osnet_lib",
        description="OSNet and OSNet-AIN for person re-identification (Zhou et al., TPAMI 2021).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error instead of one line")
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
    t.add_argument("--seed", type=_SEED, default=0, help="random seed (default %(default)s)")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the run folder's last checkpoint (same recipe, seed, "
                   "datasets and model options)")
    t.add_argument("--force", action="store_true",
                   help="start over in a run folder that already holds a run, replacing it")
    t.add_argument("--model", help="override the recipe's model")
    t.add_argument("--epochs", type=_POSITIVE, help="override the recipe's epochs")
    t.add_argument("--batch-size", dest="batch_size", type=_BATCH,
                   help="override the batch size (2 or more)")
    t.add_argument("--lr", type=_positive_float, help="override the learning rate")
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
    s.add_argument("--seeds", type=_SEED, nargs="+", default=[0, 1, 2, 3],
                   help="one search per seed (default: four, as the paper)")
    s.add_argument("--output", required=True, help="folder for the runs and the genotype")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    s.add_argument("--model", help="width of the supernet, e.g. osnet_x0_25")
    s.add_argument("--epochs", type=_POSITIVE, help="override the recipe's epochs")
    s.add_argument("--batch-size", dest="batch_size", type=_BATCH,
                   help="override the batch size (2 or more)")
    s.add_argument("--lr", type=_positive_float, help="override the learning rate")
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
    k.add_argument("--top-k", dest="top_k", type=_POSITIVE, default=10,
                   help="gallery images kept per query, 1 or more (default %(default)s)")
    k.add_argument("--output", required=True, help="JSON file for the ranked lists")
    k.set_defaults(func=_cmd_rank)

    from osnet_lib.experiments.cli import add_study_parser

    add_study_parser(sub)
    return parser


def _fail(error: BaseException) -> NoReturn:
    message = one_line(error)
    print(f"error: {message} (--debug shows the traceback)", file=sys.stderr)
    raise UserError(message) from error


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns 0 on success.

    Raises:
        SystemExit: status 2 for a bad option (argparse) or a user error (:class:`UserError`,
            after one line on standard error), unless ``--debug`` is given, which lets the
            original exception and its traceback through.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.debug:
        return args.func(args)
    try:
        return args.func(args)
    except USER_ERRORS as error:
        _fail(error)


if __name__ == "__main__":
    sys.exit(main())
