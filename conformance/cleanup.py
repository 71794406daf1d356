"""What a run creates, recorded as it is created, and removed at its end where the API
allows: a run against a vendor's sandbox must not leave its test data behind.

Every answer the session sees passes through :meth:`Ledger.observe`: a 2xx from an
operation that creates something records it (its id, and which account made it), a 2xx
from the operation that removes it crosses it off. A create sent whose answer never came
(a timeout, a second Ctrl-C) is recorded too: the server may have made it, and where the
API lets the run find it by a name of its own, the clean-up does. :func:`clean_up` then
removes what is left, with requests of its own that no check judges: a refused removal
is one ``cleanup`` finding, never a ``delete_is_final`` one. Where the API offers no
removal, the summary says what stays and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conformance.baseline import RUN, answered
from conformance.results import Failure
from conformance.transport import Case, Credentials, Exchange, TargetUnreachable

if TYPE_CHECKING:
    from conformance.session import Session

Identify = Callable[[Case, Exchange], Any]
#: the id of what a never-answered create made, by the name it sent; None: none has it
Find = Callable[["Session", Case, Credentials], Any]


@dataclass(frozen=True)
class Disposal:
    """One kind of thing an API lets the suite create, and how it goes away again."""

    kind: str
    #: the operation that creates one
    create: str
    #: the new one's id, from the create's request and its 2xx answer (None: not named)
    identify: Identify
    #: the operation that removes one by its id; None where the API offers none
    delete: str | None = None
    #: the delete's path parameter that carries the id
    id_param: str = "id"
    #: what the delete does, as the summary says it ("deleted", "archived")
    verb: str = "deleted"
    #: why one stays, where there is no delete
    kept_because: str = ""
    #: the create's field that names one, and how one whose create was never answered is
    #: found by it; only a name of the run's own tells it from anyone else's
    name_field: str = ""
    find: Find | None = None


def body_field(name: str) -> Identify:
    """The id is a field of the create's JSON answer."""
    def identify(case: Case, exchange: Exchange) -> Any:
        body = exchange.json_or_none()
        return body.get(name) if isinstance(body, dict) else None

    return identify


@dataclass
class Created:
    disposal: Disposal
    id: Any
    #: "primary" or "secondary" (the delete uses that account's credentials of the moment,
    #: renewed or not), else the credentials themselves (a session of the run's own)
    owner: str | Credentials
    #: what the create sent, and its answer (None: it never came)
    case: Case
    exchange: Exchange | None
    removed: bool = False


@dataclass
class Outcome:
    """What the clean-up did with each thing the run created."""

    removed: list[Created] = field(default_factory=list)
    #: (thing, why it is still there)
    left: list[tuple[Created, str]] = field(default_factory=list)
    kept: list[Created] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        def entry(created: Created) -> dict[str, Any]:
            return {"kind": created.disposal.kind, "id": created.id}

        return {"removed": [entry(created) for created in self.removed],
                "left": [{**entry(created), "reason": reason} for created, reason in self.left],
                "kept": [entry(created) for created in self.kept]}


@dataclass
class Ledger:
    disposals: tuple[Disposal, ...] = ()
    entries: list[Created] = field(default_factory=list)
    outcome: Outcome | None = None
    #: a refused delete is one finding per run, however many follow
    refusal_reported: bool = False

    def observe(self, case: Case, exchange: Exchange, owner: str | Credentials) -> None:
        if not 200 <= exchange.status < 300:
            return
        operation_id = case.operation.operation_id
        for disposal in self.disposals:
            if operation_id == disposal.create:
                self.entries.append(Created(disposal, disposal.identify(case, exchange), owner,
                                            case, exchange))
            elif operation_id == disposal.delete:
                self._cross_off(disposal, case.path_params.get(disposal.id_param))

    def unanswered(self, case: Case, owner: str | Credentials) -> None:
        """A request sent whose answer never came: if it creates something, the server may
        have made it."""
        for disposal in self.disposals:
            if case.operation.operation_id == disposal.create:
                self.entries.append(Created(disposal, None, owner, case, None))

    def name(self, exchange: Exchange, identifier: Any) -> None:
        """The id of something whose create answered none (found later, in a list)."""
        for created in self.entries:
            if created.exchange is exchange and created.id is None:
                created.id = identifier

    def outstanding(self, kinds: Iterable[str] | None = None) -> list[Created]:
        wanted = None if kinds is None else set(kinds)
        return [created for created in self.entries if not created.removed
                and (wanted is None or created.disposal.kind in wanted)]

    def _cross_off(self, disposal: Disposal, identifier: Any) -> None:
        for created in self.entries:
            if created.disposal == disposal and str(created.id) == str(identifier):
                created.removed = True


def release(session: Session, kind: str, identifiers: Iterable[Any]) -> None:
    """Remove some of the run's things now, as the end of the run would (a flow done with
    its data; a model's records that would lengthen every later walk). Nothing under
    ``--keep-data``."""
    wanted = {str(identifier) for identifier in identifiers}
    chosen = [created for created in session.ledger.outstanding([kind])
              if str(created.id) in wanted]
    if not session.settings.keep_data:
        _remove(session, chosen, Outcome())


