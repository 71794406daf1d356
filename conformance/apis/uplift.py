"""Uplift: reservations belong to the API key's organization; uploads go to presigned S3."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle

from conformance import baseline
from conformance.apis._common import bearer, past_timestamps
from conformance.baseline import Variant
from conformance.cleanup import Disposal, body_field
from conformance.generation.positive import Pins
from conformance.results import Failure
from conformance.session import Session
from conformance.spec import Location, Operation
from conformance.stateful import ModelMachine, model_rule
from conformance.transport import Credentials, Exchange, TargetUnreachable

PROCESSING_GRACE_SECONDS = 3600
#: the spec's largest page (``limit`` is clamped to 1-500)
LARGEST_PAGE = 500
#: how many captures from the list's start the pagination check pages through
PAGINATION_WINDOW = 12


class UpliftAdapter:
    name = "uplift"
    #: the semantic checks this adapter's model and flows assert
    checks = ("isolation", "lifecycle", "pagination", "read_after_write", "unique_ids",
              "upload_flow")
    protected_fields: frozenset[str] = frozenset()
    generated_values = None
    sign_ins: frozenset[str] = frozenset()
    disposals = (Disposal(
        "capture reservation", "createCapture", body_field("session_id"),
        kept_because="the Uplift API offers no way to delete or cancel a reservation (one "
                     "never uploaded to ends in status error after its 30-minute window)"),)

    def sign_in(self, session: Session, account: Mapping[str, Any]) -> Credentials:
        return bearer(account["api_key"])

    def alive(self, session: Session, credentials: Credentials) -> bool:
        return True  # the profile's token: the run never ends it

    def invalid_credentials(self) -> Credentials:
        return bearer("conformance-invalid-key")

    def pins(self, session: Session, operation: Operation) -> Pins | None:
        primary = session.profile["primary"]
        if operation.operation_id == "createCapture":
            return Pins(body={"athlete_id": primary["athlete_id"],
                              "session_group_id": primary["session_group_id"],
                              "capture_time": past_timestamps()})
        if operation.operation_id == "getCapture":
            if session.settings.read_only:
                return Pins(path={"captureId": _existing_capture_id(session)})
            return Pins(path={"captureId": st.builds(lambda: _some_capture_id(session))})
        return Pins()

    def machine(self, session: Session) -> type[ModelMachine]:
        return type("UpliftModel", (UpliftModel,), {"session": session})

    def flows(self) -> Iterable[Callable[[Session], None]]:
        return [upload_flow]


def _sample(session: Session) -> dict[str, Any]:
    """The document's example request, for the primary's athlete and session group."""
    primary = session.profile["primary"]
    return {**baseline.sample(session.operation("createCapture")),
            "athlete_id": primary["athlete_id"], "session_group_id": primary["session_group_id"]}


def _required(session: Session) -> dict[str, Any]:
    operation = session.operation("createCapture")
    required: dict[str, Any] = baseline.required_only(baseline.request_schema(operation),
                                                      _sample(session))
    return required


#: the baseline reservation, safest last (conformance.baseline)
BASELINE = (
    Variant("the document's example request", _sample),
    Variant("only the required fields", _required),
    Variant("only the required fields, a short file name",
            lambda session: {**_required(session), "file_name": "cf.mov"}),
)


def reservation_body(session: Session, **changes: Any) -> dict[str, Any]:
    """The baseline as it stands (the accepted variant), then ``changes``."""
    return {**baseline.current(session, "createCapture", BASELINE).body(session), **changes}


def reserve(session: Session, **changes: Any) -> dict[str, Any] | None:
    """A fresh reservation of the primary organization, or None when the server refused
    every baseline variant."""
    exchange = reserve_needed(session, **changes)
    body = exchange.json_or_none()
    if exchange.status != 200 or not isinstance(body, dict):
        session.expect("setup", "createCapture",
                       Failure("a reservation to upload to", f"{exchange.status}"), exchange)
        return None
    return body


def reservation_at(session: Session, *field: str) -> Location:
    """The document's reservation answer (or one of its fields): what the upload uses."""
    return session.operation("createCapture").field_at(200, *field)


def status_at(exchange: Exchange) -> Location:
    """The read side's ``status`` (a decision: the document knows only ``NEW``)."""
    return exchange.field_at(200, "status")


def reserve_needed(session: Session, **changes: Any) -> Exchange:
    """A reservation the run needs: safer baseline variants until one is accepted."""
    return baseline.create(session, "createCapture", BASELINE, lambda body: session.send(
        "createCapture", body={**body, **changes}, has_body=True))


