"""64 concurrent clients creating on every API: no write is lost or doubled, no 5xx.

Each test starts its own ``mockserver serve --api <api> --validate-responses`` on a free
loopback port, with memory state or with ``--state sqlite:PATH --workers 2``. A
``ThreadPoolExecutor(64)`` runs 64 clients, each with its own ``requests.Session``, each
sending its creates one after another as fast as the server answers:

- Uplift ``POST /v1/captures``; Biometrics Cloud ``POST /api/v1/files`` (small base64);
  MyCRT ``POST /api/captures`` (one login shared by every client; names are unique);
  CaptureProof ``POST /api/v1/patients/{p}/proofs/{q}/captures`` (no upload key).

Then it reads everything back (Uplift pages of ``limit=500``/``offset``; Biometrics Cloud
keyset pages following ``next_id``; MyCRT ``GET /api/captures?envId=1``; the CaptureProof
list) and checks: every create answered 200, the ids in the answers are unique, and the
listing holds every acknowledged create exactly once, with the name or description its
client sent, and nothing else new. A second test races 64 clients for one MyCRT capture
name: exactly one create may win.

Sizes. The default run has 64 clients x 50 creates (3200 per API and backend) for Uplift,
Biometrics Cloud and MyCRT, and 64 x 10 for CaptureProof. CaptureProof's create answers
the whole proof with every capture in it, so each answer grows with the number of captures
and the load is quadratic: 64 x 10 takes about 12 s per backend, 64 x 20 about 46 s, 64 x 50
about 300 s (313 s with memory state, 284 s with sqlite). Measured on this two-core machine,
idle, at commit 92bf3e5: 3200 creates take 5 s (Uplift), 7.5 s (Biometrics Cloud) and 11 s
(MyCRT) with memory state, 7.5 s, 7 s and 12 s with sqlite state and two workers; this
module takes about 95 s serially, and 2-3 times that while other jobs share the cores.
``CONCURRENCY_FULL=1`` runs 64 x 50 for CaptureProof too (all pass; about 11 minutes)::

    CONCURRENCY_FULL=1 python -m pytest tests/test_concurrency.py -n 0

Servers here are started by :class:`Server` in their own process group, with stderr going
to a file that a failure message quotes. Under this load waitress (the server before
Granian) used to log "Task queue depth is N" once per queued request, so a stderr pipe
nobody reads filled up and stalled the whole server; the mock now writes nothing to stderr
per request (mockserver/serving.py lets Granian log errors only), and
``test_an_undrained_stderr_pipe_does_not_stall_the_server_under_load`` keeps the case
covered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import free_port, wait_until_healthy

CLIENTS = 64
FULL = os.environ.get("CONCURRENCY_FULL", "") not in ("", "0")
TIMEOUT = 120  # seconds for one request; sqlite under 64 clients answers in up to ~15 s

UPLIFT = {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}
BIOMETRICS = {"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"}
CAPTUREPROOF = {"X-API-Session": "903fc07decff1059951641d41e3045cd"}
PROOF = "/api/v1/patients/53ede085/proofs/4cd40d7e3/captures"
MYCRT_LOGIN = {"email": "admin@example.com", "password": "correct-horse-battery-staple"}


# -- the server ----------------------------------------------------------------------------

@dataclass
class Server:
    """``mockserver serve`` in its own process group, stderr to a file."""

    options: tuple[str, ...]
    log: Path
    stderr: Any = None  # a file object, or subprocess.PIPE
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def start(self) -> Server:
        with contextlib.ExitStack() as files:
            stderr = self.stderr or files.enter_context(self.log.open("ab"))
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port),
                 "--validate-responses", *self.options],
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            wait_until_healthy(self.origin, self.process, exit_reason=self.errors)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM to the process group, then SIGKILL to whatever of it is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def errors(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


@pytest.fixture
def launch(tmp_path):
    servers: list[Server] = []

    def start(*options: str, stderr: Any = None) -> Server:
        server = Server(options, tmp_path / f"server-{len(servers)}.log", stderr).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- one API's create and list -------------------------------------------------------------

@dataclass(frozen=True)
class Api:
    name: str
    #: (session, server, label, timeout) -> (response, id of what was created or None)
    create: Callable[..., tuple[requests.Response, Any]]
    #: (server) -> [(id, label)] of everything listed, in listing order
    listing: Callable[[Server], list[tuple[Any, str]]]
    headers: dict[str, str] = field(default_factory=dict)
    log_in: bool = False


def _get(server: Server, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = requests.get(server.url(path), params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, (path, params, response.status_code, response.text[:500])
    return response.json()


def uplift_create(session, server, label, timeout=TIMEOUT):
    response = session.post(server.url("/v1/captures"), timeout=timeout, json={
        "athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "session_group_id": "11111111-2222-3333-4444-555555555555",
        "file_name": f"{label}.mov",
        "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
        "movement_attributes": {"activity": "golf", "movement": "full_swing", "label": label}})
    return response, response.json()["session_id"] if response.status_code == 200 else None


def uplift_listing(server):
    listed, offset, total = [], 0, None
    while total is None or offset < total:
        page = _get(server, "/v1/captures", UPLIFT, limit=500, offset=offset)
        total = page["total_count"] if total is None else total
        assert page["total_count"] == total, "total_count changed between pages"
        if not page["captures"]:
            break
        listed += [(c["session_id"], c["label"])
                   for c in page["captures"]]
        offset += len(page["captures"])
    assert len(listed) == total, f"total_count says {total}, the pages hold {len(listed)}"
    return listed


def biometrics_create(session, server, label, timeout=TIMEOUT):
    response = session.post(server.url("/api/v1/files"), timeout=timeout, json={
        "description": label, "type": 1, "upload_content": "eHl6",
        "upload_filename": f"{label}.png"})
    return response, response.json()["id"] if response.status_code == 200 else None


def biometrics_listing(server):
    listed, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor is not None:
            params["offset"] = cursor
        page = _get(server, "/api/v1/files", BIOMETRICS, **params)
        if not page["results"]:
            assert page["next_id"] is None, page
            return listed
        assert page["next_id"] == page["results"][-1]["id"], page["next_id"]
        listed += [(record["id"], record["description"]) for record in page["results"]]
        cursor = page["next_id"]
        assert len(listed) < 100_000, "keyset pages never end"


def mycrt_create(session, server, label, timeout=TIMEOUT):
    response = session.post(server.url("/api/captures"), timeout=timeout, json={
        "name": label, "start": "2018-05-19 12:00:00", "end": None, "envId": 1,
        "scheduledStart": None})
    return response, response.json()["id"] if response.status_code == 200 else None


def mycrt_cookies(server):
    """One login shared by every client: MyCRT keeps one session per user, so a login per
    client would end the sessions of the clients before it."""
    with requests.Session() as session:
        login = session.post(server.url("/api/users/login"), json=MYCRT_LOGIN, timeout=TIMEOUT)
        assert login.status_code == 200, login.text[:300]
        return session.cookies.copy()


def mycrt_listing(server):
    with requests.Session() as session:
        assert session.post(server.url("/api/users/login"), json=MYCRT_LOGIN,
                            timeout=TIMEOUT).status_code == 200
        response = session.get(server.url("/api/captures"), params={"envId": 1},
                               timeout=TIMEOUT)
    assert response.status_code == 200, response.text[:500]
    return [(capture["id"], capture["name"]) for capture in response.json()]


def captureproof_create(session, server, label, timeout=TIMEOUT):
    response = session.post(server.url(PROOF), json={"description": label}, timeout=timeout)
    if response.status_code != 200:
        return response, None
    mine = [c["id"] for c in response.json()["proof"]["captures"] if c["description"] == label]
    assert len(mine) == 1, f"the answer to the create of {label!r} lists it {len(mine)} times"
    return response, mine[0]


def captureproof_listing(server):
    captures = _get(server, PROOF, CAPTUREPROOF)["captures"]
    return [(capture["id"], capture["description"]) for capture in captures]


APIS = {
    "uplift": Api("uplift", uplift_create, uplift_listing, UPLIFT),
    "biometricscloud": Api("biometricscloud", biometrics_create, biometrics_listing,
                           BIOMETRICS),
    "mycrt": Api("mycrt", mycrt_create, mycrt_listing, log_in=True),
    "captureproof": Api("captureproof", captureproof_create, captureproof_listing,
                        CAPTUREPROOF),
}

#: creates per client in the default run (64 x 50 everywhere with CONCURRENCY_FULL=1)
PER_CLIENT = {"uplift": 50, "biometricscloud": 50, "mycrt": 50, "captureproof": 10}


# -- the load ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What the clients saw: every create's label, status and the id in its answer."""

    acknowledged: dict[str, Any] = field(default_factory=dict)  # label -> id
    statuses: Counter[int | str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, label: str, status: int | str, created: Any = None,
               detail: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            if created is not None:
                self.acknowledged[label] = created
            elif len(self.failures) < 10:
                self.failures.append(f"{label}: {status} {detail[:300]}")


def run_clients(api: Api, server: Server | list[Server], per_client: int, run: str,
                timeout: float = TIMEOUT) -> Outcome:
    """Client ``n`` sends to ``server``, or to ``server[n % len(server)]`` given a list."""
    outcome = Outcome()
    servers = server if isinstance(server, list) else [server]
    cookies = mycrt_cookies(servers[0]) if api.log_in else None

    def client(number: int) -> None:
        server = servers[number % len(servers)]
        with requests.Session() as session:
            session.headers.update(api.headers)
            if cookies is not None:
                session.cookies.update(cookies)
            for index in range(per_client):
                label = f"{run}-c{number}-n{index}"
                try:
                    response, created = api.create(session, server, label, timeout)
                except (requests.RequestException, ValueError, KeyError) as error:
                    outcome.record(label, type(error).__name__, detail=str(error))
                    return  # a client whose connection broke stops
                outcome.record(label, response.status_code, created, response.text)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return outcome


def assert_every_acknowledged_create_listed_once(api: Api, server: Server, before: list,
                                                 outcome: Outcome, expected: int) -> None:
    assert not [s for s in outcome.statuses if not isinstance(s, int) or s >= 500], (
        f"server errors or broken connections: {dict(outcome.statuses)}; "
        f"first: {outcome.failures}; server log: {server.errors()[-800:]}")
    assert outcome.statuses == Counter({200: expected}), (dict(outcome.statuses),
                                                          outcome.failures)
    ids = list(outcome.acknowledged.values())
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} ids were handed out twice: {duplicates[:5]}"

    listed = api.listing(server)
    counts = Counter(item_id for item_id, _ in listed)
    doubled = {item_id: n for item_id, n in counts.items() if n > 1}
    assert not doubled, f"listed more than once: {list(doubled.items())[:5]}"
    old = {item_id for item_id, _ in before}
    new = {item_id: label for item_id, label in listed if item_id not in old}
    missing = {label: i for label, i in outcome.acknowledged.items() if i not in new}
    assert not missing, (f"{len(missing)} of {len(ids)} acknowledged creates are not listed: "
                         f"{list(missing.items())[:5]}")
    unexpected = set(new) - set(ids)
    assert not unexpected, f"listed but never acknowledged: {sorted(map(str, unexpected))[:5]}"
    wrong = {label: new[i] for label, i in outcome.acknowledged.items() if new[i] != label}
    assert not wrong, f"listed under another client's label: {list(wrong.items())[:5]}"


