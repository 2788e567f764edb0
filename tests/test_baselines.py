"""The colour-histogram baseline: descriptor layout, input types, distances and errors."""

import colorsys

import numpy as np
import pytest
import torch
from PIL import Image

from osnet_lib.baselines import ColourHistogram, colour_histogram, histogram_distance, rgb_to_hsv
from osnet_lib.synthetic import render_person, sample_population


def two_tone(top, bottom, size=(128, 64)) -> np.ndarray:
    img = np.zeros((*size, 3), dtype=np.uint8)
    img[: size[0] // 2] = top
    img[size[0] // 2:] = bottom
    return img


def test_rgb_to_hsv_matches_colorsys():
    rgb = np.random.default_rng(0).random((200, 3)).astype(np.float32)
    ours = rgb_to_hsv(rgb)
    ref = np.array([colorsys.rgb_to_hsv(*c) for c in rgb])
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_descriptor_layout_and_l1_normalisation():
    ch = ColourHistogram(stripes=4, hue_bins=6, sat_bins=3, val_bins=5)
    assert ch.dim == 4 * (6 * 3 + 5)
    imgs = np.random.default_rng(1).integers(0, 256, (3, 128, 64, 3), dtype=np.uint8)
    f = ch(imgs)
    assert f.shape == (3, ch.dim) and f.dtype == np.float32
    per = f.reshape(3, 4, 6 * 3 + 5)
    np.testing.assert_allclose(per[..., :18].sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(per[..., 18:].sum(-1), 1.0, rtol=1e-5)


def test_pure_colours_land_in_the_right_bins_and_stripes():
    ch = ColourHistogram(stripes=2, hue_bins=6, sat_bins=2, val_bins=4)
    f = ch(two_tone((255, 0, 0), (0, 0, 255)))[0].reshape(2, 6 * 2 + 4)
    # red: hue bin 0, saturation bin 1 (full) -> index 0 * 2 + 1; blue: hue 2/3 -> bin 4
    assert f[0, 1] == pytest.approx(1.0) and f[1, 4 * 2 + 1] == pytest.approx(1.0)
    assert f[0, 12 + 3] == pytest.approx(1.0) and f[1, 12 + 3] == pytest.approx(1.0)  # bright
    swapped = ch(two_tone((0, 0, 255), (255, 0, 0)))[0]
    assert not np.allclose(swapped, f.ravel())  # the vertical layout matters


def test_horizontal_flip_invariance_and_input_types(tmp_path):
    rng = np.random.default_rng(2)
    arr = rng.integers(0, 256, (2, 128, 64, 3), dtype=np.uint8)
    ch = ColourHistogram()
    ref = ch(arr)
    np.testing.assert_allclose(ch(arr[:, :, ::-1]), ref, atol=1e-6)
    tensor = torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255
    np.testing.assert_allclose(ch(tensor), ref, atol=1e-6)
    np.testing.assert_allclose(ch(tensor[0]), ref[:1], atol=1e-6)
    np.testing.assert_allclose(ch(arr.astype(np.float32) / 255), ref, atol=1e-6)
    pil = [Image.fromarray(a) for a in arr]
    np.testing.assert_allclose(ch(pil), ref, atol=1e-6)
    paths = []
    for i, im in enumerate(pil):
        p = tmp_path / f"{i}.png"
        im.save(p)
        paths.append(p)
    np.testing.assert_allclose(ch(paths), ref, atol=1e-6)
    np.testing.assert_allclose(ch(str(paths[1])), ref[1:], atol=1e-6)
    # other sizes are resized to the descriptor's size
    big = np.repeat(np.repeat(arr[0], 2, axis=0), 2, axis=1)
    assert ch(big).shape == (1, ch.dim)
    assert ch([]).shape == (0, ch.dim)
    np.testing.assert_allclose(colour_histogram(arr), ref)


def test_distances_match_their_definitions():
    rng = np.random.default_rng(3)
    q = rng.random((4, 10))
    g = rng.random((5, 10))
    q /= q.sum(1, keepdims=True)
    g /= g.sum(1, keepdims=True)
    ref = {
        "bhattacharyya": np.sqrt(((np.sqrt(q)[:, None] - np.sqrt(g)[None]) ** 2).sum(-1)),
        "l1": np.abs(q[:, None] - g[None]).sum(-1),
        "chi2": 0.5 * ((q[:, None] - g[None]) ** 2 / (q[:, None] + g[None])).sum(-1),
        "cosine": 1 - (q @ g.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(g, axis=1)),
    }
    for metric, expected in ref.items():
        np.testing.assert_allclose(histogram_distance(q, g, metric), expected, rtol=1e-4, atol=1e-6)
    d = histogram_distance(q, q)
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-3)


def test_same_person_is_closer_than_a_differently_dressed_one():
    people = sample_population("market", 60, np.random.default_rng(4))
    a = people[0]
    b = next(p for p in people
             if p.upper_colour != a.upper_colour and p.lower_colour != a.lower_colour)
    ch = ColourHistogram()
    fa1 = ch(render_person(a, "front", (128, 64))[0])
    fa2 = ch(render_person(a, "back", (128, 64), swing=0.5)[0])
    fb = ch(render_person(b, "front", (128, 64))[0])
    assert histogram_distance(fa1, fa2)[0, 0] < histogram_distance(fa1, fb)[0, 0]


def test_bad_inputs_raise_clear_errors(tmp_path):
    ch = ColourHistogram()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ch(torch.randn(2, 3, 128, 64) * 3)  # mean/std normalised tensors
    with pytest.raises(ValueError, match="must be \\(N, 3, H, W\\)"):
        ch(torch.rand(2, 1, 128, 64))
    with pytest.raises(ValueError, match="must be \\(N, H, W, 3\\)"):
        ch(np.zeros((128, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ch(np.full((128, 64, 3), 200.0, dtype=np.float32))
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        ch(tmp_path / "missing.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot read image.*broken.jpg"):
        ch([broken])
    with pytest.raises(TypeError, match="int"):
        ch(42)
    with pytest.raises(TypeError, match="dict"):
        ch([{"x": 1}])
    for bad in (dict(stripes=0), dict(hue_bins=-1), dict(val_bins=2.5), dict(size=(3, 64)),
                dict(size="large")):
        with pytest.raises(ValueError):
            ColourHistogram(**bad)
    with pytest.raises(ValueError, match="unknown histogram metric 'emd'"):
        histogram_distance(np.ones((1, 4)), np.ones((1, 4)), "emd")
    with pytest.raises(ValueError, match="equal D"):
        histogram_distance(np.ones((1, 4)), np.ones((1, 5)))


def test_large_batches_are_described_in_chunks_with_the_same_result():
    arr = np.random.default_rng(5).integers(0, 256, (300, 32, 16, 3), dtype=np.uint8)
    ch = ColourHistogram(size=(32, 16))
    whole = ch(arr)
    assert whole.shape == (300, ch.dim)
    np.testing.assert_allclose(whole[290:], ch(arr[290:]), atol=1e-6)
    np.testing.assert_allclose(ch(list(arr)), whole, atol=1e-6)
