"""Shared fixtures: a tiny Market1501-layout dataset whose identities are learnable, and the
reader of the book's committed chapter records."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_tiny_market(root: Path, num_train: int = 8, num_test: int = 6, per_camera: int = 2,
                      cameras: int = 3, size: tuple[int, int] = (64, 32), seed: int = 0) -> Path:
    """Write ``root/bounding_box_train``, ``query`` and ``bounding_box_test`` with file names
    ``PPPP_cCsS_FFFFFF_NN.jpg``. Each identity is a person-like figure with its own upper and
    lower colours, so a few epochs of training separate them."""
    rng = np.random.default_rng(seed)
    h, w = size
    for sub in ("bounding_box_train", "query", "bounding_box_test"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    def draw(pid: int, cam: int, k: int) -> Image.Image:
        colours = np.random.default_rng(pid).integers(0, 256, size=(2, 3))
        img = rng.integers(0, 60, size=(h, w, 3)).astype(np.uint8)
        img[h // 5: h // 2, w // 4: 3 * w // 4] = colours[0]
        img[h // 2: 9 * h // 10, w // 4: 3 * w // 4] = colours[1]
        img = np.clip(img.astype(int) + rng.integers(-20, 21, size=img.shape) + cam * 5, 0, 255)
        return Image.fromarray(img.astype(np.uint8))

    frame = 0
    for pid in range(1, num_train + num_test + 1):
        for cam in range(1, cameras + 1):
            for k in range(per_camera):
                frame += 1
                name = f"{pid:04d}_c{cam}s1_{frame:06d}_{k:02d}.jpg"
                if pid <= num_train:
                    draw(pid, cam, k).save(root / "bounding_box_train" / name)
                elif cam == 1 and k == 0:
                    draw(pid, cam, k).save(root / "query" / name)
                else:
                    draw(pid, cam, k).save(root / "bounding_box_test" / name)
    # Market1501's quirks: a distractor (0000) and a junk (-1) box in the gallery
    draw(999, 2, 0).save(root / "bounding_box_test" / "0000_c2s1_000001_00.jpg")
    draw(998, 3, 0).save(root / "bounding_box_test" / "-1_c3s1_000002_00.jpg")
    return root


@pytest.fixture(scope="session")
def tiny_market(tmp_path_factory) -> Path:
    return write_tiny_market(tmp_path_factory.mktemp("tiny_market"))


BOOK = Path(__file__).resolve().parents[1] / "book"


def chapter_record(chapter: str, name: str) -> dict:
    """The ``results`` of ``book/results/<chapter>/<name>``, a record a chapter's execution
    wrote; fails the test with the command that writes it when it is missing."""
    path = BOOK / "results" / chapter / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: execute the chapter (python -m osnet_lib.reproduce "
                    f"--profile cpu --chapters {chapter[:2]})")
    data = json.loads(path.read_text())
    assert data["chapter"] == chapter
    return data["results"]
