"""Execute the book's chapters with papermill under a profile, and the helpers chapters use.

Command line::

    python -m osnet_lib.reproduce --profile cpu                  # every chapter, in place
    python -m osnet_lib.reproduce --profile quick --chapters 02 05 --output-dir runs/quick
    python -m osnet_lib.reproduce --profile paper -p device=cuda -p data_root=/data/reid
    python -m osnet_lib.reproduce --profile cpu --threads 1      # on a machine shared with others

Each chapter notebook (``book/chapters/NN_name.ipynb``) starts with a papermill ``parameters``
cell. The runner injects the profile (and any ``-p NAME=VALUE``), executes the notebook, writes
it back in place for the ``cpu`` profile (what the book shows) or into ``--output-dir`` for the
others, and prints a summary table. The written notebook has a provenance note (profile, date,
commit, wall time) below the set-up cell, papermill's injected cell removed, consecutive
printed lines merged into one output, and solutions behind toggles that name them.

Only this runner at the ``cpu`` profile, in place, writes the book's committed results
(``book/results``), and it refuses to do so from uncommitted code unless ``--allow-dirty`` is
given, which the pages then say in a warning. Every other execution of a chapter (another
profile, JupyterLab, papermill from anywhere) writes its results elsewhere and says where.

The chapters' kernels import the ``osnet_lib`` of the checkout that holds the book, even when
the runner itself was started from another checkout's environment (:func:`kernel_pythonpath`),
so that the code a page ran, the store it read and the commit it names agree.

A failing or unreadable chapter is reported with its error; the others still run; the exit code
is non-zero if any failed. A chapter whose source cells, ``osnet_lib`` sources, profile,
parameters and written results are unchanged since its last successful execution is skipped
(the cache is ``book/results/reproduce-cache.json`` for the book, ``reproduce-cache.json`` in
the output folder otherwise); ``--force`` runs it anyway.

Inside a chapter, :func:`start_chapter` resolves the profile, the data and where results go,
and :meth:`ChapterRun.write_results` writes them as JSON with their provenance.
"""

import argparse
import contextlib
import copy
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osnet_lib.provenance import environment, git_commit, provenance, write_json_atomic
from osnet_lib.recipes import PROFILES, check_profile, get_profile

log = logging.getLogger(__name__)

#: The profile whose executions are written back into the book's chapters.
BOOK_PROFILE = "cpu"
#: Name of the cache file, under the results folder of the book.
CACHE_NAME = "reproduce-cache.json"
#: Cells the runner (or papermill) writes; they are not part of a chapter's source.
GENERATED_TAGS = frozenset({"injected-parameters", "provenance"})
#: Tag of the cells that hold an exercise's solution.
SOLUTION_TAG = "solution"
SOLUTION_MODES = ("show", "hide", "remove")


# -- helpers used inside chapters ---------------------------------------------------------------
#: Environment variable by which the runner tells a chapter's kernel the commit it runs (the
#: checkout's own state changes as the runner writes the chapters back).
COMMIT_ENV = "OSNET_REPRODUCE_COMMIT"


def _source_commit() -> str | None:
    return os.environ.get(COMMIT_ENV) or git_commit()


#: Where a chapter's results go when the batch runner at the book's profile did not ask for the
#: book's own store: ``<book>/runs/<profile>/<chapter>`` (ignored by git).
RUNS_DIR = "runs"


def _package_book_dir() -> Path | None:
    """The ``book/`` folder of the checkout this package is installed from (an editable
    install), or None."""
    candidate = Path(__file__).resolve().parents[1] / "book"
    if (candidate / "_config.yml").is_file() and (candidate / "_toc.yml").is_file():
        return candidate
    return None


def find_book_dir(start: str | Path | None = None) -> Path | None:
    """The book folder (the one holding ``_config.yml`` and ``_toc.yml``) at or above ``start``
    (the working directory by default), or its ``book/`` child; else, when ``start`` is not
    given, the book of the checkout ``osnet_lib`` is installed from; None if there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for candidate in (folder, folder / "book"):
            if (candidate / "_config.yml").is_file() and (candidate / "_toc.yml").is_file():
                return candidate
    return _package_book_dir() if start is None else None


def resolve_path(path: str | Path, book_dir: Path | None = None) -> Path:
    """An absolute path stays as it is; a relative one is taken relative to the book folder
    (found with :func:`find_book_dir` when not given) or, with no book at all, to the working
    directory."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    base = book_dir if book_dir is not None else find_book_dir()
    return (base if base is not None else Path.cwd()) / path


