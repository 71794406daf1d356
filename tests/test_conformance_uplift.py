"""The conformance suite judges Uplift: clean on the mock, and each planted bug is caught."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from broken_proxy import (
    Answer,
    Breakage,
    BrokenProxy,
    cache_first,
    drop_field,
    expired_upload,
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
)

PRIMARY = "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"
SECONDARY = "Bearer upl_live_riverside_3a9c50d2e81f4b67"
CAPTURE = r"/v1/captures/[^/]+"


@pytest.fixture
def mock(mock_factory):
    return fresh(mock_factory, "uplift")


def test_the_mock_conforms(mock, tmp_path):
    run = run_conformance("uplift", mock.url("/v1"), tmp_path)
    assert_conforms(run, 3)


def _forge_reservation(exchange, forward) -> Answer:
    """A reservation answer for a request the server never stored."""
    return Answer(200, {"Content-Type": "application/json"}, (
        b'{"session_id": "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "session_group_id": '
        b'"11111111-2222-3333-4444-555555555555", "upload_url": "http://127.0.0.1:1/", '
        b'"upload_fields": {}, "upload_expires_at": "2030-01-01T00:00:00Z", "status": "NEW"}'))


def _accept_everything(exchange, forward) -> Answer:
    """Skipped validation: whatever the request, a reservation comes back."""
    answer = forward(exchange)
    return _forge_reservation(exchange, forward) if answer.status == 400 else answer


def _lose_write(body):
    """Acknowledged, but the id the client gets was never stored."""
    return {**body, "session_id": str(uuid.uuid4())}


def _first_page_always(exchange, forward) -> Answer:
    query = "&".join(part for part in exchange.query.split("&") if not part.startswith("offset"))
    return forward(replace(exchange, query=query))


def _as_plain_text(exchange, forward) -> Answer:
    answer = forward(exchange)
    return Answer(answer.status, {"Content-Type": "text/plain"}, answer.body)


def _never_completed(body):
    if body.get("status") == "completed":
        body["status"] = "processing"
    return body


def _default_camera_setup(body):
    """The nested enum unenforced: an unknown camera setup becomes the default one."""
    setup = body.get("camera_configuration")
    if isinstance(setup, dict) and setup.get("camera_setup_selection") not in (
            "single.front_on", "single.down_the_line"):
        setup["camera_setup_selection"] = "single.front_on"
    return body


def _strip_slashes(body):
    """The file_name pattern half enforced: "/" stripped instead of refused."""
    if isinstance(body.get("file_name"), str):
        body["file_name"] = body["file_name"].replace("/", "")
    return body


def _clamp_capture_time(body):
    """The prose rule ignored: a capture time in the future is taken as now."""
    try:
        moment = datetime.fromisoformat(str(body.get("capture_time")).replace("Z", "+00:00"))
    except ValueError:
        return body
    if moment.tzinfo is not None and moment > datetime.now(UTC):
        body.pop("capture_time")
    return body


BROKEN = {
    "wrong status": (set_status("POST", "/v1/captures", 201, when_status=200),
                     "status_code_documented"),
    "missing field": (rewrite_json("POST", "/v1/captures", drop_field("upload_expires_at")),
                      "response_schema"),
    "wrong type": (rewrite_json("GET", "/v1/captures",
                                lambda body: {**body, "total_count": str(body["total_count"])}),
                   "response_schema"),
    "wrong content type": (Breakage("GET", CAPTURE, _as_plain_text), "content_type"),
    "unknown id answered": (set_status("GET", CAPTURE, 200, when_status=404),
                            "rejects_invalid_input"),
    "skipped validation": (Breakage("POST", "/v1/captures", _accept_everything),
                           "rejects_invalid_input"),
    "no auth": (swap_header("GET", "/v1/captures", "Authorization", None, PRIMARY),
                "auth_required"),
    "broken isolation": (swap_header("GET", CAPTURE, "Authorization", SECONDARY, PRIMARY),
                         "isolation"),
    "lost write": (rewrite_json("POST", "/v1/captures", _lose_write), "read_after_write"),
    "stale read": (cache_first("GET", "/v1/captures"), "read_after_write"),
    "wrong pagination": (Breakage("GET", "/v1/captures", _first_page_always), "pagination"),
    "early expiry": (expired_upload("/s3/uplift-captures/"), "upload_flow"),
    "never completes": (rewrite_json("GET", CAPTURE, _never_completed), "lifecycle"),
}

# Rules a server enforces only in part; each is caught by the mutation named here.
HALF_ENFORCED = {
    "nested enum": (_default_camera_setup,
                    "body.camera_configuration.camera_setup_selection not in enum"),
    "pattern half enforced": (_strip_slashes,
                              "body.file_name not matching its pattern (with a '/'"),
    "prose rule ignored": (_clamp_capture_time, "body.capture_time later than now"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_planted_bug_is_reported_under_its_check(mock, tmp_path, name):
    breakage, check = BROKEN[name]
    with BrokenProxy(mock.origin, breakage) as proxy:
        run = run_conformance("uplift", proxy.url("/v1"), tmp_path,
                              *PLANTED_BUG_OPTIONS)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert check in run.failed_checks, (check, run.failed_checks, run.output[-3000:])
    assert "curl " in run.output


@pytest.mark.parametrize("name", list(HALF_ENFORCED))
def test_a_half_enforced_rule_is_caught_and_named(mock, tmp_path, name):
    change, mutation = HALF_ENFORCED[name]
    with BrokenProxy(mock.origin, rewrite_request_json("POST", "/v1/captures", change)) as proxy:
        run = run_conformance("uplift", proxy.url("/v1"), tmp_path,
                              *PLANTED_BUG_OPTIONS)
    assert run.exit_status == 1, run.output
    assert_graded(run)
    assert run.failed_checks == {"rejects_invalid_input"}, run.output[-3000:]
    assert mutation in run.output, run.output[-3000:]


def _every_half_enforced_rule(body):
    for change, _ in HALF_ENFORCED.values():
        body = change(body)
    return body


#: planted bugs on different calls (the three half-enforced rules in one create), so one
#: run behind the strict variant shows them all (not "broken isolation": the model would
#: stop at it before it pages): name -> (check, operation, text)
BEHIND_STRICT = {
    **{name: ("rejects_invalid_input", "createCapture", mutation)
       for name, (_, mutation) in HALF_ENFORCED.items()},
    "wrong content type": ("content_type", "getCapture", ""),
    "wrong pagination": ("pagination", "listCaptures", ""),
    "early expiry": ("upload_flow", "createCapture", ""),
}


def test_planted_bugs_behind_the_strict_variant_are_each_reported(mock, tmp_path):
    """Issue 10: caught on a server that is not the mock too (rate limited, smaller pages,
    a late status, no clock), with the default settings but a short wait."""
    bugs = [rewrite_request_json("POST", "/v1/captures", _every_half_enforced_rule),
            *(BROKEN[name][0] for name in ("wrong content type", "wrong pagination",
                                           "early expiry"))]
    with BrokenProxy(mock.origin, *bugs) as broken:
        run = run_strict("uplift", broken.origin, tmp_path, mock.profile(),
                         *BEHIND_STRICT_OPTIONS)
    assert_reported(run, BEHIND_STRICT)
