"""CaptureProof through HTTP against the real server, as a client uses it.

Sessions and every place the token may travel, account isolation, the S3 POST upload flow
performed with ``requests`` exactly as a browser form would, media processing on the mock
clock, and the document's samples sent verbatim (only scheme, host and port changed).
Every test ends by asserting that no response broke the spec.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator

import vendor_specs

if TYPE_CHECKING:
    from conftest import RunningMock

BASE = "/api/v1"
PRIMARY = {"token": "903fc07decff1059951641d41e3045cd", "patient_id": "53ede085",
           "proof_id": "4cd40d7e3"}
SECONDARY = {"token": "cd7a005314c54a698beda40233600428", "patient_id": "5v2xz94z8",
             "proof_id": "ptn7x68m3"}
LOGIN = {"email": "clinician@example.com", "password": "correct-horse-battery-staple",
         "app_id": "captureproof api"}
JPEG = b"\xff\xd8\xff\xe0" + b"knee photo" * 100
TIMEOUT = 10


@pytest.fixture
def server(mock_factory: Callable[..., RunningMock]) -> Iterator[RunningMock]:
    server = mock_factory("--api", "captureproof")
    server.reset()
    yield server
    assert server.contract_violations() == []


def proof_url(server: RunningMock, account: dict[str, str], tail: str = "captures") -> str:
    return server.url(f"{BASE}/patients/{account['patient_id']}/proofs/"
                      f"{account['proof_id']}/{tail}")


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=TIMEOUT, **kwargs)


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == status
    assert response.json()["message"] == message


def credentials(server: RunningMock, account: dict[str, str] = PRIMARY) -> dict[str, str]:
    response = get(proof_url(server, account, "captures/new"),
                   params={"token": account["token"]})
    assert response.status_code == 200, response.text
    return response.json()


def upload(creds: dict[str, str], key: str | None = None, drop: tuple[str, ...] = (),
           **overrides: str) -> requests.Response:
    """Post the credentials as a browser form does: every returned field but action_url,
    plus utf8 and Content-Type, and the file last."""
    fields = {name: value for name, value in creds.items() if name != "action_url"}
    fields.update({"key": key or creds["key"] + ".jpg", "utf8": "\u2713",
                   "Content-Type": "image/jpeg", **overrides})
    for name in drop:
        fields.pop(name)
    return post(creds["action_url"], data=fields,
                files={"file": ("knee.jpg", JPEG, "image/jpeg")})


def create_capture(server: RunningMock, key: str, account: dict[str, str] = PRIMARY,
                   ) -> requests.Response:
    return post(proof_url(server, account), params={"token": account["token"]},
                json={"description": "Left knee, day 5", "upload_s3_key": key,
                      "metadata": {"device": "Pixel 8"}})


def media_processed(server: RunningMock, capture_id: str) -> dict[str, Any]:
    response = get(proof_url(server, PRIMARY, f"captures/{capture_id}/is_media_processed"),
                   headers={"X-API-Session": PRIMARY["token"]})
    assert response.status_code == 200, response.text
    return response.json()


def capture_ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [capture["id"] for capture in response.json()["captures"]]


# -- sessions -------------------------------------------------------------------------------


def test_login_opens_a_session_and_logout_ends_it(server: RunningMock) -> None:
    response = post(server.url(f"{BASE}/sessions"), json=LOGIN)
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["clinician"]["id"] == "acc53ede085" and "patient" not in session
    assert session["clinician"]["email"] == LOGIN["email"]
    token = session["token"]
    assert len(token) == 32 and token != PRIMARY["token"]
    assert capture_ids(get(proof_url(server, PRIMARY), headers={"X-API-Session": token}))

    logout = requests.delete(server.url(f"{BASE}/sessions"), params={"token": token},
                             timeout=TIMEOUT)
    assert logout.status_code == 200 and logout.json() == {"status": "ok"}
    assert_error(get(proof_url(server, PRIMARY), params={"token": token}), 401,
                 "Invalid or missing session token")


def sdk_login(server: RunningMock, email: str = LOGIN["email"],
              password: str = LOGIN["password"]) -> dict[str, Any]:
    """The JavaScript SDK's login request, exactly: a JSON body with app_id "captureproof api"."""
    response = post(server.url(f"{BASE}/sessions"),
                    json={"email": email, "password": password, "app_id": "captureproof api"})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_sdk_login_answers_token_platform_and_clinician(server: RunningMock) -> None:
    session = sdk_login(server)
    assert set(session) == {"token", "platform", "clinician"}
    for platform in ("ios", "android"):
        assert set(session["platform"][platform]) == {"mandatory", "description"}
        assert isinstance(session["platform"][platform]["mandatory"], bool)
    assert session["clinician"] == {"id": "acc53ede085", "email": LOGIN["email"],
                                    "first_name": "Jane", "last_name": "Doe"}


