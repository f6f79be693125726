"""Reporters for discover: a table for people, a stable JSON document for tools."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promptbudget.artifacts import KINDS, Artifact, Input
from promptbudget.inventory import Inventory
from promptbudget.textable import align, tokens

SCHEMA_VERSION = 1
UNBUDGETED = "unbudgeted"


def render_text(inventory: Inventory) -> str:
    artifacts = inventory.discovery.artifacts
    if not artifacts:
        return "no system prompts, tools, templates or Messages API calls found\n"
    table = [["kind", "reference", "line", "chars", "tokens", "features"]]
    for a in artifacts:
        chars = "-" if a.kind == "call" else f"{len(a.text):,}"
        table.append(
            [a.kind, a.reference, str(a.line), chars, tokens(a.tokens), _features(a)]
        )
    lines = align(table, {2, 3, 4})
    lines.append("")
    lines.append(_summary(inventory))
    return "\n".join(lines) + "\n"


def _features(artifact: Artifact) -> str:
    if artifact.features:
        return ", ".join(artifact.features)
    if artifact.call is not None and not _has_static_input(artifact):
        return "-"
    return UNBUDGETED


def _has_static_input(artifact: Artifact) -> bool:
    assert artifact.call is not None
    return any(i.reference for i in artifact.call.inputs())


def _summary(inventory: Inventory) -> str:
    artifacts = inventory.discovery.artifacts
    counts = {kind: sum(1 for a in artifacts if a.kind == kind) for kind in KINDS}
    parts = ", ".join(f"{n} {_plural(kind, n)}" for kind, n in counts.items() if n)
    text = f"{len(artifacts)} found ({parts})"
    if inventory.config_path is None:
        text += "; no budgets.yaml covers them yet (promptbudget init writes one)"
    else:
        missing = len(inventory.discovery.uncovered())
        text += f"; {missing} {UNBUDGETED} in {inventory.config_path}"
    return f"{text}; ~ tokens are offline estimates for {inventory.model}"


def _plural(kind: str, n: int) -> str:
    names = {"system": "system prompt", "tools": "tool list", "template": "template"}
    name = names.get(kind, kind)
    return name if n == 1 else f"{name}s"


def render_json(inventory: Inventory) -> str:
    artifacts = inventory.discovery.artifacts
    document = {
        "schema": SCHEMA_VERSION,
        "command": "discover",
        "config": inventory.config_path,
        "model": inventory.model,
        "artifacts": [_json_artifact(a) for a in artifacts],
        "summary": {
            **{kind: sum(1 for a in artifacts if a.kind == kind) for kind in KINDS},
            UNBUDGETED: len(inventory.discovery.uncovered()),
        },
        "warnings": inventory.discovery.warnings,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _json_artifact(artifact: Artifact) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": artifact.kind,
        "reference": artifact.reference,
        "path": artifact.path,
        "line": artifact.line,
        "features": list(artifact.features),
    }
    if artifact.call is None:
        slots, repeated = artifact.slots
        item["covered"] = bool(artifact.features)
        item["chars"] = len(artifact.text)
        item["tokens"] = artifact.tokens
        item["exact"] = False
        item["slots"] = list(slots)
        item["repeated"] = list(repeated)
        return item
    site = artifact.call
    item["covered"] = bool(artifact.features) if _has_static_input(artifact) else None
    item["call"] = {
        "function": site.function or None,
        "method": site.method,
        "model": site.model,
        "max_tokens": site.max_tokens,
        "system": [_json_input(i) for i in site.system],
        "tools": [_json_input(i) for i in site.tools],
        "messages": [_json_input(i) for i in site.messages],
        "unread": site.unread,
    }
    return item


def _json_input(item: Input) -> dict[str, Any]:
    entry: dict[str, Any] = {"reference": item.reference, "slot": item.slot}
    if item.role is not None:
        entry["role"] = item.role
    return entry


REPORTERS: dict[str, Callable[[Inventory], str]] = {
    "text": render_text,
    "json": render_json,
}
