"""``conformance run``: the interface fixed by INTERFACES.md.

Exit status 0: no violation of a grade ``--fail-on`` counts and every check could run
(those with nothing at the target to use are exempt); 1: such violations found, or checks
that could not run (unless ``--allow-incomplete``); 2: bad usage, bad profile, or the
target is unreachable.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

import vendor_specs
from conformance.profile import ProfileError, load_profile
from conformance.reporting.console import render
from conformance.reporting.json_report import report, write_report
from conformance.reporting.junit import write_junit
from conformance.runner import coverage, run
from conformance.session import RunSettings, SetupError
from conformance.transport import TargetUnreachable

OK, VIOLATIONS, USAGE = 0, 1, 2
INTERRUPTED = 130  # the shell's own status for Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        arguments = parser.parse_args(argv)
    except SystemExit as exit_:
        return USAGE if exit_.code else OK
    try:
        return _run(arguments)
    except (ProfileError, SetupError, TargetUnreachable) as error:
        print(f"conformance: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:  # the run has cleaned up after itself on the way out
        print("conformance: interrupted", file=sys.stderr)
        return INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conformance", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run", help="check an implementation against its contract")
    command.add_argument("--api", required=True, choices=vendor_specs.API_NAMES)
    command.add_argument("--base-url", required=True, help="the API's base URL")
    command.add_argument("--profile", help="profile file or URL (default: the target's "
                                           "/__admin/fixtures)")
    command.add_argument("--max-examples", type=int, default=20,
                         help="generated requests per operation (default 20)")
    command.add_argument("--seed", type=int, default=0, help="the same seed gives the same run")
    command.add_argument("--junit-xml", help="write a JUnit XML report here")
    command.add_argument("--report", help="write a JSON report (with coverage) here")
    command.add_argument("--spec", help="judge by this spec file instead of the bundled one")
    command.add_argument("--max-wait", type=_positive_seconds, default=60.0, metavar="SECONDS",
                         help="without /__admin/clock, the longest each time-based check "
                              "waits in real time (default 60)")
    command.add_argument("--fail-on", choices=("document", "contract"), default="contract",
                         help="the grades that make the exit status 1: document (only "
                              "breaks of the document's own words) or contract (those and "
                              "breaks of the spec's decisions; the default)")
    command.add_argument("--read-only", action="store_true",
                         help="send only requests that cannot change state (reads, sign-ins, "
                              "and requests the contract refuses); checks that need writes "
                              "are listed as not run")
    command.add_argument("--keep-data", action="store_true",
                         help="keep what the run created (by default it is deleted at the "
                              "end where the API allows)")
    command.add_argument("--allow-incomplete", action="store_true",
                         help="exit 0 even when some checks could not run (they are still "
                              "listed)")
    return parser


def _positive_seconds(text: str) -> float:
    """argparse turns the error into a usage error (exit status 2)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def _run(arguments: argparse.Namespace) -> int:
    if arguments.max_examples < 1:
        raise SetupError("--max-examples must be at least 1")
    started = time.monotonic()
    profile = load_profile(arguments.api, arguments.profile, arguments.base_url)
    print(f"conformance: {arguments.api} at {arguments.base_url} (seed {arguments.seed})",
          flush=True)
    session = run(arguments.api, arguments.base_url, profile,
                  RunSettings(arguments.max_examples, arguments.seed,
                              arguments.max_wait, arguments.read_only, arguments.keep_data),
                  progress=lambda line: print(line, flush=True), spec_path=arguments.spec)
    results = session.results
    if arguments.junit_xml:
        write_junit(results, arguments.junit_xml)
    if arguments.report:
        meta = {"base_url": arguments.base_url, "seed": arguments.seed,
                "max_examples": arguments.max_examples, "max_wait": arguments.max_wait,
                "fail_on": arguments.fail_on,
                "requests": len(session.client.exchanges),
                "read_only": arguments.read_only,
                "cleanup": session.ledger.outcome.report() if session.ledger.outcome else {},
                "duration_seconds": round(time.monotonic() - started, 3)}
        write_report(report(results, coverage(session), meta), arguments.report)
    render(results)
    incomplete = not results.complete and not arguments.allow_incomplete
    return VIOLATIONS if results.failing(arguments.fail_on) or incomplete else OK


if __name__ == "__main__":
    raise SystemExit(main())
