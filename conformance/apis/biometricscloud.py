"""Biometrics Cloud: a tenant's medical records, each a base64 file behind a presigned URL.

What the spec alone cannot tell the generator: the bearer token of each profile account,
an id that exists for retrieve, update and delete, and that ``upload_content`` must decode.
The model checks the documented semantics: records read back as written, ``file_url``
downloads exactly the uploaded bytes, delete archives for good, keyset pages visit every
record once in the requested order, and another tenant neither sees nor changes them.
The flows check pagination over every sort order and the 15-minute life of a
``file_url`` (on the mock clock, or in real time with a ``--max-wait`` of 15 minutes).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, multiple, precondition

from conformance import baseline, checks
from conformance.apis._common import bearer, plain_text
from conformance.baseline import Variant, answered
from conformance.cleanup import Disposal, body_field, release
from conformance.generation.positive import Pins
from conformance.results import Failure
from conformance.session import Session, SetupError
from conformance.spec import Location, Operation
from conformance.stateful import ModelMachine, model_rule
from conformance.transport import (
    NO_CREDENTIALS,
    Case,
    Credentials,
    Exchange,
    TargetUnreachable,
)
from vendor_specs.sources import NOTE

#: an id no run creates: what retrieve, update and delete get when no record could be made
ABSENT_ID = 2_147_483_647
#: the spec's SortField and SortOrder enums
SORT_FIELDS = ("id", "created_time", "description", "file_name", "type")
SORT_ORDERS = ("asc", "desc")
#: the document: "file_url will only be valid for 15 minutes"
URL_LIFETIME_SECONDS = 900
#: a safety net for a server whose cursor never ends; far above any honest walk
MAX_PAGES = 2000
#: the Limit parameter's maximum, for walks that only look for foreign records
LARGEST_PAGE = 100
#: the profile's two accounts, each with its own view of the list
ACCOUNTS = ("primary", "secondary")
#: update body field -> the record field it changes (the spec: upload_filename -> file_name)
UPDATABLE = {"description": "description", "type": "type", "upload_filename": "file_name"}


def record_sent(session: Session, sent: Case, credentials: Credentials) -> int | None:
    """The newest record showing what ``sent`` wrote."""
    return listed_id(session, Draft.written(sent.body, b""), credentials)


class BiometricsCloudAdapter:
    name = "biometricscloud"
    #: the semantic checks this adapter's model and flows assert
    checks = ("delete_is_final", "file_url", "isolation", "lifecycle", "pagination",
              "read_after_write", "refresh_rotation", "unique_ids")
    protected_fields: frozenset[str] = frozenset()
    generated_values = None
    sign_ins = frozenset({"login"})
    #: the document's delete archives a record: the only removal it offers
    disposals = (Disposal("record", "createFile", body_field("id"), "deleteFile",
                          verb="archived", name_field="description", find=record_sent),)

    def sign_in(self, session: Session, account: Mapping[str, Any]) -> Credentials:
        """The profile's token as a bearer token, proven by listing files: a refused token
        would turn every later verdict into noise, so it stops the run (exit status 2)."""
        credentials = bearer(str(account["token"]))
        exchange = session.client.send(
            Case(session.operation("listFiles"), query={"limit": 1}), credentials)
        if exchange.status != 200:
            role = "primary" if account is session.profile.get("primary") else "secondary"
            raise SetupError(f"biometricscloud: the {role} account's token was refused: "
                             f"GET /files answered {exchange.status}, not 200; check the "
                             f"profile's biometricscloud.{role}.token")
        return credentials

    def alive(self, session: Session, credentials: Credentials) -> bool:
        return True  # the profile's token: the run never ends it

    def invalid_credentials(self) -> Credentials:
        return bearer("conformance-invalid-token")

    def pins(self, session: Session, operation: Operation) -> Pins | None:
        make = PINS.get(operation.operation_id)
        return make(session) if make else Pins()

    def machine(self, session: Session) -> type[ModelMachine]:
        return type("BiometricsCloudModel", (BiometricsCloudModel,),
                    {"session": session, "issued": set()})

    def flows(self) -> Iterable[Callable[[Session], None]]:
        return [pagination_flow, file_url_flow, refresh_flow]


# -- pins -------------------------------------------------------------------------------


def encoded_contents() -> st.SearchStrategy[str]:
    """``upload_content`` that decodes: its pattern alone admits undecodable text (a
    length leaving one lone character), which the spec answers with a documented 400."""
    return st.binary(max_size=64).map(lambda data: base64.b64encode(data).decode())


def _login_pins(session: Session) -> Pins:
    """The profile may hint at a login (more keys are allowed); with one, half the logins
    succeed and half use a wrong password, so both documented answers are exercised."""
    primary = session.profile["primary"]
    if not primary.get("username") or not primary.get("password"):
        return Pins()
    return Pins(body={"username": str(primary["username"]), "password": st.sampled_from(
        [str(primary["password"]), "conformance-wrong-password"])})


def _create_pins(session: Session) -> Pins:
    return Pins(body={"upload_content": encoded_contents()})


def _existing_record_pins(session: Session) -> Pins:
    """One record for every example: reading or updating it need not grow the tenant
    (every record lengthens each pagination walk). An id that does not exist when the
    server refused to create one: the schema phase then still gets a documented 404.
    Under --read-only: a record the tenant has already, for reads only."""
    if session.settings.read_only:
        return Pins(path={"id": ABSENT_ID})
    return Pins(path={"id": create_record(session) or ABSENT_ID})


def _readable_record_pins(session: Session) -> Pins:
    if not session.settings.read_only:
        return _existing_record_pins(session)
    listing = session.send("listFiles", query={"limit": 1})
    entries = [entry for entry in as_object(listing).get("results") or []
               if isinstance(entry, dict)]
    return Pins(path={"id": entries[0].get("id", ABSENT_ID) if entries else ABSENT_ID})


def _fresh_record_pins(session: Session) -> Pins:
    """A record per example, since each successful delete archives its own."""
    if session.settings.read_only:
        return Pins(path={"id": ABSENT_ID})
    return Pins(path={"id": st.builds(lambda: create_record(session) or ABSENT_ID)})


PINS: dict[str, Callable[[Session], Pins]] = {
    "login": _login_pins, "createFile": _create_pins, "retrieveFile": _readable_record_pins,
    "updateFile": _existing_record_pins, "deleteFile": _fresh_record_pins,
}


def _sample(session: Session) -> dict[str, Any]:
    """The document's sample call, its description made unique (a create may answer no
    id, and the record is then found in the list by what was written)."""
    sample = baseline.sample(session.operation("createFile"))
    return {**sample, "description": f"{sample.get('description', '')} {baseline.unique('cf')}"}


#: the baseline create, safest last (conformance.baseline); the content is the caller's
BASELINE = (
    Variant("the document's sample call", _sample),
    Variant("a short plain-ASCII description and file name", lambda session: {
        **_sample(session), "description": baseline.unique("cf"), "upload_filename": "cf.png"}),
)


def create_record(session: Session, content: bytes = b"conformance record") -> int | None:
    """A new record of the primary tenant; None when the server refused every baseline
    variant (the createFile checks report why)."""
    encoded = base64.b64encode(content).decode()
    exchange = baseline.create(session, "createFile", BASELINE, lambda body: session.send(
        "createFile", body={**body, "upload_content": encoded}, has_body=True))
    if exchange.status != 200:
        return None
    return created_id(session, exchange, Draft.written(baseline.sent(exchange), content))


# -- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A record as the client wrote it: what every later read must show."""

    description: str
    type: int
    file_name: str
    content: bytes

    @classmethod
    def written(cls, body: Mapping[str, Any], content: bytes) -> Draft:
        """What a create's body wrote (its content given as bytes: the body holds it
        encoded)."""
        return cls(str(body.get("description")), body.get("type", 1),
                   str(body.get("upload_filename")), content)

    def body(self) -> dict[str, Any]:
        return {"description": self.description, "type": self.type,
                "upload_content": base64.b64encode(self.content).decode(),
                "upload_filename": self.file_name}

    def shown(self) -> dict[str, Any]:
        return {"description": self.description, "type": self.type,
                "file_name": self.file_name, "state": 1}

    def updated(self, changes: Mapping[str, Any]) -> Draft:
        fields = {UPDATABLE[name]: value for name, value in changes.items()}
        return Draft(fields.get("description", self.description), fields.get("type", self.type),
                     fields.get("file_name", self.file_name), self.content)


