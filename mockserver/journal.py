"""The request journal behind ``GET /__admin/requests``: what came in, what went out, why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        sequence = self._store.next_id("journal")
        self._store.put(_KIND, f"{sequence:012d}", {"id": sequence, **asdict(entry)})
        if sequence % 100 == 0:
            self._store.trim(_KIND, CAPACITY)

    def newest_first(self, limit: int = CAPACITY) -> list[dict[str, Any]]:
        return list(reversed(self._store.find(_KIND)))[:limit]
