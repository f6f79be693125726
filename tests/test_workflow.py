"""--format github: workflow commands, escaped as the runner parses them."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from test_check import classify_body

from promptbudget.budget import Row
from promptbudget.cli import cli
from promptbudget.markdown import render_markdown
from promptbudget.run import Report
from promptbudget.workflow import (
    annotation_lines,
    command,
    escape_data,
    escape_property,
    render_github,
)

from fakeapi import fake_count
from project import Project


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("50% of 1,000", "50%25 of 1,000", "50%25 of 1%2C000"),
        ("a:b", "a:b", "a%3Ab"),
        ("one\ntwo\r\n", "one%0Atwo%0D%0A", "one%0Atwo%0D%0A"),
        ("%0A", "%250A", "%250A"),
    ],
    ids=["plain", "percent-comma", "colon", "newlines", "escaped-looking"],
)
def test_escaping(text, data, prop):
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_command_line():
    line = command("error", {"file": "prompts/a,b:c.md", "line": "3"}, "over\nby 5%")
    assert line == "::error file=prompts/a%2Cb%3Ac.md,line=3::over%0Aby 5%25"


def test_annotations_point_at_the_changed_artifact_else_the_first():
    grown = Row(
        "answer",
        "claude-sonnet-4-6",
        120,
        0,
        True,
        "api",
        100,
        status="over",
        reasons=["answer on claude-sonnet-4-6: 120 > 100 tokens (+20)"],
        location=("prompts/answer.md", 1),
        changed_at=("app/rules.py", 7),
    )
    near = Row(
        "classify",
        "claude-haiku-4-5",
        95,
        0,
        False,
        "estimate",
        100,
        status="warn",
        reasons=["classify on claude-haiku-4-5: ~95 of 100 tokens (95%)"],
        location=("prompts/classify.md", 1),
    )
    fine = Row("greet", "claude-haiku-4-5", 10, 0, True, "api", 100)
    report = Report(
        "diff", [grown, near, fine], base={"ref": "main", "commit": "0" * 40}
    )

    assert annotation_lines(report) == [
        "::error file=app/rules.py,line=7,title=promptbudget%3A answer on "
        "claude-sonnet-4-6 over budget::answer on claude-sonnet-4-6: 120 > 100 "
        "tokens (+20)",
        "::warning file=prompts/classify.md,line=1,title=promptbudget%3A classify "
        "on claude-haiku-4-5 near budget::classify on claude-haiku-4-5: ~95 of 100 "
        "tokens (95%25)",
    ]
    assert annotation_lines(report, warnings_fail=True)[1].startswith("::error ")


def test_github_format_end_to_end(tmp_path, monkeypatch, fake_api_env):
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    monkeypatch.chdir(project.root)
    tokens = fake_count(classify_body())
    project.write(
        "budgets.yaml",
        project.read("budgets.yaml").replace(
            "budget: {max_input_tokens: 300}", "budget: {max_input_tokens: 20}"
        ),
    )

    result = invoke_check()

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    reason = (
        f"classify_intent on claude-haiku-4-5: {tokens:,} > 20 tokens (+{tokens - 20}); "
        "shorten prompts/classify.md or raise "
        "features.classify_intent.budget.max_input_tokens in budgets.yaml"
    )
    assert lines[0] == (
        "::error file=prompts/classify.md,line=1,title=promptbudget%3A "
        f"classify_intent on claude-haiku-4-5 over budget::{reason}"
    )
    assert lines[1] == "::group::promptbudget report"
    markdown = "\n".join(lines[3:-2]) + "\n"
    token = hashlib.sha256(markdown.encode()).hexdigest()[:32]
    assert lines[2] == f"::stop-commands::{token}"
    assert lines[-2:] == [f"::{token}::", "::endgroup::"]
    assert markdown.startswith("### ❌ promptbudget: 1 over budget")
    assert f"- {reason.replace('>', '&gt;')}" in markdown


def invoke_check():
    return CliRunner().invoke(
        cli, ["check", "--format", "github"], catch_exceptions=False
    )


def test_markdown_in_the_log_cannot_issue_commands():
    row = Row("x", "m", 1, 0, True, "api", None)
    report = Report("check", [row], notes=["::error::injected"])

    lines = render_github(report).splitlines()

    token = hashlib.sha256(render_markdown(report).encode()).hexdigest()[:32]
    stop = lines.index(f"::stop-commands::{token}")
    resume = lines.index(f"::{token}::")
    assert stop < lines.index("::error::injected") < resume


def test_a_problem_is_an_error_without_a_file():
    report = Report("check", [], problems=["promptbudget.lock: stale, 2 entries"])
    assert annotation_lines(report) == [
        "::error title=promptbudget::promptbudget.lock: stale, 2 entries"
    ]


def test_an_uncertain_estimate_is_a_notice():
    close = Row(
        "answer",
        "claude-sonnet-4-6",
        98,
        0,
        False,
        "estimate",
        100,
        reasons=["answer on claude-sonnet-4-6: ~98 is an estimate within 5% of 100"],
        location=("prompts/answer.md", 1),
        uncertain=True,
    )

    assert annotation_lines(Report("check", [close])) == [
        "::notice file=prompts/answer.md,line=1,title=promptbudget%3A answer on "
        "claude-sonnet-4-6 estimate near budget::answer on claude-sonnet-4-6: ~98 "
        "is an estimate within 5%25 of 100"
    ]
