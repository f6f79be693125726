"""Resolve the references of budgets.yaml to text, tools and numbers.

A reference is `path` (a whole file), `path.py::NAME` or `path.py::Class.NAME`
(a Python value, read with ast; see pyast.resolve_name for the full form),
`path.yaml::a.b.c` or `path.json::a.b` (a key path), `chat.prompty::system`
(a role section), or a glob such as `tools/*.json`. Paths are relative to the
directory of budgets.yaml and never leave the repository.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptbudget import promptfiles, pyrefs
from promptbudget.errors import ConfigError
from promptbudget.pyblocks import modules_for
from promptbudget.tree import Tree, join_inside, text_of
from promptbudget.yamlload import load_yaml

GLOB_CHARS = "*?["
PYTHON_SUFFIXES = (".py", ".ipynb")  # a notebook reads as its code cells
# Anthropic-defined tools are named by a versioned type: bash_20250124.
SERVER_TOOL = re.compile(r"^[a-z_]+_\d{8}$")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Reference:
    path: str  # repository-relative
    name: str | None
    text: str  # as written in budgets.yaml

    def file_label(self) -> str:
        return self.path if self.name is None else f"{self.path}::{self.name}"


@dataclass(frozen=True)
class Resolved:
    """One referenced value with where it was found.

    key is the repository-relative reference (`path` or `path::name`);
    touched names every Python value it was built from (`path::NAME`), so an
    artifact that feeds another is covered by whatever covers that one.
    """

    value: Any
    path: str
    line: int
    reference: str
    key: str = ""
    touched: frozenset[str] = frozenset()


def parse_reference(text: Any, base_dir: str, origin: str) -> Reference:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{origin}: a reference must be a non-empty string")
    path, sep, name = text.strip().partition("::")
    if sep and not name:
        raise ConfigError(f"{origin}: '{text}' has nothing after '::'; name a value")
    return Reference(join_inside(base_dir, path, origin=origin), name or None, text)


def expand(ref: Reference, tree: Tree, origin: str) -> list[Reference]:
    """A glob's matches as references; any other reference as itself."""
    if not any(c in ref.path for c in GLOB_CHARS):
        return [ref]
    matches = tree.glob(ref.path)
    if not matches:
        raise ConfigError(
            f"{origin}: '{ref.text}' matches no file at {tree.label}; "
            "fix the pattern or remove it"
        )
    return [
        Reference(m, ref.name, f"{m}::{ref.name}" if ref.name else m) for m in matches
    ]


def resolve(ref: Reference, tree: Tree, origin: str) -> Resolved:
    """The value a single (non-glob) reference names."""
    if not tree.is_file(ref.path):
        if tree.is_dir(ref.path):
            raise ConfigError(
                f"{origin}: '{ref.text}' is a directory; reference a file "
                "or a glob such as dir/*.md"
            )
        raise ConfigError(
            f"{origin}: '{ref.text}' refers to {ref.path}, which does not exist "
            f"at {tree.label}; fix the path"
        )
    key = ref.file_label()
    if ref.name is not None and ref.path.endswith(PYTHON_SUFFIXES):
        module = modules_for(tree).load(ref.path)
        found = pyrefs.read_reference(module, ref.name, modules_for(tree))
        touched = frozenset(found.touched)
        return Resolved(found.value, ref.path, found.line, ref.text, key, touched)
    text = text_of(tree, ref.path)
    if ref.name is None:
        value, line = _whole_file(text, ref.path)
        return Resolved(value, ref.path, line, ref.text, key)
    if ref.path.endswith(YAML_SUFFIXES + (".json",)):
        value, line = _key_path(text, ref.path, ref.name)
        return Resolved(value, ref.path, line, ref.text, key)
    if ref.path.endswith(promptfiles.SECTIONED_SUFFIXES):
        section = promptfiles.section_text(text, ref.path, ref.name)
        if section is None:
            raise ConfigError(
                f"{origin}: '{ref.text}': {ref.path} has no '{ref.name}:' section; "
                "name system, user or assistant after '::'"
            )
        return Resolved(section[0], ref.path, section[1], ref.text, key)
    raise ConfigError(
        f"{origin}: '{ref.text}': '::' names a value only in .py, .ipynb, .yaml, .yml, "
        ".json and .prompty files"
    )


def _whole_file(text: str, path: str) -> tuple[Any, int]:
    if path.endswith(".json"):
        return _parse_json(text, path), 1
    return promptfiles.body(text, path)


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: JSON nests too deeply") from None


def load_data(
    text: str, path: str
) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    """YAML or JSON file contents with the line of every key path."""
    if path.endswith(".json"):
        # JSON is YAML for our purposes, and the YAML loader keeps line numbers.
        try:
            return load_yaml(text, path)
        except ConfigError:
            return _parse_json(text, path), {}
    return load_yaml(text, path)


