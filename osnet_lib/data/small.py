"""The three small datasets of Table 4: VIPeR, GRID and CUHK01.

They are too small to train a deep model from scratch; the paper pre-trains on a large dataset,
fine-tunes on each, and averages over 10 random splits (Sec. 4.1). Each loader takes
``split_id`` (0..9):

- VIPeR and CUHK01: the 10 random half/half identity splits are drawn once, deterministically,
  and saved as ``random_splits.json`` in the dataset folder (reused afterwards).
- GRID: the 10 splits are the ones published with the data in ``features_and_partitions.mat``.

Query images come from one camera view and gallery images from the other.
"""

import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from osnet_lib.utils import check_int

from ._common import (
    NUM_RANDOM_SPLITS,
    find_layout,
    list_images,
    random_id_splits,
)
from .records import ImageRecord, ReIDDataset, relabel
from .registry import register_dataset

__all__ = ["viper", "grid", "cuhk01"]

_VIPER_RULE = re.compile(r"^(\d+)_")
_CUHK01_RULE = re.compile(r"^(\d{4})(\d{3})\.png$", re.IGNORECASE)
_GRID_RULE = re.compile(r"^(\d+)_(\d+)_")
GRID_NUM_CAMERAS = 8


def _split_records(
    records: list[ImageRecord], train_ids: set[int], query_cam: int
) -> tuple[list[ImageRecord], list[ImageRecord], list[ImageRecord]]:
    train = [r for r in records if r.pid in train_ids]
    test = [r for r in records if r.pid not in train_ids]
    query = [r for r in test if r.camid == query_cam]
    gallery = [r for r in test if r.camid != query_cam]
    return relabel(train), query, gallery


