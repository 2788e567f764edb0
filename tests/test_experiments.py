"""The experiments layer: studies resolve into runs, the store resumes and shares, stale runs
are reported, bad input is refused with a clear error."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from osnet_lib.experiments import (
    Arm,
    RunStatus,
    Store,
    StoreError,
    Study,
    get_study,
    load_study,
    run_study,
    study_states,
)
from osnet_lib.experiments import runner as runner_mod
from osnet_lib.experiments import study as study_mod
from osnet_lib.experiments.runner import ensure_world

TINY = Study("tiny", "a test", arms=(Arm("t4"), Arm("t1", options={"T": 1})),
             recipe="scratch", source="market", targets=("market", "duke"), seeds=(0, 1))
METRICS = ["rank1", "mAP", "mINP", "train_loss"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    ensure_world("quick", root)
    return root


@pytest.fixture(scope="module")
def reference(world, tmp_path_factory):
    """The tiny study trained uninterrupted, in one process, one thread."""
    store = Store(tmp_path_factory.mktemp("reference"))
    frame = run_study(TINY, "quick", store, jobs=1, threads=1, data_root=world, progress=False)
    return store, frame


def _sorted(frame):
    return frame.sort_values(["arm", "seed", "target"]).reset_index(drop=True)


# -- resolution -----------------------------------------------------------------------------------
def test_a_study_resolves_into_its_arms_times_seeds():
    runs = TINY.runs("cpu")
    assert [r.key for r in runs] == ["t4/seed0", "t4/seed1", "t1/seed0", "t1/seed1"]
    assert {r.recipe.model for r in runs} == {"osnet_x0_25"}
    assert runs[2].model_options == {"T": 1} and runs[0].model_options == {}
    assert [r.key for r in TINY.runs("cpu", arms=["t1"], seeds=[1])] == ["t1/seed1"]
    # the quick profile caps the seeds of a study (a tiny version of it)
    table5 = get_study("table5")
    assert len(table5.runs("cpu")) == 11 * 3 and len(table5.runs("quick")) == 11 * 2


def test_a_study_can_scale_the_epochs_of_its_recipe():
    import dataclasses

    full = {r.key: r.recipe for r in get_study("table5").runs("cpu")}
    for name, scale in (("table5-short", 0.5), ("table5-long", 2.0)):
        for run in get_study(name).runs("cpu"):
            assert run.recipe.epochs == round(full[run.key].epochs * scale)
            assert run.recipe.replace(epochs=full[run.key].epochs) == full[run.key]
    step = dataclasses.replace(TINY, recipe_overrides={"scheduler": "multistep",
                                                      "milestones": (10, 20)}, epoch_scale=0.5)
    assert step.runs("paper")[0].recipe.milestones == (5, 10)
    for bad in (0, -1.0, True, "half", 11):
        with pytest.raises(ValueError, match="epoch_scale"):
            dataclasses.replace(TINY, epoch_scale=bad)


def test_table6_arms_set_the_width_and_resolution_multipliers_at_every_profile():
    from osnet_lib.experiments.studies import TABLE6_CORNERS, table6_arm_name
    from osnet_lib.models import model_name
    from osnet_lib.paper import GAMMA_INPUT_SIZE, TABLE6

    table6 = get_study("table6")
    assert [a.name for a in table6.arms] == [table6_arm_name(b, g) for b, _, g, *_ in TABLE6]
    # under paper, gamma gives the paper's own input sizes and beta its widths
    for run in table6.runs("paper", seeds=[0]):
        arm = table6.arm(run.arm)
        assert (run.recipe.height, run.recipe.width) == GAMMA_INPUT_SIZE[arm.gamma]
        assert run.recipe.model == model_name("osnet", arm.beta)
    # under cpu, gamma scales the profile's 128x64; the corners run every seed, the rest one
    cpu = table6.runs("cpu")
    sizes = {r.arm: (r.recipe.height, r.recipe.width) for r in cpu}
    assert sizes["b1-g1"] == (128, 64) and sizes["b0.5-g0.75"] == (96, 48)
    assert sizes["b0.25-g0.25"] == (32, 16)
    seeds = {a.name: [r.seed for r in cpu if r.arm == a.name] for a in table6.arms}
    corners = {table6_arm_name(b, g) for b, g in TABLE6_CORNERS}
    assert all(seeds[a] == ([0, 1, 2] if a in corners else [0]) for a in seeds)
    assert len(cpu) == 4 * 3 + 12
    # the wide diagnosis is Table 5's models 1 and 9 at x0.5; its model 1 is table6's (0.5, 1)
    wide = get_study("table5-wide").runs("cpu", seeds=[0])
    assert [(r.arm, r.recipe.model, r.model_options) for r in wide] == [
        ("model1", "osnet_x0_5", {}), ("model9", "osnet_x0_5", {"T": 1})]
    twin = table6.runs("cpu", arms=["b0.5-g1"], seeds=[0])[0]
    assert study_mod.fingerprint(wide[0]) == study_mod.fingerprint(twin)
    # the same beta and gamma on any family and study
    arm = Arm("small", model="osnet_ain", beta=0.5, gamma=0.5)
    run = Study("s", "x", arms=(arm,)).runs("cpu")[0]
    assert run.recipe.model == "osnet_ain_x0_5"
    assert (run.recipe.height, run.recipe.width) == (64, 32)


def test_bad_width_and_resolution_multipliers_are_refused_before_any_run():
    with pytest.raises(ValueError, match="width multiplier 0.3"):
        Arm("x", beta=0.3)
    for bad in (0, 1.5, -0.5, True, "half"):
        with pytest.raises(ValueError, match="gamma"):
            Arm("x", gamma=bad)
    with pytest.raises(ValueError, match="either gamma or the recipe"):
        Arm("x", gamma=0.5, recipe={"height": 64})
    # a resolution the network cannot down-sample by 16 is named with the profile's input
    study = Study("s", "x", arms=(Arm("tiny", gamma=0.25),))
    with pytest.raises(ValueError, match="64x32 into 16x8, smaller than 16x16"):
        study.runs("quick")
    assert study.runs("cpu")[0].recipe.width == 16


def test_the_ain_study_is_the_experiment_of_the_search_benchmark():
    ain = get_study("ain")
    runs = ain.runs("cpu")
    search = [r for r in runs if r.arm == "search"]
    assert [r.seed for r in search] == [0, 1, 2, 3] and search[0].kind == "search"
    assert search[0].recipe.temperature == 10.0 and search[0].select_on == "cuhk03"
    searched = [r for r in runs if r.arm == "searched"]
    assert searched[0].genotype_from == "search" and searched[0].recipe.model == "osnet_ain_x0_25"
    # trained from scratch: no classifier-only phase; the source is never a target
    assert all(r.recipe.fixbase_epochs == 0 for r in runs)
    assert all(r.source == "msmt" and "msmt" not in r.targets for r in runs)
    # selecting only the searched arm brings its search along
    assert {r.arm for r in ain.runs("cpu", arms=["searched"])} == {"search", "searched"}


def test_bad_studies_arms_and_options_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown study 'tabel5'; did you mean table5"):
        get_study("tabel5")
    with pytest.raises(ValueError, match="has no arm 'model12'"):
        get_study("table5").runs("cpu", arms=["model12"])
    with pytest.raises(ValueError, match=r"unknown model option\(s\) \['TT'\]"):
        Arm("x", options={"TT": 1})
    with pytest.raises(ValueError, match="fusion"):
        Arm("x", options={"fusion": "multiply"})
    with pytest.raises(ValueError, match=r"unknown recipe field\(s\) \['learning_rate'\]"):
        Arm("x", recipe={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="arm names .*repeat"):
        Study("s", "x", arms=(Arm("a"), Arm("a")))
    with pytest.raises(ValueError, match="unknown domain 'mars'"):
        Study("s", "x", arms=(Arm("a"),), source="mars")
    with pytest.raises(ValueError, match="seeds .* repeat"):
        Study("s", "x", arms=(Arm("a"),), seeds=(0, 0))
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        TINY.runs("laptop")
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        run_study(TINY, "quick", jobs=0)


# -- running and resuming -------------------------------------------------------------------
def test_the_store_holds_every_run_with_its_files(reference):
    store, frame = reference
    assert len(frame) == 4 * 2  # runs x targets
    assert frame.attrs["outcomes"] == {r.key: "trained" for r in TINY.runs("quick")}
    for spec in TINY.runs("quick"):
        folder = store.run_dir(spec)
        assert folder == store.root / "quick" / "tiny" / spec.arm / f"seed{spec.seed}"
        names = {p.name for p in folder.iterdir()}
        assert {"run.json", "results.json", "per_query.json", "weights.pth"} <= names
        assert "checkpoint.pth" not in names
        pq = store.per_query(spec, "duke")
        row = frame[(frame.arm == spec.arm) & (frame.seed == spec.seed) & (frame.target == "duke")]
        assert pq.rank(1).mean() == pytest.approx(float(row.rank1.iloc[0]))
        assert pq.ap.mean() == pytest.approx(float(row.mAP.iloc[0]), abs=1e-5)
    assert all(s.status is RunStatus.DONE for s in study_states(TINY, "quick", store))
    # a second call trains nothing
    again = run_study(TINY, "quick", store, jobs=1, data_root=store.root.parent, progress=False)
    assert again.attrs["outcomes"] == {}


def test_an_interrupted_study_resumes_and_ends_as_an_uninterrupted_one(reference, world, tmp_path,
                                                                       monkeypatch):
    store = Store(tmp_path)
    real = runner_mod.train_run
    calls = []

    def killed_in_second_run(spec, *args, **kwargs):
        calls.append(spec.key)
        if len(calls) == 2:  # the process dies in the second epoch of its second run
            def die(key, epoch, epochs):
                if epoch == 1:
                    raise KeyboardInterrupt
            return real(spec, *args[:4], on_epoch=die)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(runner_mod, "train_run", killed_in_second_run)
    with pytest.raises(KeyboardInterrupt):
        run_study(TINY, "quick", store, jobs=1, threads=1, data_root=world, progress=False)
    monkeypatch.setattr(runner_mod, "train_run", real)
    status = {s.spec.key: s.status for s in study_states(TINY, "quick", store)}
    # seed by seed: the second run is the second arm's first seed
    assert calls == ["t4/seed0", "t1/seed0"]
    assert status == {"t4/seed0": RunStatus.DONE, "t1/seed0": RunStatus.PARTIAL,
                      "t4/seed1": RunStatus.MISSING, "t1/seed1": RunStatus.MISSING}
    frame = run_study(TINY, "quick", store, jobs=1, threads=1, data_root=world, progress=False)
    assert set(frame.attrs["outcomes"]) == {"t1/seed0", "t4/seed1", "t1/seed1"}
    ref = _sorted(reference[1])
    got = _sorted(frame)
    np.testing.assert_array_equal(got[METRICS].to_numpy(), ref[METRICS].to_numpy())


def test_two_jobs_give_the_results_of_one(reference, world, tmp_path):
    frame = run_study(TINY, "quick", Store(tmp_path), jobs=2, threads=1, data_root=world,
                      progress=False)
    assert len(frame.attrs["outcomes"]) == 4
    np.testing.assert_array_equal(_sorted(frame)[METRICS].to_numpy(),
                                  _sorted(reference[1])[METRICS].to_numpy())


SCRIPT = textwrap.dedent("""
    import json, sys
    from osnet_lib.experiments import Arm, Store, Study, run_study
    study = Study("tiny", "a test", arms=(Arm("t4"), Arm("t1", options={"T": 1})),
                  recipe="scratch", source="market", targets=("market", "duke"), seeds=(0, 1))
    frame = run_study(study, "quick", Store(sys.argv[1]), jobs=1, threads=1,
                      data_root=sys.argv[2], progress=False)
    print(json.dumps(frame.attrs["outcomes"]))
