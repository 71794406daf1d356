"""State in PostgreSQL: shared by any number of mock processes on any number of hosts.

Everything lives in the schema ``mockserver`` of the database the DSN names: documents,
blobs, the request journal (an unlogged table: a debugging aid need not survive a crash of
the database server) and one sequence per id counter, so ids stay unique across replicas
without a lock. Connections come from a psycopg pool; outside a transaction every
statement commits at once, so an acknowledged response is committed.

``transaction()`` serialises read-check-write sequences across every replica with one
transaction-level advisory lock, taken in the same round trip as ``BEGIN``. SERIALIZABLE
with retries would let disjoint writers run side by side, but the store's transaction is
a context manager around a handler, which cannot be re-run from here, and the mock's
checks (a MyCRT name unique per environment, rate-limit windows) read whole kinds, so
nearly every pair of concurrent writers would conflict anyway. The README's replica
section has the figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.types.json import Json, Jsonb
from psycopg_pool import ConnectionPool

from mockserver.store import Document, StoreSpecError
from mockserver.store._sql import commit_or_roll_back, keyset_fetch, keyset_scan

SCHEMA = "mockserver"
#: pg_advisory_xact_lock keys: every store transaction, and creating the schema
_STATE_LOCK = 0x6D6F636B  # "mock"
_SCHEMA_LOCK = 0x6D6F636C
#: the id counters' sequences (the tables' identity columns have sequences of their own)
_COUNTER_PREFIX = "counter "
_BEGIN = f"BEGIN; SELECT pg_advisory_xact_lock({_STATE_LOCK})"
#: a worker serves on at most ``--threads`` threads, each holding at most one connection
#: (two while it creates a sequence)
_POOL_SIZE = 20
_CONNECT_TIMEOUT_SECONDS = 10

_TABLES = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.documents (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    kind text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    data json NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS documents_by_insertion ON {SCHEMA}.documents (kind, seq);
CREATE TABLE IF NOT EXISTS {SCHEMA}.blobs (key text PRIMARY KEY, data bytea NOT NULL);
CREATE UNLOGGED TABLE IF NOT EXISTS {SCHEMA}.log_entries (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log text NOT NULL,
    data json NOT NULL
);
CREATE INDEX IF NOT EXISTS log_entries_by_log ON {SCHEMA}.log_entries (log, seq)
"""


