"""The specs, indexed once at start-up: every operation the mock serves comes from here."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import vendor_specs

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class ContractError(ValueError):
    pass


@dataclass(frozen=True)
class Operation:
    api: str
    operation_id: str
    method: str
    path: str  # as in the spec, relative to the base path
    full_path: str  # base path + path, as the mock serves it
    spec: dict[str, Any] = field(repr=False, compare=False)

    # Read on every request: worked out once (an Operation and its spec never change).

    @cached_property
    def security(self) -> tuple[dict[str, list[str]], ...]:
        return tuple(self.spec.get("security", []))

    @cached_property
    def requires_auth(self) -> bool:
        """Secured and without the empty alternative ``{}`` that makes auth optional."""
        return bool(self.security) and all(self.security)

    @cached_property
    def documented_statuses(self) -> tuple[int, ...]:
        return tuple(sorted(int(code) for code in self.spec.get("responses", {})
                            if code.isdigit()))


@dataclass
class Contract:
    name: str
    document: dict[str, Any] = field(repr=False)

    @cached_property
    def base_path(self) -> str:
        servers = self.document.get("servers", [])
        if len(servers) < 2:
            raise ContractError(f"{self.name}: servers must list the vendor's and the mock's URL")
        url: str = servers[1]["url"]
        return urlsplit(url).path.rstrip("/")

    @cached_property
    def operations(self) -> list[Operation]:
        return list(self._iter_operations())

    def _iter_operations(self) -> Iterator[Operation]:
        for path, item in self.document.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    operation = vendor_specs.inline_refs(self.document, item[method])
                    operation["parameters"] = _merged_parameters(
                        vendor_specs.inline_refs(self.document, item.get("parameters", [])),
                        operation.get("parameters", []))
                    yield Operation(self.name, operation["operationId"], method.upper(), path,
                                    self.base_path + path, operation)

    def operation(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(f"{self.name} has no operation {operation_id!r}")

    @cached_property
    def response_headers(self) -> tuple[str, ...]:
        """Every header name a documented response of this API carries."""
        return tuple(dict.fromkeys(
            name for operation in self.operations
            for response in operation.spec.get("responses", {}).values()
            for name in response.get("headers", {})
        ))

    def request_headers(self, operation: Operation) -> tuple[str, ...]:
        """The request headers the operation reads: its credentials' headers, its header
        parameters and ``Content-Type`` when it takes a body (what a CORS preflight allows)."""
        schemes = self.document.get("components", {}).get("securitySchemes", {})
        names: list[str] = []
        for alternative in operation.security:
            for scheme in map(schemes.get, alternative):
                if scheme and scheme.get("type") == "http":
                    names.append("Authorization")
                elif scheme and scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                    names.append(scheme["name"])
        names += [p["name"] for p in operation.spec.get("parameters", []) if p["in"] == "header"]
        if operation.spec.get("requestBody"):
            names.append("Content-Type")
        return tuple(dict.fromkeys(names))

    def documented_example(self, operation: Operation, status: int) -> tuple[Any, bool]:
        """(body, has_body) of the first example documented for a status."""
        response = operation.spec.get("responses", {}).get(str(status))
        if response is None:
            raise KeyError(status)
        for media in response.get("content", {}).values():
            for example in media.get("examples", {}).values():
                return example.get("value"), True
            if "example" in media:
                return media["example"], True
        return None, False


def load_contract(name: str) -> Contract:
    """The spec, checked for what serving it needs; a broken one is a one-line error.

    Full OpenAPI validation (openapi-spec-validator) runs in the test suite: importing it
    here would more than double the start-up time, on every start, for bundled files.
    """
    try:
        contract = Contract(name, copy.deepcopy(vendor_specs.load_spec(name)))
        operations = contract.operations
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ContractError(f"specs/{name}.yaml is not a usable OpenAPI document: "
                            f"{type(error).__name__} {error}") from None
    ids = [operation.operation_id for operation in operations]
    if not ids or len(set(ids)) != len(ids):
        raise ContractError(f"specs/{name}.yaml needs operations with unique operationIds")
    return contract


def _merged_parameters(path_level: list[dict[str, Any]],
                       operation_level: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Path-item parameters apply to every operation unless it redefines (name, in)."""
    own = {(parameter["name"], parameter["in"]) for parameter in operation_level}
    inherited = [p for p in path_level if (p["name"], p["in"]) not in own]
    return [*inherited, *operation_level]
