"""What a run found: violations, passes and the checks that could not run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vendor_specs.sources import Grade, Source

NO_SOURCE = Source()

#: what ``--fail-on`` names: the grades that make a run fail
FAILING_GRADES: dict[str, frozenset[str]] = {
    "document": frozenset({"document"}),
    "contract": frozenset({"document", "contract"}),
}


@dataclass(frozen=True)
class Failure:
    """A check's verdict on one exchange: what the contract expected, what was seen, and
    where in the operation's spec the rule lives (keys from the operation's node, such as
    ``("responses", "409")``; a leading ``"#"`` starts at the spec's root), so that the
    finding can be graded by that rule's source (:mod:`vendor_specs.sources`)."""

    expected: str
    seen: str
    at: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Violation:
    check: str
    operation: str
    expected: str
    seen: str
    curl: str
    grade: Grade = "contract"
    source: Source = field(default_factory=Source)
    #: the HTTP status of the answer judged, when there was one
    status: int | None = None


@dataclass(frozen=True)
class NotRun:
    """A check that never reached its assertion, and why. ``exempt`` ones (nothing at the
    target to use, such as a FAILED capture) are reported but never make a run incomplete;
    a wait too short for a time-based check is not exempt: a longer one would run it."""

    check: str
    reason: str
    exempt: bool = False


@dataclass
class Results:
    api: str
    violations: list[Violation] = field(default_factory=list)
    passes: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_run: dict[str, NotRun] = field(default_factory=dict)

    def record(self, check: str, operation: str, failure: Failure | None, curl: str,
               source: Source = NO_SOURCE, status: int | None = None) -> None:
        """Every failure is kept: the reports hold each one, the console folds repeats."""
        if failure is None:
            self.passes[(check, operation)] += 1
            return
        self.violations.append(Violation(check, operation, failure.expected, failure.seen,
                                         curl, source.grade, source, status))

    def skip(self, check: str, reason: str, exempt: bool = False) -> None:
        """A check left out, with its reason; several reasons for one check add up."""
        earlier = self.not_run.get(check)
        if earlier is not None and reason not in earlier.reason:
            reason, exempt = f"{earlier.reason}; {reason}", earlier.exempt and exempt
        self.not_run[check] = NotRun(check, reason, exempt)

    def checks_seen(self) -> set[str]:
        return {check for check, _ in self.passes} | {v.check for v in self.violations}

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

    @property
    def complete(self) -> bool:
        """Every check could run, but the exempt ones."""
        return all(entry.exempt for entry in self.not_run.values())

    def failing(self, fail_on: str = "contract") -> list[Violation]:
        """The violations whose grade ``--fail-on`` counts against the target."""
        grades = FAILING_GRADES[fail_on]
        return [violation for violation in self.violations if violation.grade in grades]

    def failures_per_pair(self) -> Counter[tuple[str, str]]:
        return Counter((violation.check, violation.operation) for violation in self.violations)
