"""promptbudget diff on real git repositories, base read through git."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from test_check import answer_body, classify_body

from promptbudget.cli import cli

from fakeapi import fake_count
from project import ALLOWANCES, Project


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def rows(result) -> dict[tuple[str, str], dict]:
    return {(r["feature"], r["model"]): r for r in json.loads(result.stdout)["results"]}


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    project.git("checkout", "-q", "-b", "feature")
    monkeypatch.chdir(project.root)
    return project


def test_unchanged_tree_diffs_to_zero(app, fake_api_env):
    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["base"] == {"ref": "main", "commit": app.git("rev-parse", "main")}
    assert {(r["change"], r["delta"]) for r in document["results"]} == {("same", 0)}
    # base and head are the same requests: each is counted once
    assert fake_api_env.count_requests() == 3


def test_grown_prompt_shows_exact_delta_and_fails_max_increase(app, fake_api_env):
    addition = "Always greet the customer by name. " * 60 + "\n"
    app.append("prompts/answer_system.md", addition)
    app.commit("longer system prompt")

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 1
    grown = answer_body("claude-sonnet-4-6")
    grown["system"][0]["text"] += addition
    base = fake_count(answer_body("claude-sonnet-4-6")) + ALLOWANCES["answer_question"]
    head = fake_count(grown) + ALLOWANCES["answer_question"]
    row = rows(result)[("answer_question", "claude-sonnet-4-6")]
    assert (row["base_input_tokens"], row["input_tokens"]) == (base, head)
    assert row["delta"] == head - base
    assert (row["change"], row["status"], row["exact"]) == ("changed", "over", True)
    assert row["messages"] == [
        f"answer_question on claude-sonnet-4-6: grew by {head - base:,} tokens "
        f"({(head - base) / base:+.1%}), over max_increase 10%; shorten "
        "prompts/answer_system.md, app/prompts.py, app/tools.py ... or raise "
        "features.answer_question.budget.max_increase in budgets.yaml"
    ]
    assert rows(result)[("classify_intent", "claude-haiku-4-5")]["change"] == "same"


def test_uncommitted_changes_count_as_head(app, fake_api_env):
    app.write("prompts/classify.md", "Label it.\n")

    result = invoke("diff", "main", "--format", "json")

    row = rows(result)[("classify_intent", "claude-haiku-4-5")]
    smaller = classify_body()
    smaller["system"][0]["text"] = "Label it.\n"
    assert row["delta"] == fake_count(smaller) - fake_count(classify_body())
    assert row["change"] == "changed"


def test_budgets_changed_on_branch_use_each_sides_config(app, fake_api_env):
    budgets = app.read("budgets.yaml").replace(
        "    models: [claude-haiku-4-5]\n    system: prompts/classify.md",
        "    models: [claude-haiku-4-5, claude-sonnet-4-6]\n    system: prompts/classify.md",
    )
    app.write("budgets.yaml", budgets)
    app.commit("classify on sonnet too")

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0
    assert rows(result)[("classify_intent", "claude-sonnet-4-6")]["change"] == "new"
    assert (
        rows(result)[("classify_intent", "claude-sonnet-4-6")]["base_input_tokens"]
        is None
    )
    assert rows(result)[("classify_intent", "claude-haiku-4-5")]["change"] == "same"


def test_feature_added_and_removed(app, fake_api_env):
    budgets = app.read("budgets.yaml")
    start = budgets.index("  classify_intent:")
    budgets = budgets[:start] + (
        "  greet:\n    system: prompts/greet.md\n    budget: {max_input_tokens: 500}\n"
    )
    app.write("budgets.yaml", budgets)
    app.write("prompts/greet.md", "Say hello to the customer.\n")
    app.commit("replace classify with greet")

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0
    new = rows(result)[("greet", "claude-sonnet-4-6")]
    removed = rows(result)[("classify_intent", "claude-haiku-4-5")]
    assert (new["change"], new["base_input_tokens"], new["delta"]) == (
        "new",
        None,
        None,
    )
    assert new["input_tokens"] == fake_count(
        {
            "model": "claude-sonnet-4-6",
            "system": [{"type": "text", "text": "Say hello to the customer.\n"}],
            "messages": [{"role": "user", "content": "Hi"}],
        }
    )
    assert removed["change"] == "removed"
    assert removed["input_tokens"] is None
    assert removed["base_input_tokens"] == fake_count(classify_body())


def test_diff_compares_against_the_merge_base(app, fake_api_env):
    app.git("checkout", "-q", "main")
    app.append("prompts/classify.md", "Main grew after the branch point.\n")
    app.commit("main moves on")
    app.git("checkout", "-q", "feature")

    result = invoke("diff", "main", "--format", "json")

    assert json.loads(result.stdout)["base"]["commit"] == app.git(
        "merge-base", "main", "HEAD"
    )
    assert rows(result)[("classify_intent", "claude-haiku-4-5")]["change"] == "same"


def test_missing_base_is_exit_2_with_how_to_fetch(app):
    result = invoke("diff", "develop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"promptbudget: error: base ref 'develop' not found in {app.root}; "
        "fetch it with 'git fetch origin develop' or name an existing ref\n"
    )


def test_ref_that_looks_like_an_option_is_refused(app):
    result = invoke("diff", "--", "--output=/tmp/x")
    assert result.exit_code == 2
    assert "refs cannot start with '-'" in result.stderr


def test_text_table_for_diff(app, fake_api_env):
    app.append("prompts/classify.md", "Reply with the label only.\n")

    result = invoke("diff", "main")

    lines = result.stdout.splitlines()
    assert lines[0] == f"base: main ({app.git('rev-parse', 'main')[:12]})"
    assert lines[1].split() == [
        "feature",
        "model",
        "base",
        "head",
        "delta",
        "budget",
        "use",
        "$/call",
        "$",
        "delta",
        "status",
        "source",
        "change",
    ]
    grown = classify_body()
    grown["system"][0]["text"] += "Reply with the label only.\n"
    delta = fake_count(grown) - fake_count(classify_body())
    assert lines[4].split()[:5] == [
        "classify_intent",
        "claude-haiku-4-5",
        str(fake_count(classify_body())),
        str(fake_count(grown)),
        f"+{delta}",
    ]


def test_base_without_budgets_yaml_makes_every_feature_new(
    tmp_path, monkeypatch, fake_api_env
):
    project = Project(tmp_path / "repo").init()
    project.write("README.md", "app\n")
    project.commit("start")
    project.git("checkout", "-q", "-b", "budgets")
    project.write_support_app()
    monkeypatch.chdir(project.root)

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0
    assert {r["change"] for r in json.loads(result.stdout)["results"]} == {"new"}
    assert "budgets.yaml does not exist at main" in result.stderr


def test_shallow_clone_without_the_base_says_fetch_depth_0(tmp_path, monkeypatch):
    upstream = Project(tmp_path / "upstream").init().write_support_app()
    upstream.commit("support app")
    upstream.git("checkout", "-q", "-b", "feature")
    upstream.append("prompts/classify.md", "More.\n")
    upstream.commit("feature work")
    shallow = tmp_path / "shallow"
    # actions/checkout's default: one commit of the pull request, no base branch
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", "feature"]
        + [f"file://{upstream.root}", str(shallow)],
        check=True,
    )
    monkeypatch.chdir(shallow)

    result = invoke("diff", "origin/main")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"promptbudget: error: base ref 'origin/main' not found in {shallow}; "
        "this is a shallow clone: set fetch-depth: 0 on actions/checkout "
        "(or run git fetch --unshallow)\n"
    )
