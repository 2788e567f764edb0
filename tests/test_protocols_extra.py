"""Protocols users ask for: CUHK03's classic 1,367/100 protocol (20 splits read from
``cuhk-03.mat``) and Market1501 with its 500k extra distractors."""

from pathlib import Path

import numpy as np
import pytest
from test_datasets import CUHK03_PAIRS, make_market_tree, write_cuhk03_mat, write_image

from osnet_lib.data import build_dataset, convert_cuhk03, dataset_options

# the classic test sets of the small file: (pair, person), 1-based, as cuhk-03.mat holds them
CLASSIC = [[(1, 2), (2, 1)], [(1, 1), (2, 2)], [(1, 3), (2, 2)]]


def write_classic_mat(path: Path) -> None:
    """The test's cuhk-03.mat plus ``testsets``: a 1 x S cell of (2, n) arrays, stored
    transposed as MATLAB v7.3 does (one array per split, read back as (n, 2))."""
    h5py = pytest.importorskip("h5py")
    write_cuhk03_mat(path)
    with h5py.File(path, "a") as f:
        refs = []
        for k, ids in enumerate(CLASSIC):
            data = np.array(ids, dtype=np.float64).T  # (2, n)
            refs.append(f["#refs#"].create_dataset(f"t{k}", data=data).ref)
        f.create_dataset("testsets", data=np.array([refs], dtype=h5py.ref_dtype))


@pytest.fixture(scope="module")
def classic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cuhk03")
    write_classic_mat(root / "cuhk03" / "cuhk03_release" / "cuhk-03.mat")
    written = convert_cuhk03(root / "cuhk03")  # no 767/700 split file: the mat's own splits
    assert [p.name for p in written] == ["splits_classic.json"]
    return root


def test_cuhk03_classic_splits_come_from_the_mat_file(classic_root):
    persons = {(pair, person): boxes for pair, ps in enumerate(CUHK03_PAIRS, start=1)
               for person, boxes in enumerate(ps, start=1)}
    for split_id, test_ids in enumerate(CLASSIC):
        ds = build_dataset("cuhk03", classic_root, protocol="classic", split_id=split_id)
        assert ds.name == f"cuhk03-classic{split_id}"
        assert {(r.pid // 1000, r.pid % 1000) for r in ds.query} == set(test_ids)
        assert ds.num_train_pids == len(persons) - len(test_ids)
        n_test = sum(len(persons[i]) for i in test_ids)
        assert len(ds.query) == len(ds.gallery) == n_test
        assert len(ds.train) == sum(map(len, persons.values())) - n_test
        assert {r.camid for r in ds.query} == {0, 1}
    labeled = build_dataset("cuhk03", classic_root, protocol="classic", images="labeled")
    assert labeled.name == "cuhk03-labeled-classic0" and "images_labeled" in labeled.query[0].path


def test_cuhk03_classic_queries_match_the_other_view_only(classic_root):
    from osnet_lib.metrics import evaluate

    ds = build_dataset("cuhk03", classic_root, protocol="classic", split_id=0)
    # features that equal the identity: every query's nearest valid match is right
    pid = np.array([r.pid for r in ds.query])
    feats = np.eye(pid.max() + 1)[pid] + 1e-3 * np.random.default_rng(0).random((len(pid), 1))
    res = evaluate((feats, feats), pid, pid, np.array([r.camid for r in ds.query]),
                   np.array([r.camid for r in ds.gallery]), max_rank=2)
    assert res.as_dict()["rank1"] == 1.0  # the image itself (same camera) never counts


def test_cuhk03_options_are_checked(classic_root):
    assert dataset_options("cuhk03") == {"images": "detected", "protocol": "767/700",
                                         "split_id": 0}
    with pytest.raises(ValueError, match="protocol must be one of '767/700', 'classic'"):
        build_dataset("cuhk03", classic_root, protocol="new")
    with pytest.raises(ValueError, match="split_id must be between 0 and 2, got 3"):
        build_dataset("cuhk03", classic_root, protocol="classic", split_id=3)
    with pytest.raises(ValueError, match="split_id must be between 0 and 0"):
        build_dataset("cuhk03", classic_root, split_id=1)
    with pytest.raises(FileNotFoundError, match="not been converted .* 767/700 protocol"):
        build_dataset("cuhk03", classic_root)  # converted for classic only


def _market_with_distractors(root: Path, folder: str = "bounding_box_test_500k") -> Path:
    base = make_market_tree(root / "Market-1501-v15.09.15")
    for k, name in enumerate(["0000_c1s1_900001_00.jpg", "0000_c3s2_900002_01.jpg",
                              "-1_c2s1_900003_00.jpg"]):
        write_image(base / folder / name, seed=900 + k)
    return base


def test_market1501_with_the_500k_distractors(tmp_path):
    base = _market_with_distractors(tmp_path)
    plain = build_dataset("market1501", tmp_path)
    extra = build_dataset("market1501", tmp_path, distractors=True)
    added = extra.gallery[len(plain.gallery):]
    assert extra.gallery[:len(plain.gallery)] == plain.gallery
    assert [Path(r.path).name for r in added] == ["0000_c1s1_900001_00.jpg",
                                                  "0000_c3s2_900002_01.jpg"]  # junk dropped
    assert all(r.pid == 0 and Path(r.path).parent == base / "bounding_box_test_500k"
               for r in added)
    assert 0 in extra.distractor_pids and extra.query == plain.query
    assert extra.name == "market1501+500k"
    assert extra.summary()["gallery"]["ids"] == plain.summary()["gallery"]["ids"]


def test_market1501_distractors_in_torchreids_folder_name(tmp_path):
    _market_with_distractors(tmp_path, folder="images")
    assert len(build_dataset("market1501", tmp_path, distractors=True).gallery) == \
        len(build_dataset("market1501", tmp_path).gallery) + 2


def test_market1501_distractor_folder_errors(tmp_path):
    make_market_tree(tmp_path / "Market-1501-v15.09.15")
    with pytest.raises(FileNotFoundError, match="bounding_box_test_500k"):
        build_dataset("market1501", tmp_path, distractors=True)
    write_image(tmp_path / "Market-1501-v15.09.15" / "bounding_box_test_500k" /
                "0003_c1s1_000001_00.jpg")
    with pytest.raises(ValueError, match="0003_c1s1_000001_00.jpg.*identity 3.*only "
                                         "distractors"):
        build_dataset("market1501", tmp_path, distractors=True)
