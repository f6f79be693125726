"""Reporters: each turns a Report into the text of one format.

Every reporter has the same shape, Reporter: report in, document out. The
CLI prints the document or writes it to --output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promptbudget.budget import Row, summarize
from promptbudget.markdown import render_markdown
from promptbudget.run import Report
from promptbudget.sarif import render_sarif
from promptbudget.workflow import render_github

SCHEMA_VERSION = 1


def render_text(report: Report) -> str:
    lines = []
    if report.base is not None:
        lines.append(f"base: {report.base['ref']} ({report.base['commit'][:12]})")
    if report.rows:
        lines.extend(_table(report))
    reasons = [reason for row in report.rows for reason in row.reasons]
    if reasons:
        lines.append("")
        lines.extend(reasons)
    lines.extend(report.notes)
    if report.rows:
        lines.append("")
        lines.append(_footer(report.rows))
    return "\n".join(lines) + "\n"


def _table(report: Report) -> list[str]:
    is_diff = report.command == "diff"
    header = ["feature", "model"]
    header += ["base", "head", "delta"] if is_diff else ["input"]
    header += ["budget", "use", "status", "source"]
    if is_diff:
        header.append("change")
    table = [header]
    for row in report.rows:
        cells = [row.feature, row.model]
        if is_diff:
            cells += [
                _tokens(row.base_input_tokens, row.base_exact),
                _tokens(row.input_tokens, row.exact),
                _delta(row),
            ]
        else:
            cells.append(_tokens(row.input_tokens, row.exact))
        cells += [_budget(row), _use(row), row.status, row.source or "-"]
        if is_diff:
            cells.append(row.change or "-")
        table.append(cells)
    numeric = {2, 3, 4, 5, 6} if is_diff else {2, 3, 4}
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in table
    ]


def _tokens(value: int | None, exact: bool | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if exact else f"~{value:,}"


def _delta(row: Row) -> str:
    if row.delta is None:
        return "-"
    return "0" if row.delta == 0 else f"{row.delta:+,}"


def _budget(row: Row) -> str:
    return f"{row.max_input_tokens:,}" if row.max_input_tokens else "-"


def _use(row: Row) -> str:
    if not row.max_input_tokens or row.input_tokens is None:
        return "-"
    return f"{row.input_tokens / row.max_input_tokens:.0%}"


def _footer(rows: list[Row]) -> str:
    summary = summarize(rows)
    counted = [row for row in rows if row.input_tokens is not None]
    estimated = sum(1 for row in counted if not row.exact)
    verdict = ", ".join(
        f"{n} {status}" for status, n in summary.items() if n or status == "ok"
    )
    exactness = (
        "all counts exact"
        if not estimated
        else f"{estimated} of {len(counted)} counts estimated offline (~)"
    )
    return f"{verdict}; {exactness}"


def render_json(report: Report) -> str:
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "command": report.command,
        "base": report.base,
        "results": [_json_row(row, report.command == "diff") for row in report.rows],
        "summary": summarize(report.rows),
    }
    return json.dumps(document, indent=2) + "\n"


def _json_row(row: Row, is_diff: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "feature": row.feature,
        "model": row.model,
        "input_tokens": row.input_tokens,
        "reserved_tokens": row.reserved_tokens,
        "exact": row.exact,
        "source": row.source,
        "max_input_tokens": row.max_input_tokens,
        "status": row.status,
        "messages": row.reasons,
    }
    if row.location is not None:
        item["path"], item["line"] = row.location
    if is_diff:
        item["base_input_tokens"] = row.base_input_tokens
        item["base_exact"] = row.base_exact
        item["delta"] = row.delta
        item["change"] = row.change
        changed = row.changed_at or (None, None)
        item["changed_path"], item["changed_line"] = changed
    return item


Reporter = Callable[[Report], str]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
    "sarif": render_sarif,
}
