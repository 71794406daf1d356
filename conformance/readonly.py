"""``--read-only``: a run that changes nothing at the target, for a nightly drift check
against a live vendor.

It sends reads, the adapter's sign-ins (the profile's accounts must be signed in, and a
login opens a session: that is the one change it makes), and requests that the contract
says are refused before anything changes: invalid input, missing or wrong credentials,
another account's data, a business rule that fails. Anything else that would write is
not sent: ``Session.send_case`` raises :class:`LeftOut` before it goes out, the phase or
flow ends there, and the checks it would have reached are listed as not run ("left out by
--read-only"), exempt from making the run incomplete.
"""

from __future__ import annotations

from conformance.spec import Operation

READS = frozenset({"GET", "HEAD", "OPTIONS"})
REASON = "left out by --read-only"


class LeftOut(Exception):
    """A request that may change state, not sent under ``--read-only``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: {REASON}")


def writes(operation: Operation, sign_ins: frozenset[str]) -> bool:
    """Whether a valid request to the operation may change state (a sign-in does not
    count: ``--read-only`` allows it)."""
    return operation.method.upper() not in READS and operation.operation_id not in sign_ins