def file_names() -> st.SearchStrategy[str]:
    """UploadFilename: no ``/`` or ``\\``; plain and short, as the model's own data."""
    return plain_text(24, min_size=1, exclude="/\\")


def drafts() -> st.SearchStrategy[Draft]:
    return st.builds(Draft, plain_text(24), st.sampled_from([1, 2, 3, 4, 5]),
                     file_names(), st.binary(max_size=48))


def updates() -> st.SearchStrategy[dict[str, Any]]:
    """Partial updates: at least one of the documented fields (minProperties 1)."""
    return st.fixed_dictionaries({}, optional={
        "description": plain_text(24), "type": st.sampled_from([1, 2, 3, 4, 5]),
        "upload_filename": file_names()}).filter(bool)


def as_object(exchange: Exchange) -> dict[str, Any]:
    body = exchange.json_or_none()
    return body if isinstance(body, dict) else {}


def created_id(session: Session, exchange: Exchange, draft: Draft) -> int | None:
    """The new record's id: the mock answers it, but the document's own sample omits it,
    so a vendor answering like the document is found in the list instead."""
    answered = as_object(exchange).get("id")
    if isinstance(answered, int) and not isinstance(answered, bool):
        return answered
    listed = listed_id(session, draft, session.primary, judged=True)
    if listed is not None:
        session.ledger.name(exchange, listed)
    return listed


