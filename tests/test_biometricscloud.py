"""Biometrics Cloud through HTTP against the real server, as a client team would use it.

Every test starts from the default fixtures (tenant 1 owns records 1 and 3 and the sample
token; tenant 2 owns records 2 and 4) and ends with no response breaking the spec.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from conftest import RunningMock

SAMPLE_TOKEN = "VSvXrNLlQCeCdTJjGUJgKw"
OTHER_TOKEN = "m15cI9rocXEjj6r325sTKw"
PRIMARY_RECORDS = {1, 3}
SECONDARY_RECORDS = {2, 4}
HIGHEST_FIXTURE_ID = 4
SAMPLE_ENTRY = {
    "id": 3, "uuid": "5fe0f10d-cb3c-4232-9f61-5e1b5b1c8f2c", "tenant_id": 1, "user_id": 1,
    "description": "This is a sample record", "type": 1, "state": 1,
    "created_time": "2022-01-30T00:24:48.259289-05:00", "file_name": "lalal.png",
}
SAMPLE_DETAIL = {"description": "This is a sample record", "type": 1, "state": 1,
                 "file_name": "lalal.png"}
DETAIL_FIELDS = {"id", "uuid", "description", "type", "state", "file_name", "file_url"}
SORT_FIELDS = ("id", "created_time", "description", "file_name", "type")


@pytest.fixture(scope="module")
def server(mock_factory: Any) -> RunningMock:
    return mock_factory("--api", "biometricscloud")


@pytest.fixture(autouse=True)
def fresh(server: RunningMock) -> Iterator[None]:
    server.reset()
    yield
    assert server.contract_violations() == []


def api(server: RunningMock, path: str) -> str:
    return server.url("/api/v1" + path)


def auth(token: str = SAMPLE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create(server: RunningMock, token: str = SAMPLE_TOKEN, **fields: Any) -> dict[str, Any]:
    body = {"description": "A record", "type": 1, "upload_content": "aGVsbG8",
            "upload_filename": "scan.png", **fields}
    response = requests.post(api(server, "/files"), json=body, headers=auth(token), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def page(server: RunningMock, token: str = SAMPLE_TOKEN, **query: Any) -> dict[str, Any]:
    response = requests.get(api(server, "/files"), params=query, headers=auth(token), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def walk(server: RunningMock, token: str = SAMPLE_TOKEN, **query: Any) -> list[dict[str, Any]]:
    """Every entry, following next_id until the empty page that ends the list."""
    entries: list[dict[str, Any]] = []
    offset = None
    while True:
        answer = page(server, token, **query, **({"offset": offset} if offset else {}))
        assert answer["count"] == len(answer["results"])
        if not answer["results"]:
            assert answer["next_id"] is None
            return entries
        assert answer["next_id"] == answer["results"][-1]["id"]
        entries.extend(answer["results"])
        offset = answer["next_id"]


def listed_ids(server: RunningMock, token: str = SAMPLE_TOKEN) -> set[int]:
    return {entry["id"] for entry in walk(server, token, limit=100)}


def retrieve(server: RunningMock, record_id: int, token: str = SAMPLE_TOKEN) -> requests.Response:
    return requests.get(api(server, f"/file/{record_id}"), headers=auth(token), timeout=10)


def download(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


def error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


# -- login and credentials --------------------------------------------------------------


def test_login_issues_a_token_of_the_users_tenant(server: RunningMock) -> None:
    profile = server.profile()["biometricscloud"]["primary"]
    response = requests.post(api(server, "/login"), timeout=10, json={
        "username": profile["username"], "password": profile["password"]})
    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["token_type"] == "Bearer" and grant["tenant_id"] == 1 and grant["user_id"] == 1
    assert grant["refresh_token"] != grant["access_token"]
    assert listed_ids(server, grant["access_token"]) == PRIMARY_RECORDS


def test_login_answers_the_users_profile_as_the_vendor_does(server: RunningMock) -> None:
    response = requests.post(api(server, "/login"), timeout=10, json={
        "username": "jane.doe@example.com", "password": "correct-horse-battery-staple"})
    grant = response.json()
    assert {name: grant[name] for name in (
        "username", "tenant_id", "first_name", "middle_name", "last_name", "email", "role_id",
        "language", "country_tel_code", "telephone", "agree_tos", "token_type")} == {
        "username": "jane.doe@example.com", "tenant_id": 1, "first_name": "Jane",
        "middle_name": "", "last_name": "Doe", "email": "jane.doe@example.com", "role_id": 1,
        "language": "en", "country_tel_code": "+1", "telephone": "5550100", "agree_tos": True,
        "token_type": "Bearer"}
    assert grant["access_token"] and grant["refresh_token"] and grant["expiry"]


def test_issued_token_expires_after_24_hours_of_mock_time(server: RunningMock) -> None:
    grant = requests.post(api(server, "/login"), timeout=10, json={
        "username": "omar.haddad@example.org", "password": "harbour-dental-2022"}).json()
    server.advance(24 * 3600 + 1)
    error(retrieve(server, 2, grant["access_token"]), 401, "authentication_failed")
    assert retrieve(server, 2, OTHER_TOKEN).status_code == 200  # fixture tokens do not expire


@pytest.mark.parametrize("credentials", [
    {"username": "jane.doe@example.com", "password": "wrong"},
    {"username": "nobody@example.com", "password": "correct-horse-battery-staple"},
])
def test_login_with_bad_credentials_is_401(server: RunningMock, credentials: dict) -> None:
    response = requests.post(api(server, "/login"), json=credentials, timeout=10)
    body = error(response, 401, "invalid_credentials")
    assert body["detail"] == "Unable to log in with provided credentials."


def login(server: RunningMock) -> dict[str, Any]:
    response = requests.post(api(server, "/login"), timeout=10, json={
        "username": "jane.doe@example.com", "password": "correct-horse-battery-staple"})
    assert response.status_code == 200, response.text
    return response.json()


def refresh(server: RunningMock, refresh_token: str, **headers: str) -> requests.Response:
    return requests.post(api(server, "/refresh-token"), json={"refresh_token": refresh_token},
                         headers=headers, timeout=10)


def test_version_answers_plain_text(server: RunningMock) -> None:
    response = requests.get(api(server, "/version"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "BiometricsCloud Backend v1.0"


def test_refresh_replaces_both_tokens(server: RunningMock) -> None:
    grant = login(server)
    response = refresh(server, grant["refresh_token"], **auth(grant["access_token"]))
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert set(renewed) == {"access_token", "expires_in", "refresh_token", "scope",
                            "token_type"}
    assert (renewed["expires_in"], renewed["scope"], renewed["token_type"]) == (
        3600, "all", "Bearer")
    assert listed_ids(server, renewed["access_token"]) == PRIMARY_RECORDS
    old = requests.get(api(server, "/files"), headers=auth(grant["access_token"]), timeout=10)
    assert error(old, 401, "authentication_failed")["detail"] == "Invalid token."
    reused = error(refresh(server, grant["refresh_token"]), 401, "token_not_valid")
    assert reused["detail"] == "Invalid refresh token."
    assert refresh(server, renewed["refresh_token"]).status_code == 200


def test_a_refreshed_token_expires_after_3600_seconds_of_mock_time(server: RunningMock) -> None:
    renewed = refresh(server, login(server)["refresh_token"]).json()
    server.advance(3599)
    assert listed_ids(server, renewed["access_token"]) == PRIMARY_RECORDS
    server.advance(1)
    expired = requests.get(api(server, "/files"), headers=auth(renewed["access_token"]),
                           timeout=10)
    error(expired, 401, "authentication_failed")


@pytest.mark.parametrize("body", [{"refresh_token": "not-a-refresh-token"},
                                  {"refresh_token": SAMPLE_TOKEN}], ids=["unknown", "access"])
def test_an_unknown_refresh_token_is_401_in_the_apis_format(server: RunningMock,
                                                            body: dict[str, str]) -> None:
    response = requests.post(api(server, "/refresh-token"), json=body, timeout=10)
    assert error(response, 401, "token_not_valid")["detail"] == "Invalid refresh token."


def test_a_refresh_without_its_field_is_400(server: RunningMock) -> None:
    response = requests.post(api(server, "/refresh-token"), json={}, timeout=10)
    assert "refresh_token" in error(response, 400, "invalid")["errors"]


def test_login_without_password_is_400(server: RunningMock) -> None:
    response = requests.post(api(server, "/login"), json={"username": "x"}, timeout=10)
    assert "password" in error(response, 400, "invalid")["errors"]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/files"), ("POST", "/files"), ("GET", "/file/1"), ("PUT", "/file/1"),
    ("DELETE", "/file/1"),
])
def test_every_file_operation_needs_a_valid_token(server: RunningMock, method: str,
                                                  path: str) -> None:
    missing = requests.request(method, api(server, path), json={"type": 1}, timeout=10)
    assert error(missing, 401, "not_authenticated")["detail"] == (
        "Authentication credentials were not provided.")
    for header in ("Bearer not-a-token", "Token " + SAMPLE_TOKEN):
        wrong = requests.request(method, api(server, path), json={"type": 1}, timeout=10,
                                 headers={"Authorization": header})
        assert wrong.status_code == 401, wrong.text
    invalid = requests.request(method, api(server, path), json={"type": 1}, timeout=10,
                               headers=auth("not-a-token"))
    assert error(invalid, 401, "authentication_failed")["detail"] == "Invalid token."


# -- create and the presigned file_url --------------------------------------------------


def test_unpadded_sample_content_is_stored_and_served_byte_exact(server: RunningMock) -> None:
    record = create(server, upload_content="xyz", upload_filename="lalal.png")
    assert set(record) == DETAIL_FIELDS and record["id"] > HIGHEST_FIXTURE_ID
    assert "/tenant/1/private/uploads/" in record["file_url"]
    assert "X-Amz-Expires=900" in record["file_url"]
    file = download(record["file_url"])
    assert file.status_code == 200 and file.content == b"\xc7,"
    assert file.headers["Content-Type"] == "image/png"


def test_the_file_url_downloads_at_the_mock_clocks_earliest_moment(server: RunningMock) -> None:
    server.session.post(server.url("/__admin/clock"), json={"now": "1970-01-01T00:00:00Z"},
                        timeout=10).raise_for_status()
    record = create(server, upload_content="aGk=")
    assert "X-Amz-Date=19700101T" in record["file_url"]
    assert download(record["file_url"]).content == b"hi"


@pytest.mark.parametrize(("content", "data"), [("aGk=", b"hi"), ("aGk", b"hi"), ("", b"")])
def test_padding_is_optional(server: RunningMock, content: str, data: bytes) -> None:
    assert download(create(server, upload_content=content)["file_url"]).content == data


@pytest.mark.parametrize(("content", "data"), [
    ("data:image/png;base64,aGk=", b"hi"), ("data:image/jpeg;name=a.jpg;base64,aGk", b"hi"),
    ("data:;base64,", b"")])
def test_a_data_uri_upload_content_stores_the_decoded_bytes(server: RunningMock, content: str,
                                                            data: bytes) -> None:
    assert download(create(server, upload_content=content)["file_url"]).content == data


@pytest.mark.parametrize("content", ["data:image/png,aGk=", "data:image/png;base64,ab$c",
                                     "data:image/png;base64,abcde"])
def test_a_data_uri_that_is_not_base64_is_400(server: RunningMock, content: str) -> None:
    body = {"description": "d", "type": 1, "upload_content": content, "upload_filename": "a"}
    response = requests.post(api(server, "/files"), json=body, headers=auth(), timeout=10)
    assert error(response, 400, "invalid")["errors"].keys() == {"upload_content"}


@pytest.mark.parametrize("name", ["scan #1?.png", "röntgen bild.jpg", "a+b%20c&d=e", ".."])
def test_any_bare_file_name_round_trips(server: RunningMock, name: str) -> None:
    record = create(server, upload_filename=name)
    assert record["file_name"] == name
    assert download(record["file_url"]).content == b"hello"


def test_new_records_are_numbered_after_the_fixtures(server: RunningMock) -> None:
    ids = [create(server)["id"] for _ in range(3)]
    assert ids == [HIGHEST_FIXTURE_ID + 1, HIGHEST_FIXTURE_ID + 2, HIGHEST_FIXTURE_ID + 3]
    entry = next(entry for entry in page(server)["results"] if entry["id"] == ids[0])
    assert entry["tenant_id"] == 1 and entry["user_id"] == 1 and entry["state"] == 1
    created = datetime.fromisoformat(entry["created_time"])
    clock = datetime.fromisoformat(server.session.get(server.url("/__admin/clock"))
                                   .json()["now"].replace("Z", "+00:00"))
    assert abs((clock - created).total_seconds()) < 60


def test_undecodable_base64_is_400_with_its_own_message(server: RunningMock) -> None:
    body = {"description": "d", "type": 1, "upload_content": "abcde", "upload_filename": "a"}
    response = requests.post(api(server, "/files"), json=body, headers=auth(), timeout=10)
    answer = error(response, 400, "invalid")
    assert answer["detail"] == "upload_content is not valid base64."
    assert answer["errors"] == {"upload_content": ["upload_content is not valid base64."]}


@pytest.mark.parametrize("body", [
    {"description": "d", "type": 1, "upload_content": "ab$c", "upload_filename": "a"},
    {"description": "d", "type": 9, "upload_content": "xyz", "upload_filename": "a"},
    {"description": "d", "type": 1, "upload_content": "xyz", "upload_filename": "a/b.png"},
    {"description": "d", "type": 1, "upload_content": "xyz"},
    ["not", "an", "object"],
])
def test_bodies_that_break_the_schema_are_400(server: RunningMock, body: Any) -> None:
    response = requests.post(api(server, "/files"), json=body, headers=auth(), timeout=10)
    answer = error(response, 400, "invalid")
    assert answer["detail"] == "Request validation failed." and answer["errors"]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/login"), ("POST", "/files"), ("PUT", "/file/1"), ("GET", "/file/abc"),
    ("GET", "/file/0"),
])
def test_garbage_is_a_400_never_a_crash(server: RunningMock, method: str, path: str) -> None:
    for garbage in (b"{\xff not json", b"{\"description\": ", b"null", b"[1]"):
        response = requests.request(method, api(server, path), data=garbage, timeout=10,
                                    headers={**auth(), "Content-Type": "application/json"})
        error(response, 400, "invalid")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/login", '{"username": "jane.doe@example.com", "password": "\\ud800"}'),
    ("POST", "/files", '{"description": "d", "type": 1, "upload_content": "xyz", '
                       '"upload_filename": "\\udfff.png"}'),
    ("PUT", "/file/1", '{"description": "\\ud800"}'),
])
def test_half_a_surrogate_pair_is_400(server: RunningMock, method: str, path: str,
                                      body: str) -> None:
    response = requests.request(method, api(server, path), data=body, timeout=10,
                                headers={**auth(), "Content-Type": "application/json"})
    error(response, 400, "invalid")


def test_body_over_10_mib_is_413(server: RunningMock) -> None:
    content = "A" * (11 * 1024 * 1024)
    body = {"description": "d", "type": 1, "upload_content": content, "upload_filename": "a"}
    response = requests.post(api(server, "/files"), json=body, headers=auth(), timeout=30)
    assert error(response, 413, "payload_too_large")["detail"] == "Request body too large."


def test_file_url_expires_after_15_minutes_and_retrieve_signs_a_new_one(
        server: RunningMock) -> None:
    record = create(server, upload_content="xyz")
    server.advance(899)
    assert download(record["file_url"]).content == b"\xc7,"
    server.advance(2)
    expired = download(record["file_url"])
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = retrieve(server, record["id"]).json()["file_url"]
    assert fresh != record["file_url"]
    assert download(fresh).content == b"\xc7,"


def test_tampered_file_url_is_403(server: RunningMock) -> None:
    url = create(server)["file_url"]
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    tampered = download(urlunsplit(parts._replace(query=urlencode(query))))
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content
    other_key = download(url.replace("/uploads/", "/uploads/x"))
    assert other_key.status_code == 403


# -- list: keyset pagination ------------------------------------------------------------


def sort_key(entry: dict[str, Any], field: str) -> tuple[Any, int]:
    value = entry[field]
    return (datetime.fromisoformat(value) if field == "created_time" else value), entry["id"]


def test_following_next_id_visits_every_record_once_in_order(server: RunningMock) -> None:
    for number in range(25):  # repeated descriptions, names and types: ties break by id
        create(server, description=f"record {number % 6}", type=number % 5 + 1,
               upload_filename=f"scan-{(number * 7) % 9}.png")
        if number % 10 == 0:
            server.advance(30)
    expected = listed_ids(server)
    assert len(expected) == 27
    for field in SORT_FIELDS:
        for order in ("asc", "desc"):
            entries = walk(server, limit=7, sort_field=field, sort_order=order)
            ids = [entry["id"] for entry in entries]
            assert sorted(ids) == sorted(expected), (field, order)
            keys = [sort_key(entry, field) for entry in entries]
            assert keys == sorted(keys, reverse=order == "desc"), (field, order)


def test_defaults_are_offset_0_limit_100_ascending_by_id(server: RunningMock) -> None:
    """The vendor's own defaults (its published docs repository)."""
    for _ in range(100):
        create(server)
    first = page(server)
    ids = [entry["id"] for entry in first["results"]]
    assert first["count"] == 100 and ids == sorted(ids) and ids[0] <= HIGHEST_FIXTURE_ID
    assert page(server, offset=0, limit=100, sort_order="asc", sort_field="id") == first
    newest = page(server, offset=0, sort_order="desc")
    assert newest["results"][0]["id"] == HIGHEST_FIXTURE_ID + 100


