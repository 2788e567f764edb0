"""CPU feature-extraction speed of every backend of osnet_lib.deploy, against plain eager.

Extracts the 512-d embeddings (Sec. 4.1) of one batch of images with each backend of
:func:`osnet_lib.deploy.optimize_for_inference` and reports, per backend: the time to build it,
the median time per batch over the timed rounds, images per second, the speed-up over
``eager``, and the largest absolute difference of its features from eager's. All backends are
built first; then each round times one call of every backend, in an order that rotates from
round to round, so that load from other jobs on the machine falls on all of them alike.

Usage (the defaults are the deployment setting: OSNet x1.0, 256x128, batch 32, 2 threads)::

    python benchmarks/bench_inference.py
    python benchmarks/bench_inference.py --backends eager,inference_mode,onnxruntime --rounds 9
    python benchmarks/bench_inference.py --weights osnet_x1_0_market.pth --json out.json

Without ``--weights`` the network is randomly initialised, with random BatchNorm statistics and
affine parameters (as the tests use) so that folding them is not a no-op. ``--calibrate``
instead measures the statistics on random images; such a network is badly conditioned (float32
rounding alone then moves its features by about 1e-4), which the reported differences show.
"""

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from osnet_lib.deploy import BACKENDS, optimize_for_inference
from osnet_lib.models import build_model
from osnet_lib.weights import load_pretrained

log = logging.getLogger("bench_inference")


def randomise_norms(model: nn.Module, seed: int, calibrate_size: tuple[int, int] | None) -> None:
    """Random BatchNorm/InstanceNorm affine parameters and BatchNorm running statistics (random,
    or measured on random images of ``calibrate_size``)."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.InstanceNorm2d)) and m.affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
        for m in bns:
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
        if calibrate_size is not None:
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            model.train()
            for _ in range(4):
                model.embed(torch.randn(16, 3, *calibrate_size, generator=gen))
    model.eval()


def run(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads)
    size = (args.height, args.width)
    model = build_model(args.model)
    if args.weights:
        load_pretrained(model, args.weights, load_classifier=False)
        model.eval()
    else:
        randomise_norms(model, args.seed, size if args.calibrate else None)
    images = torch.randn(args.batch, 3, *size, generator=torch.Generator().manual_seed(args.seed))

    backends = ["eager"] + [b for b in args.backends if b != "eager"]
    extractors, results = {}, {}
    for name in backends:
        log.info("building %s ...", name)
        start = time.perf_counter()
        extract = optimize_for_inference(model, backend=name, input_size=size,
                                         num_threads=args.threads)
        features = extract(images)  # compiles, for the backends that compile on first use
        build_s = time.perf_counter() - start
        for _ in range(args.warmup):
            extract(images)
        extractors[name] = extract
        results[name] = {"backend": name, "build_s": build_s, "features": features, "times": []}
        log.info("%s ready in %.1f s", name, build_s)

    for r in range(args.rounds):
        shift = r % len(backends)
        for name in backends[shift:] + backends[:shift]:
            start = time.perf_counter()
            extractors[name](images)
            results[name]["times"].append(time.perf_counter() - start)
        log.info("round %d/%d done", r + 1, args.rounds)

    reference = results["eager"]["features"]
    eager_s = statistics.median(results["eager"]["times"])
    rows = []
    for name in backends:
        res = results[name]
        median_s = statistics.median(res["times"])
        rows.append({
            "backend": name,
            "build_s": round(res["build_s"], 2),
            "median_s": round(median_s, 4),
            "min_s": round(min(res["times"]), 4),
            "images_per_s": round(args.batch / median_s, 2),
            "speedup": round(eager_s / median_s, 2),
            "max_abs_diff": float((res["features"] - reference).abs().max()),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="osnet_x1_0")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7, help="timed calls per backend")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls after building")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated subset of {','.join(BACKENDS)}")
    parser.add_argument("--weights", type=Path, help="a weight file for the model (optional)")
    parser.add_argument("--calibrate", action="store_true",
                        help="measure BatchNorm statistics on random images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; valid: {', '.join(BACKENDS)}")
    for flag in ("batch", "threads", "rounds"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if args.weights is not None and not args.weights.is_file():
        parser.error(f"weight file not found: {args.weights}")
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"folder for --json does not exist: {args.json.parent}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    rows = run(args)
    print(f"{args.model}, {args.height}x{args.width}, batch {args.batch}, {args.threads} threads, "
          f"median of {args.rounds} rounds, torch {torch.__version__}")
    print(f"{'backend':<16}{'build s':>9}{'s/batch':>10}{'img/s':>9}{'speed-up':>10}"
          f"{'max|diff|':>12}")
    for row in rows:
        print(f"{row['backend']:<16}{row['build_s']:>9.1f}{row['median_s']:>10.3f}"
              f"{row['images_per_s']:>9.1f}{row['speedup']:>9.2f}x{row['max_abs_diff']:>12.2e}")
    if args.json is not None:
        setup = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"setup": setup, "torch": torch.__version__,
                                         "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
