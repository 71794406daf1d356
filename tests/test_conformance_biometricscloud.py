"""The conformance suite judges Biometrics Cloud: clean on the mock, and each planted bug is
caught under the check that names it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from broken_proxy import (
    Answer,
    Breakage,
    BrokenProxy,
    Exchange,
    cache_first,
    drop_field,
    hide_clock,
    rewrite_json,
    rewrite_request_json,
    set_status,
    swap_header,
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
    run_with_profile,
)

PRIMARY = "Bearer VSvXrNLlQCeCdTJjGUJgKw"
SECONDARY = "Bearer m15cI9rocXEjj6r325sTKw"
FILES = "/api/v1/files"
RECORD = r"/api/v1/file/[^/]+"
DOWNLOAD = r"/s3/biometricscloud-records/.+"
S3_ERROR = {"Content-Type": "application/xml"}


@pytest.fixture
def mock(mock_factory):
    return fresh(mock_factory, "biometricscloud")


#: downloads pass through unchanged: listed after the planted bug, so it never masks one
FAITHFUL_DOWNLOADS = Breakage("GET", DOWNLOAD, lambda exchange, forward: forward(exchange))


def test_the_mock_conforms(mock, tmp_path):
    run = run_conformance("biometricscloud", mock.url("/api/v1"), tmp_path)
    assert_conforms(run, 8)
    assert not run.report["not_run"], run.report["not_run"]


def test_without_the_mock_clock_it_conforms_and_says_what_it_could_not_wait_for(mock,
                                                                                tmp_path):
    """A real vendor has no /__admin/clock: the run still conforms and names the check a
    15-minute wait would need, beyond the default --max-wait. Behind the proxy, this is
    also the control for the planted bugs below: the proxy by itself makes no violation."""
    with BrokenProxy(mock.origin, hide_clock(), FAITHFUL_DOWNLOADS) as proxy:
        run = run_conformance("biometricscloud", proxy.url("/api/v1"), tmp_path)
    assert run.exit_status == 1 and run.report["failed"] == 0, run.output
    assert [(e["check"], e["exempt"]) for e in run.report["not_run"]] == [("lifecycle", False)]
    assert ("not run [lifecycle]: the file_url's 15-minute expiry did not happen within "
            "--max-wait 60 s") in run.output


def test_a_refused_token_stops_the_run(mock, tmp_path):
    profile = {"biometricscloud": {"primary": {"token": "not-a-token"},
                                   "secondary": {"token": "m15cI9rocXEjj6r325sTKw"}}}
    run = run_with_profile("biometricscloud", mock.url("/api/v1"), tmp_path, profile)
    assert run.exit_status == 2, run.output
    assert "primary account's token was refused" in run.output


def _as_plain_text(exchange, forward) -> Answer:
    answer = forward(exchange)
    return Answer(answer.status, {"Content-Type": "text/plain"}, answer.body)


def _accept_everything(exchange, forward) -> Answer:
    """Skipped validation: whatever the request, a record comes back."""
    answer = forward(exchange)
    if answer.status != 400:
        return answer
    return Answer(200, {"Content-Type": "application/json"}, (
        b'{"id": 999999, "description": "accepted", "type": 1, "state": 1, '
        b'"file_name": "accepted.png", "file_url": "http://127.0.0.1:1/accepted.png"}'))


def _lose_write(body):
    """Acknowledged, but the id the client gets was never stored."""
    return {**body, "id": 10**9 + uuid.uuid4().int % 10**6}


def _reuse_first_id():
    """Every create answers the id of the first record created through the proxy."""
    first: dict[str, int] = {}

    def change(body):
        return {**body, "id": first.setdefault("id", body["id"])}

    return change


def _archive_nothing(exchange, forward) -> Answer:
    """DELETE acknowledged without reaching the server: the record lives on."""
    return Answer(204, {}, b"")


def _drop_first_result(body):
    body["results"] = body["results"][1:]
    body["count"] = len(body["results"])
    return body


def _inclusive_cursor() -> Breakage:
    """An off-by-one cursor: each later page starts again with the record ``offset`` names
    (its last entry dropped to stay within the limit), so one record is listed twice."""
    last_entries: dict[str, dict] = {}

    def respond(exchange, forward) -> Answer:
        answer = forward(exchange)
        if answer.status != 200:
            return answer
        body = answer.json()
        cursor = dict(parse_qsl(exchange.query)).get("offset")
        if cursor in last_entries and body["results"]:
            body["results"] = [last_entries[cursor], *body["results"][:-1]]
            body["next_id"] = body["results"][-1]["id"]
        for entry in body["results"]:
            last_entries[str(entry["id"])] = entry
        return answer.with_json(body)

    return Breakage("GET", FILES, respond)


def _altered_bytes(exchange, forward) -> Answer:
    answer = forward(exchange)
    if answer.status == 200:
        answer.body = answer.body + b"\x00"
    return answer


def _expires_after_five_minutes(exchange, forward) -> Answer:
    """Presigned URLs that die after 5 minutes of mock time instead of the documented 15."""
    clock = forward(Exchange("GET", "/__admin/clock", "", {}, b"")).json()["now"]
    now = datetime.fromisoformat(clock.replace("Z", "+00:00"))
    signed = datetime.strptime(dict(parse_qsl(exchange.query))["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    if now - signed.replace(tzinfo=UTC) > timedelta(minutes=5):
        return Answer(403, S3_ERROR, b"<Error><Code>AccessDenied</Code>"
                                     b"<Message>Request has expired</Message></Error>")
    return forward(exchange)


def _signature_unchecked() -> Breakage:
    """The object store serves a file by its path alone, whatever the URL's signature."""
    served: dict[str, Answer] = {}

    def respond(exchange, forward) -> Answer:
        if exchange.path not in served:
            served[exchange.path] = forward(exchange)
        return served[exchange.path]

    return Breakage("GET", DOWNLOAD, respond)


