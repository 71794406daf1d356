"""Stoplight Prism, the usual off-the-shelf OpenAPI mock, as the yardstick for the mock.

Prism comes from the npm registry into bench/.prism (gitignored), installed on first use
when node and npm are present. It serves each spec at its paths without the base path
(``/captures``, not ``/v1/captures``), one node process per spec, started with
``prism mock SPEC -p PORT -v warn``. If it refuses a spec (OpenAPI 3.1 features it lacks),
the error is recorded and that API is compared without it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from bench.common import BENCH, SPECS, Server, free_port, log, start_server

VERSION = "5.16.0"
PREFIX = BENCH / ".prism"
BINARY = PREFIX / "node_modules" / ".bin" / "prism"


def ensure_prism() -> Path:
    """The prism executable, installing the pinned version if needed; raises with why not."""
    if BINARY.exists():
        return BINARY
    if not shutil.which("node") or not shutil.which("npm"):
        raise RuntimeError("node/npm not installed: Prism not measured")
    log(f"installing @stoplight/prism-cli@{VERSION} into {PREFIX} ...")
    PREFIX.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        ["npm", "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund",
         f"@stoplight/prism-cli@{VERSION}"],
        capture_output=True, text=True, timeout=600, check=False)
    if completed.returncode != 0 or not BINARY.exists():
        raise RuntimeError(f"npm install of Prism failed: {completed.stderr[-400:]}")
    return BINARY


def start_prism(api: str) -> Server:
    binary = ensure_prism()
    port = free_port()
    command = [str(binary), "mock", str(SPECS / f"{api}.yaml"), "-h", "127.0.0.1",
               "-p", str(port), "-v", "warn"]
    # Any HTTP answer means Prism is listening (there is no health endpoint; / is a 404).
    return start_server(f"prism-{api}", command, port, "/",
                        ready=lambda status: status is not None, timeout=90)
