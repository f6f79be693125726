"""Reporters for init: what was written, each feature's count and budget."""

from __future__ import annotations

import json
from collections.abc import Callable

from promptbudget.proposal import Proposal
from promptbudget.textable import align, tokens

SCHEMA_VERSION = 1


def render_text(proposal: Proposal) -> str:
    features = proposal.features
    noun = "feature" if len(features) == 1 else "features"
    lines = [f"wrote {proposal.path}: {len(features)} {noun}, one per call site", ""]
    table = [["feature", "models", "input", "budget", "call"]]
    for f in features:
        models = ", ".join(f.models) or proposal.default_model
        at = f"{f.call.path}:{f.call.line}"
        budget = f"{f.budget:,}" if f.budget is not None else "-"
        table.append([f.name, models, tokens(f.input_tokens, f.exact), budget, at])
    lines.extend(align(table, {2, 3}))
    notes = []
    if proposal.skipped:
        notes.append(f"{len(proposal.skipped)} calls had nothing static to count")
    if proposal.unused:
        notes.append(f"{len(proposal.unused)} artifacts are sent by no call")
    if notes:
        lines.append("")
        lines.append("; ".join(notes) + f" (listed at the end of {proposal.path})")
    if any(not f.exact for f in features):
        lines.append("~ estimated offline; set ANTHROPIC_API_KEY for exact counts")
    return "\n".join(lines) + "\n"


def render_json(proposal: Proposal) -> str:
    document = {
        "schema": SCHEMA_VERSION,
        "command": "init",
        "path": proposal.path,
        "features": [
            {
                "feature": f.name,
                "models": f.models or [proposal.default_model],
                "input_tokens": f.input_tokens,
                "exact": f.exact,
                "max_input_tokens": f.budget,
                "path": f.call.path,
                "line": f.call.line,
            }
            for f in proposal.features
        ],
        "skipped": proposal.skipped,
        "unused": [a.reference for a in proposal.unused],
    }
    return json.dumps(document, indent=2) + "\n"


REPORTERS: dict[str, Callable[[Proposal], str]] = {
    "text": render_text,
    "json": render_json,
}
