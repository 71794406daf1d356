"""The baseline create: the request that makes the data the model and the flows need.

A strict real server may refuse what the contract allows (a name longer than it likes, a
field it does not know, a time in the document's own format), and then every check that
needs data would have none. So each adapter declares its baseline as ordered variants in
one place: first the document's own sample request, then safer ones (fewer optional
fields, shorter plain-ASCII names). The first time data is needed each variant is tried
in turn: a refusal is one violation that names the variant and quotes the server's
answer (``accepts_valid_input``, graded by the document, for its own sample; ``setup``
for a safer one), and the first variant accepted is used for the rest of the run.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.generation.positive import documented_body, documented_body_at
from conformance.results import Failure
from conformance.spec import Operation
from conformance.transport import Exchange

if TYPE_CHECKING:
    from conformance.session import Session


#: a suffix per run, random even under a fixed seed (a rerun against the same server must
#: not collide), then a counter: names stay unique and short
RUN = uuid.uuid4().hex[:6]
_COUNTER = itertools.count(1)


def unique(prefix: str, separator: str = "-") -> str:
    """``<prefix>-<run>-<n>``: plain ASCII, unique per run by a short suffix."""
    return separator.join((prefix, RUN, str(next(_COUNTER))))


@dataclass(frozen=True)
class Variant:
    label: str
    #: a new body each call (names stay unique)
    body: Callable[[Session], dict[str, Any]]


def current(session: Session, operation_id: str, variants: Sequence[Variant]) -> Variant:
    """The variant the server accepted, or the first while none has been tried."""
    return variants[session.baselines.get(operation_id, 0)]


def create(session: Session, operation_id: str, variants: Sequence[Variant],
           send: Callable[[dict[str, Any]], Exchange]) -> Exchange:
    """``send`` the baseline body: the accepted variant once one is known; otherwise each
    in turn until the server accepts one (a 2xx). When none is accepted, the safest is
    kept, so that later creates are refused once each rather than once per variant."""
    if operation_id in session.baselines:
        return send(current(session, operation_id, variants).body(session))
    for index, variant in enumerate(variants):
        exchange = send(variant.body(session))
        if 200 <= exchange.status < 300:
            session.baselines[operation_id] = index
            return exchange
        safer = (f"; trying {variants[index + 1].label}" if index + 1 < len(variants)
                 else "; no safer variant is left")
        session.expect(*_refusal(session.operation(operation_id), index), Failure(
            f"the baseline {operation_id} accepted ({variant.label})",
            f"{answered(exchange)}{safer}",
            documented_body_at(session.operation(operation_id))), exchange)
    session.baselines[operation_id] = len(variants) - 1
    return exchange


def _refusal(operation: Operation, index: int) -> tuple[str, Operation]:
    """The first variant is the document's own sample: refusing it breaks the document's
    words (``accepts_valid_input``, graded by the sample); a safer one only the suite's
    needs (``setup``)."""
    return ("accepts_valid_input" if index == 0 else "setup"), operation


def answered(exchange: Exchange) -> str:
    """Status and the start of the body, on one line."""
    return f"{exchange.status} " + " ".join(
        exchange.body[:200].decode("utf-8", "replace").split())


def required_only(schema: Mapping[str, Any], body: Any) -> Any:
    """``body`` without the fields its schema does not require, nested objects too: the
    safer variant a strict server is likeliest to take as it is."""
    if not isinstance(body, dict) or not isinstance(schema.get("properties"), dict):
        return body
    required = set(schema.get("required", []))
    return {name: required_only(schema["properties"].get(name, {}), value)
            for name, value in body.items() if name in required}


def sample(operation: Operation) -> dict[str, Any]:
    """The document's sample body for the operation (the spec's request example)."""
    body = documented_body(operation)
    return dict(body) if isinstance(body, dict) else {}


def request_schema(operation: Operation) -> Mapping[str, Any]:
    media = operation.body_media()
    return media[1] if media else {}


def sent(exchange: Exchange) -> dict[str, Any]:
    """The JSON object a request carried (the variant's body as it went out)."""
    try:
        body = json.loads(exchange.request_body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
