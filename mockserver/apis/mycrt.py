"""MyCRT: captures of an environment's database workload, behind a cookie session.

Users log in (``POST /users/login``) and get a ``MyCRTAuthToken`` cookie; the session lives
in the state store until logout or reset (no expiry, so a test that moves the clock by days
keeps its session). A user sees only the environments they are a member of; only a
capture's owner or an admin of its environment may stop, edit or delete it.

Lifecycle. A capture stores a *timeline*: a list of ``{status, at}`` phases, oldest first,
and its status is the last phase whose ``at`` is not after the mock clock's now. Nothing
runs in the background: moving the clock (``POST /__admin/clock``) moves every capture.

* Created now: STARTED, STARTING 2 s later, RUNNING 5 s after creation.
* Created SCHEDULED: SCHEDULED until ``scheduledStart`` (or now, if that is past), then the
  same STARTED -> STARTING -> RUNNING sequence.
* With ``duration``: ``scheduledEnd`` = begin + duration, where the timeline gets STOPPING,
  and DONE 3 s later.
* ``POST /captures/{id}/stop`` on a RUNNING capture drops the phases still ahead and appends
  STOPPING now and DONE 3 s later. ``end`` is the moment the recording stopped (the stop
  call or ``scheduledEnd``); it shows once the capture is DONE.

Fixture captures keep their stated status from every reset on. Transient ones hold it for
``FIXTURE_HOLD`` (60 s of mock time) and then carry on: STARTED -> STARTING -> RUNNING,
STARTING -> RUNNING, STOPPING -> DONE. RUNNING stays RUNNING until stopped, or until its
``scheduledEnd`` if it has one (which must then lie after it is RUNNING). SCHEDULED stays
SCHEDULED until its ``scheduledStart``, which must be in the future. DONE and FAILED never
change; their times are history, shown as given.

Metrics are CloudWatch-like series, one data point per minute over the capture's running
time (its first STARTED/STARTING/RUNNING phase to its end, or to now while it runs), at most
the latest ``MAX_DATA_POINTS``. Each value is a hash of (capture id, metric, timestamp)
scaled into a plausible range for the metric, so the same call always gives the same data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Request

from mockserver.clock import isoformat, parse_datetime
from mockserver.fixtures import FixturesError
from mockserver.store import StateStore
from mockserver.validation import Problem
from mockserver.vendor import ApiError, Call, Reply, Services, VendorApi, registry

COOKIE = "MyCRTAuthToken"

USERS, SESSIONS, ENVIRONMENTS, CAPTURES = (
    "mycrt.user", "mycrt.session", "mycrt.environment", "mycrt.capture"
)
CAPTURE_COUNTER = "mycrt.capture"

SCHEDULED, STARTED, STARTING, RUNNING = "SCHEDULED", "STARTED", "STARTING", "RUNNING"
STOPPING, DONE, FAILED = "STOPPING", "DONE", "FAILED"
STATUSES = (SCHEDULED, STARTED, STARTING, RUNNING, STOPPING, DONE, FAILED)
#: phases in which the capture records workload (metrics have data from the first one)
RECORDING = frozenset({STARTED, STARTING, RUNNING})

STARTED_FOR = timedelta(seconds=2)
STARTING_FOR = timedelta(seconds=3)
STOPPING_FOR = timedelta(seconds=3)
FIXTURE_HOLD = timedelta(seconds=60)
MIN_DURATION_SECONDS = 60

NOT_LOGGED_IN = "You must be logged in"
LOGIN_REQUIRED = "login required"
WRONG_PASSWORD = "Invalid Password"
UNKNOWN_USER = "User not found"
NOT_MEMBER = "Unauthorized"
NOT_OWNER_OR_ADMIN = "Only the capture's owner or an environment admin can do this"
ENVIRONMENT_NOT_FOUND = "Environment does not exist"
CAPTURE_ENVIRONMENT_NOT_FOUND = "Capture's environment not found"
CAPTURE_NOT_FOUND = "Capture not found"
DUPLICATE_NAME = "Capture with the same name already exists in this environment"
DURATION_TOO_SHORT = "Duration must be at least 60 seconds"
SCHEDULE_WITHOUT_START = "Cannot schedule without a schedule start time"
SCHEDULE_TOO_FAR = "The schedule ends beyond the latest time the service can represent"
ALREADY_STOPPED = "This capture has already been stopped"
CAPTURE_FAILED = "This capture failed and is no longer running"
NOT_STARTED_YET = "Cannot stop a capture until it has started completely. Try again soon."

#: why a capture that is not RUNNING cannot be stopped
STOP_REFUSALS = {
    STOPPING: ALREADY_STOPPED, DONE: ALREADY_STOPPED, FAILED: CAPTURE_FAILED,
    SCHEDULED: NOT_STARTED_YET, STARTED: NOT_STARTED_YET, STARTING: NOT_STARTED_YET,
}

handlers, operation = registry()


@dataclass(frozen=True)
class Session:
    token: str
    user: dict[str, Any]


@dataclass(frozen=True)
class Metric:
    type: str
    label: str
    unit: str
    low: float
    high: float
    whole: bool  # byte counts are whole numbers


GIB = 1024**3
MB = 1000**2
METRICS = (
    Metric("CPU UTILIZATION", "CPUUtilization", "Percent", 0.5, 95.0, whole=False),
    Metric("READ IOPS", "ReadIOPS", "Count/Second", 0.0, 250.0, whole=False),
    Metric("WRITE IOPS", "WriteIOPS", "Count/Second", 0.0, 150.0, whole=False),
    Metric("FREEABLE MEMORY", "FreeableMemory", "Bytes", 0.5 * GIB, 8.0 * GIB, whole=True),
    Metric("FREE STORAGE", "FreeStorageSpace", "Bytes", 5.0 * GIB, 100.0 * GIB, whole=True),
    Metric("READ THROUGHPUT", "ReadThroughput", "Bytes/Second", 0.0, 20.0 * MB, whole=False),
    Metric("WRITE THROUGHPUT", "WriteThroughput", "Bytes/Second", 0.0, 10.0 * MB, whole=False),
)
METRIC_PERIOD = timedelta(minutes=1)
MAX_DATA_POINTS = 1440


def error_body(status: int, message: str, problems: list[Problem]) -> dict[str, Any]:
    return {"code": status, "message": message}


def credential(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def authenticate(call: Call, required: bool) -> Session | None:
    token = credential(call.request)
    if token is None and not required:
        return None
    session = call.services.store.get(SESSIONS, token) if token else None
    user = call.services.store.get(USERS, str(session["user_id"])) if session else None
    if token is None or user is None:
        raise _not_logged_in(call)
    return Session(token, user)


def _not_logged_in(call: Call) -> ApiError:
    """The service's captures router answers 403 "login required"; /users keeps its 401."""
    if call.operation.path.startswith("/captures"):
        return ApiError(403, LOGIN_REQUIRED)
    return ApiError(401, NOT_LOGGED_IN)


