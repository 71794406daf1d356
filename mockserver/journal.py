"""The request journal behind ``GET /__admin/requests``: what came in, what went out, why.

Nothing here knows Flask: the mock's own routes (``recording.py``) and anything else that
sees HTTP exchanges (a proxy) hand over an :class:`Entry` of plain values. Memory stays
bounded twice over: the store keeps the last ``CAPACITY`` entries, and each body keeps its
first ``BODY_LIMIT`` bytes (marked ``truncated``), so a run of large uploads costs at most
``CAPACITY`` x 2 x ``BODY_LIMIT`` (x 4/3 for binary bodies, kept as base64).
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mockserver.clock import isoformat, parse_datetime
from mockserver.store import Document, StateStore

_KIND = "journal"
#: the journal is a debugging aid, not an archive; keep memory bounded under load
CAPACITY = 1000
#: bytes of each request and response body the journal keeps
BODY_LIMIT = 64 * 1024
FILTERS = ("api", "operation", "status", "since", "limit")

Headers = list[tuple[str, str]]
#: ids are unique across the worker processes that share one store: a prefix per process
_PROCESS = secrets.token_hex(3)
_SEQUENCE = itertools.count(1)


def _new_process() -> None:
    """A forked worker starts with its parent's prefix and count: it needs its own."""
    global _PROCESS, _SEQUENCE
    _PROCESS, _SEQUENCE = secrets.token_hex(3), itertools.count(1)


os.register_at_fork(after_in_child=_new_process)


@dataclass
class Message:
    """One side of an exchange. ``body`` may be cut short already; ``size`` is the whole."""

    headers: Headers
    body: bytes = b""
    size: int = 0
    #: why the body is not kept at all (a streamed answer), instead of its bytes
    omitted: str | None = None


#: WSGI environ keys where a request's entry is gathered while it is served (a plain dict
#: the request already carries: cheaper than Flask's ``g`` on every request)
STARTED = "mockserver.started"
OPERATION = "mockserver.operation"
VALIDATION_ERRORS = "mockserver.validation_errors"
RESPONSE_ERRORS = "mockserver.response_errors"


@dataclass
class Entry:
    time: str  # ISO-8601 on the mock clock, when the request arrived
    method: str
    url: str
    path: str
    query: str
    status: int
    request: Message
    response: Message
    api: str | None = None
    operation: str | None = None
    validation_errors: list[str] = field(default_factory=list)
    response_errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    http_version: str = "HTTP/1.1"
    #: what only ``mockserver proxy`` knows: where it forwarded to, and each broken rule
    #: graded (side, field, message, grade, pointer, source)
    upstream: str | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)


class FilterError(ValueError):
    """A journal query parameter that cannot be used; the message names it."""


@dataclass(frozen=True)
class Query:
    api: str | None = None
    operation: str | None = None
    status: Callable[[int], bool] | None = None
    since: str | None = None  # normalised by ``isoformat``, so strings compare as times
    limit: int = CAPACITY

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return ((self.api is None or entry["api"] == self.api)
                and (self.operation is None or entry["operation"] == self.operation)
                and (self.status is None or self.status(entry["status"]))
                and (self.since is None or entry["time"] >= self.since))


class Journal:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, entry: Entry) -> None:
        self._store.append(_KIND, document(entry), CAPACITY)

    def newest_first(self, limit: int = CAPACITY) -> list[Document]:
        return self._store.recent(_KIND, min(limit, CAPACITY))

    def search(self, query: Query) -> tuple[int, list[Document]]:
        """How many entries match, and the newest ``query.limit`` of them."""
        matching = [entry for entry in self.newest_first() if query.matches(entry)]
        return len(matching), matching[:query.limit]

    def restore(self, entries: Sequence[Document]) -> None:
        """Put back entries read with ``newest_first`` (after the store was cleared)."""
        for entry in reversed(entries):
            self._store.append(_KIND, entry, CAPACITY)


