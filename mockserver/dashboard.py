"""The dashboard at ``/__admin/ui``, and ``GET /__admin/state`` that its state view reads.

The mock renders every view itself (Jinja templates, no build step, nothing from a CDN):
the first page arrives whole, and ``static/dashboard.js`` then polls the server-rendered
fragment of the view on screen (``/__admin/ui/part/<view>``) and swaps it in, so one
renderer serves both. Changes (clock, faults, reset) go through the admin JSON API itself.
Access follows the admin API's rules (``adminauth``); a browser trades the admin token
for a cookie once, through ``?token=`` or the login form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from mockserver.admin import PREFIX, AdminError, admin_error_answer
from mockserver.adminauth import COOKIE, CSRF_HEADER, refusal, session_value, token_matches
from mockserver.clock import isoformat
from mockserver.journal import parse_limit
from mockserver.snapshot import DEFAULT_LIMIT, MAX_LIMIT, snapshot

#: newest journal entries the journal view shows
JOURNAL_ROWS = 200
VIEWS = ("journal", "state", "clock", "faults")
_PAGE = f"{PREFIX}/ui"
_POLICY = ("default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")


def dashboard_blueprint(mock: Any, admin_token: str | None) -> Blueprint:
    """``mock`` is the app's :class:`mockserver.app.Mock` (or the proxy's stand-in)."""
    blueprint = Blueprint("dashboard", __name__, url_prefix=PREFIX,
                          template_folder="templates", static_folder="static",
                          static_url_path="/ui/static")
    blueprint.before_request(_guard(admin_token))
    blueprint.after_request(_harden)

    blueprint.register_error_handler(AdminError, admin_error_answer)

    @blueprint.get("/state")
    def state() -> Response:
        try:
            limit = parse_limit(request.args.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
        except ValueError as error:
            raise AdminError(400, str(error)) from None
        return jsonify(snapshot(mock.services.store, mock.vendors, limit))

    @blueprint.get("/ui")
    def page() -> str:
        return render_template("dashboard/page.html", views=VIEWS, csrf_header=CSRF_HEADER,
                               **_context(mock), **{view: _VIEWS[view](mock) for view in VIEWS})

    @blueprint.get("/ui/part/<view>")
    def part(view: str) -> str:
        if view not in _VIEWS:
            raise AdminError(404, f"no dashboard view {view!r}; views: {', '.join(VIEWS)}")
        return render_template(f"dashboard/{view}.html", **_context(mock),
                               **{view: _VIEWS[view](mock)})

    @blueprint.post("/ui/login")
    def login() -> BaseResponse | tuple[str, int]:
        return _login(admin_token, request.form.get("token", ""))

    return blueprint


def _guard(admin_token: str | None) -> Callable[[], BaseResponse | tuple[str, int] | None]:
    """The admin API's rules, answered as a page: the login form where a token would do."""
    def guard() -> BaseResponse | tuple[str, int] | None:
        if request.endpoint in ("dashboard.static", "dashboard.login"):
            return None
        if admin_token is not None and request.endpoint == "dashboard.page" \
                and "token" in request.args:
            return _login(admin_token, request.args["token"])
        refused = refusal(admin_token, request)
        if refused is None:
            return None
        if request.endpoint == "dashboard.page" and refused[0] == 401:
            return render_template("dashboard/login.html", message=None), 401
        raise AdminError(*refused)

    return guard


def _login(admin_token: str | None, presented: str) -> BaseResponse | tuple[str, int]:
    if admin_token is None:  # nothing to log in to: loopback rules apply
        return redirect(_PAGE, code=303)
    if not token_matches(admin_token, presented):
        return render_template("dashboard/login.html", message="That is not the admin token."), 401
    response = redirect(_PAGE, code=303)  # drops ?token= from the address bar and history
    response.set_cookie(COOKIE, session_value(admin_token), path=PREFIX, httponly=True,
                        samesite="Strict", secure=request.is_secure)
    return response


def _harden(response: Response) -> Response:
    """No inline script or style, no framing, nothing cached: the pages show live state."""
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = _POLICY
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _context(mock: Any) -> dict[str, Any]:
    return {"apis": list(mock.apis), "upstream": getattr(mock, "upstream", None),
            "now": isoformat(mock.services.clock.now()),
            "admin_base": request.script_root + PREFIX, "journal_rows": JOURNAL_ROWS}


# -- the views' data ---------------------------------------------------------------------

