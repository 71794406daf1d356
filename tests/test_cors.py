"""CORS over HTTP: preflights from the specs, headers on every answer (errors included),
``--cors-origin`` and the MyCRT cookie a page on another origin needs. The same behaviour
in a real browser is tests/test_browser.py."""

from __future__ import annotations

import re

import pytest
import requests

import vendor_specs

PAGE = "http://127.0.0.1:5173"
UPLIFT = {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}
BIOMETRICS = {"Authorization": "Bearer VSvXrNLlQCeCdTJjGUJgKw"}
MYCRT_LOGIN = {"email": "admin@example.com", "password": "correct-horse-battery-staple"}
JSON = {"Content-Type": "application/json"}
CP_CAPTURES = "/api/v1/patients/53ede085/proofs/4cd40d7e3/captures"


@pytest.fixture
def server(mock_factory):
    server = mock_factory()
    server.reset()
    return server


def preflight(server, path: str, method: str, headers: str = "", origin: str = PAGE,
              ) -> requests.Response:
    asked = {"Access-Control-Request-Headers": headers} if headers else {}
    return requests.options(server.url(path), timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": method, **asked})


def names(response: requests.Response, header: str) -> set[str]:
    return {name.strip() for name in response.headers.get(header, "").split(",") if name}


def assert_readable_by(response: requests.Response, origin: str = PAGE) -> None:
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in names(response, "Vary")


def test_every_operation_of_every_spec_answers_its_preflight(server):
    for api in vendor_specs.API_NAMES:
        spec = vendor_specs.load_spec(api)
        base = re.sub(r"^https?://[^/]+", "", spec["servers"][1]["url"]).rstrip("/")
        for path, item in spec["paths"].items():
            for method in {"get", "put", "post", "delete", "patch"} & set(item):
                concrete = base + re.sub(r"\{[^}]+\}", "1", path)
                answer = preflight(server, concrete, method.upper())
                assert answer.status_code == 200, (api, method, path, answer.text)
                assert_readable_by(answer)
                assert method.upper() in names(answer, "Access-Control-Allow-Methods")
    assert not [entry for entry in server.journal() if entry["operation"]]  # no handler ran


@pytest.mark.parametrize(("path", "method", "methods", "headers"), [
    ("/v1/captures", "POST", {"GET", "HEAD", "POST"}, {"Authorization", "Content-Type"}),
    (CP_CAPTURES, "GET", {"GET", "HEAD", "POST"}, {"X-API-Session", "Content-Type"}),
    ("/api/v1/sessions/abc", "DELETE", {"DELETE"}, set()),
    ("/api/captures/3", "PUT", {"GET", "HEAD", "PUT", "DELETE"}, {"Content-Type"}),
    ("/api/users/login", "POST", {"POST"}, {"Content-Type"}),
    ("/api/v1/file/1", "DELETE", {"GET", "HEAD", "PUT", "DELETE"}, {"Authorization"}),
    ("/s3/uplift-captures/", "POST", {"POST"}, {"Content-Type"}),
    ("/s3/biometricscloud-records/a/b.png", "GET", {"GET", "HEAD"},
     {"Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}),
])
def test_a_preflight_names_the_paths_methods_and_the_operations_headers(
        server, path, method, methods, headers):
    answer = preflight(server, path, method)
    assert names(answer, "Access-Control-Allow-Methods") == methods
    assert names(answer, "Access-Control-Allow-Headers") == headers | {"Prefer"}
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    assert names(answer, "Allow") == methods | {"OPTIONS"} and not answer.content


def test_headers_a_page_adds_are_allowed_and_a_cookie_operation_asks_no_authorization(server):
    answer = preflight(server, "/api/captures", "GET", "X-Request-Id, traceparent")
    allowed = names(answer, "Access-Control-Allow-Headers")
    assert {"x-request-id", "traceparent"} <= allowed and "Authorization" not in allowed
    assert names(answer, "Vary") >= {"Origin", "Access-Control-Request-Method",
                                     "Access-Control-Request-Headers"}


def test_a_page_on_a_public_address_may_call_a_mock_on_loopback(server):
    asked = requests.options(server.url("/api/users/login"), timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Private-Network": "true"})
    assert asked.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "Access-Control-Allow-Private-Network" not in preflight(
        server, "/api/users/login", "POST").headers


def test_a_method_the_path_does_not_take_is_left_out_and_the_browser_refuses_it(server):
    answer = preflight(server, "/v1/captures", "DELETE")
    assert "DELETE" not in names(answer, "Access-Control-Allow-Methods")


ERRORS = {  # case: (status, method, path, headers, body)
    "400 validation": (400, "POST", "/v1/captures", {**UPLIFT, **JSON}, b"{}"),
    "401 no key": (401, "GET", "/v1/captures", {}, None),
    "403 MyCRT login required": (403, "GET", "/api/captures", {}, None),
    "404 unknown path": (404, "GET", "/v1/nothing", {}, None),
    "405 wrong method": (405, "PATCH", "/v1/captures", {}, None),
    "413 too large": (413, "POST", "/v1/captures", {**UPLIFT, **JSON}, b"x" * (10 * 2**20 + 1)),
    "429 rate limited": (429, "GET", "/v1/captures", {**UPLIFT, "Prefer": "code=429"}, None),
    "308 trailing slash": (308, "GET", "/api/captures/", {}, None),
    "S3 403 unsigned": (403, "GET", "/s3/biometricscloud-records/x", {}, None),
    "S3 412 not a form": (412, "POST", "/s3/uplift-captures/", {}, b"x"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_error_answers_are_readable_by_the_page(server, case):
    status, method, path, headers, body = ERRORS[case]
    answer = requests.request(method, server.url(path), headers={**headers, "Origin": PAGE},
                              data=body, timeout=30, allow_redirects=False)
    assert answer.status_code == status, answer.text
    assert_readable_by(answer)
    exposed = names(answer, "Access-Control-Expose-Headers")
    assert {"ETag", "Location", "Retry-After"} <= exposed and "Set-Cookie" not in exposed


def test_without_an_origin_answers_only_vary_and_the_admin_api_stays_out_of_cors(server):
    plain = requests.get(server.url("/api/v1/version"), timeout=10)
    assert "Origin" in names(plain, "Vary") and "Access-Control-Allow-Origin" not in plain.headers
    options = requests.options(server.url("/v1/captures/abc"), timeout=10)
    assert options.status_code == 200 and names(options, "Allow") == {"GET", "HEAD", "OPTIONS"}
    admin = requests.get(server.url("/__admin/health"), headers={"Origin": PAGE}, timeout=10)
    assert "Access-Control-Allow-Origin" not in admin.headers
    assert "Access-Control-Allow-Origin" not in preflight(server, "/__admin/reset", "POST").headers


def test_cors_origin_lets_only_the_named_origins_read_answers(mock_factory):
    server = mock_factory("--cors-origin", "HTTP://Allowed.Example:80/",
                          "--cors-origin", "http://127.0.0.1:3000")
    for origin in ("http://allowed.example", "http://127.0.0.1:3000"):
        assert_readable_by(preflight(server, "/v1/captures", "POST", origin=origin), origin)
    refused = preflight(server, "/v1/captures", "POST", "Authorization", origin=PAGE)
    assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"
    assert "--cors-origin" in refused.json()["message"]
    assert "Access-Control-Allow-Origin" not in refused.headers
    s3 = preflight(server, "/s3/uplift-captures/", "POST", origin=PAGE)
    assert s3.status_code == 403 and s3.text.startswith("<?xml")
    served = requests.get(server.url("/v1/captures"), headers={**UPLIFT, "Origin": PAGE},
                          timeout=10)
    assert served.status_code == 200 and "Access-Control-Allow-Origin" not in served.headers


def test_the_mycrt_cookie_is_lax_over_http_and_cross_site_over_https(server):
    """Lax (what browsers make of the service's cookie, which names no SameSite) reaches
    the mock from a page on another port of the same host; only ``SameSite=None; Secure``
    reaches it from another site, and browsers take that only over https."""
    over_http = requests.post(server.url("/api/users/login"), json=MYCRT_LOGIN, timeout=10)
    assert "SameSite=Lax" in over_http.headers["Set-Cookie"]
    assert "Secure" not in over_http.headers["Set-Cookie"]
    behind_https = requests.post(server.url("/api/users/login"), json=MYCRT_LOGIN, timeout=10,
                                 headers={"X-Forwarded-Proto": "https"})
    cookie = behind_https.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    logout = requests.put(server.url("/api/users/logout"), timeout=10, headers={
        "X-Forwarded-Proto": "https", "Cookie": cookie.split(";")[0]})
    assert logout.status_code == 200
    assert {"Max-Age=0", "SameSite=None", "Secure"} <= set(
        map(str.strip, logout.headers["Set-Cookie"].split(";")))
