"""CaptureProof: an account's patients own proofs, proofs own captures, media goes to S3.

The session token travels as the ``token`` query parameter: it is the spec's first security
scheme (``sessionToken``) and the very field name the document's samples send
(``token=...``), so it is the form a real vendor is surest to honour. The X-API-Session
header is, by the spec's own note, not shown in the document. Sending the token in the query
also keeps it out of request bodies, which the schema-driven phase generates and mutates.

The suite never logs out the profile's tokens (that would end the run's own sessions): the
logout is judged with sessions of its own, opened when the profile's primary also carries
``email`` and ``password`` (and ``app_id``, sent when given; INTERFACES.md allows more keys),
skipped otherwise: one ended with ``DELETE /sessions``, one with ``DELETE /sessions/{token}``
as the vendor's JavaScript SDK sends it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle

from conformance import baseline, checks
from conformance.apis._common import plain_text
from conformance.baseline import Variant
from conformance.cleanup import Disposal
from conformance.generation.positive import Pins
from conformance.results import Failure
from conformance.session import Session, SetupError
from conformance.spec import Location, Operation
from conformance.stateful import ModelDiverged, ModelMachine, model_rule
from conformance.transport import (
    NO_CREDENTIALS,
    Case,
    Credentials,
    Exchange,
    TargetUnreachable,
)
from vendor_specs.sources import NOTE

#: createCapture's description: an uploaded capture is processed 30 s after creation
PROCESSING_SECONDS = 30
#: in real time, how much later than that the poll may still answer false (two clocks)
PROCESSING_GRACE_SECONDS = 5
#: UploadCredentials: the POST policy expires 1 hour after issue
UPLOAD_WINDOW_SECONDS = 3600
#: createCapture's documented 400 for a key under which nothing was uploaded
NO_UPLOADED_OBJECT = "No uploaded object exists for upload_s3_key"
#: well-formed (32 hex digits, like a real token) but issued to nobody
UNKNOWN_TOKEN = "0" * 32
UNKNOWN_CAPTURE = "conformance0unknown0capture"
MEDIA = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00conformance test photo" * 4
#: values for the form fields the policy's starts-with conditions ask for (lower-case name)
FORM_FIELDS = {"utf8": ("utf8", "\u2713"), "content-type": ("Content-Type", "image/jpeg")}
LOGIN_KEYS = ("email", "password")
#: SessionCreate.app_id is optional (the spec's default applies when it is left out)
OPTIONAL_LOGIN_KEYS = ("app_id",)
#: the spec's LoggedOut response of both logout operations
LOGGED_OUT_STATUS = 200
#: body fields the generator leaves out: the token travels in the query; a valid key
#: needs an upload, which the model and the flows perform
OMITTED_BODY_FIELDS = frozenset({"token", "upload_s3_key"})


def token(value: str) -> Credentials:
    return Credentials(query={"token": value})


def proof_path(account: Mapping[str, Any]) -> dict[str, str]:
    return {"patient_id": str(account["patient_id"]), "proof_id": str(account["proof_id"])}


def _new_capture_id(case: Case, exchange: Exchange) -> Any:
    """The answer is the whole proof, its captures oldest first: the new capture is the
    newest with the description sent (a generated one may repeat), else the newest."""
    description = case.body.get("description") if isinstance(case.body, dict) else None
    captures = captures_of(exchange.json_or_none(), "proof", "captures")
    found = with_description(captures, description) or captures
    return found[-1].get("id") if found else None


class CaptureProofAdapter:
    name = "captureproof"
    #: the semantic checks this adapter's model and flows assert
    checks = ("delete_is_final", "isolation", "lifecycle", "list_order", "read_after_write",
              "unique_ids", "upload_flow", "upload_required")
    protected_fields = frozenset({"token"})
    generated_values = None
    sign_ins = frozenset({"createSession"})
    disposals = (Disposal(
        "capture", "createCapture", _new_capture_id,
        kept_because="the CaptureProof API offers no way to delete a capture (nor the "
                     "media uploaded for it)"),)

    def sign_in(self, session: Session, account: Mapping[str, Any]) -> Credentials:
        """The profile's token is the session; listing the account's proof proves it works,
        so a stale profile stops the run (exit 2) instead of failing every check."""
        credentials = token(str(account["token"]))
        exchange = session.client.send(
            Case(session.operation("listCaptures"), path_params=proof_path(account)),
            credentials)
        if exchange.status != 200:
            raise SetupError(
                f"captureproof: a profile token cannot list the captures of patient "
                f"{account['patient_id']}, proof {account['proof_id']} (is it expired, or "
                f"not that patient's account?): {exchange.status} {exchange.body[:200]!r}")
        session.judge_response(exchange)
        return credentials

    def alive(self, session: Session, credentials: Credentials) -> bool:
        return True  # the profile's token: the run never ends it

    def invalid_credentials(self) -> Credentials:
        return token(UNKNOWN_TOKEN)

    def pins(self, session: Session, operation: Operation) -> Pins | None:
        """The primary's proof everywhere; a capture the run created to poll. deleteSession
        would end the primary's own session, so the session flow judges it instead."""
        if operation.operation_id in ("deleteSession", "deleteSessionByToken"):
            return None
        if operation.operation_id == "createSession":
            return Pins()
        if operation.operation_id == "getSdkUploadCredentials":
            return Pins(omit_body_fields=OMITTED_BODY_FIELDS)
        path: dict[str, Any] = proof_path(session.profile["primary"])
        if operation.operation_id == "isMediaProcessed":
            path["capture_id"] = existing_capture_id(session) if session.settings.read_only \
                else st.builds(once(lambda: some_capture_id(session)))
        return Pins(path=path, omit_body_fields=OMITTED_BODY_FIELDS)

    def machine(self, session: Session) -> type[ModelMachine]:
        return type("CaptureProofModel", (CaptureProofModel,), {"session": session})

    def flows(self) -> Iterable[Callable[[Session], None]]:
        return [upload_flow, upload_policy_flow, unknown_upload_flow, session_flow]