@dataclass
class Panel:
    """One side of an exchange as the journal kept it, whatever shape that was."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    note: str | None = None
    other: str | None = None


@dataclass
class Row:
    key: str
    time: str
    method: str
    target: str
    status: int
    operation: str
    duration_ms: float
    errors: list[str]
    violations: list[dict[str, Any]]
    request: Panel | None
    response: Panel | None

    @property
    def status_class(self) -> str:
        return f"s{self.status // 100}xx"


def journal_view(mock: Any) -> list[Row]:
    return [_row(entry) for entry in mock.journal.newest_first(JOURNAL_ROWS)]


def _row(entry: Mapping[str, Any]) -> Row:
    query = entry.get("query") or ""
    operation = ".".join(part for part in (entry.get("api"), entry.get("operation")) if part)
    return Row(
        key=str(entry.get("id") or _fingerprint(entry)),
        time=str(entry.get("time", "")), method=str(entry.get("method", "")),
        target=str(entry.get("path", "")) + (f"?{query}" if query else ""),
        status=int(entry.get("status", 0)), operation=operation,
        duration_ms=float(entry.get("duration_ms", 0.0)),
        errors=[*entry.get("validation_errors", []), *entry.get("response_errors", [])],
        violations=list(entry.get("violations", [])),
        request=_panel(entry.get("request")), response=_panel(entry.get("response")))


def _fingerprint(entry: Mapping[str, Any]) -> str:
    """A stable key for an entry without an id, so the page keeps it open across polls."""
    return hashlib.sha1(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _panel(message: Any) -> Panel | None:
    if message is None:
        return None
    if isinstance(message, str):
        return Panel(body=_pretty(message))
    if not isinstance(message, Mapping):
        return Panel(other=json.dumps(message, indent=2, default=str))
    body, note = _body(message.get("body"))
    rest = {key: value for key, value in message.items() if key not in ("headers", "body")}
    return Panel(headers=_headers(message.get("headers")), body=body, note=note,
                 other=json.dumps(rest, indent=2, default=str) if rest else None)


def _headers(headers: Any) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return [(str(name), str(value)) for name, value in headers.items()]
    if isinstance(headers, list):
        return [(str(pair[0]), str(pair[1])) for pair in headers
                if isinstance(pair, list | tuple) and len(pair) == 2]
    return []


def _body(body: Any) -> tuple[str | None, str | None]:
    """(text to show, a note about it): the journal keeps ``{size, text, truncated}``,
    ``encoding: base64`` for bytes, or ``omitted`` with the reason."""
    if body is None:
        return None, None
    if not isinstance(body, Mapping):
        return _pretty(body) if isinstance(body, str) else json.dumps(body), None
    if "omitted" in body:
        return None, f"body not kept: {body['omitted']}"
    text = body.get("text")
    size = body.get("size")
    notes = []
    if body.get("encoding") == "base64":
        notes.append(f"{size} bytes that are not text, shown as base64")
    elif isinstance(text, str):
        text = _pretty(text)
    if body.get("truncated"):
        notes.append(f"cut short: the body had {size} bytes")
    return (text if isinstance(text, str) else json.dumps(body)), "; ".join(notes) or None


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@dataclass
class Kind:
    name: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]
    more: bool


def state_view(mock: Any) -> dict[str, list[Kind]]:
    kinds = snapshot(mock.services.store, mock.vendors)["apis"]
    return {api: [_kind(name, listing) for name, listing in by_kind.items()]
            for api, by_kind in kinds.items()}


def _kind(name: str, listing: Mapping[str, Any]) -> Kind:
    documents = [item["document"] for item in listing["items"]]
    columns = list(dict.fromkeys(column for document in documents for column in document))
    rows = [(item["key"], [_cell(item["document"].get(column)) for column in columns])
            for item in listing["items"]]
    return Kind(name, columns, rows, listing["more"])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def faults_view(mock: Any) -> dict[str, Any]:
    return {"rules": [vars(rule) for rule in mock.faults.rules()],
            "operations": _operations(mock.apis.items())}


def _operations(apis: Iterable[tuple[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [{"id": operation.operation_id,
                    "label": f"{operation.method} {operation.full_path}",
                    "errors": [status for status in operation.documented_statuses
                               if status >= 400]}
                   for operation in api.contract.operations]
            for name, api in apis}


def clock_view(mock: Any) -> str:
    return isoformat(mock.services.clock.now())


_VIEWS: dict[str, Callable[[Any], Any]] = {
    "journal": journal_view, "state": state_view, "clock": clock_view, "faults": faults_view,
}
