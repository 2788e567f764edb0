"""Time the book: every chapter under each profile, and the Jupyter Book build of the site.

Usage::

    python benchmarks/bench_book.py                      # quick and cpu, then the build
    python benchmarks/bench_book.py --profiles quick --skip-build

Chapters run through ``osnet_lib.reproduce`` into a temporary folder (``--force``, so nothing is
skipped and the committed book is left alone); the site is built from the committed chapters into
another temporary folder. Prints one table; the budgets are 60 s per chapter under ``quick``,
5 minutes under ``cpu`` and 3 minutes for the build on a 2-core CPU.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from osnet_lib.reproduce import find_book_dir, run_chapters

BUDGET_S = {"quick": 60, "cpu": 300, "paper": None, "build": 180}


def time_build(book: Path) -> float:
    exe = Path(sys.executable).with_name("jupyter-book")
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([str(exe) if exe.is_file() else "jupyter-book", "build", str(book),
                        "--path-output", out], check=True, capture_output=True)
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["quick", "cpu"],
                        choices=["quick", "cpu", "paper"])
    parser.add_argument("--chapters", nargs="+", metavar="NN")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    book = find_book_dir()
    if book is None:
        parser.error("run from the repository (no book/_config.yml found)")

    rows = []
    for profile in args.profiles:
        with tempfile.TemporaryDirectory() as out:
            for r in run_chapters(profile, args.chapters, force=True, output_dir=out,
                                  book_dir=book):
                rows.append((profile, r.chapter, r.status, r.wall_s))
    if not args.skip_build:
        rows.append(("build", "jupyter-book build", "ok", time_build(book)))

    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'profile':<8} {'what':<26} {'status':<8} {'wall':>8} {'budget':>8}")
    for profile, what, status, wall in rows:
        budget = BUDGET_S.get(profile)
        over = " OVER" if budget and wall and wall > budget else ""
        print(f"{profile:<8} {what:<26} {status:<8} {wall:>7.1f}s "
              f"{(str(budget) + 's') if budget else '-':>8}{over}")
    return 0 if all(status == "ok" for _, _, status, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
