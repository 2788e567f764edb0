"""A torch ``Dataset`` over image records."""

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from .records import ImageRecord

__all__ = ["ImageDataset", "read_image"]


def read_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file as RGB, decoding it fully (so a truncated file fails here).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is corrupt, truncated, unreadable or not an image (the message
            names the file).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file '{path}' does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
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
