"""The conformance suite judges MyCRT: clean on the mock, and each planted bug is caught."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import pytest
import requests

from broken_proxy import (
    Answer,
    Breakage,
    BrokenProxy,
    cache_first,
    drop_field,
    hide_clock,
    refusal_accepted,
    rewrite_json,
    set_status,
)
from conftest import assert_conforms, assert_graded, fresh, run_conformance

PRIMARY = "admin@example.com"
SECONDARY = "dana.ortiz@example.org"
CAPTURES = "/api/captures"
CAPTURE = r"/api/captures/\d+"
ALREADY_STOPPED = "This capture has already been stopped"
DUPLICATE_NAME = "Capture with the same name already exists in this environment"
FORGED_CAPTURE = {"id": 987654, "name": "forged", "start": None, "scheduledStart": None,
                  "scheduledEnd": None, "end": None, "status": "STARTED", "envId": 1,
                  "type": "CAPTURE", "reason": None}


class Logins:
    """The session cookie the proxy saw issued first to each email: the suite's own
    sessions, which a breakage needs to make one account act as another."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.breakage = Breakage("POST", "/api/users/login", self._remember)

    def _remember(self, exchange, forward) -> Answer:
        answer = forward(exchange)
        token = re.search(r"MyCRTAuthToken=([^;]+)", answer.headers.get("Set-Cookie", ""))
        if answer.status == 200 and token:
            email = json.loads(exchange.body)["email"]
            self.cookies.setdefault(email, f"MyCRTAuthToken={token.group(1)}")
        return answer

    def acting_as(self, method: str, path: str, who: str | None, whom: str) -> Breakage:
        """Requests with ``who``'s cookie (None: with no cookie) go out with ``whom``'s."""
        def respond(exchange, forward) -> Answer:
            if exchange.headers.get("Cookie") == (self.cookies.get(who) if who else None):
                headers = {**exchange.headers, "Cookie": self.cookies[whom]}
                exchange = replace(exchange, headers=headers)
            return forward(exchange)

        return Breakage(method, path, respond)


@pytest.fixture
def mock(mock_factory):
    return fresh(mock_factory, "mycrt")


def test_the_mock_conforms(mock, tmp_path):
    run = run_conformance("mycrt", mock.url("/api"), tmp_path)
    assert_conforms(run, 10)
    assert run.report["not_run"] == [] and run.report["complete"], run.report["not_run"]


def test_the_proxy_keeps_no_session_of_its_own(mock):
    """A request without a cookie reaches the mock without one, even after a login."""
    account = mock.profile()["mycrt"]["primary"]
    with BrokenProxy(mock.origin) as proxy:
        login = requests.post(proxy.url("/api/users/login"), timeout=10,
                              json={"email": account["email"], "password": account["password"]})
        anonymous = requests.get(proxy.url("/api/users/me"), timeout=10)
    assert login.status_code == 200 and "MyCRTAuthToken=" in login.headers["Set-Cookie"]
    assert anonymous.status_code == 401, anonymous.text


def test_a_login_the_profile_cannot_make_is_a_setup_error(mock, tmp_path):
    profile = mock.profile()
    profile["mycrt"]["primary"]["password"] = "not-the-password"
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    run = run_conformance("mycrt", mock.url("/api"), tmp_path, "--profile", str(path))
    assert run.exit_status == 2, run.output
    assert "cannot log in as admin@example.com" in run.output


def _ids_as_text(captures):
    return [{**capture, "id": str(capture["id"])} for capture in captures]


def _forged() -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(FORGED_CAPTURE).encode())


def _accept_everything(exchange, forward) -> Answer:
    """Skipped validation: whatever the body, a capture comes back."""
    answer = forward(exchange)
    return _forged() if answer.status == 400 else answer


def _accept_duplicates(exchange, forward) -> Answer:
    answer = forward(exchange)
    duplicate = answer.status == 400 and answer.json().get("message") == DUPLICATE_NAME
    return _forged() if duplicate else answer


def _lose_write(body):
    """Acknowledged, but the id the client gets was never stored."""
    return {**body, "id": random.randrange(10**6, 10**9)}


def _current(exchange, forward, path: str) -> Answer:
    return forward(replace(exchange, method="GET", path=path, query="", body=b""))


def _pretend_delete(exchange, forward) -> Answer:
    """DELETE answered like a success, with the capture, which stays."""
    answer = _current(exchange, forward, exchange.path)
    return replace(answer, status=200) if answer.status == 200 else answer


def _ignore_metric_type(exchange, forward) -> Answer:
    return forward(replace(exchange, query=""))


def _start_at_once(exchange, forward) -> Answer:
    """The schedule is dropped: a SCHEDULED capture starts when created."""
    try:
        body = json.loads(exchange.body)
    except ValueError:
        return forward(exchange)
    if isinstance(body, dict) and body.get("status") == "SCHEDULED" and body.get(
            "scheduledStart"):
        body.pop("status")
        exchange = replace(exchange, body=json.dumps(body).encode())
    return forward(exchange)