def _existing_capture_id(session: Session) -> str:
    """A capture the primary's organization has already, to read under --read-only; an
    unknown id when there is none."""
    body = session.send("listCaptures", query={"limit": 1}).json_or_none()
    captures = body.get("captures") if isinstance(body, dict) else None
    first = captures[0] if isinstance(captures, list) and captures else None
    return str((first.get("session_id") if isinstance(first, dict) else None) or uuid.uuid4())


def _some_capture_id(session: Session) -> str:
    """An id that exists when the server lets us reserve; else one that does not."""
    reservation = reserve(session)
    return str(reservation["session_id"]) if reservation else str(uuid.uuid4())


class UpliftModel(ModelMachine):
    """Reservations: get and list show them to their organization and to nobody else."""

    captures = Bundle("captures")

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[str, dict[str, Any]] = {}

    @model_rule(target=captures, movement=st.sampled_from(["full_swing", "putt", "chip"]))
    def create(self, movement: str) -> str:
        exchange = reserve_needed(self.session, movement_attributes={
            "activity": "golf", "movement": movement})
        self.expect_accepted(exchange)
        body, created = baseline.sent(exchange), exchange.json()
        self.expect("unique_ids", exchange.operation or "createCapture",
                    None if created["session_id"] not in self.known else
                    Failure("a new session_id", f"{created['session_id']} again",
                            reservation_at(self.session, "session_id")), exchange)
        self.known[created["session_id"]] = {"athlete_id": body["athlete_id"],
                                             **body["movement_attributes"]}
        return str(created["session_id"])

    @model_rule(capture=captures)
    def read_back(self, capture: str) -> None:
        exchange = self.send("getCapture", path_params={"captureId": capture})
        self.expect_status("read_after_write", exchange, 200)
        seen, expected = exchange.json(), self.known[capture]
        for field in ("athlete_id", "activity", "movement"):
            self.expect_equal("read_after_write", exchange, expected[field], seen.get(field),
                              field)

    def pages(self, check: str, credentials: Credentials | None,
              page_size: int) -> tuple[list[str], Exchange]:
        """The session_ids of every page, in order, and the last page's exchange. Each next
        offset counts the captures received: a server may serve fewer than asked for (it
        clamps ``limit``, and says so in the answer's ``limit``). A capture on two pages is
        a ``pagination`` finding, whichever check walked them."""
        seen: list[str] = []
        pages = 0
        while True:
            pages += 1
            exchange = self.send("listCaptures", credentials,
                                 query={"limit": page_size, "offset": len(seen)})
            self.expect_status(check, exchange, 200)
            page = exchange.json()
            seen += [item["session_id"] for item in page["captures"]]
            total = page.get("total_count")  # its type is response_schema's to judge
            if not page["captures"] or len(seen) > 10_000 or (
                    isinstance(total, int) and len(seen) >= total):
                break
        repeated = len(seen) - len(set(seen))
        self.expect("pagination", "listCaptures", Failure(
            "each capture on one page only", f"{repeated} repeated over {pages} pages")
            if repeated and pages > 1 else None, exchange)
        return seen, exchange

    @model_rule(capture=captures)
    def listed(self, capture: str) -> None:
        ids, exchange = self.pages("read_after_write", None, LARGEST_PAGE)
        self.expect("read_after_write", exchange.operation or "listCaptures",
                    None if ids.count(capture) == 1 else
                    Failure(f"{capture} listed once", f"listed {ids.count(capture)} times",
                            exchange.answer_at(200)), exchange)

    @model_rule(capture=captures)
    def hidden_from_other_organization(self, capture: str) -> None:
        exchange = self.send("getCapture", self.session.secondary,
                             path_params={"captureId": capture})
        self.expect_status("isolation", exchange, 404)
        ids, listing = self.pages("isolation", self.session.secondary, LARGEST_PAGE)
        self.expect("isolation", "listCaptures",
                    Failure("no capture of another organization", capture,
                            listing.answer_at(200)) if capture in ids else None, listing)

    @model_rule(page_size=st.integers(min_value=1, max_value=3))
    def pages_agree_with_one_page(self, page_size: int) -> None:
        """Small pages over the first ``PAGINATION_WINDOW`` captures hold exactly what one
        page of that size holds, in the same order. A window, not the whole list: the
        organization of a real server may hold thousands of captures (the run's own are
        found by ``listed``), and the cost must not grow with them. Each next offset
        counts the captures received, as ``pages`` does."""
        reference = self.send("listCaptures", query={"limit": PAGINATION_WINDOW})
        self.expect_status("pagination", reference, 200)
        expected = [item["session_id"] for item in reference.json()["captures"]]
        seen: list[str] = []
        while len(seen) < len(expected):
            exchange = self.send("listCaptures", query={"limit": page_size, "offset": len(seen)})
            self.expect_status("pagination", exchange, 200)
            page = [item["session_id"] for item in exchange.json()["captures"]]
            if not page:
                break
            seen += page
        seen = seen[:len(expected)]
        failure = None if seen == expected else Failure(
            f"pages of {page_size} from offset 0 showing the first {len(expected)} captures "
            "once each, in the order of one page", f"{len(seen)} entries, "
            f"{len(set(seen))} distinct, {len(set(expected) - set(seen))} missing",
            reference.answer_at(200))
        self.expect("pagination", "listCaptures", failure, reference)

    @model_rule()
    def other_organizations_athlete_is_refused(self) -> None:
        body = reservation_body(self.session,
                                athlete_id=self.session.profile["secondary"]["athlete_id"],
                                session_group_id=str(uuid.uuid4()))
        exchange = self.send("createCapture", body=body, has_body=True)
        if 200 <= exchange.status < 300:  # the document: the athlete must be the key's
            athlete = ("requestBody", "content", "application/json", "schema", "properties",
                       "athlete_id")
            self.expect("isolation", "createCapture", Failure(
                "403 for another organization's athlete", f"{exchange.status}", athlete),
                exchange)
            return
        self.expect_status("isolation", exchange, 403)


