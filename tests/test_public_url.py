"""The URLs the mock hands out follow where clients reach it: behind a development proxy
(``X-Forwarded-Host``/``-Proto``) or at ``--public-url``; presigned URLs verify when the
client uses them there. A proxy is what these tests play: a request for the public URL
goes to the mock with the headers (or the path prefix stripped) a proxy would add."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

PUBLIC = "https://mock.dev.example:8443"
PROXY = {"X-Forwarded-Host": "mock.dev.example:8443", "X-Forwarded-Proto": "https"}
PREFIXED = "https://mock.example.test/sandbox"
UPLIFT_BODY = {
    "athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "session_group_id": "11111111-2222-3333-4444-555555555555", "file_name": "swing.mov",
    "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
    "movement_attributes": {"activity": "golf", "movement": "full_swing"},
}
PNG = b"\x89PNG"  # Biometrics Cloud's record 1
CP_NEW = ("/api/v1/patients/53ede085/proofs/4cd40d7e3/captures/new"
          "?token=903fc07decff1059951641d41e3045cd")


def handed_out(send: Any) -> dict[str, str]:
    """Every URL the four APIs hand out, asked for through ``send(method, path, **kw)``."""
    upload = send("POST", "/v1/captures", json=UPLIFT_BODY,
                  headers={"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"})
    record = send("GET", "/api/v1/file/1",
                  headers={"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"})
    credentials = send("GET", CP_NEW).json()
    fields = {k: v for k, v in credentials.items() if k != "action_url"}
    fields.update({"key": credentials["key"] + ".jpg", "utf8": "\u2713",
                   "Content-Type": "image/jpeg"})
    action_url = credentials["action_url"]
    stored = send("POST", action_url, data=fields, files={"file": ("k.jpg", b"jpeg")})
    assert stored.status_code == 201, stored.text
    location = re.search(r"<Location>(.*)</Location>", stored.text)
    return {"upload_url": upload.json()["upload_url"], "file_url": record.json()["file_url"],
            "action_url": action_url, "Location": stored.headers["Location"],
            "<Location>": location.group(1) if location else ""}


def sender(server, public: str, headers: dict[str, str]) -> Any:
    """A proxy at ``public``: paths and URLs under it reach the mock (the public URL's
    path stripped), with ``headers`` added."""

    def send(method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        path = path_or_url.removeprefix(public)
        assert path.startswith("/"), path_or_url
        kwargs["headers"] = {**headers, **kwargs.get("headers", {})}
        return requests.request(method, server.url(path), timeout=10, **kwargs)

    return send


def test_urls_follow_the_forwarded_host_and_verify_through_the_proxy(mock_factory):
    server = mock_factory()
    server.reset()
    through_proxy = sender(server, PUBLIC, PROXY)
    urls = handed_out(through_proxy)
    assert all(url.startswith(PUBLIC + "/s3/") for url in urls.values()), urls
    download = through_proxy("GET", urls["file_url"])
    assert download.status_code == 200 and download.content.startswith(PNG)
    straight = requests.get(server.url(urls["file_url"].removeprefix(PUBLIC)), timeout=10)
    assert straight.status_code == 403 and "SignatureDoesNotMatch" in straight.text


def test_public_url_decides_every_url_and_the_proxy_strips_its_path(mock_factory):
    server = mock_factory("--public-url", PREFIXED + "/")
    server.reset()
    through_proxy = sender(server, PREFIXED, PROXY)  # forwarded headers do not count here
    urls = handed_out(through_proxy)
    assert all(url.startswith(PREFIXED + "/s3/") for url in urls.values()), urls
    assert through_proxy("GET", urls["file_url"]).content.startswith(PNG)
    redirect = requests.get(server.url("/api/captures/?envId=1"), allow_redirects=False,
                            timeout=10)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "/sandbox/api/captures?envId=1"


@pytest.mark.parametrize("headers", [
    {"Host": "two words"}, {"Host": "mock:99999"}, {"Host": "[::1"},
    {"X-Forwarded-Host": "a/b?c"}, {"X-Forwarded-Proto": "javascript"},
], ids=lambda headers: "=".join(*headers.items()))
def test_a_host_no_url_can_be_made_for_is_a_400_in_the_apis_format(mock_factory, headers):
    server = mock_factory()
    send = sender(server, PUBLIC, headers)
    bio = send("GET", "/api/v1/file/1", headers={"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"})
    assert bio.status_code == 400 and "the request's" in bio.json()["detail"]
    assert send("GET", CP_NEW).json()["code"] == 400
    s3 = send("POST", "/s3/uplift-captures/", files={"file": ("a", b"a")})
    assert s3.status_code == 400 and "<Code>InvalidArgument</Code>" in s3.text
    assert not [entry for entry in server.journal() if entry["status"] >= 500]
