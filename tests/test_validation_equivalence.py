"""The mock's compiled request validation gives openapi-core's verdict on every request.

The mock compiles each operation's schemas once at start-up instead of asking openapi-core
per request (over a millisecond each). This keeps the spec the authority: for generated
requests (valid ones, ones that break one rule, and arbitrary ones) both must agree on
whether the request is valid. ``HYPOTHESIS_PROFILE=thorough`` tries many more.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
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
from mockserver.validation import RequestValidator

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
    return st.one_of(valid, broken, arbitrary)


@pytest.mark.parametrize(("api", "operation_id"), OPERATIONS)
def test_compiled_validation_agrees_with_openapi_core(api: str, operation_id: str) -> None:
    @given(_any_case(api, operation_id))
    def agree(case: Case) -> None:
        ours, reference = JUDGES[api].verdicts(operation_id, case)
        assert ours == reference, (case, "we accept" if ours else "openapi-core accepts")

    agree()
