"""The pre-commit hook, run by real pre-commit against a snapshot of this checkout.

pre-commit installs the hook repository into a virtual environment of its
own (pip install of this project), so these tests take some seconds each.
try-repo builds that environment in a fresh store every time; the other
tests share one PRE_COMMIT_HOME for the module, so theirs is built once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_check import classify_body

from fakeapi import fake_count
from project import CLASSIFY_PROMPT, Project, snapshot

REPO = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists(), reason="pre-commit is not installed beside this Python"
)


@pytest.fixture(scope="module")
def hooks(tmp_path_factory) -> dict[str, str]:
    """This checkout as committed files in a scratch repository, and shared caches.

    The snapshot has the working tree as it is (uncommitted edits included),
    at a fixed commit, so every test installs the same hook.
    """
    repo = tmp_path_factory.mktemp("hook-repo")
    rev = snapshot(REPO, repo)
    return {
        "repo": str(repo),
        "rev": rev,
        "home": str(tmp_path_factory.mktemp("pre-commit-home")),
        "pip_cache": str(tmp_path_factory.mktemp("pip-cache")),
    }


def pre_commit(hooks: dict[str, str], cwd: Path, *args: str, **env: str):
    return subprocess.run(
        [str(PRE_COMMIT), *args],
        cwd=cwd,
        env={
            **os.environ,
            "PRE_COMMIT_HOME": hooks["home"],
            "PIP_CACHE_DIR": hooks["pip_cache"],
            "PATH": f"{PRE_COMMIT.parent}{os.pathsep}{os.environ['PATH']}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )


def try_repo(hooks: dict[str, str], cwd: Path, **env: str):
    return pre_commit(
        hooks,
        cwd,
        "try-repo",
        hooks["repo"],
        "promptbudget",
        "--ref",
        hooks["rev"],
        "--verbose",
        **env,
    )


@pytest.fixture
def app(tmp_path) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    project.commit("support app")
    return project


def test_try_repo_passes_a_commit_within_budget_without_a_key(hooks, app):
    app.append("prompts/classify.md", "Answer with one word.\n")
    app.git("add", "-A")

    result = try_repo(hooks, app.root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^promptbudget\.+Passed$", result.stdout, re.M)
    # Only the feature the staged file feeds is counted, as an estimate.
    rows = [line.split() for line in result.stdout.splitlines() if "claude-" in line]
    assert [(r[0], r[1], r[2][0], r[-1]) for r in rows] == [
        ("classify_intent", "claude-haiku-4-5", "~", "estimate")
    ]
    assert "1 ok; 1 of 1 counts estimated offline (~)" in result.stdout
    app.git("commit", "-q", "-m", "one word")
    assert app.git("log", "--format=%s", "-1") == "one word"


def test_try_repo_fails_a_commit_over_budget_and_names_the_feature(
    hooks, app, fake_api
):
    grown = "Explain the label in a full paragraph. " * 60
    app.append("prompts/classify.md", grown + "\n")
    app.git("add", "prompts/classify.md")

    result = try_repo(
        hooks,
        app.root,
        ANTHROPIC_API_KEY="sk-ant-test-0000",
        ANTHROPIC_BASE_URL=fake_api.base_url,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    body = classify_body()
    body["system"][0]["text"] = CLASSIFY_PROMPT + grown + "\n"
    tokens = fake_count(body)
    assert re.search(r"^promptbudget\.+Failed$", result.stdout, re.M)
    assert "- exit code: 1" in result.stdout
    assert (
        f"classify_intent on claude-haiku-4-5: {tokens:,} > 300 tokens "
        f"(+{tokens - 300:,}); shorten prompts/classify.md or raise "
        "features.classify_intent.budget.max_input_tokens in budgets.yaml"
    ) in result.stdout
    assert fake_api.count_requests() == 1


def test_staged_budgets_yaml_counts_every_feature_once_then_from_cache(
    hooks, app, fake_api, tmp_path
):
    config = tmp_path / "pre-commit-config.yaml"
    config.write_text(
        f"repos:\n- repo: {hooks['repo']}\n  rev: {hooks['rev']}\n"
        "  hooks:\n  - id: promptbudget\n    verbose: true\n"
    )
    app.append("budgets.yaml", "# reviewed\n")
    app.git("add", "budgets.yaml")
    key = {
        "ANTHROPIC_API_KEY": "sk-ant-test-0000",
        "ANTHROPIC_BASE_URL": fake_api.base_url,
    }

    first = pre_commit(hooks, app.root, "run", "-c", str(config), **key)
    second = pre_commit(hooks, app.root, "run", "-c", str(config), **key)

    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    sources = [
        [line.split()[-1] for line in run.stdout.splitlines() if "claude-" in line]
        for run in (first, second)
    ]
    assert sources == [["api", "api", "api"], ["cache", "cache", "cache"]]
    assert "3 ok; all counts exact" in second.stdout
    assert fake_api.count_requests() == 3


def test_the_repositorys_own_hooks_pass(hooks):
    """.pre-commit-config.yaml: ruff, and promptbudget on the example app."""
    result = pre_commit(hooks, Path(hooks["repo"]), "run", "--all-files")

    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("ruff format", "ruff check", "promptbudget (example app)"):
        assert any(
            line.startswith(name + ".") and line.endswith("Passed")
            for line in result.stdout.splitlines()
        ), result.stdout
