"""Training recipes as data: named, versioned, and scaled by profile.

The paper's recipes (Sec. 4.1 and 4.2) are the ``paper`` profile of each name; ``cpu`` and
``quick`` keep the same optimiser, schedule shape and augmentation at a scale a laptop CPU can run
(fewer epochs, with the schedule's milestones scaled in proportion; a smaller model and input).
A run writes the exact recipe it used next to its results (:mod:`osnet_lib.provenance`).

====================  ======================================================================
name                  paper recipe
====================  ======================================================================
``scratch``           SGD, lr 0.065, x0.1 at epochs 150/225/300, 350 epochs, batch 64,
                      weight decay 5e-4, flip + crop + RandomPatch (Sec. 4.1)
``finetune``          AMSGrad, lr 0.0015, cosine to 250 epochs, classifier only for the first
                      10 epochs, flip + random erasing (Sec. 4.1)
``cross_domain``      the fine-tune recipe with 100 epochs and flip + colour jitter (Sec. 4.2;
                      50 epochs when the source is MSMT17: override ``epochs``)
``search``            SGD, batch 512, lr 0.1, cosine, 120 epochs, temperature 10 halved every
                      20 epochs down to 1.7, S = 1, flip + colour jitter (Sec. 4.2)
====================  ======================================================================

All use label-smoothing cross-entropy (epsilon 0.1) and cosine-distance matching.

The scale of part II (the ``cpu`` profile)
-----------------------------------------
Measured by the studies ``table5``, ``table5-control`` and ``table5-short``
(:mod:`osnet_lib.experiments.studies`, OSNet x0.25 T = 4 against T = 1 on the ``cuhk03``
domain, 6,916 training images, three seeds each) and by ``benchmarks/part2_budget.py``:

- **World**: the ``omni`` world (identity in combinations of cues at several scales), with the
  ``control`` world (one global cue decides identity) for the contrast. Chosen from the
  paper's argument before any T = 4 against T = 1 run on it.
- **Input 128x64, width x0.25.** 128x64 is the worlds' native image size (the paper's
  gamma = 0.5); at 64x32 the stripes and the small cues the omni world is built on blur away.
  x0.25 is the smallest width of Table 6.
- **Schedule**: the paper's SGD and learning rate, cosine over 30 epochs (each recipe's epochs
  are the paper's x 30/350). The paper's step schedule squeezed into 12 epochs cut the rate
  at epoch 5, and the networks stopped learning. At 30 epochs the control world's networks
  plateau (training accuracy 0.93-0.95). The omni world's do not (0.66-0.68, still rising
  about a point per epoch at the end). At 15 epochs (``table5-short``) they reach 0.48-0.54
  and rank-1 falls from 13.5 to 11.2 (T = 4): shorter is worse. At 60 epochs
  (``table5-long``, models 1 and 9, three seeds) they fit 0.84, yet rank-1 does not rise
  (12.7 and 13.0 for T = 4 and T = 1) and the T = 4 advantage does not grow (-0.4 points,
  95% interval [-3.7, +3.0]): longer costs twice as much and buys nothing here, so 30 is kept.
  Whether a wider network changes that is the question of ``table5-wide`` (width x0.5, models 1
  and 9, three seeds), defined before its runs.
- **Seeds**: 3 per arm. The paired T = 4 - T = 1 rank-1 difference varied over the seeds
  with a standard deviation of 0.25 points on the omni world and 1.47 on the control world. With
  3 seeds the 95% t-interval's half-width is t(0.975, 2) / sqrt(3) = 2.48 times that, i.e.
  0.6 and 3.6 points. Half of the paper's CUHK03 gap (13.8 / 2 = 6.9 points) would be detected
  on either world (6.9 - 3.6 > 0).
- **Cost**: a whole run takes 1.35x its compute bound (measured on 14 finished runs). One
  T = 4 run trains 30 x 6,916 images at 222 images/s per process (two one-thread processes
  on a 2-core machine), about 21 minutes; T = 1 is 1.75x faster. ``benchmarks/part2_budget.py``
  sums every run ``study run`` would train (the defined studies, a copied twin counted once)
  and the runs planned for the later chapters: 119 runs, 49 process-hours, **24 hours on 2
  cores**. Table 5 with its control comparison is 13 process-hours; Table 3 (MobileNetV2 at
  OSNet's size, ShuffleNetV2, one ResNet-18 run; OSNet's runs are Table 5's) 2.7; Table 6's
  sixteen rows 14.8, the corners over three seeds and the others over one (x1.0 at 128x64
  trains at 30 images/s, 7x slower than x0.25); the IN search and its arms 4.8; Tables 7, 8
  and 10 13. The 6-hour target for the whole part-II store is *not* met at this scale; it
  would need a quarter of these runs, or a schedule that does not train the omni world's
  networks.
- **Precision**: float32, no ``torch.compile``. bfloat16 autocast was 1.34x faster here, but it
  changes the numbers, is slow on CPUs without native bfloat16, and the committed store must
  be regenerable on any CPU; a 1.3x gain does not change what fits.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from osnet_lib.deploy import BACKENDS
from osnet_lib.models import model_name, parse_model_name
from osnet_lib.utils import check_finite


@dataclass(frozen=True)
class Profile:
    """What one profile means (DESIGN, "Profiles"): a row of :data:`PROFILE_TABLE`.

    Attributes:
        name: ``quick``, ``cpu`` or ``paper``.
        purpose: one line for a reader.
        world: the size of the synthetic world used under this profile (a key of
            :data:`osnet_lib.synthetic.WORLD_SIZES`); real datasets ignore it.
        model_width: the width every recipe's model is scaled to, as in a model name
            (``"x0_25"``, a key of :data:`osnet_lib.models.WIDTHS`), or None to keep the
            paper's model.
        height, width: the input size every recipe is scaled to (None: the paper's).
        batch_size: the largest batch a recipe keeps (None: the paper's).
        epochs: epochs of each named recipe (None: the paper's); milestones, the classifier-only
            phase and the search's temperature steps scale with them.
        scheduler: the learning-rate schedule that replaces the paper's step schedule
            (``multistep``) at this scale (None: keep it). A step schedule scaled to a few
            epochs cuts the rate before the network has learned (``cosine`` keeps it high for
            longer and ends at zero); recipes that already anneal keep their own.
        num_workers: data-loading processes (None: the recipe's).
        study_seeds: at most this many seeds per arm of a study
            (:mod:`osnet_lib.experiments`; None: the study's own seeds).
        full_chapters: whether the book's chapters run their analyses at full size (True) or
            cut down to seconds for CI (False); a chapter reads it through
            :meth:`osnet_lib.reproduce.ChapterRun.setting`.
    """

    name: str
    purpose: str
    world: str
    model_width: str | None = None
    height: int | None = None
    width: int | None = None
    batch_size: int | None = None
    epochs: Mapping[str, int] | None = None
    scheduler: str | None = None
    num_workers: int | None = None
    study_seeds: int | None = None
    full_chapters: bool = True

    @property
    def scaled(self) -> bool:
        """True when the profile departs from the paper's recipes."""
        return self.epochs is not None


#: The one table of profiles: recipes, the synthetic world's size, the chapters and the result
#: store all read it. Nothing else keeps its own copy.
PROFILE_TABLE: Mapping[str, Profile] = MappingProxyType({
    "quick": Profile(
        "quick", "seconds to a minute per chapter: CI, nbval, experiments run live and tiny",
        world="quick", model_width="x0_25", height=64, width=32, batch_size=16,
        epochs={"scratch": 2, "finetune": 2, "cross_domain": 2, "search": 2}, scheduler="cosine",
        num_workers=0, study_seeds=2, full_chapters=False),
    "cpu": Profile(
        "cpu", "what the rendered book shows: a laptop CPU; experiments read the committed store",
        world="cpu", model_width="x0_25", height=128, width=64, batch_size=64,
        # each recipe's epochs: the paper's x 30/350, rounded (one rule for every recipe)
        epochs={"scratch": 30, "finetune": 21, "cross_domain": 9, "search": 10},
        scheduler="cosine", num_workers=0),
    "paper": Profile(
        "paper", "the paper's exact recipes, for real datasets on a GPU", world="cpu"),
})
#: The profile names, from the smallest scale to the paper's.
PROFILES: tuple[str, ...] = tuple(PROFILE_TABLE)


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`, else raise a ValueError naming them."""
    if profile not in PROFILE_TABLE:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    return profile


def get_profile(profile: str) -> Profile:
    """The row of :data:`PROFILE_TABLE` for ``profile`` (ValueError naming the valid ones)."""
    return PROFILE_TABLE[check_profile(profile)]

OPTIMIZERS = ("sgd", "adam", "amsgrad")
SCHEDULERS = ("multistep", "cosine", "constant")
DISTANCES = ("cosine", "euclidean")


@dataclass(frozen=True)
class Recipe:
    """Everything a training run needs besides the data and the seed."""

    name: str
    profile: str = "paper"
    version: int = 1
    model: str = "osnet_x1_0"
    pretrained: str | None = None  # a weight file to start from (e.g. ImageNet, fine-tuning)
    height: int = 256
    width: int = 128
    optimizer: str = "sgd"
    lr: float = 0.065
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "multistep"
    milestones: tuple[int, ...] = (150, 225, 300)
    gamma: float = 0.1
    epochs: int = 350
    batch_size: int = 64
    fixbase_epochs: int = 0  # epochs during which only the classifier is trained
    augment: tuple[str, ...] = ("flip", "crop", "random_patch")
    label_smoothing: float = 0.1
    eval_freq: int = 0  # evaluate every n epochs (0: only at the end)
    flip_eval: bool = False  # average the features of an image and its mirror image
    distance: str = "cosine"
    num_workers: int = 2
    # architecture search (Sec. 3.3, 4.2); None when the recipe does not search
    temperature: float | None = None
    temperature_decay: float = 0.5
    temperature_every: int = 20
    temperature_min: float = 1.7
    mc_samples: int = 1
    # how the run executes (the Trainer's fast paths; ``benchmarks/bench_train.py`` measures them).
    # Each keeps a run reproducible (same seed, same result; a resumed run ends as an
    # uninterrupted one) on its own path, but float rounding differs from path to path.
    channels_last: bool = True  # train in the NHWC memory format (oneDNN's and cuDNN's own)
    torch_compile: bool = False  # torch.compile the model for training (inductor)
    autocast_bf16: bool = False  # bfloat16 autocast of forward passes on the CPU
    cache_images: bool = True  # decode each training image once per run, not every epoch
    eval_backend: str = "inference_mode"  # feature extraction on the CPU: an osnet_lib.deploy
    # backend ("eager" is the model as it trains)
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        check_profile(self.profile)
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        object.__setattr__(self, "augment", tuple(self.augment))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler={self.scheduler!r} is not one of {SCHEDULERS}")
        if self.distance not in DISTANCES:
            raise ValueError(f"distance={self.distance!r} is not one of {DISTANCES}")
        for name in ("epochs", "batch_size", "height", "width", "mc_samples", "temperature_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("fixbase_epochs", "eval_freq", "num_workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        from osnet_lib.models import check_model_name  # models never import recipes

        check_model_name(self.model)  # an unknown name: a ValueError naming the valid ones
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2, got {self.batch_size}: training normalises "
                "each batch with its own statistics (BatchNorm), which one image cannot give")
        # finite numbers only: an lr of inf or a weight decay of nan would train to NaN
        check_finite("lr", self.lr)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        check_finite("momentum", self.momentum, low=0, high=1)
        check_finite("weight_decay", self.weight_decay, low=0)
        check_finite("gamma", self.gamma, low=0, low_open=True)
        check_finite("temperature_decay", self.temperature_decay, low=0, high=1, low_open=True)
        check_finite("temperature_min", self.temperature_min, low=0, low_open=True)
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if list(self.milestones) != sorted(self.milestones) or any(m < 1 for m in self.milestones):
            raise ValueError(
                f"milestones must be increasing positive epochs, got {self.milestones}")
        if self.temperature is not None:
            check_finite("temperature", self.temperature, low=0, low_open=True)
        for name in ("channels_last", "torch_compile", "autocast_bf16", "cache_images"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.eval_backend not in BACKENDS:
            raise ValueError(f"eval_backend={self.eval_backend!r} is not one of {BACKENDS}")

    # -- (de)serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ValueError(f"unknown recipe field(s) {unknown}; valid fields: {sorted(valid)}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the recipe as YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recipe file not found: {path}")
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a recipe (a YAML mapping)")
        return cls.from_dict(data)

    def replace(self, **overrides: Any) -> "Recipe":
        """A copy with some fields changed; unknown field names raise a ValueError."""
        valid = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ValueError(f"unknown recipe field(s) {unknown}; valid fields: {sorted(valid)}")
        return dataclasses.replace(self, **overrides)

    def temperature_at(self, epoch: int) -> float:
        """Gumbel-softmax temperature at a 0-based epoch: halved every ``temperature_every``
        epochs from ``temperature``, never below ``temperature_min`` (Sec. 4.2)."""
        if self.temperature is None:
            raise ValueError(f"recipe {self.name!r} has no temperature schedule")
        t = self.temperature * self.temperature_decay ** (epoch // self.temperature_every)
        return max(t, self.temperature_min)


# The paper's recipes (profile "paper").
_PAPER: dict[str, Recipe] = {
    "scratch": Recipe("scratch"),
    "finetune": Recipe(
        "finetune", optimizer="amsgrad", lr=0.0015, scheduler="cosine", milestones=(),
        epochs=250, fixbase_epochs=10, augment=("flip", "random_erase"),
    ),
    "cross_domain": Recipe(
        "cross_domain", model="osnet_ain_x1_0", optimizer="amsgrad", lr=0.0015,
        scheduler="cosine", milestones=(), epochs=100, fixbase_epochs=10,
        augment=("flip", "color_jitter"),
    ),
    "search": Recipe(
        "search", optimizer="sgd", lr=0.1, scheduler="cosine", milestones=(), epochs=120,
        batch_size=512, augment=("flip", "color_jitter"), temperature=10.0,
    ),
}

def _scaled(recipe: Recipe, profile: str) -> Recipe:
    """A paper recipe at ``profile``, scaled as :data:`PROFILE_TABLE` says."""
    p = get_profile(profile)
    if not p.scaled or p.epochs is None:
        return recipe.replace(profile=profile) if profile != recipe.profile else recipe
    epochs = p.epochs[recipe.name]
    factor = epochs / recipe.epochs
    milestones = tuple(sorted({max(1, round(m * factor)) for m in recipe.milestones
                               if round(m * factor) < epochs}))
    overrides: dict[str, Any] = dict(
        profile=profile, epochs=epochs, milestones=milestones,
        fixbase_epochs=min(recipe.fixbase_epochs, max(0, round(recipe.fixbase_epochs * factor))),
        temperature_every=max(1, round(recipe.temperature_every * factor)))
    if p.scheduler is not None and recipe.scheduler == "multistep":
        overrides.update(scheduler=p.scheduler, milestones=())
    if p.model_width is not None:
        overrides["model"] = model_name(parse_model_name(recipe.model).family, p.model_width)
    if p.height is not None:
        overrides.update(height=p.height, width=p.width)
    if p.batch_size is not None:
        overrides["batch_size"] = min(recipe.batch_size, p.batch_size)
    if p.num_workers is not None:
        overrides["num_workers"] = p.num_workers
    return recipe.replace(**overrides)


def list_recipes() -> list[str]:
    return sorted(_PAPER)


def get_recipe(name: str, profile: str = "paper", **overrides: Any) -> Recipe:
    """The recipe ``name`` at ``profile`` (``quick``, ``cpu`` or ``paper``), with overrides.

    Example: ``get_recipe("scratch", "cpu", epochs=10, model="osnet_x0_5")``.
    """
    if name not in _PAPER:
        raise ValueError(f"unknown recipe {name!r}; valid recipes: {list_recipes()}")
    check_profile(profile)
    recipe = _scaled(_PAPER[name], profile)
    return recipe.replace(**overrides) if overrides else recipe


__all__ = ["PROFILES", "PROFILE_TABLE", "Profile", "Recipe", "check_profile", "get_profile",
           "get_recipe", "list_recipes"]
