"""Throughput and latency over loopback, 32 connections, every target in the same run.

Targets: the mock as a user starts it (memory state, journal and full request validation
on, Granian with one worker process), the mock with ``--workers 2`` (two processes sharing
a private SQLite file), the mock on PostgreSQL as one replica and as two replicas sharing
one database (the load split over both), a bare Flask endpoint under the same server and
process model (the stack's ceiling), and Prism on the same spec. Each
operation's measured time is split into rounds and the targets take turns within a round,
so a burst of load from a neighbour on this shared machine hits all of them alike.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bench.common import PYTHON, ROOT, Server, free_port, log, start_mock, start_server
from bench.config import Config
from bench.load import CONNECTIONS, LoadResult, load_tool, merge, run_spread
from bench.operations import (
    OPERATIONS,
    Operation,
    Request,
    base_path,
    mycrt_session,
    request_for,
    send,
)
from bench.prism import start_prism

MOCK, MOCK_2W, BARE, PRISM = "mock", "mock-2w", "bare-flask", "prism"
MOCK_PG, MOCK_PG_2R = "mock-postgresql", "mock-postgresql-2r"
#: the mock's defaults (mockserver/cli.py), which the bare Flask endpoint is served with too
WORKERS, THREADS = 1, 8


@dataclass
class Target:
    name: str
    servers: dict[str, Server]  # by API; "*" serves all
    prefix: Callable[[str], str]
    cookie: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # API or "*" -> why
    #: more servers sharing the first one's state; the load is split over all of them
    replicas: list[Server] = field(default_factory=list)
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def server(self, api: str) -> Server | None:
        return self.servers.get(api) or self.servers.get("*")

    def why_not(self, api: str) -> str | None:
        return self.unavailable.get(api) or self.unavailable.get("*")

    def request(self, operation: Operation) -> Request | None:
        server = self.server(operation.api)
        if server is None or self.why_not(operation.api):
            return None
        cookie = self.cookie if operation.api == "mycrt" else None
        return request_for(operation, server.origin, self.prefix(operation.api), cookie)

    def spread(self, request: Request) -> list[Request]:
        """The request, and the same to every replica (a MyCRT session is shared too)."""
        first = self.servers["*"].origin if self.replicas else ""
        return [request, *(Request(request.url.replace(first, replica.origin, 1),
                                   request.method, request.headers, request.body)
                           for replica in self.replicas)]

    def stop(self) -> None:
        for server in [*self.servers.values(), *self.replicas]:
            server.stop()
        for step in self.cleanup:
            step()


def _mock_target(name: str, *options: str) -> Target:
    try:
        server = start_mock(name, *options)
    except RuntimeError as error:
        return Target(name, {}, base_path, unavailable={"*": str(error)})
    return Target(name, {"*": server}, base_path, cookie=mycrt_session(server.origin))


def _pgcluster() -> ModuleType:
    """``tests/pgcluster.py``: the throwaway PostgreSQL server the replica tests start
    (``tests/`` is no package, so it is loaded from its file)."""
    spec = importlib.util.spec_from_file_location("pgcluster", ROOT / "tests" / "pgcluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pgcluster", module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def _postgresql_targets() -> list[Target]:
    """One replica, and two on another database of the same throwaway server (fsync off:
    the figures are the mock's and its round trips', not this machine's disk)."""
    pgcluster = _pgcluster()
    try:
        cluster = pgcluster.start()
    except pgcluster.Unavailable as error:
        return [Target(name, {}, base_path, unavailable={"*": str(error)})
                for name in (MOCK_PG, MOCK_PG_2R)]
    one = _mock_target(MOCK_PG, "--state", cluster.create_database("bench_one"))
    state = cluster.create_database("bench_two")
    two = _mock_target(MOCK_PG_2R, "--state", state)
    with contextlib.suppress(RuntimeError):  # a second replica that fails leaves one
        two.replicas.append(start_mock(f"{MOCK_PG_2R}-b", "--state", state))
    if not two.replicas:
        two.unavailable["*"] = "the second replica did not start"
    two.cleanup.append(cluster.stop)  # the last of the targets on this cluster
    return [one, two]


def _bare_target() -> Target:
    port = free_port()
    command = [PYTHON, "-m", "bench.bareflask", "--port", str(port), "--workers", str(WORKERS),
               "--threads", str(THREADS)]
    try:
        server = start_server(BARE, command, port, "/__admin/health")
    except RuntimeError as error:
        return Target(BARE, {}, base_path, unavailable={"*": str(error)})
    return Target(BARE, {"*": server}, base_path, cookie="bench")


def _prism_target(apis: list[str]) -> Target:
    target = Target(PRISM, {}, lambda api: "", cookie="bench")
    for api in apis:
        try:
            target.servers[api] = start_prism(api)
        except RuntimeError as error:
            target.unavailable[api] = str(error)
    return target


def start_targets(config: Config) -> list[Target]:
    targets = [_mock_target(MOCK)]
    if config.two_workers:
        targets.append(_mock_target(MOCK_2W, "--workers", "2"))
    if config.postgresql:
        targets += _postgresql_targets()
    targets.append(_bare_target())
    if config.prism:
        targets.append(_prism_target(sorted({operation.api for operation in OPERATIONS})))
    return targets


def _smoke(target: Target, operation: Operation, request: Request) -> str | None:
    """A load run only counts if the request succeeds: a 4xx would measure the error path."""
    try:
        status, body, _ = send(request)
    except OSError as error:
        return f"{type(error).__name__}: {error}"
    if not 200 <= status < 300:
        return f"answers {status}: {body[:200].decode(errors='replace')}"
    return None


def _measure_operation(config: Config, tool: str, operation: Operation,
                       targets: list[Target]) -> dict[str, Any]:
    requests: dict[str, list[Request]] = {}
    outcome: dict[str, Any] = {}
    for target in targets:
        request = target.request(operation)
        spread = target.spread(request) if request is not None else []
        problem = target.why_not(operation.api) if request is None else \
            next((found for each in spread if (found := _smoke(target, operation, each))), None)
        if request is None or problem:
            outcome[target.name] = {"unavailable": problem or "not served"}
            continue
        requests[target.name] = spread
        run_spread(spread, config.warmup, tool)
    runs: dict[str, list[LoadResult]] = {name: [] for name in requests}
    order = list(requests)
    for round_number in range(config.rounds):
        for name in order if round_number % 2 == 0 else reversed(order):
            log(f"  {operation.key:<30} {name:<15} round {round_number + 1}/{config.rounds}")
            runs[name].append(run_spread(requests[name], config.seconds / config.rounds, tool))
    for name, results in runs.items():
        outcome[name] = merge(results).summary()
    return outcome


def _ratios(outcome: dict[str, Any]) -> dict[str, float | None]:
    def rps(name: str) -> float | None:
        value = outcome.get(name, {}).get("rps")
        return float(value) if value else None

    def ratio(top: str, bottom: str) -> float | None:
        high, low = rps(top), rps(bottom)
        return round(high / low, 3) if high and low else None

    return {"mock_vs_prism": ratio(MOCK, PRISM), "mock_vs_bare_flask": ratio(MOCK, BARE),
            "mock_2w_vs_mock": ratio(MOCK_2W, MOCK),
            "mock_postgresql_vs_mock": ratio(MOCK_PG, MOCK),
            "mock_postgresql_2r_vs_1r": ratio(MOCK_PG_2R, MOCK_PG)}


def run(config: Config) -> dict[str, Any]:
    tool = load_tool(config.load_tool)
    targets = start_targets(config)
    try:
        started = {target.name: {api: {"ready_s": round(server.ready_seconds, 3),
                                       "pss_mib": round(server.pss_mib(), 1),
                                       "rss_mib": round(server.rss_mib(), 1)}
                                 for api, server in target.servers.items()}
                   for target in targets}
        operations = {}
        for operation in OPERATIONS:
            outcome = _measure_operation(config, tool, operation, targets)
            operations[operation.key] = {"label": operation.label, **outcome,
                                         "ratios": _ratios(outcome)}
        after = {target.name: {api: {"pss_mib": round(server.pss_mib(), 1),
                                     "rss_mib": round(server.rss_mib(), 1)}
                               for api, server in target.servers.items()}
                 for target in targets}
    finally:
        for target in targets:
            with contextlib.suppress(Exception):
                target.stop()
    return {"load_tool": tool, "connections": CONNECTIONS, "seconds_per_target": config.seconds,
            "rounds": config.rounds, "workers": WORKERS, "threads": THREADS,
            "unavailable": {target.name: target.unavailable for target in targets
                            if target.unavailable},
            "servers_at_start": started, "memory_after_load": after, "operations": operations}
