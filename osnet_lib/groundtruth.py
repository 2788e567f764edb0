"""Scoring what a trained network learned against the synthetic world's ground truth.

The paper shows what OSNet learned only as pictures: clusters of images with similar gates
(Fig. 6) and activation maps of two similar people (Fig. 7). The synthetic world knows, for
every image, who is shown, in which view, with which cues, and which pixel belongs to which
part, so the same pictures can be measured over a whole test set:

- :func:`load_annotated` reads the test images of a synthetic domain with their ground-truth
  records and part masks, in the order of the dataset's query and gallery;
- :data:`CUES` says where each identity cue is drawn (its part label and the views that show
  it), :func:`cue_mask` and :func:`part_mask` turn a part-label image into a boolean mask;
- :func:`confuser_pairs` lists the pairs of identities of one confuser family (Fig. 1, Fig. 7's
  Person A and Person B) with the cues that tell them apart, and :func:`telling_cues` the cues
  that tell each identity from the other members of its family.

Taught in the chapters `09_gate_clusters` (Fig. 6) and `10_activation_maps` (Fig. 7); the
measurements themselves are in :mod:`osnet_lib.viz` (:func:`~osnet_lib.viz.mass_inside`,
:func:`~osnet_lib.viz.majority_hits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from osnet_lib.synthetic.domains import VIEWS
from osnet_lib.synthetic.people import PART_LABELS

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from osnet_lib.data.records import ReIDDataset


@dataclass(frozen=True)
class Cue:
    """Where one identity cue of the synthetic world is seen.

    Attributes:
        fields: the attributes of a ground-truth record that hold the cue (two identities differ
            in the cue when any of them differs).
        parts: the part labels (:data:`~osnet_lib.synthetic.PART_LABELS`) it is drawn with.
        views: the views that show it (the chest logo the front, the back print the back).
    """

    fields: tuple[str, ...]
    parts: tuple[str, ...]
    views: tuple[str, ...] = VIEWS


#: The cues in which members of a confuser family differ (``varied_cue`` of the ground truth,
#: :data:`osnet_lib.synthetic.LOCAL_CUES` and the omni world's back print). The chest logo and
#: the back print share the part label ``logo``: the view says which one an image shows.
CUES: Mapping[str, Cue] = MappingProxyType({
    "logo": Cue(("logo_shape", "logo_colour"), ("logo",), ("front",)),
    "back_mark": Cue(("back_mark",), ("logo",), ("back",)),
    "stripe_period": Cue(("stripe_period",), ("torso",)),
    "shoes": Cue(("shoes",), ("shoes",)),
    "glasses": Cue(("glasses",), ("glasses",)),
    "hat": Cue(("hat",), ("hat",)),
})
#: The parts of the head (the face region of Fig. 7, with what covers it).
HEAD_PARTS: tuple[str, ...] = ("head", "hair", "hat", "glasses")


def _check_cues(cues: Iterable[str]) -> tuple[str, ...]:
    if isinstance(cues, str):
        cues = (cues,)
    cues = tuple(cues)
    unknown = [c for c in cues if c not in CUES]
    if unknown:
        raise ValueError(f"unknown cue(s) {unknown}; valid cues: {list(CUES)}")
    return cues


def part_mask(labels: np.ndarray, parts: Iterable[str]) -> np.ndarray:
    """Boolean mask of the pixels of ``labels`` (part labels, any shape, e.g. ``(H, W)`` or
    ``(N, H, W)``) that belong to one of ``parts`` (names of
    :data:`~osnet_lib.synthetic.PART_LABELS`).

    Raises:
        ValueError: an unknown part name.
    """
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    unknown = [p for p in parts if p not in PART_LABELS]
    if unknown:
        raise ValueError(f"unknown part(s) {unknown}; valid parts: {list(PART_LABELS)}")
    return np.isin(np.asarray(labels), [PART_LABELS[p] for p in parts])


def cue_mask(labels: np.ndarray, cues: Iterable[str], view: str) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the pixels of one image (part labels ``(H, W)``, seen in
    ``view``) that show one of ``cues`` (names of :data:`CUES`); empty where the view does
    not show a cue or the cue is hidden.

    Raises:
        ValueError: an unknown cue or view.
    """
    cues = _check_cues(cues)
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; valid views: {list(VIEWS)}")
    parts = {p for c in cues if view in CUES[c].views for p in CUES[c].parts}
    return part_mask(labels, sorted(parts))


