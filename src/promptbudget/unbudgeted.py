"""Artifacts no feature covers, for check and diff, with their estimated size.

Growth outside every budget is still growth: check lists what no feature
reads, and diff shows how much each of those changed against the base.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from promptbudget.artifacts import Artifact
from promptbudget.config import Config
from promptbudget.discovery import cover, discover
from promptbudget.errors import PromptBudgetError
from promptbudget.refs import (
    is_tool_list,
    load_data,
    parse_reference,
    resolve,
    tool_items,
)
from promptbudget.refs import to_anthropic_tool as _to_tool
from promptbudget.request import Assembly
from promptbudget.tree import Tree

DEFAULT_MODEL = "claude-sonnet-4-6"
Estimator = Callable[[str, str], int]


@dataclass
class Unbudgeted:
    kind: str
    reference: str
    path: str
    line: int
    tokens: int
    base_tokens: int | None = None
    delta: int | None = None


def estimate_text(text: str, model: str) -> int:
    """The offline estimate, imported only when something must be estimated."""
    from promptbudget import estimate

    return estimate.estimate_text(text, model)


def estimate_model(config: Config | None) -> str:
    """The model estimates are made for: the first one budgets.yaml names."""
    if config is None:
        return DEFAULT_MODEL
    if config.models:
        return config.models[0]
    for feature in config.features.values():
        if feature.models:
            return feature.models[0]
    return DEFAULT_MODEL


def find_unbudgeted(
    tree: Tree,
    config: Config,
    assemblies: Mapping[str, Assembly],
    estimator: Estimator,
    warn: Callable[[str], None],
    only: Collection[str] | None = None,
) -> list[Unbudgeted]:
    """Artifacts in the tree (or in only these files) that no feature covers.

    With only (the files pre-commit passes), the whole tree is still read:
    whether a module's constants are prompts depends on who imports it, so
    scanning the given files alone would miss what a full check reports.
    Only those files' artifacts and warnings are kept.
    """
    chosen = None if only is None else set(only)

    def warn_chosen(message: str) -> None:
        if chosen is None or message.split(":", 1)[0] in chosen:
            warn(message)

    found = discover(tree, config.discover, skip={config.path}, warn=warn_chosen)
    cover(found, assemblies)
    model = estimate_model(config)
    return [
        Unbudgeted(
            a.kind, a.reference, a.path, a.line, estimate_artifact(a, model, estimator)
        )
        for a in found.uncovered()
        if chosen is None or a.path in chosen
    ]


def compare_with_base(
    rows: list[Unbudgeted], base: Tree, model: str, estimator: Estimator
) -> None:
    """Fill in each artifact's size at the base (when it existed) and the change."""
    for row in rows:
        then = read_artifact(base, row.kind, row.reference)
        if then is None:
            continue
        row.base_tokens = estimate_artifact(then, model, estimator)
        row.delta = row.tokens - row.base_tokens


def read_artifact(tree: Tree, kind: str, reference: str) -> Artifact | None:
    """An artifact as a tree has it, through its reference; None if it is gone."""
    try:
        ref = parse_reference(reference, "", reference)
        found = resolve(ref, tree, reference)
    except PromptBudgetError:
        return None
    value = found.value
    if kind == "tools" and isinstance(value, str):
        try:
            value = load_data(value, found.path)[0]
        except PromptBudgetError:
            return None
    if kind == "tools":
        if not is_tool_list(value):
            return None
        try:
            value = [_to_tool(item, found) for item in tool_items(value)]
        except PromptBudgetError:
            return None
    elif not isinstance(value, str):
        return None
    return Artifact(kind, ref.path, ref.name, found.line, value)


def estimate_artifact(artifact: Artifact, model: str, estimator: Estimator) -> int:
    """Estimated tokens of an artifact's text (tools as compact JSON)."""
    text = artifact.text
    return estimator(text, model) if text.strip() else 0
