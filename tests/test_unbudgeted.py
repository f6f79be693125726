"""Artifacts no feature covers: discover marks them, check and diff report them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli
from promptbudget.estimate import estimate_text

from project import SYSTEM_PROMPT, Project

PLANNER = "You plan support work for the week. List the tickets by urgency.\n"
PLANNER_MODULE = f"PLANNER_SYSTEM = {PLANNER!r}\n"
MODEL = "claude-sonnet-4-6"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tokens(text: str) -> int:
    return estimate_text(text, MODEL)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    monkeypatch.chdir(project.root)
    return project


def set_policy(app: Project, policy: str) -> None:
    app.append("budgets.yaml", f"discover:\n  unbudgeted: {policy}\n")


def test_fully_budgeted_app_reports_nothing_extra(app, fake_api_env):
    result = invoke("check")

    assert result.exit_code == 0
    assert "unbudgeted" not in result.stdout
    assert result.stdout.splitlines()[-1] == "3 ok; all counts exact"


def test_check_warns_about_an_unbudgeted_prompt(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)

    result = invoke("check")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[4:] == [
        "",
        "unbudgeted: 1 artifact no feature covers (discover.unbudgeted: warn)",
        "kind    reference                     line  tokens",
        f"system  app/agent.py::PLANNER_SYSTEM     1{'~' + str(tokens(PLANNER)):>8}",
        "",
        "3 ok, 1 unbudgeted; all counts exact",
    ]


def test_unbudgeted_error_exits_1(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    set_policy(app, "error")

    result = invoke("check", "--format", "json")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["summary"] == {"ok": 3, "warn": 0, "over": 0, "error": 0}
    assert document["unbudgeted"] == {
        "policy": "error",
        "artifacts": [
            {
                "kind": "system",
                "reference": "app/agent.py::PLANNER_SYSTEM",
                "path": "app/agent.py",
                "line": 1,
                "tokens": tokens(PLANNER),
                "exact": False,
            }
        ],
    }
    text = invoke("check")
    assert text.exit_code == 1
    assert (
        "unbudgeted artifacts are an error here (discover.unbudgeted: error): "
        "reference each from a feature in budgets.yaml, or leave it out with "
        "discover.exclude"
    ) in text.stdout


def test_unbudgeted_ignore_does_not_look(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    set_policy(app, "ignore")

    result = invoke("check", "--format", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["unbudgeted"] == {
        "policy": "ignore",
        "artifacts": [],
    }


def test_covering_it_from_a_feature_clears_it(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    app.append(
        "budgets.yaml",
        "  plan_week:\n"
        "    system: app/agent.py::PLANNER_SYSTEM\n"
        "    budget: {max_input_tokens: 500}\n",
    )

    result = invoke("check", "--format", "json")

    assert json.loads(result.stdout)["unbudgeted"]["artifacts"] == []


def test_check_with_files_reports_only_those_files(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    app.write("prompts/digest.md", "Summarise yesterday's tickets in five lines.\n")

    result = invoke("check", "--format", "json", "prompts/digest.md")

    document = json.loads(result.stdout)
    assert document["results"] == []
    assert [a["reference"] for a in document["unbudgeted"]["artifacts"]] == [
        "prompts/digest.md"
    ]
    assert result.exit_code == 0


CALLS_MODULE = """\
import anthropic

from app.prompts import SAFETY_RULES
from app.tools import ANSWER_TOOLS

client = anthropic.Anthropic()


def answer(question):
    return client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=1024,
        system=SAFETY_RULES,
        tools=ANSWER_TOOLS,
        messages=[{"role": "user", "content": question}],
    )


def escalate(question):
    return client.messages.create(
        model="claude-opus-4-8",
        max_tokens=1024,
        system=SAFETY_RULES,
        messages=[{"role": "user", "content": question}],
    )
