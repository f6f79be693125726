"""A loopback HTTP server that speaks Anthropic's count_tokens wire format.

Tests point the real ``anthropic`` SDK at :class:`FakeCountTokensServer` (via
``base_url=`` or ``ANTHROPIC_BASE_URL``) and script its answers: error statuses
with the API's error shape, ``retry-after`` headers, dropped connections,
hanging handlers and odd bodies.  It never talks to the network beyond
127.0.0.1.

Counts come from :func:`fake_count`, which is deterministic and documented, so
a test can compute the expected number for any request body.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, TypedDict
from urllib.parse import urlsplit

__all__ = [
    "COUNT_TOKENS_PATH",
    "DEFAULT_MODEL_OFFSET",
    "ERROR_KINDS",
    "MODEL_OFFSETS",
    "FakeCountTokensServer",
    "RecordedRequest",
    "error_body",
    "error_kind",
    "fake_count",
    "model_offset",
    "pieces",
]

COUNT_TOKENS_PATH = "/v1/messages/count_tokens"

#: HTTP status -> ``error.type`` as the Anthropic API reports it.
ERROR_KINDS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: (substring of the model name, offset); the first match wins.
MODEL_OFFSETS: tuple[tuple[str, int], ...] = (("haiku", 0), ("opus", 11))
#: Offset for a model that matches no entry of MODEL_OFFSETS (e.g. sonnet).
DEFAULT_MODEL_OFFSET = 5

_BASE_TOKENS = 7
_PER_SYSTEM_BLOCK = 3
_PER_MESSAGE = 4
_TOOLS_OVERHEAD = 150
_PIECE_RE = re.compile(r"\w+|[^\w\s]")


# --------------------------------------------------------------------------
# The count
# --------------------------------------------------------------------------


def pieces(text: str) -> int:
    """Number of words and punctuation marks: ``len(re.findall(r"\\w+|[^\\w\\s]"))``.

    Whitespace is free; ``"Hello, world!"`` is 4 pieces.
    """
    return len(_PIECE_RE.findall(text))


def model_offset(model: str) -> int:
    """Per-model offset: first MODEL_OFFSETS substring found in ``model``, else 5.

    "haiku" -> 0, "opus" -> 11, anything else (sonnet, ...) -> 5.
    """
    lowered = model.lower()
    for needle, offset in MODEL_OFFSETS:
        if needle in lowered:
            return offset
    return DEFAULT_MODEL_OFFSET


def _block_pieces(block: object) -> int:
    """Pieces of one content block: its text, or the JSON of a non-text block."""
    if not isinstance(block, Mapping):
        raise ValueError(f"content block must be an object, got {block!r}")
    if block.get("type") == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise ValueError("text block needs a string 'text'")
        return pieces(text)
    return pieces(json.dumps(block, sort_keys=True))


def _content_pieces(content: object) -> int:
    if isinstance(content, str):
        return pieces(content)
    if isinstance(content, list):
        return sum(_block_pieces(block) for block in content)
    raise ValueError(f"content must be a string or a list of blocks, got {content!r}")


def fake_count(body: Mapping[str, Any]) -> int:
    """Deterministic stand-in for ``input_tokens`` of a count_tokens request body.

    With ``pieces(t) = len(re.findall(r"\\w+|[^\\w\\s]", t))``::

        total = 7
              + model_offset(model)       # haiku 0, opus 11, otherwise 5
              + per system block:  pieces(text) + 3
                                   (a str system is one block)
              + per message:       4 + pieces of its content
                                   (a str, or the sum over its blocks)
              + if tools non-empty: 150 + sum(pieces(json.dumps(tool,
                                                    sort_keys=True)))

    A text block counts ``pieces(block["text"])``; any other block (image,
    tool_use, tool_result, ...) counts ``pieces(json.dumps(block,
    sort_keys=True))``.  So ``"hi"`` and ``[{"type": "text", "text": "hi"}]``
    count the same, as do a str system and a one-block system list.  The
    role, ``tool_choice``, ``thinking`` and other keys are ignored.

    Raises ValueError for a body that is not shaped like a count_tokens
    request (the server answers those with 400 invalid_request_error).
    """
    if not isinstance(body, Mapping):
        raise ValueError("body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("model: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("messages: Field required")

    total = _BASE_TOKENS + model_offset(model)

    system = body.get("system")
    if isinstance(system, str):
        total += pieces(system) + _PER_SYSTEM_BLOCK
    elif isinstance(system, list):
        for block in system:
            total += _block_pieces(block) + _PER_SYSTEM_BLOCK
    elif system is not None:
        raise ValueError("system must be a string or a list of text blocks")

    for message in messages:
        if not isinstance(message, Mapping) or "content" not in message:
            raise ValueError("each message needs 'role' and 'content'")
        total += _PER_MESSAGE + _content_pieces(message["content"])

    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise ValueError("tools must be a list")
        total += _TOOLS_OVERHEAD
        total += sum(pieces(json.dumps(tool, sort_keys=True)) for tool in tools)

    return total


# --------------------------------------------------------------------------
# Error shape
# --------------------------------------------------------------------------


def error_kind(status: int) -> str:
    """``error.type`` for ``status``.

    Unlisted statuses: >= 500 -> api_error, otherwise invalid_request_error.
    """
    if status in ERROR_KINDS:
        return ERROR_KINDS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The Anthropic error shape.

    ``{"type": "error", "error": {"type": error_kind(status), "message": ...}}``
    """
    kind = error_kind(status)
    return {"type": "error", "error": {"type": kind, "message": message or kind}}


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class RecordedRequest(TypedDict):
    """One request as the server saw it."""

    method: str
    path: str  # without the query string
    query: str  # the raw query string, "" if none
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None if empty / not JSON


