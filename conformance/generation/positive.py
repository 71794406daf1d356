"""Valid requests for an operation, drawn from its schemas with hypothesis-jsonschema.

An API adapter may pin values the schema cannot know (ids that exist, a capture time in
the past); everything else is generated. Objects are closed while generating, so a valid
request exercises the documented fields rather than invented ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from conformance.spec import Operation
from conformance.transport import Case

CUSTOM_FORMATS = {"uuid": st.uuids().map(str)}


@dataclass(frozen=True)
class Pins:
    """Values (or strategies) an adapter fixes for the generator, by location and name."""

    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    omit_body_fields: frozenset[str] = frozenset()


def values(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    return _values(json.dumps(closed(schema), sort_keys=True))


@cache
def _values(text: str) -> st.SearchStrategy[Any]:
    """One strategy per distinct schema. A plain object is drawn field by field here:
    hypothesis-jsonschema builds the strategy of an object's fields while it draws, and
    each build reads a function's source (Hypothesis's check of ``@composite``), which took
    a fifth of a run's time."""
    schema = json.loads(text)
    if _is_plain_object(schema):
        required = set(schema.get("required", ()))
        fields = {name: values(field) for name, field in schema["properties"].items()}
        return st.fixed_dictionaries(
            {name: strategy for name, strategy in fields.items() if name in required},
            optional={name: strategy for name, strategy in fields.items()
                      if name not in required})
    return from_schema(schema, custom_formats=CUSTOM_FORMATS)


#: what an object schema may say and still be drawn as fixed fields (``x-`` keywords are
#: for the checks, and hypothesis-jsonschema ignores them too)
_PLAIN_OBJECT_KEYS = frozenset({"type", "properties", "required", "additionalProperties",
                                "description", "title", "example", "examples"})


def _is_plain_object(schema: Any) -> bool:
    return (isinstance(schema, dict) and schema.get("type") == "object"
            and isinstance(schema.get("properties"), dict)
            and schema.get("additionalProperties") is False
            and set(schema.get("required", ())) <= set(schema["properties"])
            and all(key in _PLAIN_OBJECT_KEYS or key.startswith("x-") for key in schema))


def closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        copy = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            copy["additionalProperties"] = False
        return copy
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def cases(operation: Operation, pins: Pins = Pins()) -> st.SearchStrategy[Case]:
    return st.builds(
        _case, st.just(operation), _parameters(operation, "path", pins.path, all_required=True),
        _parameters(operation, "query", pins.query, all_required=False), _body(operation, pins),
    )


def _case(operation: Operation, path: dict[str, Any], query: dict[str, Any],
          body: tuple[bool, str, Any]) -> Case:
    has_body, media_type, value = body
    return Case(operation, path, query, body=value, has_body=has_body, media_type=media_type)


def _pinned(value: Any) -> st.SearchStrategy[Any]:
    return value if isinstance(value, st.SearchStrategy) else st.just(value)


def _parameters(operation: Operation, location: str, pins: Mapping[str, Any],
                all_required: bool) -> st.SearchStrategy[dict[str, Any]]:
    required, optional = {}, {}
    for parameter in operation.parameters_in(location):
        name = parameter["name"]
        strategy = _pinned(pins[name]) if name in pins else values(_non_empty(parameter))
        if all_required or parameter.get("required") or name in pins:
            required[name] = strategy
        else:
            optional[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _non_empty(parameter: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAPI's ``allowEmptyValue`` defaults to false: a server may refuse ``?name=``."""
    schema = dict(parameter.get("schema", {}))
    if parameter.get("allowEmptyValue") or "string" not in str(schema.get("type")):
        return schema
    return {**schema, "minLength": max(1, schema.get("minLength", 0))}


def _body(operation: Operation, pins: Pins) -> st.SearchStrategy[tuple[bool, str, Any]]:
    media = operation.body_media()
    if media is None:
        return st.just((False, "application/json", None))
    media_type, schema = media
    schema = _without(schema, pins.omit_body_fields | set(pins.body))
    strategy = values(schema)
    if pins.body:
        strategy = st.tuples(strategy, st.fixed_dictionaries(
            {name: _pinned(value) for name, value in pins.body.items()}
        )).map(lambda pair: {**pair[0], **pair[1]} if isinstance(pair[0], dict) else pair[0])
    present = st.just(True) if operation.body_required or pins.body else st.booleans()
    return st.tuples(present, st.just(media_type), strategy)


def _without(schema: Mapping[str, Any], names: Set[str]) -> dict[str, Any]:
    """The schema minus some top-level properties (pinned or omitted by the adapter)."""
    if not names or "properties" not in schema:
        return dict(schema)
    return {**schema,
            "properties": {k: v for k, v in schema["properties"].items() if k not in names},
            "required": [name for name in schema.get("required", []) if name not in names]}


def documented_body(operation: Operation) -> Any:
    """The request body the spec shows as an example (``example`` or the first of
    ``examples``), or None."""
    at = documented_body_at(operation)
    if not at:
        return None
    node: Any = operation.spec
    for key in at:
        node = node[key]
    return node.get("value") if at[-2] == "examples" else node


def documented_body_at(operation: Operation) -> tuple[str, ...]:
    """Where that example lives in the operation, or () when it has none."""
    media = operation.body_media()
    if media is None:
        return ()
    content = operation.spec.get("requestBody", {}).get("content", {}).get(media[0], {})
    where = ("requestBody", "content", media[0])
    if "example" in content:
        return (*where, "example")
    first = next(iter(content.get("examples", {})), None)
    return () if first is None else (*where, "examples", first)


def exemplary_cases(operation: Operation, pins: Pins = Pins()) -> st.SearchStrategy[Case]:
    """Valid requests whose body fields come from the documented example wherever the
    adapter pins nothing: a base for invalid requests that a server accepts as it is
    (a generated minimal body may meet a business rule, ``".MOV"`` as a blank file name,
    and then a 4xx to a mutation of it proves nothing)."""
    example = documented_body(operation)
    if not isinstance(example, dict):
        return cases(operation, pins)

    def merge(case: Case) -> Case:
        if not isinstance(case.body, dict):
            return case
        pinned = {name: case.body[name] for name in pins.body if name in case.body}
        body = {name: value for name, value in example.items()
                if name not in pins.omit_body_fields}
        return case.with_body({**body, **pinned})

    return cases(operation, pins).map(merge)
