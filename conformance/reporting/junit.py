"""JUnit XML for CI: one test case per (check, operation), a failure per violation, each
with its grade (also a ``grade`` property of the case) and the source it breaks."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from conformance.results import Results, Violation


def write_junit(results: Results, path: str) -> None:
    outcomes = results.outcomes()
    _, failed = results.counts
    suite = ElementTree.Element(
        "testsuite", name=f"conformance.{results.api}", tests=str(len(outcomes) +
                                                              len(results.not_run)),
        failures=str(failed), skipped=str(len(results.not_run)), errors="0")
    by_pair: dict[tuple[str, str], list[Violation]] = {}
    for violation in results.violations:
        by_pair.setdefault((violation.check, violation.operation), []).append(violation)
    for (check, operation), ok in sorted(outcomes.items()):
        case = ElementTree.SubElement(suite, "testcase", classname=f"{results.api}.{check}",
                                      name=operation)
        if not ok:
            _failure(case, check, by_pair[(check, operation)])
    for entry in sorted(results.not_run.values(), key=lambda entry: entry.check):
        case = ElementTree.SubElement(suite, "testcase",
                                      classname=f"{results.api}.{entry.check}",
                                      name="(skipped)" if entry.exempt else "(not run)")
        ElementTree.SubElement(case, "skipped", message=entry.reason)
    Path(path).write_bytes(ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True))


def _failure(case: ElementTree.Element, check: str, violations: list[Violation]) -> None:
    properties = ElementTree.SubElement(case, "properties")
    for grade in sorted({violation.grade for violation in violations}):
        ElementTree.SubElement(properties, "property", name="grade", value=grade)
    first = violations[0]
    failure = ElementTree.SubElement(
        case, "failure", type=check,
        message=f"[{first.grade}] expected: {first.expected}".splitlines()[0])
    failure.text = "\n\n".join(
        f"grade: {violation.grade}\nexpected: {violation.expected}\nseen: {violation.seen}\n"
        f"source: {violation.source.describe()}\nreproduce:\n{violation.curl}"
        for violation in violations)
