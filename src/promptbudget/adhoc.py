"""Ad-hoc counts: files, references or stdin, each for several models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptbudget.counting import Counter, Job
from promptbudget.errors import ConfigError
from promptbudget.refs import resolve_text, resolve_tools
from promptbudget.request import PROBE_TEXT
from promptbudget.tree import WorkTree

DEFAULT_MODEL = "claude-sonnet-4-6"
SHAPES = ("message", "system", "tools")


@dataclass(frozen=True)
class Target:
    label: str
    text: str | None = None
    tools: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class CountRow:
    target: str
    model: str
    input_tokens: int
    exact: bool
    source: str


def load_targets(
    specs: list[str], shape: str, root: Path, cwd: Path, stdin_text: str | None
) -> list[Target]:
    """Read each target: '-' is stdin, anything else a path or reference."""
    tree = WorkTree(root)
    base_dir = cwd.resolve().relative_to(root).as_posix()
    base_dir = "" if base_dir == "." else base_dir
    targets = []
    for spec in specs:
        if spec == "-":
            if shape == "tools":
                raise ConfigError("-: --as tools needs a file or reference, not stdin")
            targets.append(_checked(Target("-", text=stdin_text or "")))
        elif shape == "tools":
            tools = resolve_tools(spec, base_dir, tree, spec)
            targets.append(Target(spec, tools=tuple(t.value for t in tools)))
        else:
            for found in resolve_text(spec, base_dir, tree, spec):
                targets.append(_checked(Target(found.reference, text=found.value)))
    return targets


def _checked(target: Target) -> Target:
    if not (target.text or "").strip():
        raise ConfigError(
            f"{target.label}: is empty; count_tokens rejects empty text, "
            "so there is nothing to count"
        )
    return target


def request_for(target: Target, shape: str, model: str) -> dict[str, Any]:
    """The request a target is counted as: one user message, or system, or tools."""
    probe = [{"role": "user", "content": PROBE_TEXT}]
    if shape == "tools":
        return {"model": model, "tools": list(target.tools), "messages": probe}
    assert target.text is not None
    if shape == "system":
        system = [{"type": "text", "text": target.text}]
        return {"model": model, "system": system, "messages": probe}
    return {"model": model, "messages": [{"role": "user", "content": target.text}]}


def count_targets(
    targets: list[Target], models: list[str], shape: str, counter: Counter
) -> list[CountRow]:
    jobs = {
        (t.label, m): Job(request_for(t, shape, m), f"{t.label} on {m}")
        for t in targets
        for m in models
    }
    counts = counter.count_all(list(jobs.values()))
    rows = []
    for (label, model), job in jobs.items():
        count = counts[job.key]
        rows.append(
            CountRow(label, model, count.input_tokens, count.exact, count.source)
        )
    return rows


def totals(rows: list[CountRow]) -> list[CountRow]:
    """One total row per model, exact only when every part is."""
    by_model: dict[str, list[CountRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    return [
        CountRow(
            "total",
            model,
            sum(r.input_tokens for r in parts),
            all(r.exact for r in parts),
            "+".join(sorted({r.source for r in parts})),
        )
        for model, parts in by_model.items()
    ]


def default_models(config_models: list[str]) -> list[str]:
    return list(dict.fromkeys(config_models)) or [DEFAULT_MODEL]
