"""Training and evaluation (Sec. 4.1): the loop every experiment of the book runs through.

- :class:`Trainer` trains a registered model on a :class:`~osnet_lib.data.ReIDDataset` with a
  :class:`~osnet_lib.recipes.Recipe` (label-smoothing cross-entropy, SGD or AMSGrad, multi-step or
  cosine schedule, classifier-only warm-up), evaluates periodically, writes atomic checkpoints
  every epoch and resumes from them, and records results with their provenance as JSON.
- Multi-source training (Appendix A) is training on
  :func:`osnet_lib.data.combine_datasets` of several sources: one classifier over the union.
- Several GPUs or machines: launch the same entry point with ``torchrun``; the trainer detects the
  distributed environment and uses DistributedDataParallel (gloo on CPU, NCCL on CUDA).
- :func:`extract_features` and :func:`evaluate_model`: 512-d fc features (optionally averaged
  with the mirror image) and CMC/mAP/mINP by :func:`osnet_lib.metrics.evaluate`.

Determinism: with the same seed on the CPU two runs give identical weights and metrics, and a run
interrupted and resumed from its last checkpoint ends exactly as an uninterrupted one, because
every epoch re-seeds all random generators from ``(seed, epoch)`` and rebuilds its data pipeline.

Speed on a CPU: the recipe's execution fields pick the path (:class:`~osnet_lib.recipes.Recipe`):
``channels_last`` (on by default: oneDNN's native layout, the largest gain for OSNet's many
depthwise and 1x1 convolutions), ``cache_images`` (on: each training image decoded once per run,
which gives the same batches), ``eval_backend`` (``"inference_mode"``: evaluation features from
the BatchNorm-folded channels-last model of :mod:`osnet_lib.deploy`), ``autocast_bf16`` and
``torch_compile`` (off). The guarantees above hold on each path; the path is part of the recipe,
so a checkpoint resumes on its own path only. ``recipe.replace(channels_last=False,
cache_images=False, eval_backend="eager")`` is the plain eager trainer.
``benchmarks/bench_train.py`` measures every path.
"""

import contextlib
import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from osnet_lib.data import DecodedImageDataset, ImageDataset, ReIDDataset, build_transforms
from osnet_lib.data.records import ImageRecord
from osnet_lib.deploy import optimize_for_inference
from osnet_lib.metrics import ReIDResult, evaluate
from osnet_lib.models import OSNet, build_model
from osnet_lib.provenance import atomic_write, exclusive_lock, provenance, write_json_atomic
from osnet_lib.recipes import Recipe
from osnet_lib.utils import check_int, check_positive_int, eval_mode
from osnet_lib.weights import load_pretrained, save_weights

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pth"
RESULTS = "results.json"
FINAL_WEIGHTS = "model.pth"
#: The files that make a folder hold a run (:meth:`Trainer.fit` refuses to overwrite them).
RUN_FILES = (RESULTS, CHECKPOINT)


def records_fingerprint(records: Sequence[ImageRecord]) -> str:
    """A SHA-256 of the records' file names, file sizes, identities, cameras and source
    datasets, in order: two training sets with the same images and labels have the same
    fingerprint, even when the data folder moved; another dataset of the same size (other
    files, other labels, or the same names with other pixels) has another one. Reads no
    pixels: one ``stat`` per image."""
    digest = hashlib.sha256()
    for r in records:
        try:
            size = os.stat(r.path).st_size
        except OSError:
            size = -1
        line = f"{os.path.basename(r.path)}\t{size}\t{r.pid}\t{r.camid}\t{r.dsetid}\n"
        digest.update(line.encode())
    return digest.hexdigest()


# -- randomness ------------------------------------------------------------------------------------
def derive_seed(seed: int, *keys: int) -> int:
    """A 31-bit seed derived from ``seed`` and integer keys (e.g. the epoch)."""
    ss = np.random.SeedSequence([seed, *keys])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; anything else must be available."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but CUDA is not available on this machine")
    return device


# -- distributed -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