# -- users ------------------------------------------------------------------------------

@operation("login")
def login(call: Call) -> Reply:
    store = call.services.store
    matches = store.find(USERS, {"email_key": str(call.body["email"]).lower()})
    if not matches:
        raise ApiError(403, UNKNOWN_USER)
    user = matches[0]
    if not hmac.compare_digest(user["password"].encode(), str(call.body["password"]).encode()):
        raise ApiError(403, WRONG_PASSWORD)
    for earlier in store.find(SESSIONS, {"user_id": user["id"]}):
        store.delete(SESSIONS, earlier["token"])  # one session per user, as the service keeps
    token = secrets.token_hex(32)
    store.put(SESSIONS, token, {"token": token, "user_id": user["id"],
                                "created_at": isoformat(call.services.clock.now())})
    return Reply(200, _public_user(user), {"Set-Cookie": _cookie(call, token)})


@operation("logout")
def logout(call: Call) -> Reply:
    call.services.store.delete(SESSIONS, call.principal.token)
    return Reply(200, {}, {"Set-Cookie": _cookie(call, "", "Max-Age=0; ")})


def _cookie(call: Call, value: str, lifetime: str = "") -> str:
    """The session cookie. The service sets it with no SameSite, which browsers treat as
    Lax: sent to the same site (any port of the same host), so a page on 127.0.0.1:3000
    calling the mock on 127.0.0.1:8000 keeps its session. Over https (directly or behind a
    proxy saying ``X-Forwarded-Proto: https``) it is ``SameSite=None; Secure``, the only
    kind a browser sends from a page on another site; browsers refuse it without https."""
    same_site = "SameSite=None; Secure" if call.request.is_secure else "SameSite=Lax"
    return f"{COOKIE}={value}; {lifetime}Path=/; HttpOnly; {same_site}"


