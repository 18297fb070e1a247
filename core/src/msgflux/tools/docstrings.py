"""Read a function's summary and parameter descriptions from its docstring.

Google style (``Args:`` sections), reST (``:param x:`` fields) and NumPy style
(``Parameters`` underlined) are understood; anything else becomes the summary.
"""

from __future__ import annotations

import inspect
import re

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_SECTION = re.compile(r"^(\w[\w ]*):\s*$")
_GOOGLE_ARGS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_ITEM = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^:(\w+)(?:\s+([^:]+?))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ITEM = re.compile(r"^(\w+)\s*(?::\s*(.*))?$")


class Docstring:
    """A parsed docstring.

    Attributes:
        summary: The text before the first section (the function's description).
        params: Parameter name -> description.
    """

    __slots__ = ("params", "summary")

    def __init__(self, summary: str, params: dict[str, str]) -> None:
        self.summary = summary
        self.params = params

    def __repr__(self) -> str:
        return f"Docstring(summary={self.summary!r}, params={self.params!r})"


def parse_docstring(doc: str | None) -> Docstring:
    """Parse ``doc`` (raw ``__doc__``) into a summary and parameter descriptions."""
    if not doc:
        return Docstring("", {})
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    in_summary = True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1]) and stripped:
            in_summary = False
            if stripped.lower() in {"parameters", "other parameters"}:
                i = _numpy_params(lines, i + 2, params)
            else:
                i += 2
            continue
        field = _REST_FIELD.match(stripped)
        if field:
            in_summary = False
            i = _rest_field(lines, i, field, params)
            continue
        section = _GOOGLE_SECTION.match(stripped)
        if section and not line.startswith((" ", "\t")):
            in_summary = False
            if section.group(1).lower() in _GOOGLE_ARGS:
                i = _google_args(lines, i + 1, params)
            else:
                i += 1
            continue
        if in_summary:
            summary.append(line)
        i += 1
    return Docstring("\n".join(summary).strip(), params)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _google_args(lines: list[str], i: int, params: dict[str, str]) -> int:
    item_indent: int | None = None
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        if indent == 0:
            break  # the next section
        if item_indent is None:
            item_indent = indent
        if indent <= item_indent:
            match = _GOOGLE_ITEM.match(line.strip())
            if match:
                current = match.group(1)
                params[current] = match.group(3).strip()
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
        i += 1
    return i


def _rest_field(lines: list[str], i: int, match: re.Match[str], params: dict[str, str]) -> int:
    kind, target, text = match.group(1), match.group(2), match.group(3)
    i += 1
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > 0:
        text = f"{text} {lines[i].strip()}"
        i += 1
    if kind in {"param", "parameter", "arg", "argument", "key", "keyword"} and target:
        name = target.split()[-1]  # ":param int count:" -> "count"
        params[name] = text.strip()
    return i


def _numpy_params(lines: list[str], i: int, params: dict[str, str]) -> int:
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1]):
            break  # the next section
        if not line.strip():
            i += 1
            continue
        if _indent(line) == 0:
            match = _NUMPY_ITEM.match(line.strip())
            current = match.group(1) if match else None
            if current:
                params[current] = ""
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
        i += 1
    return i
