"""Which words a broken rule comes from: the document's, or a decision of the contract.

A check says where its rule lives (``Failure.at``: keys from the operation's spec node,
such as ``("responses", "409", "content", "application/json", "examples", "alreadyStopped")``).
This walks the spec as written, ``$ref`` by ``$ref`` (the suite's operations have their
references inlined, which loses where a component's notes sit), then back up from the rule
through every node it passed, to the operation and its path item, and takes the nearest
``x-document`` (the document's words: seed, section, quote) or ``x-source-note`` (a
decision where the document is silent or contradicts itself). On a node with both, the
quote governs the node; an ``at`` ending in ``"x-source-note"`` asks for the decision
instead (a status the contract chose for a refusal the document only describes). An ``at``
starting with ``"#"`` starts at the spec's root, where the rules of the whole contract live
(``x-conformance-rules``); the root is otherwise never a fallback, as its notes concern
the root itself.
"""

from __future__ import annotations

from typing import Any

import vendor_specs
from conformance.results import Source
from conformance.spec import ApiSpec, Operation

DOCUMENT, NOTE = "x-document", "x-source-note"
ROOT = "#"
Location = tuple[str | int, ...]
Pointer = tuple[str | int, ...]


def source_of(spec: ApiSpec, operation: Operation | None, at: Location) -> Source:
    """The source nearest to the rule at ``at``; an empty :class:`Source` if none governs."""
    wanted = at[-1] if at and at[-1] in (DOCUMENT, NOTE) else None
    keys = at[:-1] if wanted else at
    chain = _chain(spec.document, operation, keys)
    for pointer, node in reversed(chain):
        found = _annotation(node, wanted)
        if found is not None:
            return _source(found, spec.origin, pointer)
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


def _chain(document: dict[str, Any], operation: Operation | None,
           keys: Location) -> list[tuple[Pointer, Any]]:
    """(pointer, node) from the start of the walk to the rule, references followed."""
    if keys[:1] == (ROOT,):
        return _descend(document, [((), document)], keys[1:])[1:]  # the root: never itself
    if operation is None:
        return []
    item_pointer: Pointer = ("paths", operation.path)
    item = document.get("paths", {}).get(operation.path, {})
    op_pointer: Pointer = (*item_pointer, operation.method.lower())
    chain: list[tuple[Pointer, Any]] = [(item_pointer, item),
                                        (op_pointer, item.get(operation.method.lower(), {}))]
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
