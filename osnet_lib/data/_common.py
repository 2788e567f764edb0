"""Helpers shared by the dataset loaders: finding a release's folder, listing images, checking
options, and the json files that hold random splits."""

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .image_dataset import scan_images

logger = logging.getLogger("osnet_lib.data")

NUM_RANDOM_SPLITS = 10
RANDOM_SPLIT_SEED = 0


def as_root(root: str | os.PathLike[str]) -> Path:
    """``root`` as an existing folder.

    Raises:
        TypeError: ``root`` is not a str or path.
        FileNotFoundError: it does not exist.
        NotADirectoryError: it is a file.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"dataset root must be a str or path, got {type(root).__name__}")
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"dataset root '{path}' does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"dataset root '{path}' is a file, expected a folder")
    return path


def find_layout(
    root: str | os.PathLike[str],
    label: str,
    dataset_dirs: Sequence[str],
    release_dirs: Sequence[str],
    required: Sequence[str],
) -> Path:
    """Find the folder under ``root`` that holds every entry of ``required``.

    The candidates tried, in order, are ``root``, ``root/<release>``, ``root/<dataset_dir>`` and
    ``root/<dataset_dir>/<release>``: so ``root`` may be the shared data root, the dataset's own
    folder, or the folder the release archive unpacks to.

    Raises:
        FileNotFoundError: no candidate holds the required entries; the message names the
            candidates and what is missing from the closest one.
    """
    base = as_root(root)
    candidates = [base] + [base / r for r in release_dirs]
    for d in dataset_dirs:
        candidates += [base / d] + [base / d / r for r in release_dirs]
    best: tuple[int, Path, list[str]] | None = None
    for cand in candidates:
        if not cand.is_dir():
            continue
        missing = [name for name in required if not (cand / name).exists()]
        if not missing:
            return cand
        present = len(required) - len(missing)
        if best is None or present > best[0]:
            best = (present, cand, missing)
    tried = ", ".join(f"'{c}'" for c in candidates)
    hint = ""
    if best is not None and best[0] > 0:
        hint = f"; '{best[1]}' lacks {', '.join(best[2])}"
    raise FileNotFoundError(
        f"{label} not found under '{base}': expected {', '.join(required)} in one of {tried}"
        f"{hint}"
    )


def list_images(folder: Path, extensions: Iterable[str] | None = None) -> list[str]:
    """Names of the image files directly inside ``folder``, sorted: those that
    :func:`osnet_lib.data.scan_images` (the one scanner of image folders) finds, optionally
    restricted to ``extensions``.

    Raises:
        NotADirectoryError: ``folder`` is missing or not a folder.
    """
    exts = None if extensions is None else {e.lower() for e in extensions}
    return [p.name for p in scan_images(folder)
            if exts is None or p.suffix.lower() in exts]


def random_id_splits(
    folder: Path,
    dataset: str,
    ids: Sequence[int],
    num_train: int,
) -> list[dict[str, list[int]]]:
    """The ``NUM_RANDOM_SPLITS`` random train/test partitions of ``ids``, read from or saved to
    ``folder/random_splits.json``.

    The partitions are drawn once with ``numpy.random.default_rng(RANDOM_SPLIT_SEED)`` (so a
    fresh copy of the dataset gets the same splits) and saved, as the re-ID literature does for
    VIPeR and CUHK01 ("results are averaged over 10 random splits", Sec. 4.1). An existing
    file is read back and checked against the identities found on disk.

    Raises:
        ValueError: the json file is malformed or describes other identities.
    """
    path = folder / "random_splits.json"
    ids = sorted(int(i) for i in ids)
    if path.exists():
        try:
            data = json.loads(path.read_text())
            splits = [
                {"train": [int(i) for i in s["train"]], "test": [int(i) for i in s["test"]]}
                for s in data["splits"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"split file '{path}' is not a valid split file ({exc}); delete it to "
                "regenerate the splits"
            ) from exc
        for k, s in enumerate(splits):
            if sorted(s["train"] + s["test"]) != ids or set(s["train"]) & set(s["test"]):
                raise ValueError(
                    f"split {k} of '{path}' does not partition the {len(ids)} identities found "
                    f"in the {dataset} folder; delete the file to regenerate the splits"
                )
        return splits

    rng = np.random.default_rng(RANDOM_SPLIT_SEED)
    splits = []
    for _ in range(NUM_RANDOM_SPLITS):
        order = rng.permutation(len(ids))
        train = sorted(ids[i] for i in order[:num_train])
        test = sorted(ids[i] for i in order[num_train:])
        splits.append({"train": train, "test": test})
    payload = {
        "dataset": dataset,
        "seed": RANDOM_SPLIT_SEED,
        "num_ids": len(ids),
        "num_train_ids": num_train,
        "splits": splits,
    }
    try:
        path.write_text(json.dumps(payload))
        logger.info("saved %d random splits of %s to %s", len(splits), dataset, path)
    except OSError as exc:  # read-only copy: the splits are still deterministic
        logger.warning("could not save the %s splits to %s (%s)", dataset, path, exc)
    return splits
