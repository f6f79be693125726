"""Find a template's slots and render it with every slot empty.

Jinja templates go through jinja2's own parser in its sandbox; Python
`str.format` templates through `string.Formatter`. Nothing is rendered with
access to real Python objects: every slot is the empty string.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from typing import Protocol

from promptbudget.errors import ConfigError

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")


@dataclass(frozen=True)
class Template:
    """A template's slots and its text with every slot rendered empty."""

    slots: tuple[str, ...]
    rendered: str


class TemplateStore(Protocol):
    """Remembers parsed templates by content hash, so jinja2 need not load."""

    def get_template(self, key: str) -> Template | None: ...

    def put_template(self, key: str, template: Template) -> None: ...


def is_jinja(text: str, path: str) -> bool:
    return path.endswith(JINJA_SUFFIXES) or "{{" in text or "{%" in text


def parse_template(
    text: str, path: str, line: int = 1, store: TemplateStore | None = None
) -> Template:
    """Slots and empty rendering of a Jinja or str.format template."""
    jinja = is_jinja(text, path)
    if not jinja:
        return _format(text, path, line)
    # The result depends on the text alone; importing jinja2 costs more than
    # the rest of a cached run, so a parsed template is remembered.
    key = hashlib.sha256(b"jinja\0" + text.encode("utf-8")).hexdigest()
    found = store.get_template(key) if store is not None else None
    if found is None:
        found = _jinja(text, path, line)
        if store is not None:
            store.put_template(key, found)
    return found


def _jinja(text: str, path: str, line: int) -> Template:
    from jinja2 import TemplateError, TemplateSyntaxError, meta
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(keep_trailing_newline=True, autoescape=False)
    try:
        tree = env.parse(text)
        slots = sorted(meta.find_undeclared_variables(tree))
        rendered = env.from_string(tree).render({name: "" for name in slots})
    except TemplateSyntaxError as exc:
        at = line + (exc.lineno or 1) - 1
        raise ConfigError(
            f"{path}:{at}: template syntax error: {exc.message}; fix the template"
        ) from None
    except (TemplateError, RecursionError) as exc:
        raise ConfigError(
            f"{path}:{line}: template cannot be rendered with empty slots: {exc}"
        ) from None
    return Template(tuple(slots), rendered)


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
