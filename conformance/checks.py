"""Checks: small plain functions, one kind of failure each, named as reports show them.

A response check takes the operation and the exchange and returns a :class:`Failure` or
None. Checks that judge a request's intent (valid, invalid, unauthenticated) are told it.
The stateful and flow checks (``read_after_write``, ``isolation``, ...) live with the
models in ``conformance.stateful`` and ``conformance.flows`` but report the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from conformance.generation.negative import Mutation
from conformance.results import Failure
from conformance.spec import Operation, example_message
from conformance.transport import Exchange
from vendor_specs.sources import NOTE, ROOT

ResponseCheck = Callable[[Operation, Exchange], Failure | None]
#: the contract's rule for every answer, wherever the documents list a 5xx
NO_SERVER_ERROR = (ROOT, "x-conformance-rules", "no-server-error")
DOCUMENTED_STATUSES = (ROOT, "x-conformance-rules", "documented-statuses")
#: the contract's rule that one account never sees or changes another's data
ISOLATION = (ROOT, "x-conformance-rules", "isolation")


def status_code_documented(operation: Operation, exchange: Exchange) -> Failure | None:
    """An undocumented success breaks the documented success; any other status, the
    contract's rule that only listed statuses answer (no document lists them all)."""
    if operation.response(exchange.status) is not None:
        return None
    success = next((status for status in sorted(operation.documented_statuses)
                    if 200 <= status < 300), None)
    at = operation.response_at(success) if success and 200 <= exchange.status < 300 \
        else DOCUMENTED_STATUSES
    return Failure(f"a documented status ({_statuses(operation)})",
                   f"{exchange.status} {_snippet(exchange)}", at)


def content_type(operation: Operation, exchange: Exchange) -> Failure | None:
    documented = (operation.response(exchange.status) or {}).get("content", {})
    if not documented or exchange.content_type in documented:
        return None
    return Failure(f"Content-Type {' or '.join(documented)}",
                   f"Content-Type {exchange.content_type or '(none)'}",
                   (*operation.response_at(exchange.status), "content"))


def response_schema(operation: Operation, exchange: Exchange) -> Failure | None:
    schema = _response_schema(operation, exchange.status, exchange.content_type)
    if schema is None:
        return None
    at = ("responses", str(operation.response_key(exchange.status)), "content",
          exchange.content_type, "schema")
    try:
        body = _decoded_body(exchange)
    except ValueError:
        return Failure(f"a {exchange.content_type} body for {exchange.status}",
                       f"unparseable: {_snippet(exchange)}", at)
    # the most specific error (within a oneOf, the branch's own), as users read it too
    error = best_match(_validator(operation, exchange.status, exchange.content_type)
                       .iter_errors(body))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return Failure(f"a body matching the {exchange.status} schema",
                   f"at {where}: {error.message[:300]}", (*at, *_rule_of(error)))


