"""Grading a broken rule by where the spec got it, as the conformance suite grades.

The rule's node in the spec, or else its nearest ancestor that says where it came from,
decides: with ``x-document`` {seed, section, quote} the rule is the vendor's own words,
graded ``document``; with only an ``x-source-note`` it is a decision the spec made where
the document is silent, graded ``contract`` and named by that note. A nearer note beats
a farther quote: the operation may quote the document while one of its fields follows
the spec's own decision. The walk goes from the operation (``$ref``s followed) down the
problem's ``at`` keys; the path item and the document root are the last ancestors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mockserver.contracts import Contract, Operation

DOCUMENT, CONTRACT = "document", "contract"
#: how much of an x-source-note a one-line report quotes
NOTE_CHARACTERS = 160


@dataclass(frozen=True)
class Grade:
    grade: str
    #: where the deciding annotation sits, as a JSON pointer into the spec (refs followed)
    pointer: str
    #: one line: the seed, section and quote, or the note's opening words
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"grade": self.grade, "pointer": self.pointer, "source": self.source}


def grade(contract: Contract, operation: Operation, at: Sequence[str | int]) -> Grade:
    for pointer, node in reversed(list(_nodes(contract, operation, at))):
        quoted = node.get("x-document")
        if isinstance(quoted, dict):
            return Grade(DOCUMENT, pointer, _quote(quoted))
        note = node.get("x-source-note")
        if isinstance(note, str):
            return Grade(CONTRACT, pointer, f"x-source-note at {pointer}: {_opening(note)}")
    return Grade(CONTRACT, "#", "the spec, which records no source for this rule")


def _nodes(contract: Contract, operation: Operation,
           at: Sequence[str | int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(pointer, node) from the root down to the deepest node ``at`` reaches."""
    document = contract.document
    yield "#", document
    path_pointer = f"#/paths/{_escape(operation.path)}"
    path_item = document.get("paths", {}).get(operation.path)
    if isinstance(path_item, dict):
        yield path_pointer, path_item
    pointer, node = f"{path_pointer}/{operation.method.lower()}", operation.spec
    yield pointer, node
    for key in at:
        child = _child(node, key)
        if child is None:
            return
        pointer, node = f"{pointer}/{_escape(str(key))}", child
        if isinstance(node, dict):
            yield pointer, node


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(str(key))
    if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
        return node[key]
    return None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _quote(quoted: dict[str, Any]) -> str:
    return (f"{quoted.get('seed', '?')}, section {quoted.get('section', '?')!r}: "
            f"\"{' '.join(str(quoted.get('quote', '')).split())}\"")


def _opening(note: str) -> str:
    text = " ".join(note.split())
    return text if len(text) <= NOTE_CHARACTERS else text[:NOTE_CHARACTERS - 1] + "…"
