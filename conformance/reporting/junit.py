"""JUnit XML for CI: one test case per (check, operation), a failure per violation."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from conformance.results import Results


def write_junit(results: Results, path: str) -> None:
    outcomes = results.outcomes()
    _, failed = results.counts
    suite = ElementTree.Element(
        "testsuite", name=f"conformance.{results.api}", tests=str(len(outcomes) +
                                                              len(results.not_run)),
        failures=str(failed), skipped=str(len(results.not_run)), errors="0")
    by_pair: dict[tuple[str, str], list[str]] = {}
    for violation in results.violations:
        by_pair.setdefault((violation.check, violation.operation), []).append(
            f"expected: {violation.expected}\nseen: {violation.seen}\n"
            f"reproduce: {violation.curl}")
    for (check, operation), ok in sorted(outcomes.items()):
        case = ElementTree.SubElement(suite, "testcase", classname=f"{results.api}.{check}",
                                      name=operation)
        if not ok:
            messages = by_pair[(check, operation)]
            failure = ElementTree.SubElement(case, "failure", message=messages[0].splitlines()[0],
                                             type=check)
            failure.text = "\n\n".join(messages)
    for entry in sorted(results.not_run.values(), key=lambda entry: entry.check):
        case = ElementTree.SubElement(suite, "testcase",
                                      classname=f"{results.api}.{entry.check}",
                                      name="(skipped)" if entry.exempt else "(not run)")
        ElementTree.SubElement(case, "skipped", message=entry.reason)
    Path(path).write_bytes(ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True))
