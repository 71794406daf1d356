"""The contracts: valid OpenAPI 3.1, self-consistent, and faithful to the documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import referencing
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing.jsonschema import DRAFT202012

import vendor_specs
from documents import ERROR_MESSAGES, OPERATIONS, SAMPLES, facts

APIS = vendor_specs.API_NAMES
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def spec(api: str) -> dict[str, Any]:
    return vendor_specs.load_spec(api)


def operation(api: str, operation_id: str) -> dict[str, Any]:
    for item in spec(api)["paths"].values():
        for method, candidate in item.items():
            if method in HTTP_METHODS and candidate["operationId"] == operation_id:
                return candidate
    raise AssertionError(f"{api} has no operation {operation_id}")


def pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def validator_at(api: str, schema_pointer: str) -> Draft202012Validator:
    """A validator for the schema at a JSON pointer, with the spec's $refs resolvable."""
    resource = referencing.Resource.from_contents(spec(api), default_specification=DRAFT202012)
    registry = referencing.Registry().with_resource("urn:spec", resource)
    return Draft202012Validator({"$ref": f"urn:spec#{schema_pointer}"}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def media_types(api: str) -> Iterator[tuple[str, str, Any]]:
    """(label, schema pointer, media object) for every request and response body."""
    for path, item in spec(api)["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                yield (f"{op['operationId']} request {media}",
                       pointer("paths", path, method, "requestBody", "content", media, "schema"),
                       content)
            for status, response in op["responses"].items():
                response_path = ("paths", path, method, "responses", status)
                if "$ref" in response:
                    response_path = tuple(response["$ref"][2:].split("/"))
                    response = resolve(api, response["$ref"])
                for media, content in response.get("content", {}).items():
                    yield (f"{op['operationId']} {status} {media}",
                           pointer(*response_path, "content", media, "schema"), content)


def resolve(api: str, ref: str) -> Any:
    return vendor_specs.resolve_pointer(spec(api), ref)


def response_for(api: str, operation_id: str, status: str) -> dict[str, Any]:
    response = operation(api, operation_id)["responses"][status]
    return resolve(api, response["$ref"]) if "$ref" in response else response


@pytest.mark.parametrize("api", APIS)
def test_spec_is_valid_openapi_31(api: str) -> None:
    document = spec(api)
    assert document["openapi"].startswith("3.1")
    assert document["x-api-name"] == api
    validate(document)


@pytest.mark.parametrize("api", APIS)
def test_every_example_matches_its_schema(api: str) -> None:
    checked = 0
    for label, schema_pointer, content in media_types(api):
        validator = validator_at(api, schema_pointer)
        for name, example in content.get("examples", {}).items():
            example = resolve(api, example["$ref"]) if "$ref" in example else example
            errors = [error.message for error in validator.iter_errors(example["value"])]
            assert not errors, f"{api} {label} example {name!r}: {errors}"
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("api", APIS)
def test_every_operation_is_complete(api: str) -> None:
    for item in spec(api)["paths"].values():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            assert op.get("operationId") and op.get("summary"), op
            for status, response in op["responses"].items():
                response = resolve(api, response["$ref"]) if "$ref" in response else response
                for media in response.get("content", {}).values():
                    assert "schema" in media and media.get("examples"), (op["operationId"], status)


@pytest.mark.parametrize("api", APIS)
def test_servers_list_the_vendor_and_the_mock(api: str) -> None:
    urls = [server["url"] for server in spec(api)["servers"]]
    expected_mock = {"captureproof": "http://127.0.0.1:8000/api/v1", "mycrt":
                     "http://127.0.0.1:8000/api", "biometricscloud": "http://127.0.0.1:8000/api/v1",
                     "uplift": "http://127.0.0.1:8000/v1"}[api]
    assert urls[1] == expected_mock
    assert not urls[0].startswith("http://127.0.0.1")


@pytest.mark.parametrize(("api", "method", "path", "operation_id"), OPERATIONS)
def test_documented_operation_is_in_its_spec(api: str, method: str, path: str,
                                             operation_id: str) -> None:
    assert spec(api)["paths"][path][method.lower()]["operationId"] == operation_id


@pytest.mark.parametrize(("api", "operation_id", "status", "message"), ERROR_MESSAGES)
def test_documented_error_message_is_an_example(api: str, operation_id: str, status: int,
                                                message: str) -> None:
    content = response_for(api, operation_id, str(status))["content"]["application/json"]
    examples = [resolve(api, e["$ref"]) if "$ref" in e else e for e in content["examples"].values()]
    messages = [example["value"].get("message") for example in examples]
    assert message in messages


@pytest.mark.parametrize("entry", facts()["bodiless"],
                         ids=lambda e: f"{e['api']}-{e['operation_id']}-{e['status']}")
def test_a_bodiless_documented_answer_has_no_content(entry: dict[str, Any]) -> None:
    """Where the document shows a bare status, the contract does not invent a body."""
    assert "content" not in response_for(entry["api"], entry["operation_id"], str(entry["status"]))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.seed}-{s.index}-{s.operation_id}")
def test_document_sample_body_matches_the_spec(sample: Any) -> None:
    op = operation(sample.api, sample.operation_id)
    path, method = next(
        (path, method) for path, item in spec(sample.api)["paths"].items()
        for method, candidate in item.items() if candidate is op
    )
    if sample.target == "request":
        schema_pointer = pointer("paths", path, method, "requestBody", "content",
                                 "application/json", "schema")
    else:
        response = op["responses"][sample.target]
        base = (tuple(response["$ref"][2:].split("/")) if "$ref" in response
                else ("paths", path, method, "responses", sample.target))
        schema_pointer = pointer(*base, "content", "application/json", "schema")
    validator = validator_at(sample.api, schema_pointer)
    errors = [error.message for error in validator.iter_errors(sample.body)]
    assert not errors
