"""The machine-readable report: violations, tallies, skips and coverage."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conformance.results import Results


def report(results: Results, coverage: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    passed, failed = results.counts
    checks: dict[str, dict[str, int]] = {}
    for (check, _operation), ok in results.outcomes().items():
        tally = checks.setdefault(check, {"passed": 0, "failed": 0})
        tally["passed" if ok else "failed"] += 1
    return {**meta, "api": results.api, "passed": passed, "failed": failed, "checks": checks,
            "violations": [asdict(violation) for violation in results.violations],
            "grades": {grade: sum(v.grade == grade for v in results.violations)
                       for grade in ("document", "contract")},
            "failing_exchanges": {f"{check} {operation}": count
                                  for (check, operation), count
                                  in results.failures_per_pair().items()},
            "skipped": len(results.not_run), "complete": results.complete,
            "not_run": [asdict(entry) for entry in results.not_run.values()],
            "coverage": coverage}


def write_report(document: dict[str, Any], path: str) -> None:
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