# -- optimisation ----------------------------------------------------------------------------------
def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD with momentum (scratch, search) or AMSGrad/Adam (fine-tuning), Sec. 4.1.

    Parameters a model names in ``model.no_weight_decay()`` (the search's architecture
    parameters) get no weight decay."""
    no_decay = getattr(model, "no_weight_decay", None)
    skip = set(no_decay()) if callable(no_decay) else set()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": [p for n, p in named if n not in skip]}]
    if skip:
        groups.append({"params": [p for n, p in named if n in skip], "weight_decay": 0.0})
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay)
    return torch.optim.Adam(groups, lr=recipe.lr, weight_decay=recipe.weight_decay,
                            amsgrad=recipe.optimizer == "amsgrad")


def build_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> Any:
    """Per-epoch schedule: x ``gamma`` at each milestone, or cosine annealing to zero over
    ``epochs`` without restart (Loshchilov and Hutter), or constant."""
    if recipe.scheduler == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones),
                                                    gamma=recipe.gamma)
    if recipe.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


def label_smoothing_loss(logits: torch.Tensor, targets: torch.Tensor,
                         epsilon: float = 0.1) -> torch.Tensor:
    """Cross-entropy with label smoothing (Szegedy et al.), the paper's loss (Sec. 4.1)."""
    return F.cross_entropy(logits, targets, label_smoothing=epsilon)


@contextlib.contextmanager
def classifier_only(model: nn.Module, enabled: bool) -> Iterator[None]:
    """Train only the classifier: the rest is frozen and kept in eval mode (the first
    ``fixbase_epochs`` of fine-tuning, Sec. 4.1)."""
    if not enabled:
        yield
        return
    frozen = [(n, p) for n, p in model.named_parameters() if not n.startswith("classifier.")]
    flags = [p.requires_grad for _, p in frozen]
    for _, p in frozen:
        p.requires_grad_(False)
    for name, module in model.named_children():
        if name != "classifier":
            module.eval()
    try:
        yield
    finally:
        for (_, p), flag in zip(frozen, flags):
            p.requires_grad_(flag)


# -- checkpoints -----------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically (:func:`osnet_lib.provenance.atomic_write`): a reader, or
    a resumed run, never sees a half-written file."""
    return atomic_write(path, lambda f: torch.save(dict(state), f))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (no arbitrary objects unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path} is not a readable checkpoint: {e}") from None


# -- features and evaluation -----------------------------------------------------------------------
@dataclass
class Features:
    """Embeddings of a list of images with their labels."""

    features: torch.Tensor  # (N, D) float32
    pids: np.ndarray
    camids: np.ndarray
    paths: list[str]


def _unwrap(model: nn.Module) -> OSNet:
    net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    return cast(OSNet, net)


def extract_features(
    model: nn.Module,
    records: Sequence[ImageRecord] | Sequence[str | Path],
    transform: Any,
    batch_size: int = 128,
    device: str | torch.device = "auto",
    flip: bool = False,
    num_workers: int = 0,
    progress: bool = False,
    embed: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Features:
    """512-d fc embeddings (Sec. 4.1) of images, in eval mode without autograd.

    ``records`` are :class:`ImageRecord` s or plain image paths (labels then are -1). With
    ``flip=True`` each embedding is the mean of the image's and its mirror image's. ``embed``
    maps a batch ``(B, 3, H, W)`` to its embeddings ``(B, D)`` in place of ``model.embed``
    (e.g. an :func:`osnet_lib.deploy.optimize_for_inference` extractor of ``model``). The model
    runs in eval mode (:func:`osnet_lib.utils.eval_mode`), so an image's embedding does not
    depend on the batch it falls in, and its previous mode is restored.

    Raises:
        ValueError: no images, or a ``batch_size`` / ``num_workers`` out of range.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    num_workers = check_int("num_workers", num_workers, low=0)
    device = resolve_device(device)
    records = [r if isinstance(r, ImageRecord) else ImageRecord(str(r), -1, -1)
               for r in records]
    if not records:
        raise ValueError("no images to extract features from")
    net = _unwrap(model)
    loader = DataLoader(ImageDataset(records, transform), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers)
    embed = embed or net.embed
    chunks = []
    with eval_mode(net):
        for batch in tqdm(loader, desc="features", disable=not progress, leave=False):
            imgs = batch["img"].to(device)
            emb = embed(imgs)
            if flip:
                emb = (emb + embed(imgs.flip(3))) / 2
            chunks.append(emb.float().cpu())
    return Features(torch.cat(chunks), np.array([r.pid for r in records]),
                    np.array([r.camid for r in records]), [r.path for r in records])


