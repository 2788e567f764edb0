"""The batch runner (osnet_lib.reproduce) on tiny books made in tmp_path."""

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from osnet_lib import reproduce
from osnet_lib.reproduce import (
    ChapterResult,
    add_provenance_note,
    discover_chapters,
    format_summary,
    notebook_source_hash,
    package_hash,
    read_notebook,
    resolve_path,
    run_chapters,
    select_chapters,
    set_solution_visibility,
    start_chapter,
)

PACKAGE = Path(reproduce.__file__).resolve().parent


def _chapter(name: str, body: str = "", fail: bool = False) -> nbformat.NotebookNode:
    write = (
        "import json, pathlib\n"
        "root = pathlib.Path(results_dir)\n"
        "root = root if root.is_absolute() else pathlib.Path('..') / root\n"
        f"out = root / {name!r}\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'results.json').write_text(json.dumps({'profile': profile, 'seed': seed}))\n"
        "print('profile', profile)"
    )
    cells = [
        new_markdown_cell(f"# Chapter {name}"),
        new_code_cell('profile = "cpu"\nseed = 0\nresults_dir = "results"',
                      metadata={"tags": ["parameters"]}),
        new_code_cell(write),
        new_code_cell(body or "x = 1 + 1"),
        new_markdown_cell("## Exercises"),
        new_code_cell("answer = 42\nprint(answer)", metadata={"tags": ["solution", "hide-cell"]}),
    ]
    if fail:
        cells.insert(3, new_code_cell("raise RuntimeError('boom in the chapter')"))
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}}
    return nb


def make_book(root: Path, chapters: dict[str, dict] | None = None) -> Path:
    book = root / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "_config.yml").write_text("title: tiny\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    for name, kwargs in (chapters or {"01_first": {}, "02_second": {}}).items():
        nbformat.write(_chapter(name, **kwargs), str(book / "chapters" / f"{name}.ipynb"))
    return book


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package's sources, so a test can change one and see the hash change."""
    dest = tmp_path / "pkg"
    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(autouse=True)
def no_installed_book(monkeypatch):
    """Outside a tiny book, these tests must not find (and write into) this checkout's book."""
    monkeypatch.setattr(reproduce, "_package_book_dir", lambda: None)


def _status(results: list[ChapterResult]) -> dict[str, str]:
    return {r.chapter: r.status for r in results}


def test_runs_every_chapter_and_writes_notebooks_results_and_provenance(tmp_path, package_copy):
    book = make_book(tmp_path)
    out = tmp_path / "out"
    results = run_chapters("quick", book_dir=book, output_dir=out, package_dir=package_copy)
    assert _status(results) == {"01_first": "ok", "02_second": "ok"}
    for r in results:
        assert r.wall_s is not None and r.wall_s > 0
        assert r.results_file == out / "results" / r.chapter / "results.json"
        assert json.loads(r.results_file.read_text()) == {"profile": "quick", "seed": 0}
        nb = read_notebook(out / f"{r.chapter}.ipynb")
        tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
        # papermill's injected cell is gone (a reader re-running the notebook would re-apply
        # it); what was injected is in the papermill metadata and the provenance note
        assert not [t for t in tags if "injected-parameters" in t]
        assert nb["metadata"]["papermill"]["parameters"] == {"profile": "quick"}
        # the provenance note sits right after the settings cell that follows the parameters
        note = [i for i, t in enumerate(tags) if "provenance" in t]
        assert len(note) == 1 and "profile `quick`" in "".join(nb["cells"][note[0]]["source"])
        assert "parameters" in tags[note[0] - 2]
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert any("profile quick" in "".join(o.get("text", "")) for o in outputs)
    assert (out / reproduce.CACHE_NAME).is_file()
    assert not (book / "results" / reproduce.CACHE_NAME).exists()  # the book's cache is untouched
    summary = format_summary(results, relative_to=tmp_path)
    assert "01_first" in summary and "out/results/02_second/results.json" in summary
    assert summary.splitlines()[-1] == "2 executed, 0 skipped (unchanged), 0 failed"


def test_unchanged_chapters_are_skipped_and_changes_rerun_them(tmp_path, package_copy):
    book = make_book(tmp_path)
    out = tmp_path / "out"
    kwargs = dict(book_dir=book, output_dir=out, package_dir=package_copy)
    assert set(_status(run_chapters("quick", **kwargs)).values()) == {"ok"}
    assert set(_status(run_chapters("quick", **kwargs)).values()) == {"skipped"}

    # outputs of the source notebook do not count; its source cells do
    src = book / "chapters" / "01_first.ipynb"
    nb = nbformat.read(str(src), as_version=4)
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="stale\n")]
    nbformat.write(nb, str(src))
    assert set(_status(run_chapters("quick", **kwargs)).values()) == {"skipped"}
    nb.cells[3].source = "x = 1 + 2"
    nbformat.write(nb, str(src))
    assert _status(run_chapters("quick", **kwargs)) == {"01_first": "ok", "02_second": "skipped"}

    # a change in the library re-executes everything
    (package_copy / "analysis.py").write_text((package_copy / "analysis.py").read_text() + "\n#\n")
    assert set(_status(run_chapters("quick", **kwargs)).values()) == {"ok"}
    # --force, another profile, other parameters, and a deleted output notebook run again
    assert set(_status(run_chapters("quick", force=True, **kwargs)).values()) == {"ok"}
    assert set(_status(run_chapters("paper", chapters=["02"], **kwargs)).values()) == {"ok"}
    assert set(_status(run_chapters("quick", chapters=["02"], parameters={"seed": 3},
                                    **kwargs)).values()) == {"ok"}
    (out / "01_first.ipynb").unlink()
    assert _status(run_chapters("quick", chapters=["01"], **kwargs)) == {"01_first": "ok"}


