"""Cost per call: prices, routes read statically, and max_cost_per_call."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli
from promptbudget.pricing import Price, cost_per_call, price_for

from fakeapi import fake_count
from project import Project

ROUTING = """\
ROUTES = {
    "classify_intent": {"model": "claude-haiku-4-5", "max_tokens": 16},
    "summarize": {"model": "claude-haiku-4-5", "max_tokens": 512},
}
"""

BUDGETS = """\
version: 1
routes: app/routing.py::ROUTES
features:
  classify_intent:
    system: prompts/classify.md
    budget: {max_input_tokens: 1000}
"""

CLASSIFY = "Label the message as billing, bug or other.\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def body(model: str) -> dict:
    return {
        "model": model,
        "system": [{"type": "text", "text": CLASSIFY}],
        "messages": [{"role": "user", "content": "Hi"}],
    }


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init()
    project.write("budgets.yaml", BUDGETS)
    project.write("app/routing.py", ROUTING)
    project.write("prompts/classify.md", CLASSIFY)
    project.commit("routed app")
    monkeypatch.chdir(project.root)
    return project


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-haiku-4-5", Price(1.0, 5.0, 1.25, 0.1)),
        ("claude-haiku-4-5-20251001", Price(1.0, 5.0, 1.25, 0.1)),
        ("claude-sonnet-5-5", Price(2.0, 10.0, 2.5, 0.1)),
        ("claude-sonnet-5", Price(2.0, 10.0, 2.5, 0.2)),
        ("claude-opus-4-20250514", Price(15.0, 75.0, 18.75, 1.5)),
        ("claude-sonnet-5-9", None),
        ("gpt-4o", None),
    ],
    ids=[
        "exact",
        "dated",
        "longest-match",
        "shorter",
        "dated-opus-4",
        "unknown-version",
        "other-vendor",
    ],
)
def test_price_lookup(model, expected):
    assert price_for(model, {}) == expected


def test_override_wins():
    custom = Price(0.5, 1.0)
    assert price_for("claude-haiku-4-5", {"claude-haiku-4-5": custom}) == custom


def test_cost_is_input_plus_max_output():
    assert cost_per_call(2000, 1000, Price(3.0, 15.0)) == pytest.approx(0.021)
    assert cost_per_call(2000, None, Price(3.0, 15.0)) == pytest.approx(0.006)


def test_model_and_max_tokens_come_from_the_routes(app, fake_api_env):
    result = invoke("check", "--format", "json")

    row = json.loads(result.stdout)["results"][0]
    tokens = fake_count(body("claude-haiku-4-5"))
    assert (row["model"], row["max_tokens"]) == ("claude-haiku-4-5", 16)
    assert row["input_tokens"] == tokens
    assert row["cost_per_call"] == round((tokens * 1.0 + 16 * 5.0) / 1e6, 6)


def test_routing_change_shows_as_a_cost_change_in_diff(app, fake_api_env):
    app.git("checkout", "-q", "-b", "bigger-model")
    app.write(
        "app/routing.py",
        ROUTING.replace(
            '"classify_intent": {"model": "claude-haiku-4-5", "max_tokens": 16}',
            '"classify_intent": {"model": "claude-opus-4-8", "max_tokens": 16}',
        ),
    )

    result = invoke("diff", "main", "--format", "json")

    rows = json.loads(result.stdout)["results"]
    assert len(rows) == 1
    row = rows[0]
    base_tokens = fake_count(body("claude-haiku-4-5"))
    head_tokens = fake_count(body("claude-opus-4-8"))
    assert (row["model"], row["base_model"], row["change"]) == (
        "claude-opus-4-8",
        "claude-haiku-4-5",
        "changed",
    )
    assert row["base_cost_per_call"] == round((base_tokens * 1.0 + 16 * 5.0) / 1e6, 6)
    assert row["cost_per_call"] == round((head_tokens * 5.0 + 16 * 25.0) / 1e6, 6)
    text = invoke("diff", "main").stdout
    assert "changed (was claude-haiku-4-5)" in text


def test_max_tokens_change_alone_is_a_change(app, fake_api_env):
    app.write("app/routing.py", ROUTING.replace('"max_tokens": 16', '"max_tokens": 64'))

    row = json.loads(invoke("diff", "main", "--format", "json").stdout)["results"][0]

    assert (row["delta"], row["change"]) == (0, "changed")
    assert row["cost_per_call"] - row["base_cost_per_call"] == pytest.approx(
        48 * 5.0 / 1e6
    )


def test_max_cost_per_call_over_exits_1(app, fake_api_env):
    app.write(
        "budgets.yaml",
        BUDGETS.replace(
            "budget: {max_input_tokens: 1000}",
            "budget: {max_input_tokens: 1000, max_cost_per_call: 0.00001}",
        ),
    )

    result = invoke("check")

    assert result.exit_code == 1
    tokens = fake_count(body("claude-haiku-4-5"))
    cost = (tokens * 1.0 + 16 * 5.0) / 1e6
    assert (
        f"classify_intent on claude-haiku-4-5: ${cost:.4f} per call > $0.0000 (input "
        "plus max_tokens of output); shorten prompts/classify.md or lower max_tokens, "
        "route it to a cheaper model, or raise "
        "features.classify_intent.budget.max_cost_per_call in budgets.yaml"
    ) in result.stdout


def test_prices_override_in_budgets_yaml(app, fake_api_env):
    app.write(
        "budgets.yaml",
        BUDGETS + "prices:\n  claude-haiku-4-5: {input: 2, output: 10}\n",
    )
    row = json.loads(invoke("check", "--format", "json").stdout)["results"][0]
    tokens = fake_count(body("claude-haiku-4-5"))
    assert row["cost_per_call"] == round((tokens * 2.0 + 16 * 10.0) / 1e6, 6)


def test_feature_without_route_or_models_is_exit_2(app):
    app.write("budgets.yaml", BUDGETS.replace("classify_intent:", "triage:"))
    result = invoke("check", "--offline")
    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: budgets.yaml:4:3: features.triage has no models and no "
        "route named 'triage' in app/routing.py::ROUTES; add models: [...] to it\n"
    )
