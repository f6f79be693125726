"""promptbudget init: a budgets.yaml proposal that check accepts as written."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from project import Project

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def bot(tmp_path, monkeypatch) -> Project:
    """The example support bot, alone in a repository of its own."""
    project = Project(tmp_path / "bot").init()
    shutil.copytree(REPO / "examples/support-bot/app", project.root / "app")
    project.commit("bot")
    monkeypatch.chdir(project.root)
    return project


def copy_fixture(tmp_path: Path, name: str) -> Project:
    shutil.copytree(FIXTURES / name, tmp_path / name)
    return Project(tmp_path / name).init()


def budget_for(tokens: int) -> int:
    return math.ceil(tokens * 1.25 / 100) * 100


def test_proposal_for_the_support_bot(bot, fake_api_env):
    result = invoke("init")

    assert result.exit_code == 0, result.stderr
    check = json.loads(invoke("check", "--format", "json").stdout)
    counted = {r["feature"]: r["input_tokens"] for r in check["results"]}
    assert check["summary"] == {"ok": 3, "warn": 0, "over": 0, "error": 0}
    assert check["unbudgeted"]["artifacts"] == []
    budgets = {name: budget_for(n) for name, n in counted.items()}
    assert (
        bot.read("budgets.yaml")
        == f"""\
# Proposed by `promptbudget init` from the Messages API calls it found.
# Budgets are each feature's input tokens now plus 25% headroom, rounded up to
# the next 100 (exact with ANTHROPIC_API_KEY, else estimates).
# Slot allowances marked 'placeholder' are guesses: set each to its worst case.
version: 1
models: [claude-haiku-4-5]

discover:
  unbudgeted: warn  # ignore | warn | error

features:
  classify_intent:
    # app/bot.py:39 messages.create
    models: [claude-haiku-4-5]
    system: app/prompts.py::CLASSIFY_SYSTEM
    slots:
      message: 500  # placeholder: messages[0] is only known at run time
    max_tokens: 16
    budget:
      max_input_tokens: {budgets["classify_intent"]}  # {counted["classify_intent"]:,} now (exact)
      max_increase: 10%
  answer_question:
    # app/bot.py:56 messages.create
    models: [claude-sonnet-4-6]
    system:
      - app/prompts.py::SUPPORT_SYSTEM
      - app/prompts.py::SAFETY_RULES
    tools: app/tools.py::SUPPORT_TOOLS
    messages:
      - {{role: user, template: app/templates/answer.j2}}
    slots:
      context: 500  # placeholder: template slot
      question: 500  # placeholder: template slot
    max_tokens: 1024
    budget:
      max_input_tokens: {budgets["answer_question"]}  # {counted["answer_question"]:,} now (exact)
      max_increase: 10%
  summarize_thread:
    # app/bot.py:70 messages.create
    models: [claude-haiku-4-5]
    system: app/prompts.py::SUMMARIZE_SYSTEM
    messages:
      - {{role: user, template: app/templates/summarize.j2}}
    slots:
      thread: 500  # placeholder: template slot
    max_tokens: 512
    budget:
      max_input_tokens: {budgets["summarize_thread"]}  # {counted["summarize_thread"]:,} now (exact)
      max_increase: 10%
