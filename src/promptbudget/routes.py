"""Routing tables: which model (and max_tokens) each feature calls.

Real services keep a dict such as

    ROUTES = {"classify": {"model": "claude-haiku-4-5", "max_tokens": 16}}

in code. `routes: app/routing.py::ROUTES` in budgets.yaml reads it statically,
so moving a feature to another model shows up in check and diff.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptbudget.config import Config
from promptbudget.errors import ConfigError
from promptbudget.refs import expand, parse_reference, resolve
from promptbudget.tree import Tree


@dataclass(frozen=True)
class Route:
    model: str
    max_tokens: int | None
    path: str
    line: int


def load_routes(config: Config, tree: Tree) -> dict[str, Route]:
    if config.routes is None:
        return {}
    origin = f"{config.path}: routes"
    ref = expand(parse_reference(config.routes, config.base_dir, origin), tree, origin)
    found = resolve(ref[0], tree, origin)
    where = f"{found.path}:{found.line}"
    if not isinstance(found.value, dict):
        raise ConfigError(
            f"{where}: '{found.reference}' is not a mapping of feature names to "
            "{model, max_tokens}"
        )
    routes = {}
    for name, entry in found.value.items():
        if isinstance(entry, str):
            entry = {"model": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise ConfigError(
                f"{where}: route '{name}' has no model name; "
                "write it as {'model': 'claude-...', 'max_tokens': N}"
            )
        max_tokens = entry.get("max_tokens")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
        ):
            raise ConfigError(f"{where}: route '{name}' max_tokens is not an integer")
        routes[str(name)] = Route(entry["model"], max_tokens, found.path, found.line)
    return routes