@dataclass
class ChapterRun:
    """A chapter's resolved settings, data and where its results go (returned by
    :func:`start_chapter`).

    Attributes:
        world: the synthetic world's size under this profile (``get_profile(profile).world``).
        data_root: the data folder (``book/data`` by default); the synthetic world is
            :attr:`world_dir` inside it.
        results_dir: where :meth:`write_results` writes.
        settings: the profile-dependent values the chapter chose (:meth:`setting`), recorded
            with the results.
    """

    chapter: str
    profile: str
    seed: int
    device: str
    results_dir: Path
    settings: dict[str, Any] = field(default_factory=dict)
    data_root: Path = field(default_factory=Path.cwd)
    started: float = field(default_factory=time.perf_counter)
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                      .isoformat(timespec="seconds"))

    @property
    def world(self) -> str:
        """The size of the synthetic world this profile uses (``"quick"`` or ``"cpu"``)."""
        return get_profile(self.profile).world

    @property
    def world_dir(self) -> Path:
        """The synthetic world's folder, ``<data_root>/synthetic-<world>``."""
        from osnet_lib.data import synthetic_world_dir

        return synthetic_world_dir(self.data_root, self.world)

    @property
    def full_size(self) -> bool:
        """Whether the profile runs the chapters' analyses at full size (``cpu``, ``paper``)
        rather than cut down to seconds (``quick``)."""
        return get_profile(self.profile).full_chapters

    def setting(self, name: str, *, full: Any, small: Any) -> Any:
        """A chapter's profile-dependent value: ``full`` under a full-size profile, ``small``
        under ``quick``; recorded in :attr:`settings` (and so with the results)."""
        value = full if self.full_size else small
        self.settings[name] = value
        return value

    def elapsed(self) -> float:
        """Seconds since :func:`start_chapter`."""
        return time.perf_counter() - self.started

    def provenance_line(self) -> str:
        """One line that says how this execution was made: profile, seed, device, date, commit,
        library versions and threads."""
        env = environment()
        return (f"profile={self.profile} seed={self.seed} device={self.device} | "
                f"{self.date} | commit {_source_commit() or 'unknown'} | "
                f"osnet_lib {env['osnet_lib']}"
                f", torch {env['torch']}, python {env['python']}, "
                f"{env['torch_threads']} CPU threads")

    def write_results(self, data: Mapping[str, Any], name: str = "results.json") -> Path:
        """Write ``data`` with its provenance (recipe = the chapter's settings, seed, wall time
        so far) as ``<results_dir>/<name>``, atomically; returns the path."""
        if not name.endswith(".json") or "/" in name or "\\" in name:
            raise ValueError(f"results file name must be a plain *.json name, got {name!r}")
        record: dict[str, Any] = {
            "chapter": self.chapter,
            "profile": self.profile,
            "results": dict(data),
            "provenance": provenance(recipe=self.settings, seed=self.seed, profile=self.profile,
                                     device=self.device, wall_time_s=round(self.elapsed(), 1)),
        }
        # under the runner, the commit it checked (not the tree it is rewriting)
        record["provenance"]["git_commit"] = _source_commit()
        return write_json_atomic(self.results_dir / name, record)


#: PNG text key under which a chapter's figures carry the size of their smallest text, in pixels
#: of the image (``"none"`` for a figure without text), so that the site test can check it at
#: the page's scale.
TEXT_SIZE_KEY = "MinTextPx"


def smallest_text_px(fig: Any, dpi: float | None = None) -> float | None:
    """The font size, in pixels of an image saved at ``dpi`` (the figure's by default), of the
    smallest visible, non-empty text of a matplotlib figure (tick labels, legends, titles), or
    None for a figure without text. The figure is drawn once to lay its ticks out."""
    from matplotlib.text import Text

    fig.canvas.draw()
    box = fig.bbox
    sizes = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        extent = text.get_window_extent()
        if extent.x1 < box.x0 or extent.x0 > box.x1 or extent.y1 < box.y0 or extent.y0 > box.y1:
            continue  # laid out but outside the figure, not drawn
        sizes.append(text.get_fontsize())
    if not sizes:
        return None
    return min(sizes) * (dpi or fig.dpi) / 72


