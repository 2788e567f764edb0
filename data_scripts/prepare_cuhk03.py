"""Prepare CUHK03 for the 767/700 protocol (and the classic one): extract the release, convert
it, print statistics.

Usage::

    python data_scripts/prepare_cuhk03.py --archive cuhk03_release.zip --root DIR \
        --detected-split cuhk03_new_protocol_config_detected.mat \
        --labeled-split cuhk03_new_protocol_config_labeled.mat

The two split files of the 767/700 protocol (Zhong et al., CVPR 2017) are published apart from
the release; they are copied to ``DIR/cuhk03/``. The classic protocol's 20 splits come with the
release, in ``cuhk-03.mat`` itself. The conversion of ``cuhk-03.mat`` (MATLAB v7.3) to png
images needs h5py.
"""

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from _archive import RELEASES, print_statistics, run

from osnet_lib.data import build_dataset, convert_cuhk03
from osnet_lib.data.cuhk03 import CLASSIC_SPLITS

RELEASE = RELEASES["cuhk03"]
DESCRIPTION = (
    "Prepare CUHK03 (Li et al., CVPR 2014) for the 767/700 protocol: check and extract "
    "cuhk03_release.zip, copy the protocol's split files beside it, convert cuhk-03.mat to "
    "png images and split files (once), and print the statistics."
)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    for kind in ("detected", "labeled"):
        parser.add_argument(
            f"--{kind}-split", type=Path, default=None,
            help=f"cuhk03_new_protocol_config_{kind}.mat (not needed if already in ROOT/cuhk03/)",
        )


def _convert(args: argparse.Namespace, folder: Path) -> None:
    """Copy the split files, convert the .mat file, print the statistics."""
    for kind in ("detected", "labeled"):
        src = getattr(args, f"{kind}_split")
        if src is None:
            continue
        src = Path(src).expanduser()
        if not src.is_file():
            raise FileNotFoundError(f"--{kind}-split file '{src}' does not exist")
        dst = folder / f"cuhk03_new_protocol_config_{kind}.mat"
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
    written = convert_cuhk03(folder)
    for path in written:
        if path.name == CLASSIC_SPLITS:
            print_statistics(build_dataset("cuhk03", args.root, protocol="classic"),
                             note="classic protocol, split 0 of 20 (split_id=0..19)")
            continue
        kind = "labeled" if "labeled" in path.name else "detected"
        print_statistics(
            build_dataset("cuhk03", args.root, images=kind), RELEASE if kind == "detected" else None
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script with command-line arguments ``argv``; return the exit status."""
    return run(RELEASE, DESCRIPTION, argv, after=_convert, add_arguments=_add_arguments)


if __name__ == "__main__":
    sys.exit(main())
