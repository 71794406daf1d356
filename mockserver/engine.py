"""What happens to every request for a vendor operation, in order.

faults (latency, injected status, rate limit) -> body size -> credentials (if the spec
secures the operation) -> parameters and body against the spec -> ``Prefer: code=NNN`` ->
the vendor's handler, inside one store transaction -> optional response validation.
Every answer, error or not, is shaped by the spec or the vendor's ``error_body``; nothing
here knows any vendor.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Request, Response, request
from werkzeug.exceptions import HTTPException

from mockserver import jsonbody
from mockserver.contracts import Contract, Operation
from mockserver.faults import Faults
from mockserver.journal import OPERATION, RESPONSE_ERRORS, VALIDATION_ERRORS
from mockserver.validation import Problem, RequestValidator, ResponseValidator, has_body
from mockserver.vendor import ApiError, Call, Reply, Services, VendorApi

log = logging.getLogger(__name__)

#: the largest request body any vendor operation accepts (bytes)
MAX_BODY_BYTES = 10 * 1024 * 1024
_PREFER_CODE = re.compile(r"(?:^|[;,\s])code=(\d{3})\b")


@dataclass
class Api:
    contract: Contract
    vendor: VendorApi
    requests: RequestValidator
    responses: ResponseValidator | None


class Engine:
    def __init__(self, apis: Mapping[str, Api], services: Services, faults: Faults) -> None:
        self.apis, self.services, self.faults = apis, services, faults

    def dispatch(self, operation: Operation) -> Response:
        api = self.apis[operation.api]
        # the request itself, not Flask's proxy: handlers read it dozens of times
        current: Request = request._get_current_object()  # type: ignore[attr-defined]
        current.environ[OPERATION] = operation
        try:
            reply = self._reply(api, operation, current)
        except ApiError as error:
            body = api.vendor.error_body(error.status, error.message, error.problems)
            reply = Reply(error.status, body)
        response = to_response(reply)
        if api.responses is not None:
            self._enforce_contract(api.responses, operation, response, current.environ)
        return response

    def _reply(self, api: Api, operation: Operation, request: Request) -> Reply:
        faulted = fault_reply(self.faults, api, operation, request)
        if faulted is not None:
            return faulted
        oversized = self._oversized(api, operation, request)
        if oversized is not None:
            return oversized
        call = Call(operation, {}, {}, None, request, self.services)
        if operation.security:
            call.principal = api.vendor.authenticate(call, operation.requires_auth)
        self._validate(api, call)
        prefer = request.environ.get("HTTP_PREFER")
        preferred = _preferred_status(prefer) if prefer else None
        if preferred is not None:
            return self._preferred_reply(api, operation, preferred)
        handler = api.vendor.handlers[operation.operation_id]
        with self.services.store.transaction():
            return handler(call)

    @staticmethod
    def _oversized(api: Api, operation: Operation, request: Request) -> Reply | None:
        if not has_body(request):
            return None
        if (request.content_length or 0) <= MAX_BODY_BYTES:
            request.max_content_length = MAX_BODY_BYTES  # a chunked body is cut off here
            return None
        if 413 in operation.documented_statuses:
            return documented_reply(api.contract, operation, 413)
        raise ApiError(400, f"request body over the limit of {MAX_BODY_BYTES} bytes")

    @staticmethod
    def _validate(api: Api, call: Call) -> None:
        try:
            result = api.requests.validate(call.operation, call.request)
        except HTTPException as error:  # a streamed body over max_content_length
            raise ApiError(error.code or 400, error.description or "bad request") from None
        if isinstance(result, list):
            call.request.environ[VALIDATION_ERRORS] = tuple(str(problem) for problem in result)
            raise ApiError(400, _validation_message(result), result)
        call.path, call.query, call.body = result.path, result.query, result.body

    @staticmethod
    def _preferred_reply(api: Api, operation: Operation, status: int) -> Reply:
        if status not in operation.documented_statuses:
            documented = ", ".join(map(str, operation.documented_statuses))
            raise ApiError(400, f"Prefer: code={status} is not a documented response of "
                                f"{operation.operation_id} (documented: {documented})")
        return documented_reply(api.contract, operation, status, retry_after=1)

    @staticmethod
    def _enforce_contract(validator: ResponseValidator, operation: Operation,
                          response: Response, environ: dict[str, Any]) -> None:
        """Strict mode: a response that breaks the spec becomes a loud 500."""
        problems = validator.problems(operation, response)
        if not problems:
            return
        errors = environ[RESPONSE_ERRORS] = tuple(str(problem) for problem in problems)
        log.error("response breaks the contract: %s", errors)
        body = {"mock_error": "the mock's response breaks its own contract",
                "status": response.status_code, "problems": errors}
        response.set_data(jsonbody.dumps(body))
        response.status_code = 500
        response.content_type = "application/json"


def fault_reply(faults: Faults, api: Api, operation: Operation,
                request: Request) -> Reply | None:
    """What the fault rules make of this request: their latency slept here (in this
    thread; the server serves others on other threads), then their status as the contract
    documents it, or None for the real answer."""
    verdict = faults.judge(operation, lambda: api.vendor.credential(request))
    if verdict.latency_ms:
        time.sleep(verdict.latency_ms / 1000)
    if verdict.status is None:
        return None
    return documented_reply(api.contract, operation, verdict.status, verdict.retry_after)


def documented_reply(contract: Contract, operation: Operation, status: int,
                     retry_after: int | None = None) -> Reply:
    body, has_body = contract.documented_example(operation, status)
    headers = {"Retry-After": str(retry_after or 1)} if status == 429 else {}
    return Reply(status, body, headers, has_body=has_body)


def to_response(reply: Reply) -> Response:
    if not reply.has_body or reply.status == 204:
        response = Response(status=reply.status, headers=reply.headers)
        del response.headers["Content-Type"]
        return response
    if reply.content_type != "application/json":
        return Response(str(reply.body), status=reply.status, headers=reply.headers,
                        content_type=reply.content_type)
    return Response(jsonbody.dumps(reply.body), status=reply.status,
                    headers=reply.headers or None, content_type="application/json")


def _preferred_status(prefer: str) -> int | None:
    match = _PREFER_CODE.search(prefer)
    return int(match.group(1)) if match else None


def _validation_message(problems: list[Problem]) -> str:
    return "Request validation failed: " + "; ".join(str(problem) for problem in problems)
