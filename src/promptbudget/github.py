"""What the GitHub Action does with a diff: summary, annotations, outputs, comment.

The action stays a thin shell around `promptbudget github-report`, which calls
publish() here. Everything it touches arrives as a parameter: the environment
(GITHUB_* variables), the stream workflow commands go to, and the GitHub REST
API at GITHUB_API_URL, reached with urllib.

The pull request gets ONE comment, found again by a hidden marker and edited
in place on later runs. A token that cannot write (a fork's pull request) only
costs the comment: the summary, annotations and outputs are written anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from promptbudget import __version__
from promptbudget.budget import summarize
from promptbudget.errors import EXIT_OK, EXIT_OVER
from promptbudget.markdown import COMMENT_LIMIT, escape, render_markdown
from promptbudget.report import render_json, render_text
from promptbudget.run import Report
from promptbudget.workflow import annotation_lines, command, folded

log = logging.getLogger(__name__)

# A step summary holds 1 MiB; stay well inside it in bytes, not only characters.
SUMMARY_LIMIT = 900_000
DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
MAX_PAGES = 50


@dataclass
class ActionOptions:
    comment: str = "auto"  # auto, always, never
    comment_on: str = "always"  # always, changes, failure
    warnings_fail: bool = False
    json_report: Path | None = None
    config_path: str = "budgets.yaml"  # names the comment, for several configs


@dataclass
class Outcome:
    status: str  # pass, warn, fail
    over: int
    warnings: int
    report_path: Path
    comment: str  # created, updated, unchanged, skipped, none
    exit_code: int


@dataclass(frozen=True)
class PullRequest:
    number: int
    read_only: bool  # the token cannot write here: a fork's pull request


class GitHubApiError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


def marker(config_path: str) -> str:
    return f"<!-- promptbudget:comment:{config_path} -->"


def publish(
    report: Report, options: ActionOptions, env: Mapping[str, str], out: TextIO
) -> Outcome:
    """Annotate, summarise, set outputs and comment; return what happened."""
    summary = summarize(report.rows)
    over = summary["over"] + summary["error"]
    warnings = summary["warn"]
    failed = bool(over or report.failed())
    status = "fail" if failed else "warn" if warnings else "pass"
    failing = bool(failed or (warnings and options.warnings_fail))

    report_path = options.json_report or _default_report_path(env)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(render_json(report), encoding="utf-8")

    for line in folded(f"promptbudget {report.command}", render_text(report)):
        print(line, file=out)
    for line in annotation_lines(report, options.warnings_fail):
        print(line, file=out)
    _append(env.get("GITHUB_STEP_SUMMARY"), render_markdown(report, SUMMARY_LIMIT))
    comment = _comment(report, options, env, out, failing)

    outcome = Outcome(
        status,
        over,
        warnings,
        report_path,
        comment,
        EXIT_OVER if failing else EXIT_OK,
    )
    set_outputs(
        env,
        {
            "status": outcome.status,
            "over": str(outcome.over),
            "warnings": str(outcome.warnings),
            "report": str(outcome.report_path),
            "comment": outcome.comment,
        },
    )
    return outcome


def publish_error(message: str, env: Mapping[str, str], out: TextIO) -> None:
    """A run that could not count still leaves an annotation and outputs."""
    print(command("error", {"title": "promptbudget"}, message), file=out)
    _append(
        env.get("GITHUB_STEP_SUMMARY"),
        f"### ❌ promptbudget: could not run\n\n{escape(message)}\n",
    )
    set_outputs(env, {"status": "error", "over": "0", "warnings": "0"})


def set_outputs(env: Mapping[str, str], values: dict[str, str]) -> None:
    """Append name=value lines to $GITHUB_OUTPUT (a heredoc for several lines)."""
    lines = []
    for name, value in values.items():
        if "\n" in value:
            digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
            delimiter = f"promptbudget_{digest}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}")
        else:
            lines.append(f"{name}={value}")
    _append(env.get("GITHUB_OUTPUT"), "\n".join(lines) + "\n")


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text)


def _default_report_path(env: Mapping[str, str]) -> Path:
    folder = env.get("RUNNER_TEMP") or tempfile.gettempdir()
    return Path(folder) / "promptbudget-report.json"


def _comment(
    report: Report,
    options: ActionOptions,
    env: Mapping[str, str],
    out: TextIO,
    failing: bool,
) -> str:
    """Create or update the one sticky comment, as options say; return its fate."""
    if options.comment == "never":
        return "none"
    pull = pull_request(env)
    if pull is None:
        log.info("not a pull request: no comment")
        return "none"
    if pull.read_only and options.comment == "auto":
        _notice(
            out,
            "this pull request comes from a fork, whose GITHUB_TOKEN cannot write; "
            "no comment (the report is in the job summary)",
        )
        return "skipped"
    token = env.get("GITHUB_TOKEN")
    repository = env.get("GITHUB_REPOSITORY")
    if not token or not repository:
        _notice(out, "GITHUB_TOKEN or GITHUB_REPOSITORY is not set; no comment")
        return "skipped"

    api = GitHubApi(env.get("GITHUB_API_URL") or DEFAULT_API_URL, token, repository)
    tag = marker(options.config_path)
    body = tag + "\n" + render_markdown(report, COMMENT_LIMIT - len(tag) - 1)
    try:
        existing = api.find_comment(pull.number, tag)
        if existing is not None:
            if existing.get("body") == body:
                return "unchanged"
            api.update_comment(existing["id"], body)
            return "updated"
        if not _wanted(report, options.comment_on, failing):
            return "none"
        api.create_comment(pull.number, body)
        return "created"
    except GitHubApiError as exc:
        if exc.status in (403, 404):
            say = _notice if options.comment == "auto" else _warning
            say(
                out,
                f"the token cannot comment on pull request #{pull.number} "
                f"({exc.status}: {exc}); no comment (the report is in the job "
                "summary); a fork's pull request gets a read-only token",
            )
        else:
            _warning(out, f"could not comment on pull request #{pull.number}: {exc}")
        return "skipped"


def _wanted(report: Report, comment_on: str, failing: bool) -> bool:
    """Whether a new comment is worth it; an existing one is always kept current."""
    if comment_on == "always":
        return True
    if comment_on == "failure":
        return failing
    return failing or any(row.change not in (None, "same") for row in report.rows)


def pull_request(env: Mapping[str, str]) -> PullRequest | None:
    """The pull request this run is for, from the event payload or GITHUB_REF."""
    event = _event(env)
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        head = (pull.get("head") or {}).get("repo") or {}
        base = (pull.get("base") or {}).get("repo") or {}
        forked = head.get("full_name") != base.get("full_name") or not head
        # pull_request_target runs with the base's token, which can write.
        target = env.get("GITHUB_EVENT_NAME") == "pull_request_target"
        return PullRequest(pull["number"], forked and not target)
    found = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", env.get("GITHUB_REF", ""))
    return PullRequest(int(found[1]), False) if found else None


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read the event payload %s: %s", path, exc)
        return {}
    return event if isinstance(event, dict) else {}


def _notice(out: TextIO, message: str) -> None:
    print(command("notice", {"title": "promptbudget"}, message), file=out)


def _warning(out: TextIO, message: str) -> None:
    print(command("warning", {"title": "promptbudget"}, message), file=out)


class GitHubApi:
    """The three issue-comment calls the action needs, over urllib."""

    def __init__(
        self, api_url: str, token: str, repository: str, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.repository = repository
        self.timeout = timeout

    def find_comment(self, number: int, tag: str) -> dict[str, Any] | None:
        """The first comment on the pull request whose body starts with tag."""
        for page in range(1, MAX_PAGES + 1):
            comments = self._call(
                "GET",
                f"/repos/{self.repository}/issues/{number}/comments"
                f"?per_page={PER_PAGE}&page={page}",
            )
            if not isinstance(comments, list):
                raise GitHubApiError(None, "listing comments did not return a list")
            for comment in comments:
                if str(comment.get("body", "")).startswith(tag):
                    return dict(comment)
            if len(comments) < PER_PAGE:
                break
        return None

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        path = f"/repos/{self.repository}/issues/{number}/comments"
        return dict(self._call("POST", path, {"body": body}))

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{self.repository}/issues/comments/{comment_id}"
        return dict(self._call("PATCH", path, {"body": body}))

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"promptbudget/{__version__}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise GitHubApiError(exc.code, _api_message(exc)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubApiError(None, f"{method} {path} failed: {reason}") from None
        except ValueError:
            raise GitHubApiError(None, f"{method} {path}: answer is not JSON") from None


def _api_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or exc.reason)[:200]
