"""Ctrl-C between a request and its record.

A create whose answer is cut off by Ctrl-C has made its resource on the server, but the
run never learns its id, so the clean-up cannot remove it. While a request is in flight,
the first SIGINT therefore waits for the answer to be recorded and is raised right after;
a second one interrupts at once, for a target that never answers.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a first Ctrl-C until the block is done, then raise it. Only the main thread
    receives signals; elsewhere, and where SIGINT is ignored or not Python's, the block
    runs as it is."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        print("conformance: stopping once the request in flight is answered "
              "(Ctrl-C again: at once)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if received:
            raise KeyboardInterrupt
