"""Exact counts from Anthropic's count_tokens endpoint, through the SDK.

The SDK is imported only when a request must be sent: a run where every
count is cached never pays for its import. The SDK does HTTP, retries and
backoff; this module only sorts its errors into fatal ones (the user must
fix something: exit 3) and transient ones (the caller may fall back to an
estimate, with a warning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from promptbudget.counting import TransientCountError
from promptbudget.errors import CountError


class WaitTooLong(Exception):
    """The API asked for a retry later than the caller is willing to wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"{seconds:g}s")
        self.seconds = seconds


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a retry-after-ms or retry-after header asks for, if any."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            continue
    return None


def _max_wait_middleware(anthropic: Any, max_wait: float) -> Any:
    """SDK middleware that stops a retry whose wait exceeds max_wait.

    The SDK sleeps through any retry-after it is given; in CI a wait of
    minutes is worse than an estimate, so the answer is turned into an error
    the caller falls back from.
    """

    class MaxWait(anthropic.Middleware):
        def handle(self, request: Any, call_next: Any) -> Any:
            response = call_next(request)
            if response.status_code == 429 or response.status_code >= 500:
                wait = retry_after(response.headers)
                if wait is not None and wait > max_wait:
                    raise WaitTooLong(wait)
            return response

    return MaxWait()


class ApiCounter:
    """Counts one request at a time; safe to share between threads."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        max_retries: int = 2,
        timeout: float = 60.0,
        max_wait: float = 60.0,
    ) -> None:
        self.env = env
        self.max_retries = max_retries
        self.timeout = timeout
        self.max_wait = max_wait
        self._client: Any = None

    def _sdk_client(self) -> Any:
        if self._client is None:
            _check_settings(self.env)
            import anthropic

            self._client = anthropic.Anthropic(
                api_key=self.env.get("ANTHROPIC_API_KEY") or None,
                auth_token=self.env.get("ANTHROPIC_AUTH_TOKEN") or None,
                base_url=self.env.get("ANTHROPIC_BASE_URL") or None,
                max_retries=self.max_retries,
                timeout=self.timeout,
                middleware=[_max_wait_middleware(anthropic, self.max_wait)],
            )
        return self._client

    def count(self, request: dict[str, Any], label: str) -> int:
        """input_tokens for one request; label names it in messages."""
        import anthropic

        client = self._sdk_client()
        model = request["model"]
        try:
            answer = client.messages.count_tokens(**request)
        except WaitTooLong as exc:
            raise TransientCountError(
                f"the API asked to retry in {exc}, longer than --max-wait "
                f"{self.max_wait:g}s"
            ) from None
        except anthropic.AuthenticationError as exc:
            raise CountError(
                f"count_tokens refused the API key (401 {_kind(exc)}); "
                "check ANTHROPIC_API_KEY"
            ) from None
        except anthropic.PermissionDeniedError as exc:
            raise CountError(
                f"count_tokens refused the API key for {model} (403 {_kind(exc)}); "
                "check the key's workspace and permissions"
            ) from None
        except anthropic.NotFoundError:
            raise CountError(
                f"model '{model}' is unknown to count_tokens (404); "
                f"fix the model name for {label} in budgets.yaml"
            ) from None
        except (anthropic.RateLimitError, anthropic.InternalServerError) as exc:
            raise TransientCountError(f"{exc.status_code} {_kind(exc)}") from None
        except anthropic.APITimeoutError:
            raise TransientCountError("request timed out") from None
        except anthropic.APIConnectionError:
            raise TransientCountError("could not connect") from None
        except anthropic.APIStatusError as exc:
            message = _clean(_message(exc), self.env)
            raise CountError(
                f"count_tokens rejected {label} ({exc.status_code} {_kind(exc)}: "
                f"{message})"
            ) from None
        except (anthropic.APIResponseValidationError, ValueError):
            # The SDK lets a 200 whose body is not JSON escape as JSONDecodeError.
            raise TransientCountError("the answer was not valid JSON") from None
        return _tokens(answer)


def _tokens(answer: Any) -> int:
    tokens = getattr(answer, "input_tokens", None)
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise TransientCountError("the answer had no input_tokens")
    if tokens == 0:
        # Every request holds at least one message: 0 is a broken answer,
        # and caching it would pass every budget from then on.
        raise TransientCountError("the answer said 0 input_tokens")
    return tokens


def _check_settings(env: Mapping[str, str]) -> None:
    """Refuse a key or base URL the SDK would only fail on as 'could not connect'."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        value = env.get(name) or ""
        if value and (not value.isascii() or any(c.isspace() for c in value)):
            raise CountError(
                f"{name} holds spaces, line breaks or non-ASCII characters "
                "(pasted with a newline?); set it to the key alone"
            )
        if any(not c.isprintable() for c in value):
            raise CountError(
                f"{name} holds control characters; set it to the key alone"
            )
    url = env.get("ANTHROPIC_BASE_URL")
    if url:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise CountError(
                "ANTHROPIC_BASE_URL is not an http(s) URL; fix it or unset it "
                "to use the API's own address"
            )


SECRET = re.compile(r"sk-ant-[A-Za-z0-9_-]+")


def _clean(text: str, env: Mapping[str, str]) -> str:
    """A server's words on one line, with no control characters and no key."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        secret = env.get(name)
        if secret:
            text = text.replace(secret, "[key]")
    text = SECRET.sub("[key]", text)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _kind(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            kind = error["type"][:60]
            if re.fullmatch(r"[a-z_]+", kind):
                return kind
    return "error"


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:200]
    return "no details"
