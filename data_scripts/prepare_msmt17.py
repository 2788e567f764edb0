"""Prepare MSMT17 (v1): check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_msmt17.py --archive MSMT17_V1.tar.gz --root DIR
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from _archive import RELEASES, print_statistics, run

from osnet_lib.data import build_dataset

RELEASE = RELEASES["msmt17"]
DESCRIPTION = (
    "Prepare MSMT17 v1 (Wei et al., CVPR 2018) from the release archive: check it, extract it "
    "safely and print its statistics, for the standard protocol and for combineall (all 4,101 "
    "identities used for training, as in the paper's cross-domain setting)."
)


def _statistics(args: argparse.Namespace, folder: Path) -> None:
    """Print the standard split, then the combineall training set."""
    print_statistics(build_dataset("msmt17", args.root), RELEASE)
    combined = build_dataset("msmt17", args.root, combineall=True)
    row = combined.summary()["train"]
    print(
        f"  combineall=True: training set of {row['ids']} ids, {row['images']} images, "
        f"{row['cameras']} cameras"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, after=_statistics)


if __name__ == "__main__":
    sys.exit(main())
