"""Market1501, DukeMTMC-reID and the synthetic world: datasets in the Market1501 layout.

The layout is three folders of images, ``bounding_box_train`` (training), ``query`` and
``bounding_box_test`` (gallery), whose file names start with ``<pid>_c<camera>``: for example
``0002_c1s1_000451_03.jpg`` (Market1501: person 2, camera 1, sequence 1, frame 451, box 3) or
``0001_c2_f0046182.jpg`` (DukeMTMC-reID). Two identity numbers are special in Market1501:

- ``-1``: "junk" boxes (too little of a person to count); they are dropped from every subset.
- ``0`` (``0000``): "distractor" background boxes in the gallery; they are kept as gallery
  images that match no query (``ReIDDataset.distractor_pids``).

The datasets of Table 2 (Market1501: 1,501 ids, 6 cameras; Duke: 1,812 ids, 8 cameras) and the
synthetic world all go through :func:`read_market1501_layout`.
"""

import dataclasses
import os
import re
from pathlib import Path

from ._common import as_root, find_layout, list_images
from .records import ImageRecord, ReIDDataset, relabel
from .registry import register_dataset

__all__ = ["read_market1501_layout", "market1501", "dukemtmcreid", "synthetic",
           "synthetic_world_dir"]

MARKET_SUBSETS = ("bounding_box_train", "query", "bounding_box_test")
_NAME_RULE = re.compile(r"^(-?\d+)_c(\d+)")
_RULE_TEXT = "'<pid>_c<camera>...' (for example 0002_c1s1_000451_03.jpg)"
JUNK_PID = -1
DISTRACTOR_PID = 0


def _read_subset(folder: Path, max_camera: int | None) -> list[ImageRecord]:
    records = []
    for name in list_images(folder):
        path = os.path.join(folder, name)
        match = _NAME_RULE.match(name)
        if match is None:
            raise ValueError(
                f"file '{path}' does not follow the Market1501 naming rule {_RULE_TEXT}"
            )
        pid, cam = int(match.group(1)), int(match.group(2))
        if pid < JUNK_PID:
            raise ValueError(f"file '{path}': identity {pid} is invalid (must be >= -1)")
        if cam < 1 or (max_camera is not None and cam > max_camera):
            upper = f"..{max_camera}" if max_camera is not None else " or more"
            raise ValueError(f"file '{path}': camera c{cam} is out of range (expected c1{upper})")
        if pid == JUNK_PID:
            continue
        records.append(ImageRecord(path, pid, cam - 1))
    if not records:
        raise ValueError(f"subset folder '{folder}' holds no usable images (empty split)")
    return records


def read_market1501_layout(
    folder: str | os.PathLike[str],
    *,
    name: str = "market1501",
    max_camera: int | None = None,
) -> ReIDDataset:
    """Read a folder in the Market1501 layout (``bounding_box_train``, ``query``,
    ``bounding_box_test``; names ``<pid>_c<camera>...``).

    Junk images (pid -1) are dropped; distractors (pid 0) stay in the gallery and are recorded
    in ``distractor_pids``; a distractor in ``query`` is refused
    (:meth:`~osnet_lib.data.ReIDDataset.check_protocol`). Other entries of ``folder`` (such as
    the synthetic world's ``ground_truth/``) are ignored. Training pids are relabelled to
    ``0..N-1``; camera ``c<k>`` becomes ``camid = k - 1``.

    Args:
        folder: the folder that holds the three subset folders.
        name: the dataset name to record.
        max_camera: largest valid camera number (6 for Market1501, 8 for Duke), or None.

    Raises:
        FileNotFoundError: ``folder`` or one of its subset folders is missing.
        ValueError: a file name breaks the naming rule, a camera is out of range, a subset
            is empty, or query and gallery break the evaluation protocol
            (:class:`~osnet_lib.data.ProtocolError`). The message names the file or folder.
    """
    base = as_root(folder)
    missing = [s for s in MARKET_SUBSETS if not (base / s).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"'{base}' is not in the Market1501 layout: missing folder(s) {', '.join(missing)}"
        )
    train = relabel(_read_subset(base / "bounding_box_train", max_camera))
    query = _read_subset(base / "query", max_camera)
    gallery = _read_subset(base / "bounding_box_test", max_camera)
    distractors = frozenset({DISTRACTOR_PID} & {r.pid for r in gallery + query})
    return ReIDDataset(name, train, query, gallery, distractor_pids=distractors).check_protocol()


#: Folders that may hold Market1501's 500k extra distractors, in the order they are looked for:
#: the name of the released set's folder beside ``bounding_box_test``, and the name torchreid
#: uses.
DISTRACTOR_FOLDERS = ("bounding_box_test_500k", "images")


