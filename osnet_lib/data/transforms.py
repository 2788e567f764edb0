"""Image transforms for training and testing (Sec. 4.1, "Implementation Details").

The paper's recipes pick from these augmentations:

- training from scratch: random flip, random crop and random patch (footnote 6);
- fine-tuning from ImageNet weights: random flip and random erasing;
- the cross-domain setting (Sec. 4.2) and the architecture search: random flip and colour
  jittering.

All images are resized to ``height x width`` (256 x 128 in the paper) and normalised with the
ImageNet mean and standard deviation. Torchvision's transforms are used wherever one exists.

Randomness: every transform here, :class:`RandomPatch` included, draws from torch's global
random number generator (or from ``generator`` when one is given to :class:`RandomPatch`), so a
pipeline is reproducible after ``torch.manual_seed(s)``; in ``DataLoader`` worker processes,
torch seeds each worker from the base seed.
"""

import math
from collections import deque
from collections.abc import Sequence

import torch
from PIL import Image
from torchvision import transforms as T

__all__ = [
    "AUGMENTATIONS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RandomPatch",
    "build_transforms",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUGMENTATIONS = ("flip", "crop", "random_patch", "random_erase", "color_jitter")
CROP_SCALE = 1.125  # "crop": enlarge by 1/8, then crop back to the target size


def _check_prob(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


class RandomPatch:
    """RandomPatch augmentation (paper footnote 6).

    "RandomPatch works by (1) constructing a patch pool that stores randomly extracted image
    patches and (2) pasting a random patch selected from the patch pool onto an input image at
    random position." On each call a patch of random area (``patch_min_area`` to
    ``patch_max_area`` of the image) and aspect ratio (``patch_min_ratio`` to its inverse) is
    cut from the input and added to the pool; once the pool holds ``min_sample_size`` patches,
    with probability ``prob_happen`` a random patch from the pool, possibly flipped
    left-right and rotated by up to 10 degrees, is pasted at a random position, simulating
    occlusion. The defaults are the paper authors'.

    Operates on PIL images (place it before ``ToTensor``); returns a new image. The pool lives
    in this object, so each ``DataLoader`` worker process has its own.

    Random numbers come from ``torch.rand``/``torch.randint`` with ``generator`` (torch's
    global generator when None).
    """

    def __init__(
        self,
        prob_happen: float = 0.5,
        pool_capacity: int = 50000,
        min_sample_size: int = 100,
        patch_min_area: float = 0.01,
        patch_max_area: float = 0.5,
        patch_min_ratio: float = 0.1,
        prob_rotate: float = 0.5,
        prob_flip_leftright: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        self.prob_happen = _check_prob("prob_happen", prob_happen)
        self.prob_rotate = _check_prob("prob_rotate", prob_rotate)
        self.prob_flip_leftright = _check_prob("prob_flip_leftright", prob_flip_leftright)
        if not isinstance(pool_capacity, int) or pool_capacity < 1:
            raise ValueError(f"pool_capacity must be a positive int, got {pool_capacity!r}")
        if not isinstance(min_sample_size, int) or not 1 <= min_sample_size <= pool_capacity:
            raise ValueError(
                f"min_sample_size must be an int in [1, pool_capacity], got {min_sample_size!r}"
            )
        if not 0 < patch_min_area <= patch_max_area < 1:
            raise ValueError(
                "need 0 < patch_min_area <= patch_max_area < 1, got "
                f"{patch_min_area!r}, {patch_max_area!r}"
            )
        if not 0 < patch_min_ratio <= 1:
            raise ValueError(f"patch_min_ratio must be in (0, 1], got {patch_min_ratio!r}")
        self.pool_capacity = pool_capacity
        self.min_sample_size = min_sample_size
        self.patch_min_area = float(patch_min_area)
        self.patch_max_area = float(patch_max_area)
        self.patch_min_ratio = float(patch_min_ratio)
        self.generator = generator
        self.patchpool: deque[Image.Image] = deque(maxlen=pool_capacity)

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=self.generator).item()

    def _randint(self, low: int, high: int) -> int:
        """A random integer in ``[low, high]`` (both included)."""
        return int(torch.randint(low, high + 1, (), generator=self.generator).item())

    def _patch_size(self, width: int, height: int) -> tuple[int, int] | None:
        area = width * height
        for _ in range(100):
            target = self._uniform(self.patch_min_area, self.patch_max_area) * area
            ratio = self._uniform(self.patch_min_ratio, 1.0 / self.patch_min_ratio)
            h = int(round(math.sqrt(target * ratio)))
            w = int(round(math.sqrt(target / ratio)))
            if 0 < w < width and 0 < h < height:
                return w, h
        return None

    def _transform_patch(self, patch: Image.Image) -> Image.Image:
        if self._uniform(0, 1) < self.prob_flip_leftright:
            patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if self._uniform(0, 1) < self.prob_rotate:
            patch = patch.rotate(self._randint(-10, 10))
        return patch

    def __call__(self, img: Image.Image) -> Image.Image:
        if not isinstance(img, Image.Image):
            raise TypeError(
                "RandomPatch works on PIL images (put it before ToTensor), got "
                f"{type(img).__name__}"
            )
        width, height = img.size
        size = self._patch_size(width, height)
        if size is not None:
            w, h = size
            x, y = self._randint(0, width - w), self._randint(0, height - h)
            self.patchpool.append(img.crop((x, y, x + w, y + h)))
        if len(self.patchpool) < self.min_sample_size:
            return img
        if self._uniform(0, 1) >= self.prob_happen:
            return img
        patch = self.patchpool[self._randint(0, len(self.patchpool) - 1)]
        pw, ph = patch.size
        if pw > width or ph > height:  # a patch cut from a larger image
            return img
        patch = self._transform_patch(patch)
        x, y = self._randint(0, width - pw), self._randint(0, height - ph)
        out = img.copy()
        out.paste(patch, (x, y))
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(prob_happen={self.prob_happen}, "
            f"pool_capacity={self.pool_capacity}, min_sample_size={self.min_sample_size}, "
            f"patch_area=({self.patch_min_area}, {self.patch_max_area}), "
            f"patch_min_ratio={self.patch_min_ratio})"
        )


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_stats(name: str, values: Sequence[float], positive: bool) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of 3 numbers, got {values!r}") from None
    if len(out) != 3 or (positive and min(out) <= 0):
        kind = "positive numbers" if positive else "numbers"
        raise ValueError(f"{name} must hold 3 {kind}, got {values!r}")
    return out


def build_transforms(
    height: int,
    width: int,
    augment: Sequence[str] = (),
    norm_mean: Sequence[float] = IMAGENET_MEAN,
    norm_std: Sequence[float] = IMAGENET_STD,
) -> tuple[T.Compose, T.Compose]:
    """Training and test transforms (Sec. 4.1).

    The training pipeline is: resize to ``height x width``; then, in this order and only when
    named in ``augment``: ``"flip"`` (horizontal, p=0.5), ``"crop"`` (with p=0.5, enlarge by
    1/8 and crop back at a random position), ``"random_patch"`` (:class:`RandomPatch`),
    ``"color_jitter"`` (brightness 0.2, contrast 0.15, the paper authors' values); then to a
    tensor and normalise; then ``"random_erase"`` (torchvision's ``RandomErasing``, p=0.5,
    area 2-40%, aspect 0.3-3.33, filled with 0, i.e. the mean colour after normalisation).
    The test pipeline is resize, to tensor, normalise.

    Args:
        height, width: output size (the paper uses 256 x 128).
        augment: names from :data:`AUGMENTATIONS`, in any order; a single name may be given
            as a string.
        norm_mean, norm_std: per-channel normalisation (ImageNet statistics by default).

    Returns:
        ``(train_transform, test_transform)``, each mapping a PIL image to a float tensor of
        shape (3, height, width).

    Raises:
        ValueError: an unknown augmentation name (the message lists the valid ones), a
            non-positive size, or bad normalisation statistics.
    """
    height, width = _check_size("height", height), _check_size("width", width)
    names = [augment] if isinstance(augment, str) else list(augment)
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(
                f"unknown augmentation {name!r}; valid names: {', '.join(AUGMENTATIONS)}"
            )
    mean = _check_stats("norm_mean", norm_mean, positive=False)
    std = _check_stats("norm_std", norm_std, positive=True)
    normalize = T.Normalize(mean=mean, std=std)

    train: list = [T.Resize((height, width))]
    if "flip" in names:
        train.append(T.RandomHorizontalFlip(p=0.5))
    if "crop" in names:
        big = (int(round(height * CROP_SCALE)), int(round(width * CROP_SCALE)))
        train.append(T.RandomApply([T.Resize(big), T.RandomCrop((height, width))], p=0.5))
    if "random_patch" in names:
        train.append(RandomPatch())
    if "color_jitter" in names:
        train.append(T.ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0))
    train += [T.ToTensor(), normalize]
    if "random_erase" in names:
        train.append(T.RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value=0))

    test = T.Compose([T.Resize((height, width)), T.ToTensor(), normalize])
    return T.Compose(train), test
