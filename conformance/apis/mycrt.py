"""MyCRT: captures of an environment, behind the ``MyCRTAuthToken`` session cookie.

The model follows the lifecycle the spec documents (``Capture.status``): a capture created
now is STARTED, then STARTING, then RUNNING; a stop makes it STOPPING, then DONE with
``end`` set. Where the mock clock answers, the model moves it instead of waiting and holds
the server to the mock's documented timings (STARTING after 2 s, RUNNING after 5 s, DONE
3 s after the stop); elsewhere it accepts every status the lifecycle allows at that point,
so the same model judges a real MyCRT, whose timings the document does not give, and the
flows wait in real time (``Session.wait_until``, at most ``--max-wait`` each).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, initialize, multiple

from conformance import baseline, checks
from conformance.baseline import Variant
from conformance.cleanup import Disposal, body_field, release
from conformance.generation.positive import Pins
from conformance.results import Failure
from conformance.session import Session, SetupError
from conformance.spec import Location, Operation
from conformance.stateful import ModelDiverged, ModelMachine, model_rule
from conformance.transport import NO_CREDENTIALS, Case, Credentials, Exchange
from vendor_specs.sources import ROOT

COOKIE = "MyCRTAuthToken"
_TOKEN = re.compile(COOKIE + r"=([^;,\s]+)")

SCHEDULED, STARTED, STARTING, RUNNING = "SCHEDULED", "STARTED", "STARTING", "RUNNING"
STOPPING, DONE, FAILED = "STOPPING", "DONE", "FAILED"
#: the order a capture goes through; it never moves back
LIFECYCLE = (SCHEDULED, STARTED, STARTING, RUNNING, STOPPING, DONE)

# The messages the document (and the spec's examples) give for each business rule.
DUPLICATE_NAME = "Capture with the same name already exists in this environment"
DURATION_TOO_SHORT = "Duration must be at least 60 seconds"
SCHEDULE_WITHOUT_START = "Cannot schedule without a schedule start time"
ENVIRONMENT_NOT_FOUND = "Environment does not exist"
WRONG_PASSWORD = "Invalid Password"
UNKNOWN_USER = "User not found"
#: a non-member of the environment (spec, NotMember); no session on a captures call: 403
NOT_MEMBER_STATUS = 401
#: the document's delete ("Deletes a specific capture"): what a capture still there breaks
DELETED = (ROOT, "paths", "/captures/{id}", "delete")
ALREADY_STOPPED = "This capture has already been stopped"
CAPTURE_FAILED = "This capture failed and is no longer running"
NOT_STARTED_YET = "Cannot stop a capture until it has started completely. Try again soon."
#: why stopCapture refuses a capture in each status but RUNNING (spec, stopCapture)
STOP_REFUSALS = {SCHEDULED: NOT_STARTED_YET, STARTED: NOT_STARTED_YET,
                 STARTING: NOT_STARTED_YET, STOPPING: ALREADY_STOPPED, DONE: ALREADY_STOPPED,
                 FAILED: CAPTURE_FAILED}

#: the mock's timings (spec, Capture.status): seconds after the create or the stop
START_TIMINGS = ((0.0, STARTED), (2.0, STARTING), (5.0, RUNNING))
STOP_TIMINGS = ((0.0, STOPPING), (3.0, DONE))
SETTLE_SECONDS = 6
DONE_SECONDS = 4
#: a status window's upper end is widened by this much, for the server's rounding of
#: the times it keeps (milliseconds) and for reading two clocks
REAL_TIME_SLACK = 0.5
#: every capture the run makes stops by itself after at most this long, so a real MyCRT
#: does not record forever even when the clean-up cannot delete it (or --keep-data); far
#: beyond any one run's moves of the clock (at most 6 s per step)
MODEL_DURATION = 3600
SCHEDULE_LEAD_SECONDS = 120
#: in real time: a start just far enough ahead to see SCHEDULED and the early stop refused
REAL_LEAD_SECONDS = 5
#: in real time, how late after ``scheduledEnd`` a capture may still be RUNNING (requests
#: in flight, two clocks): past that the promised stop is overdue, a violation
STOP_GRACE_SECONDS = 3
SCHEDULED_DURATION = 60
#: an id no server has handed out to this run, when a capture could not be created
UNKNOWN_ID = 2**31 - 1

#: type -> (CloudWatch label, Unit), fixed by the spec's MetricSeries description
METRIC_SERIES = {
    "CPU UTILIZATION": ("CPUUtilization", "Percent"),
    "READ IOPS": ("ReadIOPS", "Count/Second"),
    "WRITE IOPS": ("WriteIOPS", "Count/Second"),
    "FREEABLE MEMORY": ("FreeableMemory", "Bytes"),
    "FREE STORAGE": ("FreeStorageSpace", "Bytes"),
    "READ THROUGHPUT": ("ReadThroughput", "Bytes/Second"),
    "WRITE THROUGHPUT": ("WriteThroughput", "Bytes/Second"),
}


def capture_named(session: Session, sent: Case, credentials: Credentials) -> int | None:
    """The one capture in the environment named as ``sent`` named it."""
    query = {key: sent.body[key] for key in ("name", "envId") if key in sent.body}
    listing = session.client.send(Case(session.operation("listCaptures"), query=query),
                                  credentials)
    ids = [item.get("id") for item in _items(listing) if item.get("name") == query["name"]]
    return ids[0] if len(ids) == 1 and isinstance(ids[0], int) else None


class MyCrtAdapter:
    name = "mycrt"
    #: the semantic checks this adapter's model and flows assert
    checks = ("business_rules", "delete_is_final", "duplicate_name", "isolation", "lifecycle",
              "metrics", "read_after_write", "schedule", "session", "unique_ids")
    protected_fields: frozenset[str] = frozenset()
    #: capture names (``unique_name``): a repro renews them, the run's may still exist
    generated_values = re.compile(r"cf-[0-9a-f]{6}-\d+")
    sign_ins = frozenset({"login"})
    #: the document allows a delete in any status: no stop is needed first
    disposals = (Disposal("capture", "createCapture", body_field("id"), "deleteCapture",
                          name_field="name", find=capture_named),)

    def sign_in(self, session: Session, account: Mapping[str, Any]) -> Credentials:
        exchange, token = login(session, account["email"], account["password"])
        if token is None:
            raise SetupError(
                f"mycrt: cannot log in as {account['email']}: POST /users/login answered "
                f"{exchange.status} {exchange.body[:200].decode('utf-8', 'replace')} "
                f"without a {COOKIE} cookie; check the profile's email and password")
        return session_cookie(token)

    def alive(self, session: Session, credentials: Credentials) -> bool:
        """The session cookie still names a session: the server may end one (a logout, a
        newer login of the same user where it keeps one session per user)."""
        probe = session.client.send(Case(session.operation("getCurrentUser")), credentials)
        return probe.status == 200

    def invalid_credentials(self) -> Credentials:
        return session_cookie("conformance0invalid0session0token")

    def pins(self, session: Session, operation: Operation) -> Pins | None:
        """Valid values only: a unique name, the primary's environment, a readable schedule,
        a duration of 60 s to an hour. Ids are of captures this run created, so the schema
        phase never stops, renames or deletes a capture it does not own (under --read-only:
        an id no capture has, and for reads one the environment holds). Login keeps its
        generated (wrong) credentials: a login that works would leave its cookie in the
        suite's client (see ``login``). Logout would end the primary's session; the
        session flow exercises both on a session of its own."""
        env_id = session.profile["primary"]["env_id"]
        fresh: dict[str, Any]
        readable: dict[str, Any]
        if session.settings.read_only:  # writes name no capture; reads one that is there
            reads = operation.operation_id in ("getCapture", "getCaptureMetrics")
            fresh = {"id": UNKNOWN_ID}
            readable = {"id": existing_capture_id(session) if reads else UNKNOWN_ID}
        else:
            fresh = readable = {"id": st.builds(lambda: fresh_capture_id(session))}
        table: dict[str, Pins | None] = {
            "listCaptures": Pins(query={"envId": env_id}),
            "createCapture": Pins(body={"name": names(), "envId": env_id,
                                        "scheduledStart": future_times(),
                                        "duration": durations()}),
            "getCapture": Pins(path=readable), "getCaptureMetrics": Pins(path=readable),
            "stopCapture": Pins(path=fresh), "deleteCapture": Pins(path=fresh),
            "editCapture": Pins(path=fresh, body={"name": names()}),
            "logout": None,
        }
        return table.get(operation.operation_id, Pins())

    def machine(self, session: Session) -> type[ModelMachine]:
        return type("MyCrtModel", (MyCrtModel,), {"session": session, "seen_ids": set()})

    def flows(self) -> Iterable[Callable[[Session], None]]:
        # the session flow last: its logins may end the primary's own session on a server
        # that keeps one per user, which would then be renewed (see Session.send)
        return [business_rules_flow, delete_flow, isolation_flow, metrics_flow,
                failed_capture_flow, stop_flow, schedule_flow, session_flow]


# -- requests ---------------------------------------------------------------------------

def session_cookie(token: str) -> Credentials:
    return Credentials(cookies={COOKIE: token})


def login(session: Session, email: str, password: str) -> tuple[Exchange, str | None]:
    exchange = session.client.send(Case(session.operation("login")).with_body(
        {"email": email, "password": password}))
    session.judge_response(exchange)
    match = _TOKEN.search(exchange.headers.get("Set-Cookie", ""))
    return exchange, match.group(1) if 200 <= exchange.status < 300 and match else None


def _sample_body(session: Session) -> dict[str, Any]:
    """The document's sample create (the spec's example), in the primary's environment
    under a name of the sample's kind made unique."""
    sample = baseline.sample(session.operation("createCapture"))
    return {**sample, "name": unique_name(str(sample.get("name") or "cf")[:10]),
            "envId": session.profile["primary"]["env_id"]}


