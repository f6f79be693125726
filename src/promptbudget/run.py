"""The check and diff jobs: load, assemble, count, judge. No printing here."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptbudget import diag, explain, gitutil, lockfile
from promptbudget.budget import Row, judge
from promptbudget.config import CONFIG_NAME, Config, load_config
from promptbudget.counting import Count, Counter, Job
from promptbudget.errors import ConfigError, GitError, PromptBudgetError
from promptbudget.memo import Journal
from promptbudget.pricing import cost_per_call, price_for
from promptbudget.request import Assembly, assemble, request_for
from promptbudget.routes import load_routes
from promptbudget.templates import TemplateStore
from promptbudget.tree import GitTree, Tree, WorkTree
from promptbudget.unbudgeted import (
    Estimator,
    Unbudgeted,
    compare_with_base,
    estimate_model,
    estimate_text,
    find_unbudgeted,
)

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
    # Failures that are not one feature's budget (a stale lockfile): exit 1.
    problems: list[str] = field(default_factory=list)
    unbudgeted: list[Unbudgeted] = field(default_factory=list)
    unbudgeted_policy: str = "ignore"  # discover.unbudgeted of budgets.yaml

    def failed(self) -> bool:
        """A budget exceeded, a problem, or unbudgeted artifacts that are an error."""
        if self.problems or any(row.status == "over" for row in self.rows):
            return True
        return self.unbudgeted_policy == "error" and bool(self.unbudgeted)


def find_workspace(
    cwd: Path, config_option: str | None, journal: Journal | None = None
) -> Workspace:
    """Locate budgets.yaml (given, or in cwd and its parents up to the repo root)."""
    top = gitutil.toplevel(cwd, journal)
    if config_option is not None:
        config = (cwd / config_option).absolute()
        if not _probe_file(config, journal):
            raise ConfigError(f"{config_option}: no such file (given with --config)")
    else:
        config = _search_config(cwd, top, journal)
    root = (top or config.parent).resolve()
    config = config.resolve()
    diag.info("budgets %s in repository %s", config, root)
    if root not in config.parents:
        raise ConfigError(f"{config}: is outside the repository at {root}")
    return Workspace(root, config.relative_to(root).as_posix(), top is not None)


def _probe_file(path: Path, journal: Journal | None) -> bool:
    found = path.is_file()
    if journal is not None:
        journal.probe(str(path), "file", found)
    return found


def _search_config(cwd: Path, top: Path | None, journal: Journal | None) -> Path:
    for folder in [cwd, *cwd.parents]:
        candidate = folder / CONFIG_NAME
        if _probe_file(candidate, journal):
            return candidate
        if top is not None and folder.resolve() == top.resolve():
            break
    raise ConfigError(
        f"{CONFIG_NAME}: not found in {cwd} or its parents; create one "
        "(see the README) or pass --config PATH"
    )


def config_models(
    cwd: Path, config_option: str | None, warn: Callable[[str], None]
) -> list[str]:
    """The models budgets.yaml names, if there is a readable one; else none."""
    try:
        ws = find_workspace(cwd, config_option)
        config = load_config(WorkTree(ws.root), ws.config_path)
    except ConfigError as exc:
        if config_option is not None or "not found" not in str(exc):
            warn(f"ignoring budgets.yaml for the default models: {exc}")
        return []
    models = list(config.models)
    for feature in config.features.values():
        models.extend(feature.models)
    return models


def select_features(
    config: Config, assemblies: dict[str, Assembly], files: list[str]
) -> list[str]:
    """The features whose references include one of files (budgets.yaml means all)."""
    wanted = {posixpath.normpath(f) for f in files}
    if config.path in wanted:
        return list(assemblies)
    return [name for name, a in assemblies.items() if a.files & wanted]


def assemble_all(
    config: Config, tree: Tree, store: TemplateStore | None = None
) -> dict[str, Assembly]:
    routes = load_routes(config, tree)
    return {
        name: assemble(feature, config, tree, routes, store)
        for name, feature in config.features.items()
    }


def jobs_for(assemblies: dict[str, Assembly]) -> list[Job]:
    return [
        Job(request_for(a.body, model), f"{name} on {model}")
        for name, a in assemblies.items()
        for model in a.models
    ]


def check(
    ws: Workspace,
    counter: Counter,
    files: list[str] | None = None,
    *,
    warn: Callable[[str], None],
    estimator: Estimator = estimate_text,
    locked: bool = False,
    verify_lock: bool = False,
    explain: bool = False,
    journal: Journal | None = None,
) -> Report:
    tree = WorkTree(ws.root, journal)
    config = load_config(tree, ws.config_path)
    assemblies = assemble_all(config, tree, counter.templates)
    report = Report("check", [])
    if config.discover.unbudgeted != "ignore":
        report.unbudgeted_policy = config.discover.unbudgeted
        only = [f for f in files if tree_has(tree, f)] if files is not None else None
        report.unbudgeted = find_unbudgeted(
            tree, config, assemblies, estimator, warn, only
        )
    lock_entries = _use_lock(counter, tree, config)
    if locked or verify_lock:
        report.problems.extend(
            _lock_problems(config, assemblies, lock_entries, counter, verify_lock)
        )
    if files is not None:
        chosen = select_features(config, assemblies, files)
        assemblies = {name: assemblies[name] for name in chosen}
        if not assemblies:
            report.notes.append("no feature reads the given files; nothing to count")
            return report

    counts = counter.count_all(jobs_for(assemblies))
    for name, a in assemblies.items():
        for model in a.models:
            row = _row(name, model, a, counts)
            judge(row, a.feature.budget, a, config.path, config.margin)
            report.rows.append(row)
    if explain:
        _explain(report.rows, assemblies, {}, counter)
    return report


def tree_has(tree: Tree, path: str) -> bool:
    try:
        return tree.is_file(path)
    except PromptBudgetError:
        return False


def _explain(
    rows: list[Row],
    head: dict[str, Assembly],
    base: dict[str, Assembly],
    counter: Counter,
) -> None:
    """Break changed rows down by part (all rows in check), with extra counts."""
    chosen = [r for r in rows if r.change in (None, "changed", "new")]
    wanted: list[Job] = []
    for row in chosen:
        wanted.extend(explain.jobs(head[row.feature], row.model))
        if row.change == "changed":
            wanted.extend(explain.jobs(base[row.feature], row.base_model or row.model))
    counts = counter.count_all(wanted)
    for row in chosen:
        now = explain.breakdown(head[row.feature], row.model, counts)
        then = []
        if row.change == "changed":
            then = explain.breakdown(
                base[row.feature], row.base_model or row.model, counts
            )
        row.parts = _align(then, now)
        row.parts_exact = all(counts[job.key].exact for job in wanted)


def _align(
    base: list[tuple[str, int]], head: list[tuple[str, int]]
) -> list[tuple[str, int | None, int | None]]:
    """Parts of both sides by label, in head order, base-only parts last."""
    before = dict(base)
    after = dict(head)
    labels = [label for label, _ in head] + [
        name for name, _ in base if name not in after
    ]
    return [(label, before.get(label), after.get(label)) for label in labels]


def _use_lock(counter: Counter, tree: Tree, config: Config) -> list[lockfile.Entry]:
    """Hand a lockfile's exact counts to the counter; return its entries."""
    if config.lockfile is None:
        return []
    entries = lockfile.read_lock(tree, config.lockfile)
    counter.locked.update({entry.key: entry.tokens for entry in entries})
    return entries


