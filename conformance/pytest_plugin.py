"""Run the conformance suite inside your own pytest session.

Installed as a pytest plugin (entry point ``pytest11``), it offers the fixture
``conformance``: call it with an API name and a base URL, and the test fails with every
violation (check, operation, expected, seen, curl) when the target breaks its contract::

    def test_staging_uplift_conforms(conformance):
        conformance("uplift", "https://staging.example.com/v1", profile="profile.yaml")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conformance.results import Results


def _check(api: str, base_url: str, profile: str | None = None, max_examples: int = 20,
           seed: int = 0, read_only: bool = False, keep_data: bool = False) -> Results:
    from conformance.profile import load_profile
    from conformance.reporting.console import render
    from conformance.runner import run
    from conformance.session import RunSettings

    accounts = load_profile(api, profile, base_url)
    session = run(api, base_url, accounts, RunSettings(max_examples, seed, read_only=read_only,
                                                       keep_data=keep_data),
                  progress=lambda _line: None)
    if session.results.violations:
        lines: list[str] = []
        render(session.results, lines.append)
        pytest.fail("\n".join(lines), pytrace=False)
    return session.results


@pytest.fixture
def conformance() -> Callable[..., Any]:
    """``conformance(api, base_url, profile=None, max_examples=20, seed=0,
    read_only=False, keep_data=False) -> Results``."""
    return _check
