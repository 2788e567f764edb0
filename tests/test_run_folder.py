"""A run folder belongs to one run: locked while training, never silently overwritten,
resumed only by the run that wrote it, weights kept when the final evaluation fails, no
temporary files left behind, results readable by others; and the trainer checks its inputs
before the first epoch."""

import os
import stat

import pytest
import torch
from conftest import write_tiny_market

from osnet_lib.data import ImageRecord, ProtocolError, ReIDDataset, read_market1501_layout
from osnet_lib.engine import Trainer, load_checkpoint, records_fingerprint
from osnet_lib.provenance import FolderLockedError, exclusive_lock
from osnet_lib.recipes import get_recipe
from osnet_lib.weights import save_weights


def _recipe(**overrides):
    return get_recipe("scratch", "quick", **{"epochs": 1, "batch_size": 8, "num_workers": 0,
                                             **overrides})


@pytest.fixture(scope="module")
def tiny(tiny_market):
    return read_market1501_layout(tiny_market, name="tiny")


@pytest.fixture(scope="module")
def finished(tiny, tmp_path_factory):
    """A folder holding a finished one-epoch run."""
    folder = tmp_path_factory.mktemp("finished")
    Trainer(_recipe(), tiny, folder, progress=False).fit()
    return folder


def _copy_run(src, dst):
    dst.mkdir()
    for name in ("checkpoint.pth", "results.json", "model.pth"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_a_finished_run_is_not_overwritten(tiny, finished):
    before = (finished / "results.json").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a run.*--resume.*--force") as err:
        Trainer(_recipe(), tiny, finished, progress=False).fit()
    assert str(finished) in str(err.value)
    assert (finished / "results.json").read_bytes() == before


def test_force_starts_over(tiny, finished, tmp_path):
    run = _copy_run(finished, tmp_path / "run")
    (run / "results.json").write_text("{}")
    results = Trainer(_recipe(), tiny, run, progress=False).fit(force=True)
    assert "metrics" in results and (run / "results.json").read_text() != "{}"
    with pytest.raises(ValueError, match="choose one"):
        Trainer(_recipe(), tiny, run, progress=False).fit(resume=True, force=True)


def test_a_second_process_is_refused_while_a_run_owns_the_folder(tiny, tmp_path):
    with exclusive_lock(tmp_path / "busy"):  # another holder of the folder's lock
        with pytest.raises(FolderLockedError, match="in use by process"):
            Trainer(_recipe(), tiny, tmp_path / "busy", progress=False).fit()
    assert not (tmp_path / "busy" / "checkpoint.pth").exists()


def test_the_lock_is_held_for_the_whole_run(tiny, tmp_path, monkeypatch):
    seen = []

    def evaluate(self):
        with pytest.raises(FolderLockedError):
            with exclusive_lock(self.output_dir):
                pass
        seen.append(True)
        return {}

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    Trainer(_recipe(), tiny, tmp_path, progress=False).fit()
    assert seen


def test_resume_compares_the_dataset_and_the_model_options(tiny, finished, tmp_path):
    other_root = write_tiny_market(tmp_path / "other", seed=5)  # same names and size
    other = read_market1501_layout(other_root, name="tiny")
    assert len(other.train) == len(tiny.train) and other.name == tiny.name
    assert records_fingerprint(other.train) != records_fingerprint(tiny.train)
    run = _copy_run(finished, tmp_path / "run")
    with pytest.raises(ValueError, match="training set's images or labels differ"):
        Trainer(_recipe(), other, run, progress=False).fit(resume=True)
    with pytest.raises(ValueError, match="model options differ") as err:
        Trainer(_recipe(), tiny, run, seed=2, model_options={"T": 2},
                progress=False).fit(resume=True)
    assert "seed 0" in str(err.value) and "--force" in str(err.value)  # every difference
    with pytest.raises(ValueError, match="evaluation sets differ"):
        Trainer(_recipe(), tiny, run, eval_sets={"elsewhere": tiny},
                progress=False).fit(resume=True)
    # the same run resumes (a finished one is evaluated again)
    assert "metrics" in Trainer(_recipe(), tiny, run, progress=False).fit(resume=True)


def test_resume_on_an_empty_folder_starts_a_run(tiny, tmp_path):
    assert "metrics" in Trainer(_recipe(), tiny, tmp_path / "new", progress=False).fit(
        resume=True)


def test_weights_survive_a_failing_final_evaluation(tiny, tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(Trainer, "evaluate", broken)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        Trainer(_recipe(epochs=2), tiny, tmp_path, progress=False).fit()
    assert (tmp_path / "model.pth").is_file()
    assert load_checkpoint(tmp_path / "checkpoint.pth")["epoch"] == 2
    assert not (tmp_path / "results.json").exists()
    monkeypatch.undo()
    trainer = Trainer(_recipe(epochs=2), tiny, tmp_path, progress=False)
    results = trainer.fit(resume=True)  # evaluates the finished training, trains nothing
    assert trainer.start_epoch == 2 and len(results["history"]) == 2
    assert "eval" in results["history"][-1]


def test_stale_temporary_files_are_removed_and_results_are_readable(tiny, finished, tmp_path):
    run = _copy_run(finished, tmp_path / "run")
    stale = [run / ".checkpoint.pth.k1l2m3.tmp", run / "model.pth.tmp",
             run / ".results.json.x9.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    old = os.umask(0o022)
    try:
        Trainer(_recipe(), tiny, run, progress=False).fit(resume=True)
    finally:
        os.umask(old)
    assert not any(p.exists() for p in stale)
    for name in ("results.json", "model.pth", "checkpoint.pth"):
        assert stat.S_IMODE((run / name).stat().st_mode) == 0o644, name


def test_save_weights_uses_a_unique_temporary_name(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    model = torch.nn.Linear(2, 2)
    save_weights(model, tmp_path / "w.pth")
    save_weights(model, tmp_path / "w.pth")
    assert len(set(seen)) == 2 and all(s.endswith(".tmp") and s != "w.pth.tmp" for s in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]


# -- checks before the first epoch ------------------------------------------------------------
def test_an_evaluation_set_without_a_valid_protocol_is_refused_before_training(tiny, tmp_path,
                                                                               monkeypatch):
    broken = ReIDDataset("no-gallery", [], tiny.query[:3], [])
    monkeypatch.setattr(Trainer, "train_one_epoch", lambda *a: pytest.fail("trained"))
    with pytest.raises(ProtocolError, match="no-gallery.*gallery is empty"):
        Trainer(_recipe(), tiny, tmp_path, eval_sets={"x": broken}, progress=False)


def test_an_output_that_is_a_file_is_refused_before_training(tiny, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        Trainer(_recipe(), tiny, tmp_path / "file", progress=False)
    with pytest.raises(ValueError, match="cannot create"):
        Trainer(_recipe(), tiny, tmp_path / "file" / "run", progress=False)


@pytest.mark.parametrize("override, match", [
    (dict(lr=float("inf")), "lr must be a finite number"),
    (dict(weight_decay=float("nan")), "weight_decay must be a finite number"),
    (dict(batch_size=1), "batch_size must be at least 2"),
    (dict(momentum=1.5), "momentum must be in"),
    (dict(augment=("flip", "wobble")), "wobble"),
])
def test_recipe_values_are_checked_before_training(tiny, tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        Trainer(_recipe(**override), tiny, tmp_path, progress=False)


def test_a_query_of_the_train_set_is_still_a_record(tiny):
    # records_fingerprint reads no pixels: a missing file still fingerprints (size -1)
    assert records_fingerprint([ImageRecord("/nonexistent.jpg", 0, 0)])
