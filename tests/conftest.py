"""Start the real ``mockserver serve`` as a black box, the way a user does.

``mock_factory(*options)`` starts one server per distinct option list on a free loopback
port (always with ``--validate-responses``, so any response that breaks its own spec comes
back as a 500) and stops them all at the end of the session.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, settings

from strict_server import BASE_PATHS, strict_server

# Property tests in this suite: "ci" is the default; "thorough" is for fuzzing sessions
# (HYPOTHESIS_PROFILE=thorough python -m pytest ...). Both talk to live servers, so no
# deadline and no example database (a replayed example meets different server state).
for _name, _examples in (("ci", 20), ("thorough", 500)):
    settings.register_profile(_name, max_examples=_examples, deadline=None, database=None,
                              suppress_health_check=list(HealthCheck))
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

#: the planted-bug runs, one full run per bug, follow the profile too: every check runs
#: either way, with a few generated requests per operation in "ci" (measured: each bug is
#: still caught, in about 60% of a default run's time) and more than a default run sends
#: in "thorough"
PLANTED_BUG_OPTIONS = ("--max-examples", {"ci": "5", "thorough": "100"}[PROFILE])


#: the pinecrest organization's Uplift key, as a request header
UPLIFT_AUTH = {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}


def uplift_capture(file_name: str) -> dict[str, Any]:
    """A valid Uplift reservation for the pinecrest organization's athlete."""
    return {"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "session_group_id": "11111111-2222-3333-4444-555555555555",
            "file_name": file_name,
            "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
            "movement_attributes": {"activity": "golf", "movement": "full_swing"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningMock:
    origin: str
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)
    log: Any = None  # the server's stderr, a temporary file

    def url(self, path: str) -> str:
        return self.origin + path

    def reset(self) -> None:
        self.session.post(self.url("/__admin/reset"), timeout=10).raise_for_status()

    def advance(self, seconds: float) -> None:
        self.session.post(self.url("/__admin/clock"), json={"advance_seconds": seconds},
                          timeout=10).raise_for_status()

    def journal(self) -> list[dict[str, Any]]:
        return self.session.get(self.url("/__admin/requests"), timeout=10).json()["requests"]

    def profile(self) -> dict[str, Any]:
        return self.session.get(self.url("/__admin/fixtures"), timeout=10).json()

    def contract_violations(self) -> list[dict[str, Any]]:
        return [entry for entry in self.journal() if entry["response_errors"]]

    def output(self) -> str:
        """What the server wrote on stderr so far. pread: the server shares the file's
        offset, and moving it would make the server write over its earlier lines."""
        fd = self.log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.log is not None:
            self.log.close()


def start_mock(*options: str, port: int | None = None, strict: bool = True,
               admin_token: str | None = None, command_name: str = "serve") -> RunningMock:
    """``command_name="proxy"`` starts ``mockserver proxy`` instead (with strict=False)."""
    port = port or free_port()
    command = [sys.executable, "-m", "mockserver", command_name, "--port", str(port), *options]
    if strict:
        command.append("--validate-responses")
    # stderr to a file, not a pipe: a pipe nobody reads fills up and stalls the server
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs; stop() closes
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    server = RunningMock(f"http://127.0.0.1:{port}", process, log=log)
    if admin_token:
        server.session.headers["Authorization"] = f"Bearer {admin_token}"
    try:
        wait_until_healthy(server.origin, process, server.session,
                           lambda: _read(log))
    except RuntimeError:
        server.stop()
        raise
    return server


def start_proxy(upstream: str, *options: str, api: str = "uplift") -> RunningMock:
    """``mockserver proxy --api API --upstream URL`` on a free loopback port."""
    return start_mock("--api", api, "--upstream", upstream, *options, command_name="proxy",
                      strict=False)


def _read(log: Any) -> str:
    log.seek(0)
    return str(log.read().decode(errors="replace"))


def wait_until_healthy(origin: str, process: subprocess.Popen[bytes],
                       session: requests.Session | None = None,
                       exit_reason: Callable[[], str] = lambda: "", timeout: float = 30) -> None:
    """Until ``/__admin/health`` answers 200; a process that exits first is an error."""
    session = session or requests.Session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mockserver exited with {process.returncode}: {exit_reason()}")
        try:
            if session.get(origin + "/__admin/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"mockserver did not become healthy within {timeout:.0f} s")


@pytest.fixture(scope="session")
def mock_factory() -> Iterator[Callable[..., RunningMock]]:
    servers: dict[tuple[str, ...], RunningMock] = {}

    def get(*options: str) -> RunningMock:
        if options not in servers:
            servers[options] = start_mock(*options)
        return servers[options]

    yield get
    for server in servers.values():
        server.stop()


@dataclass
class ConformanceRun:
    exit_status: int
    output: str
    report: dict[str, Any]

    @property
    def failed_checks(self) -> set[str]:
        return {violation["check"] for violation in self.report.get("violations", [])}


def run_conformance(api: str, base_url: str, tmp_path: Any, *options: str) -> ConformanceRun:
    """The real CLI, as CI would call it; returns its exit status, output and JSON report."""
    report = tmp_path / f"{api}-report.json"
    completed = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--api", api, "--base-url", base_url,
         "--report", str(report), *options],
        capture_output=True, text=True, timeout=300,
    )
    document = json.loads(report.read_text()) if report.exists() else {}
    return ConformanceRun(completed.returncode, completed.stdout + completed.stderr, document)


