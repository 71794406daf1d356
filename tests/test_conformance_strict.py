"""The conformance suite against servers that are not the mock (issue 10, point 11).

Each API's strict-but-conforming variant (``tests/strict_server.py``) does what a real
vendor may do where the documents leave it open. A default run against it must blame the
server for nothing it may do, say what it could not check, and still cover every
operation. The planted bugs behind the variants are in each API's own test module.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from broken_proxy import Answer, Breakage, BrokenProxy
from conformance.apis._common import bearer
from conformance.spec import load_api_spec
from conformance.transport import Case, Client
from conftest import ConformanceRun, assert_graded, fresh, run_strict

#: Where a variant departs from a decision the contract made alone (an x-source-note),
#: the findings the suite may report: (check, operation) -> the contract's decision. Any
#: other violation is a false one. They are graded ``contract``, never ``document``.
DEPARTURES: dict[str, dict[tuple[str, str], str]] = {
    "mycrt": {
        ("content_type", "logout"): "logout answers 200 with an empty JSON object (the "
                                    "service's own answer; not in the document)",
        ("accepts_valid_input", "listCaptures"): "CaptureName is 4-25 characters (the "
                                                 "service's source; not in the document)",
    },
    "captureproof": {
        ("accepts_valid_input", "createCapture"): "CaptureCreate.description is any "
                                                  "string (the document gives no limit)",
        ("status_code_documented", "createCapture"): "createCapture answers 200 (the "
                                                     "document shows no status)",
    },
    "biometricscloud": {
        ("accepts_valid_input", "createFile"): "UploadFilename is 1-255 characters, a "
                                               "description any string",
        ("accepts_valid_input", "updateFile"): "UploadFilename is 1-255 characters, a "
                                               "description any string",
    },
    "uplift": {},
}

#: semantic checks that must reach their assertions on the variant: it adapts, it does
#: not merely pass (MyCRT's lifecycle and metrics in real time, on a slower server)
JUDGED = {"mycrt": {"lifecycle", "metrics", "session", "duplicate_name", "read_after_write"},
          "captureproof": {"upload_flow", "read_after_write", "isolation", "delete_is_final"},
          "biometricscloud": {"pagination", "file_url", "read_after_write", "refresh_rotation"},
          "uplift": {"upload_flow", "pagination", "read_after_write", "isolation"}}
#: time-based checks a short --max-wait cannot finish on a server without a clock
WAITED_FOR = {"mycrt": {"schedule"}, "captureproof": {"lifecycle"},
              "biometricscloud": {"lifecycle"}, "uplift": {"lifecycle"}}
#: long enough for a strict MyCRT capture to run (7 s) and to stop (6 s)
MAX_WAIT = "10"


def departures(run: ConformanceRun, api: str) -> list[dict[str, Any]]:
    """The run's findings that a variant's departures explain."""
    return [violation for violation in run.report["violations"]
            if (violation["check"], violation["operation"]) in DEPARTURES[api]]


@pytest.mark.parametrize("api", list(DEPARTURES))
def test_a_strict_vendor_is_blamed_for_nothing_it_may_do(mock_factory, tmp_path, api):
    mock = fresh(mock_factory, api)
    run = run_strict(api, mock.origin, tmp_path, mock.profile(), "--max-wait", MAX_WAIT)
    explained = departures(run, api)
    false = [v for v in run.report["violations"] if v not in explained]
    assert not false, (false[:5], run.output[-3000:])
    assert all(violation["grade"] == "contract" for violation in explained), explained
    assert_graded(run)
    checks = run.report["checks"]
    assert all(checks.get(name, {}).get("passed") for name in JUDGED[api]), checks
    coverage = run.report["coverage"]
    assert coverage["operations_exercised"] == coverage["operations_total"], coverage
    not_run = {entry["check"]: entry for entry in run.report["not_run"]}
    assert set(not_run) == WAITED_FOR[api], not_run
    for entry in not_run.values():
        assert f"did not happen within --max-wait {MAX_WAIT} s" in entry["reason"], entry
        assert not entry["exempt"]
    assert run.exit_status == 1 and run.report["complete"] is False  # incomplete
    assert run.output.strip().splitlines()[-1].endswith(f"{len(not_run)} skipped")


def test_a_rate_limit_is_waited_out_and_the_request_sent_again(mock_factory):
    """A 429 is the vendor's throttling, not its answer: the client waits its Retry-After,
    sends the request again and keeps both exchanges (the 429 counts in the coverage)."""
    mock = fresh(mock_factory, "uplift")
    throttled: list[str] = []

    def once_throttled(exchange, forward) -> Answer:
        if throttled:
            return forward(exchange)
        throttled.append(exchange.path)
        return Answer(429, {"Content-Type": "application/json", "Retry-After": "1"},
                      b'{"error": "TooManyRequests", "message": "Slow down."}')

    key = mock.profile()["uplift"]["primary"]["api_key"]
    with BrokenProxy(mock.origin, Breakage("GET", "/v1/captures", once_throttled)) as proxy:
        client = Client(proxy.url("/v1"))
        started = time.monotonic()
        answer = client.send(Case(load_api_spec("uplift").operation("listCaptures")),
                             bearer(key))
    assert answer.status == 200 and time.monotonic() - started >= 1
    assert [exchange.status for exchange in client.exchanges] == [429, 200]
    assert client.exchanges[0].operation is answer.operation
