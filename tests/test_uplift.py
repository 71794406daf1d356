"""Uplift through HTTP: reservation, presigned S3 POST upload, status, isolation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from documents import document_body

PRIMARY_KEY = "upl_live_pinecrest_8f2d61c0b7a94e3f"
SECONDARY_KEY = "upl_live_riverside_3a9c50d2e81f4b67"
NO_EXECUTION_USER_KEY = "upl_live_lakeside_noexec_5e7a9c1b"
SECONDARY_ATHLETE = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
SECONDARY_GROUP = "2b4d6f80-1a3c-4e5f-9071-8b2d4f6a8c0e"
APP_SOURCED_GROUP = "7e3b1d9c-5a2f-4c8e-b6d0-2f4a6c8e0b13"
OTHER_PRIMARY_ATHLETE = "5d1e7c3a-9b2f-4e6d-8a1c-3f5b7d9e0a12"
SAMPLE = document_body("004", 0)


@pytest.fixture
def server(mock_factory):
    running = mock_factory("--api", "uplift")
    running.reset()
    yield running
    assert running.contract_violations() == []


def call(server, method: str, path: str, key: str | None = PRIMARY_KEY, **kwargs: Any):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, server.url("/v1" + path), headers=headers, timeout=10,
                            **kwargs)


def reserve(server, key: str = PRIMARY_KEY, **changes: Any) -> requests.Response:
    body = copy.deepcopy(SAMPLE)
    body.update(changes)
    return call(server, "POST", "/captures", key, json=body)


MOV_BYTES = b"\x00\x00\x00\x14ftypqt  "


def upload(reservation: dict[str, Any], data: bytes = MOV_BYTES) -> requests.Response:
    return requests.post(reservation["upload_url"], data=reservation["upload_fields"],
                         files={"file": ("swing.mov", data, "video/quicktime")}, timeout=10)


def test_the_documents_sample_request_reserves_an_upload(server):
    response = reserve(server)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "NEW"
    assert body["session_group_id"] == SAMPLE["session_group_id"]
    assert body["upload_url"].startswith(server.origin + "/s3/")
    assert {"key", "policy", "x-amz-signature", "x-amz-credential"} <= set(body["upload_fields"])


def test_upload_then_processing_then_completed(server):
    reservation = reserve(server).json()
    capture_url = f"/captures/{reservation['session_id']}"
    assert call(server, "GET", capture_url).json()["status"] == "awaiting_upload"
    assert upload(reservation).status_code == 204
    assert call(server, "GET", capture_url).json()["status"] == "processing"
    server.advance(61)
    capture = call(server, "GET", capture_url).json()
    assert capture == {"session_id": reservation["session_id"],
                       "athlete_id": SAMPLE["athlete_id"], "activity": "golf",
                       "movement": "full_swing", "status": "completed", "error": None,
                       "capture_time": SAMPLE["capture_time"], "fps_detected": 240}


def test_upload_window_closes_after_30_minutes(server):
    reservation = reserve(server).json()
    server.advance(29 * 60)
    assert call(server, "GET", f"/captures/{reservation['session_id']}").json()["status"] == \
        "awaiting_upload"
    server.advance(2 * 60)
    expired = upload(reservation)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text
    capture = call(server, "GET", f"/captures/{reservation['session_id']}").json()
    assert capture["status"] == "error" and capture["error"]
    assert capture["fps_detected"] is None


def test_tampered_upload_is_refused(server):
    reservation = reserve(server).json()
    fields = dict(reservation["upload_fields"], key="captures/elsewhere/evil.mov")
    refused = upload({**reservation, "upload_fields": fields})
    assert refused.status_code == 403
    signature = reservation["upload_fields"]["x-amz-signature"]
    forged = dict(reservation["upload_fields"], **{"x-amz-signature": "0" * len(signature)})
    assert upload({**reservation, "upload_fields": forged}).status_code == 403
    assert upload(reservation, data=b"").status_code == 400  # content-length-range starts at 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"file_name": "swing.mp4"}, "file_name"),
    ({"file_name": "dir/swing.mov"}, "file_name"),
    ({"file_name": "x" * 252 + ".mov"}, "file_name"),
    ({"athlete_id": "not-a-uuid"}, "athlete_id"),
    ({"camera_configuration": {"camera_setup_selection": "triple.overhead"}},
     "camera_setup_selection"),
    ({"movement_attributes": {"activity": "golf", "movement": "m" * 129}}, "movement"),
    ({"capture_time": "2999-01-01T00:00:00Z"}, "capture_time must not be in the future."),
])
def test_every_validation_rule_answers_400_naming_the_field(server, changes, message):
    response = reserve(server, **changes)
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"
    assert message in response.json()["message"]


def test_missing_required_field_is_named(server):
    body = copy.deepcopy(SAMPLE)
    del body["movement_attributes"]
    response = call(server, "POST", "/captures", json=body)
    assert response.status_code == 400
    assert "movement_attributes" in response.json()["message"]


def test_file_name_extension_is_case_insensitive_and_capture_time_optional(server):
    body = copy.deepcopy(SAMPLE)
    del body["capture_time"]
    body["file_name"] = "SWING.MoV"
    assert call(server, "POST", "/captures", json=body).status_code == 200


@pytest.mark.parametrize("key", [None, "upl_live_unknown_key_000000"])
def test_missing_or_invalid_key_is_401(server, key):
    response = reserve(server, key=key) if key else call(server, "POST", "/captures", None,
                                                        json=SAMPLE)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized",
                               "message": "Bearer token is missing or invalid."}


def test_athlete_and_session_group_must_belong_to_the_organization(server):
    assert reserve(server, athlete_id=SECONDARY_ATHLETE).status_code == 403
    assert reserve(server, session_group_id=SECONDARY_GROUP).status_code == 403
    other_athlete = reserve(server, athlete_id=OTHER_PRIMARY_ATHLETE)
    assert other_athlete.status_code == 400
    assert other_athlete.json()["message"] == "session_group_id belongs to another athlete."
    not_api = reserve(server, session_group_id=APP_SOURCED_GROUP)
    assert not_api.status_code == 400


def test_organization_without_execution_user_gets_the_documented_404(server):
    response = reserve(server, key=NO_EXECUTION_USER_KEY)
    assert response.status_code == 404
    assert response.json()["message"] == (
        "The organization does not have an execution user configured for captures.")


def test_other_organization_sees_nothing(server):
    session_id = reserve(server).json()["session_id"]
    assert call(server, "GET", f"/captures/{session_id}", SECONDARY_KEY).status_code == 404
    assert call(server, "GET", "/captures", SECONDARY_KEY).json()["total_count"] == 0
    assert call(server, "GET", "/captures").json()["total_count"] == 1


def test_list_filters_and_pages(server):
    for movement in ("full_swing", "putt", "full_swing"):
        reserve(server, movement_attributes={"activity": "golf", "movement": movement})
    page = call(server, "GET", "/captures", params={"movement": "full_swing"}).json()
    assert page["total_count"] == 2 and len(page["captures"]) == 2
    first = call(server, "GET", "/captures", params={"limit": 2}).json()
    second = call(server, "GET", "/captures", params={"limit": 2, "offset": 2}).json()
    ids = [c["session_id"] for c in first["captures"] + second["captures"]]
    assert len(set(ids)) == 3 and first["total_count"] == 3
    assert call(server, "GET", "/captures", params={"status": "completed"}).json()[
        "total_count"] == 0


@pytest.mark.parametrize(("wanted", "matches"), [
    ("full_swing", 2), ("FULL_SWING", 2), ("  Full_Swing ", 2), ("full", 0), ("putt", 1)])
def test_movement_and_activity_filters_ignore_case_and_surrounding_space(server, wanted,
                                                                          matches):
    for movement in ("full_swing", "putt", "Full_Swing"):
        reserve(server, movement_attributes={"activity": "Golf", "movement": movement})
    page = call(server, "GET", "/captures", params={"movement": wanted,
                                                    "activity": " gOLF"}).json()
    assert page["total_count"] == matches
    assert call(server, "GET", "/captures", params={"activity": "tennis"}).json()[
        "total_count"] == 0


@pytest.mark.parametrize(("asked", "applied"), [(None, 100), (0, 1), (-7, 1), (501, 500),
                                                (10**6, 500), (3, 3)])
def test_limit_is_clamped_to_1_500_not_refused(server, asked, applied):
    reserve(server)
    params = {} if asked is None else {"limit": asked}
    response = call(server, "GET", "/captures", params=params)
    assert response.status_code == 200
    assert (response.json()["limit"], response.json()["offset"]) == (applied, 0)
    assert len(response.json()["captures"]) == 1


def test_source_filter_keeps_the_api_captures(server):
    reserve(server)
    assert call(server, "GET", "/captures", params={"source": "api"}).json()["total_count"] == 1
    assert call(server, "GET", "/captures", params={"source": "app"}).json()["total_count"] == 0


def test_movement_dimensions_are_top_level_properties_of_the_capture(server):
    attributes = {"activity": "golf", "movement": "full_swing", "club": "driver"}
    session_id = reserve(server, movement_attributes=attributes).json()["session_id"]
    capture = call(server, "GET", f"/captures/{session_id}").json()
    assert (capture["club"], capture["activity"], capture["movement"]) == (
        "driver", "golf", "full_swing")
    assert "movement_attributes" not in capture and "error_message" not in capture


def test_unknown_capture_is_404_with_the_documented_body(server):
    response = call(server, "GET", "/captures/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "message": "Capture not found."}


@pytest.mark.parametrize(("status", "error"), [
    (429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_documented_failures_can_be_requested_with_prefer(server, status, error):
    response = requests.post(server.url("/v1/captures"), json=SAMPLE, timeout=10, headers={
        "Authorization": f"Bearer {PRIMARY_KEY}", "Prefer": f"code={status}"})
    assert response.status_code == status
    assert response.json()["error"] == error


def test_early_capture_times_keep_four_digit_years(server):
    session_id = reserve(server, capture_time="0215-07-17T01:02:03Z").json()["session_id"]
    capture = call(server, "GET", f"/captures/{session_id}").json()
    assert capture["capture_time"] == "0215-07-17T01:02:03.000Z"


@pytest.mark.parametrize("now", ["1970-01-01T00:00:00Z", "8999-12-31T23:00:00Z"])
def test_reserve_and_upload_work_at_both_ends_of_the_mock_clock(server, now):
    requests.post(server.url("/__admin/clock"), json={"now": now}, timeout=10).raise_for_status()
    reservation = reserve(server, capture_time=now)
    assert reservation.status_code == 200
    assert reservation.json()["upload_expires_at"][:4] == now[:4]
    assert upload(reservation.json()).status_code == 204
