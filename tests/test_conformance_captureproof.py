"""The conformance suite judges CaptureProof: clean on the mock, and each planted bug is caught."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import pytest

from broken_proxy import (
    Answer,
    Breakage,
    BrokenProxy,
    Exchange,
    cache_first,
    expired_upload,
    hide_clock,
    rewrite_json,
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
    run_with_profile,
)

PRIMARY_TOKEN = "903fc07decff1059951641d41e3045cd"
SECONDARY_TOKEN = "cd7a005314c54a698beda40233600428"
LOGIN_KEYS = ("email", "password", "app_id")
PROOF = r"/api/v1/patients/[^/]+/proofs/[^/]+"
CAPTURES = PROOF + "/captures"
PRIMARY_PROOF = r"/api/v1/patients/53ede085/proofs/4cd40d7e3/.+"
MEDIA_PROCESSED = CAPTURES + r"/[^/]+/is_media_processed"
BUCKET = "/s3/cp-test-uploads/"
NO_UPLOADED_OBJECT = "No uploaded object exists for upload_s3_key"
#: the spec's LoggedOut answer
LOGGED_OUT = Answer(200, {"Content-Type": "application/json"}, b'{"status": "ok"}')


@pytest.fixture
def mock(mock_factory):
    return fresh(mock_factory, "captureproof")


def test_the_mock_conforms(mock, tmp_path):
    run = run_conformance("captureproof", mock.url("/api/v1"), tmp_path)
    assert_conforms(run, 8)
    assert {"isolation", "read_after_write", "upload_flow", "lifecycle",
            "upload_required"} <= set(run.report["checks"])
    assert run.report["checks"]["delete_is_final"]["passed"] > 0


def test_a_profile_without_a_login_skips_the_logout_and_says_so(mock, tmp_path):
    """The profile format needs only a token; the login keys are extra."""
    profile = mock.profile()
    for key in LOGIN_KEYS:
        profile["captureproof"]["primary"].pop(key)
    run = run_with_profile("captureproof", mock.url("/api/v1"), tmp_path, profile)
    assert run.exit_status == 1 and not run.report["violations"], run.output
    assert "not run [delete_is_final]: the profile's primary has no email" in run.output
    assert run.report["complete"] is False
    allowed = run_with_profile("captureproof", mock.url("/api/v1"), tmp_path, profile,
                               "--allow-incomplete")
    assert allowed.exit_status == 0, allowed.output


def test_a_profile_whose_token_does_not_work_stops_the_run(mock, tmp_path):
    profile = mock.profile()
    profile["captureproof"]["primary"]["token"] = "f" * 32
    run = run_with_profile("captureproof", mock.url("/api/v1"), tmp_path, profile)
    assert run.exit_status == 2, run.output
    assert "cannot list the captures" in run.output


def test_without_the_clock_waits_longer_than_max_wait_are_listed_and_a_login_judges_logout(
        mock, tmp_path):
    """A staging host: no /__admin/clock, but a profile that carries the primary's login.
    The 30 s processing and the 1-hour policy expiry do not fit a 2 s --max-wait: listed
    as not run (not exempt), so only --allow-incomplete makes the run pass."""
    with BrokenProxy(mock.origin, hide_clock()) as proxy:
        run = run_conformance("captureproof", proxy.url("/api/v1"), tmp_path,
                              "--max-wait", "2", "--allow-incomplete")
    assert run.exit_status == 0 and run.report["failed"] == 0, run.output
    assert [(e["check"], e["exempt"]) for e in run.report["not_run"]] == [("lifecycle", False)]
    reason = run.report["not_run"][0]["reason"]
    assert "processing of capture" in reason and "upload policy's expiry" in reason
    assert "did not happen within --max-wait 2 s" in reason
    assert run.report["checks"]["delete_is_final"]["passed"] > 0


def _with_token(new, old=None):
    """Rewrite the query's token: ``old`` to ``new``, or add ``new`` where none was sent."""
    def respond(exchange: Exchange, forward) -> Answer:
        parts = [part for part in exchange.query.split("&") if part]
        tokens = [part for part in parts if part.startswith("token=")]
        if old is None and not tokens:
            parts.append(f"token={new}")
        elif old is not None:
            parts = [f"token={new}" if part == f"token={old}" else part for part in parts]
        return forward(replace(exchange, query="&".join(parts)))

    return respond


def _drop_from_captures(field):
    def change(body):
        for capture in body.get("captures", []):
            capture.pop(field, None)
        return body

    return change


FORGED_PROOF = json.dumps({"proof": {
    "id": "4cd40d7e3", "patient_id": "53ede085", "name": "Left knee recovery",
    "media_format": "photo", "description": None, "created_at": "2024-03-01T09:00:00Z",
    "creator": {"id": "usr7k2m9q", "name": "Dr. Jane Doe"}, "first_capture": None,
    "last_capture": None, "captures_count": 0, "captures": []}}).encode()


def _accept_everything(exchange, forward) -> Answer:
    """Skipped validation: whatever the body, the capture is 'created'."""
    answer = forward(exchange)
    if answer.status != 400:
        return answer
    return Answer(200, {"Content-Type": "application/json"}, FORGED_PROOF)


def _ignore_missing_upload(exchange, forward) -> Answer:
    """The key is never checked: a create naming a missing object succeeds without it."""
    answer = forward(exchange)
    if answer.status != 400 or NO_UPLOADED_OBJECT not in answer.body.decode():
        return answer
    body = {k: v for k, v in json.loads(exchange.body).items() if k != "upload_s3_key"}
    return forward(replace(exchange, body=json.dumps(body).encode()))


