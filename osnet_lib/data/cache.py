"""Images decoded once: a uint8 cache of a list of records, for training that reads each image
many times.

Training reads every training image once per epoch; decoding a JPEG each time costs CPU time that
competes with the network on a small machine. :class:`DecodedImageDataset` decodes and resizes
each image once, when it is built, into one ``uint8`` tensor of shape ``(N, H, W, 3)`` (24 KiB
per image at 128 x 64, 96 KiB at 256 x 128), and then serves items exactly as
:class:`~osnet_lib.data.ImageDataset` does.

Its items are *identical* to :class:`~osnet_lib.data.ImageDataset`'s for a transform that
starts by resizing to the cache's size, as :func:`~osnet_lib.data.build_transforms`' do: the
cache holds the image after that first, deterministic resize, and resizing an image to the size
it already has returns an exact copy (Pillow), so the random augmentations that follow see the
same pixels and draw the same random numbers.
"""

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF
from tqdm.auto import tqdm

from .image_dataset import ImageDataset, read_image
from .records import ImageRecord

__all__ = ["DecodedImageDataset"]


class DecodedImageDataset(Dataset):
    """:class:`~osnet_lib.data.ImageDataset` with every image decoded and resized once.

    Each item is ``{"img": transform(image), "pid": int, "camid": int, "path": str,
    "dsetid": int}``, where ``image`` is the RGB image resized to ``height x width`` (bilinear,
    as ``torchvision.transforms.Resize``).

    Args:
        records: e.g. ``dataset.train`` (as for :class:`~osnet_lib.data.ImageDataset`).
        height, width: the size the images are stored at; give the transform's first resize.
        transform: applied to the stored RGB PIL image (``None``: a float tensor in [0, 1]).
        progress: a tqdm bar while decoding.

    Attributes:
        images: ``(N, height, width, 3)`` uint8, in the order of ``records``.

    Raises:
        ValueError: a non-positive size, or an image that cannot be read (named).
        FileNotFoundError: a missing image file.
        TypeError: as :class:`~osnet_lib.data.ImageDataset`.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        height: int,
        width: int,
        transform: Callable[[Image.Image], Any] | None = None,
        progress: bool = False,
    ) -> None:
        for name, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        base = ImageDataset(records, transform)  # validates records and transform
        self.records = base.records
        self.transform = base.transform
        self.images = torch.empty((len(self.records), height, width, 3), dtype=torch.uint8)
        pixels = self.images.numpy()  # a view: writing it fills the tensor
        for i, r in enumerate(tqdm(self.records, desc="decoding images", disable=not progress,
                                   leave=False)):
            pixels[i] = np.asarray(TF.resize(read_image(r.path), [height, width],
                                             interpolation=InterpolationMode.BILINEAR))

    def with_transform(
        self, transform: Callable[[Image.Image], Any] | None
    ) -> "DecodedImageDataset":
        """The same decoded images (shared, not copied) under another transform."""
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        other = copy.copy(self)
        other.transform = transform
        return other

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        r = self.records[index]
        img = Image.fromarray(self.images[index].numpy())
        out: torch.Tensor | Any = self.transform(img) if self.transform else TF.to_tensor(img)
        return {"img": out, "pid": r.pid, "camid": r.camid, "path": r.path, "dsetid": r.dsetid}
