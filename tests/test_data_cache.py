"""DecodedImageDataset: each image decoded once, items identical to ImageDataset's."""

import pytest
import torch

from osnet_lib.data import (
    DecodedImageDataset,
    ImageDataset,
    build_transforms,
    read_market1501_layout,
)


@pytest.fixture(scope="module")
def tiny(tiny_market):
    return read_market1501_layout(tiny_market, name="tiny")


def _items(data, seed):
    torch.manual_seed(seed)
    return [data[i] for i in range(len(data))]


@pytest.mark.parametrize("size", [(64, 32), (48, 24)])
def test_items_equal_decoding_every_time_under_the_random_augmentations(tiny, size):
    def transforms():  # fresh ones: RandomPatch keeps a pool of patches
        return build_transforms(*size, augment=("flip", "crop", "random_patch",
                                                "color_jitter", "random_erase"))

    records = tiny.train * 4  # enough images for RandomPatch's pool to start pasting
    cached = DecodedImageDataset(records, *size)
    assert cached.images.shape == (len(records), *size, 3)
    assert cached.images.dtype == torch.uint8
    for k in range(2):  # the training transform, then the test transform
        new = _items(cached.with_transform(transforms()[k]), seed=3)
        old = _items(ImageDataset(records, transforms()[k]), seed=3)
        for a, b in zip(new, old):
            assert torch.equal(a["img"], b["img"])
            assert (a["pid"], a["camid"], a["path"]) == (b["pid"], b["camid"], b["path"])
    assert cached.transform is None  # with_transform shares the pixels, changes nothing
    assert cached.with_transform(transforms()[0]).images is cached.images
    plain = cached[0]["img"]
    assert plain.dtype == torch.float32 and plain.shape == (3, *size) and plain.max() <= 1


def test_bad_input_is_named(tiny, tmp_path):
    with pytest.raises(ValueError, match="height must be a positive int"):
        DecodedImageDataset(tiny.train, 0, 32)
    with pytest.raises(TypeError, match="transform must be callable"):
        DecodedImageDataset(tiny.train, 64, 32).with_transform("flip")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.jpg"):
        DecodedImageDataset([(str(tmp_path / "bad.jpg"), 0, 1)], 64, 32)