def listed_id(session: Session, draft: Draft, credentials: Credentials,
              judged: bool = False) -> int | None:
    """The newest record showing what ``draft`` wrote, among the 20 newest."""
    listing = session.client.send(Case(session.operation("listFiles"), query={
        "sort_field": "id", "sort_order": "desc", "limit": 20}), credentials)
    if judged:
        session.judge_response(listing)
    for entry in as_object(listing).get("results", []):
        if isinstance(entry, dict) and all(entry.get(k) == v
                                           for k, v in draft.shown().items()):
            found = entry.get("id")
            return found if isinstance(found, int) else None
    return None


def retrieve(session: Session, record_id: int, credentials: Credentials) -> Exchange:
    exchange = session.send("retrieveFile", credentials, path_params={"id": record_id})
    return exchange


def file_url_at(session: Session) -> Location:
    """The document's note on ``file_url``: valid for 15 minutes, then retrieve again."""
    return session.operation("retrieveFile").field_at(200, "file_url")


def download(session: Session, url: Any) -> tuple[Exchange | None, Failure | None]:
    """GET a ``file_url`` as a browser would; an unusable or unreachable URL is the
    server's fault (a violation), never a reason to abort the run."""
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return None, Failure("an http(s) file_url", repr(url)[:200], file_url_at(session))
    try:
        return session.client.request("GET", url), None
    except TargetUnreachable as error:
        return None, Failure("a reachable file_url", str(error)[:200], file_url_at(session))


