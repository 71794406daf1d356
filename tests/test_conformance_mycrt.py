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
    rewrite_request_json,
    set_status,
)
from conftest import (
    BEHIND_STRICT_OPTIONS,
    PLANTED_BUG_OPTIONS,
    assert_conforms,
    assert_graded,
    assert_reported,
    fresh,
    run_conformance,
    run_strict,
)

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
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path,
                              *PLANTED_BUG_OPTIONS)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert check in run.failed_checks, (check, run.failed_checks, run.output[-3000:])
    assert "curl " in run.output


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
#: (3 s), too short for a scheduled one to start and reach its end (65 s); the strict
#: variant's test (test_conformance_strict.py) runs the rest of the lifecycle in real time
SHORT_WAIT = "8"


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


def _default_status(body):
    """The status enum half enforced: an unknown status is dropped, as if none was sent."""
    if body.get("status") not in (None, "SCHEDULED", "STARTED", "STARTING"):
        body.pop("status")
    return body


def _rename_to_taken(exchange, forward) -> Answer:
    """A rename to a taken name is acknowledged (and not made)."""
    answer = forward(exchange)
    duplicate = answer.status == 400 and answer.json().get("message") == DUPLICATE_NAME
    return Answer(200, {}, b"") if duplicate else answer


#: planted bugs on different calls, so one run behind the strict variant shows them all:
#: name -> (breakage, the (check, operation) it must be reported under, or with a mutation)
BEHIND_STRICT = {
    "status enum half enforced": (
        lambda _: rewrite_request_json("POST", CAPTURES, _default_status),
        ("rejects_invalid_input", "createCapture", "body.status not in enum")),
    "broken isolation": (lambda logins: logins.acting_as("GET", CAPTURE, SECONDARY, PRIMARY),
                         ("isolation", "getCapture", "")),
    "rename to a taken name": (lambda _: Breakage("PUT", CAPTURE, _rename_to_taken),
                               ("duplicate_name", "editCapture", "")),
    "delete not final": (lambda _: Breakage("DELETE", CAPTURE, _pretend_delete),
                         ("delete_is_final", "getCapture", "")),
    "metric filter ignored": (lambda _: Breakage("GET", CAPTURE + "/metrics",
                                                 _ignore_metric_type),
                              ("metrics", "getCaptureMetrics", "")),
    "second stop accepted": (lambda _: refusal_accepted("POST", CAPTURE + "/stop", 409,
                                                        ALREADY_STOPPED, "/stop"),
                             ("lifecycle", "stopCapture", "")),
    "no auth": (lambda logins: logins.acting_as("GET", CAPTURES, None, PRIMARY),
                ("auth_required", "listCaptures", "")),
}


def test_planted_bugs_behind_the_strict_variant_are_each_reported(mock, tmp_path):
    """Issue 10: caught on a server that is not the mock too (slower, no clock, start
    null until RUNNING, ...), with the default settings but a short wait."""
    logins = Logins()
    bugs = [make(logins) for make, _ in BEHIND_STRICT.values()]
    with BrokenProxy(mock.origin, logins.breakage, *bugs) as broken:
        run = run_strict("mycrt", broken.origin, tmp_path, mock.profile(),
                         *BEHIND_STRICT_OPTIONS)
    assert_reported(run, {name: finding for name, (_, finding) in BEHIND_STRICT.items()})
