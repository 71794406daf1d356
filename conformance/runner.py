"""A run, phase by phase: schema-driven requests, credentials, the stateful model, flows."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test as _run_machine

from conformance import checks
from conformance.apis import load_adapter
from conformance.cleanup import clean_up
from conformance.generation import negative, positive
from conformance.readonly import REASON, LeftOut, writes
from conformance.results import Failure
from conformance.session import MockClock, RunSettings, Session
from conformance.spec import Operation, load_api_spec
from conformance.stateful import ModelDiverged
from conformance.transport import (
    NO_CREDENTIALS,
    Case,
    Client,
    Credentials,
    TargetUnreachable,
)

#: typed here: Hypothesis releases before 6.170 leave it unannotated
run_state_machine_as_test: Callable[..., None] = _run_machine


def hypothesis_settings(max_examples: int, **overrides: Any) -> settings:
    return settings(max_examples=max_examples, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate], derandomize=False,
                    suppress_health_check=list(HealthCheck), **overrides)


def run(api: str, base_url: str, profile: dict[str, Any], run_settings: RunSettings,
        progress: Callable[[str], None] = print, spec_path: str | None = None) -> Session:
    spec = load_api_spec(api, spec_path)
    client = Client(base_url)
    session = Session(spec, client, profile, load_adapter(api), run_settings, progress=progress)
    clock = MockClock(client, base_url)
    session.clock = clock if clock.available() else None
    try:
        _phases(session, profile)
    finally:
        clean_up(session)  # also after an error, a refused sign-in or Ctrl-C
    return session


def _phases(session: Session, profile: dict[str, Any]) -> None:
    session.primary = session.adapter.sign_in(session, profile["primary"])
    session.secondary = session.adapter.sign_in(session, profile["secondary"])
    left_out: list[str] = []
    for operation in session.spec.operations:
        _guarded(session, operation.operation_id,
                 partial(_schema_phase, session, operation, left_out))
    if left_out:
        session.results.skip("accepts_valid_input", f"{REASON} for {', '.join(left_out)}",
                             exempt=True)
    _guarded(session, "(model)", lambda: _stateful_phase(session))
    for flow in session.adapter.flows():
        _guarded(session, flow.__name__, partial(_flow, session, flow))
    _report_unreached(session)


def _report_unreached(session: Session) -> None:
    """A check that never reached its assertion is not a pass: name it, and the likely
    cause, the operations that never once answered 2xx."""
    seen = session.results.checks_seen() | set(session.results.not_run)
    unreached = [check for check in session.adapter.checks if check not in seen]
    if not unreached:
        return
    refused = [operation_id for operation_id, statuses in _statuses_seen(session).items()
               if not any(200 <= status < 300 for status in statuses)]
    cause = (f"{', '.join(refused)} never answered 2xx" if refused
             else "the requests it needs did not get that far")
    for check in unreached:
        if session.settings.read_only:  # the model and the flows' writes were left out
            session.results.skip(check, f"{REASON} (it needs writes)", exempt=True)
        else:
            session.results.skip(check, f"never reached its assertion: {cause}")


def _guarded(session: Session, label: str, phase: Callable[[], None]) -> None:
    """A server that breaks the suite's assumptions (an answer it cannot read) is a
    violation to report, never a crash of the run."""
    try:
        phase()
    except TargetUnreachable:
        raise
    except Exception as error:
        if _caused_by(error, LeftOut):
            session.progress(f"  {label:<24} stopped at a write: {REASON}")
        elif not _caused_by(error, ModelDiverged):
            session.expect("unexpected_response", label,
                           Failure("answers the suite can interpret", repr(error)[:300]), None)


def _schema_phase(session: Session, operation: Operation, left_out: list[str]) -> None:
    """Valid, invalid and unauthenticated requests; under --read-only no valid one that
    may write (its operation joins ``left_out``)."""
    pins = session.adapter.pins(session, operation)
    if pins is None:
        session.progress(f"  {operation.operation_id:<24} left to the stateful model")
        return
    before = len(session.client.exchanges)
    if session.settings.read_only and writes(operation, session.adapter.sign_ins):
        left_out.append(operation.operation_id)
    else:
        _positive(session, operation, pins)
    _negative(session, operation, pins)
    if operation.secured:
        _credentials(session, operation, pins)
    sent = len(session.client.exchanges) - before
    session.progress(f"  {operation.operation_id:<24} {sent} requests")


def _given(session: Session, strategy: st.SearchStrategy[Any], examples: int,
           test: Callable[[Any], None]) -> None:
    run_test = seed(session.settings.seed)(
        hypothesis_settings(examples)(given(strategy)(test)))
    run_test()


def _positive(session: Session, operation: Operation, pins: positive.Pins) -> None:
    def send_valid(case: Case) -> None:
        exchange = session.send_case(case)
        session.expect("accepts_valid_input", operation,
                       checks.accepts_valid_input(operation, exchange), exchange)

    _given(session, positive.cases(operation, pins), session.settings.max_examples, send_valid)


_NEGATIVE_TRIES = 3  # valid requests a mutation may be applied to before it is dropped


def _negative(session: Session, operation: Operation, pins: positive.Pins) -> None:
    for mutation in negative.mutations(operation, session.adapter.protected_fields):
        _given(session, positive.exemplary_cases(operation, pins), _NEGATIVE_TRIES,
               _invalid_sender(session, operation, mutation))


def _invalid_sender(session: Session, operation: Operation,
                    mutation: negative.Mutation) -> Callable[[Case], None]:
    """Sends the mutation once, on the first valid request where, as it goes on the wire,
    it breaks exactly its rule; a mutation that never does (valid after all, or breaking
    two rules at once) is not sent."""
    sent = False

    def send_invalid(case: Case) -> None:
        nonlocal sent
        mutated = mutation.apply(case)
        if sent or not negative.breaks_only(mutation, mutated):
            return
        sent = True
        with session.refusal_expected():  # refused by validation, before any change
            exchange = session.send_case(mutated)
        session.expect("rejects_invalid_input", operation,
                       checks.rejects_invalid_input(operation, exchange, mutation), exchange)

    return send_invalid


def _credentials(session: Session, operation: Operation, pins: positive.Pins) -> None:
    """Invalid credentials are refused wherever credentials are accepted; missing ones only
    where the spec requires them (its security may list ``{}``: optional)."""
    variants = [("invalid", session.adapter.invalid_credentials())]
    if operation.requires_auth:
        variants.insert(0, ("no", NO_CREDENTIALS))
    for label, credentials in variants:
        _given(session, positive.cases(operation, pins), 1,
               _unauthenticated_sender(session, operation, label, credentials))


def _unauthenticated_sender(session: Session, operation: Operation, label: str,
                            credentials: Credentials) -> Callable[[Case], None]:
    def send_unauthenticated(case: Case) -> None:
        with session.refusal_expected():
            exchange = session.send_case(case, credentials)
        session.expect("auth_required", operation,
                       checks.auth_required(operation, exchange, label), exchange)

    return send_unauthenticated


def _stateful_phase(session: Session) -> None:
    machine = session.adapter.machine(session)
    if machine is None:
        return
    if session.settings.read_only:  # every model builds on data of its own
        session.progress(f"  {'stateful model':<24} {REASON}")
        return
    machine = seed(session.settings.seed)(machine)
    before = len(session.client.exchanges)
    try:
        run_state_machine_as_test(
            machine, settings=hypothesis_settings(max(5, session.settings.max_examples // 2),
                                                  stateful_step_count=20))
    finally:
        sent = len(session.client.exchanges) - before
        session.progress(f"  {'stateful model':<24} {sent} requests")


def _flow(session: Session, flow: Callable[[Session], None]) -> None:
    before = len(session.client.exchanges)
    try:
        flow(session)
    finally:
        sent = len(session.client.exchanges) - before
        session.progress(f"  {'flow ' + flow.__name__:<24} {sent} requests")


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(error, kind):
        return True
    nested = getattr(error, "exceptions", ())
    return any(_caused_by(inner, kind) for inner in nested) or (
        error.__cause__ is not None and _caused_by(error.__cause__, kind))


def _statuses_seen(session: Session) -> dict[str, set[int]]:
    """operationId -> the statuses its answers had, for every operation of the spec."""
    seen: dict[str, set[int]] = {operation.operation_id: set()
                                 for operation in session.spec.operations}
    for exchange in session.client.exchanges:
        if exchange.operation is not None:
            seen[exchange.operation.operation_id].add(exchange.status)
    return seen


def coverage(session: Session) -> dict[str, Any]:
    """Which operations and documented statuses the run exercised, against all documented."""
    seen = _statuses_seen(session)
    operations: dict[str, dict[str, Any]] = {}
    for operation in session.spec.operations:
        statuses = seen.get(operation.operation_id, set())
        documented = sorted(operation.documented_statuses)
        operations[operation.operation_id] = {
            "exercised": bool(statuses), "documented_statuses": documented,
            "statuses_seen": sorted(statuses),
            "documented_statuses_seen": sorted(statuses & set(documented)),
        }
    documented_total = sum(len(o["documented_statuses"]) for o in operations.values())
    seen_total = sum(len(o["documented_statuses_seen"]) for o in operations.values())
    return {"operations": operations,
            "operations_exercised": sum(o["exercised"] for o in operations.values()),
            "operations_total": len(operations),
            "statuses_exercised": seen_total, "statuses_documented": documented_total}

