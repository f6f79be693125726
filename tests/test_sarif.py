"""SARIF 2.1.0 output, shaped as GitHub code scanning reads it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_check import classify_body

from promptbudget.cli import cli

from fakeapi import fake_count
from project import SAFETY_MODULE, Project

LEVELS = {"none", "note", "warning", "error"}


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    project.git("checkout", "-q", "-b", "feature")
    monkeypatch.chdir(project.root)
    return project


def grow_and_tighten(app: Project) -> int:
    """answer_question grows in SAFETY_RULES; classify_intent goes over its budget."""
    app.write(
        "app/prompts.py",
        SAFETY_MODULE.replace(
            "Escalate legal", "Refuse medical advice. " * 80 + "Escalate legal"
        ),
    )
    limit = fake_count(classify_body()) - 1
    app.write(
        "budgets.yaml",
        app.read("budgets.yaml").replace(
            "budget: {max_input_tokens: 300}", f"budget: {{max_input_tokens: {limit}}}"
        ),
    )
    return limit


def check_structure(document: dict) -> None:
    """What SARIF 2.1.0 and GitHub code scanning require of every file."""
    assert document["version"] == "2.1.0"
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert len(document["runs"]) == 1
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["name"] == "promptbudget"
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in LEVELS
    for result in document["runs"][0]["results"]:
        assert result["ruleId"] == ids[result["ruleIndex"]]
        assert result["level"] in LEVELS
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and ".." not in uri.split("/")
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert isinstance(physical["region"]["startLine"], int)
        assert physical["region"]["startLine"] >= 1
        assert all(isinstance(v, str) for v in result["partialFingerprints"].values())


def test_diff_sarif_locates_growth_and_over_budget(app, fake_api_env):
    limit = grow_and_tighten(app)

    result = invoke("diff", "main", "--format", "sarif")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    check_structure(document)
    results = document["runs"][0]["results"]
    found = [
        (
            r["ruleId"],
            r["level"],
            r["properties"]["feature"],
            r["properties"]["model"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    ]
    # SAFETY_RULES is assigned on line 5 of app/prompts.py
    assert found == [
        (
            "over-increase",
            "error",
            "answer_question",
            "claude-sonnet-4-6",
            "app/prompts.py",
            5,
        ),
        (
            "over-increase",
            "error",
            "answer_question",
            "claude-haiku-4-5",
            "app/prompts.py",
            5,
        ),
        (
            "over-budget",
            "error",
            "classify_intent",
            "claude-haiku-4-5",
            "prompts/classify.md",
            1,
        ),
    ]
    tokens = fake_count(classify_body())
    assert results[2]["message"]["text"] == (
        f"classify_intent on claude-haiku-4-5: {tokens:,} > {limit:,} tokens (+1); "
        "shorten prompts/classify.md or raise "
        "features.classify_intent.budget.max_input_tokens in budgets.yaml"
    )


def test_warning_is_a_near_budget_result(app, fake_api_env):
    tokens = fake_count(classify_body())
    app.write(
        "budgets.yaml",
        app.read("budgets.yaml").replace(
            "budget: {max_input_tokens: 300}",
            f"budget: {{max_input_tokens: {tokens + 1}, warn_at: 50%}}",
        ),
    )

    result = invoke("check", "--format", "sarif")

    assert result.exit_code == 0
    document = json.loads(result.stdout)
    check_structure(document)
    (only,) = document["runs"][0]["results"]
    assert (only["ruleId"], only["level"]) == ("near-budget", "warning")


def test_within_budget_has_no_results(app, fake_api_env):
    result = invoke("check", "--format", "sarif", "--output", "promptbudget.sarif")

    assert result.exit_code == 0
    assert result.stdout == ""
    document = json.loads((app.root / "promptbudget.sarif").read_text())
    check_structure(document)
    assert document["runs"][0]["results"] == []


def test_fingerprints_stay_when_lines_move(app, fake_api_env):
    grow_and_tighten(app)
    first = json.loads(invoke("diff", "main", "--format", "sarif").stdout)
    app.write("app/prompts.py", "# Shared rules.\n" + app.read("app/prompts.py"))
    second = json.loads(invoke("diff", "main", "--format", "sarif").stdout)

    def line(doc: dict) -> int:
        return doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "region"
        ]["startLine"]

    def prints(doc: dict) -> list[dict]:
        return [r["partialFingerprints"] for r in doc["runs"][0]["results"]]

    assert (line(first), line(second)) == (5, 6)
    assert prints(first) == prints(second)
    assert len({str(p) for p in prints(first)}) == 3
