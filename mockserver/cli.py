"""``mockserver serve`` and ``mockserver proxy``: the options and exit behaviour fixed by
INTERFACES.md.

Anything wrong at start (bad option, busy port, invalid spec or fixtures) is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence

import vendor_specs
from mockserver import serving, watch
from mockserver.app import Settings, build_mock, create_app
from mockserver.contracts import ContractError
from mockserver.cors import OriginError, normalize_origin
from mockserver.fixtures import FixturesError
from mockserver.publicurl import PublicUrlError, check_public_url
from mockserver.store import StoreSpecError

USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return _proxy(arguments) if arguments.command == "proxy" else _serve(arguments)
    except (ContractError, FixturesError, StoreSpecError, OSError) as error:
        print(f"mockserver: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:  # before the server took over SIGINT
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
    serve.add_argument("--state",
                       help="memory, sqlite:PATH, or postgresql://USER@HOST/DB (state shared "
                            "by replicas); default: memory, or with --workers > 1 a private "
                            "SQLite file removed at exit")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="worker processes (default 1); several share the state, so "
                            "--state memory allows only one")
    serve.add_argument("--threads", type=_positive, default=8,
                       help="Python threads per worker (default 8): requests a worker runs "
                            "at once, those asleep on a latency fault included")
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
    with _state(arguments.state, arguments.workers) as (state, durable):
        settings = Settings(
            apis=tuple(dict.fromkeys(arguments.api or vendor_specs.API_NAMES)),
            fixtures=arguments.fixtures, state=state, durable_state=durable,
            validate_responses=arguments.validate_responses, admin_token=arguments.admin_token,
            cors_origins=tuple(arguments.cors_origin or ()), public_url=arguments.public_url,
        )
        if not _is_loopback(arguments.host) and not arguments.admin_token:
            print("mockserver: note: the admin API stays loopback-only; pass --admin-token "
                  "to reach it remotely", file=sys.stderr)
        mock = build_mock(settings)
        if arguments.workers > 1 and not mock.services.store.shareable:
            raise StoreSpecError("--workers > 1 needs state the workers share: leave --state "
                                 "out, or give sqlite:PATH or postgresql://...")
        port = serving.check_port(arguments.host, arguments.port)
        app: serving.WsgiApp = (watch.Reloading(settings, mock) if arguments.watch
                                else create_app(settings, mock))
        mock.services.store.close()  # each worker opens its own connections
        _freeze_startup_objects()
        listening = (f"mockserver: serving {', '.join(settings.apis)} on "
                     f"http://{_url_host(arguments.host)}:{port}")
        serving.serve(app, arguments.host, port, arguments.workers, arguments.threads,
                      on_listening=lambda: print(listening, file=sys.stderr, flush=True),
                      in_worker=_watching(app))
    return 0


@contextlib.contextmanager
def _state(option: str | None, workers: int) -> Iterator[tuple[str, bool]]:
    """(``--state``, whether it must survive a crash). Without the option: memory for one
    worker, and for several a SQLite file in a private temporary directory, not synced to
    disk since it is removed when the mock stops."""
    if option is not None:
        yield option, True
    elif workers == 1:
        yield "memory", True
    else:
        with tempfile.TemporaryDirectory(prefix="mockserver-state-") as directory:
            yield f"sqlite:{directory}/state.db", False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _watching(app: serving.WsgiApp) -> Callable[[], None]:
    """What a worker starts besides serving: the file watch of ``--watch`` (a thread, so it
    must start in the worker, not in the parent that forks it)."""
    if isinstance(app, watch.Reloading):
        def start_watch() -> None:
            watch.start(app)
        return start_watch
    return lambda: None


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
        listener = serving.bind(arguments.host, arguments.port)
        base = app.extensions["mock"].apis[arguments.api].contract.base_path
        print(f"mockserver: proxying {arguments.api} at http://{_url_host(arguments.host)}:"
              f"{listener.getsockname()[1]}{base} to {upstream.base_url}",
              file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # close the recording
        serving.threaded_server(app, listener, threads=8).run()
    finally:
        if recorder is not None:
            recorder.close()
    return 0


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _freeze_startup_objects() -> None:
    """Specs, compiled validators and the libraries' tables live as long as the process.
    Frozen, they drop out of every full garbage collection, which then stalls the serving
    thread for 5-7 ms instead of 22-28 ms (measured in process, once per ~10 000 requests),
    and the workers forked afterwards share their pages with the parent."""
    gc.collect()
    gc.freeze()


def _is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")
