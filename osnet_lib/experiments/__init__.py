"""Experiments as data (DESIGN, "Part II"): studies, the result store, claims and verdicts.

The layer between the chapters and the engine::

    chapter / CLI  ->  experiments (Study, Arm, Claim, store, verdict)  ->  engine, search

- :class:`Study` / :class:`Arm`: arms x seeds with one recipe (:mod:`.study`); the book's
  studies are defined in :mod:`.studies` (``get_study("table5")``).
- :func:`run_study` trains what the store lacks, in parallel processes, resumably, each run
  claimed by a lock so that several processes or machines can share one store (:mod:`.runner`).
- :func:`load_study` reads a store as a tidy DataFrame; a run whose fingerprint (recipe, data,
  code) changed is stale and never silently reused (:mod:`.store`).
- :func:`verdict` judges a :class:`Claim` with the one rule of the book (:mod:`.claims`).
- :func:`load_or_run` is what a chapter calls.

Command line: ``python -m osnet_lib study list | run NAME | status NAME | table NAME``.
"""

from osnet_lib.experiments.claims import (
    CONFIDENCE,
    Claim,
    Comparison,
    Verdict,
    arm_values,
    classify,
    compare,
    query_bootstrap_interval,
    seed_interval,
    verdict,
)
from osnet_lib.experiments.runner import (
    build_domain,
    default_jobs,
    ensure_world,
    load_or_run,
    run_study,
    train_run,
)
from osnet_lib.experiments.store import (
    RunState,
    RunStatus,
    Store,
    StoreError,
    default_store,
    load_study,
    study_states,
)
from osnet_lib.experiments.studies import (
    CLAIMS,
    STUDIES,
    claims_of,
    get_claim,
    get_study,
    list_studies,
)
from osnet_lib.experiments.study import Arm, RunSpec, Study, code_fingerprint, fingerprint

__all__ = [
    "CLAIMS", "CONFIDENCE", "STUDIES", "Arm", "Claim", "Comparison", "RunSpec", "RunState",
    "RunStatus", "Store", "StoreError", "Study", "Verdict", "arm_values", "build_domain",
    "claims_of",
    "classify", "code_fingerprint", "compare", "default_jobs", "default_store", "ensure_world",
    "fingerprint", "get_claim", "get_study", "list_studies", "load_or_run", "load_study",
    "query_bootstrap_interval", "run_study", "seed_interval", "study_states", "train_run",
    "verdict",
]
