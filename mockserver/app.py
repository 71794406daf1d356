"""Assembling the mock: specs -> routes, vendor modules -> handlers, one store, one clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import Forbidden, HTTPException, MethodNotAllowed
from werkzeug.routing import PathConverter

import vendor_specs
from mockserver import jsonbody, objectstore, recording
from mockserver.admin import PREFIX as ADMIN_PREFIX
from mockserver.admin import admin_blueprint
from mockserver.apis import load_vendor
from mockserver.clock import Clock
from mockserver.contracts import Contract, ContractError, Operation, load_contract
from mockserver.cors import CorsPolicy, options_response
from mockserver.dashboard import dashboard_blueprint
from mockserver.engine import Api, Engine
from mockserver.faults import Faults
from mockserver.fixtures import load_fixtures, object_store_for, seed
from mockserver.flaskapp import MockFlask
from mockserver.journal import STARTED, Journal
from mockserver.publicurl import as_seen_by_clients
from mockserver.store import StateStore, open_store
from mockserver.validation import RequestValidator, ResponseValidator
from mockserver.vendor import Services, VendorApi


@dataclass(frozen=True)
class Settings:
    apis: tuple[str, ...] = vendor_specs.API_NAMES
    fixtures: str | None = None  # None: the bundled fixtures/default.yaml
    state: str = "memory"
    #: whether SQLite state is synced to disk at each commit (not for a private scratch file)
    durable_state: bool = True
    validate_responses: bool = False
    admin_token: str | None = None
    #: the origins whose pages may call the mock (``--cors-origin``); empty: any origin
    cors_origins: tuple[str, ...] = ()
    #: the origin of the URLs the mock hands out (``--public-url``); None: the request's
    public_url: str | None = None


@dataclass
class Mock:
    """Everything one running mock holds; the admin API and the routes share it."""

    apis: dict[str, Api]
    services: Services
    journal: Journal
    faults: Faults
    fixtures: dict[str, Any] = field(repr=False)

    @property
    def vendors(self) -> dict[str, VendorApi]:
        return {name: api.vendor for name, api in self.apis.items()}

    def operations(self) -> list[Operation]:
        return [operation for api in self.apis.values() for operation in api.contract.operations]

    def profile(self) -> dict[str, Any]:
        return {name: api.vendor.profile(self.fixtures[name]) for name, api in self.apis.items()}

    def reset(self) -> None:
        with self.services.store.transaction():
            self.services.store.clear()
            self.services.clock.reread()
            seed(self.services, self.fixtures, self.vendors)

    def reseed(self) -> None:
        """State and uploaded objects back to the fixtures, as ``reset`` does, while the
        clock, the fault rules and the journal stay (``serve --watch`` on a reload)."""
        store = self.services.store
        with store.transaction():
            clock, rules = self.services.clock.snapshot(), self.faults.rules()
            journal = self.journal.newest_first()
            store.clear()
            self.services.clock.restore(clock)
            self.faults.restore(rules)
            self.journal.restore(journal)
            seed(self.services, self.fixtures, self.vendors)

    def seed_if_empty(self) -> None:
        with self.services.store.transaction():
            if self.services.store.is_empty():
                seed(self.services, self.fixtures, self.vendors)


def build_mock(settings: Settings, store: StateStore | None = None) -> Mock:
    """Load and check everything; raises ContractError, FixturesError or StoreSpecError."""
    unknown = sorted(set(settings.apis) - set(vendor_specs.API_NAMES))
    if unknown:
        raise ContractError(f"unknown API {', '.join(unknown)}; known: "
                            f"{', '.join(vendor_specs.API_NAMES)}")
    vendors = {name: load_vendor(name) for name in settings.apis}
    fixtures = load_fixtures(settings.fixtures, vendors)
    store = store or open_store(settings.state, settings.durable_state)
    clock = Clock(store)
    services = Services(store, clock, object_store_for(store, clock, fixtures))
    apis = {name: _api(load_contract(name), vendor, settings.validate_responses)
            for name, vendor in vendors.items()}
    return Mock(apis, services, Journal(store), Faults(store, clock), fixtures)


def create_app(settings: Settings, mock: Mock | None = None) -> Flask:
    mock = mock or build_mock(settings)
    mock.seed_if_empty()
    app = MockFlask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.merge_slashes = False  # "//" is an unknown path, not a redirect to HTML
    engine = Engine(mock.apis, mock.services, mock.faults)
    accepted_headers: dict[str, tuple[str, ...]] = {}
    for operation in mock.operations():
        endpoint = route(app, operation, engine.dispatch)
        accepted_headers[endpoint] = mock.apis[operation.api].contract.request_headers(operation)
    accepted_headers.update(_route_trailing_slashes(app, mock))
    accepted_headers.update(_route_object_store(app, mock.services.objects))
    app.register_blueprint(admin_blueprint(mock, settings.admin_token))
    app.register_blueprint(dashboard_blueprint(mock, settings.admin_token))
    app.extensions["mock"] = mock
    _install_error_pages(app, mock)
    exposed = [name for api in mock.apis.values() for name in api.contract.response_headers]
    _install_hooks(app, CorsPolicy.of(settings.cors_origins, exposed), accepted_headers,
                   mock.journal, mock.services.clock)
    recording.install(app)
    app.wsgi_app = as_seen_by_clients(  # type: ignore[method-assign,assignment]
        app.wsgi_app, settings.public_url)
    return app


def _api(contract: Contract, vendor: VendorApi, validate_responses: bool) -> Api:
    spec_ids = {operation.operation_id for operation in contract.operations}
    if spec_ids != set(vendor.handlers):
        missing, extra = spec_ids - set(vendor.handlers), set(vendor.handlers) - spec_ids
        raise ContractError(f"{contract.name}: handlers do not match the spec's operations "
                            f"(no handler: {sorted(missing)}; not in spec: {sorted(extra)})")
    responses = ResponseValidator() if validate_responses else None
    return Api(contract, vendor, RequestValidator(contract), responses)


def route(app: Flask, operation: Operation, handle: Callable[[Operation], Response]) -> str:
    """The operation's route, answered by ``handle`` (the engine's, or the proxy's);
    returns its endpoint name."""
    rule = operation.full_path.replace("{", "<").replace("}", ">")
    # no dot: Flask reads "a.b" as endpoint b of blueprint a and looks up a's hooks on
    # every request; these routes belong to no blueprint
    endpoint = f"{operation.api}:{operation.operation_id}"

    def view(**_: str) -> Response:
        return handle(operation)

    app.add_url_rule(rule, endpoint=endpoint, view_func=view,
                     methods=[operation.method], provide_automatic_options=False)
    return endpoint


def _route_trailing_slashes(app: Flask, mock: Mock) -> dict[str, tuple[str, ...]]:
    """A spec with ``x-trailing-slash: redirect`` answers ``<path>/`` with a 308 to ``<path>``.

    Werkzeug's strict slashes only redirect the other way (to the slashed rule), so each
    path of such a spec gets a slashed twin whose view redirects, keeping the query string.
    Returns each twin's endpoint with the request headers of the path's operations.
    """
    accepted: dict[str, tuple[str, ...]] = {}
    for name, api in mock.apis.items():
        if api.contract.document.get("x-trailing-slash") != "redirect":
            continue
        paths: dict[str, list[Operation]] = {}
        for operation in api.contract.operations:
            paths.setdefault(operation.full_path, []).append(operation)
        for index, (path, operations) in enumerate(sorted(paths.items())):
            rule = path.replace("{", "<").replace("}", ">") + "/"
            endpoint = f"{name}:trailing_slash_{index}"
            app.add_url_rule(rule, endpoint=endpoint, view_func=_redirect_without_slash,
                             methods=sorted({operation.method for operation in operations}),
                             provide_automatic_options=False)
            accepted[endpoint] = tuple(dict.fromkeys(
                header for operation in operations
                for header in api.contract.request_headers(operation)))
    return accepted


def _redirect_without_slash(**_: str) -> Response:
    query = request.query_string.decode("latin-1")
    target = request.path.rstrip("/") + (f"?{query}" if query else "")
    return Response(status=308, headers={"Location": request.root_path + target})


class ObjectKeyConverter(PathConverter):
    """Any S3 key: Werkzeug's ``path`` stops at a line feed, which a file name may hold."""

    regex = r"[^/][\s\S]*?"


