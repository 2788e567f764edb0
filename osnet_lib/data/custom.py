"""Your own data: a folder per identity, or a CSV file.

Both give a :class:`~osnet_lib.data.ReIDDataset` that trains and evaluates like any other.

**(a) A folder per identity** (``build_dataset("custom_folder", root)``)::

    root/
        alice/
            cam1_0001_c1_a.jpg        <- camera from a "c<k>" token in the file name
            0002_c2_000123.jpg
        bob/
            c1/frame_17.jpg           <- or from a "c<k>" sub-folder
            c3/frame_90.png

The identity is the folder name (any text). The camera is the sub-folder ``c<k>`` when the
image sits in one, otherwise the first ``_``-separated token of the file name of the form
``c<k>`` (``c<k>s<j>`` as in Market1501 names counts too). Identities are split at random, with
a fixed seed, into training and test identities (``test_fraction``); for each test identity
seen by at least two cameras, one image per camera becomes a query and the rest are gallery
images, except that a camera's image stays in the gallery when no image of that identity from
another camera would be left there to match it (so an identity with one image per camera gives
a query from each camera but the last). An identity seen by one camera only goes to the
gallery, where it acts as a distractor. Query images need a gallery image from another camera
to be matched, following the standard protocol (Sec. 4.1).

**(b) A CSV file** (``build_dataset("custom_csv", "path/to/file.csv")``) with a header and the
columns ``path,identity,camera,split`` (extra columns are ignored)::

    path,identity,camera,split
    images/0001.jpg,alice,1,train
    images/0002.jpg,bob,2,query
    images/0003.jpg,bob,1,gallery

``path`` is absolute or relative to the CSV's folder; ``identity`` and ``camera`` are any text
(whole numbers are kept as identity numbers); ``split`` is ``train``, ``query`` or
``gallery``.

In both layouts cameras are numbered ``0..C-1`` in sorted order of their labels.
"""

import csv
import logging
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from osnet_lib.utils import check_finite, check_int

from ._common import as_root
from .image_dataset import is_image_file
from .records import ImageRecord, ReIDDataset, relabel
from .registry import register_dataset

__all__ = ["custom_folder", "custom_csv"]

logger = logging.getLogger("osnet_lib.data")

_CAM_TOKEN = re.compile(r"^c(\d+)(?:s\d+)?$", re.IGNORECASE)
_CAM_RULE = (
    "'root/<identity>/<anything>_c<camera>_<anything>.jpg' or 'root/<identity>/c<camera>/<file>'"
)
CSV_COLUMNS = ("path", "identity", "camera", "split")
SUBSETS = ("train", "query", "gallery")




