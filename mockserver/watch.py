"""``mockserver serve --watch``: reload the fixtures file and the specs when they change.

A reload builds a whole new mock from the files, exactly as a start does (so a broken
file is caught by the same checks), then swaps it in between two requests. The state is
reseeded from the new fixtures, as a reset does, while the clock, the fault rules and the
journal stay: a team editing fixtures keeps its place in time and its history. A file
that does not load is one line on stderr, and the previous mock keeps serving.

The files are polled (their size, mtime and inode, four times a second) rather than
watched through inotify: they are a handful, polling them costs nothing measurable, and it
also sees changes on bind mounts and network filesystems, where inotify stays silent.
A change is acted on once the files stop changing, so an editor's partial write is not
reported as a broken file.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import vendor_specs
from mockserver.app import Mock, Settings, build_mock, create_app

POLL_SECONDS = 0.25
Signature = tuple[tuple[int, int, int] | None, ...]


class Reloading:
    """The WSGI application that ``serve --watch`` runs: whichever mock loaded last."""

    def __init__(self, settings: Settings, mock: Mock) -> None:
        self.settings, self.mock = settings, mock
        self.app = create_app(settings, mock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)

    def reload(self) -> None:
        """The new files in force, or one line on stderr and the old ones still are."""
        vendor_specs.load_spec.cache_clear()
        try:
            mock = build_mock(self.settings, store=self.mock.services.store)
            app = create_app(self.settings, mock)
            mock.reseed()
        except Exception as error:  # any failure: the running mock must stay up
            print(f"mockserver: reload failed, still serving the previous files: "
                  f"{' '.join(str(error).split())}", file=sys.stderr, flush=True)
            return
        self.mock, self.app = mock, app
        print("mockserver: reloaded the fixtures and specs; state reseeded (clock, fault "
              "rules and journal kept)", file=sys.stderr, flush=True)


def watched_files(settings: Settings) -> list[Path]:
    """The fixtures file (the bundled one by default) and the served APIs' specs."""
    bundled = resources.files("mockserver.bundled_fixtures").joinpath("default.yaml")
    specs = [resources.files("vendor_specs").joinpath(f"{api}.yaml") for api in settings.apis]
    candidates = [Path(settings.fixtures) if settings.fixtures else bundled, *specs]
    return [Path(str(path)) for path in candidates if isinstance(path, os.PathLike)]


def start(reloading: Reloading) -> threading.Thread:
    files = watched_files(reloading.settings)
    thread = threading.Thread(target=_poll, args=(files, reloading.reload),
                              name="mockserver-watch", daemon=True)
    thread.start()
    return thread


def _poll(files: Sequence[Path], on_change: Callable[[], None]) -> None:
    known = signature(files)
    while True:
        time.sleep(POLL_SECONDS)
        seen = signature(files)
        if seen == known:
            continue
        while True:  # until a whole poll goes by without a further change
            time.sleep(POLL_SECONDS)
            settled = signature(files)
            if settled == seen:
                break
            seen = settled
        known = seen
        on_change()


def signature(files: Iterable[Path]) -> Signature:
    return tuple(_stat(path) for path in files)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino
