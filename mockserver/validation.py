"""Request and response validation against the spec, with openapi-core.

openapi-core reports problems as exception chains; this module turns them into
:class:`Problem`s that name the offending field (``body.envId``, ``query.limit``) so every
vendor's error body can say exactly what was wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.unmarshalling.request.unmarshallers import (
    V31RequestBodyUnmarshaller,
    V31RequestParametersUnmarshaller,
)
from werkzeug.wrappers import Request, Response

from mockserver.contracts import Contract, Operation

_REQUIRED = re.compile(r"'(.+)' is a required property")
#: deeper JSON is refused: no vendor document nests anywhere near this
MAX_NESTING = 64


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ValidatedRequest:
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any


class RequestValidator:
    """Parameters and body only: each vendor reads credentials its own way (CaptureProof
    takes its token from a form body, which OpenAPI cannot describe), so auth is the vendor
    module's job, decided by the operation's ``security``."""

    def __init__(self, contract: Contract) -> None:
        self._parameters = V31RequestParametersUnmarshaller(contract.schema_path)
        self._body = V31RequestBodyUnmarshaller(contract.schema_path)

    def validate(self, request: Request) -> ValidatedRequest | list[Problem]:
        openapi_request = _AsGet(request) if request.method == "HEAD" else \
            WerkzeugOpenAPIRequest(request)
        parameters = self._parameters.unmarshal(openapi_request)
        try:
            body = self._body.unmarshal(openapi_request)
        except (AssertionError, LookupError, ValueError):  # openapi-core's multipart parser
            return [*describe(parameters.errors),
                    Problem("body", f"is not well-formed {request.mimetype or 'content'}")]
        except RecursionError:
            return [*describe(parameters.errors), _TOO_DEEP]
        problems = [*describe(parameters.errors), *describe(body.errors)]
        if problems:
            return problems
        validated = ValidatedRequest(dict(parameters.parameters.path),
                                     dict(parameters.parameters.query), body.body)
        return list(_untextual(validated)) or validated


class _AsGet(WerkzeugOpenAPIRequest):
    """HEAD is GET without a body (RFC 9110); the spec documents only the GET."""

    @property
    def method(self) -> str:
        return "get"


_TOO_DEEP = Problem("body", f"is nested deeper than {MAX_NESTING} levels")


class ResponseValidator:
    """Strict mode's judge of the mock's own answers: documented status, documented media
    type, required headers, and the body against its schema. JSON Schema validators are
    compiled once per (operation, status, media type), since a list of a thousand items
    through openapi-core's unmarshalling costs seconds."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str, str], Draft202012Validator] = {}

    def problems(self, operation: Operation, response: Response) -> list[Problem]:
        documented = operation.spec.get("responses", {})
        status = str(response.status_code)
        spec = documented.get(status) or documented.get("default")
        if spec is None:
            return [Problem("response.status", f"{status} is not documented")]
        problems = [Problem(f"response.headers.{name}", "is required")
                    for name, header in spec.get("headers", {}).items()
                    if header.get("required") and name not in response.headers]
        content = spec.get("content", {})
        if not content:
            return problems
        media = response.mimetype
        if media not in content:
            return [*problems, Problem("response.content-type", f"{media!r} is not documented")]
        validator = self._validator(operation, status, media, content[media].get("schema", {}))
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return [*problems, Problem("response.body", "is not JSON")]
        return problems + [Problem(_field_path("response.body", error), error.message)
                           for error in validator.iter_errors(body)]

    def _validator(self, operation: Operation, status: str, media: str,
                   schema: dict[str, Any]) -> Draft202012Validator:
        key = (operation.operation_id, status, media)
        if key not in self._compiled:
            self._compiled[key] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self._compiled[key]


def _untextual(validated: ValidatedRequest) -> Iterable[Problem]:
    """Values nothing downstream can hold: strings that are no text (JSON may escape half a
    UTF-16 surrogate pair, "\\ud800", which ``type: string`` accepts but UTF-8, SQLite and
    S3 keys cannot), NaN and Infinity (Python's parser accepts them, JSON has no such
    numbers), and nesting deep enough to exhaust the stack of a copy or a dump."""
    for location, value in (("path", validated.path), ("query", validated.query),
                            ("body", validated.body)):
        yield from _untextual_values(location, value)


def _untextual_values(where: str, value: Any, depth: int = 0) -> Iterable[Problem]:
    if depth > MAX_NESTING:
        yield _TOO_DEEP
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield Problem(where, "is not valid Unicode text (a lone surrogate)")
    elif isinstance(value, float) and not math.isfinite(value):
        yield Problem(where, "is not a JSON number (NaN and Infinity are not JSON)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _untextual_values(f"{where}.{key}", key, depth + 1)
            yield from _untextual_values(f"{where}.{key}", item, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _untextual_values(f"{where}.{index}", item, depth + 1)


def describe(errors: Iterable[BaseException], location: str = "body") -> list[Problem]:
    problems: list[Problem] = []
    for error in errors:
        problems.extend(_describe_one(error, location))
    return problems


def _describe_one(error: BaseException, location: str) -> list[Problem]:
    parameter = getattr(error, "name", None)
    where = getattr(error, "location", None)
    field = f"{where}.{parameter}" if parameter and where else location
    cause = error.__cause__ or error.__context__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        return [Problem(_field_path(field, schema_error), _schema_message(schema_error))
                for schema_error in schema_errors]
    message = _plain_message(error, cause)
    return [Problem(field, message)]


def _schema_message(error: ValidationError) -> str:
    if error.validator == "pattern":  # jsonschema's message repr()s the regex twice over
        return f"{error.instance!r} does not match the pattern {error.validator_value}"
    return error.message


def _field_path(prefix: str, error: ValidationError) -> str:
    parts = [prefix, *(str(part) for part in error.absolute_path)]
    missing = _REQUIRED.match(error.message) if error.validator == "required" else None
    if missing:
        parts.append(missing.group(1))
    return ".".join(parts)


def _plain_message(error: BaseException, cause: BaseException | None) -> str:
    kind = type(error).__name__
    if kind == "MissingRequiredParameter":
        return "is required"
    if kind == "MissingRequestBody":
        return "a request body is required"
    if kind == "MediaTypeNotFound":
        available = ", ".join(getattr(error, "availableMimetypes", []) or [])
        return f"unsupported content type {getattr(error, 'mimetype', '')!r}; send {available}"
    if "Deserialize" in kind or "Deserialize" in type(cause).__name__:
        return "is not well-formed for its content type (malformed JSON or not UTF-8?)"
    return _safe_text(cause) or _safe_text(error) or kind


def _safe_text(error: BaseException | None) -> str:
    """An exception's text; openapi-core's may embed undecodable request bytes."""
    try:
        return str(error) if error is not None else ""
    except UnicodeError:
        return ""