def backend_options(backend: str, tmp_path: Path) -> tuple[str, ...]:
    if backend == "memory":
        return ()
    return ("--state", f"sqlite:{tmp_path / 'state.db'}", "--workers", "2")


@pytest.mark.parametrize("api_name", list(APIS))
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_64_concurrent_clients_lose_and_double_no_create(launch, tmp_path, backend, api_name):
    api = APIS[api_name]
    per_client = 50 if FULL else PER_CLIENT[api_name]
    server = launch("--api", api_name, *backend_options(backend, tmp_path))
    before = api.listing(server)
    started = time.monotonic()
    outcome = run_clients(api, server, per_client, uuid.uuid4().hex[:8])
    elapsed = time.monotonic() - started
    print(f"{backend}/{api_name}: {CLIENTS} x {per_client} creates in {elapsed:.1f} s "
          f"({CLIENTS * per_client / elapsed:.0f}/s)")
    assert_every_acknowledged_create_listed_once(api, server, before, outcome,
                                                 CLIENTS * per_client)
    assert requests.get(server.url("/__admin/health"), timeout=10).status_code == 200


def test_an_undrained_stderr_pipe_does_not_stall_the_server_under_load(launch):
    """A supervisor that pipes the mock's stderr and never reads it (``conftest.start_mock``
    does exactly that) must not be able to stall the mock. Under a burst of 64 clients
    waitress logs "Task queue depth is N" for each queued request while holding its task
    lock; once the 64 KiB pipe is full, that write blocks and with it every request.
    The mock should keep quiet on stderr per request (it writes one line at start)."""
    server = launch("--api", "biometricscloud", stderr=subprocess.PIPE)
    started = time.monotonic()
    outcome = run_clients(APIS["biometricscloud"], server, 100, "pipe", timeout=20)
    elapsed = time.monotonic() - started
    assert server.process is not None
    server.stop()
    assert server.process.stderr is not None
    lines = server.process.stderr.read().decode(errors="replace").splitlines()
    assert outcome.statuses == Counter({200: CLIENTS * 100}), (
        f"{dict(outcome.statuses)} after {elapsed:.0f} s; first failures: "
        f"{outcome.failures[:3]}; stderr has {len(lines)} lines, e.g. {lines[1:4]}")
    assert len(lines) < 20, f"{len(lines)} lines on stderr under load, e.g. {lines[1:4]}"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_64_clients_racing_for_one_mycrt_name_make_exactly_one_capture(launch, tmp_path,
                                                                       backend):
    """The name check and the write are one transaction: of 64 simultaneous creates with the
    same name in one environment, exactly one wins and the rest get the documented 400."""
    server = launch("--api", "mycrt", *backend_options(backend, tmp_path))
    cookies, sessions = mycrt_cookies(server), []
    for _ in range(CLIENTS):
        session = requests.Session()
        session.cookies.update(cookies)
        sessions.append(session)
    barrier = threading.Barrier(CLIENTS)

    def create(session: requests.Session) -> tuple[int, Any]:
        barrier.wait()
        response, created = mycrt_create(session, server, "racedName")
        return response.status_code, created

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(create, sessions))
    assert Counter(status for status, _ in results) == Counter({200: 1, 400: CLIENTS - 1})
    listed = [name for _, name in mycrt_listing(server) if name == "racedName"]
    assert listed == ["racedName"]
    for session in sessions:
        session.close()
