"""promptbudget count: ad-hoc counts of files, references and stdin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from fakeapi import fake_count
from project import ANSWER_TOOLS, SYSTEM_PROMPT, Project


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    monkeypatch.chdir(project.root)
    return project


def message(model: str, text: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def test_stdin_for_two_models_reports_the_servers_numbers(app, fake_api_env):
    text = "How many tokens is this sentence?\n"

    result = invoke(
        "count", "-m", "claude-haiku-4-5", "-m", "claude-opus-4-8", "-", stdin=text
    )

    assert result.exit_code == 0, result.stderr
    haiku = fake_count(message("claude-haiku-4-5", text))
    opus = fake_count(message("claude-opus-4-8", text))
    assert result.stdout.splitlines() == [
        "target  model             input  source",
        f"-       claude-haiku-4-5  {haiku:>5}  api",
        f"-       claude-opus-4-8   {opus:>5}  api",
    ]
    again = invoke("count", "-m", "claude-haiku-4-5", stdin=text)
    assert again.stdout.splitlines()[1].split()[-1] == "cache"
    assert fake_api_env.count_requests() == 2


def test_default_models_come_from_budgets_yaml(app, fake_api_env):
    result = invoke("count", "--format", "json", "prompts/answer_system.md")

    document = json.loads(result.stdout)
    assert [r["model"] for r in document["results"]] == [
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
    ]
    assert document["results"][0] == {
        "target": "prompts/answer_system.md",
        "model": "claude-sonnet-4-6",
        "input_tokens": fake_count(message("claude-sonnet-4-6", SYSTEM_PROMPT)),
        "exact": True,
        "source": "api",
    }
    assert document["totals"] == []


def test_without_budgets_yaml_the_default_model_is_used(
    tmp_path, monkeypatch, fake_api_env
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.txt").write_text("Hello.\n")
    result = invoke("count", "--format", "json", "p.txt")
    assert [r["model"] for r in json.loads(result.stdout)["results"]] == [
        "claude-sonnet-4-6"
    ]


def test_several_targets_have_a_total(app, fake_api_env):
    result = invoke(
        "count",
        "-m",
        "claude-haiku-4-5",
        "--format",
        "json",
        "prompts/answer_system.md",
        "prompts/classify.md",
    )

    document = json.loads(result.stdout)
    assert document["totals"] == [
        {
            "target": "total",
            "model": "claude-haiku-4-5",
            "input_tokens": sum(r["input_tokens"] for r in document["results"]),
            "exact": True,
            "source": "api",
        }
    ]


def test_as_system_and_as_tools(app, fake_api_env):
    system = invoke(
        "count",
        "-m",
        "claude-haiku-4-5",
        "--as",
        "system",
        "--format",
        "json",
        "prompts/answer_system.md",
    )
    tools = invoke(
        "count",
        "-m",
        "claude-haiku-4-5",
        "--as",
        "tools",
        "--format",
        "json",
        "app/tools.py::ANSWER_TOOLS",
    )

    probe = [{"role": "user", "content": "Hi"}]
    assert json.loads(system.stdout)["results"][0]["input_tokens"] == fake_count(
        {
            "model": "claude-haiku-4-5",
            "system": [{"type": "text", "text": SYSTEM_PROMPT}],
            "messages": probe,
        }
    )
    assert json.loads(tools.stdout)["results"][0]["input_tokens"] == fake_count(
        {"model": "claude-haiku-4-5", "tools": ANSWER_TOOLS, "messages": probe}
    )


def test_reference_to_a_python_constant(app, fake_api_env):
    result = invoke("count", "-m", "claude-haiku-4-5", "app/prompts.py::SAFETY_RULES")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith("app/prompts.py::SAFETY_RULES  ")


def test_offline_counts_are_marked(app, fake_api_env):
    result = invoke(
        "count", "--offline", "-m", "claude-haiku-4-5", "prompts/classify.md"
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].split()[2].startswith("~")
    assert result.stdout.splitlines()[-1] == (
        "~ estimated offline; set ANTHROPIC_API_KEY for exact counts"
    )
    assert fake_api_env.count_requests() == 0


def test_strict_offline_is_exit_3(app):
    result = invoke("count", "--offline", "--strict", "prompts/classify.md")
    assert result.exit_code == 3


def test_empty_stdin_is_exit_2(app):
    result = invoke("count", stdin="  \n")
    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: -: is empty; count_tokens rejects empty text, so there "
        "is nothing to count\n"
    )


def test_missing_file_is_exit_2(app):
    result = invoke("count", "prompts/nope.md")
    assert result.exit_code == 2
    assert "prompts/nope.md' refers to prompts/nope.md, which does not exist" in (
        result.stderr
    )


def test_count_refuses_report_formats_it_has_no_rendering_for(app, fake_api_env):
    result = invoke("count", "--format", "sarif", "prompts/classify.md")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.endswith("Error: count prints --format text or json\n")
    assert fake_api_env.count_requests() == 0


def test_unknown_model_offline_warns_and_uses_the_newest_family(app):
    from promptbudget import estimate

    text = "A prompt to estimate for a model nobody has heard of.\n"
    result = invoke(
        "count", "--offline", "--format", "json", "-m", "gpt-4o", stdin=text
    )

    assert result.exit_code == 0
    assert result.stderr == (
        "promptbudget: warning: model 'gpt-4o' is not in the tokenizer map; "
        "estimating it with the newest family (v4.8)\n"
    )
    row = json.loads(result.stdout)["results"][0]
    assert row["input_tokens"] == estimate.estimate_message(text, "claude-opus-4-8")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"caf\xe9\n", "stdin:1: is not valid UTF-8; save the file as UTF-8"),
        (b"abc\x00def", "stdin: is a binary file, not text; reference a text file"),
    ],
    ids=["latin-1", "nul"],
)
def test_stdin_that_is_not_text_is_refused_like_a_file(data, message):
    result = CliRunner().invoke(
        cli, ["count", "--offline"], input=data, catch_exceptions=False
    )

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"promptbudget: error: {message}\n"
