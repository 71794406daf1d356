"""The terminal report: each violation with its grade and source and a repro that runs on
its own, repeats folded, then what could not be checked, then the tally."""

from __future__ import annotations

from collections.abc import Callable

from conformance.results import Results, Violation

#: an x-source-note is shown up to this many characters (the reports hold it whole)
NOTE_LIMIT = 240


def render(results: Results, write: Callable[[str], None] = print) -> None:
    for number, (violation, more) in enumerate(_folded(results.violations), 1):
        write(f"\n{number}. [{violation.check}] {results.api} {violation.operation} "
              f"({violation.grade})")
        write(f"   expected: {violation.expected}")
        write(f"   seen:     {violation.seen}")
        write(f"   source:   {violation.grade}: {violation.source.describe(NOTE_LIMIT)}")
        if violation.curl:
            write("   reproduce:")
            for line in violation.curl.splitlines():
                write(f"     {line}")
        if more:
            write(f"   and {more} more like this (all in the JSON and JUnit reports)")
    for entry in sorted(results.not_run.values(), key=lambda entry: entry.check):
        label = "skipped (does not apply)" if entry.exempt else "not run"
        write(f"{label} [{entry.check}]: {entry.reason}")
    passed, failed = results.counts
    write(f"{passed} passed, {failed} failed, {len(results.not_run)} skipped")


def _folded(violations: list[Violation]) -> list[tuple[Violation, int]]:
    """The first violation of each (check, operation, expected, grade), with how many
    followed: a fault seen on every request would otherwise print once per request."""
    groups: dict[tuple[str, str, str, str], list[Violation]] = {}
    for violation in violations:
        key = (violation.check, violation.operation, violation.expected, violation.grade)
        groups.setdefault(key, []).append(violation)
    return [(group[0], len(group) - 1) for group in groups.values()]
