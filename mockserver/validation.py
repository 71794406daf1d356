"""Request and response validation against the spec, compiled once at start-up.

Every problem becomes a :class:`Problem` that names the offending field (``body.envId``,
``query.limit``), so every vendor's error body can say exactly what was wrong.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any
from urllib.parse import parse_qsl

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from werkzeug.formparser import MultiPartParser
from werkzeug.wrappers import Request, Response

from mockserver.contracts import Contract, ContractError, Operation

_REQUIRED = re.compile(r"'(.+)' is a required property")
#: deeper JSON is refused: no vendor document nests anywhere near this
MAX_NESTING = 64


#: where a rule lives, as keys from the operation's node: ``("responses", "200", "content",
#: "application/json", "schema", "required")``; a proxy grades a problem by the spec's
#: annotations on that node and its ancestors (``mockserver/grading.py``)
At = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    at: At = dataclasses.field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ValidatedRequest:
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any


class RequestValidator:
    """Parameters and body against the spec, compiled once per operation.

    The spec stays the authority: its schemas (OpenAPI 3.1 schemas are JSON Schema 2020-12)
    are compiled into jsonschema validators at start-up, and
    ``tests/test_validation_equivalence.py`` holds every verdict equal to openapi-core's
    over generated requests. What is no longer repeated per request is openapi-core's
    resolution of the spec (over a millisecond a call), nor its imports at start-up.
    Credentials are not checked here: each vendor reads them its own way (CaptureProof takes
    a token from a form body, which OpenAPI cannot describe), so auth is the vendor
    module's job.
    """

    def __init__(self, contract: Contract) -> None:
        self._compiled = {operation.operation_id: _CompiledOperation(operation)
                          for operation in contract.operations}

    def validate(self, operation: Operation,
                 request: Request) -> ValidatedRequest | list[Problem]:
        return self._compiled[operation.operation_id].validate(request)


_FORMATS = Draft202012Validator.FORMAT_CHECKER
#: formats jsonschema-rs checks natively: its ``uuid`` takes only the canonical
#: 8-4-4-4-12 hex form, which jsonschema takes too (jsonschema also takes a few odd forms,
#: ``aaaaaaa_-...`` or a final line feed, which jsonschema-rs refuses: then jsonschema
#: decides). A Python callback per value would cost more than the rest of the check.
_NATIVE_FORMATS = frozenset({"uuid"})
#: every other format jsonschema-rs checks with jsonschema's own checkers, so it accepts no
#: string that jsonschema would refuse
_SAME_FORMATS: dict[str, Callable[[str], bool]] = {
    name: partial(_FORMATS.conforms, format=name)
    for name in _FORMATS.checkers if name not in _NATIVE_FORMATS
}


class CompiledSchema:
    """One schema, two validators. jsonschema (Python) is the authority and words every
    error; jsonschema-rs, thirty times faster, only says "valid" first, which is the common
    case. It can refuse more than jsonschema (Rust regexes have no ``$`` before a final line
    feed; it checks ``uri``), never less, so its "invalid" is just a cue to ask jsonschema.
    Values Rust cannot hold (lone surrogates, non-string keys) go straight to jsonschema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            raise ContractError(f"invalid schema in the spec: {error.message}") from None
        self._authority = Draft202012Validator(schema, format_checker=_FORMATS)
        self._fast = jsonschema_rs.Draft202012Validator(
            schema, validate_formats=True, formats=_SAME_FORMATS)

    def errors(self, value: Any) -> list[ValidationError]:
        try:
            if self._fast.is_valid(value):
                return []
        except ValueError:  # UnicodeEncodeError included
            pass
        return list(self._authority.iter_errors(value))


_CASTS: dict[str, Callable[[str], Any]] = {
    "integer": int, "number": float,
    "boolean": lambda text: {"true": True, "false": False}[text],
}


@dataclass(frozen=True)
class _Parameter:
    name: str
    location: str
    required: bool
    allow_empty: bool
    type_name: str
    validator: CompiledSchema
    at: At

    @classmethod
    def compile(cls, spec: Mapping[str, Any], index: int) -> _Parameter:
        schema = spec.get("schema", {})
        types = schema.get("type", "string")
        type_name = next((t for t in ([types] if isinstance(types, str) else types)
                          if t != "null"), "string")
        return cls(spec["name"], spec["in"], bool(spec.get("required")),
                   bool(spec.get("allowEmptyValue")), type_name, CompiledSchema(schema),
                   ("parameters", index))

    def check(self, request: Request) -> tuple[Any, list[Problem]]:
        text = _SOURCES[self.location](request).get(self.name)
        field = f"{self.location}.{self.name}"
        if text is None:
            return None, [Problem(field, "is required", self.at)] if self.required else []
        if text == "" and self.location == "query" and not self.allow_empty:
            return None, [Problem(field, f"Value of {self.name} query parameter cannot be empty",
                                  self.at)]
        cast = _CASTS.get(self.type_name)
        try:
            value = cast(text) if cast else text
        except (KeyError, ValueError):
            return None, [Problem(field, f"Failed to cast value to {self.type_name} type: {text}",
                                  (*self.at, "schema", "type"))]
        return value, _schema_problems(field, (*self.at, "schema"), self.validator.errors(value))


