"""Number each chapter by its file name, not by its place in the table of contents.

Sphinx numbers the chapters of a numbered toctree by position, so a book whose part II begins
with chapter 9 (chapters 6-8 not written yet) would call it chapter 6, while its exercises,
figures and file say 9. After Sphinx has assigned the numbers (``env-get-updated``), this
extension replaces the chapter number of every document named ``chapters/NN_<name>`` by ``NN``,
in its title, its sections, the table of contents that lists it, and its figure and equation
numbers ("Fig. 9.1", "(9.1)"). Documents without such a name keep Sphinx's numbers.

Raises :class:`sphinx.errors.ExtensionError` when two chapter files carry one number.
"""

import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError

CHAPTER_FILE = re.compile(r"(?:^|/)chapters/(\d+)_[^/]+$")


def file_number(docname: str) -> int | None:
    """The chapter number in a document's name (``chapters/09_gate_clusters`` -> 9), else None."""
    match = CHAPTER_FILE.search(docname)
    return int(match.group(1)) if match else None


def _renumbered(number: tuple | list | None, old: int, new: int) -> tuple | list | None:
    if not number or number[0] != old:
        return number
    return type(number)([new, *number[1:]])


def _renumber_nodes(tree: nodes.Node, old: int, new: int) -> None:
    """The ``secnumber`` of the entries of a chapter's own toc (``env.tocs[docname]``)."""
    for node in tree.findall(nodes.Element):
        if node.get("secnumber"):
            node["secnumber"] = _renumbered(node["secnumber"], old, new)


def renumber_chapters(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """``env-get-updated`` handler: the chapter numbers of ``chapters/NN_*`` become ``NN``."""
    seen: dict[int, str] = {}
    changed = []
    for docname in sorted(env.toc_secnumbers):
        new = file_number(docname)
        title = env.toc_secnumbers[docname].get("")
        if new is None or not title:
            continue
        if new in seen:
            raise ExtensionError(f"chapter number {new} is carried by two files: "
                                 f"{seen[new]} and {docname}")
        seen[new] = docname
        old = title[0]
        if old == new:
            continue
        changed.append(docname)
        env.toc_secnumbers[docname] = {anchor: _renumbered(number, old, new)
                                       for anchor, number in env.toc_secnumbers[docname].items()}
        for figures in env.toc_fignumbers.get(docname, {}).values():
            for figure, number in figures.items():
                figures[figure] = _renumbered(number, old, new)
        if docname in env.titles and "secnumber" in env.titles[docname]:
            env.titles[docname]["secnumber"] = _renumbered(env.titles[docname]["secnumber"],
                                                           old, new)
        # the entries of its own toc, which Sphinx copies into every toctree that lists it
        _renumber_nodes(env.tocs[docname], old, new)
    # a page that shows a renumbered title or figure (its own, the sidebar, a reference)
    return sorted(env.found_docs) if changed else []


def setup(app: Sphinx) -> dict:
    # after Sphinx's toctree collector (priority 500), which assigns the numbers
    app.connect("env-get-updated", renumber_chapters, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
