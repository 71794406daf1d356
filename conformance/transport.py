"""Talking to the target: requests in, recorded exchanges out (a repro replays them, see
``conformance.repro``)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from conformance.spec import Location, Operation

if TYPE_CHECKING:
    from requests.sessions import _Settings  # types-requests' name for what it returns

TIMEOUT_SECONDS = 30
#: a 429 is answered by waiting its Retry-After and sending again, this many times at most;
#: a missing or unreadable Retry-After waits a second, and no wait is longer than the last
RATE_LIMIT_RETRIES = 5
DEFAULT_RETRY_AFTER, LONGEST_RETRY_AFTER = 1.0, 30.0
#: headers curl sends by itself; repeating them only makes reproductions harder to read
CURL_OWN_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "content-length"}


class TargetUnreachable(ConnectionError):
    pass


@dataclass(frozen=True)
class Credentials:
    """What authenticates a request, wherever the vendor wants it."""

    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


NO_CREDENTIALS = Credentials()


@dataclass(frozen=True)
class Case:
    """One request to an operation; ``raw_body`` overrides ``body`` for malformed input."""

    operation: Operation
    path_params: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    media_type: str = "application/json"
    raw_body: bytes | None = None

    def with_body(self, body: Any) -> Case:
        return replace(self, body=body, has_body=True, raw_body=None)

    def path(self) -> str:
        path = self.operation.path
        for name, value in self.path_params.items():
            path = path.replace("{" + name + "}", quote(_text(value), safe=""))
        return path


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int
    headers: Mapping[str, str]
    body: bytes
    operation: Operation | None = None
    form_fields: Mapping[str, str] | None = None
    file_name: str | None = None
    #: the uploaded file's bytes and type, so that a repro can send them again
    file_content: bytes | None = None
    file_type: str | None = None
    #: the path parameters as sent (text), by name: what a repro traces to their origin
    path_values: Mapping[str, str] = field(default_factory=dict)
    #: when it was sent (time.monotonic()): a repro waits as long between its steps
    sent_at: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)

    def answer_at(self, status: int | None = None, message: str | None = None) -> Location:
        """Where the operation's spec describes the answer with ``status`` (default: the
        one given) and that documented message: a rule to grade a finding by."""
        if self.operation is None:
            return ()
        return self.operation.response_at(self.status if status is None else status, message)

    def field_at(self, status: int, *names: str) -> Location:
        """Where the operation's spec describes a field of the answer with ``status``."""
        return self.operation.field_at(status, *names) if self.operation else ()

    def parameter_at(self, name: str) -> Location:
        """Where the operation's spec describes one of its parameters."""
        return self.operation.parameter_at(name) if self.operation else ()

    def json_or_none(self) -> Any:
        return self._parsed

    @cached_property
    def _parsed(self) -> Any:
        """Parsed once: repros search the run's answers for where a value came from."""
        try:
            return self.json()
        except ValueError:
            return None


class _Session(requests.Session):
    """requests reads the proxy and CA settings from the environment on every request, a
    walk over ``os.environ`` that cost a sixth of a run's own time; they stay the same for
    the run, so they are read once per origin."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[str, str], _Settings] = {}

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> _Settings:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode() if isinstance(url, bytes) else url or ""
        origin = urlsplit(text)[:2]
        if origin not in self._settings:
            self._settings[origin] = super().merge_environment_settings(
                url, proxies, stream, verify, cert)
        return self._settings[origin].copy()


class Client:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = _Session()
        # Credentials travel only as each request says: a cookie jar would log in requests
        # meant to have none (a MyCRT Set-Cookie, then an "unauthenticated" call).
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.exchanges: list[Exchange] = []

    def send(self, case: Case, credentials: Credentials = NO_CREDENTIALS) -> Exchange:
        headers = {**credentials.headers, **case.headers}
        if credentials.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in credentials.cookies.items())
        data = case.raw_body
        if data is None and case.has_body:
            data, content_type = _encode(case.body, case.media_type)
            headers.setdefault("Content-Type", content_type)
        query = {**credentials.query, **{k: _text(v) for k, v in case.query.items()}}
        url = self.base_url + case.path() + (("?" + urlencode(query)) if query else "")
        exchange = self.request(case.operation.method, url, headers=headers, data=data,
                                operation=case.operation)
        exchange.path_values = {name: _text(value) for name, value in case.path_params.items()}
        return exchange

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                data: bytes | None = None, form_fields: Mapping[str, str] | None = None,
                file: tuple[str, bytes, str] | None = None,
                operation: Operation | None = None) -> Exchange:
        """Any HTTP call, recorded; multipart when ``form_fields`` are given. A rate limit
        (429) is waited out as its ``Retry-After`` says and the call sent again, as a client
        does: a vendor's throttling is never taken for the answer to the request."""
        def once() -> Exchange:
            return self._request_once(method, url, headers, data, form_fields, file, operation)

        exchange = once()
        for _ in range(RATE_LIMIT_RETRIES):
            if exchange.status != 429:
                break
            time.sleep(retry_after(exchange.headers.get("Retry-After")))
            exchange = once()
        return exchange

    def _request_once(self, method: str, url: str, headers: Mapping[str, str] | None,
                      data: bytes | None, form_fields: Mapping[str, str] | None,
                      file: tuple[str, bytes, str] | None,
                      operation: Operation | None) -> Exchange:
        sent_at = time.monotonic()
        try:
            if form_fields is not None:
                response = self._session.request(
                    method, url, headers=dict(headers or {}), data=dict(form_fields),
                    files={"file": file} if file else None, timeout=TIMEOUT_SECONDS,
                    allow_redirects=False)
            else:
                response = self._session.request(method, url, headers=dict(headers or {}),
                                                 data=data, timeout=TIMEOUT_SECONDS,
                                                 allow_redirects=False)
        except requests.RequestException as error:
            raise TargetUnreachable(f"{method} {url}: {error}") from None
        sent = response.request
        body = sent.body if isinstance(sent.body, bytes) else (sent.body or "").encode()
        exchange = Exchange(method, url, dict(sent.headers), body or None, response.status_code,
                            response.headers, response.content, form_fields=form_fields,
                            operation=operation, file_name=file[0] if file else None,
                            file_content=file[1] if file else None,
                            file_type=file[2] if file else None, sent_at=sent_at)
        self.exchanges.append(exchange)
        return exchange


def retry_after(value: str | None) -> float:
    """Seconds to wait before sending again: the header's integer seconds (RFC 9110 also
    allows an HTTP date, read here as the default), within bounds."""
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER
    if not math.isfinite(seconds):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), LONGEST_RETRY_AFTER)


def _encode(body: Any, media_type: str) -> tuple[bytes, str]:
    if media_type == "application/x-www-form-urlencoded" and isinstance(body, Mapping):
        return urlencode({k: _text(v) for k, v in body.items()}).encode(), media_type
    return json.dumps(body).encode(), "application/json"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