#: where each parameter location lives; only the one asked for is parsed (cookies and the
#: query string are parsed on first use)
_SOURCES: dict[str, Callable[[Request], Any]] = {  # each has .get(name) -> str | None
    "path": lambda request: getattr(request, "view_args", None) or {},  # Flask's Request
    "query": lambda request: request.args,
    "header": lambda request: request.headers,
    "cookie": lambda request: request.cookies,
}


def _urlencoded(raw: bytes, **_: str) -> dict[str, str]:
    """The first value of each name, as openapi-core reads a form; only UTF-8 conforms."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def _multipart(raw: bytes, boundary: str = "", charset: str = "utf-8",
               **_: str) -> dict[str, str]:
    """Werkzeug's parser (Flask's own); parts are text, as every form field of the specs.
    It reads UTF-8 whatever the charset says, so a charset that does not exist is refused
    here (LookupError) as a malformed body."""
    codecs.lookup(charset)
    form, files = MultiPartParser().parse(io.BytesIO(raw), boundary.encode("latin-1"),
                                          len(raw))
    fields = {name: upload.read().decode("utf-8") for name, upload in files.items()}
    return {**fields, **dict(form.items())}


def _text(raw: bytes, **_: str) -> str:
    return raw.decode("utf-8")


_LOADERS: dict[str, Callable[..., Any]] = {
    "application/json": lambda raw, **_: json.loads(raw),
    "application/x-www-form-urlencoded": _urlencoded,
    "multipart/form-data": _multipart,
}


@dataclass(frozen=True)
class _Media:
    load: Callable[..., Any]
    validator: CompiledSchema


class _CompiledOperation:
    def __init__(self, operation: Operation) -> None:
        self._parameters = [_Parameter.compile(spec, index)
                            for index, spec in enumerate(operation.spec["parameters"])
                            if spec.get("in") in ("path", "query", "header", "cookie")]
        body = operation.spec.get("requestBody") or {}
        self._body_required = bool(body.get("required"))
        self._media = {
            media: _Media(_LOADERS.get(media, _text), CompiledSchema(content.get("schema", {})))
            for media, content in body.get("content", {}).items()
        }

    def validate(self, request: Request) -> ValidatedRequest | list[Problem]:
        values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}, "cookie": {}}
        problems: list[Problem] = []
        for parameter in self._parameters:
            value, found = parameter.check(request)
            problems += found
            if value is not None:
                values[parameter.location][parameter.name] = value
        body, found = self._check_body(request) if self._media else (None, [])
        problems += found
        if problems:
            return problems
        validated = ValidatedRequest(values["path"], values["query"], body)
        return list(_untextual(validated)) or validated

    def _check_body(self, request: Request) -> tuple[Any, list[Problem]]:
        raw = request.get_data(cache=True) if has_body(request) else b""
        if not raw:
            missing = [Problem("body", "a request body is required", ("requestBody",))]
            return None, missing if self._body_required else []
        media = self._media.get(request.mimetype)
        if media is None:
            return None, [Problem("body", f"unsupported content type {request.mimetype!r}; "
                                          f"send {', '.join(self._media)}",
                                  ("requestBody", "content"))]
        try:
            value = media.load(raw, **request.mimetype_params)
        except RecursionError:
            return None, [_TOO_DEEP]
        except (ValueError, LookupError, AssertionError):
            return None, [Problem("body", f"is not well-formed {request.mimetype} "
                                          "(or not UTF-8 where text is expected)",
                                  ("requestBody", "content", request.mimetype))]
        return value, _schema_problems("body", ("requestBody", "content", request.mimetype,
                                                "schema"), media.validator.errors(value))


def has_body(request: Request) -> bool:
    """Whether the request came with a body: a length, or chunks (HTTP/1.1 has no other
    way to send one), known without touching the input stream."""
    return bool(request.content_length) or "HTTP_TRANSFER_ENCODING" in request.environ


_TOO_DEEP = Problem("body", f"is nested deeper than {MAX_NESTING} levels", ("requestBody",))


class ResponseValidator:
    """Strict mode's judge of the mock's own answers: documented status, documented media
    type, required headers, and the body against its schema. JSON Schema validators are
    compiled once per (operation, status, media type), since a list of a thousand items
    through openapi-core's unmarshalling costs seconds."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str, str], CompiledSchema] = {}

    def problems(self, operation: Operation, response: Response) -> list[Problem]:
        documented = operation.spec.get("responses", {})
        status = str(response.status_code)
        key = status if status in documented else "default"
        spec = documented.get(key)
        if spec is None:
            return [Problem("response.status", f"{status} is not documented", ("responses",))]
        at: At = ("responses", key)
        problems = [Problem(f"response.headers.{name}", "is required", (*at, "headers", name))
                    for name, header in spec.get("headers", {}).items()
                    if header.get("required") and name not in response.headers]
        content = spec.get("content", {})
        if not content:
            return problems
        media = response.mimetype or ""
        if media not in content:
            return [*problems, Problem("response.content-type", f"{media!r} is not documented",
                                       (*at, "content"))]
        validator = self._validator(operation, status, media, content[media].get("schema", {}))
        try:
            body = _response_body(media, response)
        except ValueError:
            return [*problems, Problem("response.body", f"is not {media}",
                                       (*at, "content", media))]
        return problems + _schema_problems("response.body", (*at, "content", media, "schema"),
                                           validator.errors(body), words=_plain_message)

    def _validator(self, operation: Operation, status: str, media: str,
                   schema: dict[str, Any]) -> CompiledSchema:
        key = (operation.operation_id, status, media)
        if key not in self._compiled:
            self._compiled[key] = CompiledSchema(schema)
        return self._compiled[key]


