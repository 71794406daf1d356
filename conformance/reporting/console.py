"""The terminal report: each violation with a curl that reproduces it, repeats folded,
then what could not be checked, then the tally."""

from __future__ import annotations

from collections.abc import Callable

from conformance.results import Results, Violation


def render(results: Results, write: Callable[[str], None] = print) -> None:
    for number, (violation, more) in enumerate(_folded(results.violations), 1):
        write(f"\n{number}. [{violation.check}] {results.api} {violation.operation}")
        write(f"   expected: {violation.expected}")
        write(f"   seen:     {violation.seen}")
        if violation.curl:
            write(f"   reproduce: {violation.curl}")
        if more:
            write(f"   and {more} more like this (all in the JSON and JUnit reports)")
    for entry in sorted(results.not_run.values(), key=lambda entry: entry.check):
        label = "skipped (does not apply)" if entry.exempt else "not run"
        write(f"{label} [{entry.check}]: {entry.reason}")
    passed, failed = results.counts
    write(f"{passed} passed, {failed} failed, {len(results.not_run)} skipped")


def _folded(violations: list[Violation]) -> list[tuple[Violation, int]]:
    """The first violation of each (check, operation, expected), with how many followed:
    a fault seen on every request would otherwise print once per request."""
    groups: dict[tuple[str, str, str], list[Violation]] = {}
    for violation in violations:
        key = (violation.check, violation.operation, violation.expected)
        groups.setdefault(key, []).append(violation)
    return [(group[0], len(group) - 1) for group in groups.values()]
