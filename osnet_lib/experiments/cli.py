"""``python -m osnet_lib study list | run NAME | status NAME | table NAME``.

On a cluster, one process per run: ``--only-run I`` trains the I-th run (0-based, in the order
``study status`` lists them) of the selection, e.g. in a Slurm job array::

    #SBATCH --array=0-21
    python -m osnet_lib study run table5 --profile paper --data-root /data/reid \\
        --device cuda --only-run "$SLURM_ARRAY_TASK_ID"

Every process claims its run with a lock in the shared store, so overlapping arrays, reruns
and a concurrent ``study run`` never train a run twice.
"""

from __future__ import annotations

import argparse
from typing import Any

from osnet_lib.recipes import PROFILES


def _store(args: argparse.Namespace) -> Any:
    from osnet_lib.experiments.store import Store

    return Store(args.store)


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the study (see `study list`)")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help="default %(default)s")
    p.add_argument("--store", default=None, help="the result store (default: book/store)")
    p.add_argument("--arms", nargs="+", default=None, help="only these arms")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="only these seeds")
    p.add_argument("--data-root", default=None,
                   help="the synthetic worlds' folder (default book/data), or the real datasets' "
                        "root under --profile paper")


def _cmd_list(args: argparse.Namespace) -> int:
    from osnet_lib.experiments.studies import STUDIES, claims_of

    width = max(len(name) for name in STUDIES)
    pad = " " * (width + 1)
    for s in STUDIES.values():
        arms = ", ".join(a.name for a in s.arms)
        print(f"{s.name:<{width}} {s.reproduces}: recipe {s.recipe}, {s.world} world, "
              f"{s.source} -> {', '.join(s.targets)}, seeds {list(s.seeds)}\n{pad}arms: {arms}\n"
              f"{pad}claims: {', '.join(c.name for c in claims_of(s.name)) or '-'}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from collections import Counter

    from osnet_lib.experiments.store import study_states
    from osnet_lib.experiments.studies import get_study

    states = study_states(get_study(args.name), args.profile, _store(args), args.arms,
                          args.seeds, args.data_root)
    for i, st in enumerate(states):
        detail = f"  ({st.detail})" if st.detail else ""
        print(f"{i:>3}  {st.spec.key:<24} {st.status.value:<8}{detail}")
    counts = Counter(st.status.value for st in states)
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" of {len(states)} runs")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from osnet_lib.experiments.runner import resolve_genotypes, run_study, train_run
    from osnet_lib.experiments.studies import get_study

    study = get_study(args.name)
    if args.only_run is not None:
        store = _store(args)
        specs = study.runs(args.profile, args.arms, args.seeds)
        if not 0 <= args.only_run < len(specs):
            raise ValueError(f"--only-run {args.only_run} is outside 0..{len(specs) - 1} (the "
                             f"study's selection has {len(specs)} runs)")
        spec = resolve_genotypes(specs[args.only_run], study, store, args.data_root)
        if spec is None:
            print(f"{specs[args.only_run].key}: waits for its search arm's runs")
            return 3
        outcome = train_run(spec, store, args.data_root, args.device, args.retrain_stale)
        print(f"{spec.key}: {outcome}")
        return 0
    frame = run_study(study, args.profile, _store(args), jobs=args.jobs, arms=args.arms,
                      seeds=args.seeds, data_root=args.data_root, device=args.device,
                      retrain_stale=args.retrain_stale, progress=not args.quiet,
                      threads=args.threads)
    print(summary_table(frame))
    return 0


def summary_table(frame: Any) -> str:
    """Rank-1 and mAP per arm and target: mean and standard deviation over seeds (%), from
    :func:`osnet_lib.experiments.report.arm_summary`."""
    from osnet_lib.experiments.report import arm_summary

    if frame.empty:
        return "(no finished runs)"
    rows = []
    table = {t: arm_summary(frame, t) for t in dict.fromkeys(frame["target"])}
    for arm in dict.fromkeys(frame["arm"]):
        for target, summary in table.items():
            if arm not in summary.index:
                continue
            r = summary.loc[arm]
            n = int(r.seeds)
            r1_sd, map_sd = (f" +- {r.rank1_sd:.1f}", f" +- {r.mAP_sd:.1f}") if n > 1 else ("", "")
            rows.append(f"{arm:<12} {target:<8} R1 {r.rank1:5.1f}{r1_sd:<8} mAP "
                        f"{r.mAP:5.1f}{map_sd:<8} ({n} seed{'s' * (n > 1)})")
    return "\n".join(rows)


def _cmd_table(args: argparse.Namespace) -> int:
    from osnet_lib.experiments.claims import verdict
    from osnet_lib.experiments.store import load_study
    from osnet_lib.experiments.studies import claims_of, get_study

    study = get_study(args.name)
    store = _store(args)
    frame = load_study(study, args.profile, store, args.arms, args.seeds, args.data_root)
    print(summary_table(frame))
    for claim in claims_of(study.name):
        try:
            print(verdict(claim, args.profile, store, frame, args.data_root).summary())
        except ValueError as e:
            print(f"{claim.name}: not judged ({e})")
    return 0


def add_study_parser(sub: Any) -> None:
    """Add the ``study`` command to the CLI's subparsers."""
    s = sub.add_parser("study", help="run and read the book's experiments (studies)",
                       description=__doc__.split("\n\n")[0])
    ssub = s.add_subparsers(dest="study_command", required=True, metavar="action")
    ssub.add_parser("list", help="the studies, their arms and claims").set_defaults(
        func=_cmd_list)
    st = ssub.add_parser("status", help="where each run of a study stands")
    _selection(st)
    st.set_defaults(func=_cmd_status)
    r = ssub.add_parser("run", help="train the runs the store lacks, resume interrupted ones",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _selection(r)
    r.add_argument("--jobs", type=int, default=None,
                   help="runs at once, one process each (default: one per CPU core, one on a GPU)")
    r.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: the CPU cores divided among the jobs; "
                        "give 1 when other processes share the machine)")
    r.add_argument("--device", default="auto", help="auto, cpu or cuda (default %(default)s)")
    r.add_argument("--retrain-stale", action="store_true",
                   help="retrain runs whose recipe, data or code changed")
    r.add_argument("--only-run", type=int, default=None, metavar="I",
                   help="train only the I-th run of the selection (job arrays)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
    t = ssub.add_parser("table", help="results per arm and the verdicts of the study's claims")
    _selection(t)
    t.set_defaults(func=_cmd_table)
