"""Kinds of synthetic world (``default``, ``omni``, ``control``): recipe, folders, determinism,
the properties the design states (book/worlds.md) and the colour calibration, at the quick size."""

import importlib
import json
from collections import Counter, defaultdict
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_hash
from PIL import Image

from osnet_lib.baselines import ColourHistogram, histogram_distance
from osnet_lib.synthetic import (
    CONTROL_CUE,
    GLOBAL_CUES,
    OMNI_CODE,
    OMNI_PERIODS,
    OMNI_SHAPES,
    PART_LABELS,
    SPLITS,
    WORLD_KINDS,
    WORLD_SIZES,
    contact_sheet,
    generate_world,
    list_domains,
    load_ground_truth,
    load_part_masks,
    render_image,
    render_person,
    resolve_recipe,
    sample_population,
    world_folder_name,
)
from osnet_lib.synthetic.calibration import calibrate_world

SCRIPT_DIR = Path(__file__).resolve().parents[1] / "data_scripts"
QUICK_WORLD_JSON = Path(__file__).resolve().parent / "fixtures" / "synthetic_quick_seed0_world.json"
SMALL = {"num_ids": 6, "images_per_id": 4, "num_distractors": 4, "num_junk": 2}
#: What the omni code varies; every other field is shared by a family.
OMNI_VARIED = ("stripe_period", "logo_shape", "back_mark")
BOOKKEEPING = ("key", "family", "varied_cue")




@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    """The quick world of each kind, seed 0, all four domains, in its own folder."""
    base = tmp_path_factory.mktemp("kinds")
    return {k: generate_world(base / world_folder_name("quick", k), profile="quick", seed=0,
                              kind=k, progress=False) for k in WORLD_KINDS}


@pytest.fixture(scope="module")
def calibration(worlds) -> dict[str, dict]:
    return {k: calibrate_world(root) for k, root in worlds.items()}


def families(people) -> dict[int, list]:
    out = defaultdict(list)
    for p in people:
        out[p.family].append(p)
    return out


# ---------------------------------------------------------------------------------------------
# Recipe, folders, determinism
# ---------------------------------------------------------------------------------------------


def test_default_world_is_unchanged(worlds):
    """The default kind writes the world it wrote before kinds existed, and leaves the recipe
    (hence every fingerprint made from it) without a "kind" key."""
    assert (worlds["default"] / "world.json").read_bytes() == QUICK_WORLD_JSON.read_bytes()
    assert "kind" not in resolve_recipe("quick") and "kind" not in resolve_recipe("cpu")
    assert resolve_recipe("cpu", kind="default") == resolve_recipe("cpu")


def test_recipe_records_the_kind(worlds):
    recipes = {k: resolve_recipe("cpu", 0, kind=k) for k in WORLD_KINDS}
    for k in ("omni", "control"):
        assert recipes[k]["kind"] == k
        rest = {key: v for key, v in recipes[k].items() if key != "kind"}
        assert rest == recipes["default"]  # the kind is the only difference
        w = json.loads((worlds[k] / "world.json").read_text())
        assert w["recipe"] == resolve_recipe("quick", 0, kind=k)
        for d in list_domains():
            dom = json.loads((worlds[k] / d / "ground_truth" / "domain.json").read_text())
            assert dom["recipe"]["kind"] == k
    digests = {json.dumps(r, sort_keys=True) for r in recipes.values()}
    assert len(digests) == len(WORLD_KINDS)


def test_world_folders_do_not_collide():
    names = {(s, k): world_folder_name(s, k) for s in WORLD_SIZES for k in WORLD_KINDS}
    assert len(set(names.values())) == len(names)
    assert world_folder_name("cpu") == "synthetic-cpu"
    assert world_folder_name("cpu", "omni") == "synthetic-cpu-omni"
    assert world_folder_name("quick", "control") == "synthetic-quick-control"
    with pytest.raises(ValueError, match="unknown world size 'huge'"):
        world_folder_name("huge", "omni")


@pytest.mark.parametrize("kind", ["omni", "control"])
def test_same_seed_same_files_other_seed_differs(tmp_path, kind):
    a = generate_world(tmp_path / "a", seed=4, domains=["duke"], kind=kind, progress=False,
                       **SMALL)
    b = generate_world(tmp_path / "b", seed=4, domains=["duke"], kind=kind, progress=False,
                       **SMALL)
    c = generate_world(tmp_path / "c", seed=5, domains=["duke"], kind=kind, progress=False,
                       **SMALL)
    assert tree_hash(a) == tree_hash(b) != tree_hash(c)


def test_changing_the_kind_regenerates_the_domain(tmp_path):
    root = tmp_path / "w"
    generate_world(root, domains=["cuhk03"], progress=False, **SMALL)
    before = load_ground_truth(root / "cuhk03", "query")
    generate_world(root, domains=["cuhk03"], kind="omni", progress=False, **SMALL)
    after = load_ground_truth(root / "cuhk03", "query")
    assert all("back_mark" not in r["attributes"] for r in before)
    assert all(r["attributes"]["back_mark"] in OMNI_SHAPES for r in after)
    assert json.loads((root / "world.json").read_text())["recipe"]["kind"] == "omni"


