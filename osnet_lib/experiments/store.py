"""The result store: one folder per run, shared by every process and machine that fills it.

Layout (DESIGN, "Part II")::

    <store>/<profile>/<study>/<arm>/seed<k>/
        run.json         the run's spec and fingerprint, written when the run is claimed
        results.json     metrics per target, recipe, provenance, training curve (the engine's)
        per_query.json   each valid query's first-match rank and AP, per target (for paired
                         bootstrap statistics)
        weights.pth      the trained network without its classifier, when under 2 MB
        checkpoint.pth   only while the run is unfinished (resumed from, deleted at the end)
        .claim           the lock of the process training the run

A run is *done* when ``results.json`` and ``per_query.json`` exist and its stored fingerprint
equals the one its spec has now; *stale* when the fingerprint differs (reported, retrained only
on request, never reused); *running* while another process holds its claim; *partial* when it
was interrupted (it resumes from its checkpoint); *missing* otherwise.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osnet_lib.experiments.study import RunSpec, Study, fingerprint, fingerprint_changes
from osnet_lib.metrics import PerQuery
from osnet_lib.recipes import PROFILES, check_profile

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
RESULTS_FILE = "results.json"
PER_QUERY_FILE = "per_query.json"
WEIGHTS_FILE = "weights.pth"
CHECKPOINT_FILE = "checkpoint.pth"
CLAIM_NAME = ".claim"
#: Trained weights are kept in the store when their file is at most this many bytes.
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024


class StoreError(ValueError):
    """A store, or a run in it, that cannot be read as it is: the message names the file."""


class RunStatus(str, enum.Enum):
    DONE = "done"
    STALE = "stale"
    RUNNING = "running"
    PARTIAL = "partial"
    MISSING = "missing"
    WAITING = "waiting"  # its genotype comes from a search whose runs are not all done


@dataclass(frozen=True)
class RunState:
    spec: RunSpec
    status: RunStatus
    path: Path
    detail: str = ""


def default_store() -> Path:
    """The book's store, ``book/store`` of this checkout (or ``./store`` outside one)."""
    from osnet_lib.reproduce import find_book_dir

    here = Path(__file__).resolve()
    book = find_book_dir(here.parents[2]) or find_book_dir()
    return (book / "store") if book is not None else Path.cwd() / "store"


