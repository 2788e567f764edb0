"""The data_scripts: archive checks, safe extraction, conversion and printed statistics."""

import importlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from test_datasets import (
    cuhk03_names,
    make_cuhk03_tree,
    make_market_tree,
    make_msmt17_tree,
    make_viper_tree,
    write_cuhk03_config,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"
NAMES = ("market1501", "dukemtmcreid", "msmt17", "cuhk03", "viper", "grid", "cuhk01")


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    mods = {n: importlib.import_module(f"prepare_{n}") for n in NAMES}
    mods["_archive"] = importlib.import_module("_archive")
    return mods


def zip_folder(folder: Path, archive: Path) -> Path:
    """Zip ``folder`` so that its name is the archive's top-level folder."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def test_every_script_has_help(
    scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in NAMES:
        with pytest.raises(SystemExit) as exit_info:
            scripts[name].main(["--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        assert "--archive" in out and "--root" in out and "--skip-checksum" in out
        assert scripts[name].RELEASE.archive_name in out
    # a missing required argument is an argparse error
    with pytest.raises(SystemExit) as exit_info:
        scripts["market1501"].main(["--root", "x"])
    assert exit_info.value.code == 2


def test_market1501_archive_extracted_and_statistics_printed(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_market_tree(tmp_path / "src" / "Market-1501-v15.09.15")
    archive = zip_folder(src, tmp_path / "Market-1501-v15.09.15.zip")
    root = tmp_path / "reid"
    # the md5 of the public release is known, and this made archive is not that file
    assert scripts["market1501"].main(["--archive", str(archive), "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "md5" in err and "--skip-checksum" in err and not root.exists()

    args = ["--archive", str(archive), "--root", str(root), "--skip-checksum"]
    assert scripts["market1501"].main(args) == 0
    out = capsys.readouterr().out
    assert (root / "market1501" / "Market-1501-v15.09.15" / "query").is_dir()
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["train"] == ["3", "9", "5"]  # ids, images, cameras
    assert lines["query"] == ["2", "3", "3"]
    assert lines["gallery"] == ["3", "7", "5"]
    assert "Table 2 of the paper: 1,501 ids" in out
    # a second run does not need to extract again and prints the same
    assert scripts["market1501"].main(args) == 0
    assert capsys.readouterr().out == out


def test_wrong_files_are_refused_with_a_clear_message(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "reid")
    main = scripts["dukemtmcreid"].main
    assert main(["--archive", str(tmp_path / "absent.zip"), "--root", root]) == 1
    assert "absent.zip' does not exist" in capsys.readouterr().err
    text = tmp_path / "notes.zip"
    text.write_text("this is not an archive")
    assert main(["--archive", str(text), "--root", root]) == 1
    assert "is not a zip or tar archive" in capsys.readouterr().err
    other = make_market_tree(tmp_path / "Market-1501-v15.09.15")
    wrong = zip_folder(other, tmp_path / "wrong.zip")
    assert main(["--archive", str(wrong), "--root", root]) == 1
    err = capsys.readouterr().err
    assert "expected a top-level folder 'DukeMTMC-reID/'" in err
    assert "found Market-1501-v15.09.15" in err
    assert not Path(root).exists()


def crafted_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("VIPeR/cam_a/000_45.bmp", b"x")
        zf.writestr("../evil", b"escaped")
        zf.writestr("/abs_evil", b"absolute")
    return path


def crafted_tar(path: Path, outside: Path) -> Path:
    def add(tf: tarfile.TarFile, name: str, data: bytes = b"x", **attrs: object) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        for k, v in attrs.items():
            setattr(info, k, v)
        tf.addfile(info, io.BytesIO(data) if data else None)

    with tarfile.open(path, "w:gz") as tf:
        add(tf, "MSMT17_V1/list_train.txt")
        add(tf, "MSMT17_V1/../../evil")
        add(tf, str(outside / "abs_evil"))
        add(tf, "MSMT17_V1/link", b"", type=tarfile.SYMTYPE, linkname=str(outside))
        add(tf, "MSMT17_V1/rel_link", b"", type=tarfile.SYMTYPE, linkname="../../..")
    return path


def test_crafted_archives_are_refused_and_nothing_is_written(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "reid"
    archive = crafted_zip(tmp_path / "VIPeR.v1.0.zip")
    rc = scripts["viper"].main(["--archive", str(archive), "--root", str(root), "--skip-checksum"])
    err = capsys.readouterr().err
    assert rc == 1 and "refusing to extract" in err
    assert "'../evil' ('..' path component)" in err and "'/abs_evil' (absolute path)" in err
    assert not root.exists() and not (tmp_path / "evil").exists()

    outside = tmp_path / "outside"
    outside.mkdir()
    tar = crafted_tar(tmp_path / "MSMT17_V1.tar.gz", outside)
    rc = scripts["msmt17"].main(["--archive", str(tar), "--root", str(root)])
    err = capsys.readouterr().err
    assert rc == 1 and "4 member(s) would escape" in err
    assert "absolute path" in err and "symbolic link to" in err and "'..' path component" in err
    assert not root.exists() and list(outside.iterdir()) == [] and not (tmp_path / "evil").exists()


def test_safe_extract_accepts_links_that_stay_inside(
    tmp_path: Path, scripts: dict[str, ModuleType]
) -> None:
    arch = scripts["_archive"]
    path = tmp_path / "ok.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("top/a.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("top/b.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "a.txt"
        tf.addfile(link)
    arch.safe_extract(path, tmp_path / "out")
    assert (tmp_path / "out" / "top" / "b.txt").read_text() == "hi"
    with pytest.raises(arch.ArchiveError, match="refusing"):
        arch.safe_extract(crafted_zip(tmp_path / "bad.zip"), tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_msmt17_tar_and_combineall_statistics(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    base = make_msmt17_tree(tmp_path / "src")
    tar = tmp_path / "MSMT17_V1.tar.gz"
    with tarfile.open(tar, "w:gz") as tf:
        tf.add(base, arcname="MSMT17_V1")
    root = tmp_path / "reid"
    assert scripts["msmt17"].main(["--archive", str(tar), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert (root / "msmt17" / "MSMT17_V1" / "list_val.txt").is_file()
    assert "combineall=True: training set of 7 ids, 15 images" in out


def test_cuhk03_script_converts_the_mat_file(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_cuhk03_tree(tmp_path / "src")  # cuhk03_release/cuhk-03.mat + split files
    archive = zip_folder(src / "cuhk03_release", tmp_path / "cuhk03_release.zip")
    split = tmp_path / "cuhk03_new_protocol_config_detected.mat"
    write_cuhk03_config(split)
    root = tmp_path / "reid"
    args = ["--archive", str(archive), "--root", str(root), "--skip-checksum",
            "--detected-split", str(split)]
    assert scripts["cuhk03"].main(args) == 0
    out = capsys.readouterr().out
    assert (root / "cuhk03" / "splits_new_detected.json").is_file()
    assert not (root / "cuhk03" / "splits_new_labeled.json").exists()  # no labeled split given
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    names = cuhk03_names()
    n_train = sum(len(names[k]) for k in (1, 2, 3))
    assert lines["train"][:2] == ["3", str(n_train)] and lines["query"][:2] == ["2", "4"]
    assert scripts["cuhk03"].main(args[:5] + ["--labeled-split", str(tmp_path / "no.mat")]) == 1
    assert "--labeled-split file" in capsys.readouterr().err


def test_script_runs_as_a_command(tmp_path: Path) -> None:
    src = make_viper_tree(tmp_path / "src")
    archive = zip_folder(src, tmp_path / "VIPeR.v1.0.zip")
    root = tmp_path / "reid"
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "prepare_viper.py"), "--archive", str(archive),
         "--root", str(root), "--skip-checksum"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "split 0 of 10" in proc.stdout and "Table 2 of the paper: 632 ids" in proc.stdout
    assert (root / "viper" / "VIPeR" / "random_splits.json").is_file()


# -- archives extract completely or not at all ----------------------------------------------
def _market_archive(tmp_path: Path) -> Path:
    src = make_market_tree(tmp_path / "src" / "Market-1501-v15.09.15")
    return zip_folder(src, tmp_path / "Market-1501-v15.09.15.zip")


def test_a_half_extracted_release_is_extracted_again(
    tmp_path: Path, scripts: dict[str, ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's instance: a run killed half-way left 232 of 10,000 gallery images."""
    args = ["--archive", str(_market_archive(tmp_path)), "--root", str(tmp_path / "reid"),
            "--skip-checksum"]
    assert scripts["market1501"].main(args) == 0
    gallery = tmp_path / "reid" / "market1501" / "Market-1501-v15.09.15" / "bounding_box_test"
    full = sorted(p.name for p in gallery.iterdir())
    for p in sorted(gallery.iterdir())[2:]:  # what a killed extraction leaves
        p.unlink()
    (sorted(gallery.iterdir())[0]).write_bytes(b"")  # and a truncated file
    assert scripts["market1501"].main(args) == 0
    assert "is incomplete" in caplog.text
    assert sorted(p.name for p in gallery.iterdir()) == full
    assert all(p.stat().st_size > 0 for p in gallery.iterdir())


def test_an_interrupted_extraction_leaves_nothing_that_looks_complete(
    tmp_path: Path, scripts: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    arch = scripts["_archive"]
    real = arch.safe_extract

    def dies_half_way(path, dest):
        real(path, dest)
        next(Path(dest).rglob("*.jpg")).unlink()
        raise OSError(28, "No space left on device")

    args = ["--archive", str(_market_archive(tmp_path)), "--root", str(tmp_path / "reid"),
            "--skip-checksum"]
    monkeypatch.setattr(arch, "safe_extract", dies_half_way)
    assert scripts["market1501"].main(args) == 1
    assert "No space left" in capsys.readouterr().err
    target = tmp_path / "reid" / "market1501"
    assert sorted(p.name for p in target.iterdir()) == [".lock"]  # no release, no partial
    # a killed process's temporary folder is removed by the next run
    (target / ".Market-1501-v15.09.15.partial-x1y2").mkdir()
    monkeypatch.setattr(arch, "safe_extract", real)
    assert scripts["market1501"].main(args) == 0
    assert sorted(p.name for p in target.iterdir()) == [".lock", "Market-1501-v15.09.15"]


def test_two_extractions_into_one_folder_are_kept_apart(
    tmp_path: Path, scripts: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    from osnet_lib.provenance import exclusive_lock

    args = ["--archive", str(_market_archive(tmp_path)), "--root", str(tmp_path / "reid"),
            "--skip-checksum"]
    with exclusive_lock(tmp_path / "reid" / "market1501"):
        assert scripts["market1501"].main(args) == 1
    assert "is in use by process" in capsys.readouterr().err
    assert not (tmp_path / "reid" / "market1501" / "Market-1501-v15.09.15").exists()


def test_tar_members_go_through_the_data_filter(
    tmp_path: Path, scripts: dict[str, ModuleType]
) -> None:
    path = tmp_path / "modes.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("top/tool")
        info.size, info.mode = 2, 0o4777  # set-uid, world-writable
        tf.addfile(info, io.BytesIO(b"hi"))
    scripts["_archive"].safe_extract(path, tmp_path / "out")
    mode = (tmp_path / "out" / "top" / "tool").stat().st_mode
    assert not mode & 0o4000 and not mode & 0o022