def _route_object_store(app: Flask,
                        objects: objectstore.ObjectStore) -> dict[str, tuple[str, ...]]:
    """The S3 routes; returns their endpoints with the request headers each reads."""
    prefix = objectstore.PATH_PREFIX
    app.url_map.converters["object_key"] = ObjectKeyConverter

    @app.post(f"{prefix}/<bucket>/", provide_automatic_options=False)
    @app.post(f"{prefix}/<bucket>", provide_automatic_options=False)
    def s3_post(bucket: str) -> Response:
        request.max_content_length = objectstore.MAX_UPLOAD_BYTES + 64 * 1024
        return objects.serve_post(request, bucket)

    @app.get(f"{prefix}/<bucket>/<object_key:key>", provide_automatic_options=False)
    def s3_get(bucket: str, key: str) -> Response:
        return objects.serve_get(request, bucket, key)

    return {"s3_post": objectstore.POST_HEADERS, "s3_get": objectstore.GET_HEADERS}


def _install_error_pages(app: Flask, mock: Mock) -> None:
    """404, 405, 413 and the like, in the format of the API the path belongs to."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if request.path.startswith(objectstore.PATH_PREFIX):
            return objectstore.S3Error(status, error.name.replace(" ", ""),
                                       error.description or error.name).response()
        body = _error_body_for_path(mock, request.path, status, _describe(error))
        response = Response(jsonbody.dumps(body), status=status, content_type="application/json")
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted({*error.valid_methods, "OPTIONS"}))
        return response

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        body = {"mock_error": "internal error in the mock", "detail": type(error).__name__}
        return Response(jsonbody.dumps(body), status=500, content_type="application/json")


def _install_hooks(app: Flask, policy: CorsPolicy, accepted: Mapping[str, tuple[str, ...]],
                   journal: Journal, clock: Clock) -> None:
    """What every request goes through besides its view: the clock pinned, a preflight
    answered, CORS headers on every answer but the admin API's (which serves its own
    dashboard and must not be driven by pages of other origins), a journal entry. One hook
    of each kind, not one per concern: each hook costs a call through Flask."""

    @app.before_request
    def before() -> Response | None:
        current = request._get_current_object()  # type: ignore[attr-defined]
        current.environ[STARTED] = time.perf_counter()
        clock.pin()
        if current.method == "OPTIONS":
            return _preflight(app, policy, accepted, current)
        return None

    @app.after_request
    def after(response: Response) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]
        if not current.path.startswith(ADMIN_PREFIX):
            policy.decorate(response, current.environ.get("HTTP_ORIGIN"))
            recording.record(journal, clock, current, response)
        clock.unpin()  # (and the next request's ``pin`` starts afresh whatever happened)
        return response


def _preflight(app: Flask, policy: CorsPolicy, accepted: Mapping[str, tuple[str, ...]],
               current: Request) -> Response | None:
    error = current.routing_exception
    if not isinstance(error, MethodNotAllowed) or current.path.startswith(ADMIN_PREFIX):
        return None  # routing answers: the view, a 404, or the admin's own OPTIONS
    methods = sorted(error.valid_methods or ())
    wanted, origin = current.headers.get("Access-Control-Request-Method"), current.origin
    if wanted is None or origin is None:  # a plain OPTIONS: what the path accepts
        return options_response(methods)
    if not policy.allows(origin):
        raise Forbidden(f"CORS: pages from {origin} may not call this mock "
                        f"(it was started with --cors-origin)")
    return policy.preflight(
        methods, accepted.get(_endpoint(app, wanted) or "", ()),
        current.headers.get("Access-Control-Request-Headers", ""),
        current.headers.get("Access-Control-Request-Private-Network") == "true")


def _endpoint(app: Flask, method: str) -> str | None:
    """The endpoint that would serve this request's path with another method."""
    adapter = app.create_url_adapter(request)
    try:
        rule, _ = adapter.match(method=method, return_rule=True)  # type: ignore[union-attr]
    except HTTPException:
        return None
    return str(rule.endpoint)


def _describe(error: HTTPException) -> str:
    if error.code == 404:
        return f"No operation at {request.path}"
    if error.code == 405:
        return f"{request.method} is not allowed on {request.path}"
    return error.description or error.name


def _error_body_for_path(mock: Mock, path: str, status: int, message: str) -> dict[str, Any]:
    if path.startswith(ADMIN_PREFIX):
        return {"error": "AdminError", "message": message}
    api = _api_for_path(mock.apis.values(), path)
    if api is None:
        return {"error": "NotFound" if status == 404 else "Error", "message": message}
    return api.vendor.error_body(status, message, [])


def _api_for_path(apis: Iterable[Api], path: str) -> Api | None:
    """The API whose base path and first path segment fit best (two share /api/v1)."""
    best, best_score = None, -1
    for api in apis:
        base = api.contract.base_path
        if not (path == base or path.startswith(base + "/")):
            continue
        rest = path[len(base):].split("/")[1:2]
        segments = {op.path.split("/")[1] for op in api.contract.operations}
        score = len(base) * 2 + (1 if rest and rest[0] in segments else 0)
        if score > best_score:
            best, best_score = api, score
    return best


