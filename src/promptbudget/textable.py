"""Plain-text tables: columns padded to their widest cell."""

from __future__ import annotations

from collections.abc import Collection


def align(table: list[list[str]], numeric: Collection[int] = ()) -> list[str]:
    """Rows of cells as lines; numeric columns right-aligned, trailing space cut."""
    if not table:
        return []
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in table
    ]


def tokens(value: int | None, exact: bool = False) -> str:
    """A token count, marked ~ unless exact; - when unknown."""
    if value is None:
        return "-"
    return f"{value:,}" if exact else f"~{value:,}"


def signed(value: int | None) -> str:
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:+,}"