def _required_body(session: Session, prefix: str = "cf", separator: str = "-") -> dict[str, Any]:
    return {"name": unique_name(prefix, separator),
            "envId": session.profile["primary"]["env_id"]}


#: the baseline create, safest last (conformance.baseline); every capture the run makes
#: also gets a ``duration`` (unless the check is about it), so it stops by itself
BASELINE = (
    Variant("the document's sample request", _sample_body),
    Variant("only the required fields", _required_body),
    Variant("only the required fields, a letters-and-digits name",
            lambda session: _required_body(session, separator="")),
)


def baseline_body(session: Session, **fields: Any) -> dict[str, Any]:
    """The accepted (or first) baseline variant's body with a duration, then ``fields``."""
    return {**baseline.current(session, "createCapture", BASELINE).body(session),
            "duration": MODEL_DURATION, **fields}


def create(session: Session, credentials: Credentials | None = None,
           **fields: Any) -> Exchange:
    """A create whose answer is the check (a refusal, say): the baseline as it stands."""
    return session.send("createCapture", credentials, body=baseline_body(session, **fields),
                        has_body=True)


def create_needed(session: Session, **fields: Any) -> Exchange:
    """A create the run needs to succeed: safer baseline variants until one is accepted."""
    return baseline.create(session, "createCapture", BASELINE, lambda body: session.send(
        "createCapture", body={**body, "duration": MODEL_DURATION, **fields}, has_body=True))


def fresh_capture_id(session: Session) -> int:
    """A capture of the primary's environment made for one request; a huge unknown id when
    the server would not create one (the create's answer is judged already). It stops
    by itself after a minute, so a real MyCRT does not keep recording it."""
    body = create_needed(session, duration=60).json_or_none()
    if isinstance(body, dict) and isinstance(body.get("id"), int):
        return int(body["id"])
    return UNKNOWN_ID


