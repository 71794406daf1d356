"""Pieces several adapters share."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from conformance.transport import Credentials


def bearer(token: str) -> Credentials:
    return Credentials(headers={"Authorization": f"Bearer {token}"})


#: fixed, so that the same seed draws the same times on any day
LATEST_PAST = datetime(2024, 1, 1)


def past_timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 times in the past of any server clock that is roughly right."""
    return st.datetimes(min_value=datetime(2015, 1, 1), max_value=LATEST_PAST).map(
        lambda moment: moment.replace(microsecond=0).isoformat() + "Z")