def _label_order(labels: set[str]) -> list[str]:
    """Sort labels numerically when all are whole numbers, else as text."""
    if all(re.fullmatch(r"-?\d+", x) for x in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def _camera_from_name(path: Path) -> str | None:
    for token in path.stem.split("_"):
        match = _CAM_TOKEN.match(token)
        if match:
            return match.group(1)
    return None


def _scan_identity(folder: Path) -> list[tuple[Path, str]]:
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            match = _CAM_TOKEN.match(entry.name)
            if match is None:
                raise ValueError(
                    f"folder '{entry}' is not a camera folder 'c<k>': the layout must be "
                    f"{_CAM_RULE}"
                )
            for img in sorted(entry.iterdir()):
                if is_image_file(img):
                    found.append((img, match.group(1)))
                elif img.is_dir():
                    raise ValueError(
                        f"folder '{img}' is nested too deep: the layout is {_CAM_RULE}"
                    )
        elif is_image_file(entry):
            cam = _camera_from_name(entry)
            if cam is None:
                raise ValueError(
                    f"file '{entry}' names no camera: expected a token 'c<k>' in the file name "
                    f"or a camera folder, i.e. {_CAM_RULE}"
                )
            found.append((entry, cam))
    return found


def _check_fraction(test_fraction: object) -> float:
    return check_finite("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True)


@register_dataset("custom_folder")
def custom_folder(
    root: str | os.PathLike[str], *, test_fraction: float = 0.5, seed: int = 0
) -> ReIDDataset:
    """Your own images, one folder per identity (layout in the module docstring).

    Args:
        root: the folder holding one sub-folder per identity.
        test_fraction: share of identities held out for query/gallery (at least one).
            ``1.0`` puts every identity in the test set (an evaluation-only dataset).
        seed: seed of ``numpy.random.default_rng`` for the identity split and the choice of
            query images; the same seed and files give the same split.

    Raises:
        FileNotFoundError: ``root`` is missing.
        ValueError: wrong layout (the message names the file or folder and the rule), an
            identity folder without images, or an empty query or training set.
    """
    base = as_root(root)
    fraction = _check_fraction(test_fraction)
    seed = check_int("seed", seed)
    stray = [p for p in sorted(base.iterdir()) if is_image_file(p)]
    if stray:
        raise ValueError(
            f"image '{stray[0]}' lies directly in '{base}': images must be inside one folder "
            f"per identity, {_CAM_RULE}"
        )
    identities = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not identities:
        raise ValueError(f"'{base}' holds no identity folders: expected {_CAM_RULE}")
    per_id: dict[str, list[tuple[Path, str]]] = {}
    for folder in identities:
        images = _scan_identity(folder)
        if not images:
            raise ValueError(f"identity folder '{folder}' holds no images")
        per_id[folder.name] = images

    cams = _label_order({c for imgs in per_id.values() for _, c in imgs})
    cam_index = {c: i for i, c in enumerate(cams)}
    names = sorted(per_id)
    rng = np.random.default_rng(int(seed))
    n_test = min(len(names), max(1, round(fraction * len(names))))
    if fraction < 1.0 and n_test == len(names):
        n_test = len(names) - 1
    if n_test < 1:
        raise ValueError(f"'{base}' has a single identity: cannot split train and test")
    order = rng.permutation(len(names))
    test_names = {names[i] for i in order[:n_test]}

    train, query, gallery = [], [], []
    for pid, name in enumerate(names):
        records = [ImageRecord(str(p), pid, cam_index[c]) for p, c in per_id[name]]
        if name not in test_names:
            train += records
            continue
        by_cam: dict[int, list[ImageRecord]] = defaultdict(list)
        for r in records:
            by_cam[r.camid].append(r)
        if len(by_cam) < 2:
            gallery += records
            continue
        # one query per camera, as long as the gallery keeps an image of this identity from
        # another camera for it to match
        left = {camid: len(group) for camid, group in by_cam.items()}
        for camid in sorted(by_cam):
            group = by_cam[camid]
            if not any(n for c, n in left.items() if c != camid):
                gallery += group
                continue
            pick = int(rng.integers(len(group)))
            query.append(group[pick])
            gallery += group[:pick] + group[pick + 1:]
            left[camid] -= 1
    if not query:
        raise ValueError(
            f"'{base}': no test identity is seen by two or more cameras, so there is no query "
            "(empty split); add images from a second camera"
        )
    if not train:
        logger.warning("'%s': every identity is in the test set (no training images)", base)
    dataset = ReIDDataset(f"custom_folder:{base.name}", relabel(train), query, gallery)
    return dataset.check_protocol()


@register_dataset("custom_csv")
def custom_csv(root: str | os.PathLike[str]) -> ReIDDataset:
    """Your own images listed in a CSV file ``path,identity,camera,split`` (see module doc).

    Args:
        root: the CSV file.

    Raises:
        FileNotFoundError: the CSV or a listed image is missing (row numbers in the message).
        ValueError: missing columns, an empty value, an unknown split, or an empty query or
            gallery.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"CSV path must be a str or path, got {type(root).__name__}")
    path = Path(root).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"CSV file '{path}' does not exist")
    try:
        rows = _read_csv_rows(path)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"CSV file '{path}' is not UTF-8 text (byte {exc.start}: {exc.reason}); give a CSV "
            f"file with the columns {','.join(CSV_COLUMNS)}") from None
    except csv.Error as exc:
        raise ValueError(f"CSV file '{path}' is not a valid CSV file: {exc}") from None
    if not rows:
        raise ValueError(f"CSV file '{path}' has no rows")
    _check_rows(path, rows)
    return _dataset_from_rows(path, rows)


def _read_csv_rows(path: Path) -> list[tuple[int, Path, str, str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"CSV file '{path}' lacks the column(s) {', '.join(missing)}; the header must "
                f"include {','.join(CSV_COLUMNS)} (found: {','.join(header) or 'nothing'})"
            )
        reader.fieldnames = header
        rows = []
        for lineno, row in enumerate(reader, start=2):
            values = {c: (row.get(c) or "").strip() for c in CSV_COLUMNS}
            empty = [c for c in CSV_COLUMNS if not values[c]]
            if empty:
                raise ValueError(f"CSV file '{path}' line {lineno}: empty {', '.join(empty)}")
            split = values["split"].lower()
            if split not in SUBSETS:
                raise ValueError(
                    f"CSV file '{path}' line {lineno}: split {values['split']!r} is not one of "
                    f"{', '.join(SUBSETS)}"
                )
            img = Path(values["path"]).expanduser()
            if not img.is_absolute():
                img = path.parent / img
            rows.append((lineno, img, values["identity"], values["camera"], split))
    return rows


def _check_rows(path: Path, rows: list[tuple[int, Path, str, str, str]]) -> None:
    absent = [(n, p) for n, p, *_ in rows if not p.is_file()]
    if absent:
        listed = "; ".join(f"line {n}: '{p}'" for n, p in absent[:5])
        raise FileNotFoundError(
            f"CSV file '{path}': {len(absent)} listed image(s) do not exist ({listed})"
        )


def _dataset_from_rows(path: Path, rows: list[tuple[int, Path, str, str, str]]) -> ReIDDataset:
    ids = _label_order({r[2] for r in rows})
    numeric = all(re.fullmatch(r"-?\d+", x) for x in ids)
    pid_of = {x: (int(x) if numeric else i) for i, x in enumerate(ids)}
    cam_of = {c: i for i, c in enumerate(_label_order({r[3] for r in rows}))}
    subsets: dict[str, list[ImageRecord]] = {s: [] for s in SUBSETS}
    for _, img, ident, cam, split in rows:
        subsets[split].append(ImageRecord(str(img), pid_of[ident], cam_of[cam]))
    for s in ("query", "gallery"):
        if not subsets[s]:
            raise ValueError(f"CSV file '{path}' has no '{s}' rows (empty split)")
    if not subsets["train"]:
        logger.warning("CSV file '%s' has no 'train' rows (an evaluation-only dataset)", path)
    return ReIDDataset(
        f"custom_csv:{path.stem}", relabel(subsets["train"]), subsets["query"], subsets["gallery"]
    ).check_protocol()