def test_a_patient_account_is_answered_as_patient(server: RunningMock) -> None:
    session = sdk_login(server, "morgan.ellis@example.com", "knee-photos-every-day")
    assert "clinician" not in session and session["patient"]["first_name"] == "Morgan"


def test_app_id_is_optional_and_defaults_to_captureproof(server: RunningMock) -> None:
    without = post(server.url(f"{BASE}/sessions"),
                   json={"email": LOGIN["email"], "password": LOGIN["password"]})
    assert without.status_code == 200, without.text
    assert without.json()["clinician"]["id"] == "acc53ede085"
    explicit = post(server.url(f"{BASE}/sessions"), json={**LOGIN, "app_id": "captureproof"})
    assert explicit.status_code == 200, explicit.text


def test_the_sdk_logout_on_the_tokens_path_ends_the_session(server: RunningMock) -> None:
    token = sdk_login(server)["token"]
    assert capture_ids(get(proof_url(server, PRIMARY), params={"token": token}))
    logout = requests.delete(server.url(f"{BASE}/sessions/{token}"), timeout=TIMEOUT)
    assert logout.status_code == 200 and logout.json() == {"status": "ok"}
    assert_error(get(proof_url(server, PRIMARY), params={"token": token}), 401,
                 "Invalid or missing session token")
    assert_error(requests.delete(server.url(f"{BASE}/sessions/{token}"), timeout=TIMEOUT),
                 401, "Invalid or missing session token")


SDK_CREDENTIALS = f"{BASE}/patients/fake_patient_id/proofs/fake_proof_id/captures/new"


def test_sdk_placeholder_credentials_upload_for_the_signed_in_user(server: RunningMock) -> None:
    """The SDK's placeholder ids get working credentials; the upload then becomes a capture
    of the signed-in account's own proof."""
    token = sdk_login(server)["token"]
    response = get(server.url(SDK_CREDENTIALS), headers={"X-API-Session": token})
    assert response.status_code == 200, response.text
    creds, key = response.json(), response.json()["key"] + ".jpg"
    assert upload(creds, key).status_code == 201
    created = post(proof_url(server, PRIMARY), params={"token": token},
                   json={"description": "from the SDK", "upload_s3_key": key})
    assert created.status_code == 200, created.text
    assert created.json()["proof"]["last_capture"]["upload_s3_key"] == key


@pytest.mark.parametrize("params", [{}, {"token": "0" * 32}], ids=["none", "unknown"])
def test_sdk_placeholder_credentials_need_a_session(server: RunningMock,
                                                    params: dict[str, str]) -> None:
    assert_error(get(server.url(SDK_CREDENTIALS), params=params), 401,
                 "Invalid or missing session token")


@pytest.mark.parametrize("encoding", ["data", "files"], ids=["urlencoded", "multipart"])
def test_login_accepts_a_form(server: RunningMock, encoding: str) -> None:
    body = LOGIN if encoding == "data" else {name: (None, value) for name, value in LOGIN.items()}
    response = post(server.url(f"{BASE}/sessions"), **{encoding: body})
    assert response.status_code == 200, response.text
    assert response.json()["clinician"]["id"] == "acc53ede085"


@pytest.mark.parametrize("wrong", [{"password": "nope"}, {"app_id": "other-app"},
                                   {"email": "nobody@example.com"}])
def test_login_with_wrong_credentials_is_refused(server: RunningMock,
                                                 wrong: dict[str, str]) -> None:
    assert_error(post(server.url(f"{BASE}/sessions"), json={**LOGIN, **wrong}), 401,
                 "Invalid email, password or app_id")


def test_a_session_expires_after_24_hours_of_mock_time(server: RunningMock) -> None:
    token = post(server.url(f"{BASE}/sessions"), json=LOGIN).json()["token"]
    server.advance(24 * 3600 + 1)
    assert_error(get(proof_url(server, PRIMARY), params={"token": token}), 401,
                 "Invalid or missing session token")
    assert capture_ids(get(proof_url(server, PRIMARY), params={"token": PRIMARY["token"]}))


