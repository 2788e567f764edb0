"""CUHK03 (Li et al., CVPR 2014): the 767/700 "new protocol" split (Zhong et al., CVPR 2017)
and the classic 1,367/100 protocol with its 20 splits (Li et al., CVPR 2014).

The paper uses the 767/700 split with the detected images (Sec. 4.1). The public release is
``cuhk03_release/cuhk-03.mat``, a MATLAB v7.3 (HDF5) file holding the ``detected`` and
``labeled`` boxes of 1,467 people seen by 5 pairs of cameras; the split is given by two extra
files, ``cuhk03_new_protocol_config_detected.mat`` and ``..._labeled.mat``, placed beside the
release folder::

    cuhk03/
        cuhk03_release/cuhk-03.mat
        cuhk03_new_protocol_config_detected.mat
        cuhk03_new_protocol_config_labeled.mat

:func:`convert_cuhk03` runs once (the data script ``prepare_cuhk03.py`` calls it): it writes
every box as ``images_<kind>/<pair>_<person:03d>_<view>_<index:02d>.png`` (the names the split
files refer to) and the split as ``splits_new_<kind>.json``. The loader then reads only those.

The classic protocol (``protocol="classic"``) needs no extra file: ``cuhk-03.mat`` holds its 20
splits in ``testsets``, a cell of 20 arrays of 100 ``(pair, person)`` pairs (1-based), the test
identities of each split; the other 1,367 identities train. :func:`convert_cuhk03` writes them
as ``splits_classic.json``. As in the public re-ID code bases, query and gallery are then the
same test images, and the same-camera rule of the evaluation (Sec. 4.1) makes each image match
only the other camera of its pair, so the two views are queried in both directions.
"""

import json
import logging
import os
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from osnet_lib.provenance import atomic_write
from osnet_lib.utils import check_choice, check_int

from ._common import as_root, find_layout, list_images
from .records import ImageRecord, ReIDDataset, relabel
from .registry import register_dataset

__all__ = ["convert_cuhk03", "cuhk03"]

logger = logging.getLogger("osnet_lib.data")

KINDS = ("detected", "labeled")
_RAW_MAT = Path("cuhk03_release") / "cuhk-03.mat"
_CONFIG_KEYS = ("filelist", "labels", "train_idx", "query_idx", "gallery_idx")
_NAME_RULE = "'<pair>_<person>_<view>_<index>.png' (e.g. 1_001_1_01.png)"


def _config_path(folder: Path, kind: str) -> Path:
    return folder / f"cuhk03_new_protocol_config_{kind}.mat"


def _split_path(folder: Path, kind: str) -> Path:
    return folder / f"splits_new_{kind}.json"


#: The classic protocol's splits (kind-independent: identities, not images).
CLASSIC_SPLITS = "splits_classic.json"
PROTOCOLS = ("767/700", "classic")


def _classic_splits(mat: Any) -> list[list[list[int]]] | None:
    """The 20 test-identity lists of ``cuhk-03.mat`` (``testsets``), each a list of
    ``[pair, person]`` (1-based), or None when the file has none."""
    if "testsets" not in mat:
        return None
    splits = []
    for ref in np.asarray(mat["testsets"]).ravel():
        ids = np.asarray(mat[ref][()]).T  # MATLAB stores (2, 100); we want (100, 2)
        if ids.ndim != 2 or ids.shape[1] != 2:
            raise ValueError(f"'{mat.filename}': a classic test set of shape {ids.shape}, "
                             "expected (number of identities, 2)")
        splits.append([[int(pair), int(person)] for pair, person in ids])
    return splits