def downloaded(session: Session, url: Any, content: bytes) -> tuple[Failure | None,
                                                                        Exchange | None]:
    """Whether ``url`` serves exactly ``content``."""
    exchange, failure = download(session, url)
    if exchange is None:
        return failure, None
    if exchange.status != 200:
        return Failure("200 with the uploaded bytes", answered(exchange),
                       file_url_at(session)), exchange
    if exchange.body != content:
        return Failure(f"the {len(content)} uploaded bytes {content[:32]!r}",
                       f"{len(exchange.body)} bytes {exchange.body[:32]!r}",
                       file_url_at(session)), exchange
    return None, exchange


def shown_fields(exchange: Exchange, expected: Mapping[str, Any],
                 seen: Mapping[str, Any]) -> Failure | None:
    """The record as written; the rule is the answer that shows it."""
    wrong = {name: seen.get(name) for name, value in expected.items()
             if seen.get(name) != value}
    if not wrong:
        return None
    return Failure(", ".join(f"{name} = {expected[name]!r}" for name in wrong),
                   ", ".join(f"{name} = {value!r}" for name, value in wrong.items()),
                   exchange.answer_at(200))


def archive_at(session: Session) -> Location:
    """Delete archives: the decision on what an archived record is (deleteFile's note)."""
    return session.operation("deleteFile").root_at()


# -- keyset pagination ------------------------------------------------------------------


@dataclass
class Walk:
    """Every page of one listing, following ``next_id``, and the first thing wrong."""

    entries: list[tuple[dict[str, Any], Exchange]] = field(default_factory=list)
    problem: tuple[Failure, Exchange] | None = None
    last: Exchange | None = None

    def counts(self) -> Counter[Any]:
        return Counter(entry.get("id") for entry, _ in self.entries)


def walk(session: Session, credentials: Credentials, sort_field: str, sort_order: str,
         limit: int) -> Walk:
    """Page from the start until an empty page, passing each ``next_id`` as ``offset``;
    stops at the first page that breaks the documented keyset rules."""
    result, offset = Walk(), None
    for _ in range(MAX_PAGES):
        query = {"sort_field": sort_field, "sort_order": sort_order, "limit": limit,
                 **({} if offset is None else {"offset": offset})}
        exchange = session.send("listFiles", credentials, query=query)
        result.last = exchange
        page, problem = read_page(exchange, limit)
        problem = problem or _add_entries(result, exchange, page, sort_field, sort_order)
        if problem is not None:
            result.problem = (problem, exchange)
            return result
        if not page["results"]:
            return result
        offset = page["next_id"]
    result.problem = (Failure(f"an empty page within {MAX_PAGES} pages", "no end",
                              result.last.parameter_at("offset")),
                      result.last) if result.last else None
    return result


def read_page(exchange: Exchange, limit: int) -> tuple[dict[str, Any], Failure | None]:
    """One page as the spec's FileList describes it: ``count`` entries, at most ``limit``,
    ``next_id`` the last entry's id, and null exactly on the empty last page."""
    page = as_object(exchange)
    results = page.get("results")
    if exchange.status != 200 or not isinstance(results, list) or not all(
            isinstance(entry, dict) for entry in results):
        return page, Failure("200 with a FileList page", answered(exchange),
                             exchange.answer_at(200))
    expected_next = results[-1].get("id") if results else None
    if page.get("count") != len(results) or len(results) > limit:
        return page, Failure(f"count = {len(results)} entries, at most limit {limit}",
                             f"count {page.get('count')!r}, {len(results)} entries",
                             exchange.field_at(200, "count"))
    if page.get("next_id") != expected_next:
        return page, Failure(f"next_id = {expected_next!r} (the last entry's id)",
                             repr(page.get("next_id")),
                             exchange.field_at(200, "next_id"))
    return page, None


