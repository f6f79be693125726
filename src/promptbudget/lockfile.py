"""The lockfile: exact counts committed beside budgets.yaml.

One line per feature and model, sorted, so diffs are small and merges easy:

    answer_question claude-sonnet-4-6 9f86d08...(64 hex) 1435

The number is the count_tokens answer for the request whose hash is given
(slot allowances are not included; they come from budgets.yaml). A line is
used only when the hash matches the request assembled now, so a stale line
can never stand in for a changed prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptbudget.errors import ConfigError
from promptbudget.tree import Tree, text_of

HEADER = (
    "# promptbudget lockfile: exact count_tokens answers per feature and model.\n"
    "# Written by `promptbudget lock`; do not edit by hand.\n"
)
LINE = re.compile(r"^(\S+) (\S+) ([0-9a-f]{64}) ([0-9]+)$")


@dataclass(frozen=True, order=True)
class Entry:
    feature: str
    model: str
    key: str
    tokens: int


def parse_lock(text: str, path: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise ConfigError(
                f"{path}:{number}: not a lockfile line (feature model hash tokens); "
                "run promptbudget lock to rewrite it"
            )
        feature, model, key, tokens = match.groups()
        entries.append(Entry(feature, model, key, int(tokens)))
    return entries


def read_lock(tree: Tree, path: str) -> list[Entry]:
    """The entries of a lockfile in a tree; none when it does not exist."""
    if not tree.is_file(path):
        return []
    return parse_lock(text_of(tree, path), path)


def render_lock(entries: list[Entry]) -> str:
    lines = [f"{e.feature} {e.model} {e.key} {e.tokens}" for e in sorted(entries)]
    return HEADER + "".join(line + "\n" for line in lines)


def stale_entries(current: list[Entry], locked: list[Entry]) -> list[str]:
    """What differs between the requests now and the lockfile, one line each."""
    now = {(e.feature, e.model): e for e in current}
    then = {(e.feature, e.model): e for e in locked}
    problems = []
    for pair in sorted(now.keys() | then.keys()):
        label = f"{pair[0]} on {pair[1]}"
        if pair not in then:
            problems.append(f"{label} is not in the lockfile")
        elif pair not in now:
            problems.append(f"{label} is in the lockfile but no longer in budgets.yaml")
        elif now[pair].key != then[pair].key:
            problems.append(f"{label} changed since the lockfile was written")
    return problems
