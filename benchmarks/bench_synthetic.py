"""Throughput of the synthetic world: images per second per core, rendering alone and rendering
plus writing (JPEG images and the split's compressed part masks), at a chosen size (default
256x128).

Usage: python benchmarks/bench_synthetic.py [--size 256 128] [--images 1000] [--domain market]

Per-core figures use the process CPU time (one process, one thread), so they do not depend on
what else the machine is running; the wall-clock rate is printed too. The goal is at least 500
rendered images per second per core at 256x128.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from osnet_lib.synthetic.domains import get_domain, list_domains
from osnet_lib.synthetic.generator import _Renderer, plan_domain, resolve_recipe
from osnet_lib.synthetic.writer import save_image, save_masks


def run(size: tuple[int, int], images: int, domain: str, repeats: int = 3) -> dict:
    """Render ``images`` planned images of ``domain`` at ``size``; best of ``repeats``."""
    recipe = resolve_recipe("quick", 0, [domain], num_ids=max(10, images // 12),
                            images_per_id=12, image_size=size)
    jobs = plan_domain(domain, recipe["sizes"][domain], 0)[:images]
    r = _Renderer(get_domain(domain), 0, size, size)

    def render_all(write_to: Path | None) -> None:
        masks = []
        for j in jobs:
            pil, mask, _ = r.render(np.random.default_rng(list(j.rng_key)), j.kind, j.person,
                                    j.camera, j.view, j.facing, j.frame, j.subtype)
            if write_to is not None:
                save_image(write_to / j.name, pil, r.cameras[j.camera - 1].jpeg_quality)
                masks.append(mask)
        if write_to is not None:
            save_masks(write_to / "masks.npz", [j.name for j in jobs], np.stack(masks))

    render_all(None)  # warm-up: background scenes and noise banks are built once per camera
    out = {"size": list(size), "images": len(jobs), "domain": domain}
    with tempfile.TemporaryDirectory() as tmp:
        for label, target in (("render", None), ("render+write", Path(tmp))):
            best_cpu, best_wall = float("inf"), float("inf")
            for _ in range(repeats):
                c0, w0 = time.process_time(), time.perf_counter()
                render_all(target)
                best_cpu = min(best_cpu, time.process_time() - c0)
                best_wall = min(best_wall, time.perf_counter() - w0)
            out[label] = {"images_per_cpu_second": round(len(jobs) / best_cpu, 1),
                          "images_per_wall_second": round(len(jobs) / best_wall, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, nargs=2, default=(256, 128), metavar=("H", "W"))
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--domain", default="market", choices=list_domains())
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    res = run(tuple(args.size), args.images, args.domain, args.repeats)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
