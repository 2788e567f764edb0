"""The command-line entry point."""

import pytest

from osnet_lib.__main__ import main


def test_models_lists_every_registered_model(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "osnet_x1_0" in out and "osnet_ain_x0_25" in out and "978.9M" in out


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as err:
        main(["fly"])
    assert err.value.code == 2
    assert "invalid choice: 'fly'" in capsys.readouterr().err


def test_help_explains_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "complexity" in out and "smoke" in out


# -- errors a user can read, values checked before any work ------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def _user_error(capsys, argv, match):
    """main(argv) must stop with status 2 and one line on stderr that matches ``match``."""
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
    assert pytest.importorskip("re").search(match, lines[0]), lines[0]
    return lines[0]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (64, 32, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    return folder


SMALL = ["--model", "osnet_x0_25", "--height", "64", "--width", "32", "--device", "cpu"]


@pytest.mark.parametrize("k", ["0", "-1"])
def test_rank_top_k_must_be_positive(capsys, images, tmp_path, k):
    _user_error(capsys, ["rank", *SMALL, "--query", str(images), "--gallery", str(images),
                         "--top-k", k, "--output", str(tmp_path / "r.json")],
                "--top-k.*at least 1")
    assert not (tmp_path / "r.json").exists()


def test_rank_reports_what_it_wrote(capsys, images, tmp_path):
    assert main(["rank", *SMALL, "--query", str(images), "--gallery", str(images),
                 "--top-k", "10", "--output", str(tmp_path / "r.json")]) == 0
    assert "the 3 nearest of 3 gallery images for each of 3 queries" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["--lr", "inf"], "--lr.*finite positive"),
    (["--lr", "nan"], "--lr.*finite positive"),
    (["--batch-size", "1"], "--batch-size.*at least 2"),
    (["--epochs", "0"], "--epochs.*at least 1"),
    (["--set", "weight_decay=.nan"], "weight_decay must be a finite number"),
    (["--set", "epochs"], "key=value"),
    (["--set", "colour=red"], "unknown recipe field"),
    (["--model", "osnet_x0_3"], "unknown model 'osnet_x0_3'. Did you mean 'osnet_x0_5'"),
])
def test_train_values_are_checked_before_any_work(capsys, tmp_path, argv, match):
    _user_error(capsys, ["train", "--profile", "quick", "--dataset", "market1501",
                         "--data-root", str(tmp_path / "no-data"), "--output",
                         str(tmp_path / "run"), *argv], match)


def test_a_train_output_that_is_a_file_is_refused_first(capsys, tmp_path):
    (tmp_path / "taken").write_text("x")
    # the output is checked before the (missing) dataset is read
    _user_error(capsys, ["train", "--profile", "quick", "--dataset", "market1501",
                         "--data-root", str(tmp_path / "no-data"), "--output",
                         str(tmp_path / "taken")], "taken is a file")


def test_features_output_folder_must_exist(capsys, images, tmp_path):
    _user_error(capsys, ["features", *SMALL, "--images", str(images), "--output",
                         str(tmp_path / "absent" / "f.npy")], "absent does not exist")


def test_a_binary_csv_names_the_file(capsys, tmp_path):
    blob = tmp_path / "photo.csv"
    blob.write_bytes(bytes(range(256)) * 4)
    _user_error(capsys, ["eval", *SMALL, "--dataset", "custom_csv", "--data-root", str(blob)],
                "photo.csv' is not UTF-8 text")
    _user_error(capsys, ["features", *SMALL, "--images", str(blob), "--output",
                         str(tmp_path / "f.npy")], "photo.csv is not a text file")


def test_missing_weights_and_unknown_models_are_one_line(capsys, images, tmp_path):
    _user_error(capsys, ["features", *SMALL, "--weights", str(tmp_path / "none.pth"),
                         "--images", str(images), "--output", str(tmp_path / "f.npy")],
                "weight file not found")
    _user_error(capsys, ["features", "--model", "osnet_x9", "--images", str(images),
                         "--output", str(tmp_path / "f.npy")], "unknown model 'osnet_x9'")


def test_debug_shows_the_original_error(tmp_path):
    with pytest.raises(ValueError, match="neither a folder"):
        main(["--debug", "features", *SMALL, "--images", str(tmp_path / "none"),
              "--output", str(tmp_path / "f.npy")])


def test_the_exit_status_and_message_of_the_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "osnet_lib", "features", *SMALL, "--images",
                           str(tmp_path / "none"), "--output", str(tmp_path / "f.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'none'} is neither a folder of images nor a list file "
        "(--debug shows the traceback)"]
    assert "Traceback" not in done.stderr


def test_set_values_in_exponent_notation_are_numbers():
    from osnet_lib.__main__ import _key_values

    assert _key_values(["lr=1e-3", "epochs=4", "flip_eval=true", "distance=cosine"], "--set") == \
        {"lr": 0.001, "epochs": 4, "flip_eval": True, "distance": "cosine"}
