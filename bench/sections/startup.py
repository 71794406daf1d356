"""Start-up time and resident memory of ``mockserver serve`` as a user starts it.

Start-up is from spawning the process to the first 200 from ``/__admin/health``: imports,
loading and checking four specs, compiling validators, seeding the fixtures, binding. The
best of a few starts is the figure (noise on a shared machine only ever adds time); every
start is kept in the JSON. Resident memory, right after the health check, is the
proportional set size (PSS) of the process tree (the parent and the worker it forked
share most pages; PSS counts each once), with the sum of VmRSS beside it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bench.common import WORK, log, start_mock
from bench.config import Config


def _one_start(name: str, *options: str) -> dict[str, Any]:
    server = start_mock(name, *options)
    try:
        return {"ready_s": round(server.ready_seconds, 3), "pss_mib": round(server.pss_mib(), 1),
                "rss_mib": round(server.rss_mib(), 1)}
    finally:
        server.stop()


def _variant(label: str, repeats: int, *options: str) -> dict[str, Any]:
    starts = []
    for attempt in range(repeats):
        log(f"  start-up: {label} #{attempt + 1}")
        try:
            starts.append(_one_start(f"startup-{label}", *options))
        except RuntimeError as error:
            return {"error": str(error)[:300], "starts": starts}
    return {"options": list(options), "starts": starts,
            "best_ready_s": min(start["ready_s"] for start in starts),
            "max_pss_mib": max(start["pss_mib"] for start in starts),
            "max_rss_mib": max(start["rss_mib"] for start in starts)}


def run(config: Config) -> dict[str, Any]:
    database = WORK / "startup.db"
    results = {"memory": _variant("memory", config.startup_repeats)}
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            (WORK / f"startup.db{suffix}").unlink()
    results["sqlite"] = _variant("sqlite", config.startup_repeats, "--state",
                                 f"sqlite:{database}")
    return results