""")


def test_two_processes_sharing_a_store_train_each_run_once(world, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    store = tmp_path / "store"
    procs = [subprocess.Popen([sys.executable, str(script), str(store), str(world)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
             for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    trained = [k for o in outs for k, v in o.items() if v == "trained"]
    assert sorted(trained) == sorted(r.key for r in TINY.runs("quick"))  # each exactly once
    frame = load_study(TINY, "quick", Store(store), data_root=world)
    assert len(frame) == 8


# -- stale runs and bad stores --------------------------------------------------------------
def test_a_run_whose_recipe_or_code_changed_is_stale_and_not_reused(reference, world, tmp_path,
                                                                    monkeypatch, caplog):
    store = Store(tmp_path / "store")
    shutil.copytree(reference[0].root, store.root)
    changed = Study("tiny", "a test", arms=TINY.arms, recipe="scratch", source="market",
                    targets=("market", "duke"), seeds=(0, 1), recipe_overrides={"lr": 0.01})
    states = study_states(changed, "quick", store)
    assert {s.status for s in states} == {RunStatus.STALE}
    assert states[0].detail == "changed: recipe"
    with caplog.at_level("WARNING"):
        frame = load_study(changed, "quick", store)
    assert frame.empty and "4 stale run(s)" in caplog.text and "--retrain-stale" in caplog.text
    with pytest.raises(StoreError, match="stale"):
        load_study(changed, "quick", store, stale="error")
    # a change of the code that shapes training makes every run stale, too
    monkeypatch.setattr(study_mod, "code_fingerprint", lambda: "0" * 16)
    assert {s.detail for s in study_states(TINY, "quick", store)} == {"changed: code"}
    # retrained only on request, one arm here
    frame = run_study(TINY, "quick", store, jobs=1, arms=["t1"], seeds=[0], data_root=world,
                      retrain_stale=True, progress=False)
    assert frame.attrs["outcomes"] == {"t1/seed0": "trained"}
    assert len(frame) == 2


def test_a_declared_equivalent_code_version_keeps_the_stored_runs(reference, tmp_path,
                                                                  monkeypatch):
    store = Store(tmp_path / "store")
    shutil.copytree(reference[0].root, store.root)
    stored = study_mod.code_fingerprint()
    monkeypatch.setattr(study_mod, "code_fingerprint", lambda: "b" * 16)
    assert {s.status for s in study_states(TINY, "quick", store)} == {RunStatus.STALE}
    # declared: the stored version computes what "a..." computes, and "a..." what "b..." does
    monkeypatch.setattr(study_mod, "EQUIVALENT_CODE", {stored: ("a" * 16, "why"),
                                                       "a" * 16: ("b" * 16, "why")})
    assert {s.status for s in study_states(TINY, "quick", store)} == {RunStatus.DONE}
    assert study_mod.same_code(stored, "b" * 16) and not study_mod.same_code("b" * 16, stored)
    # a later change that is not declared makes them stale again
    monkeypatch.setattr(study_mod, "code_fingerprint", lambda: "c" * 16)
    assert {s.detail for s in study_states(TINY, "quick", store)} == {"changed: code"}
    # a cycle in the declarations ends
    monkeypatch.setattr(study_mod, "EQUIVALENT_CODE", {"x": ("y", ""), "y": ("x", "")})
    assert not study_mod.same_code("x", "z")


def test_no_run_of_the_committed_cpu_store_is_stale():
    """The book renders from the committed store: a change of the code that shapes training,
    of a recipe or of a world, without retraining (or, for a change that computes the same,
    a declaration in EQUIVALENT_CODE), would leave its chapters without results. The
    calibrations are the record of the worlds' first check and are kept as they were."""
    from osnet_lib.experiments.studies import STUDIES

    store = Store()
    for name, study in STUDIES.items():
        if name.startswith("calibrate-"):
            continue
        stale = [s.spec.key for s in study_states(study, "cpu", store)
                 if s.status is RunStatus.STALE]
        assert not stale, f"{name}: stale runs {stale}"