def clean_up(session: Session) -> Outcome:
    """Remove what the run created and is still there; say what stays, and why. Called
    once, whatever way the run ends (an error, a violation, Ctrl-C)."""
    ledger = session.ledger
    outcome = Outcome()
    if session.settings.keep_data:
        outcome.kept = ledger.outstanding()
    else:
        _remove(session, _found(session, ledger.outstanding(), outcome), outcome)
    ledger.outcome = outcome
    for line in summary(outcome, not ledger.entries):
        session.progress(line)
    return outcome


def _found(session: Session, outstanding: list[Created], outcome: Outcome) -> list[Created]:
    """``outstanding`` with the ids of what never-answered creates made, where the API lets
    the run find them; one found not to exist leaves the list, one not looked for stays."""
    kept = []
    for created in outstanding:
        find = created.disposal.find
        if created.exchange is None and find is not None and _runs_own_name(created):
            try:
                created.id = find(session, created.case, _credentials(session, created.owner))
            except TargetUnreachable as error:
                outcome.left.append((created, f"its create was never answered, and the "
                                              f"target became unreachable: {error}"))
                continue
            if created.id is None:
                continue
        kept.append(created)
    return kept


def _runs_own_name(created: Created) -> bool:
    body = created.case.body
    name = body.get(created.disposal.name_field) if isinstance(body, dict) else None
    return isinstance(name, str) and RUN in name


def _remove(session: Session, chosen: list[Created], outcome: Outcome) -> None:
    refused: list[Exchange] = []
    unreachable: str | None = None
    for created in chosen:
        reason = _why_it_stays(created) or unreachable
        if reason is None:
            try:
                exchange = _delete(session, created)
            except TargetUnreachable as error:  # the rest would wait for it in vain
                reason = unreachable = f"the target became unreachable: {error}"
            else:
                if 200 <= exchange.status < 300 or exchange.status == 404:
                    created.removed = True
                    outcome.removed.append(created)
                    continue
                refused.append(exchange)
                reason = f"the delete answered {answered(exchange)}"
        outcome.left.append((created, reason))
    if refused and not session.ledger.refusal_reported:
        session.ledger.refusal_reported = True
        first = refused[0]
        session.expect("cleanup", first.operation or "(clean-up)", Failure(
            "the run's own data removed at its end",
            f"{len(refused)} deletes refused, the first: {answered(first)}"), first)


def _why_it_stays(created: Created) -> str | None:
    if created.disposal.delete is None:
        return created.disposal.kept_because
    if created.id is None and created.exchange is None:
        return ("its create was never answered: the server may have made it, and the run "
                "cannot tell it from anyone else's")
    if created.id is None:
        return "its create answered no id to delete it by"
    return None


def _credentials(session: Session, owner: str | Credentials) -> Credentials:
    """A profile account's credentials of the moment, or a session of the run's own."""
    credentials: Credentials = getattr(session, owner) if isinstance(owner, str) else owner
    return credentials


def _delete(session: Session, created: Created) -> Exchange:
    """Not through ``Session.send``: no check judges the clean-up's own requests. A
    profile account whose session has ended is signed in again, quietly, and the delete
    sent once more."""
    disposal = created.disposal
    assert disposal.delete is not None
    case = Case(session.operation(disposal.delete), path_params={disposal.id_param: created.id})
    owner, credentials = created.owner, _credentials(session, created.owner)
    exchange = session.client.send(case, credentials)
    if (not isinstance(owner, str) or exchange.status not in (401, 403)
            or session.adapter.alive(session, credentials)):
        return exchange
    from conformance.session import SetupError  # the session module imports this one

    try:
        renewed = session.sign_in_again(owner)
    except SetupError:
        return exchange
    return session.client.send(case, renewed)


def summary(outcome: Outcome, nothing_created: bool) -> list[str]:
    """One line per kind and fate, for the console."""
    if nothing_created:
        return ["clean-up: the run created nothing"]
    lines = []
    for fate, things in (("kept (--keep-data)", outcome.kept),
                         ("", outcome.removed)):
        for kind, group in _by_kind(things).items():
            verb = fate or group[0].disposal.verb
            lines.append(f"clean-up: {verb} {len(group)} {_plural(kind, len(group))}: "
                         f"{_ids(group)}")
    reasons: dict[tuple[str, str], list[Created]] = {}
    for created, reason in outcome.left:
        reasons.setdefault((created.disposal.kind, reason), []).append(created)
    for (kind, reason), group in reasons.items():
        lines.append(f"clean-up: left {len(group)} {_plural(kind, len(group))} "
                     f"({_ids(group)}): {reason}")
    return lines or ["clean-up: nothing left to remove"]


def _by_kind(things: list[Created]) -> Mapping[str, list[Created]]:
    groups: dict[str, list[Created]] = {}
    for created in things:
        groups.setdefault(created.disposal.kind, []).append(created)
    return groups


def _plural(kind: str, count: int) -> str:
    return kind if count == 1 else kind + "s"


def _ids(group: list[Created], shown: int = 10) -> str:
    ids = ", ".join("unknown id" if created.id is None else str(created.id)
                    for created in group[:shown])
    return ids + (f" and {len(group) - shown} more" if len(group) > shown else "")