def test_bad_kinds_are_refused_by_name(tmp_path):
    msg = r"unknown world kind 'omnii'; valid kinds: \['default', 'omni', 'control'\]"
    with pytest.raises(ValueError, match=msg):
        resolve_recipe("quick", kind="omnii")
    with pytest.raises(ValueError, match=msg):
        generate_world(tmp_path / "w", kind="omnii", progress=False)
    assert not (tmp_path / "w").exists()  # refused before any work
    with pytest.raises(ValueError, match=msg):
        sample_population("market", 4, np.random.default_rng(0), kind="omnii")
    with pytest.raises(ValueError, match=msg):
        world_folder_name("cpu", "omnii")
    with pytest.raises(TypeError, match="world kind must be a string"):
        resolve_recipe("quick", kind=None)


def test_make_synthetic_script_takes_the_kind(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(SCRIPT_DIR))
    script = importlib.import_module("make_synthetic")
    out = tmp_path / "cal.json"
    sheet = tmp_path / "sheet.png"
    assert script.main(["--root", str(tmp_path / "w"), "--kind", "omni", "--domains", "cuhk03",
                        "--num-ids", "8", "--images-per-id", "4", "--quiet",
                        "--calibrate", str(out), "--contact-sheet", str(sheet)]) == 0
    text = capsys.readouterr().out
    assert "kind omni" in text and "colour baseline cuhk03" in text
    with Image.open(sheet) as im:  # 8 people x 2 cameras x 3 views, about 64 pixels a cell
        assert im.mode == "P" and 300 < im.size[0] < 600 and im.size[1] > 2 * im.size[0]
    w = json.loads((tmp_path / "w" / "world.json").read_text())
    assert w["recipe"]["kind"] == "omni"
    cal = json.loads(out.read_text())
    assert cal["kind"] == "omni" and set(cal["domains"]) == {"cuhk03"}
    with pytest.raises(SystemExit) as e:
        script.main(["--root", str(tmp_path / "x"), "--kind", "blobs"])
    assert e.value.code == 2 and "invalid choice: 'blobs'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The omni world's stated properties
# ---------------------------------------------------------------------------------------------


def test_omni_families_share_every_colour_and_differ_by_the_code():
    people = sample_population("market", 400, np.random.default_rng(2), kind="omni")
    fams = families(people)
    assert len(fams) == 100 and all(len(f) == len(OMNI_CODE) for f in fams.values())
    assert len({p.signature() for p in people}) == len(people)
    for fam in fams.values():
        shared = [{k: v for k, v in p.attributes().items() if k not in OMNI_VARIED + BOOKKEEPING}
                  for p in fam]
        assert all(s == shared[0] for s in shared)  # every colour and every global cue
        assert set(GLOBAL_CUES) <= set(shared[0])
        assert fam[0].upper_pattern != "plain" and fam[0].logo_colour is not None
        codes = [tuple(getattr(p, c) for c in OMNI_VARIED) for p in fam]
        for cue in range(3):  # no single cue identifies a member: each value worn twice
            assert sorted(Counter(c[cue] for c in codes).values()) == [2, 2]
        for pair in combinations(range(3), 2):  # any two cues do
            assert len({tuple(c[i] for i in pair) for c in codes}) == len(fam)
        for a, b in combinations(codes, 2):
            assert sum(x != y for x, y in zip(a, b)) == 2


def test_omni_small_cues_are_shared_across_families():
    people = sample_population("duke", 400, np.random.default_rng(3), kind="omni")
    fams = families(people)
    for field, vocabulary in (("logo_shape", OMNI_SHAPES), ("back_mark", OMNI_SHAPES),
                              ("stripe_period", OMNI_PERIODS)):
        used_by = defaultdict(set)
        for p in people:
            used_by[getattr(p, field)].add(p.family)
        assert set(used_by) == set(vocabulary)
        assert min(len(f) for f in used_by.values()) >= len(fams) // 3
    # a logo shape sits on many different garments: alone it identifies nobody
    garments = defaultdict(set)
    for p in people:
        garments[p.logo_shape].add((p.upper_colour, p.upper_colour2, p.lower_colour))
    assert min(len(g) for g in garments.values()) >= 30


def test_omni_cues_show_only_from_their_views():
    """The chest logo shows from the front only, the back print from behind only, neither from
    the side; the stripe period shows from every view."""
    person = sample_population("market", 4, np.random.default_rng(0), kind="omni")[0]
    other_logo = next(s for s in OMNI_SHAPES if s != person.logo_shape)
    other_back = next(s for s in OMNI_SHAPES if s != person.back_mark)
    other_period = next(p for p in OMNI_PERIODS if p != person.stripe_period)

    def same(a, b, view):
        return np.array_equal(render_person(a, view)[0], render_person(b, view)[0])

    new_logo = replace(person, logo_shape=other_logo)
    new_back = replace(person, back_mark=other_back)
    new_period = replace(person, stripe_period=other_period)
    assert not same(person, new_logo, "front")
    assert same(person, new_logo, "back") and same(person, new_logo, "side")
    assert not same(person, new_back, "back")
    assert same(person, new_back, "front") and same(person, new_back, "side")
    for view in ("front", "back", "side"):
        assert not same(person, new_period, view)