# -- requests every part shares -----------------------------------------------------------


def require(session: Session, check: str, operation: str, failure: Failure | None,
            exchange: Exchange | None) -> None:
    """Record a verdict; a failed step ends its flow, as every later step builds on it
    (the runner takes ModelDiverged as already reported)."""
    if not session.expect(check, operation, failure, exchange):
        raise ModelDiverged(check)


def status_failure(exchange: Exchange, *expected: int, at: Location | None = None
                   ) -> Failure | None:
    """By default the rule is the expected answer's."""
    if exchange.status in expected:
        return None
    return Failure(f"status {' or '.join(map(str, expected))}",
                   f"{exchange.status} {exchange.body[:200].decode('utf-8', 'replace')}",
                   exchange.answer_at(expected[0]) if at is None else at)


def credentials_at(session: Session, *field: str) -> Location:
    """The upload credentials' answer (a field of the document's sample)."""
    return session.operation("getUploadCredentials").field_at(200, *field)


def answer_at(session: Session, operation_id: str, *field: str) -> Location:
    """An operation's success answer, or a field of it."""
    return session.operation(operation_id).field_at(200, *field)


def unique_description(text: str = "conformance") -> str:
    """A description no other capture has, even across runs against a server that keeps
    its state: it identifies the new capture in an answer that lists them all."""
    return f"{text} [{uuid.uuid4().hex[:16]}]"


def captures_of(body: Any, *path: str) -> list[dict[str, Any]]:
    for name in path:
        body = body.get(name) if isinstance(body, dict) else None
    return [item for item in body or [] if isinstance(item, dict)]


def with_description(captures: list[dict[str, Any]], description: str | None
                     ) -> list[dict[str, Any]]:
    return [capture for capture in captures if capture.get("description") == description]


def create_capture(session: Session, credentials: Credentials, account: Mapping[str, Any],
                   body: dict[str, Any]) -> tuple[dict[str, Any] | None, Exchange]:
    """Create a capture; the one in the answer's proof carrying the body's description.
    Any 2xx is a success here (the document shows no status: which one is
    status_code_documented's to judge, once, not every check's that needed the capture)."""
    exchange = session.send("createCapture", credentials, path_params=proof_path(account),
                    body=body, has_body=True)
    return _created(exchange), exchange


def _created(exchange: Exchange) -> dict[str, Any] | None:
    sent = baseline.sent(exchange)
    found = with_description(captures_of(exchange.json_or_none(), "proof", "captures"),
                             sent.get("description", ""))
    return found[0] if 200 <= exchange.status < 300 and len(found) == 1 else None


