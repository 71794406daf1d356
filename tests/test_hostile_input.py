"""Hostile input on every API: a clean 4xx in the API's own format, nothing stored, and the
mock keeps serving (no 5xx in the journal)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from documents import document_body

ELEVEN_MIB = 11 * 1024 * 1024
FIXTURES = Path(__file__).parents[1] / "fixtures" / "default.yaml"


@dataclass(frozen=True)
class Target:
    api: str
    create: str  # path of a create operation (POST, JSON body)
    item: str  # path template of a single resource, {} for the id
    listing: str
    error_keys: frozenset[str]
    headers: dict[str, str] = field(default_factory=dict)


TARGETS = {
    "uplift": Target("uplift", "/v1/captures", "/v1/captures/{}", "/v1/captures",
                     frozenset({"error", "message"}),
                     {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}),
    "biometricscloud": Target("biometricscloud", "/api/v1/files", "/api/v1/file/{}",
                              "/api/v1/files?limit=100", frozenset({"detail", "code"}),
                              {"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"}),
    "captureproof": Target(
        "captureproof", "/api/v1/patients/53ede085/proofs/4cd40d7e3/captures",
        "/api/v1/patients/53ede085/proofs/4cd40d7e3/captures/{}/is_media_processed",
        "/api/v1/patients/53ede085/proofs/4cd40d7e3/captures",
        frozenset({"code", "error", "message"}),
        {"X-API-Session": "903fc07decff1059951641d41e3045cd"}),
    "mycrt": Target("mycrt", "/api/captures", "/api/captures/{}", "/api/captures",
                    frozenset({"code", "message"})),
}

BODIES = {
    "malformed JSON": (b'{"name": ', "application/json"),
    "wrong content type": (b"<xml/>", "application/xml"),
    "deeply nested JSON": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "invalid UTF-8": (b'{"name": "\xff\xfe\xfd"}', "application/json"),
    "lone surrogate": (b'{"name": "\\ud800", "description": "\\udfff"}', "application/json"),
    "over 10 MiB": (b'{"name": "' + b"x" * ELEVEN_MIB + b'"}', "application/json"),
    "JSON array": (b"[1, 2, 3]", "application/json"),
    "NaN and huge numbers": (b'{"envId": NaN, "type": 1e400, "duration": -Infinity}',
                             "application/json"),
}

IDS = ["..%2F..%2Fetc%2Fpasswd", "%00", "%0D%0ASet-Cookie:%20x=y", "9" * 400, "%F0%9F%92%A5",
       "'%20OR%201=1--"]


@pytest.fixture(scope="module")
def server(mock_factory):
    return mock_factory()


def credentials(server, target: Target) -> dict[str, str]:
    if target.api != "mycrt":
        return target.headers
    login = requests.post(server.url("/api/users/login"), timeout=10, json={
        "email": "admin@example.com", "password": "correct-horse-battery-staple"})
    return {"Cookie": f"MyCRTAuthToken={login.cookies['MyCRTAuthToken']}"}


def listed(server, target: Target, headers: dict[str, str]) -> list[object]:
    """The ids listed (signed URLs in the items change every second, so not the bytes)."""
    response = requests.get(server.url(target.listing), headers=headers, timeout=10)
    assert response.status_code == 200
    body = response.json()
    items = body if isinstance(body, list) else body.get("captures", body.get("results"))
    return sorted(str(item.get("id", item.get("session_id"))) for item in items)


def assert_clean_4xx(response: requests.Response, target: Target) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert target.error_keys <= set(response.json()), response.text[:300]


@pytest.mark.parametrize("api", list(TARGETS))
@pytest.mark.parametrize("kind", list(BODIES))
def test_hostile_bodies_are_refused_and_nothing_is_stored(server, api, kind):
    server.reset()
    target = TARGETS[api]
    headers = credentials(server, target)
    before = listed(server, target, headers)
    body, content_type = BODIES[kind]
    response = requests.post(server.url(target.create), data=body, timeout=60,
                             headers={**headers, "Content-Type": content_type})
    assert_clean_4xx(response, target)
    assert listed(server, target, headers) == before


@pytest.mark.parametrize("api", list(TARGETS))
def test_hostile_ids_and_query_values_are_clean_4xx(server, api):
    target = TARGETS[api]
    headers = credentials(server, target)
    for hostile in IDS:
        response = requests.get(server.url(target.item.format(hostile)), headers=headers,
                                timeout=10)
        assert_clean_4xx(response, target)
    huge = requests.get(server.url(target.listing), params={"limit": "9" * 100_000},
                        headers=headers, timeout=10)
    assert huge.status_code < 500
    listed(server, target, headers)  # still serving: asserts a 200


def test_the_journal_shows_no_server_error_after_all_that(server):
    assert requests.get(server.url("/__admin/health"), timeout=10).status_code == 200
    assert not [entry for entry in server.journal() if entry["status"] >= 500]


def test_tampered_and_expired_presigned_urls_are_refused(server):
    server.reset()
    headers = TARGETS["biometricscloud"].headers
    url = requests.get(server.url("/api/v1/file/1"), headers=headers,
                       timeout=10).json()["file_url"]
    assert requests.get(url, timeout=10).status_code == 200
    for tampered in (url.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
                     url.replace("X-Amz-Expires=900", "X-Amz-Expires=90000"),
                     url.replace("lalal.png", "other.png"), url.split("?")[0]):
        refused = requests.get(tampered, timeout=10)
        assert refused.status_code in (403, 404), tampered
        assert refused.text.startswith("<?xml")
    server.advance(901)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "expired" in expired.text


def object_store_keys() -> Credentials:
    keys = yaml.safe_load(FIXTURES.read_text("utf-8"))["object_store"]
    return Credentials(keys["access_key_id"], keys["secret_access_key"])


def presign(url: str, expires: int) -> str:
    """What boto3's ``generate_presigned_url`` sends, with the fixtures' object-store keys."""
    request = AWSRequest(method="GET", url=url)
    S3SigV4QueryAuth(object_store_keys(), "s3", "us-east-1", expires=expires).add_auth(request)
    return str(request.url)


def signed_post_fields(policy: object) -> dict[str, str]:
    """What boto3's ``generate_presigned_post`` sends, for any policy document at all."""
    request = AWSRequest(method="POST", url="https://s3.amazonaws.com/")
    request.context["timestamp"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    signer = SigV4Auth(object_store_keys(), "s3", "us-east-1")
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    return {"policy": encoded, "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": signer.scope(request),
            "x-amz-date": request.context["timestamp"],
            "x-amz-signature": signer.signature(encoded, request)}


@pytest.mark.parametrize(("expires", "message"), [
    (604801, "less than a week"), (10**20, "less than a week"), (-5, "non-negative")])
def test_a_validly_signed_url_beyond_s3s_expiry_limits_is_400(server, expires, message):
    server.reset()  # the mock clock back to real time, which botocore signs with
    headers = TARGETS["biometricscloud"].headers
    url = requests.get(server.url("/api/v1/file/1"), headers=headers,
                       timeout=10).json()["file_url"]
    assert requests.get(presign(url.split("?")[0], 60), timeout=10).status_code == 200
    refused = requests.get(presign(url.split("?")[0], expires), timeout=10)
    assert refused.status_code == 400, refused.text
    assert "AuthorizationQueryParametersError" in refused.text and message in refused.text


_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
            | st.datetimes().map(lambda moment: moment.isoformat() + "Z"))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=2), max_leaves=5)
