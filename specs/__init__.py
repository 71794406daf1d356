"""The four vendor contracts, shipped as package data (installed as ``vendor_specs``).

Both the mock and the conformance suite load contracts from here, so an installed copy
finds the same files as a checkout. The conformance suite may also be handed any other
spec file; this module only knows the bundled ones.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

API_NAMES: tuple[str, ...] = ("captureproof", "mycrt", "biometricscloud", "uplift")


def spec_text(api: str) -> str:
    if api not in API_NAMES:
        raise KeyError(f"unknown API {api!r}; known: {', '.join(API_NAMES)}")
    return resources.files(__name__).joinpath(f"{api}.yaml").read_text(encoding="utf-8")


@cache
def load_spec(api: str) -> dict[str, Any]:
    """The parsed spec. Cached and shared: callers must not mutate it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster
    spec: dict[str, Any] = yaml.load(spec_text(api), Loader=loader)
    return spec


def inline_refs(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (to a bounded depth, so a
    recursive schema ends in an unresolved ``$ref`` rather than looping)."""
    if depth > 32:
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            return inline_refs(document, resolve_pointer(document, ref), depth + 1)
        return {key: inline_refs(document, value, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(document, item, depth + 1) for item in node]
    return node


def resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target
