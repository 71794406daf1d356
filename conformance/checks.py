"""Checks: small plain functions, one kind of failure each, named as reports show them.

A response check takes the operation and the exchange and returns a :class:`Failure` or
None. Checks that judge a request's intent (valid, invalid, unauthenticated) are told it.
The stateful and flow checks (``read_after_write``, ``isolation``, ...) live with the
models in ``conformance.stateful`` and ``conformance.flows`` but report the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from conformance.generation.negative import Mutation
from conformance.results import Failure
from conformance.spec import Operation
from conformance.transport import Exchange

ResponseCheck = Callable[[Operation, Exchange], Failure | None]


def status_code_documented(operation: Operation, exchange: Exchange) -> Failure | None:
    if operation.response(exchange.status) is not None:
        return None
    return Failure(f"a documented status ({_statuses(operation)})",
                   f"{exchange.status} {_snippet(exchange)}")


def content_type(operation: Operation, exchange: Exchange) -> Failure | None:
    documented = (operation.response(exchange.status) or {}).get("content", {})
    if not documented or exchange.content_type in documented:
        return None
    return Failure(f"Content-Type {' or '.join(documented)}",
                   f"Content-Type {exchange.content_type or '(none)'}")


def response_schema(operation: Operation, exchange: Exchange) -> Failure | None:
    schema = _response_schema(operation, exchange.status, exchange.content_type)
    if schema is None:
        return None
    try:
        body = _decoded_body(exchange)
    except ValueError:
        return Failure(f"a {exchange.content_type} body for {exchange.status}",
                       f"unparseable: {_snippet(exchange)}")
    error = next(iter(_validator(operation, exchange.status, exchange.content_type)
                      .iter_errors(body)), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return Failure(f"a body matching the {exchange.status} schema",
                   f"at {where}: {error.message[:300]}")


def _decoded_body(exchange: Exchange) -> Any:
    """A text/plain answer is judged as the string it is; every other documented type is
    JSON (Biometrics Cloud's version answers plain text)."""
    if exchange.content_type == "text/plain":
        return exchange.body.decode("utf-8")
    return exchange.json()


def response_headers(operation: Operation, exchange: Exchange) -> Failure | None:
    documented = (operation.response(exchange.status) or {}).get("headers", {})
    missing = [name for name, header in documented.items()
               if header.get("required") and name not in exchange.headers]
    if not missing:
        return None
    return Failure(f"headers {', '.join(missing)} on {exchange.status}", "absent")


def no_server_error(operation: Operation, exchange: Exchange) -> Failure | None:
    if exchange.status < 500:
        return None
    return Failure("no 5xx for a well-formed or malformed request",
                   f"{exchange.status} {_snippet(exchange)}")


def accepts_valid_input(operation: Operation, exchange: Exchange) -> Failure | None:
    """A request the spec allows may meet a documented business rule, never a 400 that
    the spec does not document (the server validating more strictly than its contract)."""
    if exchange.status != 400:
        return None
    documented = [_message(example) for example in operation.documented_examples(400)]
    if _message(exchange.json_or_none()) in documented:
        return None
    return Failure("a 2xx (or a documented business error) for a request the spec allows",
                   f"400 {_snippet(exchange)}")


def rejects_invalid_input(operation: Operation, exchange: Exchange,
                          mutation: Mutation) -> Failure | None:
    """The failure names the broken rule and says where it lives (``mutation.location``)."""
    if 400 <= exchange.status < 500:
        return None
    return Failure(f"a 4xx for invalid input ({mutation.name})",
                   f"{exchange.status} {_snippet(exchange)}", at=mutation.location)


def auth_required(operation: Operation, exchange: Exchange, credentials: str) -> Failure | None:
    if exchange.status in (401, 403):
        return None
    return Failure(f"401 or 403 with {credentials} credentials",
                   f"{exchange.status} {_snippet(exchange)}")


RESPONSE_CHECKS: tuple[ResponseCheck, ...] = (
    status_code_documented, content_type, response_schema, response_headers, no_server_error,
)


def _statuses(operation: Operation) -> str:
    return ", ".join(str(status) for status in sorted(operation.documented_statuses))


def _snippet(exchange: Exchange, limit: int = 200) -> str:
    text = exchange.body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(exchange.body) > limit else "")


def _message(body: Any) -> Any:
    if isinstance(body, dict):
        return body.get("message", body.get("detail", body))
    return body


def _response_schema(operation: Operation, status: int, media: str) -> dict[str, Any] | None:
    content = (operation.response(status) or {}).get("content", {})
    return content.get(media, {}).get("schema") if media in content else None


@lru_cache(maxsize=512)
def _validator(operation: Operation, status: int, media: str) -> Draft202012Validator:
    schema = _response_schema(operation, status, media) or {}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
