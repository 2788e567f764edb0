"""Running studies: train the runs a store lacks, in parallel processes, resumably.

:func:`run_study` trains every run of a study that is missing from the store, resumes the ones
that were interrupted (from their last checkpoint, ending exactly as an uninterrupted run), and
skips the ones another process is training. Each run is claimed with an exclusive lock on its
folder (:func:`osnet_lib.provenance.exclusive_lock`) before it starts, so any number of processes,
on one machine or on several sharing a file system, can fill one store: a finished run is never
trained twice. On a cluster, start one process per run with the launcher you already have, e.g.
a Slurm job array whose task ``i`` runs ``python -m osnet_lib study run NAME --profile paper
--only-run i``; ``torchrun`` trains a single run on several GPUs the same way.

:func:`load_or_run` is what a chapter calls: under ``quick`` a tiny version of the study runs
live in seconds, under ``cpu`` the committed store is read and only missing runs are trained,
under ``paper`` the paper's recipes run on the real datasets.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import queue as queue_mod
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from osnet_lib.experiments.store import (
    CHECKPOINT_FILE,
    CLAIM_NAME,
    MAX_WEIGHTS_BYTES,
    PER_QUERY_FILE,
    RESULTS_FILE,
    RUN_FILE,
    WEIGHTS_FILE,
    RunState,
    RunStatus,
    Store,
    StoreError,
    load_study,
    read_json,
    study_states,
)
from osnet_lib.experiments.study import (
    RunSpec,
    Study,
    dataset_ref,
    fingerprint,
    fingerprint_changes,
)
from osnet_lib.provenance import FolderLockedError, atomic_write, exclusive_lock, write_json_atomic
from osnet_lib.recipes import check_profile, get_profile

log = logging.getLogger(__name__)

#: What :func:`train_run` did with a run.
OUTCOMES = ("trained", "copied", "done", "busy", "stale")


def default_data_root() -> Path:
    """Where the synthetic worlds live: the book's ``data`` folder (``book/data``)."""
    from osnet_lib.experiments.store import default_store

    return default_store().parent / "data"


def ensure_world(profile: str, data_root: str | Path | None = None, progress: bool = False,
                 kind: str = "default") -> Path:
    """Generate the synthetic world of ``profile`` (its size) and ``kind`` under ``data_root``
    (``book/data`` by default) if it is not there yet. Deterministic: the default world is the
    same files the book's chapters read."""
    from osnet_lib.data import synthetic_world_dir
    from osnet_lib.synthetic import generate_world

    root = Path(data_root) if data_root is not None else default_data_root()
    size = get_profile(profile).world
    return generate_world(synthetic_world_dir(root, size, kind), profile=size, seed=0,
                          num_workers=max(1, min(2, os.cpu_count() or 1)), progress=progress,
                          kind=kind)


def build_domain(domain: str, profile: str, data_root: str | Path | None = None,
                 kind: str = "default") -> Any:
    """The dataset that ``domain`` means at ``profile`` (:func:`~osnet_lib.experiments.study.
    dataset_ref`), loaded from ``data_root``."""
    from osnet_lib.data import build_dataset

    name, options = dataset_ref(domain, profile, kind)
    if name == "synthetic":
        root = Path(data_root) if data_root is not None else default_data_root()
        return build_dataset("synthetic", root, **options)
    if data_root is None:
        raise ValueError(f"the {name} dataset needs a data root (--data-root)")
    return build_dataset(name, data_root, **options)


def resolve_genotypes(spec: RunSpec, study: Study, store: Store,
                      data_root: str | Path | None = None) -> RunSpec | None:
    """For a run that trains a searched genotype: its spec with the genotype of the search seed
    that did best on the search arm's ``select_on`` domain (rank-1, then mAP; Sec. 3.4), or None
    while some of the search arm's runs are not done."""
    from osnet_lib.search import select_run

    if spec.genotype_from is None:
        return spec
    search = study.arm(spec.genotype_from)
    runs = []
    for s in study.runs(spec.profile, [search.name]):
        if s.arm != search.name:
            continue
        if store.state(s, fingerprint(s, data_root)).status is not RunStatus.DONE:
            return None
        res = store.results(s)
        if "genotype" not in res:
            raise StoreError(f"{store.run_dir(s)} holds no genotype: is it a search run?")
        runs.append({"seed": s.seed, "metrics": res["metrics"], "genotype": res["genotype"]})
    best = select_run(runs, search.select_on or spec.targets[0])
    return spec.with_options(genotype=runs[best]["genotype"])