BROKEN = {
    "wrong status": (lambda _: set_status("POST", CAPTURES, 201, when_status=200),
                     "status_code_documented"),
    "missing field": (lambda _: rewrite_json("GET", CAPTURE, drop_field("reason")),
                      "response_schema"),
    "wrong type": (lambda _: rewrite_json("GET", CAPTURES, _ids_as_text), "response_schema"),
    "skipped validation": (lambda _: Breakage("POST", CAPTURES, _accept_everything),
                           "rejects_invalid_input"),
    "no auth": (lambda logins: logins.acting_as("GET", CAPTURES, None, PRIMARY),
                "auth_required"),
    "broken isolation": (lambda logins: logins.acting_as("GET", CAPTURE, SECONDARY, PRIMARY),
                         "isolation"),
    "lost write": (lambda _: rewrite_json("POST", CAPTURES, _lose_write), "read_after_write"),
    "stale read": (lambda _: cache_first("GET", CAPTURES), "read_after_write"),
    "delete not final": (lambda _: Breakage("DELETE", CAPTURE, _pretend_delete),
                         "delete_is_final"),
    "second stop accepted": (lambda _: refusal_accepted("POST", CAPTURE + "/stop", 409,
                                                        ALREADY_STOPPED, "/stop"),
                             "lifecycle"),
    "duplicate name accepted": (lambda _: Breakage("POST", CAPTURES, _accept_duplicates),
                                "duplicate_name"),
    "metric filter ignored": (lambda _: Breakage("GET", CAPTURE + "/metrics",
                                                 _ignore_metric_type), "metrics"),
    "schedule ignored": (lambda _: Breakage("POST", CAPTURES, _start_at_once), "schedule"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_planted_bug_is_reported_under_its_check(mock, tmp_path, name):
    make_breakage, check = BROKEN[name]
    logins = Logins()
    with BrokenProxy(mock.origin, logins.breakage, make_breakage(logins)) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert check in run.failed_checks, (check, run.failed_checks, run.output[-3000:])
    assert "curl " in run.output


#: the real MyCRT service's capture-name rule (its public source), tighter than the spec's
STRICT_NAME = re.compile(r"[a-zA-Z0-9 :_\-]{4,25}")


def _strict_names(exchange, forward) -> Answer:
    """A strict but conforming server: refuses any capture name outside the real rule with
    a 400 (create may answer 400 for invalid input), and records every name it saw."""
    try:
        name = json.loads(exchange.body).get("name")
    except (ValueError, AttributeError):
        return forward(exchange)
    if isinstance(name, str) and not STRICT_NAME.fullmatch(name):
        return Answer(400, {"Content-Type": "application/json"},
                      b'{"code": 400, "message": "Request validation failed: body.name"}')
    return forward(exchange)


def test_every_name_the_suite_sends_fits_the_real_services_rule(mock, tmp_path):
    """Issue 10: its own valid data must never be refused by a strict real server."""
    strict = Breakage("POST", CAPTURES, _strict_names)
    with BrokenProxy(mock.origin, strict) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path)
    assert_conforms(run, 10)


def _refuse_every_create(exchange, forward) -> Answer:
    return Answer(400, {"Content-Type": "application/json"},
                  json.dumps({"code": 400, "message": DUPLICATE_NAME}).encode())


def test_checks_that_never_reached_their_assertion_are_not_passes(mock, tmp_path):
    """A server that never creates a capture: the checks that need one are listed as not
    run, with the cause, the run is incomplete (exit 1), and --allow-incomplete accepts it."""
    refuse = Breakage("POST", CAPTURES, _refuse_every_create)
    with BrokenProxy(mock.origin, refuse) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path)
        allowed = run_conformance("mycrt", proxy.url("/api"), tmp_path, "--allow-incomplete")
    not_run = {entry["check"]: entry for entry in run.report["not_run"]}
    assert {"duplicate_name", "delete_is_final", "metrics", "schedule"} <= set(not_run), \
        run.output[-3000:]
    assert "setup" in run.failed_checks
    reason = not_run["metrics"]["reason"]
    assert "createCapture" in reason and reason.endswith("never answered 2xx"), reason
    assert not not_run["metrics"]["exempt"] and run.report["complete"] is False
    assert "not run [metrics]: never reached its assertion: createCapture" in run.output
    assert run.exit_status == 1
    assert re.fullmatch(rf"\d+ passed, \d+ failed, {len(not_run)} skipped",
                        run.output.strip().splitlines()[-1])
    assert allowed.exit_status == (1 if allowed.report["violations"] else 0)


def _start_unset_until_running(capture):
    if capture.get("status") in ("SCHEDULED", "STARTED", "STARTING"):
        capture["start"] = None
    return capture


