"""Calibrating a generated world without a deep network: how far a colour statistic gets.

A world is an instrument only if its difficulty is known before any claim is measured on it
(see ``book/worlds.md``). Two measurements need no training:

- :func:`colour_baseline`: the striped colour-histogram descriptor of
  :mod:`osnet_lib.baselines` (the hand-crafted re-ID of ELF/LOMO, which OSNet's learned
  omni-scale features replace, Sec. 1) on a domain's query and gallery, scored with the standard
  protocol of Sec. 4.1 (:func:`osnet_lib.metrics.evaluate`): rank-1 and mAP.
- :func:`family_colour_separation`: whether a colour statistic can tell the members of a
  confuser family apart. Each test identity is summarised by the mean colour histogram of its
  images; members of a family whose mean histograms are closer to each other than to anyone
  else's, and whom colour ranks first within the family (across cameras) no more often than a
  random ranking does, cannot be separated by colour: what separates them must be shape,
  position or scale. Measured on whole images and on the person's pixels only (the ground
  truth's part masks black out background and occluders).

Distances are the Hellinger form of the Bhattacharyya distance
(:func:`osnet_lib.baselines.histogram_distance`), between 0 (equal) and sqrt(2 * stripes).
"""

from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from osnet_lib.baselines import ColourHistogram, histogram_distance
from osnet_lib.metrics import evaluate

from .people import PART_LABELS
from .writer import load_ground_truth, load_part_masks

__all__ = ["calibrate_world", "colour_baseline", "family_colour_separation"]


#: Part labels that are not the person: what ``person_only`` blacks out.
_NOT_PERSON = (PART_LABELS["background"], PART_LABELS["occluder"])


def _describe(domain_dir: Path, split: str, records: list[dict], person_only: bool) -> np.ndarray:
    """Colour descriptors of a split's images; with ``person_only``, every pixel that the
    part mask does not give to the person (background, occluder) is set to black first."""
    paths = [domain_dir / r["image"] for r in records]
    if not person_only:
        return ColourHistogram()(paths)
    _, masks = load_part_masks(domain_dir, split)
    out = []
    for i in range(0, len(paths), 512):
        images = []
        for path, mask in zip(paths[i:i + 512], masks[i:i + 512]):
            with Image.open(path) as im:
                a = np.asarray(im.convert("RGB")).copy()
            a[np.isin(mask, _NOT_PERSON)] = 0
            images.append(a)
        out.append(ColourHistogram()(np.stack(images)) if images else
                   np.zeros((0, ColourHistogram().dim), np.float32))
    return np.concatenate(out) if out else np.zeros((0, ColourHistogram().dim), np.float32)


def _test_features(domain_dir: Path, person_only: bool = False
                   ) -> tuple[list[dict], list[dict], np.ndarray, np.ndarray]:
    """Query and gallery ground-truth records of a domain and their colour descriptors."""
    query = load_ground_truth(domain_dir, "query")
    gallery = load_ground_truth(domain_dir, "bounding_box_test")
    return (query, gallery, _describe(domain_dir, "query", query, person_only),
            _describe(domain_dir, "bounding_box_test", gallery, person_only))


def colour_baseline(domain_dir: "str | Path") -> dict:
    """Rank-1 and mAP (fractions) of the colour-histogram baseline on one generated domain.

    Queries are the domain's ``query`` images, the gallery its ``bounding_box_test`` images
    (distractors stay as negatives, junk is ignored, same-camera matches are removed: Sec. 4.1).
    Returns ``{"rank1", "mAP", "num_queries", "num_gallery"}``.

    Raises:
        FileNotFoundError: the domain or its ground truth is missing.
    """
    return _baseline(*_test_features(Path(domain_dir)))


def _baseline(query: list[dict], gallery: list[dict], qf: np.ndarray, gf: np.ndarray) -> dict:
    dist = histogram_distance(qf, gf)
    res = evaluate(dist, [r["pid"] for r in query], [r["pid"] for r in gallery],
                   [r["camid"] for r in query], [r["camid"] for r in gallery])
    return {"rank1": round(res.rank1, 4), "mAP": round(float(res.mAP), 4),
            "num_queries": len(query), "num_gallery": len(gallery)}