# -- one run ----------------------------------------------------------------------------------
def train_run(spec: RunSpec, store: Store, data_root: str | Path | None = None,
              device: str = "auto", retrain_stale: bool = False,
              on_epoch: Callable[[str, int, int], None] | None = None) -> str:
    """Train one run into the store, unless it is done or another process holds it.

    A finished run of another study (or arm) of the store with the same fingerprint is the same
    computation (the recipe, model, options, seed, data and code all equal): its results are
    copied instead of training it again (``"copied"``; its ``run.json`` says from where).

    Returns one of :data:`OUTCOMES`: ``"trained"``, ``"copied"``, ``"done"`` (finished
    already), ``"busy"``
    (another process holds its claim) or ``"stale"`` (a stored run with another fingerprint,
    left alone unless ``retrain_stale``). ``on_epoch(key, epoch, epochs)`` is called after every
    epoch. A run killed at any point resumes from its last checkpoint the next time.
    """
    from osnet_lib.engine import Trainer
    from osnet_lib.search import SearchTrainer

    folder = store.run_dir(spec)
    current = fingerprint(spec, data_root)
    with contextlib.ExitStack() as claim:
        try:
            claim.enter_context(exclusive_lock(folder, CLAIM_NAME))
        except FolderLockedError:
            return "busy"
        state = store.state(spec, current, check_claim=False)
        if state.status is RunStatus.DONE:
            return "done"
        if state.status is RunStatus.STALE:
            if not retrain_stale:
                return "stale"
            log.info("retraining stale run %s/%s (%s)", spec.study, spec.key, state.detail)
            _clear(folder)
        twin = _finished_twin(spec, store, current)
        if twin is not None:
            _clear(folder)
            for name in (RESULTS_FILE, PER_QUERY_FILE, WEIGHTS_FILE):
                if (twin / name).is_file():
                    shutil.copy2(twin / name, folder / name)
            write_json_atomic(folder / RUN_FILE, {
                "spec": spec.to_dict(), "fingerprint": current,
                "copied_from": twin.relative_to(store.root / spec.profile).as_posix()})
            return "copied"
        write_json_atomic(folder / RUN_FILE, {"spec": spec.to_dict(), "fingerprint": current})
        train_set = build_domain(spec.source, spec.profile, data_root, spec.world)
        targets = {t: build_domain(t, spec.profile, data_root, spec.world) for t in spec.targets}
        cls = SearchTrainer if spec.kind == "search" else Trainer
        trainer = cls(spec.recipe, train_set, folder, eval_sets=targets, seed=spec.seed,
                      device=device, progress=False, model_options=spec.model_options)
        if on_epoch is not None:
            _report_epochs(trainer, spec, on_epoch)
        trainer.fit(resume=True)
        per_query = getattr(trainer, "last_per_query", None) or {}
        if set(per_query) != set(spec.targets) or any(v is None for v in per_query.values()):
            trainer.evaluate()  # resumed after its final evaluation: again, same result
            per_query = trainer.last_per_query
        _save_weights(trainer.net, folder / WEIGHTS_FILE)
        write_json_atomic(folder / PER_QUERY_FILE,
                          {t: per_query[t].as_dict() for t in spec.targets})
        for leftover in (CHECKPOINT_FILE, "model.pth"):
            (folder / leftover).unlink(missing_ok=True)
        return "trained"


def _finished_twin(spec: RunSpec, store: Store, current: dict[str, str]) -> Path | None:
    """A finished run of the store, at the same profile, whose fingerprint equals ``current``
    (another study's or arm's run of the same computation), or None."""
    own = store.run_dir(spec)
    for run_file in sorted((store.root / spec.profile).glob(f"*/*/seed{spec.seed}/{RUN_FILE}")):
        folder = run_file.parent
        if folder == own or not ((folder / RESULTS_FILE).is_file()
                                 and (folder / PER_QUERY_FILE).is_file()):
            continue
        try:  # the fingerprint's data part covers the source and the targets, in order
            stored = read_json(run_file)["fingerprint"]
        except (StoreError, KeyError, TypeError):
            continue  # an unreadable run is never a twin
        if isinstance(stored, dict) and not fingerprint_changes(stored, current):
            return folder
    return None


def _report_epochs(trainer: Any, spec: RunSpec, on_epoch: Callable[[str, int, int], None]) -> None:
    """Observe the trainer's epochs (its ``on_epoch_end`` hook) without changing what it does."""
    original = trainer.on_epoch_end

    def hook(epoch: int, stats: dict[str, Any]) -> None:
        original(epoch, stats)
        on_epoch(f"{spec.study}/{spec.key}", epoch + 1, spec.recipe.epochs)

    trainer.on_epoch_end = hook