def read_json(path: Path) -> Any:
    """Read a JSON file of the store, with a StoreError naming it when it is unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"{path} is corrupt ({e}); delete its run folder {path.parent} to "
                         "train the run again") from None


class Store:
    """A result store rooted at ``root`` (created on first write).

    Raises:
        StoreError: ``root`` is one profile's folder of a store rather than the store itself.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_store()
        if self.root.name in PROFILES and self.root.is_dir() and any(
                (p / RUN_FILE).is_file() for p in self.root.glob("*/*/seed*")):
            raise StoreError(f"{self.root} is the {self.root.name!r} folder of a store; give the "
                             f"store itself ({self.root.parent})")

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def run_dir(self, spec: RunSpec) -> Path:
        return self.root / spec.profile / spec.study / spec.arm / f"seed{spec.seed}"

    # -- reading ----------------------------------------------------------------------------
    def stored_spec(self, spec: RunSpec) -> dict[str, Any] | None:
        """The ``run.json`` of the run's folder, checked to belong to this run."""
        path = self.run_dir(spec) / RUN_FILE
        if not path.is_file():
            return None
        data = read_json(path)
        if not isinstance(data, dict) or "spec" not in data or "fingerprint" not in data:
            raise StoreError(f"{path} is corrupt (no spec or fingerprint); delete its run folder "
                             "to train the run again")
        stored = data["spec"]
        if stored.get("profile") != spec.profile:
            raise StoreError(f"{path} was written by profile {stored.get('profile')!r} but lies "
                             f"in the {spec.profile!r} folder of the store; stores of different "
                             "profiles must not be mixed")
        if (stored.get("study"), stored.get("arm"), stored.get("seed")) != (
                spec.study, spec.arm, spec.seed):
            raise StoreError(f"{path} belongs to {stored.get('study')}/{stored.get('arm')}/seed"
                             f"{stored.get('seed')}, not to {spec.study}/{spec.key}")
        return data

    def state(self, spec: RunSpec, current: dict[str, str] | None = None,
              check_claim: bool = True) -> RunState:
        """Where the run stands (:class:`RunStatus`). ``current`` is its fingerprint now
        (computed when not given; a run whose genotype comes from a search passes it in).
        ``check_claim=False`` is for the process that holds the run's claim itself."""
        folder = self.run_dir(spec)
        data = self.stored_spec(spec)
        if check_claim and _claimed(folder):
            return RunState(spec, RunStatus.RUNNING, folder, _holder(folder))
        if data is None:
            partial = (folder / CHECKPOINT_FILE).is_file()
            return RunState(spec, RunStatus.PARTIAL if partial else RunStatus.MISSING, folder)
        current = current if current is not None else fingerprint(spec)
        changed = fingerprint_changes(data["fingerprint"], current)
        if changed:
            return RunState(spec, RunStatus.STALE, folder, "changed: " + ", ".join(changed))
        if (folder / RESULTS_FILE).is_file() and (folder / PER_QUERY_FILE).is_file():
            self.results(spec)  # a corrupt results file is an error, not a finished run
            return RunState(spec, RunStatus.DONE, folder)
        return RunState(spec, RunStatus.PARTIAL, folder)

    def results(self, spec: RunSpec) -> dict[str, Any]:
        """The run's ``results.json``, checked to hold metrics for every target."""
        path = self.run_dir(spec) / RESULTS_FILE
        data = read_json(path)
        metrics = data.get("metrics") if isinstance(data, dict) else None
        if not isinstance(metrics, dict):
            raise StoreError(f"{path} is corrupt (no metrics); delete its run folder to train "
                             "the run again")
        for target in spec.targets:
            m = metrics.get(target)
            if not isinstance(m, dict) or not {"rank1", "mAP"} <= set(m):
                raise StoreError(f"{path} is corrupt (no rank-1 and mAP on {target!r}); delete "
                                 "its run folder to train the run again")
        return data

    def per_query(self, spec: RunSpec, target: str) -> PerQuery:
        """Each valid query's outcome on ``target`` (:class:`~osnet_lib.metrics.PerQuery`)."""
        path = self.run_dir(spec) / PER_QUERY_FILE
        data = read_json(path)
        if target not in data:
            raise StoreError(f"{path} has no queries of {target!r} (it has {sorted(data)})")
        try:
            return PerQuery.from_dict(data[target])
        except ValueError as e:
            raise StoreError(f"{path}: {e}") from None


    def model(self, spec: RunSpec) -> Any:
        """The run's trained network (:class:`~osnet_lib.models.OSNet`, or a Table 3 baseline
        of :mod:`osnet_lib.backbones`, without its identity classifier, in eval mode on the
        CPU), from its ``weights.pth``.

        Raises StoreError when the run is not done (or is stale) or kept no weights (a network
        over :data:`MAX_WEIGHTS_BYTES`); ValueError for a searched arm, whose genotype is
        chosen when it trains.
        """
        import torch

        from osnet_lib.models import build_model

        if spec.genotype_from is not None or spec.kind == "search":
            raise ValueError(f"{spec.study}/{spec.key}: the network of a search or of a searched "
                             "genotype is not rebuilt from the store")
        state = self.state(spec)
        if state.status is not RunStatus.DONE:
            raise StoreError(f"{spec.study}/{spec.key} at {spec.profile!r} is {state.status.value}"
                             f"{' (' + state.detail + ')' if state.detail else ''}, not done; run "
                             f"`python -m osnet_lib study run {spec.study} --profile "
                             f"{spec.profile}`")
        path = self.run_dir(spec) / WEIGHTS_FILE
        if not path.is_file():
            raise StoreError(f"{path} is missing: the run kept no weights (over "
                             f"{MAX_WEIGHTS_BYTES} bytes)")
        net = build_model(spec.recipe.model, **spec.model_options)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return net.eval()


