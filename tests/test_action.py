"""action.yml: valid for GitHub, and its own steps run as a runner would run them.

The `run:` steps are taken from action.yml, their `${{ }}` expressions filled
in from the inputs' defaults, and run with bash as the runner does, with the
GITHUB_* variables of a pull_request job, the loopback count_tokens server
and a loopback GitHub API. Only the `uses:` steps (setup-python, cache) are
not run: they need GitHub. The install step pip-installs a snapshot of this
checkout once for the module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_github import MARKER, PR_NUMBER, clone, growth_annotations
from test_markdown import GROWTH, expected_growth_markdown

from fakegithub import FakeGitHub
from project import Project, snapshot

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            schema,
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_action_yml_is_a_valid_action():
    result = check_jsonschema("vendor.github-actions", REPO / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "ok -- validation done\n"


def readme_workflow() -> str:
    """The first yaml block of the README's GitHub Actions section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## GitHub Actions\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_readme_workflow_is_a_valid_workflow(tmp_path):
    workflow = tmp_path / "promptbudget.yml"
    workflow.write_text(readme_workflow(), encoding="utf-8")

    result = check_jsonschema("vendor.github-workflows", workflow)

    assert result.returncode == 0, result.stdout + result.stderr
    document = yaml.safe_load(workflow.read_text())
    assert document["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert list(document[True]) == ["pull_request"]  # YAML 1.1 reads `on` as True
    checkout, action = document["jobs"]["promptbudget"]["steps"]
    assert checkout["with"]["fetch-depth"] == 0
    assert action["with"]["anthropic-api-key"] == "${{ secrets.ANTHROPIC_API_KEY }}"


def test_a_broken_action_fails_validation(tmp_path):
    """The schema check can fail: an action without runs is refused."""
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump({k: v for k, v in ACTION.items() if k != "runs"}))
    assert check_jsonschema("vendor.github-actions", broken).returncode == 1


