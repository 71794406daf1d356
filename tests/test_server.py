"""The mock's outside: the CLI, the admin API, faults, state backends (INTERFACES.md)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from conftest import free_port, start_mock, wait_until_healthy

UPLIFT_KEY = "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"
OTHER_UPLIFT_KEY = "Bearer upl_live_riverside_3a9c50d2e81f4b67"


def serve(*options: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", "serve", *options],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mock(mock_factory):
    server = mock_factory()
    server.reset()
    yield server
    requests.delete(server.url("/__admin/faults"), timeout=10)


def uplift_list(server, key: str = UPLIFT_KEY, **headers: str) -> requests.Response:
    return requests.get(server.url("/v1/captures"), timeout=10,
                        headers={"Authorization": key, **headers})


# -- start-up ------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    (["--port", "99999"], "not a port number"),
    (["--api", "nosuchapi"], "invalid choice"),
    (["--state", "redis://x"], "--state must be 'memory', 'sqlite:PATH' or 'postgresql://...'"),
    (["--state", "postgresql://mock@[::1/db"], "is not a PostgreSQL URL"),
    (["--state", f"postgresql://mock@127.0.0.1:{free_port()}/db"],
     "cannot use PostgreSQL state at mock@127.0.0.1:"),
    (["--state", "memory", "--workers", "2"], "--workers > 1 needs state the workers share"),
    (["--fixtures", "/nonexistent/fixtures.yaml"], "cannot read fixtures"),
    (["--cors-origin", "http://localhost:3000/app"], "is not an origin"),
    (["--public-url", "ftp://mock.example"], "is not an http(s) URL"),
    (["--public-url", "http://mock.example:99999"], "Port out of range"),
])
def test_bad_options_are_one_line_and_exit_2(options, message):
    result = serve("--port", str(free_port()), *options)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    ("object_store: [", "not valid YAML"),
    ("object_store: {access_key_id: a, secret_access_key: b}\nuplift: {organizations: []}\n",
     "uplift.organizations"),
    ("uplift: {}\n", "object_store"),
])
def test_a_bad_fixtures_file_is_refused_naming_the_problem(tmp_path, content, message):
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(content)
    result = serve("--port", str(free_port()), "--api", "uplift", "--fixtures", str(fixtures))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_busy_port_is_one_line_and_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = serve("--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_ready_quickly_and_healthy_with_all_four_apis():
    started = time.monotonic()
    server = start_mock(strict=False)
    try:
        elapsed = time.monotonic() - started
        health = requests.get(server.url("/__admin/health"), timeout=5).json()
        assert health == {"status": "ok",
                          "apis": ["captureproof", "mycrt", "biometricscloud", "uplift"]}
        assert elapsed < 10  # generous here; bench/ measures the real start-up time
    finally:
        server.stop()


# -- routing -------------------------------------------------------------------------------

def test_unknown_path_and_wrong_method_answer_in_the_apis_format(mock):
    unknown = requests.get(mock.url("/api/captures/1/nothing"), timeout=10)
    assert unknown.status_code == 404 and set(unknown.json()) == {"code", "message"}
    wrong = requests.patch(mock.url("/v1/captures"), timeout=10)
    assert wrong.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in wrong.headers["Allow"].split(",")}
    assert wrong.json()["error"] == "MethodNotAllowed"


def test_oversized_body_is_413_and_the_mock_keeps_serving(mock):
    response = requests.post(mock.url("/v1/captures"), data=b"x" * (11 * 1024 * 1024),
                             headers={"Authorization": UPLIFT_KEY,
                                      "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert uplift_list(mock).status_code == 200


# -- admin API -----------------------------------------------------------------------------

def test_fixtures_is_the_conformance_profile_of_every_api(mock):
    profile = requests.get(mock.url("/__admin/fixtures"), timeout=10).json()
    assert set(profile) == {"captureproof", "mycrt", "biometricscloud", "uplift"}
    assert {"token", "patient_id", "proof_id"} <= set(profile["captureproof"]["primary"])
    assert {"email", "password", "env_id"} <= set(profile["mycrt"]["secondary"])
    assert "token" in profile["biometricscloud"]["secondary"]
    assert {"api_key", "athlete_id", "session_group_id"} <= set(profile["uplift"]["primary"])


def test_clock_moves_and_reset_brings_it_back(mock):
    before = requests.get(mock.url("/__admin/clock"), timeout=10).json()["now"]
    moved = requests.post(mock.url("/__admin/clock"), json={"advance_seconds": 86400},
                          timeout=10).json()["now"]
    assert moved[:10] > before[:10]
    target = requests.post(mock.url("/__admin/clock"), json={"now": "2031-02-03T04:05:06Z"},
                           timeout=10).json()["now"]
    assert target.startswith("2031-02-03T04:05:0")
    bad = requests.post(mock.url("/__admin/clock"), json={"now": "tomorrow"}, timeout=10)
    assert bad.status_code == 400
    mock.reset()
    assert requests.get(mock.url("/__admin/clock"), timeout=10).json()["now"][:4] < "2031"


def mock_time(server) -> datetime:
    now = requests.get(server.url("/__admin/clock"), timeout=10).json()["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


@pytest.mark.parametrize(("body", "message"), [
    ('{"advance_seconds": NaN}', "finite"),
    ('{"advance_seconds": Infinity}', "finite"),
    ('{"advance_seconds": 1e300}', "range"),
    ('{"advance_seconds": 1%s}' % ("0" * 400), "range"),
    ('{"advance_seconds": -1e12}', "range"),
    ('{"now": "9999-12-31T23:59:59Z"}', "range"),
    ('{"now": "0215-01-01T00:00:00Z"}', "range"),
    ('{"now": "1969-12-31T23:59:59Z"}', "range"),
])
def test_a_clock_move_out_of_range_is_400_and_the_clock_stays(mock, body, message):
    before = mock_time(mock)
    response = requests.post(mock.url("/__admin/clock"), data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert abs((mock_time(mock) - before).total_seconds()) < 60


_JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(10**18, 10**400)
                 | st.floats() | st.text(max_size=12)
                 | st.datetimes().map(lambda moment: moment.isoformat() + "Z"))
_JSON_VALUES = st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                            max_leaves=6)
_ADMIN_FIELDS = {"/__admin/clock": ["advance_seconds", "now"],
                 "/__admin/faults": ["api", "operation", "latency_ms", "status", "rate_limit",
                                     "window_seconds"]}


@pytest.mark.parametrize("path", list(_ADMIN_FIELDS))
def test_any_json_to_the_admin_api_is_answered_or_a_clean_400(mock_factory, path):
    """NaN, Infinity, huge integers, dates past year 9999 or before year 1000, wrong types:
    the admin API answers or refuses in its own format, and never fails."""
    server = mock_factory("--api", "uplift", "--api", "mycrt")
    fields = _ADMIN_FIELDS[path]
    documented = st.sampled_from(fields).flatmap(
        lambda name: st.fixed_dictionaries({name: _JSON_VALUES}))
    mixed = st.fixed_dictionaries({}, optional={name: _JSON_VALUES for name in fields})
    anything = st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), _JSON_VALUES,
                               max_size=3) | _JSON_VALUES

    @given(body=documented | mixed | anything)
    def answered_or_refused(body: object) -> None:
        response = requests.post(server.url(path), data=json.dumps(body), timeout=10,
                                 headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 201) or (
            response.status_code == 400 and response.json()["error"] == "AdminError"
        ), (response.status_code, response.text[:300])

    try:
        answered_or_refused()
    finally:
        server.reset()
        requests.delete(server.url("/__admin/faults"), timeout=10)


def test_reset_restores_the_fixtures(mock):
    requests.post(mock.url("/v1/captures"), timeout=10, headers={"Authorization": UPLIFT_KEY},
                  json={"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                        "session_group_id": "11111111-2222-3333-4444-555555555555",
                        "file_name": "a.mov",
                        "camera_configuration": {"camera_setup_selection": "single.front_on"},
                        "movement_attributes": {"activity": "golf", "movement": "putt"}})
    assert uplift_list(mock).json()["total_count"] == 1
    mock.reset()
    assert uplift_list(mock).json()["total_count"] == 0


def test_journal_lists_requests_newest_first_with_validation_errors(mock):
    requests.get(mock.url("/v1/captures?limit=many"), headers={"Authorization": UPLIFT_KEY},
                 timeout=10)
    uplift_list(mock)
    newest, previous = mock.journal()[:2]
    assert (newest["method"], newest["path"], newest["status"]) == ("GET", "/v1/captures", 200)
    assert previous["status"] == 400 and previous["operation"] == "listCaptures"
    assert any("query.limit" in error for error in previous["validation_errors"])


@pytest.mark.parametrize("limit", ["1" + "0" * 30, str(2**63)])
def test_a_journal_limit_beyond_what_it_keeps_lists_everything(mock, limit):
    uplift_list(mock)
    response = requests.get(mock.url("/__admin/requests"), params={"limit": limit}, timeout=10)
    assert response.status_code == 200
    assert response.json()["requests"][0]["path"] == "/v1/captures"


@pytest.mark.parametrize("limit", ["\u00b2", "\u0661"])  # superscript two, Arabic-Indic one
def test_a_journal_limit_in_other_digits_is_400(mock, limit):
    response = requests.get(mock.url("/__admin/requests"), params={"limit": limit}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "AdminError"


def test_fault_error_status_answers_the_documented_body(mock):
    rule = requests.post(mock.url("/__admin/faults"), timeout=10,
                         json={"api": "uplift", "operation": "listCaptures", "status": 503})
    assert rule.status_code == 201
    response = uplift_list(mock)
    assert response.status_code == 503
    assert response.json() == {"error": "ServiceUnavailable", "message":
                               "Temporary upstream video reservation issue. Please retry shortly."}
    requests.delete(mock.url("/__admin/faults"), timeout=10)
    assert uplift_list(mock).status_code == 200


def test_fault_status_must_be_documented(mock):
    refused = requests.post(mock.url("/__admin/faults"), timeout=10,
                            json={"api": "mycrt", "operation": "getCurrentUser", "status": 503})
    assert refused.status_code == 400 and "not documented" in refused.json()["message"]
    unknown = requests.post(mock.url("/__admin/faults"), timeout=10, json={"bogus": 1})
    assert unknown.status_code == 400


def test_fault_latency_delays_matching_operations(mock):
    requests.post(mock.url("/__admin/faults"), timeout=10,
                  json={"operation": "listCaptures", "api": "uplift", "latency_ms": 300})
    started = time.monotonic()
    assert uplift_list(mock).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_delayed_request_holds_up_no_other(mock):
    """Granian hands the next request to another thread while one sleeps (serving.py)."""
    requests.post(mock.url("/__admin/faults"), timeout=10,
                  json={"operation": "listCaptures", "api": "uplift", "latency_ms": 3000})
    delayed = [threading.Thread(target=uplift_list, args=(mock,)) for _ in range(2)]
    for thread in delayed:
        thread.start()
    time.sleep(0.3)  # both are asleep in the mock by now
    other = requests.get(mock.url("/api/v1/file/1"), timeout=10,
                         headers={"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"})
    assert other.status_code == 200
    assert all(thread.is_alive() for thread in delayed), "the answer waited for the delay"
    for thread in delayed:
        thread.join()


def test_rate_limit_is_per_credential_with_retry_after(mock):
    requests.post(mock.url("/__admin/faults"), timeout=10,
                  json={"api": "uplift", "rate_limit": 2, "window_seconds": 60})
    assert [uplift_list(mock).status_code for _ in range(2)] == [200, 200]
    limited = uplift_list(mock)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"] == "TooManyRequests"
    assert uplift_list(mock, OTHER_UPLIFT_KEY).status_code == 200
    mock.advance(61)
    assert uplift_list(mock).status_code == 200


def test_prefer_code_returns_the_documented_response(mock):
    response = uplift_list(mock, Prefer="code=429")
    assert response.status_code == 429 and "Retry-After" in response.headers
    undocumented = uplift_list(mock, Prefer="code=418")
    assert undocumented.status_code == 400


def test_admin_token_guards_the_admin_api():
    guarded = start_mock("--api", "uplift", "--admin-token", "s3cret", admin_token="s3cret")
    try:
        assert requests.get(guarded.url("/__admin/health"), timeout=5).status_code == 401
        wrong = requests.get(guarded.url("/__admin/health"), timeout=5,
                             headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        assert guarded.session.get(guarded.url("/__admin/health"), timeout=5).status_code == 200
    finally:
        guarded.stop()


# -- state backends ------------------------------------------------------------------------

def test_sqlite_state_survives_a_restart(tmp_path):
    state = f"sqlite:{tmp_path / 'state.db'}"
    port = free_port()
    first = start_mock("--api", "uplift", "--state", state, port=port)
    created = requests.post(first.url("/v1/captures"), timeout=10,
                            headers={"Authorization": UPLIFT_KEY},
                            json={"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                                  "session_group_id": "11111111-2222-3333-4444-555555555555",
                                  "file_name": "kept.mov", "camera_configuration": {
                                      "camera_setup_selection": "single.front_on"},
                                  "movement_attributes": {"activity": "golf",
                                                          "movement": "putt"}}).json()
    first.stop()
    second = start_mock("--api", "uplift", "--state", state, port=port)
    try:
        kept = requests.get(second.url(f"/v1/captures/{created['session_id']}"), timeout=10,
                            headers={"Authorization": UPLIFT_KEY})
        assert kept.status_code == 200 and kept.json()["movement"] == "putt"
    finally:
        second.stop()


def test_several_workers_share_sqlite_state(tmp_path):
    server = start_mock("--api", "uplift", "--state", f"sqlite:{tmp_path / 's.db'}",
                        "--workers", "2")
    try:
        body = {"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                "session_group_id": "11111111-2222-3333-4444-555555555555",
                "file_name": "w.mov",
                "camera_configuration": {"camera_setup_selection": "single.front_on"},
                "movement_attributes": {"activity": "golf", "movement": "putt"}}
        ids = {requests.post(server.url("/v1/captures"), json=body, timeout=10,
                             headers={"Authorization": UPLIFT_KEY,
                                      "Connection": "close"}).json()["session_id"]
               for _ in range(20)}
        listed = requests.get(server.url("/v1/captures?limit=500"), timeout=10,
                              headers={"Authorization": UPLIFT_KEY}).json()
        assert len(ids) == 20 and listed["total_count"] == 20
    finally:
        server.stop()


def test_admin_refuses_clients_off_loopback_without_a_token():
    """Only loopback is reachable from tests, so the remote client is simulated in process:
    the real app, with a request that arrives from another address."""
    from mockserver.app import Settings, create_app

    client = create_app(Settings(apis=("uplift",))).test_client()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    refused = client.get("/__admin/health", environ_base=remote)
    assert refused.status_code == 403 and "loopback" in refused.json["message"]
    assert client.post("/__admin/reset", environ_base=remote).status_code == 403
    assert client.get("/__admin/health").status_code == 200  # the test client is loopback
    api = client.get("/v1/captures", environ_base=remote, headers={"Authorization": UPLIFT_KEY})
    assert api.status_code == 200  # the vendor APIs themselves answer anyone


# -- worker processes ----------------------------------------------------------------------

CAPTURE = {"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
           "session_group_id": "11111111-2222-3333-4444-555555555555", "file_name": "w.mov",
           "camera_configuration": {"camera_setup_selection": "single.front_on"},
           "movement_attributes": {"activity": "golf", "movement": "putt"}}


def _serve_two_workers(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """``serve --port 0 --workers 2`` without ``--state``, its temporary files in tmp_path,
    started from a shell whose environment holds a variable named like a header."""
    environment = {**os.environ, "TMPDIR": str(tmp_path), "HTTP_AUTHORIZATION": UPLIFT_KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--api", "uplift",
         "--workers", "2"], stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stderr is not None
    line = process.stderr.readline()  # printed once the port is bound: it names the port
    assert line.startswith("mockserver: serving uplift on http://127.0.0.1:"), line
    origin = line.split(" on ", 1)[1].strip()
    assert not origin.endswith(":0")
    wait_until_healthy(origin, process)
    return process, origin


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped counts: it holds no socket and runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _stop_all(process: subprocess.Popen[str], workers: list[int]) -> None:
    """Whatever the test found, nothing it started runs on."""
    process.kill()
    process.wait()
    for pid in workers:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_two_workers_share_a_private_state_and_never_outlive_their_parent(tmp_path):
    """``--workers 2`` needs no ``--state``: the workers share a SQLite file in a private
    temporary directory, removed when SIGTERM stops the mock. A SIGKILLed parent leaves no
    worker behind. ``--port 0`` names the real port; the shell's ``HTTP_AUTHORIZATION``
    is no request header."""
    process, origin = _serve_two_workers(tmp_path)
    workers = _children(process.pid)
    try:
        assert len(workers) == 2
        assert requests.get(f"{origin}/v1/captures", timeout=10).status_code == 401
        ids = {requests.post(f"{origin}/v1/captures", json=CAPTURE, timeout=10,
                             headers={"Authorization": UPLIFT_KEY, "Connection": "close"}
                             ).json()["session_id"] for _ in range(20)}
        listed = requests.get(f"{origin}/v1/captures?limit=500", timeout=10,
                              headers={"Authorization": UPLIFT_KEY}).json()
        assert len(ids) == 20 and listed["total_count"] == 20
        [state] = tmp_path.glob("mockserver-state-*")
        assert (state / "state.db").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert all(map(_gone, workers)) and not state.exists()
    finally:
        _stop_all(process, workers)

    process, origin = _serve_two_workers(tmp_path)
    workers = _children(process.pid)
    try:
        assert len(workers) == 2
        process.kill()
        process.wait()
        assert _wait_until(lambda: all(map(_gone, workers))), "a worker outlived its parent"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{origin}/__admin/health", timeout=5)
    finally:
        _stop_all(process, workers)
