"""Schemathesis, an outside fuzzer, against every spec on the real mock.

One test per API (``test_schemathesis_finds_nothing[<api>]``) starts ``mockserver serve --api
<api> --validate-responses`` on a free loopback port, loads ``specs/<api>.yaml`` with
``schemathesis.openapi.from_path`` and the mock's base URL, and runs every operation through
Schemathesis' own phases (the spec's examples, its coverage cases and Hypothesis fuzzing, with
valid and invalid data), one subtest per operation. Every answer must pass Schemathesis' own
checks: ``not_a_server_error``, ``response_schema_conformance``, ``status_code_conformance``
and ``content_type_conformance``, i.e. no 5xx, no body outside the documented schema, no
undocumented status code and no undocumented content type.

Credentials come from ``GET /__admin/fixtures`` (the primary account): Uplift and Biometrics
Cloud ``Authorization: Bearer``, CaptureProof ``X-API-Session``, MyCRT the
``MyCRTAuthToken`` cookie from ``POST /api/users/login``. Identifiers that exist on the mock
(patients, proofs, captures, records, athletes, environments) are read from the running mock
over HTTP and offered to the fuzzer as Schemathesis dictionaries (70 % of the generated
values), so many requests reach the handlers instead of stopping at a 404 or 403. A
successful call that ends the session gets a new credential: MyCRT ``PUT /users/logout`` a new
login; CaptureProof ``DELETE /sessions``, which ends the fixture token until a reset, a
``POST /__admin/reset``.

Two profiles, chosen by ``SCHEMATHESIS_PROFILE``:

- ``ci`` (default): 25 fuzzed examples per operation on top of the examples and coverage
  phases, derandomized (the same requests every run), no example database; about 12 s for
  the four APIs together (serially, two idle cores; a few hundred requests per API).
- ``thorough``: 1000 fuzzed examples per operation and a new random seed each run, for QA:
  about 12 minutes serially, 7 with ``-n 2`` (CaptureProof takes longest: every create it
  accepts makes the next answers bigger). The one command::

      SCHEMATHESIS_PROFILE=thorough python -m pytest tests/test_schemathesis.py -n 0

  ``-n 2`` splits the four APIs between two processes. ``SCHEMATHESIS_SEED=<n>`` fixes the
  seed to replay a run. Every failure prints a curl command that reproduces it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import RunningMock, start_mock
from strict_server import BASE_PATHS

SPECS = Path(__file__).resolve().parent.parent / "specs"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"generation": {"max-examples": 25, "deterministic": True, "database": "none"}},
    "thorough": {"generation": {"max-examples": 1000, "database": "none"}},
}
PROFILE = os.environ.get("SCHEMATHESIS_PROFILE", "ci")
SEED = os.environ.get("SCHEMATHESIS_SEED")
if PROFILE not in PROFILES:
    raise ValueError(f"SCHEMATHESIS_PROFILE must be one of {sorted(PROFILES)}, not {PROFILE!r}")
#: operations after whose success the credential no longer works
ENDS_SESSION = {("captureproof", "DELETE /sessions"), ("captureproof", "DELETE /sessions/{token}"),
                ("mycrt", "PUT /users/logout")}
#: the share of generated values taken from the mock's own identifiers
KNOWN = 0.7


class Target:
    """One running mock serving one API, and the primary account's credential on it."""

    def __init__(self, api: str, server: RunningMock) -> None:
        self.api, self.server = api, server
        self.account: dict[str, Any] = self.server.profile()[api]["primary"]
        self.headers = self.log_in()

    def url(self, path: str) -> str:
        return self.server.url(BASE_PATHS[self.api] + path)

    def log_in(self) -> dict[str, str]:
        if self.api == "uplift":
            return {"Authorization": f"Bearer {self.account['api_key']}"}
        if self.api == "biometricscloud":
            return {"Authorization": f"Bearer {self.account['token']}"}
        if self.api == "captureproof":
            return {"X-API-Session": self.account["token"]}
        login = requests.post(self.url("/users/login"), timeout=10, json={
            "email": self.account["email"], "password": self.account["password"]})
        assert login.status_code == 200, login.text
        return {"Cookie": f"MyCRTAuthToken={login.cookies['MyCRTAuthToken']}"}

    def renew_session(self) -> None:
        """After a successful logout: CaptureProof's fixed token is back after a reset."""
        if self.api == "captureproof":
            self.server.reset()
        self.headers = self.log_in()

    def get(self, path: str, **params: Any) -> Any:
        response = requests.get(self.url(path), params=params, headers=self.headers,
                                timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return response.json()

    def known_values(self) -> dict[str, list[Any]]:
        """Parameter -> identifiers that exist for the primary account, read over HTTP."""
        account = self.account
        if self.api == "captureproof":
            path = f"/patients/{account['patient_id']}/proofs/{account['proof_id']}/captures"
            captures = self.get(path)["captures"]
            return {"path.patient_id": [account["patient_id"]],
                    "path.proof_id": [account["proof_id"]],
                    "path.capture_id": [capture["id"] for capture in captures],
                    "body.token": [account["token"]]}
        if self.api == "mycrt":
            captures = self.get("/captures", envId=account["env_id"])
            return {"path.id": [capture["id"] for capture in captures],
                    "query.envId": [account["env_id"]], "body.envId": [account["env_id"]]}
        if self.api == "biometricscloud":
            records = self.get("/files", limit=100)["results"]
            return {"path.id": [record["id"] for record in records]}
        created = requests.post(self.url("/captures"), headers=self.headers, timeout=10, json={
            "athlete_id": account["athlete_id"], "session_group_id": account["session_group_id"],
            "file_name": "fuzz-seed.mov",
            "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
            "movement_attributes": {"activity": "golf", "movement": "full_swing"}})
        assert created.status_code == 200, created.text
        return {"path.captureId": [created.json()["session_id"]],
                "body.athlete_id": [account["athlete_id"]],
                "body.session_group_id": [account["session_group_id"]],
                "query.athlete_id": [account["athlete_id"]]}

    def config(self) -> schemathesis.Config:
        settings: dict[str, Any] = {**PROFILES[PROFILE], "dictionaries": {}, "parameters": {}}
        for index, (parameter, values) in enumerate(self.known_values().items()):
            if values:
                settings["dictionaries"][f"known{index}"] = {"values": values}
                settings["parameters"][parameter] = {"dictionary": f"known{index}",
                                                     "probability": KNOWN}
        settings["base-url"] = self.url("")
        if SEED is not None:
            settings["seed"] = int(SEED)
        return schemathesis.Config.from_dict(settings)


@pytest.fixture(params=list(BASE_PATHS))
def target(request):
    server = start_mock("--api", request.param)
    try:
        yield Target(request.param, server)
    finally:
        server.stop()


@pytest.fixture
def api_schema(target):
    return schemathesis.openapi.from_path(SPECS / f"{target.api}.yaml", config=target.config())


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_schemathesis_finds_nothing(case, target):
    response = case.call_and_validate(headers=target.headers, checks=CHECKS, timeout=30)
    if (target.api, case.operation.label) in ENDS_SESSION and response.status_code < 300:
        target.renew_session()
