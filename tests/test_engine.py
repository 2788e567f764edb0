"""The training engine: determinism, atomic checkpoints, resume after a kill, multi-source,
DistributedDataParallel on CPU, feature extraction and the command line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from osnet_lib.data import build_transforms, combine_datasets, read_market1501_layout
from osnet_lib.engine import (
    Trainer,
    classifier_only,
    extract_features,
    label_smoothing_loss,
    load_checkpoint,
    rank_gallery,
    save_checkpoint,
)
from osnet_lib.models import build_model
from osnet_lib.recipes import get_recipe


def _recipe(name="scratch", **overrides):
    return get_recipe(name, "quick", **{"epochs": 2, "batch_size": 8, "num_workers": 0,
                                        **overrides})


@pytest.fixture(scope="module")
def tiny(tiny_market):
    return read_market1501_layout(tiny_market, name="tiny")


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_label_smoothing_loss_is_the_smoothed_cross_entropy():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 7), torch.tensor([0, 3, 6, 2, 2])
    eps = 0.1
    target = torch.full((5, 7), eps / 7)
    target[torch.arange(5), y] += 1 - eps
    expected = -(target * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(label_smoothing_loss(logits, y, eps), expected)


def test_same_seed_same_result_and_another_seed_differs(tiny, tmp_path):
    recipe = _recipe()
    a = Trainer(recipe, tiny, tmp_path / "a", seed=3, progress=False).fit()
    b = Trainer(recipe, tiny, tmp_path / "b", seed=3, progress=False).fit()
    c = Trainer(recipe, tiny, tmp_path / "c", seed=4, progress=False).fit()
    _assert_same_weights(_weights(tmp_path / "a" / "model.pth"),
                         _weights(tmp_path / "b" / "model.pth"))
    assert a["metrics"] == b["metrics"]
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert [h["loss"] for h in a["history"]] != [h["loss"] for h in c["history"]]
    saved = json.loads((tmp_path / "a" / "results.json").read_text())
    assert saved["provenance"]["seed"] == 3 and saved["provenance"]["recipe"]["epochs"] == 2
    assert "torch" in saved["provenance"]["environment"]
    assert 0 <= saved["metrics"]["tiny"]["rank1"] <= 1


def test_resume_continues_where_the_checkpoint_left_off(tiny, tmp_path):
    recipe = _recipe(epochs=3)
    full = Trainer(recipe, tiny, tmp_path / "full", seed=0, progress=False).fit()
    # an interrupted run: two epochs done, then a new process picks it up
    part = Trainer(recipe.replace(epochs=3), tiny, tmp_path / "part", seed=0, progress=False)
    for epoch in range(2):
        part.history.append(part.train_one_epoch(epoch))
        save_checkpoint(part.checkpoint_path, part._state(epoch + 1))
    again = Trainer(recipe, tiny, tmp_path / "part", seed=0, progress=False)
    resumed = again.fit(resume=True)
    assert again.start_epoch == 2
    _assert_same_weights(_weights(tmp_path / "full" / "model.pth"),
                         _weights(tmp_path / "part" / "model.pth"))
    assert resumed["metrics"] == full["metrics"]


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "osnet_lib", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def test_a_killed_training_process_resumes_to_the_same_weights(tiny_market, tmp_path):
    args = ["train", "--recipe", "scratch", "--profile", "quick", "--dataset", "market1501",
            "--data-root", str(tiny_market), "--epochs", "4", "--batch-size", "8", "--quiet",
            "--set", "num_workers=0", "--seed", "1"]
    ref = _cli(*args, "--output", str(tmp_path / "ref"))
    out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0, out.decode()

    run = tmp_path / "killed"
    victim = _cli(*args, "--output", str(run))
    deadline = time.time() + 240
    while time.time() < deadline:
        if (run / "checkpoint.pth").exists():
            try:
                if load_checkpoint(run / "checkpoint.pth")["epoch"] >= 1:
                    break
            except ValueError:
                pass  # never expected: checkpoints are written atomically
        if victim.poll() is not None:
            pytest.fail("the run ended before it could be interrupted")
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (run / "results.json").exists()  # it really was interrupted
    assert load_checkpoint(run / "checkpoint.pth")["epoch"] < 4
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]

    resumed = _cli(*args, "--output", str(run), "--resume")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out.decode()
    _assert_same_weights(_weights(tmp_path / "ref" / "model.pth"), _weights(run / "model.pth"))
    ref_metrics = json.loads((tmp_path / "ref" / "results.json").read_text())["metrics"]
    assert json.loads((run / "results.json").read_text())["metrics"] == ref_metrics


def test_resume_refuses_another_recipe_or_seed(tiny, tmp_path):
    recipe = _recipe(epochs=1)
    Trainer(recipe, tiny, tmp_path, seed=0, progress=False).fit()
    with pytest.raises(ValueError, match=r"another recipe \(fields \['lr'\]"):
        Trainer(recipe.replace(lr=0.01), tiny, tmp_path, seed=0, progress=False).fit(resume=True)
    with pytest.raises(ValueError, match="seed 0"):
        Trainer(recipe, tiny, tmp_path, seed=5, progress=False).fit(resume=True)
    (tmp_path / "bad.pth").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "bad.pth")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pth")


def test_too_small_a_training_set_is_refused(tiny, tmp_path):
    with pytest.raises(ValueError, match="fewer than one batch"):
        Trainer(get_recipe("scratch", "quick", batch_size=64), tiny, tmp_path, progress=False)


def test_fixbase_epochs_train_only_the_classifier(tiny, tmp_path):
    recipe = _recipe("finetune", epochs=1, fixbase_epochs=1)
    trainer = Trainer(recipe, tiny, tmp_path, seed=0, progress=False)
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    trainer.train_one_epoch(0)
    after = trainer.net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}
    assert all(p.requires_grad for p in trainer.net.parameters())  # unfrozen afterwards
    with classifier_only(trainer.net, enabled=False):
        assert all(p.requires_grad for p in trainer.net.parameters())


def test_multi_source_training_has_one_classifier_over_the_union(tiny, tmp_path):
    both = combine_datasets([tiny, tiny])
    assert both.num_train_pids == 2 * tiny.num_train_pids
    trainer = Trainer(_recipe(epochs=1), both, tmp_path,
                      eval_sets={"a": tiny}, progress=False)
    assert trainer.net.classifier.out_features == 16
    assert set(trainer.fit()["metrics"]) == {"a"}


def test_two_process_distributed_training_on_cpu(tiny_market, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
           str(29500 + os.getpid() % 1000), "-m", "osnet_lib", "train", "--recipe", "scratch",
           "--profile", "quick", "--dataset", "market1501", "--data-root", str(tiny_market),
           "--epochs", "1", "--batch-size", "8", "--quiet", "--output", str(tmp_path / "ddp")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert results["provenance"]["world_size"] == 2
    assert (tmp_path / "ddp" / "model.pth").exists()


def test_features_with_flip_and_ranking(tiny):
    torch.manual_seed(0)
    model = build_model("osnet_x0_25").eval()
    _, tf = build_transforms(64, 32)
    plain = extract_features(model, tiny.query, tf, batch_size=4)
    assert plain.features.shape == (len(tiny.query), 512)
    assert list(plain.pids) == [r.pid for r in tiny.query]
    flipped = extract_features(model, tiny.query, tf, flip=True)
    assert not torch.allclose(plain.features, flipped.features)
    paths = extract_features(model, [r.path for r in tiny.query[:2]], tf)
    assert list(paths.pids) == [-1, -1]
    q = torch.tensor([[1.0, 0.0]])
    g = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    idx, dist = rank_gallery(q, g, top_k=3)
    assert idx.tolist() == [[1, 2, 3]]  # tie between 1 and 2 broken by gallery index
    with pytest.raises(ValueError, match="no images"):
        extract_features(model, [], tf)


def test_cli_eval_features_and_rank(tiny_market, tmp_path):
    from osnet_lib.__main__ import main

    common = ["--model", "osnet_x0_25", "--height", "64", "--width", "32", "--device", "cpu"]
    assert main(["eval", *common, "--dataset", "market1501", "--data-root", str(tiny_market),
                 "--output", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]["market1501"]
    assert 0 <= metrics["mAP"] <= 1
    query = tiny_market / "query"
    assert main(["features", *common, "--images", str(query), "--output",
                 str(tmp_path / "f.npy")]) == 0
    assert np.load(tmp_path / "f.npy").shape == (len(list(query.glob("*.jpg"))), 512)
    assert main(["rank", *common, "--query", str(query), "--gallery",
                 str(tiny_market / "bounding_box_test"), "--top-k", "3", "--output",
                 str(tmp_path / "r.json")]) == 0
    ranking = json.loads((tmp_path / "r.json").read_text())
    assert all(len(v) == 3 for v in ranking.values())
    with pytest.raises(SystemExit, match="neither a folder"):
        main(["features", *common, "--images", str(tmp_path / "nothing"), "--output", "x.npy"])
    with pytest.raises(SystemExit, match="key=value"):
        main(["train", "--dataset", "market1501", "--output", str(tmp_path), "--set", "epochs"])


# -- the execution paths of the recipe (channels_last, torch_compile, autocast_bf16, ...) --------
#: Each path's recipe fields; "default" is the recipe as it is (the fast path on the CPU),
#: "eager" the trainer before its fast paths.
PATHS = {
    "eager": dict(channels_last=False, cache_images=False, eval_backend="eager"),
    "bf16": dict(autocast_bf16=True),
    "compile": dict(torch_compile=True),
}


@pytest.mark.parametrize("path", [
    "eager", "bf16", pytest.param("compile", marks=pytest.mark.slow)])
def test_each_path_is_reproducible_and_resumes_exactly(tiny, tmp_path, path):
    recipe = _recipe(epochs=2, **PATHS[path])
    full = Trainer(recipe, tiny, tmp_path / "a", seed=2, progress=False).fit()
    same = Trainer(recipe, tiny, tmp_path / "b", seed=2, progress=False).fit()
    _assert_same_weights(_weights(tmp_path / "a" / "model.pth"),
                         _weights(tmp_path / "b" / "model.pth"))
    assert same["metrics"] == full["metrics"]
    part = Trainer(recipe, tiny, tmp_path / "c", seed=2, progress=False)
    part.history.append(part.train_one_epoch(0))
    save_checkpoint(part.checkpoint_path, part._state(1))
    again = Trainer(recipe, tiny, tmp_path / "c", seed=2, progress=False)
    resumed = again.fit(resume=True)
    assert again.start_epoch == 1
    _assert_same_weights(_weights(tmp_path / "a" / "model.pth"),
                         _weights(tmp_path / "c" / "model.pth"))
    assert resumed["metrics"] == full["metrics"]
    # the path is part of the recipe: a checkpoint is resumed on its own path only
    other = "eager" if path != "eager" else "bf16"
    with pytest.raises(ValueError, match="another recipe"):
        Trainer(_recipe(epochs=2, **PATHS[other]), tiny, tmp_path / "c", seed=2,
                progress=False).resume()


def test_decoding_images_once_trains_exactly_as_decoding_them_every_epoch(tiny, tmp_path):
    for cache in (True, False):
        Trainer(_recipe(epochs=2, cache_images=cache), tiny, tmp_path / str(cache), seed=1,
                progress=False).fit()
    _assert_same_weights(_weights(tmp_path / "True" / "model.pth"),
                         _weights(tmp_path / "False" / "model.pth"))


def test_each_path_reaches_the_network(tiny, tmp_path):
    """channels_last puts the weights and the images in NHWC; autocast_bf16 runs the
    convolutions in bfloat16; the eager path does neither."""
    seen = {}
    for name, over in (("eager", PATHS["eager"]), ("default", {}), ("bf16", PATHS["bf16"])):
        trainer = Trainer(_recipe(epochs=1, **over), tiny, tmp_path / name, seed=0,
                          progress=False)
        stem = next(m for m in trainer.net.modules() if isinstance(m, torch.nn.Conv2d))

        def look(module, args, out, name=name):
            seen.setdefault(name, (args[0].is_contiguous(memory_format=torch.channels_last),
                                   module.weight.is_contiguous(memory_format=torch.channels_last),
                                   out.dtype))

        hook = stem.register_forward_hook(look)
        trainer.train_one_epoch(0)
        hook.remove()
    assert seen == {"eager": (False, False, torch.float32),
                    "default": (True, True, torch.float32),
                    "bf16": (True, True, torch.bfloat16)}


def test_evaluation_backends_give_the_eager_features(tiny):
    from osnet_lib.deploy import optimize_for_inference
    from osnet_lib.engine import evaluate_model

    torch.manual_seed(0)
    model = build_model("osnet_x0_25", num_classes=8)
    model.train()  # as the trainer leaves it: the backends evaluate a copy in eval mode
    _, tf = build_transforms(64, 32)
    eager = extract_features(model, tiny.query, tf)
    assert model.training
    fast = extract_features(model, tiny.query, tf, embed=optimize_for_inference(
        model.eval(), "inference_mode", input_size=(64, 32)))
    torch.testing.assert_close(fast.features, eager.features, atol=1e-5, rtol=1e-4)
    model.train()
    a = evaluate_model(model, tiny, 64, 32, device="cpu").as_dict()
    b = evaluate_model(model, tiny, 64, 32, device="cpu", backend="inference_mode").as_dict()
    assert model.training
    assert a["rank1"] == b["rank1"] and a["mAP"] == pytest.approx(b["mAP"], abs=1e-6)
    with pytest.raises(ValueError, match="unknown backend"):
        evaluate_model(model, tiny, 64, 32, device="cpu", backend="tensorrt")
