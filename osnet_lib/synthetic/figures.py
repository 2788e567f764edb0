"""Contact sheets of the synthetic world (matplotlib is imported only when a figure is drawn).

:func:`contact_sheet` shows the same identities (rows) through the cameras of several domains
(columns), rendered in memory: it makes the intra-identity variation across cameras and the style
gap between domains visible at a glance (compare the paper's Fig. 1). :func:`domain_sheet` shows
the images of a generated domain as they are on disk, one identity per row.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from osnet_lib.data.image_dataset import read_image

from .domains import VIEWS, get_domain, list_domains
from .generator import render_image
from .people import PersonSpec, sample_population
from .writer import load_ground_truth, resolve_split

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def contact_sheet(
    people: list[PersonSpec] | None = None,
    domains: list[str] | None = None,
    cameras: int = 3,
    num_ids: int = 6,
    seed: int = 0,
    size: tuple[int, int] = (128, 64),
    cell_inches: float = 0.9,
    *,
    views: "list[str] | None" = None,
    kind: str = "default",
) -> "Figure":
    """A grid of identities (rows) seen by the first ``cameras`` cameras of each domain
    (columns, grouped by domain), rendered with :func:`~osnet_lib.synthetic.render_image`.

    ``people`` defaults to ``num_ids`` identities of the first domain's population of world
    ``kind`` (whole confuser families, in order), so each row shows one person crossing every
    camera and every domain. ``views`` (e.g. ``["front", "back", "side"]``) shows each camera
    once per view, to compare cues that only some views show; by default each image draws its
    view from the camera's mix. Returns the matplotlib Figure with
    ``len(people) * sum(min(cameras, C_d)) * len(views or [None])`` axes.

    Raises:
        ValueError: unknown domain, view or kind, ``cameras`` or ``num_ids`` below 1.
    """
    import matplotlib.pyplot as plt

    names = [get_domain(d).name for d in (domains if domains is not None else list_domains())]
    if not names:
        raise ValueError("domains must name at least one domain")
    if not isinstance(cameras, int) or cameras < 1:
        raise ValueError(f"cameras must be a positive integer, got {cameras!r}")
    if people is None:
        if not isinstance(num_ids, int) or num_ids < 1:
            raise ValueError(f"num_ids must be a positive integer, got {num_ids!r}")
        people = sample_population(names[0], num_ids, np.random.default_rng([seed, 77]),
                                   kind=kind)
    if len(people) == 0:
        raise ValueError("people is empty")
    for view in views or []:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; valid views: {list(VIEWS)}")
    view_choices: list[str | None] = list(views) if views else [None]
    columns = [(d, c, v) for d in names
               for c in range(1, min(cameras, get_domain(d).num_cameras) + 1)
               for v in view_choices]
    fig, axes = plt.subplots(len(people), len(columns), squeeze=False,
                             figsize=(cell_inches * len(columns), 2 * cell_inches * len(people)))
    for i, person in enumerate(people):
        for j, (d, c, v) in enumerate(columns):
            img = render_image(person, d, c, view=v, seed=seed * 1000 + i, world_seed=seed,
                               size=size).image
            ax = axes[i, j]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"{d}\ncam {c}" + (f"\n{v}" if v else ""), fontsize=8)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def domain_sheet(
    domain_dir: "str | Path",
    num_ids: int = 6,
    split: str = "bounding_box_test",
    max_images: int = 8,
    cell_inches: float = 0.9,
) -> "Figure":
    """Images of the first ``num_ids`` identities of one split of a generated domain, read from
    disk (rows: identities; columns: up to ``max_images`` images, sorted by camera).

    Raises:
        FileNotFoundError: the domain or its ground truth is missing.
        ValueError: unknown split, non-positive sizes, or a split without identities.
    """
    import matplotlib.pyplot as plt

    split = resolve_split(split)
    if num_ids < 1 or max_images < 1:
        raise ValueError(f"num_ids and max_images must be >= 1, got {num_ids}, {max_images}")
    recs = [r for r in load_ground_truth(domain_dir, split) if r["kind"] == "identity"]
    pids = sorted({r["pid"] for r in recs})[:num_ids]
    if not pids:
        raise ValueError(f"split {split!r} of {str(domain_dir)!r} has no identities")
    fig, axes = plt.subplots(len(pids), max_images, squeeze=False,
                             figsize=(cell_inches * max_images, 2 * cell_inches * len(pids)))
    for i, pid in enumerate(pids):
        mine = sorted((r for r in recs if r["pid"] == pid), key=lambda r: (r["camid"], r["image"]))
        for j in range(max_images):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.axis("off")
            if j < len(mine):
                ax.imshow(np.asarray(read_image(Path(domain_dir) / mine[j]["image"])))
                ax.set_title(f"{pid:04d} c{mine[j]['camid']}", fontsize=6)
    fig.subplots_adjust(wspace=0.05, hspace=0.3)
    return fig
