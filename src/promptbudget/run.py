"""The check and diff jobs: load, assemble, count, judge. No printing here."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from promptbudget import gitutil
from promptbudget.budget import Row, judge
from promptbudget.config import CONFIG_NAME, Config, load_config
from promptbudget.counting import Count, Counter, Job
from promptbudget.errors import ConfigError, GitError, PromptBudgetError
from promptbudget.request import Assembly, assemble, request_for
from promptbudget.tree import GitTree, Tree, WorkTree

SHALLOW_HINT = (
    "this is a shallow clone: set fetch-depth: 0 on actions/checkout "
    "(or run git fetch --unshallow)"
)


@dataclass
class Workspace:
    """Where a run happens: the repository root and budgets.yaml within it."""

    root: Path
    config_path: str  # relative to root, POSIX
    is_git: bool


@dataclass
class Report:
    command: str
    rows: list[Row]
    base: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)


def find_workspace(cwd: Path, config_option: str | None) -> Workspace:
    """Locate budgets.yaml (given, or in cwd and its parents up to the repo root)."""
    top = gitutil.toplevel(cwd)
    if config_option is not None:
        config = (cwd / config_option).absolute()
        if not config.is_file():
            raise ConfigError(f"{config_option}: no such file (given with --config)")
    else:
        config = _search_config(cwd, top)
    root = (top or config.parent).resolve()
    config = config.resolve()
    if root not in config.parents:
        raise ConfigError(f"{config}: is outside the repository at {root}")
    return Workspace(root, config.relative_to(root).as_posix(), top is not None)


def _search_config(cwd: Path, top: Path | None) -> Path:
    for folder in [cwd, *cwd.parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if top is not None and folder.resolve() == top.resolve():
            break
    raise ConfigError(
        f"{CONFIG_NAME}: not found in {cwd} or its parents; create one "
        "(see the README) or pass --config PATH"
    )


def select_features(
    config: Config, assemblies: dict[str, Assembly], files: list[str]
) -> list[str]:
    """The features whose references include one of files (budgets.yaml means all)."""
    wanted = {posixpath.normpath(f) for f in files}
    if config.path in wanted:
        return list(assemblies)
    return [name for name, a in assemblies.items() if a.files & wanted]


def assemble_all(config: Config, tree: Tree) -> dict[str, Assembly]:
    return {
        name: assemble(feature, config, tree)
        for name, feature in config.features.items()
    }


def jobs_for(assemblies: dict[str, Assembly]) -> list[Job]:
    return [
        Job(request_for(a.body, model), f"{name} on {model}")
        for name, a in assemblies.items()
        for model in a.feature.models
    ]


def check(ws: Workspace, counter: Counter, files: list[str] | None = None) -> Report:
    tree = WorkTree(ws.root)
    config = load_config(tree, ws.config_path)
    assemblies = assemble_all(config, tree)
    report = Report("check", [])
    if files is not None:
        chosen = select_features(config, assemblies, files)
        assemblies = {name: assemblies[name] for name in chosen}
        if not assemblies:
            report.notes.append("no feature reads the given files; nothing to count")
            return report

    counts = counter.count_all(jobs_for(assemblies))
    for name, a in assemblies.items():
        for model in a.feature.models:
            row = _row(name, model, a, counts)
            judge(row, a.feature.budget, a, config.path)
            report.rows.append(row)
    return report


def _row(name: str, model: str, a: Assembly, counts: dict[str, Count]) -> Row:
    count = counts[Job(request_for(a.body, model), "").key]
    return Row(
        feature=name,
        model=model,
        input_tokens=count.input_tokens + a.reserved,
        reserved_tokens=a.reserved,
        exact=count.exact,
        source=count.source,
        max_input_tokens=a.feature.budget.max_input_tokens,
        location=a.location() or _origin(a),
    )


def resolve_base(ws: Workspace, ref: str) -> tuple[str, str]:
    """The base ref's commit and the merge base to compare against."""
    if not ws.is_git:
        raise GitError(f"{ws.root}: is not a git repository; diff needs git history")
    commit = gitutil.resolve_commit(ws.root, ref)
    if commit is None and "/" not in ref:
        commit = gitutil.resolve_commit(ws.root, f"origin/{ref}")
    if commit is None:
        hint = (
            SHALLOW_HINT
            if gitutil.is_shallow(ws.root)
            else f"fetch it with 'git fetch origin {ref}' or name an existing ref"
        )
        raise GitError(f"base ref '{ref}' not found in {ws.root}; {hint}")
    if not gitutil.has_head(ws.root):
        return commit, commit
    base = gitutil.merge_base(ws.root, commit, "HEAD")
    if base is None:
        hint = (
            SHALLOW_HINT
            if gitutil.is_shallow(ws.root)
            else "fetch more history or name another base"
        )
        raise GitError(f"'{ref}' and HEAD share no history; {hint}")
    return commit, base


def diff(
    ws: Workspace, counter: Counter, ref: str, warn: Callable[[str], None]
) -> Report:
    commit, merge_base = resolve_base(ws, ref)
    head_tree = WorkTree(ws.root)
    head_config = load_config(head_tree, ws.config_path)
    head = assemble_all(head_config, head_tree)
    base = _base_assemblies(ws, merge_base, ref, warn)

    counts = counter.count_all(jobs_for(head) + jobs_for(base))
    report = Report("diff", [], base={"ref": ref, "commit": merge_base})
    for name, a in head.items():
        for model in a.feature.models:
            row = _row(name, model, a, counts)
            previous = base.get(name)
            if previous is not None and model in previous.feature.models:
                old = _row(name, model, previous, counts)
                row.base_input_tokens = old.input_tokens
                row.base_exact = old.exact
                assert row.input_tokens is not None and old.input_tokens is not None
                row.delta = row.input_tokens - old.input_tokens
                row.change = (
                    "same" if row.delta == 0 and previous.body == a.body else "changed"
                )
                if row.change == "changed":
                    row.changed_at = a.changed_since(previous) or _origin(a)
            else:
                row.change = "new"
            judge(row, a.feature.budget, a, head_config.path)
            report.rows.append(row)
    for name, previous in base.items():
        for model in previous.feature.models:
            if name in head and model in head[name].feature.models:
                continue
            old = _row(name, model, previous, counts)
            report.rows.append(
                Row(
                    name,
                    model,
                    None,
                    0,
                    old.exact,
                    None,
                    None,
                    "ok",
                    base_input_tokens=old.input_tokens,
                    base_exact=old.exact,
                    change="removed",
                )
            )
    return report


def _origin(a: Assembly) -> tuple[str, int]:
    """Where budgets.yaml declares the feature: its origin is path:line:column."""
    path, line, _ = a.feature.origin.rsplit(":", 2)
    return path, int(line)


def _base_assemblies(
    ws: Workspace, commit: str, ref: str, warn: Callable[[str], None]
) -> dict[str, Assembly]:
    tree = GitTree(ws.root, commit, f"{ref} ({commit[:7]})")
    if not tree.is_file(ws.config_path):
        warn(f"{ws.config_path} does not exist at {tree.label}; every feature is new")
        return {}
    try:
        config = load_config(tree, ws.config_path)
    except PromptBudgetError as exc:
        warn(f"cannot read the base's budgets ({exc}); every feature is new")
        return {}
    assemblies = {}
    for name, feature in config.features.items():
        try:
            assemblies[name] = assemble(feature, config, tree)
        except PromptBudgetError as exc:
            warn(
                f"feature {name} cannot be assembled at {tree.label} ({exc}); "
                "shown as new"
            )
    return assemblies


def environment() -> Mapping[str, str]:
    return os.environ
