"""Two replicas on one PostgreSQL database: what a client sees through one, the other shows.

The session's throwaway PostgreSQL server (``conftest.postgresql``, ``tests/pgcluster.py``)
gets a database for this module, and two ``mockserver serve --state postgresql://...``
processes (all four APIs, ``--validate-responses``) share it. Before each test both run
(a test may have killed one) and one of them resets the state. Shown through HTTP only:

- 64 clients x 20 Biometrics Cloud creates (ids from a sequence), client ``n`` on replica
  ``n % 2``: every acknowledged create is listed exactly once on either replica, the ids
  are unique; 64 clients racing for one MyCRT name over both replicas make exactly one
  capture (the name check and the create are one transaction across replicas). MyCRT's
  bulk creates are left out: each create's name check reads every capture, which made
  64 x 20 of them take 14-45 s here;
- a fault rule, a rate limit, a clock move and the journal made on one replica govern or
  show on the other;
- an object uploaded through one replica downloads through the other, with a URL presigned
  by the first (signing keys come from the shared fixtures; the Host header is the one a
  load balancer forwards);
- ``/__admin/reset`` on one resets both, counters included;
- one replica SIGKILLed under a write load on both loses no acknowledged write and the
  other keeps serving.

Every test here runs on one xdist worker (``xdist_group``), so the session starts one
PostgreSQL server. Without Debian's ``postgresql`` these tests skip, naming the command.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from test_concurrency import (
    APIS,
    BIOMETRICS,
    CLIENTS,
    UPLIFT,
    Server,
    assert_every_acknowledged_create_listed_once,
    biometrics_create,
    biometrics_listing,
    mycrt_cookies,
    mycrt_create,
    mycrt_listing,
    run_clients,
    uplift_create,
)

pytestmark = pytest.mark.xdist_group("postgresql")

PER_CLIENT = 20
RACES = 6
TIMEOUT = 30


@pytest.fixture(scope="module")
def replicas(postgresql, tmp_path_factory):
    dsn = postgresql.create_database("replicas")
    logs = tmp_path_factory.mktemp("replicas")
    pair = [Server(("--state", dsn), logs / f"replica-{index}.log").start()
            for index in range(2)]
    yield pair
    for server in pair:
        server.stop()


@pytest.fixture
def pair(replicas):
    """Both replicas running, the shared state back at the fixtures."""
    for index, server in enumerate(replicas):
        if server.process is None or server.process.poll() is not None:
            replicas[index] = Server(server.options, server.log).start()
    admin(replicas[0], "POST", "/__admin/reset")
    return replicas


def admin(server: Server, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, server.url(path), json=body, timeout=TIMEOUT)
    assert response.status_code in (200, 201), (path, response.status_code, response.text)
    return response.json()


def clock(server: Server) -> datetime:
    return datetime.fromisoformat(admin(server, "GET", "/__admin/clock")["now"][:-1]
                                  ).replace(tzinfo=UTC)


# -- creates spread over both --------------------------------------------------------------

def test_64_clients_creating_on_both_replicas_lose_and_double_nothing(pair):
    api_name = "biometricscloud"
    api = APIS[api_name]
    before = api.listing(pair[0])
    started = time.monotonic()
    outcome = run_clients(api, list(pair), PER_CLIENT, f"replicas-{api_name}")
    print(f"postgresql x2/{api_name}: {CLIENTS} x {PER_CLIENT} creates in "
          f"{time.monotonic() - started:.1f} s")
    for server in pair:
        assert_every_acknowledged_create_listed_once(api, server, before, outcome,
                                                     CLIENTS * PER_CLIENT)


def test_64_clients_racing_for_one_mycrt_name_over_both_replicas_make_one_capture(pair):
    """The name check and the write are one transaction across replicas (the advisory
    lock); the login made on one replica is a session on both. Each replica serves one
    request at a time, so a race needs both replicas' first requests to overlap: several
    rounds make that overlap likely (without the lock, the second round made two)."""
    cookies, barrier = mycrt_cookies(pair[0]), threading.Barrier(CLIENTS)

    def create(number: int, name: str) -> int:
        with requests.Session() as session:
            session.cookies.update(cookies)
            barrier.wait()
            return mycrt_create(session, pair[number % 2], name)[0].status_code

    names = [f"racedName{round_}" for round_ in range(RACES)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        for name in names:
            statuses = Counter(pool.map(create, range(CLIENTS), [name] * CLIENTS))
            assert statuses == Counter({200: 1, 400: CLIENTS - 1}), name
    for server in pair:
        assert sorted(name for _, name in mycrt_listing(server) if name in names) == names


# -- admin state ---------------------------------------------------------------------------

def test_faults_rate_limits_clock_and_journal_made_on_one_replica_govern_the_other(pair):
    a, b = pair
    uplift = requests.Session()
    uplift.headers.update(UPLIFT)
    rule = admin(a, "POST", "/__admin/faults",
                 {"api": "uplift", "operation": "createCapture", "status": 503})
    assert uplift_create(uplift, b, "faulted")[0].status_code == 503
    assert [fault["id"] for fault in admin(b, "GET", "/__admin/faults")["faults"]] == [rule["id"]]
    admin(b, "DELETE", "/__admin/faults")
    assert uplift_create(uplift, a, "unfaulted")[0].status_code == 200

    admin(a, "POST", "/__admin/faults", {"api": "biometricscloud", "operation": "listFiles",
                                         "rate_limit": 4, "window_seconds": 60})
    answers = [requests.get(pair[n % 2].url("/api/v1/files"), headers=BIOMETRICS,
                            timeout=TIMEOUT) for n in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429] * 2
    assert int(answers[-1].headers["Retry-After"]) > 0

    real = datetime.now(UTC)
    admin(b, "POST", "/__admin/clock", {"advance_seconds": 3600})
    assert abs((clock(a) - real).total_seconds() - 3600) < 30
    assert abs((clock(a) - clock(b)).total_seconds()) < 5
    assert requests.get(a.url("/api/v1/files"), headers=BIOMETRICS,  # the window has passed
                        timeout=TIMEOUT).status_code == 200

    journal = admin(a, "GET", "/__admin/requests?limit=20")["requests"]
    assert ("/v1/captures", 503) in {(entry["path"], entry["status"]) for entry in journal}
    assert [entry["status"] for entry in journal if entry["operation"] == "listFiles"] == [
        200, 429, 429, 200, 200, 200, 200]


def test_an_object_uploaded_through_one_replica_downloads_through_the_other(pair):
    """Behind a load balancer both replicas see the client's Host header, so a URL
    presigned by one verifies on the other."""
    a, b = pair
    content = os.urandom(2048)
    created = requests.post(a.url("/api/v1/files"), headers=BIOMETRICS, timeout=TIMEOUT, json={
        "description": "replicated", "type": 1, "upload_filename": "scan.png",
        "upload_content": "data:image/png;base64," + base64.b64encode(content).decode()})
    assert created.status_code == 200, created.text
    file_url = created.json()["file_url"]
    assert file_url.startswith(a.origin)
    through_b = requests.get(b.origin + file_url[len(a.origin):], timeout=TIMEOUT,
                             headers={"Host": urlsplit(a.origin).netloc})
    assert through_b.status_code == 200, through_b.text
    assert through_b.content == content

    reservation = requests.post(b.url("/v1/captures"), headers=UPLIFT, timeout=TIMEOUT, json={
        "athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "session_group_id": "11111111-2222-3333-4444-555555555555", "file_name": "swing.mov",
        "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
        "movement_attributes": {"activity": "golf", "movement": "full_swing"}}).json()
    upload_url = reservation["upload_url"].replace(b.origin, a.origin)
    video = ("swing.mov", b"\0\0\0\x14ftypqt  ", "video/quicktime")
    uploaded = requests.post(upload_url, data=reservation["upload_fields"], timeout=TIMEOUT,
                             files={"file": video})
    assert uploaded.status_code == 204, uploaded.text
    capture_url = f"/v1/captures/{reservation['session_id']}"

    def status(server: Server) -> str:
        return str(requests.get(server.url(capture_url), headers=UPLIFT,
                                timeout=TIMEOUT).json()["status"])

    assert status(b) == status(a) == "processing"
    admin(a, "POST", "/__admin/clock", {"advance_seconds": 61})
    assert status(b) == "completed"


def test_reset_on_one_replica_resets_both(pair):
    a, b = pair
    fixtures = biometrics_listing(b)
    session = requests.Session()
    session.headers.update(BIOMETRICS)
    first, first_id = biometrics_create(session, b, "before reset")
    assert first.status_code == 200
    admin(b, "POST", "/__admin/faults", {"api": "uplift", "latency_ms": 1})
    admin(b, "POST", "/__admin/clock", {"advance_seconds": 86400})

    admin(a, "POST", "/__admin/reset")
    assert biometrics_listing(b) == fixtures
    assert admin(b, "GET", "/__admin/faults")["faults"] == []
    assert abs((clock(b) - datetime.now(UTC)).total_seconds()) < 30
    journal = admin(b, "GET", "/__admin/requests")["requests"]
    assert journal and not [entry for entry in journal if entry["method"] == "POST"]
    again, again_id = biometrics_create(session, a, "after reset")
    assert again.status_code == 200
    assert again_id == first_id, "the id counter did not start again"


# -- a replica killed under load -----------------------------------------------------------

@dataclass
class Writes:
    acknowledged: dict[str, int] = field(default_factory=dict)  # label -> id
    interrupted: set[str] = field(default_factory=set)  # sent, never answered
    errors: list[str] = field(default_factory=list)  # answers other than 200
    by_replica: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def write_until_stopped(server: Server, replica: int, writes: Writes, prefix: str) -> None:
    with requests.Session() as session:
        session.headers.update(BIOMETRICS)
        for index in range(100_000):
            if writes.stop.is_set():
                return
            label = f"{prefix}-{index}"
            try:
                response, created = biometrics_create(session, server, label, TIMEOUT)
            except requests.RequestException:
                with writes.lock:
                    writes.interrupted.add(label)
                return
            with writes.lock:
                if response.status_code == 200:
                    writes.acknowledged[label] = created
                    writes.by_replica[replica] += 1
                else:
                    writes.errors.append(f"{label}: {response.status_code} {response.text[:200]}")


def wait_for(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_sigkilled_replica_loses_no_acknowledged_write_and_the_other_keeps_serving(pair):
    a, b = pair
    before = {item_id for item_id, _ in biometrics_listing(b)}
    writes = Writes()
    threads = [threading.Thread(target=write_until_stopped,
                                args=(pair[n % 2], n % 2, writes, f"w{n}")) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: min(writes.by_replica[0], writes.by_replica[1]) >= 100
                 or writes.errors)
        assert a.process is not None
        os.killpg(a.process.pid, signal.SIGKILL)  # its writers are still sending
        a.process.wait(timeout=10)
        after_kill = writes.by_replica[1]
        wait_for(lambda: writes.by_replica[1] >= after_kill + 100 or writes.errors)
    finally:
        writes.stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not writes.errors, writes.errors[:5]
    assert writes.by_replica[1] >= after_kill + 100, "the surviving replica stopped serving"
    assert writes.interrupted, "no request was in flight on the killed replica"
    assert all(label.startswith(("w0-", "w2-", "w4-", "w6-")) for label in writes.interrupted)

    listed = [(item_id, label) for item_id, label in biometrics_listing(b)
              if item_id not in before]
    assert not [i for i, n in Counter(i for i, _ in listed).items() if n > 1], "listed twice"
    by_label = {label: item_id for item_id, label in listed}
    lost = {label: i for label, i in writes.acknowledged.items() if by_label.get(label) != i}
    assert not lost, f"{len(lost)} acknowledged creates are missing: {list(lost.items())[:5]}"
    unexpected = set(by_label) - set(writes.acknowledged) - writes.interrupted
    assert not unexpected, f"listed but never sent: {sorted(unexpected)[:5]}"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(a.process.pid, signal.SIGKILL)
