"""One image reader (every mode Pillow opens read faithfully as 8-bit RGB, or refused by name)
and one scanner of image folders, shared by the loaders, the command line and the baseline."""

import numpy as np
import pytest
from PIL import Image

from osnet_lib.__main__ import _image_list
from osnet_lib.baselines import colour_histogram
from osnet_lib.data import read_image, scan_images, to_rgb
from osnet_lib.data._common import list_images


def _ramp() -> np.ndarray:
    """A 16-bit greyscale ramp over the whole range (mean 32767.5)."""
    return np.linspace(0, 65535, 64 * 32).reshape(64, 32).astype(np.uint16)


def test_a_16_bit_greyscale_png_is_read_as_it_looks(tmp_path):
    ramp = _ramp()
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    eight = np.round(ramp / 257).astype(np.uint8)
    Image.fromarray(eight).save(tmp_path / "g8.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I")  # what Pillow opens a 16-bit PNG as
    a = np.asarray(read_image(tmp_path / "g16.png"), dtype=np.float64)
    b = np.asarray(read_image(tmp_path / "g8.png"), dtype=np.float64)
    assert a.shape == (64, 32, 3) and abs(a.mean() - 127.5) < 1
    np.testing.assert_array_equal(a, b)
    # the colour baseline reads through the same reader
    np.testing.assert_allclose(colour_histogram(str(tmp_path / "g16.png")),
                               colour_histogram(str(tmp_path / "g8.png")))


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGBA", "LA", "CMYK", "YCbCr"])
def test_eight_bit_modes_convert_like_pillow(mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 4, 3), dtype=np.uint8))
    img = rgb.convert(mode)
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (4, 8)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.convert("RGB")))


def test_modes_without_a_faithful_reading_are_refused_by_name(tmp_path):
    Image.fromarray(np.random.rand(8, 4).astype(np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match=r"f\.tif'.*mode 'F'"):
        read_image(tmp_path / "f.tif")
    big = Image.fromarray(np.full((4, 4), 70000, dtype=np.int32), mode="I")
    with pytest.raises(ValueError, match="outside the 16-bit range"):
        to_rgb(big, "mine")


def test_an_oversized_image_names_the_file(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 > 2x the limit: a "bomb"
    with pytest.raises(ValueError, match=r"huge\.png' is too large to decode safely"):
        read_image(tmp_path / "huge.png")


def test_one_scanner_for_the_loaders_and_the_command_line(tmp_path):
    for name in ("b.JPG", "a.png", "._a.png", ".hidden.jpg", "notes.txt", "Thumbs.db"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "dir.jpg").mkdir()  # a folder with an image's name
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.bmp").write_bytes(b"x")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "d.jpg").write_bytes(b"x")
    assert [p.name for p in scan_images(tmp_path)] == ["a.png", "b.JPG"]
    assert list_images(tmp_path) == ["a.png", "b.JPG"]
    assert [p.name for p in scan_images(tmp_path, recursive=True)] == ["a.png", "b.JPG", "c.bmp"]
    assert _image_list(str(tmp_path)) == [str(p) for p in scan_images(tmp_path, recursive=True)]
    with pytest.raises(NotADirectoryError):
        scan_images(tmp_path / "a.png")


def test_a_list_file_is_relative_to_its_folder_and_checked(tmp_path):
    Image.new("RGB", (8, 16)).save(tmp_path / "x.png")
    (tmp_path / "list.txt").write_text("x.png\n\n")
    assert _image_list(str(tmp_path / "list.txt")) == [str(tmp_path / "x.png")]
    (tmp_path / "bad.txt").write_text("x.png\ny.png\n")
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\) listed in .*bad\.txt"):
        _image_list(str(tmp_path / "bad.txt"))
