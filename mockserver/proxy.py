"""``mockserver proxy``: a client talks to the real service through the mock's contract.

Each request is forwarded unchanged to the upstream and its answer comes back unchanged;
on the way both are checked with the mock's own validators (``validation.py``), against
the operation the request's method and path name in the spec. A broken rule is graded
(``grading.py``), written to the journal (the admin API and the dashboard show it) and
printed at once on stderr. The proxy keeps a journal, fault rules and a clock of its own:
a fault rule answers in the upstream's stead with the documented response, as the mock
does; the resources themselves live upstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mockserver.admin import PREFIX as ADMIN_PREFIX
from mockserver.admin import AdminError, admin_blueprint
from mockserver.app import Mock, Settings, build_mock, route
from mockserver.clock import isoformat
from mockserver.contracts import Operation
from mockserver.dashboard import dashboard_blueprint
from mockserver.engine import Api, fault_reply, to_response
from mockserver.harrecord import Recorder
from mockserver.journal import Entry, Message
from mockserver.upstream import Answer, Headers, Upstream, UpstreamError
from mockserver.validation import Problem, ResponseValidator
from vendor_specs.sources import Rule, source_of

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Report = Callable[[str], None]


@dataclass(frozen=True)
class ProxySettings:
    api: str
    upstream: str
    admin_token: str | None = None


@dataclass
class ProxiedMock(Mock):
    """What the admin API and the dashboard see of a proxy: its journal, fault rules and
    clock. It holds no resources and no fixtures: those are the upstream's."""

    upstream: str = ""

    def profile(self) -> dict[str, Any]:
        raise AdminError(404, "a proxy has no fixtures of its own; give conformance run a "
                              "--profile with the upstream's accounts")

    def reset(self) -> None:
        with self.services.store.transaction():
            self.services.store.clear()

    def seed_if_empty(self) -> None:
        pass


@dataclass
class _Seen:
    """One exchange as it went, for the journal, the report and the recording."""

    clock: str
    began: float
    operation: Operation | None
    body: bytes
    problems: list[tuple[str, Problem]] = field(default_factory=list)


class Proxy:
    def __init__(self, mock: ProxiedMock, api: Api, upstream: Upstream, report: Report,
                 recorder: Recorder | None = None) -> None:
        self.mock, self.api, self.upstream = mock, api, upstream
        self.report, self.recorder = report, recorder
        self.responses = ResponseValidator()

    def handle(self, operation: Operation | None) -> Response:
        """``operation`` is None for a path the spec does not describe: forwarded as is."""
        checked = operation if operation and request.method == operation.method else None
        seen = _Seen(isoformat(self.mock.services.clock.now()),
                     time.perf_counter(), checked, request.get_data(cache=True))
        injected = self._fault(checked) if checked else None
        if injected is not None:
            self.mock.journal.record(self._entry(seen, injected.status_code, None))
            return injected
        if checked:
            seen.problems += [("request", problem) for problem in self._request_problems(checked)]
        try:
            answer = self.upstream.forward(request.method, _target(self.api), _headers(),
                                           seen.body)
        except UpstreamError as error:
            self.report(f"mockserver proxy: {request.method} {request.full_path.rstrip('?')}: "
                        f"{error}")
            self.mock.journal.record(self._entry(seen, 502, None))
            return _json_error(502, "BadGateway", str(error))
        if checked and answer.body is not None:
            seen.problems += [("response", problem)
                              for problem in self._response_problems(checked, answer)]
        entry = self._entry(seen, answer.status, answer, self._violations(seen, answer.status))
        self.mock.journal.record(entry)
        if self.recorder is not None:
            self.recorder.add(entry)
        return _to_client(answer)

    def _fault(self, operation: Operation) -> Response | None:
        faulted = fault_reply(self.mock.faults, self.api, operation, request)
        return None if faulted is None else to_response(faulted)

    def _request_problems(self, operation: Operation) -> list[Problem]:
        try:
            result = self.api.requests.validate(operation, request)
        except HTTPException as error:
            return [Problem("body", error.description or "cannot be read", ("requestBody",))]
        return result if isinstance(result, list) else []

    def _response_problems(self, operation: Operation, answer: Answer) -> list[Problem]:
        seen = Response(answer.body, status=answer.status, headers=answer.headers)
        return self.responses.problems(operation, seen)

    def _violations(self, seen: _Seen, status: int) -> list[dict[str, Any]]:
        operation = seen.operation
        if operation is None:
            return []
        violations = []
        for side, problem in seen.problems:
            source = source_of(Rule(self.api.contract.document, f"specs/{operation.api}.yaml",
                                    operation.path, operation.method, problem.at))
            violations.append({"side": side, "field": problem.field, "message": problem.message,
                               "grade": source.grade, "source": source.describe()})
            self.report(f"mockserver proxy: {source.grade} violation ({side}) {request.method} "
                        f"{request.full_path.rstrip('?')} -> {status} "
                        f"[{operation.api}.{operation.operation_id}]: {problem}; "
                        f"{source.describe(limit=160)}")
        return violations

    def _entry(self, seen: _Seen, status: int, answer: Answer | None,
               violations: list[dict[str, Any]] | None = None) -> Entry:
        """The exchange as the journal and the recording keep it (the answer's body as
        the client got it: decoded where the upstream compressed it)."""
        operation = seen.operation
        body = b"" if answer is None else answer.raw if answer.body is None else answer.body
        return Entry(
            time=seen.clock, method=request.method,
            url=self.upstream.base_url + _target(self.api), path=request.path,
            query=request.query_string.decode("latin-1"), status=status,
            request=Message(_headers(), seen.body, len(seen.body)),
            response=Message(answer.headers if answer else [], body, len(body)),
            api=operation.api if operation else None,
            operation=operation.operation_id if operation else None,
            validation_errors=[str(p) for side, p in seen.problems if side == "request"],
            response_errors=[str(p) for side, p in seen.problems if side == "response"],
            duration_ms=_elapsed_ms(seen), upstream=self.upstream.base_url,
            violations=violations or [])