def _add_entries(result: Walk, exchange: Exchange, page: Mapping[str, Any], sort_field: str,
                 sort_order: str) -> Failure | None:
    seen = result.counts()
    previous = result.entries[-1][0] if result.entries else None
    for entry in page["results"]:
        if seen[entry.get("id")]:
            return Failure("every record once across the pages", f"id {entry.get('id')} again",
                           exchange.parameter_at("offset"))
        if previous is not None and not in_order(previous, entry, sort_field, sort_order):
            return Failure(f"{sort_field} {sort_order} (ties by id), so "
                           f"{_position(previous, sort_field)} before it",
                           f"{_position(entry, sort_field)} next",
                           exchange.parameter_at("sort_field"))
        seen[entry.get("id")] += 1
        previous = entry
        result.entries.append((entry, exchange))
    return None


def in_order(before: Mapping[str, Any], after: Mapping[str, Any], sort_field: str,
             sort_order: str) -> bool:
    """The keyset order (sort_field, id): created_time as an instant, text by code point."""
    try:
        first, second = sort_key(before, sort_field), sort_key(after, sort_field)
        return bool(first < second if sort_order == "asc" else first > second)
    except (TypeError, ValueError):
        return False


def sort_key(entry: Mapping[str, Any], sort_field: str) -> tuple[Any, Any]:
    value = entry.get(sort_field)
    if sort_field == "created_time":
        value = _instant(str(value))
    return value, entry.get("id")


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _position(entry: Mapping[str, Any], sort_field: str) -> str:
    return f"id {entry.get('id')} ({sort_field} {entry.get(sort_field)!r})"


def once_each(result: Walk, ids: Iterable[int]) -> Failure | None:
    counts = result.counts()
    wrong = {record_id: counts[record_id] for record_id in ids if counts[record_id] != 1}
    if not wrong:
        return None
    return Failure("each record of the run listed exactly once",
                   ", ".join(f"id {record_id} {count} times"
                             for record_id, count in sorted(wrong.items())),
                   result.last.parameter_at("offset") if result.last else ())


# -- the model --------------------------------------------------------------------------