class ActionRunner:
    """Runs action.yml's `run:` steps with bash, as a runner does."""

    def __init__(self, root: Path, api: FakeGitHub, installed: dict[str, str]) -> None:
        self.root = root
        self.api = api
        self.action_path = Path(installed["action_path"])
        self.bin = installed["path"]
        self.temp = root / "runner-temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.files = {
            name: root / name.lower()
            for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH")
        }
        self.event = root / "event.json"
        self.env = {
            **os.environ,
            "GITHUB_ACTIONS": "true",
            "GITHUB_BASE_REF": "main",
            "GITHUB_REPOSITORY": api.repository,
            "GITHUB_API_URL": api.url,
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(self.event),
            "GITHUB_REF": f"refs/pull/{PR_NUMBER}/merge",
            "RUNNER_TEMP": str(self.temp),
            **{name: str(path) for name, path in self.files.items()},
        }
        self.pull_from(api.repository)

    def pull_from(self, head_repository: str) -> None:
        pull = {
            "number": PR_NUMBER,
            "head": {"repo": {"full_name": head_repository}},
            "base": {"repo": {"full_name": self.api.repository}},
        }
        self.event.write_text(json.dumps({"pull_request": pull}))

    def expressions(self, inputs: dict[str, str]) -> dict[str, str]:
        defaults = {
            name: str(spec.get("default", ""))
            for name, spec in ACTION["inputs"].items()
        }
        values = {f"inputs.{k}": v for k, v in {**defaults, **inputs}.items()}
        values.update(
            {
                "github.token": self.api.token,
                "github.action_path": str(self.action_path),
                "steps.python.outputs.python-path": sys.executable,
            }
        )
        return values

    def fill(self, text: str, values: dict[str, str]) -> str:
        def one(found: re.Match[str]) -> str:
            assert found.group(1) in values, f"unknown expression {found.group(0)}"
            return self.fill(values[found.group(1)], values)

        return EXPRESSION.sub(one, text)

    def run_step(self, step_id: str, cwd: Path, **inputs: str):
        (step,) = [s for s in ACTION["runs"]["steps"] if s.get("id") == step_id]
        values = self.expressions(inputs)
        for path in self.files.values():
            path.write_text("")
        env = dict(self.env)
        env.update(
            {k: self.fill(str(v), values) for k, v in step.get("env", {}).items()}
        )
        env["PATH"] = os.pathsep.join([self.bin, env["PATH"]])
        folder = cwd / self.fill(step.get("working-directory", "."), values)
        assert step["shell"] == "bash"
        script = self.temp / f"{step_id}.sh"
        script.write_text(self.fill(step["run"], values))
        # The command line a runner uses for `shell: bash`.
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def outputs(self) -> str:
        return self.files["GITHUB_OUTPUT"].read_text()

    def summary(self) -> str:
        return self.files["GITHUB_STEP_SUMMARY"].read_text()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The action's install step, run once: a venv with promptbudget in RUNNER_TEMP."""
    action_path = tmp_path_factory.mktemp("action")
    snapshot(REPO, action_path)
    temp = tmp_path_factory.mktemp("runner-temp")
    github_path = temp / "github-path"
    github_path.write_text("")
    (step,) = [
        s for s in ACTION["runs"]["steps"] if s.get("name") == "Install promptbudget"
    ]
    env = {
        **os.environ,
        "RUNNER_TEMP": str(temp),
        "GITHUB_PATH": str(github_path),
        "PB_PYTHON": sys.executable,
        "PB_ACTION_PATH": str(action_path),
        "PIP_CACHE_DIR": str(tmp_path_factory.mktemp("pip-cache")),
    }
    assert step["env"] == {
        "PB_PYTHON": "${{ steps.python.outputs.python-path }}",
        "PB_ACTION_PATH": "${{ github.action_path }}",
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {"action_path": str(action_path), "path": github_path.read_text().strip()}


@pytest.fixture
def action(tmp_path, installed, fake_api_env):
    with FakeGitHub() as api:
        yield ActionRunner(tmp_path, api, installed)


@pytest.fixture
def pull(tmp_path) -> tuple[Project, Project]:
    upstream = Project(tmp_path / "upstream").init().write_support_app()
    upstream.commit("support app")
    checkout = clone(upstream, tmp_path / "workspace")
    checkout.git("checkout", "-q", "-b", "grow")
    return upstream, checkout


def test_install_step_puts_promptbudget_on_the_path(installed):
    script = Path(installed["path"]) / "promptbudget"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.stdout == "promptbudget, version 0.1.0\n"


def test_report_step_creates_then_updates_one_comment(action, pull):
    upstream, checkout = pull
    checkout.append("prompts/answer_system.md", GROWTH)

    first = action.run_step("report", checkout.root)

    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert lines[lines.index("::endgroup::") + 1 :] == growth_annotations()
    markdown = expected_growth_markdown(
        "origin/main", upstream.git("rev-parse", "HEAD")
    )
    assert action.summary() == markdown
    report = action.temp / "promptbudget-report.json"
    assert action.outputs() == (
        f"status=fail\nover=2\nwarnings=0\nreport={report}\ncomment=created\n"
    )
    (comment,) = action.api.comments
    assert comment["body"] == f"{MARKER}\n{markdown}"
    assert {r.authorization for r in action.api.requests} == {
        f"Bearer {action.api.token}"
    }

    checkout.append("prompts/answer_system.md", GROWTH)
    action.api.requests.clear()
    second = action.run_step("report", checkout.root)

    assert second.returncode == 1
    assert [r.method for r in action.api.requests] == ["GET", "PATCH"]
    assert action.api.requests[1].path.endswith(f"/issues/comments/{comment['id']}")
    assert len(action.api.comments) == 1
    assert action.api.comments[0]["body"] != f"{MARKER}\n{markdown}"
    assert action.outputs().endswith("comment=updated\n")


def test_report_step_on_a_fork_skips_the_comment(action, pull):
    upstream, checkout = pull
    checkout.append("prompts/answer_system.md", GROWTH)
    action.pull_from("contributor/support-bot")

    result = action.run_step("report", checkout.root)

    assert result.returncode == 1
    assert action.api.requests == []
    lines = result.stdout.splitlines()
    assert lines[lines.index("::endgroup::") + 1 :] == [
        *growth_annotations(),
        "::notice title=promptbudget::this pull request comes from a fork, whose "
        "GITHUB_TOKEN cannot write; no comment (the report is in the job summary)",
    ]
    assert action.summary() == expected_growth_markdown(
        "origin/main", upstream.git("rev-parse", "HEAD")
    )
    assert action.outputs().endswith("comment=skipped\n")


def test_report_step_inputs(action, pull, tmp_path):
    """config, working-directory, comment, warnings-fail and extra-args reach the command."""
    upstream, checkout = pull
    budgets = checkout.read("budgets.yaml").replace(
        "budget: {max_input_tokens: 300}", "budget: {max_input_tokens: 31}"
    )
    checkout.write("budgets.yaml", "")
    checkout.write(
        "config/budgets.yaml",
        budgets.replace("prompts/", "../prompts/").replace("app/", "../app/"),
    )

    result = action.run_step(
        "report",
        checkout.root,
        **{
            "working-directory": "app",
            "config": "../config/budgets.yaml",
            "comment": "never",
            "warnings-fail": "true",
            "extra-args": "--jobs 2 main",
        },
    )

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index("::endgroup::") + 1 :][0].startswith(
        "::error file=prompts/classify.md,line=1,title=promptbudget%3A classify_intent"
    )
    assert action.outputs().startswith("status=warn\nover=0\nwarnings=1\n")
    assert action.api.requests == []