def _clear(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.name == CLAIM_NAME:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _save_weights(net: Any, path: Path) -> None:
    """The trained network without its identity classifier (what matching uses), if it fits
    in :data:`MAX_WEIGHTS_BYTES`."""
    import torch

    state = {k: v for k, v in net.state_dict().items() if not k.startswith("classifier.")}
    size = sum(v.numel() * v.element_size() for v in state.values())
    if size <= MAX_WEIGHTS_BYTES:
        atomic_write(path, lambda f: torch.save(state, f))


def _worker(spec: dict[str, Any], store_root: str, data_root: str | None, device: str,
            threads: int, retrain_stale: bool, progress_queue: Any) -> tuple[str, str, float]:
    """One run in a worker process (picklable for ``spawn``)."""
    import torch

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING)
    run = RunSpec.from_dict(spec)
    start = time.perf_counter()

    def report(key: str, epoch: int, epochs: int) -> None:
        with contextlib.suppress(Exception):
            progress_queue.put((key, epoch, epochs))

    outcome = train_run(run, Store(store_root), data_root, device, retrain_stale, report)
    return run.key, outcome, time.perf_counter() - start


# -- a whole study ----------------------------------------------------------------------------
def default_jobs(device: str = "auto") -> int:
    """Parallel runs by default: one per CPU core, each with one thread, on the CPU (two
    one-thread processes beat one two-thread process on a 2-core machine:
    ``benchmarks/bench_train.py``); one on a GPU."""
    from osnet_lib.engine import resolve_device

    if resolve_device(device).type == "cuda":
        return 1
    return max(1, os.cpu_count() or 1)


def run_study(study: Study | str, profile: str = "cpu", store: Store | str | Path | None = None,
              jobs: int | None = None, arms: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None, data_root: str | Path | None = None,
              device: str = "auto", retrain_stale: bool = False, progress: bool = True,
              threads: int | None = None) -> Any:
    """Train what the store lacks of ``study`` at ``profile``, then return :func:`load_study`.

    Runs are trained seed by seed: every arm's first seed, then every arm's second, so that a
    study stopped early holds whole seeds (a run waiting for a search starts when it is done).

    Args:
        study: a :class:`Study` or the name of one (:func:`osnet_lib.experiments.get_study`).
        profile: ``quick``, ``cpu`` or ``paper``.
        store: the result store (default: the book's, ``book/store``).
        jobs: runs trained at once, each in its own process (default :func:`default_jobs`);
            1 trains in this process.
        arms, seeds: a subset of the study.
        data_root: where the data is: the synthetic worlds (default ``book/data``; generated
            when missing), or the real datasets under ``paper``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        retrain_stale: retrain runs whose fingerprint changed (else they are reported and
            left out).
        progress: a tqdm bar over the study's runs, with the epoch of each run in training.
        threads: torch threads per run (default: the CPU cores divided among the jobs).

    Raises:
        ValueError: unknown study, arm, seed or profile, bad ``jobs``; StoreError for a store
            that cannot be read. A run that fails is reported and the others still run; a
            RuntimeError at the end names the failed runs (their finished epochs are kept).
    """
    from tqdm.auto import tqdm

    from osnet_lib.experiments.studies import get_study

    study = get_study(study) if isinstance(study, str) else study
    check_profile(profile)
    store = store if isinstance(store, Store) else Store(store)
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    states = study_states(study, profile, store, arms, seeds, data_root)
    stale = [s for s in states if s.status is RunStatus.STALE]
    if stale and not retrain_stale:
        log.warning("%d stale run(s) left alone (pass retrain_stale=True to retrain them): %s",
                    len(stale), ", ".join(f"{s.spec.key} ({s.detail})" for s in stale))
    todo_status = {RunStatus.MISSING, RunStatus.PARTIAL, RunStatus.WAITING}
    if retrain_stale:
        todo_status.add(RunStatus.STALE)
    # seed by seed (every arm's first seed, then the second...): a study stopped early holds
    # whole seeds, which its claims can already judge
    pending = sorted((s for s in states if s.status in todo_status), key=lambda s: s.spec.seed)
    done = sum(s.status is RunStatus.DONE for s in states)
    if pending and dataset_ref(study.source, profile)[0] == "synthetic":
        ensure_world(profile, data_root, progress=progress, kind=study.world)
    jobs = jobs or default_jobs(device)
    jobs = max(1, min(jobs, len(pending) or 1))
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    bar = tqdm(total=len(states), initial=done, desc=f"{study.name} ({profile})", unit="run",
               disable=not progress or not pending)
    failures: dict[str, str] = {}
    outcomes: dict[str, str] = {}
    try:
        _execute(study, pending, store, data_root, device, retrain_stale, jobs, threads, bar,
                 failures, outcomes)
    finally:
        bar.close()
    if failures:
        raise RuntimeError(f"{len(failures)} run(s) of {study.name!r} failed: " + "; ".join(
            f"{k}: {v}" for k, v in failures.items()))
    frame = load_study(study, profile, store, arms, seeds, data_root,
                       stale="ignore" if stale and not retrain_stale else "warn")
    frame.attrs["outcomes"] = outcomes  # what this call did with each run it tried
    return frame