class BiometricsCloudModel(ModelMachine):
    """Records as the primary tenant wrote them; every answer is compared with them."""

    records = Bundle("records")
    #: every id a create answered during the run (records outlive a machine's example)
    issued: ClassVar[set[int]]

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[int, Draft] = {}
        self.deleted: set[int] = set()
        #: whose listing has not been walked since the last write: walking again without
        #: one would only repeat the same pages (walks are the bulk of a run's requests)
        self.unwalked: set[str] = set()

    @model_rule(target=records, draft=drafts())
    def create(self, draft: Draft) -> Any:
        exchange = self.send("createFile", body=draft.body(), has_body=True)
        self.expect_accepted(exchange)
        record_id = created_id(self.session, exchange, draft)
        if record_id is None:
            self.expect("read_after_write", "createFile",
                        Failure("the new record's id, answered or listed", "neither",
                                exchange.answer_at(200)), exchange)
            return multiple()
        self.expect("unique_ids", "createFile", None if record_id not in self.issued else
                    Failure("a new id", f"{record_id}, already answered for another record",
                            exchange.field_at(200, "id")),
                    exchange)
        self.issued.add(record_id)
        self.model[record_id], self.unwalked = draft, set(ACCOUNTS)
        self._shows(exchange, draft)
        self._reads_back(record_id)
        return record_id

    @model_rule(record=records, changes=updates())
    def update(self, record: int, changes: dict[str, Any]) -> None:
        exchange = self.send("updateFile", path_params={"id": record}, body=changes,
                             has_body=True)
        self.expect_status("read_after_write", exchange, 200)
        self.model[record], self.unwalked = self.model[record].updated(changes), set(ACCOUNTS)
        self._shows(exchange, self.model[record])
        self._reads_back(record)

    @model_rule(record=records)
    def read_back(self, record: int) -> None:
        self._reads_back(record)

    @model_rule(record=consumes(records))
    def delete(self, record: int) -> None:
        exchange = self.send("deleteFile", path_params={"id": record})
        self.expect_status("delete_is_final", exchange, 204)
        self.deleted.add(record)
        del self.model[record]
        self.unwalked = set(ACCOUNTS)
        for operation_id, body in (("retrieveFile", None), ("updateFile", {"type": 5}),
                                   ("deleteFile", None)):
            after = self.send(operation_id, path_params={"id": record}, body=body,
                              has_body=body is not None)
            self.expect("delete_is_final", operation_id, None if after.status == 404 else Failure(
                "status 404", answered(after), archive_at(self.session)
                if 200 <= after.status < 300 else after.answer_at(404)), after)
        self._not_listed(record)

    @model_rule(record=records)
    def other_tenant_is_kept_out(self, record: int) -> None:
        secondary = self.session.secondary
        for operation_id, body in (("retrieveFile", None),
                                   ("updateFile", {"description": "isolation probe"}),
                                   ("deleteFile", None)):
            exchange = self.send(operation_id, secondary, path_params={"id": record},
                                 body=body, has_body=body is not None)
            self.expect_status("isolation", exchange, 404)

    @precondition(lambda self: "secondary" in self.unwalked)
    @model_rule()
    def other_tenant_lists_none(self) -> None:
        self.unwalked.discard("secondary")
        listing = walk(self.session, self.session.secondary, "id", "desc", LARGEST_PAGE)
        leaked = sorted(set(listing.counts()) & (set(self.model) | self.deleted))
        self.expect("isolation", "listFiles", Failure(
            "no record of another tenant", f"ids {leaked}", checks.ISOLATION) if leaked else None,
            listing.last)

    @precondition(lambda self: "primary" in self.unwalked)
    @model_rule(sort_field=st.sampled_from(SORT_FIELDS), sort_order=st.sampled_from(SORT_ORDERS),
                limit=st.integers(min_value=4, max_value=12))
    def pages_visit_every_record_once(self, sort_field: str, sort_order: str,
                                      limit: int) -> None:
        self.unwalked.discard("primary")
        listing = walk(self.session, self.session.primary, sort_field, sort_order, limit)
        if listing.problem is not None:
            self.expect("pagination", "listFiles", *listing.problem)
        self.expect("pagination", "listFiles", once_each(listing, self.model), listing.last)
        gone = sorted(set(listing.counts()) & self.deleted)
        self.expect("delete_is_final", "listFiles", Failure(
            "no archived record listed", f"ids {gone}", archive_at(self.session))
            if gone else None, listing.last)
        for entry, exchange in listing.entries:
            if entry.get("id") in self.model:
                self.expect("read_after_write", "listFiles",
                            shown_fields(exchange, self.model[entry["id"]].shown(), entry),
                            exchange)

    def teardown(self) -> None:
        """Archive what this example created: records outlive the example, and every live
        record lengthens every later walk (and a real tenant should not fill with them)."""
        archive(self.session, list(self.model))

    def _shows(self, exchange: Exchange, draft: Draft) -> None:
        self.expect("read_after_write", exchange.operation or "(model)",
                    shown_fields(exchange, draft.shown(), as_object(exchange)), exchange)

    def _reads_back(self, record: int) -> None:
        """Retrieve shows the record as written, and its fresh file_url the bytes."""
        exchange = retrieve(self.session, record, self.session.primary)
        self.expect_status("read_after_write", exchange, 200)
        self._shows(exchange, self.model[record])
        failure, fetched = downloaded(self.session, as_object(exchange).get("file_url"),
                                      self.model[record].content)
        self.expect("file_url", "retrieveFile", failure, fetched or exchange)

    def _not_listed(self, record: int) -> None:
        """The keyset page just below the record (offset id+1, id desc) no longer holds it."""
        exchange = self.send("listFiles", query={"sort_field": "id", "sort_order": "desc",
                                                 "offset": record + 1, "limit": 1})
        ids = [entry.get("id") for entry in as_object(exchange).get("results", [])
               if isinstance(entry, dict)]
        self.expect("delete_is_final", "listFiles", Failure(
            f"record {record} gone from the list", f"listed: {ids}",
            archive_at(self.session)) if record in ids else None, exchange)


