"""``mockserver serve`` and ``mockserver proxy``: the options and exit behaviour fixed by
INTERFACES.md.

Anything wrong at start (bad option, busy port, invalid spec or fixtures) is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import vendor_specs
from mockserver import watch
from mockserver.app import Settings, build_mock, create_app
from mockserver.contracts import ContractError
from mockserver.cors import OriginError, normalize_origin
from mockserver.fixtures import FixturesError
from mockserver.publicurl import PublicUrlError, check_public_url
from mockserver.store import StoreSpecError
from mockserver.threads import ThreadBudget

USAGE_ERROR = 2
WsgiApp = Callable[..., Any]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return _proxy(arguments) if arguments.command == "proxy" else _serve(arguments)
    except (ContractError, FixturesError, StoreSpecError, OSError) as error:
        print(f"mockserver: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockserver", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the mock APIs")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    serve.add_argument("--api", action="append", choices=vendor_specs.API_NAMES,
                       help="serve only this API; repeatable (default: all four)")
    serve.add_argument("--fixtures", help="seed data (default: the bundled fixtures/default.yaml)")
    serve.add_argument("--state", default="memory",
                       help="memory (default), sqlite:PATH, or postgresql://USER@HOST/DB "
                            "(state shared by replicas)")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="worker processes (more than 1 needs --state sqlite:PATH or "
                            "postgresql://...)")
    serve.add_argument("--threads", type=_positive, default=8,
                       help="threads per worker while a request sleeps on a latency fault "
                            "(otherwise one: faster under the GIL)")
    serve.add_argument("--validate-responses", action="store_true",
                       help="check every response against the spec; a violation becomes a 500")
    serve.add_argument("--watch", action="store_true",
                       help="reload the fixtures and specs when they change (state reseeded; "
                            "clock, fault rules and journal kept)")
    serve.add_argument("--admin-token",
                       help="require this bearer token on /__admin (needed off loopback)")
    serve.add_argument("--cors-origin", action="append", type=_checked(normalize_origin),
                       metavar="ORIGIN", help="allow browser pages from this origin only, "
                       "e.g. http://localhost:3000; repeatable (default: any origin)")
    serve.add_argument("--public-url", type=_checked(check_public_url), metavar="URL",
                       help="the origin of every URL the mock hands out (default: the "
                            "request's Host, or X-Forwarded-Host/-Proto behind a proxy)")
    proxy = commands.add_parser(
        "proxy", help="forward one API to the real service, checking both ways against its spec")
    proxy.add_argument("--api", required=True, choices=vendor_specs.API_NAMES,
                       help="the API whose contract the traffic is checked against")
    proxy.add_argument("--upstream", required=True,
                       help="the API's base URL at the real service, e.g. https://api.uplift.ai/v1")
    proxy.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    proxy.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    proxy.add_argument("--record", metavar="PATH.har",
                       help="keep every exchange, whole, as HTTP Archive 1.2")
    proxy.add_argument("--admin-token",
                       help="require this bearer token on /__admin (needed off loopback)")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse type from a check that raises ValueError with a readable message."""

    def convert(text: str) -> str:
        try:
            return check(text)
        except (OriginError, PublicUrlError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _serve(arguments: argparse.Namespace) -> int:
    if arguments.workers > 1 and arguments.watch:
        raise StoreSpecError("--watch reloads one process: use it with --workers 1")
    settings = Settings(
        apis=tuple(dict.fromkeys(arguments.api or vendor_specs.API_NAMES)),
        fixtures=arguments.fixtures, state=arguments.state,
        validate_responses=arguments.validate_responses, admin_token=arguments.admin_token,
        cors_origins=tuple(arguments.cors_origin or ()), public_url=arguments.public_url,
    )
    if not _is_loopback(arguments.host) and not arguments.admin_token:
        print("mockserver: note: the admin API stays loopback-only; pass --admin-token to "
              "reach it remotely", file=sys.stderr)
    mock = build_mock(settings)
    if arguments.workers > 1 and not mock.services.store.shareable:
        raise StoreSpecError("--workers > 1 needs shared state: --state sqlite:PATH or "
                             "postgresql://...")
    mock.seed_if_empty()
    listener = _bind(arguments.host, arguments.port)
    print(f"mockserver: serving {', '.join(settings.apis)} on "
          f"http://{arguments.host}:{listener.getsockname()[1]}", file=sys.stderr, flush=True)
    if arguments.workers == 1:
        app: WsgiApp
        if arguments.watch:
            app = watch.Reloading(settings, mock)
            watch.start(app)
        else:
            app = create_app(settings, mock)
        _run_waitress(app, mock.threads, listener, arguments.threads)
        return 0
    mock.services.store.close()
    return _prefork(settings, listener, arguments.workers, arguments.threads)


def _proxy(arguments: argparse.Namespace) -> int:
    """Checks the upstream answers before listening: a typo fails at once, with exit 2."""
    from mockserver.harrecord import Recorder
    from mockserver.proxy import ProxySettings, create_proxy_app
    from mockserver.upstream import Upstream

    upstream = Upstream(arguments.upstream)
    upstream.check_reachable()
    recorder = Recorder(arguments.record) if arguments.record else None
    try:
        settings = ProxySettings(arguments.api, upstream.base_url, arguments.admin_token)
        app = create_proxy_app(settings, upstream, _report, recorder)
        listener = _bind(arguments.host, arguments.port)
        base = app.extensions["mock"].apis[arguments.api].contract.base_path
        print(f"mockserver: proxying {arguments.api} at http://{arguments.host}:"
              f"{listener.getsockname()[1]}{base} to {upstream.base_url}",
              file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # close the recording
        _run_waitress(app, None, listener, threads=8)
    finally:
        if recorder is not None:
            recorder.close()
    return 0


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listener.listen(1024)
    return listener


def _run_waitress(app: WsgiApp, budget: ThreadBudget | None, listener: socket.socket,
                  threads: int) -> None:
    server = make_server(app, budget, listener, threads)
    _freeze_startup_objects()
    server.run()


def make_server(app: WsgiApp, budget: ThreadBudget | None, listener: socket.socket,
                threads: int) -> Any:
    """A waitress server on ``listener`` (not yet running). With a ``budget`` (the mock),
    one thread serves, up to ``threads`` while a request sleeps on a latency fault
    (``mockserver/threads.py``); without (the proxy, which waits on its upstream),
    ``threads`` threads serve from the start."""
    from waitress import create_server

    # waitress warns "Task queue depth is N" for every request queued in a burst: a
    # supervisor that pipes stderr and never reads it would fill the pipe and stall us
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # X-Forwarded-Host/-Proto reach the app, whose ProxyFix reads them (mockserver/publicurl.py)
    server = create_server(app, sockets=[listener], threads=1 if budget else threads,
                           ident="mockserver", connection_limit=1000, channel_timeout=30,
                           clear_untrusted_proxy_headers=False)
    if budget is not None:
        budget.attach(server.task_dispatcher, most=threads)
    return server


def _freeze_startup_objects() -> None:
    """Specs, compiled validators and the libraries' tables live as long as the process.
    Frozen, they drop out of every full garbage collection, which then stalls the serving
    thread for 5-7 ms instead of 22-28 ms (measured in process, once per ~10 000 requests)."""
    gc.collect()
    gc.freeze()


def _prefork(settings: Settings, listener: socket.socket, workers: int, threads: int) -> int:
    """N processes accept on one socket; each opens its own store connections."""
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            app = create_app(settings)
            _run_waitress(app, app.extensions["mock"].threads, listener, threads)
            os._exit(0)
        children.append(pid)

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)
    return 0


def _is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")