def evaluate_model(
    model: nn.Module,
    dataset: ReIDDataset,
    height: int = 256,
    width: int = 128,
    flip: bool = False,
    distance: str = "cosine",
    device: str | torch.device = "auto",
    batch_size: int = 128,
    num_workers: int = 0,
    max_rank: int = 50,
    backend: str = "eager",
) -> ReIDResult:
    """Rank the gallery for every query of ``dataset`` and score it (CMC, mAP, mINP).

    ``backend``: ``"eager"`` runs ``model.embed``; any other of :data:`osnet_lib.deploy.BACKENDS`
    extracts the features with that CPU backend of
    :func:`~osnet_lib.deploy.optimize_for_inference` (BatchNorm folded, ...), built once here
    from ``model`` (CPU only: a ValueError on another device)."""
    _, test_tf = build_transforms(height, width)
    embed = None
    if backend != "eager":
        if resolve_device(device).type != "cpu":
            raise ValueError(f"backend={backend!r} runs on the CPU; use backend='eager' on "
                             f"{resolve_device(device)}")
        net = _unwrap(model)
        was_training = net.training
        try:
            embed = optimize_for_inference(net.eval(), backend,  # type: ignore[arg-type]
                                           input_size=(height, width),
                                           num_threads=torch.get_num_threads())
        finally:
            net.train(was_training)
    kw: dict[str, Any] = dict(batch_size=batch_size, device=device, flip=flip,
                              num_workers=num_workers, embed=embed)
    q = extract_features(model, dataset.query, test_tf, **kw)
    g = extract_features(model, dataset.gallery, test_tf, **kw)
    return evaluate((q.features, g.features), q.pids, g.pids, q.camids, g.camids,
                    max_rank=max_rank, metric=distance)


def rank_gallery(query: torch.Tensor, gallery: torch.Tensor, top_k: int = 10,
                 distance: str = "cosine") -> tuple[torch.Tensor, torch.Tensor]:
    """The ``top_k`` nearest gallery entries of each query: ``(indices, distances)``, both
    ``(num_query, top_k)``; ties broken by gallery index."""
    from osnet_lib.metrics import compute_distance

    d = compute_distance(query, gallery, metric=distance)
    k = min(top_k, d.shape[1])
    order = torch.sort(d, dim=1, stable=True)
    return order.indices[:, :k], order.values[:, :k]