def _no_start_until_running(exchange, forward) -> Answer:
    """A strict but conforming server: ``start`` (nullable) stays null until the capture
    runs, unless the client sent one (the document's sample echoes it)."""
    answer = forward(exchange)
    try:
        sent = json.loads(exchange.body) if exchange.body else {}
    except ValueError:
        sent = {}
    if answer.status != 200 or (isinstance(sent, dict) and sent.get("start")):
        return answer
    body = answer.json()
    if isinstance(body, list):
        return answer.with_json([_start_unset_until_running(item) for item in body])
    return answer.with_json(_start_unset_until_running(body) if isinstance(body, dict) else body)


@pytest.mark.parametrize("method, path", [("POST", CAPTURES), ("GET", CAPTURE)])
def test_a_null_start_the_spec_allows_does_not_derail_the_model(mock, tmp_path, method, path):
    """Issue 10: the model once computed scheduledEnd from ``start: null`` as year 1 and
    stopped after its first step; every expectation now handles the nullable field."""
    with BrokenProxy(mock.origin, Breakage(method, path, _no_start_until_running)) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path)
    assert_conforms(run, 10)


class SessionKiller:
    """Ends the primary's first session (a logout the suite never sent) once the suite has
    used it for ``after`` capture reads, as a server that expires sessions would."""

    def __init__(self, logins: Logins, after: int) -> None:
        self.logins, self.after, self.seen = logins, after, 0
        self.breakage = Breakage("GET", CAPTURE, self._respond)

    def _respond(self, exchange, forward) -> Answer:
        cookie = self.logins.cookies.get(PRIMARY)
        if cookie and exchange.headers.get("Cookie") == cookie:
            self.seen += 1
            if self.seen == self.after:
                forward(replace(exchange, method="PUT", path="/api/users/logout", body=b""))
        return forward(exchange)


def test_a_credential_that_dies_mid_run_is_renewed_and_blamed_once(mock, tmp_path):
    """Issue 10: the loss is one ``session`` violation; every later request is retried with
    a fresh sign-in, so no other check reports a 401 that the run's own session caused."""
    logins = Logins()
    killer = SessionKiller(logins, after=5)
    with BrokenProxy(mock.origin, logins.breakage, killer.breakage) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path)
    assert killer.seen == killer.after, run.output[-2000:]  # the logout happened
    sessions = [v for v in run.report["violations"] if v["check"] == "session"]
    assert len(sessions) == 1 and "stopped working" in sessions[0]["seen"], run.output[-3000:]
    assert run.failed_checks == {"session"}, run.output[-3000:]


#: without the mock clock: long enough for a capture to run (5 s on the mock) and stop
#: (3 s), too short for a scheduled one to start and reach its end (65 s)
SHORT_WAIT = "8"


def test_without_the_clock_the_lifecycle_runs_in_real_time(mock, tmp_path):
    """A target with no /__admin/clock: stops and metrics wait for RUNNING and DONE in real
    time and pass; the schedule, which needs longer than --max-wait, is listed as not run
    and makes the run incomplete (it is not exempt: a longer wait would have run it)."""
    with BrokenProxy(mock.origin, hide_clock()) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path, "--max-wait", SHORT_WAIT,
                              "--max-examples", "5")
    assert run.exit_status == 1 and run.report["failed"] == 0, run.output
    not_run = {entry["check"]: entry for entry in run.report["not_run"]}
    assert set(not_run) == {"schedule"}, not_run
    assert not not_run["schedule"]["exempt"]
    assert "did not happen within --max-wait 8 s" in not_run["schedule"]["reason"]
    assert "needs the mock clock" not in run.output
    checks = run.report["checks"]
    assert checks["lifecycle"]["passed"] > 0 and checks["metrics"]["passed"] > 0


def test_a_wait_shorter_than_the_start_lists_the_lifecycle_as_not_run(mock, tmp_path):
    with BrokenProxy(mock.origin, hide_clock()) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path, "--max-wait", "1",
                              "--max-examples", "3", "--allow-incomplete")
    assert run.exit_status == 0 and run.report["failed"] == 0, run.output
    assert "not run [lifecycle]: RUNNING of capture" in run.output
    assert "did not happen within --max-wait 1 s" in run.output


def _running_again_once_done(capture):
    """A stopped capture that claims to record again once its stop completes."""
    if isinstance(capture, dict) and capture.get("status") == "DONE":
        return {**capture, "status": "RUNNING", "end": None}
    return capture


def test_a_capture_that_runs_again_after_its_stop_is_caught_in_real_time(mock, tmp_path):
    broken = rewrite_json("GET", CAPTURE, _running_again_once_done)
    with BrokenProxy(mock.origin, hide_clock(), broken) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path, "--max-wait", SHORT_WAIT,
                              "--max-examples", "3")
    assert run.exit_status == 1, run.output
    assert_graded(run)
    seen = [v["seen"] for v in run.report["violations"] if v["check"] == "lifecycle"]
    assert "'RUNNING'" in seen, (seen, run.output[-3000:])
