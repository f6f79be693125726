"""What discovery finds: artifacts (system prompts, tools, templates) and calls."""

from __future__ import annotations

import functools
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from promptbudget.errors import ConfigError
from promptbudget.templates import (
    FormatText,
    Template,
    is_jinja,
    is_system_template,
    is_template,
    parse_template,
)

KINDS = ("system", "tools", "template", "call")

# Names that say "this holds model input": SYSTEM_PROMPT, answer_template,
# agentInstructions. The last word must not say it holds something else
# (PROMPT_DIR, SYSTEM_MODEL).
PROMPT_WORDS = re.compile(
    r"prompt|system|instruction|template|persona|preamble|backstory|guideline",
    re.IGNORECASE,
)
SYSTEM_WORDS = re.compile(
    r"system|instruction|persona|preamble|backstory|guideline", re.IGNORECASE
)
NOT_TEXT_WORDS = {
    "path",
    "paths",
    "file",
    "files",
    "filename",
    "dir",
    "directory",
    "folder",
    "url",
    "uri",
    "name",
    "names",
    "key",
    "keys",
    "id",
    "ids",
    "version",
    "model",
    "type",
    "role",
    "enabled",
    "flag",
    "env",
    "tokens",
    "length",
    "len",
    "count",
    "size",
    "class",
    "cls",
}
WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def is_prompt_name(name: str) -> bool:
    """Whether a variable, key or function name says it holds model input."""
    last = name.rsplit(".", 1)[-1]
    if not PROMPT_WORDS.search(last):
        return False
    words = WORD.findall(last)
    return not words or words[-1].lower() not in NOT_TEXT_WORDS


def is_prose(text: Any) -> bool:
    """Text of at least two words: `SYSTEM = "linux"` is not a prompt."""
    return isinstance(text, str) and len(text.split()) >= 2


def is_sentences(text: Any) -> bool:
    """Text long enough to be an instruction even under a neutral name."""
    return isinstance(text, str) and len(text.split()) >= 5 and "://" not in text


def text_kind(name: str, text: str, path: str) -> str:
    """system or template, from a name and whether the text has slots."""
    if SYSTEM_WORDS.search(name.rsplit(".", 1)[-1] or posixpath.basename(path)):
        return "system"
    if "template" in name.lower() or is_template(text, path):
        return "template"
    return "system"


def slots_of(text: str, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A text's slots and repeated slots; none when it does not parse as a template."""
    template = _parsed(text, path, isinstance(text, FormatText))
    return (template.slots, template.repeated) if template else ((), ())


def rendered(text: str, path: str) -> str:
    """Text as counted: a template with every slot empty."""
    template = _parsed(text, path, isinstance(text, FormatText))
    return template.rendered if template else str(text)


def _parsed(text: str, path: str, is_format: bool) -> Template | None:
    """A template parsed once for both its slots and its rendering."""
    found = _parse_once(text, path, is_format)
    return found if isinstance(found, Template) else None


@functools.lru_cache(maxsize=1024)
def _parse_once(text: str, path: str, is_format: bool) -> Template | str | None:
    """The template, or why it does not parse (None: not a template at all)."""
    if is_format:
        text = FormatText(text)
    if not is_template(text, path):
        return None
    try:
        return _parse_alone(text, path, 1)
    except ConfigError as exc:
        return str(exc)


def _parse_alone(text: str, path: str, line: int) -> Template:
    """Parse a template without the files it includes or extends.

    Those are artifacts of their own, counted there: stand in for them with a
    template that only has this one's blocks, so a child template renders
    what it adds and nothing more.
    """
    blocks = "".join(
        f"{{% block {name} %}}{{% endblock %}}"
        for name in dict.fromkeys(BLOCK.findall(text))
    )
    return parse_template(text, path, line, include=lambda name: (name, blocks))


BLOCK = re.compile(r"{%-?\s*block\s+(\w+)")


def template_error(text: str, path: str, line: int) -> str | None:
    """Why a Jinja file's text does not parse, or None when it does."""
    if not is_jinja(text, path):
        return None
    found = _parse_once(text, path, False)
    if not isinstance(found, str) or line == 1:
        return found if isinstance(found, str) else None
    try:  # after front matter: parse again to count lines from the file's top
        _parse_alone(text, path, line)
    except ConfigError as exc:
        return str(exc)
    return found


@dataclass
class Input:
    """One input of a call: an artifact's reference, or a slot for what is dynamic.

    hints are prompt file names the input's expression mentions
    (`get_template("answer.j2")`), for templates loaded at run time.
    """

    role: str | None = None
    reference: str | None = None
    slot: str | None = None
    hints: tuple[str, ...] = ()


@dataclass
class CallSite:
    """A Messages API call: `<client>.messages.create(...)` and its kin."""

    function: str  # enclosing function's qualified name; "" at module level
    method: str  # messages.create, beta.messages.stream, ...
    model: str | None = None
    max_tokens: int | None = None
    system: list[Input] = field(default_factory=list)
    tools: list[Input] = field(default_factory=list)
    messages: list[Input] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)  # keywords not read statically

    def inputs(self) -> list[Input]:
        return [*self.system, *self.tools, *self.messages]


@dataclass
class Artifact:
    """One piece of model input found in the repository, or a call site.

    value is text (system, template) or a list of tools in Anthropic's shape.
    touched names the Python values it was built from.
    """

    kind: str
    path: str
    name: str | None
    line: int
    value: Any = None
    touched: frozenset[str] = frozenset()
    call: CallSite | None = None
    strength: int = 1  # 2 when a call site says what it is
    features: tuple[str, ...] = ()  # the features that cover it, once known
    tokens: int | None = None  # estimated, once known

    @property
    def reference(self) -> str:
        if self.kind == "call":
            assert self.call is not None
            return f"{self.path}::{self.call.function or '<module>'}()"
        return self.path if self.name is None else f"{self.path}::{self.name}"

    @property
    def text(self) -> str:
        """What is counted: the rendered text, or the tools as compact JSON."""
        if self.kind == "call" or self.value is None:
            return ""
        if self.kind == "tools":
            return json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))
        if self.kind == "system" and not is_system_template(self.value, self.path):
            return str(self.value)
        return rendered(self.value, self.path)

    @property
    def slots(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if not isinstance(self.value, str):
            return (), ()
        if self.kind == "template" or is_system_template(self.value, self.path):
            return slots_of(self.value, self.path)
        return (), ()
