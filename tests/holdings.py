"""What each of a profile's accounts holds at the mock, read through the APIs themselves:
how the tests judge that a conformance run left the server as it found it, or listed
what it could not remove."""

from __future__ import annotations

from typing import Any

import requests

from conftest import ConformanceRun, RunningMock


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


#: why what each API cannot delete stays (the clean-up's words)
NO_DELETE = {
    "uplift": "the Uplift API offers no way to delete or cancel a reservation (one never "
              "uploaded to ends in status error after its 30-minute window)",
    "captureproof": "the CaptureProof API offers no way to delete a capture (nor the media "
                    "uploaded for it)",
}


def assert_removed_or_listed(run: ConformanceRun, api: str,
                             before: dict[str, set[tuple[Any, ...]]],
                             after: dict[str, set[tuple[Any, ...]]]) -> None:
    """MyCRT captures are deleted and Biometrics Cloud records archived: the accounts see
    what they saw before. CaptureProof captures and Uplift reservations cannot be
    deleted: each one the run added is listed as left, with the reason."""
    cleanup = run.report["cleanup"]
    assert cleanup["kept"] == [], cleanup
    if api not in NO_DELETE:
        assert after == before
        assert cleanup["removed"] and cleanup["left"] == [], cleanup
        verb = "deleted" if api == "mycrt" else "archived"
        assert f"clean-up: {verb} {len(cleanup['removed'])} " in run.output
        return
    added = {str(entry[0]) for role in after for entry in after[role] - before[role]}
    assert added and added == ids(cleanup["left"]), (added, cleanup)
    assert cleanup["removed"] == []
    assert {entry["reason"] for entry in cleanup["left"]} == {NO_DELETE[api]}
    assert f"clean-up: left {len(added)} " in run.output