def differing_cues(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[str, ...]:
    """The cues of :data:`CUES` in which two identities' ``attributes`` differ, in the order of
    :data:`CUES` (a cue absent from both counts as equal)."""
    return tuple(name for name, cue in CUES.items()
                 if any(a.get(f) != b.get(f) for f in cue.fields))


@dataclass(frozen=True)
class ConfuserPair:
    """Two identities of one confuser family and the cues that tell them apart (Fig. 7's
    Person A and Person B)."""

    family: int
    identities: tuple[int, int]
    cues: tuple[str, ...]


def _identities(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """Identity -> its record's attributes, for the records of identities (no distractors,
    no junk)."""
    people: dict[int, Mapping[str, Any]] = {}
    for r in records:
        if r.get("kind") != "identity" or r.get("attributes") is None:
            continue
        people.setdefault(int(r["identity"]), r["attributes"])
    return people


def confuser_pairs(records: Iterable[Mapping[str, Any]]) -> list[ConfuserPair]:
    """Every pair of identities of one ``family`` among ``records`` (ground-truth records of
    :func:`~osnet_lib.synthetic.load_ground_truth`; distractors and junk are left out), with
    the cues they differ in; sorted by family, then identities. Members of a family share every
    global cue (Sec. 1, Fig. 1), so these cues are all that tells them apart."""
    families: dict[int, list[int]] = {}
    people = _identities(records)
    for pid, attrs in people.items():
        families.setdefault(int(attrs["family"]), []).append(pid)
    pairs = []
    for family in sorted(families):
        for a, b in combinations(sorted(families[family]), 2):
            cues = differing_cues(people[a], people[b])
            if cues:
                pairs.append(ConfuserPair(family, (a, b), cues))
    return pairs


def telling_cues(records: Iterable[Mapping[str, Any]]) -> dict[int, tuple[str, ...]]:
    """For each identity among ``records``, the cues (in the order of :data:`CUES`) in which
    it differs from at least one other member of its family among ``records``: what tells it
    from its confusers. An identity without a confuser gets ``()``."""
    records = list(records)
    told: dict[int, set[str]] = {pid: set() for pid in _identities(records)}
    for pair in confuser_pairs(records):
        for pid in pair.identities:
            told[pid].update(pair.cues)
    return {pid: tuple(c for c in CUES if c in cues) for pid, cues in told.items()}


@dataclass
class AnnotatedImages:
    """Test images of a synthetic domain with their ground truth, in one order.

    Attributes:
        images: ``(N, 3, height, width)`` float tensor, normalised as the network expects.
        records: the images' ground-truth records (:func:`~osnet_lib.synthetic.load_ground_truth`).
        masks: ``(N, H, W)`` uint8 part labels at the world's image size.
    """

    images: torch.Tensor
    records: list[dict[str, Any]]
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.records)

    def attribute(self, name: str) -> np.ndarray:
        """One value per image: a key of the records (``"view"``, ``"family"``) or of their
        ``attributes`` (``"bag"``, ``"upper_colour"``...), as strings (``"None"`` where an
        identity has no such cue).

        Raises:
            ValueError: ``name`` is in neither.
        """
        first = self.records[0] if self.records else {}
        if name in first:
            return np.array([str(r[name]) for r in self.records])
        if name in (first.get("attributes") or {}):
            return np.array([str(r["attributes"].get(name)) for r in self.records])
        known = sorted(set(first) | set(first.get("attributes") or {}))
        raise ValueError(f"{name!r} is neither a record key nor an attribute; known: {known}")


def load_annotated(dataset: ReIDDataset, height: int, width: int,
                   kinds: Sequence[str] = ("identity",)) -> AnnotatedImages:
    """The query and gallery images of ``dataset`` (a synthetic domain, e.g.
    :func:`osnet_lib.experiments.build_domain`'s), resized to ``height x width`` and normalised
    with the test transform of Sec. 4.1, with their ground-truth records and part masks. Only
    images whose record ``kind`` is one of ``kinds`` are kept (by default the identities: no
    distractors, no junk).

    Raises:
        ValueError: the dataset is not a domain of a generated synthetic world, or no image
            is left.
    """
    import torch

    from osnet_lib.data.image_dataset import read_image
    from osnet_lib.data.transforms import build_transforms
    from osnet_lib.synthetic.writer import load_ground_truth, load_part_masks

    records = list(dataset.query) + list(dataset.gallery)
    if not records:
        raise ValueError(f"dataset {dataset.name!r} has no query or gallery images")
    domain_dir = Path(records[0].path).parents[1]
    if not (domain_dir / "ground_truth").is_dir():
        raise ValueError(f"dataset {dataset.name!r} is not a domain of a synthetic world: "
                         f"{domain_dir} has no ground_truth folder")
    truth: dict[str, dict[str, Any]] = {}
    masks_of: dict[str, np.ndarray] = {}
    for split in ("query", "gallery"):
        names, masks = load_part_masks(domain_dir, split)
        index = {n: i for i, n in enumerate(names)}
        for r in load_ground_truth(domain_dir, split):
            truth[r["image"]] = r
            masks_of[r["image"]] = masks[index[r["image"]]]
    _, test = build_transforms(height, width)
    kept, tensors, masks_list = [], [], []
    for rec in records:
        key = Path(rec.path).relative_to(domain_dir).as_posix()
        if key not in truth:
            raise ValueError(f"{rec.path} has no ground-truth record in {domain_dir}")
        if truth[key]["kind"] not in kinds:
            continue
        kept.append(truth[key])
        masks_list.append(masks_of[key])
        tensors.append(test(read_image(rec.path)))
    if not kept:
        raise ValueError(f"no image of kind {list(kinds)} in dataset {dataset.name!r}")
    return AnnotatedImages(torch.stack(tensors), kept, np.stack(masks_list))


__all__ = ["CUES", "HEAD_PARTS", "AnnotatedImages", "ConfuserPair", "Cue", "confuser_pairs",
           "cue_mask", "differing_cues", "load_annotated", "part_mask", "telling_cues"]
