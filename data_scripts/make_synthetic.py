"""Generate the synthetic re-ID world and print its statistics.

Usage: python data_scripts/make_synthetic.py --root DIR [--profile quick|cpu|paper] [--seed 0]
       [--kind default|omni|control] [--domains market duke msmt cuhk03] [--num-workers 2]
       [--num-ids N] [--images-per-id K] [--image-size H W] [--calibrate JSON]
       [--contact-sheet PNG]

Each kind of world belongs in its own folder; the book's are named by
``osnet_lib.synthetic.world_folder_name`` (``synthetic-cpu``, ``synthetic-cpu-omni``, ...).
"""

import argparse
import io
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from osnet_lib.recipes import PROFILE_TABLE
from osnet_lib.synthetic import (
    DOMAINS,
    WORLD_KINDS,
    generate_world,
    list_domains,
    world_folder_name,
    world_size,
)
from osnet_lib.synthetic.writer import GROUND_TRUTH_DIR, SPLITS

DESCRIPTION = (
    "Generate the synthetic person re-ID world offline and deterministically: one folder per "
    "domain in the Market1501 layout (bounding_box_train/, query/, bounding_box_test/) with its "
    "ground truth (identities, cameras, views, attributes, part masks) in ground_truth/, and a "
    "world.json recipe at the root. Re-running with the same recipe reuses what is on disk."
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    domains = ", ".join(f"{n} ({d.stands_for})" for n, d in DOMAINS.items())
    p = argparse.ArgumentParser(
        prog="make_synthetic.py",
        description=DESCRIPTION,
        epilog=f"Domains: {domains}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--root", required=True, type=Path, help="folder to write the world into")
    sizes = ", ".join(f"{name}: {world_size(name)}" for name in PROFILE_TABLE)
    p.add_argument("--profile", default="quick", choices=list(PROFILE_TABLE),
                   help=f"the book's profile; it picks the world size ({sizes})")
    p.add_argument("--seed", type=int, default=0, help="world seed (same seed, same files)")
    kinds = "; ".join(f"{k}: {v}" for k, v in WORLD_KINDS.items())
    p.add_argument("--kind", default="default", choices=list(WORLD_KINDS),
                   help=f"who the people are ({kinds}). Give each kind its own --root, e.g. "
                        f"book/data/{world_folder_name('cpu', 'omni')}")
    p.add_argument("--domains", nargs="+", default=None, metavar="DOMAIN",
                   help=f"domains to generate (default: all of {list_domains()})")
    p.add_argument("--num-workers", type=int, default=1, help="processes used to render")
    p.add_argument("--num-ids", type=int, default=None,
                   help="override: training and test identities per domain")
    p.add_argument("--num-train-ids", type=int, default=None, help="override: training identities")
    p.add_argument("--num-test-ids", type=int, default=None, help="override: test identities")
    p.add_argument("--images-per-id", type=int, default=None,
                   help="override: mean images per identity")
    p.add_argument("--num-distractors", type=int, default=None,
                   help="override: distractor images (pid 0000) per gallery")
    p.add_argument("--num-junk", type=int, default=None,
                   help="override: junk images (pid -1) per gallery")
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="override: stored image size (default 128 64)")
    p.add_argument("--render-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="override: rendering size (default: the image size)")
    p.add_argument("--calibrate", type=Path, default=None, metavar="JSON",
                   help="also write the colour-histogram baseline (rank-1, mAP) and the family "
                        "colour check of every domain to this file "
                        "(osnet_lib.synthetic.calibration)")
    p.add_argument("--contact-sheet", type=Path, default=None, metavar="PNG",
                   help="also draw a contact sheet of the first domain's first confuser "
                        "families (rows) in every view of two cameras (columns)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def format_stats(stats: dict) -> str:
    """Per-domain statistics (#ids, #images, #cameras per split) as an aligned table."""
    lines = [f"{'domain':<8} {'split':<20} {'#ids':>6} {'#images':>8} {'#cameras':>9} "
             f"{'#distractors':>13} {'#junk':>6}"]
    for name, per_split in stats.items():
        for split in SPLITS:
            s = per_split[split]
            lines.append(f"{name:<8} {split:<20} {s['num_ids']:>6} {s['num_images']:>8} "
                         f"{s['num_cameras']:>9} {s['num_distractors']:>13} {s['num_junk']:>6}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    overrides = {}
    for key in ("num_ids", "num_train_ids", "num_test_ids", "images_per_id", "num_distractors",
                "num_junk"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.image_size is not None:
        overrides["image_size"] = tuple(args.image_size)
    if args.render_size is not None:
        overrides["render_size"] = tuple(args.render_size)
    try:
        root = generate_world(args.root, profile=args.profile, seed=args.seed,
                              domains=args.domains, num_workers=args.num_workers,
                              kind=args.kind, progress=not args.quiet, **overrides)
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    stats = {d: world["stats"][d] for d in world["recipe"]["domains"]}
    print(f"synthetic world at {root} (profile {args.profile}, kind {args.kind}, seed "
          f"{args.seed}); ground truth in <domain>/{GROUND_TRUTH_DIR}/")
    print(format_stats(stats))
    if args.calibrate is not None:
        from osnet_lib.synthetic.calibration import calibrate_world

        cal = calibrate_world(root)
        args.calibrate.parent.mkdir(parents=True, exist_ok=True)
        args.calibrate.write_text(json.dumps(cal, indent=1) + "\n", encoding="utf-8")
        for name, c in cal["domains"].items():
            b, f = c["colour_baseline"], c["family_colour"]
            print(f"colour baseline {name:<7} rank-1 {b['rank1']:.3f} mAP {b['mAP']:.3f}; "
                  f"family rank-1 across cameras {f['member_rank1']} "
                  f"(chance {f['member_chance']})")
        print(f"calibration written to {args.calibrate}")
    if args.contact_sheet is not None:
        import matplotlib

        matplotlib.use("Agg")
        from osnet_lib.synthetic import contact_sheet

        fig = contact_sheet(domains=[world["recipe"]["domains"][0]], cameras=2, num_ids=8,
                            seed=args.seed, views=["front", "back", "side"], kind=args.kind)
        args.contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()  # about one screen pixel per image pixel, 256 colours: a small file
        fig.savefig(buf, dpi=100, bbox_inches="tight")
        buf.seek(0)
        with Image.open(buf) as im:
            im.convert("RGB").quantize(256, method=Image.Quantize.MAXCOVERAGE,
                                       dither=Image.Dither.NONE).save(args.contact_sheet,
                                                                      optimize=True)
        print(f"contact sheet written to {args.contact_sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
