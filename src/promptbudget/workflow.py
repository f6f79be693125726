"""GitHub Actions workflow commands: annotations on the lines that grew.

Runners read `::error file=...,line=...::message` from a step's output and
show it on the pull request's diff. Data and properties are escaped as the
runner expects, so a path or message cannot end the command early or start
another one.
"""

from __future__ import annotations

import hashlib

from promptbudget.budget import Row
from promptbudget.markdown import render_markdown
from promptbudget.run import Report


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, str], message: str) -> str:
    """One workflow command line, without its newline."""
    props = ",".join(f"{key}={escape_property(v)}" for key, v in properties.items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotation_lines(report: Report, warnings_fail: bool = False) -> list[str]:
    """An ::error or ::warning for each row over or near its budget."""
    lines = []
    for row in report.rows:
        if row.status in ("over", "error"):
            level = "error"
        elif row.status == "warn":
            level = "error" if warnings_fail else "warning"
        elif row.uncertain:
            level = "notice"  # an estimate that may be on the wrong side
        else:
            continue
        lines.append(command(level, _where(row), "\n".join(row.reasons)))
    for problem in report.problems:
        lines.append(command("error", {"title": "promptbudget"}, problem))
    return lines


def _where(row: Row) -> dict[str, str]:
    properties = {}
    location = row.changed_at or row.location
    if location is not None:
        properties["file"], properties["line"] = location[0], str(location[1])
    state = {"warn": "near budget", "ok": "estimate near budget"}.get(
        row.status, "over budget"
    )
    properties["title"] = f"promptbudget: {row.feature} on {row.model} {state}"
    return properties


def folded(title: str, text: str) -> list[str]:
    """text in a collapsed log group, with workflow commands switched off.

    The token that switches them back on is derived from the text itself, so
    text cannot contain it (short of a hash fixed point).
    """
    token = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return [
        f"::group::{escape_data(title)}",
        f"::stop-commands::{token}",
        *text.rstrip("\n").split("\n"),
        f"::{token}::",
        "::endgroup::",
    ]


def render_github(report: Report) -> str:
    """Annotations, then the markdown report folded in the log."""
    lines = annotation_lines(report)
    lines += folded("promptbudget report", render_markdown(report))
    return "\n".join(lines) + "\n"
