"""Assemble a feature's request as the app would send it, and key it for caching.

A request is system blocks, tool definitions and messages, with every template
slot rendered empty. Slot allowances are added to the count afterwards. The
endpoint needs at least one message and rejects empty text, so a feature with
no messages, or a message whose template renders to nothing, carries PROBE_TEXT
instead: the same at base and head, so deltas stay exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from promptbudget.config import Config, Feature, Slot
from promptbudget.errors import ConfigError
from promptbudget.pricing import Price
from promptbudget.refs import (
    Resolved,
    resolve_int,
    resolve_text,
    resolve_tools,
    template_includer,
)
from promptbudget.routes import Route
from promptbudget.templates import TemplateStore, is_system_template, parse_template
from promptbudget.tree import MAX_FILE_BYTES as MAX_REQUEST_BYTES
from promptbudget.tree import Tree

PROBE_TEXT = "Hi"
# Bump when the canonical form changes, so old cache entries stop matching.
CANONICAL_VERSION = 1


@dataclass(frozen=True)
class Part:
    """One artifact in a request: where it came from, and what it covers.

    covers holds the repository-relative reference and every Python value the
    artifact was built from, so discovery can tell which artifacts a feature
    budgets.
    """

    kind: str  # system, tools, template, slot
    reference: str
    path: str
    line: int
    digest: str = ""  # of the value, to tell which artifact changed
    covers: frozenset[str] = frozenset()


@dataclass
class Assembly:
    feature: Feature
    body: dict[str, Any]
    reserved: int
    parts: list[Part] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    models: tuple[str, ...] = ()
    max_tokens: int | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    # What each system block, tool and message came from, in request order.
    labels: list[str] = field(default_factory=list)

    def location(self) -> tuple[str, int] | None:
        """The first artifact's file and line, to point a reader at."""
        content = [p for p in self.parts if p.kind in ("system", "tools", "template")]
        candidates = content or self.parts
        if not candidates:
            return None
        return (candidates[0].path, candidates[0].line)

    def changed_since(self, base: Assembly) -> tuple[str, int] | None:
        """The first artifact that is new or differs from base, by its value."""
        before = {(p.kind, p.reference, p.path): p.digest for p in base.parts}
        for part in self.parts:
            if before.get((part.kind, part.reference, part.path)) != part.digest:
                return (part.path, part.line)
        return None


