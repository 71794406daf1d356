"""The admin API under ``/__admin`` (INTERFACES.md): health, fixtures, reset, clock,
journal and faults. It answers only on loopback unless the server was given a token."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from mockserver.adminauth import refusal
from mockserver.clock import isoformat, parse_datetime
from mockserver.faults import FaultRuleError
from mockserver.har import to_har
from mockserver.journal import FilterError, parse_query

PREFIX = "/__admin"


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def admin_error_answer(error: AdminError) -> tuple[Response, int]:
    """The admin API's and the dashboard's one error shape."""
    return jsonify(error="AdminError", message=error.message), error.status


def admin_blueprint(mock: Any, admin_token: str | None) -> Blueprint:
    """``mock`` is the app's :class:`mockserver.app.Mock`."""
    blueprint = Blueprint("admin", __name__, url_prefix=PREFIX)
    blueprint.before_request(_guard(admin_token))

    blueprint.register_error_handler(AdminError, admin_error_answer)

    @blueprint.get("/health")
    def health() -> Response:
        return jsonify(status="ok", apis=list(mock.apis))

    @blueprint.get("/fixtures")
    def fixtures() -> Response:
        return jsonify(mock.profile())

    @blueprint.post("/reset")
    def reset() -> Response:
        mock.reset()
        return jsonify(status="reset", now=isoformat(mock.services.clock.now()))

    @blueprint.get("/clock")
    def read_clock() -> Response:
        return jsonify(now=isoformat(mock.services.clock.now()))

    @blueprint.post("/clock")
    def move_clock() -> Response:
        return jsonify(now=isoformat(_move_clock(mock.services.clock, _json_object())))

    operations = {name: [operation.operation_id for operation in api.contract.operations]
                  for name, api in mock.apis.items()}

    def search() -> tuple[int, list[dict[str, Any]]]:
        try:
            query = parse_query(request.args.to_dict(flat=False), operations)
        except FilterError as error:
            raise AdminError(400, str(error)) from None
        return mock.journal.search(query)  # type: ignore[no-any-return]

    @blueprint.get("/requests")
    def journal() -> Response:
        count, entries = search()
        return jsonify(count=count, requests=entries)

    @blueprint.get("/requests.har")
    def journal_as_har() -> Response:
        _count, entries = search()
        return Response(to_har(reversed(entries)), content_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="mockserver.har"'})

    @blueprint.get("/faults")
    def list_faults() -> Response:
        return jsonify(faults=[vars(rule) for rule in mock.faults.rules()])

    @blueprint.post("/faults")
    def add_fault() -> tuple[Response, int]:
        try:
            rule = mock.faults.add(_json_object(), mock.operations())
        except FaultRuleError as error:
            raise AdminError(400, str(error)) from None
        return jsonify(vars(rule)), 201

    @blueprint.delete("/faults")
    def clear_faults() -> Response:
        mock.faults.clear()
        return jsonify(faults=[])

    return blueprint


def _guard(admin_token: str | None) -> Callable[[], None]:
    def guard() -> None:
        refused = refusal(admin_token, request)
        if refused is not None:
            raise AdminError(*refused)

    return guard


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AdminError(400, "the body must be a JSON object")
    return body


def _move_clock(clock: Any, body: dict[str, Any]) -> Any:
    try:
        if set(body) == {"advance_seconds"}:
            seconds = body["advance_seconds"]
            if not _finite_number(seconds):
                raise AdminError(400, "advance_seconds must be a finite number")
            return clock.advance(seconds)
        if set(body) == {"now"} and isinstance(body["now"], str):
            return clock.set(parse_datetime(body["now"]))
    except ValueError as error:
        raise AdminError(400, str(error)) from None
    raise AdminError(400, 'send {"advance_seconds": N} or {"now": "<ISO-8601>"}')


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)
