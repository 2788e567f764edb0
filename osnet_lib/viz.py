"""What the network looks at and how it mixes scales: Fig. 6, Fig. 7, and ranked lists.

- Fig. 7 (activation maps): the sum of the absolute values of the last feature maps over the
  channels, followed by a spatial l2 normalisation (Sec. 4.1, "Visualisation of Learned
  Features", after Zagoruyko and Komodakis). :func:`activation_maps`, :func:`mass_inside` (how
  much of a map falls inside a ground-truth part mask, which the synthetic world provides) and
  :func:`plot_activation_maps`.
- Fig. 6 (gate clusters): the gating vectors of the four streams of the last bottleneck
  (``conv4.1``), concatenated, clustered with k-means; the images nearest each centre are shown.
  :func:`gate_descriptors`, :func:`cluster_gates`, :func:`cluster_purity` (and its per-image
  indicator :func:`majority_hits`), :func:`plot_gate_clusters`.
- Baselines for both: :func:`embed_images` (the 512-d embeddings, clustered the same way) and
  :func:`untrained_like` (the same network before training).
- Ranked lists: a query and its top-k gallery images with true and false matches marked
  (:func:`plot_ranked_list`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional as F

from osnet_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from osnet_lib.utils import check_positive_int, eval_mode

if TYPE_CHECKING:  # pragma: no cover
    from osnet_lib.models import OSNet


def denormalize(images: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """Undo the input normalisation: ``(N, 3, H, W)`` tensor -> ``(N, H, W, 3)`` floats in
    [0, 1]."""
    if images.dim() == 3:
        images = images[None]
    m = torch.tensor(mean, dtype=images.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype).view(1, 3, 1, 1)
    return (images.detach().cpu() * s + m).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def _in_batches(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                batch_size: int) -> torch.Tensor:
    """``fn`` applied to ``images`` ``batch_size`` at a time, the results concatenated."""
    batch_size = check_positive_int("batch_size", batch_size)
    return torch.cat([fn(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def activation_maps(model: "OSNet", images: torch.Tensor, upsample: bool = True,
                    size: Sequence[int] | None = None, batch_size: int = 256) -> torch.Tensor:
    """Fig. 7's activation maps of a batch ``(N, 3, H, W)``: ``sum_c |F_c|`` over the last
    feature maps, l2-normalised over the spatial positions of each image.

    Returns ``(N, H, W)`` (bilinearly up-sampled to the image size, or to ``size`` =
    ``(height, width)`` when given, e.g. the size of a ground-truth mask) or ``(N, h, w)`` at
    the feature-map size with ``upsample=False``. Each map has unit l2 norm at feature-map
    size. Runs in eval mode without autograd (:func:`osnet_lib.utils.eval_mode`),
    ``batch_size`` images at a time, and restores the model's mode: an image's map does not
    depend on the rest of the batch.
    """
    with eval_mode(model):
        maps = _in_batches(lambda x: model.forward_features(x).abs().sum(dim=1), images,
                           batch_size)
    maps = maps / maps.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    if upsample:
        target = tuple(size) if size is not None else tuple(images.shape[-2:])
        maps = F.interpolate(maps[:, None], size=target, mode="bilinear",
                             align_corners=False)[:, 0]
    return maps


def mass_inside(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> np.ndarray:
    """Fraction of each activation map's total mass that falls inside a binary mask (e.g. the
    logo or head part mask of a synthetic image): ``sum(map * mask) / sum(map)`` per image.
    Compare it with the mask's area fraction, which is what a uniform map would give."""
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must have the same shape")
    total = maps.reshape(len(maps), -1).sum(1)
    inside = (maps * masks).reshape(len(maps), -1).sum(1)
    return inside / np.maximum(total, 1e-12)


def overlay(image: np.ndarray, amap: np.ndarray, alpha: float = 0.5,
            cmap: str = "jet") -> np.ndarray:
    """An image ``(H, W, 3)`` in [0, 1] blended with a colour-mapped activation map ``(H, W)``."""
    import matplotlib

    a = np.asarray(amap, dtype=np.float64)
    a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
    heat = matplotlib.colormaps[cmap](a)[..., :3]
    return np.clip((1 - alpha) * np.asarray(image) + alpha * heat, 0, 1)