@register_dataset("viper")
def viper(root: str | os.PathLike[str], *, split_id: int = 0) -> ReIDDataset:
    """VIPeR (Gray et al., PETS 2007): 632 people, one image in each of 2 cameras.

    ``root`` may be the data root holding ``viper/VIPeR/``, any folder on that path, or the
    folder holding ``cam_a/`` and ``cam_b/``. Images are named ``<id>_<angle>.bmp``; the id
    pairs the two cameras. Split ``split_id`` trains on 316 identities and tests on the other
    316, with ``cam_a`` as query and ``cam_b`` as gallery.

    Raises:
        FileNotFoundError: the folders are missing.
        ValueError: a file name breaks the rule, an identity lacks its pair, or a bad
            ``split_id``.
    """
    split_id = check_int("split_id", split_id, 0, NUM_RANDOM_SPLITS - 1)
    folder = find_layout(root, "VIPeR", ("viper",), ("VIPeR",), ("cam_a", "cam_b"))
    per_cam: list[dict[int, Path]] = []
    for cam in ("cam_a", "cam_b"):
        found: dict[int, Path] = {}
        for name in list_images(folder / cam):
            path = folder / cam / name
            match = _VIPER_RULE.match(name)
            if match is None:
                raise ValueError(
                    f"file '{path}' does not follow the VIPeR naming rule '<id>_<angle>.bmp' "
                    "(e.g. 000_45.bmp)"
                )
            pid = int(match.group(1))
            if pid in found:
                raise ValueError(
                    f"'{found[pid]}' and '{path}' have the same id {pid}: VIPeR has one image "
                    "per person and camera"
                )
            found[pid] = path
        if not found:
            raise ValueError(f"folder '{folder / cam}' holds no images (empty split)")
        per_cam.append(found)
    unpaired = sorted(set(per_cam[0]) ^ set(per_cam[1]))
    if unpaired:
        raise ValueError(
            f"VIPeR in '{folder}': {len(unpaired)} id(s) lack an image in the other camera, "
            f"e.g. {unpaired[:5]}"
        )
    ids = sorted(per_cam[0])
    records = [ImageRecord(str(per_cam[c][i]), i, c) for i in ids for c in (0, 1)]
    split = random_id_splits(folder, "viper", ids, len(ids) // 2)[split_id]
    train, query, gallery = _split_records(records, set(split["train"]), query_cam=0)
    return ReIDDataset("viper", train, query, gallery).check_protocol()


@register_dataset("cuhk01")
def cuhk01(root: str | os.PathLike[str], *, split_id: int = 0) -> ReIDDataset:
    """CUHK01 (Li et al., ACCV 2012): 971 people, 2 camera views, 485/486 split.

    ``root`` may be the data root holding ``cuhk01/campus/``, or ``cuhk01/`` itself. Images are
    ``campus/PPPPCCC.png`` (4-digit person, 3-digit camera 001..004); cameras 1-2 form view 0
    and 3-4 view 1. Split ``split_id`` trains on 485 identities and tests on 486, view 0 as
    query and view 1 as gallery.

    Raises:
        FileNotFoundError: the folder is missing.
        ValueError: a file name breaks the rule, or a bad ``split_id``.
    """
    split_id = check_int("split_id", split_id, 0, NUM_RANDOM_SPLITS - 1)
    folder = find_layout(root, "CUHK01", ("cuhk01",), (), ("campus",))
    records = []
    for name in list_images(folder / "campus"):
        path = folder / "campus" / name
        match = _CUHK01_RULE.match(name)
        if match is None or not 1 <= int(match.group(2)) <= 4:
            raise ValueError(
                f"file '{path}' does not follow the CUHK01 naming rule 'PPPPCCC.png' "
                "(4-digit person, camera 001..004; e.g. 0001001.png)"
            )
        records.append(ImageRecord(str(path), int(match.group(1)), (int(match.group(2)) - 1) // 2))
    if not records:
        raise ValueError(f"folder '{folder / 'campus'}' holds no images (empty split)")
    ids = sorted({r.pid for r in records})
    split = random_id_splits(folder, "cuhk01", ids, len(ids) // 2)[split_id]
    train, query, gallery = _split_records(records, set(split["train"]), query_cam=0)
    return ReIDDataset("cuhk01", train, query, gallery).check_protocol()


def _grid_train_ids(mat_path: Path) -> list[list[int]]:
    """The 10 published training-identity lists of GRID.

    ``trainIdxAll`` is a MATLAB cell of 10 structs whose third field lists the 125 training
    identities of that split (the layout the dataset's authors published).
    """
    from scipy.io import loadmat

    try:
        mat = loadmat(str(mat_path))
    except Exception as exc:  # scipy raises several types for a bad file
        raise ValueError(f"cannot read '{mat_path}' as a .mat file: {exc}") from exc
    if "trainIdxAll" not in mat:
        raise ValueError(f"'{mat_path}' has no 'trainIdxAll' entry: not GRID's partition file")
    out = []
    try:
        for entry in np.asarray(mat["trainIdxAll"]).ravel():
            record = np.asarray(entry).ravel()[0]
            ids = np.asarray(record[2]).ravel().astype(int).tolist()
            out.append(ids)
    except (IndexError, TypeError, ValueError) as exc:
        raise ValueError(
            f"'{mat_path}': trainIdxAll entry {len(out)} is not a struct whose third field "
            f"lists identities ({exc})"
        ) from exc
    if len(out) != NUM_RANDOM_SPLITS:
        raise ValueError(f"'{mat_path}': expected {NUM_RANDOM_SPLITS} splits, found {len(out)}")
    return out


def _grid_folder(folder: Path) -> list[ImageRecord]:
    records = []
    for name in list_images(folder, (".jpeg", ".jpg")):
        path = folder / name
        match = _GRID_RULE.match(name)
        if match is None:
            raise ValueError(
                f"file '{path}' does not follow the GRID naming rule '<id>_<camera>_...jpeg' "
                "(e.g. 0001_1_25004_107_32_130.jpeg)"
            )
        cam = int(match.group(2))
        if not 1 <= cam <= GRID_NUM_CAMERAS:
            raise ValueError(f"file '{path}': camera {cam} is out of range 1..{GRID_NUM_CAMERAS}")
        records.append(ImageRecord(str(path), int(match.group(1)), cam - 1))
    if not records:
        raise ValueError(f"folder '{folder}' holds no images (empty split)")
    return records


@register_dataset("grid")
def grid(root: str | os.PathLike[str], *, split_id: int = 0) -> ReIDDataset:
    """GRID (Loy et al., CVPR 2009): 250 paired people plus 775 gallery distractors.

    ``root`` may be the data root holding ``grid/underground_reid/``, any folder on that path,
    or the folder holding ``probe/``, ``gallery/`` and ``features_and_partitions.mat``. Images
    are ``<id>_<camera>_...jpeg``; id 0 marks the unpaired gallery people (distractors). Split
    ``split_id`` (one of the 10 published in the .mat) trains on 125 identities; the other 125
    form the query (their probe images) and gallery (their gallery images plus all
    distractors).

    Raises:
        FileNotFoundError: a folder or the .mat file is missing.
        ValueError: a file name breaks the rule, a bad .mat file, or a bad ``split_id``.
    """
    split_id = check_int("split_id", split_id, 0, NUM_RANDOM_SPLITS - 1)
    folder = find_layout(
        root, "GRID", ("grid",), ("underground_reid",),
        ("probe", "gallery", "features_and_partitions.mat"),
    )
    probe = _grid_folder(folder / "probe")
    gallery_all = _grid_folder(folder / "gallery")
    splits = _grid_train_ids(folder / "features_and_partitions.mat")
    train_ids = set(splits[split_id])
    probe_ids = {r.pid for r in probe}
    bad = sorted(train_ids - probe_ids)
    if bad or not train_ids:
        raise ValueError(
            f"'{folder / 'features_and_partitions.mat'}' split {split_id}: training ids "
            f"{bad[:5]} have no probe image (or the list is empty)"
        )
    by_subset: dict[str, list[ImageRecord]] = defaultdict(list)
    for r in probe:
        by_subset["train" if r.pid in train_ids else "query"].append(r)
    for r in gallery_all:
        by_subset["train" if r.pid in train_ids else "gallery"].append(r)
    distractors = frozenset({0} & {r.pid for r in by_subset["gallery"]})
    return ReIDDataset(
        "grid", relabel(by_subset["train"]), by_subset["query"], by_subset["gallery"],
        distractor_pids=distractors,
    ).check_protocol()