@operation("getCurrentUser")
def get_current_user(call: Call) -> Reply:
    return Reply(200, _public_user(call.principal.user))


def _public_user(user: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "email": user["email"], "isAdmin": user["isAdmin"]}


# -- captures ---------------------------------------------------------------------------

@operation("listCaptures")
def list_captures(call: Call) -> Reply:
    env_id, name = call.query.get("envId"), call.query.get("name")
    if env_id is None:
        environments = _member_environments(call)
    else:
        environment = _environment_or_404(call, env_id, ENVIRONMENT_NOT_FOUND)
        _require_member(call, environment)
        environments = [environment]
    now = call.services.clock.now()
    captures = [
        capture
        for environment in environments
        for capture in call.services.store.find(CAPTURES, {"envId": environment["id"]})
        if name is None or capture["name"] == name
    ]
    captures.sort(key=lambda capture: capture["id"])
    if not captures and env_id is not None and name is not None:
        return Reply(200, None)  # the service's name check: any truthy answer means "taken"
    return Reply(200, [_public_capture(capture, now) for capture in captures])


@operation("createCapture")
def create_capture(call: Call) -> Reply:
    body, now = call.body, call.services.clock.now()
    environment = _environment_or_404(call, body["envId"], ENVIRONMENT_NOT_FOUND)
    _require_member(call, environment)
    duration = _duration(body.get("duration"))
    scheduled_start = _readable_time(body.get("scheduledStart"))
    if body.get("status") == SCHEDULED and scheduled_start is None:
        raise ApiError(400, SCHEDULE_WITHOUT_START)
    _require_unique_name(call, environment["id"], body["name"])
    begin = (max(scheduled_start, now)
             if body.get("status") == SCHEDULED and scheduled_start is not None else None)
    try:
        phases, scheduled_end = _planned_phases(now, begin, duration)
    except OverflowError:
        raise ApiError(400, SCHEDULE_TOO_FAR) from None
    capture_id = _next_capture_id(call.services.store)
    capture = _capture_document(
        capture_id, body["name"], environment["id"], call.principal.user["id"], phases,
        start=body.get("start"), scheduled_start=body.get("scheduledStart") if begin else None,
        scheduled_end=_shown_time(scheduled_end), stopped_at=scheduled_end, reason=None,
    )
    call.services.store.put(CAPTURES, str(capture_id), capture)
    return Reply(200, _public_capture(capture, now))


@operation("getCapture")
def get_capture(call: Call) -> Reply:
    capture = _visible_capture(call)
    return Reply(200, _public_capture(capture, call.services.clock.now()))


@operation("editCapture")
def edit_capture(call: Call) -> Reply:
    capture = _changeable_capture(call)
    name = call.body["name"]
    if name != capture["name"]:
        _require_unique_name(call, capture["envId"], name)
    call.services.store.put(CAPTURES, str(capture["id"]), {**capture, "name": name})
    return Reply(200, has_body=False)


@operation("deleteCapture")
def delete_capture(call: Call) -> Reply:
    capture = _changeable_capture(call)
    call.services.store.delete(CAPTURES, str(capture["id"]))
    return Reply(200, has_body=False)


