"""The synthetic re-ID world: layout, determinism, ground truth, protocol and errors."""

import importlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_hash
from PIL import Image

from osnet_lib.recipes import PROFILE_TABLE, get_profile
from osnet_lib.synthetic import (
    DOMAINS,
    GLOBAL_CUES,
    LOCAL_CUES,
    PART_LABELS,
    SPLITS,
    WORLD_SIZES,
    contact_sheet,
    generate_world,
    get_domain,
    list_domains,
    load_ground_truth,
    load_part_mask,
    load_part_masks,
    parse_name,
    render_image,
    render_person,
    resolve_recipe,
    sample_population,
    world_size,
)
from osnet_lib.synthetic.figures import domain_sheet

NAME = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})\.jpg$")
SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "make_synthetic.py"
SMALL = dict(num_ids=6, images_per_id=4, num_distractors=4, num_junk=2)
#: world.json of the quick world, seed 0, all domains, as the generator wrote it before the world
#: sizes were read through the book's table of profiles. A deliberate change of the world bumps
#: GENERATOR_VERSION and replaces this file.
QUICK_WORLD_JSON = Path(__file__).resolve().parent / "fixtures" / "synthetic_quick_seed0_world.json"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The quick profile, all four domains."""
    return generate_world(tmp_path_factory.mktemp("world"), profile="quick", seed=0,
                          progress=False)




# ---------------------------------------------------------------------------------------------
# Layout and naming
# ---------------------------------------------------------------------------------------------


def test_layout_is_market1501(world):
    assert sorted(p.name for p in world.iterdir()) == sorted(list_domains() + ["world.json"])
    for d in list_domains():
        ddir = world / d
        assert sorted(p.name for p in ddir.iterdir()) == sorted([*SPLITS, "ground_truth"])
        for split in SPLITS:
            files = list((ddir / split).iterdir())
            assert files, f"{d}/{split} is empty"
            bad = [f.name for f in files if not NAME.match(f.name) or not f.is_file()]
            assert not bad, f"{d}/{split}: names off the Market1501 pattern: {bad[:5]}"
            cams = {int(NAME.match(f.name).group(2)) for f in files}
            assert cams <= set(range(1, DOMAINS[d].num_cameras + 1))


def test_images_have_requested_size(world, tmp_path):
    some = sorted((world / "market" / "query").iterdir())[:5]
    for f in some:
        with Image.open(f) as im:
            assert im.size == (64, 128) and im.mode == "RGB" and im.format == "JPEG"
    big = generate_world(tmp_path / "big", domains=["cuhk03"], image_size=(256, 128),
                         progress=False, **SMALL)
    f = sorted((big / "cuhk03" / "query").iterdir())[0]
    with Image.open(f) as im:
        assert im.size == (128, 256)
    assert load_part_mask(big / "cuhk03", f).shape == (256, 128)


def test_quick_world_json_is_unchanged(world):
    """The quick world's recipe and statistics are byte-identical to the committed record."""
    assert (world / "world.json").read_bytes() == QUICK_WORLD_JSON.read_bytes()


def test_world_size_comes_from_the_book_profile_table():
    """Each book profile generates the world size its row of the profile table names; profiles
    that share a world size (cpu and paper) share the recipe, hence the files."""
    for name, row in PROFILE_TABLE.items():
        assert world_size(name) == row.world and row.world in WORLD_SIZES
        r = resolve_recipe(name, seed=3)
        assert r["profile"] == get_profile(name).world
        assert r["sizes"] == {d: vars(s) for d, s in WORLD_SIZES[row.world].items()}
    assert resolve_recipe("paper", seed=3) == resolve_recipe("cpu", seed=3)
    with pytest.raises(ValueError, match="unknown profile 'large'.*'quick', 'cpu', 'paper'"):
        world_size("large")


def test_world_json_records_the_recipe(world):
    w = json.loads((world / "world.json").read_text())
    r = w["recipe"]
    assert r["profile"] == "quick" and r["seed"] == 0 and r["domains"] == list_domains()
    assert r["image_size"] == [128, 64] and r["version"]
    assert set(r["domain_params"]) == set(list_domains())
    for d in list_domains():
        assert len(r["domain_params"][d]["cameras"]) == DOMAINS[d].num_cameras
        assert r["sizes"][d]["num_train_ids"] == 20
        for split in SPLITS:
            n = len(list((world / d / split).iterdir()))
            assert w["stats"][d][split]["num_images"] == n


