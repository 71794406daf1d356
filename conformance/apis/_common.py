"""Pieces several adapters share."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from conformance.transport import Credentials

#: what the models write as their own data: printable ASCII, which every vendor stores as
#: sent (issue 10: the suite's own data must pass the strictest server's rules); the schema
#: phase still sends any text the spec allows, judged under accepts_valid_input
PLAIN = "".join(chr(code) for code in range(0x20, 0x7F))


def plain_text(max_size: int, min_size: int = 0, exclude: str = "") -> st.SearchStrategy[str]:
    alphabet = "".join(character for character in PLAIN if character not in exclude)
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def bearer(token: str) -> Credentials:
    return Credentials(headers={"Authorization": f"Bearer {token}"})


#: fixed, so that the same seed draws the same times on any day
LATEST_PAST = datetime(2024, 1, 1)


def past_timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 times in the past of any server clock that is roughly right."""
    return st.datetimes(min_value=datetime(2015, 1, 1), max_value=LATEST_PAST).map(
        lambda moment: moment.replace(microsecond=0).isoformat() + "Z")
