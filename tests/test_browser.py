"""A web app on another origin calls the mock from a real browser: headless Chromium from
Debian's packages, driven through its own chromedriver (Selenium), loads
tests/browser_page.html from a static server on another loopback port and runs one flow
per API. Python asserts on what the page could read. Without Chromium these tests skip
and name the package to install."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chromium import chromium
from conftest import free_port

PAGE = "browser_page.html"

class _Page(BaseHTTPRequestHandler):
    """Serves the page and nothing else."""

    def do_GET(self) -> None:
        body = (Path(__file__).parent / PAGE).read_bytes()
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The page's own origin: another loopback port than any mock's."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(page_origin: str) -> Iterator[Any]:
    with chromium() as driver:
        driver.set_script_timeout(30)
        driver.get(page_origin + "/")
        yield driver


def run(browser: Any, flow: str, mock: Any, account: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
    """The page's flow against the mock, with the mock's primary account of that API."""
    account = account or mock.profile()[flow]["primary"]
    report: dict[str, Any] = browser.execute_async_script(
        "run(...arguments)", flow, mock.origin, account)
    assert "error" not in report, report
    return report


@pytest.fixture
def mock(mock_factory: Any) -> Any:
    server = mock_factory()
    server.reset()
    return server


def test_captureproof_sdk_login_s3_upload_and_create(browser, mock):
    report = run(browser, "captureproof", mock)
    assert report["login"] == 200 and report["signedIn"] and report["creds"] == 200
    assert report["actionUrl"] == mock.url("/s3/cp-test-uploads/")
    assert report["upload"] == 201 and report["etag"]
    assert report["location"] == mock.url(f"/s3/cp-test-uploads/{report['key']}")
    assert report["created"] == 200 and report["createdKey"] == report["key"]
    assert report["logout"] == {"status": "ok"}


def test_mycrt_login_and_captures_with_the_cookie(browser, mock):
    report = run(browser, "mycrt", mock)
    assert report["login"] == 200 and not report["cookieVisible"]  # HttpOnly
    assert report["listed"] == 200 and report["envIds"] == [1]
    assert report["nameFree"] == [200, None]  # the GUI's name check, through the 308
    assert report["logout"] == 200
    assert report["afterLogout"] == [403, {"code": 403, "message": "login required"}]


def test_uplift_reserve_and_upload_to_the_presigned_post(browser, mock):
    report = run(browser, "uplift", mock)
    assert report["reserved"] == 200 and report["upload"] == 204 and report["etag"]
    assert report["capture"] == 200 and report["status"] != "awaiting_upload"


def test_biometrics_file_url_downloads_in_the_page(browser, mock):
    report = run(browser, "biometricscloud", mock)
    assert report["created"] == 200 and report["fileUrl"].startswith(mock.url("/s3/"))
    assert report["download"] == 200 and report["content"] == "hello from the browser"
    assert report["partial"] == [206, "hello", "bytes 0-4/22"] and report["etag"]


def test_with_cors_origin_another_origins_calls_are_blocked(browser, mock_factory):
    restricted = mock_factory("--cors-origin", "http://other.example")
    restricted.reset()
    for flow in ("uplift", "mycrt"):
        report = browser.execute_async_script("run(...arguments)", flow, restricted.origin,
                                              restricted.profile()[flow]["primary"])
        assert report == {"error": "TypeError: Failed to fetch"}, flow
    # the preflight refused, the reservation never reached a handler
    assert not [entry for entry in restricted.journal() if entry["operation"]]
