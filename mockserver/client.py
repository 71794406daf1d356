"""A small client of the mock's admin API, for tests and scripts; it needs only ``requests``.

    from mockserver.client import Admin

    mock = Admin("http://127.0.0.1:8000")
    mock.reset()
    mock.faults.add(api="uplift", operation="createCapture", status=503)
    ...                                   # the client under test talks to mock.base_url("uplift")
    mock.clock.advance(31 * 60)
    mock.verify("createCapture", count=1, api="uplift", status=503)

``verify`` fails like WireMock's: an AssertionError that says what was expected, what was
received, and which journal entries came closest.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import requests as http

import vendor_specs
from mockserver.clock import isoformat, parse_datetime
from mockserver.contracts import Contract

Entry = dict[str, Any]
#: how many near misses a failed ``verify`` lists
CLOSEST = 5


class AdminError(Exception):
    """The admin API refused a call; ``message`` is its own explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class Admin:
    def __init__(self, origin: str, token: str | None = None, *, timeout: float = 10.0,
                 session: http.Session | None = None) -> None:
        self.origin = origin.rstrip("/")
        self.timeout = timeout
        self.session = session or http.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.clock = Clock(self)
        self.faults = Faults(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.origin!r})"

    def base_url(self, api: str) -> str:
        """Where the mock serves an API: what a client under test uses as its base URL."""
        return self.origin + _base_path(api)

    def url(self, api: str, path: str = "") -> str:
        """``base_url(api) + path``: ``mock.url("uplift", "/captures")``."""
        return self.base_url(api) + path

    @property
    def profile(self) -> dict[str, Any]:
        """The seeded accounts, as the conformance profile (``GET /__admin/fixtures``)."""
        return dict(self.call("GET", "/fixtures"))

    def health(self) -> dict[str, Any]:
        return dict(self.call("GET", "/health"))

    def reset(self) -> None:
        """State, objects, fault rules and journal back to the fixtures; real time."""
        self.call("POST", "/reset")

    def requests(self, api: str | None = None, operation: str | None = None,
                 status: int | str | None = None, since: datetime | str | None = None,
                 limit: int | None = None) -> list[Entry]:
        """Journal entries, newest first; ``status`` is 404 or a class such as "4xx"."""
        filters = _filters(api=api, operation=operation, status=status, since=since,
                           limit=limit)
        return list(self.call("GET", "/requests", params=filters)["requests"])

    def har(self, **filters: Any) -> dict[str, Any]:
        """The journal (filtered as ``requests``) as a HAR 1.2 document."""
        return dict(self.call("GET", "/requests.har", params=_filters(**filters)))

    def verify(self, operation: str, count: int | None = None, *, api: str | None = None,
               status: int | str | None = None) -> list[Entry]:
        """The matching requests; AssertionError unless there were exactly ``count`` of
        them (at least one when ``count`` is None)."""
        __tracebackhide__ = True  # pytest shows the test's line and the message, not ours
        matching = self.requests(api=api, operation=operation, status=status)
        if (len(matching) >= 1) if count is None else (len(matching) == count):
            return matching
        wanted = f"exactly {count}" if count is not None else "at least 1"
        what = " ".join(filter(None, [api, operation]))
        if status is not None:
            what += f" answered {status}"
        lines = [f"expected {wanted} request(s) to {what}, received {len(matching)}"]
        if matching:
            lines += ["matching requests (newest first):", *map(describe, matching)]
        near = closest(self.requests(), matching, operation, api)
        if near:
            lines += ["closest requests received (newest first):", *map(describe, near)]
        elif not matching:
            lines.append("the journal is empty: no request reached the mock since its reset")
        raise AssertionError("\n".join(lines))

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One admin call (``path`` under ``/__admin``); its JSON answer, or AdminError."""
        response = self.session.request(method, f"{self.origin}/__admin{path}",
                                        timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise AdminError(response.status_code, _message(response))
        return response.json()


class Clock:
    """The mock's clock; every time-based behaviour of the mock follows it."""

    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    def now(self) -> datetime:
        return self._answer(self._admin.call("GET", "/clock"))

    def advance(self, seconds: float) -> datetime:
        return self._answer(self._admin.call("POST", "/clock",
                                             json={"advance_seconds": seconds}))

    def set(self, moment: datetime | str) -> datetime:
        text = moment if isinstance(moment, str) else isoformat(moment)
        return self._answer(self._admin.call("POST", "/clock", json={"now": text}))

    @staticmethod
    def _answer(body: Any) -> datetime:
        return parse_datetime(body["now"])


class Faults:
    """Fault rules: latency, a documented error status, or a per-credential rate limit."""

    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    def add(self, api: str | None = None, operation: str | None = None, *,
            status: int | None = None, latency_ms: int | None = None,
            rate_limit: int | None = None, window_seconds: int | None = None) -> Entry:
        rule = {name: value for name, value in (
            ("api", api), ("operation", operation), ("status", status),
            ("latency_ms", latency_ms), ("rate_limit", rate_limit),
            ("window_seconds", window_seconds)) if value is not None}
        return dict(self._admin.call("POST", "/faults", json=rule))

    def list(self) -> list[Entry]:
        return list(self._admin.call("GET", "/faults")["faults"])

    def clear(self) -> None:
        self._admin.call("DELETE", "/faults")


def closest(entries: list[Entry], matching: list[Entry], operation: str,
            api: str | None) -> list[Entry]:
    """The other entries most like the ones wanted: the same operation (with another
    status, say) first, then the same API, then anything; newest first within each."""
    def likeness(entry: Entry) -> int:
        return 2 * (entry.get("operation") == operation) + (api is not None
                                                             and entry.get("api") == api)

    seen = {entry["id"] for entry in matching}
    others = [entry for entry in entries if entry["id"] not in seen]
    return sorted(others, key=likeness, reverse=True)[:CLOSEST]  # stable: newest first


def describe(entry: Entry) -> str:
    """One journal entry on one line, with what the mock found wrong with it."""
    query = f"?{entry['query']}" if entry.get("query") else ""
    name = ".".join(filter(None, [entry.get("api"), entry.get("operation")])) or "no operation"
    line = f"  {entry['time']}  {entry['method']} {entry['path']}{query} -> " \
           f"{entry['status']}  ({name})"
    problems = [*entry.get("validation_errors", []), *entry.get("response_errors", [])]
    return line + (f"  [{'; '.join(problems)}]" if problems else "")


@cache
def _base_path(api: str) -> str:
    return Contract(api, vendor_specs.load_spec(api)).base_path


def _filters(**filters: Any) -> dict[str, str]:
    return {name: isoformat(value) if isinstance(value, datetime) else str(value)
            for name, value in filters.items() if value is not None}


def _message(response: http.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)