# ---------------------------------------------------------------------------------------------
# Determinism and idempotence
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_any_workers_other_seed_differs(tmp_path):
    a = generate_world(tmp_path / "a", domains=["market", "duke"], seed=3, progress=False, **SMALL)
    b = generate_world(tmp_path / "b", domains=["market", "duke"], seed=3, num_workers=2,
                       progress=False, **SMALL)
    c = generate_world(tmp_path / "c", domains=["market", "duke"], seed=4, progress=False, **SMALL)
    assert tree_hash(a) == tree_hash(b)
    assert tree_hash(a) != tree_hash(c)
    # not only names: the pixels differ too
    fa = sorted((a / "market" / "bounding_box_train").iterdir())[0]
    fc = sorted((c / "market" / "bounding_box_train").iterdir())[0]
    assert fa.read_bytes() != fc.read_bytes()


def test_generation_is_idempotent_and_regenerates_on_change(tmp_path):
    root = generate_world(tmp_path / "w", domains=["cuhk03"], progress=False, **SMALL)
    f = sorted((root / "cuhk03" / "query").iterdir())[0]
    stamp = f.stat().st_mtime_ns
    before = tree_hash(root)
    generate_world(root, domains=["cuhk03"], progress=False, **SMALL)
    assert f.stat().st_mtime_ns == stamp and tree_hash(root) == before
    generate_world(root, domains=["cuhk03"], seed=1, progress=False, **SMALL)
    assert tree_hash(root) != before
    assert json.loads((root / "world.json").read_text())["recipe"]["seed"] == 1
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------------


def test_ground_truth_covers_every_image_and_matches_names(world):
    for d in list_domains():
        ddir = world / d
        for split in SPLITS:
            recs = load_ground_truth(ddir, split)
            on_disk = sorted(f"{split}/{p.name}" for p in (ddir / split).iterdir())
            assert [r["image"] for r in recs] == on_disk
            for r in recs:
                parsed = parse_name(r["image"])
                assert (r["pid"], r["camid"], r["seq"], r["frame"], r["box"]) == (
                    parsed["pid"], parsed["camid"], parsed["seq"], parsed["frame"], parsed["box"])
                assert r["mask_file"] == f"ground_truth/{split}_masks.npz"
                assert r["mask_index"] == recs.index(r)
                if r["kind"] == "identity":
                    assert r["pid"] > 0 and r["identity"] == r["pid"]
                    assert r["view"] in ("front", "back", "side")
                    assert set(r["attributes"]) >= set(GLOBAL_CUES)
                elif r["kind"] == "distractor":
                    assert r["pid"] == 0
                else:
                    assert r["kind"] == "junk" and r["pid"] == -1 and r["identity"] > 0


def test_split_aliases_and_masks_round_trip(world):
    ddir = world / "duke"
    assert load_ground_truth(ddir, "gallery") == load_ground_truth(ddir, "bounding_box_test")
    names, masks = load_part_masks(ddir, "query")
    assert masks.shape == (len(names), 128, 64) and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= set(PART_LABELS.values())
    rec = load_ground_truth(ddir, "query")[0]
    m = load_part_mask(ddir, ddir / rec["image"])  # absolute path works too
    counts = np.bincount(m.ravel(), minlength=len(PART_LABELS))
    for part, n in rec["parts"].items():
        assert counts[PART_LABELS[part]] == n


def test_logo_visible_only_in_front_views(world):
    logo = PART_LABELS["logo"]
    front_with_logo = 0
    for d in list_domains():
        ddir = world / d
        for split in SPLITS:
            for r in load_ground_truth(ddir, split):
                if r["kind"] != "identity":
                    continue
                mask = load_part_mask(ddir, r["image"])
                has = bool((mask == logo).any())
                if has:
                    assert r["view"] == "front", r["image"]
                    assert r["attributes"]["logo_shape"] is not None
                    front_with_logo += 1
                if r["attributes"]["logo_shape"] is None:
                    assert not has
    assert front_with_logo > 20


def test_backpack_body_seen_from_behind_not_from_front():
    person = next(p for p in sample_population("duke", 60, np.random.default_rng(0))
                  if p.bag == "backpack")
    bag = PART_LABELS["bag"]
    _, back = render_person(person, "back")
    _, front = render_person(person, "front")
    _, side = render_person(person, "side")
    assert (back == bag).sum() > 4 * max(1, (front == bag).sum())  # front: straps only
    assert (side == bag).sum() > (front == bag).sum()


