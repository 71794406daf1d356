"""``mockserver serve --watch``: fixtures edited under a running server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from conftest import start_mock
from mockserver.app import Settings
from mockserver.fixtures import default_fixtures_text
from mockserver.watch import watched_files

PRIMARY = "upl_live_pinecrest_8f2d61c0b7a94e3f"
NEWCOMER = "upl_live_newcomer_0123456789abcdef"
CAPTURE = {"athlete_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
           "session_group_id": "11111111-2222-3333-4444-555555555555",
           "file_name": "swing-001.mov",
           "camera_configuration": {"camera_setup_selection": "single.down_the_line"},
           "movement_attributes": {"activity": "golf", "movement": "full_swing"}}


def captures(server, key: str) -> requests.Response:
    return requests.get(server.url("/v1/captures"), timeout=10,
                        headers={"Authorization": f"Bearer {key}"})


def eventually(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def log_lines(server) -> list[str]:
    server.log.seek(0)
    return server.log.read().decode(errors="replace").splitlines()


def test_an_edited_fixtures_file_is_in_force_without_a_restart(tmp_path: Path):
    fixtures = tmp_path / "fixtures.yaml"
    original = default_fixtures_text()
    fixtures.write_text(original)
    server = start_mock("--api", "uplift", "--fixtures", str(fixtures), "--watch")
    try:
        assert captures(server, NEWCOMER).status_code == 401
        requests.post(server.url("/v1/captures"), json=CAPTURE, timeout=10,
                      headers={"Authorization": f"Bearer {PRIMARY}"}).raise_for_status()
        moved = server.session.post(server.url("/__admin/clock"), timeout=10,
                                    json={"now": "2030-06-01T00:00:00Z"}).json()["now"]
        rule = server.session.post(server.url("/__admin/faults"), timeout=10,
                                   json={"operation": "getCapture", "latency_ms": 1}).json()

        fixtures.write_text(original.replace(f"api_keys: [{PRIMARY}]",
                                             f"api_keys: [{PRIMARY}, {NEWCOMER}]"))
        assert eventually(lambda: captures(server, NEWCOMER).status_code == 200)
        assert captures(server, PRIMARY).json()["total_count"] == 0  # reseeded
        assert server.session.get(server.url("/__admin/clock"), timeout=10).json()["now"] \
            >= moved  # the clock, fault rules and journal stay
        assert server.session.get(server.url("/__admin/faults"), timeout=10).json() == \
            {"faults": [rule]}
        oldest = [(entry["operation"], entry["status"]) for entry in server.journal()][-2:]
        assert oldest == [("createCapture", 200), ("listCaptures", 401)]
        assert "mockserver: reloaded the fixtures and specs; state reseeded (clock, fault " \
               "rules and journal kept)" in log_lines(server)

        fixtures.write_text(original + "\nuplift: [\n")
        assert eventually(lambda: any("reload failed" in line for line in log_lines(server)))
        failed = [line for line in log_lines(server) if "reload failed" in line]
        assert failed == [f"mockserver: reload failed, still serving the previous files: "
                          f"fixtures {fixtures} is not valid YAML: " + failed[0].split(
                              "is not valid YAML: ", 1)[1]]
        assert captures(server, NEWCOMER).status_code == 200  # the previous file holds
        assert not any("Traceback" in line for line in log_lines(server))
    finally:
        server.stop()


def test_the_fixtures_and_the_served_specs_are_watched(tmp_path: Path):
    fixtures = tmp_path / "mine.yaml"
    files = watched_files(Settings(apis=("uplift", "mycrt"), fixtures=str(fixtures)))
    assert files[0] == fixtures and [path.name for path in files[1:]] == \
        ["uplift.yaml", "mycrt.yaml"]
    assert all(path.is_file() for path in files[1:])
    assert watched_files(Settings(apis=()))[0].read_text() == default_fixtures_text()


def test_watch_with_several_workers_is_refused(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "mockserver", "serve", "--port", "0",
                           "--watch", "--workers", "2", "--state",
                           f"sqlite:{tmp_path / 'state.db'}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == "mockserver: --watch reloads one process: use it with --workers 1\n"
