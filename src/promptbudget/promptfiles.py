"""Prompt files with YAML front matter (.prompty, .prompt) and role sections.

The front matter holds model settings, not model input, so it is cut off.
A .prompty body is split at lines such as `system:` and `user:` into
sections, which references name as `chat.prompty::system`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRONT_MATTER_SUFFIXES = (".prompty", ".prompt")
SECTIONED_SUFFIXES = (".prompty",)
ROLE_LINE = re.compile(r"^[ \t]*(system|user|assistant)[ \t]*:[ \t]*$", re.I | re.M)
FENCE = re.compile(r"^---[ \t]*$", re.M)


@dataclass(frozen=True)
class Section:
    role: str
    text: str
    line: int


def has_front_matter(path: str) -> bool:
    return path.endswith(FRONT_MATTER_SUFFIXES)


def split_front_matter(text: str) -> tuple[str, int]:
    """The body after a leading `---` ... `---` block, and the body's first line."""
    if not text.startswith("---"):
        return text, 1
    opening = FENCE.match(text)
    if opening is None:
        return text, 1
    closing = FENCE.search(text, opening.end())
    if closing is None:
        return text, 1
    end = closing.end()
    if text[end : end + 1] == "\n":
        end += 1
    return text[end:], text[:end].count("\n") + 1


def body(text: str, path: str) -> tuple[str, int]:
    """The model input of a prompt file and the line it starts on."""
    if has_front_matter(path):
        return split_front_matter(text)
    return text, 1


def sections(text: str, path: str) -> list[Section]:
    """A .prompty body's role sections; the whole body is `system` if unmarked."""
    content, first_line = body(text, path)
    marks = list(ROLE_LINE.finditer(content))
    if not marks:
        return [Section("system", content, first_line)] if content.strip() else []
    found = []
    for i, mark in enumerate(marks):
        start = mark.end() + 1
        end = marks[i + 1].start() if i + 1 < len(marks) else len(content)
        chunk = content[start:end]
        line = first_line + content[:start].count("\n")
        found.append(Section(mark.group(1).lower(), chunk, line))
    return found


def section_text(text: str, path: str, role: str) -> tuple[str, int] | None:
    """All sections of one role joined, and the first one's line."""
    chosen = [s for s in sections(text, path) if s.role == role]
    if not chosen:
        return None
    return "".join(s.text for s in chosen), chosen[0].line
