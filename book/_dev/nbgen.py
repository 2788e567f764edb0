"""What the chapter generators share: cells written in order, then one notebook file.

A generator (``make_<chapter>.py``) calls ``md`` and ``code`` for each cell, then ``write``;
its output path is its first command-line argument, or the chapter's default.
"""
import sys

import nbformat as nbf


class Cells:
    """The cells of one notebook, in order, for chapter number ``chapter``."""

    def __init__(self, chapter: int) -> None:
        self.chapter = chapter
        self.cells: list = []
        self.solutions = 0

    def _add(self, cell, tags) -> None:
        if tags:
            cell.metadata["tags"] = list(tags)
        self.cells.append(cell)

    def md(self, text: str, tags=()) -> None:
        self._add(nbf.v4.new_markdown_cell(text.strip("\n")), tags)

    def code(self, text: str, tags=(), figure=None) -> None:
        """A code cell; ``figure=(name, caption)`` numbers its plot as a figure of the chapter.
        A folded solution cell (tags ``solution`` and ``hide-cell``) gets a toggle named after
        its solution, counted in order: "Show the code of Solution 6.1"."""
        cell = nbf.v4.new_code_cell(text.strip("\n"))
        if figure is not None:
            name, caption = figure
            cell.metadata["mystnb"] = {"figure": {"caption": caption, "name": name}}
        if {"solution", "hide-cell"} <= set(tags):
            self.solutions += 1
            label = f"Solution {self.chapter}.{self.solutions}"
            cell.metadata["mystnb"] = {"code_prompt_show": f"Show the code of {label}",
                                       "code_prompt_hide": f"Hide the code of {label}"}
        self._add(cell, tags)

    def study_parameters(self, dataset_note: str) -> None:
        """The parameters cell of an experiment chapter (papermill's ``parameters`` tag):
        literals only; ``dataset_note`` says what ``dataset`` means there."""
        self.code(f'''
# Parameters: literals only. papermill (and python -m osnet_lib.reproduce) inject new
# values in a cell below this one; the next cell derives everything else from them.
profile = "cpu"  # "quick", "cpu" or "paper"
device = "cpu"
seed = 0  # seeds the chapter's own randomness; each run's seed is part of the study
dataset = "synthetic"  # {dataset_note}
data_root = "data"  # relative paths are relative to the book folder
results_dir = ""  # "": book/runs/<profile>; the book's own results are written by the runner
store_root = ""  # the result store ("": the book's, book/store)
train_missing = True  # False: show the finished runs only, never train
''', tags=["parameters"])

    def write(self, default_path: str) -> None:
        nb = nbf.v4.new_notebook()
        nb.cells = self.cells
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                     "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        nbf.write(nb, sys.argv[1] if len(sys.argv) > 1 else default_path)
