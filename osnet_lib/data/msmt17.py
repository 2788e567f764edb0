"""MSMT17 (Wei et al., CVPR 2018), version 1 as in the paper (footnote 5).

Layout of the release: ``MSMT17_V1/`` holds the image folders ``train/`` and ``test/`` and four
list files, ``list_train.txt``, ``list_val.txt`` (both index ``train/``), ``list_query.txt`` and
``list_gallery.txt`` (both index ``test/``). Each line is ``<relative path> <pid>``, e.g.
``0000/0000_000_01_0303morning_0015_0.jpg 0``; the third ``_``-separated field of the file name
is the camera (1..15). Training and test pids are numbered separately from 0.
"""

import logging
import os
from pathlib import Path

from ._common import find_layout
from .records import ImageRecord, ReIDDataset, relabel
from .registry import register_dataset

__all__ = ["msmt17"]

logger = logging.getLogger("osnet_lib.data")

# release folder -> (train image folder, test image folder); V2 differs only in the names
_VERSIONS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
_LISTS = ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt")
_NUM_CAMERAS = 15


def _read_list(list_path: Path, image_dir: Path) -> list[ImageRecord]:
    records = []
    with open(list_path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            parts = line.split()
            where = f"'{list_path}' line {lineno}"
            if len(parts) != 2:
                raise ValueError(f"{where}: expected '<image path> <pid>', got {line!r}")
            rel, pid_text = parts
            try:
                pid = int(pid_text)
            except ValueError:
                raise ValueError(f"{where}: pid {pid_text!r} is not an integer") from None
            fields = os.path.basename(rel).split("_")
            try:
                cam = int(fields[2])
            except (IndexError, ValueError):
                raise ValueError(
                    f"{where}: file name {rel!r} does not follow the MSMT17 naming rule "
                    "'<pid>_<index>_<camera>_...' (e.g. 0000_000_01_0303morning_0015_0.jpg)"
                ) from None
            if not 1 <= cam <= _NUM_CAMERAS:
                raise ValueError(f"{where}: camera {cam} is out of range 1..{_NUM_CAMERAS}")
            path = image_dir / rel
            records.append(ImageRecord(str(path), pid, cam - 1))
    if not records:
        raise ValueError(f"list file '{list_path}' is empty (empty split)")
    missing = [r.path for r in records if not os.path.isfile(r.path)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} image(s) listed in '{list_path}' are missing, e.g. '{missing[0]}'"
        )
    return records


@register_dataset("msmt17")
def msmt17(root: str | os.PathLike[str], *, combineall: bool = False) -> ReIDDataset:
    """MSMT17 v1: 4,101 identities, 126,441 images, 15 cameras (Table 2).

    Args:
        root: the data root holding ``msmt17/MSMT17_V1/``, any folder on that path, or the
            ``MSMT17_V1`` folder itself. (``MSMT17_V2``, whose faces are blurred, is read too
            when V1 is absent.)
        combineall: False gives the standard protocol (train from ``list_train.txt``: 1,041
            identities; query and gallery: 3,060 identities). True merges train, val, query and
            gallery into one training set of all 4,101 identities, as Sec. 4.2 does when
            MSMT17 is the source domain; query and gallery are still returned.

    Raises:
        FileNotFoundError: the release folder, an image folder, a list file or a listed image
            is missing.
        ValueError: a malformed list line (file and line number in the message).
    """
    if not isinstance(combineall, bool):
        raise TypeError(f"combineall must be a bool, got {combineall!r}")
    errors = []
    for version, (train_dir, test_dir) in _VERSIONS.items():
        try:
            folder = find_layout(
                root, "MSMT17", ("msmt17",), (version,), (train_dir, test_dir) + _LISTS
            )
        except FileNotFoundError as exc:
            errors.append(str(exc))
            continue
        break
    else:
        raise FileNotFoundError(" / ".join(errors))
    logger.info("reading MSMT17 from %s", folder)

    train = _read_list(folder / "list_train.txt", folder / train_dir)
    query = _read_list(folder / "list_query.txt", folder / test_dir)
    gallery = _read_list(folder / "list_gallery.txt", folder / test_dir)
    if not combineall:
        return ReIDDataset("msmt17", relabel(train), query, gallery).check_protocol()

    # val holds more images of the training identities (same pid numbers)
    train = relabel(train + _read_list(folder / "list_val.txt", folder / train_dir))
    offset = 1 + max(r.pid for r in train)
    test = relabel(query + gallery)
    combined = train + [r._replace(pid=r.pid + offset) for r in test]
    return ReIDDataset("msmt17", combined, query, gallery,
                       train_includes_test=True).check_protocol()
