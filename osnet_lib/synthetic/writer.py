"""On-disk layout of the synthetic world, and readers for its ground truth.

Each domain is written exactly as Market1501 is distributed, so that the same loader reads real
and synthetic data::

    <root>/world.json                      the recipe (profile, seed, sizes, domain parameters)
    <root>/<domain>/bounding_box_train/    training images
    <root>/<domain>/query/                 query images
    <root>/<domain>/bounding_box_test/     gallery images, with distractors (0000) and junk (-1)
    <root>/<domain>/ground_truth/          everything that is not a Market1501 image:
        domain.json                        the domain's recipe and statistics
        <split>.jsonl                      one JSON record per image of the split
        <split>_masks.npz                  per-pixel part labels of the split's images, in the
                                           order of its records (see ``PART_LABELS``)

Image names follow Market1501: ``PPPP_cCsS_FFFFFF_NN.jpg`` (4-digit identity, camera, sequence,
6-digit frame, 2-digit box index); junk images are named ``-1_cCsS_FFFFFF_NN.jpg``.
"""

import io
import json
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS: tuple[str, ...] = ("bounding_box_train", "query", "bounding_box_test")
SPLIT_ALIASES: dict[str, str] = {
    "train": "bounding_box_train",
    "query": "query",
    "gallery": "bounding_box_test",
    "test": "bounding_box_test",
}
GROUND_TRUTH_DIR = "ground_truth"
#: Market1501 file names: identity (-1 for junk, 0000 for distractors), camera, sequence, frame,
#: box index.
NAME_PATTERN = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")


def image_name(pid: int, camera: int, seq: int, frame: int, box: int) -> str:
    """The Market1501 file name of one image (``pid == -1`` for junk)."""
    if not (-1 <= pid <= 9999 and 1 <= camera <= 9 and 1 <= seq <= 9 and 0 <= frame <= 999999
            and 0 <= box <= 99):
        raise ValueError(f"cannot name image pid={pid} camera={camera} seq={seq} frame={frame} "
                         f"box={box}: out of the Market1501 ranges")
    p = "-1" if pid == -1 else f"{pid:04d}"
    return f"{p}_c{camera}s{seq}_{frame:06d}_{box:02d}.jpg"


def parse_name(name: str) -> dict[str, int]:
    """Split a Market1501 file name into ``pid``, ``camid``, ``seq``, ``frame`` and ``box``.

    Raises:
        ValueError: the name does not follow the Market1501 pattern.
    """
    m = NAME_PATTERN.match(Path(name).name)
    if m is None:
        raise ValueError(f"{name!r} is not a Market1501 image name (PPPP_cCsS_FFFFFF_NN.jpg)")
    pid, cam, seq, frame, box = m.groups()
    return {"pid": int(pid), "camid": int(cam), "seq": int(seq), "frame": int(frame),
            "box": int(box)}


def resolve_split(split: str) -> str:
    """Market1501 folder name of ``split`` (accepts ``train``, ``query``, ``gallery``/``test``).

    Raises:
        ValueError: unknown split name.
    """
    if split in SPLITS:
        return split
    if split in SPLIT_ALIASES:
        return SPLIT_ALIASES[split]
    raise ValueError(f"unknown split {split!r}; valid splits: {list(SPLITS)} "
                     f"or aliases {list(SPLIT_ALIASES)}")


def _domain_dir(domain_dir: "str | Path") -> Path:
    d = Path(domain_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"synthetic domain folder {str(d)!r} does not exist")
    gt = d / GROUND_TRUTH_DIR
    if not gt.is_dir():
        raise FileNotFoundError(f"{str(d)!r} has no {GROUND_TRUTH_DIR}/ folder: it is not a "
                                f"domain of a generated synthetic world")
    return d


