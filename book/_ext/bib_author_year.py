"""Sphinx extension: bibliography labels in the author-year form the text cites with.

The chapters cite author-year ("Zhou et al., 2021"); sphinxcontrib-bibtex's default labels are
alphabetic ("[ZYCX21]"), which a reader cannot match to the citation. This registers the pybtex
style ``author_year``: the ``plain`` formatting (sorted by author, year, title) with labels
"Surname, year", "Surname and Surname, year" or "Surname et al., year" (a letter is added when two
entries would share a label). ``_config.yml`` selects it with ``bibtex_default_style``.
"""

from collections import Counter
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person: Any) -> str:
    return " ".join(person.prelast_names + person.last_names).replace("{", "").replace("}", "")


def author_year(entry: Any) -> str:
    """The author-year label of a pybtex entry."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    if not people:
        names = entry.fields.get("title", entry.key)
    elif len(people) == 1:
        names = _surname(people[0])
    elif len(people) == 2:
        names = f"{_surname(people[0])} and {_surname(people[1])}"
    else:
        names = f"{_surname(people[0])} et al."
    return f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries: Any) -> Any:
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        counts = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label = f"{label}{chr(ord('a') + seen[label] - 1)}"
            yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)


def setup(app: Any) -> dict:
    return {"parallel_read_safe": True, "parallel_write_safe": True}