def existing_capture_id(session: Session) -> int:
    """A capture already in the primary's environment, to read under --read-only; an
    unknown id when there is none (the reads then check the documented 404)."""
    listing = session.send("listCaptures", query={"envId": session.profile["primary"]["env_id"]})
    ids = [item["id"] for item in _items(listing) if isinstance(item.get("id"), int)]
    return ids[0] if ids else UNKNOWN_ID


def unique_name(prefix: str = "cf", separator: str = "-") -> str:
    """``cf-<run>-<n>``: plain ASCII within the real MyCRT's ``^[a-zA-Z0-9 :_\\-]{4,25}$``,
    the tightest capture-name rule known, so a strict server accepts every name we send
    (a prefix of at most 10 characters keeps it so)."""
    return baseline.unique(prefix, separator)


def names() -> st.SearchStrategy[str]:
    return st.builds(unique_name)


def future_times() -> st.SearchStrategy[str]:
    """Readable schedules a day to a year ahead, in both forms the spec accepts."""
    def shown(seconds: int, spaced: bool) -> str:
        moment = datetime.now(UTC) + timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%d %H:%M:%S") if spaced else iso(moment)

    return st.builds(shown, st.integers(86_400, 365 * 86_400), st.booleans())


def durations() -> st.SearchStrategy[float]:
    """Bounded: a capture the schema phase creates stops by itself within the hour."""
    return st.one_of(st.integers(60, MODEL_DURATION),
                     st.floats(min_value=60, max_value=MODEL_DURATION, allow_nan=False))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def server_now(session: Session) -> datetime:
    """The mock's ``now`` (schedules must lie ahead of its clock, not of ours); without a
    mock clock, ours: a real server's is taken to be roughly right."""
    if session.clock is None:
        return datetime.now(UTC)
    parts = urlsplit(session.client.base_url)
    exchange = session.client.request("GET", f"{parts.scheme}://{parts.netloc}/__admin/clock")
    now = parse_time((exchange.json_or_none() or {}).get("now"))
    if exchange.status != 200 or now is None:
        raise SetupError(f"the mock clock answered {exchange.status}")
    return now


def message(exchange: Exchange) -> Any:
    body = exchange.json_or_none()
    return body.get("message") if isinstance(body, dict) else None


def answered(exchange: Exchange) -> str:
    return f"{exchange.status} {exchange.body[:200].decode('utf-8', 'replace')}"


def answer_failure(exchange: Exchange, status: int, text: str | None = None) -> Failure | None:
    """None when the answer has this status (and this documented message). For 200 any
    success will do: which 2xx is status_code_documented's to judge, once, rather than
    every semantic check's that follows a success. The rule is that answer's (its
    example, when the message is one)."""
    matches = 200 <= exchange.status < 300 if status == 200 else exchange.status == status
    if matches and (text is None or message(exchange) == text):
        return None
    expected = f"{status}" + (f" {text!r}" if text else "")
    return Failure(expected, answered(exchange), exchange.answer_at(status, text))


def gone_failure(exchange: Exchange) -> Failure | None:
    """The operation's 404 for a capture that does not exist, with its documented message
    (stop, edit and delete: "Capture not found"; get and metrics: "Capture's
    environment not found"). A capture still there breaks the delete itself."""
    examples = exchange.operation.documented_examples(404) if exchange.operation else []
    text = examples[0].get("message") if examples and isinstance(examples[0], dict) else None
    failure = answer_failure(exchange, 404, text)
    if failure is not None and 200 <= exchange.status < 300:  # still there: not deleted
        return Failure(failure.expected, failure.seen, DELETED)
    return failure


def refusal_failure(exchange: Exchange, *statuses: int) -> Failure | None:
    """A request the account may not make (not a member of the environment): refused
    with one of ``statuses``. Answering it breaks the document's permission (a rule at the
    spec's root); refusing it with another status, only the contract's choice of status
    (NotMember's note)."""
    if exchange.status in statuses:
        return None
    return Failure(f"status {' or '.join(map(str, statuses))}", answered(exchange),
                   checks.ISOLATION if exchange.status < 400 else exchange.answer_at(statuses[0]))


def field_mismatch(exchange: Exchange, expected: Mapping[str, Any], shown: Any = None,
                   at: Location | None = None) -> Failure | None:
    """The fields whose shown values (default: the answer's) differ from the expected
    ones, or None; by default the rule is the operation's success answer."""
    shown = exchange.json_or_none() if shown is None else shown
    shown = shown if isinstance(shown, dict) else {}
    wrong = {key: value for key, value in expected.items() if shown.get(key) != value}
    if not wrong:
        return None
    return Failure(", ".join(f"{key} = {value!r}" for key, value in wrong.items()),
                   ", ".join(f"{key} = {shown.get(key)!r}" for key in wrong),
                   exchange.answer_at(200) if at is None else at)


def status_at(exchange: Exchange) -> Location:
    """The lifecycle's rule: the decision on ``Capture.status``."""
    return exchange.field_at(200, "status")


def series_mismatch(exchange: Exchange, series: Any) -> Failure | None:
    """Type, label and Unit go together; data points come oldest first (MetricSeries)."""
    series = series if isinstance(series, dict) else {}
    label, unit = METRIC_SERIES.get(str(series.get("type")), (None, None))
    points = [p for p in series.get("dataPoints") or [] if isinstance(p, dict)]
    units = sorted({str(point.get("Unit")) for point in points} - {unit})
    at = exchange.field_at(200, "label")
    if series.get("label") != label or units:
        return Failure(f"label {label} and Unit {unit} for type {series.get('type')}",
                       f"label {series.get('label')}, other units {units}", at)
    parsed = [parse_time(point.get("Timestamp")) for point in points]
    stamps = [stamp for stamp in parsed if stamp is not None]
    if len(stamps) == len(parsed) and stamps != sorted(stamps):
        return Failure("data points oldest first", "out of order",
                       exchange.field_at(200, "dataPoints"))
    return None


def types_at(exchange: Exchange, wanted: str | None) -> Location:
    """The ``type`` filter's decision, or the series list's when none was asked for."""
    if exchange.operation is None:
        return ()
    return exchange.operation.parameter_at("type") if wanted else \
        exchange.operation.field_at(200, "type")