def test_a_run_of_another_study_with_the_same_fingerprint_is_copied_not_trained(
        reference, world, tmp_path):
    store = Store(tmp_path / "store")
    shutil.copytree(reference[0].root, store.root)
    twin = Study("twin", "a test", arms=(Arm("osnet"),), recipe="scratch", source="market",
                 targets=("market", "duke"), seeds=(0,))
    frame = run_study(twin, "quick", store, jobs=1, data_root=world, progress=False)
    assert frame.attrs["outcomes"] == {"osnet/seed0": "copied"}
    spec = twin.runs("quick")[0]
    run = json.loads((store.run_dir(spec) / "run.json").read_text())
    assert run["copied_from"] == "tiny/t4/seed0" and run["spec"]["study"] == "twin"
    ref = reference[1]
    ref = ref[(ref.arm == "t4") & (ref.seed == 0)].sort_values("target")
    np.testing.assert_array_equal(frame.sort_values("target")[METRICS].to_numpy(),
                                  ref[METRICS].to_numpy())
    # another target list, seed or option is another computation: never copied
    other = Study("other", "a test", arms=(Arm("osnet", options={"T": 2}),), recipe="scratch",
                  source="market", targets=("market", "duke"), seeds=(0,))
    assert runner_mod._finished_twin(other.runs("quick")[0], store,
                                     study_mod.fingerprint(other.runs("quick")[0], world)) is None


