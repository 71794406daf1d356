"""Journal entries as an HTTP Archive (HAR 1.2), the format browsers' devtools import.

harfile writes the archive; this module only maps a journal entry onto its models. A body
the journal cut short keeps its real ``size`` and says so in ``comment``; a request body
that is no text is left out of ``postData`` (HAR has no base64 there), a response body
that is no text is kept base64, as HAR's ``content.encoding`` allows.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import harfile

from mockserver import __version__

CREATOR = harfile.Creator(name="mockserver", version=__version__)


def to_har(entries: Iterable[Mapping[str, Any]]) -> str:
    """The archive, entries in the order given (HAR lists them oldest first)."""
    out = io.StringIO()
    with harfile.open(out, creator=CREATOR) as archive:
        for entry in entries:
            add(archive, entry)
    return out.getvalue()


def add(archive: harfile.HarFile, entry: Mapping[str, Any]) -> None:
    """One journal entry into an archive being written (``harfile.open(path)``), so a
    recording can grow one exchange at a time."""
    archive.add_entry(
        startedDateTime=entry["time"], time=entry["duration_ms"],
        request=_request(entry), response=_response(entry),
        timings=harfile.Timings(send=0, wait=entry["duration_ms"], receive=0),
        comment=_comment(entry))


def _request(entry: Mapping[str, Any]) -> harfile.Request:
    headers = entry["request"]["headers"]
    body = entry["request"]["body"]
    return harfile.Request(
        method=entry["method"], url=entry["url"], httpVersion=entry["http_version"],
        cookies=_cookies(headers, "cookie"), headers=_records(headers),
        queryString=[harfile.Record(name, value)
                     for name, value in parse_qsl(entry["query"], keep_blank_values=True)],
        postData=_post_data(headers, body), bodySize=body["size"] if body else 0)


def _post_data(headers: Sequence[Sequence[str]],
               body: Mapping[str, Any] | None) -> harfile.PostData | None:
    if body is None:
        return None
    text = body.get("text") if body.get("encoding") is None else None
    return harfile.PostData(mimeType=_header(headers, "content-type"), text=text,
                            comment=_body_comment(body, "request"))


def _response(entry: Mapping[str, Any]) -> harfile.Response:
    headers = entry["response"]["headers"]
    body = entry["response"]["body"] or {"size": 0}
    status = entry["status"]
    content = harfile.Content(size=body["size"], mimeType=_header(headers, "content-type"),
                              text=body.get("text"), encoding=body.get("encoding"),
                              comment=_body_comment(body, "response"))
    return harfile.Response(
        status=status, statusText=_reason(status), httpVersion=entry["http_version"],
        cookies=_cookies(headers, "set-cookie"), headers=_records(headers), content=content,
        redirectURL=_header(headers, "location"), bodySize=body["size"])


def _body_comment(body: Mapping[str, Any], side: str) -> str | None:
    if "omitted" in body:
        return f"{side} body not kept: {body['omitted']}"
    if body.get("truncated"):
        return f"{side} body cut to its first bytes in the journal; it had {body['size']}"
    if side == "request" and body.get("encoding"):
        return f"binary request body of {body['size']} bytes, left out"
    return None


def _comment(entry: Mapping[str, Any]) -> str | None:
    parts = []
    if entry["operation"]:
        parts.append(f"{entry['api']}.{entry['operation']}")
    if entry["validation_errors"]:
        parts.append("request errors: " + "; ".join(entry["validation_errors"]))
    if entry["response_errors"]:
        parts.append("contract violations: " + "; ".join(entry["response_errors"]))
    return " | ".join(parts) or None


def _records(headers: Sequence[Sequence[str]]) -> list[harfile.Record]:
    return [harfile.Record(name, value) for name, value in headers]


def _header(headers: Sequence[Sequence[str]], wanted: str) -> str:
    return next((value for name, value in headers if name.lower() == wanted), "")


def _cookies(headers: Sequence[Sequence[str]], header: str) -> list[harfile.Cookie]:
    cookies = []
    for name, value in headers:
        if name.lower() != header:
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            continue  # HAR's cookie list is a convenience; the header itself is kept
        cookies += [harfile.Cookie(
            name=morsel.key, value=morsel.value, path=morsel["path"] or None,
            domain=morsel["domain"] or None, expires=morsel["expires"] or None,
            httpOnly=bool(morsel["httponly"]) or None, secure=bool(morsel["secure"]) or None)
            for morsel in jar.values()]
    return cookies


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
