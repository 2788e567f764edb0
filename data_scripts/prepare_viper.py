"""Prepare VIPeR: check and extract the release archive, then print its statistics.

Usage: python data_scripts/prepare_viper.py --archive VIPeR.v1.0.zip --root DIR
"""

import sys
from collections.abc import Sequence

from _archive import RELEASES, run

RELEASE = RELEASES["viper"]
DESCRIPTION = (
    "Prepare VIPeR (Gray et al., PETS 2007) from the release archive: check it, extract it "
    "safely, create the 10 random 316/316 splits and print the statistics of split 0."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, ten_splits=True)


if __name__ == "__main__":
    sys.exit(main())