def test_table3_sets_torchvision_baselines_at_osnets_size_beside_osnet():
    table3 = get_study("table3")
    cpu = {r.arm: r for r in table3.runs("cpu", seeds=[0])}
    assert cpu["osnet"].recipe == get_study("table5").runs("cpu", ["model1"], [0])[0].recipe
    assert cpu["mobilenet_v2"].recipe.model == "mobilenet_v2"
    assert cpu["mobilenet_v2"].model_options == {"width_mult": 0.15}  # OSNet x0.25's size
    paper = {r.arm: r for r in table3.runs("paper", seeds=[0])}
    assert paper["mobilenet_v2"].model_options == {"width_mult": 0.85}  # OSNet x1.0's size
    assert [r.seed for r in table3.runs("cpu") if r.arm == "resnet18"] == [0]
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['T'\] for the resnet18"):
        Arm("r", model="resnet18", options={"T": 1})
    with pytest.raises(ValueError, match="width_mult must be one of .* or 'matched'"):
        Arm("m", model="mobilenet_v2", options={"width_mult": 0.33})
    with pytest.raises(ValueError, match="trained as it is"):
        Arm("m", model="mobilenet_v2", beta=0.5)
    with pytest.raises(ValueError, match="unknown model family 'mobilenet'"):
        Arm("m", model="mobilenet")


