"""Prepare CUHK01: check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_cuhk01.py --archive CUHK01.zip --root DIR
"""


import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from _archive import RELEASES, print_statistics, run

from osnet_lib.data import build_dataset

RELEASE = RELEASES["cuhk01"]
DESCRIPTION = (
    "Prepare CUHK01 (Li et al., ACCV 2012) from the release archive: check it, extract it "
    "safely, create the 10 random 485/486 splits and print the statistics of split 0."
)


def _statistics(args: argparse.Namespace, folder: Path) -> None:
    """Print the statistics of split 0 (the other nine differ only in which ids train)."""
    ds = build_dataset(RELEASE.name, args.root, split_id=0)
    print_statistics(ds, RELEASE, note="split 0 of 10 (split_id=0..9)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, after=_statistics)


if __name__ == "__main__":
    sys.exit(main())
