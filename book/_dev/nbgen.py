"""What the chapter generators share: cells written in order, then one notebook file.

A generator (``make_<chapter>.py``) calls ``md`` and ``code`` for each cell, then ``write``;
its output path is its first command-line argument, or the chapter's default.
"""
import sys

import nbformat as nbf


class Cells:
    """The cells of one notebook, in order."""

    def __init__(self) -> None:
        self.cells: list = []

    def _add(self, cell, tags) -> None:
        if tags:
            cell.metadata["tags"] = list(tags)
        self.cells.append(cell)

    def md(self, text: str, tags=()) -> None:
        self._add(nbf.v4.new_markdown_cell(text.strip("\n")), tags)

    def code(self, text: str, tags=()) -> None:
        self._add(nbf.v4.new_code_cell(text.strip("\n")), tags)

    def write(self, default_path: str) -> None:
        nb = nbf.v4.new_notebook()
        nb.cells = self.cells
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                     "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        nbf.write(nb, sys.argv[1] if len(sys.argv) > 1 else default_path)
