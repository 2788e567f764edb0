"""Prepare CUHK01: check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_cuhk01.py --archive CUHK01.zip --root DIR
"""

import sys
from collections.abc import Sequence

from _archive import RELEASES, run

RELEASE = RELEASES["cuhk01"]
DESCRIPTION = (
    "Prepare CUHK01 (Li et al., ACCV 2012) from the release archive: check it, extract it "
    "safely, create the 10 random 485/486 splits and print the statistics of split 0."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, ten_splits=True)


if __name__ == "__main__":
    sys.exit(main())