def test_cursor_of_an_archived_record_still_pages_on(server: RunningMock) -> None:
    records = [create(server, description=f"d{number}") for number in range(5)]
    cursor = records[2]["id"]
    requests.delete(api(server, f"/file/{cursor}"), headers=auth(), timeout=10)
    after = page(server, offset=cursor, sort_field="description", sort_order="asc")
    assert [entry["id"] for entry in after["results"]] == [records[3]["id"], records[4]["id"]]


def test_limit_outside_1_to_100_is_400(server: RunningMock) -> None:
    for limit in (0, 101):
        response = requests.get(api(server, "/files"), params={"limit": limit}, headers=auth(),
                                timeout=10)
        assert "limit" in error(response, 400, "invalid")["errors"]


# -- update and delete ------------------------------------------------------------------


def test_update_changes_only_the_fields_sent(server: RunningMock) -> None:
    record = create(server, upload_content="xyz", upload_filename="old.png")
    response = requests.put(api(server, f"/file/{record['id']}"), headers=auth(), timeout=10,
                            json={"description": "Dental X-ray", "upload_filename": "new.jpg"})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["description"] == "Dental X-ray" and updated["file_name"] == "new.jpg"
    assert updated["type"] == record["type"] and updated["uuid"] == record["uuid"]
    assert download(updated["file_url"]).content == b"\xc7,"
    assert retrieve(server, record["id"]).json()["description"] == "Dental X-ray"
    entry = next(entry for entry in page(server)["results"] if entry["id"] == record["id"])
    assert entry["description"] == "Dental X-ray" and entry["file_name"] == "new.jpg"


