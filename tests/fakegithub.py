"""A loopback stand-in for the GitHub REST API's issue comments.

It serves the three calls the action makes, records every request, and can
play a fork's read-only token (403 on writes, as GitHub answers them):

- GET   /repos/{owner}/{repo}/issues/{number}/comments?per_page=&page=
- POST  /repos/{owner}/{repo}/issues/{number}/comments
- PATCH /repos/{owner}/{repo}/issues/comments/{id}
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
ONE = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")
READ_ONLY = "Resource not accessible by integration"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class FakeGitHub:
    repository: str = "acme/support-bot"
    token: str = "ghs_test_token"
    read_only: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    _next_id: int = 1001
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakeGitHub:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                owner._serve(self)

            def do_POST(self) -> None:
                owner._serve(self)

            def do_PATCH(self) -> None:
                owner._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_comment(self, issue: int, body: str, login: str = "someone") -> int:
        with self._lock:
            comment_id = self._next_id
            self._next_id += 1
            self.comments.append(
                {
                    "id": comment_id,
                    "issue": issue,
                    "body": body,
                    "user": {"login": login},
                }
            )
        return comment_id

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(
                Recorded(
                    handler.command,
                    url.path,
                    parse_qs(url.query),
                    body,
                    handler.headers.get("authorization"),
                )
            )
        status, answer = self._answer(handler.command, url.path, url.query, body)
        payload = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(self, method: str, path: str, query: str, body: Any) -> tuple[int, Any]:
        if self.requests[-1].authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        listing, one = LIST.fullmatch(path), ONE.fullmatch(path)
        if listing and listing[1] == self.repository and method == "GET":
            return 200, self._page(int(listing[2]), parse_qs(query))
        if method in ("POST", "PATCH") and self.read_only:
            return 403, {"message": READ_ONLY}
        if listing and listing[1] == self.repository and method == "POST":
            comment_id = self.add_comment(
                int(listing[2]), body["body"], "github-actions[bot]"
            )
            return 201, self._public(self._find(comment_id))
        if one and one[1] == self.repository and method == "PATCH":
            comment = self._find(int(one[2]))
            if comment is None:
                return 404, {"message": "Not Found"}
            comment["body"] = body["body"]
            return 200, self._public(comment)
        return 404, {"message": "Not Found"}

    def _page(self, issue: int, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        mine = [self._public(c) for c in self.comments if c["issue"] == issue]
        return mine[(page - 1) * per_page : page * per_page]

    def _find(self, comment_id: int) -> dict[str, Any] | None:
        return next((c for c in self.comments if c["id"] == comment_id), None)

    def _public(self, comment: dict[str, Any] | None) -> dict[str, Any]:
        assert comment is not None
        return {
            "id": comment["id"],
            "body": comment["body"],
            "user": comment["user"],
            "html_url": f"https://github.example/{self.repository}/pull/"
            f"{comment['issue']}#issuecomment-{comment['id']}",
        }
