"""A reverse proxy that breaks the mock in one deliberate way, for testing the suite.

The conformance suite must catch real implementations' bugs; a proxy in front of the
real mock lets a test inject exactly one (a wrong status, a dropped field, a lost write,
a leak across accounts) without any test-only switch inside the mock itself.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import urllib3
from werkzeug.wrappers import Request, Response

from mockserver.serving import in_background

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "host"}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, document: Any) -> Answer:
        return Answer(self.status, self.headers, json.dumps(document).encode())


Forward = Callable[[Exchange], Answer]
Respond = Callable[[Exchange, Forward], Answer]


@dataclass(frozen=True)
class Breakage:
    """Applies ``respond`` to requests matching ``method`` (``*``: any) and the ``path``
    regex."""

    method: str
    path: str
    respond: Respond
    state: dict[str, Any] = field(default_factory=dict, compare=False)

    def matches(self, exchange: Exchange) -> bool:
        return self.method in ("*", exchange.method) and re.fullmatch(
            self.path, exchange.path) is not None


def rewrite_json(method: str, path: str, change: Callable[[Any], Any],
                 when: Callable[[Answer], bool] = lambda answer: 200 <= answer.status < 300,
                 ) -> Breakage:
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        answer = forward(exchange)
        return answer.with_json(change(answer.json())) if when(answer) else answer

    return Breakage(method, path, respond)


def drop_field(field: str) -> Callable[[Any], Any]:
    """A ``rewrite_json`` change: the body without one top-level field."""
    def change(body: Any) -> Any:
        body.pop(field, None)
        return body

    return change


def rewrite_request_json(method: str, path: str, change: Callable[[Any], Any]) -> Breakage:
    """A server that "repairs" part of a request body before validating it (strips a
    character, swaps an unknown value for a default): what a half-enforced rule looks like."""
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        try:
            body = json.loads(exchange.body)
        except ValueError:
            return forward(exchange)
        if isinstance(body, dict):
            exchange = replace(exchange, body=json.dumps(change(body)).encode())
        return forward(exchange)

    return Breakage(method, path, respond)


def hide_clock() -> Breakage:
    """A target without the mock's admin clock, as a real vendor is: its time-based checks
    then run in real time."""
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        return Answer(404, {"Content-Type": "application/json"}, b'{"detail": "Not found."}')

    return Breakage("GET", "/__admin/clock", respond)


def expired_upload(path: str) -> Breakage:
    """An object store that refuses every presigned POST as if its policy had expired."""
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        return Answer(403, {"Content-Type": "application/xml"},
                      b"<Error><Code>AccessDenied</Code><Message>Policy expired.</Message>"
                      b"</Error>")

    return Breakage("POST", path, respond)


def refusal_accepted(method: str, path: str, status: int, message: str,
                     suffix: str) -> Breakage:
    """A refusal with this status and message answered as a success instead: 200 with the
    resource read at the path without ``suffix`` (a second stop that a server accepts)."""
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        answer = forward(exchange)
        try:
            refused = answer.status == status and answer.json().get("message") == message
        except (ValueError, AttributeError):
            refused = False
        if not refused:
            return answer
        return forward(replace(exchange, method="GET", path=exchange.path.removesuffix(suffix),
                               query="", body=b""))

    return Breakage(method, path, respond)


def set_status(method: str, path: str, status: int, when_status: int | None = None) -> Breakage:
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        answer = forward(exchange)
        if when_status is None or answer.status == when_status:
            answer.status = status
        return answer

    return Breakage(method, path, respond)


def swap_header(method: str, path: str, name: str, old: str, new: str) -> Breakage:
    def respond(exchange: Exchange, forward: Forward) -> Answer:
        headers = dict(exchange.headers)
        if headers.get(name) == old:
            headers[name] = new
        return forward(replace(exchange, headers=headers))

    return Breakage(method, path, respond)


def cache_first(method: str, path: str) -> Breakage:
    """A stale read: the first answer per request line and credentials, forever."""
    cache: dict[tuple[str, ...], Answer] = {}

    def respond(exchange: Exchange, forward: Forward) -> Answer:
        key = (exchange.path, exchange.query, exchange.headers.get("Authorization", ""),
               exchange.headers.get("Cookie", ""), exchange.headers.get("X-API-Session", ""))
        if key not in cache:
            cache[key] = forward(exchange)
        return cache[key]

    return Breakage(method, path, respond)


class BrokenProxy:
    """Served by waitress on a thread of the test's process (a breakage may keep state the
    test reads); forwards through one urllib3 pool. Both matter: a conformance run sends
    about a thousand requests, and the werkzeug development server with requests added
    3.5 ms to each, where these add about 1."""

    def __init__(self, upstream: str, *breakages: Breakage, port: int = 0) -> None:
        self._upstream = upstream.rstrip("/")
        self._breakages = breakages
        self._pool = urllib3.PoolManager(maxsize=16, retries=False, timeout=30)
        self._listener = socket.create_server(("127.0.0.1", port))
        self.origin = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop: Callable[[], None] | None = None

    def __enter__(self) -> BrokenProxy:
        self._stop = in_background(self._app, self._listener, "broken-proxy")
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._stop()
        self._pool.clear()

    def url(self, path: str) -> str:
        return self.origin + path

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        exchange = Exchange(request.method, request.path, request.query_string.decode(),
                            {k: v for k, v in request.headers.items()
                             if k.lower() not in _HOP_BY_HOP} | {"Host": request.host},
                            request.get_data())
        breakage = next((b for b in self._breakages if b.matches(exchange)), None)
        answer = breakage.respond(exchange, self._forward) if breakage else self._forward(exchange)
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def _forward(self, exchange: Exchange) -> Answer:
        path = quote(exchange.path, safe="/~")  # the path arrives decoded; send it as a URL
        url = self._upstream + path + (f"?{exchange.query}" if exchange.query else "")
        response = self._pool.request(exchange.method, url, headers=exchange.headers,
                                      body=exchange.body or None, redirect=False)
        # names in one spelling (Granian sends them lower-case), so breakages can find and
        # replace a header by its usual name; repeated ones joined, as requests did
        headers = {name.title(): response.headers[name] for name in response.headers
                   if name.lower() not in _HOP_BY_HOP}
        return Answer(response.status, headers, response.data)
