"""Prices per model, and the worst-case cost of one call.

The built-in table (data/prices.json, with its as-of date) can be overridden
per model under `prices:` in budgets.yaml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICE_FIELDS = ("input", "output", "cache_write", "cache_read")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float | None = None
    cache_read: float | None = None


@cache
def builtin_table() -> dict[str, Any]:
    text = (Path(__file__).parent / "data" / "prices.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def builtin_prices() -> dict[str, Price]:
    return {name: Price(**fields) for name, fields in builtin_table()["models"].items()}


def price_for(model: str, overrides: dict[str, Price]) -> Price | None:
    """The price of a model id: an override, else the longest built-in match.

    A dated id such as claude-haiku-4-5-20251001 matches claude-haiku-4-5; a key
    matches only at a '-' boundary, so claude-sonnet-5-5 never takes
    claude-sonnet-5's price.
    """
    if model in overrides:
        return overrides[model]
    table = builtin_prices()
    best = None
    for name in table:
        if model == name or model.startswith(name + "-"):
            if best is None or len(name) > len(best):
                best = name
    if best is not None and model != best and _is_other_version(model[len(best) :]):
        return None
    return table[best] if best is not None else None


def _is_other_version(rest: str) -> bool:
    """'-5' after claude-sonnet-5 is another model; '-20251001' or '-latest' is not."""
    tail = rest.lstrip("-")
    return tail.isdigit() and len(tail) < 8


def cost_per_call(input_tokens: int, max_tokens: int | None, price: Price) -> float:
    """Worst case: every input token plus max_tokens of output, in USD."""
    output = max_tokens or 0
    return (input_tokens * price.input + output * price.output) / 1_000_000
