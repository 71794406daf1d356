"""Models of each API's documented semantics, run beside the server by Hypothesis.

A machine sends what a client would send, predicts every answer from its model, and
reports a mismatch under a stable check name (``read_after_write``, ``isolation``, ...).
After the first mismatch the model no longer knows the server's state, so the machine
stops rather than report the same fault again under other names.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis.stateful import RuleBasedStateMachine, multiple, rule

from conformance.results import Failure
from conformance.session import Session
from conformance.spec import Location, Operation
from conformance.transport import Credentials, Exchange


class ModelDiverged(Exception):
    """The server disagreed with the model; already recorded as a violation."""


def model_rule(**arguments: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@rule``, except that once the model has diverged every step is a no-op.

    Raising through Hypothesis would make it replay the failing steps against a server
    whose state has moved on, which reports flakiness instead of the fault.
    """
    produces = "target" in arguments or "targets" in arguments

    def decorate(method: Callable[..., Any]) -> Any:
        @functools.wraps(method)
        def guarded(self: ModelMachine, **values: Any) -> Any:
            if not self.diverged:
                try:
                    return method(self, **values)
                except ModelDiverged:
                    self.diverged = True
            return multiple() if produces else None

        as_rule: Callable[[Callable[..., Any]], Any] = rule(**arguments)
        return as_rule(guarded)

    return decorate


class ModelMachine(RuleBasedStateMachine):
    session: ClassVar[Session]

    def __init__(self) -> None:
        super().__init__()
        self.diverged = False

    def send(self, operation_id: str, credentials: Credentials | None = None,
             **case: Any) -> Exchange:
        return self.session.send(operation_id, credentials, **case)

    def expect(self, check: str, operation: Operation | str, failure: Failure | None,
               exchange: Exchange | None) -> None:
        if not self.session.expect(check, operation, failure, exchange):
            raise ModelDiverged(check)

    def expect_status(self, check: str, exchange: Exchange, *expected: int) -> None:
        """The answer's status; a miss breaks the expected answer's rule."""
        failure = None if exchange.status in expected else Failure(
            f"status {' or '.join(map(str, expected))}",
            f"{exchange.status} {exchange.body[:200].decode('utf-8', 'replace')}",
            exchange.answer_at(expected[0]))
        self.expect(check, exchange.operation or "(flow)", failure, exchange)

    def expect_accepted(self, exchange: Exchange) -> None:
        """The model's own create, valid and plain: a refusal is one ``setup`` finding with
        the server's answer, never blamed on the check that needed the data (which 2xx it
        is, status_code_documented judges)."""
        failure = None if 200 <= exchange.status < 300 else Failure(
            "a 2xx for the run's own valid data",
            f"{exchange.status} {exchange.body[:200].decode('utf-8', 'replace')}")
        self.expect("setup", exchange.operation or "(model)", failure, exchange)

    def expect_equal(self, check: str, exchange: Exchange, expected: Any, seen: Any,
                     what: str, at: Location | None = None) -> None:
        """A value the model predicts; by default the rule is the answer's own response."""
        failure = None if expected == seen else Failure(
            f"{what} = {expected!r}", repr(seen), exchange.answer_at() if at is None else at)
        self.expect(check, exchange.operation or "(flow)", failure, exchange)
