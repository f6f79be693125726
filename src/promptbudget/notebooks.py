"""Jupyter notebooks read as Python: their code cells, one after another.

Nothing in a notebook is run. Its code cells are joined into one module so
`guide.ipynb::SYSTEM_PROMPT` reads like a Python reference; IPython magics
and shell lines (`%pip install`, `!ls`) become comments. Each line of the
joined source is mapped back to its line in the .ipynb file, as nbformat
writes one source line per JSON line, so a reader finds it there.
"""

from __future__ import annotations

import json
import re

from promptbudget.errors import ConfigError

SUFFIX = ".ipynb"
SOURCE_KEY = re.compile(r'^\s*"source"\s*:', re.M)


def is_notebook(path: str) -> bool:
    return path.endswith(SUFFIX)


def code_of(text: str, path: str) -> tuple[str, list[int]]:
    """The code cells as one Python source, and each of its lines' file line."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigError(f"{path}: is not a valid notebook (not JSON)") from None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise ConfigError(f"{path}: is not a valid notebook (no cells)")
    starts = [text[: m.end()].count("\n") + 1 for m in SOURCE_KEY.finditer(text)]
    lines: list[str] = []
    where: list[int] = []
    for index, cell in enumerate(cells):
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        start = starts[index] if index < len(starts) else 1
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        pieces = source if isinstance(source, list) else [source]
        cell_lines = "".join(p for p in pieces if isinstance(p, str)).split("\n")
        one_per_line = isinstance(source, list) and len(pieces) > 1
        for offset, line in enumerate(cell_lines):
            lines.append(_without_magic(line))
            where.append(start + offset + 1 if one_per_line else start)
        lines.append("")
        where.append(start)
    return "\n".join(lines) + "\n", where


def _without_magic(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith(("%", "!")):
        return line[: len(line) - len(stripped)] + "# " + stripped
    return line