def _sample(session: Session) -> dict[str, Any]:
    """The document's sample capture, its description made unique (it finds the new
    capture in the proof the answer shows); the upload key is the caller's."""
    sample = baseline.sample(session.operation("createCapture"))
    sample.pop("upload_s3_key", None)
    return {**sample, "description": unique_description(str(sample.get("description", "")))}


#: the baseline create, safest last (conformance.baseline)
BASELINE = (
    Variant("the document's sample request", _sample),
    Variant("a short plain-ASCII description",
            lambda session: {"description": baseline.unique("cf")}),
)


def create_needed(session: Session, **fields: Any) -> tuple[dict[str, Any] | None, Exchange]:
    """A capture of the primary's proof the run needs: safer baseline variants until one
    is accepted; the new capture as the answer shows it, and the exchange."""
    exchange = baseline.create(session, "createCapture", BASELINE, lambda body: session.send(
        "createCapture", session.primary, path_params=proof_path(session.profile["primary"]),
        body={**body, **fields}, has_body=True))
    return _created(exchange), exchange


def existing_capture_id(session: Session) -> str:
    """A capture of the primary's proof already there, to poll under --read-only."""
    listing, _ = list_captures(session, session.primary, session.profile["primary"])
    return str(listing[0].get("id")) if listing else UNKNOWN_CAPTURE


def once(make: Callable[[], str]) -> Callable[[], str]:
    """``make``'s first answer, ever after: one capture serves every poll of a run (a
    capture per example would only lengthen every later list)."""
    made: list[str] = []

    def value() -> str:
        if not made:
            made.append(make())
        return made[0]

    return value


def some_capture_id(session: Session) -> str:
    """A capture of the primary's proof to poll; an unknown id if the server made none."""
    created, _ = create_needed(session)
    return str(created["id"]) if created else UNKNOWN_CAPTURE


def list_captures(session: Session, credentials: Credentials,
                  account: Mapping[str, Any]) -> tuple[list[dict[str, Any]], Exchange]:
    exchange = session.send("listCaptures", credentials, path_params=proof_path(account))
    return captures_of(exchange.json_or_none(), "captures"), exchange


def media_status(session: Session, capture_id: str) -> tuple[dict[str, Any], Exchange]:
    exchange = session.send("isMediaProcessed", session.primary,
                    path_params={**proof_path(session.profile["primary"]),
                                 "capture_id": capture_id})
    body = exchange.json_or_none()
    return (body if isinstance(body, dict) else {}), exchange


# -- the S3 POST upload -------------------------------------------------------------------


def upload_credentials(session: Session) -> dict[str, Any]:
    exchange = session.send("getUploadCredentials", session.primary,
                    path_params=proof_path(session.profile["primary"]))
    body = exchange.json_or_none()
    usable = exchange.status == 200 and isinstance(body, dict) and isinstance(
        body.get("action_url"), str) and isinstance(body.get("key"), str)
    require(session, "upload_flow", "getUploadCredentials", None if usable else
            Failure("upload credentials with action_url and key",
                    f"{exchange.status} {exchange.body[:200]!r}",
                    credentials_at(session, "action_url")), exchange)
    return dict(body)


def policy_conditions(credentials: Mapping[str, Any]) -> list[Any]:
    """The decoded policy's conditions; [] when it does not decode (the response checks
    report a malformed policy, and the store will then refuse the upload)."""
    try:
        policy = json.loads(base64.b64decode(str(credentials.get("policy", "")), validate=True))
    except (binascii.Error, ValueError):
        return []
    conditions = policy.get("conditions") if isinstance(policy, dict) else None
    return conditions if isinstance(conditions, list) else []


def upload_form(credentials: Mapping[str, Any], key: str) -> dict[str, str]:
    """Every returned field but action_url, the key actually used, and a value for each
    field a starts-with condition requires that the credentials do not carry (utf8 and
    Content-Type: a browser form adds them)."""
    form = {name: str(value) for name, value in credentials.items() if name != "action_url"}
    form["key"] = key
    present = {name.lower() for name in form}
    for condition in policy_conditions(credentials):
        if not (isinstance(condition, list) and len(condition) == 3
                and condition[0] == "starts-with" and isinstance(condition[1], str)):
            continue
        name = condition[1].lstrip("$").lower()
        if name not in present:
            field, value = FORM_FIELDS.get(name, (name, "conformance"))
            prefix = str(condition[2])
            form[field] = value if value.startswith(prefix) else prefix + value
    return form


