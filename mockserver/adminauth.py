"""Who may use ``/__admin``: the admin API and the dashboard share these rules.

Without ``--admin-token`` only loopback clients get in. With it, a client presents the
token as ``Authorization: Bearer <token>``, or, for a browser, the dashboard's cookie. A
browser cannot add a header to a page it navigates to, so ``/__admin/ui?token=`` (or the
login form) trades the token once for an HttpOnly cookie that holds a keyed hash of the
token, never the token itself, and needs no server-side session (so every worker, and
every restart with the same token, accepts it).

A cookie rides along on requests that other pages make, including pages on another port
of the same host, which browsers count as the same site. So a cookie-authenticated request
that changes something must carry the ``X-Mockserver-Admin`` header: a page on another
origin cannot send a custom header without a CORS preflight, which the admin API never
grants.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from werkzeug.wrappers import Request

COOKIE = "mockserver_admin"
#: the header the dashboard's own script sends on every change it makes
CSRF_HEADER = "X-Mockserver-Admin"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Refusal = tuple[int, str]


def refusal(admin_token: str | None, request: Request) -> Refusal | None:
    """Why this request may not use the admin API: (status, message); None if it may."""
    if admin_token is None:
        if is_loopback(request.remote_addr):
            return None
        return 403, "the admin API answers only on loopback without --admin-token"
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        if token_matches(admin_token, authorization.removeprefix("Bearer ")):
            return None
    elif has_session(admin_token, request):
        if request.method in _SAFE_METHODS or CSRF_HEADER in request.headers:
            return None
        return 403, f"a change made with the dashboard's cookie needs the {CSRF_HEADER} header"
    return 401, "the admin API needs 'Authorization: Bearer <admin token>'"


def token_matches(admin_token: str, presented: str) -> bool:
    return hmac.compare_digest(presented.encode(), admin_token.encode())


def session_value(admin_token: str) -> str:
    """The cookie's value: a keyed hash, so the cookie jar never holds the token."""
    return hmac.new(admin_token.encode(), b"mockserver dashboard session",
                    hashlib.sha256).hexdigest()


def has_session(admin_token: str, request: Request) -> bool:
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and hmac.compare_digest(cookie.encode(),
                                                      session_value(admin_token).encode())


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
