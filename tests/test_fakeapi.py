"""The fake count_tokens server, exercised through the real anthropic SDK."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeapi import (
    COUNT_TOKENS_PATH,
    FakeCountTokensServer,
    error_body,
    fake_count,
    pieces,
)

HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-5"
OPUS = "claude-opus-4-1"

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Hello, world!"}]
TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(fake_api: FakeCountTokensServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        api_key="sk-ant-test-1111", base_url=fake_api.base_url, max_retries=0
    ) as c:
        yield c


def count(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    kwargs.setdefault("model", SONNET)
    kwargs.setdefault("messages", MESSAGES)
    return client.messages.count_tokens(**kwargs)


def raw_request(
    srv: FakeCountTokensServer, method: str, path: str, data: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with urllib; returns status, lower-case headers and body."""
    req = urllib.request.Request(srv.base_url + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, _lower(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, _lower(err.headers.items()), err.read()


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


# --------------------------------------------------------------------------
# fake_count
# --------------------------------------------------------------------------


def test_pieces_counts_words_and_punctuation() -> None:
    assert pieces("Hello, world!") == 4
    assert pieces("  ") == 0
    assert pieces("a_b c-d") == 4  # a_b, c, -, d


def test_fake_count_formula_exact() -> None:
    body: dict[str, Any] = {"model": HAIKU, "system": "Be brief.", "messages": MESSAGES}
    # 7 + haiku 0 + system (3 pieces + 3) + message (4 + 4 pieces)
    assert fake_count(body) == 21
    # '{"name": "t"}' is 9 pieces: 150 + 9 for the tools
    assert fake_count({**body, "tools": [{"name": "t"}]}) == 21 + 159
    assert fake_count({**body, "tools": []}) == 21


def test_fake_count_model_offsets() -> None:
    body: dict[str, Any] = {"messages": MESSAGES}
    haiku = fake_count({**body, "model": HAIKU})
    assert fake_count({**body, "model": SONNET}) == haiku + 5
    assert fake_count({**body, "model": OPUS}) == haiku + 11
    assert fake_count({**body, "model": "some-future-model"}) == haiku + 5


def test_fake_count_str_and_block_forms_agree() -> None:
    as_str: dict[str, Any] = {
        "model": SONNET,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi there"}],
    }
    as_blocks: dict[str, Any] = {
        "model": SONNET,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi there"}]}
        ],
    }
    assert fake_count(as_str) == fake_count(as_blocks)


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["system"].append({"type": "text", "text": "x"}),
        lambda b: b["system"][0].update(text="Be very brief."),
        lambda b: b["messages"][0].update(content="Hello, big world!"),
        lambda b: b["messages"][1]["content"][0].update(text="Sure thing, ok."),
        lambda b: b["messages"].append({"role": "user", "content": ""}),
        lambda b: b["tools"][0].update(description="Weather for a big city."),
        lambda b: b["tools"].append({"name": "t"}),
        lambda b: b.update(model=OPUS),
    ],
)
def test_fake_count_is_sensitive_to_every_piece(change: Any) -> None:
    def body() -> dict[str, Any]:
        return {
            "model": SONNET,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "Hello, world!"},
                {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
            ],
            "tools": [json.loads(json.dumps(TOOL))],
        }

    changed = body()
    change(changed)
    assert fake_count(changed) != fake_count(body())


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"messages": MESSAGES},
        {"model": SONNET},
        {"model": SONNET, "messages": [{"role": "user"}]},
        {"model": SONNET, "messages": [{"role": "user", "content": 3}]},
        {"model": SONNET, "messages": MESSAGES, "system": 3},
    ],
)
def test_fake_count_rejects_malformed_bodies(bad: Any) -> None:
    with pytest.raises(ValueError):
        fake_count(bad)


# --------------------------------------------------------------------------
# Normal answers through the SDK
# --------------------------------------------------------------------------


