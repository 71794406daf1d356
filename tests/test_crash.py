"""SIGKILL in the middle of a write load, with SQLite state: nothing acknowledged is lost.

Each test runs ``mockserver serve --state sqlite:PATH --workers N`` (N = 1 and 2) in its own
process group (``start_new_session=True``) and, for three rounds on the same file:

1. starts the server and 8 client threads that create as fast as the server answers
   (Biometrics Cloud ``POST /api/v1/files`` or MyCRT ``POST /api/captures``: both number
   their records from a counter in the store, so a counter that falls back after a crash
   would hand out an id twice);
2. once at least 150 creates of the round are acknowledged, kills the whole process group
   with SIGKILL while the clients are still sending; a create counts as acknowledged only
   when its client received the 200, and at least one request must have been in flight at
   some kill (sent before it, never answered).

After every kill ``PRAGMA integrity_check`` on the file must say ``ok``. At the end the
server restarted on the file must serve normally, list every acknowledged create exactly
once (with the name its client sent), and give new creates ids that collide with no id it
ever handed out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import free_port, wait_until_healthy

WRITERS = 8
ROUNDS = 3
ACKNOWLEDGED_BEFORE_KILL = 150
BIOMETRICS = {"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"}
MYCRT_LOGIN = {"email": "admin@example.com", "password": "correct-horse-battery-staple"}


class Server:
    """``mockserver serve`` as its own process group, so SIGKILL reaches every worker."""

    def __init__(self, database: Path, api: str, workers: int, log: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.mycrt_cookies: requests.cookies.RequestsCookieJar | None = None  # shared login
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mockserver", "serve", "--port", str(self.port),
                 "--api", api, "--state", f"sqlite:{database}", "--workers", str(workers),
                 "--validate-responses"],
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            wait_until_healthy(self.origin, self.process,
                               exit_reason=lambda: log.read_text(errors="replace")[-2000:])
        except RuntimeError:
            self.kill()
            raise

    def url(self, path: str) -> str:
        return self.origin + path

    def kill(self) -> None:
        """SIGKILL to the process group: the prefork parent and every worker at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # no worker holds the listening socket any more
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.02)
        raise AssertionError("a worker still accepts connections after SIGKILL")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


# -- the two APIs --------------------------------------------------------------------------

@dataclass(frozen=True)
class Api:
    name: str
    session: Callable[[Server], requests.Session]
    create: Callable[[requests.Session, Server, str], requests.Response]
    listing: Callable[[Server], list[tuple[int, str]]]  # [(id, label)] in listing order


def biometrics_session(server: Server) -> requests.Session:
    session = requests.Session()
    session.headers.update(BIOMETRICS)
    return session


def biometrics_create(session, server, label):
    return session.post(server.url("/api/v1/files"), timeout=30, json={
        "description": label, "type": 2, "upload_content": "bWVkaWNhbA",
        "upload_filename": f"{label}.png"})