def test_omni_world_prints_follow_the_views(worlds):
    logo = PART_LABELS["logo"]
    shown = Counter()
    for d in list_domains():
        ddir = worlds["omni"] / d
        for split in SPLITS:
            recs = load_ground_truth(ddir, split)
            _, masks = load_part_masks(ddir, split)
            for r in recs:
                if r["kind"] != "identity":
                    continue
                assert r["attributes"]["logo_shape"] in OMNI_SHAPES
                if (masks[r["mask_index"]] == logo).any():
                    shown[r["view"]] += 1
    assert shown["side"] == 0 and shown["front"] > 50 and shown["back"] > 50


def test_a_colour_statistic_cannot_separate_omni_family_members():
    """Rendered under identical conditions, family members' colour histograms are much closer to
    each other than to any other family's (and the members differ only in shape and scale)."""
    people = sample_population("market", 40, np.random.default_rng(3), kind="omni")
    fam = np.array([p.family for p in people])
    same = (fam[:, None] == fam[None, :]) & ~np.eye(len(people), dtype=bool)
    other = fam[:, None] != fam[None, :]
    for view in ("front", "back", "side"):
        images = np.stack([render_image(p, "market", 1, view=view, seed=5).image for p in people])
        f = ColourHistogram()(images)
        d = histogram_distance(f, f)
        assert d[same].max() < d[other].min()
        assert np.median(d[same]) < 0.3 * np.median(d[other])


# ---------------------------------------------------------------------------------------------
# The control world
# ---------------------------------------------------------------------------------------------


def test_control_identity_is_one_garment_combination():
    people = sample_population("msmt", 1000, np.random.default_rng(4), kind="control")
    combos = [tuple(getattr(p, c) for c in CONTROL_CUE) for p in people]
    assert len(set(combos)) == len(people)
    assert len({p.family for p in people}) == len(people)
    for p in people:
        assert p.upper_pattern == "plain" and p.logo_shape is None and p.hat is None
        assert not p.glasses and p.bag == "none" and p.back_mark is None and p.shoes == "black"
    # each colour on its own is worn by many identities: it is the combination that decides
    assert min(Counter(p.upper_colour for p in people).values()) >= 10
    with pytest.raises(ValueError, match="at most 2166 distinct garment combinations"):
        sample_population("msmt", 2200, np.random.default_rng(0), kind="control")
    with pytest.raises(ValueError, match="msmt: a control world has at most 2166"):
        resolve_recipe("quick", domains=["msmt"], kind="control", num_train_ids=2200)


# ---------------------------------------------------------------------------------------------
# Calibration and contact sheets
# ---------------------------------------------------------------------------------------------


def test_colour_baseline_is_far_lower_on_omni_than_on_control(calibration):
    for d in list_domains():
        omni = calibration["omni"]["domains"][d]["colour_baseline"]
        control = calibration["control"]["domains"][d]["colour_baseline"]
        assert 0.0 < omni["rank1"] < 0.2 and 0.0 < omni["mAP"] < 0.2
        assert control["rank1"] > omni["rank1"] + 0.1
        fam = calibration["omni"]["domains"][d]["family_colour"]
        assert fam["num_members"] == 20 and 0.0 < fam["member_chance"] < 0.5
        assert fam["within_family"] < fam["between"]
        assert calibration["control"]["domains"][d]["family_colour"]["num_members"] == 0
    # within a family and across cameras, colour ranks the true member first no more often
    # than a random ranking does, whether it sees the whole image or the person's pixels only
    for key in ("family_colour", "family_colour_person"):
        fams = [calibration["omni"]["domains"][d][key] for d in list_domains()]
        rank1 = np.mean([f["member_rank1"] for f in fams])
        chance = np.mean([f["member_chance"] for f in fams])
        assert rank1 < chance + 0.05
    # on the person's pixels, members' mean histograms are near each other and nearer than
    # anyone else's
    fams = [calibration["omni"]["domains"][d]["family_colour_person"] for d in list_domains()]
    assert all(f["within_family"] < 0.6 * f["between"] for f in fams)
    assert np.mean([f["closer_within"] for f in fams]) > 0.8


def test_contact_sheet_shows_views_and_kinds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = contact_sheet(num_ids=4, cameras=2, domains=["market"], kind="omni",
                        views=["front", "back", "side"])
    assert len(fig.axes) == 4 * 2 * 3
    assert fig.axes[2].get_title().endswith("side")
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown view 'top'"):
        contact_sheet(num_ids=1, domains=["market"], views=["top"])
