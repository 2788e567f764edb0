"""Dataset loaders, records, the registry and ImageDataset, on small trees made with each
release's real naming rules and quirks."""

import csv
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import torch
from PIL import Image

from osnet_lib.data import (
    ImageDataset,
    ImageRecord,
    ReIDDataset,
    build_dataset,
    combine_datasets,
    convert_cuhk03,
    dataset_options,
    dukemtmcreid,
    list_datasets,
    read_market1501_layout,
)

# ----------------------------------------------------------------------------- tree builders


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (4, 8)) -> Path:
    """A small random RGB image (size = width, height); format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


# Market1501-style content: (pid, camera, count) per subset; -1 = junk, 0 = distractor
MARKET_TRAIN = [(2, 1, 2), (2, 3, 1), (7, 2, 2), (7, 6, 1), (11, 4, 3)]  # 3 ids, 9 images
MARKET_QUERY = [(3, 1, 1), (3, 5, 1), (9, 2, 1)]  # 2 ids, 3 images
MARKET_GALLERY = [(3, 2, 2), (9, 1, 1), (9, 3, 1), (12, 4, 1), (0, 5, 2), (-1, 1, 2)]


def write_market_subset(folder: Path, spec: list[tuple[int, int, int]], sep: str = "s1") -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for pid, cam, count in spec:
        for k in range(count):
            pid_text = f"{pid:04d}" if pid >= 0 else "-1"
            write_image(folder / f"{pid_text}_c{cam}{sep}_{k:06d}_0{k}.jpg", seed=n)
            n += 1
    return n


def make_market_tree(folder: Path, sep: str = "s1") -> Path:
    """A tiny Market1501 release folder (the folder holding the three subsets)."""
    write_market_subset(folder / "bounding_box_train", MARKET_TRAIN, sep)
    write_market_subset(folder / "query", MARKET_QUERY, sep)
    write_market_subset(folder / "bounding_box_test", MARKET_GALLERY, sep)
    (folder / "bounding_box_train" / "Thumbs.db").write_bytes(b"not an image")
    return folder


def make_msmt17_tree(root: Path) -> Path:
    """``root/msmt17/MSMT17_V1`` with list files; train pids 0-2, test pids 0-3."""
    base = root / "msmt17" / "MSMT17_V1"
    lists: dict[str, list[str]] = {k: [] for k in ("train", "val", "query", "gallery")}
    n = 0

    def add(subset: str, folder: str, pid: int, cam: int, k: int) -> None:
        nonlocal n
        rel = f"{pid:04d}/{pid:04d}_{k:03d}_{cam:02d}_0303morning_{k:04d}_0.jpg"
        write_image(base / folder / rel, seed=n)
        n += 1
        lists[subset].append(f"{rel} {pid}")

    for pid, cam, k in [(0, 1, 0), (0, 15, 1), (1, 3, 0), (2, 4, 0), (2, 4, 1)]:
        add("train", "train", pid, cam, k)
    for pid, cam, k in [(0, 2, 5), (2, 7, 5)]:
        add("val", "train", pid, cam, k)
    for pid, cam, k in [(0, 1, 0), (1, 2, 0), (2, 3, 0)]:
        add("query", "test", pid, cam, k)
    for pid, cam, k in [(0, 5, 1), (1, 6, 1), (2, 8, 1), (3, 9, 1), (3, 10, 2)]:
        add("gallery", "test", pid, cam, k)
    for subset, lines in lists.items():
        (base / f"list_{subset}.txt").write_text("\n".join(lines) + "\n")
    return base


# CUHK03: camera pairs -> persons -> the indices (0..9) of their boxes; 0-4 view 1, 5-9 view 2
CUHK03_PAIRS = [
    [[0, 1, 5, 6], [0, 5], [0, 1, 2, 5]],  # pair 1: 3 persons
    [[0, 5, 6, 7], [1, 6]],  # pair 2: 2 persons
]


def write_cuhk03_mat(path: Path) -> None:
    """A MATLAB v7.3-like (HDF5) cuhk-03.mat: cells stored as transposed object references."""
    h5py = pytest.importorskip("h5py")
    path.parent.mkdir(parents=True, exist_ok=True)
    counter = itertools.count()
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")

        def store(data: np.ndarray, dtype: object = None) -> object:
            return refs.create_dataset(f"r{next(counter)}", data=data, dtype=dtype).ref

        rng = np.random.default_rng(3)
        for kind in ("detected", "labeled"):
            pair_refs = []
            for persons in CUHK03_PAIRS:
                cells = np.empty((len(persons), 10), dtype=h5py.ref_dtype)
                for p, present in enumerate(persons):
                    for j in range(10):
                        if j in present:
                            img = rng.integers(0, 256, (8, 4, 3), dtype=np.uint8)  # H, W, 3
                            cells[p, j] = store(img.T)  # MATLAB stores arrays transposed
                        else:  # MATLAB's empty array
                            cells[p, j] = store(np.zeros(2, dtype=np.uint64))
                pair_refs.append(store(cells.T, dtype=h5py.ref_dtype))
            f.create_dataset(kind, data=np.array([pair_refs], dtype=h5py.ref_dtype))


def cuhk03_names() -> dict[int, list[str]]:
    """Global person label (1..5) -> image names, as convert_cuhk03 writes them."""
    out: dict[int, list[str]] = {}
    label = 0
    for pair, persons in enumerate(CUHK03_PAIRS, start=1):
        for person, present in enumerate(persons, start=1):
            label += 1
            out[label] = [
                f"{pair}_{person:03d}_{1 if j < 5 else 2}_{j + 1:02d}.png" for j in present
            ]
    return out


def write_cuhk03_config(path: Path) -> None:
    """A 767/700-style split file: persons 1-3 train, 4-5 test (first box per view = query)."""
    names, labels, train, query, gallery = [], [], [], [], []
    for label, files in cuhk03_names().items():
        seen_views = set()
        for name in files:
            names.append(name)
            labels.append(label)
            idx = len(names)  # 1-based
            view = name.split("_")[2]
            if label <= 3:
                train.append(idx)
            elif view not in seen_views:
                query.append(idx)
                seen_views.add(view)
            else:
                gallery.append(idx)
    cell = np.empty((len(names), 1), dtype=object)
    for i, n in enumerate(names):
        cell[i, 0] = n
    sio.savemat(path, {
        "filelist": cell,
        "labels": np.array(labels, dtype=float).reshape(-1, 1),
        "train_idx": np.array(train, dtype=float).reshape(-1, 1),
        "query_idx": np.array(query, dtype=float).reshape(-1, 1),
        "gallery_idx": np.array(gallery, dtype=float).reshape(-1, 1),
        "camId": np.array([int(n.split("_")[2]) for n in names], dtype=float).reshape(-1, 1),
    })


def make_cuhk03_tree(root: Path) -> Path:
    folder = root / "cuhk03"
    write_cuhk03_mat(folder / "cuhk03_release" / "cuhk-03.mat")
    write_cuhk03_config(folder / "cuhk03_new_protocol_config_detected.mat")
    write_cuhk03_config(folder / "cuhk03_new_protocol_config_labeled.mat")
    return folder


def make_viper_tree(root: Path, n: int = 12) -> Path:
    folder = root / "viper" / "VIPeR"
    for i in range(n):
        pid = 3 * i  # VIPeR's ids have gaps
        write_image(folder / "cam_a" / f"{pid:03d}_45.bmp", seed=i)
        write_image(folder / "cam_b" / f"{pid:03d}_90.bmp", seed=100 + i)
    return folder


def make_cuhk01_tree(root: Path, n: int = 10) -> Path:
    folder = root / "cuhk01"
    for pid in range(1, n + 1):
        for cam in range(1, 5):
            write_image(folder / "campus" / f"{pid:04d}{cam:03d}.png", seed=pid * 10 + cam)
    return folder


GRID_SPLITS = [[1, 2, 3], [4, 5, 6], [1, 3, 5], [2, 4, 6], [1, 2, 4],
               [3, 5, 6], [1, 4, 6], [2, 3, 5], [1, 5, 6], [2, 3, 4]]


def write_grid_mat(path: Path, splits: list[list[int]]) -> None:
    cell = np.empty((1, len(splits)), dtype=object)
    for k, ids in enumerate(splits):
        # a struct whose third field lists the training identities
        cell[0, k] = {"idx_probe": np.array([[0]]), "idx_gallery": np.array([[0]]),
                      "idx_train": np.array([ids], dtype=float)}
    sio.savemat(path, {"trainIdxAll": cell})


def make_grid_tree(root: Path) -> Path:
    folder = root / "grid" / "underground_reid"
    n = 0
    for pid in range(1, 7):
        write_image(folder / "probe" / f"{pid:04d}_{pid % 8 + 1}_25004_107_32_130.jpeg", seed=n)
        write_image(folder / "gallery" / f"{pid:04d}_{(pid + 3) % 8 + 1}_1_2_3_4.jpeg", seed=n + 1)
        n += 2
    for k in range(3):  # unpaired gallery people: id 0
        write_image(folder / "gallery" / f"0000_{k + 2}_{k}_0_0_0.jpeg", seed=50 + k)
    write_grid_mat(folder / "features_and_partitions.mat", GRID_SPLITS)
    return folder


# ----------------------------------------------------------------------------- Market1501


def pids(records: list[ImageRecord]) -> set[int]:
    return {r.pid for r in records}


def test_market1501_counts_relabel_and_quirks(tmp_path: Path) -> None:
    make_market_tree(tmp_path / "market1501" / "Market-1501-v15.09.15")
    ds = build_dataset("market1501", tmp_path)
    assert ds.name == "market1501"
    assert len(ds.train) == 9 and ds.num_train_pids == 3
    assert pids(ds.train) == {0, 1, 2}  # relabelled from 2, 7, 11
    # the relabelling keeps identities apart: pid 11's three images all map to label 2
    assert sorted(r.pid for r in ds.train if "/0011_" in r.path) == [2, 2, 2]
    assert ds.num_train_cams == 5
    assert {r.camid for r in ds.train} == {0, 1, 2, 3, 5}  # c1..c6 -> 0..5
    assert len(ds.query) == 3 and pids(ds.query) == {3, 9}
    # junk (-1) dropped, distractors (0000) kept in the gallery
    assert len(ds.gallery) == 7
    assert 0 in pids(ds.gallery) and -1 not in pids(ds.gallery)
    assert ds.distractor_pids == frozenset({0})
    stats = ds.summary()
    assert stats["train"] == {"ids": 3, "images": 9, "cameras": 5}
    assert stats["query"] == {"ids": 2, "images": 3, "cameras": 3}
    assert stats["gallery"] == {"ids": 3, "images": 7, "cameras": 5}
    assert stats["total"]["ids"] == 3 + 3 and stats["total"]["images"] == 19
    assert "distractors" in ds.summary_table()


@pytest.mark.parametrize("where", ["", "market1501", "Market-1501-v15.09.15",
                                   "market1501/Market-1501-v15.09.15"])
def test_market1501_root_may_be_any_folder_on_the_path(tmp_path: Path, where: str) -> None:
    make_market_tree(tmp_path / where if where else tmp_path)
    assert len(build_dataset("market1501", tmp_path).train) == 9


def test_market1501_missing_root_and_subfolder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_dataset("market1501", tmp_path / "nowhere")
    folder = make_market_tree(tmp_path / "m")
    shutil.rmtree(folder / "query")
    with pytest.raises(FileNotFoundError, match="lacks query"):
        build_dataset("market1501", tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="missing folder.*query"):
        read_market1501_layout(folder)


def test_market1501_bad_names_and_cameras(tmp_path: Path) -> None:
    folder = make_market_tree(tmp_path / "m")
    bad = write_image(folder / "query" / "person3_cam1.jpg")
    with pytest.raises(ValueError, match=r"person3_cam1\.jpg.*naming rule"):
        build_dataset("market1501", folder)
    bad.unlink()
    write_image(folder / "query" / "0003_c7s1_000001_00.jpg")  # Market1501 has 6 cameras
    with pytest.raises(ValueError, match=r"0003_c7s1.*camera c7 is out of range"):
        build_dataset("market1501", folder)


def test_market1501_empty_split(tmp_path: Path) -> None:
    folder = make_market_tree(tmp_path / "m")
    for f in (folder / "query").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"query.*empty split"):
        build_dataset("market1501", folder)


def test_dukemtmcreid_eight_cameras(tmp_path: Path) -> None:
    folder = tmp_path / "dukemtmc-reid" / "DukeMTMC-reID"
    write_market_subset(folder / "bounding_box_train", [(1, 8, 2), (5, 7, 1)], sep="")
    write_market_subset(folder / "query", [(6, 1, 1)], sep="")
    write_market_subset(folder / "bounding_box_test", [(6, 2, 1), (8, 8, 1)], sep="")
    ds = build_dataset("dukemtmcreid", tmp_path)
    assert {r.camid for r in ds.train} == {6, 7}
    assert ds.summary()["total"]["ids"] == 2 + 2  # gallery-only id 8 counts
    assert "withdrawn" in dukemtmcreid.__doc__ and "2019" in dukemtmcreid.__doc__


def test_synthetic_domains(tmp_path: Path) -> None:
    world = tmp_path / "synthetic-cpu"
    for domain in ("A", "B"):
        make_market_tree(world / domain)
        (world / domain / "ground_truth").mkdir()
        (world / domain / "ground_truth" / "attributes.json").write_text("{}")
    ds = build_dataset("synthetic", world, domain="B")
    assert ds.name == "synthetic-B" and len(ds.train) == 9
    assert all("/B/" in r.path for r in ds.train + ds.query + ds.gallery)
    with pytest.raises(FileNotFoundError, match="domain 'C' not found.*domains found: A, B$"):
        build_dataset("synthetic", world, domain="C")
    # the folder above a world (data/ holding synthetic-cpu/) names the world to pass instead
    with pytest.raises(FileNotFoundError, match=r"domains found: \(none\); worlds found "
                       r"inside it: .*synthetic-cpu \(pass one of them as the root\)"):
        build_dataset("synthetic", tmp_path, domain="A")


# ----------------------------------------------------------------------------- MSMT17


def test_msmt17_lists_and_combineall(tmp_path: Path) -> None:
    make_msmt17_tree(tmp_path)
    ds = build_dataset("msmt17", tmp_path)
    assert len(ds.train) == 5 and ds.num_train_pids == 3
    assert {r.camid for r in ds.train} == {0, 2, 3, 14}  # cameras 1, 3, 4, 15
    assert len(ds.query) == 3 and len(ds.gallery) == 5
    assert all(Path(r.path).is_file() for r in ds.train + ds.query + ds.gallery)

    full = build_dataset("msmt17", tmp_path, combineall=True)
    assert len(full.train) == 5 + 2 + 3 + 5  # train + val + query + gallery
    assert full.num_train_pids == 3 + 4  # test ids 0..3 added after the 3 training ids
    assert pids(full.train) == set(range(7))
    assert full.train_includes_test and full.summary()["total"]["ids"] == 7
    # a test identity keeps its images together: test pid 3 has two gallery images
    test3 = [r for r in full.train if "/test/0003/" in r.path]
    assert len(test3) == 2 and len(pids(test3)) == 1


def test_msmt17_errors(tmp_path: Path) -> None:
    base = make_msmt17_tree(tmp_path)
    with pytest.raises(TypeError, match="combineall"):
        build_dataset("msmt17", tmp_path, combineall="yes")
    lst = base / "list_query.txt"
    original = lst.read_text()
    lst.write_text(original + "0001/0001_000_01_x.jpg one\n")
    with pytest.raises(ValueError, match=r"list_query\.txt' line 4: pid 'one'"):
        build_dataset("msmt17", tmp_path)
    lst.write_text(original + "0009/0009_000_02_missing.jpg 9\n")
    with pytest.raises(FileNotFoundError, match="1 image.*0009_000_02_missing.jpg"):
        build_dataset("msmt17", tmp_path)
    (base / "list_val.txt").unlink()
    with pytest.raises(FileNotFoundError, match="list_val.txt"):
        build_dataset("msmt17", tmp_path)


# ----------------------------------------------------------------------------- CUHK03


def test_cuhk03_conversion_and_protocol(tmp_path: Path) -> None:
    folder = make_cuhk03_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="not been converted.*convert_cuhk03"):
        build_dataset("cuhk03", tmp_path)
    written = convert_cuhk03(folder)
    assert {p.name for p in written} == {"splits_new_detected.json", "splits_new_labeled.json"}
    names = cuhk03_names()
    expected = sorted(n for files in names.values() for n in files)
    assert sorted(p.name for p in (folder / "images_detected").iterdir()) == expected
    with Image.open(folder / "images_detected" / "1_001_1_01.png") as img:
        assert img.size == (4, 8)  # width 4, height 8: the (H, W, 3) box, un-transposed

    ds = build_dataset("cuhk03", tmp_path)
    n_train = sum(len(names[k]) for k in (1, 2, 3))
    assert len(ds.train) == n_train and ds.num_train_pids == 3
    assert pids(ds.query) == {4, 5} and len(ds.query) == 4  # one per view and test person
    assert len(ds.gallery) == len(names[4]) + len(names[5]) - 4
    assert {r.camid for r in ds.query} == {0, 1}
    # the camera is the view: '_1_' -> 0, '_2_' -> 1
    assert all(r.camid == int(Path(r.path).name.split("_")[2]) - 1 for r in ds.gallery)
    lab = build_dataset("cuhk03", folder, images="labeled")
    assert lab.name == "cuhk03-labeled" and "images_labeled" in lab.train[0].path
    with pytest.raises(ValueError, match="images must be one of"):
        build_dataset("cuhk03", tmp_path, images="hand")


def test_cuhk03_conversion_errors(tmp_path: Path) -> None:
    folder = tmp_path / "cuhk03"
    (folder / "cuhk03_release").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="cuhk-03.mat"):
        convert_cuhk03(folder)
    (folder / "cuhk03_release" / "cuhk-03.mat").write_bytes(b"MATLAB 5.0 not hdf5")
    with pytest.raises(FileNotFoundError, match="no 767/700 split file"):
        convert_cuhk03(folder)
    write_cuhk03_config(folder / "cuhk03_new_protocol_config_detected.mat")
    pytest.importorskip("h5py")
    with pytest.raises(ValueError, match="not a MATLAB v7.3"):
        convert_cuhk03(folder)


# ----------------------------------------------------------------------------- small datasets


def test_viper_splits_are_deterministic_and_saved(tmp_path: Path) -> None:
    folder = make_viper_tree(tmp_path / "one")
    ds0 = build_dataset("viper", tmp_path / "one")
    saved = json.loads((folder / "random_splits.json").read_text())
    assert len(saved["splits"]) == 10
    assert len(ds0.train) == 12 and ds0.num_train_pids == 6
    assert len(ds0.query) == 6 and len(ds0.gallery) == 6
    assert {r.camid for r in ds0.query} == {0} and {r.camid for r in ds0.gallery} == {1}
    assert pids(ds0.query) == pids(ds0.gallery)
    train_ids = {int(Path(r.path).name[:3]) for r in ds0.train}
    assert train_ids == set(saved["splits"][0]["train"])
    assert not train_ids & pids(ds0.query)
    # a fresh copy elsewhere gets the same splits; other split ids differ
    make_viper_tree(tmp_path / "two")
    again = build_dataset("viper", tmp_path / "two", split_id=0)
    assert [Path(r.path).name for r in again.query] == [Path(r.path).name for r in ds0.query]
    queries = {tuple(sorted(pids(build_dataset("viper", tmp_path / "one", split_id=k).query)))
               for k in range(10)}
    assert len(queries) > 1


def test_viper_reads_the_saved_split_file(tmp_path: Path) -> None:
    folder = make_viper_tree(tmp_path)
    ids = sorted(3 * i for i in range(12))
    splits = [{"train": ids[:6], "test": ids[6:]}] * 10
    (folder / "random_splits.json").write_text(json.dumps({"splits": splits}))
    assert pids(build_dataset("viper", tmp_path, split_id=4).query) == set(ids[6:])
    (folder / "random_splits.json").write_text(json.dumps({"splits": [{"train": [0]}]}))
    with pytest.raises(ValueError, match="random_splits.json' is not a valid split file"):
        build_dataset("viper", tmp_path)
    splits = [{"train": ids[:5], "test": ids[6:]}] * 10
    (folder / "random_splits.json").write_text(json.dumps({"splits": splits}))
    with pytest.raises(ValueError, match="does not partition the 12 identities"):
        build_dataset("viper", tmp_path)


@pytest.mark.parametrize("name", ["viper", "cuhk01", "grid"])
def test_bad_split_id(tmp_path: Path, name: str) -> None:
    {"viper": make_viper_tree, "cuhk01": make_cuhk01_tree, "grid": make_grid_tree}[name](tmp_path)
    with pytest.raises(ValueError, match="split_id must be between 0 and 9, got 10"):
        build_dataset(name, tmp_path, split_id=10)
    with pytest.raises(ValueError, match="got -1"):
        build_dataset(name, tmp_path, split_id=-1)
    with pytest.raises(TypeError, match="split_id must be an int"):
        build_dataset(name, tmp_path, split_id="1")


def test_viper_layout_errors(tmp_path: Path) -> None:
    folder = make_viper_tree(tmp_path)
    (folder / "cam_b" / "003_90.bmp").unlink()
    with pytest.raises(ValueError, match=r"1 id\(s\) lack an image in the other camera.*\[3\]"):
        build_dataset("viper", tmp_path)
    write_image(folder / "cam_b" / "pic.bmp")
    with pytest.raises(ValueError, match=r"pic\.bmp' does not follow the VIPeR naming rule"):
        build_dataset("viper", tmp_path)
    shutil.rmtree(folder / "cam_b")
    with pytest.raises(FileNotFoundError, match="lacks cam_b"):
        build_dataset("viper", tmp_path)


def test_cuhk01_views_and_split(tmp_path: Path) -> None:
    folder = make_cuhk01_tree(tmp_path)
    ds = build_dataset("cuhk01", tmp_path, split_id=3)
    assert ds.num_train_pids == 5 and len(ds.train) == 20
    assert len(ds.query) == 10 and len(ds.gallery) == 10  # 5 test ids x 2 cameras per view
    assert all(Path(r.path).name[4:7] in ("001", "002") for r in ds.query)
    assert all(Path(r.path).name[4:7] in ("003", "004") for r in ds.gallery)
    assert (folder / "random_splits.json").is_file()
    write_image(folder / "campus" / "0001005.png")
    with pytest.raises(ValueError, match=r"0001005\.png' does not follow the CUHK01 naming rule"):
        build_dataset("cuhk01", tmp_path)


def test_grid_published_splits_and_distractors(tmp_path: Path) -> None:
    make_grid_tree(tmp_path)
    for k in (0, 7):
        ds = build_dataset("grid", tmp_path, split_id=k)
        train_ids = {int(Path(r.path).name[:4]) for r in ds.train}
        assert train_ids == set(GRID_SPLITS[k])
        assert len(ds.train) == 6 and ds.num_train_pids == 3
        assert pids(ds.query) == set(range(1, 7)) - set(GRID_SPLITS[k])
        assert pids(ds.gallery) == pids(ds.query) | {0}
        assert sum(r.pid == 0 for r in ds.gallery) == 3 and ds.distractor_pids == {0}
        assert ds.summary()["gallery"]["ids"] == 3  # distractors are not counted as ids
    assert {r.camid for r in ds.query} <= set(range(8))


def test_grid_bad_partition_file(tmp_path: Path) -> None:
    folder = make_grid_tree(tmp_path)
    sio.savemat(folder / "features_and_partitions.mat", {"other": np.zeros(3)})
    with pytest.raises(ValueError, match="no 'trainIdxAll' entry"):
        build_dataset("grid", tmp_path)
    write_grid_mat(folder / "features_and_partitions.mat", [[1, 2, 99]] * 10)
    with pytest.raises(ValueError, match=r"training ids \[99\] have no probe image"):
        build_dataset("grid", tmp_path)
    write_grid_mat(folder / "features_and_partitions.mat", [[1, 2]] * 4)
    with pytest.raises(ValueError, match="expected 10 splits, found 4"):
        build_dataset("grid", tmp_path)


# ----------------------------------------------------------------------------- your own data


def make_folder_tree(root: Path) -> Path:
    n = 0
    for ident in ("alice", "bob", "carol", "dave", "erin", "frank"):
        for cam in (1, 2):
            for k in range(2):
                write_image(root / ident / f"x_c{cam}_{k}.jpg", seed=n)
                n += 1
    write_image(root / "gina" / "c3" / "a.png", seed=90)  # camera from a sub-folder
    write_image(root / "gina" / "c4" / "b.png", seed=91)
    write_image(root / "hank" / "c1" / "only.png", seed=92)  # one camera only
    return root


def test_custom_folder(tmp_path: Path) -> None:
    make_folder_tree(tmp_path)
    ds = build_dataset("custom_folder", tmp_path, test_fraction=0.5, seed=1)
    all_records = ds.train + ds.query + ds.gallery
    assert len(all_records) == 6 * 4 + 3
    assert {r.camid for r in all_records} == {0, 1, 2, 3}  # cameras 1..4
    n_test_ids = len(pids(ds.query) | pids(ds.gallery))
    assert ds.num_train_pids + n_test_ids == 8 and n_test_ids == 4
    for pid in pids(ds.query):  # one query per camera of each test identity
        cams = [r.camid for r in ds.query if r.pid == pid]
        assert len(cams) == len(set(cams)) >= 2
    assert not {r.path for r in ds.query} & {r.path for r in ds.gallery}
    again = build_dataset("custom_folder", tmp_path, test_fraction=0.5, seed=1)
    assert again == ds
    other = build_dataset("custom_folder", tmp_path, test_fraction=0.5, seed=2)
    assert other != ds
    everything = build_dataset("custom_folder", tmp_path, test_fraction=1.0)
    assert everything.train == [] and len(pids(everything.query) | pids(everything.gallery)) == 8
    assert pids(everything.gallery) - pids(everything.query)  # hank: one camera, gallery only


def test_custom_folder_errors(tmp_path: Path) -> None:
    root = make_folder_tree(tmp_path / "d")
    with pytest.raises(ValueError, match="test_fraction must be in"):
        build_dataset("custom_folder", root, test_fraction=0)
    bad = write_image(root / "alice" / "no_camera_here.jpg")
    with pytest.raises(ValueError, match=r"no_camera_here\.jpg' names no camera"):
        build_dataset("custom_folder", root)
    bad.unlink()
    deep = write_image(root / "bob" / "c1" / "sub" / "x.jpg")
    with pytest.raises(ValueError, match="nested too deep"):
        build_dataset("custom_folder", root)
    shutil.rmtree(deep.parent)
    write_image(root / "bob" / "day1" / "x.jpg")
    with pytest.raises(ValueError, match=r"day1' is not a camera folder"):
        build_dataset("custom_folder", root)
    shutil.rmtree(root / "bob" / "day1")
    (root / "empty_person").mkdir()
    with pytest.raises(ValueError, match="empty_person' holds no images"):
        build_dataset("custom_folder", root)
    (root / "empty_person").rmdir()
    write_image(root / "stray_c1.jpg")
    with pytest.raises(ValueError, match="lies directly in"):
        build_dataset("custom_folder", root)


def write_csv(
    path: Path, rows: list[list[str]], header: str = "path,identity,camera,split"
) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


def test_custom_csv(tmp_path: Path) -> None:
    for i in range(6):
        write_image(tmp_path / "imgs" / f"{i}.jpg", seed=i)
    rows = [["imgs/0.jpg", "alice", "front", "train"], ["imgs/1.jpg", "alice", "back", "train"],
            ["imgs/2.jpg", "bob", "front", "train"], ["imgs/3.jpg", "carol", "front", "query"],
            [str(tmp_path / "imgs" / "4.jpg"), "carol", "back", "gallery"],
            ["imgs/5.jpg", "dan", "front", "Gallery"]]
    ds = build_dataset("custom_csv", write_csv(tmp_path / "data.csv", rows))
    assert ds.num_train_pids == 2 and len(ds.train) == 3
    assert len(ds.query) == 1 and len(ds.gallery) == 2
    assert ds.query[0].pid == ds.gallery[0].pid != ds.gallery[1].pid
    assert ds.query[0].camid != ds.gallery[0].camid  # front vs back
    assert all(Path(r.path).is_file() for r in ds.train + ds.query + ds.gallery)
    # whole-number identities (carol's two images share hers, so her query has a match)
    number = {"alice": "7", "bob": "8", "carol": "10", "dan": "12"}
    numeric = [[p, number[who], c, s] for p, who, c, s in rows]
    ds2 = build_dataset("custom_csv", write_csv(tmp_path / "n.csv", numeric))
    assert ds2.query[0].pid == 10  # whole-number identities keep their numbers


def test_custom_csv_errors(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg")
    with pytest.raises(FileNotFoundError, match="nope.csv' does not exist"):
        build_dataset("custom_csv", tmp_path / "nope.csv")
    p = write_csv(tmp_path / "c1.csv", [["a.jpg", "x", "1"]], header="path,identity,camera")
    with pytest.raises(ValueError, match="lacks the column.*split"):
        build_dataset("custom_csv", p)
    p = write_csv(tmp_path / "c2.csv", [["a.jpg", "x", "1", "train"], ["a.jpg", "x", "1", "test"]])
    with pytest.raises(ValueError, match="line 3: split 'test' is not one of"):
        build_dataset("custom_csv", p)
    p = write_csv(tmp_path / "c3.csv",
                  [["a.jpg", "x", "1", "query"], ["b.jpg", "x", "2", "gallery"]])
    with pytest.raises(FileNotFoundError, match=r"line 3: .*b\.jpg"):
        build_dataset("custom_csv", p)
    p = write_csv(tmp_path / "c4.csv",
                  [["a.jpg", "x", "1", "train"], ["a.jpg", "y", "1", "gallery"]])
    with pytest.raises(ValueError, match="no 'query' rows"):
        build_dataset("custom_csv", p)
    p = write_csv(tmp_path / "c5.csv", [["a.jpg", "", "1", "train"]])
    with pytest.raises(ValueError, match="line 2: empty identity"):
        build_dataset("custom_csv", p)


# ----------------------------------------------------------------------------- registry


def test_registry() -> None:
    names = list_datasets()
    for n in ("market1501", "dukemtmcreid", "msmt17", "cuhk03", "viper", "grid", "cuhk01",
              "synthetic", "custom_folder", "custom_csv"):
        assert n in names
    assert dataset_options("msmt17") == {"combineall": False}
    with pytest.raises(ValueError, match="unknown dataset 'market'.*valid names: cuhk01"):
        build_dataset("market", ".")
    with pytest.raises(TypeError, match="unknown option.*'split' for dataset 'viper'.*split_id"):
        build_dataset("viper", ".", split=1)
    with pytest.raises(TypeError, match="dataset root must be a str or path"):
        build_dataset("market1501", 3)


# ----------------------------------------------------------------------------- records


def test_reid_dataset_requires_relabelled_training_pids() -> None:
    with pytest.raises(ValueError, match="relabelled to 0..N-1"):
        ReIDDataset("x", [ImageRecord("a", 5, 0)], [], [])


def test_combine_datasets(tmp_path: Path) -> None:
    make_market_tree(tmp_path / "m")
    make_viper_tree(tmp_path / "v")
    market = build_dataset("market1501", tmp_path / "m")
    viper = build_dataset("viper", tmp_path / "v")
    both = combine_datasets([market, viper])
    assert both.name == "market1501+viper"
    assert both.num_train_pids == market.num_train_pids + viper.num_train_pids
    assert pids(both.train) == set(range(both.num_train_pids))
    assert both.num_datasets == 2
    m_part = [r for r in both.train if r.dsetid == 0]
    v_part = [r for r in both.train if r.dsetid == 1]
    assert len(m_part) == len(market.train) and len(v_part) == len(viper.train)
    assert not pids(m_part) & pids(v_part)  # identities never collide
    assert not {r.camid for r in m_part} & {r.camid for r in v_part}
    # query/gallery: the viper test ids do not collide with market's, distractors follow
    mq = pids([r for r in both.query if r.dsetid == 0])
    vq = pids([r for r in both.query if r.dsetid == 1])
    assert mq == pids(market.query) and not mq & vq and len(vq) == 6
    assert both.distractor_pids == {0}
    assert both.summary()["total"]["ids"] == market.summary()["total"]["ids"] + 12
    nested = combine_datasets([both, market])
    assert {r.dsetid for r in nested.train} == {0, 1, 2}
    with pytest.raises(ValueError, match="at least one dataset"):
        combine_datasets([])
    with pytest.raises(TypeError, match="element 1 is a str"):
        combine_datasets([market, "viper"])


# ----------------------------------------------------------------------------- ImageDataset


def test_image_dataset_items_and_loader(tmp_path: Path) -> None:
    make_market_tree(tmp_path)
    ds = build_dataset("market1501", tmp_path)
    data = ImageDataset(ds.query)
    item = data[0]
    assert set(item) == {"img", "pid", "camid", "path", "dsetid"}
    assert item["img"].shape == (3, 8, 4) and item["img"].dtype == torch.float32
    assert (item["path"], item["pid"], item["camid"]) == ds.query[0][:3]
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=3)))
    assert batch["img"].shape == (3, 3, 8, 4) and batch["pid"].tolist() == [r.pid for r in ds.query]
    with pytest.raises(TypeError, match="record 0"):
        ImageDataset([("only-a-path",)])


def test_image_dataset_corrupt_and_missing(tmp_path: Path) -> None:
    good = write_image(tmp_path / "good.jpg")
    truncated = tmp_path / "trunc.jpg"
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    data = ImageDataset([ImageRecord(str(p), 0, 0) for p in (truncated, text)]
                        + [ImageRecord(str(tmp_path / "gone.jpg"), 0, 0)])
    with pytest.raises(ValueError, match=r"cannot read image file '.*trunc\.jpg'"):
        data[0]
    with pytest.raises(ValueError, match=r"cannot read image file '.*text\.jpg'"):
        data[1]
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg"):
        data[2]
