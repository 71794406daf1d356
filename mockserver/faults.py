"""Fault rules: what ``POST /__admin/faults`` can make the mock do to a matching request.

A rule may add latency, answer with one of the operation's documented error statuses (the
documented body, never an invented one), or rate-limit each credential. Rules live in the
state store so that every worker applies the same ones; rate-limit windows run on the mock
clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mockserver.clock import Clock
from mockserver.contracts import Operation
from mockserver.store import StateStore

_RULES = "fault"
_WINDOWS = "ratelimit"


class FaultRuleError(ValueError):
    pass


@dataclass(frozen=True)
class FaultRule:
    id: int
    api: str | None = None
    operation: str | None = None
    latency_ms: int = 0
    status: int | None = None
    rate_limit: int | None = None  # requests per window and credential
    window_seconds: int = 60

    def matches(self, operation: Operation) -> bool:
        return (self.api in (None, operation.api)) and (
            self.operation in (None, operation.operation_id)
        )


@dataclass(frozen=True)
class Verdict:
    latency_ms: int = 0
    status: int | None = None
    retry_after: int | None = None


_NO_FAULT = Verdict()


class Faults:
    def __init__(self, store: StateStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    def add(self, request: Mapping[str, Any], operations: Iterable[Operation]) -> FaultRule:
        rule = _parse_rule(self._store.next_id("fault"), request)
        targets = [operation for operation in operations if rule.matches(operation)]
        if not targets:
            raise FaultRuleError("the rule matches no operation of the served APIs")
        for status in filter(None, [rule.status, 429 if rule.rate_limit else None]):
            if not any(status in target.documented_statuses for target in targets):
                raise FaultRuleError(
                    f"status {status} is not documented for any matching operation; "
                    "a fault answers only with documented responses"
                )
        self._store.put(_RULES, str(rule.id), asdict(rule))
        return rule

    def rules(self) -> list[FaultRule]:
        return [FaultRule(**record) for record in self._store.find(_RULES)]

    def restore(self, rules: Iterable[FaultRule]) -> None:
        """Put back rules read with ``rules`` after the store was cleared; their
        rate-limit windows start over."""
        for rule in rules:
            self._store.put(_RULES, str(rule.id), asdict(rule))
            self._store.raise_counter("fault", rule.id)

    def clear(self) -> None:
        for kind in (_RULES, _WINDOWS):
            for key in self._store.iter_keys(kind):
                self._store.delete(kind, key)

    def judge(self, operation: Operation,
              credential: Callable[[], str | None]) -> Verdict:
        """What the matching rules do to this request; the first error status wins. The
        credential is asked for only when a rate limit applies (reading it may parse a body)."""
        rules = self.rules()
        if not rules:
            return _NO_FAULT
        latency, status, retry_after = 0, None, None
        for rule in rules:
            if not rule.matches(operation):
                continue
            latency += rule.latency_ms
            documented = operation.documented_statuses
            if status is None and rule.status in documented:
                status = rule.status
            if status is None and rule.rate_limit is not None and 429 in documented:
                retry_after = self._spend(rule, credential() or "anonymous")
                status = 429 if retry_after is not None else None
        return Verdict(latency, status, retry_after)

    def _spend(self, rule: FaultRule, credential: str) -> int | None:
        """Count one request; the seconds to wait if the window's budget is spent."""
        now = self._clock.now().timestamp()
        key = f"{rule.id}:{credential}"
        with self._store.transaction():
            window = self._store.get(_WINDOWS, key)
            if window is None or now >= window["start"] + rule.window_seconds:
                window = {"start": now, "count": 0}
            window = {**window, "count": window["count"] + 1}
            self._store.put(_WINDOWS, key, window)
        if window["count"] <= (rule.rate_limit or 0):
            return None
        start: float = window["start"]
        return max(1, math.ceil(start + rule.window_seconds - now))


def _parse_rule(rule_id: int, request: Mapping[str, Any]) -> FaultRule:
    known = {"api", "operation", "latency_ms", "status", "rate_limit", "window_seconds"}
    unknown = sorted(set(request) - known)
    if unknown:
        raise FaultRuleError(
            f"unknown fields: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    _expect(request, ("api", "operation"), str)
    _expect(request, ("latency_ms", "status", "rate_limit", "window_seconds"), int)
    if not any(request.get(name) for name in ("latency_ms", "status", "rate_limit")):
        raise FaultRuleError("a rule needs latency_ms, status or rate_limit")
    if "status" in request and not 400 <= request["status"] <= 599:
        raise FaultRuleError("status must be an error status (400-599)")
    if request.get("latency_ms", 0) < 0 or request.get("latency_ms", 0) > 60_000:
        raise FaultRuleError("latency_ms must be between 0 and 60000")
    if request.get("rate_limit", 1) < 0 or request.get("window_seconds", 1) < 1:
        raise FaultRuleError("rate_limit must be >= 0 and window_seconds >= 1")
    return FaultRule(id=rule_id, **request)


def _expect(request: Mapping[str, Any], names: tuple[str, ...], kind: type) -> None:
    for name in names:
        value = request.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise FaultRuleError(f"{name} must be of type {kind.__name__}")
