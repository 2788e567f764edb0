"""Prepare DukeMTMC-reID: check and extract the archive, then print its statistics.

The DukeMTMC data were withdrawn by their creators in 2019; this script only prepares a
copy that the user already has.

Usage: python data_scripts/prepare_dukemtmcreid.py --archive DukeMTMC-reID.zip --root DIR
"""

import sys
from collections.abc import Sequence

from _archive import RELEASES, run

RELEASE = RELEASES["dukemtmcreid"]
DESCRIPTION = (
    "Prepare DukeMTMC-reID from a copy you already have (the data were withdrawn by their "
    "creators in 2019): check the archive, extract it safely and print its statistics."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv)


if __name__ == "__main__":
    sys.exit(main())
