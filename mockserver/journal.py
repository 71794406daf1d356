"""The request journal behind ``GET /__admin/requests``: what came in, what went out, why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockserver.store import StateStore

_KIND = "journal"
#: the journal is a debugging aid, not an archive; keep memory bounded under load
CAPACITY = 1000


@dataclass
class Entry:
    time: str
    method: str
    path: str
    query: str
    status: int
    api: str | None = None
    operation: str | None = None
    validation_errors: list[str] = field(default_factory=list)
    response_errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


class Journal:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def record(self, entry: Entry) -> None:
        self._store.append(_KIND, vars(entry).copy(), CAPACITY)

    def newest_first(self, limit: int = CAPACITY) -> list[dict[str, Any]]:
        return self._store.recent(_KIND, min(limit, CAPACITY))
