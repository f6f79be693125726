"""Diagnostics for -v and -vv, with logging loaded only when they are asked for.

Messages name files, models, counts and hashes; never prompt text or keys.
"""

from __future__ import annotations

from typing import Any

LEVEL = {"verbose": 0}


def info(message: str, *args: Any) -> None:
    if LEVEL["verbose"] >= 1:
        _logger().info(message, *args)


def debug(message: str, *args: Any) -> None:
    if LEVEL["verbose"] >= 2:
        _logger().debug(message, *args)


def _logger() -> Any:
    import logging

    return logging.getLogger("promptbudget")