def _key_path(text: str, path: str, dotted: str) -> tuple[Any, int]:
    data, marks = load_data(text, path)
    key_path: list[Any] = []
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
            key_path.append(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            key_path.append(int(part))
        else:
            where = ".".join(str(k) for k in key_path) or "the top level"
            raise ConfigError(
                f"{path}: no key '{part}' under {where}; check '{dotted}' after '::'"
            )
    line = marks.get(tuple(key_path), (1, 1))[0]
    return node, line


def template_includer(tree: Tree, path: str) -> Callable[[str], tuple[str, str] | None]:
    """Find `{% include "name" %}` beside the template or in a folder above it.

    Jinja names are relative to the app's template folder, which is the
    including file's folder or one of its parents; nothing outside the
    repository is ever read.
    """

    def find(name: str) -> tuple[str, str] | None:
        folder = posixpath.dirname(path)
        while True:
            try:
                candidate = join_inside(folder, name, origin=path)
                if tree.is_file(candidate):
                    return candidate, text_of(tree, candidate)
            except ConfigError:
                return None
            if not folder:
                return None
            folder = posixpath.dirname(folder)

    return find


def resolve_text(
    ref_text: Any, base_dir: str, tree: Tree, origin: str
) -> list[Resolved]:
    """Text values for system prompts and templates (a glob may give several)."""
    results = []
    for ref in expand(parse_reference(ref_text, base_dir, origin), tree, origin):
        found = resolve(ref, tree, origin)
        if not isinstance(found.value, str):
            raise ConfigError(
                f"{found.path}:{found.line}: '{ref.text}' is a "
                f"{type(found.value).__name__}, not a string; reference a text value"
            )
        results.append(found)
    return results


def resolve_int(ref_text: str, base_dir: str, tree: Tree, origin: str) -> Resolved:
    """An integer constant in code or config (for slot allowances)."""
    ref = parse_reference(ref_text, base_dir, origin)
    found = resolve(ref, tree, origin)
    if isinstance(found.value, bool) or not isinstance(found.value, int):
        raise ConfigError(
            f"{found.path}:{found.line}: '{ref.text}' is not an integer; "
            "reference an integer constant"
        )
    if found.value < 0:
        raise ConfigError(f"{found.path}:{found.line}: '{ref.text}' is negative")
    return found


def resolve_tools(
    ref_text: Any, base_dir: str, tree: Tree, origin: str
) -> list[Resolved]:
    """Tool definitions, one Resolved per tool, in the Anthropic shape."""
    tools: list[Resolved] = []
    for ref in expand(parse_reference(ref_text, base_dir, origin), tree, origin):
        found = resolve(ref, tree, origin)
        value = found.value
        if isinstance(value, str) and found.path.endswith(YAML_SUFFIXES):
            value = load_yaml(value, found.path)[0]
        for item in tool_items(value):
            tools.append(
                Resolved(
                    to_anthropic_tool(item, found),
                    found.path,
                    found.line,
                    ref.text,
                    found.key,
                    found.touched,
                )
            )
    return tools


def tool_items(value: Any) -> list[Any]:
    """The tools in a value: a list, one tool, or a mapping of name to tool."""
    if isinstance(value, list):
        return value
    if (
        isinstance(value, dict)
        and value
        and not is_tool(value)
        and all(is_tool(v) for v in value.values())
    ):
        return list(value.values())
    return [value]


def is_tool(item: Any) -> bool:
    """A tool definition in Anthropic's shape or an OpenAI function schema."""
    if not isinstance(item, dict):
        return False
    if item.get("type") == "function" and isinstance(item.get("function"), dict):
        return isinstance(item["function"].get("name"), str)
    if not isinstance(item.get("name"), str):
        return False
    if isinstance(item.get("input_schema"), dict):
        return True
    if isinstance(item.get("type"), str) and SERVER_TOOL.match(item["type"]):
        return True
    return isinstance(item.get("parameters"), dict) and "description" in item


def is_tool_list(value: Any) -> bool:
    items = tool_items(value)
    return bool(items) and all(is_tool(item) for item in items)


def to_anthropic_tool(item: Any, found: Resolved) -> dict[str, Any]:
    """Check a tool definition; convert an OpenAI-style function schema."""
    if (
        isinstance(item, dict)
        and item.get("type") == "function"
        and isinstance(item.get("function"), dict)
    ):
        item = _from_function(item["function"])
    elif (
        isinstance(item, dict)
        and "input_schema" not in item
        and isinstance(item.get("parameters"), dict)
        and "type" not in item
    ):
        item = _from_function(item)
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise ConfigError(
            f"{found.path}:{found.line}: '{found.reference}' is not a tool definition; "
            "a tool is a mapping with name, description and input_schema"
        )
    if "input_schema" not in item and "type" not in item:
        raise ConfigError(
            f"{found.path}:{found.line}: tool '{item['name']}' has no input_schema; "
            "add one (a JSON Schema object)"
        )
    return item


def _from_function(function: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function schema ({name, description, parameters}) as a tool."""
    tool = {
        "name": function.get("name"),
        "description": function.get("description", ""),
        "input_schema": function.get("parameters") or {"type": "object"},
    }
    if not tool["description"]:
        del tool["description"]
    return tool
