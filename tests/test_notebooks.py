"""The book's chapters: re-executed under the ``quick`` profile with nbval, against the committed
``cpu`` outputs, plus the conventions every chapter follows.

Each chapter is copied into tmp_path with papermill's parameters injected (``profile="quick"``,
results into tmp_path) and run with ``pytest --nbval-lax`` in a subprocess: nbval executes every
cell and compares the outputs of the cells tagged ``nbval-check-output`` (architecture tables,
parameter counts, formula checks: outputs that do not depend on the profile or the machine) with
the outputs committed from the ``cpu`` execution. A changed parameter count fails here.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from papermill.parameterize import parameterize_notebook

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted((BOOK / "chapters").glob("[0-9][0-9]_*.ipynb"))
CHECK_TAG = "nbval-check-output"
# results_dir "" sends a reader's run to book/runs/<profile>; only the batch runner writes the
# book's own results (it injects "results")
REQUIRED_PARAMETERS = {"profile": "cpu", "device": "cpu", "seed": 0, "dataset": "synthetic",
                       "data_root": "data", "results_dir": ""}


def run_nbval(notebook: Path, workdir: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``pytest --nbval-lax`` on one notebook in a clean pytest configuration."""
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    env = dict(os.environ)
    # single-threaded kernels keep timings predictable on shared CI machines
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
           "--nbval-cell-timeout=300", "-c", str(ini), "--rootdir", str(workdir),
           "-p", "no:cacheprovider", "-q", str(notebook)]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _cells(path: Path) -> list:
    return nbformat.read(str(path), as_version=4).cells


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_the_book_has_the_foundation_chapters():
    assert [p.stem[:2] for p in CHAPTERS][:5] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reexecutes_under_quick_and_matches_the_committed_outputs(path, tmp_path):
    results = tmp_path / "results"
    nb = parameterize_notebook(nbformat.read(str(path), as_version=4),
                               {"profile": "quick", "results_dir": str(results)})
    copy = tmp_path / path.name
    nbformat.write(nb, str(copy))
    proc = run_nbval(copy, tmp_path)
    assert proc.returncode == 0, f"nbval failed for {path.name}:\n{proc.stdout[-8000:]}"
    assert re.search(r"\d+ passed", proc.stdout), proc.stdout[-2000:]

    record = json.loads((results / path.stem / "results.json").read_text())
    # the chapter's profile-dependent values (if any) are recorded with the results
    assert record["profile"] == "quick" and "recipe" in record["provenance"]
    # the exercise solutions ran, and gave the answers that tests/test_exercises.py checks
    quick = json.loads((results / path.stem / "exercises.json").read_text())["results"]
    committed = json.loads((BOOK / "results" / path.stem / "exercises.json").read_text())["results"]
    assert quick == committed


