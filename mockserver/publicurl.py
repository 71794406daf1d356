"""Where clients reach the mock: the origin of every URL it hands out (upload targets, file
URLs, S3 ``Location``) and of the URL a presigned signature is checked against.

Behind a development proxy the request arrives with the proxy's view of the mock; the proxy
says where the client sent it in ``X-Forwarded-Host`` and ``X-Forwarded-Proto``, which
werkzeug's ``ProxyFix`` puts back in place (``X-Forwarded-For`` stays untrusted: the admin
API's loopback guard reads the real peer). ``--public-url`` fixes the answer instead: every
request is read as sent to that URL, its path being a prefix the proxy strips.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class PublicUrlError(ValueError):
    pass


def origin_problem(scheme: str, host: str, sent: str | None) -> str | None:
    """Why no URL can be made for a request with this scheme and (werkzeug-validated) host,
    ``sent`` being the ``Host`` or ``X-Forwarded-Host`` as it came; None if one can."""
    port = host.rpartition(":")[2] if not host.endswith("]") and ":" in host else ""
    if not host or (port and int(port) > 65535):
        return f"the request's host {sent!r} is not a host[:port] URLs can be made for"
    if scheme not in ("http", "https"):
        return f"the request's scheme {scheme!r} (X-Forwarded-Proto) is not http or https"
    return None


def check_public_url(url: str) -> str:
    """The URL without a trailing slash; a one-line error for anything but http(s)://host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        raise PublicUrlError(f"--public-url {url!r}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment or parts.username is not None:
        raise PublicUrlError(f"--public-url {url!r} is not an http(s) URL such as "
                             f"https://mock.example.com or http://localhost:5173/mock")
    return url.rstrip("/")


def as_seen_by_clients(app: WSGIApplication, public_url: str | None) -> WSGIApplication:
    if public_url is None:
        return _Forwarded(app)
    return _PublicUrl(app, check_public_url(public_url))


class _Forwarded:
    """ProxyFix for the requests that came through a proxy; the others (nearly all) skip
    its environ copying."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app, self.fixed = app, ProxyFix(app, x_for=0, x_proto=1, x_host=1)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if "HTTP_X_FORWARDED_HOST" in environ or "HTTP_X_FORWARDED_PROTO" in environ:
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


class _PublicUrl:
    def __init__(self, app: WSGIApplication, url: str) -> None:
        parts = urlsplit(url)
        self.app, self.scheme, self.host, self.prefix = app, parts.scheme, parts.netloc, parts.path

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)