def test_a_store_written_by_another_profile_is_refused(reference, tmp_path):
    store = Store(tmp_path / "store")
    shutil.copytree(reference[0].root / "quick", store.root / "cpu")
    with pytest.raises(StoreError, match="written by profile 'quick'.*'cpu' folder"):
        study_states(TINY, "cpu", store)
    with pytest.raises(StoreError, match="is the 'cpu' folder of a store"):
        Store(store.root / "cpu")


def test_a_corrupt_results_file_is_named(reference, tmp_path):
    store = Store(tmp_path / "store")
    shutil.copytree(reference[0].root, store.root)
    spec = TINY.runs("quick")[1]
    path = store.run_dir(spec) / "results.json"
    path.write_text('{"metrics": {"market": ')
    with pytest.raises(StoreError, match=f"{path}.* is corrupt"):
        load_study(TINY, "quick", store)
    path.write_text('{"metrics": {"market": {"rank1": 0.5}}}')
    with pytest.raises(StoreError, match="no rank-1 and mAP on 'market'"):
        load_study(TINY, "quick", store)


def test_verdicts_are_read_from_the_store(reference):
    from osnet_lib.experiments import Claim, verdict

    store, frame = reference
    claim = Claim("tiny-omni", "tiny", ("t4", "t1"), target="duke", paper=(57.1, 43.3))
    v = verdict(claim, "quick", store, study=TINY)
    (c,) = v.comparisons
    assert v.target == "duke" and c.seeds == (0, 1) and c.method.startswith("paired bootstrap")
    duke = frame[frame.target == "duke"].set_index(["arm", "seed"])["rank1"]
    expected = np.mean([100 * (duke["t4", s] - duke["t1", s]) for s in (0, 1)])
    assert c.mean == pytest.approx(expected) and c.low <= c.mean <= c.high
    assert c.paper_difference == pytest.approx(13.8)
    assert v.verdict == c.verdict and "tiny-omni" in v.summary()
    with pytest.raises(ValueError, match="study 'tiny' has no arm 't2'"):
        verdict(Claim("x", "tiny", ("t4", "t2")), "quick", store, study=TINY)
    with pytest.raises(ValueError, match=r"no finished run of arm\(s\) \['t4', 't1'\]"):
        verdict(claim, "quick", Store(store.root / "empty"), study=TINY)
    # an arm the claim does not name, which cannot run at this profile, is not resolved
    wider = Study("tiny", "a test", arms=TINY.arms + (Arm("small", gamma=0.25),),
                  recipe="scratch", source="market", targets=("market", "duke"), seeds=(0, 1))
    assert verdict(claim, "quick", store, study=wider).comparisons == v.comparisons


