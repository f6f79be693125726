"""Reporters: each turns a Report into the text of one format.

Every reporter has the same shape, Reporter: report in, document out. The
CLI prints the document or writes it to --output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promptbudget.adhoc import CountRow
from promptbudget.budget import Row, summarize
from promptbudget.markdown import render_markdown
from promptbudget.run import Report
from promptbudget.sarif import render_sarif
from promptbudget.textable import align, signed
from promptbudget.textable import tokens as token_cell
from promptbudget.workflow import render_github

SCHEMA_VERSION = 1


def render_text(report: Report) -> str:
    lines = []
    if report.base is not None:
        lines.append(f"base: {report.base['ref']} ({report.base['commit'][:12]})")
    if report.rows:
        lines.extend(_table(report))
    explained = [row for row in report.rows if row.parts]
    for row in explained:
        lines.append("")
        lines.extend(_parts(row))
    reasons = [reason for row in report.rows for reason in row.reasons]
    if reasons:
        lines.append("")
        lines.extend(reasons)
    if report.unbudgeted:
        if lines:
            lines.append("")
        lines.extend(_unbudgeted_text(report))
    lines.extend(report.notes)
    if report.problems:
        lines.append("")
        lines.extend(report.problems)
    if report.rows:
        lines.append("")
        footer = _footer(report.rows)
        if report.unbudgeted:
            verdict, _, exactness = footer.partition("; ")
            footer = f"{verdict}, {len(report.unbudgeted)} unbudgeted; {exactness}"
        lines.append(footer)
    return "\n".join(lines) + "\n"


def _unbudgeted_text(report: Report) -> list[str]:
    """The artifacts no feature covers, with their (estimated) size or change."""
    is_diff = report.command == "diff"
    count = len(report.unbudgeted)
    noun = "artifact" if count == 1 else "artifacts"
    lines = [
        f"unbudgeted: {count} {noun} no feature covers "
        f"(discover.unbudgeted: {report.unbudgeted_policy})"
    ]
    header = ["kind", "reference", "line"]
    header += ["base", "head", "delta"] if is_diff else ["tokens"]
    table = [header]
    for item in report.unbudgeted:
        cells = [item.kind, item.reference, str(item.line)]
        if is_diff:
            cells += [
                token_cell(item.base_tokens),
                token_cell(item.tokens),
                signed(item.delta),
            ]
        else:
            cells.append(token_cell(item.tokens))
        table.append(cells)
    lines.extend(align(table, {2, 3, 4, 5}))
    if report.unbudgeted_policy == "error":
        lines.append(
            "unbudgeted artifacts are an error here (discover.unbudgeted: error): "
            "reference each from a feature in budgets.yaml, or leave it out with "
            "discover.exclude"
        )
    return lines


def _table(report: Report) -> list[str]:
    is_diff = report.command == "diff"
    priced = any(row.cost_per_call is not None for row in report.rows)
    header = ["feature", "model"]
    header += ["base", "head", "delta"] if is_diff else ["input"]
    header += ["budget", "use"]
    if priced:
        header += ["$/call", "$ delta"] if is_diff else ["$/call"]
    header += ["status", "source"]
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
        cells += [_budget(row), _use(row)]
        if priced:
            cells.append(_dollars(row.cost_per_call, row.exact))
            if is_diff:
                cells.append(_cost_delta(row))
        cells += [row.status, row.source or "-"]
        if is_diff:
            cells.append(_change(row))
        table.append(cells)
    first_text = header.index("status")
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if 2 <= i < first_text else cell.ljust(widths[i])
            for i, cell in enumerate(r)
        ).rstrip()
        for r in table
    ]


def _parts(row: Row) -> list[str]:
    mark = "" if row.parts_exact else "~"
    title = f"{row.feature} on {row.model}, by part"
    if not row.parts_exact:
        title += " (~ estimated)"
    table = [["part", "base", "head", "delta"]]
    for label, before, after in row.parts:
        change = (after or 0) - (before or 0)
        table.append(
            [
                label,
                "-" if before is None else f"{mark}{before:,}",
                "-" if after is None else f"{mark}{after:,}",
                "0" if change == 0 else f"{change:+,}",
            ]
        )
    if row.change is None:
        table = [[cells[0], cells[2]] for cells in table]
        table[0][1] = "tokens"
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return [title] + [
        "  "
        + "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
            for i, c in enumerate(r)
        ).rstrip()
        for r in table
    ]


def _dollars(value: float | None, exact: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if exact else f"~{value:.4f}"


def _cost_delta(row: Row) -> str:
    if row.cost_per_call is None or row.base_cost_per_call is None:
        return "-"
    change = row.cost_per_call - row.base_cost_per_call
    return "0" if abs(change) < 0.00005 else f"{change:+.4f}"


def _change(row: Row) -> str:
    if row.base_model is not None:
        return f"changed (was {row.base_model})"
    return row.change or "-"


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
        "problems": report.problems,
        "unbudgeted": {
            "policy": report.unbudgeted_policy,
            "artifacts": [
                _json_unbudgeted(item, report.command == "diff")
                for item in report.unbudgeted
            ],
        },
    }
    return json.dumps(document, indent=2) + "\n"


def _json_unbudgeted(item: Any, is_diff: bool) -> dict[str, Any]:
    entry = {
        "kind": item.kind,
        "reference": item.reference,
        "path": item.path,
        "line": item.line,
        "tokens": item.tokens,
        "exact": False,
    }
    if is_diff:
        entry["base_tokens"] = item.base_tokens
        entry["delta"] = item.delta
    return entry


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
        "uncertain": row.uncertain,
        "messages": row.reasons,
    }
    if row.parts:
        item["parts"] = [
            {"part": label, "base_tokens": before, "tokens": after}
            for label, before, after in row.parts
        ]
        item["parts_exact"] = row.parts_exact
    item["max_tokens"] = row.max_tokens
    item["cost_per_call"] = _rounded(row.cost_per_call)
    if row.location is not None:
        item["path"], item["line"] = row.location
    if is_diff:
        item["base_input_tokens"] = row.base_input_tokens
        item["base_exact"] = row.base_exact
        item["delta"] = row.delta
        item["change"] = row.change
        item["base_model"] = row.base_model
        item["base_cost_per_call"] = _rounded(row.base_cost_per_call)
        changed = row.changed_at or (None, None)
        item["changed_path"], item["changed_line"] = changed
    return item


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def render_count_text(rows: list[CountRow], total: list[CountRow]) -> str:
    table = [["target", "model", "input", "source"]]
    for row in [*rows, *total]:
        table.append(
            [row.target, row.model, _tokens(row.input_tokens, row.exact), row.source]
        )
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [
        "  ".join(
            c.rjust(widths[i]) if i == 2 else c.ljust(widths[i])
            for i, c in enumerate(r)
        ).rstrip()
        for r in table
    ]
    if any(not row.exact for row in rows):
        lines.append("")
        lines.append("~ estimated offline; set ANTHROPIC_API_KEY for exact counts")
    return "\n".join(lines) + "\n"


def render_count_json(rows: list[CountRow], total: list[CountRow]) -> str:
    document = {
        "schema": SCHEMA_VERSION,
        "command": "count",
        "results": [_count_row(row) for row in rows],
        "totals": [_count_row(row) for row in total],
    }
    return json.dumps(document, indent=2) + "\n"


def _count_row(row: CountRow) -> dict[str, Any]:
    return {
        "target": row.target,
        "model": row.model,
        "input_tokens": row.input_tokens,
        "exact": row.exact,
        "source": row.source,
    }


Reporter = Callable[[Report], str]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
    "sarif": render_sarif,
}
