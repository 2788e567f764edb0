"""A hand-crafted baseline: colour histograms over horizontal stripes.

Before deep features, re-ID matched people by the colours of their clothes, pooled over
horizontal stripes of the body so that the descriptor is tolerant of pose and viewpoint while
keeping the vertical layout (upper vs lower garment); ELF, SDALF and LOMO are of this family. The
paper's OSNet (Sec. 3) replaces such fixed descriptors by learned omni-scale features; chapter 1
of the book measures how far plain colour gets, on the same evaluation protocol (Sec. 4.1).

The descriptor of an image is, for each of ``stripes`` horizontal stripes, a joint
hue-saturation histogram and a value histogram in HSV space, each L1-normalised, concatenated.
Compare descriptors with :func:`histogram_distance` (Bhattacharyya by default).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from osnet_lib.data.image_dataset import read_image, to_rgb
from osnet_lib.utils import check_positive_int

__all__ = ["ColourHistogram", "colour_histogram", "histogram_distance", "rgb_to_hsv"]

_METRICS = ("bhattacharyya", "l1", "chi2", "cosine")


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """Vectorised RGB -> HSV for float arrays in [0, 1] with channels last; H, S, V in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    maxc = rgb.max(axis=-1)
    minc = rgb.min(axis=-1)
    delta = maxc - minc
    safe = np.where(delta > 0, delta, 1.0)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1.0), 0.0)
    return np.stack([h, s, maxc], axis=-1).astype(np.float32)


def _load_path(p: "str | Path") -> np.ndarray:
    return np.asarray(read_image(p), dtype=np.uint8)


