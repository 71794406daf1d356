"""Per-request cost in process, without sockets: where a request's time goes.

For each representative operation: a whole request through the mock's Flask app (test
client: routing, auth, validation, handler, journal), the mock's own request validator
alone, and openapi-core's request unmarshallers alone, built the way a plain openapi-core
integration would build them (the reference the mock's validator is held equal to). A bare
Flask app through the same test client gives the framework's floor.
"""

from __future__ import annotations

import copy
import inspect
import statistics
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.wrappers import Request

import vendor_specs
from bench import bareflask
from bench.config import Config
from bench.operations import MYCRT_LOGIN, OPERATIONS, Operation, base_path


def _time_each(calls: int, action: Callable[[int], Any]) -> dict[str, float]:
    """Microseconds per call: median and mean of ``calls`` timed calls after a warm-up."""
    for index in range(min(20, calls)):
        action(index)
    samples = []
    for index in range(calls):
        started = time.perf_counter()
        action(index)
        samples.append((time.perf_counter() - started) * 1e6)
    return {"median_us": round(statistics.median(samples), 1),
            "mean_us": round(statistics.fmean(samples), 1), "calls": calls}


def _split(path: str) -> tuple[str, str]:
    route, _, query = path.partition("?")
    return route, query


def _client_call(client: FlaskClient, operation: Operation) -> Callable[[int], Any]:
    route, query = _split(base_path(operation.api) + operation.path)

    def call(_: int) -> None:
        response = client.open(route, method=operation.method, query_string=query,
                               headers=operation.headers, data=operation.body)
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"{operation.key} answered {response.status_code}: "
                               f"{response.get_data()[:200]!r}")

    return call


def _flask_requests(app: Flask, operation: Operation, count: int,
                    cookie: str | None) -> list[Request]:
    """Requests matched to their route (``view_args`` set), as a view receives them."""
    route, query = _split(base_path(operation.api) + operation.path)
    headers = dict(operation.headers)
    if cookie:
        headers["Cookie"] = f"MyCRTAuthToken={cookie}"
    requests = []
    for _ in range(count + 20):
        with app.test_request_context(route, method=operation.method, query_string=query,
                                      headers=headers, data=operation.body) as context:
            requests.append(context.request)
    return requests


def _mock_validator(app: Flask, operation: Operation) -> Callable[[Request], Any]:
    """The mock's validator, whichever signature it has today (it is being reworked)."""
    api = app.extensions["mock"].apis[operation.api]
    spec_operation = api.contract.operation(operation.key.split(".", 1)[1])
    validate = api.requests.validate
    if len(inspect.signature(validate).parameters) >= 2:
        return lambda request: validate(spec_operation, request)
    return validate


def _openapi_core_spec(api: str) -> Any:
    """The spec as a plain openapi-core integration loads it, served at the mock's base."""
    from jsonschema_path import SchemaPath

    document = copy.deepcopy(vendor_specs.load_spec(api))
    return SchemaPath.from_dict({**document, "servers": [{"url": base_path(api) or "/"}]})


def _openapi_core_validator(operation: Operation) -> Callable[[Request], Any]:
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
    from openapi_core.unmarshalling.request.unmarshallers import (
        V31RequestBodyUnmarshaller,
        V31RequestParametersUnmarshaller,
    )

    schema_path = _openapi_core_spec(operation.api)
    parameters = V31RequestParametersUnmarshaller(schema_path)
    body = V31RequestBodyUnmarshaller(schema_path)

    def validate(request: Request) -> Any:
        wrapped = WerkzeugOpenAPIRequest(request)
        return parameters.unmarshal(wrapped).errors + body.unmarshal(wrapped).errors

    return validate


def _validator_cost(config: Config, app: Flask, operation: Operation,
                    validator: Callable[[Request], Any], cookie: str | None) -> dict[str, Any]:
    requests = _flask_requests(app, operation, config.validation_requests, cookie)
    result = validator(requests[0])
    problems = result if isinstance(result, list) else []
    timing = _time_each(config.validation_requests,
                        lambda index: validator(requests[index % len(requests)]))
    return {**timing, "problems": [str(problem) for problem in problems][:3]}


def _mycrt_cookie(client: FlaskClient) -> str:
    response = client.post(base_path("mycrt") + "/users/login", json=MYCRT_LOGIN)
    cookie = response.headers.get("Set-Cookie", "")
    return cookie.partition("MyCRTAuthToken=")[2].partition(";")[0]


def _guarded(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except Exception as error:  # a section reports what failed and goes on
        return {"error": f"{type(error).__name__}: {error}"[:300]}


def run(config: Config) -> dict[str, Any]:
    from mockserver.app import Settings, create_app

    app = create_app(Settings())
    client = app.test_client()
    cookie = _mycrt_cookie(client)
    bare = bareflask.create_app().test_client()
    operations: dict[str, Any] = {}
    for operation in OPERATIONS:
        jar = cookie if operation.api == "mycrt" else None
        operations[operation.key] = {
            "label": operation.label,
            "full_request": _guarded(lambda op=operation: _time_each(
                config.validation_requests, _client_call(client, op))),
            "bare_flask_request": _guarded(lambda op=operation: _time_each(
                config.validation_requests, _client_call(bare, op))),
            "mock_validator": _guarded(lambda op=operation, jar=jar: _validator_cost(
                config, app, op, _mock_validator(app, op), jar)),
            "openapi_core_unmarshal": _guarded(lambda op=operation, jar=jar: _validator_cost(
                config, app, op, _openapi_core_validator(op), jar)),
        }
    return {"requests_per_measure": config.validation_requests, "operations": operations}