def test_count_matches_fake_count_and_body_is_recorded(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    sent: dict[str, Any] = {
        "model": SONNET,
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "Hello, world!"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
            {"role": "user", "content": "Weather in Paris?"},
        ],
        "tools": [TOOL],
    }
    result = client.messages.count_tokens(**sent)

    assert result.input_tokens == fake_count(sent)
    assert result._request_id is not None
    assert result._request_id.startswith("req_fake_")
    assert fake_api.count_requests() == 1
    (recorded,) = fake_api.requests
    assert recorded["method"] == "POST"
    assert recorded["path"] == COUNT_TOKENS_PATH
    assert recorded["body"] == sent
    assert recorded["headers"]["content-type"] == "application/json"
    assert "anthropic-version" in recorded["headers"]
    # SDK 2.x sends api_key as a Bearer token, not as x-api-key.
    assert recorded["headers"]["authorization"] == "Bearer sk-ant-test-1111"


def test_string_system_and_counts_differ_by_model(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    results = {
        model: count(client, model=model, system="Be brief.").input_tokens
        for model in (HAIKU, SONNET, OPUS)
    }
    assert results == {HAIKU: 21, SONNET: 26, OPUS: 32}
    assert [r["body"]["system"] for r in fake_api.requests] == ["Be brief."] * 3


@pytest.fixture(scope="module")
def shared_api() -> Iterator[tuple[FakeCountTokensServer, anthropic.Anthropic]]:
    with (
        FakeCountTokensServer() as srv,
        anthropic.Anthropic(api_key="k", base_url=srv.base_url, max_retries=0) as c,
    ):
        yield srv, c


@settings(max_examples=30, deadline=None)
@given(
    system=st.text(max_size=40),
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=4),
    model=st.sampled_from([HAIKU, SONNET, OPUS]),
)
def test_round_trip_any_text(
    shared_api: tuple[FakeCountTokensServer, anthropic.Anthropic],
    system: str,
    texts: list[str],
    model: str,
) -> None:
    srv, c = shared_api
    messages: list[Any] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text}
        for i, text in enumerate(texts)
    ]
    result = c.messages.count_tokens(model=model, system=system, messages=messages)
    sent = {"model": model, "system": system, "messages": messages}
    assert srv.requests[-1]["body"] == sent
    assert result.input_tokens == fake_count(sent)


