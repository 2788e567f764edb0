"""Command-line entry point: ``python -m osnet_lib <command>`` (or ``osnet <command>``)."""

import argparse
import logging
import sys
from collections.abc import Sequence


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