def create_proxy_app(settings: ProxySettings, upstream: Upstream, report: Report,
                     recorder: Recorder | None = None) -> Flask:
    base = build_mock(Settings(apis=(settings.api,)))
    mock = ProxiedMock(base.apis, base.services, base.journal, base.faults, base.fixtures,
                       upstream=upstream.base_url)
    api = mock.apis[settings.api]
    proxy = Proxy(mock, api, upstream, report, recorder)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False
    for operation in api.contract.operations:
        route(app, operation, proxy.handle)
    below = api.contract.base_path
    for rule in (f"{below}/<path:rest>", below or "/"):
        app.add_url_rule(rule, endpoint=f"forward:{rule}", methods=METHODS,
                         view_func=lambda **_: proxy.handle(None),
                         provide_automatic_options=False)
    app.register_blueprint(admin_blueprint(mock, settings.admin_token))
    app.register_blueprint(dashboard_blueprint(mock, settings.admin_token))
    _install_error_pages(app, below, upstream.base_url)
    app.extensions["mock"] = mock
    return app


def _install_error_pages(app: Flask, below: str, upstream: str) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if request.path.startswith(ADMIN_PREFIX):
            return _json_error(error.code or 500, "AdminError", error.description or error.name)
        return _json_error(error.code or 500, "NotFound",
                           f"this proxy forwards {below}/... to {upstream} and nothing else")


def _target(api: Api) -> str:
    """The path below the base path and the query, as the client wrote them (waitress
    keeps the raw request line; a percent-escape decoded and re-encoded could differ)."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if raw and raw.startswith(api.contract.base_path):
        return str(raw)[len(api.contract.base_path):]
    query = request.query_string.decode("latin-1")
    path = quote(request.path, safe="/~!$&'()*+,;=:@")[len(api.contract.base_path):]
    return path + (f"?{query}" if query else "")


def _headers() -> Headers:
    return list(request.headers.items())


def _to_client(answer: Answer) -> Response:
    response = Response(answer.raw, status=answer.status)
    response.headers.clear()
    for name, value in answer.headers:
        response.headers.add(name, value)
    # a HEAD answer keeps the upstream's length of the body it did not send
    if request.method != "HEAD" and answer.status not in (204, 304):
        response.headers["Content-Length"] = str(len(answer.raw))
    return response


def _elapsed_ms(seen: _Seen) -> float:
    return round((time.perf_counter() - seen.began) * 1000, 3)


def _json_error(status: int, error: str, message: str) -> Response:
    return Response(json.dumps({"error": error, "message": message}), status=status,
                    content_type="application/json")
