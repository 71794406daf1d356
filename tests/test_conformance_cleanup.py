"""A run leaves no mess (issue 10): what it creates is removed at its end where the API
allows, on failure paths too, or listed with the reason it stays; ``--keep-data`` keeps
it; ``--read-only`` changes nothing at all. Judged by what the mock holds afterwards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from broken_proxy import Answer, Breakage, BrokenProxy
from conftest import RunningMock, fresh, run_conformance

BASE = {"mycrt": "/api", "uplift": "/v1", "biometricscloud": "/api/v1",
        "captureproof": "/api/v1"}
#: operations that only sign in: the one kind of write --read-only sends
SIGN_INS = {"login", "createSession"}
FEW = ("--max-examples", "3")


def _mycrt(mock: RunningMock, account: dict[str, Any]) -> list[tuple[Any, ...]]:
    login = requests.post(mock.url("/api/users/login"), json={
        "email": account["email"], "password": account["password"]}, timeout=10)
    captures = requests.get(mock.url("/api/captures"), cookies=login.cookies, timeout=10).json()
    return [(c["id"], c["name"], c["scheduledEnd"]) for c in captures]


def _uplift(mock: RunningMock, account: dict[str, Any]) -> list[tuple[Any, ...]]:
    page = requests.get(mock.url("/v1/captures"), params={"limit": 500}, timeout=10, headers={
        "Authorization": f"Bearer {account['api_key']}"}).json()
    return [(c["session_id"], c["athlete_id"]) for c in page["captures"]]


def _biometricscloud(mock: RunningMock, account: dict[str, Any]) -> list[tuple[Any, ...]]:
    records: list[tuple[Any, ...]] = []
    query: dict[str, Any] = {"limit": 100, "sort_field": "id", "sort_order": "asc"}
    while True:
        page = requests.get(mock.url("/api/v1/files"), params=query, timeout=10, headers={
            "Authorization": f"Bearer {account['token']}"}).json()
        if not page["results"]:
            return records
        records += [(r["id"], r["description"], r["file_name"]) for r in page["results"]]
        query["offset"] = page["next_id"]


def _captureproof(mock: RunningMock, account: dict[str, Any]) -> list[tuple[Any, ...]]:
    path = f"/api/v1/patients/{account['patient_id']}/proofs/{account['proof_id']}/captures"
    body = requests.get(mock.url(path), params={"token": account["token"]}, timeout=10).json()
    return [(c["id"], c["description"]) for c in body["captures"]]


SEEN_BY = {"mycrt": _mycrt, "uplift": _uplift, "biometricscloud": _biometricscloud,
           "captureproof": _captureproof}


def holdings(mock: RunningMock, api: str) -> dict[str, set[tuple[Any, ...]]]:
    """What each of the profile's accounts sees at the mock: ids and what was written."""
    profile = mock.profile()[api]
    return {role: set(SEEN_BY[api](mock, profile[role])) for role in ("primary", "secondary")}


def ids(entries: list[dict[str, Any]]) -> set[str]:
    return {str(entry["id"]) for entry in entries}


@pytest.mark.parametrize("api", list(BASE))
def test_what_a_run_creates_is_removed_or_listed_with_the_reason(mock_factory, tmp_path, api):
    """MyCRT captures are deleted and Biometrics Cloud records archived: the accounts see
    what they saw before. CaptureProof captures and Uplift reservations cannot be
    deleted: each one the run added is listed as left, with the reason."""
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    run = run_conformance(api, mock.url(BASE[api]), tmp_path, *FEW)
    after = holdings(mock, api)
    assert run.exit_status == 0, run.output[-3000:]
    cleanup = run.report["cleanup"]
    assert cleanup["kept"] == [], cleanup
    if api in ("mycrt", "biometricscloud"):
        assert after == before
        assert cleanup["removed"] and cleanup["left"] == [], cleanup
        verb = "deleted" if api == "mycrt" else "archived"
        assert re.search(rf"^clean-up: {verb} {len(cleanup['removed'])} \w+", run.output, re.M)
        return
    added = {str(entry[0]) for role in after for entry in after[role] - before[role]}
    assert added and added == ids(cleanup["left"]), (added, cleanup)
    assert cleanup["removed"] == []
    assert {entry["reason"] for entry in cleanup["left"]} == {{
        "uplift": "the Uplift API offers no way to delete or cancel a reservation (one never "
                  "uploaded to ends in status error after its 30-minute window)",
        "captureproof": "the CaptureProof API offers no way to delete a capture (nor the "
                        "media uploaded for it)"}[api]}
    assert f"clean-up: left {len(added)} " in run.output