def lock_entries(
    assemblies: dict[str, Assembly], counts: dict[str, int]
) -> list[lockfile.Entry]:
    return [
        lockfile.Entry(name, job.request["model"], job.key, counts[job.key])
        for name, a in assemblies.items()
        for job in jobs_for({name: a})
    ]


def _lock_problems(
    config: Config,
    assemblies: dict[str, Assembly],
    entries: list[lockfile.Entry],
    counter: Counter,
    verify: bool,
) -> list[str]:
    if config.lockfile is None:
        raise ConfigError(
            f"{config.path}: --locked needs a lockfile; add 'lockfile: "
            "promptbudget.lock' and run promptbudget lock"
        )
    keys = {job.key: 0 for job in jobs_for(assemblies)}
    stale = lockfile.stale_entries(lock_entries(assemblies, keys), entries)
    fix = "; run promptbudget lock"
    problems = [f"{config.lockfile}: {problem}{fix}" for problem in stale]
    if verify:
        wanted = [job for job in jobs_for(assemblies) if job.key in counter.locked]
        actual = counter.recount(wanted)
        for entry in entries:
            if entry.key in actual and actual[entry.key] != entry.tokens:
                problems.append(
                    f"{config.lockfile}: {entry.feature} on {entry.model} says "
                    f"{entry.tokens:,} but count_tokens answers "
                    f"{actual[entry.key]:,}{fix}"
                )
    return problems


