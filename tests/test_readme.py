"""The README's fixture table and its short session per API, as a newcomer meets them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import RunningMock

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
#: what a curl line of the README writes out in place of a value the reader fills in
PLACEHOLDER = re.compile(r"<[a-z /]+>")


def _section(title: str) -> str:
    start = README.index(f"### {title}")
    return README[start:README.index("\n### ", start + 1)]


def test_every_credential_in_the_fixture_table_is_seeded() -> None:
    table = _section("Fixture credentials")
    seeded = (REPO / "fixtures" / "default.yaml").read_text(encoding="utf-8")
    values = [value for value in re.findall(r"`([^`\s]+)`", table)
              if re.fullmatch(r"[\w.@-]{6,}", value)]
    assert len(values) > 20
    assert [value for value in values if value not in seeded] == []


def _curl_commands(section: str) -> list[str]:
    """Each ``curl`` of the section's shell block, continuation lines joined, comments and
    commands with a placeholder left out."""
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    lines = block.group(1).replace("\\\n", " ").splitlines()
    commands = [re.split(r"\s{2,}#", line)[0].strip() for line in lines if line.startswith("curl ")]
    return [command for command in commands if not PLACEHOLDER.search(command)]


def test_the_short_session_per_api_answers_as_the_readme_says(
        mock_factory: Callable[..., RunningMock], tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl: apt-get install curl")
    mock = mock_factory()
    mock.reset()
    commands = _curl_commands(_section("A short session per API"))
    assert len(commands) >= 12
    statuses = []
    for command in commands:
        quiet = command.replace("curl ", "curl -s -o /dev/null -w '%{http_code}' ", 1)
        done = subprocess.run(["bash", "-c", f"M={mock.origin}; {quiet}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=30, check=False)
        statuses.append((done.stdout, command))
    assert [(status, command) for status, command in statuses
            if not status.startswith("2")] == []
