"""Valid requests: every body the generator draws is one its schema accepts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from jsonschema import Draft202012Validator

import vendor_specs
from conformance.generation import positive
from conformance.spec import load_api_spec

BODY_SCHEMAS = [
    pytest.param(media[1], id=f"{api}.{operation.operation_id}")
    for api in vendor_specs.API_NAMES
    for operation in load_api_spec(api).operations
    if (media := operation.body_media()) is not None and media[0] == "application/json"
]


@pytest.mark.parametrize("schema", BODY_SCHEMAS)
def test_drawn_bodies_match_their_schema_and_stay_closed(schema: dict[str, Any]) -> None:
    """Objects are drawn field by field (``positive._values``) or by hypothesis-jsonschema;
    either way a body is valid, and closed: no field the schema does not name."""
    validator = Draft202012Validator(positive.closed(schema))

    @given(positive.values(schema))
    def drawn(body: Any) -> None:
        errors = [error.message for error in validator.iter_errors(body)]
        assert not errors, (body, errors)

    drawn()


def test_a_plain_object_draws_optional_fields_too() -> None:
    schema = {"type": "object", "required": ["a"],
              "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}
    seen: set[frozenset[str]] = set()

    @given(positive.values(schema))
    def drawn(body: dict[str, Any]) -> None:
        seen.add(frozenset(body))

    drawn()
    assert seen == {frozenset({"a"}), frozenset({"a", "b"})}