def _read_distractors(base: Path, max_camera: int | None) -> list[ImageRecord]:
    folder = next((base / d for d in DISTRACTOR_FOLDERS if (base / d).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(
            f"no folder of extra distractors in '{base}': expected "
            f"{' or '.join(repr(d) for d in DISTRACTOR_FOLDERS)} (the Market1501 500k "
            "distractor release, extracted beside bounding_box_test)")
    records = _read_subset(folder, max_camera)
    real = [r for r in records if r.pid != DISTRACTOR_PID]
    if real:
        raise ValueError(
            f"file '{real[0].path}' has identity {real[0].pid}, but '{folder}' must hold only "
            f"distractors (identity 0000) and junk (-1)")
    return records


@register_dataset("market1501")
def market1501(root: str | os.PathLike[str], *, distractors: bool = False) -> ReIDDataset:
    """Market1501 (Zheng et al., ICCV 2015): 1,501 identities, 6 cameras (Table 2).

    ``root`` may be the data root holding ``market1501/Market-1501-v15.09.15/``, any folder on
    that path, or the folder holding ``bounding_box_train``, ``query`` and
    ``bounding_box_test``.

    Args:
        distractors: add the 500k extra distractors of the Market1501+500k release to the
            gallery (dataset name ``market1501+500k``). They are read from
            ``bounding_box_test_500k/`` (or torchreid's ``images/``) beside
            ``bounding_box_test``, with the same naming rule; every image there must be a
            distractor (``0000``) or junk (``-1``, dropped).

    Raises:
        FileNotFoundError: the release, or with ``distractors`` the distractor folder, is
            missing.
        ValueError: a file breaks the naming rule, or the distractor folder holds an image of
            a real identity.
    """
    if not isinstance(distractors, bool):
        raise TypeError(f"distractors must be True or False, got {distractors!r}")
    folder = find_layout(
        root, "Market1501", ("market1501",), ("Market-1501-v15.09.15",), MARKET_SUBSETS
    )
    ds = read_market1501_layout(folder, name="market1501", max_camera=6)
    if not distractors:
        return ds
    extra = _read_distractors(as_root(folder), max_camera=6)
    return dataclasses.replace(ds, name="market1501+500k", gallery=ds.gallery + extra,
                               distractor_pids=ds.distractor_pids | {DISTRACTOR_PID})


@register_dataset("dukemtmcreid")
def dukemtmcreid(root: str | os.PathLike[str]) -> ReIDDataset:
    """DukeMTMC-reID (Ristani et al. 2016; Zheng et al. 2017): 1,812 identities, 8 cameras.

    Note:
        The DukeMTMC data were withdrawn by their creators in 2019 and are no longer
        distributed. This loader only reads a copy that the user already has; nothing here
        downloads it. The paper (Tables 3, 7-11) still reports results on it.

    ``root`` may be the data root holding ``dukemtmc-reid/DukeMTMC-reID/``, any folder on that
    path, or the folder holding ``bounding_box_train``, ``query`` and ``bounding_box_test``
    (names such as ``0001_c2_f0046182.jpg``). The 408 gallery-only identities are ordinary
    gallery identities that no query matches.
    """
    folder = find_layout(
        root, "DukeMTMC-reID", ("dukemtmc-reid", "dukemtmcreid"), ("DukeMTMC-reID",),
        MARKET_SUBSETS,
    )
    return read_market1501_layout(folder, name="dukemtmcreid", max_camera=8)


def _synthetic_domains(base: Path) -> list[str]:
    return sorted(
        p.name for p in base.iterdir() if p.is_dir() and (p / "bounding_box_train").is_dir()
    )


def synthetic_world_dir(root: str | os.PathLike[str], world: str, kind: str = "default") -> Path:
    """The folder of the synthetic world of size ``world`` and ``kind`` under a data root:
    ``<root>/synthetic-<world>`` for the default kind, ``<root>/synthetic-<world>-<kind>``
    otherwise (named by :func:`osnet_lib.synthetic.world_folder_name`).

    Raises:
        ValueError: ``world`` is not a size of :data:`osnet_lib.synthetic.WORLD_SIZES`, or an
            unknown ``kind``.
    """
    from osnet_lib.synthetic import WORLD_SIZES, world_folder_name

    if world not in WORLD_SIZES:
        raise ValueError(f"unknown synthetic world {world!r}; expected one of "
                         f"{sorted(WORLD_SIZES)}")
    return Path(root).expanduser() / world_folder_name(world, kind)


@register_dataset("synthetic")
def synthetic(root: str | os.PathLike[str], *, world: str | None = None, kind: str = "default",
              domain: str = "market") -> ReIDDataset:
    """One domain of the synthetic re-ID world, read from ``<root>/<domain>/``, or from the
    world's folder under ``root`` (:func:`synthetic_world_dir`) when ``world`` (``"quick"`` or
    ``"cpu"``, a size of :data:`osnet_lib.synthetic.WORLD_SIZES`; a profile's is
    ``get_profile(profile).world``) is given, with its ``kind`` (``default``, ``omni``,
    ``control``).

    The world is written in the Market1501 layout (plus a ``ground_truth/`` folder that is
    ignored here), so it flows through :func:`read_market1501_layout` exactly as real data.

    Raises:
        ValueError: an unknown ``world``.
        FileNotFoundError: the folder is missing; the message lists the domains found.
    """
    if world is not None:
        world_dir = synthetic_world_dir(as_root(root), world, kind)
        if not world_dir.is_dir():
            raise FileNotFoundError(
                f"synthetic world '{world}' ({kind}) not found: no folder '{world_dir}'; generate "
                f"it with `python data_scripts/make_synthetic.py --root {world_dir} --profile "
                f"{world} --kind {kind}`")
        root = world_dir
    elif kind != "default":
        raise ValueError(f"kind={kind!r} needs world= (the world's size) to find its folder")
    base = as_root(root)
    if not isinstance(domain, str) or not domain:
        raise TypeError(f"domain must be a non-empty str, got {domain!r}")
    folder = base / domain
    if not folder.is_dir():
        found = _synthetic_domains(base)
        worlds = sorted(str(p) for p in base.iterdir() if p.is_dir() and _synthetic_domains(p))
        hint = (f"; worlds found inside it: {', '.join(worlds)} (pass one of them as the root)"
                if worlds and not found else "")
        raise FileNotFoundError(
            f"synthetic domain '{domain}' not found under '{base}'; domains found: "
            f"{', '.join(found) if found else '(none)'}{hint}"
        )
    return read_market1501_layout(folder, name=f"synthetic-{domain}")