def test_a_failing_chapter_is_reported_and_the_others_still_run(tmp_path, package_copy, capsys):
    book = make_book(tmp_path, {"01_bad": {"fail": True}, "02_good": {}})
    out = tmp_path / "out"
    results = run_chapters("quick", book_dir=book, output_dir=out, package_dir=package_copy)
    by_name = {r.chapter: r for r in results}
    assert by_name["02_good"].status == "ok"
    bad = by_name["01_bad"]
    assert bad.status == "failed" and "RuntimeError: boom in the chapter" in bad.error
    assert bad.notebook is not None and bad.notebook.is_file()  # the failed execution, to inspect
    assert not (out / "01_bad.ipynb").exists()
    summary = format_summary(results)
    assert "error: RuntimeError: boom in the chapter" in summary
    assert summary.splitlines()[-1] == "1 executed, 0 skipped (unchanged), 1 failed"
    # a failed chapter is not cached: the next run tries it again
    again = run_chapters("quick", book_dir=book, output_dir=out, package_dir=package_copy)
    assert _status(again) == {"01_bad": "failed", "02_good": "skipped"}
    # the command line exits non-zero and prints the table
    code = reproduce.main(["--profile", "quick", "--book", str(book), "--output-dir", str(out)])
    printed = capsys.readouterr().out
    assert code == 1 and "01_bad" in printed and "failed" in printed


def test_cpu_profile_writes_back_into_the_book(tmp_path, package_copy):
    book = make_book(tmp_path, {"01_first": {}})
    results = run_chapters("cpu", book_dir=book, package_dir=package_copy)
    assert _status(results) == {"01_first": "ok"}
    nb = read_notebook(book / "chapters" / "01_first.ipynb")
    text = json.dumps(nb)
    assert "profile `cpu`" in text and str(tmp_path) not in text  # no machine path in the book
    assert results[0].results_file == book / "results" / "01_first" / "results.json"
    cache = json.loads((book / "results" / reproduce.CACHE_NAME).read_text())
    assert set(cache) == {"01_first|cpu"}
    assert cache["01_first|cpu"]["notebook"] == "01_first.ipynb"
    assert _status(run_chapters("cpu", book_dir=book, package_dir=package_copy)) == {
        "01_first": "skipped"}


