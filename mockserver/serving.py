"""How ``mockserver serve`` serves: Granian, a Rust HTTP server, runs the Flask app.

Granian parses HTTP, keeps connections and writes answers on its own Rust threads, so the
Python interpreter only runs the app: under the GIL that is most of what decides the
throughput (bench/README.md has the figures against waitress, Prism and a bare Flask
endpoint). The process that loaded the specs, fixtures and state forks the workers
(``--workers``), which share its memory until they write to it.

- **Threads.** Each worker runs the app on up to ``--threads`` Python threads. A request
  that sleeps on a latency fault holds one; Granian hands the next request to another,
  growing its pool when no thread is idle (a lone request behind a sleeping one used to
  wait for it: Granian's issue #873, fixed in 2.7.9, the lowest version required).
- **Connections.** Granian's backpressure caps the connections a worker accepts (issue
  #789); it is sized far above what a test or benchmark keeps open.
- **Whole answers.** Every answer is handed over as one piece: for an answer it must
  iterate, Granian waits in the Python thread until the client has taken each chunk, so
  a slow reader would hold a thread.
- **No orphans.** Each worker watches a pipe whose other end only the parent holds: when
  the parent dies, however (SIGKILL included), the pipe closes and the worker exits.
  SIGTERM or SIGINT to the parent stops the workers and then the parent.

What must run inside one process instead (``mockserver proxy``, whose recording is written
by the process that serves, and the pytest plugin's in-thread mock) is served by waitress
on a thread: :func:`threaded_server`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from granian import Granian
from granian.constants import Interfaces
from granian.log import LogLevels

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: connections one worker accepts at once (Granian's backpressure, issue #789)
BACKPRESSURE = 1024
#: how long a worker may take to finish its requests after SIGTERM before it is killed
#: (a latency fault sleeps up to 60 s)
STOP_SECONDS = 5


def check_port(host: str, port: int) -> int:
    """The port a server can listen on: ``port`` itself, or a free one for 0. Raises
    OSError with a one-line message when it is taken (by anything, a mock included: its
    workers' sockets share the port only among themselves)."""
    with _bound(host, port) as probe:
        return int(probe.getsockname()[1])


def serve(app: WSGIApplication, host: str, port: int, workers: int, threads: int,
          on_listening: Callable[[], None] = lambda: None,
          in_worker: Callable[[], None] = lambda: None) -> None:
    """Serve until SIGTERM or SIGINT; ``on_listening`` runs once the port is bound,
    ``in_worker`` in each worker as it starts (threads do not survive a fork)."""
    parent_alive, parent_end = os.pipe()
    server = Granian(
        "mockserver", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
        blocking_threads=threads, backpressure=BACKPRESSURE, websockets=False,
        workers_kill_timeout=STOP_SECONDS, log_level=LogLevels.error,
    )
    server.on_startup(on_listening)
    try:
        server.serve(
            target_loader=lambda: _in_worker(app, parent_alive, parent_end, in_worker),
            wrap_loader=False)
    finally:
        os.close(parent_alive)
        os.close(parent_end)


def _in_worker(app: WSGIApplication, parent_alive: int, parent_end: int,
               start: Callable[[], None]) -> WSGIApplication:
    """Run in each worker process as it starts: what it serves."""
    os.close(parent_end)  # the parent's end, so that only the parent keeps it open
    threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True,
                     name="parent-watch").start()
    _forget_request_variables()
    start()
    return whole_answers(app)


def _exit_with_parent(parent_alive: int) -> None:
    with contextlib.suppress(OSError):
        os.read(parent_alive, 1)  # returns (empty) once no process holds the other end
    os._exit(0)


def _forget_request_variables() -> None:
    """Granian starts each request's environ from the process environment (as CGI did), so a
    variable such as ``HTTP_AUTHORIZATION`` or ``HTTP_X_FORWARDED_HOST`` in the shell that
    started the mock would read as a header of every request that lacks it."""
    for name in [name for name in os.environ
                 if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")]:
        del os.environ[name]


def whole_answers(app: WSGIApplication) -> WSGIApplication:
    """The app, answering with one bytes object (see the module's docstring)."""

    def answer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        chunks = app(environ, start_response)
        try:
            return [b"".join(chunks)]
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    return answer


def bind(host: str, port: int) -> socket.socket:
    """A listening socket for :func:`threaded_server`; OSError with a one-line message."""
    listener = _bound(host, port)
    listener.listen(1024)
    return listener


def _bound(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM)
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
    try:
        bound.bind((host, port))
    except OSError as error:
        bound.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return bound


def threaded_server(app: WsgiApp, listener: socket.socket, threads: int) -> Any:
    """A waitress server on ``listener``, not yet running (``run()`` serves until closed)."""
    from waitress.server import create_server

    # waitress warns "Task queue depth is N" for every request queued in a burst: a
    # supervisor that pipes stderr and never reads it would fill the pipe and stall us
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # X-Forwarded-Host/-Proto reach the app, whose ProxyFix reads them (mockserver/publicurl.py)
    return create_server(app, sockets=[listener], threads=threads, ident="mockserver",
                         connection_limit=1000, channel_timeout=30,
                         clear_untrusted_proxy_headers=False)


def in_background(app: WsgiApp, listener: socket.socket, name: str,
                  threads: int = 8) -> Callable[[], None]:
    """A :func:`threaded_server` running on a daemon thread called ``name``; call what it
    returns to stop it and wait for the thread."""
    server = threaded_server(app, listener, threads)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        # a worker that finishes a request pulls the trigger too, and may wake the loop
        # between our thunk and our pull: the pipe must stay open until the loop has ended
        server.trigger.pull_trigger(lambda: _end_loop(server))
        thread.join(timeout=10)
        server.trigger.close()

    return stop


def _end_loop(server: Any) -> None:
    """Run by the loop itself: every connection and the listener close, the trigger leaves
    the loop's map (its pipe stays open), and the loop, its map empty, ends."""
    from waitress import wasyncore

    server.task_dispatcher.shutdown()
    server.trigger.del_channel()
    for channel in list(server._map.values()):
        if channel is server:
            wasyncore.dispatcher.close(server)  # its own close() would close the trigger
        else:
            channel.close()
