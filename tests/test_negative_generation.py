"""Invalid requests: every constraint of every field, each breaking exactly its rule."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from conformance.generation import negative, patterns, positive
from conformance.spec import Operation, load_api_spec
from conformance.transport import Case

BODY = ("requestBody", "content", "application/json", "schema")
SETUP = (*BODY, "properties", "camera_configuration", "properties", "camera_setup_selection")


def _create_capture() -> tuple[Operation, Case]:
    operation = load_api_spec("uplift").operation("createCapture")
    return operation, Case(operation, body=positive.documented_body(operation), has_body=True)


def test_pattern_breakers_follow_the_character_classes_it_refuses() -> None:
    pattern = r"^[A-Za-z0-9_-]+\.mov$"
    found = dict(patterns.breakers(pattern))
    values = set(found.values())
    assert {"a/.mov", "a .mov", "aé.mov", "a", ""} <= values, found
    assert any(value.endswith(".mox") for value in values), found
    assert all(re.search(pattern, value) is None for value in values)


def test_a_bounded_repeat_is_stretched_past_its_bound() -> None:
    assert "a" * 33 in dict(patterns.breakers(r"^[a-z0-9]{1,32}$")).values()


def test_an_unreadable_pattern_gives_no_breakers_rather_than_an_error() -> None:
    assert patterns.breakers(r"(?=x)a") == []


def test_nested_fields_and_prose_rules_are_broken_where_they_live() -> None:
    operation, _ = _create_capture()
    locations = {mutation.location for mutation in negative.mutations(operation)}
    assert (*SETUP, "enum") in locations
    assert (*BODY, "properties", "camera_configuration", "required") in locations
    assert (*BODY, "properties", "movement_attributes", "additionalProperties", "type") \
        in locations
    assert (*BODY, "properties", "capture_time", "x-not-after") in locations
    assert (*BODY, "properties", "file_name", "pattern") in locations


def test_each_mutation_of_the_documented_example_breaks_exactly_its_rule() -> None:
    operation, case = _create_capture()
    assert negative.broken_rules(case) == set()
    kept = [mutation for mutation in negative.mutations(operation)
            if negative.breaks_only(mutation, mutation.apply(case))]
    names = [mutation.name for mutation in kept]
    assert any("camera_setup_selection not in enum" in name for name in names)
    assert any("file_name not matching its pattern (with a '/'" in name for name in names)
    assert any("capture_time later than now" in name for name in names)
    # too long, yet matching the pattern: maxLength is the one rule broken
    assert "body.file_name longer than 255" in names


def test_a_too_long_value_still_matches_the_pattern() -> None:
    value = patterns.matching(r"^[^/\\]*\.[mM][oO][vV]$", 256)
    assert value is not None and len(value) >= 256 and value.endswith(".mov")


def test_a_mutation_breaking_two_rules_is_not_sent() -> None:
    operation, case = _create_capture()
    mutation = next(m for m in negative.mutations(operation)
                    if m.location == (*BODY, "properties", "file_name", "maxLength"))
    both = case.with_body({**case.body, "file_name": "x" * 300})  # too long and no .mov
    assert not negative.breaks_only(mutation, both)


@pytest.mark.parametrize(("value", "valid"), [("5", True), ("0", True), ("-1", False),
                                              ("five", False)])
def test_parameters_are_judged_as_they_go_on_the_wire(value: str, valid: bool) -> None:
    """"5" in a query string is the integer 5 to the server, so it is no wrong type."""
    operation = load_api_spec("uplift").operation("listCaptures")
    broken = negative.broken_rules(Case(operation, query={"offset": value}))
    assert (broken == set()) is valid, broken


def test_a_mutation_that_leaves_the_request_valid_is_not_sent() -> None:
    operation, case = _create_capture()
    mutation = next(m for m in negative.mutations(operation)
                    if m.location == (*SETUP, "enum"))
    harmless = replace(mutation, apply=lambda c: c)
    assert not negative.breaks_only(harmless, harmless.apply(case))