def test_command_line_runs_selected_chapters(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    show_threads = "import os; print('threads', os.environ['OMP_NUM_THREADS'])"
    book = make_book(tmp_path, {"01_first": {}, "02_second": {"body": show_threads}})
    out = tmp_path / "out"
    code = reproduce.main(["--profile", "quick", "--book", str(book), "--output-dir", str(out),
                           "--chapters", "02", "-p", "seed=7", "--solutions", "remove",
                           "--threads", "1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "02_second" in printed and "01_first" not in printed
    assert json.loads((out / "results" / "02_second" / "results.json").read_text())["seed"] == 7
    nb = read_notebook(out / "02_second.ipynb")
    assert not any("solution" in c["metadata"].get("tags", []) for c in nb["cells"])
    assert "threads 1" in json.dumps(nb)  # the kernel ran with the requested threads
    assert os.environ["OMP_NUM_THREADS"] == "2"  # and the caller's environment is restored
    with pytest.raises(ValueError, match="threads"):
        run_chapters("quick", book_dir=book, threads=0)


def test_command_line_reports_bad_input(tmp_path, capsys):
    assert reproduce.main(["--profile", "quick", "--book", str(tmp_path / "nowhere")]) == 2
    assert "no Jupyter Book folder" in capsys.readouterr().err
    book = make_book(tmp_path)
    assert reproduce.main(["--profile", "quick", "--book", str(book), "--chapters", "09"]) == 2
    assert "no chapter '09'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reproduce.main(["--profile", "fast"])
    with pytest.raises(SystemExit):
        reproduce.main(["--profile", "quick", "-p", "no-equals-sign"])


def test_kernels_import_the_package_of_the_books_checkout(tmp_path, package_copy):
    # a second checkout sharing this environment: its chapters must run its own code
    (tmp_path / "osnet_lib").mkdir()
    (tmp_path / "osnet_lib" / "__init__.py").write_text('WHERE = "the second checkout"\n')
    body = "import osnet_lib\nprint('imported from', osnet_lib.WHERE)"
    book = make_book(tmp_path, {"01_first": {"body": body}})
    assert reproduce.kernel_pythonpath(book).split(os.pathsep)[0] == str(tmp_path)
    results = run_chapters("quick", book_dir=book, output_dir=tmp_path / "out",
                           package_dir=package_copy)
    assert _status(results) == {"01_first": "ok"}
    nb = read_notebook(tmp_path / "out" / "01_first.ipynb")
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c["outputs"])
    assert "imported from the second checkout" in text
    # no package beside the book, or the package this process runs: nothing to change
    shutil.rmtree(tmp_path / "osnet_lib")
    assert reproduce.kernel_pythonpath(book) is None
    assert reproduce.kernel_pythonpath(PACKAGE.parent / "book") is None


def test_select_chapters_by_number_or_name():
    names = ["02_depthwise", "03_block", "03x_extra", "05_arch"]
    assert select_chapters(names, None) == names
    assert select_chapters(names, ["05", "02_depthwise", "05"]) == ["05_arch", "02_depthwise"]
    with pytest.raises(ValueError, match="no chapter '04'.*02_depthwise"):
        select_chapters(names, ["04"])
    assert select_chapters(["03_a", "03_b"], ["03_a"]) == ["03_a"]
    with pytest.raises(ValueError, match="ambiguous"):
        select_chapters(["03_a", "03_b"], ["03"])


def test_discover_chapters_and_missing_folders(tmp_path):
    book = make_book(tmp_path)
    (book / "chapters" / "notes.ipynb").write_text("{}")
    assert list(discover_chapters(book)) == ["01_first", "02_second"]
    with pytest.raises(FileNotFoundError, match="chapters"):
        discover_chapters(tmp_path / "empty")


def test_source_hash_ignores_outputs_and_generated_cells(tmp_path):
    path = tmp_path / "a.ipynb"
    nb = _chapter("01_a")
    nbformat.write(nb, str(path))
    before = notebook_source_hash(path)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    nb.cells[2].execution_count = 5
    nb.cells.insert(2, new_code_cell('profile = "quick"',
                                     metadata={"tags": ["injected-parameters"]}))
    note = {"cell_type": "markdown", "source": "note", "id": "note",
            "metadata": {"tags": ["provenance"]}}
    nb = nbformat.from_dict(add_provenance_note(json.loads(nbformat.writes(nb)), note))
    assert [c.cell_type for c in nb.cells[3:5]] == ["code", "markdown"]  # note after settings
    nbformat.write(nb, str(path))
    assert notebook_source_hash(path) == before
    body = next(c for c in nb.cells if "".join(c.source) == "x = 1 + 1")
    body.source = "x = 1 + 1\n# edited"
    nbformat.write(nb, str(path))
    assert notebook_source_hash(path) != before


def test_read_notebook_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.ipynb"):
        read_notebook(tmp_path / "missing.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="invalid JSON"):
        read_notebook(bad)
    bad.write_text('{"cells": 3}')
    with pytest.raises(ValueError, match="no list of cells"):
        read_notebook(bad)


def test_package_hash_follows_the_sources(tmp_path, package_copy):
    before = package_hash(package_copy)
    assert before == package_hash(package_copy)
    (package_copy / "__pycache__").mkdir(exist_ok=True)
    (package_copy / "__pycache__" / "x.py").write_text("ignored")
    assert package_hash(package_copy) == before
    (package_copy / "new_module.py").write_text("VALUE = 1\n")
    assert package_hash(package_copy) != before
    with pytest.raises(FileNotFoundError, match="package folder"):
        package_hash(tmp_path / "none")


def _solution_cells(nb: dict) -> list:
    return [c for c in nb["cells"] if "solution" in c["metadata"].get("tags", [])]


def test_solution_visibility_modes():
    nb = json.loads(nbformat.writes(_chapter("01_a")))
    solution_cells = _solution_cells
    shown = set_solution_visibility(nb, "show")
    assert solution_cells(shown) and "hide-cell" not in solution_cells(shown)[0]["metadata"]["tags"]
    hidden = set_solution_visibility(shown, "hide")
    assert solution_cells(hidden)[0]["metadata"]["tags"] == ["solution", "hide-cell"]
    removed = set_solution_visibility(nb, "remove")
    assert not solution_cells(removed) and len(removed["cells"]) == len(nb["cells"]) - 1
    assert solution_cells(nb)  # the input is not modified
    with pytest.raises(ValueError, match="'secret'"):
        set_solution_visibility(nb, "secret")


# -- the helpers chapters call ---------------------------------------------------------------------
SETTINGS = {"quick": {"n": 1}, "cpu": {"n": 2}, "paper": {"n": 3}}


def test_start_chapter_resolves_results_relative_to_the_book(tmp_path, monkeypatch):
    book = make_book(tmp_path)
    monkeypatch.chdir(book / "chapters")  # where Jupyter runs a chapter
    run = start_chapter("02_second", "cpu", seed=1, results_dir="results", settings=SETTINGS)
    assert run.results_dir == book / "results" / "02_second" and run.results_dir.is_dir()
    assert run.settings == {"n": 2}
    line = run.provenance_line()
    assert line.startswith("profile=cpu seed=1 device=cpu") and "torch" in line
    path = run.write_results({"value": 3})
    record = json.loads(path.read_text())
    assert record["results"] == {"value": 3} and record["profile"] == "cpu"
    assert record["provenance"]["recipe"] == {"n": 2} and record["provenance"]["seed"] == 1
    assert record["provenance"]["wall_time_s"] >= 0
    assert resolve_path("results") == book / "results"
    assert resolve_path(tmp_path / "abs") == tmp_path / "abs"


def test_start_chapter_outside_a_book_uses_the_working_directory(tmp_path, monkeypatch):
    # (no book here, and none installed: see the autouse fixture)
    monkeypatch.chdir(tmp_path)
    run = start_chapter("02_x", "quick", results_dir="out")
    assert run.results_dir == tmp_path / "out" / "02_x"


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(profile="fast"), ValueError, "'fast'"),
    (dict(device="tpu9"), ValueError, "'tpu9'"),
    (dict(seed="0"), TypeError, "seed"),
    (dict(chapter="../up"), ValueError, "'../up'"),
    (dict(settings={"quick": {}, "cpu": {}}), ValueError, "paper"),
])
def test_start_chapter_rejects_bad_settings(tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    args = dict(chapter="02_x", profile="quick") | kwargs
    with pytest.raises(error, match=match):
        start_chapter(**args)


def test_cuda_is_refused_when_absent(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        start_chapter("02_x", "quick", device="cuda")


def test_write_results_rejects_bad_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = start_chapter("02_x", "quick")
    for bad in ("results.txt", "../escape.json", "a/b.json"):
        with pytest.raises(ValueError, match="json"):
            run.write_results({}, bad)


def test_start_chapter_from_anywhere_finds_the_installed_book(tmp_path, monkeypatch, caplog):
    book = make_book(tmp_path)
    monkeypatch.setattr(reproduce, "_package_book_dir", lambda: book)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # e.g. papermill --cwd outside the book
    with caplog.at_level("WARNING"):
        run = start_chapter("02_second", "quick")
    # a student's run writes under the book's runs/ folder, and says so
    assert run.results_dir == book / "runs" / "quick" / "02_second"
    assert "results of this run go to" in caplog.text and str(run.results_dir) in caplog.text
    assert run.data_root == book / "data"
    assert run.world == "quick" and run.world_dir == book / "data" / "synthetic-quick"
    assert not (elsewhere / "results").exists() and not (book / "results").exists()


def test_only_an_explicit_results_dir_writes_the_books_store(tmp_path, monkeypatch):
    book = make_book(tmp_path)
    monkeypatch.chdir(book / "chapters")
    default = start_chapter("01_first", "cpu")  # what JupyterLab runs: the parameters' default
    assert default.results_dir == book / "runs" / "cpu" / "01_first"
    assert default.world_dir == book / "data" / "synthetic-cpu"
    store = start_chapter("01_first", "cpu", results_dir="results")  # what the runner injects
    assert store.results_dir == book / "results" / "01_first"


def test_setting_follows_the_profile_table_and_is_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(make_book(tmp_path))
    quick, cpu = start_chapter("02_x", "quick"), start_chapter("02_x", "cpu")
    assert not quick.full_size and cpu.full_size and start_chapter("02_x", "paper").full_size
    assert quick.setting("shapes", full=80, small=8) == 8
    assert cpu.setting("shapes", full=80, small=8) == 80
    record = json.loads(cpu.write_results({"v": 1}).read_text())
    assert record["provenance"]["recipe"] == {"shapes": 80}


def test_an_unreadable_chapter_is_reported_and_the_others_still_run(tmp_path, package_copy):
    book = make_book(tmp_path, {"01_first": {}, "03_third": {}})
    (book / "chapters" / "02_broken.ipynb").write_text("{this is not a notebook")
    out = tmp_path / "out"
    results = run_chapters("quick", book_dir=book, output_dir=out, package_dir=package_copy)
    assert _status(results) == {"01_first": "ok", "02_broken": "failed", "03_third": "ok"}
    broken = next(r for r in results if r.chapter == "02_broken")
    assert "invalid JSON" in broken.error
    summary = format_summary(results)
    assert "02_broken" in summary and summary.splitlines()[-1].endswith("1 failed")
    assert reproduce.main(["--profile", "quick", "--book", str(book), "--output-dir",
                           str(out)]) == 1


def test_written_notebooks_merge_streams_and_drop_the_injected_cell(tmp_path, package_copy):
    body = "for i in range(3):\n    print('row', i, flush=True)\n    import time; time.sleep(0.05)"
    book = make_book(tmp_path, {"01_first": {"body": body}})
    out = tmp_path / "out"
    run_chapters("quick", book_dir=book, output_dir=out, package_dir=package_copy)
    nb = read_notebook(out / "01_first.ipynb")
    cell = next(c for c in nb["cells"] if "print('row'" in "".join(c["source"]))
    assert [o["output_type"] for o in cell["outputs"]] == ["stream"]
    assert "".join(cell["outputs"][0]["text"]) == "row 0\nrow 1\nrow 2\n"
    assert not [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]


def test_bookkeeping_cells_keep_no_output(tmp_path, package_copy):
    book = make_book(tmp_path, {"01_first": {}})
    src = book / "chapters" / "01_first.ipynb"
    nb = nbformat.read(str(src), as_version=4)
    nb.cells.append(new_code_cell("import pathlib\npathlib.Path.cwd()",
                                  metadata={"tags": ["remove-cell"]}))
    nbformat.write(nb, str(src))
    run_chapters("quick", book_dir=book, output_dir=tmp_path / "out", package_dir=package_copy)
    written = read_notebook(tmp_path / "out" / "01_first.ipynb")
    assert written["cells"][-1]["outputs"] == []  # no machine path in what may be committed
    assert str(tmp_path) not in json.dumps(written)


def test_merge_streams_keeps_stdout_and_stderr_apart():
    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stdout", "text": ["b\n", "c\n"]},
        {"output_type": "stream", "name": "stderr", "text": "warn\n"},
        {"output_type": "stream", "name": "stdout", "text": "d\n"}]}]}
    outs = reproduce.merge_streams(nb)["cells"][0]["outputs"]
    assert [(o["name"], o["text"]) for o in outs] == [
        ("stdout", "a\nb\nc\n"), ("stderr", "warn\n"), ("stdout", "d\n")]


