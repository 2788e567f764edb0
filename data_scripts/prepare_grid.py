"""Prepare GRID: check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_grid.py --archive underground_reid.zip --root DIR
"""

import sys
from collections.abc import Sequence

from _archive import RELEASES, run

RELEASE = RELEASES["grid"]
DESCRIPTION = (
    "Prepare GRID (Loy et al., CVPR 2009) from the release archive: check it, extract it "
    "safely and print the statistics of split 0 of the 10 published splits."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, ten_splits=True)


if __name__ == "__main__":
    sys.exit(main())
