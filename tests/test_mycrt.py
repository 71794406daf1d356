"""MyCRT through HTTP against the real ``mockserver serve --api mycrt --validate-responses``.

Every test starts from a reset (fixtures reseeded, clock back to real time) and ends by
checking that no response broke specs/mycrt.yaml. Fixture ids and accounts are those of
fixtures/default.yaml; see its ``mycrt:`` section.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import vendor_specs
from conformance.apis.mycrt import METRIC_SERIES  # the spec's type -> (label, unit)
from mockserver.apis import load_vendor
from mockserver.clock import isoformat, parse_datetime
from mockserver.fixtures import FixturesError, default_fixtures_text, load_fixtures

BASE = "/api"
COOKIE = "MyCRTAuthToken"
SAM = {"email": "sam.lee@example.com", "password": "orders-db-replay-42"}

NOT_LOGGED_IN = "You must be logged in"
LOGIN_REQUIRED = "login required"
NOT_MEMBER = "Unauthorized"
NOT_OWNER_OR_ADMIN = "Only the capture's owner or an environment admin can do this"
ENVIRONMENT_NOT_FOUND = "Environment does not exist"
CAPTURE_ENVIRONMENT_NOT_FOUND = "Capture's environment not found"
CAPTURE_NOT_FOUND = "Capture not found"
DUPLICATE_NAME = "Capture with the same name already exists in this environment"
DURATION_TOO_SHORT = "Duration must be at least 60 seconds"
SCHEDULE_WITHOUT_START = "Cannot schedule without a schedule start time"
ALREADY_STOPPED = "This capture has already been stopped"
CAPTURE_FAILED = "This capture failed and is no longer running"
NOT_STARTED_YET = "Cannot stop a capture until it has started completely. Try again soon."

# fixture captures, by status (fixtures/default.yaml)
DONE_ID, SCHEDULED_ID, FAILED_ID, RUNNING_ID = 1, 2, 3, 4
STARTED_ID, STARTING_ID, STOPPING_ID, SAMS_RUNNING_ID, SECONDARY_RUNNING_ID = 5, 6, 7, 8, 9
HIGHEST_FIXTURE_ID = 10


DOCUMENT_CAPTURE = {
    "id": 1, "start": "2018-05-19T22:06:53.000Z", "scheduledStart": None,
    "scheduledEnd": None, "end": "2018-05-19T22:20:39.000Z", "status": "DONE", "envId": 1,
    "type": "CAPTURE", "reason": None,
}


@dataclass
class Client:
    """One logged-in (or anonymous) MyCRT user; sends its cookie explicitly."""

    server: Any
    token: str | None = None

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        cookies = {COOKIE: self.token} if self.token else None
        return requests.request(method, self.server.url(BASE + path), cookies=cookies,
                                timeout=30, **options)

    def get(self, path: str, **options: Any) -> requests.Response:
        return self.call("GET", path, **options)

    def post(self, path: str, **options: Any) -> requests.Response:
        return self.call("POST", path, **options)

    def put(self, path: str, **options: Any) -> requests.Response:
        return self.call("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> requests.Response:
        return self.call("DELETE", path, **options)

    def capture(self, capture_id: int) -> dict[str, Any]:
        response = self.get(f"/captures/{capture_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def status(self, capture_id: int) -> str:
        return str(self.capture(capture_id)["status"])

    def create(self, **fields: Any) -> dict[str, Any]:
        response = self.post("/captures", json={"envId": 1, **fields})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def server(mock_factory: Any) -> Iterator[Any]:
    server = mock_factory("--api", "mycrt")
    server.reset()
    yield server
    assert server.contract_violations() == []


@pytest.fixture
def accounts(server: Any) -> dict[str, Any]:
    return server.profile()["mycrt"]


def login(server: Any, email: str, password: str) -> Client:
    response = Client(server).post("/users/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return Client(server, session_token(response))


def session_token(response: requests.Response) -> str:
    match = re.match(rf"{COOKIE}=([^;]+)", response.headers["Set-Cookie"])
    assert match, response.headers["Set-Cookie"]
    return match.group(1)


@pytest.fixture
def primary(server: Any, accounts: dict[str, Any]) -> Client:
    return login(server, accounts["primary"]["email"], accounts["primary"]["password"])


@pytest.fixture
def secondary(server: Any, accounts: dict[str, Any]) -> Client:
    return login(server, accounts["secondary"]["email"], accounts["secondary"]["password"])


@pytest.fixture
def sam(server: Any) -> Client:
    return login(server, SAM["email"], SAM["password"])


def mock_now(server: Any) -> datetime:
    clock = server.session.get(server.url("/__admin/clock"), timeout=10)
    return parse_datetime(clock.json()["now"])


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": status, "message": message}


def assert_validation_error(response: requests.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["message"].startswith("Request validation failed")


# -- session ----------------------------------------------------------------------------

def test_login_me_and_logout(server: Any, accounts: dict[str, Any]) -> None:
    primary = accounts["primary"]
    response = Client(server).post("/users/login", json={"email": primary["email"],
                                                         "password": primary["password"]})
    assert response.status_code == 200
    assert response.json() == {"id": 1, "email": primary["email"], "isAdmin": True}
    assert "HttpOnly" in response.headers["Set-Cookie"]
    client = Client(server, session_token(response))

    assert client.get("/users/me").json() == response.json()
    logout = client.put("/users/logout")
    assert (logout.status_code, logout.json()) == (200, {})
    assert_error(client.get("/users/me"), 401, NOT_LOGGED_IN)
    assert_error(client.get("/captures"), 403, LOGIN_REQUIRED)
    assert_error(client.put("/users/logout"), 401, NOT_LOGGED_IN)


def test_a_new_login_ends_the_users_earlier_session(server: Any,
                                                   accounts: dict[str, Any]) -> None:
    """MyCRT keeps one session per user: the earlier cookie stops working."""
    primary = accounts["primary"]
    first = login(server, primary["email"], primary["password"])
    assert first.get("/captures", params={"envId": 1}).status_code == 200
    second = login(server, primary["email"].upper(), primary["password"])
    assert first.token != second.token
    assert_error(first.get("/users/me"), 401, NOT_LOGGED_IN)
    assert_error(first.get("/captures", params={"envId": 1}), 403, LOGIN_REQUIRED)
    assert second.get("/users/me").status_code == 200
    assert second.put("/users/logout").status_code == 200
    assert_error(second.get("/captures", params={"envId": 1}), 403, LOGIN_REQUIRED)


def test_login_refuses_wrong_credentials_and_bad_bodies(server: Any,
                                                        accounts: dict[str, Any]) -> None:
    anonymous, email = Client(server), accounts["primary"]["email"]
    assert_error(anonymous.post("/users/login", json={"email": email, "password": "wrong"}),
                 403, "Invalid Password")
    unknown = {"email": "nobody@example.com", "password": accounts["primary"]["password"]}
    assert_error(anonymous.post("/users/login", json=unknown), 403, "User not found")
    assert_validation_error(anonymous.post("/users/login", json={"email": email}))
    assert_validation_error(anonymous.post("/users/login", data="{not json",
                                           headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("token", [None, "not-a-session"])
def test_every_secured_call_needs_a_known_session(server: Any, token: str | None) -> None:
    client = Client(server, token)
    calls = [("GET", "/captures"), ("POST", "/captures"), ("GET", "/captures/1"),
             ("PUT", "/captures/1"), ("DELETE", "/captures/1"), ("GET", "/captures/1/metrics"),
             ("POST", "/captures/1/stop")]
    for method, path in calls:
        assert_error(client.call(method, path, json={"name": "xxxx", "envId": 1}), 403,
                     LOGIN_REQUIRED)
    for method, path in (("GET", "/users/me"), ("PUT", "/users/logout")):
        assert_error(client.call(method, path), 401, NOT_LOGGED_IN)


# -- the document's samples, verbatim ---------------------------------------------------

def test_document_create_sample_verbatim(primary: Client) -> None:
    body = ('{\n "name" : "myCapture",\n "start" : "2018-05-19 12:00:00",\n "end" : null,\n'
            ' "envId" : 1,\n "scheduledStart": null\n}')
    response = primary.post("/captures", data=body,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["id"] > HIGHEST_FIXTURE_ID
    assert {**created, "id": 1} == {
        "id": 1, "name": "myCapture", "start": "2018-05-19 12:00:00", "scheduledStart": None,
        "scheduledEnd": None, "end": None, "status": "STARTED", "envId": 1, "type": "CAPTURE",
        "reason": None,
    }


def test_document_get_list_edit_and_delete_samples(primary: Client) -> None:
    assert primary.capture(1) == {**DOCUMENT_CAPTURE, "name": "firstCapture"}
    listed = primary.get("/captures")
    assert listed.status_code == 200
    assert {**DOCUMENT_CAPTURE, "name": "firstCapture"} in listed.json()

    edited = primary.put("/captures/1", data='{\n "name" : "newName"\n}',
                         headers={"Content-Type": "application/json"})
    assert (edited.status_code, edited.content) == (200, b"")
    assert primary.capture(1) == {**DOCUMENT_CAPTURE, "name": "newName"}

    deleted = primary.delete("/captures/1")
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert_error(primary.get("/captures/1"), 404, CAPTURE_ENVIRONMENT_NOT_FOUND)
    assert all(capture["id"] != 1 for capture in primary.get("/captures").json())
    assert_error(primary.delete("/captures/1"), 404, CAPTURE_NOT_FOUND)


def test_spec_create_examples_get_their_example_responses(primary: Client) -> None:
    create = vendor_specs.load_spec("mycrt")["paths"]["/captures"]["post"]
    requests_ = create["requestBody"]["content"]["application/json"]["examples"]
    responses = create["responses"]["200"]["content"]["application/json"]["examples"]
    for request_name, response_name in (("documentSample", "created"),
                                        ("scheduled", "scheduled")):
        response = primary.post("/captures", json=requests_[request_name]["value"])
        assert response.status_code == 200, response.text
        assert {**response.json(), "id": 0} == {**responses[response_name]["value"], "id": 0}


# -- create -----------------------------------------------------------------------------

def test_create_business_rules(primary: Client) -> None:
    def create(**fields: Any) -> requests.Response:
        return primary.post("/captures", json={"name": "ruleCapture", "envId": 1, **fields})

    assert_error(create(duration=59), 400, DURATION_TOO_SHORT)
    assert_error(create(duration=-1), 400, DURATION_TOO_SHORT)
    assert_error(create(status="SCHEDULED"), 400, SCHEDULE_WITHOUT_START)
    assert_error(create(status="SCHEDULED", scheduledStart=None), 400, SCHEDULE_WITHOUT_START)
    assert_error(create(status="SCHEDULED", scheduledStart="tomorrow at noon"), 400,
                 SCHEDULE_WITHOUT_START)
    assert_error(create(envId=999), 404, ENVIRONMENT_NOT_FOUND)
    assert_error(create(envId=2), 401, NOT_MEMBER)
    assert_error(create(name="firstCapture"), 400, DUPLICATE_NAME)
    assert_error(create(duration=10**15), 400,
                 "The schedule ends beyond the latest time the service can represent")
    assert_error(create(status="SCHEDULED", scheduledStart="9999-12-31T23:59:00Z",
                        duration=3600), 400,
                 "The schedule ends beyond the latest time the service can represent")
    assert create(duration=60).json()["scheduledEnd"] is not None


def test_create_refuses_requests_that_break_the_contract(primary: Client) -> None:
    for body in ({"name": "x", "envId": "x"}, {"envId": 1}, {"name": "", "envId": 1},
                 {"name": "x", "envId": 1, "status": "RUNNING"}, ["name"]):
        assert_validation_error(primary.post("/captures", json=body))
    assert_validation_error(primary.post("/captures", data="{", headers={
        "Content-Type": "application/json"}))


def test_create_same_name_in_another_environment_is_allowed(secondary: Client) -> None:
    assert secondary.create(name="firstCapture", envId=2)["envId"] == 2


def test_create_with_status_starting_starts_now(primary: Client) -> None:
    assert primary.create(name="eager", status="STARTING")["status"] == "STARTED"


def test_capture_ids_come_from_a_counter_above_the_fixture_ids(server: Any,
                                                               primary: Client) -> None:
    first, second = primary.create(name="first"), primary.create(name="second")
    assert (first["id"], second["id"]) == (HIGHEST_FIXTURE_ID + 1, HIGHEST_FIXTURE_ID + 2)
    refused = primary.post("/captures", json={"name": "huge", "envId": 1, "duration": 1e15})
    assert refused.status_code == 400
    assert primary.create(name="third")["id"] == HIGHEST_FIXTURE_ID + 3
    server.reset()
    again = login(server, "admin@example.com", "correct-horse-battery-staple")
    assert again.create(name="first")["id"] == HIGHEST_FIXTURE_ID + 1


# -- lifecycle --------------------------------------------------------------------------

def test_immediate_capture_starts_runs_stops_and_is_done(server: Any, primary: Client) -> None:
    capture = primary.create(name="lifecycle")
    assert (capture["status"], capture["end"]) == ("STARTED", None)
    assert capture["start"] is not None
    server.advance(2)
    assert primary.status(capture["id"]) == "STARTING"
    server.advance(3)
    assert primary.status(capture["id"]) == "RUNNING"

    stop_moment = mock_now(server)
    stopped = primary.post(f"/captures/{capture['id']}/stop")
    assert (stopped.status_code, stopped.content) == (200, b"")
    stopping = primary.capture(capture["id"])
    assert (stopping["status"], stopping["end"]) == ("STOPPING", None)
    server.advance(3)
    done = primary.capture(capture["id"])
    assert done["status"] == "DONE"
    assert abs(parse_datetime(done["end"]) - stop_moment) < timedelta(seconds=2)


def test_capture_with_duration_stops_on_schedule(server: Any, primary: Client) -> None:
    now = mock_now(server)
    capture = primary.create(name="timed", duration=120)
    assert capture["scheduledStart"] is None
    scheduled_end = parse_datetime(capture["scheduledEnd"])
    assert abs(scheduled_end - (now + timedelta(seconds=120))) < timedelta(seconds=2)
    server.advance(60)
    assert primary.status(capture["id"]) == "RUNNING"
    server.advance(60.1)
    assert primary.status(capture["id"]) == "STOPPING"
    server.advance(3)
    assert primary.capture(capture["id"])["end"] == capture["scheduledEnd"]


def test_scheduled_capture_waits_starts_and_ends_on_schedule(server: Any,
                                                             primary: Client) -> None:
    scheduled_start = isoformat(mock_now(server) + timedelta(hours=1))
    capture = primary.create(name="nightly", status="SCHEDULED",
                             scheduledStart=scheduled_start, duration=3600)
    expected_end = isoformat(parse_datetime(scheduled_start) + timedelta(hours=1))
    assert capture["status"] == "SCHEDULED"
    assert (capture["start"], capture["end"]) == (None, None)
    assert (capture["scheduledStart"], capture["scheduledEnd"]) == (scheduled_start, expected_end)

    server.advance(3590)
    assert primary.status(capture["id"]) == "SCHEDULED"
    assert_error(primary.post(f"/captures/{capture['id']}/stop"), 409, NOT_STARTED_YET)
    server.advance(10.1)
    assert primary.status(capture["id"]) == "STARTED"
    server.advance(5)
    running = primary.capture(capture["id"])
    assert (running["status"], running["start"]) == ("RUNNING", scheduled_start)
    server.advance(3595)
    assert primary.status(capture["id"]) == "STOPPING"
    server.advance(3)
    done = primary.capture(capture["id"])
    assert (done["status"], done["end"]) == ("DONE", expected_end)


def test_scheduled_capture_with_a_past_start_starts_at_once(primary: Client) -> None:
    capture = primary.create(name="late", status="SCHEDULED",
                             scheduledStart="2018-05-20T02:00:00.000Z")
    assert capture["status"] == "STARTED"


def test_stopping_a_capture_before_its_scheduled_end_wins(server: Any, primary: Client) -> None:
    capture = primary.create(name="cutShort", duration=600)
    server.advance(10)
    assert primary.post(f"/captures/{capture['id']}/stop").status_code == 200
    server.advance(600)
    done = primary.capture(capture["id"])
    assert done["status"] == "DONE"
    assert parse_datetime(done["end"]) < parse_datetime(capture["scheduledEnd"])


@pytest.mark.parametrize(("capture_id", "message"), [
    (SCHEDULED_ID, NOT_STARTED_YET), (STARTED_ID, NOT_STARTED_YET),
    (STARTING_ID, NOT_STARTED_YET), (STOPPING_ID, ALREADY_STOPPED), (DONE_ID, ALREADY_STOPPED),
    (FAILED_ID, CAPTURE_FAILED),
])
def test_stop_conflicts_in_each_status(primary: Client, capture_id: int, message: str) -> None:
    assert_error(primary.post(f"/captures/{capture_id}/stop"), 409, message)


def test_stop_a_running_fixture_then_again(primary: Client) -> None:
    stopped = primary.post(f"/captures/{RUNNING_ID}/stop")
    assert (stopped.status_code, stopped.content) == (200, b"")
    assert primary.status(RUNNING_ID) == "STOPPING"
    assert_error(primary.post(f"/captures/{RUNNING_ID}/stop"), 409, ALREADY_STOPPED)
    assert_error(primary.post("/captures/999/stop"), 404, CAPTURE_NOT_FOUND)


def test_fixture_captures_keep_their_status_then_carry_on(server: Any, primary: Client) -> None:
    stated = {DONE_ID: "DONE", SCHEDULED_ID: "SCHEDULED", FAILED_ID: "FAILED",
              RUNNING_ID: "RUNNING", STARTED_ID: "STARTED", STARTING_ID: "STARTING",
              STOPPING_ID: "STOPPING"}
    assert {capture_id: primary.status(capture_id) for capture_id in stated} == stated
    assert primary.capture(FAILED_ID)["reason"] == "Failed to send the capture stop signal"
    server.advance(60.5)
    assert [primary.status(i) for i in (STARTED_ID, STARTING_ID, STOPPING_ID)] == [
        "STARTING", "RUNNING", "DONE"]
    assert primary.capture(STOPPING_ID)["end"] is not None
    server.advance(3)
    assert primary.status(STARTED_ID) == "RUNNING"
    server.advance(86400 * 30)
    assert [primary.status(i) for i in (RUNNING_ID, SCHEDULED_ID, DONE_ID, FAILED_ID)] == [
        "RUNNING", "SCHEDULED", "DONE", "FAILED"]


# -- edit, delete, list -----------------------------------------------------------------

def test_edit_renames_and_refuses_duplicates(primary: Client) -> None:
    assert_error(primary.put(f"/captures/{RUNNING_ID}", json={"name": "firstCapture"}), 400,
                 DUPLICATE_NAME)
    same = primary.put(f"/captures/{RUNNING_ID}", json={"name": "myRunningCapture"})
    assert (same.status_code, same.content) == (200, b"")
    renamed = primary.put(f"/captures/{RUNNING_ID}", json={"name": "renamed", "ignored": 1})
    assert (renamed.status_code, renamed.content) == (200, b"")
    assert primary.status(RUNNING_ID) == "RUNNING"
    assert primary.get("/captures", params={"name": "renamed"}).json()[0]["id"] == RUNNING_ID
    assert_error(primary.put("/captures/999", json={"name": "xxxx"}), 404, CAPTURE_NOT_FOUND)
    assert_validation_error(primary.put(f"/captures/{RUNNING_ID}", json={}))


def test_delete_removes_a_capture_in_any_status(primary: Client) -> None:
    for capture_id in (RUNNING_ID, SCHEDULED_ID, FAILED_ID):
        assert primary.delete(f"/captures/{capture_id}").status_code == 200
        assert_error(primary.get(f"/captures/{capture_id}/metrics"), 404,
                     CAPTURE_ENVIRONMENT_NOT_FOUND)
    remaining = {capture["id"] for capture in primary.get("/captures").json()}
    assert remaining.isdisjoint({RUNNING_ID, SCHEDULED_ID, FAILED_ID})


def test_list_filters_by_environment_and_name(primary: Client, secondary: Client) -> None:
    everything = primary.get("/captures").json()
    assert [capture["id"] for capture in everything] == list(range(1, 9))
    assert primary.get("/captures", params={"envId": 1}).json() == everything
    assert [c["id"] for c in primary.get("/captures", params={"name": "brokenCapture"}).json()] \
        == [FAILED_ID]
    both = primary.get("/captures", params={"envId": 1, "name": "samsCapture"}).json()
    assert [capture["id"] for capture in both] == [SAMS_RUNNING_ID]
    assert primary.get("/captures", params={"name": "nothing"}).json() == []
    assert_error(primary.get("/captures", params={"envId": 999}), 404, ENVIRONMENT_NOT_FOUND)
    assert_error(primary.get("/captures", params={"envId": 2}), 401, NOT_MEMBER)
    assert_validation_error(primary.get("/captures", params={"envId": "abc"}))
    assert {c["envId"] for c in secondary.get("/captures").json()} == {2}


def test_bad_path_parameters_get_clean_errors(primary: Client) -> None:
    for path in ("/captures/abc", "/captures/0", "/captures/abc/metrics"):
        assert_validation_error(primary.get(path))
    assert_validation_error(primary.get("/captures/1/metrics", params={"type": "DISK"}))
    assert_error(primary.get("/captures/999"), 404, CAPTURE_ENVIRONMENT_NOT_FOUND)


# -- who may do what --------------------------------------------------------------------

def test_secondary_cannot_see_or_touch_primary_captures(secondary: Client) -> None:
    assert_error(secondary.get(f"/captures/{DONE_ID}"), 401, NOT_MEMBER)
    assert_error(secondary.get(f"/captures/{DONE_ID}/metrics"), 401, NOT_MEMBER)
    assert_error(secondary.post(f"/captures/{RUNNING_ID}/stop"), 401, NOT_MEMBER)
    assert_error(secondary.put(f"/captures/{RUNNING_ID}", json={"name": "mine"}), 401,
                 NOT_MEMBER)
    assert_error(secondary.delete(f"/captures/{RUNNING_ID}"), 401, NOT_MEMBER)
    assert_error(secondary.post("/captures", json={"name": "intruder", "envId": 1}), 401,
                 NOT_MEMBER)
    assert all(capture["envId"] == 2 for capture in secondary.get("/captures").json())


def test_members_need_to_own_the_capture_or_administer_the_environment(
        primary: Client, sam: Client) -> None:
    assert sam.capture(RUNNING_ID)["status"] == "RUNNING"
    assert_error(sam.post(f"/captures/{RUNNING_ID}/stop"), 403, NOT_OWNER_OR_ADMIN)
    assert_error(sam.put(f"/captures/{RUNNING_ID}", json={"name": "mine"}), 403,
                 NOT_OWNER_OR_ADMIN)
    assert_error(sam.delete(f"/captures/{RUNNING_ID}"), 403, NOT_OWNER_OR_ADMIN)
    assert sam.post(f"/captures/{SAMS_RUNNING_ID}/stop").status_code == 200
    assert primary.put(f"/captures/{SAMS_RUNNING_ID}", json={"name": "adminEdit"}).ok
    own = sam.create(name="samsOwn")
    assert sam.delete(f"/captures/{own['id']}").status_code == 200
    assert_error(primary.get(f"/captures/{SECONDARY_RUNNING_ID}"), 401, NOT_MEMBER)


def test_profile_accounts(server: Any, accounts: dict[str, Any], primary: Client,
                          secondary: Client) -> None:
    assert primary.get("/users/me").json()["isAdmin"] is True
    assert primary.get("/captures", params={"envId": accounts["primary"]["env_id"]}).ok
    assert secondary.get("/captures", params={"envId": accounts["secondary"]["env_id"]}).ok
    assert_error(secondary.get("/captures", params={"envId": accounts["primary"]["env_id"]}),
                 401, NOT_MEMBER)


# -- metrics ----------------------------------------------------------------------------

def assert_plausible(series: dict[str, Any]) -> None:
    label, unit = METRIC_SERIES[series["type"]]
    assert (series["label"], series["displayName"]) == (label, series["type"])
    for point in series["dataPoints"]:
        value = point["Maximum"]
        assert point["Unit"] == unit
        assert parse_datetime(point["Timestamp"]).second == 0
        if unit == "Percent":
            assert 0 <= value <= 100
        elif unit == "Bytes":
            assert 10**8 <= value <= 2 * 10**11
        else:
            assert 0 <= value < 10**9


def test_metrics_cover_the_capture_for_every_type_and_are_deterministic(
        primary: Client) -> None:
    response = primary.get(f"/captures/{DONE_ID}/metrics")
    assert response.status_code == 200
    series = response.json()
    assert [one["type"] for one in series] == list(METRIC_SERIES)
    for one in series:
        assert_plausible(one)
        stamps = [point["Timestamp"] for point in one["dataPoints"]]
        assert (stamps[0], stamps[-1], len(stamps)) == (
            "2018-05-19T22:06:00.000Z", "2018-05-19T22:20:00.000Z", 15)
        assert len({point["Maximum"] for point in one["dataPoints"]}) > 1
    assert primary.get(f"/captures/{DONE_ID}/metrics").json() == series
    for one in series:
        filtered = primary.get(f"/captures/{DONE_ID}/metrics", params={"type": one["type"]})
        assert filtered.json() == [one]


def test_metrics_of_a_capture_that_never_ran_are_empty(primary: Client) -> None:
    series = primary.get(f"/captures/{SCHEDULED_ID}/metrics").json()
    assert len(series) == 7
    assert all(one["dataPoints"] == [] for one in series)


def test_metrics_follow_a_running_capture_up_to_the_cap(server: Any, primary: Client) -> None:
    capture = primary.create(name="longRunner")
    path, cpu = f"/captures/{capture['id']}/metrics", {"type": "CPU UTILIZATION"}
    early = primary.get(path, params=cpu).json()[0]["dataPoints"]
    assert 1 <= len(early) <= 2
    server.advance(3 * 60)
    later = primary.get(path, params=cpu).json()[0]["dataPoints"]
    assert later[: len(early)] == early
    assert 4 <= len(later) <= 5
    server.advance(2 * 86400)
    capped = primary.get(path, params=cpu).json()[0]
    assert len(capped["dataPoints"]) == 1440
    assert_plausible(capped)
    newest = parse_datetime(capped["dataPoints"][-1]["Timestamp"])
    assert mock_now(server) - newest < timedelta(minutes=2)


def test_metrics_stop_at_the_end_of_a_stopped_capture(server: Any, primary: Client) -> None:
    capture = primary.create(name="shortRun")
    server.advance(5 * 60)
    assert primary.post(f"/captures/{capture['id']}/stop").status_code == 200
    path = f"/captures/{capture['id']}/metrics"
    before = primary.get(path).json()
    server.advance(3600)
    assert primary.get(path).json() == before
    assert 6 <= len(before[0]["dataPoints"]) <= 7


# -- fixtures ---------------------------------------------------------------------------

def default_fixtures() -> dict[str, Any]:
    return yaml.safe_load(default_fixtures_text())


def load_with(tmp_path: Path, change: Any) -> None:
    fixtures = default_fixtures()
    change(fixtures["mycrt"])
    path = tmp_path / "fixtures.yaml"
    path.write_text(yaml.safe_dump(fixtures))
    load_fixtures(str(path), {"mycrt": load_vendor("mycrt")})


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda s: s["environments"][0]["members"].append(99), "member 99, who is no user"),
    (lambda s: s["environments"][0]["admins"].append(2), "admin 2, who is not one of"),
    (lambda s: s["captures"][0].update(ownerId=2), "owner 2 is not a member"),
    (lambda s: s["captures"][0].update(envId=42), "environment 42, which does not exist"),
    (lambda s: s["captures"][1].update(name="firstCapture"), "already has a capture named"),
    (lambda s: s["captures"][1].update(id=1), "two captures have the id 1"),
    (lambda s: s["captures"][1].update(scheduledStart="2001-01-01T00:00:00Z"),
     "scheduledStart in the future"),
    (lambda s: s["captures"][0].update(end="2018-05-19T20:00:00Z"), "is before start"),
    (lambda s: s["captures"][0].update(start="yesterday"), "is not an ISO 8601 date-time"),
    (lambda s: s["captures"][2].pop("reason"), "'reason' is a required property"),
    (lambda s: s["profile"]["secondary"].update(user=3, env_id=1), "must not be a member"),
    (lambda s: s["profile"]["primary"].update(user=3), "must be an admin"),
    (lambda s: s["users"].append({**s["users"][0], "id": 7}), "two users have the email"),
])
def test_bad_fixtures_are_refused_with_a_clear_message(tmp_path: Path, change: Any,
                                                       complaint: str) -> None:
    with pytest.raises(FixturesError, match=re.escape(complaint)):
        load_with(tmp_path, change)


def test_the_server_refuses_bad_fixtures_in_one_line(tmp_path: Path) -> None:
    fixtures = default_fixtures()
    fixtures["mycrt"]["environments"][1]["members"].append(404)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(fixtures))
    result = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--api", "mycrt",
                             "--port", "0", "--fixtures", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "environment 2 has member 404, who is no user" in result.stderr
    assert "Traceback" not in result.stderr


# -- facts from the MyCRT public service source -------------------------------------------

def test_gui_name_check_with_a_trailing_slash_redirects_then_answers_null(
        primary: Client) -> None:
    """The GUI asks ``GET /api/captures/?envId=1&name=...``; a free name answers ``null``."""
    redirect = primary.get("/captures/", params={"envId": 1, "name": "freeName"},
                           allow_redirects=False)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == f"{BASE}/captures?envId=1&name=freeName"
    followed = primary.get("/captures/", params={"envId": 1, "name": "freeName"})
    assert (followed.status_code, followed.text) == (200, "null")
    taken = primary.get("/captures/", params={"envId": 1, "name": "firstCapture"})
    assert [capture["id"] for capture in taken.json()] == [DONE_ID]


def test_trailing_slash_redirects_every_path_and_method(primary: Client) -> None:
    for method, path in (("GET", f"/captures/{DONE_ID}/"), ("POST", "/captures/"),
                         ("PUT", f"/captures/{RUNNING_ID}/"), ("GET", "/users/me/")):
        answer = primary.call(method, path, allow_redirects=False)
        assert answer.status_code == 308, (method, path)
        assert answer.headers["Location"] == BASE + path.rstrip("/")


@pytest.mark.parametrize("name", ["abc", "x" * 26, "semi;colon", "dots.not", "ünïcode"])
def test_capture_names_follow_the_service_rule(primary: Client, name: str) -> None:
    assert_validation_error(primary.post("/captures", json={"name": name, "envId": 1}))
    assert_validation_error(primary.put(f"/captures/{RUNNING_ID}", json={"name": name}))
    assert_validation_error(primary.get("/captures", params={"envId": 1, "name": name}))


def test_capture_names_may_use_every_allowed_character(primary: Client) -> None:
    for name in ("abcd", "A" * 25, "nightly 02:00_run-3"):
        assert primary.create(name=name)["name"] == name