def test_arm_values_are_what_compare_takes(reference):
    from osnet_lib.experiments import arm_values, compare

    store, frame = reference
    values, per_query = arm_values(TINY, "quick", store, ("t4", "t1"), "mAP", target="duke")
    duke = frame[frame.target == "duke"].set_index(["arm", "seed"])["mAP"]
    assert values == {a: {s: pytest.approx(100 * duke[a, s]) for s in (0, 1)}
                      for a in ("t4", "t1")}
    assert per_query("t4", 1).ap.shape == per_query("t1", 1).ap.shape
    c = compare("t4", "t1", values, "mAP", per_query)
    assert c.seeds == (0, 1) and c.method.startswith("paired bootstrap")  # queries of 2 seeds
    assert c.low <= c.mean <= c.high
    with pytest.raises(ValueError, match="unknown metric 'rank5'"):
        arm_values(TINY, "quick", store, ("t4", "t1"), "rank5")
    with pytest.raises(ValueError, match="study 'tiny' has no arm 't2'"):
        arm_values(TINY, "quick", store, ("t4", "t2"))


def test_a_relative_verdict_reads_both_studies_from_the_store(reference, tmp_path):
    import dataclasses
    import shutil

    from osnet_lib.experiments import Claim, verdict

    store, _ = reference
    copy = dataclasses.replace(TINY, name="tiny-copy")
    claim = Claim("rel", "tiny", ("t4", "t1"), target="duke", relative_to="tiny-copy")
    with pytest.raises(ValueError, match="no finished run .* of study 'tiny-copy'"):
        verdict(claim, "quick", store, study=TINY, relative_study=copy)
    with pytest.raises(ValueError, match="relative to study 'tiny-copy', not 'tiny'"):
        verdict(claim, "quick", store, study=TINY, relative_study=TINY)
    both = Store(tmp_path / "both")
    shutil.copytree(store.root / "quick" / "tiny", both.root / "quick" / "tiny")
    shutil.copytree(store.root / "quick" / "tiny", both.root / "quick" / "tiny-copy")
    for run in (both.root / "quick" / "tiny-copy").glob("*/seed*/run.json"):
        record = json.loads(run.read_text())
        record["spec"]["study"] = "tiny-copy"  # the same runs, filed under the other study
        run.write_text(json.dumps(record))
    (c,) = verdict(claim, "quick", both, study=TINY, relative_study=copy).comparisons
    # the same runs in both studies: no difference of differences, an interval around it
    assert c.mean == pytest.approx(0.0) and c.low < 0 < c.high and c.verdict == "inconclusive"


def test_the_study_command_lists_and_reports(tmp_path, capsys):
    from osnet_lib.__main__ import main

    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    assert "table5" in out and "Table 5" in out and "table5-omni-vs-single" in out
    lines = out.splitlines()
    control = next(i for i, line in enumerate(lines) if line.startswith("table5-control "))
    assert "control world" in lines[control]
    # the arms line under the longest study name lines up with the others
    assert lines[control + 1].index("arms:") == lines[1].index("arms:")
    assert main(["study", "status", "table5", "--profile", "quick", "--store",
                 str(tmp_path), "--arms", "model1", "model9"]) == 0
    out = capsys.readouterr().out
    assert "model9/seed1" in out and "4 missing of 4 runs" in out