@operation("stopCapture")
def stop_capture(call: Call) -> Reply:
    capture, now = _changeable_capture(call), call.services.clock.now()
    status = _status(capture, now)
    if status != RUNNING:
        raise ApiError(409, STOP_REFUSALS[status])
    call.services.store.put(CAPTURES, str(capture["id"]), _stopped(capture, now))
    return Reply(200, has_body=False)


@operation("getCaptureMetrics")
def get_capture_metrics(call: Call) -> Reply:
    capture = _visible_capture(call)
    wanted = call.query.get("type")
    minutes = _metric_minutes(capture, call.services.clock.now())
    series = [_series(capture["id"], metric, minutes)
              for metric in METRICS if wanted in (None, metric.type)]
    return Reply(200, series)


# -- access -----------------------------------------------------------------------------

def _environment_or_404(call: Call, env_id: int, message: str) -> dict[str, Any]:
    environment = call.services.store.get(ENVIRONMENTS, str(env_id))
    if environment is None:
        raise ApiError(404, message)
    return environment


def _member_environments(call: Call) -> list[dict[str, Any]]:
    user_id = call.principal.user["id"]
    return [environment for environment in call.services.store.find(ENVIRONMENTS)
            if user_id in environment["members"]]


def _require_member(call: Call, environment: Mapping[str, Any]) -> None:
    if call.principal.user["id"] not in environment["members"]:
        raise ApiError(401, NOT_MEMBER)