def plot_activation_maps(images: torch.Tensor, maps: Mapping[str, torch.Tensor],
                         titles: Sequence[str] | None = None, per_row: int = 1,
                         fontsize: float = 8):
    """Fig. 7 layout: each image, then its map under each named model (the maps at the
    images' size); ``per_row`` such groups side by side (Fig. 7 shows Person A and Person B in
    one row with ``per_row=2``).

    Raises:
        ValueError: ``titles`` or a model's maps do not match the images in number.
    """
    import matplotlib.pyplot as plt

    per_row = check_positive_int("per_row", per_row)
    pics = denormalize(images)
    n, group = len(pics), 1 + len(maps)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    for name, m in maps.items():
        if len(m) != n:
            raise ValueError(f"{len(m)} maps of {name!r} for {n} images")
    rows = -(-n // per_row)
    fig, axes = plt.subplots(rows, group * per_row, figsize=(1.3 * group * per_row, 2.4 * rows),
                             squeeze=False)
    for i in range(n):
        r, c0 = divmod(i, per_row)
        c0 *= group
        axes[r, c0].imshow(pics[i])
        axes[r, c0].set_title(titles[i] if titles else "image", fontsize=fontsize)
        for j, (name, m) in enumerate(maps.items(), start=1):
            axes[r, c0 + j].imshow(overlay(pics[i], m[i].cpu().numpy()))
            axes[r, c0 + j].set_title(name, fontsize=fontsize)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def gate_descriptors(model: "OSNet", images: torch.Tensor, block: str = "conv4.1",
                     batch_size: int = 256) -> np.ndarray:
    """Fig. 6's representation of each image: the gating vectors ``G(x^t)`` of the T streams of
    ``block`` concatenated, ``(N, T * C)``. Runs in eval mode without autograd and restores
    the model's mode (:meth:`osnet_lib.models.OSNet.gate_vectors`)."""
    with eval_mode(model):
        gates = _in_batches(lambda x: model.gate_vectors(x, [block])[block].flatten(1), images,
                            batch_size)
    return gates.cpu().numpy()


def embed_images(model: "OSNet", images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The fc embeddings used for matching (Sec. 4.1), ``(N, 512)``, of a batch of images
    ``(N, 3, H, W)``, ``batch_size`` at a time, in eval mode without autograd."""
    with eval_mode(model):
        return _in_batches(model.embed, images, batch_size).cpu().numpy()


def untrained_like(model: "OSNet", seed: int) -> "OSNet":
    """A freshly initialised network of ``model``'s architecture (width, block options,
    genotype, embedding width; no classifier), in eval mode, its weights drawn with ``seed``
    (the global random state is left as it was): the baseline that tells what a measurement of
    a trained network owes to training.

    Raises:
        TypeError: ``seed`` is not an integer.
    """
    from osnet_lib.models import OSNet

    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = OSNet(0, model.width_mult, model.block_options, model.genotype,
                    model.feature_dim)
    return net.eval()


@dataclass
class GateClusters:
    labels: np.ndarray  # (N,) cluster of each image
    centres: np.ndarray  # (k, D)
    nearest: list[np.ndarray]  # per cluster, image indices sorted by distance to the centre


def cluster_gates(descriptors: np.ndarray, k: int = 4, top: int = 15,
                  seed: int = 0) -> GateClusters:
    """k-means on gate descriptors; for each cluster the ``top`` images nearest its centre."""
    from sklearn.cluster import KMeans

    descriptors = np.asarray(descriptors)
    if descriptors.ndim != 2 or len(descriptors) < k:
        raise ValueError(f"need at least k={k} descriptors of shape (N, D), got "
                         f"{descriptors.shape}")
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(descriptors)
    nearest = []
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        d = np.linalg.norm(descriptors[members] - km.cluster_centers_[c], axis=1)
        nearest.append(members[np.argsort(d, kind="stable")][:top])
    return GateClusters(km.labels_, km.cluster_centers_, nearest)


def majority_hits(labels: np.ndarray, attribute: Sequence | np.ndarray) -> np.ndarray:
    """Per image, whether its ground-truth attribute value is the most common one of its
    cluster: ``(N,)`` bools whose mean is :func:`cluster_purity`. A tie for the most common
    value goes to the smallest value, so the indicator is deterministic.

    Raises:
        ValueError: ``labels`` and ``attribute`` are not two 1-D sequences of one length.
    """
    labels = np.asarray(labels)
    values = np.asarray(attribute)
    if labels.ndim != 1 or labels.shape != values.shape:
        raise ValueError(f"labels {labels.shape} and attribute {values.shape} differ in shape "
                         "(both must be 1-D, of one length)")
    hits = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = labels == c
        kinds, counts = np.unique(values[members], return_counts=True)
        hits[members] = values[members] == kinds[np.argmax(counts)]
    return hits


def cluster_purity(labels: np.ndarray, attribute: Sequence | np.ndarray) -> float:
    """Purity of a clustering with respect to a ground-truth attribute: the fraction of images
    whose attribute value is the most common one of their cluster (1.0 = every cluster is
    homogeneous; the frequency of the most common value = no better than one cluster)."""
    return float(majority_hits(labels, attribute).mean())


def plot_gate_clusters(images: torch.Tensor, clusters: GateClusters, per_row: int = 8,
                       captions: Sequence[str] | None = None, fontsize: float = 9):
    """Fig. 6 layout: one row per cluster with the images nearest its centre, each row under
    its caption (default ``cluster <c>``), which may be as wide as the row."""
    import matplotlib.pyplot as plt

    pics = denormalize(images)
    k = len(clusters.nearest)
    if captions is not None and len(captions) != k:
        raise ValueError(f"{len(captions)} captions for {k} clusters")
    row = 2.0  # inches per row: the images and the caption above them
    fig, axes = plt.subplots(k, per_row, figsize=(0.9 * per_row, row * k), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.3 / (row * k),
                        wspace=0.05, hspace=0.3 / (row - 0.3))
    for c, idx in enumerate(clusters.nearest):
        for j in range(per_row):
            ax = axes[c, j]
            ax.axis("off")
            if j < len(idx):
                ax.imshow(pics[idx[j]])
        box = axes[c, 0].get_position()
        fig.text(box.x0, box.y1 + 0.04 / (row * k), captions[c] if captions else f"cluster {c}",
                 fontsize=fontsize, ha="left", va="bottom")
    return fig


def plot_ranked_list(query: torch.Tensor, gallery: torch.Tensor, matches: Sequence[bool],
                     distances: Sequence[float] | None = None, title: str = "query"):
    """A query image and its ranked gallery images; true matches framed green, false red."""
    import matplotlib.pyplot as plt

    pics = denormalize(torch.cat([query[None] if query.dim() == 3 else query, gallery]))
    k = len(gallery)
    if len(matches) != k:
        raise ValueError(f"{k} gallery images but {len(matches)} match flags")
    # sized so that a book's column shows it near its own scale (labels stay over 9 px)
    fig, axes = plt.subplots(1, k + 1, figsize=(0.9 * (k + 1), 2.3), squeeze=False)
    axes = axes[0]
    axes[0].imshow(pics[0])
    axes[0].set_title(title, fontsize=8)
    for j in range(k):
        ax = axes[j + 1]
        ax.imshow(pics[j + 1])
        colour = "tab:green" if matches[j] else "tab:red"
        for side in ax.spines.values():
            side.set_edgecolor(colour)
            side.set_linewidth(3)
        label = f"{j + 1}" + (f"\n{distances[j]:.2f}" if distances is not None else "")
        ax.set_title(label, fontsize=8, color=colour)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].axis("off")
    fig.tight_layout()
    return fig


__all__ = [
    "GateClusters", "activation_maps", "cluster_gates", "cluster_purity", "denormalize",
    "embed_images", "gate_descriptors", "majority_hits", "mass_inside", "overlay",
    "plot_activation_maps", "plot_gate_clusters", "plot_ranked_list", "untrained_like",
]
