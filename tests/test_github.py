"""github-report: summary, annotations, outputs and one sticky PR comment.

A real pull request checkout (a clone with origin/main), GITHUB_* variables
as a runner sets them, the loopback count_tokens server, and a loopback
GitHub API.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_markdown import GROWTH, expected_growth_markdown, growth_reason, growth_rows

from promptbudget.cli import cli
from promptbudget.github import marker

from fakegithub import READ_ONLY, FakeGitHub
from project import Project

PR_NUMBER = 42
MARKER = marker("budgets.yaml")


def growth_annotations() -> list[str]:
    """The two ::error lines of the support app after GROWTH."""
    return [
        "::error file=prompts/answer_system.md,line=1,title=promptbudget%3A "
        f"answer_question on {row[0]} over budget::"
        + growth_reason(*row).replace("%", "%25")
        for row in growth_rows()
    ]


def clone(upstream: Project, target: Path) -> Project:
    subprocess.run(
        ["git", "clone", "-q", f"file://{upstream.root}", str(target)], check=True
    )
    return Project(target)


@pytest.fixture
def upstream(tmp_path) -> Project:
    project = Project(tmp_path / "upstream").init().write_support_app()
    project.commit("support app")
    return project


@pytest.fixture
def checkout(tmp_path, upstream, monkeypatch) -> Project:
    """The pull request's branch, cloned as actions/checkout with fetch-depth 0."""
    project = clone(upstream, tmp_path / "checkout")
    project.git("checkout", "-q", "-b", "grow")
    monkeypatch.chdir(project.root)
    return project


class Runner:
    """The variables a runner sets for a pull_request job, in tmp_path."""

    def __init__(self, tmp_path: Path, api: FakeGitHub, monkeypatch) -> None:
        self.dir = tmp_path / "runner"
        self.dir.mkdir()
        self.summary = self.dir / "summary.md"
        self.output = self.dir / "output"
        self.event = self.dir / "event.json"
        self.api = api
        self.event_for(api.repository)
        variables = {
            "GITHUB_ACTIONS": "true",
            "GITHUB_BASE_REF": "main",
            "GITHUB_REPOSITORY": api.repository,
            "GITHUB_API_URL": api.url,
            "GITHUB_TOKEN": api.token,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(self.event),
            "GITHUB_REF": f"refs/pull/{PR_NUMBER}/merge",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.output),
            "RUNNER_TEMP": str(self.dir),
        }
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    def event_for(self, head_repository: str | None) -> None:
        head = {"repo": {"full_name": head_repository}} if head_repository else {}
        pull = {
            "number": PR_NUMBER,
            "head": head,
            "base": {"repo": {"full_name": self.api.repository}},
        }
        self.event.write_text(json.dumps({"pull_request": pull}))

    def run(self, *args: str):
        self.summary.write_text("")
        self.output.write_text("")
        return CliRunner().invoke(cli, ["github-report", *args], catch_exceptions=False)

    def outputs(self) -> str:
        return self.output.read_text()

    def report_path(self) -> Path:
        return self.dir / "promptbudget-report.json"


@pytest.fixture
def runner(tmp_path, monkeypatch, fake_api_env):
    with FakeGitHub() as api:
        yield Runner(tmp_path, api, monkeypatch)


def after_group(stdout: str) -> list[str]:
    """Lines after the folded text report: annotations and notices."""
    lines = stdout.splitlines()
    assert lines[0] == "::group::promptbudget diff"
    return lines[lines.index("::endgroup::") + 1 :]


