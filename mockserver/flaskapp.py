"""Flask, without per-request work the mock has no use for.

The mock stays a plain Flask app: routing, request objects, hooks and error handlers are
Flask's. This subclass trims what Flask does again on every request although the answer
never changes, which a bare Flask endpoint pays too but the mock, with its auth,
validation, state and journal, cannot afford twice (bench/README.md):

- ``ensure_sync`` asks ``inspect`` whether each hook and view is a coroutine function;
  the answer is kept per function.
- The cookie session is opened and checked on every request; the mock keeps no Flask
  session (MyCRT's cookie is the vendor's own), so every request gets the same empty one.
- The query string and the ``Cookie`` header are parsed into immutable dicts; the last
  distinct ones are kept, since a client sends the same token or cookie again and again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 - registers the "werkzeug.url_quote" codec error handler
from flask import Flask, Request
from flask.sessions import NullSession, SessionInterface
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.http import parse_cookie
from werkzeug.utils import cached_property


class MockRequest(Request):
    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        return _parse_query(self.query_string)

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        # werkzeug joins the ``Cookie`` headers; a WSGI environ has them joined already
        return _parse_cookies(self.environ.get("HTTP_COOKIE", ""))


class _NoSession(SessionInterface):
    _empty = NullSession()

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self._empty

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        pass


class MockFlask(Flask):
    request_class = MockRequest
    session_interface = _NoSession()

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        synced = self._sync.get(func)
        if synced is None:
            synced = self._sync[func] = super().ensure_sync(func)
        return synced


@lru_cache(maxsize=1024)
def _parse_query(query: bytes) -> ImmutableMultiDict[str, str]:
    """What ``Request.args`` makes of a query string (werkzeug 3)."""
    return ImmutableMultiDict(parse_qsl(query.decode(), keep_blank_values=True,
                                        errors="werkzeug.url_quote"))


@lru_cache(maxsize=1024)
def _parse_cookies(header: str) -> ImmutableMultiDict[str, str]:
    return parse_cookie(header, cls=ImmutableMultiDict)  # type: ignore[return-value]
