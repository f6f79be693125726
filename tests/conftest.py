from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakeapi import FakeCountTokensServer

# What github-report reads; a test sets the ones it means.
GITHUB_VARIABLES = (
    "GITHUB_API_URL",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_OUTPUT",
    "GITHUB_REF",
    "GITHUB_REPOSITORY",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "RUNNER_TEMP",
)


@pytest.fixture
def fake_api() -> Iterator[FakeCountTokensServer]:
    """A started FakeCountTokensServer on 127.0.0.1, stopped at teardown."""
    with FakeCountTokensServer() as server:
        yield server


@pytest.fixture
def fake_api_env(
    fake_api: FakeCountTokensServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeCountTokensServer]:
    """``fake_api`` with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY pointing at it."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    yield fake_api


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No real key, a private cache, and git that reads no user or system config."""
    home = tmp_path_factory.mktemp("home")
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("GITHUB_BASE_REF", "GITHUB_ACTIONS", "XDG_CACHE_HOME", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PROMPTBUDGET_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.com")
