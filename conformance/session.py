"""One run against one target: what every phase shares, and the one place checks record."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol
from urllib.parse import urlsplit

from hypothesis.stateful import RuleBasedStateMachine

from conformance import checks, interrupts, repro
from conformance.cleanup import Disposal, Ledger
from conformance.generation.positive import Pins
from conformance.readonly import LeftOut, writes
from conformance.results import Failure, Results
from conformance.spec import ApiSpec, Operation
from conformance.transport import (
    NO_CREDENTIALS,
    Case,
    Client,
    Credentials,
    Exchange,
    TargetUnreachable,
)
from vendor_specs.sources import NOTE, ROOT, Rule, source_of


class SetupError(RuntimeError):
    """The target or the profile cannot support a run (exit status 2)."""


@dataclass(frozen=True)
class RunSettings:
    max_examples: int = 20
    seed: int = 0
    #: without the mock clock, the longest any one time-based check waits in real time
    max_wait: float = 60.0
    #: send nothing that may change state (conformance.readonly)
    read_only: bool = False
    #: leave what the run created in place (conformance.cleanup)
    keep_data: bool = False


#: findings about the run itself rather than one rule: always graded by the contract's
#: rules at the spec's root (a refused request the suite needed; an answer it could not
#: interpret), whatever the request was
SUITE_RULES = {"setup": (ROOT, "x-conformance-rules", "setup"),
               "unexpected_response": (ROOT, "x-conformance-rules", "interpretable-answers")}

#: the first and the longest pause between two polls of a real-time wait
FIRST_POLL, LONGEST_POLL = 0.5, 2.0


class MockClock:
    """The mock's ``/__admin/clock``, when the target has one: time-based checks need it."""

    def __init__(self, client: Client, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._url = f"{parts.scheme}://{parts.netloc}/__admin/clock"
        self._client = client

    def available(self) -> bool:
        try:
            return self._client.request("GET", self._url).status == 200
        except ConnectionError:
            return False

    def advance(self, seconds: float) -> None:
        exchange = self._client.request(
            "POST", self._url, headers={"Content-Type": "application/json"},
            data=f'{{"advance_seconds": {seconds}}}'.encode())
        if exchange.status != 200:
            raise SetupError(f"the mock clock refused to advance: {exchange.status}")


class Adapter(Protocol):
    """What the suite must know of an API beyond its spec: how its accounts sign in, which
    values make a request meaningful, and the model of its documented semantics."""

    name: str
    #: request fields that carry credentials, never mutated by negative tests
    protected_fields: frozenset[str]
    #: the semantic checks its model and flows assert: one that records no verdict in a
    #: run (a create the server always refused, say) is reported as not run, never passed
    checks: tuple[str, ...]
    #: values the run makes unique (names a server refuses twice): repros renew them
    generated_values: re.Pattern[str] | None
    #: operations that only sign an account in: ``--read-only`` still sends them
    sign_ins: frozenset[str]
    #: what the run can create, and how it is removed at the end (conformance.cleanup)
    disposals: tuple[Disposal, ...]

    def sign_in(self, session: Session, account: Mapping[str, Any]) -> Credentials: ...

    def alive(self, session: Session, credentials: Credentials) -> bool:
        """Whether a credential the run signed in with still works (a session the server
        may end); static API keys are always alive."""

    def invalid_credentials(self) -> Credentials: ...

    def pins(self, session: Session, operation: Operation) -> Pins | None:
        """Values for valid requests; None to leave an operation to the stateful model."""

    def machine(self, session: Session) -> type[RuleBasedStateMachine] | None: ...

    def flows(self) -> Iterable[Callable[[Session], None]]: ...


@dataclass
class Session:
    spec: ApiSpec
    client: Client
    profile: Mapping[str, Any]
    adapter: Adapter
    settings: RunSettings
    clock: MockClock | None = None
    results: Results = field(init=False)
    primary: Credentials = field(default_factory=Credentials)
    secondary: Credentials = field(default_factory=Credentials)
    progress: Callable[[str], None] = print
    ledger: Ledger = field(init=False)
    #: operationId -> the index of the baseline variant the server accepted (baseline.py)
    baselines: dict[str, int] = field(default_factory=dict)
    _refusals: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.results = Results(self.spec.name)
        self.ledger = Ledger(tuple(self.adapter.disposals))

    @contextmanager
    def refusal_expected(self) -> Iterator[None]:
        """Requests the contract says are refused before anything changes (invalid input,
        no credentials, another account's data): ``--read-only`` sends them."""
        self._refusals += 1
        try:
            yield
        finally:
            self._refusals -= 1

    def guard(self, what: str) -> None:
        """Under ``--read-only``, stop before a request that may change state."""
        if self.settings.read_only and not self._refusals:
            raise LeftOut(what)

    def wait_until(self, check: str, what: str, ready: Callable[[], bool],
                   clock_seconds: float, promised: float | None = None) -> bool:
        """Let a documented transition happen, in one way for every adapter. With the mock
        clock: move it ``clock_seconds`` (the mock's timing) and leave the judging to the
        caller's next read. Without: poll ``ready`` (it may record a violation and raise)
        with a backoff until it holds, the time the document ``promised`` it within
        (seconds from now) has passed, or ``--max-wait`` runs out. True when the caller
        should read and judge: it happened, or it is overdue (a violation). False when
        the wait was too short to tell: ``check`` is listed as not run, visibly."""
        if self.clock is not None:
            self.clock.advance(clock_seconds)
            return True
        limit = self.settings.max_wait
        if promised is not None and promised > limit:
            return self._not_waited(check, what, f" (due only after {promised:.0f} s)")
        deadline = time.monotonic() + (limit if promised is None else promised)
        pause = FIRST_POLL
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return promised is not None or self._not_waited(check, what, "")
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, LONGEST_POLL)
        return True

    def elapse(self, check: str, what: str, seconds: float) -> bool:
        """Let a fixed time pass (an expiry): the mock clock moves, or, where it fits in
        ``--max-wait``, the run sleeps; otherwise ``check`` is listed as not run."""
        if self.clock is not None:
            self.clock.advance(seconds)
            return True
        if seconds > self.settings.max_wait:
            return self._not_waited(check, what, f" (it takes {seconds:.0f} s)")
        time.sleep(seconds)
        return True

    def _not_waited(self, check: str, what: str, detail: str) -> bool:
        """Not exempt: a longer ``--max-wait`` would have run it."""
        self.results.skip(check, f"{what} did not happen within --max-wait "
                                 f"{self.settings.max_wait:g} s{detail}")
        return False

    def operation(self, operation_id: str) -> Operation:
        return self.spec.operation(operation_id)

    def send(self, operation_id: str, credentials: Credentials | None = None,
             **case: Any) -> Exchange:
        """A request as a client sends it (the primary's credentials unless told otherwise),
        with every response check run on the answer."""
        return self.send_case(Case(self.operation(operation_id), **case), credentials)

    def send_case(self, request: Case, credentials: Credentials | None = None) -> Exchange:
        """``send`` for a case already built (generated or mutated)."""
        credentials = self.primary if credentials is None else credentials
        if writes(request.operation, self.adapter.sign_ins):
            self.guard(request.operation.operation_id)
        owner = self._role(credentials) or credentials
        with interrupts.deferred():  # what the request creates reaches the ledger
            try:
                exchange = self.client.send(request, credentials)
                if exchange.status in (401, 403):
                    exchange = self._renewed(request, credentials, exchange)
            except (TargetUnreachable, KeyboardInterrupt):  # a timeout, a second Ctrl-C
                self.ledger.unanswered(request, owner)
                raise
            self.ledger.observe(request, exchange, owner)
        self.judge_response(exchange)
        return exchange

    def _role(self, credentials: Credentials) -> str | None:
        """Which profile account these credentials are now, if either."""
        return next((name for name, held in (("primary", self.primary),
                                             ("secondary", self.secondary))
                     if held == credentials and held != NO_CREDENTIALS), None)

    def _renewed(self, request: Case, credentials: Credentials, refused: Exchange) -> Exchange:
        """A refusal of one of the run's own credentials that has stopped working: one
        ``session`` violation, a fresh sign-in and one retry, so the loss is never
        reported under whichever check happened to send the next request."""
        role = self._role(credentials)
        if role is None or self.adapter.alive(self, credentials):
            return refused
        self.expect("session", request.operation, Failure(
            f"the {role} account's credentials keep working for the whole run",
            f"they stopped working ({refused.status} "
            f"{refused.body[:120].decode('utf-8', 'replace')}); signed in again",
            at=("security", NOTE)), refused)
        return self.client.send(request, self.sign_in_again(role))

    def sign_in_again(self, role: str) -> Credentials:
        """Fresh credentials for the profile account ``role`` ("primary" or "secondary"),
        kept as its credentials from now on."""
        renewed = self.adapter.sign_in(self, self.profile[role])
        setattr(self, role, renewed)
        return renewed

    def judge_response(self, exchange: Exchange) -> None:
        """Every response check, on any exchange with a known operation."""
        if exchange.operation is None:
            return
        for check in checks.RESPONSE_CHECKS:
            self.expect(check.__name__, exchange.operation, check(exchange.operation, exchange),
                        exchange)

    def expect(self, check: str, operation: Operation | str, failure: Failure | None,
               exchange: Exchange | None) -> bool:
        """Record one verdict, a violation graded by the source of the rule it broke;
        True when it passed."""
        name = operation.operation_id if isinstance(operation, Operation) else operation
        if failure is None:
            self.results.record(check, name, None, "")
            return True
        known = operation if isinstance(operation, Operation) else self._operation_named(name)
        at = SUITE_RULES.get(check, failure.at)
        self.results.record(check, name, failure, self.repro(exchange) if exchange else "",
                            source_of(Rule(self.spec.document, self.spec.origin,
                                           known.path if known else None,
                                           known.method if known else "", at)),
                            exchange.status if exchange else None)
        return False

    def repro(self, exchange: Exchange) -> str:
        """A script that shows ``exchange`` again after the run, on its own."""
        return repro.script(exchange, self.client.exchanges, self._profile_values,
                            self.adapter.generated_values)

    @cached_property
    def _profile_values(self) -> frozenset[str]:
        """The profile's values: they outlive the run, so repros use them as they are."""
        return frozenset(_scalars(self.profile))

    def _operation_named(self, name: str) -> Operation | None:
        """Findings of a flow may name their operation by id, or a label: "(model)"."""
        try:
            return self.spec.operation(name)
        except KeyError:
            return None


def _scalars(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _scalars(value)
    elif node is not None:
        yield str(node).lower() if isinstance(node, bool) else str(node)