# -- flows: the parts of the contract one fixed sequence shows best ----------------------

def check(session: Session, name: str, exchange: Exchange, failure: Failure | None) -> bool:
    return session.expect(name, exchange.operation or "(flow)", failure, exchange)


def require(session: Session, name: str, exchange: Exchange, failure: Failure | None) -> None:
    """A step the rest of the flow depends on: the runner ends the flow quietly."""
    if not check(session, name, exchange, failure):
        raise ModelDiverged(name)


def skip(session: Session, name: str, reason: str) -> None:
    """A part of a check this target cannot support (no FAILED capture to use): reported,
    but it does not make the run incomplete."""
    session.results.skip(name, reason, exempt=True)


def created(session: Session, name: str, **fields: Any) -> tuple[Exchange, dict[str, Any]]:
    """A new capture the flow relies on: created, and found under its id (a lost write is
    reported as such, not as whatever the flow checks next). A ``start`` sent is echoed
    as sent (the spec), as the document's sample answer shows."""
    exchange = create_needed(session, **fields)
    # a refused create is reported once, as what it is: the checks that needed the capture
    # then record no verdict and are listed as not run, never as failures of their own
    require(session, "setup", exchange, answer_failure(exchange, 200))
    body = exchange.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("id"), int):
        raise ModelDiverged(name)  # response_schema has said why
    sent = baseline.sent(exchange)
    echoed = {"start": sent["start"]} if sent.get("start") is not None else {}
    check(session, "read_after_write", exchange, field_mismatch(exchange, echoed, body))
    found = session.send("getCapture", path_params={"id": body["id"]})
    require(session, "read_after_write", found, answer_failure(found, 200) or field_mismatch(
        found, {"id": body["id"], "name": body["name"]}))
    return exchange, body


def read_in_status(session: Session, name: str, capture_id: int,
                   *statuses: str) -> tuple[Exchange, dict[str, Any]]:
    """GET the capture and require it in one of ``statuses``."""
    exchange = session.send("getCapture", path_params={"id": capture_id})
    require(session, name, exchange, answer_failure(exchange, 200))
    body = exchange.json_or_none()
    status = body.get("status") if isinstance(body, dict) else None
    require(session, name, exchange, None if status in statuses else Failure(
        f"status {' or '.join(statuses)}", repr(status), status_at(exchange)))
    return exchange, body if isinstance(body, dict) else {}


def stop(session: Session, capture_id: int) -> Exchange:
    return session.send("stopCapture", path_params={"id": capture_id})


def session_flow(session: Session) -> None:
    """Wrong logins are refused; one session per user: a new login ends the earlier one;
    logout ends the current. A logout ends a session: --read-only stops before any."""
    account = session.profile["primary"]
    wrong, _ = login(session, account["email"], account["password"] + "-wrong")
    check(session, "session", wrong, answer_failure(wrong, 403, WRONG_PASSWORD))
    unknown, _ = login(session, "nobody." + account["email"], account["password"])
    check(session, "session", unknown, answer_failure(unknown, 403, UNKNOWN_USER))
    session.guard("logout")
    earlier = session.primary
    exchange, token = login(session, account["email"], account["password"])
    require(session, "session", exchange, None if token else
            Failure(f"200 with a {COOKIE} cookie", f"{exchange.status}",
                    exchange.answer_at(200)))
    own = session_cookie(str(token))
    ended = session.client.send(Case(session.operation("getCurrentUser")), earlier)
    check(session, "session", ended, answer_failure(ended, 401))
    me = session.send("getCurrentUser", own)
    check(session, "session", me, answer_failure(me, 200) or field_mismatch(
        me, {"email": account["email"]}))
    require(session, "session", out := session.send("logout", own), answer_failure(out, 200))
    after = session.send("getCurrentUser", own)
    check(session, "session", after, answer_failure(after, 401))
    for label, credentials in (("no", NO_CREDENTIALS),
                               ("invalid", session.adapter.invalid_credentials())):
        refused = session.send("logout", credentials)
        check(session, "auth_required", refused,
              checks.auth_required(session.operation("logout"), refused, label))
    session.primary = session.adapter.sign_in(session, account)
    still = session.send("getCurrentUser")
    check(session, "session", still, answer_failure(still, 200))


def business_rules_flow(session: Session) -> None:
    """The document's 400 and 404 answers of create and edit, each with its message: the
    refusals first, as --read-only sends them (the contract refuses each at once)."""
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({"duration": 30}, 400, DURATION_TOO_SHORT),
        ({"status": SCHEDULED}, 400, SCHEDULE_WITHOUT_START),
        ({"status": SCHEDULED, "scheduledStart": "not a time"}, 400, SCHEDULE_WITHOUT_START),
        ({"envId": UNKNOWN_ID}, 404, ENVIRONMENT_NOT_FOUND),
    ]
    for fields, status, text in refusals:
        with session.refusal_expected():
            refused = create(session, **fields)
        check(session, "business_rules", refused, answer_failure(refused, status, text))
    unknown = session.send("listCaptures", query={"envId": UNKNOWN_ID})
    check(session, "business_rules", unknown,
          answer_failure(unknown, 404, ENVIRONMENT_NOT_FOUND))
    _, first = created(session, "duplicate_name")
    again = create(session, name=first["name"])
    check(session, "duplicate_name", again, answer_failure(again, 400, DUPLICATE_NAME))
    _, second = created(session, "duplicate_name")
    edit = session.send("editCapture", path_params={"id": second["id"]},
                body={"name": first["name"]}, has_body=True)
    check(session, "duplicate_name", edit, answer_failure(edit, 400, DUPLICATE_NAME))
    finished_with(session, first["id"], second["id"])


def finished_with(session: Session, *capture_ids: int) -> None:
    """A flow is done with its captures: they go now, as the run's end would remove them
    (a real MyCRT keeps recording a capture until it is stopped or deleted)."""
    release(session, "capture", capture_ids)