@pytest.mark.parametrize("carrier", [
    {"params": {"token": PRIMARY["token"]}},
    {"headers": {"X-API-Session": PRIMARY["token"]}},
    {"files": {"token": (None, PRIMARY["token"])}},
    {"data": {"token": PRIMARY["token"]}},
    {"json": {"token": PRIMARY["token"]}},
], ids=["query", "header", "multipart-form-on-get", "urlencoded-form-on-get", "json-body"])
def test_the_token_is_read_wherever_it_travels(server: RunningMock,
                                               carrier: dict[str, Any]) -> None:
    assert capture_ids(get(proof_url(server, PRIMARY), **carrier)) == ["k9m2p7q4r", "a1b2c3d4e"]


@pytest.mark.parametrize("carrier", [
    {},
    {"params": {"token": "0" * 32}},
    {"headers": {"X-API-Session": "not-a-token"}},
    {"files": {"token": (None, "")}},
    {"json": {"token": 903}},
], ids=["missing", "unknown", "malformed-header", "empty-form-field", "json-number"])
def test_a_missing_or_invalid_token_answers_401(server: RunningMock,
                                                carrier: dict[str, Any]) -> None:
    assert_error(get(proof_url(server, PRIMARY), **carrier), 401,
                 "Invalid or missing session token")


def test_an_invalid_token_is_refused_even_where_the_session_is_optional(
        server: RunningMock) -> None:
    assert_error(get(proof_url(server, PRIMARY, "captures/new"), params={"token": "f" * 32}),
                 401, "Invalid or missing session token")


# -- isolation and lookups ------------------------------------------------------------------


@pytest.mark.parametrize("method, tail", [
    ("GET", "captures"), ("GET", "captures/new"), ("POST", "captures"),
    ("GET", "captures/k9m2p7q4r/is_media_processed"),
])
def test_another_accounts_patient_is_not_found(server: RunningMock, method: str,
                                               tail: str) -> None:
    body = {"json": {"description": "intrusion"}} if method == "POST" else {}
    response = requests.request(method, proof_url(server, PRIMARY, tail), timeout=TIMEOUT,
                                params={"token": SECONDARY["token"]}, **body)
    assert_error(response, 404, "Patient or proof not found")
    assert "k9m2p7q4r" not in response.text and "Left knee" not in response.text
    assert capture_ids(get(proof_url(server, PRIMARY), params={"token": PRIMARY["token"]})) == [
        "k9m2p7q4r", "a1b2c3d4e"]


def test_a_proof_of_another_patient_or_a_capture_of_another_proof_is_not_found(
        server: RunningMock) -> None:
    mixed = {**PRIMARY, "proof_id": SECONDARY["proof_id"]}
    assert_error(get(proof_url(server, mixed), params={"token": PRIMARY["token"]}), 404,
                 "Patient or proof not found")
    for capture_id in ("ptnn8ywy2", "zzzzzzzzz"):
        response = get(proof_url(server, PRIMARY, f"captures/{capture_id}/is_media_processed"),
                       params={"token": PRIMARY["token"]})
        assert_error(response, 404, "Capture not found")


def test_the_profile_names_two_accounts_with_their_own_patients(server: RunningMock) -> None:
    profile = server.profile()["captureproof"]
    for role, account in (("primary", PRIMARY), ("secondary", SECONDARY)):
        assert profile[role].items() >= account.items()
        assert {"email", "password", "app_id"} <= set(profile[role])


# -- upload credentials and the S3 POST ----------------------------------------------------


