"""The one place the mock keeps state.

Every API module, the clock, the object store, the journal and the fault rules read and
write through :class:`StateStore`; the backends differ only in where documents live. The
model is deliberately small (JSON documents by kind and key, in insertion order, plus
counters and blobs) so that the backends (memory, SQLite, PostgreSQL) are obviously
equivalent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

Document = dict[str, Any]


class StateStore(Protocol):
    """Documents grouped by kind; ``find`` returns them in insertion order."""

    #: whether several processes may share this store (``--workers`` > 1)
    shareable: bool

    def transaction(self) -> AbstractContextManager[None]:
        """Serialise a read-check-write sequence against every other writer."""

    def get(self, kind: str, key: str) -> Document | None: ...

    def put(self, kind: str, key: str, document: Document) -> None: ...

    def delete(self, kind: str, key: str) -> bool: ...

    def find(self, kind: str, where: Mapping[str, Any] | None = None) -> list[Document]:
        """Documents whose top-level fields equal every value in ``where``."""

    def scan(self, kind: str, where: Mapping[str, Any] | None = None, *,
             descending: bool = False, after: str | None = None) -> Iterator[Document]:
        """Documents in key order (or reverse), strictly after the key ``after``, lazily:
        a keyset page reads only as far as it needs, however many documents there are."""

    def iter_keys(self, kind: str, most: int | None = None) -> Iterator[str]:
        """A kind's keys in insertion order; the first ``most`` only, when given."""

    def trim(self, kind: str, keep: int) -> None:
        """Drop all but the ``keep`` most recently inserted documents of a kind."""

    def append(self, log: str, entry: Document, keep: int) -> None:
        """Add to a bounded log (the request journal): only the last ``keep`` are kept."""

    def recent(self, log: str, limit: int) -> list[Document]:
        """A log's entries, newest first."""

    def next_id(self, counter: str) -> int:
        """1, 2, 3, ... per counter; never repeats, also across processes."""

    def raise_counter(self, counter: str, at_least: int) -> None:
        """Make the next id exceed ``at_least`` (ids seeded from fixtures stay unique)."""

    def put_blob(self, key: str, data: bytes) -> None: ...

    def get_blob(self, key: str) -> bytes | None: ...

    def clear(self) -> None: ...

    def is_empty(self) -> bool: ...

    def close(self) -> None: ...


class StoreSpecError(ValueError):
    pass


def open_store(spec: str, durable: bool = True) -> StateStore:
    """``memory``, ``sqlite:PATH`` or ``postgresql://...``, as ``mockserver serve --state``
    takes it. psycopg is imported only for the last: the default starts without it.
    ``durable=False``: a SQLite file nobody reads after a crash, not synced to disk."""
    from mockserver.store.memory import MemoryStore
    from mockserver.store.sqlite import SqliteStore

    if spec == "memory":
        return MemoryStore()
    if spec.startswith("sqlite:") and len(spec) > len("sqlite:"):
        return SqliteStore(spec[len("sqlite:") :], durable)
    if spec.startswith(("postgresql://", "postgres://")):
        from mockserver.store.postgres import PostgresStore

        return PostgresStore(spec)
    raise StoreSpecError(f"--state must be 'memory', 'sqlite:PATH' or 'postgresql://...', "
                         f"not {spec!r}")