def _rule_of(error: ValidationError) -> tuple[str | int, ...]:
    """Where in the schema the broken rule is described: a missing field's own property,
    a closed object's decision (no document lists what a body must not hold), else the
    keyword's schema."""
    path = tuple(error.absolute_schema_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        required = cast("list[str]", error.validator_value)  # the keyword's list
        missing = next((name for name in required if name not in error.instance), None)
        return (*path[:-1], "properties", missing) if missing else path
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        return (*path[:-1], NOTE)
    return path


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
    return Failure(f"headers {', '.join(missing)} on {exchange.status}", "absent",
                   (*operation.response_at(exchange.status), "headers", missing[0]))


def no_server_error(operation: Operation, exchange: Exchange) -> Failure | None:
    """A contract rule even where a document lists a 5xx (Uplift's 500 and 503)."""
    if exchange.status < 500:
        return None
    return Failure("no 5xx for a well-formed or malformed request",
                   f"{exchange.status} {_snippet(exchange)}", NO_SERVER_ERROR)


def accepts_valid_input(operation: Operation, exchange: Exchange) -> Failure | None:
    """A request the spec allows may meet a documented business rule, never a 400 that
    the spec does not document (the server validating more strictly than its contract).
    The rule is the request's schema: its body's, else the operation's parameters."""
    if exchange.status != 400:
        return None
    documented = [example_message(example) for example in operation.documented_examples(400)]
    if example_message(exchange.json_or_none()) in documented:
        return None
    media = operation.body_media() if exchange.request_body else None
    at = ("requestBody", "content", media[0], "schema") if media else ("parameters",)
    return Failure("a 2xx (or a documented business error) for a request the spec allows",
                   f"400 {_snippet(exchange)}", at)


def rejects_invalid_input(operation: Operation, exchange: Exchange,
                          mutation: Mutation) -> Failure | None:
    """Refused with the status (and message) the document names for it, where it names
    one (Uplift's 400 for invalid parameters, MyCRT's 404 "Capture not found"); else any
    4xx. An acceptance breaks the mutated rule (``mutation.location``); a refusal other
    than the documented one breaks the documented answer."""
    status = mutation.refusal
    # an example of a 400 documents a business rule, never invalid input in general
    named = operation.document_answer(status, by_example=status != 400) if status else None
    if status is None or named is None:
        if 400 <= exchange.status < 500:
            return None
        return Failure(f"a 4xx for invalid input ({mutation.name})",
                       f"{exchange.status} {_snippet(exchange)}", at=_rule_broken(mutation))
    at, message = named
    if exchange.status == status and (
            message is None or example_message(exchange.json_or_none()) == message):
        return None
    return Failure(f"{_answer(status, message)} for invalid input ({mutation.name})",
                   f"{exchange.status} {_snippet(exchange)}",
                   at if 400 <= exchange.status < 500 else _rule_broken(mutation))


def _rule_broken(mutation: Mutation) -> tuple[str | int, ...]:
    """The mutated keyword; a closed object is always the contract's decision (no
    document lists what a body must not hold)."""
    if mutation.location[-1:] == ("additionalProperties",):
        return (*mutation.location[:-1], NOTE)
    return mutation.location


def auth_required(operation: Operation, exchange: Exchange, credentials: str) -> Failure | None:
    """The refusal the document names (Uplift's 401 "Bearer token is missing or
    invalid."), else 401 or 403; an acceptance breaks the operation's security."""
    named = operation.document_answer(401)
    if named is not None:
        at, message = named
        if exchange.status == 401 and (
                message is None or example_message(exchange.json_or_none()) == message):
            return None
        expected = f"{_answer(401, message)} with {credentials} credentials"
    elif exchange.status in (401, 403):
        return None
    else:
        at, expected = ("security",), f"401 or 403 with {credentials} credentials"
    if not 400 <= exchange.status < 500:
        at = ("security",)
    return Failure(expected, f"{exchange.status} {_snippet(exchange)}", at)


RESPONSE_CHECKS: tuple[ResponseCheck, ...] = (
    status_code_documented, content_type, response_schema, response_headers, no_server_error,
)


def _statuses(operation: Operation) -> str:
    return ", ".join(str(status) for status in sorted(operation.documented_statuses))


def _snippet(exchange: Exchange, limit: int = 200) -> str:
    text = exchange.body[:limit].decode("utf-8", "replace")
    return text + ("..." if len(exchange.body) > limit else "")


def _answer(status: int, message: str | None) -> str:
    return f"{status} {message!r}" if message else str(status)


def _response_schema(operation: Operation, status: int, media: str) -> dict[str, Any] | None:
    content = (operation.response(status) or {}).get("content", {})
    return content.get(media, {}).get("schema") if media in content else None


@lru_cache(maxsize=512)
def _validator(operation: Operation, status: int, media: str) -> Draft202012Validator:
    schema = _response_schema(operation, status, media) or {}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
