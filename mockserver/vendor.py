"""The seam between the engine and the four vendor modules.

The engine owns everything the spec decides (routing, validation, documented responses,
faults, journal); a vendor module owns only what the spec cannot say: how the vendor reads
credentials, what each operation does to state, how its errors look, and its fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from flask import Request
from werkzeug.sansio.utils import get_current_url

from mockserver.clock import Clock
from mockserver.contracts import Operation
from mockserver.objectstore import ObjectStore
from mockserver.publicurl import origin_problem
from mockserver.store import StateStore
from mockserver.validation import Problem


@dataclass(frozen=True)
class Services:
    store: StateStore
    clock: Clock
    objects: ObjectStore


@dataclass
class Call:
    """A request that passed validation, as a handler sees it."""

    operation: Operation
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    request: Request
    services: Services
    principal: Any = None  # whatever the vendor's ``authenticate`` returned

    @cached_property
    def host_url(self) -> str:
        """``request.host_url``, without converting the same Host header to an IRI anew on
        every request that hands out a URL; a 400 when the Host makes no URL."""
        request = self.request
        problem = origin_problem(request.scheme, request.host, request.environ.get("HTTP_HOST"))
        if problem is not None:
            raise ApiError(400, problem)
        return _host_url(request.scheme, request.host, request.root_path)


_host_url = lru_cache(maxsize=256)(get_current_url)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    has_body: bool = True
    #: a body of another media type (``text/plain``) is sent as the string it is
    content_type: str = "application/json"


class ApiError(Exception):
    """A documented error answer; the vendor's ``error_body`` shapes it."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


Handler = Callable[[Call], Reply]
ErrorBody = Callable[[int, str, list[Problem]], dict[str, Any]]
Authenticate = Callable[[Call, bool], Any]


@dataclass(frozen=True)
class VendorApi:
    name: str
    handlers: Mapping[str, Handler]
    #: shape of the vendor's error answers: (status, message, problems) -> JSON body
    error_body: ErrorBody
    #: (call, required) -> principal; raises ApiError(401) for missing/invalid credentials
    #: when required, returns None when optional credentials are absent
    authenticate: Authenticate
    #: the request's credential, for per-credential rate limits (None: anonymous)
    credential: Callable[[Request], str | None]
    #: JSON Schema of this API's section of the fixtures file
    fixture_schema: Mapping[str, Any]
    #: load this API's fixture section into the store
    seed: Callable[[Services, Mapping[str, Any]], None]
    #: the conformance profile (INTERFACES.md) of this API's fixture accounts
    profile: Callable[[Mapping[str, Any]], dict[str, Any]]
    #: the store kinds that hold this API's resources, as ``GET /__admin/state`` shows them
    kinds: tuple[str, ...] = ()


def registry() -> tuple[dict[str, Handler], Callable[[str], Callable[[Handler], Handler]]]:
    """A handler table and the decorator that fills it: ``@operation("createCapture")``."""
    handlers: dict[str, Handler] = {}

    def operation(operation_id: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            handlers[operation_id] = handler
            return handler

        return register

    return handlers, operation