# -- flows ------------------------------------------------------------------------------


def pagination_flow(session: Session) -> None:
    """Every sort field in both orders, with small pages: the run's own records each
    appear exactly once, in order, and every walk ends on an empty page."""
    created = [] if session.settings.read_only else [
        create_record(session, f"page {index}".encode()) for index in range(3)]
    mine = [record_id for record_id in created if record_id is not None]
    combinations = [(f, o) for f in SORT_FIELDS for o in SORT_ORDERS]
    for index, (sort_field, sort_order) in enumerate(combinations):
        listing = walk(session, session.primary, sort_field, sort_order, 3 + index % 3)
        if listing.problem is not None:
            session.expect("pagination", "listFiles", *listing.problem)
            continue
        session.expect("pagination", "listFiles", once_each(listing, mine), listing.last)
    archive(session, mine)


def file_url_flow(session: Session) -> None:
    """A file_url serves the uploaded bytes, refuses a tampered signature, and (on the
    mock clock, or in real time) still works just inside its 15 minutes, not after;
    retrieve re-signs."""
    content = b"\x89PNG\r\n\x1a\nconformance file_url"
    record_id = create_record(session, content)
    if record_id is None:
        session.expect("setup", "createFile", Failure("a record to download", "create "
                                                      "refused (see createFile)"), None)
        return
    try:
        _file_url_checks(session, record_id, content)
    finally:
        archive(session, [record_id])


def _file_url_checks(session: Session, record_id: int, content: bytes) -> None:
    exchange = retrieve(session, record_id, session.primary)
    url = as_object(exchange).get("file_url")
    failure, fetched = downloaded(session, url, content)
    if not session.expect("file_url", "retrieveFile", failure, fetched or exchange):
        return
    _signed_for_fifteen_minutes(session, str(url), exchange)
    _tampered_signature_refused(session, str(url))
    _expires_after_fifteen_minutes(session, record_id, str(url), content)


def archive(session: Session, record_ids: Iterable[int]) -> None:
    """Archive what a flow or a model's example created, as the run's end would: every
    live record lengthens every later walk, and a real tenant should not fill up."""
    release(session, "record", record_ids)


def _signed_for_fifteen_minutes(session: Session, url: str, exchange: Exchange) -> None:
    query = dict(parse_qsl(urlsplit(url).query))
    session.expect("file_url", "retrieveFile", None if query.get("X-Amz-Expires") == str(
        URL_LIFETIME_SECONDS) and query.get("X-Amz-Signature") else Failure(
        f"a presigned URL with X-Amz-Expires={URL_LIFETIME_SECONDS} and X-Amz-Signature",
        url[:200], file_url_at(session)), exchange)


def _tampered_signature_refused(session: Session, url: str) -> None:
    """Only the signature changes, in place: re-encoding the whole query could break the
    URL some other way and make a 403 prove nothing."""
    signature = dict(parse_qsl(urlsplit(url).query)).get("X-Amz-Signature", "")
    tampered = url.replace(f"X-Amz-Signature={signature}",
                           f"X-Amz-Signature={_tamper(signature)}")
    exchange, failure = download(session, tampered)
    if exchange is not None and exchange.status != 403:
        failure = Failure("403 for a tampered X-Amz-Signature", str(exchange.status),
                          (*file_url_at(session), NOTE))
    session.expect("file_url", "retrieveFile", failure, exchange)


def _tamper(signature: str) -> str:
    last = signature[-1:] or "0"
    return signature[:-1] + ("1" if last == "0" else "0")