def _lose_write(body):
    """Acknowledged under an id that was never stored."""
    proof = body["proof"]
    lost = {**proof["captures"][-1], "id": uuid.uuid4().hex[:9]}
    proof["captures"][-1] = proof["last_capture"] = lost
    return body


def _as_plain_text(exchange, forward) -> Answer:
    answer = forward(exchange)
    return Answer(answer.status, {"Content-Type": "text/plain"}, answer.body)


def _any_key_accepted(exchange, forward) -> Answer:
    """The store ignores the policy's key prefix: a key outside it is stored all the same."""
    key = re.search(rb'name="key"\r\n\r\n([^\r]*)\r\n', exchange.body)
    if key is None or key.group(1).startswith(b"captures/"):
        return forward(exchange)
    return Answer(201, {"Content-Type": "application/xml"},
                  b"<PostResponse><Key>" + key.group(1) + b"</Key></PostResponse>")


def _newest_first(body):
    body["captures"].reverse()
    return body


def _logout_ignored(exchange, forward) -> Answer:
    """A valid session's logout is acknowledged, but the session lives on."""
    probe = forward(replace(exchange, method="GET", path="/api/v1/patients/53ede085/proofs/"
                            "4cd40d7e3/captures", body=b""))
    return LOGGED_OUT if probe.status == 200 else forward(exchange)


def _path_logout_ignored(exchange, forward) -> Answer:
    """The SDK's DELETE /sessions/{token} is acknowledged, but the session lives on."""
    value = exchange.path.rsplit("/", 1)[1]
    probe = forward(replace(exchange, method="GET", path="/api/v1/patients/53ede085/proofs/"
                            "4cd40d7e3/captures", query=f"token={value}", body=b""))
    return LOGGED_OUT if probe.status == 200 else forward(exchange)


BROKEN = {
    "wrong status": (set_status("POST", CAPTURES, 201, when_status=200),
                     "status_code_documented"),
    "missing field": (rewrite_json("GET", CAPTURES, _drop_from_captures("media_processed")),
                      "response_schema"),
    "wrong content type": (Breakage("GET", MEDIA_PROCESSED, _as_plain_text), "content_type"),
    "skipped validation": (Breakage("POST", CAPTURES, _accept_everything),
                           "rejects_invalid_input"),
    "no auth": (Breakage("GET", CAPTURES, _with_token(PRIMARY_TOKEN)), "auth_required"),
    "broken isolation": (Breakage("GET", PRIMARY_PROOF,
                                  _with_token(PRIMARY_TOKEN, SECONDARY_TOKEN)), "isolation"),
    "lost write": (rewrite_json("POST", CAPTURES, _lose_write), "read_after_write"),
    "stale read": (cache_first("GET", CAPTURES), "read_after_write"),
    "newest first": (rewrite_json("GET", CAPTURES, _newest_first), "list_order"),
    "early expiry": (expired_upload(BUCKET), "upload_flow"),
    "key prefix not enforced": (Breakage("POST", BUCKET, _any_key_accepted), "upload_flow"),
    "media never processed": (rewrite_json("GET", MEDIA_PROCESSED,
                                           lambda body: {"media_processed": False}),
                              "lifecycle"),
    "upload object ignored": (Breakage("POST", CAPTURES, _ignore_missing_upload),
                              "upload_required"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_planted_bug_is_reported_under_its_check(mock, tmp_path, name):
    breakage, check = BROKEN[name]
    with BrokenProxy(mock.origin, breakage) as proxy:
        run = run_conformance("captureproof", proxy.url("/api/v1"), tmp_path,
                              *PLANTED_BUG_OPTIONS)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert check in run.failed_checks, (check, run.failed_checks, run.output[-3000:])
    assert "curl " in run.output


@pytest.mark.parametrize(("path", "respond"), [
    ("/api/v1/sessions", _logout_ignored),
    ("/api/v1/sessions/[^/]+", _path_logout_ignored),
], ids=["query-token", "sdk-path-token"])
def test_a_logout_that_does_not_end_the_session_is_reported(mock, tmp_path, path, respond):
    with BrokenProxy(mock.origin, Breakage("DELETE", path, respond)) as proxy:
        run = run_conformance("captureproof", proxy.url("/api/v1"), tmp_path)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert "delete_is_final" in run.failed_checks, run.output[-3000:]
    assert "curl " in run.output


#: planted bugs on different calls, so one run behind the strict variant shows them all:
#: name -> (the breakage, or the BROKEN entry it is, and its check, operation and text)
BEHIND_STRICT = {
    "newest first": ("list_order", "listCaptures", ""),
    "upload object ignored": ("upload_required", "createCapture", ""),
    "key prefix not enforced": ("upload_flow", "getUploadCredentials", ""),
    "wrong content type": ("content_type", "isMediaProcessed", ""),
}
LOGOUT_IGNORED = Breakage("DELETE", "/api/v1/sessions", _logout_ignored)


def test_planted_bugs_behind_the_strict_variant_are_each_reported(mock, tmp_path):
    """Issue 10: caught on a server that is not the mock too (no clock, the token in the
    query only, more fields, shorter descriptions), with the default settings."""
    bugs = [BROKEN[name][0] for name in BEHIND_STRICT]
    with BrokenProxy(mock.origin, *bugs, LOGOUT_IGNORED) as broken:
        run = run_strict("captureproof", broken.origin, tmp_path, mock.profile(),
                         *BEHIND_STRICT_OPTIONS)
    assert_reported(run, {**BEHIND_STRICT,
                          "logout ignored": ("delete_is_final", "listCaptures", "")})