def delete_flow(session: Session) -> None:
    """A deleted capture is gone for every call that names it, and from lists."""
    _, body = created(session, "delete_is_final")
    gone = session.send("deleteCapture", path_params={"id": body["id"]})
    require(session, "delete_is_final", gone, answer_failure(gone, 200))
    path = {"id": body["id"]}
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("getCapture", {}), ("getCaptureMetrics", {}), ("stopCapture", {}),
        ("deleteCapture", {}), ("editCapture", {"body": {"name": unique_name()}, "has_body": True}))
    for operation_id, case in cases:
        after = session.send(operation_id, path_params=path, **case)
        check(session, "delete_is_final", after, gone_failure(after))
    listing = session.send("listCaptures", query={"name": body["name"]})
    check(session, "delete_is_final", listing, answer_failure(listing, 200) or (
        None if listing.json_or_none() == [] else Failure("no capture listed", "listed",
                                                          listing.answer_at(200))))


def isolation_flow(session: Session) -> None:
    """The secondary may neither list nor create in the primary's environment, nor read
    or delete a capture there."""
    env_id = session.profile["primary"]["env_id"]
    listing = session.send("listCaptures", session.secondary, query={"envId": env_id})
    check(session, "isolation", listing, refusal_failure(listing, NOT_MEMBER_STATUS))
    name = unique_name()
    with session.refusal_expected():  # not a member of the environment
        refused = create(session, session.secondary, name=name)
    check(session, "isolation", refused, refusal_failure(refused, NOT_MEMBER_STATUS))
    found = session.send("listCaptures", query={"name": name})
    check(session, "isolation", found, answer_failure(found, 200) or (
        None if found.json_or_none() == [] else Failure("nothing created", "a capture",
                                                        checks.ISOLATION)))
    everything = session.send("listCaptures", session.secondary)
    leaked = [item.get("id") for item in _items(everything) if item.get("envId") == env_id]
    check(session, "isolation", everything, answer_failure(everything, 200) or (
        Failure(f"no capture of environment {env_id}", f"ids {leaked}", checks.ISOLATION)
        if leaked else None))
    _, body = created(session, "isolation")
    for operation_id in ("getCapture", "deleteCapture"):
        attempt = session.send(operation_id, session.secondary, path_params={"id": body["id"]})
        check(session, "isolation", attempt, refusal_failure(attempt, NOT_MEMBER_STATUS))
    still = session.send("getCapture", path_params={"id": body["id"]})
    check(session, "isolation", still, answer_failure(still, 200))
    finished_with(session, body["id"])


def metrics_flow(session: Session) -> None:
    """One series per metric type, each with its label and unit; ``type`` picks one. The
    capture is RUNNING where the clock can be moved, so the series cover recorded time."""
    _, body = created(session, "metrics", duration=60)
    if not await_status(session, "lifecycle", body["id"], (RUNNING,), (STARTED, STARTING),
                        SETTLE_SECONDS, blocked="metrics"):
        finished_with(session, body["id"])
        return
    read_in_status(session, "lifecycle", body["id"], RUNNING)
    for wanted in (None, "READ IOPS"):
        exchange = session.send("getCaptureMetrics", path_params={"id": body["id"]},
                        query={"type": wanted} if wanted else {})
        series = _items(exchange)
        types = sorted(str(item.get("type")) for item in series)
        check(session, "metrics", exchange, answer_failure(exchange, 200) or field_mismatch(
            exchange, {"types": [wanted] if wanted else sorted(METRIC_SERIES)},
            {"types": types}, types_at(exchange, wanted)))
        for item in series:
            check(session, "metrics", exchange, series_mismatch(exchange, item))
    finished_with(session, body["id"])


def failed_capture_flow(session: Session) -> None:
    """Only data the server already has can be FAILED: stop one if the primary has one."""
    env_id = session.profile["primary"]["env_id"]
    listing = session.send("listCaptures", query={"envId": env_id})
    require(session, "lifecycle", listing, answer_failure(listing, 200))
    failed = next((item for item in _items(listing) if item.get("status") == FAILED), None)
    if failed is None:
        skip(session, "lifecycle", f"no FAILED capture in environment {env_id} to stop")
        return
    with session.refusal_expected():  # a FAILED capture no longer runs
        refused = stop(session, failed["id"])
    check(session, "lifecycle", refused, answer_failure(refused, 409, CAPTURE_FAILED))
    read_in_status(session, "lifecycle", failed["id"], FAILED)


def await_status(session: Session, name: str, capture_id: int, wanted: tuple[str, ...],
                 passing: tuple[str, ...], clock_seconds: float,
                 promised: float | None = None, blocked: str | None = None) -> bool:
    """Until the capture is in a ``wanted`` status (``Session.wait_until``); on the way
    only the ``passing`` ones may show: any other (it moved back, or FAILED) is a
    violation at once. False (``blocked``, default ``name``, listed as not run) when it
    did not get there within ``--max-wait``."""
    def ready() -> bool:
        _, body = read_in_status(session, name, capture_id, *wanted, *passing)
        return body.get("status") in wanted

    return session.wait_until(blocked or name, f"{' or '.join(wanted)} of capture "
                              f"{capture_id}", ready, clock_seconds, promised)


def stop_flow(session: Session) -> None:
    """STARTED refuses a stop; RUNNING -> STOPPING -> DONE with ``end``; then refused.
    Without the mock clock it waits in real time; the document gives no timings, so a
    transition that is late only makes the check not run."""
    _, body = created(session, "lifecycle")
    early = stop(session, body["id"])
    require(session, "lifecycle", early, answer_failure(early, 409, NOT_STARTED_YET))
    if not await_status(session, "lifecycle", body["id"], (RUNNING,), (STARTED, STARTING),
                        SETTLE_SECONDS):
        finished_with(session, body["id"])
        return
    read_in_status(session, "lifecycle", body["id"], RUNNING)
    stopped = stop(session, body["id"])
    require(session, "lifecycle", stopped, answer_failure(stopped, 200))
    read_in_status(session, "lifecycle", body["id"], STOPPING)
    again = stop(session, body["id"])
    require(session, "lifecycle", again, answer_failure(again, 409, ALREADY_STOPPED))
    if not await_status(session, "lifecycle", body["id"], (DONE,), (STOPPING,), DONE_SECONDS):
        return
    exchange, done = read_in_status(session, "lifecycle", body["id"], DONE)
    check(session, "lifecycle", exchange, None if done.get("end") else
          Failure("`end` set once DONE", "null", status_at(exchange)))
    late = stop(session, body["id"])
    check(session, "lifecycle", late, answer_failure(late, 409, ALREADY_STOPPED))


