"""Images: the one reader (:func:`read_image`, :func:`to_rgb`), the one scanner of image
folders (:func:`scan_images`) and a torch ``Dataset`` over image records.

Every image the library reads (dataset loaders, the command line, the colour baseline) goes
through :func:`read_image`, and every folder of images is listed by :func:`scan_images`, so
they all agree on which files are images and on what their pixels are.
"""

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from .records import ImageRecord

__all__ = ["IMAGE_EXTENSIONS", "ImageDataset", "is_image_file", "read_image", "scan_images",
           "to_rgb"]

#: File name endings of images (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file with an image ending that is not hidden (``.name``; this skips
    the ``._name.jpg`` resource forks that macOS leaves beside copied files)."""
    p = Path(path)
    return (not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
            and p.is_file())


def scan_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """The image files of ``folder`` (:func:`is_image_file`), sorted by path; with
    ``recursive`` also those of its sub-folders (hidden folders are skipped).

    Raises:
        NotADirectoryError: ``folder`` is missing or not a folder.
    """
    base = Path(folder)
    if not base.is_dir():
        raise NotADirectoryError(f"expected a folder of images at '{base}'")
    if not recursive:
        return sorted(p for p in base.iterdir() if is_image_file(p))
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath, f) for f in filenames if is_image_file(Path(dirpath, f))]
    return sorted(found)


#: Modes that Pillow converts to RGB exactly (8 bits per channel, or fewer).
_EIGHT_BIT = {"1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LA", "La", "PA",
              "HSV"}


def to_rgb(img: Image.Image, name: str = "image") -> Image.Image:
    """An opened image as 8-bit RGB, converted faithfully, or a ValueError naming ``name``.

    - 8-bit modes (greyscale, palette, RGB, CMYK, YCbCr, HSV, with or without alpha): Pillow's
      own conversion; transparency is dropped (the stored colours are kept).
    - 16-bit greyscale (``I;16``, ``I;16B``, ``I;16L``, and ``I`` with values in 0..65535, as a
      16-bit PNG opens): scaled to 8 bits (value / 257, rounded), not clipped at 255, which
      would read almost every pixel as white.
    - Anything else (32-bit integer images outside 0..65535, floating-point ``F`` images,
      ``LAB``...) has no single meaning in 8 bits and is refused by name.
    """
    mode = img.mode
    if mode in _EIGHT_BIT:
        if mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        return img if img.mode == "RGB" else img.convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(img).astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(
                f"{name}: a 32-bit integer image with values in [{arr.min()}, {arr.max()}], "
                "outside the 16-bit range; convert it to 8-bit RGB first")
        grey = np.round(arr / 257.0).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    raise ValueError(
        f"{name}: Pillow mode {mode!r} has no faithful 8-bit RGB reading (floating-point or "
        "colour-space data); convert it to 8-bit RGB (e.g. a PNG or JPEG) first")


def read_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as 8-bit RGB (:func:`to_rgb`), decoding it fully (so a truncated
    file fails here) and turned upright as its EXIF orientation says.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is corrupt, truncated, unreadable, not an image, larger than
            Pillow's decompression-bomb limit, or in a mode with no faithful 8-bit RGB reading
            (the message names the file).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file '{path}' does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            upright = ImageOps.exif_transpose(img) or img
            return to_rgb(upright, f"image file '{path}'")
    except Image.DecompressionBombError as exc:
        raise ValueError(
            f"image file '{path}' is too large to decode safely ({exc}); re-ID images are "
            "small crops: resize it, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(
            f"cannot read image file '{path}' (corrupt, truncated or not an image): {exc}"
        ) from exc


class ImageDataset(Dataset):
    """Images of a list of :class:`ImageRecord` for a ``torch.utils.data.DataLoader``.

    Each item is ``{"img": tensor, "pid": int, "camid": int, "path": str, "dsetid": int}``.

    Args:
        records: e.g. ``dataset.train``, ``dataset.query`` or ``dataset.gallery``. Plain
            ``(path, pid, camid[, dsetid])`` tuples are accepted too.
        transform: applied to the RGB PIL image, e.g. one of :func:`build_transforms`'s
            outputs. ``None`` converts to a float tensor in [0, 1] of shape (3, H, W).

    Raises:
        TypeError: a record is not an ``ImageRecord`` or a 3/4-tuple, or ``transform`` is not
            callable.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        transform: Callable[[Image.Image], Any] | None = None,
    ) -> None:
        items = []
        for i, r in enumerate(records):
            if isinstance(r, ImageRecord):
                items.append(r)
            elif isinstance(r, (tuple, list)) and len(r) in (3, 4):
                items.append(ImageRecord(str(r[0]), *(int(v) for v in r[1:])))
            else:
                raise TypeError(
                    f"record {i} must be an ImageRecord or a (path, pid, camid[, dsetid]) tuple, "
                    f"got {r!r}"
                )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.records: list[ImageRecord] = items
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        r = self.records[index]
        img = read_image(r.path)
        out: torch.Tensor | Any = self.transform(img) if self.transform else TF.to_tensor(img)
        return {"img": out, "pid": r.pid, "camid": r.camid, "path": r.path, "dsetid": r.dsetid}
