"""The mock's compiled request validation gives openapi-core's verdict on every request.

The mock compiles each operation's schemas once at start-up instead of asking openapi-core
per request (over a millisecond each). This keeps the spec the authority: for generated
requests (valid ones, ones that break one rule, and arbitrary ones) both must agree on
whether the request is valid. Inside, jsonschema-rs may only ever say "valid" first where
jsonschema agrees. ``HYPOTHESIS_PROFILE=thorough`` tries many more.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from jsonschema_path import SchemaPath
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.unmarshalling.request.unmarshallers import (
    V31RequestBodyUnmarshaller,
    V31RequestParametersUnmarshaller,
)
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import vendor_specs
from conformance.generation import negative, positive
from conformance.spec import load_api_spec
from conformance.transport import Case
from mockserver.contracts import load_contract
from mockserver.validation import CompiledSchema, RequestValidator

OPERATIONS = [(api, operation.operation_id) for api in vendor_specs.API_NAMES
              for operation in load_api_spec(api).operations]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) |
    st.dictionaries(st.text(max_size=10), children, max_size=3), max_leaves=8)


class Judges:
    def __init__(self, api: str) -> None:
        self.contract = load_contract(api)
        self.compiled = RequestValidator(self.contract)
        # openapi-core sees the spec served at the mock's base path
        spec = SchemaPath.from_dict({**self.contract.document,
                                     "servers": [{"url": self.contract.base_path}]})
        self.parameters = V31RequestParametersUnmarshaller(spec)
        self.body = V31RequestBodyUnmarshaller(spec)

    def verdicts(self, operation_id: str, case: Case) -> tuple[bool, bool]:
        operation = self.contract.operation(operation_id)
        request = _request(operation.full_path, operation.method, case)
        openapi_request = WerkzeugOpenAPIRequest(request)
        reference = not (self.parameters.unmarshal(openapi_request).errors or
                         self.body.unmarshal(openapi_request).errors)
        ours = not isinstance(self.compiled.validate(operation, request), list)
        return ours, reference


JUDGES = {api: Judges(api) for api in vendor_specs.API_NAMES}


def _request(full_path: str, method: str, case: Case) -> Request:
    path = full_path
    for name, value in case.path_params.items():
        path = path.replace("{" + name + "}", quote(_text(value), safe=""))
    data, headers = case.raw_body, dict(case.headers)
    if data is None and case.has_body:
        data = json.dumps(case.body).encode()
        headers.setdefault("Content-Type", case.media_type)
    environ = EnvironBuilder(method=method, path=path, data=data, headers=headers,
                             query_string=urlencode({k: _text(v) for k, v in case.query.items()}),
                             ).get_environ()
    request = Request(environ)
    request.view_args = {name: _text(value) for name, value in case.path_params.items()}
    return request


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _any_case(api: str, operation_id: str) -> st.SearchStrategy[Case]:
    operation = load_api_spec(api).operation(operation_id)
    mutations = negative.mutations(operation)
    valid = positive.cases(operation)
    broken = st.tuples(valid, st.sampled_from(mutations)).map(
        lambda pair: pair[1].apply(pair[0])) if mutations else valid
    arbitrary = st.builds(
        Case, st.just(operation),
        st.fixed_dictionaries({p["name"]: st.text(max_size=8) | st.integers()
                               for p in operation.parameters_in("path")}),
        st.dictionaries(st.sampled_from([p["name"] for p in operation.parameters_in("query")]
                                        or ["unknown"]), st.text(max_size=8), max_size=3),
        st.just({}), JSON_VALUES, st.booleans())
    return st.one_of(valid, broken, arbitrary).filter(_read_alike)


def _read_alike(case: Case) -> bool:
    """Path values both judges read as sent. A "/" makes another path (%2F arrives decoded),
    which routing answers with 404 before validation; openapi-core's path finder trims
    whitespace around a value ("0\\r" is judged as "0"), while the mock checks what was sent."""
    texts = [_text(value) for value in case.path_params.values()]
    return all("/" not in text and text == text.strip() for text in texts)


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_compiled_validation_agrees_with_openapi_core(api: str, operation_id: str) -> None:
    @given(_any_case(api, operation_id))
    def agree(case: Case) -> None:
        ours, reference = JUDGES[api].verdicts(operation_id, case)
        assert ours == reference, (case, "we accept" if ours else "openapi-core accepts")

    agree()


def _schemas(api: str, operation_id: str) -> list[dict[str, object]]:
    """Every schema the mock checks for one operation: parameters, bodies, responses."""
    spec = load_contract(api).operation(operation_id).spec
    contents = [spec.get("requestBody", {}).get("content", {}),
                *(response.get("content", {}) for response in spec["responses"].values())]
    return [*(parameter["schema"] for parameter in spec["parameters"] if "schema" in parameter),
            *(media["schema"] for content in contents for media in content.values()
              if "schema" in media)]


def _with_line_feeds(value: object) -> object:
    """Python's ``$`` matches before a final line feed, Rust's does not."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, dict):
        return {key: _with_line_feeds(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_line_feeds(item) for item in value]
    return value


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_fast_validator_never_accepts_what_jsonschema_refuses(api: str,
                                                              operation_id: str) -> None:
    schemas = _schemas(api, operation_id)

    @given(st.data())
    def agree(data: st.DataObject) -> None:
        schema = data.draw(st.sampled_from(schemas))
        valid = from_schema(schema, custom_formats={"uuid": st.uuids().map(str)})
        value = data.draw(valid | valid.map(_with_line_feeds) | JSON_VALUES)
        authority = Draft202012Validator(schema,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert bool(CompiledSchema(schema).errors(value)) == (not authority.is_valid(value))

    agree()