def test_first_run_creates_the_comment_then_updates_it(checkout, upstream, runner):
    checkout.append("prompts/answer_system.md", GROWTH)
    markdown = expected_growth_markdown(
        "origin/main", upstream.git("rev-parse", "HEAD")
    )

    first = runner.run()

    assert first.exit_code == 1
    assert runner.summary.read_text() == markdown
    assert after_group(first.stdout) == growth_annotations()
    assert runner.outputs() == (
        f"status=fail\nover=2\nwarnings=0\nreport={runner.report_path()}\n"
        "comment=created\n"
    )
    report = json.loads(runner.report_path().read_text())
    assert report["summary"] == {"ok": 1, "warn": 0, "over": 2, "error": 0}
    base = f"/repos/{runner.api.repository}/issues"
    assert runner.api.calls() == [
        ("GET", f"{base}/{PR_NUMBER}/comments"),
        ("POST", f"{base}/{PR_NUMBER}/comments"),
    ]
    assert runner.api.requests[0].query == {"per_page": ["100"], "page": ["1"]}
    (comment,) = runner.api.comments
    assert comment["body"] == f"{MARKER}\n{markdown}"

    # The prompt is put back: the same comment now says all is well.
    checkout.write(
        "prompts/answer_system.md", upstream.read("prompts/answer_system.md")
    )
    runner.api.requests.clear()
    second = runner.run()

    assert second.exit_code == 0
    assert after_group(second.stdout) == []
    assert runner.api.calls() == [
        ("GET", f"{base}/{PR_NUMBER}/comments"),
        ("PATCH", f"{base}/comments/{comment['id']}"),
    ]
    assert len(runner.api.comments) == 1
    assert runner.api.comments[0]["body"].startswith(
        f"{MARKER}\n### ✅ promptbudget: within budget · total 0 tokens (+0.0%)\n"
    )
    assert runner.outputs().endswith("comment=updated\n")

    # Nothing changed since: the comment is left as it is.
    runner.api.requests.clear()
    third = runner.run()

    assert third.exit_code == 0
    assert runner.api.calls() == [("GET", f"{base}/{PR_NUMBER}/comments")]
    assert runner.outputs().endswith("comment=unchanged\n")


def test_fork_skips_the_comment_but_writes_summary_and_annotations(
    checkout, upstream, runner
):
    checkout.append("prompts/answer_system.md", GROWTH)
    runner.event_for("contributor/support-bot")

    result = runner.run()

    assert result.exit_code == 1
    assert runner.api.requests == []
    assert after_group(result.stdout) == [
        *growth_annotations(),
        "::notice title=promptbudget::this pull request comes from a fork, whose "
        "GITHUB_TOKEN cannot write; no comment (the report is in the job summary)",
    ]
    assert runner.summary.read_text() == expected_growth_markdown(
        "origin/main", upstream.git("rev-parse", "HEAD")
    )
    assert runner.outputs().endswith("comment=skipped\n")


def test_a_token_that_cannot_write_is_a_notice(checkout, runner):
    runner.event.write_text("{}")  # no payload: the number comes from GITHUB_REF
    runner.api.read_only = True

    result = runner.run()

    assert result.exit_code == 0
    assert [r.method for r in runner.api.requests] == ["GET", "POST"]
    assert after_group(result.stdout) == [
        "::notice title=promptbudget::the token cannot comment on pull request #42 "
        f"(403: {READ_ONLY}); no comment (the report is in the job summary); a "
        "fork's pull request gets a read-only token"
    ]
    assert runner.api.comments == []


def test_always_tries_on_a_fork_and_warns_when_refused(checkout, runner):
    runner.event_for("contributor/support-bot")
    runner.api.read_only = True

    result = runner.run("--comment", "always")

    assert result.exit_code == 0
    assert after_group(result.stdout) == [
        "::warning title=promptbudget::the token cannot comment on pull request #42 "
        f"(403: {READ_ONLY}); no comment (the report is in the job summary); a "
        "fork's pull request gets a read-only token"
    ]


def test_comment_on_changes_stays_quiet_on_an_unchanged_pr(checkout, runner):
    result = runner.run("--comment-on", "changes")

    assert result.exit_code == 0
    assert [r.method for r in runner.api.requests] == ["GET"]
    assert runner.api.comments == []
    assert runner.outputs() == (
        f"status=pass\nover=0\nwarnings=0\nreport={runner.report_path()}\n"
        "comment=none\n"
    )