def _expires_after_fifteen_minutes(session: Session, record_id: int, url: str,
                                   content: bytes) -> None:
    """880 s after signing the URL still serves the file, 901 s after it answers 403, and
    a retrieve then signs a new one that works (the document's note). On the mock clock,
    or in real time where ``--max-wait`` allows it."""
    if not session.elapse("lifecycle", "the file_url's 15-minute expiry",
                          URL_LIFETIME_SECONDS - 20):
        return
    failure, exchange = downloaded(session, url, content)
    session.expect("lifecycle", "retrieveFile", failure and Failure(
        f"the file_url still valid {URL_LIFETIME_SECONDS - 20} s after signing: "
        f"{failure.expected}", failure.seen, failure.at), exchange)
    if not session.elapse("lifecycle", "the file_url's 15-minute expiry", 21):
        return
    exchange, failure = download(session, url)
    if exchange is not None and exchange.status != 403:
        failure = Failure(f"403 once the file_url is {URL_LIFETIME_SECONDS + 1} s old",
                          answered(exchange), file_url_at(session))
    session.expect("lifecycle", "retrieveFile", failure, exchange)
    fresh = retrieve(session, record_id, session.primary)
    failure, fetched = downloaded(session, as_object(fresh).get("file_url"), content)
    session.expect("lifecycle", "retrieveFile", failure and Failure(
        f"a fresh retrieve signs a working file_url: {failure.expected}", failure.seen,
        failure.at),
        fetched or fresh)



def refresh_flow(session: Session) -> None:
    """With a login in the profile: a refresh answers a new pair, the new access token
    works, the old access and refresh tokens are refused, and the new refresh token works
    (refreshToken's description). Only the run's own login is refreshed."""
    primary = session.profile["primary"]
    session.guard("refreshToken")  # it rotates the tokens: not under --read-only
    if not primary.get("username") or not primary.get("password"):
        session.results.skip("refresh_rotation", "the profile's primary has no username and "
                                                 "password to log in and refresh")
        return
    grant = _json_object(session.send("login", NO_CREDENTIALS, has_body=True, body={
        "username": str(primary["username"]), "password": str(primary["password"])}))
    renewed = _refreshed(session, grant.get("refresh_token"))
    if renewed is None:
        return
    steps = (("listFiles", bearer(str(renewed.get("access_token"))), None, 200),
             ("listFiles", bearer(str(grant.get("access_token"))), None, 401),
             ("refreshToken", NO_CREDENTIALS, grant.get("refresh_token"), 401),
             ("refreshToken", NO_CREDENTIALS, renewed.get("refresh_token"), 200))
    for operation_id, credentials, refresh_token, expected in steps:
        exchange = (session.send(operation_id, credentials, query={"limit": 1})
                    if refresh_token is None else
                    session.send(operation_id, credentials, has_body=True,
                                 body={"refresh_token": str(refresh_token)}))
        session.expect("refresh_rotation", operation_id, None if exchange.status == expected
                       else Failure(f"status {expected}", str(exchange.status),
                                    exchange.answer_at(expected)), exchange)


def _refreshed(session: Session, refresh_token: Any) -> dict[str, Any] | None:
    """The refresh of the run's own login, or None (and a failure) when it is refused."""
    if not refresh_token:
        session.expect("refresh_rotation", "login", Failure(
            "a refresh_token from the profile's login", "none",
            session.operation("login").field_at(200, "refresh_token")), None)
        return None
    exchange = session.send("refreshToken", NO_CREDENTIALS, has_body=True,
                            body={"refresh_token": str(refresh_token)})
    if exchange.status == 200:
        return _json_object(exchange)
    session.expect("refresh_rotation", "refreshToken",
                   Failure("status 200", str(exchange.status), exchange.answer_at(200)), exchange)
    return None


def _json_object(exchange: Exchange) -> dict[str, Any]:
    body = exchange.json_or_none()
    return body if isinstance(body, dict) else {}

ADAPTER = BiometricsCloudAdapter()
