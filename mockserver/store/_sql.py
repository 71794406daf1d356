"""What the two SQL backends (SQLite, PostgreSQL) share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mockserver.store import Document
from mockserver.store.memory import matches

#: (key after which to start or None, how many) -> [(key, document)] in key order
FetchBatch = Callable[[str | None, int], list[tuple[str, Document]]]


@contextmanager
def commit_or_roll_back(execute: Callable[[str], object]) -> Iterator[None]:
    """COMMIT when the block ends normally; ROLLBACK, then re-raise, when it raises."""
    try:
        yield
    except BaseException:
        execute("ROLLBACK")
        raise
    execute("COMMIT")


def keyset_fetch(execute: Callable[..., Any], table: str, mark: str, kind: str,
                 descending: bool, decode: Callable[[Any], Document]) -> FetchBatch:
    """The batches :func:`keyset_scan` reads, for a ``documents`` table with ``kind``, ``key``
    and ``data`` columns; ``mark`` is the driver's parameter placeholder."""
    comparison, order = ("<", "DESC") if descending else (">", "ASC")

    def fetch(cursor: str | None, batch: int) -> list[tuple[str, Document]]:
        bound = f"AND key {comparison} {mark}" if cursor is not None else ""
        rows = execute(f"SELECT key, data FROM {table} WHERE kind = {mark} {bound} "
                       f"ORDER BY key {order} LIMIT {mark}",
                       (kind, cursor, batch) if cursor is not None else (kind, batch))
        return [(key, decode(data)) for key, data in rows]

    return fetch


def keyset_scan(fetch: FetchBatch, where: Mapping[str, Any] | None,
                after: str | None) -> Iterator[Document]:
    """Batches along the key index, growing from 64 to 4096: a page costs its own size,
    and a long walk costs few round trips."""
    cursor, batch = after, 64
    while True:
        rows = fetch(cursor, batch)
        for _key, document in rows:
            if matches(document, where):
                yield document
        if len(rows) < batch:
            return
        cursor, batch = rows[-1][0], min(batch * 4, 4096)
