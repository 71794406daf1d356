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
