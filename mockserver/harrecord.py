"""``mockserver proxy --record PATH.har``: every exchange, whole, as HTTP Archive 1.2.

harfile writes the archive entry by entry as the exchanges happen, so memory does not
grow with the recording; the archive is complete once the proxy exits (Ctrl-C or
SIGTERM). The entries are the journal's (``har.py`` maps them), with bodies kept whole.
"""

from __future__ import annotations

import threading

import harfile

from mockserver import har
from mockserver.journal import Entry, document


class Recorder:
    def __init__(self, path: str) -> None:
        try:
            self._archive = harfile.open(path, creator=harfile.Creator(
                name="mockserver proxy", version=har.CREATOR.version))
        except OSError as error:
            raise OSError(f"cannot write the recording {path}: "
                          f"{error.strerror or error}") from None
        self._lock = threading.Lock()

    def add(self, entry: Entry) -> None:
        with self._lock:
            har.add(self._archive, document(entry, body_limit=None))
            self._archive.flush()

    def close(self) -> None:
        with self._lock:
            self._archive.close()
