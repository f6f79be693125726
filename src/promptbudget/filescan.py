"""Find artifacts in prompt files and in YAML and JSON files.

A prompt file is a .md, .txt, .prompt, .prompty, .j2, .jinja or .jinja2 file
that has "prompt" in its path, lies under a configured discovery path, is a
Jinja template (not `nginx.conf.j2`), or is named in Python code. Data files
are read with the safe YAML loader: a file or key that holds tool definitions
is a tools artifact, and text under a prompt-like key (`system`,
`instructions`, `template`, `answer_prompt`...) or in a `{role, content}`
message is a system prompt or template, addressed as `file.yaml::a.b`.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from promptbudget import promptfiles
from promptbudget.artifacts import (
    SYSTEM_WORDS,
    Artifact,
    is_prompt_name,
    is_prose,
    text_kind,
)
from promptbudget.errors import ConfigError
from promptbudget.refs import Resolved, is_tool, is_tool_list, load_data, tool_items
from promptbudget.refs import to_anthropic_tool as _to_tool
from promptbudget.templates import JINJA_SUFFIXES

TEXT_SUFFIXES = (".md", ".txt")
PROMPT_SUFFIXES = (*TEXT_SUFFIXES, ".prompt", ".prompty", *JINJA_SUFFIXES)
DATA_SUFFIXES = (".yaml", ".yml", ".json")
# A Jinja file that renders another format (`index.html.j2`) is not a prompt.
PROMPT_INNER_SUFFIXES = ("", ".md", ".txt", ".prompt", ".xml")
NOT_PROMPT_NAMES = {"readme", "changelog", "license", "contributing", "requirements"}
DATA_MARKERS = (
    "system",
    "prompt",
    "instruction",
    "template",
    "persona",
    "backstory",
    "input_schema",
    "parameters",
    '"role"',
    "role:",
)


def is_prompt_file(path: str, in_paths: bool, mentioned: set[str]) -> bool:
    """Whether a file's whole text is a prompt, by where it is and what it is."""
    lower = path.lower()
    if not lower.endswith(PROMPT_SUFFIXES):
        return False
    name = posixpath.basename(path)
    if name.split(".")[0].lower() in NOT_PROMPT_NAMES:
        return False
    if "prompt" in lower or in_paths:
        return True
    if lower.endswith(JINJA_SUFFIXES):
        inner = posixpath.splitext(posixpath.splitext(name)[0])[1].lower()
        return inner in PROMPT_INNER_SUFFIXES
    return name in mentioned or path in mentioned


def name_of(path: str) -> str:
    return posixpath.basename(path)


def may_hold_data_artifacts(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in DATA_MARKERS)


def scan_prompt_file(path: str, text: str) -> list[Artifact]:
    """One artifact for the file, or one per role section of a .prompty file."""
    if path.endswith(promptfiles.SECTIONED_SUFFIXES):
        found = promptfiles.sections(text, path)
        if len(found) == 1 and not promptfiles.ROLE_LINE.search(text):
            section = found[0]
            return [Artifact("system", path, None, section.line, section.text)]
        return [
            Artifact(
                "system" if s.role == "system" else "template",
                path,
                s.role,
                s.line,
                s.text,
            )
            for s in found
            if s.text.strip()
        ]
    content, line = promptfiles.body(text, path)
    if not content.strip():
        return []
    if path.endswith(JINJA_SUFFIXES):
        kind = "system" if SYSTEM_WORDS.search(name_of(path)) else "template"
    else:
        kind = text_kind("", content, path)
    return [Artifact(kind, path, None, line, content)]


def scan_data_file(path: str, text: str) -> list[Artifact]:
    """Tools and prompt texts in a YAML or JSON file."""
    data, marks = _load(text, path)
    tools = _tools_of(data, path, 1, path)
    if tools is not None:
        return [Artifact("tools", path, None, 1, tools)]
    found: list[Artifact] = []
    _walk(data, (), False, path, marks, found)
    if found and not marks:
        # Lines matter once something is found; the YAML loader keeps them.
        data, marks = load_data(text, path)
        found = []
        _walk(data, (), False, path, marks, found)
    return found


def _load(text: str, path: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    """JSON through json (fast, no lines); YAML through the line-keeping loader."""
    if path.endswith(".json"):
        try:
            return json.loads(text), {}
        except (ValueError, RecursionError):
            pass
    return load_data(text, path)


def _walk(
    value: Any,
    key_path: tuple[Any, ...],
    prompt_context: bool,
    path: str,
    marks: dict[tuple[Any, ...], tuple[int, int]],
    found: list[Artifact],
    role_kind: str | None = None,
) -> None:
    name = ".".join(str(k) for k in key_path)
    line = marks.get(key_path, (1, 1))[0]
    if key_path and isinstance(value, (dict, list)):
        tools = _tools_of(value, path, line, f"{path}::{name}")
        if tools is not None:
            found.append(Artifact("tools", path, name, line, tools))
            return
    if isinstance(value, str):
        if prompt_context and is_prose(value) and _addressable(key_path):
            text_is = role_kind or text_kind(_label(key_path), value, path)
            found.append(Artifact(text_is, path, name, line, value))
        return
    if isinstance(value, dict):
        role = value.get("role")
        for key, item in value.items():
            inner = prompt_context or (isinstance(key, str) and is_prompt_name(key))
            kind: str | None = None
            if key == "content" and isinstance(role, str):
                inner = True
                kind = "system" if role in ("system", "developer") else "template"
            _walk(item, (*key_path, key), inner, path, marks, found, kind)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, (*key_path, i), prompt_context, path, marks, found)


def _label(key_path: tuple[Any, ...]) -> str:
    """The nearest string key: what a text is called."""
    for key in reversed(key_path):
        if isinstance(key, str) and key != "content":
            return key
    return ""


def _addressable(key_path: tuple[Any, ...]) -> bool:
    return all(
        (isinstance(k, int) and not isinstance(k, bool))
        or (isinstance(k, str) and k and "." not in k)
        for k in key_path
    )


def _tools_of(value: Any, path: str, line: int, reference: str) -> list[Any] | None:
    if not is_tool_list(value):
        return None
    found = Resolved(value, path, line, reference)
    try:
        return [_to_tool(item, found) for item in tool_items(value) if is_tool(item)]
    except ConfigError:
        return None
