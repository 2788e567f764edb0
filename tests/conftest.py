"""Shared fixtures: a tiny Market1501-layout dataset whose identities are learnable, the
reader of the book's committed chapter records, and the block variants that every test of a
block's pieces sweeps."""

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


def _block_variants() -> dict[str, dict]:
    from osnet_lib.paper import TABLE5

    variants = {f"table5-{number}": row[-1] for number, row in TABLE5.items()}
    variants.update({
        "lite_dw_pw": {"conv": "lite_dw_pw"},
        "same_depth-2": {"same_depth": 2, "T": 3},
        "separate-stream-wise": {"gate_sharing": "separate", "gate_granularity": "stream"},
        "T2-concat": {"T": 2, "fusion": "concat"},
        "T1-static": {"T": 1, "fusion": "static"},
        "gate_reduction-4": {"gate_reduction": 4},
        "bottleneck_reduction-2": {"bottleneck_reduction": 2, "T": 2},
    })
    return variants


#: BlockOptions keyword sets: every model of Table 5 (T=1..4, full conv, same depth,
#: concatenation, addition, separate and stream-wise gates, learned-and-fixed gates) and the
#: remaining options and combinations; tests/test_blocks.py checks that every option of
#: BlockOptions, and every value of each choice, appears here.
BLOCK_VARIANTS: dict[str, dict] = _block_variants()


def randomise_norms(module, seed: int = 0):
    """Give every BatchNorm, affine InstanceNorm and learned-and-fixed gate of ``module``
    random parameters (and BatchNorm random running statistics), so that two computations
    that differ in any normalisation or gate give different outputs. Returns ``module``."""
    import torch
    from torch import nn

    from osnet_lib.layers import StaticGate

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)):
                if m.weight is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g))
                if m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            elif isinstance(m, StaticGate):
                m.logits.copy_(torch.randn(m.logits.shape, generator=g))
    return module


def tree_hash(root: Path) -> str:
    """A hash of every file below ``root``, names and bytes: equal trees, equal hashes."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