def test_credentials_carry_a_signed_policy_as_the_spec_describes(server: RunningMock) -> None:
    creds = credentials(server)
    assert creds["action_url"] == server.url("/s3/cp-test-uploads/")
    assert creds["key"].startswith("captures/") and creds["X-Requested-With"] == "xhr"
    policy = json.loads(base64.b64decode(creds["policy"]))
    spec = yaml.safe_load(vendor_specs.spec_text("captureproof"))
    errors = list(Draft202012Validator(spec["components"]["schemas"]["UploadPolicy"])
                  .iter_errors(policy))
    assert errors == []
    assert {"bucket": "cp-test-uploads"} in policy["conditions"]
    now = requests.get(server.url("/__admin/clock"), timeout=TIMEOUT).json()["now"]
    expires_in = _instant(policy["expiration"]) - _instant(now)
    assert abs(expires_in - timedelta(hours=1)) < timedelta(seconds=5)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_full_upload_flow_until_the_media_is_processed(server: RunningMock) -> None:
    creds = credentials(server)
    uploaded = upload(creds)
    assert uploaded.status_code == 201, uploaded.text
    key = creds["key"] + ".jpg"
    assert f"<Key>{key}</Key>" in uploaded.text and "<Bucket>cp-test-uploads" in uploaded.text

    created = create_capture(server, key)
    assert created.status_code == 200, created.text
    proof = created.json()["proof"]
    new = proof["last_capture"]
    assert proof["id"] == PRIMARY["proof_id"] and proof["captures_count"] == 3
    assert new["upload_s3_key"] == key and new["metadata"] == {"device": "Pixel 8"}
    assert (new["media_processed"], new["media_url"]) == (False, None)
    assert new["id"] in [capture["id"] for capture in proof["captures"]]
    listed = get(proof_url(server, PRIMARY), params={"token": PRIMARY["token"]})
    assert capture_ids(listed)[-1] == new["id"]

    assert media_processed(server, new["id"]) == {"media_processed": False}
    server.advance(31)
    status = media_processed(server, new["id"])
    assert status["media_processed"] is True
    processed = {capture["id"]: capture for capture in status["captures"]}[new["id"]]
    assert processed["media_processed"] is True
    download = get(processed["media_url"])
    assert download.status_code == 200 and download.content == JPEG


def test_a_key_without_an_uploaded_object_is_refused(server: RunningMock) -> None:
    creds = credentials(server)
    assert_error(create_capture(server, creds["key"]), 400,
                 "No uploaded object exists for upload_s3_key")


@pytest.mark.parametrize("mutation, code", [
    ("tampered-policy", "SignatureDoesNotMatch"),
    ("wrong-signature", "SignatureDoesNotMatch"),
    ("key-outside-captures", "AccessDenied"),
    ("no-x-requested-with", "AccessDenied"),
    ("public-acl", "AccessDenied"),
])
def test_a_broken_upload_is_refused(server: RunningMock, mutation: str, code: str) -> None:
    creds = credentials(server)
    response = _broken_upload(creds, mutation)
    assert response.status_code == 403, response.text
    assert f"<Code>{code}</Code>" in response.text


def _broken_upload(creds: dict[str, str], mutation: str) -> requests.Response:
    if mutation == "tampered-policy":
        policy = json.loads(base64.b64decode(creds["policy"]))
        policy["conditions"][1] = ["starts-with", "$key", ""]
        return upload(creds, policy=base64.b64encode(json.dumps(policy).encode()).decode())
    if mutation == "wrong-signature":
        return upload(creds, signature=base64.b64encode(b"\0" * 20).decode())
    if mutation == "key-outside-captures":
        return upload(creds, key="uploads/knee.jpg")
    if mutation == "no-x-requested-with":
        return upload(creds, drop=("X-Requested-With",))
    return upload(creds, acl="public-read")


def test_an_expired_policy_is_refused(server: RunningMock) -> None:
    creds = credentials(server)
    server.advance(3601)
    response = upload(creds)
    assert response.status_code == 403 and "Policy expired" in response.text