"""


def test_a_call_is_covered_by_a_feature_that_sends_all_it_sends_on_its_model(
    app, fake_api_env
):
    # answer() sends what answer_question budgets, on one of its models;
    # escalate() reuses a budgeted prompt on a model no feature counts.
    app.write("app/service.py", CALLS_MODULE)

    result = invoke("discover", "--format", "json")

    calls = {
        a["reference"]: a["features"]
        for a in json.loads(result.stdout)["artifacts"]
        if a["kind"] == "call"
    }
    assert calls == {
        "app/service.py::answer()": ["answer_question"],
        "app/service.py::escalate()": [],
    }


def test_check_with_files_finds_what_a_full_check_finds_in_them(app, fake_api_env):
    # wording.py names no LLM library and no prompt word; it holds prompts only
    # because an LLM module imports it, which scanning it alone cannot tell.
    app.write(
        "app/wording.py",
        'WELCOME = f"Welcome to Acme! What can we do for you about {topic} today?"\n',
    )
    app.write("app/agent.py", "import anthropic\nfrom app.wording import WELCOME\n")
    set_policy(app, "error")

    full = invoke("check", "--format", "json")
    hook = invoke("check", "--format", "json", "app/wording.py")

    expected = ["app/wording.py::WELCOME"]
    for result in (full, hook):
        found = json.loads(result.stdout)["unbudgeted"]["artifacts"]
        assert [a["reference"] for a in found] == expected
        assert result.exit_code == 1


def test_diff_shows_how_unbudgeted_artifacts_changed(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    app.commit("planner")
    app.git("checkout", "-q", "-b", "feature")
    grown = PLANNER + "Group them by customer and add one line of context each.\n"
    app.write("app/agent.py", f"PLANNER_SYSTEM = {grown!r}\n")
    app.write("prompts/new_helper.md", "You draft polite replies to angry customers.\n")

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0
    artifacts = json.loads(result.stdout)["unbudgeted"]["artifacts"]
    assert [
        (a["reference"], a["base_tokens"], a["tokens"], a["delta"]) for a in artifacts
    ] == [
        (
            "app/agent.py::PLANNER_SYSTEM",
            tokens(PLANNER),
            tokens(grown),
            tokens(grown) - tokens(PLANNER),
        ),
        (
            "prompts/new_helper.md",
            None,
            tokens("You draft polite replies to angry customers.\n"),
            None,
        ),
    ]
    text = invoke("diff", "main").stdout.splitlines()
    start = text.index(
        "unbudgeted: 2 artifacts no feature covers (discover.unbudgeted: warn)"
    )
    assert text[start + 1].split() == [
        "kind",
        "reference",
        "line",
        "base",
        "head",
        "delta",
    ]
    assert text[start + 2].split() == [
        "system",
        "app/agent.py::PLANNER_SYSTEM",
        "1",
        f"~{tokens(PLANNER)}",
        f"~{tokens(grown)}",
        f"+{tokens(grown) - tokens(PLANNER)}",
    ]


def test_discover_marks_coverage_per_feature(app):
    app.write("app/agent.py", PLANNER_MODULE)

    result = invoke("discover")

    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    chars = f"{len(SYSTEM_PROMPT):,}"
    assert rows[0] == ["kind", "reference", "line", "chars", "tokens", "features"]
    assert rows[1:7] == [
        [
            "system",
            "app/agent.py::PLANNER_SYSTEM",
            "1",
            str(len(PLANNER)),
            f"~{tokens(PLANNER)}",
            "unbudgeted",
        ],
        [
            "tools",
            "app/tools.py::ANSWER_TOOLS",
            "1",
            rows[2][3],
            rows[2][4],
            "answer_question",
        ],
        [
            "template",
            "prompts/answer_rag.j2",
            "1",
            rows[3][3],
            rows[3][4],
            "answer_question",
        ],
        [
            "system",
            "prompts/answer_system.md",
            "1",
            chars,
            f"~{tokens(SYSTEM_PROMPT)}",
            "answer_question",
        ],
        [
            "system",
            "prompts/classify.md",
            "1",
            rows[5][3],
            rows[5][4],
            "classify_intent",
        ],
        [],
    ]
    assert (
        rows[7]
        == (
            "5 found (3 system prompts, 1 tool list, 1 template); 1 unbudgeted in "
            "budgets.yaml; ~ tokens are offline estimates for claude-sonnet-4-6"
        ).split()
    )


def test_discover_without_budgets_yaml(tmp_path, monkeypatch):
    project = Project(tmp_path / "repo").init()
    project.write("app/agent.py", PLANNER_MODULE)
    monkeypatch.chdir(project.root)

    result = invoke("discover", "--format", "json")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["config"] is None
    assert document["artifacts"] == [
        {
            "kind": "system",
            "reference": "app/agent.py::PLANNER_SYSTEM",
            "path": "app/agent.py",
            "line": 1,
            "features": [],
            "covered": False,
            "chars": len(PLANNER),
            "tokens": tokens(PLANNER),
            "exact": False,
            "slots": [],
            "repeated": [],
        }
    ]
    assert document["summary"] == {
        "system": 1,
        "tools": 0,
        "template": 0,
        "call": 0,
        "unbudgeted": 1,
    }
    text = invoke("discover").stdout.splitlines()
    assert text[-1] == (
        "1 found (1 system prompt); no budgets.yaml covers them yet "
        "(promptbudget init writes one); ~ tokens are offline estimates for "
        "claude-sonnet-4-6"
    )


def test_discover_in_an_empty_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(Project(tmp_path / "repo").init().root)

    result = invoke("discover")

    assert (result.exit_code, result.stdout) == (
        0,
        "no system prompts, tools, templates or Messages API calls found\n",
    )


def test_bad_discover_settings_are_one_line(app):
    app.append("budgets.yaml", "discover:\n  unbudgted: error\n")

    result = invoke("discover")

    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: budgets.yaml:22:3: unknown key 'unbudgted' in "
        "discover; did you mean 'unbudgeted'?\n"
    )


def test_a_discover_path_that_matches_nothing_is_a_warning(app):
    app.append("budgets.yaml", "discover:\n  paths: [app, promts]\n")

    result = invoke("discover", "--format", "json")

    assert result.exit_code == 0
    assert result.stderr == (
        "promptbudget: warning: discover.paths: 'promts' matches no file in the "
        "repository; fix the path or remove it\n"
    )
    found = json.loads(result.stdout)["artifacts"]
    assert found and all(a["path"].startswith("app/") for a in found)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", "not false (write ignore to turn it off)"),
        ("loud", "not 'loud'"),
    ],
)
def test_a_bad_unbudgeted_policy_is_named_as_written(app, value, expected):
    app.append("budgets.yaml", f"discover:\n  unbudgeted: {value}\n")

    result = invoke("check", "--offline")

    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: budgets.yaml:22:3: discover.unbudgeted: must be "
        f"ignore, warn or error, {expected}\n"
    )


def test_markdown_report_shows_unbudgeted_growth_for_review(app, fake_api_env):
    app.write("app/agent.py", PLANNER_MODULE)
    app.commit("planner")
    app.git("checkout", "-q", "-b", "feature")
    grown = PLANNER + "Group them by customer.\n"
    app.write("app/agent.py", f"PLANNER_SYSTEM = {grown!r}\n")

    result = invoke("diff", "main", "--format", "markdown")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    start = lines.index(
        "⚠️ **1 unbudgeted artifact**: no feature covers it "
        "(`discover.unbudgeted: warn`)"
    )
    delta = tokens(grown) - tokens(PLANNER)
    assert lines[start + 1 : start + 5] == [
        "",
        "| kind | artifact | base | head | change |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| system | `app/agent.py::PLANNER_SYSTEM` (line 1) | ~{tokens(PLANNER)} "
        f"| ~{tokens(grown)} | +{delta} |",
    ]
