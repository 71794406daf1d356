"""The repository's copy of the documents' facts says what the seed documents say.

Every test here reads the seeds, so each skips (saying so) in a clone with nothing beside it.
"""

from __future__ import annotations

from typing import Any

import pytest

from documents import facts, json_bodies, seed_text

SEEDS_WITH_BODIES = sorted(facts()["bodies"])


def folded(text: str) -> str:
    """Whitespace folded, as YAML folds the documents' long ``message: >-`` lines."""
    return " ".join(text.split())


@pytest.mark.parametrize("seed", SEEDS_WITH_BODIES)
def test_the_bodies_are_the_documents_json_in_order(seed: str) -> None:
    assert [entry["body"] for entry in facts()["bodies"][seed]] == json_bodies(seed)


@pytest.mark.parametrize("operation", facts()["operations"],
                         ids=lambda op: f"{op['api']}-{op['operation_id']}")
def test_each_operation_quotes_its_document_or_says_why_not(operation: dict[str, Any]) -> None:
    if "seed" not in operation:
        assert operation["note"]
        return
    assert operation["quote"] in seed_text(operation["seed"])


@pytest.mark.parametrize("message", facts()["error_messages"],
                         ids=lambda m: f"{m['api']}-{m['operation_id']}-{m['status']}")
def test_each_error_message_is_in_its_document_or_says_why_not(message: dict[str, Any]) -> None:
    if "seed" not in message:
        assert message["note"]
        return
    assert message["message"] in folded(seed_text(message["seed"]))
    assert str(message["status"]) in seed_text(message["seed"])
