"""The markdown reporter: a PR comment or job summary that fits GitHub's limit.

Rows that need a reader's eye (changed, new, removed, near or over budget)
go in the main table; the rest are folded in <details>. When the document
would pass the limit, rows are left out, last first, with a note saying how
many.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptbudget.budget import Row, summarize
from promptbudget.run import Report

# GitHub refuses an issue comment longer than this many characters.
COMMENT_LIMIT = 65_536
MAX_REASONS = 20
MAX_UNBUDGETED = 20
ICONS = {"ok": "✅", "warn": "⚠️", "over": "❌", "error": "❌"}
SEVERITY = {"over": 0, "error": 0, "warn": 1, "ok": 2}


@dataclass
class _Table:
    header: list[str]
    rows: list[str] = field(default_factory=list)
    shown: int = 0


def render_markdown(report: Report, limit: int = COMMENT_LIMIT) -> str:
    """The report as GitHub-flavoured markdown of at most limit characters."""
    is_diff = report.command == "diff"
    flagged = sorted(
        (row for row in report.rows if _needs_eye(row, is_diff)),
        key=lambda row: SEVERITY[row.status],
    )
    quiet = [row for row in report.rows if not _needs_eye(row, is_diff)]

    main = _Table(_main_header(is_diff), [_main_row(r, is_diff) for r in flagged])
    folded = _Table(_folded_header(), [_folded_row(r) for r in quiet])
    reasons = [f"- {escape(reason)}" for row in flagged for reason in row.reasons]
    if len(reasons) > MAX_REASONS:
        extra = len(reasons) - MAX_REASONS
        reasons = reasons[:MAX_REASONS] + [f"- … and {extra} more"]

    _fit(main, folded, reasons, limit, _fixed(report, is_diff, quiet))
    return _compose(report, is_diff, main, folded, reasons, quiet, limit)


def _needs_eye(row: Row, is_diff: bool) -> bool:
    changed = is_diff and row.change != "same"
    return row.status != "ok" or row.uncertain or changed


def _fixed(report: Report, is_diff: bool, quiet: list[Row]) -> int:
    """Characters of everything but the rows and reasons, notes included."""
    empty_main = _Table(_main_header(is_diff))
    empty_folded = _Table(_folded_header())
    text = _compose(report, is_diff, empty_main, empty_folded, [], quiet, 0)
    return len(text) + len(_truncation_note(10**6, 10**6, 10**9)) + 2


def _fit(
    main: _Table, folded: _Table, reasons: list[str], limit: int, used: int
) -> None:
    """Choose how many rows of each table fit: reasons first, then main, folded."""
    used += sum(len(line) + 1 for line in reasons)
    if main.rows:
        used += sum(len(line) + 1 for line in main.header)
    for table in (main, folded):
        for line in table.rows:
            if used + len(line) + 1 > limit:
                break
            used += len(line) + 1
            table.shown += 1


def _compose(
    report: Report,
    is_diff: bool,
    main: _Table,
    folded: _Table,
    reasons: list[str],
    quiet: list[Row],
    limit: int,
) -> str:
    lines = [f"### {_headline(report, is_diff)}", "", _context(report), ""]
    if main.rows:
        lines += main.header + main.rows[: main.shown] + [""]
    if reasons:
        lines += reasons + [""]
    lines += [escape(note) for note in report.notes]
    if report.problems:
        lines += [f"- {ICONS['over']} {escape(p)}" for p in report.problems] + [""]
    lines += _unbudgeted(report, is_diff)
    if quiet:
        label = "unchanged" if is_diff else "within budget"
        lines += [
            f"<details><summary>{len(quiet)} {label}</summary>",
            "",
            *folded.header,
            *folded.rows[: folded.shown],
            "",
            "</details>",
            "",
        ]
    hidden_main = len(main.rows) - main.shown
    hidden_folded = len(folded.rows) - folded.shown
    if hidden_main or hidden_folded:
        lines += [_truncation_note(hidden_main, hidden_folded, limit), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _unbudgeted(report: Report, is_diff: bool) -> list[str]:
    """Artifacts no feature covers; in a diff, those that changed come first."""
    items = report.unbudgeted
    if not items:
        return []
    if is_diff:
        items = sorted(items, key=lambda i: i.delta == 0)
    icon = ICONS["over"] if report.unbudgeted_policy == "error" else ICONS["warn"]
    count = len(items)
    lines = [
        f"{icon} **{count} unbudgeted {_plural(count, 'artifact')}**: no feature "
        f"covers {'it' if count == 1 else 'them'} "
        f"(`discover.unbudgeted: {report.unbudgeted_policy}`)",
        "",
    ]
    if is_diff:
        lines += [
            "| kind | artifact | base | head | change |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
    else:
        lines += ["| kind | artifact | tokens |", "| --- | --- | ---: |"]
    for item in items[:MAX_UNBUDGETED]:
        cells = [item.kind, f"`{_code(item.reference)}` (line {item.line})"]
        if is_diff:
            base = "new" if item.base_tokens is None else f"~{item.base_tokens:,}"
            change = "-" if item.delta is None else _signed(item.delta)
            cells += [base, f"~{item.tokens:,}", change]
        else:
            cells.append(f"~{item.tokens:,}")
        lines.append("| " + " | ".join(cells) + " |")
    if len(items) > MAX_UNBUDGETED:
        lines.append(
            f"_… and {len(items) - MAX_UNBUDGETED} more; `--format json` has them all._"
        )
    return lines + [""]


def _truncation_note(hidden_main: int, hidden_folded: int, limit: int) -> str:
    hidden = hidden_main + hidden_folded
    return (
        f"_{hidden:,} more {'row' if hidden == 1 else 'rows'} left out to stay "
        f"within {limit:,} characters; `--format json` has them all._"
    )


def _headline(report: Report, is_diff: bool) -> str:
    summary = summarize(report.rows)
    if report.problems and not (summary["over"] or summary["error"]):
        count = len(report.problems)
        return f"{ICONS['over']} promptbudget: {count} {_plural(count, 'problem')}"
    if not report.rows:
        return f"{ICONS['ok']} promptbudget: nothing to count"
    if summary["over"] or summary["error"]:
        over = summary["over"] + summary["error"]
        verdict = f"{ICONS['over']} promptbudget: {over:,} over budget"
    elif summary["warn"]:
        verdict = f"{ICONS['warn']} promptbudget: {summary['warn']:,} near budget"
    else:
        verdict = f"{ICONS['ok']} promptbudget: within budget"
    return f"{verdict} · {_total(report.rows, is_diff)}"


def _total(rows: list[Row], is_diff: bool) -> str:
    head = [r for r in rows if r.input_tokens is not None]
    head_total = sum(r.input_tokens or 0 for r in head)
    exact = all(r.exact for r in head)
    if not is_diff:
        return f"{_tokens(head_total, exact)} input tokens in {len(head)} counts"
    base = [r for r in rows if r.base_input_tokens is not None]
    base_total = sum(r.base_input_tokens or 0 for r in base)
    exact = exact and all(r.base_exact for r in base)
    delta = head_total - base_total
    mark = "" if exact else "~"
    percent = f" ({_percent(delta, base_total)})" if base_total else ""
    return f"total {mark}{_signed(delta)} tokens{percent}"


def _context(report: Report) -> str:
    counted = [r for r in report.rows if r.input_tokens is not None]
    estimated = any(not r.exact for r in counted) or any(
        r.base_exact is False for r in report.rows
    )
    exactness = (
        "Counts marked ~ are offline estimates; set ANTHROPIC_API_KEY for exact counts."
        if estimated
        else "All counts are exact (count_tokens)."
    )
    if report.base is None:
        return exactness
    commit = report.base["commit"][:12]
    return f"Base: `{_code(report.base['ref'])}` at `{commit}`. {exactness}"


def _main_header(is_diff: bool) -> list[str]:
    if is_diff:
        return [
            "| feature | model | base | head | delta | % | budget use | status |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
    return [
        "| feature | model | input | budget use | status |",
        "| --- | --- | ---: | ---: | --- |",
    ]


def _main_row(row: Row, is_diff: bool) -> str:
    cells = [f"`{_code(row.feature)}`", escape(row.model)]
    if is_diff:
        cells += [
            _tokens(row.base_input_tokens, row.base_exact),
            _tokens(row.input_tokens, row.exact),
            _delta(row),
            _change_percent(row),
        ]
    else:
        cells.append(_tokens(row.input_tokens, row.exact))
    cells += [_use(row), _status(row)]
    return "| " + " | ".join(cells) + " |"


def _folded_header() -> list[str]:
    return [
        "| feature | model | tokens | budget use | status |",
        "| --- | --- | ---: | ---: | --- |",
    ]


def _folded_row(row: Row) -> str:
    cells = [
        f"`{_code(row.feature)}`",
        escape(row.model),
        _tokens(row.input_tokens, row.exact),
        _use(row),
        _status(row),
    ]
    return "| " + " | ".join(cells) + " |"


def _status(row: Row) -> str:
    return f"{ICONS[row.status]} {row.status}"


def _tokens(value: int | None, exact: bool | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if exact else f"~{value:,}"


def _delta(row: Row) -> str:
    if row.change == "new":
        return "new"
    if row.change == "removed":
        return "removed"
    return "-" if row.delta is None else _signed(row.delta)


def _change_percent(row: Row) -> str:
    if row.delta is None or not row.base_input_tokens:
        return "-"
    return _percent(row.delta, row.base_input_tokens)


def _use(row: Row) -> str:
    if not row.max_input_tokens or row.input_tokens is None:
        return "-"
    use = row.input_tokens / row.max_input_tokens
    return f"{use:.0%} of {row.max_input_tokens:,}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _signed(number: int) -> str:
    return "0" if number == 0 else f"{number:+,}"


def _percent(delta: int, base: int) -> str:
    return f"{delta / base:+.1%}"


def escape(text: str) -> str:
    """Keep user text from breaking a table or opening HTML."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


def _code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|")
