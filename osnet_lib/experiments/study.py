"""Studies as data: arms x seeds trained with one recipe, and the runs they resolve into.

Every experiment of part II of the book has one shape (DESIGN, "Part II: experiments as
data"): *arms* (a model and its options) trained over several *seeds* with one recipe on a
source dataset and evaluated on target datasets, then compared by a :class:`~osnet_lib.
experiments.claims.Claim`. A :class:`Study` says all of that in a few lines; :meth:`Study.runs`
resolves it, at a profile, into :class:`RunSpec` s, one per (arm, seed), each with the exact
recipe, model options and datasets it trains with and a :func:`fingerprint` that says when a
stored result of that run is still valid.

Datasets are named by the *domain* they stand for (``market``, ``duke``, ``msmt``, ``cuhk03``):
under the ``quick`` and ``cpu`` profiles that is a domain of the synthetic world (its size from
the profile table, :data:`osnet_lib.recipes.PROFILE_TABLE`), under ``paper`` the real dataset it
stands in for (:data:`REAL_DATASETS`).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from osnet_lib.backbones import BACKBONES, check_width, matched_width
from osnet_lib.blocks import BlockOptions
from osnet_lib.models import OUTPUT_STRIDE, get_model_spec, model_name, parse_model_name
from osnet_lib.recipes import Recipe, check_profile, get_profile, get_recipe, list_recipes

#: The real dataset each synthetic domain stands in for (Table 2), used under ``paper``.
REAL_DATASETS: Mapping[str, str] = MappingProxyType({
    "market": "market1501", "duke": "dukemtmcreid", "msmt": "msmt17", "cuhk03": "cuhk03",
})
#: What an arm can be: trained with the engine's Trainer, or searched (Sec. 3.3).
KINDS = ("train", "search")
#: Model options an arm may set besides the OS block's (Table 5, Fig. 5).
_MODEL_OPTIONS = frozenset({"genotype", "feature_dim"}) | frozenset(BlockOptions.field_names())
#: Options of a torchvision baseline arm (:mod:`osnet_lib.backbones`).
_BACKBONE_OPTIONS = frozenset({"width_mult", "feature_dim"})
#: A baseline's ``width_mult`` that means "as many parameters as the profile's OSNet".
MATCHED = "matched"
#: The smallest input (height, width) an arm's ``gamma`` may give: the network down-samples by
#: its output stride (16, Table 1), so each side needs at least that many pixels.
MIN_INPUT = (OUTPUT_STRIDE, OUTPUT_STRIDE)
#: The library's modules whose code shapes what a run computes; their hash is part of every
#: run's fingerprint (the synthetic world is covered by its own recipe instead).
CODE_MODULES = ("layers.py", "blocks.py", "models.py", "engine.py", "search.py", "metrics.py",
                "recipes.py", "weights.py", "data", "backbones.py")


@dataclass(frozen=True)
class Arm:
    """One arm of a study: a model of the registry with options, trained (or searched) over
    the study's seeds.

    Attributes:
        name: the arm's name in the store and in tables (letters, digits, ``_``, ``-``, ``.``).
        model: the registry family (``"osnet"``, ``"osnet_ibn"``, ``"osnet_ain"``); the width
            comes from the profile's recipe (``x0_25`` under ``cpu``, ``x1_0`` under ``paper``).
            Or a torchvision baseline of Table 3 (a key of
            :data:`osnet_lib.backbones.BACKBONES`) with options ``width_mult`` (a width of its
            family, or :data:`MATCHED`: as many parameters as the profile's OSNet) and
            ``feature_dim``.
        options: model options: the fields of :class:`~osnet_lib.blocks.BlockOptions`
            (``T=1``, ``fusion="concat"``...), ``genotype`` or ``feature_dim``.
        recipe: overrides of the study's recipe fields (e.g. ``{"epochs": 20}``).
        recipe_name: another named recipe for this arm (the search arm uses ``"search"``).
        kind: ``"train"`` or ``"search"`` (a :class:`~osnet_lib.search.SearchTrainer`).
        seeds: this arm's seeds instead of the study's.
        targets: this arm's evaluation domains instead of the study's.
        genotype_from: the name of a search arm of the same study: this arm trains the genotype
            that search selected (Sec. 3.4: the best of its seeds on ``select_on``) and waits
            for all of that arm's runs.
        select_on: with ``kind="search"``, the held-out domain its seeds are selected on.
        label: how tables and figures name the arm (default: ``name``).
        beta: the width multiplier of Sec. 3.4 (Table 6), a key of
            :data:`osnet_lib.models.WIDTHS` as a number (1.0, 0.75, 0.5, 0.25): the arm's model
            at that width at every profile, in place of the profile's width.
        gamma: the resolution multiplier of Sec. 3.4 (Table 6): the arm's input is the
            profile's recipe input (256x128 under ``paper``, 128x64 under ``cpu``) times
            ``gamma``, rounded to whole pixels; it must stay at least
            :data:`MIN_INPUT` on each side (the network's output stride).
    """

    name: str
    model: str = "osnet"
    options: Mapping[str, Any] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    recipe_name: str | None = None
    kind: str = "train"
    seeds: tuple[int, ...] | None = None
    targets: tuple[str, ...] | None = None
    genotype_from: str | None = None
    select_on: str | None = None
    label: str | None = None
    beta: float | None = None
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "_-." for c in self.name):
            raise ValueError(f"arm name {self.name!r} must be letters, digits, '_', '-' or '.'")
        if self.kind not in KINDS:
            raise ValueError(f"arm {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.model in BACKBONES:
            self._check_backbone()
        else:
            model_name(self.model, "x1_0")  # an unknown family raises, naming the close ones
            unknown = sorted(set(self.options) - _MODEL_OPTIONS)
            if unknown:
                raise ValueError(f"arm {self.name!r}: unknown model option(s) {unknown}; "
                                 f"valid: {sorted(_MODEL_OPTIONS)}")
            BlockOptions(**{k: v for k, v in self.options.items()
                            if k in BlockOptions.field_names()})
        valid = {f.name for f in dataclasses.fields(Recipe)} - {"name", "profile", "model"}
        bad = sorted(set(self.recipe) - valid)
        if bad:
            raise ValueError(f"arm {self.name!r}: unknown recipe field(s) {bad}; valid: "
                             f"{sorted(valid)}")
        if self.recipe_name is not None and self.recipe_name not in list_recipes():
            raise ValueError(f"arm {self.name!r}: unknown recipe {self.recipe_name!r}; valid: "
                             f"{list_recipes()}")
        if self.seeds is not None:
            object.__setattr__(self, "seeds", _check_seeds(self.seeds, f"arm {self.name!r}"))
        if self.targets is not None:
            object.__setattr__(self, "targets", tuple(self.targets))
        if self.beta is not None:
            model_name(self.model, self.beta)  # an unregistered width raises, naming the valid
        if (isinstance(self.gamma, bool) or not isinstance(self.gamma, (int, float))
                or not 0 < self.gamma <= 1):
            raise ValueError(f"arm {self.name!r}: gamma (the resolution multiplier) must be a "
                             f"number in (0, 1], got {self.gamma!r}")
        clash = sorted({"height", "width"} & set(self.recipe))
        if clash and self.gamma != 1.0:
            raise ValueError(f"arm {self.name!r}: give either gamma or the recipe's {clash}")
        if self.kind == "search" and self.genotype_from:
            raise ValueError(f"arm {self.name!r}: a search arm cannot take a searched genotype")
        if self.genotype_from and "genotype" in self.options:
            raise ValueError(f"arm {self.name!r}: give either a genotype or genotype_from")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "recipe", MappingProxyType(dict(self.recipe)))

    def _check_backbone(self) -> None:
        """A torchvision baseline (Table 3) takes only ``width_mult`` (a width of its family,
        or :data:`MATCHED`) and ``feature_dim``, and is trained, never searched."""
        unknown = sorted(set(self.options) - _BACKBONE_OPTIONS)
        if unknown:
            raise ValueError(f"arm {self.name!r}: unknown option(s) {unknown} for the "
                             f"{self.model} baseline; valid: {sorted(_BACKBONE_OPTIONS)}")
        width = self.options.get("width_mult", 1.0)
        if width != MATCHED:
            try:
                check_width(self.model, width)
            except ValueError as e:
                raise ValueError(f"arm {self.name!r}: {e} or {MATCHED!r}") from None
        if self.beta is not None or self.kind != "train" or self.genotype_from:
            raise ValueError(f"arm {self.name!r}: the {self.model} baseline is trained as it "
                             "is (no beta, search or genotype; its width is width_mult)")

    @property
    def title(self) -> str:
        return self.label or self.name


def _check_seeds(seeds: Sequence[int], what: str) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError(f"{what}: give at least one seed")
    for s in seeds:
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ValueError(f"{what}: seeds must be non-negative integers, got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{what}: seeds {seeds} repeat")
    return seeds


@dataclass(frozen=True)
class Study:
    """A set of arms trained over seeds with one recipe: one experiment of the paper.

    Attributes:
        name: the study's name (the store's folder and the CLI's argument).
        reproduces: the paper element it reproduces, e.g. ``"Table 5"``.
        arms: the arms, with unique names.
        recipe: the named recipe (:func:`osnet_lib.recipes.get_recipe`) at the run's profile.
        source: the training domain (``"market"``, ``"duke"``, ``"msmt"``, ``"cuhk03"``).
        targets: evaluation domains (default: the source's own query and gallery).
        seeds: the seeds of every arm that does not set its own.
        recipe_overrides: recipe fields changed for every arm.
        epoch_scale: a factor on the epochs of the recipe at every profile (and on its
            milestones), e.g. 0.5 to ask whether an effect needs the whole schedule.
        world: the kind of synthetic world its domains come from under ``quick`` and ``cpu``
            (``default``, ``omni``, ``control``: :data:`osnet_lib.synthetic.WORLD_KINDS`).
        description: a sentence for ``study list`` and the chapters.
    """

    name: str
    reproduces: str
    arms: tuple[Arm, ...]
    recipe: str = "scratch"
    source: str = "market"
    targets: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2)
    recipe_overrides: Mapping[str, Any] = field(default_factory=dict)
    epoch_scale: float = 1.0
    world: str = "default"
    description: str = ""

    def __post_init__(self) -> None:
        from osnet_lib.synthetic import check_kind

        check_kind(self.world)
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ValueError(f"study name {self.name!r} must be letters, digits, '_' or '-'")
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "targets", tuple(self.targets) or (self.source,))
        object.__setattr__(self, "seeds", _check_seeds(self.seeds, f"study {self.name!r}"))
        object.__setattr__(self, "recipe_overrides", MappingProxyType(dict(self.recipe_overrides)))
        if (isinstance(self.epoch_scale, bool) or not isinstance(self.epoch_scale, (int, float))
                or not 0 < self.epoch_scale <= 10):
            raise ValueError(f"study {self.name!r}: epoch_scale must be a number in (0, 10], "
                             f"got {self.epoch_scale!r}")
        if self.recipe not in list_recipes():
            raise ValueError(f"study {self.name!r}: unknown recipe {self.recipe!r}; valid: "
                             f"{list_recipes()}")
        names = [a.name for a in self.arms]
        if not names:
            raise ValueError(f"study {self.name!r} has no arms")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"study {self.name!r}: arm names {dup} repeat")
        arm_targets = [t for a in self.arms for t in a.targets or ()]
        for domain in (self.source, *self.targets, *arm_targets):
            _check_domain(domain)
        for arm in self.arms:
            if arm.genotype_from is not None:
                src = self.arm(arm.genotype_from)
                if src.kind != "search":
                    raise ValueError(f"arm {arm.name!r} takes its genotype from "
                                     f"{arm.genotype_from!r}, which is not a search arm")
            if arm.kind == "search":
                if arm.select_on is None:
                    raise ValueError(f"search arm {arm.name!r} needs select_on, the held-out "
                                     "domain its seeds are selected on (Sec. 3.4)")
                if arm.select_on not in (arm.targets or self.targets):
                    raise ValueError(f"search arm {arm.name!r}: select_on={arm.select_on!r} "
                                     f"must be one of its targets {arm.targets or self.targets}")

    # -- lookup ------------------------------------------------------------------------------
    def arm(self, name: str) -> Arm:
        """The arm called ``name`` (ValueError listing the arms otherwise)."""
        for a in self.arms:
            if a.name == name:
                return a
        raise ValueError(f"study {self.name!r} has no arm {name!r}; its arms: "
                         f"{[a.name for a in self.arms]}")

    def seeds_of(self, arm: Arm, profile: str) -> tuple[int, ...]:
        """The seeds ``arm`` runs at ``profile`` (the profile may cap them: ``quick`` runs a
        tiny version of every study)."""
        seeds = arm.seeds or self.seeds
        cap = get_profile(profile).study_seeds
        return seeds[:cap] if cap else seeds

    # -- resolution --------------------------------------------------------------------------
    def runs(self, profile: str, arms: Sequence[str] | None = None,
             seeds: Sequence[int] | None = None) -> list[RunSpec]:
        """The runs of this study at ``profile``: one :class:`RunSpec` per (arm, seed), in arm
        order. ``arms`` and ``seeds`` select a subset (unknown names raise a ValueError); an arm
        that waits for a search arm brings that arm's runs along."""
        check_profile(profile)
        chosen = [self.arm(a) for a in arms] if arms else list(self.arms)
        for arm in list(chosen):
            if arm.genotype_from and self.arm(arm.genotype_from) not in chosen:
                chosen.insert(0, self.arm(arm.genotype_from))
        if seeds is not None:
            seeds = _check_seeds(seeds, "--seeds")
        out = []
        for arm in chosen:
            arm_seeds = self.seeds_of(arm, profile)
            if seeds is not None and arm.kind != "search":
                arm_seeds = tuple(seeds)  # a search arm keeps all its seeds: it selects among them
            for seed in arm_seeds:
                out.append(RunSpec(self.name, arm.name, seed, profile, self._recipe(arm, profile),
                                   self._model_options(arm, profile), self.source,
                                   arm.targets or self.targets, arm.kind, arm.genotype_from,
                                   arm.select_on, self.world))
        return out

    def _model_options(self, arm: Arm, profile: str) -> dict[str, Any]:
        """The arm's model options at ``profile``: a baseline's ``width_mult="matched"``
        becomes the width at which it has as many parameters as the profile's OSNet
        (Table 3's MobileNetV2 "of the same size")."""
        options = dict(arm.options)
        if options.get("width_mult") == MATCHED:
            osnet = get_recipe(arm.recipe_name or self.recipe, profile).model
            options["width_mult"] = matched_width(arm.model, get_model_spec(osnet).params)
        return options

    def _recipe(self, arm: Arm, profile: str) -> Recipe:
        recipe = get_recipe(arm.recipe_name or self.recipe, profile)
        overrides = {**self.recipe_overrides, **arm.recipe}
        if arm.model in BACKBONES:
            overrides["model"] = arm.model
        else:
            width = arm.beta if arm.beta is not None else parse_model_name(recipe.model).width
            overrides["model"] = model_name(arm.model, width)
        if arm.gamma != 1.0:
            size = (round(recipe.height * arm.gamma), round(recipe.width * arm.gamma))
            if size[0] < MIN_INPUT[0] or size[1] < MIN_INPUT[1]:
                raise ValueError(
                    f"study {self.name!r}, arm {arm.name!r}: gamma={arm.gamma} turns the "
                    f"{profile} input {recipe.height}x{recipe.width} into {size[0]}x{size[1]}, "
                    f"smaller than {MIN_INPUT[0]}x{MIN_INPUT[1]} (the network down-samples by "
                    f"{OUTPUT_STRIDE}); "
                    f"run this arm at a larger profile")
            overrides["height"], overrides["width"] = size
        recipe = recipe.replace(**overrides)
        if self.epoch_scale != 1.0:
            epochs = max(1, round(recipe.epochs * self.epoch_scale))
            recipe = recipe.replace(epochs=epochs, milestones=tuple(sorted(
                {m2 for m in recipe.milestones if (m2 := max(1, round(m * self.epoch_scale)))
                 < epochs})))
        # The classifier-only phase of fine-tuning (Sec. 4.1) warms a new classifier on top of
        # pretrained features; training from scratch, there are no features to keep.
        if not recipe.pretrained and recipe.fixbase_epochs:
            recipe = recipe.replace(fixbase_epochs=0)
        return recipe


def _check_domain(domain: str) -> None:
    if domain not in REAL_DATASETS:
        raise ValueError(f"unknown domain {domain!r}; valid domains: {list(REAL_DATASETS)}")


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: an arm trained with one seed. Its folder in a store is
    ``<profile>/<study>/<arm>/seed<seed>``."""

    study: str
    arm: str
    seed: int
    profile: str
    recipe: Recipe
    model_options: dict[str, Any]
    source: str
    targets: tuple[str, ...]
    kind: str = "train"
    genotype_from: str | None = None
    select_on: str | None = None
    world: str = "default"

    @property
    def key(self) -> str:
        """``<arm>/seed<k>``, the run's place inside its study."""
        return f"{self.arm}/seed{self.seed}"

    def with_options(self, **options: Any) -> RunSpec:
        return dataclasses.replace(self, model_options={**self.model_options, **options})

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "arm": self.arm, "seed": self.seed, "profile": self.profile,
                "kind": self.kind, "recipe": self.recipe.to_dict(),
                "model_options": self.model_options, "source": self.source,
                "targets": list(self.targets), "genotype_from": self.genotype_from,
                "select_on": self.select_on, "world": self.world}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSpec:
        d = dict(d)
        d["recipe"] = Recipe.from_dict(d["recipe"])
        d["targets"] = tuple(d["targets"])
        return cls(**d)


# -- data --------------------------------------------------------------------------------------
def dataset_ref(domain: str, profile: str, kind: str = "default") -> tuple[str, dict[str, Any]]:
    """The dataset a domain means at ``profile``: ``("synthetic", {"domain": ..., "world":
    <size>, "kind": kind})`` under ``quick`` and ``cpu``, the real dataset
    (:data:`REAL_DATASETS`) under ``paper``."""
    _check_domain(domain)
    if profile == "paper":
        return REAL_DATASETS[domain], {}
    return "synthetic", {"domain": domain, "world": get_profile(profile).world, "kind": kind}


@cache
def _world_recipe_hash(world: str, kind: str) -> str:
    from osnet_lib.synthetic import resolve_recipe

    return _digest(resolve_recipe(world, 0, kind=kind))


def data_fingerprint(domain: str, profile: str, data_root: str | Path | None = None,
                     kind: str = "default") -> str:
    """What identifies the data of ``domain`` at ``profile``: the synthetic world's recipe
    (size, kind, seed, domain parameters: the files are a deterministic function of it), or the
    real dataset's name and the size of each split (which needs ``data_root``)."""
    name, options = dataset_ref(domain, profile, kind)
    if name == "synthetic":
        size = options["world"]
        return f"synthetic:{size}:{kind}:{domain}:{_world_recipe_hash(size, kind)}"
    if data_root is None:
        raise ValueError(f"the {name} dataset needs a data root (--data-root)")
    from osnet_lib.data import build_dataset

    ds = build_dataset(name, data_root)
    sizes = [len(ds.train), len(ds.query), len(ds.gallery), ds.num_train_pids]
    return f"{name}:" + ":".join(str(n) for n in sizes)


# -- fingerprints ------------------------------------------------------------------------------
def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list) or not body:
            continue
        first = body[0]
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return tree


@cache
def code_fingerprint() -> str:
    """A hash of the code of :data:`CODE_MODULES`, read as syntax trees without docstrings
    and comments: editing documentation keeps stored runs valid, changing code does not."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for name in CODE_MODULES:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            tree = _strip_docstrings(ast.parse(f.read_text(encoding="utf-8")))
            h.update(f.relative_to(root).as_posix().encode())
            h.update(ast.dump(tree).encode())
    return h.hexdigest()[:16]


#: Versions of the code of :data:`CODE_MODULES` declared to compute exactly what a later version
#: computes: ``{older hash: (newer hash, the evidence)}``. A change that provably alters no
#: computation of a stored run (a model family added beside OSNet, a method moved unchanged)
#: is declared here, reviewed like any code, so that the store keeps its runs; every other change
#: of those modules makes them stale. Documentation edits never change the hash.
EQUIVALENT_CODE: Mapping[str, tuple[str, str]] = MappingProxyType({
    "bc498518deaa23df": (
        "b13f134f787bbb0f",
        "Table 3's torchvision baselines added (backbones.py, build_model, check_model_name); "
        "OSNet's forward API moved unchanged into a base class, its fc into embedding_head: "
        "every registered OSNet and every Table 5 variant builds bit-identical weights "
        "(tests/test_models.py::test_osnet_builds_as_before_the_baselines_came)"),
})


def same_code(stored: str, current: str) -> bool:
    """Whether a run made with code version ``stored`` is valid for ``current``: the same hash,
    or a chain of :data:`EQUIVALENT_CODE` declarations leading to it."""
    seen = set()
    while stored != current and stored in EQUIVALENT_CODE and stored not in seen:
        seen.add(stored)
        stored = EQUIVALENT_CODE[stored][0]
    return stored == current


def fingerprint_changes(stored: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The parts of a stored run's fingerprint that differ from ``current`` (empty: the run is
    valid), the code compared with :func:`same_code`."""
    return sorted(k for k in current if stored.get(k) != current[k]
                  and not (k == "code" and same_code(str(stored.get(k)), current[k])))


def fingerprint(spec: RunSpec, data_root: str | Path | None = None) -> dict[str, str]:
    """Everything a stored run's validity depends on, as short hashes: the recipe, the model
    and its options, the seed, the data of its source and targets, and the code
    (:func:`code_fingerprint`). A run whose fingerprint differs from the stored one is
    *stale*."""
    recipe = spec.recipe.to_dict()
    recipe.pop("notes", None)
    return {
        "recipe": _digest(recipe),
        "model": _digest([spec.recipe.model, spec.kind, spec.model_options]),
        "seed": str(spec.seed),
        "data": _digest([data_fingerprint(d, spec.profile, data_root, spec.world)
                         for d in (spec.source, *spec.targets)]),
        "code": code_fingerprint(),
    }


__all__ = ["Arm", "CODE_MODULES", "EQUIVALENT_CODE", "KINDS", "MATCHED", "MIN_INPUT",
           "REAL_DATASETS", "RunSpec", "Study", "same_code", "fingerprint_changes",
           "code_fingerprint", "data_fingerprint", "dataset_ref", "fingerprint"]
