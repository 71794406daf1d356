"""A default conformance run per API: against the mock, and against a server without a clock.

Issue 10's speed targets: with the defaults (``--max-examples 20``, ``--max-wait 60``), a
run against the mock takes under 30 s per API, and one against a server without the mock's
clock, whose time-based checks wait in real time, under 3 minutes. That server is the
strict-but-conforming variant the tests use (``tests/strict_server.py``, a proxy in front
of the mock: no ``/__admin``, slower transitions, rate limits, smaller pages), started as
its own process; the profile goes to it as a file. Each run is timed wall-clock, CLI start
to exit, on a freshly reset mock.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from typing import Any

from bench.common import PYTHON, ROOT, WORK, Server, free_port, log, start_mock, start_server
from bench.config import Config
from bench.operations import base_path
from bench.sections.conformance_speed import server_reset
from vendor_specs import API_NAMES

TIMEOUT = 900


def _quick_options(config: Config) -> list[str]:
    """What a quick bench run passes to each conformance run."""
    if not config.quick:
        return []
    return ["--max-examples", str(config.conformance_examples), "--max-wait", "10"]


def _run(api: str, base_url: str, config: Config, *options: str) -> dict[str, Any]:
    report = WORK / f"conformance-{api}.json"
    report.unlink(missing_ok=True)
    settings = _quick_options(config)
    command = [PYTHON, "-m", "conformance", "run", "--api", api, "--base-url", base_url,
               "--report", str(report), *settings, *options]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)
    wall = round(time.perf_counter() - started, 1)
    (WORK / f"conformance-{api}.out").write_text(completed.stdout + completed.stderr)
    if not report.exists():
        return {"wall_seconds": wall, "error": f"exit {completed.returncode}: "
                                               f"{completed.stderr[-300:]}"}
    document = json.loads(report.read_text())
    return {"wall_seconds": wall, "exit_status": completed.returncode,
            "requests": document.get("requests"), "passed": document.get("passed"),
            "failed": document.get("failed"),
            "violations": sorted({f"{v['check']} {v['operation']}"
                                  for v in document.get("violations", [])}),
            "not_run": [f"{entry['check']}: {entry['reason']}"
                        for entry in document.get("not_run", [])]}


def _strict(api: str, upstream: Server) -> Server:
    port = free_port()
    command = [PYTHON, str(ROOT / "tests" / "strict_server.py"), "--api", api,
               "--upstream", upstream.origin, "--port", str(port)]
    # the variant answers 404 to /__admin: any answer means it is up
    return start_server(f"strict-{api}", command, port, "/__admin/health",
                        ready=lambda status: status is not None)


def _profile(mock: Server) -> str:
    path = WORK / "strict-profile.json"
    with urllib.request.urlopen(mock.origin + "/__admin/fixtures", timeout=30) as response:
        path.write_bytes(response.read())
    return str(path)


def run(config: Config) -> dict[str, Any]:
    mock = start_mock("conformance-runs")
    results: dict[str, Any] = {}
    try:
        profile = _profile(mock)
        for api in API_NAMES:
            base = base_path(api)  # on the mock and on the strict variant alike
            server_reset(mock)
            log(f"  {api} against the mock")
            on_mock = _run(api, mock.origin + base, config)
            server_reset(mock)
            log(f"  {api} against its strict variant (no clock)")
            strict = _strict(api, mock)
            try:
                on_strict = _run(api, strict.origin + base, config, "--profile", profile)
            finally:
                strict.stop()
            results[api] = {"mock": on_mock, "strict": on_strict}
    finally:
        mock.stop()
    options = "".join(" " + option for option in _quick_options(config))
    return {"commands": {"mock": f"conformance run --api API --base-url URL{options}",
                         "strict": f"conformance run --api API --base-url STRICT_URL "
                                   f"--profile PROFILE{options}"},
            "apis": results}
