"""Strict-but-conforming variants of the four APIs: servers that are not the mock.

The conformance suite exists to judge other implementations, so its tests need servers
that do what a real vendor may do where the documents leave it open, while still keeping
to the documents' own words. Each variant is a reverse proxy in front of the real mock (a
black box, as ``broken_proxy`` is), so it never drifts from the mock's semantics and the
planted bugs of ``broken_proxy`` can sit behind it unchanged.

What each variant does -> the freedom that allows it. "Decision" marks a departure from a
choice the contract made alone (an ``x-source-note``): the suite may report those, under
the checks ``DEPARTURES`` in ``tests/test_conformance_strict.py`` names.

all       no ``/__admin`` (404): no clock, no fixtures, the profile comes from a file
            -> INTERFACES.md: the suite's core checks need no admin API
          JSON object keys in reverse order -> JSON objects are unordered
MyCRT     capture names of 4-20 characters -> decision (CaptureName 4-25, the service's
            source); the document's samples use 7-9
          ``start`` null until RUNNING, unless the create sent one -> ``Capture.start``:
            "Null until the capture starts"
          times stored to the second (MySQL's DATETIME: ``...:05.000Z``), but for a
            ``start`` the create sent, echoed -> ``Capture.start``: "as the service stores
            it"; the document echoes only ``start``
          RUNNING 7 s after the create (STARTING at 3 s), DONE 6 s after a stop, the
            documented 409 for a stop before RUNNING -> the document gives no timings,
            the spec "a few seconds"
          no data points before RUNNING -> getCaptureMetrics: "no data points ([]) while
            the capture has no recorded time range yet"
          listCaptures newest first -> neither document nor spec orders it
          one more field in error bodies -> the Error schema is open
          logout answers 200 without a body -> decision (``{}``, the service's own answer);
            the document has no logout
CaptureProof
          the X-API-Session header is not read (query or body ``token`` only) -> decision
            (sessionHeader: "Not shown in the captures document")
          descriptions of at most 64 printable characters -> decision: the document sets
            no limit, the spec says "string"
          a new capture answers 201 Created -> decision (200): the document shows no status
          more fields in Capture, Proof and the session's user -> the spec: they "stay
            open for fields the vendor may add"
Biometrics Cloud
          create, retrieve and update answer no ``id`` or ``uuid`` -> the document's own
            samples show neither
          ``created_time`` in UTC -> a date-time; the sample's offset is the server's zone
          pages of at most 7 records whatever ``limit`` asks (up to the contract's 100)
            -> the document: limit is "the maximum number of entries"
          descriptions and file names of at most 64 printable characters -> decision
            (UploadFilename 1-255); the document says only "The file name of the image"
          one more field in error bodies -> the Error schema is open
Uplift    at most 120 requests per API key per second, then 429 with Retry-After -> the
            document's 429 TooManyRequests
          pages of 20 by default, 25 at most (the answer's ``limit`` says so) -> decision
            (default 100, clamped to 1-500) on the read side the document lacks
          listCaptures oldest first -> neither document nor spec orders it
          ``awaiting_upload`` for 2 s after the S3 upload -> the read side is the
            contract's; S3 notifies asynchronously
          captures read with ``source: api`` -> ``Capture`` admits more string properties

``python tests/strict_server.py --api NAME --upstream ORIGIN [--port N]`` serves one variant
until interrupted (the benchmarks start it this way).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from broken_proxy import Answer, Breakage, BrokenProxy, Exchange, Forward

JSON = {"Content-Type": "application/json"}
#: each API's base path, on the mock and on its variant alike
#: INTERFACES.md's base paths, written out rather than read from the specs: the tests
#: hold the mock to the fixed interface
BASE_PATHS = {"mycrt": "/api", "captureproof": "/api/v1", "biometricscloud": "/api/v1",
              "uplift": "/v1"}


def json_answer(status: int, document: Any, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {**JSON, **(headers or {})}, json.dumps(document).encode())


def body_of(exchange: Exchange) -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return json.loads(exchange.body)
    except ValueError:
        return None


def answer_json(answer: Answer) -> Any:
    if not answer.headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        return answer.json()
    except ValueError:
        return None


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def printable(text: str, limit: int) -> bool:
    return len(text) <= limit and text.isprintable()


def with_query(exchange: Exchange, **values: str) -> Exchange:
    query = dict(parse_qsl(exchange.query, keep_blank_values=True)) | values
    return replace(exchange, query=urlencode(query))


def clamped_limit(exchange: Exchange, default: int, largest: int,
                  valid_up_to: float = math.inf) -> Exchange:
    """The page size the variant serves: ``default`` when none is asked, never more than
    ``largest``. A ``limit`` the contract refuses (not a number, above ``valid_up_to``) goes
    on unchanged, for the mock to refuse."""
    asked = dict(parse_qsl(exchange.query, keep_blank_values=True)).get("limit")
    if asked is None:
        return with_query(exchange, limit=str(default))
    try:
        number = int(asked)
    except ValueError:
        return exchange
    if largest < number <= valid_up_to:
        return with_query(exchange, limit=str(largest))
    return exchange


class Variant:
    """One API's strict behaviour; ``respond`` handles every request the proxy gets."""

    def respond(self, exchange: Exchange, forward: Forward) -> Answer:
        if exchange.path.startswith("/__admin"):
            return Answer(404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>")
        answer = self.handle(exchange, forward)
        document = answer_json(answer)
        if document is None:
            return answer
        return answer.with_json(reversed_keys(self.reshape(exchange, answer.status, document)))

    def handle(self, exchange: Exchange, forward: Forward) -> Answer:
        return forward(exchange)

    def reshape(self, exchange: Exchange, status: int, document: Any) -> Any:
        """The JSON answer as this vendor shows it."""
        return document


# -- MyCRT -----------------------------------------------------------------------------

SCHEDULED, STARTED, STARTING, RUNNING, STOPPING, DONE = (
    "SCHEDULED", "STARTED", "STARTING", "RUNNING", "STOPPING", "DONE")
LIFECYCLE = (SCHEDULED, STARTED, STARTING, RUNNING, STOPPING, DONE)
NOT_STARTED_YET = "Cannot stop a capture until it has started completely. Try again soon."
CAPTURE_PATH = re.compile(r"/api/captures/(\d+)(/stop|/metrics)?")
MILLISECONDS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{3}Z")


def to_the_second(value: Any) -> Any:
    """An ISO time as a DATETIME column keeps it: the fraction of a second dropped."""
    if isinstance(value, str) and MILLISECONDS.fullmatch(value):
        return MILLISECONDS.sub(r"\1.000Z", value)
    return value


class StrictMyCrt(Variant):
    NAME = re.compile(r"[a-zA-Z0-9 :_\-]{4,20}")
    STARTING_AFTER, RUNNING_AFTER, DONE_AFTER = 3.0, 7.0, 6.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._created: dict[int, float] = {}
        self._stopped: dict[int, float] = {}
        self._given_start: set[int] = set()

    def handle(self, exchange: Exchange, forward: Forward) -> Answer:
        refused = self._refused_name(exchange)
        if refused is not None:
            return refused
        if exchange.method == "PUT" and exchange.path == "/api/users/logout":
            answer = forward(exchange)
            if answer.status != 200:
                return answer
            return Answer(200, {k: v for k, v in answer.headers.items()
                                if k.lower() != "content-type"}, b"")
        if exchange.method == "POST" and exchange.path == "/api/captures":
            return self._create(exchange, forward)
        match = CAPTURE_PATH.fullmatch(exchange.path)
        if exchange.method == "POST" and match and match.group(2) == "/stop":
            return self._stop(exchange, forward, int(match.group(1)))
        return forward(exchange)

    def _refused_name(self, exchange: Exchange) -> Answer | None:
        if exchange.path == "/api/captures" and exchange.method == "GET":
            name = dict(parse_qsl(exchange.query)).get("name")
        elif exchange.method in ("POST", "PUT") and (
                exchange.path == "/api/captures" or CAPTURE_PATH.fullmatch(exchange.path)):
            body = body_of(exchange)
            name = body.get("name") if isinstance(body, dict) else None
        else:
            return None
        if not isinstance(name, str) or self.NAME.fullmatch(name):
            return None
        return json_answer(400, {"code": 400, "message": "A capture name is 4 to 20 letters, "
                                 "digits, spaces, colons, underscores or hyphens"})

    def _create(self, exchange: Exchange, forward: Forward) -> Answer:
        answer = forward(exchange)
        body, created = body_of(exchange), answer_json(answer)
        if answer.status != 200 or not isinstance(created, dict) or not isinstance(body, dict):
            return answer
        with self._lock:
            if created.get("status") != SCHEDULED:
                self._created[created["id"]] = time.monotonic()
            if body.get("start"):
                self._given_start.add(created["id"])
        return answer

    def _stop(self, exchange: Exchange, forward: Forward, capture_id: int) -> Answer:
        """The documented 409 while the capture is RUNNING on the mock but not yet here."""
        read = forward(replace(exchange, method="GET", path=f"/api/captures/{capture_id}",
                               query="", body=b""))
        shown = answer_json(read)
        if read.status == 200 and isinstance(shown, dict) and shown.get("status") == RUNNING \
                and self._shown(shown)["status"] != RUNNING:
            return json_answer(409, {"code": 409, "message": NOT_STARTED_YET})
        answer = forward(exchange)
        if answer.status == 200:
            with self._lock:
                self._stopped[capture_id] = time.monotonic()
        return answer

    def _shown(self, capture: dict[str, Any]) -> dict[str, Any]:
        """A capture as this server shows it: later, and without ``start`` until it runs."""
        shown, now = dict(capture), time.monotonic()
        with self._lock:
            created = self._created.get(capture.get("id"))  # type: ignore[arg-type]
            stopped = self._stopped.get(capture.get("id"))  # type: ignore[arg-type]
            given_start = capture.get("id") in self._given_start
        if created is not None and shown.get("status") in (STARTED, STARTING, RUNNING):
            age = now - created
            here = STARTED if age < self.STARTING_AFTER else (
                STARTING if age < self.RUNNING_AFTER else RUNNING)
            shown["status"] = min(shown["status"], here, key=LIFECYCLE.index)
        if stopped is not None and shown.get("status") == DONE and now - stopped < self.DONE_AFTER:
            shown["status"], shown["end"] = STOPPING, None
        if shown.get("status") in (SCHEDULED, STARTED, STARTING) and not given_start:
            shown["start"] = None
        for name in ("scheduledStart", "scheduledEnd", "end", *(() if given_start else
                                                                ("start",))):
            shown[name] = to_the_second(shown.get(name))
        return shown

    def _not_running_yet(self, capture_id: int) -> bool:
        with self._lock:
            created = self._created.get(capture_id)
        return created is not None and time.monotonic() - created < self.RUNNING_AFTER

    def reshape(self, exchange: Exchange, status: int, document: Any) -> Any:
        if status >= 400 and isinstance(document, dict):
            return {**document, "error": HTTPStatus(status).phrase}
        if exchange.method != "GET" or status != 200:
            return self._shown(document) if isinstance(document, dict) and "status" in \
                document else document
        match = CAPTURE_PATH.fullmatch(exchange.path)
        if exchange.path == "/api/captures" and isinstance(document, list):
            return [self._shown(item) for item in reversed(document)]
        if match and match.group(2) == "/metrics" and isinstance(document, list):
            if self._not_running_yet(int(match.group(1))):
                return [{**series, "dataPoints": []} for series in document]
            return document
        if match and isinstance(document, dict):
            return self._shown(document)
        return document


# -- CaptureProof ------------------------------------------------------------------------

CP_CAPTURES = re.compile(r"/api/v1/patients/[^/]+/proofs/[^/]+/captures")


class StrictCaptureProof(Variant):
    DESCRIPTION_LIMIT = 64

    def handle(self, exchange: Exchange, forward: Forward) -> Answer:
        headers = {k: v for k, v in exchange.headers.items() if k.lower() != "x-api-session"}
        exchange = replace(exchange, headers=headers)
        body = body_of(exchange) if exchange.method == "POST" else None
        description = body.get("description") if isinstance(body, dict) else None
        if CP_CAPTURES.fullmatch(exchange.path) and isinstance(description, str) and \
                not printable(description, self.DESCRIPTION_LIMIT):
            return json_answer(400, {"code": 400, "error": "BadRequest", "message":
                                     f"description must be at most {self.DESCRIPTION_LIMIT} "
                                     "printable characters"})
        answer = forward(exchange)
        if exchange.method == "POST" and CP_CAPTURES.fullmatch(exchange.path) and \
                answer.status == 200:
            answer.status = 201
        return answer

    def reshape(self, exchange: Exchange, status: int, document: Any) -> Any:
        if status != 200 or not isinstance(document, dict):
            return document
        return self._more_fields(document)

    def _more_fields(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._more_fields(item) for item in value]
        if not isinstance(value, dict):
            return value
        shown = {key: self._more_fields(item) for key, item in value.items()}
        if "media_processed" in shown and "id" in shown:  # a Capture
            shown["thumbnail_url"] = None
        if "captures_count" in shown:  # a Proof
            shown["archived"] = False
        for role in ("clinician", "patient"):  # the session's user
            if isinstance(shown.get(role), dict):
                shown[role] = {**shown[role], "role": role}
        return shown


# -- Biometrics Cloud ----------------------------------------------------------------------

BC_RECORD = re.compile(r"/api/v1/file/[^/]+")


def in_utc(entry: Any) -> Any:
    """A list entry whose ``created_time`` is written in UTC, the same instant."""
    if not isinstance(entry, dict) or not isinstance(entry.get("created_time"), str):
        return entry
    try:
        moment = datetime.fromisoformat(entry["created_time"].replace("Z", "+00:00"))
    except ValueError:
        return entry
    if moment.tzinfo is None:
        return entry
    shown = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {**entry, "created_time": shown}


class StrictBiometricsCloud(Variant):
    PAGE, TEXT_LIMIT = 7, 64

    def handle(self, exchange: Exchange, forward: Forward) -> Answer:
        writes = (exchange.method == "POST" and exchange.path == "/api/v1/files") or (
            exchange.method == "PUT" and BC_RECORD.fullmatch(exchange.path))
        body = body_of(exchange) if writes else None
        if isinstance(body, dict):
            too_long = [name for name in ("description", "upload_filename")
                        if isinstance(body.get(name), str)
                        and not printable(body[name], self.TEXT_LIMIT)]
            if too_long:
                message = f"Ensure this field has at most {self.TEXT_LIMIT} printable characters."
                return json_answer(400, {"detail": message, "code": "invalid",
                                         "errors": {name: [message] for name in too_long}})
        if exchange.method == "GET" and exchange.path == "/api/v1/files":
            exchange = clamped_limit(exchange, self.PAGE, self.PAGE, valid_up_to=100)
        return forward(exchange)

    def reshape(self, exchange: Exchange, status: int, document: Any) -> Any:
        if not isinstance(document, dict):
            return document
        if status >= 400:
            return {**document, "status_code": status}
        if status == 200 and "file_url" in document:  # as the document's samples answer
            return {k: v for k, v in document.items() if k not in ("id", "uuid")}
        if status == 200 and isinstance(document.get("results"), list):
            return {**document, "results": [in_utc(entry) for entry in document["results"]]}
        return document


# -- Uplift -----------------------------------------------------------------------------

UPLIFT_CAPTURE = re.compile(r"/v1/captures/[^/]+")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UPLOAD_KEY = re.compile(rb'name="key"\r\n\r\n([^\r]*)\r\n')


class StrictUplift(Variant):
    PAGE, LARGEST_PAGE = 20, 25
    REQUESTS_PER_SECOND = 120
    PROCESSING_LAG = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._uploaded: dict[str, float] = {}

    def handle(self, exchange: Exchange, forward: Forward) -> Answer:
        if exchange.path.startswith("/v1/") and self._over_limit(exchange):
            return json_answer(429, {"error": "TooManyRequests", "message": "The rate limit "
                                     "has been exceeded. Please wait and try again later."},
                               {"Retry-After": "1"})
        if exchange.method == "GET" and exchange.path == "/v1/captures":
            return self._oldest_first(clamped_limit(exchange, self.PAGE, self.LARGEST_PAGE),
                                      forward)
        answer = forward(exchange)
        if exchange.method == "POST" and exchange.path.startswith("/s3/") and \
                200 <= answer.status < 300:
            key = UPLOAD_KEY.search(exchange.body)  # captures/<org>/<session_id>/<file>
            ids = UUID.findall(key.group(1).decode(errors="replace")) if key else []
            if ids:
                with self._lock:
                    self._uploaded[ids[-1]] = time.monotonic()
        return answer

    def _oldest_first(self, exchange: Exchange, forward: Forward) -> Answer:
        """The mock lists newest first: the page at ``offset`` from the oldest is the mock's
        page counted from the other end, reversed (so the mock still pages; a query the
        contract refuses goes on unchanged, for the mock to refuse)."""
        query = dict(parse_qsl(exchange.query, keep_blank_values=True))
        try:
            offset, limit = int(query.get("offset", "0")), int(query["limit"])
        except ValueError:
            return forward(exchange)
        probe = forward(with_query(exchange, offset="0", limit="1"))
        total = (answer_json(probe) or {}).get("total_count") if probe.status == 200 else None
        if offset < 0 or not isinstance(total, int):
            return forward(exchange)
        limit = min(max(limit, 1), self.LARGEST_PAGE)
        count = min(limit, total - offset)
        answer = probe if count <= 0 else forward(with_query(
            exchange, offset=str(total - offset - count), limit=str(count)))
        document = answer_json(answer)
        if answer.status != 200 or not isinstance(document, dict):
            return answer
        page = [] if count <= 0 else list(reversed(document["captures"]))
        return answer.with_json({**document, "captures": page, "offset": offset,
                                 "limit": limit})

    def _over_limit(self, exchange: Exchange) -> bool:
        """A fixed one-second window per API key."""
        key, second = exchange.headers.get("Authorization", ""), int(time.monotonic())
        with self._lock:
            window, count = self._windows.get(key, (second, 0))
            count = count + 1 if window == second else 1
            self._windows[key] = (second, count)
        return count > self.REQUESTS_PER_SECOND

    def _shown(self, capture: Any) -> Any:
        if not isinstance(capture, dict):
            return capture
        with self._lock:
            uploaded = self._uploaded.get(str(capture.get("session_id")))
        shown = {**capture, "source": "api"}
        if uploaded is not None and time.monotonic() - uploaded < self.PROCESSING_LAG and \
                shown.get("status") in ("processing", "completed"):
            shown["status"], shown["fps_detected"] = "awaiting_upload", None
        return shown

    def reshape(self, exchange: Exchange, status: int, document: Any) -> Any:
        if status != 200 or exchange.method != "GET" or not isinstance(document, dict):
            return document
        if exchange.path == "/v1/captures":
            return {**document, "captures": [self._shown(item)
                                             for item in document.get("captures", [])]}
        if UPLIFT_CAPTURE.fullmatch(exchange.path):
            return self._shown(document)
        return document


VARIANTS: dict[str, Callable[[], Variant]] = {
    "mycrt": StrictMyCrt, "captureproof": StrictCaptureProof,
    "biometricscloud": StrictBiometricsCloud, "uplift": StrictUplift,
}


@contextmanager
def strict_server(api: str, upstream: str, port: int = 0) -> Iterator[BrokenProxy]:
    """The strict variant of ``api`` in front of ``upstream`` (the mock, or a proxy with
    planted bugs in front of it)."""
    variant = VARIANTS[api]()
    with BrokenProxy(upstream, Breakage("*", ".*", variant.respond), port=port) as proxy:
        yield proxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, choices=sorted(VARIANTS))
    parser.add_argument("--upstream", required=True, help="the mock's origin")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    with strict_server(arguments.api, arguments.upstream, arguments.port) as proxy:
        print(proxy.origin, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