def biometrics_listing(server):
    listed: list[tuple[int, str]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = requests.get(server.url("/api/v1/files"), params=params, headers=BIOMETRICS,
                            timeout=30)
        assert page.status_code == 200, page.text[:500]
        results = page.json()["results"]
        if not results:
            return listed
        listed += [(record["id"], record["description"]) for record in results]
        params["offset"] = page.json()["next_id"]
        assert len(listed) < 100_000, "keyset pages never end"


_MYCRT_LOGINS = threading.Lock()


def mycrt_session(server: Server) -> requests.Session:
    """All writers share one login: MyCRT keeps one session per user, so a login per writer
    would end the others' sessions. A cookie that no longer works is replaced by a new one."""
    session = requests.Session()
    with _MYCRT_LOGINS:
        if server.mycrt_cookies is not None:
            session.cookies.update(server.mycrt_cookies)
            if session.get(server.url("/api/users/me"), timeout=30).status_code == 200:
                return session
        login = session.post(server.url("/api/users/login"), json=MYCRT_LOGIN, timeout=30)
        assert login.status_code == 200, login.text[:300]
        server.mycrt_cookies = session.cookies.copy()
    return session


def mycrt_create(session, server, label):
    return session.post(server.url("/api/captures"), timeout=30, json={
        "name": label, "start": None, "end": None, "envId": 1, "scheduledStart": None})


def mycrt_listing(server):
    response = mycrt_session(server).get(server.url("/api/captures"), params={"envId": 1},
                                         timeout=30)
    assert response.status_code == 200, response.text[:500]
    return [(capture["id"], capture["name"]) for capture in response.json()]


APIS = {
    "biometricscloud": Api("biometricscloud", biometrics_session, biometrics_create,
                           biometrics_listing),
    "mycrt": Api("mycrt", mycrt_session, mycrt_create, mycrt_listing),
}


# -- the load and the kill -----------------------------------------------------------------

@dataclass
class Load:
    acknowledged: dict[str, int] = field(default_factory=dict)  # label -> id
    server_errors: list[str] = field(default_factory=list)
    interrupted: int = 0  # requests sent before the kill and never answered
    killed_at: float = float("inf")
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def write_until_stopped(api: Api, server: Server, load: Load, prefix: str) -> None:
    try:
        session = api.session(server)
    except requests.RequestException:
        return
    except AssertionError as error:  # a refused login
        with load.lock:
            load.server_errors.append(f"{prefix}: {error}")
        return
    index = 0
    while not load.stop.is_set():
        label = f"{prefix}-{index}"
        index += 1
        sent = time.monotonic()
        try:
            response = api.create(session, server, label)
        except requests.RequestException:
            with load.lock:  # not acknowledged
                load.interrupted += sent < load.killed_at
            return
        with load.lock:
            if response.status_code == 200:
                load.acknowledged[label] = response.json()["id"]
            else:
                load.server_errors.append(f"{label}: {response.status_code} "
                                          f"{response.text[:300]}")


def kill_during_writes(api: Api, server: Server, load: Load, round_: int) -> None:
    before = len(load.acknowledged)
    threads = [threading.Thread(target=write_until_stopped,
                                args=(api, server, load, f"r{round_}w{number}"))
               for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while (len(load.acknowledged) - before < ACKNOWLEDGED_BEFORE_KILL
               and time.monotonic() < deadline and not load.server_errors):
            time.sleep(0.01)
    finally:
        load.killed_at = time.monotonic()
        server.kill()  # the writers are still sending
        load.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        load.stop.clear()
        load.killed_at = float("inf")


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("api_name", list(APIS))
def test_sigkill_during_writes_loses_no_acknowledged_write(tmp_path, api_name, workers):
    api, database, log = APIS[api_name], tmp_path / "state.db", tmp_path / "server.log"
    load = Load()
    for round_ in range(ROUNDS):
        server = Server(database, api_name, workers, log)
        kill_during_writes(api, server, load, round_)
        assert not load.server_errors, load.server_errors[:5]
        assert integrity(database) == "ok"

    server = Server(database, api_name, workers, log)
    try:
        assert len(load.acknowledged) >= ROUNDS * ACKNOWLEDGED_BEFORE_KILL
        assert load.interrupted > 0, "no request was in flight at any kill"
        listed = api.listing(server)
        counts = Counter(item_id for item_id, _ in listed)
        assert not [i for i, n in counts.items() if n > 1], "an id is listed twice"
        by_id = dict(listed)
        ids = Counter(load.acknowledged.values())
        assert not [i for i, n in ids.items() if n > 1], "one id acknowledged for two creates"
        lost = {label: i for label, i in load.acknowledged.items() if by_id.get(i) != label}
        assert not lost, (f"{len(lost)} of {len(load.acknowledged)} acknowledged creates are "
                          f"missing or changed after the crash: {list(lost.items())[:5]}")

        session = api.session(server)
        fresh = {}
        for index in range(20):
            response = api.create(session, server, f"after-{index}")
            assert response.status_code == 200, response.text[:300]
            fresh[f"after-{index}"] = response.json()["id"]
        reused = set(fresh.values()) & set(by_id)
        assert not reused, f"ids handed out again after the restart: {sorted(reused)[:5]}"
        assert len(set(fresh.values())) == len(fresh)
        relisted = Counter(item_id for item_id, _ in api.listing(server))
        assert set(relisted) == set(by_id) | set(fresh.values())
        assert max(relisted.values()) == 1
    finally:
        server.stop()
    assert integrity(database) == "ok"