def schedule_flow(session: Session) -> None:
    """SCHEDULED until ``scheduledStart``, RUNNING after it, STOPPING at ``scheduledEnd``,
    DONE with ``end`` = ``scheduledEnd``: on the mock clock, or in real time with a start
    a few seconds ahead, where the stop at ``scheduledEnd`` is the one promised moment."""
    lead = SCHEDULE_LEAD_SECONDS if session.clock is not None else REAL_LEAD_SECONDS
    begin = server_now(session) + timedelta(seconds=lead)
    exchange, body = created(session, "schedule", status=SCHEDULED, scheduledStart=iso(begin),
                             duration=SCHEDULED_DURATION)
    ends = begin + timedelta(seconds=SCHEDULED_DURATION)
    # `start` is null until it runs, unless one was sent: that is echoed (the spec)
    require(session, "schedule", exchange, field_mismatch(
        exchange, {"status": SCHEDULED, "start": baseline.sent(exchange).get("start"),
                   "end": None}, body, status_at(exchange))
        or _same_moment("scheduledStart", begin, body.get("scheduledStart"), status_at(exchange))
        or _same_moment("scheduledEnd", ends, body.get("scheduledEnd"), status_at(exchange)))
    early = stop(session, body["id"])
    require(session, "schedule", early, answer_failure(early, 409, NOT_STARTED_YET))
    if not _scheduled_run(session, body["id"], lead, ends):
        finished_with(session, body["id"])
        return
    exchange, done = read_in_status(session, "schedule", body["id"], DONE)
    check(session, "schedule", exchange, _same_moment("end", ends, done.get("end"),
                                                      status_at(exchange)))


def _scheduled_run(session: Session, capture_id: int, lead: int, ends: datetime) -> bool:
    """RUNNING after its start, stopped by its end, then DONE: False when a wait ran out."""
    if not await_status(session, "schedule", capture_id, (RUNNING,),
                        (SCHEDULED, STARTED, STARTING), lead + SETTLE_SECONDS):
        return False
    read_in_status(session, "schedule", capture_id, RUNNING)
    due = (ends - server_now(session)).total_seconds() + STOP_GRACE_SECONDS
    if not await_status(session, "schedule", capture_id, (STOPPING, DONE), (RUNNING,),
                        SCHEDULED_DURATION - SETTLE_SECONDS + 1, promised=due):
        return False
    read_in_status(session, "schedule", capture_id, STOPPING, DONE)  # DONE if this is slow
    return await_status(session, "schedule", capture_id, (DONE,), (STOPPING,), DONE_SECONDS)


def _same_moment(name: str, expected: datetime, text: Any, at: Location) -> Failure | None:
    """The same instant within a second, in any form the spec allows: a server may keep
    times to the second (``...:05.000Z``) or write them another way."""
    seen = parse_time(text)
    if seen is not None and abs((seen - expected).total_seconds()) < 1:
        return None
    return Failure(f"{name} = {iso(expected)}", repr(text), at)


def stop_rule(exchange: Exchange, refusals: list[str]) -> Location:
    """Which rule a wrong answer to a stop breaks: a stop accepted before RUNNING, the
    document's ("must be in the Running state"); a 409 with another of its three
    messages, the contract's choice of message per status; anything else, the answer
    the document gives (200, or the 409 with its message)."""
    if 200 <= exchange.status < 300:
        return ()
    if refusals and exchange.status == 409 and message(exchange) in STOP_REFUSALS.values():
        return exchange.answer_at(409)
    return exchange.answer_at(409, refusals[0]) if refusals else exchange.answer_at(200)


def _items(exchange: Exchange) -> list[dict[str, Any]]:
    body = exchange.json_or_none()
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


# -- the stateful model -----------------------------------------------------------------

@dataclass(frozen=True)
class Moment:
    """A moment on the server's clock, known within bounds: how far this model had moved
    the clock by then, and the real time just before the request that made it."""

    advanced: float
    real: float


@dataclass
class Tracked:
    id: int
    name: str
    created: Moment
    scheduled_end: str | None = None
    stopped: Moment | None = None
    deleted: bool = False
    #: position in LIFECYCLE of the latest status seen: a capture never moves back
    floor: int = LIFECYCLE.index(STARTED)


def statuses_between(timings: tuple[tuple[float, str], ...], low: float,
                     high: float) -> set[str]:
    """The statuses a phase sequence shows at some moment from ``low`` to ``high``."""
    ends = [at for at, _ in timings[1:]] + [math.inf]
    return {status for (at, status), end in zip(timings, ends, strict=True)
            if at <= high and end > low}