def test_the_world_kind_is_part_of_a_run_and_its_fingerprint():
    from osnet_lib.experiments import fingerprint
    from osnet_lib.experiments.study import dataset_ref

    omni = Study("tiny", "a test", arms=TINY.arms, source="market", targets=("market", "duke"),
                 seeds=(0, 1), world="omni")
    a, b = TINY.runs("cpu")[0], omni.runs("cpu")[0]
    assert (a.world, b.world) == ("default", "omni")
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa["data"] != fb["data"] and {k for k in fa if fa[k] != fb[k]} == {"data"}
    assert dataset_ref("duke", "cpu", "omni") == ("synthetic", {"domain": "duke", "world": "cpu",
                                                                "kind": "omni"})
    assert dataset_ref("duke", "paper", "omni") == ("dukemtmcreid", {})
    with pytest.raises(ValueError, match="kind"):
        Study("s", "x", arms=(Arm("a"),), world="blobs")


# -- reading runs back: networks, tables, figures -------------------------------------------------
def test_a_stored_run_rebuilds_its_trained_network(reference, tmp_path):
    import torch

    from osnet_lib.experiments.store import StoreError

    store, _ = reference
    spec = TINY.runs("quick", arms=["t1"], seeds=[1])[0]
    net = store.model(spec)
    saved = torch.load(store.run_dir(spec) / "weights.pth", weights_only=True)
    assert not net.training and getattr(net, "classifier", None) is None
    assert all(torch.equal(net.state_dict()[k], v) for k, v in saved.items())
    assert set(net.state_dict()) == set(saved)
    copy = Store(tmp_path / "copy")
    shutil.copytree(store.root / "quick", copy.root / "quick")
    (copy.run_dir(spec) / "weights.pth").unlink()
    with pytest.raises(StoreError, match="kept no weights"):
        copy.model(spec)
    with pytest.raises(StoreError, match="missing, not done"):
        Store(tmp_path / "empty").model(spec)


def test_a_torchvision_baseline_trains_as_an_arm_and_is_rebuilt_from_the_store(world, tmp_path):
    import torch

    from osnet_lib.backbones import TorchvisionReID

    study = Study("baseline", "a test", arms=(
        Arm("mobilenet_v2", model="mobilenet_v2", options={"width_mult": "matched"}),),
        recipe="scratch", source="market", seeds=(0,))
    store = Store(tmp_path)
    frame = run_study(study, "quick", store, jobs=1, data_root=world, progress=False)
    assert frame.attrs["outcomes"] == {"mobilenet_v2/seed0": "trained"}
    assert 0 <= frame.rank1.iloc[0] <= 1 and frame.train_seconds.iloc[0] > 0
    spec = study.runs("quick")[0]
    net = store.model(spec)
    assert isinstance(net, TorchvisionReID) and net.width_mult == 0.15
    saved = torch.load(store.run_dir(spec) / "weights.pth", weights_only=True)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in saved.items())


def test_the_report_tables_read_the_runs(reference):
    from osnet_lib.complexity import complexity
    from osnet_lib.experiments.report import arm_costs, arm_summary

    store, frame = reference
    with pytest.raises(ValueError, match="choose a target"):
        arm_summary(frame)
    with pytest.raises(ValueError, match="no run is tested on 'msmt'"):
        arm_summary(frame, "msmt")
    table = arm_summary(frame, "duke", study=TINY)
    assert list(table.index) == ["t4", "t1"] and (table["seeds"] == 2).all()
    duke = frame[(frame.target == "duke") & (frame.arm == "t1")]
    assert table.loc["t1", "rank1"] == pytest.approx(100 * duke["rank1"].mean())
    assert table.loc["t1", "mAP_sd"] == pytest.approx(100 * duke["mAP"].std(ddof=1))
    assert table.loc["t1", "train_minutes"] == pytest.approx(duke["train_seconds"].mean() / 60)
    costs = arm_costs(TINY, "quick")
    t1 = complexity(store.model(TINY.runs("quick", arms=["t1"], seeds=[0])[0]), (64, 32))
    assert costs.loc["t1", "params"] == t1.params and costs.loc["t1", "mult_adds"] == t1.mult_adds
    assert costs.loc["t4", "mult_adds"] > costs.loc["t1", "mult_adds"]


