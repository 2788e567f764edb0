"""Validation at the door: a dataset that cannot make a valid re-ID evaluation (Sec. 4.1) is
refused when it is built, with the rule it breaks named; one that partly can is warned about."""

import csv
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from osnet_lib.data import (
    ImageRecord,
    ProtocolError,
    ReIDDataset,
    build_dataset,
    read_market1501_layout,
)


def _img(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (16, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def _csv(path: Path, rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "identity", "camera", "split"])
        w.writerows(rows)
    return path


def test_one_image_per_camera_still_makes_a_gallery(tmp_path):
    """The issue's instance: each person has one image per camera (3 cameras)."""
    for person in ("ann", "ben", "cat", "dan"):
        for cam in (1, 2, 3):
            _img(tmp_path / person / f"{person}_c{cam}_0.jpg", seed=cam)
    ds = build_dataset("custom_folder", tmp_path, test_fraction=0.5)
    assert ds.gallery and ds.query
    for q in ds.query:  # every query has a gallery image of its identity from another camera
        assert any(g.pid == q.pid and g.camid != q.camid for g in ds.gallery)
    assert len(ds.query) == 2 * 2 and len(ds.gallery) == 2  # 2 test ids, 2 queries each
    assert ds.protocol_problems() == ([], [])


def test_a_distractor_query_in_the_market_layout_is_refused(tmp_path):
    for sub, names in (("bounding_box_train", ["0001_c1s1_000001_00.jpg",
                                                "0001_c2s1_000002_00.jpg"]),
                       ("query", ["0002_c1s1_000003_00.jpg", "0000_c1s1_000004_00.jpg"]),
                       ("bounding_box_test", ["0002_c2s1_000005_00.jpg"])):
        for name in names:
            _img(tmp_path / sub / name)
    with pytest.raises(ProtocolError, match=r"distractor or junk identity.*0000_c1s1"):
        read_market1501_layout(tmp_path)


def test_the_same_file_as_query_and_gallery_is_refused(tmp_path):
    a, b = _img(tmp_path / "a.jpg"), _img(tmp_path / "b.jpg", 1)
    rows = [[a, "x", "1", "query"], [a, "x", "2", "gallery"], [b, "x", "2", "gallery"]]
    with pytest.raises(ProtocolError, match=r"both a query and a gallery image.*a\.jpg"):
        build_dataset("custom_csv", _csv(tmp_path / "d.csv", rows))


def test_no_query_with_a_cross_camera_match_is_refused(tmp_path):
    a, b = _img(tmp_path / "a.jpg"), _img(tmp_path / "b.jpg", 1)
    rows = [[a, "x", "1", "query"], [b, "x", "1", "gallery"]]  # same camera only
    with pytest.raises(ProtocolError, match="no query has a valid match.*another camera"):
        build_dataset("custom_csv", _csv(tmp_path / "d.csv", rows))


def test_some_unmatched_queries_are_a_warning(tmp_path, caplog):
    paths = [_img(tmp_path / f"{i}.jpg", i) for i in range(4)]
    rows = [[paths[0], "x", "1", "query"], [paths[1], "x", "2", "gallery"],
            [paths[2], "y", "1", "query"], [paths[3], "z", "2", "gallery"]]
    with caplog.at_level(logging.WARNING, logger="osnet_lib.data"):
        ds = build_dataset("custom_csv", _csv(tmp_path / "d.csv", rows))
    assert len(ds.query) == 2
    assert "1 of 2 queries have no gallery image of their identity" in caplog.text


def test_protocol_problems_of_a_dataset_built_by_hand():
    q = [ImageRecord("q.jpg", 5, 0), ImageRecord("junk.jpg", -1, 0)]
    g = [ImageRecord("g.jpg", 5, 1)]
    errors, _ = ReIDDataset("hand", [], q, g).protocol_problems()
    assert len(errors) == 1 and "junk.jpg" in errors[0]
    errors, _ = ReIDDataset("hand", [], [], g).protocol_problems()
    assert errors == ["dataset 'hand': the query is empty (a re-ID evaluation needs query and "
                      "gallery images)"]
    assert ReIDDataset("ok", [], q[:1], g).check_protocol().name == "ok"