@dataclass(frozen=True)
class _Fault:
    kind: Literal["status", "drop", "hang"]
    status: int = 200
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def _status_fault(
    status: int,
    retry_after: str | float | None,
    body: object,
    content_type: str | None,
    headers: Mapping[str, str] | None,
) -> _Fault:
    extra: list[tuple[str, str]] = []
    if retry_after is not None:
        extra.append(("retry-after", str(retry_after)))
    extra.extend((str(k), str(v)) for k, v in (headers or {}).items())
    raw: bytes | None
    if body is None:
        raw = None
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode("utf-8")
    else:
        raw = json.dumps(body).encode("utf-8")
    return _Fault(
        "status",
        status=status,
        body=raw,
        content_type=content_type or "application/json",
        headers=tuple(extra),
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FakeCountTokensServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Default prints a traceback on stderr; clients that hang up are normal.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle plus
        # delayed ACKs add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._untrack(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # -- helpers -----------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.send_header("request-id", self.server.owner._next_request_id())
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) or went away
            self.close_connection = True

    def _send_json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"))

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, error_body(status, message))

    # -- the request -------------------------------------------------------

    def _serve(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        path = urlsplit(self.path)
        owner._record(
            {
                "method": self.command,
                "path": path.path,
                "query": path.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        is_count = self.command == "POST" and path.path == COUNT_TOKENS_PATH
        fault = owner._next_fault() if is_count else None

        if owner.latency > 0 and owner._sleep(owner.latency):
            self._drop()
            return
        if fault is not None:
            if fault.kind == "drop":
                self._drop()
                return
            if fault.kind == "hang":
                if owner._sleep(fault.seconds):
                    self._drop()
                    return
            else:
                if fault.body is not None:
                    self._send(
                        fault.status, fault.body, fault.content_type, fault.headers
                    )
                    return
                if fault.status >= 400:
                    message = f"fake {error_kind(fault.status)}"
                    shaped = json.dumps(error_body(fault.status, message)).encode()
                    self._send(fault.status, shaped, headers=fault.headers)
                    return
                # A non-error status without a body: a normal count below.

        if not is_count:
            self._send_error(404, f"Not found: {self.command} {path.path}")
            return
        if not owner._authorized(
            self.headers.get("x-api-key"), self.headers.get("authorization")
        ):
            self._send_error(401, "invalid x-api-key")
            return
        if bad_json:
            self._send_error(400, "Request body is not valid JSON")
            return
        try:
            count = fake_count(body)
        except ValueError as exc:
            self._send_error(400, str(exc))
            return
        if body["model"] in owner.unknown_models:
            self._send_error(404, f"model: {body['model']}")
            return
        status = fault.status if fault is not None and fault.kind == "status" else 200
        headers = fault.headers if fault is not None else ()
        payload = json.dumps({"input_tokens": count}).encode("utf-8")
        self._send(status, payload, headers=headers)


class FakeCountTokensServer:
    """A count_tokens endpoint on 127.0.0.1:<free port>, served by a daemon thread.

    ``with FakeCountTokensServer() as srv:`` or ``srv.start()`` / ``srv.stop()``.

    Per request (in this order): the request is recorded; a count request
    (POST ``/v1/messages/count_tokens``) takes the next scripted fault, if
    any; ``latency`` is slept; the fault is applied; other paths get 404;
    then ``api_key`` (401), body shape (400) and ``unknown_models`` (404) are
    checked and ``{"input_tokens": fake_count(body)}`` is answered with 200.
    Every answer has ``content-type: application/json`` (unless a fault says
    otherwise) and a ``request-id`` header.

    Settable attributes: ``api_key`` (str or None: when set, a request that
    presents neither ``x-api-key: <key>`` nor ``authorization: Bearer <key>``
    gets 401 -- SDK 2.x sends ``api_key`` as a Bearer token, older SDKs as
    ``x-api-key``), ``unknown_models`` (set of model names that get 404
    ``"model: <name>"``), ``latency`` (seconds slept before each answer).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        unknown_models: set[str] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.api_key: str | None = api_key
        self.unknown_models: set[str] = set(unknown_models or ())
        self.latency: float = latency
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._sticky: _Fault | None = None
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeCountTokensServer:
        """Bind a free port and serve from a daemon thread.  Returns self."""
        if self._server is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fake-count-tokens-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes hanging handlers and closes open connections.

        Idempotent.  Hanging and latency sleeps end at once (their connection
        is closed without an answer); returns within about a second.
        """
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=1.0)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeCountTokensServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # -- recorded requests -------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot (copy) of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def count_requests(self) -> int:
        """Number of POSTs to /v1/messages/count_tokens received so far."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if r["method"] == "POST" and r["path"] == COUNT_TOKENS_PATH
            )

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- scripted faults (count requests only, consumed in order) ----------

    def fail(
        self,
        status: int,
        times: int = 1,
        retry_after: str | float | None = None,
        body: object = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` count requests with ``status``.

        Without ``body``: a status >= 400 gets the Anthropic error shape, a
        lower status gets the normal count.  ``body`` overrides the payload:
        bytes/str are sent as they are, anything else is JSON-encoded.  The
        content-type is ``application/json`` unless ``content_type`` is given.
        ``retry_after`` becomes a ``retry-after`` header; ``headers`` are added.
        """
        fault = _status_fault(status, retry_after, body, content_type, headers)
        self._push(fault, times)

    def drop(self, times: int = 1) -> None:
        """Read the next ``times`` count requests, then close the socket unanswered."""
        self._push(_Fault("drop"), times)

    def hang(self, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` count requests."""
        self._push(_Fault("hang", seconds=seconds), times)

    def always_fail(
        self,
        status: int,
        retry_after: str | float | None = None,
        body: object = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Like :meth:`fail` for every count request (after queued faults)."""
        fault = _status_fault(status, retry_after, body, content_type, headers)
        with self._lock:
            self._sticky = fault

    def clear_faults(self) -> None:
        """Forget queued faults and any :meth:`always_fail`."""
        with self._lock:
            self._faults.clear()
            self._sticky = None

    # -- used by the handler -----------------------------------------------

    def _push(self, fault: _Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.extend([fault] * times)

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            return self._sticky

    def _authorized(self, x_api_key: str | None, authorization: str | None) -> bool:
        key = self.api_key
        if key is None:
            return True
        return x_api_key == key or authorization == f"Bearer {key}"

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_request_id(self) -> str:
        with self._lock:
            return f"req_fake_{next(self._ids):06d}"

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the server is stopping meanwhile."""
        return self._stopping.wait(seconds)

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
