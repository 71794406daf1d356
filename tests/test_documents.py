"""The repository's copy of the documents' facts says what the seed documents say.

Every test here reads the seeds, so each skips (saying so) in a clone with nothing beside it.
"""

from __future__ import annotations

from typing import Any

import pytest

import vendor_specs
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


def _document_quotes(node: Any, where: str = "") -> list[tuple[str, dict[str, str]]]:
    """Every ``x-document`` of a spec, with where it sits."""
    if isinstance(node, list):
        return [found for index, item in enumerate(node)
                for found in _document_quotes(item, f"{where}/{index}")]
    if not isinstance(node, dict):
        return []
    found = [(where, node["x-document"])] if "x-document" in node else []
    return found + [item for key, value in node.items() if key != "x-document"
                    for item in _document_quotes(value, f"{where}/{key}")]


QUOTES = [(api, where, quote) for api in ("captureproof", "mycrt", "biometricscloud", "uplift")
          for where, quote in _document_quotes(vendor_specs.load_spec(api))]


@pytest.mark.parametrize(("api", "where", "quote"), QUOTES,
                         ids=[f"{api}{where}" for api, where, _ in QUOTES])
def test_each_spec_quote_is_in_its_document_section(api: str, where: str,
                                                    quote: dict[str, str]) -> None:
    text = seed_text(quote["seed"].split("_", 1)[0])
    assert quote["section"] in text, (where, quote["section"])
    assert folded(quote["quote"]) in folded(text), (where, quote["quote"])


@pytest.mark.parametrize("entry", facts()["bodiless"],
                         ids=lambda e: f"{e['api']}-{e['operation_id']}-{e['status']}")
def test_each_bodiless_answer_is_a_bare_status_in_its_section(entry: dict[str, Any]) -> None:
    """The section shows the status line and no JSON body after it."""
    section = _section(seed_text(entry["seed"]), entry["section"])
    assert entry["quote"] in section
    after = section.split(entry["quote"], 1)[1].split("#### Error Response", 1)[0]
    assert "{" not in after


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