def test_the_training_and_cmc_curves_read_the_runs(reference, tmp_path):
    from osnet_lib.experiments.report import cmc_curves, training_curves

    store, frame = reference
    curves = training_curves(TINY, "quick", store)
    epochs = TINY.runs("quick")[0].recipe.epochs
    assert len(curves) == 4 * epochs and list(curves.epoch[:epochs]) == list(range(1, epochs + 1))
    last = curves[curves.epoch == epochs].set_index(["arm", "seed"]).train_acc
    acc = frame[frame.target == "market"].set_index(["arm", "seed"]).train_acc
    for key, value in last.items():
        assert value == pytest.approx(100 * acc.loc[key])
    cmc = cmc_curves(TINY, "quick", store, target="duke", max_rank=5)
    assert list(cmc.index) == ["t4", "t1"] and list(cmc.columns) == [1, 2, 3, 4, 5]
    assert (np.diff(cmc.to_numpy(), axis=1) >= 0).all()  # a CMC curve never falls
    duke = frame[frame.target == "duke"].groupby("arm").rank1.mean()
    assert cmc.loc["t1", 1] == pytest.approx(100 * duke["t1"])
    with pytest.raises(ValueError, match="max_rank"):
        cmc_curves(TINY, "quick", store, max_rank=0)
    with pytest.raises(ValueError, match="no finished run"):
        cmc_curves(TINY, "quick", Store(tmp_path))
    assert training_curves(TINY, "quick", Store(tmp_path)).empty


def test_the_run_provenance_names_every_run_its_code_and_time(reference, tmp_path):
    from osnet_lib.experiments.report import describe_runs, run_provenance
    from osnet_lib.experiments.study import code_fingerprint

    store, frame = reference
    prov = run_provenance([TINY, TINY], "quick", store)  # a study named twice counts once
    assert sorted(zip(prov.arm, prov.seed)) == [("t1", 0), ("t1", 1), ("t4", 0), ("t4", 1)]
    assert (prov.code == code_fingerprint()).all()
    seconds = frame[frame.target == "market"].set_index(["arm", "seed"]).train_seconds
    for row in prov.itertuples():
        assert row.train_seconds == pytest.approx(seconds.loc[(row.arm, row.seed)])
    assert len(run_provenance([TINY], "quick", store, arms=["t1", "not-an-arm-here"])) == 2
    assert run_provenance([TINY], "quick", store, arms=["elsewhere"]).empty
    text = describe_runs(prov, "quick")
    hours = prov.train_seconds.sum() / 3600
    assert text.startswith("4 runs of the `quick` store (tiny)") and f"{hours:.1f} hours" in text
    with pytest.raises(ValueError, match="no finished runs"):
        describe_runs(run_provenance([TINY], "quick", Store(tmp_path)), "quick")


def test_the_verdict_table_and_figure_show_every_comparison(reference):
    import matplotlib

    matplotlib.use("Agg")
    from osnet_lib.experiments import Claim, verdict
    from osnet_lib.experiments.report import plot_verdicts, verdict_frame

    store, frame = reference
    v = verdict(Claim("tiny", "tiny", ("t4", "t1"), target="duke", paper=(57.1, 43.3)), "quick",
                store, frame, study=TINY)
    table = verdict_frame([v, v])
    assert len(table) == 2 and table["paper"].tolist() == pytest.approx([13.8, 13.8])
    (c,) = v.comparisons
    assert table.loc[0, "ours"] == c.mean and table.loc[0, "verdict"] == c.verdict
    ax = plot_verdicts([v], labels=["T = 4 > T = 1"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["T = 4 > T = 1"]
    with pytest.raises(ValueError, match="1 labels for 2 comparisons"):
        plot_verdicts([v, v], labels=["x"])
    with pytest.raises(ValueError, match="no comparisons"):
        plot_verdicts([])


def test_load_or_run_refuses_a_train_flag_that_is_not_a_bool():
    from osnet_lib.experiments import load_or_run

    with pytest.raises(TypeError, match="train must be True or False, got 'False'"):
        load_or_run(TINY, "quick", train="False")