def _extract_images(mat: Any, kind: str, out_dir: Path, overwrite: bool) -> int:
    """Write the boxes of ``mat[kind]`` (HDF5 object references) as png files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind not in mat:
        raise ValueError(f"'{mat.filename}' has no '{kind}' entry: not the CUHK03 release file")
    count = 0
    pairs = mat[kind][0]  # MATLAB 1x5 cell, one entry per camera pair
    for pair_idx, pair_ref in enumerate(pairs):
        cells = mat[pair_ref][()].T  # (persons, 10): 5 boxes from each camera of the pair
        for person in tqdm(range(cells.shape[0]), desc=f"CUHK03 {kind} pair {pair_idx + 1}",
                           leave=False):
            for index in range(cells.shape[1]):
                img = mat[cells[person, index]][()].T
                if img.size == 0 or img.ndim != 3:
                    continue  # an empty cell: some people have fewer than 10 boxes
                view = 1 if index < 5 else 2
                name = f"{pair_idx + 1}_{person + 1:03d}_{view}_{index + 1:02d}.png"
                path = out_dir / name
                if overwrite or not path.exists():  # atomic: a killed run leaves no half png
                    box = Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8))
                    atomic_write(path, partial(box.save, format="PNG"))
                count += 1
    return count


def _write_bytes(data: bytes, f: IO[bytes]) -> None:
    f.write(data)


def _cell_text(item: Any) -> str:
    arr = np.asarray(item).ravel()
    return str(arr[0]) if arr.size else ""


def _read_config(path: Path) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    try:
        cfg = loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a bad file
        raise ValueError(f"cannot read split file '{path}' as a .mat file: {exc}") from exc
    missing = [k for k in _CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f"split file '{path}' lacks the field(s) {', '.join(missing)}")
    return {k: np.asarray(cfg[k]).ravel() for k in _CONFIG_KEYS}


def _camid(name: str, where: str) -> int:
    parts = Path(name).stem.split("_")
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or parts[2] not in ("1", "2"):
        raise ValueError(f"{where}: file name {name!r} does not follow the rule {_NAME_RULE}")
    return int(parts[2]) - 1


def _make_split(cfg_path: Path, kind: str, image_dir: Path) -> dict[str, Any]:
    cfg = _read_config(cfg_path)
    names = [_cell_text(x) for x in cfg["filelist"]]
    labels = cfg["labels"].astype(int)
    if len(labels) != len(names):
        raise ValueError(
            f"split file '{cfg_path}': {len(names)} file names but {len(labels)} labels"
        )
    split: dict[str, Any] = {"protocol": "767/700", "images": kind, "source": cfg_path.name}
    for subset, key in (("train", "train_idx"), ("query", "query_idx"),
                        ("gallery", "gallery_idx")):
        idx = cfg[key].astype(int) - 1  # MATLAB indices count from 1
        if idx.size == 0 or idx.min() < 0 or idx.max() >= len(names):
            raise ValueError(f"split file '{cfg_path}': {key} is empty or out of range")
        entries = []
        for i in idx:
            name = names[i]
            camid = _camid(name, f"split file '{cfg_path}'")
            if not (image_dir / name).is_file():
                raise FileNotFoundError(
                    f"split file '{cfg_path}' refers to '{name}', which is not in "
                    f"'{image_dir}': the split does not match the release file"
                )
            entries.append([name, int(labels[i]), camid])
        split[subset] = entries
    return split


def convert_cuhk03(folder: str | os.PathLike[str], *, overwrite: bool = False) -> list[Path]:
    """Convert the CUHK03 release to images and 767/700 split files (done once).

    Args:
        folder: the ``cuhk03`` folder holding ``cuhk03_release/cuhk-03.mat`` and at least one of
            the ``cuhk03_new_protocol_config_{detected,labeled}.mat`` split files.
        overwrite: rewrite images that already exist.

    Returns:
        The split json files written (one per split file present).

    Raises:
        FileNotFoundError: the release file or both split files are missing.
        ImportError: h5py (needed to read MATLAB v7.3 files) is not installed.
        ValueError: a file is not what it should be (named in the message).
    """
    base = as_root(folder)
    raw = base / _RAW_MAT
    if not raw.is_file():
        raise FileNotFoundError(f"CUHK03 release file '{raw}' not found")
    kinds = [k for k in KINDS if _config_path(base, k).is_file()]
    if not kinds and not _has_classic_splits(raw):
        raise FileNotFoundError(
            f"no 767/700 split file in '{base}': expected "
            f"'{_config_path(base, 'detected').name}' and/or "
            f"'{_config_path(base, 'labeled').name}' (and '{raw.name}' holds no classic "
            "'testsets')"
        )
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "reading cuhk-03.mat (MATLAB v7.3, an HDF5 file) needs h5py: pip install h5py"
        ) from exc
    try:
        mat = h5py.File(raw, "r")
    except OSError as exc:
        raise ValueError(f"'{raw}' is not a MATLAB v7.3 (HDF5) file: {exc}") from exc
    written = []
    with mat:
        classic = _classic_splits(mat)
        for kind in KINDS if classic is not None else kinds:
            n = _extract_images(mat, kind, base / f"images_{kind}", overwrite)
            logger.info("CUHK03: %d %s images in %s", n, kind, base / f"images_{kind}")
    if classic is not None:
        payload = {"protocol": "classic", "source": f"{raw.name} testsets", "splits": classic}
        atomic_write(base / CLASSIC_SPLITS,
                     partial(_write_bytes, json.dumps(payload).encode()))
        written.append(base / CLASSIC_SPLITS)
    for kind in kinds:
        split = _make_split(_config_path(base, kind), kind, base / f"images_{kind}")
        out = _split_path(base, kind)
        atomic_write(out, partial(_write_bytes, json.dumps(split).encode()))
        written.append(out)
        logger.info("CUHK03: wrote %s", out)
    return written


def _has_classic_splits(raw: Path) -> bool:
    try:
        import h5py

        with h5py.File(raw, "r") as mat:
            return "testsets" in mat
    except (ImportError, OSError):
        return False


def _load_classic(folder: Path, kind: str, split_id: int) -> dict[str, list[ImageRecord]]:
    """Train, query and gallery of classic split ``split_id``: the split's 100 test identities
    (query = gallery = their images) and the other identities for training."""
    path = folder / CLASSIC_SPLITS
    try:
        splits = json.loads(path.read_text())["splits"]
        test_ids = {(int(pair), int(person)) for pair, person in splits[split_id]}
    except IndexError:
        raise ValueError(f"split_id must be between 0 and {len(splits) - 1}, got {split_id}"
                         ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"CUHK03 split file '{path}' is malformed ({exc}); run convert_cuhk03 again"
        ) from exc
    image_dir = folder / f"images_{kind}"
    train: list[ImageRecord] = []
    test: list[ImageRecord] = []
    for name in list_images(image_dir):
        camid = _camid(name, f"folder '{image_dir}'")
        pair, person = (int(v) for v in name.split("_")[:2])
        record = ImageRecord(str(image_dir / name), pair * 1000 + person, camid)
        (test if (pair, person) in test_ids else train).append(record)
    found = {(r.pid // 1000, r.pid % 1000) for r in test}
    if found != test_ids:
        raise ValueError(f"CUHK03 classic split {split_id} names {len(test_ids - found)} "
                         f"identities without images in '{image_dir}'; run convert_cuhk03 again")
    return {"train": train, "query": test, "gallery": list(test)}


def _load_split(path: Path, image_dir: Path) -> dict[str, list[ImageRecord]]:
    try:
        data = json.loads(path.read_text())
        subsets = {
            s: [ImageRecord(str(image_dir / n), int(p), int(c)) for n, p, c in data[s]]
            for s in ("train", "query", "gallery")
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"CUHK03 split file '{path}' is malformed ({exc}); run convert_cuhk03 again"
        ) from exc
    for s, recs in subsets.items():
        if not recs:
            raise ValueError(f"CUHK03 split file '{path}': the {s} subset is empty")
        missing = [r.path for r in recs if not os.path.isfile(r.path)]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} CUHK03 {s} image(s) of '{path}' are missing, e.g. "
                f"'{missing[0]}'"
            )
    return subsets


@register_dataset("cuhk03")
def cuhk03(root: str | os.PathLike[str], *, images: str = "detected", protocol: str = "767/700",
           split_id: int = 0) -> ReIDDataset:
    """CUHK03 with the 767/700 split (767 training and 700 test identities, 2 cameras; Table
    2, the paper's setting) or the classic protocol (1,367 training and 100 test identities,
    20 splits).

    Args:
        root: the data root holding ``cuhk03/``, or that folder itself, after
            :func:`convert_cuhk03` (the data script ``prepare_cuhk03.py``) has run.
        images: ``"detected"`` (the paper's setting) or ``"labeled"`` (hand-drawn boxes).
        protocol: ``"767/700"`` (default) or ``"classic"``.
        split_id: the classic protocol's split, 0..19 (results are averaged over the 20);
            the 767/700 protocol has one split, 0.

    Raises:
        FileNotFoundError: the converted files are missing (the message says how to make
            them).
        ValueError: bad ``images``, ``protocol`` or ``split_id``, or a malformed split file.
    """
    kind = check_choice("images", images, KINDS)
    protocol = check_choice("protocol", protocol, PROTOCOLS)
    split_id = check_int("split_id", split_id, 0, 0 if protocol == "767/700" else None)
    split_file = _split_path(Path(), kind).name if protocol == "767/700" else CLASSIC_SPLITS
    required = (f"images_{kind}", split_file)
    try:
        folder = find_layout(root, "CUHK03", ("cuhk03",), (), required)
    except FileNotFoundError as exc:
        try:
            raw = find_layout(root, "CUHK03", ("cuhk03",), (), (str(_RAW_MAT),))
        except FileNotFoundError:
            raise exc from None
        raise FileNotFoundError(
            f"CUHK03 in '{raw}' has not been converted for the '{kind}' images and the "
            f"{protocol} protocol: run data_scripts/prepare_cuhk03.py or "
            f"osnet_lib.data.convert_cuhk03('{raw}') once"
        ) from None
    if protocol == "classic":
        subsets = _load_classic(folder, kind, split_id)
    else:
        subsets = _load_split(_split_path(folder, kind), folder / f"images_{kind}")
    name = "cuhk03" if kind == "detected" else "cuhk03-labeled"
    if protocol == "classic":
        name += f"-classic{split_id}"
    return ReIDDataset(name, relabel(subsets["train"]), subsets["query"],
                       subsets["gallery"]).check_protocol()
