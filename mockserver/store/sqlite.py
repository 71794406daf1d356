"""State in one SQLite file: survives restarts and is shared by worker processes.

Each thread has its own connection; writers serialise with ``BEGIN IMMEDIATE`` and WAL
lets readers go on meanwhile. Writers queue on a lock of their own before they reach
SQLite's (:class:`_WriteQueue`). Every write outside an explicit transaction commits at once,
so an acknowledged response is always on disk (``synchronous=FULL``), unless the file is
the private scratch state of several workers, removed when the mock stops.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mockserver.store import Document, StoreSpecError
from mockserver.store._sql import commit_or_roll_back, keyset_fetch, keyset_scan

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS logs.entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, log TEXT NOT NULL, data TEXT NOT NULL
);
"""


class _WriteQueue:
    """One writer at a time across the threads and processes sharing the file. SQLite makes
    a writer that finds its lock taken sleep and retry, in steps growing to 100 ms, so
    under contention a write went on waiting long after the lock was free (two workers
    under 32 connections: a third of one worker's throughput, p99 700-800 ms). Here the
    waiters block in the kernel (``flock``) and the next one runs as soon as the lock is
    released."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._file: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            descriptor = self._descriptor()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        # an inherited descriptor shares its lock with the parent: a process needs its own
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]


class SqliteStore:
    shareable = True

    def __init__(self, path: str, durable: bool = True) -> None:
        self._path = str(Path(path).expanduser())
        self._synchronous = "FULL" if durable else "OFF"
        self._local = threading.local()
        self._writes = _WriteQueue(self._path + "-lock")
        try:
            connection = self._connection()
            for statement in filter(str.strip, _SCHEMA.split(";")):
                connection.execute(statement)
        except sqlite3.Error as error:
            raise StoreSpecError(f"cannot use SQLite state at {self._path}: {error}") from None

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            connection.execute("PRAGMA busy_timeout=30000")
            # Logs (the request journal) live in a file of their own without fsync: a
            # debugging aid must not cost every request a disk flush. State stays FULL.
            connection.execute("ATTACH DATABASE ? AS logs", (self._path + "-logs",))
            connection.execute("PRAGMA logs.journal_mode=WAL")
            connection.execute("PRAGMA logs.synchronous=OFF")
            self._local.connection = connection
            self._local.depth = 0
        return connection

    @contextmanager
    def transaction(self) -> Iterator[None]:
        connection = self._connection()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._writes.turn():
            connection.execute("BEGIN IMMEDIATE")
            self._local.depth = 1
            try:
                with commit_or_roll_back(connection.execute):
                    yield
            finally:
                self._local.depth = 0

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._connection().execute(sql, parameters)

    def _write(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """A statement that writes: inside a transaction as it is, alone in its turn."""
        connection = self._connection()
        if self._local.depth:
            return connection.execute(sql, parameters)
        with self._writes.turn():
            return connection.execute(sql, parameters)

    def get(self, kind: str, key: str) -> Document | None:
        row = self._execute(
            "SELECT data FROM documents WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: str, document: Document) -> None:
        self._write(
            "INSERT INTO documents (kind, key, data) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
            (kind, key, json.dumps(document, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> bool:
        cursor = self._write("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
        return cursor.rowcount > 0

    def find(self, kind: str, where: Mapping[str, Any] | None = None) -> list[Document]:
        clauses, parameters = ["kind = ?"], [kind]
        for field, value in (where or {}).items():
            path = "$." + json.dumps(field)
            if value is None:
                clauses.append("json_extract(data, ?) IS NULL")
                parameters.append(path)
            else:
                clauses.append("json_extract(data, ?) = json_extract(?, '$')")
                parameters.extend([path, json.dumps(value)])
        rows = self._execute(
            f"SELECT data FROM documents WHERE {' AND '.join(clauses)} ORDER BY seq",
            tuple(parameters),
        )
        return [json.loads(data) for (data,) in rows]

    def scan(self, kind: str, where: Mapping[str, Any] | None = None, *,
             descending: bool = False, after: str | None = None) -> Iterator[Document]:
        """Along the ``UNIQUE (kind, key)`` index."""
        fetch = keyset_fetch(self._execute, "documents", "?", kind, descending, json.loads)
        return keyset_scan(fetch, where, after)

    def iter_keys(self, kind: str, most: int | None = None) -> Iterator[str]:
        rows = self._execute("SELECT key FROM documents WHERE kind = ? ORDER BY seq LIMIT ?",
                             (kind, -1 if most is None else most))  # SQLite: -1, no limit
        return iter([key for (key,) in rows])

    def trim(self, kind: str, keep: int) -> None:
        self._write(
            "DELETE FROM documents WHERE kind = ? AND seq NOT IN "
            "(SELECT seq FROM documents WHERE kind = ? ORDER BY seq DESC LIMIT ?)",
            (kind, kind, keep),
        )

    def append(self, log: str, entry: Document, keep: int) -> None:
        """An insert; the log is trimmed once in a while, not on every entry."""
        cursor = self._write("INSERT INTO logs.entries (log, data) VALUES (?, ?)",
                               (log, json.dumps(entry, separators=(",", ":"))))
        if (cursor.lastrowid or 0) % 100 == 0:
            self._write("DELETE FROM logs.entries WHERE log = ? AND seq <= "
                          "(SELECT max(seq) FROM logs.entries WHERE log = ?) - ?",
                          (log, log, keep))

    def recent(self, log: str, limit: int) -> list[Document]:
        rows = self._execute("SELECT data FROM logs.entries WHERE log = ? ORDER BY seq DESC "
                             "LIMIT ?", (log, limit))
        return [json.loads(data) for (data,) in rows]

    def next_id(self, counter: str) -> int:
        with self.transaction():
            self._execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (counter,),
            )
            (value,) = self._execute(
                "SELECT value FROM counters WHERE name = ?", (counter,)
            ).fetchone()
        return int(value)

    def raise_counter(self, counter: str, at_least: int) -> None:
        self._write(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
            (counter, at_least),
        )

    def put_blob(self, key: str, data: bytes) -> None:
        self._write(
            "INSERT INTO blobs (key, data) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
            (key, sqlite3.Binary(data)),
        )

    def get_blob(self, key: str) -> bytes | None:
        row = self._execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def clear(self) -> None:
        with self.transaction():
            for table in ("documents", "counters", "blobs", "logs.entries"):
                self._execute(f"DELETE FROM {table}")

    def is_empty(self) -> bool:
        return self._execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
