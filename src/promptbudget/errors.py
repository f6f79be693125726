"""The one error family raised by core code; the CLI maps it to exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_OVER = 1
EXIT_USAGE = 2
EXIT_COUNT = 3


class PromptBudgetError(Exception):
    """A problem the user can fix; its message is one line, ready to print."""

    exit_code = EXIT_USAGE


class ConfigError(PromptBudgetError):
    """budgets.yaml, a reference, or a referenced file is wrong (exit 2)."""


class GitError(PromptBudgetError):
    """A git question could not be answered (exit 2)."""


class CountError(PromptBudgetError):
    """A count could not be made and no acceptable fallback exists (exit 3)."""

    exit_code = EXIT_COUNT


def where(path: str, line: int | None = None, column: int | None = None) -> str:
    """Format a location as path:line:column, leaving out what is unknown."""
    text = path
    if line is not None:
        text += f":{line}"
        if column is not None:
            text += f":{column}"
    return text
