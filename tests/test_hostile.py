"""Hostile pull requests: no code runs, nothing outside the repository is read,
no key is ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from project import Project

KEY = "sk-ant-api03-RECOGNISABLE-test-key-0123456789"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


SIDE_EFFECTS = """\
import pathlib, sys
pathlib.Path("{marker}").write_text("imported")
SYSTEM = "You are a careful assistant."
while True:
    pass
"""


def test_scanned_python_is_never_run(tmp_path, monkeypatch, fake_api_env):
    marker = tmp_path / "ran.txt"
    project = Project(tmp_path / "repo").init()
    project.write("app/__init__.py", "raise SystemExit('imported app')\n")
    project.write("app/prompts.py", SIDE_EFFECTS.format(marker=marker))
    project.write(
        "budgets.yaml",
        "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n"
        "  a: {system: app/prompts.py::SYSTEM}\n",
    )
    monkeypatch.chdir(project.root)

    result = invoke("check", "--format", "json")

    assert result.exit_code == 0
    assert not marker.exists()
    assert fake_api_env.requests[0]["body"]["system"] == [
        {"type": "text", "text": "You are a careful assistant."}
    ]


@pytest.mark.parametrize(
    "reference",
    [
        "../outside.txt",
        "prompts/../../outside.txt",
        "/etc/hostname",
        "link.txt",
        "linkdir/secret.txt",
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-file", "symlink-dir"],
)
def test_nothing_outside_the_repository_is_read(
    tmp_path, monkeypatch, fake_api_env, reference
):
    outside = tmp_path / "outside.txt"
    outside.write_text("RUNNER SECRET\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "secret.txt").write_text("RUNNER SECRET\n")
    project = Project(tmp_path / "repo").init()
    project.write("prompts/a.md", "hello\n")
    (project.root / "link.txt").symlink_to(outside)
    (project.root / "linkdir").symlink_to(tmp_path / "secrets")
    project.write(
        "budgets.yaml",
        f"version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n  a: {{system: '{reference}'}}\n",
    )
    monkeypatch.chdir(project.root)

    result = invoke("check")

    assert result.exit_code == 2
    assert "inside the repository" in result.stderr
    assert fake_api_env.count_requests() == 0


@pytest.mark.parametrize(
    ("where", "reference"),
    [
        ("system", ".git/config"),
        ("system", "prompts/../.git/config"),
        ("system", ".git/*"),
        ("include", ".git/config"),
        ("count", ".git/config"),
    ],
)
def test_git_data_is_never_sent(tmp_path, monkeypatch, fake_api_env, where, reference):
    # In CI, .git/config can hold the token actions/checkout saved.
    project = Project(tmp_path / "repo").init()
    project.git("config", "http.extraheader", "AUTHORIZATION: basic CHECKOUT-TOKEN")
    project.write("prompts/t.j2", f'{{% include "{reference}" %}}\n')
    feature = (
        "{messages: [{role: user, template: prompts/t.j2}]}"
        if where == "include"
        else f"{{system: '{reference}'}}"
    )
    project.write(
        "budgets.yaml",
        f"version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n  a: {feature}\n",
    )
    monkeypatch.chdir(project.root)

    result = invoke("count", reference) if where == "count" else invoke("check")

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert ".git" in result.stderr
    assert fake_api_env.count_requests() == 0


def test_symlink_in_the_base_commit_that_escapes_is_refused(
    tmp_path, monkeypatch, fake_api_env
):
    project = Project(tmp_path / "repo").init()
    project.write(
        "budgets.yaml",
        "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n  a: {system: prompts/a.md}\n",
    )
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "a.md").symlink_to("../../outside.txt")
    project.commit("escaping link")
    (project.root / "prompts" / "a.md").unlink()
    project.write("prompts/a.md", "hello\n")
    project.git("checkout", "-q", "-b", "fix")
    project.commit("real file")
    monkeypatch.chdir(project.root)

    result = invoke("diff", "main", "--format", "json")

    assert result.exit_code == 0
    assert "points outside the repository root" in result.stderr
    assert [
        r["change"] for r in __import__("json").loads(result.stdout)["results"]
    ] == ["new"]


def test_templates_cannot_reach_python_objects(tmp_path, monkeypatch, fake_api_env):
    project = Project(tmp_path / "repo").init()
    project.write(
        "prompts/t.j2",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ cycler.__init__.__globals__ }}"
        "{{ question }}\n",
    )
    project.write(
        "budgets.yaml",
        "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n"
        "  a:\n    messages: [{template: prompts/t.j2}]\n    slots: {question: 10}\n",
    )
    monkeypatch.chdir(project.root)

    result = invoke("check")

    # the sandbox refuses the attribute access: a clear error, nothing rendered
    assert result.exit_code == 2
    assert result.stderr.startswith("promptbudget: error: prompts/t.j2:1: template ")
    assert fake_api_env.count_requests() == 0


TEMPLATE_BOMBS = [
    (
        "{{ 'x' * 10000000000 }}",
        "template cannot be rendered with empty slots: '*' would make "
        "10,000,000,000 items",
    ),
    (
        "{% for a in range(100000) %}{% for b in range(100000) %}"
        "{% endfor %}{% endfor %}",
        "template cannot be rendered with empty slots: safe_range() was given "
        "100,000, over 10,000",
    ),
    (
        "{{ 'x'|center(1000000000) }}",
        "template cannot be rendered with empty slots: filter center() was given "
        "1,000,000,000, over 10,000",
    ),
    (
        "{{ '{:>999999999}'.format(1) }}",
        "template cannot be rendered with empty slots: a format asks for a width "
        "over 100,000",
    ),
    (
        "{% for a in range(9000) %}{% for b in range(9000) %}"
        "{% for c in range(9000) %}{% endfor %}{% endfor %}{% endfor %}",
        "template takes over 5 seconds to render with empty slots (loops within "
        "loops?); simplify it",
    ),
]


@pytest.mark.parametrize(
    ("template", "message"),
    TEMPLATE_BOMBS,
    ids=["repeat", "range", "filter", "format", "loops"],
)
def test_a_template_cannot_ask_for_unbounded_work(
    tmp_path, monkeypatch, fake_api_env, template, message
):
    project = Project(tmp_path / "repo").init()
    project.write("prompts/bomb.j2", template + "\n")
    project.write(
        "budgets.yaml",
        "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n"
        "  a: {messages: [{role: user, template: prompts/bomb.j2}]}\n",
    )
    monkeypatch.chdir(project.root)

    result = invoke("check")

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"promptbudget: error: prompts/bomb.j2:1: {message}\n"
    assert fake_api_env.count_requests() == 0


def test_discovery_names_a_template_bomb_and_goes_on(tmp_path, monkeypatch):
    project = Project(tmp_path / "repo").init()
    project.write("prompts/bomb.j2", TEMPLATE_BOMBS[0][0] + "\n")
    project.write("prompts/answer.j2", "Answer {{ question }} briefly.\n")
    monkeypatch.chdir(project.root)

    result = invoke("discover", "--format", "json")

    assert result.exit_code == 0
    found = [a["reference"] for a in json.loads(result.stdout)["artifacts"]]
    assert found == ["prompts/answer.j2", "prompts/bomb.j2"]
    assert result.stderr == (
        f"promptbudget: warning: prompts/bomb.j2:1: {TEMPLATE_BOMBS[0][1]}; listed, "
        "but check refuses it until it is fixed\n"
    )


def run_everything(root: Path, env: dict[str, str]) -> str:
    """Every command at -vv, good and bad, as subprocesses; all their output."""
    script = Path(sys.executable).with_name("promptbudget")
    commands = [
        ["check", "-vv"],
        ["check", "-vv", "--format", "json"],
        ["diff", "main", "-vv"],
        ["diff", "nope", "-vv"],
        ["count", "-vv", "prompts/classify.md"],
        ["lock", "-vv"],
        ["check", "--verify-lock", "-vv"],
        ["check", "--strict", "-vv"],
        ["diff", "main", "-vv", "--format", "markdown"],
        ["diff", "main", "-vv", "--format", "sarif"],
        ["discover"],
        ["discover", "--format", "json"],
        ["--help"],
        ["check", "--help"],
        ["--version"],
        ["init", "--force", "-vv"],  # last: it rewrites budgets.yaml
    ]
    output = []
    for args in commands:
        done = subprocess.run(
            [str(script), *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output.append(done.stdout + done.stderr)
    return "\n".join(output)


def test_the_api_key_never_appears_in_any_output(tmp_path, fake_api):
    project = Project(tmp_path / "repo").init().write_support_app()
    project.write(
        "budgets.yaml", "lockfile: promptbudget.lock\n" + project.read("budgets.yaml")
    )
    project.commit("app")
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake_api.base_url,
    }

    healthy = run_everything(project.root, env)
    fake_api.always_fail(401)
    refused = run_everything(project.root, env)
    fake_api.always_fail(500)
    failing = run_everything(project.root, env)

    for output in (healthy, refused, failing):
        assert "sk-ant-api03" not in output
        assert "RECOGNISABLE" not in output
    assert "count_tokens refused the API key (401" in refused
    # the key did reach the server, so the runs above really used it
    assert fake_api.requests[0]["headers"].get("x-api-key", "") == KEY or (
        fake_api.requests[0]["headers"].get("authorization") == f"Bearer {KEY}"
    )


def test_prompt_text_is_not_logged_at_default_verbosity(
    tmp_path, monkeypatch, fake_api_env
):
    project = Project(tmp_path / "repo").init().write_support_app()
    monkeypatch.chdir(project.root)
    fake_api_env.always_fail(500)

    result = invoke("check")

    assert "answering assistant" not in result.stderr
    assert "Label the customer" not in result.stderr