def test_masks_follow_the_body_layout():
    person = sample_population("market", 1, np.random.default_rng(5))[0]
    _, m = render_person(person, "front", size=(256, 128))
    rows = {part: np.nonzero((m == PART_LABELS[part]).any(1))[0]
            for part in ("head", "torso", "shoes")}
    assert rows["head"].mean() < rows["torso"].mean() < rows["shoes"].mean()
    assert (m == 0).mean() > 0.3  # background around the person


# ---------------------------------------------------------------------------------------------
# Re-ID protocol
# ---------------------------------------------------------------------------------------------


def test_protocol_cameras_disjoint_ids_distractors_and_junk(world):
    for d in list_domains():
        ddir = world / d
        train = load_ground_truth(ddir, "train")
        query = load_ground_truth(ddir, "query")
        gallery = load_ground_truth(ddir, "gallery")
        train_ids = {r["pid"] for r in train}
        test_ids = {r["pid"] for r in query}
        assert train_ids.isdisjoint(test_ids)
        assert 0 not in train_ids | test_ids and -1 not in train_ids | test_ids
        cams = defaultdict(set)
        for r in query + gallery:
            if r["pid"] > 0:
                cams[r["pid"]].add(r["camid"])
        assert all(len(c) >= 2 for c in cams.values())
        train_cams = defaultdict(set)
        for r in train:
            train_cams[r["pid"]].add(r["camid"])
        assert all(len(c) >= 2 for c in train_cams.values())
        # every query has a true match in another camera of the gallery
        gal = {(r["pid"], r["camid"]) for r in gallery}
        for q in query:
            assert any(p == q["pid"] and c != q["camid"] for p, c in gal)
        kinds = [r["kind"] for r in gallery]
        assert kinds.count("distractor") == 12 and kinds.count("junk") == 6
        assert {r["kind"] for r in train + query} == {"identity"}
        names = [p.name for p in (ddir / "bounding_box_test").iterdir()]
        assert any(n.startswith("0000_") for n in names) and any(n.startswith("-1_") for n in names)


def _colour_stats(ddir: Path) -> np.ndarray:
    ims = [np.asarray(Image.open(p), dtype=np.float32)
           for p in sorted((ddir / "bounding_box_train").iterdir())[:60]]
    x = np.stack(ims).reshape(-1, 3)
    return np.concatenate([x.mean(0), x.std(0)])


def test_domains_differ_in_colour_statistics(world):
    stats = {d: _colour_stats(world / d) for d in list_domains()}
    names = list(stats)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            gap = np.abs(stats[names[i]] - stats[names[j]]).max()
            assert gap > 5.0, f"{names[i]} and {names[j]} look alike (max gap {gap:.1f})"


def test_domains_differ_in_population():
    rng = np.random.default_rng
    market = sample_population("market", 300, rng(0))
    duke = sample_population("duke", 300, rng(0))
    shorts = [np.mean([p.lower_type == "shorts" for p in pop]) for pop in (market, duke)]
    dark = [np.mean([p.upper_colour in ("black", "navy", "dark grey") for p in pop])
            for pop in (market, duke)]
    assert shorts[0] > shorts[1] + 0.15 and dark[1] > dark[0] + 0.15


# ---------------------------------------------------------------------------------------------
# Identities: confuser families and combinations of cues
# ---------------------------------------------------------------------------------------------


def test_confuser_families_share_global_cues_and_differ_in_one_local_cue():
    people = sample_population("market", 400, np.random.default_rng(1))
    assert len({p.signature() for p in people}) == len(people)
    families = defaultdict(list)
    for p in people:
        families[p.family].append(p)
    multi = [f for f in families.values() if len(f) > 1]
    assert len(multi) > 40
    local_fields = {"logo": ("logo_shape", "logo_colour"), "shoes": ("shoes",),
                    "glasses": ("glasses",), "hat": ("hat",), "stripe_period": ("stripe_period",)}
    assert set(local_fields) == set(LOCAL_CUES)
    for fam in multi:
        base = fam[0]
        for m in fam[1:]:
            for cue in GLOBAL_CUES:
                assert getattr(m, cue) == getattr(base, cue)
            changed = [c for c, fields in local_fields.items()
                       if any(getattr(m, f) != getattr(base, f) for f in fields)]
            assert changed == [m.varied_cue]
    # a logo design is shared by identities in different garments (shared small cue)
    by_logo = defaultdict(set)
    for p in people:
        if p.logo_shape:
            by_logo[(p.logo_shape, p.logo_colour)].add(p.upper_colour)
    assert max(len(v) for v in by_logo.values()) >= 3