_CONDITIONS = (st.dictionaries(st.sampled_from(["key", "bucket", "Content-Type"])
                               | st.text(max_size=5), _VALUES, min_size=1, max_size=1)
               | st.tuples(st.just("content-length-range"), _VALUES, _VALUES).map(list)
               | st.tuples(st.sampled_from(["eq", "starts-with"]) | st.text(max_size=5),
                           st.sampled_from(["$key", "$Content-Type"]) | _VALUES, _VALUES).map(list)
               | _VALUES)
_POLICIES = st.fixed_dictionaries({}, optional={"expiration": _VALUES,
                                                "conditions": st.lists(_CONDITIONS, max_size=4)
                                                | _VALUES}) | _VALUES
_FORM_VALUES = st.text(st.characters(codec="utf-8"), max_size=12)


def uplift_upload_url(server) -> str:
    server.reset()
    return requests.post(server.url(TARGETS["uplift"].create), timeout=10,
                         headers=TARGETS["uplift"].headers,
                         json=document_body("004", 0)).json()["upload_url"]


def post_upload(upload_url: str, fields: dict[str, str]) -> requests.Response:
    return requests.post(upload_url, data=fields, timeout=10,
                         files={"file": ("a.mov", b"movie", "video/quicktime")})


@pytest.mark.parametrize(("policy", "message"), [
    ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
    ({"expiration": 5, "conditions": []}, "Invalid Policy: Invalid 'expiration' value: 5"),
    ({"expiration": "2099-01-01T00:00:00Z", "conditions": [["content-length-range", "a", 9]]},
     "Invalid Policy: Invalid Condition: "),
])
def test_a_signed_policy_s3_cannot_read_is_400_invalid_policy_document(server, policy, message):
    refused = post_upload(uplift_upload_url(server), signed_post_fields(policy))
    assert refused.status_code == 400
    assert "<Code>InvalidPolicyDocument</Code>" in refused.text and message in refused.text


def test_any_policy_signed_with_valid_keys_is_stored_or_refused_never_a_crash(server):
    """A client holding the keys can sign any policy document at all: missing expiry,
    non-numeric sizes, NaN, odd operators. S3 answers each with its own XML, never a 500."""
    upload_url = uplift_upload_url(server)

    @given(policy=_POLICIES, form=st.dictionaries(
        st.sampled_from(["key", "Content-Type", "success_action_status"]), _FORM_VALUES))
    def stored_or_refused(policy: object, form: dict[str, str]) -> None:
        response = post_upload(upload_url, {**form, **signed_post_fields(policy)})
        assert response.status_code in (200, 201, 204) or (
            response.status_code in (400, 403) and response.text.startswith("<?xml")
        ), (response.status_code, response.text[:300])

    stored_or_refused()


@given(query=st.fixed_dictionaries({}, optional={
    name: _FORM_VALUES | st.integers().map(str)
    | st.datetimes().map(lambda moment: moment.strftime("%Y%m%dT%H%M%SZ"))
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                 "X-Amz-SignedHeaders", "X-Amz-Signature")}), key=_FORM_VALUES)
def test_any_presigned_get_query_is_refused_in_s3s_format(server, query, key):
    response = requests.get(server.url(f"/s3/biometricscloud-records/{quote(key)}"),
                            params=query, timeout=10)
    assert response.status_code in (400, 403, 404, 405), (response.status_code,
                                                          response.text[:300])
    assert response.text.startswith("<?xml")
