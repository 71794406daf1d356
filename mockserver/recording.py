"""What the journal keeps of each exchange with the mock's own routes.

The request body is taken as the application reads it, through a tee on ``wsgi.input``
that keeps the first ``BODY_LIMIT`` bytes: a JSON body, a form that Werkzeug parses
while streaming (an S3 POST upload) and a body nobody read (a fault answered first) all
reach the journal the same way, and no body is read twice or held whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from flask import Flask, Response, g, request

from mockserver.clock import Clock
from mockserver.contracts import Operation
from mockserver.journal import BODY_LIMIT, Entry, Headers, Journal, Message, started_at

_TEE = "mockserver.journal_tee"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TeeInput:
    """``wsgi.input`` (PEP 3333's read, readline, readlines, iteration) that remembers the
    first ``BODY_LIMIT`` bytes read through it. A plain class: ``io.RawIOBase`` costs
    more to create than this whole wrapper costs to use."""

    def __init__(self, stream: Any, size: int) -> None:
        self._stream, self.size = stream, size
        self._kept = bytearray()

    def read(self, size: int = -1) -> bytes:
        return self._keep(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._keep(self._stream.readline(size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self._keep(line) for line in self._stream.readlines(hint)]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def _keep(self, data: bytes) -> bytes:
        room = BODY_LIMIT - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        return data

    def kept(self) -> bytes:
        """The body's first bytes, reading what the application left unread (the server
        has buffered the whole body already, so this never waits on the client)."""
        wanted = min(BODY_LIMIT, self.size)
        while len(self._kept) < wanted:
            data = self._stream.read(wanted - len(self._kept))
            if not data:
                break
            self._kept += data
        return bytes(self._kept)


def install(app: Flask, journal: Journal, clock: Clock, skip_prefix: str) -> None:
    """Journal every exchange whose path does not start with ``skip_prefix`` (the admin
    API's own calls would drown what it is there to show)."""
    app.wsgi_app = _tee_bodies(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        if not request.path.startswith(skip_prefix):
            journal.record(_entry(response, clock))
        return response


def _tee_bodies(wsgi_app: WsgiApp) -> WsgiApp:
    def with_tee(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and length != "0":
            environ["wsgi.input"] = environ[_TEE] = TeeInput(environ["wsgi.input"], int(length))
        return wsgi_app(environ, start_response)

    return with_tee


def _entry(response: Response, clock: Clock) -> Entry:
    # the proxies resolved once: each ``g.x`` or ``request.x`` costs a context lookup
    state = vars(g._get_current_object())
    incoming = request._get_current_object()  # type: ignore[attr-defined]
    seconds = time.perf_counter() - state.get("started", time.perf_counter())
    operation: Operation | None = state.get("operation")
    environ = incoming.environ
    tee: TeeInput | None = environ.get(_TEE)
    query = incoming.query_string.decode("latin-1")
    return Entry(
        time=started_at(clock.now(), seconds), method=incoming.method,
        url=_url(environ, query), path=incoming.path, query=query,
        status=response.status_code,
        request=Message(_headers(environ), tee.kept() if tee else b"", tee.size if tee else 0),
        response=_answer(response),
        api=operation.api if operation else None,
        operation=operation.operation_id if operation else None,
        validation_errors=state.get("validation_errors", []),
        response_errors=state.get("response_errors", []),
        duration_ms=round(seconds * 1000, 3),
        http_version=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )


def _headers(environ: dict[str, Any]) -> Headers:
    """Werkzeug's ``EnvironHeaders`` items, at a third of their cost."""
    headers = [(_header_name(key), value) for key, value in environ.items() if key[:5] == "HTTP_"]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    return headers


@lru_cache(maxsize=512)
def _header_name(key: str) -> str:
    """``HTTP_USER_AGENT`` -> ``User-Agent``; clients send the same few names again and
    again."""
    return key[5:].replace("_", "-").title()


def _url(environ: dict[str, Any], query: str) -> str:
    """As the client sent it: the raw request target (still percent-encoded) on its host."""
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not target:
        target = request.full_path if query else request.path
    if "://" in target:  # an absolute-form target, as a client sends to a proxy
        return str(target)
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{target}"


def _answer(response: Response) -> Message:
    headers = list(response.headers.items())
    if response.is_streamed:
        return Message(headers, size=response.content_length or 0, omitted="streamed")
    data = response.get_data()
    return Message(headers, data[:BODY_LIMIT], len(data))
