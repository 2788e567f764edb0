"""Tables and figures of a study, the same in every experiment chapter and the report.

- :func:`arm_summary`: per arm, the mean and spread over seeds of rank-1 and mAP (percent),
  the final training accuracy and the training time;
- :func:`arm_costs`: per arm, parameters and Mult-Adds at the profile's input size
  (:func:`osnet_lib.complexity.complexity`);
- :func:`training_curves`: each finished run's loss and training accuracy per epoch;
- :func:`cmc_curves`: per arm, the CMC curve (rank-k accuracy for k = 1..K) averaged over
  seeds;
- :func:`run_provenance` and :func:`describe_runs`: which runs a chapter read, when and from
  which code they were trained, and their training time;
- :func:`verdict_frame`: one row per comparison of a list of verdicts;
- :func:`plot_verdicts`: the differences with their 95% intervals beside the paper's, one row
  per comparison (a forest plot).

All read what :func:`~osnet_lib.experiments.load_study` and
:func:`~osnet_lib.experiments.verdict` return; none trains or judges anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from osnet_lib.experiments.claims import Verdict
    from osnet_lib.experiments.store import Store
    from osnet_lib.experiments.study import RunSpec, Study


def arm_summary(frame: pd.DataFrame, target: str | None = None,
                study: Study | None = None) -> pd.DataFrame:
    """Per arm (rows in the study's order when ``study`` is given): ``label``, ``seeds`` (how
    many finished), ``rank1`` and ``rank1_sd``, ``mAP`` and ``mAP_sd`` (percent, mean and
    standard deviation over seeds; the deviation is NaN with one seed), ``train_acc`` (percent)
    and ``train_minutes`` (means), on ``target`` (default: the only target of ``frame``).

    Raises ValueError for an empty frame, or a frame with several targets and none chosen.
    """
    import pandas as pd

    if frame.empty:
        raise ValueError("no finished runs to summarise")
    targets = list(dict.fromkeys(frame["target"]))
    if target is None:
        if len(targets) > 1:
            raise ValueError(f"the runs are tested on {targets}: choose a target")
        target = targets[0]
    if target not in targets:
        raise ValueError(f"no run is tested on {target!r}; targets: {targets}")
    rows = frame[frame["target"] == target]
    out = []
    for arm, g in rows.groupby("arm", sort=False):
        out.append({"arm": arm, "label": g["label"].iloc[0], "seeds": len(g),
                    "rank1": 100 * g["rank1"].mean(), "rank1_sd": 100 * g["rank1"].std(ddof=1),
                    "mAP": 100 * g["mAP"].mean(), "mAP_sd": 100 * g["mAP"].std(ddof=1),
                    "train_acc": 100 * g["train_acc"].mean(),
                    "train_minutes": g["train_seconds"].mean() / 60})
    table = pd.DataFrame(out).set_index("arm")
    if study is not None:
        order = [a.name for a in study.arms if a.name in table.index]
        table = table.loc[order]
    return table


def arm_costs(study: Study, profile: str, arms: Sequence[str] | None = None) -> pd.DataFrame:
    """Per arm: ``params`` (without the classifier) and ``mult_adds`` of its network at the
    input size of ``profile``'s recipe, counted as in the paper (:mod:`osnet_lib.complexity`).
    """
    import pandas as pd

    from osnet_lib.complexity import complexity
    from osnet_lib.models import build_model

    out = []
    seen = set()
    for spec in study.runs(profile, arms=arms):
        if spec.arm in seen or spec.kind == "search":
            continue
        seen.add(spec.arm)
        # a searched arm's genotype only moves instance normalisation: the same counts
        c = complexity(build_model(spec.recipe.model, **spec.model_options),
                       (spec.recipe.height, spec.recipe.width))
        out.append({"arm": spec.arm, "params": c.params, "mult_adds": c.mult_adds})
    return pd.DataFrame(out).set_index("arm")


def _done_runs(study: Study, profile: str, store: Store | None, arms: Sequence[str] | None,
               seeds: Sequence[int] | None) -> tuple[Store, list[RunSpec]]:
    """The store (the book's by default) and the finished trained runs of ``study`` in it."""
    from osnet_lib.experiments.store import RunStatus, Store, study_states

    store = store if store is not None else Store()
    return store, [s.spec for s in study_states(study, profile, store, arms, seeds)
                   if s.status is RunStatus.DONE and s.spec.kind == "train"]


def training_curves(study: Study, profile: str, store: Store | None = None,
                    arms: Sequence[str] | None = None,
                    seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """One row per epoch of each finished run: ``arm``, ``label``, ``seed``, ``epoch``
    (1-based), ``loss`` (the training loss, label-smoothed cross-entropy) and ``train_acc``
    (percent), as the engine recorded them (``results.json``'s history)."""
    import pandas as pd

    rows = []
    store, specs = _done_runs(study, profile, store, arms, seeds)
    for spec in specs:
        label = study.arm(spec.arm).title
        for h in store.results(spec)["history"]:
            rows.append({"arm": spec.arm, "label": label, "seed": spec.seed,
                         "epoch": int(h["epoch"]), "loss": float(h["loss"]),
                         "train_acc": 100 * float(h["train_acc"])})
    return pd.DataFrame(rows, columns=["arm", "label", "seed", "epoch", "loss", "train_acc"])


def run_provenance(studies: Sequence[Study], profile: str, store: Store | None = None,
                   arms: Sequence[str] | None = None,
                   seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Where a chapter's numbers come from: one row per finished trained run of ``studies``
    (among ``arms``, where a study has them, and ``seeds``): ``study``, ``arm``, ``seed``,
    ``date`` (UTC, when it finished), ``commit`` (the checkout it was trained from, with
    ``+dirty`` when that had uncommitted changes), ``code`` (the fingerprint of the modules
    that shape training, :func:`~osnet_lib.experiments.study.code_fingerprint`) and
    ``train_seconds``. Every run listed is valid for the current code: a run whose fingerprint
    no longer matches is stale, never finished. A study named twice is counted once."""
    import pandas as pd

    rows = []
    for study in {s.name: s for s in studies}.values():
        names = {a.name for a in study.arms}
        chosen = None if arms is None else [a for a in arms if a in names]
        if chosen == []:
            continue
        store_, specs = _done_runs(study, profile, store, chosen, seeds)
        for spec in specs:
            results = store_.results(spec)
            prov = results["provenance"]
            stored = store_.stored_spec(spec) or {}
            rows.append({"study": study.name, "arm": spec.arm, "seed": spec.seed,
                         "date": pd.Timestamp(prov["date"]), "commit": prov.get("git_commit"),
                         "code": stored.get("fingerprint", {}).get("code"),
                         "train_seconds": sum(h.get("seconds", 0.0)
                                              for h in results["history"])})
    return pd.DataFrame(rows, columns=["study", "arm", "seed", "date", "commit", "code",
                                       "train_seconds"])


def describe_runs(provenance: pd.DataFrame, profile: str) -> str:
    """One sentence for a chapter about the runs in ``provenance`` (:func:`run_provenance`):
    how many, from which studies of the ``profile`` store, when, at how many commits, and
    their training time in CPU-hours (each run's own wall time, summed).

    Raises ValueError when there is no run."""
    if provenance.empty:
        raise ValueError("no finished runs to describe")
    studies = ", ".join(dict.fromkeys(provenance["study"]))
    first, last = (d.strftime("%Y-%m-%d") for d in (provenance["date"].min(),
                                                    provenance["date"].max()))
    when = f"on {first}" if first == last else f"from {first} to {last}"
    commits = provenance["commit"].str.removesuffix("+dirty").nunique()
    hours = provenance["train_seconds"].sum() / 3600
    return (f"{len(provenance)} runs of the `{profile}` store ({studies}), trained {when} "
            f"from {commits} commit{'s' * (commits > 1)} of the library, all with training "
            f"code that computes what this version's does; {hours:.1f} hours of training in "
            f"all.")


def cmc_curves(study: Study, profile: str, store: Store | None = None,
               target: str | None = None, max_rank: int = 20,
               arms: Sequence[str] | None = None,
               seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Per arm (rows, the study's order), the CMC curve on ``target`` (default: the study's
    first): column ``k`` is the percentage of valid queries whose first true match is within
    the top ``k`` (Sec. 4.1), averaged over the arm's finished runs among ``seeds`` (default:
    all), for k = 1..``max_rank``.

    Raises ValueError for a bad ``max_rank`` or when no run has finished."""
    import pandas as pd

    from osnet_lib.utils import check_positive_int

    check_positive_int("max_rank", max_rank)
    target = target or study.targets[0]
    curves: dict[str, list[np.ndarray]] = {}
    store, specs = _done_runs(study, profile, store, arms, seeds)
    for spec in specs:
        first = store.per_query(spec, target).first_match
        curves.setdefault(spec.arm, []).append(
            np.array([100 * np.mean(first < k) for k in range(1, max_rank + 1)]))
    if not curves:
        raise ValueError(f"no finished run of study {study.name!r} at profile {profile!r}")
    order = [a.name for a in study.arms if a.name in curves]
    return pd.DataFrame([np.mean(curves[a], axis=0) for a in order], index=pd.Index(
        order, name="arm"), columns=range(1, max_rank + 1))


def verdict_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """One row per comparison: ``claim``, ``comparison`` (``A > B``), ``ours`` (mean difference,
    percentage points), ``low``, ``high`` (95% interval), ``seeds``, ``method``, ``paper`` (the
    paper's difference, NaN where it has none), the comparison's ``verdict`` and the claim's
    (``claim_verdict``)."""
    import pandas as pd

    rows = []
    for v in verdicts:
        for c in v.comparisons:
            rows.append({"claim": v.claim.name, "comparison": f"{c.better} > {c.worse}",
                         "ours": c.mean, "low": c.low, "high": c.high, "seeds": len(c.seeds),
                         "method": c.method,
                         "paper": np.nan if c.paper_difference is None else c.paper_difference,
                         "verdict": c.verdict, "claim_verdict": v.verdict})
    return pd.DataFrame(rows)


#: Marker colours of the three verdicts in every figure of the book.
VERDICT_COLOURS = {"reproduced": "tab:green", "contradicted": "tab:red",
                   "inconclusive": "tab:gray"}


def plot_verdicts(verdicts: Sequence[Verdict], labels: Sequence[str] | None = None,
                  ax: Axes | None = None, unit: str = "rank-1") -> Axes:
    """A forest plot: each comparison's mean difference with its 95% interval (coloured by
    verdict) and the paper's difference (an open diamond), one row per comparison, 0 marked.

    ``labels`` names the rows (default: ``A > B``).
    """
    import matplotlib.pyplot as plt

    table = verdict_frame(verdicts)
    if table.empty:
        raise ValueError("no comparisons to plot")
    names = list(labels) if labels is not None else list(table["comparison"])
    if len(names) != len(table):
        raise ValueError(f"{len(names)} labels for {len(table)} comparisons")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    for yi, row in zip(y, table.itertuples(), strict=True):
        colour = VERDICT_COLOURS[row.verdict]
        ax.plot([row.low, row.high], [yi, yi], color=colour, lw=2)
        ax.plot(row.ours, yi, "o", color=colour)
        if not np.isnan(row.paper):
            ax.plot(row.paper, yi, "D", mfc="none", color="black")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel(f"difference in {unit} (percentage points)")
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=v)
               for v, c in VERDICT_COLOURS.items() if v in set(table["verdict"])]
    if table["paper"].notna().any():
        handles.append(plt.Line2D([], [], color="black", marker="D", mfc="none", lw=0,
                                  label="paper"))
    # beside the axes, never over a row: the rows with the largest differences are the ones
    # a legend placed inside would hide
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return ax


__all__ = ["VERDICT_COLOURS", "arm_costs", "arm_summary", "describe_runs", "plot_verdicts",
           "run_provenance", "verdict_frame"]