class MyCrtModel(ModelMachine):
    """Captures the primary creates: what get and list show, names, stops, deletes, metrics,
    and the secondary's view of them, predicted from the documented semantics."""

    captures = Bundle("captures")
    seen_ids: ClassVar[set[int]]

    def __init__(self) -> None:
        super().__init__()
        self.tracked: dict[int, Tracked] = {}
        self.advanced = 0.0
        self.env_id: int = self.session.profile["primary"]["env_id"]

    # -- what the model predicts --------------------------------------------------------

    def moment(self) -> Moment:
        return Moment(self.advanced, time.monotonic())

    def possible(self, capture: Tracked) -> list[str]:
        timings = STOP_TIMINGS if capture.stopped else START_TIMINGS
        statuses = {status for _, status in timings}
        if self.session.clock is not None:
            since = capture.stopped or capture.created
            low = self.advanced - since.advanced
            high = low + time.monotonic() - since.real + REAL_TIME_SLACK
            statuses = statuses_between(timings, low, high)
        return [status for status in LIFECYCLE
                if status in statuses and LIFECYCLE.index(status) >= capture.floor]

    def fields(self, capture: Tracked) -> dict[str, Any]:
        return {"id": capture.id, "name": capture.name, "envId": self.env_id,
                "type": "CAPTURE", "reason": None, "scheduledStart": None,
                "scheduledEnd": capture.scheduled_end}

    # -- reading answers ----------------------------------------------------------------

    def body(self, exchange: Exchange) -> dict[str, Any]:
        body = exchange.json_or_none()
        if not isinstance(body, dict):
            raise ModelDiverged("unreadable body")  # the response checks have said why
        return body

    def items(self, exchange: Exchange) -> list[dict[str, Any]]:
        if not isinstance(exchange.json_or_none(), list):
            raise ModelDiverged("unreadable body")
        return _items(exchange)

    def expect_answer(self, name: str, exchange: Exchange, status: int,
                      text: str | None = None) -> None:
        self.expect(name, exchange.operation or "(model)", answer_failure(exchange, status, text),
                    exchange)

    def expect_gone(self, exchange: Exchange) -> None:
        self.expect("delete_is_final", exchange.operation or "(model)", gone_failure(exchange),
                    exchange)

    def expect_fields(self, name: str, exchange: Exchange, capture: Tracked,
                      shown: dict[str, Any]) -> None:
        self.expect(name, exchange.operation or "(model)",
                    field_mismatch(exchange, self.fields(capture), shown), exchange)

    def observe(self, capture: Tracked, exchange: Exchange, shown: dict[str, Any]) -> None:
        """The status must be one the lifecycle allows now, and ``end`` set exactly when
        DONE; what is seen narrows the model (a capture never moves back)."""
        possible, status = self.possible(capture), shown.get("status")
        self.expect("lifecycle", exchange.operation or "(model)", None if status in possible
                    else Failure(f"status {' or '.join(possible)}", repr(status),
                                 status_at(exchange)), exchange)
        capture.floor = LIFECYCLE.index(str(status))
        ended = shown.get("end") is not None
        self.expect("lifecycle", exchange.operation or "(model)", None if ended == (
            status == DONE) else Failure("`end` set exactly when DONE",
                                         f"status {status}, end {shown.get('end')!r}",
                                         status_at(exchange)), exchange)

    def read_back(self, capture: Tracked, name: str = "read_after_write") -> None:
        exchange = self.send("getCapture", path_params={"id": capture.id})
        if capture.deleted:
            self.expect_gone(exchange)
            return
        self.expect_answer(name, exchange, 200)
        shown = self.body(exchange)
        self.expect_fields(name, exchange, capture, shown)
        self.observe(capture, exchange, shown)

    def advance(self, seconds: int) -> None:
        """Move the mock clock, and every capture with it; a no-op without a clock."""
        if self.session.clock is not None:
            self.session.clock.advance(seconds)
            self.advanced += seconds

    def new_capture(self, settle: bool) -> int:
        """A new capture shows what was sent, STARTED, under an id never seen before;
        ``settle`` then moves the clock until it is RUNNING, so stops are worth trying."""
        began = self.moment()
        exchange = create_needed(self.session)
        self.expect_answer("setup", exchange, 200)
        sent = baseline.sent(exchange)
        name, shown = sent["name"], self.body(exchange)
        if not isinstance(shown.get("id"), int):
            raise ModelDiverged("no id")  # response_schema has reported it
        start = parse_time(shown.get("start"))
        # `start` may be null until the capture runs (the spec); one sent is only echoed
        if start is not None and sent.get("start") is None:
            self.expect("read_after_write", "createCapture", _same_moment(
                "scheduledEnd (start + duration)", start + timedelta(seconds=MODEL_DURATION),
                shown.get("scheduledEnd"), status_at(exchange)), exchange)
        capture = Tracked(shown["id"], name, began, shown.get("scheduledEnd"))
        self.expect("unique_ids", "createCapture", None if capture.id not in self.seen_ids
                    else Failure("a new id", f"{capture.id} again",
                                 exchange.field_at(200, "id")), exchange)
        self.seen_ids.add(capture.id)
        self.expect_fields("read_after_write", exchange, capture, shown)
        self.expect_equal("lifecycle", exchange, STARTED, shown.get("status"), "status",
                          status_at(exchange))
        self.tracked[capture.id] = capture
        self.read_back(capture)
        if settle:
            self.advance(SETTLE_SECONDS)
        return capture.id

    # -- rules --------------------------------------------------------------------------

    @initialize(target=captures)
    def first_capture(self) -> Any:
        """Every run starts with a RUNNING capture: Hypothesis's swarm testing turns some
        rules off per run, and a run that may not create one would test nothing."""
        try:
            return self.new_capture(settle=True)
        except ModelDiverged:
            self.diverged = True
            return multiple()

    @model_rule(target=captures, settle=st.booleans())
    def create_capture(self, settle: bool) -> int:
        return self.new_capture(settle)

    @model_rule(seconds=st.sampled_from([1, 3, SETTLE_SECONDS]))
    def wait(self, seconds: int) -> None:
        self.advance(seconds)

    @model_rule(capture=captures)
    def read(self, capture: int) -> None:
        self.read_back(self.tracked[capture])

    def check_listing(self, capture: int, scope: str) -> None:
        """Listed once, as it is, under every filter that should show it; never once
        deleted."""
        tracked = self.tracked[capture]
        query = {"environment": {"envId": self.env_id}, "all": {},
                 "name": {"name": tracked.name}}[scope]
        exchange = self.send("listCaptures", query=query)
        self.expect_answer("read_after_write", exchange, 200)
        items = self.items(exchange)
        matches = [item for item in items if item.get("id") == capture]
        if tracked.deleted:
            self.expect("delete_is_final", "listCaptures", Failure(
                "a deleted capture no longer listed", f"{capture} listed",
                exchange.answer_at(200)) if matches else None, exchange)
            return
        self.expect("read_after_write", "listCaptures", None if len(matches) == 1 else Failure(
            f"capture {capture} listed once", f"listed {len(matches)} times",
            exchange.answer_at(200)), exchange)
        self.expect_fields("read_after_write", exchange, tracked, matches[0])
        self.observe(tracked, exchange, matches[0])
        others = [item.get("name") for item in items if item.get("name") != tracked.name]
        self.expect("read_after_write", "listCaptures", Failure(
            f"only captures named {tracked.name}", f"also {others[:3]}",
            exchange.parameter_at("name"))
            if scope == "name" and others else None, exchange)

    @model_rule(capture=captures, scope=st.sampled_from(["environment", "all", "name"]))
    def listed(self, capture: int, scope: str) -> None:
        self.check_listing(capture, scope)

    @model_rule(capture=captures)
    def rename(self, capture: int) -> None:
        tracked, name = self.tracked[capture], unique_name()
        exchange = self.send("editCapture", path_params={"id": capture}, body={"name": name},
                             has_body=True)
        if tracked.deleted:
            self.expect_gone(exchange)
            return
        self.expect_answer("read_after_write", exchange, 200)
        tracked.name = name
        self.read_back(tracked)  # the edit answers no body (spec, editCapture)

    @model_rule(capture=captures, other=captures)
    def rename_to_taken(self, capture: int, other: int) -> None:
        """Another capture's name is refused; the capture's own name is not "another's"."""
        tracked, taken = self.tracked[capture], self.tracked[other]
        if tracked.deleted or taken.deleted:
            return
        exchange = self.send("editCapture", path_params={"id": capture},
                             body={"name": taken.name}, has_body=True)
        if capture == other:
            self.expect_answer("duplicate_name", exchange, 200)
        else:
            self.expect_answer("duplicate_name", exchange, 400, DUPLICATE_NAME)

    @model_rule(capture=captures)
    def create_duplicate(self, capture: int) -> None:
        tracked = self.tracked[capture]
        if tracked.deleted:
            return
        exchange = create(self.session, name=tracked.name)
        self.expect_answer("duplicate_name", exchange, 400, DUPLICATE_NAME)

    @model_rule(capture=captures)
    def stop_capture(self, capture: int) -> None:
        """200 and STOPPING from RUNNING; otherwise the 409 documented for the status."""
        tracked, began = self.tracked[capture], self.moment()
        exchange = self.send("stopCapture", path_params={"id": capture})
        if tracked.deleted:
            self.expect_gone(exchange)
            return
        possible = self.possible(tracked)  # after the answer: the window spans the request
        if 200 <= exchange.status < 300 and RUNNING in possible:
            tracked.stopped, tracked.floor = began, LIFECYCLE.index(STOPPING)
            self.read_back(tracked, "lifecycle")  # the stop answers no body (spec)
            return
        refusals = sorted({STOP_REFUSALS[status] for status in possible if status != RUNNING})
        refused = exchange.status == 409 and message(exchange) in refusals
        self.expect("lifecycle", "stopCapture", None if refused else Failure(
            " or ".join((["200"] if RUNNING in possible else []) +
                        [f"409 {text!r}" for text in refusals]),
            answered(exchange), stop_rule(exchange, refusals)), exchange)

    @model_rule(capture=captures)
    def delete_capture(self, capture: int) -> None:
        """Deleted means gone: GET answers 404 and no list shows it."""
        tracked = self.tracked[capture]
        exchange = self.send("deleteCapture", path_params={"id": capture})
        if tracked.deleted:
            self.expect_gone(exchange)
            return
        self.expect_answer("delete_is_final", exchange, 200)
        tracked.deleted = True
        self.read_back(tracked)
        self.check_listing(capture, "name")

    @model_rule(capture=captures, metric=st.none() | st.sampled_from(sorted(METRIC_SERIES)))
    def metrics(self, capture: int, metric: str | None) -> None:
        """One series per type, or only the type asked for."""
        exchange = self.send("getCaptureMetrics", path_params={"id": capture},
                             query={"type": metric} if metric else {})
        if self.tracked[capture].deleted:
            self.expect_gone(exchange)
            return
        self.expect_answer("metrics", exchange, 200)
        series = self.items(exchange)
        self.expect_equal("metrics", exchange, [metric] if metric else sorted(METRIC_SERIES),
                          sorted(str(item.get("type")) for item in series), "the series' types",
                          types_at(exchange, metric))
        for item in series:
            self.expect("metrics", "getCaptureMetrics", series_mismatch(exchange, item),
                        exchange)

    @model_rule(capture=captures)
    def isolation(self, capture: int) -> None:
        """The secondary neither sees (not even by its name) nor changes the capture, then
        the primary still sees it as it was."""
        tracked, other = self.tracked[capture], self.session.secondary
        path = {"id": capture}
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("getCapture", {}), ("getCaptureMetrics", {}), ("stopCapture", {}),
            ("editCapture", {"body": {"name": unique_name()}, "has_body": True}),
            ("deleteCapture", {}),
        ]
        for operation_id, case in attempts:
            exchange = self.send(operation_id, other, path_params=path, **case)
            self.expect("isolation", exchange.operation or "(model)",
                        refusal_failure(exchange, NOT_MEMBER_STATUS, 404), exchange)
        listing = self.send("listCaptures", other, query={"name": tracked.name})
        self.expect_answer("isolation", listing, 200)
        leaked = [item.get("id") for item in self.items(listing)]
        self.expect("isolation", "listCaptures", Failure(
            "no capture of the primary's environment", f"ids {leaked}", checks.ISOLATION)
            if leaked else None, listing)
        self.read_back(tracked, "isolation")


ADAPTER = MyCrtAdapter()
