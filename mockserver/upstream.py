"""The HTTP leg from ``mockserver proxy`` to the real service, forwarding unchanged.

The client's headers and body go out as they came, less the hop-by-hop headers (RFC 9110
section 7.6.1) and ``Host``, which must name the upstream for TLS and virtual hosts.
Redirects come back to the client rather than being followed, cookies are never kept
between clients, and no default header is added. The answer's body is passed on as
received (still compressed, with its ``Content-Encoding``); the decoded bytes are what
the contract is checked against.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
#: (connect, read) seconds: a slow vendor answer is still an answer
TIMEOUT = (10, 120)
_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress, "x-gzip": gzip.decompress, "deflate": zlib.decompress}


class UpstreamError(OSError):
    """The upstream cannot be used or did not answer; the message says which and why."""


@dataclass
class Answer:
    status: int
    headers: Headers
    raw: bytes  # as it came, to forward
    body: bytes | None  # decoded, to check; None if its encoding is not one we read

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()),
                    None)


class Upstream:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"--upstream must be an http(s) URL with a host, not "
                                f"{base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        self._session.headers = CaseInsensitiveDict()  # no User-Agent or Accept of our own
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._session.trust_env = False  # no proxy or .netrc credentials from the environment

    def check_reachable(self) -> None:
        """Any HTTP answer will do (a 401 or 404 is still the service answering)."""
        try:
            self._session.head(self.base_url, timeout=5, allow_redirects=False).close()
        except requests.RequestException as error:
            raise UpstreamError(f"cannot reach the upstream {self.base_url}: "
                                f"{_reason(error)}") from None

    def forward(self, method: str, target: str, headers: Sequence[tuple[str, str]],
                body: bytes) -> Answer:
        """``target`` is the path below the base URL, with its query, as the client sent."""
        outgoing = [(name, value) for name, value in headers
                    if name.lower() not in HOP_BY_HOP | {"host", "content-length"}]
        try:
            response = self._session.request(
                method, self.base_url + target, headers=CaseInsensitiveDict(outgoing),
                data=body or None, allow_redirects=False, stream=True, timeout=TIMEOUT)
            with response:
                raw = response.raw.read(decode_content=False)
        except requests.RequestException as error:
            raise UpstreamError(f"the upstream {self.base_url} did not answer: "
                                f"{_reason(error)}") from None
        answer_headers = [(name, value) for name, value in response.raw.headers.items()
                          if name.lower() not in HOP_BY_HOP]
        answer = Answer(response.status_code, answer_headers, raw, None)
        answer.body = _decoded(raw, answer.header("Content-Encoding"))
        return answer


def _decoded(raw: bytes, encoding: str | None) -> bytes | None:
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return raw
    decode = _DECODERS.get(name)
    if decode is None:
        return None
    try:
        return decode(raw)
    except (OSError, zlib.error, EOFError):
        return None


def _reason(error: requests.RequestException) -> str:
    """The innermost cause, which names what failed (refused, DNS, TLS, timeout)."""
    cause: BaseException = error
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    return str(cause) or type(cause).__name__
