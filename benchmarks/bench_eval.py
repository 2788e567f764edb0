"""Timing and memory of osnet_lib.metrics.evaluate at the sizes of the real test sets.

Features are random but shaped like a trained model's: each identity has a centre, each camera
a small shift, each image its own noise level, so the metrics land in a realistic range (rank-1
around 0.9, mAP around 0.7) and the ranking work is like real data's. Sizes:

- market: 3,368 queries x 15,913 gallery, 750 test identities, 6 cameras;
- msmt:   11,659 queries x 82,161 gallery, 3,060 test identities, 15 cameras;
- cuhk03: 1,400 queries x 5,332 gallery, 700 identities, 2 cameras, single-gallery-shot protocol.

For each size: the median wall time of ``evaluate((qf, gf), ...)`` over ``--repeats`` runs
(distances included), and the peak memory during one run beyond what the features already use:
resident-set growth sampled every millisecond with psutil (or the growth of the process's
``ru_maxrss`` when psutil is missing) and the peak of numpy's allocations traced by tracemalloc.

Example::

    python benchmarks/bench_eval.py --sizes market msmt --repeats 5
"""

import argparse
import gc
import json
import logging
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from osnet_lib.metrics import evaluate

try:
    import psutil
except ImportError:  # the benchmark still runs, with coarser memory figures
    psutil = None

logger = logging.getLogger("bench_eval")


@dataclass(frozen=True)
class Size:
    num_query: int
    num_gallery: int
    num_ids: int
    num_cams: int
    protocol: str = "standard"


SIZES = {
    "market": Size(3368, 15913, 750, 6),
    "msmt": Size(11659, 82161, 3060, 15),
    "cuhk03": Size(1400, 5332, 700, 2, protocol="cuhk03"),
}


def make_features(size: Size, dim: int, seed: int) -> tuple[np.ndarray, ...]:
    """Query/gallery features and labels with identity, camera and per-image structure."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((size.num_ids, dim), dtype=np.float32)
    cam_shift = 0.3 * rng.standard_normal((size.num_cams, dim), dtype=np.float32)
    q_pids = rng.permutation(np.resize(np.arange(size.num_ids), size.num_query))
    g_pids = rng.integers(0, size.num_ids, size.num_gallery)
    g_pids[: size.num_ids] = np.arange(size.num_ids)  # every identity in the gallery
    q_cams = rng.integers(0, size.num_cams, size.num_query)
    g_cams = rng.integers(0, size.num_cams, size.num_gallery)

    def features(pids: np.ndarray, cams: np.ndarray) -> np.ndarray:
        out = np.empty((len(pids), dim), dtype=np.float32)
        for s in range(0, len(pids), 4096):  # in blocks, to keep the generator's memory low
            p, c = pids[s : s + 4096], cams[s : s + 4096]
            scale = 1.8 * rng.lognormal(0.0, 0.35, (len(p), 1)).astype(np.float32)
            noise = rng.standard_normal((len(p), dim), dtype=np.float32)
            out[s : s + 4096] = centres[p] + cam_shift[c] + scale * noise
        return out

    return features(q_pids, q_cams), features(g_pids, g_cams), q_pids, g_pids, q_cams, g_cams


class RssSampler:
    """Largest resident-set size seen by a thread polling every millisecond."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process() if psutil else None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.001)

    def __enter__(self) -> "RssSampler":
        if self._proc:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._proc:
            self._thread.join()


def rss_now() -> int:
    return psutil.Process().memory_info().rss if psutil else 0


def max_rss() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def bench(
    name: str, size: Size, dim: int, repeats: int, seed: int, threads: int | None = None
) -> dict[str, Any]:
    """Time ``repeats`` evaluations of one size and measure the memory of one."""
    if threads is not None:
        torch.set_num_threads(threads)
    qf, gf, *labels = make_features(size, dim, seed)
    gc.collect()
    feature_mb = (qf.nbytes + gf.nbytes) / 2**20

    # Memory of one run, beyond the features (which already live in the process).
    base_rss, base_max = rss_now(), max_rss()
    tracemalloc.start()
    with RssSampler() as sampler:
        result = evaluate((qf, gf), *labels, protocol=size.protocol)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    memory = {
        "rss_growth_mb": (sampler.peak - base_rss) / 2**20 if psutil else None,
        "max_rss_growth_mb": max(0, max_rss() - base_max) / 2**20,
        "numpy_traced_peak_mb": traced_peak / 2**20,
    }

    times, cpu_times = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate((qf, gf), *labels, protocol=size.protocol)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    return {
        "size": name,
        "num_query": size.num_query,
        "num_gallery": size.num_gallery,
        "dim": dim,
        "protocol": size.protocol,
        "features_mb": feature_mb,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": times,
        "median_cpu_s": statistics.median(cpu_times),
        "load_average_1min": os.getloadavg()[0],
        "memory": memory,
        "metrics": {k: v for k, v in result.as_dict().items() if k != "cmc"},
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["market", "msmt"])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--dim", type=int, default=512, help="feature dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    rows = []
    # Each size runs in a fresh process, so that its memory figures start from a clean heap.
    spawn = multiprocessing.get_context("spawn")
    for name in args.sizes:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            row = pool.submit(bench, name, SIZES[name], args.dim, args.repeats, args.seed,
                              args.threads).result()
        rows.append(row)
        m, mem = row["metrics"], row["memory"]
        logger.info(
            "%-7s %6d x %6d  median %.2f s (min %.2f, %d runs; CPU %.2f s; load %.1f)  "
            "R1 %.3f mAP %.3f mINP %.3f  "
            "features %.0f MB, peak beyond features: RSS %s MB, ru_maxrss %.0f MB, numpy %.0f MB",
            name, row["num_query"], row["num_gallery"], row["median_s"], row["min_s"],
            len(row["times_s"]), row["median_cpu_s"], row["load_average_1min"],
            m["rank1"], m["mAP"], m["mINP"], row["features_mb"],
            "n/a" if mem["rss_growth_mb"] is None else f"{mem['rss_growth_mb']:.0f}",
            mem["max_rss_growth_mb"], mem["numpy_traced_peak_mb"],
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
