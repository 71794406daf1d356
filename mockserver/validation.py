"""Request and response validation against the spec, with openapi-core.

openapi-core reports problems as exception chains; this module turns them into
:class:`Problem`s that name the offending field (``body.envId``, ``query.limit``) so every
vendor's error body can say exactly what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.unmarshalling.request.unmarshallers import (
    V31RequestBodyUnmarshaller,
    V31RequestParametersUnmarshaller,
)
from openapi_core.unmarshalling.response.unmarshallers import V31ResponseUnmarshaller
from werkzeug.wrappers import Request, Response

from mockserver.contracts import Contract


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
        openapi_request = WerkzeugOpenAPIRequest(request)
        parameters = self._parameters.unmarshal(openapi_request)
        body = self._body.unmarshal(openapi_request)
        problems = [*describe(parameters.errors), *describe(body.errors)]
        if problems:
            return problems
        validated = ValidatedRequest(dict(parameters.parameters.path),
                                     dict(parameters.parameters.query), body.body)
        return list(_untextual(validated)) or validated


class ResponseValidator:
    def __init__(self, contract: Contract) -> None:
        self._unmarshaller = V31ResponseUnmarshaller(contract.schema_path)

    def problems(self, request: Request, response: Response) -> list[Problem]:
        result = self._unmarshaller.unmarshal(
            WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response)
        )
        return describe(result.errors, location="response")


def _untextual(validated: ValidatedRequest) -> Iterable[Problem]:
    """Strings that are no text: JSON may escape half a UTF-16 surrogate pair ("\\ud800"),
    which ``type: string`` accepts but nothing downstream (UTF-8, SQLite, S3 keys) can hold."""
    for location, value in (("path", validated.path), ("query", validated.query),
                            ("body", validated.body)):
        yield from _untextual_values(location, value)


def _untextual_values(where: str, value: Any) -> Iterable[Problem]:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            yield Problem(where, "is not valid Unicode text (a lone surrogate)")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _untextual_values(f"{where}.{key}", key)
            yield from _untextual_values(f"{where}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _untextual_values(f"{where}.{index}", item)


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
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            parts.append(str(missing[0]))
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