def _claimed(folder: Path) -> bool:
    """True while another process holds the run's claim (a non-blocking probe)."""
    import fcntl
    import os

    path = folder / CLAIM_NAME
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _holder(folder: Path) -> str:
    try:
        return (folder / CLAIM_NAME).read_text().strip()
    except OSError:
        return ""


def study_states(study: Study, profile: str, store: Store | None = None,
                 arms: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                 data_root: str | Path | None = None) -> list[RunState]:
    """The state of every run of ``study`` at ``profile`` (see :class:`RunStatus`)."""
    from osnet_lib.experiments.runner import resolve_genotypes

    check_profile(profile)
    store = store or Store()
    specs = study.runs(profile, arms, seeds)
    states: list[RunState] = []
    for spec in specs:
        if spec.genotype_from:
            resolved = resolve_genotypes(spec, study, store, data_root)
            if resolved is None:
                states.append(RunState(spec, RunStatus.WAITING, store.run_dir(spec),
                                       f"waits for the search arm {spec.genotype_from!r}"))
                continue
            spec = resolved
        states.append(store.state(spec, fingerprint(spec, data_root)))
    return states


def load_study(study: Study, profile: str, store: Store | None = None,
               arms: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
               data_root: str | Path | None = None, stale: str = "warn") -> Any:
    """The finished runs of ``study`` at ``profile`` as a tidy pandas DataFrame: one row per
    (arm, seed, target) with ``rank1``, ``rank5``, ``rank10``, ``mAP``, ``mINP`` (fractions),
    ``train_acc`` and ``train_loss`` of the last epoch, ``epochs``, ``train_seconds``,
    ``num_queries`` and the arm's ``label``.

    Runs that are not done are left out. ``stale`` says what to do about stale runs:
    ``"warn"`` (log them), ``"error"`` (StoreError listing them) or ``"ignore"``; they are never
    included.
    """
    import pandas as pd

    if stale not in ("warn", "error", "ignore"):
        raise ValueError(f"stale={stale!r} is not one of 'warn', 'error', 'ignore'")
    store = store or Store()
    states = study_states(study, profile, store, arms, seeds, data_root)
    stale_runs = [s for s in states if s.status is RunStatus.STALE]
    if stale_runs:
        names = ", ".join(f"{s.spec.key} ({s.detail})" for s in stale_runs)
        msg = (f"{len(stale_runs)} stale run(s) of {study.name!r} at {profile!r} are left out: "
               f"{names}; retrain them with `python -m osnet_lib study run {study.name} "
               f"--profile {profile} --retrain-stale`")
        if stale == "error":
            raise StoreError(msg)
        if stale == "warn":
            log.warning("%s", msg)
    rows = []
    columns = ["study", "profile", "arm", "label", "seed", "target", "rank1", "rank5", "rank10",
               "mAP", "mINP", "num_queries", "train_acc", "train_loss", "epochs", "train_seconds"]
    for st in states:
        if st.status is not RunStatus.DONE:
            continue
        res = store.results(st.spec)
        history = res.get("history") or [{}]
        last = history[-1]
        for target in st.spec.targets:
            m = res["metrics"][target]
            rows.append({
                "study": study.name, "profile": profile, "arm": st.spec.arm,
                "label": study.arm(st.spec.arm).title, "seed": st.spec.seed, "target": target,
                "rank1": m["rank1"], "rank5": m.get("rank5"), "rank10": m.get("rank10"),
                "mAP": m["mAP"], "mINP": m.get("mINP"), "num_queries": m.get("num_valid_queries"),
                "train_acc": last.get("train_acc"), "train_loss": last.get("loss"),
                "epochs": len(history),
                "train_seconds": sum(h.get("seconds", 0.0) for h in history),
            })
    return pd.DataFrame(rows, columns=columns)


__all__ = ["MAX_WEIGHTS_BYTES", "RunState", "RunStatus", "Store", "StoreError", "default_store",
           "load_study", "study_states"]
