"""Pieces several adapters share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from conformance.transport import Credentials


def bearer(token: str) -> Credentials:
    return Credentials(headers={"Authorization": f"Bearer {token}"})


def past_timestamps() -> st.SearchStrategy[str]:
    """RFC 3339 times safely in the past of any server clock that is roughly right."""
    now = datetime.now(timezone.utc)
    return st.datetimes(min_value=datetime(2015, 1, 1), max_value=(now - timedelta(days=2))
                        .replace(tzinfo=None)).map(
        lambda moment: moment.replace(microsecond=0).isoformat() + "Z")
