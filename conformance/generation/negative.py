"""Requests that break exactly one rule of the spec, each named for reports.

Every mutation is checked against the schema before it is sent: one that turns out to be
valid after all (a "wrong type" for an untyped field, say) is dropped, so a 2xx answer to
a mutated request is always the server's fault.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jsonschema import Draft202012Validator

from conformance.spec import Operation
from conformance.transport import Case

_WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("integer", 12345), ("string", "text"), ("boolean", True), ("array", []), ("object", {}),
)
_PATTERN_BREAKERS = ("", " ", "/", "\\", "!@#$%^", "x" * 300, "a", "0")
_FORMAT_BREAKERS = {"uuid": "not-a-uuid", "date-time": "not-a-date", "email": "not-an-email",
                    "date": "not-a-date"}


@dataclass(frozen=True)
class Mutation:
    name: str
    apply: Callable[[Case], Case]


def mutations(operation: Operation, protected: frozenset[str] = frozenset()) -> list[Mutation]:
    return [*_body_mutations(operation, protected), *_parameter_mutations(operation, protected)]


def _is_valid(value: Any, schema: Mapping[str, Any]) -> bool:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(value)


def invalid_values(schema: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what is wrong, a value) pairs that break one keyword of a value schema."""
    yield from _wrong_type(schema)
    if "enum" in schema:
        yield "not in enum", 999999 if all(isinstance(v, int) for v in schema["enum"]) \
            else "__not_in_enum__"
    if "maxLength" in schema:
        yield f"longer than {schema['maxLength']}", "x" * (schema["maxLength"] + 1)
    if schema.get("minLength", 0) > 0:
        yield f"shorter than {schema['minLength']}", ""
    if "pattern" in schema:
        breaker = next((s for s in _PATTERN_BREAKERS if not re.search(schema["pattern"], s)), None)
        if breaker is not None:
            yield "not matching its pattern", breaker
    if schema.get("format") in _FORMAT_BREAKERS:
        yield f"not a valid {schema['format']}", _FORMAT_BREAKERS[schema["format"]]
    if "minimum" in schema:
        yield f"below minimum {schema['minimum']}", schema["minimum"] - 1
    if "maximum" in schema:
        yield f"above maximum {schema['maximum']}", schema["maximum"] + 1


def _wrong_type(schema: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    allowed = schema.get("type")
    if allowed is None:
        return
    allowed = {allowed} if isinstance(allowed, str) else set(allowed)
    if "number" in allowed:
        allowed.add("integer")
    for name, value in _WRONG_TYPES:
        if name not in allowed:
            yield f"of type {name} instead of {'/'.join(sorted(allowed))}", value
            return


def _body_mutations(operation: Operation, protected: frozenset[str]) -> Iterator[Mutation]:
    media = operation.body_media()
    if media is None:
        return
    media_type, schema = media
    if media_type != "application/json":
        return
    yield Mutation("malformed JSON body", lambda case: replace(
        case, raw_body=b'{"unterminated": ', headers={"Content-Type": "application/json"}))
    yield Mutation("body of the wrong content type", lambda case: replace(
        case, raw_body=b"plain text", headers={"Content-Type": "text/plain"}))
    if schema.get("type") == "object":
        yield Mutation("body is a JSON array, not an object", lambda case: case.with_body([]))
    for name in schema.get("required", []):
        if name not in protected:
            yield Mutation(f"body.{name} missing (required)", _drop_field(name))
    for name, field_schema in schema.get("properties", {}).items():
        if name in protected:
            continue
        for what, value in invalid_values(field_schema):
            if not _is_valid(value, field_schema):
                yield Mutation(f"body.{name} {what}", _set_field(name, value))


def _drop_field(name: str) -> Callable[[Case], Case]:
    def apply(case: Case) -> Case:
        body = dict(case.body) if isinstance(case.body, dict) else {}
        body.pop(name, None)
        return case.with_body(body)

    return apply


def _set_field(name: str, value: Any) -> Callable[[Case], Case]:
    def apply(case: Case) -> Case:
        body = dict(case.body) if isinstance(case.body, dict) else {}
        body[name] = value
        return case.with_body(body)

    return apply


def _parameter_mutations(operation: Operation, protected: frozenset[str]) -> Iterator[Mutation]:
    for parameter in operation.parameters:
        location, name = parameter.get("in"), parameter["name"]
        if location not in ("path", "query") or name in protected:
            continue
        schema = parameter.get("schema", {})
        unknown = _unknown_id(schema) if location == "path" else None
        if unknown is not None:
            yield Mutation(f"path.{name} names nothing that exists",
                           _set_parameter(location, name, unknown))
        for what, value in invalid_values(schema):
            if location == "path" and value in ("", [], {}):
                continue  # an empty path segment routes elsewhere; not a parameter error
            if not _is_valid(_as_wire_value(value, schema), schema):
                yield Mutation(f"{location}.{name} {what}", _set_parameter(location, name, value))


def _unknown_id(schema: Mapping[str, Any]) -> Any:
    """A value the schema allows that no server will have issued (a well-formed id of
    nothing): the request is valid in form, so only the resource can be missing."""
    candidates: tuple[Any, ...] = (
        min(schema.get("maximum", 2**31 - 1), 2**31 - 1) if schema.get("type") == "integer"
        else None,
        "00000000-0000-4000-8000-00000000dead", "zz9unknownzz9", "conformance-unknown-id",
    )
    return next((value for value in candidates
                 if value is not None and _is_valid(value, schema)), None)


def _as_wire_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """How a server reads a parameter: its text, coerced to the schema's scalar type."""
    text = value if isinstance(value, str) else json.dumps(value)
    coerce = {"integer": int, "number": float,
              "boolean": lambda t: {"true": True, "false": False}[t]}.get(schema.get("type"))
    if coerce is None:
        return text
    try:
        return coerce(text)
    except (KeyError, ValueError):
        return text


def _set_parameter(location: str, name: str, value: Any) -> Callable[[Case], Case]:
    def apply(case: Case) -> Case:
        if location == "path":
            return replace(case, path_params={**case.path_params, name: value})
        return replace(case, query={**case.query, name: value})

    return apply
