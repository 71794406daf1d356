"""Closed-loop load from a second process: wrk when installed, else bench/pyload.py.

Both report a latency histogram (microseconds -> count), so runs split into rounds (to
interleave targets on a noisy machine) merge into exact percentiles.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, WORK
from bench.operations import Request

CONNECTIONS = 32
_MARK = "BENCH-RESULT"
_WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("%s %d %d %d %d\\n", "{mark}", summary.requests, summary.duration,
                         e.status, e.connect + e.read + e.write + e.timeout))
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("%s-LAT %d %d\\n", "{mark}", value, count))
  end
end
"""


@dataclass
class LoadResult:
    tool: str
    requests: int = 0
    seconds: float = 0.0
    status_errors: int = 0
    socket_errors: int = 0
    histogram: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        total = sum(self.histogram.values())
        if not total:
            return 0.0
        seen = 0
        for value, count in sorted(self.histogram.items()):
            seen += count
            if seen >= total * fraction:
                return value / 1000
        return max(self.histogram) / 1000

    def summary(self) -> dict[str, Any]:
        return {"tool": self.tool, "requests": self.requests,
                "seconds": round(self.seconds, 3), "rps": round(self.rps, 1),
                "p50_ms": round(self.percentile_ms(0.50), 2),
                "p99_ms": round(self.percentile_ms(0.99), 2),
                "status_errors": self.status_errors, "socket_errors": self.socket_errors}


def merge(results: Iterable[LoadResult]) -> LoadResult:
    merged: LoadResult | None = None
    for result in results:
        if merged is None:
            merged = LoadResult(result.tool)
        merged.requests += result.requests
        merged.seconds += result.seconds
        merged.status_errors += result.status_errors
        merged.socket_errors += result.socket_errors
        merged.histogram.update(result.histogram)
    return merged or LoadResult("none")


def load_tool(preferred: str = "auto") -> str:
    """``wrk`` if it is on PATH (and not refused), else ``python``."""
    if preferred == "python":
        return "python"
    if shutil.which("wrk"):
        return "wrk"
    if preferred == "wrk":
        raise RuntimeError("wrk is not installed (apt-get install wrk), use --load python")
    return "python"


def run_load(request: Request, seconds: float, tool: str,
             connections: int = CONNECTIONS) -> LoadResult:
    if tool == "wrk":
        return _run_wrk(request, seconds, connections)
    return _run_python(request, seconds, connections)


def run_spread(requests: list[Request], seconds: float, tool: str,
               connections: int = CONNECTIONS) -> LoadResult:
    """One load generator per replica, all at once, the connections split evenly: what a
    round-robin balancer sends, without the balancer's own cost in the figures."""
    if len(requests) == 1:
        return run_load(requests[0], seconds, tool, connections)
    share = max(1, connections // len(requests))
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(lambda request: run_load(request, seconds, tool, share),
                                requests))
    combined = merge(results)
    combined.seconds = max(result.seconds for result in results)  # side by side, not in turn
    return combined


def _lua_string(text: str) -> str:
    level = "=" * 4
    return f"[{level}[{text}]{level}]"


def _wrk_script(request: Request) -> str:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    if request.body:
        lines.append(f"wrk.body = {_lua_string(request.body.decode('latin-1'))}")
    lines += [f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}"
              for name, value in request.headers.items()]
    return "\n".join(lines) + _WRK_DONE.replace("{mark}", _MARK)


def _run_wrk(request: Request, seconds: float, connections: int) -> LoadResult:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=WORK, delete=False) as script:
        script.write(_wrk_script(request))
    try:
        completed = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout",
             "10s", "-s", script.name, request.url],
            capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        Path(script.name).unlink(missing_ok=True)
    return _parse_wrk(completed.stdout, completed.stderr)


def _parse_wrk(stdout: str, stderr: str) -> LoadResult:
    result = LoadResult("wrk")
    found = False
    for line in stdout.splitlines():
        fields = line.split()
        if fields[:1] == [_MARK]:
            requests, duration_us, status, socket_errors = map(int, fields[1:5])
            result.requests, result.seconds = requests, duration_us / 1e6
            result.status_errors, result.socket_errors = status, socket_errors
            found = True
        elif fields[:1] == [f"{_MARK}-LAT"]:
            result.histogram[int(fields[1])] += int(fields[2])
    if not found:
        raise RuntimeError(f"wrk printed no result: {stdout[-300:]} {stderr[-300:]}")
    return result


def _run_python(request: Request, seconds: float, connections: int) -> LoadResult:
    WORK.mkdir(parents=True, exist_ok=True)
    spec = {"url": request.url, "method": request.method, "headers": request.headers,
            "body": request.body.decode("latin-1"), "duration": seconds,
            "connections": connections}
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=WORK, delete=False) as file:
        json.dump(spec, file)
    try:
        completed = subprocess.run([PYTHON, "-m", "bench.pyload", file.name], cwd=ROOT,
                                   capture_output=True, text=True, timeout=seconds + 60,
                                   check=False)
    finally:
        Path(file.name).unlink(missing_ok=True)
    if completed.returncode != 0:
        raise RuntimeError(f"pyload failed: {completed.stderr[-500:]}")
    document = json.loads(completed.stdout)
    return LoadResult("python", document["requests"], document["seconds"],
                      document["status_errors"], document["socket_errors"],
                      Counter({int(value): int(count)
                               for value, count in document["histogram"]}))
