"""Find a template's slots and render it with every slot empty.

Jinja templates go through jinja2's own parser in its sandbox; Python
`str.format` templates through `string.Formatter`. Nothing is rendered with
access to real Python objects: every slot is the empty string.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from promptbudget.errors import ConfigError

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")

# Finds an included template by the name `{% include %}` gives: its path and text.
Includer = Callable[[str], "tuple[str, str] | None"]
PULLS_IN = re.compile(r"{%-?\s*(include|extends|import|from)\b")


class FormatText(str):
    """Text known to be in str.format syntax: an f-string or a .format template.

    Its literal braces are doubled and every `{name}` is a slot, whatever the
    file it came from or what it looks like.
    """


@dataclass(frozen=True)
class Template:
    """A template's slots and its text with every slot rendered empty.

    repeated names the slots a Jinja `{% for x in slot %}` loops over: their
    worst case is naturally top_k × chunk_tokens. includes are the paths of
    the templates `{% include %}` and `{% extends %}` pulled in.
    """

    slots: tuple[str, ...]
    rendered: str
    repeated: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()


class TemplateStore(Protocol):
    """Remembers parsed templates by content hash, so jinja2 need not load."""

    def get_template(self, key: str) -> Template | None: ...

    def put_template(self, key: str, template: Template) -> None: ...


def is_jinja(text: str, path: str) -> bool:
    if isinstance(text, FormatText):
        return False
    return path.endswith(JINJA_SUFFIXES) or "{{" in text or "{%" in text


def is_system_template(text: str, path: str) -> bool:
    """A system prompt filled in at run time: an f-string, .format text or Jinja file.

    Plain text from a .md or .txt file is sent as written, braces and all.
    """
    return isinstance(text, FormatText) or path.endswith(JINJA_SUFFIXES)


def is_template(text: str, path: str) -> bool:
    """Whether text has placeholders at all (Jinja markers or format fields)."""
    if isinstance(text, FormatText) or is_jinja(text, path):
        return True
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError:
        return False
    # `{"answer": ...}` in a prompt is an example, not a slot.
    names = [f.split(".")[0].split("[")[0] for f in fields]
    return bool(names) and all(name.isidentifier() for name in names)


def parse_template(
    text: str,
    path: str,
    line: int = 1,
    store: TemplateStore | None = None,
    *,
    include: Includer | None = None,
) -> Template:
    """Slots and empty rendering of a Jinja or str.format template."""
    jinja = is_jinja(text, path)
    if not jinja:
        return _format(text, path, line)
    # The result depends on the text alone, unless it pulls in other files;
    # importing jinja2 costs more than the rest of a cached run, so a parsed
    # template is remembered. A remembered one has no repeated slots: only
    # init asks for those, and it parses afresh.
    if store is None or PULLS_IN.search(text):
        return _jinja(text, path, line, include)
    key = hashlib.sha256(b"jinja\0" + text.encode("utf-8")).hexdigest()
    found = store.get_template(key)
    if found is None:
        found = _jinja(text, path, line, include)
        store.put_template(key, found)
    return found


def _jinja(text: str, path: str, line: int, include: Includer | None) -> Template:
    from jinja2 import (
        FunctionLoader,
        TemplateError,
        TemplateNotFound,
        TemplateSyntaxError,
        meta,
    )

    from promptbudget.sandbox import BoundedEnvironment, TooSlow, render

    loaded: dict[str, str] = {}

    def load(name: str) -> str | None:
        found = include(name) if include is not None else None
        if found is None:
            return None
        loaded[found[0]] = found[1]
        return found[1]

    env = BoundedEnvironment(
        keep_trailing_newline=True, autoescape=False, loader=FunctionLoader(load)
    )
    try:
        tree = env.parse(text)
        names = set(meta.find_undeclared_variables(tree))
        rendered = render(env.from_string(tree), {name: "" for name in names})
        for source in loaded.values():
            names |= meta.find_undeclared_variables(env.parse(source))
    except TemplateSyntaxError as exc:
        at = line + (exc.lineno or 1) - 1
        problem = (exc.message or "invalid syntax").rstrip(".")
        raise ConfigError(
            f"{path}:{at}: template syntax error: {problem}; fix the template"
        ) from None
    except TemplateNotFound as exc:
        raise ConfigError(
            f"{path}:{line}: template pulls in '{exc.name}', which is no file in "
            "the repository beside the template or in a folder above it; fix the "
            "name (files outside the repository are never read)"
        ) from None
    except TooSlow:
        raise ConfigError(
            f"{path}:{line}: template takes over 5 seconds to render with empty "
            "slots (loops within loops?); simplify it"
        ) from None
    except (TemplateError, RecursionError) as exc:
        raise ConfigError(
            f"{path}:{line}: template cannot be rendered with empty slots: {exc}"
        ) from None
    slots = tuple(sorted(names))
    return Template(slots, rendered, _looped_over(tree, names), tuple(loaded))


def _looped_over(tree: object, slots: set[str]) -> tuple[str, ...]:
    """Slots that a `{% for %}` iterates: `chunks` in `for c in chunks`."""
    from jinja2 import nodes

    assert isinstance(tree, nodes.Node)
    looped = set()
    for loop in tree.find_all(nodes.For):
        target: nodes.Node | None = loop.iter
        while isinstance(target, (nodes.Getattr, nodes.Getitem, nodes.Filter)):
            target = target.node
        if isinstance(target, nodes.Name) and target.name in slots:
            looped.add(target.name)
    return tuple(sorted(looped))


def _format(text: str, path: str, line: int) -> Template:
    pieces = []
    slots: list[str] = []
    try:
        for literal, field, _spec, _conv in string.Formatter().parse(text):
            pieces.append(literal)
            if field is None:
                continue
            name = field.split(".")[0].split("[")[0]
            if not name.isidentifier():
                raise ValueError(f"field '{{{field}}}' is not a slot name")
            if name not in slots:
                slots.append(name)
    except ValueError as exc:
        raise ConfigError(
            f"{path}:{line}: format template error: {exc}; "
            "double literal braces as {{ and }}"
        ) from None
    return Template(tuple(sorted(slots)), "".join(pieces))