def test_fake_api_env_points_the_default_client_at_the_server(
    fake_api_env: FakeCountTokensServer,
) -> None:
    fake_api_env.api_key = "sk-ant-test-0000"
    with anthropic.Anthropic(max_retries=0) as c:
        result = count(c)
    assert result.input_tokens == fake_count({"model": SONNET, "messages": MESSAGES})
    headers = fake_api_env.requests[0]["headers"]
    assert headers["authorization"] == "Bearer sk-ant-test-0000"


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "exc_type"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (403, "permission_error", anthropic.PermissionDeniedError),
        (404, "not_found_error", anthropic.NotFoundError),
        (413, "request_too_large", anthropic.ContentTooLargeError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
def test_fail_status_raises_typed_error_with_anthropic_shape(
    fake_api: FakeCountTokensServer,
    client: anthropic.Anthropic,
    status: int,
    kind: str,
    exc_type: type[anthropic.APIStatusError],
) -> None:
    fake_api.fail(status)
    with pytest.raises(exc_type) as info:
        count(client)
    err = info.value
    assert err.status_code == status
    assert err.type == kind
    assert err.body == error_body(status, f"fake {kind}")
    assert err.request_id is not None and err.request_id.startswith("req_fake_")
    assert err.response.headers["content-type"] == "application/json"
    assert fake_api.count_requests() == 1
    # The fault was used up: the next request is answered normally.
    assert count(client).input_tokens == fake_count(
        {"model": SONNET, "messages": MESSAGES}
    )


def test_529_without_retries_is_an_api_status_error(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(529)
    with pytest.raises(anthropic.APIStatusError) as info:
        count(client)
    assert isinstance(info.value, anthropic.InternalServerError)
    assert info.value.status_code == 529
    assert fake_api.count_requests() == 1


def test_429_with_retry_after_zero_is_retried_then_succeeds(
    fake_api: FakeCountTokensServer,
) -> None:
    # retry-after "0" is not honoured as "now": the SDK falls back to its own
    # backoff (about 0.4-0.5 s for the first retry).
    fake_api.fail(429, retry_after="0")
    with anthropic.Anthropic(
        api_key="k", base_url=fake_api.base_url, max_retries=2
    ) as c:
        result = count(c)
    assert result.input_tokens == fake_count({"model": SONNET, "messages": MESSAGES})
    assert fake_api.count_requests() == 2
    first, second = fake_api.requests
    assert first["body"] == second["body"]
    assert first["headers"]["x-stainless-retry-count"] == "0"
    assert second["headers"]["x-stainless-retry-count"] == "1"


def test_retry_after_header_is_sent(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(429, retry_after=7)
    with pytest.raises(anthropic.RateLimitError) as info:
        count(client)
    assert info.value.response.headers["retry-after"] == "7"


def test_always_fail_storm_exhausts_retries_until_cleared(
    fake_api: FakeCountTokensServer,
) -> None:
    fake_api.always_fail(529, retry_after="0.001")
    with anthropic.Anthropic(
        api_key="k", base_url=fake_api.base_url, max_retries=2
    ) as c:
        with pytest.raises(anthropic.OverloadedError):
            count(c)
        assert fake_api.count_requests() == 3
        fake_api.clear_faults()
        assert count(c).input_tokens == fake_count(
            {"model": SONNET, "messages": MESSAGES}
        )
    assert fake_api.count_requests() == 4


def test_wrong_api_key_gets_401_and_is_not_retried(
    fake_api: FakeCountTokensServer,
) -> None:
    fake_api.api_key = "sk-ant-right"
    with anthropic.Anthropic(
        api_key="sk-ant-wrong", base_url=fake_api.base_url, max_retries=2
    ) as c:
        with pytest.raises(anthropic.AuthenticationError) as info:
            count(c)
    assert info.value.type == "authentication_error"
    assert fake_api.count_requests() == 1


def test_x_api_key_header_is_accepted(fake_api: FakeCountTokensServer) -> None:
    fake_api.api_key = "sk-ant-right"
    body = json.dumps({"model": SONNET, "messages": MESSAGES}).encode()
    req = urllib.request.Request(
        fake_api.base_url + COUNT_TOKENS_PATH, data=body, method="POST"
    )
    req.add_header("x-api-key", "sk-ant-right")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read()) == {
            "input_tokens": fake_count({"model": SONNET, "messages": MESSAGES})
        }


def test_permission_denied(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(403)
    with pytest.raises(anthropic.PermissionDeniedError):
        count(client)


def test_unknown_model_is_not_found(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.unknown_models = {"claude-nope"}
    with pytest.raises(anthropic.NotFoundError) as info:
        count(client, model="claude-nope")
    assert info.value.type == "not_found_error"
    assert info.value.api_message == "model: claude-nope"
    assert count(client).input_tokens > 0


def test_unknown_path_and_bad_bodies_on_the_wire(
    fake_api: FakeCountTokensServer,
) -> None:
    status, headers, body = raw_request(fake_api, "GET", "/v1/models")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert headers["request-id"].startswith("req_fake_")
    assert json.loads(body)["type"] == "error"
    assert json.loads(body)["error"]["type"] == "not_found_error"

    status, _, body = raw_request(fake_api, "POST", COUNT_TOKENS_PATH, b"{nope")
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"

    status, _, body = raw_request(fake_api, "POST", COUNT_TOKENS_PATH, b'{"a": 1}')
    assert status == 400
    assert json.loads(body)["error"]["type"] == "invalid_request_error"

    assert [r["body"] for r in fake_api.requests] == [None, None, {"a": 1}]
    assert fake_api.count_requests() == 2


# --------------------------------------------------------------------------
# Connection faults
# --------------------------------------------------------------------------


def test_drop_raises_connection_error_then_server_recovers(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.drop()
    with pytest.raises(anthropic.APIConnectionError) as info:
        count(client)
    assert not isinstance(info.value, anthropic.APITimeoutError)
    assert fake_api.requests[0]["body"] == {"model": SONNET, "messages": MESSAGES}
    assert count(client).input_tokens > 0
    assert fake_api.count_requests() == 2


def test_hang_past_the_timeout_raises_timeout_error(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.hang(2)
    with pytest.raises(anthropic.APITimeoutError):
        count(client, timeout=0.3)
    assert fake_api.count_requests() == 1


def test_latency_applies_to_every_answer(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.latency = 5
    with pytest.raises(anthropic.APITimeoutError):
        count(client, timeout=0.2)


def test_faults_are_consumed_in_order_by_count_requests_only(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(429)
    fake_api.drop()
    fake_api.hang(0.01)
    assert raw_request(fake_api, "GET", "/v1/models")[0] == 404  # uses no fault
    with pytest.raises(anthropic.RateLimitError):
        count(client)
    with pytest.raises(anthropic.APIConnectionError):
        count(client)
    expected = fake_count({"model": SONNET, "messages": MESSAGES})
    assert count(client).input_tokens == expected  # after the short hang
    assert count(client).input_tokens == expected
    assert fake_api.count_requests() == 4


def test_stop_does_not_wait_for_a_hanging_handler() -> None:
    srv = FakeCountTokensServer().start()
    srv.hang(60)
    outcome: list[BaseException] = []

    def call() -> None:
        with anthropic.Anthropic(
            api_key="k", base_url=srv.base_url, max_retries=0
        ) as c:
            try:
                count(c, timeout=60)
            except BaseException as exc:  # noqa: BLE001
                outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + 5
    while srv.count_requests() == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert srv.count_requests() == 1

    stopper = threading.Thread(target=srv.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], anthropic.APIConnectionError)


def test_server_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    with (
        FakeCountTokensServer() as srv,
        anthropic.Anthropic(api_key="k", base_url=srv.base_url, max_retries=0) as c,
    ):
        srv.drop()
        srv.hang(5)
        for _ in range(2):
            with pytest.raises(anthropic.APIConnectionError):
                count(c, timeout=0.1)
        raw_request(srv, "GET", "/nowhere")
        count(c)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# --------------------------------------------------------------------------
# Odd bodies: what the SDK does with them
# --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["<html>oops</html>", '{"input_tokens": 1', ""])
def test_200_non_json_body_labelled_json_raises_json_decode_error(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic, raw: str
) -> None:
    # Not an anthropic.APIError: the SDK lets json.JSONDecodeError escape.
    fake_api.fail(200, body=raw)
    with pytest.raises(json.JSONDecodeError):
        count(client)


def test_200_non_json_body_with_text_content_type_is_returned_as_str(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(200, body="<html>oops</html>", content_type="text/html")
    result = count(client)
    assert result == "<html>oops</html>"
    assert not hasattr(result, "input_tokens")


def test_200_body_without_input_tokens_gives_none_silently(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(200, body={"foo": 1})
    result = count(client)
    assert isinstance(result, anthropic.types.MessageTokensCount)
    assert result.input_tokens is None
    assert result.model_extra == {"foo": 1}


def test_200_body_with_string_input_tokens_is_not_coerced(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(200, body={"input_tokens": "12"})
    assert count(client).input_tokens == "12"


def test_5xx_html_error_body_is_kept_as_text(
    fake_api: FakeCountTokensServer, client: anthropic.Anthropic
) -> None:
    fake_api.fail(502, body="<html>Bad gateway</html>", content_type="text/html")
    with pytest.raises(anthropic.InternalServerError) as info:
        count(client)
    assert info.value.status_code == 502
    assert info.value.body == "<html>Bad gateway</html>"
    assert info.value.type is None
