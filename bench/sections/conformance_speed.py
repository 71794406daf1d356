"""The conformance suite's speed beside Schemathesis, on the same spec and the same server.

Both tools run against one fresh mock (memory state), Uplift API, each as its CLI is run
from a shell, with the same examples per operation and one worker each (the suite is
sequential). A test case is one request sent and judged. The mock is reset between the two
runs, so neither inherits the other's state (Uplift's list grows with every capture).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, SPECS, WORK, Server, log, start_mock
from bench.config import Config
from bench.operations import UPLIFT_KEY

API = "uplift"
TIMEOUT = 600


def _timed(command: list[str], cwd: Path,
           output: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a tool to its end; its output is kept in WORK for a look afterwards."""
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)
    wall = time.perf_counter() - started
    (WORK / output).write_text(completed.stdout + completed.stderr)
    return completed, wall


def _conformance(server: Server, examples: int) -> dict[str, Any]:
    report = WORK / "conformance-report.json"
    report.unlink(missing_ok=True)
    command = [PYTHON, "-m", "conformance", "run", "--api", API, "--base-url",
               f"{server.origin}/v1", "--max-examples", str(examples), "--seed", "0",
               "--report", str(report)]
    completed, wall = _timed(command, ROOT, "conformance.out")
    if not report.exists():
        return {"error": f"exit {completed.returncode}: {completed.stderr[-300:]}"}
    document = json.loads(report.read_text())
    requests = int(document.get("requests", 0))
    return {"command": "conformance run --api uplift --base-url URL/v1 "
                       f"--max-examples {examples} --seed 0 --report r.json",
            "exit_status": completed.returncode, "test_cases": requests,
            "requests": requests, "wall_seconds": round(wall, 2),
            "self_reported_seconds": document.get("duration_seconds"),
            "test_cases_per_second": round(requests / wall, 1) if wall else None,
            "checks_passed": document.get("passed"), "checks_failed": document.get("failed")}


def _schemathesis_command() -> list[str] | None:
    executable = shutil.which("schemathesis")
    return [executable] if executable else None


def _schemathesis(server: Server, examples: int) -> dict[str, Any]:
    command = _schemathesis_command()
    if command is None:
        return {"unavailable": "schemathesis is not installed (pip install schemathesis)"}
    har = WORK / "schemathesis.har"
    har.unlink(missing_ok=True)
    command += ["run", str(SPECS / f"{API}.yaml"), "--url", f"{server.origin}/v1",
                "-H", f"Authorization: Bearer {UPLIFT_KEY}", "--max-examples", str(examples),
                "--seed", "0", "--workers", "1", "--no-color", "--report", "har",
                "--report-har-path", str(har)]
    completed, wall = _timed(command, WORK, "schemathesis.out")
    generated = re.search(r"(\d+) generated", completed.stdout)
    if generated is None:
        return {"error": f"exit {completed.returncode}: {completed.stdout[-300:]}"}
    cases = int(generated.group(1))
    return {"command": "schemathesis run specs/uplift.yaml --url URL/v1 -H 'Authorization: "
                       f"Bearer ...' --max-examples {examples} --seed 0 --workers 1",
            "version": _schemathesis_version(), "exit_status": completed.returncode,
            "test_cases": cases, "requests": _har_entries(har), "wall_seconds": round(wall, 2),
            "test_cases_per_second": round(cases / wall, 1) if wall else None,
            "summary": completed.stdout.strip().splitlines()[-1][:200]}


def _schemathesis_version() -> str | None:
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        return version("schemathesis")
    return None


def _har_entries(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return len(json.loads(path.read_text())["log"]["entries"])
    return None


def run(config: Config) -> dict[str, Any]:
    server = start_mock("conformance-target")
    try:
        log(f"  conformance run, --max-examples {config.conformance_examples}")
        ours = _conformance(server, config.conformance_examples)
        server_reset(server)
        log(f"  schemathesis run, --max-examples {config.conformance_examples}")
        theirs = _schemathesis(server, config.conformance_examples)
    finally:
        server.stop()
    ratio = None
    if ours.get("test_cases_per_second") and theirs.get("test_cases_per_second"):
        ratio = round(ours["test_cases_per_second"] / theirs["test_cases_per_second"], 3)
    return {"api": API, "max_examples": config.conformance_examples, "conformance": ours,
            "schemathesis": theirs, "conformance_vs_schemathesis": ratio}


def server_reset(server: Server) -> None:
    import urllib.request

    request = urllib.request.Request(server.origin + "/__admin/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