def test_update_with_nothing_to_change_is_400(server: RunningMock) -> None:
    response = requests.put(api(server, "/file/1"), json={}, headers=auth(), timeout=10)
    error(response, 400, "invalid")


def test_delete_archives_the_record(server: RunningMock) -> None:
    record = create(server)
    path = api(server, f"/file/{record['id']}")
    deleted = requests.delete(path, headers=auth(), timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""
    error(retrieve(server, record["id"]), 404, "not_found")
    assert record["id"] not in listed_ids(server)
    error(requests.put(path, json={"type": 2}, headers=auth(), timeout=10), 404, "not_found")
    error(requests.delete(path, headers=auth(), timeout=10), 404, "not_found")


def test_unknown_record_is_404(server: RunningMock) -> None:
    error(retrieve(server, 99999), 404, "not_found")


# -- tenants ----------------------------------------------------------------------------


def test_profile_names_two_tenants(server: RunningMock) -> None:
    profile = server.profile()["biometricscloud"]
    assert profile["primary"]["token"] == SAMPLE_TOKEN
    assert profile["secondary"]["token"] == OTHER_TOKEN
    assert profile["primary"]["tenant_id"] != profile["secondary"]["tenant_id"]


def test_another_tenants_record_is_404_and_never_shown(server: RunningMock) -> None:
    record = create(server)
    for record_id in (record["id"], 1, 3):
        path = api(server, f"/file/{record_id}")
        answers = [
            retrieve(server, record_id, OTHER_TOKEN),
            requests.put(path, json={"description": "x"}, headers=auth(OTHER_TOKEN), timeout=10),
            requests.delete(path, headers=auth(OTHER_TOKEN), timeout=10),
        ]
        for answer in answers:
            assert error(answer, 404, "not_found") == {"detail": "Not found.",
                                                       "code": "not_found"}
    assert retrieve(server, record["id"]).json()["description"] == "A record"
    create(server, OTHER_TOKEN)
    primary, secondary = listed_ids(server), listed_ids(server, OTHER_TOKEN)
    assert primary == PRIMARY_RECORDS | {record["id"]}
    assert primary.isdisjoint(secondary) and secondary > SECONDARY_RECORDS
    assert all(entry["tenant_id"] == 2 for entry in walk(server, OTHER_TOKEN))


def test_another_tenants_id_as_cursor_compares_ids_only(server: RunningMock) -> None:
    answer = page(server, offset=2, sort_field="description", sort_order="desc")
    assert [entry["id"] for entry in answer["results"]] == [1]


# -- the document's sample calls, verbatim ----------------------------------------------


SAMPLE_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {SAMPLE_TOKEN}"}


def test_document_sample_calls_verbatim(server: RunningMock) -> None:
    created = requests.post(
        api(server, "/files"), headers=SAMPLE_HEADERS, timeout=10,
        data='{"description":"This is a sample record","type":1,"upload_content":"xyz",'
             '"upload_filename":"lalal.png"}\n')
    assert created.status_code == 200, created.text
    assert SAMPLE_DETAIL.items() <= created.json().items()

    listed = requests.get(api(server, "/files"), headers=SAMPLE_HEADERS, timeout=10)
    assert listed.status_code == 200, listed.text
    assert SAMPLE_ENTRY in listed.json()["results"]

    retrieved = requests.get(api(server, "/file/1"), headers=SAMPLE_HEADERS, timeout=10)
    assert retrieved.status_code == 200, retrieved.text
    assert SAMPLE_DETAIL.items() <= retrieved.json().items()

    updated = requests.put(
        api(server, "/file/1"), headers=SAMPLE_HEADERS, timeout=10,
        data='{"description":"This is a sample record","type":1,"upload_filename":"lalal.png"}')
    assert updated.status_code == 200, updated.text
    assert SAMPLE_DETAIL.items() <= updated.json().items()

    deleted = requests.delete(api(server, "/file/1"), headers=auth(), timeout=10)
    assert deleted.status_code == 204 and deleted.content == b""


# -- fixtures ---------------------------------------------------------------------------


def test_a_record_of_a_user_of_another_tenant_stops_the_server(tmp_path: Path) -> None:
    fixtures = tmp_path / "bad.yaml"
    fixtures.write_text("""\
object_store: {access_key_id: AKIATEST, secret_access_key: secret}
biometricscloud:
  tenants:
    - id: 1
      name: One
      users: [{id: 1, username: a, password: p, tokens: [token-one-1234]}]
    - id: 2
      name: Two
      users: [{id: 2, username: b, password: p}]
      records:
        - {id: 1, uuid: 5fe0f10d-cb3c-4232-9f61-5e1b5b1c8f2c, user_id: 1, description: d,
           type: 1, created_time: '2022-01-30T00:24:48Z', file_name: a.png, content: xyz}
""")
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--api", "biometricscloud", "--port", "0",
         "--fixtures", str(fixtures)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "record 1 names user 1, not a user of tenant 2" in result.stderr
    assert "Traceback" not in result.stderr
