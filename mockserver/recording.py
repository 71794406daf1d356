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

from flask import Flask, Request, Response

from mockserver.clock import Clock
from mockserver.contracts import Operation
from mockserver.journal import (
    BODY_LIMIT,
    OPERATION,
    RESPONSE_ERRORS,
    STARTED,
    VALIDATION_ERRORS,
    Entry,
    Headers,
    Journal,
    Message,
    started_at,
)

_TEE = "mockserver.journal_tee"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TeeInput:
    """``wsgi.input`` (PEP 3333's read, readline, readlines, iteration) that remembers the
    first ``BODY_LIMIT`` bytes read through it. A plain class: ``io.RawIOBase`` costs
    more to create than this whole wrapper costs to use."""

    def __init__(self, stream: Any, size: int) -> None:
        self._stream, self.size = stream, size
        self._kept = bytearray()

    def read(self, size: int | None = -1) -> bytes:
        return self._keep(_sized(self._stream.read, size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._keep(_sized(self._stream.readline, size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self._keep(line) for line in _sized(self._stream.readlines, hint or -1)]

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


def _sized(method: Callable[..., Any], size: int | None) -> Any:
    """``method(size)``, or ``method()`` for "all": Granian's own input refuses -1."""
    return method() if size is None or size < 0 else method(size)


def install(app: Flask) -> None:
    """Keep the bodies of what comes in for :func:`record`."""
    app.wsgi_app = _tee_bodies(app.wsgi_app)  # type: ignore[method-assign,assignment]


def record(journal: Journal, clock: Clock, incoming: Request, response: Response) -> None:
    """Journal one exchange; ``incoming.environ[STARTED]`` says when it began."""
    journal.record(_entry(incoming, response, clock))


def _tee_bodies(wsgi_app: WsgiApp) -> WsgiApp:
    def with_tee(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and length != "0":
            environ["wsgi.input"] = environ[_TEE] = TeeInput(environ["wsgi.input"], int(length))
        return wsgi_app(environ, start_response)

    return with_tee


def _entry(incoming: Request, response: Response, clock: Clock) -> Entry:
    environ = incoming.environ
    seconds = time.perf_counter() - environ.get(STARTED, time.perf_counter())
    operation: Operation | None = environ.get(OPERATION)
    tee: TeeInput | None = environ.get(_TEE)
    query = incoming.query_string.decode("latin-1")
    return Entry(
        time=started_at(clock.now(), seconds), method=incoming.method,
        url=_url(environ, incoming.path, query), path=incoming.path, query=query,
        status=response.status_code,
        request=Message(_headers(environ), tee.kept() if tee else b"", tee.size if tee else 0),
        response=_answer(response),
        api=operation.api if operation else None,
        operation=operation.operation_id if operation else None,
        validation_errors=list(environ.get(VALIDATION_ERRORS, ())),
        response_errors=list(environ.get(RESPONSE_ERRORS, ())),
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


def _url(environ: dict[str, Any], path: str, query: str) -> str:
    """As the client sent it: the raw request target (still percent-encoded) on its host."""
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not target:
        target = f"{path}?{query}" if query else path
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
