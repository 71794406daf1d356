"""The terminal report: every violation with a curl that reproduces it, then the tally."""

from __future__ import annotations

from collections.abc import Callable

from conformance.results import Results


def render(results: Results, write: Callable[[str], None] = print) -> None:
    for number, violation in enumerate(results.violations, 1):
        write(f"\n{number}. [{violation.check}] {results.api} {violation.operation}")
        write(f"   expected: {violation.expected}")
        write(f"   seen:     {violation.seen}")
        if violation.curl:
            write(f"   reproduce: {violation.curl}")
    for check, reason in sorted(results.skipped.items()):
        write(f"skipped [{check}]: {reason}")
    passed, failed = results.counts
    write(f"{passed} passed, {failed} failed")
