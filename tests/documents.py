"""What the vendors' documents state, kept in the repository (``document_facts.yaml``).

The spec tests check every entry here against ``specs/``, so nothing a document names
(an operation, a status, an error message, a sample body) can silently drop out. The data
lives in the repository so a clone with nothing beside it runs every test; where the seed
documents are beside the checkout, ``test_documents.py`` checks the data against them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

_FACTS = yaml.safe_load((Path(__file__).with_name("document_facts.yaml")).read_text("utf-8"))
_REPOSITORY = Path(__file__).resolve().parents[1]

#: (api, method, path relative to the base path, operationId)
OPERATIONS = [(op["api"], op["method"], op["path"], op["operation_id"])
              for op in _FACTS["operations"]]

#: (api, operationId, status, message) for every error body a document shows
ERROR_MESSAGES = [(m["api"], m["operation_id"], m["status"], m["message"])
                  for m in _FACTS["error_messages"]]


@dataclass(frozen=True)
class Sample:
    seed: str
    index: int  # the n-th JSON body in the document
    api: str
    operation_id: str
    target: str  # "request" or a status code
    body: Any


def _entries() -> list[tuple[str, int, dict[str, Any]]]:
    return [(seed, index, entry) for seed, entries in _FACTS["bodies"].items()
            for index, entry in enumerate(entries)]


#: every valid JSON body of the documents, and what it is a sample of
SAMPLES = [Sample(seed, index, e["api"], e["operation_id"], e["target"], e["body"])
           for seed, index, e in _entries() if "placeholder" not in e]

#: valid JSON in the documents that is deliberately not checked, and why
PLACEHOLDERS = {(seed, index): e["placeholder"] for seed, index, e in _entries()
                if "placeholder" in e}


def document_body(seed: str, index: int) -> Any:
    """The ``index``-th JSON body of seed ``seed``, as the document prints it (a fresh copy)."""
    return json.loads(json.dumps(_FACTS["bodies"][seed][index]["body"]))


def facts() -> dict[str, Any]:
    """The raw data, for the test that checks it against the seeds."""
    return _FACTS


def seeds_dir() -> Path | None:
    """The seed documents: ``$CAPTURE_CONTRACTS_SEEDS``, else ``shared/seeds`` in a parent.

    A parent rather than only ``../shared`` because git worktrees sit one level deeper.
    """
    if os.environ.get("CAPTURE_CONTRACTS_SEEDS"):
        return Path(os.environ["CAPTURE_CONTRACTS_SEEDS"])
    for parent in _REPOSITORY.parents:
        if (parent / "shared" / "seeds" / "README.md").is_file():
            return parent / "shared" / "seeds"
    return None


def require_seeds() -> Path:
    """The seeds directory, or skip the calling test, saying what is missing."""
    found = seeds_dir()
    if found is None:
        pytest.skip("the vendor documents (shared/seeds beside the checkout, or "
                    "$CAPTURE_CONTRACTS_SEEDS) are not present: the repository's copy of "
                    "their facts (tests/document_facts.yaml) is used unchecked")
    return found


_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_CURL_BODY = re.compile(r"-d '(.*?)'", re.S)


def seed_text(prefix: str) -> str:
    (path,) = require_seeds().glob(f"{prefix}_*.txt")
    return path.read_text("utf-8")


def json_bodies(prefix: str) -> list[object]:
    """Valid JSON code blocks and curl ``-d`` bodies of a seed, in document order."""
    bodies: list[object] = []
    for block in _BLOCK.findall(seed_text(prefix)):
        for candidate in [block, *_CURL_BODY.findall(block)]:
            try:
                bodies.append(json.loads(candidate))
            except json.JSONDecodeError:
                continue
    return bodies
