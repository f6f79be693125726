"""Which model names exist, to catch a misspelled one in budgets.yaml.

The names come from the installed anthropic SDK's list of model ids (read from
its source with ast, not imported, so checking a config stays fast) and from
the price table. A name that is neither, but close to one, is almost surely a
typo; a name far from all of them may be a model newer than both, and passes.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from promptbudget.pricing import builtin_prices, price_for


def is_known(model: str) -> bool:
    return price_for(model, {}) is not None or model in sdk_models()


def nearest_model(model: str) -> str | None:
    """The known model a misspelled name most likely meant, if any.

    A name that differs from a known one only in its version numbers
    (claude-opus-4-9 beside claude-opus-4-8) may be a newer model, not a typo.
    """
    import difflib

    names = sorted(set(sdk_models()) | set(builtin_prices()))
    found = difflib.get_close_matches(model, names, n=1, cutoff=0.8)
    if not found or _shape(found[0]) == _shape(model):
        return None
    return found[0]


def _shape(name: str) -> str:
    return re.sub(r"\d+", "#", name)


@cache
def sdk_models() -> frozenset[str]:
    """The model ids the installed SDK knows, read statically from its source."""
    spec = find_spec("anthropic")
    if spec is None or spec.origin is None:
        return frozenset()
    source = Path(spec.origin).parent / "types" / "model_param.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    return frozenset(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("claude-")
    )
