"""Recipes as data (Sec. 4.1, 4.2) and their profiles."""

import pytest

from osnet_lib.models import parse_model_name
from osnet_lib.paper import RECIPES as PAPER
from osnet_lib.recipes import PROFILE_TABLE, Recipe, get_recipe, list_recipes


@pytest.mark.parametrize("name", ["scratch", "finetune", "search"])
def test_paper_profile_is_the_paper_recipe(name):
    r = get_recipe(name, "paper")
    for key, value in PAPER[name].items():
        if key == "input_size":
            assert (r.height, r.width) == value
        elif key == "mc_samples":
            assert r.mc_samples == value
        else:
            assert getattr(r, key) == (tuple(value) if isinstance(value, tuple) else value), key
    assert r.label_smoothing == 0.1


def test_cross_domain_recipe_of_sec_4_2():
    r = get_recipe("cross_domain")
    assert (r.epochs, r.optimizer, r.augment) == (100, "amsgrad", ("flip", "color_jitter"))


def test_smaller_profiles_scale_the_schedule():
    paper, cpu, quick = (get_recipe("scratch", p) for p in ("paper", "cpu", "quick"))
    assert cpu.epochs < paper.epochs and quick.epochs < cpu.epochs
    # a step schedule squeezed into a few epochs cuts the rate too early: cosine replaces it
    assert (paper.scheduler, cpu.scheduler, quick.scheduler) == ("multistep", "cosine", "cosine")
    assert cpu.milestones == () == quick.milestones
    assert (cpu.optimizer, cpu.lr, cpu.augment) == (paper.optimizer, paper.lr, paper.augment)
    assert quick.model == "osnet_x0_25"
    assert get_recipe("cross_domain", "cpu").model == "osnet_ain_x0_25"


def test_cpu_epochs_follow_one_rule_for_every_recipe():
    """Each cpu recipe trains the paper's epochs times one factor (cpu scratch / paper scratch),
    rounded: fine-tuning, cross-domain and search are not tuned one by one."""
    factor = get_recipe("scratch", "cpu").epochs / get_recipe("scratch").epochs
    for name in list_recipes():
        assert get_recipe(name, "cpu").epochs == max(1, round(get_recipe(name).epochs * factor))


def test_a_profile_without_a_scheduler_keeps_the_milestones_in_place(monkeypatch):
    import dataclasses

    from osnet_lib import recipes

    cpu = dataclasses.replace(recipes.PROFILE_TABLE["cpu"], scheduler=None)
    monkeypatch.setattr(recipes, "PROFILE_TABLE", {**recipes.PROFILE_TABLE, "cpu": cpu})
    paper, scaled = get_recipe("scratch"), get_recipe("scratch", "cpu")
    assert scaled.scheduler == "multistep" and len(scaled.milestones) == 3
    for m, original in zip(scaled.milestones, paper.milestones, strict=True):
        assert abs(m / scaled.epochs - original / paper.epochs) <= 0.5 / scaled.epochs


def test_a_profile_scales_the_width_and_keeps_the_family():
    """Every recipe at every profile names a registered model of the paper recipe's family,
    at the profile's width (the paper's width where the profile keeps it)."""
    for name in list_recipes():
        paper = parse_model_name(get_recipe(name, "paper").model)
        for profile, p in PROFILE_TABLE.items():
            scaled = parse_model_name(get_recipe(name, profile).model)
            assert scaled.family == paper.family
            assert scaled.width == (p.model_width or paper.width)


def test_temperature_schedule_halves_every_20_epochs_down_to_1_7():
    r = get_recipe("search")
    assert [r.temperature_at(e) for e in (0, 19, 20, 40, 60, 119)] == [10, 10, 5, 2.5, 1.7, 1.7]
    with pytest.raises(ValueError, match="no temperature"):
        get_recipe("scratch").temperature_at(0)


def test_yaml_round_trip_and_overrides(tmp_path):
    r = get_recipe("finetune", "cpu", epochs=7, model="osnet_x0_5")
    r.save(tmp_path / "r.yaml")
    assert Recipe.load(tmp_path / "r.yaml") == r
    assert r.epochs == 7 and r.model == "osnet_x0_5"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"optimizer": "rmsprop"}, "optimizer='rmsprop'"),
        ({"scheduler": "step"}, "scheduler='step'"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": -1.0}, "lr must be positive"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"milestones": (20, 10)}, "milestones"),
        ({"profile": "gpu"}, "unknown profile 'gpu'"),
        ({"eval_backend": "tensorrt"}, "eval_backend='tensorrt' is not one of"),
    ],
)
def test_bad_recipe_fields_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Recipe("scratch", **kwargs)


def test_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="valid recipes"):
        get_recipe("imagenet")
    with pytest.raises(ValueError, match="unknown recipe field"):
        get_recipe("scratch", epoch=3)
    with pytest.raises(FileNotFoundError):
        Recipe.load(tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="YAML mapping"):
        Recipe.load(tmp_path / "list.yaml")
    assert set(list_recipes()) == {"scratch", "finetune", "cross_domain", "search"}


def test_execution_fields_must_be_booleans():
    with pytest.raises(TypeError, match="channels_last must be True or False, got 'yes'"):
        Recipe("scratch", channels_last="yes")
    with pytest.raises(TypeError, match="torch_compile must be True or False, got 1"):
        get_recipe("scratch", "cpu", torch_compile=1)
