"""A spec, read as the suite needs it: operations with their schemas inlined."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

import vendor_specs

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    api: str
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any] = field(repr=False, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.operation_id})"

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.spec.get("parameters", []))

    def parameters_in(self, location: str) -> list[dict[str, Any]]:
        return [p for p in self.parameters if p.get("in") == location]

    @property
    def responses(self) -> dict[str, Any]:
        return dict(self.spec.get("responses", {}))

    @property
    def documented_statuses(self) -> set[int]:
        return {int(code) for code in self.responses if code.isdigit()}

    def response(self, status: int) -> dict[str, Any] | None:
        key = self.response_key(status)
        return None if key is None else self.responses[key]

    def response_key(self, status: int) -> str | None:
        """The key of ``responses`` that documents this status, range and default included."""
        return next((key for key in (str(status), f"{status // 100}XX", "default")
                     if key in self.responses), None)

    @property
    def secured(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def requires_auth(self) -> bool:
        security = self.spec.get("security", [])
        return bool(security) and all(security)

    def body_media(self) -> tuple[str, dict[str, Any]] | None:
        """The request body media type to generate: JSON when offered."""
        content = self.spec.get("requestBody", {}).get("content", {})
        if not content:
            return None
        media = "application/json" if "application/json" in content else next(iter(content))
        return media, content[media].get("schema", {})

    @property
    def body_required(self) -> bool:
        return bool(self.spec.get("requestBody", {}).get("required"))

    def documented_examples(self, status: int) -> list[Any]:
        response = self.response(status) or {}
        return [example.get("value") for media in response.get("content", {}).values()
                for example in media.get("examples", {}).values()]


@dataclass
class ApiSpec:
    name: str
    document: dict[str, Any] = field(repr=False)

    @cached_property
    def operations(self) -> list[Operation]:
        operations = []
        for path, item in self.document.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method in item:
                    resolved = vendor_specs.inline_refs(self.document, item[method])
                    resolved.setdefault("parameters", [])
                    resolved["parameters"] = [
                        *vendor_specs.inline_refs(self.document, item.get("parameters", [])),
                        *resolved["parameters"],
                    ]
                    operations.append(Operation(self.name, resolved["operationId"],
                                                method.upper(), path, resolved))
        return operations

    def operation(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(f"{self.name} has no operation {operation_id!r}")


def load_api_spec(api: str, path: str | None = None) -> ApiSpec:
    if path is None:
        return ApiSpec(api, vendor_specs.load_spec(api))
    return ApiSpec(api, yaml.safe_load(Path(path).read_text("utf-8")))