# -- create capture bodies ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart", "json-text-as-urlencoded"])
def test_create_capture_accepts_forms(server: RunningMock, encoding: str) -> None:
    fields = {"description": "Exercise sheet", "library_item_id": "lib77k2",
              "metadata": json.dumps({"source": "library"}), "token": PRIMARY["token"]}
    if encoding == "urlencoded":
        response = post(proof_url(server, PRIMARY), data=fields)
    elif encoding == "multipart":
        response = post(proof_url(server, PRIMARY),
                        files={name: (None, value) for name, value in fields.items()})
    else:  # curl -d '{...}' labels its JSON text application/x-www-form-urlencoded
        text = json.dumps({**fields, "metadata": {"source": "library"}})
        response = post(proof_url(server, PRIMARY), data=text,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    new = response.json()["proof"]["last_capture"]
    assert new["library_item_id"] == "lib77k2" and new["metadata"] == {"source": "library"}
    assert new["media_processed"] is True


@pytest.mark.parametrize("body, content_type", [
    (b'{"description": 5}', "application/x-www-form-urlencoded"),
    (b"{New capture object}", "application/x-www-form-urlencoded"),
    (b"metadata=%5B1%5D", "application/x-www-form-urlencoded"),
    (b"metadata=%7B%22a%22%3A%22%5Cud800%22%7D", "application/x-www-form-urlencoded"),
    (b'{"description": "\xff"}', "application/json"),
    (b'{"description": "\\ud800"}', "application/x-www-form-urlencoded"),
    (b"garbage", "multipart/form-data; boundary=xx"),
    (b'--b\r\nContent-Disposition: form-data; name="description"\r\n\r\nx\r\n--b--\r\n',
     "multipart/form-data; boundary=b; charset=no-such-charset"),
], ids=["json-text-wrong-type", "placeholder-text", "metadata-not-object",
        "metadata-lone-surrogate", "not-utf8",
        "json-text-lone-surrogate", "broken-multipart", "unknown-charset"])
def test_bad_create_bodies_answer_400(server: RunningMock, body: bytes,
                                      content_type: str) -> None:
    response = post(proof_url(server, PRIMARY), params={"token": PRIMARY["token"]}, data=body,
                    headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("Request validation failed: ")


def test_a_broken_multipart_token_body_on_get_answers_400(server: RunningMock) -> None:
    response = get(proof_url(server, PRIMARY), data=b"no parts here",
                   params={"token": PRIMARY["token"]},
                   headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert response.status_code == 400, response.text
    assert "multipart" in response.json()["message"]


# -- the document's samples, verbatim -------------------------------------------------------


def vendor(server: RunningMock, url: str) -> str:
    """A sample's URL with only scheme, host and port changed (curl reads none as http)."""
    for origin in ("https://web.captureproof.com", "web.captureproof.com"):
        if url.startswith(origin):
            return server.origin + url[len(origin):]
    raise AssertionError(url)


def test_sample_upload_credentials_without_a_token(server: RunningMock) -> None:
    response = get(vendor(server, "https://web.captureproof.com/api/v1/patients/53ede085/"
                                  "proofs/4cd40d7e3/captures/new"))
    assert response.status_code == 200, response.text
    assert list(response.json()) == [
        "x-amz-server-side-encryption", "key", "acl", "AWSAccessKeyId", "policy", "signature",
        "success_action_status", "X-Requested-With", "action_url"]
    assert upload(response.json()).status_code == 201


def test_sample_media_processed_with_a_form_token(server: RunningMock) -> None:
    response = requests.request(
        "GET", vendor(server, "web.captureproof.com/api/v1/patients/5v2xz94z8/proofs/"
                              "ptn7x68m3/captures/ptnn8ywy2/is_media_processed"),
        files={"token": (None, "cd7a005314c54a698beda40233600428")}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["media_processed"] is True
    assert [capture["id"] for capture in response.json()["captures"]] == ["ptnn8ywy2"]


def test_sample_list_captures_with_real_ids_and_a_form_token(server: RunningMock) -> None:
    url = vendor(server, "web.captureproof.com/api/v1/patients/<patient_id>/proofs/"
                         "<proof_id>/captures")
    url = url.replace("<patient_id>", "53ede085").replace("<proof_id>", "4cd40d7e3")
    response = requests.request("GET", url, timeout=TIMEOUT,
                                files={"token": (None, "903fc07decff1059951641d41e3045cd")})
    assert capture_ids(response) == ["k9m2p7q4r", "a1b2c3d4e"]


# -- fixtures ------------------------------------------------------------------------------


@pytest.mark.parametrize("section, index, field, value, message", [
    ("proofs", 0, "patient_id", "nobody", "proof 4cd40d7e3 names patient nobody"),
    ("captures", 0, "proof_id", "noproof", "capture k9m2p7q4r names proof noproof"),
])
def test_a_dangling_fixture_reference_stops_the_server(
        tmp_path: Path, section: str, index: int, field: str, value: str, message: str) -> None:
    fixtures = yaml.safe_load(Path(__file__).parents[1].joinpath("fixtures", "default.yaml")
                              .read_text("utf-8"))
    broken = copy.deepcopy(fixtures)
    broken["captureproof"][section][index][field] = value
    path = tmp_path / "fixtures.yaml"
    path.write_text(yaml.safe_dump(broken), "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--api", "captureproof",
         "--fixtures", str(path), "--port", "1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
