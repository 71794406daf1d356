"""``mockserver proxy --record PATH.har``: every exchange, whole, as HTTP Archive 1.2.

harfile writes the archive entry by entry as the exchanges happen, so memory does not
grow with the recording; the archive is complete once the proxy exits (Ctrl-C or
SIGTERM). Bodies are kept whole: a request body that is no text is left out of
``postData`` (HAR has no base64 there) and says so; a response body that is no text is
kept as base64, as HAR's ``content.encoding`` allows.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import harfile

from mockserver import __version__

Headers = list[tuple[str, str]]


@dataclass
class Exchange:
    """One request through the proxy and the upstream's answer."""

    started: datetime  # wall-clock time, as browsers record it
    duration_ms: float
    method: str
    url: str  # the upstream URL the request went to
    request_headers: Headers
    request_body: bytes
    status: int
    response_headers: Headers
    response_body: bytes  # decoded, as devtools show it
    comment: str | None = None


class Recorder:
    def __init__(self, path: str) -> None:
        try:
            self._archive = harfile.open(path, creator=harfile.Creator(
                name="mockserver proxy", version=__version__))
        except OSError as error:
            raise OSError(f"cannot write the recording {path}: "
                          f"{error.strerror or error}") from None
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._archive.add_entry(
                startedDateTime=exchange.started, time=exchange.duration_ms,
                request=_request(exchange), response=_response(exchange),
                timings=harfile.Timings(send=0, wait=exchange.duration_ms, receive=0),
                comment=exchange.comment)
            self._archive.flush()

    def close(self) -> None:
        with self._lock:
            self._archive.close()


def _request(exchange: Exchange) -> harfile.Request:
    body = exchange.request_body
    post = None
    if body:
        text = _text(body)
        post = harfile.PostData(
            mimeType=_header(exchange.request_headers, "content-type"), text=text,
            comment=None if text is not None else f"{len(body)} bytes that are no text, left out")
    return harfile.Request(
        method=exchange.method, url=exchange.url, httpVersion="HTTP/1.1",
        headers=_records(exchange.request_headers),
        queryString=[harfile.Record(name, value) for name, value
                     in parse_qsl(urlsplit(exchange.url).query, keep_blank_values=True)],
        postData=post, bodySize=len(body))


def _response(exchange: Exchange) -> harfile.Response:
    body = exchange.response_body
    text = _text(body)
    content = harfile.Content(
        size=len(body), mimeType=_header(exchange.response_headers, "content-type"),
        text=text if text is not None else base64.b64encode(body).decode("ascii"),
        encoding=None if text is not None else "base64")
    return harfile.Response(
        status=exchange.status, statusText=_reason(exchange.status), httpVersion="HTTP/1.1",
        headers=_records(exchange.response_headers), content=content,
        redirectURL=_header(exchange.response_headers, "location"), bodySize=len(body))


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _records(headers: Headers) -> list[harfile.Record]:
    return [harfile.Record(name, value) for name, value in headers]


def _header(headers: Headers, wanted: str) -> str:
    return next((value for name, value in headers if name.lower() == wanted), "")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