def test_comment_on_changes_comments_when_a_count_changes(checkout, runner):
    checkout.append("prompts/classify.md", "Answer with one word.\n")

    result = runner.run("--comment-on", "changes")

    assert result.exit_code == 0
    assert [r.method for r in runner.api.requests] == ["GET", "POST"]


def test_comment_on_failure_keeps_an_existing_comment_current(checkout, runner):
    stale = runner.api.add_comment(PR_NUMBER, f"{MARKER}\n### ❌ old news\n")

    result = runner.run("--comment-on", "failure")

    assert result.exit_code == 0
    assert [r.method for r in runner.api.requests] == ["GET", "PATCH"]
    assert runner.api.requests[1].path.endswith(f"/issues/comments/{stale}")
    assert "within budget" in runner.api.comments[0]["body"]


def test_comment_on_failure_without_failure_posts_nothing(checkout, runner):
    result = runner.run("--comment-on", "failure")
    assert [r.method for r in runner.api.requests] == ["GET"]
    assert runner.outputs().endswith("comment=none\n")
    assert result.exit_code == 0


def test_never_calls_no_api(checkout, runner):
    result = runner.run("--comment", "never")
    assert runner.api.requests == []
    assert runner.outputs().endswith("comment=none\n")
    assert result.exit_code == 0


def test_the_marker_is_found_on_a_later_page(checkout, runner):
    for i in range(120):
        runner.api.add_comment(PR_NUMBER, f"comment {i}")
    ours = runner.api.add_comment(PR_NUMBER, f"{MARKER}\nold\n")
    runner.api.add_comment(PR_NUMBER, "a quote of it: " + MARKER)

    runner.run()

    assert [(r.method, r.query.get("page")) for r in runner.api.requests] == [
        ("GET", ["1"]),
        ("GET", ["2"]),
        ("PATCH", None),
    ]
    assert runner.api.requests[2].path.endswith(f"/comments/{ours}")


def test_warnings_fail(checkout, runner):
    budgets = checkout.read("budgets.yaml").replace(
        "budget: {max_input_tokens: 300}", "budget: {max_input_tokens: 31}"
    )
    checkout.write("budgets.yaml", budgets)

    passing = runner.run("--comment", "never")
    failing = runner.run("--comment", "never", "--warnings-fail")

    assert passing.exit_code == 0
    assert after_group(passing.stdout)[0].startswith(
        "::warning file=prompts/classify.md"
    )
    assert failing.exit_code == 1
    assert after_group(failing.stdout)[0].startswith("::error file=prompts/classify.md")
    assert runner.outputs().startswith("status=warn\nover=0\nwarnings=1\n")


def test_shallow_checkout_is_an_error_that_names_fetch_depth(
    tmp_path, upstream, runner, monkeypatch
):
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{upstream.root}", str(shallow)],
        check=True,
    )
    upstream.append("prompts/classify.md", "More.\n")
    upstream.commit("more")
    subprocess.run(["git", "fetch", "-q", "--depth", "1"], cwd=shallow, check=True)
    Project(shallow).git("checkout", "-q", "-b", "grow", "HEAD")
    monkeypatch.chdir(shallow)

    result = runner.run()

    message = (
        "'origin/main' and HEAD share no history; this is a shallow clone: set "
        "fetch-depth: 0 on actions/checkout (or run git fetch --unshallow)"
    )
    assert result.exit_code == 2
    assert result.stderr == f"promptbudget: error: {message}\n"
    assert result.stdout == f"::error title=promptbudget::{message}\n"
    assert runner.outputs() == "status=error\nover=0\nwarnings=0\n"
    assert runner.summary.read_text() == (
        f"### ❌ promptbudget: could not run\n\n{message}\n"
    )
    assert runner.api.requests == []
