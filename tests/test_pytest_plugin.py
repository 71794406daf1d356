"""The installed pytest plugin, run as a user runs it: pytest on a test file (pytester)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
import requests

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"

PLUGIN_TESTS = '''
import json

import pytest
import requests

KEY = {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}
CAPTURE = {"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
           "session_group_id": "11111111-2222-3333-4444-555555555555",
           "file_name": "swing-001.mov",
           "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
           "movement_attributes": {"activity": "golf", "movement": "full_swing"}}
ORIGINS = {}


def remember(name, mockserver):
    ORIGINS[name] = mockserver.origin
    with open("origins.json", "w") as out:
        json.dump(ORIGINS, out)


def reserve(mockserver):
    return requests.post(mockserver.url("uplift", "/captures"), json=CAPTURE, headers=KEY,
                         timeout=10)


def test_a_request_is_journaled_and_verified(mockserver):
    remember("ini", mockserver)
    assert mockserver.health()["apis"] == ["uplift"]  # the ini key
    assert reserve(mockserver).status_code == 200
    assert mockserver.verify("createCapture", count=1, api="uplift")[0]["status"] == 200
    mockserver.faults.add(api="uplift", operation="createCapture", status=503)
    mockserver.clock.advance(86400)


def test_each_test_starts_from_a_reset(mockserver):
    assert mockserver.origin == ORIGINS["ini"]
    assert mockserver.requests() == [] and mockserver.faults.list() == []
    assert abs((mockserver.clock.now() - __import__("datetime").datetime.now(
        __import__("datetime").timezone.utc)).total_seconds()) < 60
    assert reserve(mockserver).status_code == 200
    mockserver.verify("createCapture", count=1)


def test_verify_fails_with_what_was_received(mockserver):
    reserve(mockserver)
    requests.get(mockserver.url("uplift", "/captures?limit=many"), headers=KEY, timeout=10)
    mockserver.verify("listCaptures", count=2, api="uplift", status=200)


@pytest.mark.mockserver(apis=["biometricscloud"], clock="2030-01-01T00:00:00Z")
def test_a_marker_chooses_the_apis_and_the_clock(mockserver):
    remember("marker", mockserver)
    assert mockserver.origin != ORIGINS["ini"]
    assert mockserver.health()["apis"] == ["biometricscloud"]
    assert mockserver.clock.now().isoformat().startswith("2030-01-01T00:0")
    assert mockserver.base_url("biometricscloud") == mockserver.origin + "/api/v1"


@pytest.mark.mockserver(apis=["biometricscloud"])
def test_the_clock_is_no_part_of_the_server(mockserver):
    assert mockserver.origin == ORIGINS["marker"]
    assert mockserver.clock.now().year < 2030


@pytest.mark.mockserver(in_process=True)
def test_in_process_serves_from_a_thread(mockserver):
    import threading
    assert "mockserver" in [thread.name for thread in threading.enumerate()]
    assert mockserver.origin not in ORIGINS.values()
    remember("in_process", mockserver)
    assert reserve(mockserver).status_code == 200
    mockserver.verify("createCapture", api="uplift")


@pytest.mark.mockserver(fixtures="missing.yaml")
def test_a_bad_option_fails_the_test_in_one_line(mockserver):
    pass
'''


def readme_example() -> str:
    found = re.search(r"```python\n(# test_swing_uploader\.py\n.*?)```", README.read_text(), re.S)
    assert found, "the README's example test is gone"
    return found.group(1)


def test_the_fixture_and_the_readme_example_as_a_user_meets_them(pytester):
    """One pytest run (servers cost a second or two each to start): the README's example
    shares the ini's uplift-only server; the marker's gets another; in-process a third."""
    pytester.makeini("[pytest]\nmockserver_apis = uplift\n")
    pytester.makepyfile(test_uses_the_mockserver_fixture=PLUGIN_TESTS,
                        test_swing_uploader=readme_example())
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=7, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*test_swing_uploader.py::test_an_upload_after_the_30_minute_window_is_refused PASSED*",
        "*test_swing_uploader.py::test_a_503_is_retried_twice_then_reported PASSED*",
    ], consecutive=False)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected exactly 2 request(s) to uplift listCaptures answered 200,"
        " received 0",
        "*closest requests received (newest first):",
        "*GET /v1/captures?limit=many -> 400  (uplift.listCaptures)  [query.limit: *",
        "*POST /v1/captures -> 200  (uplift.createCapture)",
    ])
    result.stdout.fnmatch_lines(["*mockserver did not start: mockserver: cannot read fixtures"
                                 " */missing.yaml*"])
    origins = json.loads((pytester.path / "origins.json").read_text())
    assert len(set(origins.values())) == 3
    for origin in origins.values():  # every server stopped with the session
        with pytest.raises(requests.ConnectionError):
            requests.get(origin + "/__admin/health", timeout=5)
    assert "mockserver" not in [thread.name for thread in threading.enumerate()]
