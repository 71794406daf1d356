"""Requests that break exactly one rule of the spec, each named for reports.

Every constraint of every field is broken, nested objects and array items included, with
several values where one would prove little (a pattern is broken once per kind of
character it refuses, see :mod:`conformance.generation.patterns`). Each mutation knows the
keyword it breaks (``location``, from the operation's spec node), and
:func:`breaks_only` checks the mutated request as it goes on the wire (parameters as text
coerced per schema, the body re-parsed): one that is valid after all, or breaks some other
rule too, is not sent, so a 2xx answer to a mutated request is always the server's fault.

Rules the documents state in prose are spec keywords the validator here reads:
``x-not-after: now`` (a date-time that must not be later than the server's clock).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from conformance.generation import patterns
from conformance.spec import Operation
from conformance.transport import Case

Location = tuple[str | int, ...]
Path = tuple[str | int, ...]

_WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("integer", 12345), ("string", "text"), ("boolean", True), ("array", []), ("object", {}),
)
_PATTERN_FALLBACK = ("", " ", "/", "\\", "!@#$%^", "x" * 300, "a", "0")
_FORMAT_BREAKERS: dict[str, tuple[str, ...]] = {
    "uuid": ("not-a-uuid", "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4",
             "6f1c2d3e4a5b4c6d8e7f9a0b1c2d3e4fz"),
    "date-time": ("not-a-date", "2026-13-01T00:00:00Z", "2026-05-13"),
    "date": ("not-a-date", "2026-02-30"),
    "email": ("not-an-email", "user@"),
}
_FUTURE = timedelta(days=3650)  # far past any mock clock a run moves
#: the contract's rule for bodies no schema judges (see ``vendor_specs.sources``)
MALFORMED_BODY: Location = ("#", "x-conformance-rules", "malformed-body")


def _not_after(validator: Any, limit: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """``x-not-after: now``: a date-time no later than the clock (the documents' prose)."""
    if limit != "now" or not isinstance(instance, str):
        return
    try:
        moment = datetime.fromisoformat(instance.replace("Z", "+00:00"))
    except ValueError:
        return  # the format keyword judges the text
    if moment.tzinfo is not None and moment > datetime.now(UTC):
        yield ValidationError(f"{instance!r} is later than now")


# types-jsonschema leaves ``extend`` unannotated
Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"x-not-after": _not_after})


@dataclass(frozen=True)
class Mutation:
    """``location``: the keyword broken, as keys from the operation's spec node.
    ``by_schema``: whether :func:`breaks_only` can judge it (not so for malformed JSON or
    an unknown id, which break no schema keyword). ``refusal``: the status that refuses
    it, where a document may name one (400 for invalid input, 404 for an unknown id;
    None for a wrong content type, which a server may refuse with 415 as well)."""

    name: str
    apply: Callable[[Case], Case]
    location: Location = ()
    by_schema: bool = True
    refusal: int | None = 400


def mutations(operation: Operation, protected: frozenset[str] = frozenset()) -> list[Mutation]:
    return [*_body_mutations(operation, protected), *_parameter_mutations(operation, protected)]


def _is_valid(value: Any, schema: Mapping[str, Any]) -> bool:
    return bool(Validator(schema, format_checker=Validator.FORMAT_CHECKER).is_valid(value))