def test_hidden_solutions_are_named_by_their_toggle():
    nb = json.loads(nbformat.writes(_chapter("01_a")))
    nb["cells"].insert(5, {"cell_type": "markdown", "id": "sol", "metadata": {"tags": ["solution"]},
                           "source": ":::{admonition} Solution 1.1\n:class: dropdown\nx\n:::"})
    nb["cells"].append({"cell_type": "code", "id": "w", "execution_count": None, "outputs": [],
                        "metadata": {"tags": ["solution", "remove-cell"]}, "source": "w = 1"})
    hidden = set_solution_visibility(nb, "hide")
    code = [c for c in _solution_cells(hidden) if c["cell_type"] == "code"]
    assert code[0]["metadata"]["mystnb"]["code_prompt_show"] == "Show the code of Solution 1.1"
    assert code[0]["metadata"]["mystnb"]["code_prompt_hide"] == "Hide the code of Solution 1.1"
    # bookkeeping stays removed, never behind a toggle
    assert code[1]["metadata"]["tags"] == ["solution", "remove-cell"]
    assert "mystnb" not in code[1]["metadata"]
    shown = set_solution_visibility(hidden, "show")
    assert all("mystnb" not in c["metadata"] for c in _solution_cells(shown))


def test_changed_results_are_not_skipped(tmp_path, package_copy):
    book = make_book(tmp_path, {"01_first": {}})
    kwargs = dict(book_dir=book, package_dir=package_copy)
    assert _status(run_chapters("cpu", **kwargs)) == {"01_first": "ok"}
    # another run overwrote the book's results: the page and its record now disagree
    (book / "results" / "01_first" / "results.json").write_text('{"profile": "quick"}')
    assert _status(run_chapters("cpu", **kwargs)) == {"01_first": "ok"}
    assert json.loads((book / "results" / "01_first" / "results.json").read_text())[
        "profile"] == "cpu"
    assert _status(run_chapters("cpu", **kwargs)) == {"01_first": "skipped"}