def _png_with_text_size(fig: Any) -> str | None:
    from IPython.core.pylabtools import print_figure

    px = smallest_text_px(fig)
    metadata = {TEXT_SIZE_KEY: f"{px:.2f}" if px is not None else "none"}
    return print_figure(fig, fmt="png", base64=True, metadata=metadata)


def _record_figure_text_sizes() -> None:
    """In a Jupyter kernel, make the PNGs of matplotlib figures carry :data:`TEXT_SIZE_KEY`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    import matplotlib
    from matplotlib.figure import Figure

    if "inline" in matplotlib.get_backend():
        # the inline backend sets its own formatters when first imported: let it do so first
        import matplotlib_inline.backend_inline  # noqa: F401

    shell.display_formatter.formatters["image/png"].for_type(Figure, _png_with_text_size)


def start_chapter(
    chapter: str,
    profile: str,
    seed: int = 0,
    device: str = "cpu",
    results_dir: str | Path = "",
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    data_root: str | Path = "data",
) -> ChapterRun:
    """Set a chapter up: check the profile, seed the random generators, check the device,
    resolve the data folder and make the chapter's results folder.

    Relative paths are relative to the book folder, found from the working directory or, from
    anywhere else, as the book of the checkout ``osnet_lib`` is installed from; so a chapter
    finds the book's data wherever it is started.

    Results go to ``<results_dir>/<chapter>``. An empty ``results_dir`` (a chapter's default:
    JupyterLab, papermill, any profile) means ``<book>/runs/<profile>/<chapter>``, which the
    function logs; only the batch runner at the book's profile passes ``"results"``, the
    book's committed store. ``settings``, if given, maps each profile to that profile's values
    (``run.settings``); :meth:`ChapterRun.setting` is the shorter way.

    Raises:
        ValueError: unknown profile or device, CUDA asked for but absent, a chapter name that
            is not a plain name, ``settings`` lacking a profile.
        TypeError: a seed that is not an integer.
    """
    import numpy as np
    import torch

    check_profile(profile)
    if not chapter or any(ch in chapter for ch in "/\\"):
        raise ValueError(f"chapter must be a plain name such as '02_depthwise_separable', "
                         f"got {chapter!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"unknown device {device!r}: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available; "
                         f"use device='cpu'")
    chosen: dict[str, Any] = {}
    if settings is not None:
        missing = [p for p in PROFILES if p not in settings]
        if missing:
            raise ValueError(f"settings of chapter {chapter!r} lack the profile(s) {missing}")
        chosen = dict(settings[profile])
    book = find_book_dir()
    if book is None and not (Path(results_dir).is_absolute() and Path(data_root).is_absolute()):
        log.warning("no book folder found from %s: relative paths are taken from there",
                    Path.cwd())
    torch.manual_seed(seed)
    np.random.seed(seed)
    _record_figure_text_sizes()
    if str(results_dir):
        out = resolve_path(results_dir, book) / chapter
    else:
        out = resolve_path(Path(RUNS_DIR) / profile, book) / chapter
        log.warning("results of this run go to %s (the book's own results are written only by "
                    "`python -m osnet_lib.reproduce --profile %s`)", out, BOOK_PROFILE)
    out.mkdir(parents=True, exist_ok=True)
    return ChapterRun(chapter, profile, seed, str(device), out, chosen,
                      data_root=resolve_path(data_root, book))


# -- notebooks -----------------------------------------------------------------------------------
def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def read_notebook(path: str | Path) -> dict[str, Any]:
    """Read a notebook file as a dict (nbformat 4 JSON), with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a notebook (invalid JSON: {e})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells)")
    return nb