def run_with_profile(api: str, base_url: str, tmp_path: Any, profile: dict[str, Any],
                     *options: str) -> ConformanceRun:
    """The CLI given this profile (``--profile``, written as YAML)."""
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    return run_conformance(api, base_url, tmp_path, "--profile", str(path), *options)


#: planted bugs behind a strict variant: the default settings but a shorter wait for real
#: time, which fits the variant's slower MyCRT (RUNNING at 7 s, DONE 6 s after a stop); with
#: the default 60 s every bug is caught too, in 90 s instead of 34 for MyCRT
BEHIND_STRICT_OPTIONS = ("--max-wait", "10")


def run_strict(api: str, upstream: str, tmp_path: Any, profile: dict[str, Any],
               *options: str) -> ConformanceRun:
    """The CLI against the strict variant of ``api`` (``strict_server``) in front of
    ``upstream``: no admin API there, so the profile goes as a file."""
    with strict_server(api, upstream) as strict:
        return run_with_profile(api, strict.url(BASE_PATHS[api]), tmp_path, profile, *options)


def assert_reported(run: ConformanceRun, findings: dict[str, tuple[str, str, str]]) -> None:
    """Each planted bug (name -> check, operation, and text its finding must name, such as
    a mutation) is among the run's violations."""
    assert run.exit_status == 1, run.output[-3000:]
    missed = [name for name, (check, operation, text) in findings.items()
              if not any(violation["check"] == check and violation["operation"] == operation
                         and text in violation["expected"]
                         for violation in run.report["violations"])]
    reported = sorted({(v["check"], v["operation"]) for v in run.report["violations"]})
    assert not missed, (missed, reported, run.output[-3000:])
    assert_graded(run)


def fresh(mock_factory: Callable[..., RunningMock], api: str) -> RunningMock:
    """The session's server for one API, back at its fixtures."""
    server = mock_factory("--api", api)
    server.reset()
    return server


def assert_conforms(run: ConformanceRun, operations: int) -> None:
    """A clean run: exit 0, nothing failed, every operation exercised, the closing tally."""
    assert run.exit_status == 0, run.output
    assert run.report["failed"] == 0 and run.report["passed"] > 0
    assert run.report["coverage"]["operations_exercised"] == operations
    assert re.fullmatch(r"\d+ passed, 0 failed, \d+ skipped",
                        run.output.strip().splitlines()[-1]), run.output[-500:]


@pytest.fixture(scope="session")
def postgresql() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the session (``tests/pgcluster.py``); the tests
    that need it skip, naming the install command, where Debian's ``postgresql`` is missing."""
    import pgcluster

    try:
        cluster = pgcluster.start()
    except pgcluster.Unavailable as error:
        pytest.skip(str(error))
    yield cluster
    cluster.stop()


def assert_graded(run: ConformanceRun) -> None:
    """Every finding names its source: the document's words (a quote with its seed and
    section), or a decision of the contract (an x-source-note and where it lives)."""
    for violation in run.report["violations"]:
        source = violation["source"]
        if violation["grade"] == "document":
            assert source["seed"] and source["section"] and source["quote"], violation
        else:
            assert violation["grade"] == "contract", violation
            assert source["note"] and source["where"].startswith("specs/"), violation
        assert f"({violation['grade']})" in run.output, violation