def _response_body(media: str | None, response: Response) -> Any:
    """A text/plain answer is checked as the string it is; everything else is JSON."""
    if media == "text/plain":
        return response.get_data().decode("utf-8")
    return json.loads(response.get_data())


def value_problems(schema: Mapping[str, Any], value: Any, where: str = "body") -> list[Problem]:
    """Everything the engine would say of a value under a schema, for a vendor that decodes
    part of a request itself (CaptureProof reads JSON text sent as a form)."""
    return [*(Problem(_field_path(where, error), _schema_message(error))
              for error in _schema_from_json(json.dumps(schema, sort_keys=True)).errors(value)),
            *_untextual_values(where, value)]


@lru_cache(maxsize=64)
def _schema_from_json(schema: str) -> CompiledSchema:
    """Compiled once per distinct schema: compiling costs a hundred times a check."""
    return CompiledSchema(json.loads(schema))


def _untextual(validated: ValidatedRequest) -> Iterable[Problem]:
    """Values nothing downstream can hold: strings that are no text (JSON may escape half a
    UTF-16 surrogate pair, "\\ud800", which ``type: string`` accepts but UTF-8, SQLite and
    S3 keys cannot), NaN and Infinity (Python's parser accepts them, JSON has no such
    numbers), and nesting deep enough to exhaust the stack of a copy or a dump."""
    for location, value in (("path", validated.path), ("query", validated.query),
                            ("body", validated.body)):
        if value and not _is_clean(value):
            yield from _untextual_values(location, value)


def _is_clean(value: Any, depth: int = 0) -> bool:
    """Whether ``_untextual_values`` would find nothing, told without building a field path
    for every value (nearly every request is clean)."""
    kind = type(value)
    if kind is int or kind is bool or value is None:
        return True
    if depth > MAX_NESTING:
        return False
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        for key, item in value.items():  # loops, not all(): no generator per container
            if not (_is_clean(key, depth + 1) and _is_clean(item, depth + 1)):
                return False
        return True
    if kind is list:
        for item in value:  # noqa: SIM110 - see above
            if not _is_clean(item, depth + 1):
                return False
        return True
    return False  # anything else: the full walk decides


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _untextual_values(where: str, value: Any, depth: int = 0) -> Iterable[Problem]:
    kind = type(value)
    if kind is int or kind is bool or value is None:  # the common leaves, no checks needed
        return
    if depth > MAX_NESTING:
        yield _TOO_DEEP
    elif kind is str or isinstance(value, str):
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


def _schema_problems(field: str, at: At, errors: Iterable[ValidationError],
                     words: Callable[[ValidationError], str] | None = None) -> list[Problem]:
    words = words or _schema_message
    return [Problem(_field_path(field, error), words(error),
                    (*at, *error.absolute_schema_path)) for error in errors]


def _plain_message(error: ValidationError) -> str:
    return str(error.message)


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
