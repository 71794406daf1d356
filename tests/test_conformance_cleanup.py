"""A run leaves no mess (issue 10): what it creates is removed at its end where the API
allows, on failure paths too, or listed with the reason it stays; ``--keep-data`` keeps
it; ``--read-only`` changes nothing at all. Judged by what the mock holds afterwards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from broken_proxy import Answer, Breakage, BrokenProxy
from conftest import fresh, run_conformance
from holdings import assert_removed_or_listed, holdings, ids
from strict_server import BASE_PATHS

#: operations that only sign in: the one kind of write --read-only sends
SIGN_INS = {"login", "createSession"}
FEW = ("--max-examples", "3")
#: where each API with a delete creates
CREATES = {"mycrt": "/captures", "biometricscloud": "/files"}
#: in a name or description: ``<prefix>-<run>-<n>``, one of the run's own
RUNS_OWN = re.compile(rb"-[0-9a-f]{6}-[0-9]+")


@pytest.mark.parametrize("api", ["biometricscloud", "captureproof"])
def test_what_a_run_creates_is_removed_or_listed_with_the_reason(mock_factory, tmp_path, api):
    """MyCRT and Uplift are judged so in test_conformance_baseline.py's runs."""
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    run = run_conformance(api, mock.url(BASE_PATHS[api]), tmp_path, *FEW)
    assert run.exit_status == 0, run.output[-3000:]
    assert_removed_or_listed(run, api, before, holdings(mock, api))


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


class AnswerHeldBack:
    """The fifth create of one kind (``named``: those that name what they make by one of
    the run's own names; else the others) reaches the mock at once and its answer comes
    back ``pause`` seconds later: a Ctrl-C then finds a resource made on the server that
    the run has not yet heard of."""

    def __init__(self, api: str, pause: float, named: bool = True,
                 creates_before: int = 4) -> None:
        self.creates_before, self.pause, self.named = creates_before, pause, named
        self.holding, self.released = threading.Event(), threading.Event()
        self.breakage = Breakage("POST", BASE_PATHS[api] + CREATES[api], self._create)

    def _create(self, exchange, forward) -> Answer:
        answer = forward(exchange)
        if (200 <= answer.status < 300 and not self.holding.is_set()
                and bool(RUNS_OWN.search(exchange.body)) == self.named):
            if self.creates_before == 0:
                self.holding.set()
                self.released.wait(self.pause)
            self.creates_before -= 1
        return answer


def interrupted_inside_a_create(mock, api: str, pause: float, interrupts: int,
                                named: bool = True) -> tuple[int, str]:
    """A run sent ``interrupts`` SIGINTs (as Ctrl-C sends them), half a second apart,
    while a create's answer is held back (:class:`AnswerHeldBack`); its exit status and
    output."""
    held = AnswerHeldBack(api, pause, named)
    with BrokenProxy(mock.origin, held.breakage) as proxy:
        process = subprocess.Popen(
            [sys.executable, "-m", "conformance", "run", "--api", api, "--base-url",
             proxy.url(BASE_PATHS[api])],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert held.holding.wait(timeout=60), "the run never sent five such creates"
        for interrupt in range(interrupts):
            time.sleep(0.5 if interrupt else 0)
            process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        held.released.set()
    assert "conformance: interrupted" in output and "Traceback" not in output, output
    return process.returncode, output


def test_ctrl_c_still_removes_what_the_run_created(mock_factory):
    """Interrupted while a create's answer is on its way: the answer is still recorded,
    the clean-up runs on the way out and removes that capture too, and the exit status is
    130."""
    mock = fresh(mock_factory, "mycrt")
    before = holdings(mock, "mycrt")
    status, output = interrupted_inside_a_create(mock, "mycrt", pause=1.0, interrupts=1)
    assert status == 130, output[-3000:]
    assert "conformance: stopping once the request in flight is answered" in output
    assert re.search(r"^clean-up: deleted \d+ captures", output, re.M), output[-3000:]
    assert holdings(mock, "mycrt") == before


@pytest.mark.parametrize("api", list(CREATES))
def test_a_second_ctrl_c_does_not_wait_for_the_answer(mock_factory, api):
    """For a target that never answers: the second SIGINT ends the run at once. What the
    create whose answer never came made is found by its name, one of the run's own, and
    removed with every other."""
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    status, output = interrupted_inside_a_create(mock, api, pause=60, interrupts=2)
    assert status == 130, output[-3000:]
    assert holdings(mock, api) == before, output[-3000:]


def test_a_never_answered_create_the_run_cannot_find_is_listed_as_left(mock_factory):
    """A generated Biometrics Cloud record carries no name of the run's own: the one whose
    create was never answered stays, and the clean-up says so; every other is archived."""
    mock = fresh(mock_factory, "biometricscloud")
    before = holdings(mock, "biometricscloud")
    status, output = interrupted_inside_a_create(mock, "biometricscloud", pause=60,
                                                 interrupts=2, named=False)
    assert status == 130, output[-3000:]
    assert ("clean-up: left 1 record (unknown id): its create was never answered: the server "
            "may have made it, and the run cannot tell it from anyone else's") in output, \
        output[-3000:]
    left = holdings(mock, "biometricscloud")["primary"] - before["primary"]
    assert len(left) == 1, left


@pytest.mark.parametrize("api", list(BASE_PATHS))
def test_read_only_changes_nothing_and_lists_what_it_left_out(mock_factory, tmp_path, api):
    """--read-only: no write but a sign-in answers 2xx (the mock's own journal, presigned
    uploads included), every account sees what it saw, and the run passes: the checks
    that need writes are listed as left out, exempt."""
    mock = fresh(mock_factory, api)
    before = holdings(mock, api)
    run = run_conformance(api, mock.url(BASE_PATHS[api]), tmp_path, "--read-only", *FEW)
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