def load_ground_truth(domain_dir: "str | Path", split: str) -> list[dict]:
    """Ground-truth records of one split of a synthetic domain, sorted by image name.

    Each record has ``image`` (path relative to ``domain_dir``), ``mask_file`` and
    ``mask_index`` (where its part mask is, see :func:`load_part_mask`), ``pid``,
    ``camid``, ``seq``, ``frame``, ``box`` (as in the file name), ``kind`` (``"identity"``,
    ``"distractor"`` or ``"junk"``), ``identity`` (the person shown, also for junk; -1 for none),
    ``family``, ``view``, ``facing``, ``attributes`` (the identity's cues, or ``None``),
    ``occluder``, ``person_box`` (y0, x0, y1, x1 in pixels, or ``None``) and ``parts`` (pixel
    counts of each visible part).

    Raises:
        FileNotFoundError: the folder or its ground truth is missing.
        ValueError: unknown split, or a corrupt record file.
    """
    d = _domain_dir(domain_dir)
    split = resolve_split(split)
    path = d / GROUND_TRUTH_DIR / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file {str(path)!r} is missing")
    records = []
    with path.open("r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"corrupt ground-truth file {str(path)!r}, line {lineno}: "
                                 f"{e}") from None
    return records


def mask_file(split: str) -> str:
    """File name (inside ``ground_truth/``) of the part masks of ``split``."""
    return f"{resolve_split(split)}_masks.npz"


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: byte-identical files
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def save_masks(path: Path, images: list[str], masks: np.ndarray) -> None:
    """Write the masks ``(N, H, W)`` uint8 of one split and their image paths as a compressed
    ``.npz`` (arrays ``masks`` and ``images``), byte-identical for identical inputs."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in (("masks", np.ascontiguousarray(masks, dtype=np.uint8)),
                          ("images", np.asarray(images, dtype=np.str_))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(_zip_entry(name + ".npy"), buf.getvalue(), compresslevel=6)


@lru_cache(maxsize=4)
def _read_masks(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, dict[str, int]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            masks, images = z["masks"], z["images"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"corrupt part-mask file {path!r}: {e}") from None
    if masks.ndim != 3 or len(images) != len(masks):
        raise ValueError(f"corrupt part-mask file {path!r}: {len(images)} names for masks of "
                         f"shape {masks.shape}")
    return masks, {str(n): i for i, n in enumerate(images)}


def _masks_of(d: Path, split: str) -> tuple[np.ndarray, dict[str, int]]:
    path = d / GROUND_TRUTH_DIR / mask_file(split)
    if not path.is_file():
        raise FileNotFoundError(f"part-mask file {str(path)!r} is missing")
    st = path.stat()
    return _read_masks(str(path), st.st_mtime_ns, st.st_size)


def load_part_mask(domain_dir: "str | Path", image_path: "str | Path") -> np.ndarray:
    """The ``(H, W)`` uint8 part mask of one image (labels in ``PART_LABELS``).

    ``image_path`` is the image's path, absolute or relative to ``domain_dir``
    (``"query/0003_c1s2_000123_01.jpg"``); its parent folder names the split. The split's mask
    file is read once and cached.

    Raises:
        FileNotFoundError: the domain folder or its mask file is missing, or the image has no
            mask.
        ValueError: the path is not a split image, or the mask file is corrupt.
    """
    d = _domain_dir(domain_dir)
    img = Path(image_path)
    split = img.parent.name
    if split not in SPLITS:
        raise ValueError(f"{str(image_path)!r} is not inside a split folder {list(SPLITS)}")
    parse_name(img.name)
    masks, index = _masks_of(d, split)
    key = f"{split}/{img.name}"
    if key not in index:
        raise FileNotFoundError(f"no part mask for image {str(image_path)!r} in "
                                f"{str(d / GROUND_TRUTH_DIR / mask_file(split))!r}")
    return masks[index[key]].copy()


def load_part_masks(domain_dir: "str | Path", split: str) -> tuple[list[str], np.ndarray]:
    """All part masks of one split: image paths (relative to ``domain_dir``, in the order of
    :func:`load_ground_truth`) and an ``(N, H, W)`` uint8 array."""
    d = _domain_dir(domain_dir)
    masks, index = _masks_of(d, resolve_split(split))
    return list(index), masks.copy()


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write records one per line, keys sorted (byte-identical for identical records)."""
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True, separators=(",", ":")))
            f.write("\n")


def write_json(path: Path, obj: dict) -> None:
    """Write indented JSON with sorted keys."""
    path.write_text(json.dumps(obj, sort_keys=True, indent=1) + "\n", encoding="utf-8")


def save_image(path: Path, image: "np.ndarray | Image.Image", quality: int) -> None:
    """Save an RGB image (uint8 array or PIL image) as baseline JPEG (deterministic for a given
    Pillow)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    image.save(path, format="JPEG", quality=int(quality), subsampling=2, optimize=False)
