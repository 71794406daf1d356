"""The request journal through the admin API: filters, kept bodies, and the HAR export."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from jsonschema import Draft202012Validator

from documents import document_body

UPLIFT_KEY = "upl_live_pinecrest_8f2d61c0b7a94e3f"
AUTH = {"Authorization": f"Bearer {UPLIFT_KEY}"}
SAMPLE = document_body("004", 0)
NOT_UTF8 = bytes(range(128, 256))


@pytest.fixture
def server(mock_factory):
    running = mock_factory("--api", "uplift")
    running.reset()
    return running


def journal(server, **filters):
    response = requests.get(server.url("/__admin/requests"), params=filters, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def exchange(server):
    """A reservation, an invalid list, an unknown path: 200, 400 and 404."""
    created = requests.post(server.url("/v1/captures"), json=SAMPLE, headers=AUTH, timeout=10)
    requests.get(server.url("/v1/captures?limit=many"), headers=AUTH, timeout=10)
    requests.get(server.url("/v1/nothing-here"), timeout=10)
    return created


def test_entries_keep_both_bodies_and_headers(server):
    created = exchange(server)
    entry = journal(server, operation="createCapture")["requests"][0]
    assert entry["url"] == server.url("/v1/captures")
    assert json.loads(entry["request"]["body"]["text"]) == SAMPLE
    assert entry["request"]["body"]["truncated"] is False
    assert ["Authorization", f"Bearer {UPLIFT_KEY}"] in entry["request"]["headers"]
    assert ["Content-Type", "application/json"] in entry["request"]["headers"]
    assert json.loads(entry["response"]["body"]["text"]) == created.json()
    assert entry["response"]["body"]["size"] == len(created.content)
    assert ["Content-Type", "application/json"] in entry["response"]["headers"]
    assert entry["request"]["body"]["size"] == len(json.dumps(SAMPLE))


def test_filters_count_every_match_and_list_the_newest(server):
    exchange(server)
    everything = journal(server)
    assert everything["count"] == 3 == len(everything["requests"])
    assert [entry["status"] for entry in everything["requests"]] == [404, 400, 200]
    assert journal(server, api="uplift")["count"] == 2  # the unknown path belongs to no API
    assert [e["status"] for e in journal(server, status="4xx")["requests"]] == [404, 400]
    assert [e["status"] for e in journal(server, status="4XX", operation="listCaptures")
            ["requests"]] == [400]
    assert journal(server, status="400")["count"] == 1
    assert journal(server, status="5xx") == {"count": 0, "requests": []}
    newest = journal(server, limit="1")
    assert newest["count"] == 3 and [e["status"] for e in newest["requests"]] == [404]


def test_since_is_a_moment_on_the_mock_clock(server):
    exchange(server)
    moved = requests.post(server.url("/__admin/clock"), json={"now": "2031-05-01T10:00:00Z"},
                          timeout=10).json()["now"]
    requests.get(server.url("/v1/captures"), headers=AUTH, timeout=10)
    later = journal(server, since=moved)
    assert later["count"] == 1 and later["requests"][0]["time"] >= moved
    assert journal(server, since="2031-05-01 09:00:00+00:00")["count"] == 1  # any ISO form
    assert journal(server, since="2031-05-01T11:00:00Z")["count"] == 0


@pytest.mark.parametrize(("query", "named"), [
    ({"api": "nope"}, "api"), ({"operation": "createCaptures"}, "operation"),
    ({"api": "uplift", "operation": "listFiles"}, "operation"),
    ({"status": "20"}, "status"), ({"status": "6xx"}, "status"), ({"status": "4x4"}, "status"),
    ({"since": "yesterday"}, "since"), ({"limit": "-1"}, "limit"), ({"stauts": "404"}, "stauts"),
    ({"api": ["uplift", "uplift"]}, "api"),
])
def test_a_bad_filter_is_a_400_naming_it(server, query, named):
    for path in ("/__admin/requests", "/__admin/requests.har"):
        response = requests.get(server.url(path), params=query, timeout=10)
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "AdminError" and named in body["message"], body


def test_bodies_are_capped_and_binary_ones_kept_as_base64(server):
    reservation = requests.post(server.url("/v1/captures"), json=SAMPLE, headers=AUTH,
                                timeout=10).json()
    video = NOT_UTF8 * 1024  # 128 KiB that no UTF-8 decoder accepts
    uploaded = requests.post(reservation["upload_url"], data=reservation["upload_fields"],
                             files={"file": ("swing.mov", video, "video/quicktime")},
                             timeout=10)
    assert uploaded.status_code == 204  # the tee did not disturb the streamed form parser
    body = journal(server, limit="1")["requests"][0]["request"]["body"]
    assert body["encoding"] == "base64" and body["truncated"] is True
    assert body["size"] > len(video)
    assert len(base64.b64decode(body["text"])) == 64 * 1024

    long_name = "x" * (70 * 1024) + "é.mov"
    requests.post(server.url("/v1/captures"), json={**SAMPLE, "file_name": long_name},
                  headers=AUTH, timeout=10)
    text = journal(server, limit="1")["requests"][0]["request"]["body"]
    assert text["truncated"] is True and "encoding" not in text
    assert len(text["text"].encode()) <= 64 * 1024 and text["text"].startswith('{"')


def test_a_body_nobody_read_is_still_kept(server):
    requests.post(server.url("/__admin/faults"), json={"api": "uplift", "status": 503},
                  timeout=10)
    refused = requests.post(server.url("/v1/captures"), data=NOT_UTF8, headers=AUTH,
                            timeout=10)
    assert refused.status_code == 503
    body = journal(server, limit="1")["requests"][0]["request"]["body"]
    assert base64.b64decode(body["text"]) == NOT_UTF8 and body["truncated"] is False


# The fields HAR 1.2 requires (http://www.softwareishard.com/blog/har-12-spec/), with
# their types: what a HAR viewer such as a browser's devtools relies on when importing.
def _object(required, **properties):
    return {"type": "object", "required": list(required), "properties": properties}


_PAIRS = {"type": "array", "items": _object(["name", "value"], name={"type": "string"},
                                             value={"type": "string"})}
_SIZE = {"type": "integer", "minimum": -1}
_TIMING = {"type": "number", "minimum": -1}
HAR_SCHEMA = _object(["log"], log=_object(
    ["version", "creator", "entries"], version={"const": "1.2"},
    creator=_object(["name", "version"], name={"type": "string", "minLength": 1},
                    version={"type": "string"}),
    entries={"type": "array", "items": _object(
        ["startedDateTime", "time", "request", "response", "cache", "timings"],
        startedDateTime={"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"
                                                      r"(Z|[+-]\d\d:\d\d)$"},
        time={"type": "number", "minimum": 0},
        request=_object(
            ["method", "url", "httpVersion", "cookies", "headers", "queryString",
             "headersSize", "bodySize"],
            method={"type": "string"}, url={"type": "string", "pattern": "^https?://"},
            httpVersion={"type": "string"}, cookies=_PAIRS, headers=_PAIRS,
            queryString=_PAIRS, headersSize=_SIZE, bodySize=_SIZE,
            postData=_object(["mimeType"], mimeType={"type": "string"},
                             text={"type": "string"})),
        response=_object(
            ["status", "statusText", "httpVersion", "cookies", "headers", "content",
             "redirectURL", "headersSize", "bodySize"],
            status={"type": "integer"}, statusText={"type": "string"},
            httpVersion={"type": "string"}, cookies=_PAIRS, headers=_PAIRS,
            content=_object(["size", "mimeType"], size=_SIZE, mimeType={"type": "string"},
                            text={"type": "string"}, encoding={"type": "string"}),
            redirectURL={"type": "string"}, headersSize=_SIZE, bodySize=_SIZE),
        cache={"type": "object"},
        timings=_object(["send", "wait", "receive"], send=_TIMING, wait=_TIMING,
                        receive=_TIMING)),
    }))


def test_the_journal_as_har_1_2(server):
    created = exchange(server)
    response = requests.get(server.url("/__admin/requests.har"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    har = response.json()
    errors = [f"{list(error.absolute_path)}: {error.message}"
              for error in Draft202012Validator(HAR_SCHEMA).iter_errors(har)]
    assert errors == []
    entries = har["log"]["entries"]
    assert [entry["response"]["status"] for entry in entries] == [200, 400, 404]  # oldest first
    post, bad_list, _unknown = entries
    assert post["request"]["postData"]["mimeType"] == "application/json"
    assert json.loads(post["request"]["postData"]["text"]) == SAMPLE
    assert json.loads(post["response"]["content"]["text"]) == created.json()
    assert post["comment"] == "uplift.createCapture"
    assert bad_list["request"]["queryString"] == [{"name": "limit", "value": "many"}]
    assert bad_list["response"]["statusText"] == "Bad Request"
    assert "query.limit" in bad_list["comment"]
    only_errors = requests.get(server.url("/__admin/requests.har?status=4xx"), timeout=10)
    assert [e["response"]["status"] for e in only_errors.json()["log"]["entries"]] == [400, 404]