def upload_flow(session: Session) -> None:
    """Reserve, POST the file to the presigned target, then follow the status."""
    reservation = reserve(session)
    if reservation is None:
        return
    upload = _upload(session, reservation, b"\x00\x00\x00\x14ftypqt  conformance")
    if upload is None or not session.expect(
            "upload_flow", "createCapture", None if upload.status in (200, 201, 204) else
            Failure("2xx from the presigned POST", f"{upload.status} {upload.body[:200]!r}",
                    reservation_at(session)), upload):
        return
    if not session.wait_until(
            "upload_flow", f"the end of capture {reservation['session_id']}'s awaiting_upload",
            lambda: _status(session, reservation["session_id"])[0] != "awaiting_upload", 1):
        return
    status, exchange = _status(session, reservation["session_id"])
    session.expect("upload_flow", "getCapture",
                   None if status in ("processing", "completed") else
                   Failure("processing or completed after upload", status,
                           status_at(exchange)), exchange)
    _expiry_and_processing(session, reservation["session_id"])


def _upload(session: Session, reservation: dict[str, Any], data: bytes) -> Exchange | None:
    """The presigned POST as a browser sends it; an unreachable target is a violation."""
    session.guard("the presigned upload")
    try:
        return session.client.request(
            "POST", str(reservation.get("upload_url")),
            form_fields=reservation.get("upload_fields") or {},
            file=("conformance.mov", data, "video/quicktime"))
    except TargetUnreachable as error:
        session.expect("upload_flow", "createCapture",
                       Failure("a reachable upload_url", str(error)[:200],
                               reservation_at(session, "upload_url")), None)
        return None


def _expiry_and_processing(session: Session, uploaded_id: str) -> None:
    stale = reserve(session)
    if stale is None or not session.elapse("lifecycle", "the 30-minute upload window's end",
                                           31 * 60):
        return
    late = _upload(session, stale, b"late")
    if late is not None:
        session.expect("lifecycle", "createCapture", None if late.status == 403 else
                       Failure("403 from S3 once the 30-minute window has passed",
                               str(late.status), reservation_at(session, "upload_expires_at")),
                       late)
    status, exchange = _status(session, stale["session_id"])
    session.expect("lifecycle", "getCapture", None if status == "error" else
                   Failure("error once the upload window closed unused", status,
                           status_at(exchange)), exchange)
    if not session.elapse("lifecycle", "the processing grace", PROCESSING_GRACE_SECONDS):
        return
    status, exchange = _status(session, uploaded_id)
    session.expect("lifecycle", "getCapture", None if status == "completed" else
                   Failure("completed after processing", status, status_at(exchange)), exchange)


def _status(session: Session, capture_id: str) -> tuple[str, Exchange]:
    exchange = session.send("getCapture", path_params={"captureId": capture_id})
    return str((exchange.json_or_none() or {}).get("status")), exchange


ADAPTER = UpliftAdapter()
