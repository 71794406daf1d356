"""The request journal behind ``GET /__admin/requests``: what came in, what went out, why."""

from __future__ import annotations

from typing import Any, TypedDict

from mockserver.store import StateStore

_KIND = "journal"
#: the journal is a debugging aid, not an archive; keep memory bounded under load
CAPACITY = 1000

#: WSGI environ keys where a request's entry is gathered while it is served (a plain dict
#: the request already carries: cheaper than Flask's ``g`` on every request)
STARTED = "mockserver.started"
OPERATION = "mockserver.operation"
VALIDATION_ERRORS = "mockserver.validation_errors"
RESPONSE_ERRORS = "mockserver.response_errors"


class Entry(TypedDict):
    time: str
    method: str
    path: str
    query: str
    status: int
    api: str | None
    operation: str | None
    validation_errors: tuple[str, ...] | list[str]
    response_errors: tuple[str, ...] | list[str]
    duration_ms: float


class Journal:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, entry: Entry) -> None:
        self._store.append(_KIND, dict(entry), CAPACITY)

    def newest_first(self, limit: int = CAPACITY) -> list[dict[str, Any]]:
        return self._store.recent(_KIND, min(limit, CAPACITY))
