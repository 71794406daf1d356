"""What every section shares: paths, free ports, server processes, RSS, JSON results.

Servers are started exactly as a user starts them (a subprocess on a free loopback port)
and are ready when an HTTP answer comes back, so start-up figures include imports, spec
loading and seeding, as a user waits for them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
WORK = BENCH / ".work"
SPECS = ROOT / "specs"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the final table."""
    print(message, file=sys.stderr, flush=True)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """One GET on a fresh connection; None when nothing answers (yet)."""
    host, _, rest = url.removeprefix("http://").partition("/")
    hostname, _, port = host.partition(":")
    connection = http.client.HTTPConnection(hostname, int(port or 80), timeout=timeout)
    try:
        connection.request("GET", "/" + rest)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class Server:
    """A server process under test; ``ready_seconds`` is spawn to first good answer."""

    name: str
    origin: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        """Resident memory of the server and its worker processes, in MiB, each process's
        own count added up: pages the forked workers share with their parent count twice."""
        return sum(rss_kib(pid) for pid in process_tree(self.pid)) / 1024

    def pss_mib(self) -> float:
        """Proportional set size of the server and its workers, in MiB: a page shared by N
        processes counts 1/N in each, so the sum is the memory the process tree holds."""
        return sum(pss_kib(pid) for pid in process_tree(self.pid)) / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, command: Sequence[str], port: int, ready_path: str,
                 ready: Callable[[int | None], bool] | None = None,
                 timeout: float = 60.0, env: dict[str, str] | None = None) -> Server:
    """Spawn ``command`` and poll ``ready_path`` every 5 ms until ``ready(status)``.

    Raises RuntimeError with the tail of the server's log when it exits or never gets
    ready, so a section can record why instead of crashing the whole run."""
    WORK.mkdir(parents=True, exist_ok=True)
    log_path = WORK / f"{name}.log"
    accept = ready or (lambda status: status == 200)
    origin = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=ROOT, env=env)
    server = Server(name, origin, process, log_path)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {tail(log_path)}")
        if accept(http_status(origin + ready_path, timeout=1.0)):
            server.ready_seconds = time.perf_counter() - started
            return server
        time.sleep(0.005)
    server.stop()
    raise RuntimeError(f"{name} was not ready within {timeout:.0f} s: {tail(log_path)}")


def mock_command(port: int, *options: str) -> list[str]:
    return [PYTHON, "-m", "mockserver", "serve", "--port", str(port), *options]


def start_mock(name: str, *options: str) -> Server:
    port = free_port()
    return start_server(name, mock_command(port, *options), port, "/__admin/health")


def tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def rss_kib(pid: int) -> int:
    """VmRSS from /proc (psutil is not a dependency); 0 for a process that is gone."""
    return _proc_kib(f"/proc/{pid}/status", "VmRSS:") or 0


def pss_kib(pid: int) -> int:
    """Pss from /proc/PID/smaps_rollup (Linux 4.14+); VmRSS where it is missing."""
    found = _proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:")
    return rss_kib(pid) if found is None else found


def _proc_kib(path: str, field: str) -> int | None:
    """A ``field: N kB`` line of a /proc file; None when the file or the field is missing."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the mock's ``--workers`` are forked children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(parents.get(current, []))
    return tree


def write_result(section: str, document: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{section}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    return path


def read_result(section: str) -> dict[str, Any] | None:
    path = RESULTS / f"{section}.json"
    if not path.exists():
        return None
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def machine_facts() -> dict[str, Any]:
    """Enough context to read the figures: cores, load at the start, tool versions."""
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg_1m": round(load[0], 2),
            "python": sys.version.split()[0], "platform": sys.platform}
