"""The lockfile: exact counts carried to places without an API key."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_check import answer_body, classify_body

from promptbudget.cli import cli
from promptbudget.request import request_key

from fakeapi import fake_count
from project import ALLOWANCES, Project


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.write(
        "budgets.yaml", "lockfile: promptbudget.lock\n" + project.read("budgets.yaml")
    )
    monkeypatch.chdir(project.root)
    return project


def expected_lock() -> str:
    bodies = [
        ("answer_question", answer_body("claude-haiku-4-5")),
        ("answer_question", answer_body("claude-sonnet-4-6")),
        ("classify_intent", classify_body()),
    ]
    lines = sorted(
        f"{feature} {body['model']} {request_key(body)} {fake_count(body)}"
        for feature, body in bodies
    )
    return (
        "# promptbudget lockfile: exact count_tokens answers per feature and model.\n"
        "# Written by `promptbudget lock`; do not edit by hand.\n"
        + "".join(line + "\n" for line in lines)
    )


def test_lock_writes_sorted_exact_entries(app, fake_api_env):
    result = invoke("lock")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "wrote promptbudget.lock (3 entries)\n"
    assert app.read("promptbudget.lock") == expected_lock()


def test_lock_needs_a_key(app):
    result = invoke("lock")
    assert result.exit_code == 3
    assert result.stderr == (
        "promptbudget: error: writing or verifying the lockfile needs exact counts; "
        "set ANTHROPIC_API_KEY (and drop --offline)\n"
    )


def test_lock_needs_a_lockfile_key(app, fake_api_env):
    app.write(
        "budgets.yaml",
        app.read("budgets.yaml").replace("lockfile: promptbudget.lock\n", ""),
    )
    result = invoke("lock")
    assert result.exit_code == 2
    assert "has no lockfile; add 'lockfile: promptbudget.lock' first" in result.stderr


def test_check_without_key_uses_lock_entries_as_exact(app, fake_api, monkeypatch):
    app.write("promptbudget.lock", expected_lock())

    result = invoke("check", "--format", "json")

    rows = json.loads(result.stdout)["results"]
    assert [(r["source"], r["exact"]) for r in rows] == [("lock", True)] * 3
    assert rows[0]["input_tokens"] == (
        fake_count(answer_body("claude-sonnet-4-6")) + ALLOWANCES["answer_question"]
    )
    assert fake_api.count_requests() == 0


def test_changed_prompt_does_not_use_the_stale_entry(app):
    app.write("promptbudget.lock", expected_lock())
    app.append("prompts/classify.md", "Reply in lower case.\n")

    result = invoke("check", "--format", "json")
    rows = {
        r["feature"] + "/" + r["model"]: r for r in json.loads(result.stdout)["results"]
    }

    assert rows["classify_intent/claude-haiku-4-5"]["source"] == "estimate"
    assert rows["answer_question/claude-sonnet-4-6"]["source"] == "lock"


def test_check_locked_fails_on_a_stale_lockfile(app):
    app.write("promptbudget.lock", expected_lock())
    assert invoke("check", "--locked").exit_code == 0

    app.append("prompts/classify.md", "Reply in lower case.\n")
    result = invoke("check", "--locked")

    assert result.exit_code == 1
    assert (
        "promptbudget.lock: classify_intent on claude-haiku-4-5 changed since the "
        "lockfile was written; run promptbudget lock"
    ) in result.stdout.splitlines()


def test_verify_lock_catches_a_hand_edited_entry(app, fake_api_env):
    body = classify_body()
    edited = expected_lock().replace(
        f"{request_key(body)} {fake_count(body)}", f"{request_key(body)} 1"
    )
    app.write("promptbudget.lock", edited)

    trusting = invoke("check", "--format", "json")
    verified = invoke("check", "--verify-lock")

    assert json.loads(trusting.stdout)["results"][2]["input_tokens"] == 1
    assert verified.exit_code == 1
    assert (
        f"promptbudget.lock: classify_intent on claude-haiku-4-5 says 1 but "
        f"count_tokens answers {fake_count(body):,}; run promptbudget lock"
    ) in verified.stdout.splitlines()


@pytest.mark.parametrize(
    "line",
    [
        "answer_question claude-sonnet-4-6 zz 12",
        f"answer_question claude-sonnet-4-6 {'a' * 64} \u0663\u0660",  # Arabic-Indic 30
    ],
    ids=["bad-hash", "non-ascii-digits"],
)
def test_malformed_lockfile_is_exit_2(app, line):
    app.write("promptbudget.lock", line + "\n")
    result = invoke("check")
    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: promptbudget.lock:1: not a lockfile line (feature model "
        "hash tokens); run promptbudget lock to rewrite it\n"
    )


def test_fork_diff_without_key_reads_the_base_lock_and_anchors_the_head(
    app, fake_api_env, monkeypatch
):
    invoke("lock")
    app.commit("app with lockfile")
    app.git("checkout", "-q", "-b", "fork")
    app.append("prompts/classify.md", "Reply in lower case.\n")
    monkeypatch.delenv("ANTHROPIC_API_KEY")

    result = invoke("diff", "main", "--format", "json")

    rows = {
        r["feature"] + "/" + r["model"]: r for r in json.loads(result.stdout)["results"]
    }
    unchanged = rows["answer_question/claude-sonnet-4-6"]
    changed = rows["classify_intent/claude-haiku-4-5"]
    assert (unchanged["source"], unchanged["delta"]) == ("lock", 0)
    assert changed["base_input_tokens"] == fake_count(classify_body())
    assert (changed["base_exact"], changed["source"], changed["exact"]) == (
        True,
        "anchored",
        False,
    )
    assert changed["delta"] > 0
