"""In-process state: fast, and gone when the process ends."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from mockserver.store import Document


class FrozenDocument(dict[str, Any]):
    """A stored document: a dict that refuses every change. Reads hand out the stored
    object itself, with no copy (a copy cost more than the rest of a list request); a
    handler that wants to change a document builds a new one (``{**document, ...}``)
    and puts it."""

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise TypeError("stored documents are read-only: build a changed copy and put it")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]


class FrozenList(list[Any]):
    """A list inside a stored document, read-only like it."""

    def _refuse(self, *_: Any, **__: Any) -> None:
        raise TypeError("stored documents are read-only: build a changed copy and put it")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = _refuse  # type: ignore[assignment]
    insert = pop = remove = clear = sort = reverse = _refuse


_CONTAINERS = frozenset({dict, list, tuple, FrozenDocument, FrozenList})


def _freeze(value: Any) -> Any:
    """A read-only deep copy of a JSON document (what ``put`` keeps); a call per container,
    not per value."""
    if type(value) in (dict, FrozenDocument):
        return FrozenDocument({key: _freeze(item) if type(item) in _CONTAINERS else item
                               for key, item in value.items()})
    if type(value) in _CONTAINERS:
        return FrozenList([_freeze(item) if type(item) in _CONTAINERS else item
                           for item in value])
    return value


def matches(document: Document, where: Mapping[str, Any] | None) -> bool:
    if where:
        for field, value in where.items():  # a loop: all() would add a generator per call
            if document.get(field) != value:
                return False
    return True


class MemoryStore:
    shareable = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._documents: dict[str, dict[str, Document]] = {}
        self._counters: dict[str, int] = {}
        self._blobs: dict[str, bytes] = {}
        self._sorted_keys: dict[str, list[str]] = {}
        #: keys added below the end of their kind's sorted list, merged in when it is read
        #: (a random key, a uuid, would otherwise move half the list on every insert)
        self._unsorted: dict[str, list[str]] = {}
        self._logs: dict[str, deque[Document]] = {}
        self._undo: list[Callable[[], None]] | None = None

    def transaction(self) -> AbstractContextManager[None]:
        """All or nothing, like SQLite's: an exception undoes every write made inside."""
        return _Transaction(self)

    def _remember(self, kind: str, key: str) -> None:
        if self._undo is None:
            return
        documents = self._documents.setdefault(kind, {})
        previous = documents.get(key)

        def undo() -> None:
            if previous is None:
                self._forget(kind, key)
            else:
                self._keep(kind, key, previous)

        self._undo.append(undo)

    def get(self, kind: str, key: str) -> Document | None:
        with self._lock:
            return self._documents.get(kind, {}).get(key)

    def put(self, kind: str, key: str, document: Document) -> None:
        frozen = _freeze(document)
        with self._lock:
            self._remember(kind, key)
            self._keep(kind, key, frozen)

    def delete(self, kind: str, key: str) -> bool:
        with self._lock:
            self._remember(kind, key)
            return self._forget(kind, key)

    def _keep(self, kind: str, key: str, document: Document) -> None:
        documents = self._documents.setdefault(kind, {})
        if key not in documents:
            keys = self._sorted_keys.setdefault(kind, [])
            if keys and key < keys[-1]:
                self._unsorted.setdefault(kind, []).append(key)
            else:
                keys.append(key)  # keys that grow (ids): in order already
        documents[key] = document

    def _keys(self, kind: str) -> list[str]:
        """The kind's keys in order."""
        keys = self._sorted_keys.setdefault(kind, [])
        pending = self._unsorted.pop(kind, None)
        if pending:
            keys.extend(pending)
            keys.sort()  # a sorted run and a short tail: close to linear
        return keys

    def _forget(self, kind: str, key: str) -> bool:
        if self._documents.get(kind, {}).pop(key, None) is None:
            return False
        keys = self._keys(kind)
        del keys[bisect.bisect_left(keys, key)]
        return True

    def scan(self, kind: str, where: Mapping[str, Any] | None = None, *,
             descending: bool = False, after: str | None = None) -> Iterator[Document]:
        with self._lock:
            keys = self._keys(kind)
            documents = self._documents.get(kind, {})
            if descending:
                start = len(keys) if after is None else bisect.bisect_left(keys, after)
                positions = range(start - 1, -1, -1)
            else:
                start = 0 if after is None else bisect.bisect_right(keys, after)
                positions = range(start, len(keys))
        for position in positions:  # no copy of the key list: a page costs its own size
            with self._lock:
                if position >= len(keys):
                    return
                document = documents.get(keys[position])
                found = document if document and matches(document, where) else None
            if found is not None:
                yield found

    def find(self, kind: str, where: Mapping[str, Any] | None = None) -> list[Document]:
        with self._lock:
            documents = self._documents.get(kind, {}).values()
            if where is not None and len(where) == 1:  # the common case, without a call each
                ((field, value),) = where.items()
                return [document for document in documents if document.get(field) == value]
            return [document for document in documents if matches(document, where)]

    def iter_keys(self, kind: str, most: int | None = None) -> Iterator[str]:
        with self._lock:
            return iter(list(itertools.islice(self._documents.get(kind, {}), most)))

    def trim(self, kind: str, keep: int) -> None:
        with self._lock:
            documents = self._documents.get(kind, {})
            for key in list(documents)[: max(0, len(documents) - keep)]:
                self._forget(kind, key)

    def append(self, log: str, entry: Document, keep: int) -> None:
        """A log entry is a flat record (the journal's values are text, numbers and
        tuples): it is kept as a read-only dict of the same values."""
        frozen = FrozenDocument(entry)
        with self._lock:
            self._logs.setdefault(log, deque(maxlen=keep)).append(frozen)

    def recent(self, log: str, limit: int) -> list[Document]:
        with self._lock:
            return list(itertools.islice(reversed(self._logs.get(log, ())), limit))

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
            self._sorted_keys.clear()
            self._unsorted.clear()
            self._logs.clear()
            self._counters.clear()
            self._blobs.clear()

    def is_empty(self) -> bool:
        with self._lock:
            return not any(self._documents.values()) and not self._blobs

    def close(self) -> None:
        pass


class _Transaction:
    """``MemoryStore.transaction()``: a class, not a generator, since every request enters
    one (the outermost keeps the undo log; nested ones join it)."""

    __slots__ = ("_outermost", "_store")

    def __init__(self, store: MemoryStore) -> None:
        self._store, self._outermost = store, False

    def __enter__(self) -> None:
        store = self._store
        store._lock.acquire()
        if store._undo is None:
            store._undo, self._outermost = [], True

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        store = self._store
        try:
            if self._outermost:
                undo, store._undo = store._undo or [], None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            store._lock.release()