def test_nbval_compares_tagged_outputs_and_only_those(tmp_path):
    """The driver above really compares: a tagged cell whose stored output is wrong fails, an
    untagged one is not compared."""
    cells = []
    for stored, tags in (("42\n", [CHECK_TAG]), ("41\n", [CHECK_TAG]), ("41\n", [])):
        cell = new_code_cell("print(6 * 7)", metadata={"tags": tags})
        cell.outputs = [new_output("stream", name="stdout", text=stored)]
        cell.execution_count = 1
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "compare.ipynb"
    nbformat.write(nb, str(path))
    proc = run_nbval(path, tmp_path)
    assert proc.returncode != 0
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout[-3000:]
    assert "FAILED compare.ipynb::Cell 1" in proc.stdout


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_conventions(path):
    cells = _cells(path)
    code = [c for c in cells if c.cell_type == "code"]
    # a parameters cell of literals first, then the settings cell with check_profile
    params = code[0]
    assert "parameters" in _tags(params)
    tree = ast.parse(params.source)
    values = {}
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant), \
            f"{path.name}: the parameters cell must hold literal assignments only"
        values[stmt.targets[0].id] = stmt.value.value
    for name, value in REQUIRED_PARAMETERS.items():
        assert values.get(name) == value, f"{path.name}: parameter {name}"
    # the set-up is one short call to the library: no settings table, no provenance print,
    # and no papermill cell left behind
    assert not [c for c in cells if "injected-parameters" in _tags(c)]
    setup = code[1]
    assert f'start_chapter("{path.stem}", profile' in setup.source
    assert "SETTINGS" not in setup.source and "provenance" not in setup.source
    assert len(setup.source.splitlines()) <= 16, "the set-up cell is bookkeeping: keep it short"
    # bookkeeping (writing the results) is out of the rendered page, but it runs
    writes = [c for c in code if "write_results" in c.source]
    assert len(writes) == 2 and all("remove-cell" in _tags(c) for c in writes)
    # executed under the cpu profile, with the runner's provenance note near the top
    note = [c for c in cells if "provenance" in _tags(c)]
    assert len(note) == 1 and "profile `cpu`" in note[0].source
    assert cells.index(note[0]) < 8
    for c in code:
        assert c.execution_count is not None, f"{path.name}: a cell was not executed"
        assert not [o for o in c.outputs if o["output_type"] == "error"]
    # profile-independent outputs tagged for nbval, all with committed outputs
    checked = [c for c in code if CHECK_TAG in _tags(c)]
    assert len(checked) >= 4, f"{path.name}: too few {CHECK_TAG} cells"
    assert all(c.outputs for c in checked)
    # figures are numbered, solutions hidden, no machine paths in what is committed
    assert any("figure" in c.metadata.get("mystnb", {}) for c in code)
    solutions = [c for c in code if "solution" in _tags(c) and "remove-cell" not in _tags(c)]
    assert len(solutions) >= 3 and all("hide-cell" in _tags(c) for c in solutions)
    # each behind a toggle that names it, right after its explanation
    for c in solutions:
        prompt = c.metadata.get("mystnb", {}).get("code_prompt_show", "")
        assert re.fullmatch(r"Show the code of Solution \d+\.\d+", prompt), prompt
        before = cells[cells.index(c) - 1]
        assert before.cell_type == "markdown" and prompt.split(" of ")[1] in before.source
    text = path.read_text()
    for pattern in ("/tmp/", "/work/", "/home/", "/root/"):
        assert pattern not in text, f"{path.name} contains a machine path ({pattern})"
    record = json.loads((BOOK / "results" / path.stem / "results.json").read_text())
    assert record["profile"] == "cpu" and record["chapter"] == path.stem


#: A list marker at the start of a line: inside an inline formula, Markdown starts a list there.
LIST_MARKER = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_line_of_an_inline_formula_starts_like_a_list_item(path):
    for cell in _cells(path):
        if cell.cell_type != "markdown":
            continue
        inside = False
        for line in cell.source.splitlines():
            if inside and LIST_MARKER.match(line):
                pytest.fail(f"{path.name}: a line inside an inline formula starts with a list "
                            f"marker, which breaks the formula: {line!r}")
            text = re.sub(r"\$\$.*?\$\$", "", line.replace("\\$", ""))
            if text.strip() == "$$":
                continue
            if text.count("$") % 2:
                inside = not inside


def test_the_formula_check_catches_the_defect():
    broken = "so $\\mathrm{AP}(A) = \\tfrac12\\,(\\tfrac12\n+ \\tfrac25) = 0.45$ and more"
    lines = broken.splitlines()
    assert lines[0].count("$") % 2 == 1 and LIST_MARKER.match(lines[1])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_internal_equation_label_reaches_the_reader(path):
    """Labels such as ``eq-rf-chain`` are for cross-references; a figure legend or a printed
    line names an equation by its number or in words."""
    for cell in _cells(path):
        if cell.cell_type == "code":
            found = re.findall(r"Eqs?\. \(?[a-z][a-z0-9]*-[a-z0-9-]+\)?", cell.source)
            assert not found, f"{path.name}: internal equation label in code: {found}"