"""
    )
    lines = result.stdout.splitlines()
    assert lines[:2] == ["wrote budgets.yaml: 3 features, one per call site", ""]
    assert [line.split() for line in lines[2:]] == [
        ["feature", "models", "input", "budget", "call"],
        *(
            [name, model, f"{counted[name]:,}", f"{budgets[name]:,}", f"app/bot.py:{n}"]
            for name, model, n in [
                ("classify_intent", "claude-haiku-4-5", 39),
                ("answer_question", "claude-sonnet-4-6", 56),
                ("summarize_thread", "claude-haiku-4-5", 70),
            ]
        ),
    ]


def test_an_existing_budgets_yaml_is_kept(bot):
    bot.write("budgets.yaml", "# mine\n")

    result = invoke("init", "--offline")

    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: budgets.yaml: already exists; pass --force to "
        "overwrite it, or --config PATH to write the proposal elsewhere\n"
    )
    assert bot.read("budgets.yaml") == "# mine\n"
    forced = invoke("init", "--offline", "--force")
    assert forced.exit_code == 0
    assert bot.read("budgets.yaml").startswith("# Proposed by `promptbudget init`")


def test_proposal_in_a_subfolder_uses_references_relative_to_it(bot):
    result = invoke("init", "--offline", "--config", "ops/budgets.yaml")

    assert result.exit_code == 0, result.stderr
    text = bot.read("ops/budgets.yaml")
    assert "    system: ../app/prompts.py::CLASSIFY_SYSTEM\n" in text
    checked = invoke("check", "--offline", "--config", "ops/budgets.yaml")
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_names_and_slots_from_assembled_prompts(tmp_path, monkeypatch):
    project = copy_fixture(tmp_path, "assembled")
    monkeypatch.chdir(project.root)

    result = invoke("init", "--offline", "--format", "json")

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [(f["feature"], f["models"], f["line"]) for f in document["features"]] == [
        ("ask", ["claude-opus-4-8"], 14),
        ("classify", ["claude-haiku-4-5"], 28),
        ("reconcile_size", ["claude-opus-4-8"], 37),
    ]
    # The parts SYSTEM_PROMPT is built from are sent with it: only the
    # template no call sends is left over, as check will report it.
    assert document["unused"] == ["app/prompts/tasks.py::Prompts.SUMMARY_TEMPLATE"]
    text = project.read("budgets.yaml")
    assert (
        "  ask:\n"
        "    # app/service.py:14 messages.create\n"
        "    models: [claude-opus-4-8]\n"
        "    system: app/service.py::Assistant.system_prompt\n"
        "    messages:\n"
        "      - {role: user, template: app/service.py::Assistant.ask.messages.0.content}\n"
        "    slots:\n"
        "      context: 500  # placeholder: template slot\n"
        "      question: 500  # placeholder: template slot\n"
        "    max_tokens: 2048\n"
    ) in text
    check = json.loads(invoke("check", "--offline", "--format", "json").stdout)
    assert [a["reference"] for a in check["unbudgeted"]["artifacts"]] == [
        "app/prompts/tasks.py::Prompts.SUMMARY_TEMPLATE"
    ]


def test_repeated_template_slot_gets_top_k_times_chunk_tokens(tmp_path, monkeypatch):
    project = copy_fixture(tmp_path, "jinja-rag")
    monkeypatch.chdir(project.root)

    result = invoke("init", "--offline")

    assert result.exit_code == 0, result.stderr
    assert (
        "    system: app/templates/system.md.j2\n"
        "    messages:\n"
        "      - {role: user, template: app/templates/rag_answer.j2}\n"
        "    slots:\n"
        "      product: 500  # placeholder: template slot\n"
        "      chunks: {top_k: 5, chunk_tokens: 500}  # placeholder: repeated in a loop\n"
        "      question: 500  # placeholder: template slot\n"
    ) in project.read("budgets.yaml")


def test_a_call_whose_model_is_a_parameter_is_counted_on_the_default(
    tmp_path, monkeypatch
):
    project = Project(tmp_path / "repo").init()
    project.write(
        "app/bot.py",
        "import anthropic\n"
        "\n"
        'SYSTEM_PROMPT = "You are a helpful assistant that answers briefly."\n'
        "\n"
        "\n"
        "def ask(client, model, question):\n"
        "    return client.messages.create(\n"
        "        model=model,\n"
        "        max_tokens=100,\n"
        "        system=SYSTEM_PROMPT,\n"
        '        messages=[{"role": "user", "content": question}],\n'
        "    )\n",
    )
    project.commit("bot")
    monkeypatch.chdir(project.root)

    result = invoke("init", "--offline", "--format", "json")

    assert result.exit_code == 0, result.stderr
    [feature] = json.loads(result.stdout)["features"]
    assert (feature["feature"], feature["models"]) == ("ask", ["claude-sonnet-4-6"])
    text = project.read("budgets.yaml")
    assert "models: [claude-sonnet-4-6]\n" in text
    assert "    # model= is only known at run time: counted for the default\n" in text
    check = invoke("check", "--offline", "--format", "json")
    assert check.exit_code == 0, check.stderr
    [row] = json.loads(check.stdout)["results"]
    assert (row["model"], row["input_tokens"]) == (
        "claude-sonnet-4-6",
        feature["input_tokens"],
    )


def test_history_plus_a_formatted_template_gives_both(tmp_path, monkeypatch):
    project = Project(tmp_path / "repo").init()
    project.write(
        "bot.py",
        "import anthropic\n"
        "\n"
        'SYSTEM_PROMPT = "You are a helpful assistant that answers briefly."\n'
        'FOLLOW_UP = "Answer the follow-up question: {question}"\n'
        "\n"
        "\n"
        "def chat(client, history, user_msg):\n"
        "    return client.messages.create(\n"
        '        model="claude-haiku-4-5",\n'
        "        max_tokens=300,\n"
        "        system=SYSTEM_PROMPT,\n"
        '        messages=history + [{"role": "user", '
        '"content": FOLLOW_UP.format(question=user_msg)}],\n'
        "    )\n",
    )
    project.commit("bot")
    monkeypatch.chdir(project.root)

    result = invoke("init", "--offline")

    assert result.exit_code == 0, result.stderr
    assert (
        "    system: bot.py::SYSTEM_PROMPT\n"
        "    messages:\n"
        "      - {role: user, template: bot.py::FOLLOW_UP}\n"
        "    slots:\n"
        "      history: 500  # placeholder: messages is only known at run time\n"
        "      question: 500  # placeholder: template slot\n"
    ) in project.read("budgets.yaml")
    check = json.loads(invoke("check", "--offline", "--format", "json").stdout)
    assert check["unbudgeted"]["artifacts"] == []


def test_calls_without_static_inputs_are_listed_not_budgeted(tmp_path, monkeypatch):
    project = copy_fixture(tmp_path, "mixed-frameworks")
    monkeypatch.chdir(project.root)

    result = invoke("init", "--offline")

    assert result.exit_code == 2
    assert result.stderr == (
        "promptbudget: error: no Messages API call with something static to count "
        "was found (15 artifacts: see promptbudget discover); write budgets.yaml "
        "by hand, as the README shows\n"
    )
    assert not (project.root / "budgets.yaml").exists()


def test_init_and_check_as_installed_commands(tmp_path):
    script = Path(sys.executable).with_name("promptbudget")
    if not script.exists():
        pytest.skip("promptbudget is not installed beside this Python")
    project = copy_fixture(tmp_path, "quickstart")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    init = run("init", "--format", "json")
    check = run("check", "--format", "json")

    assert init.returncode == 0, init.stderr
    assert [f["feature"] for f in json.loads(init.stdout)["features"]] == [
        "main",
        "stream_recipe",
        "tool_use",
    ]
    assert check.returncode == 0, check.stderr
    document = json.loads(check.stdout)
    assert document["summary"] == {"ok": 3, "warn": 0, "over": 0, "error": 0}
    assert document["unbudgeted"]["artifacts"] == []
