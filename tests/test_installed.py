"""The installed console script, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_check import answer_body, classify_body

from fakeapi import fake_count
from project import Project

SCRIPT = Path(sys.executable).with_name("promptbudget")
REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


pytestmark = pytest.mark.skipif(
    not SCRIPT.exists(), reason="promptbudget is not installed beside this Python"
)


def test_check_and_diff_as_subprocess(tmp_path, fake_api):
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("app")
    project.append("prompts/classify.md", "Answer with one word.\n")
    key = {
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "ANTHROPIC_BASE_URL": fake_api.base_url,
    }

    check = run(["check", "--format", "json"], project.root, **key)
    diff = run(["diff", "main", "--format", "json"], project.root, **key)

    assert check.returncode == 0, check.stderr
    assert diff.returncode == 0, diff.stderr
    sonnet = json.loads(check.stdout)["results"][0]
    assert sonnet["input_tokens"] == fake_count(answer_body("claude-sonnet-4-6")) + 900
    grown = classify_body()
    grown["system"][0]["text"] += "Answer with one word.\n"
    row = json.loads(diff.stdout)["results"][2]
    assert (row["feature"], row["delta"]) == (
        "classify_intent",
        fake_count(grown) - fake_count(classify_body()),
    )
    # check counted 3 requests; diff only the one base request that differs
    assert fake_api.count_requests() == 4


def test_example_app_checks_without_a_key():
    """The README's first command: check the example app with no API key."""
    result = run(["check"], REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].split() == [
        "feature",
        "model",
        "input",
        "budget",
        "use",
        "$/call",
        "status",
        "source",
    ]
    assert result.stdout.rstrip().endswith("counts estimated offline (~)")


def test_bad_config_is_one_line_without_traceback(tmp_path):
    project = Project(tmp_path / "repo").init()
    project.write("budgets.yaml", "version: 1\nfeatures: [oops\n")

    result = run(["check"], project.root)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "promptbudget: error: budgets.yaml:3:1: YAML syntax error: expected ',' or "
        "']', but got '<stream end>'; fix the YAML at that position\n"
    )


def test_help_has_examples():
    result = run(["check", "--help"], REPO)
    assert result.returncode == 0
    assert "promptbudget check prompts/answer.md" in result.stdout
