"""API faults through the loopback server: what is printed, the exit code, and
that no wrong count is cached."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from promptbudget.cli import cli

from project import Project

FAST = ["--jobs", "1", "--max-retries", "0", "--format", "json"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def app(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path / "repo").init().write_support_app()
    monkeypatch.chdir(project.root)
    return project


def nothing_was_cached(server) -> bool:
    """A healthy second run must count all three requests again."""
    server.clear_faults()
    server.clear_requests()
    again = invoke("check", "--format", "json")
    sources = {r["source"] for r in json.loads(again.stdout)["results"]}
    return server.count_requests() == 3 and sources == {"api"}


FALLBACKS = [
    ("429 storm", lambda s: s.always_fail(429), "429 rate_limit_error"),
    (
        "429 long retry-after",
        lambda s: s.always_fail(429, retry_after="900"),
        "the API asked to retry in 900s, longer than --max-wait 60s",
    ),
    ("500", lambda s: s.always_fail(500), "500 api_error"),
    ("529", lambda s: s.always_fail(529), "529 overloaded_error"),
    ("dropped connection", lambda s: s.drop(times=100), "could not connect"),
    (
        "not JSON",
        lambda s: s.always_fail(
            200, body="<html>oops</html>", content_type="application/json"
        ),
        "the answer was not valid JSON",
    ),
    (
        "no input_tokens",
        lambda s: s.always_fail(200, body={"tokens": 12}),
        "the answer had no input_tokens",
    ),
    (
        "zero input_tokens",
        lambda s: s.always_fail(200, body={"input_tokens": 0}),
        "the answer said 0 input_tokens",
    ),
    (
        "string input_tokens",
        lambda s: s.always_fail(200, body={"input_tokens": "12"}),
        "the answer had no input_tokens",
    ),
]


@pytest.mark.parametrize(
    ("fault", "problem"), [f[1:] for f in FALLBACKS], ids=[f[0] for f in FALLBACKS]
)
def test_transient_faults_fall_back_to_labelled_estimates(
    app, fake_api_env, fault, problem
):
    fault(fake_api_env)

    result = invoke("check", *FAST)

    assert result.exit_code == 0
    rows = json.loads(result.stdout)["results"]
    assert [(r["source"], r["exact"]) for r in rows] == [("estimate", False)] * 3
    warnings = result.stderr.splitlines()
    assert len(warnings) == 3
    assert warnings[0] == (
        "promptbudget: warning: count_tokens failed for answer_question on "
        f"claude-sonnet-4-6 ({problem}); using an estimate"
    )
    assert nothing_was_cached(fake_api_env)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [f[1:] for f in FALLBACKS[:3]],
    ids=[f[0] for f in FALLBACKS[:3]],
)
def test_transient_faults_under_strict_are_exit_3(app, fake_api_env, fault, problem):
    fault(fake_api_env)

    result = invoke("check", "--strict", *FAST)

    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        "promptbudget: error: count_tokens failed for answer_question on "
        f"claude-sonnet-4-6 ({problem}) and --strict allows no estimate; retry later\n"
    )


FATAL = [
    (
        400,
        "count_tokens rejected answer_question on claude-sonnet-4-6 "
        "(400 invalid_request_error: scripted failure)",
    ),
    (
        413,
        "count_tokens rejected answer_question on claude-sonnet-4-6 "
        "(413 request_too_large: scripted failure)",
    ),
    (
        401,
        "count_tokens refused the API key (401 authentication_error); "
        "check ANTHROPIC_API_KEY",
    ),
    (
        403,
        "count_tokens refused the API key for claude-sonnet-4-6 "
        "(403 permission_error); check the key's workspace and permissions",
    ),
    (
        404,
        "model 'claude-sonnet-4-6' is unknown to count_tokens (404); fix the model "
        "name for answer_question on claude-sonnet-4-6 in budgets.yaml",
    ),
]


@pytest.mark.parametrize(("status", "message"), FATAL, ids=[str(f[0]) for f in FATAL])
def test_fatal_faults_are_exit_3_and_cache_nothing(app, fake_api_env, status, message):
    fake_api_env.always_fail(
        status,
        body={
            "type": "error",
            "error": {
                "type": {
                    400: "invalid_request_error",
                    401: "authentication_error",
                    403: "permission_error",
                    404: "not_found_error",
                    413: "request_too_large",
                }[status],
                "message": "scripted failure",
            },
        },
    )

    result = invoke("check", *FAST)

    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == f"promptbudget: error: {message}\n"
    assert nothing_was_cached(fake_api_env)


def test_hanging_server_times_out_to_an_estimate(app, fake_api_env):
    fake_api_env.hang(30, times=1)

    result = invoke("check", "--timeout", "0.5", *FAST)

    assert result.exit_code == 0
    assert "(request timed out); using an estimate" in result.stderr.splitlines()[0]
    sources = [r["source"] for r in json.loads(result.stdout)["results"]]
    assert sources == ["estimate", "api", "api"]


def test_connection_refused(app, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")

    result = invoke("check", *FAST)

    assert result.exit_code == 0
    assert "(could not connect); using an estimate" in result.stderr.splitlines()[0]
    strict = invoke("check", "--strict", *FAST)
    assert strict.exit_code == 3


def test_a_retried_fault_then_success_is_exact(app, fake_api_env):
    fake_api_env.fail(529, times=1, retry_after="0.01")

    result = invoke("check", "--jobs", "1", "--format", "json")

    assert result.stderr == ""
    assert {r["source"] for r in json.loads(result.stdout)["results"]} == {"api"}
    assert fake_api_env.count_requests() == 4


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ANTHROPIC_API_KEY",
            "sk-ant-test-0000\n",
            "ANTHROPIC_API_KEY holds spaces, line breaks or non-ASCII characters "
            "(pasted with a newline?); set it to the key alone",
        ),
        (
            "ANTHROPIC_API_KEY",
            "sk-ant-test 0000",
            "ANTHROPIC_API_KEY holds spaces, line breaks or non-ASCII characters "
            "(pasted with a newline?); set it to the key alone",
        ),
        (
            "ANTHROPIC_BASE_URL",
            "not a url",
            "ANTHROPIC_BASE_URL is not an http(s) URL; fix it or unset it to use "
            "the API's own address",
        ),
        (
            "ANTHROPIC_BASE_URL",
            "http://[::1",
            "ANTHROPIC_BASE_URL is not an http(s) URL; fix it or unset it to use "
            "the API's own address",
        ),
    ],
    ids=["key-newline", "key-space", "url-words", "url-broken-ipv6"],
)
def test_a_malformed_key_or_url_is_exit_3_not_a_pass(
    app, fake_api_env, monkeypatch, name, value, message
):
    monkeypatch.setenv(name, value)

    result = invoke("check", *FAST)

    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == f"promptbudget: error: {message}\n"
    assert fake_api_env.count_requests() == 0


def test_a_servers_error_message_is_one_clean_line_without_the_key(app, fake_api_env):
    fake_api_env.always_fail(
        400,
        body={
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "line1\nline2 sk-ant-test-0000 sk-ant-api03-other\x1b[31mred",
            },
        },
    )

    result = invoke("check", *FAST)

    assert result.exit_code == 3
    assert result.stderr == (
        "promptbudget: error: count_tokens rejected answer_question on "
        "claude-sonnet-4-6 (400 invalid_request_error: line1 line2 [key] [key]red)\n"
    )