def test_keep_data_keeps_every_capture_and_each_stops_by_itself(mock_factory, tmp_path):
    """--keep-data: the report lists exactly what stays on the server; every capture the
    run made there has a scheduledEnd, so none records forever."""
    mock = fresh(mock_factory, "mycrt")
    before = holdings(mock, "mycrt")["primary"]
    run = run_conformance("mycrt", mock.url("/api"), tmp_path, "--keep-data", *FEW)
    assert run.exit_status == 0, run.output[-3000:]
    stayed = holdings(mock, "mycrt")["primary"] - before
    cleanup = run.report["cleanup"]
    assert stayed and ids(cleanup["kept"]) == {str(capture_id) for capture_id, *_ in stayed}
    assert cleanup["removed"] == [] and cleanup["left"] == []
    assert all(scheduled_end is not None for *_, scheduled_end in stayed), stayed
    assert f"clean-up: kept (--keep-data) {len(stayed)} captures" in run.output


class RefusedAtTheEnd:
    """Deletes are refused once the session flow, the run's last, has logged out: only the
    clean-up's own deletes meet the refusal."""

    def __init__(self) -> None:
        self.logged_out = False
        self.breakages = (Breakage("PUT", "/api/users/logout", self._logout),
                          Breakage("DELETE", r"/api/captures/\d+", self._delete))

    def _logout(self, exchange, forward) -> Answer:
        answer = forward(exchange)
        self.logged_out = self.logged_out or answer.status == 200
        return answer

    def _delete(self, exchange, forward) -> Answer:
        if not self.logged_out:
            return forward(exchange)
        return Answer(503, {"Content-Type": "application/json"},
                      b'{"code": 503, "message": "Deletes are paused"}')


def test_a_refused_clean_up_is_one_finding_and_lists_what_is_left(mock_factory, tmp_path):
    mock = fresh(mock_factory, "mycrt")
    refusing = RefusedAtTheEnd()
    with BrokenProxy(mock.origin, *refusing.breakages) as proxy:
        run = run_conformance("mycrt", proxy.url("/api"), tmp_path, *FEW)
    assert run.exit_status == 1
    assert [v["check"] for v in run.report["violations"]] == ["cleanup"], run.output[-3000:]
    assert "Deletes are paused" in run.report["violations"][0]["seen"]
    left = run.report["cleanup"]["left"]
    assert left and all(entry["reason"].startswith("the delete answered 503") for entry in left)
    assert run.report["cleanup"]["removed"] == []


def _created_captures(mock: RunningMock) -> int:
    return sum(1 for entry in mock.journal()
               if entry["operation"] == "createCapture" and entry["status"] == 200)


def test_ctrl_c_still_removes_what_the_run_created(mock_factory, tmp_path):
    """Interrupted mid-run (SIGINT, as Ctrl-C sends it): the clean-up runs on the way
    out, and the exit status is 130."""
    mock = fresh(mock_factory, "mycrt")
    before = holdings(mock, "mycrt")
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--api", "mycrt", "--base-url",
         mock.url("/api")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while _created_captures(mock) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    assert re.search(r"^clean-up: deleted \d+ captures", output, re.M), output[-3000:]
    assert "conformance: interrupted" in output and "Traceback" not in output
    assert holdings(mock, "mycrt") == before


@pytest.mark.parametrize("api", list(BASE))
def test_read_only_changes_nothing_and_lists_what_it_left_out(mock_factory, tmp_path, api):
    """--read-only: no write but a sign-in answers 2xx (the mock's own journal, presigned
    uploads included), every account sees what it saw, and the run passes: the checks
    that need writes are listed as left out, exempt."""
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    run = run_conformance(api, mock.url(BASE[api]), tmp_path, "--read-only", *FEW)
    journal = mock.journal()
    assert len(journal) < 1000, "the journal no longer holds the whole run"
    writes = [(entry["method"], entry["path"]) for entry in journal
              if entry["method"] not in ("GET", "HEAD") and 200 <= entry["status"] < 300
              and entry["operation"] not in SIGN_INS]
    assert writes == [], writes
    assert holdings(mock, api) == before
    assert run.exit_status == 0, run.output[-3000:]
    assert run.report["read_only"] is True and run.report["complete"] is True
    left_out = [entry for entry in run.report["not_run"]
                if "left out by --read-only" in entry["reason"]]
    assert left_out and all(entry["exempt"] for entry in left_out)
    assert "clean-up: the run created nothing" in run.output
    assert json.dumps(run.report["cleanup"]) == json.dumps(
        {"removed": [], "left": [], "kept": []})