def post_upload(session: Session, credentials: Mapping[str, Any], key: str) -> Exchange:
    """The presigned POST as a browser form sends it, the file last."""
    session.guard("the presigned upload")
    try:
        return session.client.request(
            "POST", str(credentials["action_url"]), form_fields=upload_form(credentials, key),
            file=("conformance.jpg", MEDIA, "image/jpeg"))
    except TargetUnreachable as error:
        session.expect("upload_flow", "getUploadCredentials",
                       Failure("a reachable action_url", str(error)[:200],
                               credentials_at(session, "action_url")), None)
        raise ModelDiverged("upload_flow") from error


def upload(session: Session) -> str:
    """Upload a photo with fresh credentials; the key it was stored under."""
    credentials = upload_credentials(session)
    key = f"{credentials['key']}.jpg"
    exchange = post_upload(session, credentials, key)
    stored = exchange.status == 201 and f"<Key>{key}</Key>".encode() in exchange.body
    require(session, "upload_flow", "getUploadCredentials", None if stored else
            Failure(f"201 with S3's XML naming <Key>{key}</Key>",
                    f"{exchange.status} {exchange.body[:200]!r}",
                    credentials_at(session, "success_action_status")), exchange)
    return key


# -- the stateful model -------------------------------------------------------------------


def metadata_values() -> st.SearchStrategy[dict[str, Any]]:
    scalars = st.one_of(plain_text(12), st.integers(-(2**31), 2**31), st.booleans(),
                        st.none())
    return st.dictionaries(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10),
                           scalars, max_size=3)