def notebook_source_hash(path: str | Path) -> str:
    """SHA-256 of a notebook's source: the type, source text and tags of every cell, outputs and
    execution metadata left out, and the cells the runner generates (injected parameters,
    provenance note) skipped."""
    nb = read_notebook(path)
    h = hashlib.sha256()
    for cell in nb["cells"]:
        tags = _tags(cell)
        if GENERATED_TAGS.intersection(tags):
            continue
        h.update(json.dumps([cell.get("cell_type"), _source(cell), sorted(tags)]).encode())
    return h.hexdigest()


def package_hash(package_dir: str | Path | None = None) -> str:
    """SHA-256 over the ``.py`` files of the osnet_lib package (their relative paths and bytes)."""
    root = Path(package_dir) if package_dir else Path(__file__).resolve().parent
    if not root.is_dir():
        raise FileNotFoundError(f"package folder not found: {root}")
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def discover_chapters(book_dir: str | Path) -> dict[str, Path]:
    """The chapter notebooks ``chapters/NN_*.ipynb`` of a book, by name (file stem), in order."""
    folder = Path(book_dir) / "chapters"
    if not folder.is_dir():
        raise FileNotFoundError(f"no chapters folder in the book: {folder}")
    found = sorted(p for p in folder.glob("*.ipynb")
                   if p.stem[:2].isdigit() and not p.name.startswith("."))
    return {p.stem: p for p in found}


