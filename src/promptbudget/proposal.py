"""init: a budgets.yaml proposal from discovery, one feature per call site.

Each Messages API call becomes a feature named after its enclosing function,
with the artifacts it sends as references, its model and max_tokens when
they are literal, and an allowance for every slot (dynamic input or template
placeholder). Each feature is then counted as check counts it, and its
budget set to the count plus HEADROOM, rounded up to ROUND_TO tokens.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptbudget import gitutil
from promptbudget.artifacts import Artifact, CallSite
from promptbudget.config import (
    CONFIG_NAME,
    FEATURE_NAME,
    DiscoverSettings,
    parse_config,
)
from promptbudget.counting import Counter, Job
from promptbudget.discovery import Discovery, cover, discover
from promptbudget.errors import ConfigError, PromptBudgetError
from promptbudget.refs import resolve_text, template_includer
from promptbudget.request import Assembly, assemble, request_for
from promptbudget.templates import is_system_template, parse_template
from promptbudget.tree import Tree, WorkTree
from promptbudget.unbudgeted import DEFAULT_MODEL

HEADROOM = 1.25
ROUND_TO = 100
SLOT_TOKENS = 500  # placeholder worst case of a slot nobody has measured
TOP_K = 5
PLAIN = re.compile(r"^[A-Za-z0-9_./\-][A-Za-z0-9_./\-:<>()*\[\] ]*$")


@dataclass
class Slot:
    tokens: int | None = None
    top_k: int | None = None
    chunk_tokens: int | None = None
    why: str = ""


@dataclass
class Proposed:
    """One feature of the proposal, before and after counting."""

    name: str
    call: Artifact
    models: list[str]
    system: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    slots: dict[str, Slot] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    exact: bool = False
    budget: int | None = None
    sends: set[str] = field(default_factory=set)  # repository-relative references


@dataclass
class Proposal:
    path: str  # repository-relative path of the budgets.yaml to write
    default_model: str
    features: list[Proposed]
    skipped: list[str]  # calls that became no feature, and why
    unused: list[Artifact]  # artifacts no proposed feature sends

    def text(self) -> str:
        return _render(self)


def propose(discovery: Discovery, tree: Tree, path: str) -> Proposal:
    """Features for every call site with something static to budget."""
    base_dir = posixpath.dirname(path)
    calls = [a for a in discovery.artifacts if a.call is not None]
    models = Tally(a.call.model for a in calls if a.call and a.call.model)
    default_model = models.most_common(1)[0][0] if models else DEFAULT_MODEL
    names = _feature_names(calls)
    features: list[Proposed] = []
    skipped: list[str] = []
    for artifact in calls:
        feature = _feature(names[id(artifact)], artifact, base_dir, tree)
        if isinstance(feature, str):
            skipped.append(feature)
        else:
            features.append(feature)
    sent = {ref for f in features for ref in f.sends}
    unused = [
        a for a in discovery.artifacts if a.kind != "call" and a.reference not in sent
    ]
    return Proposal(path, default_model, features, skipped, unused)


def count(proposal: Proposal, tree: Tree, counter: Counter) -> dict[str, Assembly]:
    """Count each feature as check would and set its budget with headroom."""
    config = parse_config(_render(proposal), proposal.path)
    assemblies = {
        name: assemble(feature, config, tree)
        for name, feature in config.features.items()
    }
    jobs = {
        (name, model): Job(request_for(a.body, model), f"{name} on {model}")
        for name, a in assemblies.items()
        for model in a.models
    }
    counts = counter.count_all(list(jobs.values()))
    for feature in proposal.features:
        a = assemblies[feature.name]
        totals = [(counts[jobs[(feature.name, m)].key], m) for m in a.models]
        largest = max(c.input_tokens for c, _ in totals) + a.reserved
        feature.input_tokens = largest
        feature.exact = all(c.exact for c, _ in totals)
        feature.budget = math.ceil(largest * HEADROOM / ROUND_TO) * ROUND_TO
    return assemblies


# -- building features ---------------------------------------------------------


def _feature_names(calls: list[Artifact]) -> dict[int, str]:
    """A feature name per call: its function, made unique by class or module."""
    first = {id(a): _name_part(_function(a)) for a in calls}
    seen = Tally(first.values())
    names: dict[int, str] = {}
    taken: set[str] = set()
    for artifact in calls:
        name = first[id(artifact)]
        if seen[name] > 1:
            name = f"{_owner(artifact)}_{name}"
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}_{n}", n + 1
        taken.add(unique)
        names[id(artifact)] = unique
    return names


def _function(artifact: Artifact) -> str:
    assert artifact.call is not None
    if artifact.call.function:
        return artifact.call.function.rsplit(".", 1)[-1]
    return posixpath.splitext(posixpath.basename(artifact.path))[0]


def _owner(artifact: Artifact) -> str:
    assert artifact.call is not None
    parts = artifact.call.function.split(".")
    if len(parts) > 1:
        return _name_part(parts[-2])
    return _name_part(posixpath.splitext(posixpath.basename(artifact.path))[0])


def _name_part(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", text.strip("_")) or "call"
    assert FEATURE_NAME.match(name)
    return name


def _feature(
    name: str, artifact: Artifact, base_dir: str, tree: Tree
) -> Proposed | str:
    site = artifact.call
    assert site is not None
    where = f"{artifact.path}:{artifact.line}"
    if not any(i.reference or i.slot for i in site.inputs()):
        reason = ", ".join(site.unread) or "no system, tools or messages"
        return f"{name} ({where}): nothing static to count ({reason})"
    feature = Proposed(name, artifact, [site.model] if site.model else [])
    feature.notes.append(f"{where} {site.method}")
    if site.model is None:
        feature.notes.append(
            "model= is only known at run time: counted for the default"
        )
    try:
        _add_system(feature, site, base_dir, tree)
        for item in site.tools:
            if item.reference:
                feature.tools.append(_relative(item.reference, base_dir))
                feature.sends.add(item.reference)
        if site.unread:
            feature.notes.append(f"not read statically: {', '.join(site.unread)}")
        _add_messages(feature, site, base_dir, tree)
    except PromptBudgetError as exc:
        return f"{name} ({where}): {exc}"
    return feature


def _add_system(feature: Proposed, site: CallSite, base_dir: str, tree: Tree) -> None:
    for item in site.system:
        if item.reference is None:
            if item.slot:
                feature.slots[item.slot] = Slot(
                    SLOT_TOKENS, why="system= is only known at run time"
                )
            continue
        reference = _relative(item.reference, base_dir)
        feature.system.append(reference)
        feature.sends.add(item.reference)
        for found in resolve_text(reference, base_dir, tree, feature.name):
            if is_system_template(found.value, found.path):
                _template_slots(feature, found.value, found.path, found.line, tree)


def _add_messages(feature: Proposed, site: CallSite, base_dir: str, tree: Tree) -> None:
    for i, item in enumerate(site.messages):
        if item.reference is None:
            if item.slot:
                what = "messages" if item.role is None else f"messages[{i}]"
                feature.slots.setdefault(
                    item.slot,
                    Slot(SLOT_TOKENS, why=f"{what} is only known at run time"),
                )
            continue
        reference = _relative(item.reference, base_dir)
        feature.messages.append((item.role or "user", reference))
        feature.sends.add(item.reference)
        for found in resolve_text(reference, base_dir, tree, feature.name):
            _template_slots(feature, found.value, found.path, found.line, tree)


def _template_slots(
    feature: Proposed, text: str, path: str, line: int, tree: Tree
) -> None:
    includer = template_includer(tree, path)
    template = parse_template(text, path, line, include=includer)
    feature.sends.update(template.includes)
    for slot in template.slots:
        if slot in template.repeated:
            feature.slots.setdefault(
                slot,
                Slot(top_k=TOP_K, chunk_tokens=SLOT_TOKENS, why="repeated in a loop"),
            )
        else:
            feature.slots.setdefault(slot, Slot(SLOT_TOKENS, why="template slot"))


def _relative(reference: str, base_dir: str) -> str:
    path, sep, name = reference.partition("::")
    relative = posixpath.relpath(path, base_dir) if base_dir else path
    return f"{relative}{sep}{name}"


# -- writing YAML ----------------------------------------------------------------


def _render(proposal: Proposal) -> str:
    lines = [
        "# Proposed by `promptbudget init` from the Messages API calls it found.",
        f"# Budgets are each feature's input tokens now plus {HEADROOM - 1:.0%} "
        f"headroom, rounded up to",
        f"# the next {ROUND_TO} (exact with ANTHROPIC_API_KEY, else estimates).",
        "# Slot allowances marked 'placeholder' are guesses: set each to its "
        "worst case.",
        "version: 1",
        f"models: [{_scalar(proposal.default_model)}]",
        "",
        "discover:",
        "  unbudgeted: warn  # ignore | warn | error",
        "",
        "features:",
    ]
    for feature in proposal.features:
        lines.extend(_feature_lines(feature))
    if proposal.skipped:
        lines.append("")
        lines.append("# Calls with nothing static to count; budget them by hand:")
        lines.extend(f"#   {reason}" for reason in proposal.skipped)
    if proposal.unused:
        lines.append("")
        lines.append(
            "# Found but sent by no call above (check reports them as unbudgeted):"
        )
        lines.extend(
            f"#   {a.kind:<8} {a.reference}  ({a.path}:{a.line})"
            for a in proposal.unused
        )
    return "\n".join(lines) + "\n"


def _feature_lines(feature: Proposed) -> list[str]:
    lines = [f"  {feature.name}:"]
    lines.extend(f"    # {note}" for note in feature.notes)
    if feature.models:
        lines.append(f"    models: [{', '.join(_scalar(m) for m in feature.models)}]")
    if feature.system:
        lines.extend(_list("system", feature.system))
    if feature.tools:
        lines.extend(_list("tools", feature.tools))
    if feature.messages:
        lines.append("    messages:")
        lines.extend(
            f"      - {{role: {role}, template: {_scalar(ref)}}}"
            for role, ref in feature.messages
        )
    if feature.slots:
        lines.append("    slots:")
        for name, slot in feature.slots.items():
            lines.append(
                f"      {name}: {_slot_value(slot)}  # placeholder: {slot.why}"
            )
    max_tokens = feature.call.call.max_tokens if feature.call.call else None
    if max_tokens is not None:
        lines.append(f"    max_tokens: {max_tokens}")
    lines.append("    budget:")
    now = ""
    if feature.input_tokens is not None:
        mark = "" if feature.exact else "~"
        kind = "exact" if feature.exact else "estimate"
        now = f"  # {mark}{feature.input_tokens:,} now ({kind})"
    lines.append(f"      max_input_tokens: {feature.budget or 1}{now}")
    lines.append("      max_increase: 10%")
    return lines


def _list(key: str, references: list[str]) -> list[str]:
    if len(references) == 1:
        return [f"    {key}: {_scalar(references[0])}"]
    return [f"    {key}:", *(f"      - {_scalar(r)}" for r in references)]


def _slot_value(slot: Slot) -> str:
    if slot.top_k is not None:
        return f"{{top_k: {slot.top_k}, chunk_tokens: {slot.chunk_tokens}}}"
    return str(slot.tokens)


def _scalar(text: str) -> str:
    """A YAML scalar: plain when that is unambiguous, else double-quoted."""
    if PLAIN.match(text) and ": " not in text and not text.endswith(":"):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# -- the job ---------------------------------------------------------------------


def init_job(
    cwd: Path,
    config_option: str | None,
    force: bool,
    counter: Counter,
    warn: Callable[[str], None],
) -> Proposal:
    """Write a budgets.yaml proposal; refuse to overwrite one unless forced."""
    root = (gitutil.toplevel(cwd) or cwd).resolve()
    target = (cwd / config_option).resolve() if config_option else root / CONFIG_NAME
    if root not in target.parents:
        raise ConfigError(f"{target}: is outside the repository at {root}")
    path = target.relative_to(root).as_posix()
    if target.exists() and not force:
        raise ConfigError(
            f"{path}: already exists; pass --force to overwrite it, "
            "or --config PATH to write the proposal elsewhere"
        )
    tree = WorkTree(root)
    found = discover(tree, DiscoverSettings(), skip={path}, warn=warn, templates=True)
    proposal = propose(found, tree, path)
    if not proposal.features:
        raise ConfigError(
            f"no Messages API call with something static to count was found "
            f"({len(found.artifacts)} artifacts: see promptbudget discover); "
            "write budgets.yaml by hand, as the README shows"
        )
    # What check will call unbudgeted: covered as check covers, parts and all.
    cover(found, count(proposal, tree, counter))
    proposal.unused = [
        a for a in found.artifacts if a.kind != "call" and not a.features
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(proposal.text(), encoding="utf-8")
    return proposal