def _git(repo: Path, *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_the_books_execution_refuses_uncommitted_code(tmp_path, package_copy):
    repo = tmp_path / "repo"
    probe = ("from osnet_lib.reproduce import start_chapter\n"
             "start_chapter('01_first', profile, results_dir=results_dir).write_results("
             "{}, 'probe.json')")
    book = make_book(repo, {"01_first": {"body": probe}})
    (repo / "lib.py").write_text("VALUE = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "book")
    head = _git(repo, "rev-parse", "HEAD")
    kwargs = dict(book_dir=book, package_dir=package_copy)

    # clean: the note names HEAD; the runner's own writes to chapters/ and results/ do not count
    assert _status(run_chapters("cpu", **kwargs)) == {"01_first": "ok"}
    note = "".join(read_notebook(book / "chapters" / "01_first.ipynb")["cells"][3]["source"])
    assert f"git commit `{head[:12]}`" in note and "+dirty" not in note
    assert reproduce.uncommitted_changes(book) == []
    # the chapter's own record names the same commit, though the runner rewrote the chapter
    record = json.loads((book / "results" / "01_first" / "probe.json").read_text())
    assert record["provenance"]["git_commit"] == head

    # a change to the code: refused, with the way out named
    (repo / "lib.py").write_text("VALUE = 2\n")
    assert reproduce.uncommitted_changes(book) == ["lib.py"]
    with pytest.raises(reproduce.DirtyTreeError, match=r"lib\.py.*--allow-dirty"):
        run_chapters("cpu", force=True, **kwargs)
    assert reproduce.main(["--profile", "cpu", "--book", str(book), "--force"]) == 2
    # other profiles write elsewhere and may run from uncommitted code
    assert _status(run_chapters("quick", output_dir=tmp_path / "q", **kwargs)) == {
        "01_first": "ok"}
    # --allow-dirty stamps the page visibly
    assert _status(run_chapters("cpu", force=True, allow_dirty=True, **kwargs)) == {
        "01_first": "ok"}
    note = "".join(read_notebook(book / "chapters" / "01_first.ipynb")["cells"][3]["source"])
    assert note.startswith("```{warning}") and "Not a published execution" in note
    assert f"`{head[:12]}+dirty`" in note and "`lib.py`" in note
    record = json.loads((book / "results" / "01_first" / "probe.json").read_text())
    assert record["provenance"]["git_commit"] == head + "+dirty"


def test_smallest_text_px_measures_a_figure_at_its_dpi():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.set_title("title", fontsize=14)
    ax.tick_params(labelsize=7)
    assert reproduce.smallest_text_px(fig) == pytest.approx(7 * 100 / 72)
    assert reproduce.smallest_text_px(fig, dpi=200) == pytest.approx(7 * 200 / 72)
    ax.tick_params(labelsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    assert reproduce.smallest_text_px(fig) == pytest.approx(14 * 100 / 72)
    empty = plt.figure()
    assert reproduce.smallest_text_px(empty) is None
    plt.close("all")


def test_parameter_values_are_json_or_python_literals():
    """``-p train=False`` must give the boolean a reader means, not the (true) string 'False'."""
    from osnet_lib.reproduce import _parse_parameter

    assert _parse_parameter("train=False") == ("train", False)
    assert _parse_parameter("train=false") == ("train", False)
    assert _parse_parameter("flag=True") == ("flag", True)
    assert _parse_parameter("weights=None") == ("weights", None)
    assert _parse_parameter("seed=7") == ("seed", 7)
    assert _parse_parameter("device=cuda") == ("device", "cuda")
    assert _parse_parameter("name=Falsey") == ("name", "Falsey")