def parse_query(arguments: Mapping[str, Sequence[str]],
                operations: Mapping[str, Sequence[str]]) -> Query:
    """The filters of ``GET /__admin/requests``; ``operations`` lists each served API's
    operation ids. Raises FilterError naming the first parameter that cannot be used."""
    unknown = sorted(set(arguments) - set(FILTERS))
    if unknown:
        raise FilterError(f"unknown filter {unknown[0]!r}; the journal filters by "
                          f"{', '.join(FILTERS)}")
    values: dict[str, str] = {}
    for name, given in arguments.items():
        if len(given) != 1:
            raise FilterError(f"{name} may be given once")
        values[name] = given[0]
    api = values.get("api")
    if api is not None and api not in operations:
        raise FilterError(f"api {api!r} is not served here; served: {', '.join(operations)}")
    return Query(api=api, operation=_operation(values.get("operation"), api, operations),
                 status=_status(values.get("status")), since=_since(values.get("since")),
                 limit=parse_limit(values.get("limit")))


def _operation(operation: str | None, api: str | None,
               operations: Mapping[str, Sequence[str]]) -> str | None:
    known = sorted({op for name, ids in operations.items() if api in (None, name) for op in ids})
    if operation is not None and operation not in known:
        where = api or "the served APIs"
        raise FilterError(f"operation {operation!r} is not an operation of {where}; "
                          f"known: {', '.join(known)}")
    return operation


_STATUS = re.compile(r"([1-5])(?:([0-9]{2})|[xX]{2})")


def _status(status: str | None) -> Callable[[int], bool] | None:
    """``404`` is that status, ``4xx`` the class."""
    if status is None:
        return None
    match = _STATUS.fullmatch(status)
    if match is None:
        raise FilterError(f"status must be a status like 404 or a class like 4xx, "
                          f"not {status!r}")
    if match.group(2) is not None:
        exact = int(status)
        return lambda seen: seen == exact
    low = int(match.group(1)) * 100
    return lambda seen: low <= seen < low + 100


def _since(since: str | None) -> str | None:
    if since is None:
        return None
    try:
        return isoformat(parse_datetime(since))
    except (ValueError, OverflowError):
        raise FilterError(f"since must be an ISO-8601 date-time on the mock clock, "
                          f"not {since!r}") from None


def parse_limit(text: str | None, default: int = CAPACITY, most: int = CAPACITY) -> int:
    """A ``limit`` query parameter of the admin API; FilterError (a ValueError) says why
    it cannot be used."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        raise FilterError("limit must be a non-negative integer")
    return min(int(text), most)


def document(entry: Entry, body_limit: int | None = BODY_LIMIT) -> Document:
    """The entry as the journal keeps it; ``body_limit`` None keeps bodies whole (a HAR
    recording)."""
    kept: Document = {
        "id": f"{_PROCESS}-{next(_SEQUENCE)}",
        "time": entry.time, "method": entry.method, "path": entry.path, "query": entry.query,
        "status": entry.status, "api": entry.api, "operation": entry.operation,
        "validation_errors": entry.validation_errors,
        "response_errors": entry.response_errors, "duration_ms": entry.duration_ms,
        "url": entry.url, "http_version": entry.http_version,
        "request": {"headers": entry.request.headers,
                    "body": body_record(entry.request, body_limit)},
        "response": {"headers": entry.response.headers,
                     "body": body_record(entry.response, body_limit)},
    }
    if entry.upstream is not None:
        kept.update(upstream=entry.upstream, violations=entry.violations)
    return kept


def body_record(message: Message, limit: int | None = BODY_LIMIT) -> Document | None:
    """``{size, text, truncated}``, with ``encoding: base64`` for bytes that are no UTF-8
    text (HAR's own form), ``{size, omitted}`` when not kept, None without a body."""
    if message.omitted is not None:
        return {"size": message.size, "omitted": message.omitted}
    if not message.size:
        return None
    kept = message.body[:limit]
    truncated = message.size > len(kept)
    text = _utf8(kept, truncated)
    if text is None:
        return {"size": message.size, "text": base64.b64encode(kept).decode("ascii"),
                "encoding": "base64", "truncated": truncated}
    return {"size": message.size, "text": text, "truncated": truncated}


def _utf8(data: bytes, truncated: bool) -> str | None:
    """The text, also when the cut fell inside a multi-byte character; None for bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if truncated and error.reason == "unexpected end of data":
            return data[:error.start].decode("utf-8", errors="strict")
        return None


def started_at(end: datetime, duration_seconds: float) -> str:
    """The arrival time on the mock clock, from the time the answer left."""
    return isoformat(end - timedelta(seconds=duration_seconds))
