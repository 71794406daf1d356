"""Data a strict server accepts (issue 10): a server that refuses the document's own sample
create gets one violation quoting its answer, graded by the document (it refuses the
document's own request: ``accepts_valid_input``); the run goes on with a safer
variant, creates its data and runs every check. The same runs show the clean-up of an API
that deletes (MyCRT) and of one that cannot (Uplift)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from broken_proxy import Answer, Breakage, BrokenProxy
from conftest import fresh, run_conformance
from holdings import assert_removed_or_listed, holdings


def refusing(path: str, refused: Callable[[dict[str, Any]], bool],
             error: dict[str, Any]) -> Breakage:
    """A strict server: a 400 with ``error`` (the API's Error body) for a create body it
    cannot take."""
    def respond(exchange, forward) -> Answer:
        try:
            body = json.loads(exchange.body)
        except ValueError:
            return forward(exchange)
        if isinstance(body, dict) and refused(body):
            return Answer(400, {"Content-Type": "application/json"},
                          json.dumps(error).encode())
        return forward(exchange)

    return Breakage("POST", path, respond)


#: the document's sample start, "2018-05-19 12:00:00": not RFC 3339
SPACED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
#: the document's sample capture_time, "2026-05-13T12:00:00.000Z": fractional seconds
FRACTION = re.compile(r".*\.\d+Z")

STRICT: dict[str, tuple[str, str, Callable[[dict[str, Any]], bool], dict[str, Any], str]] = {
    "mycrt": ("/api", "/api/captures",
              lambda body: bool(SPACED_TIME.fullmatch(str(body.get("start")))),
              {"code": 400, "message": "Request validation failed: body.start must be an "
                                       "RFC 3339 date-time"},
              "the document's sample request"),
    "uplift": ("/v1", "/v1/captures",
               lambda body: bool(FRACTION.fullmatch(str(body.get("capture_time")))),
               {"error": "BadRequest", "message": "capture_time must be whole seconds"},
               "the document's example request"),
}


@pytest.mark.parametrize("api", list(STRICT))
def test_a_refused_sample_is_one_document_finding_and_a_safer_variant_carries_on(
        mock_factory, tmp_path, api):
    base, path, refused, error, variant = STRICT[api]
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    with BrokenProxy(mock.origin, refusing(path, refused, error)) as proxy:
        run = run_conformance(api, proxy.url(base), tmp_path, "--max-examples", "5")
    refusals = [v for v in run.report["violations"] if v["check"] == "accepts_valid_input"]
    assert len(refusals) == 1, run.output[-3000:]
    refusal = refusals[0]
    assert variant in refusal["expected"]
    assert refusal["seen"].startswith("400 ") and error["message"] in refusal["seen"]
    assert "trying only the required fields" in refusal["seen"]
    assert "curl " in refusal["curl"] and "POST" in refusal["curl"]
    assert refusal["grade"] == "document" and refusal["source"]["seed"], refusal
    assert run.failed_checks == {"accepts_valid_input"}, run.output[-3000:]
    assert run.report["not_run"] == [], run.report["not_run"]
    assert run.exit_status == 1
    assert_removed_or_listed(run, api, before, holdings(mock, api))
