"""Which words a broken rule comes from: the document's, or a decision of the contract.

Both the conformance suite (a violation's grade) and ``mockserver proxy`` (a broken rule
on live traffic) grade by this one walk. A check says where its rule lives
(``Failure.at``: keys from the operation's spec node, such as ``("responses", "409",
"content", "application/json", "examples", "alreadyStopped")``). This walks the spec as
written, ``$ref`` by ``$ref`` (the suite's operations have their references inlined,
which loses where a component's notes sit), then back up from the rule through every
node it passed, to the operation and its path item, and takes the nearest
``x-document`` (the document's words: seed, section, quote) or ``x-source-note`` (a
decision where the document is silent or contradicts itself). On a node with both, the
quote governs the node; an ``at`` ending in ``"x-source-note"`` asks for the decision
instead (a status the contract chose for a refusal the document only describes). An
``at`` starting with ``"#"`` starts at the spec's root, where the rules of the whole
contract live (``x-conformance-rules``); the root is otherwise never a fallback, as its
notes concern the root itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import vendor_specs

DOCUMENT, NOTE = "x-document", "x-source-note"
ROOT = "#"
Location = tuple[str | int, ...]
Pointer = tuple[str | int, ...]
Grade = Literal["document", "contract"]


@dataclass(frozen=True)
class Source:
    """Where a broken rule comes from: the document's own words (``seed``, ``section``,
    ``quote``), or a decision of the contract (``note``, the ``x-source-note`` text, and
    ``where`` it lives in the spec). Neither: a gap in the spec, which its tests forbid."""

    seed: str = ""
    section: str = ""
    quote: str = ""
    note: str = ""
    where: str = ""

    @property
    def grade(self) -> Grade:
        return "document" if self.quote else "contract"

    def describe(self, limit: int | None = None) -> str:
        if self.quote:
            return f'{self.seed}, section "{self.section}": "{self.quote}"'
        if not self.note:
            return "no x-document or x-source-note governs this rule (a gap in the spec)"
        note = self.note if limit is None or len(self.note) <= limit else \
            self.note[:limit].rstrip() + "..."
        return f'x-source-note at {self.where}: "{note}"'


@dataclass(frozen=True)
class Rule:
    """Where a rule lives: the spec (as written, and the file reports name), the operation
    (its path as the spec writes it, and its method; None for the spec's root rules) and
    ``at``, keys down from the operation's node."""

    document: dict[str, Any]
    origin: str
    path: str | None
    method: str
    at: Location


def source_of(rule: Rule) -> Source:
    """The source nearest to the rule; an empty :class:`Source` if none governs."""
    at = rule.at
    wanted = at[-1] if at and at[-1] in (DOCUMENT, NOTE) else None
    keys = at[:-1] if wanted else at
    chain = _chain(rule.document, rule.path, rule.method, keys)
    for pointer, node in reversed(chain):
        found = _annotation(node, wanted)
        if found is not None:
            return _source(found, rule.origin, pointer)
    return Source()


def _annotation(node: Any, wanted: str | None) -> tuple[str, Any] | None:
    if not isinstance(node, dict):
        return None
    for kind in ((wanted,) if wanted else (DOCUMENT, NOTE)):
        if kind in node:
            return kind, node[kind]
    return None


def _source(found: tuple[str, Any], origin: str, pointer: Pointer) -> Source:
    kind, value = found
    if kind == DOCUMENT and isinstance(value, dict):
        return Source(seed=str(value.get("seed", "")), section=str(value.get("section", "")),
                      quote=" ".join(str(value.get("quote", "")).split()))
    where = f"{origin}#/" + "/".join(_escape(key) for key in (*pointer, NOTE))
    return Source(note=" ".join(str(value).split()), where=where)


def _escape(key: str | int) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _chain(document: dict[str, Any], path: str | None, method: str,
           keys: Location) -> list[tuple[Pointer, Any]]:
    """(pointer, node) from the start of the walk to the rule, references followed."""
    if keys[:1] == (ROOT,):
        return _descend(document, [((), document)], keys[1:])[1:]  # the root: never itself
    if path is None:
        return []
    item_pointer: Pointer = ("paths", path)
    item = document.get("paths", {}).get(path, {})
    op_pointer: Pointer = (*item_pointer, method.lower())
    chain: list[tuple[Pointer, Any]] = [(item_pointer, item),
                                        (op_pointer, item.get(method.lower(), {}))]
    if keys[:1] == ("parameters",) and len(keys) > 1 and isinstance(keys[1], int):
        chain.append(_parameter(document, item_pointer, item, op_pointer, chain[-1][1],
                                keys[1]))
        keys = keys[2:]
    elif keys[:1] == ("security",):
        chain.append(_security_scheme(document, chain[-1][1]))
        keys = ()
    return _descend(document, chain, keys)


def _parameter(document: dict[str, Any], item_pointer: Pointer, item: dict[str, Any],
               op_pointer: Pointer, op: dict[str, Any], index: int) -> tuple[Pointer, Any]:
    """The suite's operations list the path item's parameters first, then the operation's."""
    shared = item.get("parameters", [])
    if index < len(shared):
        return _follow(document, (*item_pointer, "parameters", index), shared[index])
    own = op.get("parameters", [])
    position = index - len(shared)
    node = own[position] if position < len(own) else {}
    return _follow(document, (*op_pointer, "parameters", position), node)


def _security_scheme(document: dict[str, Any], op: dict[str, Any]) -> tuple[Pointer, Any]:
    """The scheme of the operation's first security requirement (else the root's)."""
    requirements = op.get("security", document.get("security", []))
    name = next((name for requirement in requirements for name in requirement), None)
    schemes = document.get("components", {}).get("securitySchemes", {})
    return ("components", "securitySchemes", str(name)), schemes.get(name, {})


def _descend(document: dict[str, Any], chain: list[tuple[Pointer, Any]],
             keys: Location) -> list[tuple[Pointer, Any]]:
    """Follow ``keys`` down from the chain's last node; a key that names a keyword's value
    (or nothing) ends the walk: the node holding it is the rule."""
    pointer, node = _follow(document, *chain[-1])
    chain[-1] = (pointer, node)
    for key in keys:
        child = _child(node, key)
        if not isinstance(child, (dict, list)):
            break
        pointer, node = _follow(document, (*pointer, key), child)
        chain.append((pointer, node))
    return chain


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(key) if isinstance(key, str) else None
    if isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
        return node[key]
    return None


def _follow(document: dict[str, Any], pointer: Pointer, node: Any) -> tuple[Pointer, Any]:
    for _ in range(32):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not (isinstance(ref, str) and ref.startswith("#/")):
            break
        node = vendor_specs.resolve_pointer(document, ref)
        pointer = tuple(part.replace("~1", "/").replace("~0", "~")
                        for part in ref[2:].split("/"))
    return pointer, node
