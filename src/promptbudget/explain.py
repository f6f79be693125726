"""Which part of a request its tokens come from.

A request is counted again as it is built up, one part at a time: the fixed
overhead (a request holding only the probe message), then each system block,
each tool, each message; each part is the difference it makes. These extra
requests go through the same cache and counter as every other count, so they
are exact where the total is, and their sum is the total exactly.
"""

from __future__ import annotations

from typing import Any

from promptbudget.counting import Count, Job
from promptbudget.request import PROBE_TEXT, Assembly

OVERHEAD = "fixed overhead (with the probe message)"
SLOTS = "slot allowances"


def prefixes(a: Assembly, model: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, request) for the overhead and each part added in turn."""
    probe = [{"role": "user", "content": PROBE_TEXT}]
    system = a.body.get("system", [])
    tools = a.body.get("tools", [])
    messages = a.body["messages"] if a.feature.messages else []
    labels = iter(a.labels)
    steps: list[tuple[str, dict[str, Any]]] = [
        (OVERHEAD, {"model": model, "messages": probe})
    ]
    for i in range(len(system)):
        steps.append((next(labels), _request(model, system[: i + 1], [], probe)))
    for i in range(len(tools)):
        steps.append((next(labels), _request(model, system, tools[: i + 1], probe)))
    for i in range(len(messages)):
        steps.append((next(labels), _request(model, system, tools, messages[: i + 1])))
    return steps


def _request(
    model: str, system: list[Any], tools: list[Any], messages: list[Any]
) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "messages": messages}
    if system:
        request["system"] = system
    if tools:
        request["tools"] = tools
    return request


def jobs(a: Assembly, model: str) -> list[Job]:
    return [
        Job(request, f"{a.feature.name} on {model} ({label})")
        for label, request in prefixes(a, model)
    ]


def breakdown(
    a: Assembly, model: str, counts: dict[str, Count]
) -> list[tuple[str, int]]:
    """Each part's tokens, summing to the feature's input_tokens."""
    parts = []
    previous = 0
    for label, request in prefixes(a, model):
        total = counts[Job(request, "").key].input_tokens
        parts.append((label, total - previous))
        previous = total
    parts.append((SLOTS, a.reserved))
    return parts