def test_no_single_cue_identifies_a_person():
    people = sample_population("market", 400, np.random.default_rng(6))
    cues = ["skin", "hair_colour", "hair_style", "upper_colour", "upper_pattern", "upper_colour2",
            "sleeves", "lower_colour", "lower_type", "bag", "bag_colour", "shoes", "logo_shape",
            "logo_colour", "glasses", "hat", "stripe_period"]
    for cue in cues:
        counts = Counter(getattr(p, cue) for p in people)
        unique = sum(counts[getattr(p, cue)] == 1 for p in people)
        assert unique <= 4, f"{cue} alone identifies {unique} people"
    # even all garment colours, patterns and the bag together leave most people with a double
    garments = Counter((p.upper_colour, p.upper_pattern, p.upper_colour2, p.sleeves,
                        p.lower_colour, p.lower_type, p.bag, p.bag_colour) for p in people)
    shared = sum(n for n in garments.values() if n > 1)
    assert shared > 0.6 * len(people)


def test_render_image_is_deterministic_and_varies_with_camera():
    person = sample_population("market", 1, np.random.default_rng(2))[0]
    a = render_image(person, "market", 1, seed=7)
    b = render_image(person, "market", 1, seed=7)
    c = render_image(person, "market", 2, seed=7)
    d = render_image(person, "cuhk03", 1, seed=7)
    assert a.image.shape == (128, 64, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)
    assert np.abs(a.image.astype(int) - d.image.astype(int)).mean() > 5
    empty = render_image(None, "duke", 3, seed=1)
    assert empty.info["view"] is None
    assert set(np.unique(empty.mask)) <= {0, PART_LABELS["occluder"]}  # no person parts


def test_render_person_front_shows_logo_back_hides_it():
    people = sample_population("market", 80, np.random.default_rng(3))
    person = next(p for p in people if p.logo_shape)
    logo = PART_LABELS["logo"]
    img, m = render_person(person, "front", size=(256, 128))
    assert img.shape == (256, 128, 3) and m.shape == (256, 128)
    assert (m == logo).sum() > 30
    for view in ("back", "side"):
        assert (render_person(person, view)[1] == logo).sum() == 0


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def test_contact_sheet_grid():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = contact_sheet(num_ids=2, cameras=2, domains=["market", "cuhk03", "duke"])
    assert len(fig.axes) == 2 * (2 + 2 + 2)
    assert fig.axes[0].get_title().startswith("market")
    plt.close(fig)
    fig = contact_sheet(num_ids=1, cameras=5, domains=["cuhk03"])  # cuhk03 has 2 cameras
    assert len(fig.axes) == 2
    plt.close(fig)


def test_domain_sheet_reads_disk(world):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = domain_sheet(world / "market", num_ids=3, max_images=4)
    assert len(fig.axes) == 12
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_bad_parameters_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        generate_world(tmp_path, profile="huge")
    with pytest.raises(ValueError, match="unknown synthetic domain 'mars'"):
        generate_world(tmp_path, domains=["market", "mars"])
    with pytest.raises(ValueError, match="num_ids must be >= 1"):
        generate_world(tmp_path, num_ids=-3)
    with pytest.raises(ValueError, match="images_per_id must be >= 2"):
        generate_world(tmp_path, images_per_id=0)
    with pytest.raises(ValueError, match="num_junk must be >= 0"):
        generate_world(tmp_path, num_junk=-1)
    with pytest.raises(ValueError, match="image_size"):
        generate_world(tmp_path, image_size=(-128, 64))
    with pytest.raises(TypeError, match="unknown world option.*num_idz"):
        generate_world(tmp_path, num_idz=3)
    with pytest.raises(TypeError, match="num_ids must be an integer"):
        generate_world(tmp_path, num_ids=2.5)
    with pytest.raises(ValueError, match="num_workers must be >= 1"):
        generate_world(tmp_path, num_workers=0)
    with pytest.raises(ValueError, match="<= 9999"):
        resolve_recipe("quick", num_ids=6000)
    with pytest.raises(ValueError, match="camera must be in 1..2"):
        render_image(None, "cuhk03", 3)
    with pytest.raises(ValueError, match="unknown view 'top'"):
        render_person(sample_population("market", 1, np.random.default_rng(0))[0], "top")
    with pytest.raises(ValueError, match="unknown synthetic domain"):
        get_domain("nowhere")
    assert not any(tmp_path.iterdir())  # nothing was written