def lock(ws: Workspace, counter: Counter) -> tuple[str, int]:
    """Count every feature exactly and write the lockfile; its path and size."""
    tree = WorkTree(ws.root)
    config = load_config(tree, ws.config_path)
    if config.lockfile is None:
        raise ConfigError(
            f"{config.path}: has no lockfile; add 'lockfile: promptbudget.lock' first"
        )
    assemblies = assemble_all(config, tree, counter.templates)
    counts = counter.recount(jobs_for(assemblies))
    entries = lock_entries(assemblies, counts)
    target = ws.root / config.lockfile
    text = lockfile.render_lock(entries)
    partial = target.with_name(target.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return config.lockfile, len(entries)


def _row(name: str, model: str, a: Assembly, counts: dict[str, Count]) -> Row:
    count = counts[Job(request_for(a.body, model), "").key]
    tokens = count.input_tokens + a.reserved
    price = price_for(model, a.prices)
    return Row(
        feature=name,
        model=model,
        input_tokens=tokens,
        reserved_tokens=a.reserved,
        exact=count.exact,
        source=count.source,
        max_input_tokens=a.feature.budget.max_input_tokens,
        location=a.location() or _origin(a),
        max_tokens=a.max_tokens,
        cost_per_call=cost_per_call(tokens, a.max_tokens, price) if price else None,
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
    ws: Workspace,
    counter: Counter,
    ref: str,
    warn: Callable[[str], None],
    *,
    estimator: Estimator = estimate_text,
    explain: bool = False,
) -> Report:
    commit, merge_base = resolve_base(ws, ref)
    head_tree = WorkTree(ws.root)
    head_config = load_config(head_tree, ws.config_path)
    head = assemble_all(head_config, head_tree, counter.templates)
    _use_lock(counter, head_tree, head_config)
    base = _base_assemblies(ws, counter, merge_base, ref, warn)
    report = Report("diff", [], base={"ref": ref, "commit": merge_base})
    if head_config.discover.unbudgeted != "ignore":
        report.unbudgeted_policy = head_config.discover.unbudgeted
        report.unbudgeted = find_unbudgeted(
            head_tree, head_config, head, estimator, warn
        )
        base_tree = GitTree(ws.root, merge_base, f"{ref} ({merge_base[:7]})")
        model = estimate_model(head_config)
        compare_with_base(report.unbudgeted, base_tree, model, estimator)

    counts = counter.count_all(jobs_for(head) + jobs_for(base))
    for name, a in head.items():
        previous = base.get(name)
        pairs = _pair_models(a.models, previous.models if previous else ())
        for model in a.models:
            row = _row(name, model, a, counts)
            if previous is not None and model in pairs:
                _compare(row, _row(name, pairs[model], previous, counts))
                _explain_change(row, counter, a, previous, pairs[model], counts)
                if row.change == "changed":
                    row.changed_at = a.changed_since(previous) or _origin(a)
            else:
                row.change = "new"
            judge(row, a.feature.budget, a, head_config.path, head_config.margin)
            report.rows.append(row)
    for name, previous in base.items():
        paired = (
            _pair_models(head[name].models, previous.models) if name in head else {}
        )
        for model in previous.models:
            if model in paired.values():
                continue
            old = _row(name, model, previous, counts)
            removed = Row(name, model, None, 0, old.exact, None, None, change="removed")
            removed.base_input_tokens, removed.base_exact = old.input_tokens, old.exact
            removed.base_cost_per_call = old.cost_per_call
            report.rows.append(removed)
    if explain:
        _explain(report.rows, head, base, counter)
    return report


def _origin(a: Assembly) -> tuple[str, int]:
    """Where budgets.yaml declares the feature: its origin is path:line:column."""
    path, line, _ = a.feature.origin.rsplit(":", 2)
    return path, int(line)


def _pair_models(head: tuple[str, ...], base: tuple[str, ...]) -> dict[str, str]:
    """Head model -> base model it is compared with.

    The same model pairs with itself; when a feature moved from exactly one
    model to exactly one other (a routing change), those two pair, so the
    move shows as a change in tokens and cost rather than a new feature.
    """
    pairs = {model: model for model in head if model in base}
    added = [m for m in head if m not in pairs]
    dropped = [m for m in base if m not in pairs.values()]
    if len(added) == 1 and len(dropped) == 1:
        pairs[added[0]] = dropped[0]
    return pairs


def _compare(row: Row, old: Row) -> None:
    assert row.input_tokens is not None and old.input_tokens is not None
    row.base_input_tokens = old.input_tokens
    row.base_exact = old.exact
    row.base_cost_per_call = old.cost_per_call
    row.delta = row.input_tokens - old.input_tokens
    if old.model != row.model:
        row.base_model = old.model


def _explain_change(
    row: Row,
    counter: Counter,
    head: Assembly,
    base: Assembly,
    base_model: str,
    counts: dict[str, Count],
) -> None:
    """Anchor an estimated head on an exact base, and name the change."""
    head_request = request_for(head.body, row.model)
    base_request = request_for(base.body, base_model)
    if not row.exact and row.base_exact and base_model == row.model:
        # exact base plus the estimated difference (source: anchored)
        base_tokens = counts[Job(base_request, "").key].input_tokens
        moved = counter.estimate(head_request) - counter.estimate(base_request)
        row.input_tokens = base_tokens + moved + row.reserved_tokens
        row.source = "anchored"
        assert row.base_input_tokens is not None
        row.delta = row.input_tokens - row.base_input_tokens
    unchanged = (
        head_request == base_request
        and head.max_tokens == base.max_tokens
        and row.delta == 0
    )
    row.change = "same" if unchanged else "changed"


def _base_assemblies(
    ws: Workspace,
    counter: Counter,
    commit: str,
    ref: str,
    warn: Callable[[str], None],
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
    try:
        _use_lock(counter, tree, config)
    except PromptBudgetError as exc:
        warn(f"ignoring the base's lockfile ({exc})")
    assemblies = {}
    try:
        routes = load_routes(config, tree)
    except PromptBudgetError as exc:
        warn(f"cannot read the base's routes ({exc}); every feature is new")
        return {}
    for name, feature in config.features.items():
        try:
            assemblies[name] = assemble(
                feature, config, tree, routes, counter.templates
            )
        except PromptBudgetError as exc:
            warn(
                f"feature {name} cannot be assembled at {tree.label} ({exc}); "
                "shown as new"
            )
    return assemblies
