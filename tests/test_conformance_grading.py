"""Findings graded by their source, exact where the document is exact, and repros that
work on their own after the run: through the real CLI, against planted bugs."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ElementTree
from typing import Any

from broken_proxy import (
    BrokenProxy,
    expired_upload,
    refusal_accepted,
    rewrite_json,
    set_status,
    swap_header,
)
from conftest import assert_graded, fresh, run_conformance

CAPTURE = r"/api/captures/\d+"
#: the MyCRT document's 404 for get and metrics, answered here by delete instead
OTHER_DOCUMENTED_404 = "Capture's environment not found"
ALREADY_STOPPED = "This capture has already been stopped"
UPLIFT_SECONDARY = "Bearer upl_live_riverside_3a9c50d2e81f4b67"
UPLIFT_PRIMARY = "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"


def findings(run: Any, check: str, operation: str) -> list[dict[str, Any]]:
    return [violation for violation in run.report["violations"]
            if violation["check"] == check and violation["operation"] == operation]


def rerun(repro: str, cwd: Any = None) -> tuple[int, str]:
    """The printed repro, run by bash as a user would: the status and body of its last
    answer (its own request; the setup steps before it are silent)."""
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", repro], capture_output=True,
                          text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, (repro, done.stderr)
    statuses = re.findall(r"^HTTP/\S+ (\d{3})", done.stdout, flags=re.MULTILINE)
    assert statuses, (repro, done.stdout)
    return int(statuses[-1]), done.stdout


def _another_documented_message(body: Any) -> Any:
    return {**body, "message": OTHER_DOCUMENTED_404} if isinstance(body, dict) else body


def test_a_documented_answer_swapped_is_graded_document_and_reproduced(mock_factory, tmp_path):
    """Delete answers its 404 with another section's documented message; edit answers a
    400 where the document gives 404; a second stop is accepted: all document findings
    quoting their section, ``--fail-on document`` fails the run, JUnit carries the grade,
    and the printed repros (a login, the create, what happened to the capture since,
    the mock clock's moves, then the request) show the same answer again after the run."""
    mock = fresh(mock_factory, "mycrt")
    junit = tmp_path / "junit.xml"
    with BrokenProxy(mock.origin,
                     rewrite_json("DELETE", CAPTURE, _another_documented_message,
                                  when=lambda answer: answer.status == 404),
                     set_status("PUT", CAPTURE, 400, when_status=404),
                     refusal_accepted("POST", CAPTURE + "/stop", 409, ALREADY_STOPPED,
                                      "/stop")) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path, "--max-examples", "5",
                              "--fail-on", "document", "--junit-xml", str(junit))
        deleted = findings(run, "delete_is_final", "deleteCapture")
        edited = findings(run, "rejects_invalid_input", "editCapture")
        stopped = [v for v in findings(run, "lifecycle", "stopCapture") if v["status"] == 200]
        assert deleted and edited and stopped, run.output[-3000:]
        again = rerun(deleted[0]["curl"])
        unknown = rerun(edited[0]["curl"])
        second = rerun(stopped[0]["curl"])
    assert run.exit_status == 1
    assert_graded(run)
    for violation, section in ((deleted[0], "Delete a Capture"), (edited[0], "Edit a Capture"),
                               (stopped[0], "Stop a Capture")):
        assert violation["grade"] == "document", violation
        assert violation["source"]["section"] == section, violation
    assert deleted[0]["source"]["quote"] == edited[0]["source"]["quote"] == "Capture not found"
    assert deleted[0]["expected"] == "404 'Capture not found'"
    assert edited[0]["expected"].startswith("404 'Capture not found' for invalid input")
    assert "login" in deleted[0]["curl"] and "-X POST" in deleted[0]["curl"]
    assert again[0] == deleted[0]["status"] == 404 and OTHER_DOCUMENTED_404 in again[1]
    assert unknown[0] == edited[0]["status"] == 400
    assert "/__admin/clock" in stopped[0]["curl"] and second[0] == 200
    case = ElementTree.parse(junit).getroot().find(
        "testcase[@classname='mycrt.delete_is_final'][@name='deleteCapture']")
    assert case is not None
    assert case.find("properties/property[@name='grade']").get("value") == "document"
    failure = case.find("failure")
    assert failure.get("message").startswith("[document]")
    assert 'section "Delete a Capture"' in failure.text


def test_uplift_exact_status_and_a_leak_reproduced_across_accounts(mock_factory, tmp_path):
    """A 422 where the document names 400 for invalid parameters is a document finding;
    a capture another organization can read is a contract finding (the read side is the
    contract's), and its repro creates the capture with the primary's key first; an
    upload refused by the store is reproduced with a fresh reservation and the file."""
    mock = fresh(mock_factory, "uplift")
    with BrokenProxy(mock.origin, set_status("POST", "/v1/captures", 422, when_status=400),
                     swap_header("GET", r"/v1/captures/[^/]+", "Authorization",
                                 UPLIFT_SECONDARY, UPLIFT_PRIMARY),
                     expired_upload("/s3/uplift-captures/")) as proxy:
        run = run_conformance("uplift", proxy.url("/v1"), tmp_path, "--max-examples", "5")
        leaks = findings(run, "isolation", "getCapture")
        uploads = [v for v in findings(run, "upload_flow", "createCapture") if v["status"]]
        assert leaks and uploads, run.output[-3000:]
        status, body = rerun(leaks[0]["curl"])
        refused, store = rerun(uploads[0]["curl"], cwd=tmp_path)
    assert run.exit_status == 1
    assert_graded(run)
    invalid = findings(run, "rejects_invalid_input", "createCapture")
    assert invalid and all(v["grade"] == "document" for v in invalid), invalid[:2]
    assert invalid[0]["source"]["quote"] == "description: Invalid request parameters."
    assert invalid[0]["expected"].startswith("400 for invalid input")
    assert leaks[0]["grade"] == "contract" and leaks[0]["source"]["where"].startswith(
        "specs/uplift.yaml#/paths/~1captures~1{captureId}/get/"), leaks[0]
    repro = leaks[0]["curl"]
    assert UPLIFT_PRIMARY in repro and UPLIFT_SECONDARY in repro and "-X POST" in repro
    assert status == leaks[0]["status"] == 200 and '"session_id"' in body
    assert refused == uploads[0]["status"] == 403 and "Policy expired" in store
    assert (tmp_path / "conformance.mov").read_bytes().endswith(b"conformance")


def test_fail_on_document_lets_contract_findings_pass(mock_factory, tmp_path):
    """A bug in what only the contract says (Uplift's list side, which the document does
    not have) is reported with its grade, and with ``--fail-on document`` the run passes
    (the default, ``contract``, fails it: every other planted bug's test shows that)."""
    mock = fresh(mock_factory, "uplift")
    wrong_type = rewrite_json("GET", "/v1/captures",
                              lambda body: {**body, "total_count": str(body["total_count"])})
    with BrokenProxy(mock.origin, wrong_type) as proxy:
        run = run_conformance("uplift", proxy.url("/v1"), tmp_path, "--max-examples", "3",
                              "--fail-on", "document")
    assert run.exit_status == 0, run.output[-3000:]
    assert run.report["violations"] and run.report["grades"]["document"] == 0
    assert run.report["fail_on"] == "document"
    assert_graded(run)
    assert "(contract)" in run.output and "x-source-note at specs/uplift.yaml#/" in run.output