def created_at(capture: Mapping[str, Any]) -> datetime | None:
    """The capture's created_at, comparable with any other (no offset is read as UTC)."""
    try:
        moment = datetime.fromisoformat(str(capture.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CaptureProofModel(ModelMachine):
    """Captures of the primary's proof: what create answers, list and the media poll show
    the same; the secondary account neither sees nor changes them, nor the reverse.

    What the secondary wrote is remembered and looked for in every answer that lists the
    primary's captures, so isolation is judged without listings of its own.
    """

    captures = Bundle("captures")
    COMPARED = ("description", "upload_s3_key", "library_item_id", "metadata")

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[str, dict[str, Any]] = {}
        self.seen_ids: set[str] = set()
        self.foreign: set[str] = set()
        self.primary = self.session.profile["primary"]
        self.secondary = self.session.profile["secondary"]

    @model_rule(target=captures, text=plain_text(30), metadata=metadata_values(),
                with_upload=st.booleans())
    def create(self, text: str, metadata: dict[str, Any], with_upload: bool) -> str:
        body = {"description": unique_description(text), "metadata": metadata,
                "upload_s3_key": upload(self.session) if with_upload else None}
        sent = {name: value for name, value in body.items() if value is not None}
        created, exchange = create_capture(self.session, self.session.primary, self.primary,
                                           sent)
        capture_id = self.expect_created(created, exchange)
        self.expect("unique_ids", "createCapture", Failure(
            "a new capture id", capture_id, answer_at(self.session, "createCapture"))
            if capture_id in self.seen_ids else None, exchange)
        self.known[capture_id] = {**body, "library_item_id": None}
        self.seen_ids.add(capture_id)
        self.expect_fields(exchange, capture_id, created or {})
        self.expect_listing(exchange, captures_of(exchange.json(), "proof", "captures"))
        return capture_id

    @model_rule(capture=captures)
    def listed(self, capture: str) -> None:
        listing, exchange = list_captures(self.session, self.session.primary, self.primary)
        self.expect_status("read_after_write", exchange, 200)
        self.expect_listing(exchange, listing)
        self.expect_fields(exchange, capture,
                           next(item for item in listing if item.get("id") == capture))

    @model_rule(capture=captures)
    def polled(self, capture: str) -> None:
        status, exchange = media_status(self.session, capture)
        self.expect_status("read_after_write", exchange, 200)
        if self.known[capture]["upload_s3_key"] is None:
            self.expect_equal("lifecycle", exchange, True, status.get("media_processed"),
                              "media_processed of a capture without media")
        if status.get("media_processed") is True:
            self.expect_listing(exchange, captures_of(status, "captures"))

    @model_rule(capture=captures, by_poll=st.booleans())
    def hidden_from_secondary(self, capture: str, by_poll: bool) -> None:
        """The secondary's token on the primary's patient and proof: 404, never the data."""
        self.expect_hidden(self.reach(self.session.secondary, self.primary, capture, by_poll),
                           capture)

    @model_rule(credentials=st.booleans())
    def secondary_cannot_write(self, credentials: bool) -> None:
        """Neither a capture nor upload credentials on the primary's proof for the secondary."""
        other = self.session.secondary
        if credentials:
            exchange = self.session.send("getUploadCredentials", other,
                            path_params=proof_path(self.primary))
        else:
            description = unique_description("written by the secondary")
            self.foreign.add(description)
            _, exchange = create_capture(self.session, other, self.primary,
                                         {"description": description})
        self.expect_status("isolation", exchange, 404)

    @model_rule(by_poll=st.booleans())
    def secondary_keeps_its_own(self, by_poll: bool) -> None:
        """A capture the secondary creates in its own proof: the primary can reach neither
        that proof nor that capture, and never sees it among its own."""
        description = unique_description("the secondary's own")
        self.foreign.add(description)
        created, exchange = create_capture(self.session, self.session.secondary,
                                           self.secondary, {"description": description})
        theirs = self.expect_created(created, exchange)
        self.seen_ids.add(theirs)
        proof = self.secondary if not by_poll else self.primary
        self.expect_hidden(self.reach(self.session.primary, proof, theirs, by_poll), theirs)

    def reach(self, credentials: Credentials, account: Mapping[str, Any], capture: str,
              by_poll: bool) -> Exchange:
        """List the account's proof, or poll the capture in it."""
        if by_poll:
            return self.session.send("isMediaProcessed", credentials,
                        path_params={**proof_path(account), "capture_id": capture})
        return self.session.send("listCaptures", credentials, path_params=proof_path(account))

    def expect_created(self, created: Mapping[str, Any] | None, exchange: Exchange) -> str:
        """A 200 whose proof holds the new capture exactly once; its id."""
        self.expect_accepted(exchange)
        self.expect("read_after_write", "createCapture", None if created else Failure(
            "the new capture once in the proof's captures", "absent or repeated",
            answer_at(self.session, "createCapture")), exchange)
        return str((created or {}).get("id"))

    def expect_hidden(self, exchange: Exchange, capture: str) -> None:
        leaked = capture.encode() in exchange.body
        self.expect("isolation", exchange.operation or "(model)", Failure(
            "no sign of another account's capture", f"{capture} in the answer", checks.ISOLATION)
            if leaked else None, exchange)
        self.expect_status("isolation", exchange, 404)

    def expect_fields(self, exchange: Exchange, capture_id: str,
                      seen: Mapping[str, Any]) -> None:
        expected = self.known[capture_id]
        for name in self.COMPARED:
            self.expect_equal("read_after_write", exchange, expected[name], seen.get(name),
                              f"{capture_id}.{name}")

    def expect_listing(self, exchange: Exchange, captures: list[dict[str, Any]]) -> None:
        """Any list of the primary's captures: each once, oldest first, every one the model
        created, none the secondary wrote."""
        operation, at = exchange.operation or "(model)", exchange.answer_at(200)
        ids = [str(item.get("id")) for item in captures]
        repeated = sorted({item for item in ids if ids.count(item) > 1})
        self.expect("unique_ids", operation, Failure(
            "each capture once", f"repeated: {', '.join(repeated)}", at)
            if repeated else None, exchange)
        self.expect_oldest_first(exchange, captures)
        missing = sorted(set(self.known) - set(ids))
        self.expect("read_after_write", operation, Failure(
            "every capture created so far", f"missing: {', '.join(missing)}", at)
            if missing else None, exchange)
        foreign = sorted({str(item.get("description")) for item in captures} & self.foreign)
        self.expect("isolation", operation, Failure(
            "no capture written with the secondary's token", ", ".join(foreign), checks.ISOLATION)
            if foreign else None, exchange)

    def expect_oldest_first(self, exchange: Exchange, captures: list[dict[str, Any]]) -> None:
        """The spec: every capture of the proof, oldest first (by created_at)."""
        moments = [created_at(item) for item in captures]
        if None in moments:
            return  # response_schema reports an unreadable created_at
        ordered = all(a <= b for a, b in pairwise(moments))  # type: ignore[operator]
        self.expect("list_order", exchange.operation or "(model)", None if ordered else
                    Failure("captures oldest first by created_at",
                            ", ".join(str(item.get("created_at")) for item in captures[:6]),
                            answer_at(self.session, "listCaptures")),
                    exchange)


# -- flows --------------------------------------------------------------------------------


def upload_flow(session: Session) -> None:
    """Credentials, the S3 POST, a capture from that key, then what later reads show."""
    key = upload(session)
    created, exchange = create_needed(session, upload_s3_key=key)
    require(session, "upload_flow", "createCapture", None if created and created.get(
        "upload_s3_key") == key else Failure(f"a capture with upload_s3_key {key}",
                                             f"{exchange.status} {exchange.body[:200]!r}",
                                             answer_at(session, "createCapture")), exchange)
    assert created is not None  # require ended the flow otherwise
    description = created["description"]
    listing, exchange = list_captures(session, session.primary, session.profile["primary"])
    require(session, "upload_flow", "listCaptures", None if len(with_description(
        listing, description)) == 1 else Failure("the uploaded capture listed once",
                                                 "absent or repeated",
                                                 answer_at(session, "listCaptures")), exchange)
    status, exchange = media_status(session, str(created["id"]))
    require(session, "upload_flow", "isMediaProcessed", None if status.get(
        "media_processed") is False else Failure("media_processed false right after creation",
                                                 repr(status)[:200],
                                                 answer_at(session, "isMediaProcessed")),
            exchange)
    processing(session, str(created["id"]))


def processing(session: Session, capture_id: str) -> None:
    """Past the documented delay the media is processed: the poll answers true with the
    proof's captures, the list agrees, and media_url serves the media. Without the mock
    clock the poll is repeated in real time until then."""
    def processed() -> bool:
        return media_status(session, capture_id)[0].get("media_processed") is True

    if not session.wait_until("lifecycle", f"the processing of capture {capture_id}",
                              processed, PROCESSING_SECONDS + 1,
                              promised=PROCESSING_SECONDS + PROCESSING_GRACE_SECONDS):
        return
    status, exchange = media_status(session, capture_id)
    polled = with_id(captures_of(status, "captures"), capture_id)
    require(session, "lifecycle", "isMediaProcessed", None if status.get(
        "media_processed") is True and polled else Failure(
        f"media_processed true with the captures, {PROCESSING_SECONDS} s after creation",
        repr(status)[:200], answer_at(session, "isMediaProcessed")), exchange)
    listing, exchange = list_captures(session, session.primary, session.profile["primary"])
    listed = with_id(listing, capture_id)
    media_url = answer_at(session, "listCaptures", "captures", "media_url")
    require(session, "lifecycle", "listCaptures", None if listed and listed.get(
        "media_processed") is True and listed.get("media_url") else Failure(
        "the processed capture listed with media_processed true and a media_url",
        repr(listed)[:200], media_url), exchange)
    assert listed is not None  # require ended the flow otherwise
    media = session.client.request("GET", str(listed["media_url"]))
    require(session, "lifecycle", "listCaptures", status_failure(media, 200, at=media_url),
            media)


def with_id(captures: list[dict[str, Any]], capture_id: str) -> dict[str, Any] | None:
    return next((item for item in captures if item.get("id") == capture_id), None)


def upload_policy_flow(session: Session) -> None:
    """The policy holds: a key outside its prefix is refused, and so is any upload once
    the policy has expired."""
    credentials = upload_credentials(session)
    outside = f"outside-the-policy/{uuid.uuid4()}.jpg"
    with session.refusal_expected():
        exchange = post_upload(session, credentials, outside)
    require(session, "upload_flow", "getUploadCredentials", None if exchange.status == 403
            else Failure(f"403 for key {outside}, outside the policy's prefix",
                         f"{exchange.status} {exchange.body[:200]!r}",
                         credentials_at(session, "key")), exchange)
    if not session.elapse("lifecycle", "the upload policy's expiry",
                          UPLOAD_WINDOW_SECONDS + 60):
        return
    with session.refusal_expected():  # the policy has expired
        exchange = post_upload(session, credentials, f"{credentials['key']}.jpg")
    require(session, "lifecycle", "getUploadCredentials", None if exchange.status == 403
            else Failure("403 once the policy has expired (1 hour after issue)",
                         f"{exchange.status} {exchange.body[:200]!r}",
                         (*credentials_at(session, "policy"), "contentSchema", NOTE)),
            exchange)


def unknown_upload_flow(session: Session) -> None:
    """A key under which nothing was uploaded: the documented 400, and no capture."""
    key = f"captures/{uuid.uuid4()}.jpg"
    description = unique_description("never uploaded")
    with session.refusal_expected():  # nothing was uploaded under the key
        _, exchange = create_capture(session, session.primary, session.profile["primary"],
                                     {"description": description, "upload_s3_key": key})
    message = (exchange.json_or_none() or {}).get("message") if exchange.status == 400 else None
    rule = exchange.answer_at(400, NO_UPLOADED_OBJECT)
    require(session, "upload_required", "createCapture", None if message == NO_UPLOADED_OBJECT
            else Failure(f"400 {NO_UPLOADED_OBJECT!r}",
                         f"{exchange.status} {exchange.body[:200]!r}", rule), exchange)
    listing, exchange = list_captures(session, session.primary, session.profile["primary"])
    require(session, "upload_required", "listCaptures", Failure(
        "no capture from a refused create", description, rule)
        if with_description(listing, description) else None, exchange)


def session_flow(session: Session) -> None:
    """Logout needs a session; with login details in the profile, a session of its own is
    opened, used, ended, and must then be refused."""
    with session.refusal_expected():
        for label, credentials in (("no", NO_CREDENTIALS), ("invalid", token(UNKNOWN_TOKEN))):
            expect_refused(session, "deleteSession", label, credentials)
    # the session is optional for upload credentials, but a token that is sent must be valid
    expect_refused(session, "getUploadCredentials", "invalid", token(UNKNOWN_TOKEN))
    session.guard("deleteSession")  # a logout of the run's own sessions: a write
    primary = session.profile["primary"]
    if not all(primary.get(key) for key in LOGIN_KEYS):
        session.results.skip("delete_is_final", "the profile's primary has no email and "
                                                "password to open a session to end")
        return
    login = {key: str(primary[key]) for key in (*LOGIN_KEYS, *OPTIONAL_LOGIN_KEYS)
             if primary.get(key)}
    logout_is_final(session, login)
    path_logout_is_final(session, login)


def expect_refused(session: Session, operation_id: str, label: str,
                   credentials: Credentials) -> None:
    exchange = session.send(operation_id, credentials,
                    path_params=proof_path(session.profile["primary"]))
    session.expect("auth_required", operation_id, checks.auth_required(
        session.operation(operation_id), exchange, label), exchange)


def open_session(session: Session, login: dict[str, str]) -> str:
    """A session of the run's own (never the profile's token), its token returned."""
    exchange = session.send("createSession", NO_CREDENTIALS, body=login, has_body=True)
    body = exchange.json_or_none()
    opened = exchange.status == 200 and isinstance(body, dict) and body.get("token")
    require(session, "delete_is_final", "createSession", None if opened else
            Failure("200 with a token for the profile's login", f"{exchange.status}",
                    exchange.answer_at(200)), exchange)
    return str(body["token"])


def logout_is_final(session: Session, login: dict[str, str]) -> None:
    own = token(open_session(session, login))
    primary = session.profile["primary"]
    for step, expected in (("listCaptures", 200), ("deleteSession", LOGGED_OUT_STATUS),
                           ("listCaptures", 401), ("deleteSession", 401)):
        exchange = session.send(step, own, path_params=proof_path(primary))
        require(session, "delete_is_final", step, status_failure(exchange, expected), exchange)


def path_logout_is_final(session: Session, login: dict[str, str]) -> None:
    """The SDK's logout: the token in the path, no other credential."""
    value = open_session(session, login)
    primary = session.profile["primary"]
    for step, expected in (("listCaptures", 200), ("deleteSessionByToken", LOGGED_OUT_STATUS),
                           ("listCaptures", 401), ("deleteSessionByToken", 401)):
        by_path = step == "deleteSessionByToken"
        exchange = session.send(step, NO_CREDENTIALS if by_path else token(value),
                                path_params={"token": value} if by_path else proof_path(primary))
        require(session, "delete_is_final", step, status_failure(exchange, expected), exchange)


ADAPTER = CaptureProofAdapter()
