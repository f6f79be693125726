"""Replaying an unchanged check: same output, same exit code, nothing loaded."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from promptbudget.memo import replayable

from project import Project

SCRIPT = Path(sys.executable).with_name("promptbudget")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check"], True),
        (["check", "--format", "json", "prompts/a.md"], True),
        (["check", "--format=json", "--offline", "--jobs", "4"], True),
        (["check", "-v"], False),
        (["check", "--no-cache"], False),
        (["check", "--verify-lock"], False),
        (["check", "--output", "r.md"], False),
        (["check", "--help"], False),
        (["check", "--format"], False),
        (["diff", "main"], False),
        ([], False),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_which_command_lines_may_be_replayed(argv, expected):
    assert replayable(argv) is expected


@pytest.fixture
def app(tmp_path, fake_api):
    project = Project(tmp_path / "repo").init().write_support_app()
    project.write(
        "tools/extra.json", '{"name": "ping", "input_schema": {"type": "object"}}'
    )
    project.write(
        "budgets.yaml",
        project.read("budgets.yaml").replace(
            "tools: app/tools.py::ANSWER_TOOLS",
            "tools: [app/tools.py::ANSWER_TOOLS, 'tools/*.json']",
        ),
    )
    project.env = {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "ANTHROPIC_BASE_URL": fake_api.base_url,
        "PROMPTBUDGET_CACHE_DIR": str(tmp_path / "cache"),
    }
    return project


def run(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def forget_counts(project: Project) -> None:
    """Empty the count cache but keep remembered runs: only a replay sends nothing."""
    db = sqlite3.connect(Path(project.env["PROMPTBUDGET_CACHE_DIR"]) / "counts.sqlite3")
    with db:
        db.execute("DELETE FROM counts")
    db.close()


def test_unchanged_check_is_replayed_word_for_word(app, fake_api):
    first = run(app, "check")
    second = run(app, "check")
    forget_counts(app)
    sent = fake_api.count_requests()

    third = run(app, "check")

    assert first.returncode == second.returncode == third.returncode == 0
    assert "api" in first.stdout
    assert third.stdout == second.stdout
    assert third.stderr == ""
    assert fake_api.count_requests() == sent


def run_in(
    project: Project, folder: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=project.root / folder,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "change",
    [
        "edit a prompt",
        "edit budgets.yaml",
        "add a file the glob matches",
        "add a budgets.yaml nearer the working folder",
    ],
)
def test_any_changed_input_runs_again(app, fake_api, change):
    run_in(app, "app", "check")
    run_in(app, "app", "check")
    if change == "edit a prompt":
        app.append("prompts/classify.md", "One more rule.\n")
    elif change == "edit budgets.yaml":
        app.write("budgets.yaml", app.read("budgets.yaml") + "\n# edited\n")
    elif change == "add a file the glob matches":
        app.write(
            "tools/more.json", '{"name": "pong", "input_schema": {"type": "object"}}'
        )
    else:
        app.write(
            "app/budgets.yaml",
            "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n"
            "  x: {system: ../prompts/classify.md}\n",
        )
    forget_counts(app)
    sent = fake_api.count_requests()

    again = run_in(app, "app", "check")

    assert again.returncode == 0, again.stderr
    assert fake_api.count_requests() > sent


def test_over_budget_replays_exit_1(app, fake_api):
    app.write(
        "budgets.yaml",
        app.read("budgets.yaml").replace(
            "max_input_tokens: 300", "max_input_tokens: 5"
        ),
    )
    run(app, "check")
    second = run(app, "check")
    forget_counts(app)
    sent = fake_api.count_requests()

    third = run(app, "check")

    assert second.returncode == third.returncode == 1
    assert third.stdout == second.stdout
    assert fake_api.count_requests() == sent


def test_a_run_with_warnings_is_not_remembered(app, fake_api):
    fake_api.always_fail(529)
    run(app, "check", "--max-retries", "0")
    run(app, "check", "--max-retries", "0")
    fake_api.clear_faults()
    sent = fake_api.count_requests()

    again = run(app, "check", "--max-retries", "0")

    assert fake_api.count_requests() > sent
    assert again.stderr == ""


@pytest.mark.parametrize("change", ["a new prompt file", "a prompt in code"])
def test_a_new_unbudgeted_artifact_is_reported_not_replayed(app, fake_api, change):
    run(app, "check")
    before = run(app, "check")
    if change == "a new prompt file":
        app.write("prompts/escalate.md", "You hand the ticket to a human.\n" * 5)
        name = "prompts/escalate.md"
    else:
        app.write(
            "app/escalate.py",
            'ESCALATE_PROMPT = """You hand the ticket to a human agent.\n'
            'Summarise what the customer asked and what was tried."""\n',
        )
        name = "app/escalate.py"

    after = run(app, "check")

    assert name not in before.stdout
    assert name in after.stdout, after.stdout
