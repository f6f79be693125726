"""--explain: which part of a request grew, from extra (cached) counts."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_check import answer_body

from promptbudget.cli import cli

from fakeapi import fake_count
from project import ANSWER_TOOLS, Project


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_diff_explain_names_the_part_that_grew(tmp_path, monkeypatch, fake_api_env):
    app = Project(tmp_path / "repo").init().write_support_app()
    app.commit("app")
    monkeypatch.chdir(app.root)
    addition = "Quote the article title for every claim.\n"
    app.append("prompts/answer_system.md", addition)

    result = invoke("diff", "main", "--explain", "--format", "json")

    row = json.loads(result.stdout)["results"][0]
    parts = {p["part"]: (p["base_tokens"], p["tokens"]) for p in row["parts"]}
    grown = [name for name, (before, after) in parts.items() if before != after]
    assert grown == ["system prompts/answer_system.md"]
    head = answer_body("claude-sonnet-4-6")
    head["system"][0]["text"] += addition
    before, after = parts["system prompts/answer_system.md"]
    assert after - before == fake_count(head) - fake_count(
        answer_body("claude-sonnet-4-6")
    )
    assert sum(after for _, after in parts.values()) == row["input_tokens"]
    assert sum(before for before, _ in parts.values()) == row["base_input_tokens"]
    assert list(parts)[3:5] == [
        f"tool {ANSWER_TOOLS[0]['name']} (app/tools.py::ANSWER_TOOLS)",
        f"tool {ANSWER_TOOLS[1]['name']} (app/tools.py::ANSWER_TOOLS)",
    ]
    assert row["parts_exact"] is True


def test_check_explain_breaks_every_feature_down(tmp_path, monkeypatch, fake_api_env):
    app = Project(tmp_path / "repo").init().write_support_app()
    monkeypatch.chdir(app.root)

    result = invoke("check", "--explain")

    lines = result.stdout.splitlines()
    start = lines.index("classify_intent on claude-haiku-4-5, by part")
    assert lines[start + 1].split() == ["part", "tokens"]
    assert lines[start + 2].startswith("  fixed overhead (with the probe message)")
    assert lines[start + 3].startswith("  system prompts/classify.md")
    assert lines[start + 4].split() == ["slot", "allowances", "0"]
    # the breakdown's requests are cached like any other count
    sent = fake_api_env.count_requests()
    invoke("check", "--explain")
    assert fake_api_env.count_requests() == sent
