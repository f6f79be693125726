"""The discover job: find every artifact, mark coverage, estimate each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptbudget import gitutil
from promptbudget.config import Config, DiscoverSettings, load_config
from promptbudget.discovery import Discovery, cover, discover
from promptbudget.errors import ConfigError, PromptBudgetError
from promptbudget.request import Assembly, assemble
from promptbudget.routes import load_routes
from promptbudget.run import Workspace, find_workspace
from promptbudget.tree import Tree, WorkTree
from promptbudget.unbudgeted import Estimator, estimate_artifact, estimate_model


@dataclass
class Inventory:
    """What discover reports: the artifacts, the model their estimates are for."""

    discovery: Discovery
    model: str
    config_path: str | None


def discover_job(
    cwd: Path,
    config_option: str | None,
    estimator: Estimator,
    warn: Callable[[str], None],
) -> Inventory:
    """Find every artifact, mark what budgets.yaml covers, estimate each one."""
    ws = _optional_workspace(cwd, config_option)
    tree = WorkTree(ws.root)
    config = load_config(tree, ws.config_path) if ws.config_path else None
    settings = config.discover if config is not None else DiscoverSettings()
    skip = {ws.config_path} if ws.config_path else set()
    found = discover(tree, settings, skip=skip, warn=warn, templates=True)
    if config is not None:
        cover(found, _assemble_what_can_be(config, tree, warn))
    model = estimate_model(config)
    for artifact in found.artifacts:
        if artifact.kind != "call":
            artifact.tokens = estimate_artifact(artifact, model, estimator)
    return Inventory(found, model, ws.config_path or None)


def _optional_workspace(cwd: Path, config_option: str | None) -> Workspace:
    """The workspace, with config_path "" when there is no budgets.yaml yet."""
    try:
        return find_workspace(cwd, config_option)
    except ConfigError:
        if config_option is not None:
            raise
    top = gitutil.toplevel(cwd)
    return Workspace((top or cwd).resolve(), "", top is not None)


def _assemble_what_can_be(
    config: Config, tree: Tree, warn: Callable[[str], None]
) -> dict[str, Assembly]:
    """Each feature's request, for coverage; one that fails covers nothing."""
    try:
        routes = load_routes(config, tree)
    except PromptBudgetError as exc:
        warn(f"cannot read the routes ({exc}); features without models cover nothing")
        routes = {}
    assemblies = {}
    for name, feature in config.features.items():
        try:
            assemblies[name] = assemble(feature, config, tree, routes)
        except PromptBudgetError as exc:
            warn(f"feature {name} cannot be assembled ({exc}); it covers nothing")
    return assemblies