def test_root_that_is_a_file_or_not_writable(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt"):
        generate_world(f, **SMALL)
    with pytest.raises(PermissionError, match="not writable"):
        generate_world(f / "below", **SMALL)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="the super-user can write into read-only folders")
def test_read_only_root(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            generate_world(ro, **SMALL)
    finally:
        ro.chmod(0o700)


def test_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / "market").mkdir()
    (tmp_path / "market" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a generated synthetic domain"):
        generate_world(tmp_path, domains=["market"], **SMALL)
    assert (tmp_path / "market" / "mine.txt").read_text() == "keep me"


def test_ground_truth_readers_report_missing_and_bad_input(world, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ground_truth(tmp_path / "nope", "query")
    (tmp_path / "plain").mkdir()
    with pytest.raises(FileNotFoundError, match="ground_truth"):
        load_ground_truth(tmp_path / "plain", "query")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        load_ground_truth(world / "market", "val")
    with pytest.raises(ValueError, match="not inside a split folder"):
        load_part_mask(world / "market", "elsewhere/0001_c1s1_000001_01.jpg")
    with pytest.raises(ValueError, match="not a Market1501 image name"):
        load_part_mask(world / "market", "query/cat.jpg")
    with pytest.raises(FileNotFoundError, match="no part mask for image"):
        load_part_mask(world / "market", "query/9999_c1s1_000001_01.jpg")
    # missing and corrupt ground-truth files
    bad = tmp_path / "bad"
    (bad / "ground_truth").mkdir(parents=True)
    (bad / "ground_truth" / "query.jsonl").write_text('{"image": "query/x.jpg"}\n{oops\n')
    with pytest.raises(ValueError, match="corrupt ground-truth file.*line 2"):
        load_ground_truth(bad, "query")
    with pytest.raises(FileNotFoundError, match="bounding_box_train.jsonl"):
        load_ground_truth(bad, "train")  # exists for query only
    with pytest.raises(FileNotFoundError, match="query_masks.npz"):
        load_part_mask(bad, "query/0001_c1s1_000001_01.jpg")
    (bad / "ground_truth" / "query_masks.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt part-mask file"):
        load_part_mask(bad, "query/0001_c1s1_000001_01.jpg")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def script(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    return importlib.import_module("make_synthetic")


def test_make_synthetic_script_prints_statistics(tmp_path, script, capsys):
    code = script.main(["--root", str(tmp_path / "w"), "--domains", "cuhk03", "--num-ids", "5",
                        "--images-per-id", "3", "--num-distractors", "2", "--num-junk", "1",
                        "--quiet"])
    assert code == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.startswith("cuhk03")]
    assert [ln[1] for ln in lines] == list(SPLITS)
    stats = {ln[1]: ln for ln in lines}
    assert stats["bounding_box_train"][2] == "5"  # ids
    assert stats["query"][4] == "2"  # cameras
    assert stats["bounding_box_test"][5] == "2" and stats["bounding_box_test"][6] == "1"
    n_train = len(list((tmp_path / "w" / "cuhk03" / "bounding_box_train").iterdir()))
    assert stats["bounding_box_train"][3] == str(n_train)


def test_make_synthetic_script_reports_bad_arguments(tmp_path, script, capsys):
    assert script.main(["--root", str(tmp_path), "--domains", "mars"]) == 2
    assert "unknown synthetic domain 'mars'" in capsys.readouterr().err
    assert script.main(["--root", str(tmp_path), "--num-ids", "-4"]) == 2
    assert "num_ids must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        script.main(["--root", str(tmp_path), "--profile", "huge"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_make_synthetic_script_takes_every_book_profile(script):
    parser = script.build_parser()
    for name in PROFILE_TABLE:
        assert parser.parse_args(["--root", "w", "--profile", name]).profile == name
    assert re.search(r"paper:\s+cpu", parser.format_help())


def test_make_synthetic_script_runs_standalone():
    h = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                       timeout=120)
    assert h.returncode == 0 and "Market1501" in h.stdout and "--profile" in h.stdout
