"""In-process state: fast, and gone when the process ends."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mockserver.store import Document


def matches(document: Document, where: Mapping[str, Any] | None) -> bool:
    return not where or all(document.get(field) == value for field, value in where.items())


class MemoryStore:
    shareable = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._documents: dict[str, dict[str, Document]] = {}
        self._counters: dict[str, int] = {}
        self._blobs: dict[str, bytes] = {}
        self._undo: list[Callable[[], None]] | None = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, like SQLite's: an exception undoes every write made inside."""
        with self._lock:
            if self._undo is not None:
                yield
                return
            self._undo = []
            try:
                yield
            except BaseException:
                for undo in reversed(self._undo):
                    undo()
                raise
            finally:
                self._undo = None

    def _remember(self, kind: str, key: str) -> None:
        if self._undo is None:
            return
        documents = self._documents.setdefault(kind, {})
        previous = documents.get(key)

        def undo() -> None:
            if previous is None:
                documents.pop(key, None)
            else:
                documents[key] = previous

        self._undo.append(undo)

    def get(self, kind: str, key: str) -> Document | None:
        with self._lock:
            document = self._documents.get(kind, {}).get(key)
            return copy.deepcopy(document) if document is not None else None

    def put(self, kind: str, key: str, document: Document) -> None:
        with self._lock:
            self._remember(kind, key)
            self._documents.setdefault(kind, {})[key] = copy.deepcopy(document)

    def delete(self, kind: str, key: str) -> bool:
        with self._lock:
            self._remember(kind, key)
            return self._documents.get(kind, {}).pop(key, None) is not None

    def find(self, kind: str, where: Mapping[str, Any] | None = None) -> list[Document]:
        with self._lock:
            return [
                copy.deepcopy(document)
                for document in self._documents.get(kind, {}).values()
                if matches(document, where)
            ]

    def iter_keys(self, kind: str) -> Iterator[str]:
        with self._lock:
            return iter(list(self._documents.get(kind, {})))

    def trim(self, kind: str, keep: int) -> None:
        with self._lock:
            documents = self._documents.get(kind, {})
            for key in list(documents)[: max(0, len(documents) - keep)]:
                del documents[key]

    def next_id(self, counter: str) -> int:
        with self._lock:
            self._counters[counter] = self._counters.get(counter, 0) + 1
            return self._counters[counter]

    def raise_counter(self, counter: str, at_least: int) -> None:
        with self._lock:
            self._counters[counter] = max(self._counters.get(counter, 0), at_least)

    def put_blob(self, key: str, data: bytes) -> None:
        with self._lock:
            self._blobs[key] = bytes(data)

    def get_blob(self, key: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(key)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self._counters.clear()
            self._blobs.clear()

    def is_empty(self) -> bool:
        with self._lock:
            return not any(self._documents.values()) and not self._blobs

    def close(self) -> None:
        pass
