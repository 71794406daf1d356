"""The four representative operations, as one request each, and where each target serves them.

One request per operation is replayed unchanged for the whole run, so every target (mock,
bare Flask, Prism) receives the same bytes. The credentials are the seeded fixture ones
(fixtures/default.yaml); MyCRT needs a session cookie, obtained by logging in once.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import vendor_specs

UPLIFT_KEY = "upl_live_pinecrest_8f2d61c0b7a94e3f"
BIOMETRICS_TOKEN = "VSvXrNLlQCeCdTJjGUJgKw"
CAPTUREPROOF_TOKEN = "903fc07decff1059951641d41e3045cd"
MYCRT_LOGIN = {"email": "admin@example.com", "password": "correct-horse-battery-staple"}
MYCRT_COOKIE = "MyCRTAuthToken"
UPLIFT_CAPTURE = {
    "athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "session_group_id": "11111111-2222-3333-4444-555555555555",
    "file_name": "swing-001.mov",
    "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
    "movement_attributes": {"activity": "golf", "movement": "full_swing"},
}


@dataclass(frozen=True)
class Operation:
    key: str  # api.operationId
    label: str
    api: str
    method: str
    path: str  # relative to the API's base path, with the query
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


OPERATIONS: tuple[Operation, ...] = (
    Operation("uplift.createCapture", "Uplift create capture", "uplift", "POST", "/captures",
              {"Authorization": f"Bearer {UPLIFT_KEY}", "Content-Type": "application/json"},
              json.dumps(UPLIFT_CAPTURE).encode()),
    Operation("mycrt.listCaptures", "MyCRT list captures", "mycrt", "GET", "/captures"),
    Operation("biometricscloud.retrieveFile", "Biometrics Cloud retrieve file",
              "biometricscloud", "GET", "/file/1",
              {"Authorization": f"Bearer {BIOMETRICS_TOKEN}"}),
    Operation("captureproof.listCaptures", "CaptureProof list captures", "captureproof", "GET",
              f"/patients/53ede085/proofs/4cd40d7e3/captures?token={CAPTUREPROOF_TOKEN}"),
)


def base_path(api: str) -> str:
    """Where the mock serves an API: the path of the spec's second server (README)."""
    servers = vendor_specs.load_spec(api)["servers"]
    return urlsplit(servers[1]["url"]).path.rstrip("/")


@dataclass(frozen=True)
class Request:
    """One concrete request: what a load generator replays."""

    url: str
    method: str
    headers: dict[str, str]
    body: bytes


def request_for(operation: Operation, origin: str, prefix: str, cookie: str | None) -> Request:
    headers = dict(operation.headers)
    if cookie:
        headers["Cookie"] = f"{MYCRT_COOKIE}={cookie}"
    return Request(origin + prefix + operation.path, operation.method, headers, operation.body)


def send(request: Request, timeout: float = 10.0) -> tuple[int, bytes, dict[str, str]]:
    """One request on a fresh connection: the smoke check before a load run."""
    parts = urlsplit(request.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                            timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(request.method, target, body=request.body or None,
                           headers=request.headers)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def mycrt_session(origin: str) -> str:
    """Log in on the mock once; the cookie then rides on every MyCRT list request."""
    login = Request(origin + base_path("mycrt") + "/users/login", "POST",
                    {"Content-Type": "application/json"}, json.dumps(MYCRT_LOGIN).encode())
    status, body, headers = send(login)
    cookie = next((value for name, value in headers.items() if name.lower() == "set-cookie"),
                  "")
    token = cookie.partition(f"{MYCRT_COOKIE}=")[2].partition(";")[0]
    if status != 200 or not token:
        raise RuntimeError(f"MyCRT login answered {status}: {body[:200]!r}")
    return token