def family_colour_separation(domain_dir: "str | Path", person_only: bool = False) -> dict:
    """Can the mean colour histogram of an identity tell it from its confuser-family members?

    Over the test identities of one domain (query and gallery images), with ``m_i`` the mean
    colour histogram of identity ``i``'s images and ``d`` the Hellinger distance:

    - ``within_family``: median of ``d(m_i, m_j)`` over pairs of members of one family;
    - ``between``: median of ``d(m_i, m_k)`` over all pairs of identities of different families;
    - ``nearest_outside``: median over family members ``i`` of ``min d(m_i, m_k)`` over
      identities ``k`` outside ``i``'s family;
    - ``closer_within``: the fraction of family members whose farthest family member is nearer
      than every identity outside the family;
    - ``member_rank1``: re-ID restricted to a family, across cameras: for each query of a
      family member, the gallery images of its family's members taken by *other* cameras than
      the query's (so that a camera's background and colour cast favour no one); how often the
      nearest is of the query's identity. ``member_chance``: the same for a random ranking (the
      mean share of true matches among those images). Equal values mean a colour statistic
      cannot tell members apart;
    - ``num_families``, ``num_members``: families of two or more test identities, their members.

    The family values are ``None`` when the domain has no family of two or more test identities.
    With ``person_only`` the histograms see only the person's pixels (the part masks black out
    background and occluders), so that cameras' backgrounds cannot hide a difference in the
    person's colours.

    Raises:
        FileNotFoundError: the domain or its ground truth is missing.
    """
    return _family(*_test_features(Path(domain_dir), person_only))


def _family(query: list[dict], gallery: list[dict], qf: np.ndarray, gf: np.ndarray) -> dict:
    keep = [i for i, r in enumerate(query + gallery) if r["kind"] == "identity"]
    recs = [(query + gallery)[i] for i in keep]
    feats = np.concatenate([qf, gf])[keep]
    rows: dict[int, list[int]] = defaultdict(list)
    family: dict[int, int] = {}
    for i, r in enumerate(recs):
        rows[r["pid"]].append(i)
        family[r["pid"]] = r["family"]
    pids = sorted(rows)
    means = np.stack([feats[rows[p]].mean(0) for p in pids])
    dist = histogram_distance(means, means).astype(np.float64)
    fam = np.array([family[p] for p in pids])
    same = fam[:, None] == fam[None, :]
    np.fill_diagonal(same, False)
    members = np.nonzero(same.any(1))[0]
    out: dict = {"num_families": len(set(fam[members].tolist())),
                 "num_members": len(members)}
    if len(members) == 0:
        out.update(dict.fromkeys(("within_family", "between", "nearest_outside",
                                  "closer_within", "member_rank1", "member_chance")))
        return out
    other = fam[:, None] != fam[None, :]
    outside = np.where(other, dist, np.inf)
    nearest = outside[members].min(1)
    farthest_in = np.where(same, dist, -np.inf)[members].max(1)
    family_of = {p: family[p] for p in pids}
    size_of = {f: int(n) for f, n in zip(*np.unique(fam, return_counts=True))}
    g_pid = np.array([r["pid"] for r in gallery])
    g_cam = np.array([r["camid"] for r in gallery])
    g_fam = np.array([family_of.get(p, -1) if p > 0 else -1 for p in g_pid])
    hits, chance = [], []
    for i, r in enumerate(query):
        f = family_of.get(r["pid"])
        if r["kind"] != "identity" or f is None or size_of[f] < 2:
            continue
        cand = np.nonzero((g_fam == f) & (g_cam != r["camid"]))[0]
        true = g_pid[cand] == r["pid"]
        if not true.any():
            continue
        d = histogram_distance(qf[i:i + 1], gf[cand])[0]
        hits.append(bool(true[int(np.argmin(d))]))
        chance.append(float(true.mean()))
    out.update(
        within_family=round(float(np.median(dist[np.triu(same, 1)])), 4),
        between=round(float(np.median(dist[np.triu(other, 1)])), 4),
        nearest_outside=round(float(np.median(nearest)), 4),
        closer_within=round(float(np.mean(farthest_in < nearest)), 4),
        member_rank1=round(float(np.mean(hits)), 4) if hits else None,
        member_chance=round(float(np.mean(chance)), 4) if hits else None,
    )
    return out


def calibrate_world(root: "str | Path") -> dict:
    """:func:`colour_baseline` and :func:`family_colour_separation` (whole images, and
    ``family_colour_person``: the person's pixels only) for every domain of the world at
    ``root`` (read from its ``world.json``), with the world's recipe summary (``kind``, size
    ``profile``, ``seed``).

    Raises:
        FileNotFoundError: ``root`` has no ``world.json``, or a domain is missing.
    """
    import json

    root = Path(root)
    world_file = root / "world.json"
    if not world_file.is_file():
        raise FileNotFoundError(f"{str(world_file)!r} not found: generate the world first "
                                f"(generate_world or data_scripts/make_synthetic.py)")
    recipe = json.loads(world_file.read_text(encoding="utf-8"))["recipe"]
    out = {"kind": recipe.get("kind", "default"), "profile": recipe["profile"],
           "seed": recipe["seed"], "descriptor": "ColourHistogram() (6 stripes, HSV 8x4+8), "
           "Hellinger distance", "domains": {}}
    for name in recipe["domains"]:
        features = _test_features(root / name)
        out["domains"][name] = {"colour_baseline": _baseline(*features),
                                "family_colour": _family(*features),
                                "family_colour_person": _family(*_test_features(root / name,
                                                                                True))}
    return out
