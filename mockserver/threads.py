"""How many threads serve requests: one, unless a request has to sleep.

Under the GIL, more threads do not run Python faster; they hand the interpreter back and
forth. Measured with wrk at 32 connections, one waitress thread serves the mock's requests
1.5-2x faster than eight, with half the p99. But a request held back by a latency fault
would then hold up every other request, so a request about to sleep first calls in the
other threads, and they retire when nobody sleeps any more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class ThreadCount(Protocol):
    """What the WSGI server offers: waitress's ``ThreadedTaskDispatcher``."""

    def set_thread_count(self, count: int) -> None: ...


class ThreadBudget:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dispatcher: ThreadCount | None = None
        self._most = 1
        self._sleepers = 0

    def attach(self, dispatcher: ThreadCount, most: int) -> None:
        """Serve with one thread, and with up to ``most`` while any request sleeps."""
        with self._lock:
            self._dispatcher, self._most = dispatcher, most
            dispatcher.set_thread_count(most if self._sleepers else 1)

    @contextmanager
    def sleeping(self) -> Iterator[None]:
        self._count_sleeper(+1)
        try:
            yield
        finally:
            self._count_sleeper(-1)

    def _count_sleeper(self, change: int) -> None:
        with self._lock:
            self._sleepers += change
            if self._dispatcher is not None and self._sleepers == (1 if change > 0 else 0):
                self._dispatcher.set_thread_count(self._most if self._sleepers else 1)