def assemble(
    feature: Feature,
    config: Config,
    tree: Tree,
    routes: dict[str, Route] | None = None,
    store: TemplateStore | None = None,
) -> Assembly:
    """Build the request body for a feature from the files of one tree."""
    origin = f"{config.path}: features.{feature.name}"
    parts: list[Part] = []
    labels: list[str] = []
    used: dict[str, Part] = {}
    models, max_tokens = _routing(feature, config, routes or {}, parts)

    system = []
    for ref in feature.system:
        for found in resolve_text(ref, config.base_dir, tree, f"{origin}.system"):
            part = _part("system", found)
            parts.append(part)
            text = _system_text(found, part, used, tree, parts, store)
            if text.strip():
                system.append({"type": "text", "text": text})
                labels.append(f"system {found.reference}")

    tools = []
    for ref in feature.tools:
        for found in resolve_tools(ref, config.base_dir, tree, f"{origin}.tools"):
            parts.append(_part("tools", found))
            tools.append(found.value)
            labels.append(f"tool {found.value['name']} ({found.reference})")

    messages = _messages(feature, config, tree, origin, parts, used, store)
    for i, message in enumerate(feature.messages):
        labels.append(f"{message.role} message {message.template or f'{i + 1} (text)'}")
    reserved = _reserved(feature, config, tree, used, parts)

    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    if tools:
        body["tools"] = tools
    size = len(json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_REQUEST_BYTES:
        raise ConfigError(
            f"{feature.origin}: features.{feature.name}: the request is {size:,} "
            "bytes, over the 32 MB the count_tokens endpoint accepts; shorten its "
            "prompts"
        )
    files = {part.path for part in parts}
    return Assembly(
        feature,
        body,
        reserved,
        parts,
        files,
        models,
        max_tokens,
        config.prices,
        labels,
    )


def _routing(
    feature: Feature, config: Config, routes: dict[str, Route], parts: list[Part]
) -> tuple[tuple[str, ...], int | None]:
    """The models and max_tokens: the feature's own, else its route, else defaults."""
    route = routes.get(feature.name)
    models = feature.models
    if not models and route is not None:
        models = (route.model,)
        parts.append(Part("routes", route.model, route.path, route.line))
    models = models or config.models
    if not models:
        raise ConfigError(
            f"{feature.origin}: features.{feature.name} has no models and no route "
            f"named '{feature.name}' in {config.routes}; add models: [...] to it"
        )
    max_tokens = feature.max_tokens
    if max_tokens is None and route is not None:
        max_tokens = route.max_tokens
    return models, max_tokens


def _part(kind: str, found: Resolved) -> Part:
    value = json.dumps(found.value, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    covers = frozenset({found.key, *found.touched} if found.key else found.touched)
    return Part(kind, found.reference, found.path, found.line, digest, covers)


def _system_text(
    found: Resolved,
    part: Part,
    used: dict[str, Part],
    tree: Tree,
    parts: list[Part],
    store: TemplateStore | None,
) -> str:
    """System text as sent; a template is rendered with its slots empty."""
    if not is_system_template(found.value, found.path):
        return str(found.value)
    return _rendered(found, part, used, tree, parts, store)


def _rendered(
    found: Resolved,
    part: Part,
    used: dict[str, Part],
    tree: Tree,
    parts: list[Part],
    store: TemplateStore | None,
) -> str:
    """A template with its slots empty; what it pulls in becomes parts too."""
    includer = template_includer(tree, found.path)
    template = parse_template(
        found.value, found.path, found.line, store, include=includer
    )
    for included in template.includes:
        parts.append(
            Part("template", included, included, 1, covers=frozenset({included}))
        )
    for slot in template.slots:
        used.setdefault(slot, part)
    return template.rendered


def _messages(
    feature: Feature,
    config: Config,
    tree: Tree,
    origin: str,
    parts: list[Part],
    used: dict[str, Part],
    store: TemplateStore | None,
) -> list[dict[str, str]]:
    messages = []
    for i, message in enumerate(feature.messages):
        if message.template is None:
            content = message.text or ""
        else:
            where = f"{origin}.messages[{i}].template"
            found = resolve_text(message.template, config.base_dir, tree, where)[0]
            part = _part("template", found)
            parts.append(part)
            content = _rendered(found, part, used, tree, parts, store)
        messages.append({"role": message.role, "content": content})
    for sent in messages:
        if not sent["content"].strip():
            sent["content"] = PROBE_TEXT
    if not messages:
        messages.append({"role": "user", "content": PROBE_TEXT})
    return messages


def _reserved(
    feature: Feature,
    config: Config,
    tree: Tree,
    used: dict[str, Part],
    parts: list[Part],
) -> int:
    """The sum of the slot allowances; every slot a template uses must have one."""
    for name, part in sorted(used.items()):
        if name not in feature.slots:
            raise ConfigError(
                f"{part.path}:{part.line}: slot '{name}' has no allowance in "
                f"{config.path}; add features.{feature.name}.slots.{name}: <tokens> "
                "(its worst case)"
            )
    return sum(_allowance(slot, config, tree, parts) for slot in feature.slots.values())


def _allowance(slot: Slot, config: Config, tree: Tree, parts: list[Part]) -> int:
    if slot.tokens is not None:
        return _amount(slot.tokens, slot, config, tree, parts)
    assert slot.top_k is not None and slot.chunk_tokens is not None
    top_k = _amount(slot.top_k, slot, config, tree, parts)
    return top_k * _amount(slot.chunk_tokens, slot, config, tree, parts)


def _amount(
    value: int | str, slot: Slot, config: Config, tree: Tree, parts: list[Part]
) -> int:
    if isinstance(value, int):
        return value
    found = resolve_int(value, config.base_dir, tree, slot.origin)
    parts.append(_part("slot", found))
    return int(found.value)


def request_for(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The count_tokens request for one model."""
    return {"model": model, **body}


def request_key(request: dict[str, Any]) -> str:
    """A stable hash of the canonical request, model included."""
    canonical = json.dumps(
        {"v": CANONICAL_VERSION, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
