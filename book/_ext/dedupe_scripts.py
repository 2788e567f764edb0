"""Sphinx extension: drop duplicate <script> entries from every page.

Jupyter Book 1 registers sphinx-thebe's inline configuration script twice, which declares
``const THEBE_JS_URL`` twice and raises a SyntaxError in the browser console on every page.
This keeps the first of identical scripts.
"""

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # an inline script's filename is None or "" depending on who added it
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict:
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