def _refresh_not_rotated() -> Breakage:
    """A used refresh token keeps working: its first answer is replayed."""
    answers: dict[bytes, Answer] = {}

    def respond(exchange, forward) -> Answer:
        if exchange.body not in answers or answers[exchange.body].status != 200:
            answers[exchange.body] = forward(exchange)
        return answers[exchange.body]

    return Breakage("POST", "/api/v1/refresh-token", respond)


BROKEN = {
    "wrong status": (lambda: set_status("POST", FILES, 201, when_status=200),
                     "status_code_documented"),
    "missing field": (lambda: rewrite_json("GET", RECORD, drop_field("file_url")),
                      "response_schema"),
    "wrong type": (lambda: rewrite_json("GET", FILES,
                                        lambda body: {**body, "count": str(body["count"])}),
                   "response_schema"),
    "wrong content type": (lambda: Breakage("GET", RECORD, _as_plain_text), "content_type"),
    "skipped validation": (lambda: Breakage("POST", FILES, _accept_everything),
                           "rejects_invalid_input"),
    "no auth": (lambda: swap_header("GET", FILES, "Authorization", None, PRIMARY),
                "auth_required"),
    "broken isolation": (lambda: swap_header("GET", RECORD, "Authorization", SECONDARY, PRIMARY),
                         "isolation"),
    "lost write": (lambda: rewrite_json("POST", FILES, _lose_write), "read_after_write"),
    "stale read": (lambda: cache_first("GET", RECORD), "read_after_write"),
    "duplicate ids": (lambda: rewrite_json("POST", FILES, _reuse_first_id()), "unique_ids"),
    "delete not final": (lambda: Breakage("DELETE", RECORD, _archive_nothing),
                         "delete_is_final"),
    "wrong pagination": (lambda: rewrite_json("GET", FILES, _drop_first_result), "pagination"),
    "repeated entry": (_inclusive_cursor, "pagination"),
    "wrong bytes": (lambda: Breakage("GET", DOWNLOAD, _altered_bytes), "file_url"),
    "signature unchecked": (_signature_unchecked, "file_url"),
    "early expiry": (lambda: Breakage("GET", DOWNLOAD, _expires_after_five_minutes),
                     "lifecycle"),
    "refresh not rotated": (_refresh_not_rotated, "refresh_rotation"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_planted_bug_is_reported_under_its_check(mock, tmp_path, name):
    make_breakage, check = BROKEN[name]
    with BrokenProxy(mock.origin, make_breakage(), FAITHFUL_DOWNLOADS) as proxy:
        run = run_conformance("biometricscloud", proxy.url("/api/v1"), tmp_path,
                              *PLANTED_BUG_OPTIONS)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert check in run.failed_checks, (check, run.failed_checks, run.output[-3000:])
    assert "curl " in run.output


def _half_enforced_rules(body):
    """The file name pattern half enforced (backslashes stripped, not refused) and the type
    enum too (an unknown type becomes 5, Other)."""
    if isinstance(body.get("upload_filename"), str):
        body["upload_filename"] = body["upload_filename"].replace("\\", "")
    if body.get("type") not in (1, 2, 3, 4, 5):
        body["type"] = 5
    return body


#: planted bugs on different calls, so one run behind the strict variant shows them all
#: (not "wrong bytes": every read-back of the model would stop at it): name -> (check,
#: operation, text)
BEHIND_STRICT = {
    "file name pattern half enforced": (
        "rejects_invalid_input", "createFile",
        "body.upload_filename not matching its pattern (with a backslash"),
    "type enum half enforced": ("rejects_invalid_input", "createFile",
                                "body.type not in enum (999999)"),
    "broken isolation": ("isolation", "retrieveFile", ""),
    "delete not final": ("delete_is_final", "retrieveFile", ""),
    "repeated entry": ("pagination", "listFiles", ""),
    "signature unchecked": ("file_url", "retrieveFile", "tampered"),
    "refresh not rotated": ("refresh_rotation", "refreshToken", ""),
}


def test_planted_bugs_behind_the_strict_variant_are_each_reported(mock, tmp_path):
    """Issue 10: caught on a server that is not the mock too (no ids in its answers, pages
    of 7, shorter names, no clock), with the default settings."""
    bugs = [rewrite_request_json("POST", FILES, _half_enforced_rules),
            *(BROKEN[name][0]() for name in list(BEHIND_STRICT)[2:])]
    with BrokenProxy(mock.origin, *bugs) as broken:
        run = run_strict("biometricscloud", broken.origin, tmp_path, mock.profile(),
                         *BEHIND_STRICT_OPTIONS)
    assert_reported(run, BEHIND_STRICT)
