"""Broken references, sources and repositories: one line, the documented exit
code, and a working tool afterwards."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from project import Project

HEAD = "version: 1\nmodels: [claude-haiku-4-5]\nfeatures:\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init()
    monkeypatch.chdir(project.root)
    return project


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    return result.stderr.removeprefix("promptbudget: error: ").rstrip("\n")


def test_prompt_not_utf8(repo):
    (repo.root / "p.md").write_bytes("caf\u00e9\n".encode("latin-1"))
    repo.write("budgets.yaml", HEAD + "  a: {system: p.md}\n")
    assert one_line_error(invoke("check", "--offline")) == (
        "p.md:1: is not valid UTF-8; save the file as UTF-8"
    )


def test_binary_prompt(repo):
    (repo.root / "p.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    repo.write("budgets.yaml", HEAD + "  a: {system: p.md}\n")
    assert one_line_error(invoke("check", "--offline")) == (
        "p.md: is a binary file, not text; reference a text file"
    )


def test_fifty_megabyte_prompt_is_refused_before_sending(repo, fake_api_env):
    with open(repo.root / "big.md", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    repo.write("budgets.yaml", HEAD + "  a: {system: big.md}\n")
    assert one_line_error(invoke("check")) == (
        "big.md: is 52,428,800 bytes, over the 32 MB the count_tokens endpoint "
        "accepts; reference a smaller file"
    )
    assert fake_api_env.count_requests() == 0


DOUBLING = "E0 = 'You are helpful. '\n" + "".join(
    f"E{i} = E{i - 1} + E{i - 1}\n" for i in range(1, 71)
)


def test_a_text_that_doubles_line_after_line_is_refused_quickly(repo, fake_api_env):
    # 70 lines would build a text of 2**70 characters, or take as long naively.
    repo.write("app/boom.py", DOUBLING)
    repo.write("budgets.yaml", HEAD + "  a: {system: app/boom.py::E70}\n")

    message = one_line_error(invoke("check"))

    assert message.startswith("app/boom.py:71: 'E70' is not a literal ")
    assert "builds a text over 32 MB" in message
    assert fake_api_env.count_requests() == 0


def test_several_requests_together_over_32_mb_are_refused(repo, fake_api_env):
    for name in ("a", "b"):
        with open(repo.root / f"{name}.md", "w") as handle:
            handle.write("ab " * 6_000_000)
    repo.write("budgets.yaml", HEAD + "  big: {system: [a.md, b.md]}\n")

    message = one_line_error(invoke("check"))

    assert message == (
        "budgets.yaml:4:3: features.big: the request is 36,000,121 bytes, over the "
        "32 MB the count_tokens endpoint accepts; shorten its prompts"
    )
    assert fake_api_env.count_requests() == 0


def test_template_syntax_error_names_the_line(repo):
    repo.write("t.j2", "Hello\n{% if question %}\n{{ question }\n")
    repo.write("budgets.yaml", HEAD + "  a: {messages: [{template: t.j2}]}\n")
    message = one_line_error(invoke("check", "--offline"))
    assert message.startswith("t.j2:3: template syntax error: ")
    assert message.endswith("; fix the template")


@pytest.mark.parametrize("name", ["../../outside.md", "/etc/hostname", "missing.md"])
def test_template_pulling_in_no_repository_file_is_named(repo, name):
    (repo.root.parent / "outside.md").write_text("RUNNER SECRET\n")
    repo.write("prompts/t.j2", f'Hello\n{{% include "{name}" %}}\n')
    repo.write("budgets.yaml", HEAD + "  a: {messages: [{template: prompts/t.j2}]}\n")
    assert one_line_error(invoke("check", "--offline")) == (
        f"prompts/t.j2:1: template pulls in '{name}', which is no file in the "
        "repository beside the template or in a folder above it; fix the name "
        "(files outside the repository are never read)"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("SYSTEM = 'unterminated\n", "app.py:1: Python syntax error ("),
        (
            "SYSTEM = " + "(" * 5000 + "'x'" + ")" * 5000 + "\n",
            "app.py:1: Python syntax error (too many nested parentheses); fix the file "
            "so it parses",
        ),
        ("SYSTEM = " + " + ".join(["'x'"] * 20000) + "\n", None),
        (
            "SYSTEM = " + "'x' + " * 10 + "open('/etc/passwd').read()\n",
            "app.py:1: 'SYSTEM' is not a literal promptbudget can read without "
            "running code (call); assign a string or list literal",
        ),
    ],
    ids=["syntax-error", "deep-nesting", "long-concatenation", "call"],
)
def test_python_sources_that_cannot_be_read(repo, source, expected):
    repo.write("app.py", source)
    repo.write("budgets.yaml", HEAD + "  a: {system: app.py::SYSTEM}\n")
    result = invoke("check", "--offline")
    if expected is None:
        # long but legal: read, or refused with one line; never a traceback
        assert result.exit_code in (0, 2)
        assert "Traceback" not in result.stderr
        return
    assert one_line_error(result).startswith(expected)


def test_huge_python_source_is_refused(repo):
    repo.write("app.py", "SYSTEM = 'x'\n" + "# padding\n" * 900_000)
    repo.write("budgets.yaml", HEAD + "  a: {system: app.py::SYSTEM}\n")
    assert one_line_error(invoke("check", "--offline")) == (
        "app.py: Python source too large to read statically"
    )


def test_diff_outside_a_repository(tmp_path, monkeypatch):
    (tmp_path / "p.md").write_text("hi\n")
    (tmp_path / "budgets.yaml").write_text(HEAD + "  a: {system: p.md}\n")
    monkeypatch.chdir(tmp_path)
    assert one_line_error(invoke("diff", "main")) == (
        f"{tmp_path}: is not a git repository; diff needs git history"
    )
    assert invoke("check", "--offline").exit_code == 0


def test_detached_head_and_unicode_path_with_spaces(
    tmp_path, monkeypatch, fake_api_env
):
    project = Project(tmp_path / "my répo ünïcode").init()
    project.write("prompts/a b.md", "Say hello to ☃.\n")
    project.write("budgets.yaml", HEAD + "  a: {system: 'prompts/a b.md'}\n")
    project.commit("start")
    project.append("prompts/a b.md", "Then stop.\n")
    project.commit("grow")
    project.git("checkout", "-q", "--detach", "HEAD")
    monkeypatch.chdir(project.root)

    result = invoke("diff", "main~1", "--format", "json")

    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)["results"][0]
    assert (row["change"], row["delta"] > 0) == ("changed", True)


def test_ref_with_leading_dash_is_never_an_option(repo):
    repo.write("p.md", "hi\n")
    repo.write("budgets.yaml", HEAD + "  a: {system: p.md}\n")
    repo.commit("start")
    assert one_line_error(invoke("diff", "--", "--output=/tmp/pwned")) == (
        "'--output=/tmp/pwned' is not a valid base ref: refs cannot start with '-'"
    )
