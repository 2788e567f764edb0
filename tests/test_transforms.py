"""Transforms of Sec. 4.1: flip, crop, RandomPatch (footnote 6), erasing, jitter, builder."""

import numpy as np
import pytest
import torch
from PIL import Image

from osnet_lib.data import AUGMENTATIONS, IMAGENET_MEAN, IMAGENET_STD, RandomPatch, build_transforms


def noise_image(w: int = 32, h: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def coordinate_image(w: int = 40, h: int = 80) -> Image.Image:
    """Pixel (x, y) has colour (x, y, 255): any crop of it is recognisable."""
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[..., 0] = np.arange(w)[None, :]
    arr[..., 1] = np.arange(h)[:, None]
    arr[..., 2] = 255
    return Image.fromarray(arr)


def test_output_shape_dtype_and_normalisation() -> None:
    train, test = build_transforms(64, 32, augment=AUGMENTATIONS)
    img = noise_image(50, 120)
    for tf in (train, test):
        out = tf(img)
        assert out.shape == (3, 64, 32) and out.dtype == torch.float32
    mean_colour = tuple(int(round(m * 255)) for m in IMAGENET_MEAN)
    flat = test(Image.new("RGB", (10, 20), mean_colour))
    assert flat.abs().max() < 0.02  # the ImageNet mean maps to 0
    white = test(Image.new("RGB", (10, 20), (255, 255, 255)))
    expected = torch.tensor([(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
    assert torch.allclose(white[:, 0, 0], expected, atol=1e-5)


def test_flip_really_flips() -> None:
    train, test = build_transforms(64, 32, augment=["flip"])
    img = noise_image()
    plain = test(img)
    mirrored = torch.flip(plain, dims=[2])
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        out = train(img)
        if torch.equal(out, mirrored):
            seen.add("flipped")
        elif torch.equal(out, plain):
            seen.add("kept")
        else:
            pytest.fail("the flip transform produced something other than the image or its mirror")
    assert seen == {"flipped", "kept"}


def test_crop_enlarges_then_crops_back() -> None:
    train, test = build_transforms(64, 32, augment=("crop",))
    img = noise_image(32, 64)
    plain = test(img)
    changed = 0
    for seed in range(10):
        torch.manual_seed(seed)
        out = train(img)
        assert out.shape == plain.shape
        changed += not torch.equal(out, plain)
    assert 0 < changed < 10  # applied with probability 0.5


def test_pipeline_is_reproducible_from_the_torch_seed() -> None:
    train, _ = build_transforms(64, 32, augment=AUGMENTATIONS)
    imgs = [noise_image(seed=s) for s in range(150)]  # enough to fill RandomPatch's pool

    def run() -> torch.Tensor:
        tf, _ = build_transforms(64, 32, augment=AUGMENTATIONS)
        torch.manual_seed(7)
        return torch.stack([tf(i) for i in imgs])

    first, second = run(), run()
    assert torch.equal(first, second)
    torch.manual_seed(8)
    assert not torch.equal(first, torch.stack([train(i) for i in imgs]))


def test_random_patch_pastes_a_pool_patch_in_a_rectangle() -> None:
    torch.manual_seed(0)
    rp = RandomPatch(prob_happen=1.0, min_sample_size=5, prob_rotate=0.0, prob_flip_leftright=0.0)
    source = coordinate_image()
    for _ in range(50):  # fill the pool with patches of the coordinate image
        rp(source)
    assert len(rp.patchpool) == 50
    pasted = 0
    for _ in range(20):
        target = Image.new("RGB", source.size, (0, 0, 0))
        out = np.asarray(rp(target)).astype(int)
        changed = np.any(out != 0, axis=2)
        if not changed.any():
            continue  # the patch drawn was one cut from a black target
        pasted += 1
        ys, xs = np.nonzero(changed)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        # the change is exactly a filled rectangle ...
        assert changed.sum() == (y1 - y0) * (x1 - x0)
        # ... holding a contiguous crop of the source image: colour = position + fixed shift
        block = out[y0:y1, x0:x1]
        dx = block[..., 0] - np.arange(x0, x1)[None, :]
        dy = block[..., 1] - np.arange(y0, y1)[:, None]
        assert np.all(dx == dx[0, 0]) and np.all(dy == dy[0, 0]) and np.all(block[..., 2] == 255)
        # and it has the size of a patch in the pool
        assert (x1 - x0, y1 - y0) in {p.size for p in rp.patchpool}
    assert pasted >= 10


def test_random_patch_waits_for_the_pool_and_keeps_the_input() -> None:
    rp = RandomPatch(prob_happen=1.0, min_sample_size=3)
    img = noise_image()
    before = np.asarray(img).copy()
    for _ in range(2):
        assert rp(img) is img  # fewer than min_sample_size patches: unchanged
    out = rp(img)
    assert np.array_equal(np.asarray(img), before)  # the input is never modified in place
    assert out.size == img.size


def test_random_patch_is_deterministic_with_a_generator() -> None:
    def run(seed: int) -> list[np.ndarray]:
        rp = RandomPatch(min_sample_size=2, generator=torch.Generator().manual_seed(seed))
        return [np.asarray(rp(noise_image(seed=s))) for s in range(8)]

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_random_patch_bad_input_and_parameters() -> None:
    with pytest.raises(TypeError, match="PIL images"):
        RandomPatch()(torch.zeros(3, 8, 4))
    with pytest.raises(ValueError, match="prob_happen"):
        RandomPatch(prob_happen=1.5)
    with pytest.raises(ValueError, match="patch_min_area"):
        RandomPatch(patch_min_area=0.6, patch_max_area=0.5)
    with pytest.raises(ValueError, match="min_sample_size"):
        RandomPatch(pool_capacity=10, min_sample_size=20)


def test_random_erase_fills_a_region_with_zero_after_normalisation() -> None:
    train, test = build_transforms(64, 32, augment=["random_erase"])
    img = noise_image()
    plain = test(img)
    erased = 0
    for seed in range(10):
        torch.manual_seed(seed)
        out = train(img)
        diff = (out != plain).any(dim=0)
        if diff.any():
            erased += 1
            assert torch.all(out[:, diff] == 0)
    assert 0 < erased < 10


def test_color_jitter_changes_colours_not_geometry() -> None:
    train, test = build_transforms(64, 32, augment=["color_jitter"])
    img = noise_image()
    torch.manual_seed(0)
    out = train(img)
    assert out.shape == (3, 64, 32) and not torch.equal(out, test(img))


def test_builder_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'; valid names: flip, crop"):
        build_transforms(256, 128, augment=("flip", "mixup"))
    with pytest.raises(ValueError, match="unknown augmentation 'random_flip'"):
        build_transforms(256, 128, augment="random_flip")
    with pytest.raises(ValueError, match="height must be a positive int"):
        build_transforms(0, 128)
    with pytest.raises(ValueError, match="norm_std"):
        build_transforms(256, 128, norm_std=(0.2, 0.0, 0.2))
    train, _ = build_transforms(256, 128, augment="flip")  # a single name as a string
    assert any(type(t).__name__ == "RandomHorizontalFlip" for t in train.transforms)