# -- training --------------------------------------------------------------------------------------
class Trainer:
    """Train one model with one recipe on one (possibly combined) training set.

    Args:
        recipe: what to train and how (:func:`osnet_lib.recipes.get_recipe`).
        train_set: the training data; ``train_set.train`` is used.
        output_dir: where ``checkpoint.pth``, ``model.pth`` and ``results.json`` go.
        eval_sets: datasets to evaluate on, by name (default: ``{train_set.name: train_set}``).
            Several names give cross-domain results (train on A, test on B).
        seed: seeds model initialisation, data order and augmentation.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``; on CUDA, mixed precision (``amp``) is used
            unless turned off; the memory format and other paths follow the recipe.
        model_options: keyword options for :func:`osnet_lib.models.build_model` (e.g. ``T=1``).
        model: a ready model to train instead of ``build_model(recipe.model, ...)`` (the
            search passes its supernet); its classifier must match the training identities.
        progress: tqdm bars (off in notebooks that want a quiet output).

    Subclasses may override :meth:`on_epoch_start` and :meth:`on_epoch_end` (the search sets
    its temperature and records its architecture distribution there).
    """

    def __init__(
        self,
        recipe: Recipe,
        train_set: ReIDDataset,
        output_dir: str | Path,
        eval_sets: Mapping[str, ReIDDataset] | None = None,
        seed: int = 0,
        device: str | torch.device = "auto",
        model_options: Mapping[str, Any] | None = None,
        amp: bool | None = None,
        progress: bool = True,
        model: nn.Module | None = None,
    ) -> None:
        if not isinstance(recipe, Recipe):
            raise TypeError(f"recipe must be a Recipe (osnet_lib.recipes.get_recipe), got "
                            f"{type(recipe).__name__}")
        if not isinstance(train_set, ReIDDataset):
            raise TypeError(f"train_set must be a ReIDDataset, got {type(train_set).__name__}")
        if not train_set.train:
            raise ValueError(f"dataset {train_set.name!r} has no training images")
        if len(train_set.train) < recipe.batch_size:
            raise ValueError(
                f"dataset {train_set.name!r} has {len(train_set.train)} training images, fewer "
                f"than one batch ({recipe.batch_size}); lower batch_size"
            )
        self.recipe = recipe
        self.train_set = train_set
        self.eval_sets = dict(eval_sets) if eval_sets is not None else {train_set.name: train_set}
        # everything checked before the first epoch: the evaluation sets, the augmentation,
        # the output folder
        for name, data in self.eval_sets.items():
            if not isinstance(data, ReIDDataset):
                raise TypeError(f"evaluation set {name!r} must be a ReIDDataset, got "
                                f"{type(data).__name__}")
            data.check_protocol()
        build_transforms(recipe.height, recipe.width, augment=recipe.augment)
        self.output_dir = check_run_folder(output_dir)
        self.seed = check_int("seed", seed, low=0)
        self.train_fingerprint = records_fingerprint(train_set.train)
        self.device = resolve_device(device)
        self.dist = init_distributed(self.device)
        if recipe.batch_size // self.dist.world_size < 2:
            raise ValueError(
                f"batch_size {recipe.batch_size} over {self.dist.world_size} processes leaves "
                "fewer than 2 images per process, too few for BatchNorm; raise batch_size")
        if self.device.type == "cuda" and self.dist.world_size > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.amp = (self.device.type == "cuda") if amp is None else bool(amp)
        self.model_options = dict(model_options or {})
        self.progress = progress and self.dist.is_main

        seed_everything(self.seed)
        if model is None:
            model = build_model(recipe.model, train_set.num_train_pids, **self.model_options)
        elif getattr(model, "num_classes", None) != train_set.num_train_pids:
            raise ValueError(f"the model has {getattr(model, 'num_classes', None)} classes, the "
                             f"training set {train_set.num_train_pids} identities")
        if recipe.pretrained:
            report = load_pretrained(model, recipe.pretrained, load_classifier=False)
            log.info("%s", report)
        model.to(self.device)
        if recipe.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model: nn.Module = model
        if self.dist.world_size > 1:
            self.model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = build_optimizer(model, recipe)
        self.scheduler = build_scheduler(self.optimizer, recipe)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.device.type == "cuda")
        self.start_epoch = 0
        self.history: list[dict[str, Any]] = []

    @property
    def net(self) -> OSNet:
        """The model without its DistributedDataParallel wrapper."""
        return _unwrap(self.model)

    # -- data --------------------------------------------------------------------------------------
    def _train_loader(self, epoch: int) -> DataLoader:
        """This epoch's shuffled, augmented batches. With ``recipe.cache_images`` the training
        images are decoded once per run (:class:`~osnet_lib.data.DecodedImageDataset`), which
        gives the same batches as decoding them every epoch."""
        r = self.recipe
        train_tf, _ = build_transforms(r.height, r.width, augment=r.augment)
        data: ImageDataset | DecodedImageDataset
        if r.cache_images:
            if getattr(self, "_decoded", None) is None:
                self._decoded = DecodedImageDataset(self.train_set.train, r.height, r.width,
                                                    progress=self.progress)
            data = self._decoded.with_transform(train_tf)
        else:
            data = ImageDataset(self.train_set.train, train_tf)
        per_process = max(1, r.batch_size // self.dist.world_size)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, epoch))
        sampler = None
        if self.dist.world_size > 1:
            sampler = torch.utils.data.DistributedSampler(
                data, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True,
                seed=self.seed, drop_last=True)
            sampler.set_epoch(epoch)
        return DataLoader(data, batch_size=per_process, shuffle=sampler is None, sampler=sampler,
                          drop_last=True, num_workers=r.num_workers, generator=generator,
                          pin_memory=self.device.type == "cuda",
                          persistent_workers=False)

    # -- checkpoints -------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / CHECKPOINT

    def _state(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch,  # epochs completed
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "recipe": self.recipe.to_dict(),
            "seed": self.seed,
            "model_options": self.model_options,
            "num_classes": self.net.num_classes,
            "train_set": self._train_set_record(),
            "eval_sets": sorted(self.eval_sets),
        }

    def _train_set_record(self) -> dict[str, Any]:
        return {"name": self.train_set.name, "images": len(self.train_set.train),
                "ids": self.train_set.num_train_pids, "fingerprint": self.train_fingerprint}

    def run_differences(self, state: Mapping[str, Any]) -> list[str]:
        """What differs between this trainer and the run a checkpoint ``state`` recorded:
        recipe fields, seed, training set (name, size and :func:`records_fingerprint`),
        evaluation sets, model options, classifier size. Empty when they define the same run.
        Checkpoints written before a field was recorded are not compared on it."""
        diffs = []
        recipe = self.recipe.to_dict()
        if state.get("recipe") != recipe:
            fields = sorted(k for k, v in recipe.items() if state.get("recipe", {}).get(k) != v)
            diffs.append(f"the checkpoint was written with another recipe (fields {fields} "
                         "differ)")
        if state.get("seed") != self.seed:
            diffs.append(f"the checkpoint was written with seed {state.get('seed')}, this run "
                         f"uses seed {self.seed}")
        old = state.get("train_set")
        if old is not None:
            new = self._train_set_record()
            for key, what in (("name", "name"), ("images", "number of images"),
                              ("ids", "number of identities"), ("fingerprint", "images or labels")):
                if old.get(key) != new[key]:
                    diffs.append(f"the training set's {what} differ(s): {old.get(key)!r} in the "
                                 f"checkpoint, {new[key]!r} now")
                    if key != "fingerprint":
                        break
        if "eval_sets" in state and list(state["eval_sets"]) != sorted(self.eval_sets):
            diffs.append(f"the evaluation sets differ: {list(state['eval_sets'])} in the "
                         f"checkpoint, {sorted(self.eval_sets)} now")
        if state.get("model_options", {}) != self.model_options:
            diffs.append(f"the model options differ: {state.get('model_options')} in the "
                         f"checkpoint, {self.model_options} now")
        if state.get("num_classes", self.net.num_classes) != self.net.num_classes:
            diffs.append(f"the classifier has {state.get('num_classes')} classes in the "
                         f"checkpoint, {self.net.num_classes} now")
        return diffs

    def resume(self, path: str | Path | None = None) -> int:
        """Restore the state of the last completed epoch; returns the epoch to start from.

        Raises:
            ValueError: the checkpoint is unreadable or records another run
                (:meth:`run_differences`, each difference named).
        """
        where = path or self.checkpoint_path
        state = load_checkpoint(where)
        diffs = self.run_differences(state)
        if diffs:
            raise ValueError(f"cannot resume {where}: " + "; ".join(diffs) + ". Resume it with "
                             "the same settings, or start over (force=True, --force) or in "
                             "another folder")
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.history = list(state["history"])
        self.start_epoch = int(state["epoch"])
        log.info("resumed from %s at epoch %d", path or self.checkpoint_path, self.start_epoch)
        return self.start_epoch

    # -- the loop ----------------------------------------------------------------------------------
    def on_epoch_start(self, epoch: int) -> None:
        """Called before each training epoch (after seeding)."""

    def on_epoch_end(self, epoch: int, stats: dict[str, Any]) -> None:
        """Called after each training epoch with its statistics (may add entries)."""

    def _training_model(self) -> nn.Module:
        """The module a training step calls: ``self.model``, or with ``recipe.torch_compile``
        its ``torch.compile`` form (built once per run; it shares the parameters; inductor
        keeps its compiled artefacts on disk, ``TORCHINDUCTOR_CACHE_DIR``, so a later run
        of the same model compiles in seconds)."""
        if not self.recipe.torch_compile:
            return self.model
        if getattr(self, "_compiled", None) is None:
            self._compiled = torch.compile(self.model)
        return self._compiled  # type: ignore[return-value]

    def _autocast(self) -> contextlib.AbstractContextManager:
        """float16 autocast on CUDA with ``amp``, bfloat16 on the CPU with
        ``recipe.autocast_bf16``, else nothing."""
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.recipe.autocast_bf16)

    def train_one_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set. With ``recipe.mc_samples = S > 1`` each batch is
        forwarded S times and the gradients averaged (the Monte Carlo estimate of Eq. 12, 15).

        The recipe's execution fields choose the path: ``channels_last`` (NHWC images and
        weights), ``torch_compile``, ``autocast_bf16`` (CPU) and ``cache_images``."""
        r = self.recipe
        seed_everything(derive_seed(self.seed, epoch, 1))
        self.on_epoch_start(epoch)
        loader = self._train_loader(epoch)
        model = self._training_model()
        self.model.train()
        total, correct, loss_sum, batches = 0, 0, 0.0, 0
        start = time.perf_counter()
        with classifier_only(self.net, epoch < r.fixbase_epochs):
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{r.epochs}", disable=not self.progress,
                       leave=False)
            for batch in bar:
                imgs = batch["img"].to(self.device, non_blocking=True)
                if r.channels_last:
                    imgs = imgs.contiguous(memory_format=torch.channels_last)
                pids = batch["pid"].to(self.device, non_blocking=True)
                self.optimizer.zero_grad(set_to_none=True)
                for _ in range(r.mc_samples):
                    with self._autocast():
                        logits = model(imgs)
                        loss = label_smoothing_loss(logits.float(), pids, r.label_smoothing)
                    self.scaler.scale(loss / r.mc_samples).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                loss_sum += float(loss.detach())
                batches += 1
                correct += int((logits.argmax(1) == pids).sum())
                total += pids.numel()
                bar.set_postfix(loss=f"{loss_sum / batches:.3f}")
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        stats = {"epoch": epoch + 1, "loss": loss_sum / max(batches, 1),
                 "train_acc": correct / max(total, 1), "lr": lr,
                 "seconds": time.perf_counter() - start}
        self.on_epoch_end(epoch, stats)
        return stats

    def evaluate(self) -> dict[str, dict[str, Any]]:
        """Evaluate on every evaluation set (main process only); on the CPU the features come
        from the ``recipe.eval_backend`` backend of
        :func:`osnet_lib.deploy.optimize_for_inference`. The per-query outcomes of this
        evaluation are kept in ``self.last_per_query`` (by set name) for paired statistics."""
        r = self.recipe
        backend = r.eval_backend if self.device.type == "cpu" else "eager"
        results = {}
        self.last_per_query: dict[str, Any] = {}
        for name, data in self.eval_sets.items():
            res = evaluate_model(self.net, data, r.height, r.width, flip=r.flip_eval,
                                 distance=r.distance, device=self.device,
                                 num_workers=r.num_workers, backend=backend)
            results[name] = res.as_dict()
            self.last_per_query[name] = res.per_query
            log.info("%s: %s", name, res)
        return results

    def fit(self, resume: bool = False, force: bool = False) -> dict[str, Any]:
        """Train for the recipe's epochs, evaluate, write ``model.pth`` and ``results.json``;
        returns the results.

        The run folder belongs to one run. The trainer holds its lock
        (:func:`osnet_lib.provenance.exclusive_lock`) for the whole run, so a second process
        on the same folder is refused at once. A folder that already holds a run
        (``results.json`` or ``checkpoint.pth``) is refused unless ``resume=True`` (continue
        from its checkpoint, after checking that recipe, seed, datasets and model options are
        the run's own; a finished run is evaluated again) or ``force=True`` (start over,
        replacing it). ``resume=True`` on a folder without a run starts one. Temporary files a
        killed writer left behind are removed.

        The checkpoint is written after every epoch before any evaluation, and ``model.pth``
        before the final evaluation, so an evaluation that fails loses no training.

        Raises:
            ValueError: the folder holds a run and neither ``resume`` nor ``force`` is given,
                or both are, or the checkpoint belongs to another run.
            FolderLockedError: another process is training in this folder.
        """
        if resume and force:
            raise ValueError("resume=True continues the run in the folder and force=True "
                             "replaces it: choose one")
        lock = (exclusive_lock(self.output_dir) if self.dist.is_main
                else contextlib.nullcontext())
        with lock:
            # every process reads the same files and so refuses alike; only the main one
            # (which holds the lock) removes anything
            self._claim_folder(resume, force, clean=self.dist.is_main)
            if self.dist.world_size > 1:
                dist.barrier()
            if resume and self.checkpoint_path.is_file():
                self.resume()
            return self._run()

    def _claim_folder(self, resume: bool, force: bool, clean: bool = True) -> None:
        """Under the folder's lock: refuse to overwrite a run, or clear it with ``force``;
        remove temporary files that a killed writer left (only with ``clean``)."""
        folder = self.output_dir
        present = [name for name in RUN_FILES if (folder / name).is_file()]
        if not clean:
            if present and not (resume or force):
                raise ValueError(f"{folder} already holds a run ({', '.join(present)})")
            return
        for stale in folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        for name in (CHECKPOINT, RESULTS, FINAL_WEIGHTS):
            (folder / (name + ".tmp")).unlink(missing_ok=True)  # older writers' fixed name
        if force:
            for name in (CHECKPOINT, RESULTS, FINAL_WEIGHTS):
                (folder / name).unlink(missing_ok=True)
            if present:
                log.warning("%s: starting over (force), the previous run was removed", folder)
            return
        if present and not resume:
            raise ValueError(
                f"{folder} already holds a run ({', '.join(present)}); continue it with "
                "resume=True (--resume), or replace it with force=True (--force)")
        if resume and not self.checkpoint_path.is_file() and present:
            raise ValueError(
                f"{folder} holds a finished run without its {CHECKPOINT}, which cannot be "
                "resumed; replace it with force=True (--force), or use another folder")

    def _run(self) -> dict[str, Any]:
        r = self.recipe
        wall = time.perf_counter()
        for epoch in range(self.start_epoch, r.epochs):
            stats: dict[str, Any] = dict(self.train_one_epoch(epoch))
            self.history.append(stats)
            last = epoch + 1 == r.epochs
            if self.dist.is_main:  # the epoch is safe before any evaluation runs
                save_checkpoint(self.checkpoint_path, self._state(epoch + 1))
            periodic = r.eval_freq and (epoch + 1) % r.eval_freq == 0
            if self.dist.is_main and periodic and not last:  # the last one is done below
                stats["eval"] = self.evaluate()
                save_checkpoint(self.checkpoint_path, self._state(epoch + 1))
            if self.dist.world_size > 1:
                dist.barrier()
        results: dict[str, Any] = {}
        if self.dist.is_main:
            # the weights first: a final evaluation that fails loses no training
            save_weights(self.net, self.output_dir / FINAL_WEIGHTS)
            final = self.history[-1].get("eval") if self.history else None
            if final is None:
                final = self.evaluate()
                if self.history:
                    self.history[-1]["eval"] = final
                    save_checkpoint(self.checkpoint_path, self._state(r.epochs))
            results = {
                "provenance": provenance(self.recipe.to_dict(), self.seed,
                                         model_options=self.model_options,
                                         train_set=self.train_set.name,
                                         train_fingerprint=self.train_fingerprint,
                                         eval_sets=sorted(self.eval_sets),
                                         world_size=self.dist.world_size),
                "train_summary": self.train_set.summary()["train"],
                "metrics": final,
                "history": self.history,
                "wall_seconds_this_session": time.perf_counter() - wall,
            }
            write_json_atomic(self.output_dir / RESULTS, results)
        return results


def check_run_folder(path: str | Path) -> Path:
    """``path`` as a folder a run can own: not a file, and creatable or writable. Checked
    before the first epoch.

    Raises:
        ValueError: naming the path and the problem.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"output_dir must be a str or path, got {type(path).__name__}")
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"run folder {folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the run folder {folder}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"run folder {folder} is not writable")
    return folder


__all__ = [
    "CHECKPOINT", "FINAL_WEIGHTS", "RESULTS", "RUN_FILES", "Features", "Trainer",
    "check_run_folder", "records_fingerprint", "build_optimizer", "build_scheduler", "derive_seed",
    "evaluate_model", "extract_features", "label_smoothing_loss", "load_checkpoint",
    "rank_gallery", "resolve_device", "save_checkpoint", "seed_everything",
]