def _member_capture(call: Call, not_found: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The capture of the path and its environment, for a member of that environment."""
    capture = call.services.store.get(CAPTURES, str(call.path["id"]))
    if capture is None:
        raise ApiError(404, not_found)
    environment = _environment_or_404(call, capture["envId"], not_found)
    _require_member(call, environment)
    return capture, environment


def _visible_capture(call: Call) -> dict[str, Any]:
    """Reading a capture answers with the document's 404 for a missing capture too."""
    return _member_capture(call, CAPTURE_ENVIRONMENT_NOT_FOUND)[0]


def _changeable_capture(call: Call) -> dict[str, Any]:
    capture, environment = _member_capture(call, CAPTURE_NOT_FOUND)
    user_id = call.principal.user["id"]
    if user_id != capture["ownerId"] and user_id not in environment["admins"]:
        raise ApiError(403, NOT_OWNER_OR_ADMIN)
    return capture


def _require_unique_name(call: Call, env_id: int, name: str) -> None:
    if call.services.store.find(CAPTURES, {"envId": env_id, "name": name}):
        raise ApiError(400, DUPLICATE_NAME)


# -- create -----------------------------------------------------------------------------

def _duration(value: Any) -> timedelta | None:
    """NaN fails the comparison too, so it gets the documented message, not a crash."""
    if value is None:
        return None
    if not value >= MIN_DURATION_SECONDS:
        raise ApiError(400, DURATION_TOO_SHORT)
    try:
        return timedelta(seconds=value)
    except OverflowError:
        raise ApiError(400, SCHEDULE_TOO_FAR) from None


def _readable_time(value: Any) -> datetime | None:
    """The spec treats a time the service cannot read like an absent one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _next_capture_id(store: StateStore) -> int:
    return store.next_id(CAPTURE_COUNTER)


def _planned_phases(now: datetime, scheduled_begin: datetime | None, duration: timedelta | None,
                    ) -> tuple[list[tuple[str, datetime]], datetime | None]:
    """A new capture's timeline and scheduled end.

    Raises OverflowError when the schedule runs past what a datetime can hold; it is
    computed before an id is drawn, so a refused create does not use one up.
    """
    begin = scheduled_begin or now
    waiting = [(SCHEDULED, now)] if scheduled_begin else []
    scheduled_end = begin + duration if duration is not None else None
    return _until_scheduled_end([*waiting, *_start_now(begin)], scheduled_end)


def _shown_time(moment: datetime | None) -> str | None:
    return isoformat(moment) if moment else None


def _capture_document(capture_id: int, name: str, env_id: int, owner_id: int,
                      phases: list[tuple[str, datetime]], *, start: str | None,
                      scheduled_start: str | None, scheduled_end: str | None,
                      stopped_at: datetime | None, reason: str | None) -> dict[str, Any]:
    """``start`` is the time given on create (echoed as sent); None means "derive it"."""
    return {
        "id": capture_id, "name": name, "envId": env_id, "ownerId": owner_id,
        "start": start, "scheduledStart": scheduled_start, "scheduledEnd": scheduled_end,
        "reason": reason,
        "timeline": [{"status": status, "at": isoformat(at)} for status, at in phases],
        "stoppedAt": isoformat(stopped_at) if stopped_at else None,
    }


# -- lifecycle --------------------------------------------------------------------------

def _start_sequence(started_at: datetime, starting_at: datetime,
                    running_at: datetime) -> list[tuple[str, datetime]]:
    return [(STARTED, started_at), (STARTING, starting_at), (RUNNING, running_at)]


def _start_now(begin: datetime) -> list[tuple[str, datetime]]:
    return _start_sequence(begin, begin + STARTED_FOR, begin + STARTED_FOR + STARTING_FOR)


def _stop_sequence(stopping_at: datetime, done_at: datetime) -> list[tuple[str, datetime]]:
    return [(STOPPING, stopping_at), (DONE, done_at)]


def _until_scheduled_end(phases: list[tuple[str, datetime]], scheduled_end: datetime | None,
                         ) -> tuple[list[tuple[str, datetime]], datetime | None]:
    """The phases and the moment recording stops, with the stop a scheduled end brings."""
    if scheduled_end is None:
        return phases, None
    return [*phases, *_stop_sequence(scheduled_end, scheduled_end + STOPPING_FOR)], scheduled_end


def _phases(capture: Mapping[str, Any]) -> Iterator[tuple[str, datetime]]:
    for phase in capture["timeline"]:
        yield phase["status"], parse_datetime(phase["at"])


def _status(capture: Mapping[str, Any], now: datetime) -> str:
    """Before its first phase (the clock set back past it) a capture shows that phase."""
    current: str = capture["timeline"][0]["status"]
    for status, at in _phases(capture):
        if at > now:
            break
        current = status
    return current


def _began_at(capture: Mapping[str, Any], now: datetime) -> datetime | None:
    for status, at in _phases(capture):
        if at > now:
            return None
        if status in RECORDING:
            return at
    return None


def _ended_at(capture: Mapping[str, Any]) -> datetime | None:
    """When recording stopped: the stop (or scheduled end), or the moment it failed."""
    if capture["stoppedAt"]:
        return parse_datetime(capture["stoppedAt"])
    failed = [at for status, at in _phases(capture) if status == FAILED]
    return failed[0] if failed else None


def _stopped(capture: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Phases still ahead (a scheduled end) give way to the stop that happens now."""
    past = [(status, at) for status, at in _phases(capture) if at <= now]
    phases = past + _stop_sequence(now, now + STOPPING_FOR)
    return {**capture, "stoppedAt": isoformat(now),
            "timeline": [{"status": status, "at": isoformat(at)} for status, at in phases]}


def _status_and_beginning(capture: Mapping[str, Any],
                          now: datetime) -> tuple[str, datetime | None]:
    """``_status`` and ``_began_at`` in one walk of the timeline (a list shows every
    capture on every request)."""
    timeline = capture["timeline"]
    status, began = timeline[0]["status"], None
    for phase in timeline:
        at = parse_datetime(phase["at"])
        if at > now:
            break
        status = phase["status"]
        if began is None and status in RECORDING:
            began = at
    return status, began


def _public_capture(capture: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    status, began = _status_and_beginning(capture, now)
    stopped = capture["stoppedAt"] if status in (DONE, FAILED) else None
    return {
        "id": capture["id"], "name": capture["name"],
        "start": capture["start"] if capture["start"] is not None else _shown_time(began),
        "scheduledStart": capture["scheduledStart"], "scheduledEnd": capture["scheduledEnd"],
        "end": stopped,
        "status": status, "envId": capture["envId"], "type": "CAPTURE",
        "reason": capture["reason"],
    }


# -- metrics ----------------------------------------------------------------------------

def _metric_minutes(capture: Mapping[str, Any], now: datetime) -> list[datetime]:
    """The starts of the minutes the capture recorded in, the latest MAX_DATA_POINTS."""
    began = _began_at(capture, now)
    if began is None:
        return []
    ended = _ended_at(capture)
    until = min(ended, now) if ended else now
    first, last = _minute(began), _minute(until)
    count = int((last - first) / METRIC_PERIOD) + 1
    first = max(first, last - (MAX_DATA_POINTS - 1) * METRIC_PERIOD)
    return [first + index * METRIC_PERIOD for index in range(min(count, MAX_DATA_POINTS))]


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _series(capture_id: int, metric: Metric, minutes: list[datetime]) -> dict[str, Any]:
    return {
        "label": metric.label, "type": metric.type, "displayName": metric.type,
        "dataPoints": [
            {"Timestamp": isoformat(minute), "Maximum": _metric_value(capture_id, metric, minute),
             "Unit": metric.unit}
            for minute in minutes
        ],
    }


def _metric_value(capture_id: int, metric: Metric, minute: datetime) -> float:
    """A level per capture and metric plus jitter per minute, so a series looks like load."""
    level = _unit_hash(capture_id, metric.label)
    jitter = _unit_hash(capture_id, metric.label, isoformat(minute))
    value = metric.low + (metric.high - metric.low) * (0.7 * level + 0.3 * jitter)
    return float(round(value)) if metric.whole else round(value, 6)


def _unit_hash(*parts: object) -> float:
    """A number in [0, 1) that depends only on ``parts``."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- fixtures ---------------------------------------------------------------------------

def _nullable_time() -> dict[str, Any]:
    return {"type": ["string", "null"], "minLength": 1}


def _id_list() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True}


def _status_is(*statuses: str) -> dict[str, Any]:
    return {"properties": {"status": {"enum": list(statuses)}}, "required": ["status"]}


def _account_schema() -> dict[str, Any]:
    return {"type": "object", "required": ["user", "env_id"], "additionalProperties": False,
            "properties": {"user": {"type": "integer", "minimum": 1},
                           "env_id": {"type": "integer", "minimum": 1}}}


FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["users", "environments", "profile"],
    "additionalProperties": False,
    "properties": {
        "users": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id", "email", "password", "isAdmin"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                "password": {"type": "string", "minLength": 1},
                "isAdmin": {"type": "boolean"},
            }}},
        "environments": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id", "name", "members", "admins"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1}, "name": {"type": "string"},
                "members": _id_list(), "admins": _id_list(),
            }}},
        "captures": {"type": "array", "items": {
            "type": "object", "required": ["id", "name", "envId", "ownerId", "status"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "minLength": 1},
                "envId": {"type": "integer", "minimum": 1},
                "ownerId": {"type": "integer", "minimum": 1},
                "status": {"enum": list(STATUSES)},
                "start": _nullable_time(), "end": _nullable_time(),
                "scheduledStart": _nullable_time(), "scheduledEnd": _nullable_time(),
                "reason": {"type": ["string", "null"]},
            },
            "allOf": [
                {"if": _status_is(FAILED),
                 "then": {"required": ["reason"],
                          "properties": {"reason": {"type": "string", "minLength": 1}}},
                 "else": {"properties": {"reason": {"type": "null"}}}},
                {"if": _status_is(DONE), "then": {"required": ["start", "end"],
                                                  "properties": {"start": {"type": "string"},
                                                                 "end": {"type": "string"}}}},
                {"if": _status_is(DONE, FAILED), "else": {"properties": {"end": {"type": "null"}}}},
                {"if": _status_is(SCHEDULED),
                 "then": {"required": ["scheduledStart"],
                          "properties": {"scheduledStart": {"type": "string"},
                                         "start": {"type": "null"}}}},
            ],
        }},
        "profile": {"type": "object", "required": ["primary", "secondary"],
                    "additionalProperties": False,
                    "properties": {"primary": _account_schema(),
                                   "secondary": _account_schema()}},
    },
}


def seed(services: Services, section: Mapping[str, Any]) -> None:
    store, now = services.store, services.clock.now()
    users = _seed_users(store, section["users"])
    environments = _seed_environments(store, section["environments"], users)
    _check_profile(section["profile"], environments)
    for fixture in section.get("captures", []):
        _seed_capture(store, fixture, environments, now)
        store.raise_counter(CAPTURE_COUNTER, fixture["id"])


def _seed_users(store: StateStore, users: list[Mapping[str, Any]]) -> set[int]:
    seen_emails: set[str] = set()
    for user in users:
        email_key = user["email"].lower()
        if store.get(USERS, str(user["id"])) is not None:
            raise FixturesError(f"mycrt: two users have the id {user['id']}")
        if email_key in seen_emails:
            raise FixturesError(f"mycrt: two users have the email {user['email']}")
        seen_emails.add(email_key)
        store.put(USERS, str(user["id"]), {**user, "email_key": email_key})
    return {user["id"] for user in users}


def _seed_environments(store: StateStore, environments: list[Mapping[str, Any]],
                       users: set[int]) -> dict[int, Mapping[str, Any]]:
    for environment in environments:
        label = f"mycrt: environment {environment['id']}"
        if store.get(ENVIRONMENTS, str(environment["id"])) is not None:
            raise FixturesError(f"mycrt: two environments have the id {environment['id']}")
        for member in environment["members"]:
            if member not in users:
                raise FixturesError(f"{label} has member {member}, who is no user")
        for admin in environment["admins"]:
            if admin not in environment["members"]:
                raise FixturesError(f"{label} has admin {admin}, who is not one of its members")
        store.put(ENVIRONMENTS, str(environment["id"]), dict(environment))
    return {environment["id"]: environment for environment in environments}


def _check_profile(accounts: Mapping[str, Any],
                   environments: Mapping[int, Mapping[str, Any]]) -> None:
    """The conformance suite relies on who may see what (INTERFACES.md)."""
    primary, secondary = accounts["primary"], accounts["secondary"]
    for role, account in accounts.items():
        environment = environments.get(account["env_id"])
        if environment is None:
            raise FixturesError(f"mycrt: profile {role} names environment {account['env_id']}, "
                                "which does not exist")
        if account["user"] not in environment["members"]:
            raise FixturesError(f"mycrt: profile {role}: user {account['user']} is not a "
                                f"member of environment {account['env_id']}")
    if primary["user"] not in environments[primary["env_id"]]["admins"]:
        raise FixturesError(f"mycrt: profile primary: user {primary['user']} must be an admin "
                            f"of environment {primary['env_id']}")
    if secondary["user"] in environments[primary["env_id"]]["members"]:
        raise FixturesError(f"mycrt: profile secondary: user {secondary['user']} must not be a "
                            f"member of the primary's environment {primary['env_id']}")


def _seed_capture(store: StateStore, fixture: Mapping[str, Any],
                  environments: Mapping[int, Mapping[str, Any]], now: datetime) -> None:
    label = f"mycrt: capture {fixture['id']}"
    if store.get(CAPTURES, str(fixture["id"])) is not None:
        raise FixturesError(f"mycrt: two captures have the id {fixture['id']}")
    environment = environments.get(fixture["envId"])
    if environment is None:
        raise FixturesError(f"{label} names environment {fixture['envId']}, which does not exist")
    if fixture["ownerId"] not in environment["members"]:
        raise FixturesError(f"{label}: owner {fixture['ownerId']} is not a member of "
                            f"environment {fixture['envId']}")
    if store.find(CAPTURES, {"envId": fixture["envId"], "name": fixture["name"]}):
        raise FixturesError(f"{label}: environment {fixture['envId']} already has a capture "
                            f"named {fixture['name']!r}")
    times = {field: _fixture_time(fixture, field, label)
             for field in ("start", "end", "scheduledStart", "scheduledEnd")}
    try:
        phases, stopped_at = _fixture_timeline(fixture["status"], times, now, label)
    except OverflowError:
        raise FixturesError(f"{label}: its times are too close to the year 9999") from None
    store.put(CAPTURES, str(fixture["id"]), _capture_document(
        fixture["id"], fixture["name"], fixture["envId"], fixture["ownerId"], phases,
        start=_shown_time(times["start"]), scheduled_start=_shown_time(times["scheduledStart"]),
        scheduled_end=_shown_time(times["scheduledEnd"]), stopped_at=stopped_at,
        reason=fixture.get("reason"),
    ))


def _fixture_time(fixture: Mapping[str, Any], field: str, label: str) -> datetime | None:
    text = fixture.get(field)
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except ValueError as error:
        raise FixturesError(f"{label}: {field} {text!r}: {error}") from None


def _fixture_timeline(status: str, times: Mapping[str, datetime | None], now: datetime,
                      label: str) -> tuple[list[tuple[str, datetime]], datetime | None]:
    """The stated status holds from the reset (``now``); see the module docstring."""
    start = times["start"] or now
    if start > now:
        raise FixturesError(f"{label}: start {isoformat(start)} is in the future")
    if status in (DONE, FAILED):
        return _finished_timeline(status, times, now, label)
    if status == STOPPING:
        return [(RUNNING, start), *_stop_sequence(now, now + FIXTURE_HOLD)], now
    phases = _active_timeline(status, start, times["scheduledStart"], now, label)
    return _fixture_scheduled_end(phases, times["scheduledEnd"], label)


def _finished_timeline(status: str, times: Mapping[str, datetime | None], now: datetime,
                       label: str) -> tuple[list[tuple[str, datetime]], datetime | None]:
    start, end = times["start"], times["end"]
    if start and end and end < start:
        raise FixturesError(f"{label}: end {isoformat(end)} is before start {isoformat(start)}")
    if end and end > now:
        raise FixturesError(f"{label}: end {isoformat(end)} is in the future")
    recorded = [(RUNNING, start)] if start else []
    return [*recorded, (status, end or start or now)], end


def _active_timeline(status: str, start: datetime, scheduled_start: datetime | None,
                     now: datetime, label: str) -> list[tuple[str, datetime]]:
    hold = now + FIXTURE_HOLD
    if status == SCHEDULED:
        if scheduled_start is None or scheduled_start <= now:
            raise FixturesError(f"{label}: a SCHEDULED capture needs a scheduledStart in the "
                                "future")
        return [(SCHEDULED, now), *_start_now(scheduled_start)]
    if status == STARTED:
        return _start_sequence(start, hold, hold + STARTING_FOR)
    if status == STARTING:
        return _start_sequence(start, now, hold)
    return [(RUNNING, start)]


def _fixture_scheduled_end(phases: list[tuple[str, datetime]], scheduled_end: datetime | None,
                           label: str) -> tuple[list[tuple[str, datetime]], datetime | None]:
    """A capture still to run until its scheduled end must reach RUNNING before it."""
    if scheduled_end is not None and scheduled_end <= phases[-1][1]:
        raise FixturesError(f"{label}: scheduledEnd {isoformat(scheduled_end)} comes before the "
                            "capture is RUNNING, so it could not be in its stated status")
    return _until_scheduled_end(phases, scheduled_end)


def profile(section: Mapping[str, Any]) -> dict[str, Any]:
    users = {user["id"]: user for user in section["users"]}
    return {
        role: {"email": users[account["user"]]["email"],
               "password": users[account["user"]]["password"], "env_id": account["env_id"]}
        for role, account in section["profile"].items()
    }


API = VendorApi(
    name="mycrt", handlers=handlers, error_body=error_body, authenticate=authenticate,
    credential=credential, fixture_schema=FIXTURE_SCHEMA, seed=seed, profile=profile,
    kinds=(USERS, SESSIONS, ENVIRONMENTS, CAPTURES),
)
