"""``mockserver proxy`` in front of an upstream the tests start: the mock itself (clean
traffic, nothing to report) and the mock behind tests/broken_proxy.py with planted bugs
(each reported in the journal and on stderr, with its grade)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from broken_proxy import Answer, Breakage, BrokenProxy, drop_field, rewrite_json, set_status
from conftest import UPLIFT_AUTH, RunningMock, free_port, start_proxy, uplift_capture

CAPTURE = uplift_capture("swing-007.mov")
SEED = "004_648ef10f123ebe64.txt"


@pytest.fixture
def upstream(mock_factory) -> Iterator[RunningMock]:
    server = mock_factory("--api", "uplift")
    server.reset()
    yield server
    server.reset()


def violations(server: RunningMock) -> list[dict]:
    return [violation for entry in server.journal() for violation in entry["violations"]]


def test_traffic_through_the_proxy_to_the_mock_is_forwarded_unchanged_and_clean(
        upstream, tmp_path):
    recording = tmp_path / "uplift.har"
    proxy = start_proxy(upstream.url("/v1"), "--record", str(recording))
    try:
        created = requests.post(proxy.url("/v1/captures"), json=CAPTURE, headers=UPLIFT_AUTH,
                                timeout=10)
        assert created.status_code == 200
        # Host names the upstream, so the upload target it hands out is the upstream's own
        assert created.json()["upload_url"].startswith(upstream.url("/s3/"))
        session_id = created.json()["session_id"]
        query = "/v1/captures?status=awaiting_upload&movement=Full%20Swing"
        direct = requests.get(upstream.url(query), headers=UPLIFT_AUTH, timeout=10)
        proxied = requests.get(proxy.url(query), headers=UPLIFT_AUTH, timeout=10)
        assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content)
        assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
        assert [entry["query"] for entry in upstream.journal()[:2]] == [
            "status=awaiting_upload&movement=Full%20Swing"] * 2  # the query as the client sent it
        missing = requests.get(proxy.url("/v1/captures/00000000-0000-4000-8000-000000000000"),
                               headers=UPLIFT_AUTH, timeout=10)
        assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
        assert requests.get(proxy.url(f"/v1/captures/{session_id}"), headers=UPLIFT_AUTH,
                            timeout=10).json()["session_id"] == session_id
        journal = proxy.journal()
        assert [entry["operation"] for entry in journal] == [
            "getCapture", "getCapture", "listCaptures", "createCapture"]
        assert violations(proxy) == [] and "violation" not in proxy.output()
        assert journal[-1]["response"]["body"]["text"] == created.text

        # what the client sent wrong is reported too, as the request's side
        invalid = requests.post(proxy.url("/v1/captures"), headers=UPLIFT_AUTH, timeout=10,
                                json={**CAPTURE, "file_name": "swing.mp4"})
        assert invalid.status_code == 400
        (refused,) = violations(proxy)
        assert (refused["side"], refused["field"], refused["grade"]) == (
            "request", "body.file_name", "document")  # the document's own file_name rule
        assert refused["source"].startswith('004_648ef10f123ebe64.txt, section "')
        assert "document violation (request) POST /v1/captures -> 400" in proxy.output()

        # admin API and dashboard as for serve; a fault answers in the upstream's stead
        assert requests.get(proxy.url("/__admin/health"), timeout=10).json()["apis"] == [
            "uplift"]
        assert requests.get(proxy.url("/__admin/fixtures"), timeout=10).status_code == 404
        assert "proxy for uplift" in requests.get(proxy.url("/__admin/ui"), timeout=10).text
        seen_upstream = len(upstream.journal())
        requests.post(proxy.url("/__admin/faults"), timeout=10,
                      json={"api": "uplift", "operation": "listCaptures", "status": 503})
        injected = requests.get(proxy.url("/v1/captures"), headers=UPLIFT_AUTH, timeout=10)
        assert injected.status_code == 503 and injected.json()["error"]
        assert len(upstream.journal()) == seen_upstream
        outside = requests.get(proxy.url("/api/v1/files"), timeout=10)
        assert outside.status_code == 404 and "forwards /v1/" in outside.json()["message"]
    finally:
        proxy.stop()
    assert proxy.process.returncode == 0
    archive = json.loads(recording.read_text())["log"]
    assert archive["version"] == "1.2" and archive["creator"]["name"] == "mockserver proxy"
    entries = archive["entries"]
    assert [(entry["request"]["method"], entry["response"]["status"]) for entry in entries] == [
        ("POST", 200), ("GET", 200), ("GET", 404), ("GET", 200), ("POST", 400)]
    first = entries[0]
    assert first["request"]["url"] == upstream.url("/v1/captures")
    assert json.loads(first["request"]["postData"]["text"]) == CAPTURE
    assert json.loads(first["response"]["content"]["text"])["session_id"] == session_id
    assert "body.file_name" in entries[-1]["comment"]


def gzip_answer(method: str, path: str) -> Breakage:
    """Not a bug: a compressed answer, which the proxy passes on compressed."""
    def respond(exchange, forward) -> Answer:
        answer = forward(exchange)
        return Answer(answer.status, {**answer.headers, "Content-Encoding": "gzip"},
                      gzip.compress(answer.body))

    return Breakage(method, path, respond)


def redirect(method: str, path: str, location: str) -> Breakage:
    def respond(exchange, forward) -> Answer:
        return Answer(302, {"Location": location}, b"")

    return Breakage(method, path, respond)


def test_planted_bugs_are_reported_in_the_journal_and_on_stderr_with_their_grade(upstream):
    breakages = (set_status("POST", "/v1/captures", 201),
                 redirect("GET", "/v1/captures/moved", "https://elsewhere.example/x"),
                 rewrite_json("GET", "/v1/captures/[^/]+", drop_field("status")),
                 gzip_answer("GET", "/v1/captures"))
    with BrokenProxy(upstream.origin, *breakages) as broken:
        proxy = start_proxy(broken.url("/v1"))
        try:
            created = requests.post(proxy.url("/v1/captures"), json=CAPTURE,
                                    headers=UPLIFT_AUTH, timeout=10)
            assert created.status_code == 201  # the upstream's answer, unchanged
            read = requests.get(proxy.url(f"/v1/captures/{created.json()['session_id']}"),
                                headers=UPLIFT_AUTH, timeout=10)
            assert read.status_code == 200 and "status" not in read.json()
            moved = requests.get(proxy.url("/v1/captures/moved"), headers=UPLIFT_AUTH,
                                 timeout=10, allow_redirects=False)
            assert (moved.status_code, moved.headers["Location"]) == (
                302, "https://elsewhere.example/x")  # not followed by the proxy
            listed = requests.get(proxy.url("/v1/captures"), headers=UPLIFT_AUTH, timeout=10,
                                  stream=True)
            assert listed.headers["Content-Encoding"] == "gzip"
            raw = listed.raw.read(decode_content=False)
            assert raw[:2] == b"\x1f\x8b" and json.loads(gzip.decompress(raw))["total_count"] == 1
            output = proxy.output()
            found = {(v["side"], v["field"], v["grade"]): v for v in violations(proxy)}
        finally:
            proxy.stop()
    assert set(found) == {("response", "response.status", "document"),
                          ("response", "response.body.status", "contract"),
                          ("response", "response.status", "contract")}
    status = found[("response", "response.status", "document")]
    assert status["message"] == "201 is not documented"
    assert status["source"] == f'{SEED}, section "OpenAPI": "POST /captures"'
    dropped = found[("response", "response.body.status", "contract")]
    assert dropped["message"] == "'status' is a required property"
    assert dropped["source"].startswith("x-source-note at specs/uplift.yaml#/components/")
    assert found[("response", "response.status", "contract")]["message"] == \
        "302 is not documented"
    lines = [line for line in output.splitlines() if "violation" in line]
    assert len(lines) == 3
    assert f"document violation (response) POST /v1/captures -> 201 [uplift.createCapture]: " \
           f"response.status: 201 is not documented; {SEED}" in output
    assert "contract violation (response) GET /v1/captures/" in output


@pytest.mark.parametrize(("options", "message"), [
    (["--upstream", "ftp://example.com/v1"], "--upstream must be an http(s) URL"),
    (["--upstream", "http://127.0.0.1:{closed}/v1"], "cannot reach the upstream"),
    (["--upstream", "{upstream}", "--record", "/nonexistent/dir/x.har"],
     "cannot write the recording"),
    ([], "the following arguments are required: --upstream"),
])
def test_a_bad_start_is_one_line_and_exit_2(upstream, options, message):
    closed = free_port()
    command = [sys.executable, "-m", "mockserver", "proxy", "--port", str(free_port()),
               "--api", "uplift", *[option.format(closed=closed, upstream=upstream.url("/v1"))
                 for option in options]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    if not message.startswith("the following"):  # argparse adds its usage line
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