def select_chapters(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """Pick chapters by full name or number prefix (``"02"`` selects ``02_depthwise_...``); all
    when ``wanted`` is empty. An unknown or ambiguous selection raises a ValueError."""
    if not wanted:
        return list(available)
    chosen: list[str] = []
    for w in wanted:
        matches = [name for name in available if name == w or name.split("_", 1)[0] == w]
        if not matches:
            raise ValueError(f"no chapter {w!r}; available chapters: {', '.join(available)}")
        if len(matches) > 1:
            raise ValueError(f"chapter {w!r} is ambiguous: {', '.join(matches)}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _solution_title(cells: Sequence[Mapping[str, Any]], index: int) -> str | None:
    """The title ("Solution 1.1") of the solution whose code cell is ``cells[index]``: the
    nearest solution markdown cell before it, else after it."""
    order = [*range(index - 1, -1, -1), *range(index + 1, len(cells))]
    for i in order:
        cell = cells[i]
        if cell.get("cell_type") == "markdown" and SOLUTION_TAG in _tags(cell):
            match = re.search(r"\{admonition\}\s*(Solution[^\n]*)", _source(cell))
            if match:
                return match.group(1).strip()
    return None


def set_solution_visibility(nb: dict[str, Any], mode: str) -> dict[str, Any]:
    """Return a copy of notebook ``nb`` whose solution cells (tagged ``solution``) are shown
    (``"show"``), collapsed behind a toggle in the rendered book (``"hide"``: Jupyter Book's
    ``hide-cell`` tag, with a toggle that names the solution, "Show the code of Solution 1.1")
    or removed (``"remove"``, for a students' edition). A solution cell tagged ``remove-cell``
    (bookkeeping) stays out of the rendered page in every mode."""
    if mode not in SOLUTION_MODES:
        raise ValueError(f"unknown solutions mode {mode!r}; expected one of {SOLUTION_MODES}")
    nb = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(nb["cells"]):
        tags = _tags(cell)
        if SOLUTION_TAG in tags:
            if mode == "remove":
                continue
            tags = [t for t in tags if t != "hide-cell"]
            meta = cell.setdefault("metadata", {})
            mystnb = meta.get("mystnb", {})
            for key in ("code_prompt_show", "code_prompt_hide"):
                mystnb.pop(key, None)
            if (mode == "hide" and cell.get("cell_type") == "code"
                    and "remove-cell" not in tags):
                tags.append("hide-cell")
                title = _solution_title(nb["cells"], index) or "the solution"
                mystnb["code_prompt_show"] = f"Show the code of {title}"
                mystnb["code_prompt_hide"] = f"Hide the code of {title}"
            if mystnb:
                meta["mystnb"] = mystnb
            else:
                meta.pop("mystnb", None)
            meta["tags"] = tags
        cells.append(cell)
    nb["cells"] = cells
    return nb


def merge_streams(nb: dict[str, Any]) -> dict[str, Any]:
    """Merge consecutive stream outputs of the same stream (stdout, stderr) of every code cell
    into one, in place, so a printed table renders as one block; returns ``nb``."""
    for cell in nb["cells"]:
        merged: list[dict[str, Any]] = []
        for out in cell.get("outputs", []):
            prev = merged[-1] if merged else None
            if (prev is not None and out.get("output_type") == "stream"
                    and prev.get("output_type") == "stream"
                    and prev.get("name") == out.get("name")):
                prev["text"] = _source({"source": prev.get("text", "")}) + _source(
                    {"source": out.get("text", "")})
                continue
            merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged
    return nb


def drop_injected_parameters(nb: dict[str, Any]) -> dict[str, Any]:
    """Remove papermill's injected-parameters cell, and the outputs of the bookkeeping cells
    that the page does not show (tagged ``remove-cell``), in place; returns ``nb``. What was
    injected is in the provenance note; a cell left behind would re-apply it when a reader runs
    the notebook in JupyterLab."""
    nb["cells"] = [c for c in nb["cells"] if "injected-parameters" not in _tags(c)]
    for cell in nb["cells"]:
        if "remove-cell" in _tags(cell) and cell.get("cell_type") == "code":
            cell["outputs"] = []
    return nb


def _short_commit(commit: str | None) -> str:
    if not commit:
        return "unknown"
    head, _, rest = commit.partition("+")
    return head[:12] + (f"+{rest}" if rest else "")


def _provenance_cell(profile: str, date: str, commit: str | None, wall_s: float,
                     parameters: Mapping[str, Any],
                     uncommitted: Sequence[str] = ()) -> dict[str, Any]:
    params = ", ".join(f"{k}={v!r}" for k, v in parameters.items() if k != "results_dir")
    text = (f"The outputs on this page come from an execution with profile "
            f"`{profile}` on {date} (git commit `{_short_commit(commit)}`), "
            f"wall time {wall_s:.0f} s, by `python -m osnet_lib.reproduce --profile {profile}`"
            + (f" with {params}" if params and params != f"profile={profile!r}" else "")
            + ".")
    if uncommitted:
        shown = ", ".join(f"`{p}`" for p in uncommitted[:5])
        more = f" and {len(uncommitted) - 5} more" if len(uncommitted) > 5 else ""
        text = (f"```{{warning}}\nNot a published execution: made with `--allow-dirty` from "
                f"uncommitted changes to {shown}{more}. {text}\n```")
    else:
        text = f"```{{note}}\n{text}\n```"
    return {"cell_type": "markdown", "id": "provenance-note",
            "metadata": {"tags": ["provenance"]}, "source": text}


def uncommitted_changes(book_dir: str | Path) -> list[str] | None:
    """Paths (relative to the repository) whose uncommitted state an execution of the book
    would depend on: tracked files that differ from HEAD and untracked files that git does not
    ignore, leaving out the book's ``chapters/`` and ``results/`` (which the runner itself
    writes, and whose sources the executed notebooks show). None outside a git checkout."""
    book_dir = Path(book_dir).resolve()
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=book_dir,
                             capture_output=True, text=True, timeout=30, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                                cwd=book_dir, capture_output=True, text=True, timeout=60,
                                check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    root = Path(top.stdout.strip()).resolve()
    try:
        own = [(book_dir / part).relative_to(root).as_posix() + "/"
               for part in ("chapters", "results")]
    except ValueError:
        own = []
    changed = []
    for line in status.stdout.splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not any(path.startswith(prefix) for prefix in own):
            changed.append(path)
    return changed


def _head_commit(book_dir: Path) -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=book_dir, capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def add_provenance_note(nb: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """Put the runner's provenance note after the first code cell that follows the parameters
    (the settings cell), replacing an earlier note."""
    cells = [c for c in nb["cells"] if "provenance" not in _tags(c)]
    index = len(cells)
    seen_parameters = False
    for i, c in enumerate(cells):
        tags = _tags(c)
        if "parameters" in tags or "injected-parameters" in tags:
            seen_parameters = True
            continue
        if seen_parameters and c.get("cell_type") == "code":
            index = i + 1
            break
    nb["cells"] = cells[:index] + [cell] + cells[index:]
    return nb


# -- running -------------------------------------------------------------------------------------
@dataclass
class ChapterResult:
    """What happened to one chapter in a batch."""

    chapter: str
    status: str  # "ok", "skipped" or "failed"
    wall_s: float | None = None
    notebook: Path | None = None
    results_file: Path | None = None
    error: str | None = None


def _load_cache(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("ignoring an unreadable cache file %s", path)
        return {}
    return data if isinstance(data, dict) else {}


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


@contextlib.contextmanager
def _kernel_env(**values: str | None) -> Iterator[None]:
    """Set environment variables that the kernels started inside the block inherit (None
    leaves a variable as it is)."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kernel_pythonpath(book: Path) -> str | None:
    """The ``PYTHONPATH`` under which a chapter's kernel imports the ``osnet_lib`` of the
    checkout that holds ``book`` (its parent folder), or None when that checkout has no
    ``osnet_lib`` or it is the package this process runs.

    Without it, a second checkout that shares the first one's environment (an editable
    install) would run the first checkout's code and read its store, while the provenance
    names the second checkout's commit."""
    package = book.resolve().parent / "osnet_lib"
    if not (package / "__init__.py").is_file():
        return None
    if package == Path(__file__).resolve().parent:
        return None
    current = os.environ.get("PYTHONPATH")
    return os.pathsep.join([str(package.parent)] + ([current] if current else []))


class DirtyTreeError(ValueError):
    """The book would be executed at its own profile from uncommitted code."""


def run_chapters(
    profile: str,
    chapters: Sequence[str] | None = None,
    force: bool = False,
    output_dir: str | Path | None = None,
    book_dir: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    solutions: str = "hide",
    cell_timeout: int | None = None,
    package_dir: str | Path | None = None,
    threads: int | None = None,
    allow_dirty: bool = False,
) -> list[ChapterResult]:
    """Execute the chosen chapters (all by default) under ``profile``; see the module docstring.

    The executed notebooks go back into the book for the ``cpu`` profile when no
    ``output_dir`` is given (the book's results then go to ``book/results``: the only run that
    writes them), else into ``output_dir`` (``runs/book-<profile>`` by default), with results
    under ``output_dir/results``. ``solutions`` sets how the written notebooks show exercise
    solutions (:func:`set_solution_visibility`); ``threads`` caps the CPU threads of the
    chapters' kernels (OpenMP/MKL; None leaves the environment as it is: on a machine shared
    with other work, 1 avoids oversubscription). Never raises for a failing or unreadable
    chapter: its result has ``status="failed"`` and the error.

    Raises:
        DirtyTreeError: the book's own execution (``cpu``, in place) would run from
            uncommitted changes (:func:`uncommitted_changes`) and ``allow_dirty`` is False;
            with ``allow_dirty`` the provenance notes say so in a warning.
        ValueError, FileNotFoundError: bad arguments, no book.
    """
    check_profile(profile)
    if solutions not in SOLUTION_MODES:
        raise ValueError(f"unknown solutions mode {solutions!r}; expected one of {SOLUTION_MODES}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    threads_text = str(threads) if threads is not None else None
    with _kernel_env(OMP_NUM_THREADS=threads_text, MKL_NUM_THREADS=threads_text):
        return _run_chapters(profile, chapters, force, output_dir, book_dir, parameters,
                             solutions, cell_timeout, package_dir, allow_dirty)


def _results_hashes(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*.json"))}


def _run_chapters(
    profile: str,
    chapters: Sequence[str] | None,
    force: bool,
    output_dir: str | Path | None,
    book_dir: str | Path | None,
    parameters: Mapping[str, Any] | None,
    solutions: str,
    cell_timeout: int | None,
    package_dir: str | Path | None,
    allow_dirty: bool,
) -> list[ChapterResult]:
    import papermill as pm

    book = Path(book_dir) if book_dir is not None else find_book_dir()
    if book is None or not (book / "_config.yml").is_file():
        raise FileNotFoundError(f"no Jupyter Book folder (with _config.yml) found at "
                                f"{book_dir or Path.cwd()}")
    book = book.resolve()
    available = discover_chapters(book)
    selected = select_chapters(list(available), chapters)

    in_place = output_dir is None and profile == BOOK_PROFILE
    # the state of the code, taken once before anything is written (the runner's own writes
    # to chapters/ and results/ do not count)
    uncommitted = uncommitted_changes(book) or []
    if in_place and uncommitted and not allow_dirty:
        shown = ", ".join(uncommitted[:8]) + (" ..." if len(uncommitted) > 8 else "")
        raise DirtyTreeError(
            f"the book's chapters would be executed from uncommitted changes ({shown}); commit "
            f"them first, or pass --allow-dirty to stamp the pages as not published")
    head = _head_commit(book)
    commit = (head + "+dirty") if (head and uncommitted) else head
    out_dir = (book / "chapters" if in_place
               else Path(output_dir if output_dir is not None else f"runs/book-{profile}"))
    out_dir = out_dir.resolve()
    results_root = book / "results" if in_place else out_dir / "results"
    params: dict[str, Any] = {"profile": profile, **dict(parameters or {})}
    # the book's store, by a relative path the chapter resolves against the book; another run
    # names its own folder
    params["results_dir"] = "results" if in_place else str(results_root)
    # the book's cache sits with its results; another output folder keeps its own
    cache_path = (book / "results" if in_place else out_dir) / CACHE_NAME
    cache = _load_cache(cache_path)
    pythonpath = kernel_pythonpath(book)
    if pythonpath is not None:
        log.warning("the chapters' kernels import osnet_lib from %s, the checkout of the book, "
                    "not from %s", book.parent, Path(__file__).resolve().parent.parent)
        if package_dir is None:
            package_dir = book.parent / "osnet_lib"
    pkg_hash = package_hash(package_dir)

    results: list[ChapterResult] = []
    for name in selected:
        source = available[name]
        dest = out_dir / source.name
        key = f"{name}|{profile}"
        try:
            src_hash = notebook_source_hash(source)
        except (OSError, ValueError) as exc:  # one unreadable chapter must not stop the batch
            log.error("%s cannot be read: %s", name, exc)
            results.append(ChapterResult(name, "failed", None, source, error=_error_text(exc)))
            continue
        fingerprint = {"notebook": src_hash, "package": pkg_hash, "profile": profile,
                       "parameters": {k: v for k, v in params.items() if k != "results_dir"}}
        entry = cache.get(key, {})
        res_file = results_root / name / "results.json"
        if (not force and entry.get("fingerprint") == json.loads(json.dumps(fingerprint))
                and entry.get("results", {}) == _results_hashes(results_root / name)
                and dest.is_file() and _same_source(dest, src_hash)):
            log.info("%s: unchanged since %s, skipped", name, entry.get("date"))
            results.append(ChapterResult(name, "skipped", entry.get("wall_s"), dest,
                                         res_file if res_file.is_file() else None))
            continue

        log.info("%s: executing with profile %s", name, profile)
        work = Path(tempfile.mkdtemp(prefix="osnet-reproduce-"))
        executed = work / source.name
        t0 = time.perf_counter()
        try:
            with _kernel_env(**{COMMIT_ENV: commit, "PYTHONPATH": pythonpath}):
                pm.execute_notebook(
                    str(source), str(executed), parameters=params, cwd=str(source.parent),
                    progress_bar=False, log_output=False, execution_timeout=cell_timeout,
                    request_save_on_cell_execute=False,
                )
        except Exception as exc:  # noqa: BLE001 - a chapter's failure must not stop the batch
            wall = time.perf_counter() - t0
            failed_dir = (out_dir if not in_place
                          else Path(tempfile.gettempdir()) / "osnet-reproduce-failed")
            failed_dir.mkdir(parents=True, exist_ok=True)
            failed = failed_dir / f"{name}.failed.ipynb"
            if executed.is_file():
                shutil.copyfile(executed, failed)
            shutil.rmtree(work, ignore_errors=True)
            log.error("%s failed after %.1f s: %s", name, wall, _error_text(exc))
            results.append(ChapterResult(name, "failed", wall,
                                         failed if failed.is_file() else None,
                                         error=_error_text(exc)))
            continue
        wall = time.perf_counter() - t0
        date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        nb = read_notebook(executed)
        pm_meta = nb.get("metadata", {}).get("papermill")
        if isinstance(pm_meta, dict):  # no machine paths in a notebook that may be committed
            pm_meta["input_path"], pm_meta["output_path"] = source.name, dest.name
            pm_meta.get("parameters", {}).pop("results_dir", None)
        nb = drop_injected_parameters(merge_streams(nb))
        nb = add_provenance_note(nb, _provenance_cell(profile, date, commit, wall, params,
                                                      uncommitted))
        nb = set_solution_visibility(nb, solutions)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, dest)
        shutil.rmtree(work, ignore_errors=True)
        results.append(ChapterResult(name, "ok", wall, dest,
                                     res_file if res_file.is_file() else None))
        cache[key] = {"fingerprint": fingerprint, "date": date, "wall_s": round(wall, 1),
                      "notebook": dest.name, "results": _results_hashes(results_root / name)}
        write_json_atomic(cache_path, cache)
    return results


def _same_source(path: Path, src_hash: str) -> bool:
    try:
        return notebook_source_hash(path) == src_hash
    except (OSError, ValueError):
        return False


def format_summary(results: Sequence[ChapterResult], relative_to: Path | None = None) -> str:
    """The batch's summary table: chapter, status, wall time, results file (and errors)."""
    base = (relative_to or Path.cwd()).resolve()

    def show(path: Path | None) -> str:
        if path is None:
            return "-"
        try:
            return str(path.resolve().relative_to(base))
        except ValueError:
            return str(path)

    width = max([len("chapter")] + [len(r.chapter) for r in results])
    lines = [f"{'chapter':<{width}}  {'status':<8} {'wall':>8}  results",
             f"{'-' * width}  {'-' * 8} {'-' * 8}  {'-' * 7}"]
    for r in results:
        wall = f"{r.wall_s:.1f} s" if r.wall_s is not None else "-"
        lines.append(f"{r.chapter:<{width}}  {r.status:<8} {wall:>8}  {show(r.results_file)}")
        if r.error:
            lines.append(f"{'':<{width}}  error: {r.error}")
            if r.notebook is not None:
                lines.append(f"{'':<{width}}  failed notebook: {show(r.notebook)}")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
    lines.append(f"{counts['ok']} executed, {counts['skipped']} skipped (unchanged), "
                 f"{counts['failed']} failed")
    return "\n".join(lines)


def _parse_parameter(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{name!r} is not a valid parameter name")
    # Python's spellings of the literals, as a reader types them into a parameters cell
    python_literals = {"True": True, "False": False, "None": None}
    if value in python_literals:
        return name, python_literals[value]
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m osnet_lib.reproduce",
        description="Execute the book's chapters with papermill under a profile.")
    parser.add_argument("--profile", required=True, choices=PROFILES,
                        help="quick (CI, seconds), cpu (what the book shows), paper (GPU, real "
                             "data)")
    parser.add_argument("--chapters", nargs="+", metavar="NN",
                        help="chapter numbers or names (default: all)")
    parser.add_argument("--force", action="store_true",
                        help="execute even chapters that are unchanged since their last run")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="where executed notebooks and results go (default: in place for "
                             "the cpu profile, runs/book-PROFILE otherwise)")
    parser.add_argument("--book", metavar="DIR", help="the book folder (default: found from "
                                                      "the working directory)")
    parser.add_argument("-p", "--parameter", action="append", type=_parse_parameter, default=[],
                        metavar="NAME=VALUE",
                        help="override a chapter parameter (a JSON value, True, False, None, "
                             "or a string), e.g. -p device=cuda")
    parser.add_argument("--solutions", choices=SOLUTION_MODES, default="hide",
                        help="exercise solutions in the written notebooks: show, hide behind a "
                             "toggle (default), or remove (students' edition)")
    parser.add_argument("--cell-timeout", type=int, metavar="S",
                        help="fail a cell that runs longer than S seconds")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads of each chapter's kernel (default: the environment's; "
                             "1 is best on a machine shared with other work)")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="execute the book's chapters (cpu, in place) even from uncommitted "
                             "changes; their pages then say so in a warning")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        results = run_chapters(args.profile, args.chapters, args.force, args.output_dir,
                               args.book, dict(args.parameter), args.solutions,
                               args.cell_timeout, threads=args.threads,
                               allow_dirty=args.allow_dirty)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_summary(results))
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
