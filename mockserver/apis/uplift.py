"""Uplift: reserve a video upload, upload it with a presigned S3 POST, follow its status.

API keys (Bearer) belong to organizations; athletes and session groups too, and nothing of
another organization is ever visible. A capture's status is derived, not stored: it reads
the object store and the clock each time, so it follows ``POST /__admin/clock`` exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Request

from mockserver.apis._common import ERROR_NAMES, bearer_token, uuid_schema
from mockserver.clock import isoformat, parse_datetime
from mockserver.fixtures import FixturesError
from mockserver.validation import Problem
from mockserver.vendor import ApiError, Call, Reply, Services, VendorApi, registry

BUCKET = "uplift-captures"
UPLOAD_WINDOW = timedelta(minutes=30)
#: how long the mock "analyses" an uploaded video before it is completed
PROCESSING_TIME = timedelta(seconds=60)
MAX_VIDEO_BYTES = 5 * 1024**3
#: the mock does not analyse the video: every processed capture reports this frame rate
DETECTED_FPS = 240

FORBIDDEN = "You do not have permission to access this resource."
NO_EXECUTION_USER = "The organization does not have an execution user configured for captures."

ORGS, KEYS, ATHLETES, GROUPS, CAPTURES = (
    "uplift.org", "uplift.api_key", "uplift.athlete", "uplift.session_group", "uplift.capture"
)

handlers, operation = registry()


def error_body(status: int, message: str, problems: list[Problem]) -> dict[str, Any]:
    return {"error": ERROR_NAMES.get(status, "Error"), "message": message}


def authenticate(call: Call, required: bool) -> dict[str, Any]:
    token = bearer_token(call.request)
    key = call.services.store.get(KEYS, token) if token else None
    organization = call.services.store.get(ORGS, key["org_id"]) if key else None
    if organization is None:
        raise ApiError(401, "Bearer token is missing or invalid.")
    return organization


@operation("createCapture")
def create_capture(call: Call) -> Reply:
    body, organization, now = call.body, call.principal, call.services.clock.now()
    if not organization.get("execution_user"):
        raise ApiError(404, NO_EXECUTION_USER)
    athlete = _own(call, ATHLETES, str(body["athlete_id"]), FORBIDDEN)
    group = _session_group(call, str(body["session_group_id"]), athlete)
    file_name = body["file_name"].strip()
    if not file_name or file_name.lower() == ".mov":
        raise ApiError(400, "file_name must not be blank.")
    capture_time = _capture_time(body.get("capture_time"), now)
    session_id = str(uuid.uuid4())
    key = f"captures/{organization['id']}/{session_id}/{file_name}"
    expires_at = now + UPLOAD_WINDOW
    fields = call.services.objects.presign_post_v4(
        BUCKET, {"key": key, "Content-Type": "video/quicktime"},
        [{"key": key}, {"Content-Type": "video/quicktime"},
         ["content-length-range", 1, MAX_VIDEO_BYTES]],
        int(UPLOAD_WINDOW.total_seconds()),
    )
    call.services.store.put(CAPTURES, session_id, {
        "session_id": session_id, "session_group_id": group["id"], "athlete_id": athlete["id"],
        "org_id": organization["id"], "file_name": file_name,
        "capture_time": isoformat(capture_time), "created_at": isoformat(now),
        "upload_expires_at": isoformat(expires_at), "object_key": key,
        "camera_configuration": body["camera_configuration"],
        "movement_attributes": body["movement_attributes"],
    })
    return Reply(200, {
        "session_id": session_id, "session_group_id": group["id"],
        "upload_url": call.services.objects.bucket_url(call.host_url, BUCKET),
        "upload_fields": fields, "upload_expires_at": isoformat(expires_at), "status": "NEW",
    })


@operation("listCaptures")
def list_captures(call: Call) -> Reply:
    query = call.query
    stored = sorted(call.services.store.find(CAPTURES, {"org_id": call.principal["id"]}),
                    key=lambda capture: (capture["created_at"], capture["session_id"]),
                    reverse=True)
    captures = [capture for capture in (_public(call, c) for c in stored)
                if _matches(capture, query)]
    offset, limit = query.get("offset", 0), min(max(query.get("limit", 100), 1), 500)
    return Reply(200, {"captures": captures[offset:offset + limit], "total_count": len(captures),
                       "offset": offset, "limit": limit})


@operation("getCapture")
def get_capture(call: Call) -> Reply:
    capture = call.services.store.get(CAPTURES, call.path["captureId"])
    if capture is None or capture["org_id"] != call.principal["id"]:
        raise ApiError(404, "Capture not found.")
    return Reply(200, _public(call, capture))


def _own(call: Call, kind: str, key: str, message: str) -> dict[str, Any]:
    record = call.services.store.get(kind, key)
    if record is None or record["org_id"] != call.principal["id"]:
        raise ApiError(403, message)
    return record


def _session_group(call: Call, group_id: str, athlete: dict[str, Any]) -> dict[str, Any]:
    store = call.services.store
    group = store.get(GROUPS, group_id)
    if group is None:
        group = {"id": group_id, "org_id": call.principal["id"], "athlete_id": athlete["id"],
                 "source": "api"}
        store.put(GROUPS, group_id, group)
    if group["org_id"] != call.principal["id"]:
        raise ApiError(403, "session_group_id belongs to another organization.")
    if group["athlete_id"] != athlete["id"]:
        raise ApiError(400, "session_group_id belongs to another athlete.")
    if group.get("source") not in (None, "api"):
        raise ApiError(400, "session group is not eligible for API captures.")
    return group


def _capture_time(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    moment = parse_datetime(str(value))  # the spec's date-time format was checked already
    if moment > now:
        raise ApiError(400, "capture_time must not be in the future.")
    return moment


def _status(call: Call, capture: dict[str, Any]) -> tuple[str, str | None]:
    """awaiting_upload -> processing -> completed, or error when the window closes unused."""
    now = call.services.clock.now()
    uploaded = call.services.objects.head(BUCKET, capture["object_key"])
    if uploaded is not None:
        done = uploaded.uploaded_at + PROCESSING_TIME <= now
        return ("completed" if done else "processing"), None
    if now > parse_datetime(capture["upload_expires_at"]):
        return "error", "The upload window expired before the video was uploaded."
    return "awaiting_upload", None


def _public(call: Call, capture: dict[str, Any]) -> dict[str, Any]:
    """The published read shape: flat, with the movement dimensions at the top level."""
    status, error = _status(call, capture)
    movement = capture["movement_attributes"]
    dimensions = {k: v for k, v in movement.items() if k not in ("activity", "movement")}
    return {**dimensions, "session_id": capture["session_id"],
            "athlete_id": capture["athlete_id"], "activity": movement.get("activity"),
            "movement": movement.get("movement"), "status": status, "error": error,
            "capture_time": capture["capture_time"],
            "fps_detected": DETECTED_FPS if status == "completed" else None}


def _same_label(wanted: str | None, label: str | None) -> bool:
    """The published filters compare labels case-insensitively, trimmed."""
    return wanted is None or (label is not None
                              and wanted.strip().casefold() == label.strip().casefold())


def _matches(capture: dict[str, Any], query: Mapping[str, Any]) -> bool:
    return (
        query.get("athlete_id") in (None, capture["athlete_id"])
        and query.get("status") in (None, capture["status"])
        and query.get("source") in (None, "api")
        and _same_label(query.get("activity"), capture["activity"])
        and _same_label(query.get("movement"), capture["movement"])
    )


# -- fixtures ---------------------------------------------------------------------------

FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["organizations"],
    "additionalProperties": False,
    "properties": {
        "organizations": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "name", "api_keys"],
                "additionalProperties": False,
                "properties": {
                    "id": uuid_schema(), "name": {"type": "string"},
                    "profile": {"enum": ["primary", "secondary"]},
                    "execution_user": {"type": ["string", "null"]},
                    "api_keys": {"type": "array", "items": {"type": "string", "minLength": 8}},
                    "athletes": {"type": "array", "items": {
                        "type": "object", "required": ["id", "name"],
                        "additionalProperties": False,
                        "properties": {"id": uuid_schema(), "name": {"type": "string"}}}},
                    "session_groups": {"type": "array", "items": {
                        "type": "object", "required": ["id", "athlete_id"],
                        "additionalProperties": False,
                        "properties": {"id": uuid_schema(), "athlete_id": uuid_schema(),
                                       "source": {"type": ["string", "null"]}}}},
                },
            },
        },
    },
}


def seed(services: Services, section: Mapping[str, Any]) -> None:
    store = services.store
    for organization in section["organizations"]:
        org_id = organization["id"]
        store.put(ORGS, org_id, {"id": org_id, "name": organization["name"],
                                 "execution_user": organization.get("execution_user")})
        for key in organization["api_keys"]:
            store.put(KEYS, key, {"org_id": org_id})
        athletes = {athlete["id"] for athlete in organization.get("athletes", [])}
        for athlete in organization.get("athletes", []):
            store.put(ATHLETES, athlete["id"], {**athlete, "org_id": org_id})
        for group in organization.get("session_groups", []):
            if group["athlete_id"] not in athletes:
                raise FixturesError(f"uplift: session group {group['id']} names athlete "
                                    f"{group['athlete_id']}, not one of {organization['name']}'s")
            store.put(GROUPS, group["id"], {"source": "api", **group, "org_id": org_id})


def profile(section: Mapping[str, Any]) -> dict[str, Any]:
    accounts: dict[str, Any] = {}
    for organization in section["organizations"]:
        role = organization.get("profile")
        if role is None:
            continue
        account = {"api_key": organization["api_keys"][0]}
        if organization.get("athletes"):
            account["athlete_id"] = organization["athletes"][0]["id"]
        if organization.get("session_groups"):
            account["session_group_id"] = organization["session_groups"][0]["id"]
        accounts[role] = account
    return accounts


def credential(request: Request) -> str | None:
    return bearer_token(request)


API = VendorApi(
    name="uplift", handlers=handlers, error_body=error_body, authenticate=authenticate,
    credential=credential, fixture_schema=FIXTURE_SCHEMA, seed=seed, profile=profile,
    kinds=(ORGS, KEYS, ATHLETES, GROUPS, CAPTURES),
)
