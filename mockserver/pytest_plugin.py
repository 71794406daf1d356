"""The mock inside your pytest session.

Installed as a pytest plugin (entry point ``pytest11``), it offers the fixture
``mockserver``: a running mock, reset before each test that uses it, handed over as its
admin client (:class:`mockserver.client.Admin`)::

    @pytest.mark.mockserver(apis=["uplift"], clock="2030-01-01T00:00:00Z")
    def test_the_upload_window_closes(mockserver):
        client = UpliftClient(mockserver.base_url("uplift"), api_key="...")
        ...
        mockserver.clock.advance(31 * 60)

One server per distinct set of options per session (``apis``, ``fixtures``, ``state``,
``in_process``, ``validate_responses``), started on a free loopback port when a test
first needs it and stopped when the session ends. By default each is the real
``mockserver serve`` in a subprocess, as users run it; ``in_process=True`` serves from a
thread of the test process instead (a breakpoint in a handler then stops there).
``clock`` is where the mock clock starts after each reset. Options come from the closest
``mockserver`` marker (test, class or module ``pytestmark``), else from the ini keys
``mockserver_apis``, ``mockserver_fixtures``, ``mockserver_state`` and
``mockserver_in_process``; relative paths are from the rootdir.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from mockserver.client import Admin

MARKER = "mockserver"
START_TIMEOUT = 30.0
_SERVING = re.compile(r"serving .* on (http://\S+)")


@dataclass(frozen=True)
class Options:
    """What tells two servers apart; ``clock`` is applied after every reset instead."""

    apis: tuple[str, ...] = ()  # all four
    fixtures: str | None = None
    state: str = "memory"
    in_process: bool = False
    validate_responses: bool = True

    def serve_arguments(self) -> list[str]:
        arguments = [argument for api in self.apis for argument in ("--api", api)]
        if self.fixtures:
            arguments += ["--fixtures", self.fixtures]
        arguments += ["--state", self.state]
        return arguments + (["--validate-responses"] if self.validate_responses else [])


class MockServer(Admin):
    """A mock this plugin started: the admin client, and how to stop the server."""

    def __init__(self, origin: str, options: Options, stop: Callable[[], None]) -> None:
        super().__init__(origin)
        self.options, self._stop = options, stop

    def stop(self) -> None:
        self.session.close()
        self._stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockserver_apis", "APIs the mockserver fixture serves (default: all)",
                  type="args", default=[])
    parser.addini("mockserver_fixtures", "fixtures file of the mockserver fixture")
    parser.addini("mockserver_state", "state of the mockserver fixture (default: memory)",
                  default="memory")
    parser.addini("mockserver_in_process", "serve the mockserver fixture from a thread",
                  type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mockserver(apis=None, fixtures=None, state='memory', clock=None, "
                   "in_process=False, validate_responses=True): options of the mockserver "
                   "fixture; tests with other options get another server")


class Pool:
    """The session's servers, one per distinct :class:`Options`."""

    def __init__(self) -> None:
        self._servers: dict[Options, MockServer] = {}

    def get(self, options: Options) -> MockServer:
        if options not in self._servers:
            start = _start_in_thread if options.in_process else _start_subprocess
            self._servers[options] = start(options)
        return self._servers[options]

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()


@pytest.fixture(scope="session")
def mockserver_pool() -> Iterator[Pool]:
    pool = Pool()
    yield pool
    pool.stop()


@pytest.fixture
def mockserver(request: pytest.FixtureRequest, mockserver_pool: Pool) -> MockServer:
    """A running mock, just reset (state, objects, faults, journal, clock), as its admin
    client: ``base_url(api)``, ``clock``, ``faults``, ``requests(...)``, ``verify(...)``."""
    options, clock = _options(request)
    server = mockserver_pool.get(options)
    server.reset()
    if clock is not None:
        server.clock.set(clock)
    return server


def _options(request: pytest.FixtureRequest) -> tuple[Options, str | None]:
    """The ini keys, overridden by the markers from the module's down to the test's."""
    config = request.config
    settings: dict[str, Any] = {
        "apis": tuple(config.getini("mockserver_apis")),
        "fixtures": config.getini("mockserver_fixtures") or None,
        "state": config.getini("mockserver_state"),
        "in_process": config.getini("mockserver_in_process"),
    }
    known = {field.name for field in fields(Options)} | {"clock"}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        unknown = sorted(set(marker.kwargs) - known)
        if marker.args or unknown:
            pytest.fail(f"@pytest.mark.mockserver takes the keywords {', '.join(sorted(known))}"
                        + (f"; not {', '.join(unknown)}" if unknown else ""), pytrace=False)
        settings.update(marker.kwargs)
    clock = settings.pop("clock", None)
    apis = settings["apis"]
    settings["apis"] = (apis,) if isinstance(apis, str) else tuple(apis or ())
    if settings["fixtures"] is not None:
        settings["fixtures"] = str(config.rootpath / Path(settings["fixtures"]))
    return Options(**settings), clock


def _start_subprocess(options: Options) -> MockServer:
    """``mockserver serve --port 0``: the kernel picks the port, the server names it."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it while it runs
    command = [sys.executable, "-m", "mockserver", "serve", "--host", "127.0.0.1",
               "--port", "0", *options.serve_arguments()]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        output = _read(log)
        found = _SERVING.search(output)
        if found:
            server = MockServer(found.group(1), options, stop)
            _wait_until_healthy(server, deadline)
            return server
        if process.poll() is not None:
            stop()
            pytest.fail(f"mockserver did not start: {output.strip()}", pytrace=False)
        time.sleep(0.02)
    stop()
    pytest.fail(f"mockserver did not start within {START_TIMEOUT:.0f} s", pytrace=False)


def _start_in_thread(options: Options) -> MockServer:
    from mockserver.app import Settings, create_app
    from mockserver.serving import in_background

    settings = Settings(apis=options.apis or Settings.apis, fixtures=options.fixtures,
                        state=options.state, validate_responses=options.validate_responses)
    try:
        app = create_app(settings)
    except ValueError as error:  # ContractError, FixturesError, StoreSpecError
        pytest.fail(f"mockserver did not start: {error}", pytrace=False)
    listener = socket.create_server(("127.0.0.1", 0))
    stop_serving = in_background(app, listener, "mockserver")

    def stop() -> None:
        stop_serving()
        app.extensions["mock"].services.store.close()

    running = MockServer(f"http://127.0.0.1:{listener.getsockname()[1]}", options, stop)
    _wait_until_healthy(running, time.monotonic() + START_TIMEOUT)
    return running


def _wait_until_healthy(server: MockServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            server.health()
            return
        except requests.ConnectionError:
            time.sleep(0.02)
    server.stop()
    pytest.fail(f"mockserver at {server.origin} never answered /__admin/health",
                pytrace=False)


def _read(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")