class PostgresStore:
    shareable = True

    def __init__(self, dsn: str) -> None:
        try:
            settings = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as error:
            raise StoreSpecError(f"--state {dsn!r} is not a PostgreSQL URL: "
                                 f"{_one_line(error)}") from None
        settings.setdefault("connect_timeout", _CONNECT_TIMEOUT_SECONDS)
        settings.setdefault("application_name", "mockserver")
        conninfo = psycopg.conninfo.make_conninfo("", **settings)
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                _create_tables(connection)
        except psycopg.Error as error:
            raise StoreSpecError(f"cannot use PostgreSQL state at {_safe(dsn)}: "
                                 f"{_one_line(error)}") from None
        self._conninfo = conninfo
        self._opened: tuple[int, ConnectionPool] | None = None  # (process id, its pool)
        self._opening = threading.Lock()
        self._local = threading.local()
        self._sequences: set[str] = set()

    # -- connections and transactions ------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction connection inside ``transaction()``, else a pooled one
        (in autocommit: the statement commits before the connection goes back)."""
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self._pool().connection() as connection:
            yield connection

    def _execute(self, query: Any, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as connection:
            cursor = connection.execute(query, parameters)
            return cursor.fetchall() if cursor.description else []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "connection", None) is not None:
            yield  # nested: part of the outer transaction
            return
        with self._pool().connection() as connection:
            connection.execute(_BEGIN)
            self._local.connection = connection
            try:
                with commit_or_roll_back(connection.execute):
                    yield
            finally:
                self._local.connection = None

    # -- documents -------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Document | None:
        rows = self._execute(f"SELECT data FROM {SCHEMA}.documents WHERE kind = %s AND key = %s",
                             (kind, key))
        return rows[0][0] if rows else None

    def put(self, kind: str, key: str, document: Document) -> None:
        self._execute(
            f"INSERT INTO {SCHEMA}.documents (kind, key, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
            (kind, key, Json(document)))

    def delete(self, kind: str, key: str) -> bool:
        with self._connection() as connection:
            cursor = connection.execute(
                f"DELETE FROM {SCHEMA}.documents WHERE kind = %s AND key = %s", (kind, key))
            return cursor.rowcount > 0

    def find(self, kind: str, where: Mapping[str, Any] | None = None) -> list[Document]:
        """``where`` as jsonb equality per field; a None matches null and a missing field,
        as the memory store's ``dict.get`` does. Documents are stored as ``json``, not
        ``jsonb``, which would reorder their keys: a journal entry or a stored capture reads
        back exactly as the other stores give it."""
        clauses: list[str] = ["kind = %s"]
        parameters: list[Any] = [kind]
        for field, value in (where or {}).items():
            if value is None:
                clauses.append("coalesce((data -> %s)::jsonb, 'null') = 'null'")
                parameters.append(field)
            else:
                clauses.append("(data -> %s)::jsonb = %s")
                parameters.extend([field, Jsonb(value)])
        rows = self._execute(f"SELECT data FROM {SCHEMA}.documents "
                             f"WHERE {' AND '.join(clauses)} ORDER BY seq", tuple(parameters))
        return [data for (data,) in rows]

    def scan(self, kind: str, where: Mapping[str, Any] | None = None, *,
             descending: bool = False, after: str | None = None) -> Iterator[Document]:
        """Along the primary key, keys in code point order (``COLLATE "C"``) as the other
        stores compare them."""
        fetch = keyset_fetch(self._execute, f"{SCHEMA}.documents", "%s", kind, descending,
                             _as_document)
        return keyset_scan(fetch, where, after)

    def iter_keys(self, kind: str, most: int | None = None) -> Iterator[str]:
        rows = self._execute(f"SELECT key FROM {SCHEMA}.documents WHERE kind = %s ORDER BY seq "
                             "LIMIT %s", (kind, most))  # NULL: no limit
        return iter([key for (key,) in rows])

    def trim(self, kind: str, keep: int) -> None:
        self._execute(
            f"DELETE FROM {SCHEMA}.documents WHERE kind = %s AND seq NOT IN "
            f"(SELECT seq FROM {SCHEMA}.documents WHERE kind = %s ORDER BY seq DESC LIMIT %s)",
            (kind, kind, keep))

    # -- logs ------------------------------------------------------------------------------

    def append(self, log: str, entry: Document, keep: int) -> None:
        """An insert; the log is trimmed once in a while, not on every entry."""
        ((seq,),) = self._execute(f"INSERT INTO {SCHEMA}.log_entries (log, data) "
                                  "VALUES (%s, %s) RETURNING seq", (log, Json(entry)))
        if seq % 100 == 0:
            self._execute(f"DELETE FROM {SCHEMA}.log_entries WHERE log = %s AND seq <= %s",
                          (log, seq - keep))

    def recent(self, log: str, limit: int) -> list[Document]:
        rows = self._execute(f"SELECT data FROM {SCHEMA}.log_entries WHERE log = %s "
                             "ORDER BY seq DESC LIMIT %s", (log, limit))
        return [data for (data,) in rows]

    # -- counters: one sequence each -------------------------------------------------------

    def next_id(self, counter: str) -> int:
        ((value,),) = self._execute("SELECT nextval(%s::regclass)", (self._sequence(counter),))
        return int(value)

    def raise_counter(self, counter: str, at_least: int) -> None:
        sequence = self._sequence(counter)
        self._execute("SELECT setval(%s::regclass, greatest(%s, "
                      "coalesce(pg_sequence_last_value(%s::regclass), 0)))",
                      (sequence, at_least, sequence))

    def _sequence(self, counter: str) -> str:
        """The counter's sequence, created on first use. Creating it is DDL, so it runs on
        a connection of its own: a transaction that rolls back must not take it along."""
        name = _COUNTER_PREFIX + counter
        if len(name.encode()) > 60:  # PostgreSQL cuts identifiers at 63 bytes
            name = _COUNTER_PREFIX + hashlib.sha256(counter.encode()).hexdigest()[:40]
        qualified = f'{SCHEMA}."{name.replace(chr(34), chr(34) * 2)}"'
        if qualified not in self._sequences:
            # UniqueViolation: another replica created it at the same moment
            with self._pool().connection() as connection, \
                    contextlib.suppress(psycopg.errors.UniqueViolation):
                connection.execute(sql.SQL(
                    "CREATE SEQUENCE IF NOT EXISTS {} MINVALUE 0 START 1").format(
                    sql.Identifier(SCHEMA, name)))
            self._sequences.add(qualified)
        return qualified

    # -- blobs -----------------------------------------------------------------------------

    def put_blob(self, key: str, data: bytes) -> None:
        self._execute(f"INSERT INTO {SCHEMA}.blobs (key, data) VALUES (%s, %s) "
                      "ON CONFLICT (key) DO UPDATE SET data = excluded.data", (key, bytes(data)))

    def get_blob(self, key: str) -> bytes | None:
        rows = self._execute(f"SELECT data FROM {SCHEMA}.blobs WHERE key = %s", (key,))
        return bytes(rows[0][0]) if rows else None

    # -- the whole store -------------------------------------------------------------------

    def clear(self) -> None:
        """Everything, for every replica; the counters start again at 1."""
        with self.transaction():
            for table in ("documents", "blobs", "log_entries"):
                self._execute(f"DELETE FROM {SCHEMA}.{table}")
            self._execute("SELECT setval(c.oid, 0) FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'S' "
                          "AND c.relname LIKE %s", (SCHEMA, _COUNTER_PREFIX + "%"))

    def is_empty(self) -> bool:
        return not self._execute(f"SELECT 1 FROM {SCHEMA}.documents LIMIT 1")

    def _pool(self) -> ConnectionPool:
        """This process's pool, opened on first use: a pool's connections and threads do not
        survive a fork, so each worker process (forked after the parent closed its pool)
        opens its own."""
        opened = self._opened
        if opened is None or opened[0] != os.getpid():
            with self._opening:
                opened = self._opened
                if opened is None or opened[0] != os.getpid():
                    pool = ConnectionPool(self._conninfo, min_size=1, max_size=_POOL_SIZE,
                                          kwargs={"autocommit": True}, name="mockserver",
                                          open=True)
                    opened = self._opened = (os.getpid(), pool)
        return opened[1]

    def close(self) -> None:
        if self._opened is not None and self._opened[0] == os.getpid():
            self._opened[1].close()
        self._opened = None


def _as_document(data: Any) -> Document:
    """``jsonb`` arrives decoded."""
    return cast(Document, data)


def _create_tables(connection: psycopg.Connection[Any]) -> None:
    """Once per database; replicas starting together take turns."""
    with connection.transaction():
        connection.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        for statement in filter(str.strip, _TABLES.split(";")):
            connection.execute(statement)


def _safe(dsn: str) -> str:
    """The DSN without its password, for an error message."""
    try:
        settings = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the given URL"
    settings.pop("password", None)
    where = f"{settings.get('host', 'localhost')}:{settings.get('port', 5432)}"
    return f"{settings.get('user', '')}@{where}/{settings.get('dbname', '')}".lstrip("@")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
