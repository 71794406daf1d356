"""A spec, read as the suite needs it: operations with their schemas inlined."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

import vendor_specs

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
#: keys from an operation's spec node to a rule in it (see ``vendor_specs.sources``)
Location = tuple[str | int, ...]


def example_message(body: Any) -> Any:
    """The human part of an error body, in any of the four vendors' formats."""
    if isinstance(body, dict):
        return body.get("message", body.get("detail", body))
    return body


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

    def response_at(self, status: int, message: str | None = None) -> Location:
        """Where the answer with this status (and this documented message, when the
        response gives it as an example) lives, for grading a finding by its source."""
        key = self.response_key(status)
        if key is None:
            return ("responses",)
        for media, content in (self.responses[key].get("content") or {}).items():
            for name, example in (content.get("examples") or {}).items():
                if message is not None and example_message(example.get("value")) == message:
                    return ("responses", key, "content", media, "examples", name)
        return ("responses", key)

    def root_at(self, *keys: str | int) -> Location:
        """A rule of this operation, named from the spec's root: for a finding recorded
        under another operation (a listing that still shows a deleted record)."""
        return ("#", "paths", self.path, self.method.lower(), *keys)

    def parameter_at(self, name: str) -> Location:
        """Where a parameter of this operation is described."""
        index = next((index for index, parameter in enumerate(self.parameters)
                      if parameter.get("name") == name), None)
        return ("parameters",) if index is None else ("parameters", index)

    def document_answer(self, status: int, by_example: bool = True
                        ) -> tuple[Location, str | None] | None:
        """Where the document itself names the answer with this status: with
        ``by_example``, an example that carries its ``x-document`` (the case it shows, whose
        message is then exact: MyCRT's 404 "Capture not found"); else the response's own
        ``x-document`` (the status alone: Uplift's 400 "Invalid request parameters"). None
        where only the contract names it, and "any 4xx" is all a check may ask."""
        key = str(status)
        response = self.responses.get(key)
        if not isinstance(response, dict):
            return None
        for media, content in (response.get("content") or {}).items():
            for name, example in (content.get("examples") or {}).items() if by_example else ():
                if isinstance(example, dict) and "x-document" in example:
                    return (("responses", key, "content", media, "examples", name),
                            example_message(example.get("value")))
        return (("responses", key), None) if "x-document" in response else None

    def field_at(self, status: int, *names: str) -> Location:
        """Where a field of the answer with this status is described: the schema's
        property (through array items), or as deep as the schema goes."""
        key = self.response_key(status)
        content = (self.responses.get(key) or {}).get("content") or {} if key else {}
        if not content:
            return self.response_at(status)
        media, body = next(iter(content.items()))
        location: Location = ("responses", str(key), "content", media, "schema")
        schema = body.get("schema") or {}
        for name in names:
            if "items" in schema and name not in schema.get("properties", {}):
                location, schema = (*location, "items"), schema["items"]
            if name not in schema.get("properties", {}):
                break
            location, schema = (*location, "properties", name), schema["properties"][name]
        return location

    def documented_examples(self, status: int) -> list[Any]:
        response = self.response(status) or {}
        return [example.get("value") for media in response.get("content", {}).values()
                for example in media.get("examples", {}).values()]


@dataclass
class ApiSpec:
    name: str
    document: dict[str, Any] = field(repr=False)
    #: the spec file as reports name it (where an ``x-source-note`` lives)
    origin: str = ""

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
        return ApiSpec(api, vendor_specs.load_spec(api), f"specs/{api}.yaml")
    return ApiSpec(api, yaml.safe_load(Path(path).read_text("utf-8")), path)