def _ready(state: RunState, study: Study, store: Store, data_root: Any) -> RunSpec | None:
    if state.spec.genotype_from is None:
        return state.spec
    return resolve_genotypes(state.spec, study, store, data_root)


def _execute(study: Study, pending: list[RunState], store: Store, data_root: Any, device: str,
             retrain_stale: bool, jobs: int, threads: int, bar: Any,
             failures: dict[str, str], outcomes: dict[str, str]) -> None:
    """Train ``pending`` runs, ``jobs`` at a time, each when its dependencies are done."""
    import torch

    epochs: dict[str, str] = {}

    def report(key: str, epoch: int, total: int) -> None:
        epochs[key] = f"{key.split('/', 1)[1]} {epoch}/{total}"
        bar.set_postfix_str("; ".join(epochs.values()), refresh=True)

    def finish(key: str, outcome: str) -> None:
        outcomes[key] = outcome
        epochs.pop(f"{study.name}/{key}", None)
        if outcome in ("trained", "copied", "done"):
            bar.update(1)
        elif outcome == "busy":
            log.warning("run %s is being trained by another process; skipped", key)
        bar.set_postfix_str("; ".join(epochs.values()), refresh=True)

    waiting = list(pending)
    if jobs == 1:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            while waiting:
                ready = [(s, r) for s in waiting if (r := _ready(s, study, store, data_root))]
                if not ready:
                    break
                state, spec = ready[0]
                waiting.remove(state)
                try:
                    finish(spec.key, train_run(spec, store, data_root, device, retrain_stale,
                                               report))
                except Exception as e:  # noqa: BLE001 - reported, the other runs go on
                    log.error("run %s failed: %s", spec.key, e)
                    failures[spec.key] = f"{type(e).__name__}: {e}"
        finally:
            torch.set_num_threads(previous)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager, cf.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            progress_queue = manager.Queue()
            running: dict[cf.Future, RunSpec] = {}
            while waiting or running:
                for state in list(waiting):
                    if len(running) >= jobs:
                        break
                    next_spec = _ready(state, study, store, data_root)
                    if next_spec is None:
                        continue
                    waiting.remove(state)
                    fut = pool.submit(_worker, next_spec.to_dict(), str(store.root),
                                      None if data_root is None else str(data_root), device,
                                      threads, retrain_stale, progress_queue)
                    running[fut] = next_spec
                if not running:
                    break  # what is left waits for runs that failed or another process holds
                finished, _ = cf.wait(running, timeout=1.0, return_when=cf.FIRST_COMPLETED)
                with contextlib.suppress(queue_mod.Empty):
                    while True:
                        report(*progress_queue.get_nowait())
                for fut in finished:
                    spec = running.pop(fut)
                    try:
                        _, outcome, _ = fut.result()
                        finish(spec.key, outcome)
                    except Exception as e:  # noqa: BLE001 - reported, the other runs go on
                        log.error("run %s failed: %s", spec.key, e)
                        failures[spec.key] = f"{type(e).__name__}: {e}"
    for state in waiting:
        log.warning("run %s not started: %s", state.spec.key,
                    "its search arm's runs are not all done" if state.spec.genotype_from
                    else "its dependencies are not done")


def load_or_run(study: Study | str, profile: str, store: Store | str | Path | None = None,
                data_root: str | Path | None = None, jobs: int | None = None,
                device: str = "auto", train: bool = True, arms: Sequence[str] | None = None,
                seeds: Sequence[int] | None = None) -> Any:
    """The results of ``study`` at ``profile`` as a DataFrame: what a chapter calls.

    Runs that are done come from the store (``book/store/<profile>`` by default); missing ones
    are trained first unless ``train=False``. Under ``quick`` that is a tiny version of the study
    (the quick recipe on the quick world, :attr:`~osnet_lib.recipes.Profile.study_seeds` seeds)
    in seconds; under ``cpu`` a fresh clone finds every run in the committed store and trains
    nothing. ``arms`` and ``seeds`` select a part of the study (a chapter's quick version).
    """
    from osnet_lib.experiments.studies import get_study

    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {train!r}")
    study = get_study(study) if isinstance(study, str) else study
    if not train:
        return load_study(study, profile, store if isinstance(store, Store) else Store(store),
                          arms, seeds, data_root=data_root)
    return run_study(study, profile, store, jobs=jobs, arms=arms, seeds=seeds,
                     data_root=data_root, device=device, progress=profile != "quick")


__all__ = ["OUTCOMES", "build_domain", "default_data_root", "default_jobs", "ensure_world",
           "load_or_run", "resolve_genotypes", "run_study", "train_run"]
