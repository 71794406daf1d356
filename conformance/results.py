"""What a run found: violations, passes and skips, keyed by check and operation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: a fault seen on every request would otherwise be printed once per request (answers carry
#: fresh ids, so they never repeat exactly); the JSON report still counts every failure
MAX_SHOWN_PER_PAIR = 3


@dataclass(frozen=True)
class Failure:
    """A check's verdict on one exchange: what the contract expected, what was seen."""

    expected: str
    seen: str


@dataclass(frozen=True)
class Violation:
    check: str
    operation: str
    expected: str
    seen: str
    curl: str


@dataclass
class Results:
    api: str
    violations: list[Violation] = field(default_factory=list)
    passes: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)
    _seen: set[tuple[str, str, str, str]] = field(default_factory=set, repr=False)

    def record(self, check: str, operation: str, failure: Failure | None, curl: str) -> None:
        if failure is None:
            self.passes[(check, operation)] += 1
            return
        key = (check, operation, failure.expected, failure.seen[:200])
        shown = sum(1 for v in self.violations if (v.check, v.operation) == (check, operation))
        if key not in self._seen and shown < MAX_SHOWN_PER_PAIR:
            self._seen.add(key)
            self.violations.append(Violation(check, operation, failure.expected, failure.seen,
                                             curl))
        self.failures[(check, operation)] += 1

    def skip(self, check: str, reason: str) -> None:
        self.skipped[check] = reason

    def outcomes(self) -> dict[tuple[str, str], bool]:
        """(check, operation) -> passed; a pair fails if any exchange violated it."""
        outcome = {pair: True for pair in self.passes}
        for violation in self.violations:
            outcome[(violation.check, violation.operation)] = False
        return outcome

    @property
    def counts(self) -> tuple[int, int]:
        outcomes = self.outcomes().values()
        return sum(outcomes), sum(not ok for ok in outcomes)