def _to_batch(images: Any, size: tuple[int, int]) -> np.ndarray:
    """Images (tensor, array, PIL image, path or a sequence of these) -> (N, H, W, 3) float in
    [0, 1] at ``size``."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the library
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(images, torch.Tensor):
        x = images.detach().cpu().float()
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"tensor images must be (N, 3, H, W) or (3, H, W), "
                             f"got {tuple(x.shape)}")
        if x.numel() and (x.min() < -1e-3 or x.max() > 1 + 1e-3):
            lo, hi = float(x.min()), float(x.max())
            raise ValueError("tensor images must hold RGB values in [0, 1] (not mean/std "
                             f"normalised); got values in [{lo:.3f}, {hi:.3f}]")
        arr = x.permute(0, 2, 3, 1).numpy()
        return _resize_batch(arr, size)
    if isinstance(images, np.ndarray):
        arr = images
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"array images must be (N, H, W, 3) or (H, W, 3), got {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        else:
            arr = arr.astype(np.float32)
            if arr.size and (arr.min() < -1e-3 or arr.max() > 1 + 1e-3):
                raise ValueError("float array images must hold RGB values in [0, 1]; got values in "
                                 f"[{float(arr.min()):.3f}, {float(arr.max()):.3f}]")
        return _resize_batch(arr, size)
    if isinstance(images, (str, Path, Image.Image)):
        images = [images]
    if isinstance(images, Sequence):
        if len(images) == 0:
            return np.zeros((0, size[0], size[1], 3), dtype=np.float32)
        out = []
        for item in images:
            if isinstance(item, (str, Path)):
                a = _load_path(item)
            elif isinstance(item, Image.Image):
                a = np.asarray(to_rgb(item, "a PIL image"), dtype=np.uint8)
            elif isinstance(item, np.ndarray) or (
                    torch is not None and isinstance(item, torch.Tensor)):
                out.append(_to_batch(item, size))
                continue
            else:
                raise TypeError(f"cannot read an image from {type(item).__name__}: expected a "
                                "path, a PIL image, an array or a tensor")
            out.append(_to_batch(a, size))
        return np.concatenate(out, axis=0)
    raise TypeError(f"cannot read images from {type(images).__name__}: expected a tensor, an "
                    "array, a PIL image, a path or a sequence of these")


def _resize_batch(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if arr.shape[1:3] == tuple(size):
        return np.clip(arr, 0.0, 1.0)
    out = np.empty((arr.shape[0], size[0], size[1], 3), dtype=np.float32)
    for i, a in enumerate(arr):
        im = Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
        small = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        out[i] = np.asarray(small, dtype=np.float32) / 255
    return out


@dataclass(frozen=True)
class ColourHistogram:
    """Striped HSV colour-histogram descriptor (a classic hand-crafted re-ID feature).

    Each image is resized to ``size`` (height, width) and cut into ``stripes`` horizontal
    stripes; each stripe contributes a ``hue_bins`` x ``sat_bins`` hue-saturation histogram and
    a ``val_bins`` value histogram, each L1-normalised (so each stripe's part sums to 2).
    The descriptor has ``stripes * (hue_bins * sat_bins + val_bins)`` dimensions.
    """

    stripes: int = 6
    hue_bins: int = 8
    sat_bins: int = 4
    val_bins: int = 8
    size: tuple[int, int] = (128, 64)

    def __post_init__(self) -> None:
        for name in ("stripes", "hue_bins", "sat_bins", "val_bins"):
            check_positive_int(name, getattr(self, name))
        try:
            h, w = int(self.size[0]), int(self.size[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"size must be (height, width), got {self.size!r}") from None
        if len(self.size) != 2 or h < self.stripes or w < 1:
            raise ValueError(f"size must be (height, width) with height >= stripes "
                             f"({self.stripes}), got {self.size!r}")
        object.__setattr__(self, "size", (h, w))

    @property
    def dim(self) -> int:
        """Length of the descriptor."""
        return self.stripes * (self.hue_bins * self.sat_bins + self.val_bins)

    def __call__(self, images: Any) -> np.ndarray:
        """Descriptors ``(N, dim)`` float32 of ``images``: a tensor ``(N, 3, H, W)`` or
        ``(3, H, W)`` with values in [0, 1], a uint8 or [0, 1] float array ``(N, H, W, 3)`` or
        ``(H, W, 3)``, a PIL image, an image path, or a sequence of these.

        Raises:
            TypeError: an input of an unsupported type.
            ValueError: wrong shape, values out of range, or an unreadable image file.
            FileNotFoundError: a path that does not exist.
        """
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency of the library
            torch = None  # type: ignore[assignment]
        chunk = 256  # bounds the memory of the float HSV planes
        is_tensor = torch is not None and isinstance(images, torch.Tensor)
        if isinstance(images, np.ndarray) or is_tensor:
            if images.ndim == 4 and len(images) > chunk:
                return np.concatenate([self(images[i:i + chunk])
                                       for i in range(0, len(images), chunk)])
        elif isinstance(images, Sequence) and not isinstance(images, str) and len(images) > chunk:
            return np.concatenate([self(images[i:i + chunk]) for i in range(0, len(images), chunk)])
        return self._describe(_to_batch(images, self.size))

    def _describe(self, batch: np.ndarray) -> np.ndarray:
        n, H, W, _ = batch.shape
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        hsv = rgb_to_hsv(batch)
        hb = np.minimum((hsv[..., 0] * self.hue_bins).astype(np.int64), self.hue_bins - 1)
        sb = np.minimum((hsv[..., 1] * self.sat_bins).astype(np.int64), self.sat_bins - 1)
        vb = np.minimum((hsv[..., 2] * self.val_bins).astype(np.int64), self.val_bins - 1)
        stripe = np.minimum(np.arange(H) * self.stripes // H, self.stripes - 1)  # (H,)
        hs_bins = self.hue_bins * self.sat_bins
        per_stripe = hs_bins + self.val_bins
        base = (np.arange(n)[:, None, None] * self.dim
                + stripe[None, :, None] * per_stripe)             # (n, H, 1)
        hs_idx = base + hb * self.sat_bins + sb                    # (n, H, W)
        v_idx = base + hs_bins + vb
        counts = np.bincount(np.concatenate([hs_idx.ravel(), v_idx.ravel()]),
                             minlength=n * self.dim).astype(np.float32)
        feats = counts.reshape(n, self.stripes, per_stripe)
        hs = feats[..., :hs_bins]
        v = feats[..., hs_bins:]
        hs /= np.maximum(hs.sum(-1, keepdims=True), 1.0)
        v /= np.maximum(v.sum(-1, keepdims=True), 1.0)
        return feats.reshape(n, self.dim)


def colour_histogram(images: Any, stripes: int = 6, hue_bins: int = 8, sat_bins: int = 4,
                     val_bins: int = 8, size: tuple[int, int] = (128, 64)) -> np.ndarray:
    """Striped HSV colour histograms of ``images`` (see :class:`ColourHistogram`)."""
    return ColourHistogram(stripes, hue_bins, sat_bins, val_bins, size)(images)


def histogram_distance(query: np.ndarray, gallery: np.ndarray,
                       metric: str = "bhattacharyya") -> np.ndarray:
    """Pairwise distances ``(Q, G)`` between histogram descriptors.

    ``bhattacharyya``: Euclidean distance between square-rooted descriptors (the Hellinger
    form, monotone in the Bhattacharyya coefficient); ``l1``; ``chi2``: the chi-squared
    distance; ``cosine``: one minus cosine similarity.

    Raises:
        ValueError: unknown metric, or descriptors of different lengths.
    """
    if metric not in _METRICS:
        raise ValueError(f"unknown histogram metric {metric!r}; valid metrics: {list(_METRICS)}")
    q = np.asarray(query, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"descriptors must be (Q, D) and (G, D) with equal D, got {q.shape} "
                         f"and {g.shape}")
    if metric == "bhattacharyya":
        qs, gs = np.sqrt(np.maximum(q, 0)), np.sqrt(np.maximum(g, 0))
        d2 = (qs * qs).sum(1)[:, None] + (gs * gs).sum(1)[None, :] - 2.0 * qs @ gs.T
        return np.sqrt(np.maximum(d2, 0.0)).astype(np.float32)
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        return (1.0 - qn @ gn.T).astype(np.float32)
    out = np.empty((q.shape[0], g.shape[0]), dtype=np.float32)
    step = max(1, 2_000_000 // max(1, g.size))
    for i in range(0, q.shape[0], step):
        a = q[i:i + step, None, :]
        if metric == "l1":
            out[i:i + step] = np.abs(a - g[None]).sum(-1)
        else:
            out[i:i + step] = 0.5 * ((a - g[None]) ** 2 / np.maximum(a + g[None], 1e-12)).sum(-1)
    return out