def invalid_values(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(keyword, what is wrong, value) triples, each value breaking that keyword."""
    yield from _wrong_type(schema)
    yield from _enum_breakers(schema)
    yield from _length_breakers(schema)
    yield from _number_breakers(schema)
    if "pattern" in schema:
        found = patterns.breakers(schema["pattern"]) or [
            ("not matching", value) for value in _PATTERN_FALLBACK]
        for what, value in found:
            yield "pattern", f"not matching its pattern ({what}: {value!r})", value
    for value in _FORMAT_BREAKERS.get(schema.get("format", ""), ()):
        yield "format", f"not a valid {schema['format']} ({value!r})", value
    if schema.get("x-not-after") == "now":
        later = (datetime.now(UTC) + _FUTURE).isoformat().replace("+00:00", "Z")
        yield "x-not-after", f"later than now ({later})", later


def _enum_breakers(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if "const" in schema:
        yield "const", f"other than {schema['const']!r}", f"{schema['const']}_other"
    if "enum" not in schema:
        return
    texts = [value for value in schema["enum"] if isinstance(value, str)]
    if all(isinstance(value, int) for value in schema["enum"]):
        yield "enum", "not in enum (999999)", 999999
    for value in ([texts[0].upper(), texts[0] + "_other", ""] if texts else ["__not_in_enum__"]):
        yield "enum", f"not in enum ({value!r})", value


def _length_breakers(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    if "maxLength" in schema:
        too_long = "pattern" in schema and patterns.matching(
            schema["pattern"], schema["maxLength"] + 1)
        yield "maxLength", f"longer than {schema['maxLength']}", \
            too_long or "x" * (schema["maxLength"] + 1)
    if schema.get("minLength", 0) > 0:
        yield "minLength", f"shorter than {schema['minLength']}", "x" * (schema["minLength"] - 1)
    if schema.get("minItems", 0) > 0:
        yield "minItems", f"fewer than {schema['minItems']} items", []
    if schema.get("minProperties", 0) > 0:
        yield "minProperties", f"fewer than {schema['minProperties']} properties", {}


def _number_breakers(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    step = 1 if schema.get("type") == "integer" else 0.5
    if "minimum" in schema:
        yield "minimum", f"below minimum {schema['minimum']}", schema["minimum"] - step
    if "maximum" in schema:
        yield "maximum", f"above maximum {schema['maximum']}", schema["maximum"] + step
    if "exclusiveMinimum" in schema:
        yield "exclusiveMinimum", f"equal to exclusiveMinimum {schema['exclusiveMinimum']}", \
            schema["exclusiveMinimum"]
    if "exclusiveMaximum" in schema:
        yield "exclusiveMaximum", f"equal to exclusiveMaximum {schema['exclusiveMaximum']}", \
            schema["exclusiveMaximum"]
    if "multipleOf" in schema:
        base = schema.get("minimum", schema.get("exclusiveMinimum", 0)) or 0
        yield "multipleOf", f"not a multiple of {schema['multipleOf']}", \
            base + schema["multipleOf"] / 2 + schema["multipleOf"]


def _wrong_type(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    allowed = schema.get("type")
    if allowed is None:
        return
    allowed = {allowed} if isinstance(allowed, str) else set(allowed)
    if "number" in allowed:
        allowed.add("integer")
    for name, value in _WRONG_TYPES:
        if name not in allowed:
            yield "type", f"of type {name} instead of {'/'.join(sorted(allowed))}", value
            return


def _body_mutations(operation: Operation, protected: frozenset[str]) -> Iterator[Mutation]:
    media = operation.body_media()
    if media is None:
        return
    media_type, schema = media
    if media_type != "application/json":
        return
    content: Location = ("requestBody", "content")
    yield Mutation("malformed JSON body", lambda case: replace(
        case, raw_body=b'{"unterminated": ', headers={"Content-Type": "application/json"}),
        MALFORMED_BODY, by_schema=False)
    yield Mutation("body of the wrong content type", lambda case: replace(
        case, raw_body=b"plain text", headers={"Content-Type": "text/plain"}),
        MALFORMED_BODY, by_schema=False, refusal=None)
    if schema.get("type") == "object":
        yield Mutation("body is a JSON array, not an object", _set_at((), []),
                       (*content, media_type, "schema", "type"))
    yield from _schema_mutations(schema, (), (*content, media_type, "schema"), protected)


def _label(path: Path) -> str:
    return "body" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                            for part in path)


def _schema_mutations(schema: Mapping[str, Any], path: Path, location: Location,
                      protected: frozenset[str] = frozenset()) -> Iterator[Mutation]:
    """Every keyword of this schema and, recursively, of its properties and items."""
    if path:
        for keyword, what, value in invalid_values(schema):
            if not _is_valid(value, schema):
                yield Mutation(f"{_label(path)} {what}", _set_at(path, value),
                               (*location, keyword))
    yield from _object_mutations(schema, path, location, protected)
    items = schema.get("items")
    if isinstance(items, dict):
        if "maxItems" in schema:
            yield Mutation(f"{_label(path)} with more than {schema['maxItems']} items",
                           _stretch_at(path, schema["maxItems"] + 1), (*location, "maxItems"))
        yield from _schema_mutations(items, (*path, 0), (*location, "items"))


def _object_mutations(schema: Mapping[str, Any], path: Path, location: Location,
                      protected: frozenset[str]) -> Iterator[Mutation]:
    for name in schema.get("required", []):
        if name not in protected:
            yield Mutation(f"{_label((*path, name))} missing (required)",
                           _drop_at((*path, name)), (*location, "required"))
    extra = schema.get("additionalProperties")
    if "properties" in schema and extra is False:
        yield Mutation(f"{_label(path)} with an undocumented property (closed object)",
                       _set_at((*path, "x_conformance_extra"), "x"),
                       (*location, "additionalProperties"))
    if isinstance(extra, dict):
        yield from _schema_mutations(extra, (*path, "x_conformance_extra"),
                                     (*location, "additionalProperties"))
    for name, field_schema in schema.get("properties", {}).items():
        if name not in protected:
            yield from _schema_mutations(field_schema, (*path, name),
                                         (*location, "properties", name))


def _body_copy(case: Case) -> Any:
    return copy.deepcopy(case.body) if case.has_body else None


def _parent(body: Any, path: Path) -> Any:
    """The container holding ``path``'s last key, made where it is missing."""
    node = body
    for key, following in itertools.pairwise(path):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(key, int):
            if not isinstance(node, list):
                return None
            if len(node) <= key:
                node.append(empty)
            node = node[key]
        else:
            if not isinstance(node, dict):
                return None
            node = node.setdefault(key, empty)
    return node


def _set_at(path: Path, value: Any) -> Callable[[Case], Case]:
    def apply(case: Case) -> Case:
        if not path:
            return case.with_body(value)
        body = _body_copy(case) if isinstance(case.body, dict) else {}
        parent = _parent(body, path)
        key = path[-1]
        if isinstance(parent, list) and isinstance(key, int):
            parent[key:key + 1] = [value]
        elif isinstance(parent, dict):
            parent[key] = value
        return case.with_body(body)

    return apply


def _drop_at(path: Path) -> Callable[[Case], Case]:
    def apply(case: Case) -> Case:
        body = _body_copy(case) if isinstance(case.body, dict) else {}
        parent = _parent(body, path)
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        return case.with_body(body)

    return apply


def _stretch_at(path: Path, count: int) -> Callable[[Case], Case]:
    """The array at ``path`` with its first item repeated to ``count`` items."""
    def apply(case: Case) -> Case:
        body = _body_copy(case) if isinstance(case.body, dict) else {}
        parent = _parent(body, path)
        current = parent.get(path[-1]) if isinstance(parent, dict) else None
        if isinstance(current, list) and current:
            parent[path[-1]] = [*current, *[current[0]] * count][:count]
        return case.with_body(body)

    return apply


def _parameter_mutations(operation: Operation, protected: frozenset[str]) -> Iterator[Mutation]:
    for index, parameter in enumerate(operation.parameters):
        location, name = parameter.get("in"), parameter["name"]
        if location not in ("path", "query") or name in protected:
            continue
        schema = parameter.get("schema", {})
        unknown = _unknown_id(schema) if location == "path" else None
        if unknown is not None:
            yield Mutation(f"path.{name} names nothing that exists",
                           _set_parameter(location, name, unknown), ("responses", "404"),
                           by_schema=False, refusal=404)
        for keyword, what, value in invalid_values(schema):
            if location == "path" and value in ("", [], {}):
                continue  # an empty path segment routes elsewhere; not a parameter error
            if not _is_valid(_as_wire_value(value, schema), schema):
                yield Mutation(f"{location}.{name} {what}", _set_parameter(location, name, value),
                               ("parameters", index, "schema", keyword))


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
    coercions: dict[Any, Callable[[str], Any]] = {
        "integer": int, "number": float, "boolean": lambda t: {"true": True, "false": False}[t]}
    coerce = coercions.get(schema.get("type"))
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


def broken_rules(case: Case) -> set[Location]:
    """Where the request, as it goes on the wire, breaks the operation's spec: the
    locations of every violated keyword (parameters read as text, the body re-parsed)."""
    operation, broken = case.operation, set[Location]()
    for index, parameter in enumerate(operation.parameters):
        sent = {"path": case.path_params, "query": case.query}.get(str(parameter.get("in")))
        if sent is None:
            continue
        if parameter["name"] not in sent:
            if parameter.get("required"):
                broken.add(("parameters", index, "required"))
            continue
        schema = parameter.get("schema", {})
        broken |= _errors(_as_wire_value(sent[parameter["name"]], schema), schema,
                          ("parameters", index, "schema"))
    media = operation.body_media()
    if media is not None and case.raw_body is None:
        if not case.has_body:
            if operation.body_required:
                broken.add(("requestBody", "required"))
        else:
            broken |= _errors(json.loads(json.dumps(case.body)), media[1],
                              ("requestBody", "content", media[0], "schema"))
    return broken


def breaks_only(mutation: Mutation, case: Case) -> bool:
    """Whether the mutated request breaks exactly the mutation's rule (always so for
    mutations no schema keyword judges)."""
    if not mutation.by_schema:
        return True
    broken = broken_rules(case)
    if mutation.location[-1:] == ("type",):  # a value of another type is in no enum either
        node = mutation.location[:-1]
        broken -= {(*node, "enum"), (*node, "const")}
    return broken == {mutation.location}


def _errors(value: Any, schema: Mapping[str, Any], prefix: Location) -> set[Location]:
    validator = Validator(schema, format_checker=Validator.FORMAT_CHECKER)
    return {(*prefix, *error.schema_path) for error in validator.iter_errors(value)}
