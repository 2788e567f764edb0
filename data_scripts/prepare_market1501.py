"""Prepare Market1501: check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_market1501.py --archive Market-1501-v15.09.15.zip --root DIR
"""

import sys
from collections.abc import Sequence

from _archive import RELEASES, run

RELEASE = RELEASES["market1501"]
DESCRIPTION = (
    "Prepare Market1501 (Zheng et al., ICCV 2015) from the release archive you downloaded: "
    "check it, extract it safely under the data root and print its statistics."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv)


if __name__ == "__main__":
    sys.exit(main())
