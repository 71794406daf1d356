"""CORS, so that a page on another origin can call the mock as it calls the vendor.

Every answer to a request with an allowed ``Origin`` names that origin, allows credentials
(MyCRT's session is a cookie) and exposes the headers clients read; errors included, or
the browser hides them from the page. A preflight (``OPTIONS`` with
``Access-Control-Request-Method``) is answered with the methods the path accepts and the
request headers the operation reads, as the specs give them.

Flask-CORS was considered and left out: it answers preflights through Flask's automatic
``OPTIONS`` routes, which every route here turns off (an ``OPTIONS`` the spec does not name
is no operation), and it configures headers per URL pattern, while the answers here come
from the specs, per path and per operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from flask import Response

#: headers clients of the mock read besides the CORS-safelisted ones: S3's validators and
#: upload answer, ranges, redirects and 405s, rate limits
COMMON_EXPOSED = ("ETag", "Location", "Retry-After", "Allow", "Content-Range", "Accept-Ranges")
#: headers the mock reads on every operation besides the spec's (Prism-style ``Prefer``)
COMMON_ACCEPTED = ("Prefer",)
#: how long a browser may reuse a preflight's answer (Chromium caps it at 2 hours)
MAX_AGE_SECONDS = 600
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def options_response(methods: Iterable[str]) -> Response:
    """A 200 with no body naming what the path accepts. Not a 204: waitress closes the
    connection after every 204, and a page then pays a new connection per preflight."""
    response = Response(b"", status=200)
    del response.headers["Content-Type"]
    response.headers["Allow"] = ", ".join(sorted({*methods, "OPTIONS"}))
    return response


class OriginError(ValueError):
    """A ``--cors-origin`` that is not an origin (scheme, host and port only)."""


def normalize_origin(text: str) -> str:
    """The origin as a browser writes it in ``Origin``: lower-case, no default port, no
    trailing slash. ``null`` (pages from files, sandboxed frames) stays ``null``."""
    if text == "null":
        return text
    try:
        parts = urlsplit(text.strip().rstrip("/"))
        port = parts.port
    except ValueError as error:
        raise OriginError(f"{text!r} is not an origin: {error}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query \
            or parts.fragment or parts.username is not None:
        raise OriginError(f"{text!r} is not an origin (expected scheme://host[:port], "
                          f"e.g. http://localhost:3000)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


@dataclass(frozen=True)
class CorsPolicy:
    #: the allowed origins, normalized; None allows any origin
    origins: frozenset[str] | None = None
    exposed: tuple[str, ...] = COMMON_EXPOSED

    @classmethod
    def of(cls, origins: Iterable[str] | None, exposed: Iterable[str] = ()) -> CorsPolicy:
        allowed = frozenset(map(normalize_origin, origins)) if origins else None
        hidden = {"set-cookie", "set-cookie2"}  # never readable by a page (Fetch standard)
        names = [n for n in (*COMMON_EXPOSED, *exposed) if n.lower() not in hidden]
        return cls(allowed, tuple(dict.fromkeys(names)))

    def allows(self, origin: str) -> bool:
        return self.origins is None or origin in self.origins

    def decorate(self, response: Response, origin: str | None) -> None:
        """The headers of every answer; an origin not allowed gets none, so its page cannot
        read the answer (the browser's refusal is the point of ``--cors-origin``)."""
        headers = response.headers
        # what ``response.vary.add`` does, without parsing and re-quoting the header (and
        # without the exception werkzeug raises inside for a header that is absent)
        vary = next((value for name, value in headers.items() if name.lower() == "vary"), None)
        if vary is None:
            headers.add("Vary", "Origin")
        elif "origin" not in {name.strip().lower() for name in vary.split(",")}:
            headers["Vary"] = f"{vary}, Origin"
        if origin is None or not self.allows(origin):
            return
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Expose-Headers"] = self.exposed_header

    @cached_property
    def exposed_header(self) -> str:
        return ", ".join(self.exposed)

    @staticmethod
    def preflight(methods: Sequence[str], accepted: Iterable[str], requested: str,
                  private_network: bool = False) -> Response:
        """The answer to an allowed preflight: ``methods`` the path accepts, ``accepted``
        headers the operation reads. Other headers are allowed too when the page asks for
        them: the mock ignores them as the vendor's server would, and refusing them would
        fail pages that add tracing headers. A page on a public or LAN address calling a
        mock on loopback asks Chromium's Private Network Access question too; yes."""
        asked = [name.strip() for name in requested.split(",")]
        allowed = list(dict.fromkeys([*accepted, *COMMON_ACCEPTED]))
        known = {name.lower() for name in allowed}
        allowed += sorted({name.lower() for name in asked if _TOKEN.match(name)} - known)
        response = options_response(methods)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = ", ".join(allowed)
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
        if private_network:
            response.headers["Access-Control-Allow-Private-Network"] = "true"
        response.vary.update(("Access-Control-Request-Method", "Access-Control-Request-Headers"))
        return response
